"""Checkpoints: written atomically, read with `torch.load(weights_only=True)`, validated.

A checkpoint holds the model and optimiser states, the loop position, the RNG states and the
history, plus a `nasiam` header (format, version, command, config): a file from elsewhere, a
truncated one or one from an incompatible configuration is refused, saying which.
"""
from __future__ import annotations

import io
import os
import pickle
import random
import re
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from nasiam._io import atomic_write_bytes, is_temporary_file, not_a_file
from nasiam.errors import CheckpointError, shown_path
from nasiam.runner.leftovers import occupied

FORMAT, VERSION = "nasiam.checkpoint", 1
LAST = "last.ckpt"


def rng_state() -> dict[str, Any]:
    """Every random generator a run draws from, as tensors (so weights_only loading works)."""
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": np_pos, "has_gauss": np_has_gauss,
                  "gauss": np_gauss},
        "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any], header: Mapping[str, Any]) -> None:
    """Serialise in memory, then write atomically: a kill or a full disk never leaves a
    truncated checkpoint in place of the previous one."""
    buffer = io.BytesIO()
    torch.save({"nasiam": {"format": FORMAT, "version": VERSION, **header}, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, command: str | None = None) -> dict[str, Any]:
    path = Path(path)
    kind = not_a_file(path)
    if kind is not None:   # a FIFO's reading would block: told apart by its metadata, never opened
        raise CheckpointError(f"{shown_path(path)} is {kind}, not a regular file: a checkpoint is a file "
                              f"(a run directory's checkpoints/{LAST} or epoch=N.ckpt)")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {shown_path(path)}")
    damaged = _damaged_record(path)
    if damaged is not None:
        raise CheckpointError(f"{shown_path(path)} is damaged: {damaged} (bytes changed on disk or in a copy); nothing "
                              "was loaded. Use another checkpoint of the run (checkpoints/epoch=N.ckpt), or run it again")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises a variety of types for corrupt or unsafe files
        raise CheckpointError(refusal(path, e)) from None
    header = state.get("nasiam") if isinstance(state, dict) else None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path} was not written by nasiam (no nasiam header); "
                              "pass a checkpoint from a nasiam run directory")
    if header.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {header.get('version')}, this nasiam reads {VERSION}")
    if command is not None and header.get("command") != command:
        raise CheckpointError(f"{path} is a `nasiam {header.get('command')}` checkpoint, not `nasiam {command}`")
    return state


