"""The generated modules (src/si/ledger/v1) are what protoc makes of
proto/ today: a change to proto/ without regenerating them fails here."""
import pathlib
import tempfile

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[3]
GENERATED = pathlib.Path(__file__).resolve().parents[1] / "src" / "si" / "ledger" / "v1"


def test_the_generated_modules_are_current():
    with tempfile.TemporaryDirectory() as out:
        files = ["si/ledger/v1/common.proto", "si/ledger/v1/events.proto"]
        status = protoc.main(["protoc", f"-I{ROOT / 'proto'}", f"--python_out={out}",
                              f"--pyi_out={out}", *files])
        assert status == 0
        fresh = pathlib.Path(out) / "si" / "ledger" / "v1"
        for name in ("common_pb2.py", "common_pb2.pyi", "events_pb2.py", "events_pb2.pyi"):
            assert (fresh / name).read_bytes() == (GENERATED / name).read_bytes(), (
                f"{name} is stale: regenerate it (clients/python/README.md)")
