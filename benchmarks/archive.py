"""Pack a finished benchmark's archive into two files, and unpack it byte for byte.

A finished protocol under benchmarks/results/NAME/ keeps hundreds of small per-run files
(config.yaml, summary.json, genotype*.json, eval/predictions.safetensors). They are the
evidence behind its tables, but a file each makes every clone heavy in files. `pack` moves
them into

    runs.json          every packed text file's exact text, one JSON string per line (so a
                       git diff shows the lines that changed), with its size and sha256
    runs.safetensors   the tensors of every packed safetensors file, named PATH:TENSOR
                       (readable as they are with safetensors.safe_open), and the raw bytes
                       of any other binary file, named PATH

and `unpack` recreates every original file with identical bytes. Kept loose, as they were:
every file at the top of the folder (results.md/json/csv, compare.json, comparison.png,
report.md, seeds.json, ...) and every *.md, *.png and results.* below it (written for people:
GitHub renders them and RESULTS.md links to them).

Why two files and not one tar: the text stays text in git (diffs, `git grep`, GitHub's
viewer), and the predictions stay tensors any safetensors reader opens. A safetensors file's
header is kept verbatim in runs.json and its data rebuilt from the tensors: re-serialising
with safetensors is not byte-identical (its metadata is a hash map, written in a different
order by each process). Where a file cannot be rebuilt that way, its raw bytes are stored.

    python benchmarks/archive.py pack benchmarks/results/ceiling              # in place
    python benchmarks/archive.py unpack benchmarks/results/ceiling /tmp/ceiling
    python benchmarks/ceiling.py --report /tmp/ceiling                         # its tables again
    python benchmarks/archive.py check benchmarks/results/ceiling             # digests only

The benchmark scripts read a packed archive directly (`loose`) and write into one by
unpacking, adding and packing again (`updating`); packing is deterministic, so the same
files give the same pack bytes. Unpacking checks every digest: a truncated or edited pack
stops with the file it found damaged.
"""
from __future__ import annotations

import argparse
import contextlib
import fnmatch
import hashlib
import json
import shutil
import struct
import sys
import tempfile
from pathlib import Path

TEXT, TENSORS = "runs.json", "runs.safetensors"
FORMAT = "nasiam benchmark archive 1"
LOOSE = ("*.md", "*.png", "results.*")   # below the top: the files written for people stay as they are
HOW_TO_REPAIR = "restore it from git (git checkout -- PATH) or pack the original files again"


