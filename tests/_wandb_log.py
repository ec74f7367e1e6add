"""Read back what an offline W&B run recorded (test helper).

An offline run's `run-<id>.wandb` file is a LevelDB-style log: a 7-byte header
(":W&B", magic 0xBEE1, version), then 32 KiB blocks of records, each with a 7-byte header
(crc32c, length, type FULL/FIRST/MIDDLE/LAST) and a protobuf `Record` as payload.
"""
import struct
import time
from pathlib import Path

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B transaction log")
    offset, pending = HEADER, b""
    while offset + HEADER <= len(data):
        space = BLOCK - offset % BLOCK
        if space < HEADER:  # block trailer padding
            offset += space
            continue
        _, length, kind = struct.unpack("<IHB", data[offset:offset + HEADER])
        payload = data[offset + HEADER: offset + HEADER + length]
        offset += HEADER + length
        if kind == 0 and length == 0:
            offset += BLOCK - offset % BLOCK if offset % BLOCK else 0
            continue
        if kind == FULL:
            pending = payload
        elif kind == FIRST:
            pending = payload
            continue
        elif kind == MIDDLE:
            pending += payload
            continue
        elif kind == LAST:
            pending += payload
        record = pb.Record()
        record.ParseFromString(pending)
        yield record


def logged(run_dir: Path) -> tuple[set[str], dict[str, str]]:
    """(history keys, summary {key: json value}) of the single offline run under run_dir."""
    files = list(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))
    if len(files) != 1:
        raise AssertionError(f"expected one offline W&B run under {run_dir}, found {len(files)}")
    history, summary = set(), {}
    for record in records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history |= {item.key or "/".join(item.nested_key) for item in record.history.item}
        elif kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = item.value_json
    return history, summary


def _run_log(run_dir: Path) -> Path:
    files = list(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))
    if len(files) != 1:
        raise AssertionError(f"expected one offline W&B run under {run_dir}, found {len(files)}")
    return files[0]


def artifacts(run_dir: Path) -> list[dict]:
    """The artifacts the offline run logged: name, type, aliases, the paths in their manifest."""
    found = []
    for record in records(_run_log(run_dir)):
        if record.WhichOneof("record_type") == "artifact":
            a = record.artifact
            found.append({"name": a.name, "type": a.type, "aliases": list(a.aliases),
                          "paths": {entry.path for entry in a.manifest.contents}})
    return found


def exit_code(run_dir: Path, wait: float = 30.0) -> int | None:
    """The exit code the run was finished with (None if it was not finished).

    Waits up to `wait` seconds for the exit record: W&B's service process writes the log, and
    `wandb.finish` can return before the record is on disk (seen once with both cores busy, in a
    suite run beside a benchmark: the record came, the read was early)."""
    deadline = time.monotonic() + wait
    while True:
        late = time.monotonic() > deadline
        try:
            codes = [r.exit.exit_code for r in records(_run_log(run_dir)) if r.WhichOneof("record_type") == "exit"]
        except Exception:   # a record caught half written
            if late:
                raise
            codes = []
        if codes or late:
            return codes[-1] if codes else None
        time.sleep(0.2)
