"""Reading (and writing) what a run leaves in its run directory, without the runner or timm:
the searched genotypes, the exported heads and the configuration; and sharing a run's heads on
the Hugging Face Hub (`push_run_to_hub`; one head: `NASHead.push_to_hub`, nasiam.head.hub).
Used by the runner, the CLI, the integrations and `nasiam.compare`::

    RUN_DIR/genotype.json        every searched head's genotype (format nasiam.search)
    RUN_DIR/heads/<slot>/        each exported head (NASHead.save_pretrained)
    RUN_DIR/backbone.json        how to rebuild the backbone (read and written by nasiam.backbones)
    RUN_DIR/config.yaml          the resolved configuration
    RUN_DIR/summary.json         written last by `nasiam search` and `nasiam pretrain`, with the
                                 sha256 of the files above ("files")
    OUT/export.json              written last by `nasiam export` (what it exported, from where)

Files are JSON, YAML and safetensors only, validated before anything is built from them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from nasiam._arguments import path_problem
from nasiam._folders import is_run_config
from nasiam._io import atomic_write_text, is_temporary_file
from nasiam.errors import CheckpointError, shown, shown_path
from nasiam.head import NASHead
from nasiam.head.hub import check_repo_id, push_heads_to_hub
from nasiam.space.genotype import MAX_FILE_BYTES, Genotype, GenotypeError, check_genotype_file, schema_version_problem

__all__ = ["SEARCH_FORMAT", "EXPORT_FORMAT", "EXPORT_RECORD", "read_genotypes", "read_head_file", "HeadFile",
           "genotype_file_sha256", "write_search_genotypes", "write_searched_heads", "load_heads",
           "run_config_dict", "require_complete", "push_run_to_hub", "file_digests", "file_sizes", "run_file_digests",
           "check_run_files"]

SEARCH_FORMAT = "nasiam.search"
EXPORT_FORMAT, EXPORT_RECORD = "nasiam.export", "export.json"
# the file each writer of heads and a backbone writes last: its presence says the folder is whole
SUMMARY_RECORD = "summary.json"
COMPLETION_RECORDS = (SUMMARY_RECORD, EXPORT_RECORD)
# the files of a run read as its result; summary.json records their sha256 (with heads/)
RECORDED_FILES = ("config.yaml", "genotype.json", "genotype.argmax.json", "genotype.rejected.json", "backbone.json",
             "backbone.safetensors")
SEARCH_SCHEMA_VERSION = 1
# a framework's or a head slot's name (the Lightning callback's slots are its module's attribute
# names, a framework may be a user's class name): a word, never a path
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")


def name_problem(kind: str, name: object) -> str | None:
    """Why `name` cannot be a framework's or a head slot's name in genotype.json (`kind`), or
    None: the reader refuses such a file, so nothing writes one."""
    if not (isinstance(name, str) and _NAME.fullmatch(name)) or kind == "slot" and ".." in name:
        return (f"{kind} {shown(name)} is not a name genotype.json can hold: a word of at most 64 letters, digits, "
                "'_', '.', '-', starting with a letter or '_'")
    return None


def _check_names(path: Path, framework: str, slots: Iterable[str]) -> None:
    problems = [name_problem("framework", framework), *(name_problem("slot", slot) for slot in slots)]
    if any(problems):   # a file its own reader (`read_genotypes`: pretrain --head, compare) would refuse
        raise ValueError(f"{path}: {next(p for p in problems if p)}")


def write_search_genotypes(path: Path, framework: str, genotypes: Mapping[str, Genotype]) -> None:
    _check_names(path, framework, genotypes)
    data = {"format": SEARCH_FORMAT, "schema_version": SEARCH_SCHEMA_VERSION, "framework": framework,
            "heads": {slot: g.to_dict() for slot, g in genotypes.items()}}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def write_searched_heads(directory: Path, framework: str, genotypes: Mapping[str, Genotype],
                         heads: Mapping[str, NASHead]) -> None:
    """A search's result as `nasiam search`, `nasiam export` and the Lightning callback leave it:
    `heads/<slot>/` (`NASHead.save_pretrained`'s files) and `genotype.json`, read back by `load_heads`.
    The heads are written by nasiam's own door (`NASHead._write_pretrained`): save_pretrained
    refuses a run's or an export's heads/, which a search or an export done again writes anew;
    the Lightning callback checks its export_dir itself (`_checked_export_dir`)."""
    # every name checked before the first head is written: a slot that is a path ("../x", "/abs")
    # would otherwise put heads outside `directory` before genotype.json refused it
    _check_names(directory / "genotype.json", framework, [*genotypes, *heads])
    for slot, head in heads.items():
        head._write_pretrained(directory / "heads" / slot)
    write_search_genotypes(directory / "genotype.json", framework, genotypes)


def genotype_file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of the genotype file `read_genotypes(path)` reads (a run directory's
    genotype.json, or the file itself), for a caller that only checks it: one that also builds
    the head takes `read_head_file(path).sha256`, the hash of the very bytes it parsed. A FIFO or
    device is refused (`GenotypeError`) as `read_genotypes` refuses it: reading it would not end."""
    path = _genotype_path(path)
    check_genotype_file(path)
    return _sha256(path)


@dataclass(frozen=True)
class HeadFile:
    """A genotype file as one read gave it: what `read_genotypes` returns, and the sha256 of
    those same bytes (what names the head a run trained: the file can be edited afterwards)."""

    framework: str | None
    genotypes: dict[str, Genotype]
    sha256: str


def read_head_file(path: str | os.PathLike) -> HeadFile:
    """`read_genotypes(path)` and the sha256 of the bytes it parsed, from one read: hashed on a
    second read, a file replaced in between would record a hash that is not the head trained."""
    path = _genotype_path(path)
    check_genotype_file(path)
    limit = MAX_FILE_BYTES * 8
    with open(path, "rb") as f:
        raw = f.read(limit + 1)   # bounded: a file that grew since a size check is still refused
    if len(raw) > limit:
        raise GenotypeError(f"{path}: too large to be a genotype file")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, RecursionError, ValueError) as e:   # ValueError: also a 5,000-digit integer
        raise GenotypeError(f"{path}: not a valid genotype file ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:120] if str(e) else ''})") from None
    if isinstance(data, dict) and data.get("format") == SEARCH_FORMAT:
        framework, genotypes = _search_genotypes(data, path)
    else:
        try:   # a single head's file, parsed from the same bytes as Genotype.load would read them
            g = Genotype.from_json(raw)
        except GenotypeError as e:
            raise GenotypeError(f"{path}: {e}") from None
        framework, genotypes = None, {str(g.meta.get("slot", "projector")): g}
    return HeadFile(framework, genotypes, hashlib.sha256(raw).hexdigest())


