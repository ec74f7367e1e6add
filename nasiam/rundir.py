"""Reading (and writing) what a run leaves in its run directory, without the runner or timm:
the searched genotypes, the exported heads, the backbone record and the configuration. Used
by the runner, `nasiam.hub`, the integrations and `nasiam.compare`::

    RUN_DIR/genotype.json        every searched head's genotype (format nasiam.search)
    RUN_DIR/heads/<slot>/        each exported head (NASHead.save_pretrained)
    RUN_DIR/backbone.json        how to rebuild the backbone (rebuilding it: nasiam.runner.artifacts)
    RUN_DIR/config.yaml          the resolved configuration
    RUN_DIR/summary.json         written last by `nasiam search` and `nasiam pretrain`
    OUT/export.json              written last by `nasiam export` (what it exported, from where)

Files are JSON, YAML and safetensors only, validated before anything is built from them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from nasiam._io import atomic_write_text
from nasiam.errors import CheckpointError, shown
from nasiam.head import NASHead
from nasiam.space.genotype import MAX_FILE_BYTES, Genotype, GenotypeError

__all__ = ["SEARCH_FORMAT", "EXPORT_FORMAT", "EXPORT_RECORD", "read_genotypes", "write_search_genotypes", "load_heads",
           "read_backbone_record", "run_config_dict", "require_complete", "file_digests"]

SEARCH_FORMAT = "nasiam.search"
EXPORT_FORMAT, EXPORT_RECORD = "nasiam.export", "export.json"
# the file each writer of heads and a backbone writes last: its presence says the folder is whole
COMPLETION_RECORDS = ("summary.json", EXPORT_RECORD)
SEARCH_SCHEMA_VERSION = 1
# a framework's or a head slot's name (the Lightning callback's slots are its module's attribute
# names, a framework may be a user's class name): a word, never a path
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")


def write_search_genotypes(path: Path, framework: str, genotypes: Mapping[str, Genotype]) -> None:
    data = {"format": SEARCH_FORMAT, "schema_version": SEARCH_SCHEMA_VERSION, "framework": framework,
            "heads": {slot: g.to_dict() for slot, g in genotypes.items()}}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_genotypes(path: str | os.PathLike) -> tuple[str | None, dict[str, Genotype]]:
    """A run's genotype.json ({slot: Genotype}) or a single head's genotype file; validated."""
    path = Path(path)
    if path.is_dir():
        path = path / "genotype.json"
    if not path.is_file():
        raise FileNotFoundError(f"no genotype file at {path}")
    if path.stat().st_size > MAX_FILE_BYTES * 8:
        raise GenotypeError(f"{path}: too large to be a genotype file")
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, RecursionError, ValueError) as e:   # ValueError: also a 5,000-digit integer
        raise GenotypeError(f"{path}: not a valid genotype file ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:120] if str(e) else ''})") from None
    if isinstance(data, dict) and data.get("format") == SEARCH_FORMAT:
        return _search_genotypes(data, path)
    g = Genotype.load(path)
    return None, {str(g.meta.get("slot", "projector")): g}


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
        raise GenotypeError(f"{path}: schema_version: this nasiam reads version {SEARCH_SCHEMA_VERSION}, the file "
                            f"has {shown(version)}; upgrade nasiam to read newer files")
    framework = data.get("framework")
    if framework is not None and not (isinstance(framework, str) and _NAME.fullmatch(framework)):
        raise GenotypeError(f"{path}: framework: expected a framework's name, got {shown(framework)}")
    heads = data.get("heads")
    if not isinstance(heads, dict) or not heads or len(heads) > 8:
        raise GenotypeError(f"{path}: 'heads' must map slot names to genotypes")
    out = {}
    for slot, g in heads.items():
        if not _NAME.fullmatch(slot) or ".." in slot:
            raise GenotypeError(f"{path}: heads: {shown(slot)} is not a head slot's name (a word of letters, "
                                "digits, '_', '.', '-')")
        try:
            out[slot] = Genotype.from_dict(g)
        except GenotypeError as e:
            raise GenotypeError(f"{path}: heads.{slot}.{e}") from None
    return framework, out


def read_backbone_record(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "backbone.json"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no backbone.json: not a finished nasiam search or pretrain run")
    if path.stat().st_size > 64 * 1024:
        raise CheckpointError(f"{path} is too large to be a backbone record")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    expected = {"format": str, "name": str, "cifar_stem": bool, "in_chans": int, "feature_dim": int}
    if not isinstance(record, dict) or record.get("format") != "nasiam.backbone" or any(
            not isinstance(record.get(k), t) for k, t in expected.items()):
        raise CheckpointError(f"{path}: not a nasiam backbone record (fields {', '.join(expected)})")
    return record


def file_digests(folder: Path) -> dict[str, str]:
    """{path relative to `folder`: sha256} of the heads, genotype and backbone files an export
    writes: what its record (export.json) lists, so a folder assembled from two runs is told
    from the one that was written."""
    digests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != EXPORT_RECORD):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digests[path.relative_to(folder).as_posix()] = digest.hexdigest()
    return digests


def require_complete(run_dir: str | Path, option: str) -> None:
    """Refuse a folder whose writer did not finish: one without the record that `nasiam search`
    and `pretrain` (summary.json) or `nasiam export` (export.json) write after everything else
    may hold heads and a backbone of different runs or epochs. An export's record lists the
    sha256 of every file it wrote: a file replaced since (another run's backbone or head) is refused."""
    run_dir = Path(run_dir)
    if run_dir.is_dir() and not any((run_dir / name).is_file() for name in COMPLETION_RECORDS):
        raise CheckpointError(f"{option} {run_dir} has neither summary.json nor {EXPORT_RECORD}: the search, "
                              "pretraining or export that wrote it did not finish (or an older nasiam wrote it), so "
                              "its heads and backbone may not belong together. Pass a finished run, or export the "
                              "search run again to a new folder: `nasiam export RUN --out NEW_FOLDER`")
    record_path = run_dir / EXPORT_RECORD
    if (run_dir / "summary.json").is_file() or not record_path.is_file():
        return
    again = "export the search run again to a new folder: `nasiam export RUN --out NEW_FOLDER`"
    try:
        if record_path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError("larger than an export record can be")
        record = json.loads(record_path.read_text(encoding="utf-8"))
        recorded = record["files"]
        if not isinstance(recorded, dict):
            raise ValueError("'files' is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{option} {record_path} (read) is not a complete export record ({shown(e)}); "
                              f"{again}") from None
    found = file_digests(run_dir)
    changed = sorted(name for name in set(recorded) | set(found) if recorded.get(name) != found.get(name))
    if changed:
        raise CheckpointError(f"{option} {run_dir}: {', '.join(changed[:4])} differ from what the export wrote "
                              f"({EXPORT_RECORD} lists each file's sha256): its heads and backbone may come from "
                              f"different runs. Restore the files, or {again}")


def load_heads(run_dir: str | Path) -> dict[str, NASHead]:
    heads_dir = Path(run_dir) / "heads"
    if not heads_dir.is_dir():
        raise CheckpointError(f"{run_dir} has no heads/ folder: not a finished nasiam search or pretrain run")
    heads = {p.name: NASHead.from_pretrained(p) for p in sorted(heads_dir.iterdir()) if p.is_dir()}
    if not heads:
        raise CheckpointError(f"{heads_dir} holds no saved head")
    return heads


def run_config_dict(run_dir: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no config.yaml: not a nasiam run directory")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a run configuration")
    return data