def _damaged_record(path: Path) -> str | None:
    """What in `path`'s zip archive is damaged, or None: a record whose bytes fail the CRC-32
    stored with it, one whose header cannot be read, or one compressed or encrypted, which
    torch.save never writes (a compressed record was decompressed whole to check it: 262 bytes
    that inflate to 256 MiB; #33 probe 11, H5). torch.save stores a CRC-32 per record, but
    torch.load does not check them: 64 bytes flipped inside a weight loaded silently, and
    `--resume` of a finished run then wrote the damaged weights over its good exports (probe
    10, G6). A file written without checksums (`torch.serialization.set_crc32_options(False)`:
    every record's stored as 0) is not checked; a 0 among checksums is checked as one (a field
    zeroed let a garbled record load: probe 11, H4). A file that is not a zip archive at all is
    left to torch.load, whose error is named (`refusal`)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        return None
    except Exception as e:   # a garbled index: names that are not UTF-8, impossible offsets, ...
        return f"its archive's index cannot be read ({type(e).__name__})"
    with archive:
        records = archive.infolist()
        shared = _shared_record(records)
        if shared is not None:
            return shared
        without_checksums = all(record.CRC == 0 for record in records if record.file_size)
        for record in records:
            name = repr(record.filename)
            if record.compress_type != zipfile.ZIP_STORED or record.flag_bits & 0x1:
                return f"its record {name} is compressed or encrypted, which torch.save never writes"
            if without_checksums:
                continue
            try:
                with archive.open(record) as stream:
                    while stream.read(1 << 24):   # read to the end: the check runs there
                        pass
            except zipfile.BadZipFile:
                return f"its record {name} does not match the checksum written with it"
            except Exception as e:   # a garbled record header: flags, method, offsets
                return f"its record {name} cannot be read ({type(e).__name__})"
    return None


def _shared_record(records: list[zipfile.ZipInfo]) -> str | None:
    """A name the index lists twice, or two records whose bytes overlap, or None. torch.save
    writes each record once, apart; an index naming one 9 MiB record 1,024 more times (62 KB
    more) had it read and checked once per entry, a load 2.6 times as long (#33 probe 12, I2),
    and Python 3.11.7's zipfile does not check it. Checked on the index alone, before any read."""
    names = set()
    for record in records:
        if record.filename in names:
            return f"its record {record.filename!r} appears twice in its index, which torch.save never writes"
        names.add(record.filename)
    ordered = sorted(records, key=lambda record: record.header_offset)
    for record, following in zip(ordered, ordered[1:]):
        # a record spans at least its 30-byte local header and its data (its name and extra field more)
        if following.header_offset < record.header_offset + 30 + record.compress_size:
            return (f"its records {record.filename!r} and {following.filename!r} overlap, which torch.save "
                    "never writes")
    return None


def refusal(path: str | os.PathLike, error: BaseException) -> str:
    """Why `path` was refused, in nasiam's words. PyTorch's message for a file holding code
    advises loading it again with `weights_only=False` (or allow-listing the code), which would
    run whatever the file holds: none of its text is relayed, only what the file asked for."""
    text = str(error)
    if isinstance(error, pickle.UnpicklingError) or "weights only" in text.lower() or "weights_only" in text:
        found = re.search(r"GLOBAL ([\w.]+)|[Uu]nsupported (?:global|class):? ?([\w.]+)", text)
        opcode = re.search(r"[Uu]nsupported operand (\d+)", text)
        if found:
            what = f"refers to `{found.group(1) or found.group(2)}`, code rather than data"
        elif opcode:
            what = f"uses pickle instruction {opcode.group(1)}, which the safe reader does not accept"
        else:
            what = "holds objects other than tensors, numbers, strings and containers"
        return (f"{path} was refused: it {what}. nasiam reads checkpoints with torch.load(weights_only=True), "
                "which runs nothing from the file, and loads no checkpoint any other way; a nasiam checkpoint "
                "never needs more. This file was not written by nasiam, or was altered since: do not load it "
                "unless you know where it came from. Resume from a run directory's checkpoints/last.ckpt or "
                "epoch=N.ckpt")
    first = text.splitlines()[0][:200] if text else ""
    return (f"{path} is corrupt or not a checkpoint nasiam can read safely ({type(error).__name__}: {first}); "
            "pass a checkpoint from a nasiam run directory (checkpoints/last.ckpt or epoch=N.ckpt)")


def find_checkpoint(target: str | os.PathLike) -> Path:
    """`target` is a checkpoint file or a run directory (its checkpoints/last.ckpt)."""
    target = Path(target)
    if target.is_file():
        return target
    candidate = target / "checkpoints" / LAST
    if candidate.is_file():
        return candidate
    # a FIFO, a device or a dangling link named (the target, or its last.ckpt), not "no checkpoint"
    found = candidate if target.is_dir() else target
    kind = not_a_file(found)
    if kind is not None:
        raise CheckpointError(f"{shown_path(found)} is {kind}, not a regular file: a checkpoint is a file "
                              f"(a run directory's checkpoints/{LAST} or epoch=N.ckpt)")
    if not target.exists():
        raise CheckpointError(f"nothing to resume at {target}: no such run directory or checkpoint")
    found = occupied(target)
    if found is None:   # a run killed before its first last.ckpt: starting it again loses nothing
        first = target / "checkpoints" / "epoch=1.ckpt"
        also = f" (or continue after epoch 1 with --resume={first})" if first.is_file() else ""
        raise CheckpointError(f"{target} has no checkpoints/{LAST}: the run ended before its first epoch finished; "
                              f"start it again without --resume{also}")
    if found.resume_from is not None:
        raise CheckpointError(f"{target} has no checkpoints/{LAST} but holds {found.what}: continue from one with "
                              f"--resume={found.resume_from}")
    what_to_pass = {"export": "; an export is not a run (`nasiam pretrain --init` trains from one)",
                    "finished": ": it is finished, nothing is left to resume"}.get(found.kind, "")
    raise CheckpointError(f"nothing to resume at {shown_path(target)}: it has no checkpoints/{LAST} and holds "
                          f"{found.what}{what_to_pass}. Pass a run directory that holds a checkpoint")


def check_compatible(saved: Mapping[str, Any], current: Mapping[str, Any], keys: tuple[str, ...], path,
                     defaults: Mapping[str, Any] | None = None) -> None:
    """Refuse to resume under a configuration that changes the model or the data split. A key
    the checkpoint lacks was not an option yet when it was written: it ran with the default."""
    defaults = defaults or {}
    was = {k: saved.get(k, defaults.get(k)) for k in keys}
    diffs = [f"{k}: checkpoint {was[k]!r}, now {current.get(k)!r}" for k in keys if was[k] != current.get(k)]
    if diffs:
        raise CheckpointError(f"{path} was written with a different configuration ({'; '.join(diffs)}); resume "
                              "with the same options, or start a new run")


def prune_epoch_checkpoints(directory: Path, keep: int) -> None:
    remove_interrupted_writes(directory)
    if keep < 0:
        return
    epochs = sorted(directory.glob("epoch=*.ckpt"), key=lambda p: int(p.stem.split("=")[1]))
    for old in epochs[: max(0, len(epochs) - keep)]:
        old.unlink(missing_ok=True)


def remove_interrupted_writes(directory: Path) -> list[str]:
    """Delete (and return the names of) the temporary files of checkpoint writes a kill stopped
    before their rename: nothing else removes them, and each is a checkpoint's size. Call it
    only while holding the run directory's lock, when no write of this run is in flight."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if is_temporary_file(entry.name) and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def check_fields(state: Mapping[str, Any], path) -> None:
    """The loop-position fields of a checkpoint, typed as nasiam writes them: a file with a
    valid header but damaged or hand-made fields is refused by name, not by a traceback."""
    expected = {"epoch": int, "global_step": int, "history": list, "elapsed": (int, float), "rng": (dict, list)}
    for name, kind in expected.items():
        value = state.get(name, 0.0 if name == "elapsed" else [] if name == "history" else None)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise CheckpointError(f"{path}: field {name!r} is a {type(value).__name__}, not what nasiam writes there; "
                                  "the file is damaged or was not written by this nasiam. Resume from an "
                                  "epoch=N.ckpt of the run, or start a new run")
    if state["epoch"] < 0 or state["global_step"] < 0:
        raise CheckpointError(f"{path}: negative epoch or step; the file is damaged")
    if not isinstance(state["nasiam"].get("config", {}), dict):
        raise CheckpointError(f"{path}: its recorded configuration is not a mapping; the file is damaged")