def read_genotypes(path: str | os.PathLike) -> tuple[str | None, dict[str, Genotype]]:
    """A run's genotype.json ({slot: Genotype}) or a single head's genotype file; validated."""
    head = read_head_file(path)
    return head.framework, head.genotypes


def _genotype_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / "genotype.json" if path.is_dir() else path


def _search_genotypes(data: dict, path: Path) -> tuple[str | None, dict[str, Genotype]]:
    """A run's genotype.json, checked as strictly as each head's genotype: its fields, its
    schema version (a newer file is refused, not half-read), its framework and slot names."""
    allowed = ("format", "schema_version", "framework", "heads")
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise GenotypeError(f"{path}: unknown field(s) {', '.join(shown(k) for k in unknown[:5])}; "
                            f"allowed: {', '.join(allowed)}")
    version = data.get("schema_version")
    if isinstance(version, bool) or version != SEARCH_SCHEMA_VERSION:
        raise GenotypeError(f"{path}: schema_version: {schema_version_problem(version, SEARCH_SCHEMA_VERSION)}")
    framework = data.get("framework")
    if framework is not None and name_problem("framework", framework):
        raise GenotypeError(f"{path}: framework: expected a framework's name, got {shown(framework)}")
    heads = data.get("heads")
    if not isinstance(heads, dict) or not heads or len(heads) > 8:
        raise GenotypeError(f"{path}: 'heads' must map slot names to genotypes")
    out = {}
    for slot, g in heads.items():
        if name_problem("slot", slot):
            raise GenotypeError(f"{path}: heads: {shown(slot)} is not a head slot's name (a word of letters, "
                                "digits, '_', '.', '-')")
        try:
            out[slot] = Genotype.from_dict(g)
        except GenotypeError as e:
            raise GenotypeError(f"{path}: heads.{slot}.{e}") from None
    return framework, out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _export_files(folder: Path) -> dict[str, Path]:
    """{path relative to `folder`: path} of the regular files in an export folder but its record."""
    return {path.relative_to(folder).as_posix(): path
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != EXPORT_RECORD)}


