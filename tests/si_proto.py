"""The si-ledger contract as a Python producer compiles it: protoc (from
grpcio-tools) generates classes from proto/ into a temporary directory,
once per process. `load(PROTO_DIR)` returns the `events_pb2` module."""
import os
import sys
import tempfile

from grpc_tools import protoc


def load(proto_dir):
    generated = tempfile.mkdtemp()
    files = [os.path.join("si/ledger/v1", f) for f in ("common.proto", "events.proto")]
    status = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={generated}", *files])
    if status != 0:
        sys.exit(f"protoc failed: {status}")
    sys.path.insert(0, generated)
    from si.ledger.v1 import events_pb2

    return events_pb2