class ArchiveError(Exception):
    """A pack that cannot be written or read back exactly; the message names file and fix."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_packed(directory: Path) -> bool:
    return (Path(directory) / TEXT).is_file()


def packable(directory: Path) -> list[str]:
    """The files `pack` moves: below a subfolder, and not matched by LOOSE (sorted paths)."""
    directory = Path(directory)
    paths = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if path.is_symlink():
            raise ArchiveError(f"{path}: a link; the archive keeps files only (replace it by the file it points to)")
        if path.is_file() and len(relative.parts) > 1 and not any(fnmatch.fnmatch(path.name, p) for p in LOOSE):
            paths.append(relative.as_posix())
    return paths


# --- safetensors, read as its spec writes it: 8-byte little-endian header size, JSON header, data


def _safetensors_parts(raw: bytes) -> tuple[bytes, dict, bytes] | None:
    """(header bytes, parsed header, data) of a safetensors file, or None if it is not one."""
    if len(raw) < 8:
        return None
    size = struct.unpack("<Q", raw[:8])[0]
    if 8 + size > len(raw):
        return None
    try:
        header = json.loads(raw[8:8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(header, dict):
        return None
    return raw[8:8 + size], header, raw[8 + size:]


def _tensor_order(header: dict, data_size: int) -> list[str] | None:
    """The tensors by position in the data, if they tile it exactly (no gap, no overlap);
    only then can the data be rebuilt from the tensors alone."""
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    order = sorted(tensors, key=lambda k: tuple(tensors[k]["data_offsets"]))
    position = 0
    for name in order:
        begin, end = tensors[name]["data_offsets"]
        if begin != position:
            return None
        position = end
    return order if position == data_size else None


def _read_tensor_bytes(raw: bytes, where: str) -> dict[str, bytes]:
    parts = _safetensors_parts(raw)
    if parts is None:
        raise ArchiveError(f"{where}: not a readable safetensors file (truncated?); {HOW_TO_REPAIR}")
    _, header, data = parts
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        if end > len(data):
            raise ArchiveError(f"{where}: tensor {name!r} runs past the end of the file (truncated); {HOW_TO_REPAIR}")
        out[name] = data[begin:end]
    return out


# --- pack


def _entry(path: str, raw: bytes, tensors: dict) -> dict:
    """The runs.json entry of one file; adds what it stores as tensors to `tensors`."""
    entry = {"bytes": len(raw), "sha256": _sha256(raw)}
    if path.endswith(".safetensors"):
        parts = _safetensors_parts(raw)
        if parts is not None and _tensor_order(parts[1], len(parts[2])) is not None:
            from safetensors.torch import load

            for name, tensor in load(raw).items():
                tensors[f"{path}:{name}"] = tensor
            entry["safetensors_header"] = parts[0].decode("utf-8")
            return entry
    try:
        entry["lines"] = raw.decode("utf-8").split("\n")   # "\n".join gives the exact text back
    except UnicodeDecodeError:
        import torch

        tensors[path] = torch.tensor(list(raw), dtype=torch.uint8)
        entry["raw"] = True
    return entry


def _rebuild(path: str, entry: dict, tensor_bytes: dict[str, bytes], where: Path) -> bytes:
    """One original file's bytes from its entry, checked against its digest."""
    try:
        if "lines" in entry:
            raw = "\n".join(entry["lines"]).encode("utf-8")
        elif entry.get("raw"):
            raw = tensor_bytes[path]
        else:
            header = entry["safetensors_header"].encode("utf-8")
            order = _tensor_order(json.loads(header), entry["bytes"] - 8 - len(header))
            if order is None:
                raise ArchiveError(f"{where}: {path}'s stored header does not tile its data; {HOW_TO_REPAIR}")
            raw = struct.pack("<Q", len(header)) + header + b"".join(tensor_bytes[f"{path}:{n}"] for n in order)
    except KeyError as missing:
        raise ArchiveError(f"{where}: {path} needs tensor {missing} that {TENSORS} lacks; {HOW_TO_REPAIR}") from None
    if len(raw) != entry["bytes"] or _sha256(raw) != entry["sha256"]:
        raise ArchiveError(f"{where}: {path} rebuilds to {len(raw)} bytes that do not match its recorded sha256 "
                           f"(the pack was edited or truncated); {HOW_TO_REPAIR}")
    return raw


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file, so an interrupted pack leaves no half file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def pack(directory: Path) -> dict:
    """Move the packable files of `directory` into runs.json (+ runs.safetensors), after
    checking that the written pack rebuilds every one of them byte for byte. Returns
    {"packed": n, "bytes": total size of the files packed}."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ArchiveError(f"{directory}: no such folder (give a protocol's folder, e.g. benchmarks/results/ceiling)")
    paths = packable(directory)
    if is_packed(directory):
        if paths:
            raise ArchiveError(f"{directory} is packed and also holds loose run files ({paths[0]}, ...): unpack it "
                               f"into a new folder, add them there, and pack that")
        return {"packed": 0, "bytes": 0}
    if not paths:
        raise ArchiveError(f"{directory}: no run files below it to pack")
    originals, entries, tensors = {}, {}, {}
    for path in paths:
        originals[path] = (directory / path).read_bytes()
        entries[path] = _entry(path, originals[path], tensors)
    document = {"format": FORMAT, "unpack": "python benchmarks/archive.py unpack THIS_FOLDER OUT"}
    if tensors:
        from safetensors.torch import save

        blob = save(tensors)   # no metadata: its hash-map order would make the bytes vary by process
        document[TENSORS] = {"bytes": len(blob), "sha256": _sha256(blob)}
        _write(directory / TENSORS, blob)
    document["files"] = entries
    _write(directory / TEXT, (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    try:
        rebuilt = read(directory)
        for path, raw in originals.items():
            if rebuilt.get(path) != raw:
                raise ArchiveError(f"{directory}: {path} does not rebuild identically from the pack")
    except ArchiveError:
        (directory / TEXT).unlink()
        (directory / TENSORS).unlink(missing_ok=True)
        raise
    for path in paths:
        (directory / path).unlink()
    for folder in sorted((p for p in directory.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):   # deepest first, so a folder emptied by its subfolders goes too
            folder.rmdir()
    return {"packed": len(paths), "bytes": sum(map(len, originals.values()))}


# --- read, unpack


def read(directory: Path) -> dict[str, bytes]:
    """{relative path: bytes} of every file the pack of `directory` holds, each checked."""
    directory = Path(directory)
    where = directory / TEXT
    try:
        document = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArchiveError(f"{where}: missing, so {directory} is not packed") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArchiveError(f"{where}: not valid JSON ({error}; truncated or edited?); {HOW_TO_REPAIR}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ArchiveError(f"{where}: not a {FORMAT!r} pack (its format is "
                           f"{document.get('format') if isinstance(document, dict) else None!r})")
    tensor_bytes = {}
    if TENSORS in document:
        blob_path = directory / TENSORS
        if not blob_path.is_file():
            raise ArchiveError(f"{blob_path}: missing, but {where} needs it; {HOW_TO_REPAIR}")
        blob = blob_path.read_bytes()
        expected = document[TENSORS]
        if len(blob) != expected["bytes"] or _sha256(blob) != expected["sha256"]:
            raise ArchiveError(f"{blob_path}: {len(blob)} bytes that do not match the sha256 {where} records "
                               f"({expected['bytes']} bytes; truncated or edited); {HOW_TO_REPAIR}")
        tensor_bytes = _read_tensor_bytes(blob, str(blob_path))
    return {path: _rebuild(path, entry, tensor_bytes, where) for path, entry in document["files"].items()}


def unpack(directory: Path, out: Path) -> int:
    """Recreate `directory`'s original files in `out` (new or empty): its loose files copied,
    the packed ones rebuilt. A folder that is not packed is copied as it is. Returns the
    number of files written."""
    directory, out = Path(directory), Path(out)
    if not directory.is_dir():
        raise ArchiveError(f"{directory}: no such folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ArchiveError(f"{out}: exists and is not an empty folder; unpack into a new one")
    if out.resolve().is_relative_to(directory.resolve()):
        raise ArchiveError(f"{out}: inside {directory}; unpack somewhere else")
    files = read(directory) if is_packed(directory) else {}
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if path.is_file() and relative.as_posix() not in (TEXT, TENSORS):
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out / relative)
            count += 1
    for path, raw in files.items():
        if (out / path).exists():
            raise ArchiveError(f"{directory}: {path} is both packed and loose; delete the loose copy or unpack and "
                               f"pack again")
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(raw)
        count += 1
    return count


@contextlib.contextmanager
def loose(directory: Path):
    """`directory` as loose files, to read: itself if not packed, else a temporary unpacked copy."""
    directory = Path(directory)
    if not is_packed(directory):
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix=f"{directory.name}-") as temporary:
        unpack(directory, Path(temporary) / directory.name)
        yield Path(temporary) / directory.name


@contextlib.contextmanager
def updating(directory: Path):
    """`directory` as loose files, to add to: itself if not packed, else a temporary unpacked
    copy packed again into `directory` on the way out (files whose bytes did not change are
    not rewritten, so a report that reproduces its tables leaves the pack as it was)."""
    directory = Path(directory)
    if not is_packed(directory):
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix=f"{directory.name}-") as temporary:
        work = Path(temporary) / directory.name
        unpack(directory, work)
        yield work
        pack(work)
        for path in sorted(work.rglob("*")):
            target = directory / path.relative_to(work)
            if path.is_file() and (not target.is_file() or target.read_bytes() != path.read_bytes()):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("pack", help="pack DIR's run files in place").add_argument("dir", type=Path)
    unpack_parser = commands.add_parser("unpack", help="recreate DIR's original files in OUT")
    unpack_parser.add_argument("dir", type=Path)
    unpack_parser.add_argument("out", type=Path)
    commands.add_parser("check", help="rebuild every packed file in memory and check its digest").add_argument(
        "dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            done = pack(args.dir)
            print(f"{args.dir}: {done['packed']} files ({done['bytes']:,} bytes) packed into {TEXT}"
                  + (f" and {TENSORS}" if (args.dir / TENSORS).is_file() else ""))
        elif args.command == "unpack":
            print(f"{args.out}: {unpack(args.dir, args.out)} files")
        else:
            print(f"{args.dir}: {len(read(args.dir))} packed files, every digest matches")
    except ArchiveError as error:
        print(f"archive.py {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