def file_digests(folder: Path) -> dict[str, str]:
    """{path relative to `folder`: sha256} of the heads, genotype and backbone files an export
    writes: what its record (export.json) lists, so a folder assembled from two runs is told
    from the one that was written."""
    return {name: _sha256(path) for name, path in _export_files(folder).items()}


def file_sizes(folder: Path) -> dict[str, int]:
    """{path relative to `folder`: size in bytes} of the files `file_digests` lists."""
    return {name: path.stat().st_size for name, path in _export_files(folder).items()}


def run_file_digests(run_dir: str | Path) -> dict[str, str]:
    """{path relative to `run_dir`: sha256} of the files read as a finished run's result
    (RECORDED_FILES and heads/); logs, figures, checkpoints and eval/ are not."""
    run_dir = Path(run_dir)
    paths = [run_dir / name for name in RECORDED_FILES if (run_dir / name).is_file()]
    heads = run_dir / "heads"
    if heads.is_dir():
        paths += sorted(p for slot in _slot_folders(heads) for p in slot.rglob("*")
                        if p.is_file() and not is_temporary_file(p.name))
    return {path.relative_to(run_dir).as_posix(): _sha256(path) for path in paths}


def check_run_files(run_dir: str | Path, option: str, advice: str, needed: tuple[str, ...] = ()) -> None:
    """Refuse a finished run whose files are not those it finished with (summary.json's "files"):
    a backbone or head copied in from another run has the same shapes, so nothing else would
    notice. A recorded file that is absent is left to whoever reads it (an archive of a run's
    small files, a W&B download), unless its path starts with one of `needed`. A summary
    without the record (an archived run) is accepted."""
    run_dir = Path(run_dir)
    path, named = run_dir / SUMMARY_RECORD, f"{option} {run_dir}".lstrip()
    try:
        if path.stat().st_size > MAX_FILE_BYTES * 64:
            raise ValueError("larger than a run's summary can be")
        summary = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{named}: {path} (read) is not a run's summary ({shown(e)}); {advice}") from None
    recorded = summary.get("files") if isinstance(summary, dict) else None
    if recorded is None:
        return
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        raise CheckpointError(f"{named}: {path} (read): 'files' is not the record nasiam writes there (path: "
                              f"sha256); the file is damaged. {advice}")
    found = run_file_digests(run_dir)
    changed = sorted(name for name in found if recorded.get(name) != found[name])
    missing = sorted(name for name in recorded if name not in found and name.startswith(needed))
    problems = ([f"{', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''} changed since the run finished"]
                if changed else []) + ([f"{', '.join(missing[:4])} missing"] if missing else [])
    if problems:
        raise CheckpointError(f"{named}: {'; '.join(problems)} ({SUMMARY_RECORD} lists the sha256 of each file the "
                              f"run wrote): its heads, backbone and configuration may no longer belong together. "
                              f"{advice}")


