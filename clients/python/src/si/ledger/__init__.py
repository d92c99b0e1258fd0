"""Generated from the si-ledger's proto/ (protoc, via grpcio-tools): see clients/python/README.md."""