def require_complete(run_dir: str | Path, option: str) -> None:
    """Refuse a folder whose writer did not finish: one without the record written after
    everything else (summary.json, export.json) may hold heads and a backbone of different runs
    or epochs. A file replaced since the record listed its sha256 is refused too."""
    run_dir, again = Path(run_dir), "export the search run again to a new folder: `nasiam export RUN --out NEW_FOLDER`"
    if run_dir.is_dir() and not any((run_dir / name).is_file() for name in COMPLETION_RECORDS):
        raise CheckpointError(f"{option} {run_dir} has neither summary.json nor {EXPORT_RECORD}: the search, "
                              "pretraining or export that wrote it did not finish (or an older nasiam wrote it), so "
                              f"its heads and backbone may not belong together. Pass a finished run, or {again}")
    record_path = run_dir / EXPORT_RECORD
    # each record present is checked: a summary.json dropped beside an export's record (one
    # without "files") must not stand in for the export's stricter list
    if record_path.is_file():
        _check_export_files(run_dir, record_path, option, again)
    if (run_dir / SUMMARY_RECORD).is_file():
        check_run_files(run_dir, option, f"Restore the files, pass the run they came from, or {again}",
                        needed=("heads/", "backbone."))


# An export record's "sizes" gives each file's size, so a file of another size is refused unread.
# An older record has none: a file is hashed only if it is one an export could have written, a
# regular file of at most 8 GiB. Twice the largest head nasiam builds (MAX_PARAMETERS float32
# values, 4 GiB), and over the float32 weights of any backbone a search trains (a ResNet-50's
# 94 MB; a ViT-g/14's 4.5 GB); the JSON files are under 1 MiB. Hashing reads 3.5 s/GiB: a link
# to a 20 GB file was read for minutes before its refusal (#33 probe 13, J2). Export writes no
# link, and a link's target may be of any size; exporting again writes a record with sizes.
UNSIZED_EXPORT_FILE_BYTES = 8 << 30
_MAX_FILE_SIZE = (1 << 63) - 1   # a size no file system reports (st_size is a signed 64-bit integer)


def _check_export_files(run_dir: Path, record_path: Path, option: str, again: str) -> None:
    """Refuse an export folder whose files are not those export.json lists (every file but the
    record itself: one added since, such as a summary.json, is refused too). Each kind is said
    as such: a file missing or added is not "changed", and only a changed one hints at another
    run's weights (#33 probe 10, G8). Only the listed files are hashed, each only where its size
    bounds what is read (see UNSIZED_EXPORT_FILE_BYTES)."""
    recorded, recorded_sizes = _read_export_record(record_path, option, again)
    present = _export_files(run_dir)
    listed = sorted(set(recorded) & set(present))
    # an older record (no sizes): a file no export writes, hashed, would be read whole, whatever its size
    unchecked = [] if recorded_sizes is not None else [
        name for name in listed if present[name].is_symlink() or present[name].stat().st_size > UNSIZED_EXPORT_FILE_BYTES]
    changed = [name for name in listed if name not in unchecked and (
        recorded_sizes is not None and present[name].stat().st_size != recorded_sizes[name]
        or _sha256(present[name]) != recorded[name])]
    missing = sorted(set(recorded) - set(present))
    added = sorted(set(present) - set(recorded))
    problems = ([f"{_few(changed)} changed since the export (its heads and backbone may come from "
                 "different runs)"] if changed else []) + ([f"{_few(missing)} missing"] if missing else []) + \
               ([f"{_few(added)} not written by the export"] if added else []) + \
               ([f"{_few(unchecked)} not read: a symbolic link or a file over {UNSIZED_EXPORT_FILE_BYTES >> 30} GiB, "
                 "which no export writes, where no recorded size bounds what is read"]
                if unchecked else [])
    if problems:
        steps = (["restore the files"] if changed or missing else []) + \
                ([f"move the added file{'s' if len(added) > 1 else ''} out of the folder"] if added else []) + \
                (["put the files the export wrote in their place"] if unchecked else [])
        fix = " and ".join(steps)
        raise CheckpointError(f"{option} {run_dir}: {'; '.join(problems)} ({EXPORT_RECORD} lists the sha256 of each "
                              f"file the export wrote). {fix[0].upper()}{fix[1:]}, or {again}")


def _read_export_record(record_path: Path, option: str, again: str) -> tuple[dict, dict | None]:
    """export.json's "files" (name: sha256) and "sizes" (name: bytes; None in a record written
    before sizes), refused as damaged where they are not what export writes: a forged size
    (negative, 10**30, "1000", true) was read as the file having "changed since the export", and
    a size for a file "files" does not list was ignored (#33 probe 13, J4)."""
    try:
        if record_path.stat().st_size > MAX_FILE_BYTES:
            raise _Damaged("larger than an export record can be")
        record = json.loads(record_path.read_text(encoding="utf-8"))
        recorded = record["files"]
        if not isinstance(recorded, dict):
            raise _Damaged("'files' is not a mapping")
        sizes = record.get("sizes", ...)
        if sizes is not ...:
            _check_sizes(sizes, recorded)
    except (OSError, ValueError, KeyError, TypeError) as e:
        why = str(e) if isinstance(e, _Damaged) else shown(e)
        raise CheckpointError(f"{option} {record_path} (read) is not a complete export record ({why}); "
                              f"{again}") from None
    return recorded, (None if sizes is ... else sizes)


class _Damaged(ValueError):
    """What is wrong with an export record, said as it is (not as the repr of an error)."""


def _check_sizes(sizes: object, recorded: dict) -> None:
    """_Damaged where `sizes` is not what export writes beside `recorded` ("files"): a size in
    bytes, a whole number from 0 to the largest a file system reports, for each listed file and no other."""
    if not isinstance(sizes, dict):
        raise _Damaged("'sizes' is not a mapping")
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= _MAX_FILE_SIZE:
            raise _Damaged(f"'sizes' gives {shown_path(name, 120)} {shown(size)}, not a size in bytes")
    unsized, unlisted = sorted(set(recorded) - set(sizes)), sorted(set(sizes) - set(recorded))
    if unsized:
        raise _Damaged(f"'sizes' gives no size for {_few(unsized)}")
    if unlisted:
        raise _Damaged(f"'sizes' names {_few(unlisted)}, which 'files' does not list")


def _few(names: list[str]) -> str:
    """The first few of `names` as a message lists them (a file's name escaped where a terminal would act on it)."""
    return ", ".join(shown_path(n, 120) for n in names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _slot_folders(heads_dir: Path) -> list[Path]:
    """The head folders of `heads_dir`, by name. A hidden folder is none: nasiam writes none there
    (its temporaries are files inside a slot), and one there is a tool's (Jupyter's
    .ipynb_checkpoints), which made push, `pretrain --init` and lightly refuse the run as "not a
    saved NASHead" (the nineteenth probe of #33, Q16)."""
    return [p for p in sorted(heads_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def load_heads(run_dir: str | Path) -> dict[str, NASHead]:
    heads_dir = Path(run_dir) / "heads"
    if not heads_dir.is_dir():
        raise CheckpointError(f"{run_dir} has no heads/ folder: not a finished nasiam search or pretrain run")
    heads = {p.name: NASHead.from_pretrained(p) for p in _slot_folders(heads_dir)}
    if not heads:
        raise CheckpointError(f"{heads_dir} holds no saved head")
    return heads


def run_config_dict(run_dir: str | Path) -> dict[str, Any]:
    """A run's config.yaml as a mapping (what `nasiam eval` reads its dataset settings from); a
    damaged one is a CheckpointError naming it, as the model card's records are (a RecursionError
    traceback, or a decoding error naming no file, before)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no config.yaml: not a nasiam run directory")
    return _card_record(path, "Restore it: `nasiam eval` reads the run's dataset, crop size and seed from it")


def push_run_to_hub(run_dir: str | os.PathLike, repo_id: str, license: str = "mit", **kwargs: Any) -> Any:
    """Upload a run's heads (RUN_DIR/heads/<slot>) to `repo_id`, one subfolder per slot, with a
    model card of what the run recorded. Each head is loaded with the strict loader first, so a
    damaged run is refused before anything is uploaded."""
    check_repo_id(repo_id)
    heads = sorted(load_heads(run_dir).items(), key=lambda item: (item[0] != "projector", item[0]))
    return push_heads_to_hub(dict(heads), repo_id, card={**run_card(run_dir), "license": license}, **kwargs)


_CARD_METRICS = ("knn_top1", "linear_top1", "linear_top5", "rankme")


def run_card(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What a model card says of a run: dataset, backbone and framework from its config.yaml,
    and the numbers of its summary.json's final evaluation; what a run did not record is left
    out, and a record that cannot be read is a CheckpointError naming it. An export has neither
    file: its backbone.json names the backbone, and the run it names in export.json (when it is
    still there) the dataset and framework; not that run's numbers, which measured the run's
    heads, where an export may be another rank's, at other widths (the nineteenth probe of #33, Q18)."""
    run_dir = Path(run_dir)
    config, summary = _card_record(run_dir / "config.yaml"), _card_record(run_dir / SUMMARY_RECORD)
    card: dict[str, Any] = {}
    if isinstance(summary, dict):
        card["metrics"] = {k: summary[k] for k in _CARD_METRICS if isinstance(summary.get(k), (int, float))}
    backbone = _card_record(run_dir / "backbone.json")
    if isinstance(backbone, dict) and isinstance(backbone.get("name"), str):
        card["backbone"] = backbone["name"]
    if config is None and summary is None:   # an export: its framework is its genotype.json's
        exported = _card_record(run_dir / "genotype.json")
        if isinstance(exported, dict) and isinstance(exported.get("framework"), str):
            card["framework"] = exported["framework"]
        config = _exported_from(run_dir, card.get("framework"), card.get("backbone"))
    if isinstance(config, dict):
        card.update({k: config[k] for k in ("dataset", "backbone", "framework") if isinstance(config.get(k), str)})
    return card


def _exported_from(export_dir: Path, framework: str | None, backbone: str | None) -> dict | None:
    """What the card takes from the run an export came from: the dataset its export.json records;
    for an export written before it recorded one, the configuration of the run it names ("run"),
    when that folder still holds a nasiam run's config.yaml (`is_run_config`) of the export's
    framework and backbone. An export made before "run" was recorded absolute names it relative to the folder
    `nasiam export` ran in: read from elsewhere, another run (or another tool's file) stood there,
    and its dataset went on the card, or the export was refused as damaged (#33 probe 20, R2)."""
    record = _card_record(export_dir / EXPORT_RECORD)
    if isinstance(record, dict) and "dataset" in record:
        # recorded at export time: the folder at "run" may since hold a new run of the same name,
        # of the same framework and backbone but another dataset (#33 probe 21, S3)
        return {"dataset": record["dataset"]}
    source = record.get("run") if isinstance(record, dict) else None
    if not isinstance(source, str) or not source or path_problem(source) or not Path(source).is_dir():
        return None
    config = is_run_config(Path(source) / "config.yaml")
    if config is None or config.get("framework") != framework or backbone and config.get("backbone") != backbone:
        return None
    return config


def _card_record(path: Path, fix: str = "Restore it, or move it out of the folder to push the heads without what "
                                       "it records") -> dict | None:
    """A run's JSON or YAML record (a mapping) as the model card reads it (safe: no code runs),
    None where there is no file. One that cannot be one (a folder, not UTF-8, not JSON or YAML,
    nested past the parser's recursion limit, too large, not a mapping) is a CheckpointError
    naming it: a RecursionError traceback, or a decoding error naming no file, before (the
    nineteenth probe of #33, Q3)."""
    import yaml

    if not os.path.lexists(path):
        return None
    try:
        if path.stat().st_size > MAX_FILE_BYTES * 64:
            raise _Damaged(f"larger than a run's {path.name} can be")
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as e:
        raise _unreadable(path, _parse_problem(e), fix) from None
    if not isinstance(data, dict):
        raise _unreadable(path, f"it holds {type(data).__name__}, not a mapping", fix)
    return data


def _parse_problem(error: BaseException) -> str:
    """Why a record could not be read, in words."""
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if isinstance(error, _Damaged):
        return str(error)
    if isinstance(error, OSError):   # a folder, a permission
        return error.strerror or type(error).__name__
    return f"not valid {'JSON' if isinstance(error, ValueError) else 'YAML'}"   # a 5,000-digit integer too


def _unreadable(path: Path, problem: str, fix: str) -> CheckpointError:
    return CheckpointError(f"{shown_path(path)} (read) is not the record nasiam writes there ({problem}): the file is "
                           f"damaged. {fix}")
