"""compare.json, a comparison's record: the options its runs share, the random heads it drew,
the --heads files it pinned, the code it began with and the sha256 of each run's summary.json as
it finished. Read and checked before anything is written; rewritten whole by each call."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from nasiam._io import atomic_write_text
from nasiam.compare.run_folders import summary_sha256
from nasiam.compare.specs import HeadSpec
from nasiam.config import ConfigError, PretrainConfig
from nasiam.errors import shown, shown_path
from nasiam.rundir import HeadFile

MANIFEST = "compare.json"
MANIFEST_FORMAT = "nasiam.compare"
MANIFEST_SCHEMA_VERSION = 1
# compare.json's {run name: sha256 of its summary.json}, recorded when the run finished under
# this comparison; a run finished before compare.json kept them (an older nasiam, an archive)
# has none and is checked as before, by its config.yaml and the files its summary lists
SUMMARIES = "finished_summaries"
# every field `nasiam.compare.prepare` writes; a compare.json with others is refused (`_check_known_fields`)
MANIFEST_FIELDS = ("format", "schema_version", "framework", "common", "random_genotypes", "pinned_heads", "code",
                   SUMMARIES)
MAX_MANIFEST_BYTES = 16 << 20


def read_manifest(out: Path, common: dict[str, str]) -> dict[str, Any]:
    """The comparison already in `out` ({} if none): its options must be these, since runs
    under other options are not paired."""
    path = out / MANIFEST
    if not path.is_file():
        return {}
    fix = "move it away or choose another --out"
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"over {MAX_MANIFEST_BYTES} bytes")
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:   # not UTF-8, not JSON
        raise ConfigError(f"{path} (read) is damaged ({type(e).__name__}: {str(e)[:120]}); {fix}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ConfigError(f"{path} (read) is not a nasiam comparison; choose another --out")
    _check_schema_version(path, manifest.get("schema_version"))
    _check_known_fields(path, manifest)
    if not isinstance(manifest.get("common"), dict) or not isinstance(manifest.get("pinned_heads", {}), dict):
        raise ConfigError(f"{path} (read) is damaged (its 'common' or 'pinned_heads' is not an object); {fix}")
    damaged_pin = next((label for label, pin in manifest.get("pinned_heads", {}).items() if not _is_pin(pin)), None)
    if damaged_pin is not None:   # dropped and pinned anew from the file as it is now (#33 probe 12, I7)
        raise ConfigError(f"{path} (read) is damaged (its pin for row {shown(damaged_pin, 60)} is not "
                          f'{{"path": ..., "sha256": 64 hex digits}}); restore it, or {fix}. Nothing was written')
    summaries = manifest.get(SUMMARIES, {})
    if not isinstance(summaries, dict) or not all(isinstance(v, str) for v in summaries.values()):
        raise ConfigError(f"{path} (read) is damaged (its '{SUMMARIES}' is not an object of sha256 strings); {fix}")
    differences = _differing_options(manifest["common"], common)
    if differences:
        raise ConfigError(f"{out} holds a comparison with other run options: {'; '.join(differences)}; runs under "
                          "different options are not paired. Pass the same options, or another --out")
    return manifest


def _is_pin(pin: Any) -> bool:
    """Whether `pin` is a pinned head as `_pin_heads` writes it: its file's path and sha256."""
    return isinstance(pin, dict) and isinstance(pin.get("path"), str) and isinstance(pin.get("sha256"), str) and \
        re.fullmatch(r"[0-9a-f]{64}", pin["sha256"]) is not None


def _check_schema_version(path: Path, version: Any) -> None:
    """compare.json is rewritten as this version's on every call: a newer nasiam's record (or one
    with a version nasiam never wrote) would be downgraded, its fields dropped, so it is refused,
    as genotype files and checkpoints are, before anything is written."""
    if type(version) is int and version == MANIFEST_SCHEMA_VERSION:
        return
    if type(version) is int and version > MANIFEST_SCHEMA_VERSION:
        raise ConfigError(f"{path} (read) was written by a newer nasiam (schema_version {shown(version)}; this one reads "
                          f"{MANIFEST_SCHEMA_VERSION}): upgrade nasiam to continue this comparison, or choose another "
                          "--out. Nothing was written")
    raise ConfigError(f"{path} (read) is damaged: its schema_version is {shown(version, 60)}, not the integer "
                      f"{MANIFEST_SCHEMA_VERSION} nasiam writes (edited by hand?); restore it, or move it away or "
                      "choose another --out. Nothing was written")


def _check_known_fields(path: Path, manifest: Mapping[str, Any]) -> None:
    """compare.json's fields are those `prepare` writes: one it does not know would be dropped
    by the rewrite (#33 probe 11, H3), so it is refused as a newer schema_version is, before
    anything is written."""
    unknown = sorted(set(manifest) - set(MANIFEST_FIELDS))
    if unknown:
        names = ", ".join(shown(name, 40) for name in unknown[:5]) + (f" and {len(unknown) - 5} more"
                                                                      if len(unknown) > 5 else "")
        raise ConfigError(f"{path} (read) has fields this nasiam does not write ({names}): added by hand or by another "
                          "program, and every call rewrites the file without them. Remove them, or move the file away "
                          "or choose another --out. Nothing was written")


def _differing_options(recorded: Mapping[Any, Any], common: Mapping[str, str]) -> list[str]:
    """The options in which compare.json's `recorded` and this command's `common` differ, by
    value as a run reads them: `--epochs 01` is `--epochs 1`, an option left out its default."""
    import dataclasses

    from nasiam.config import field_types, parse_value
    types = field_types(PretrainConfig)
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(PretrainConfig)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    unset = object()

    def value(options: Mapping[Any, Any], key: Any) -> Any:
        if key not in options:
            return defaults.get(key, unset)
        try:
            return parse_value(key, options[key], types[key])
        except (ConfigError, KeyError, TypeError, ValueError):   # not an option, or not its type: a value of its own
            return ("unreadable", repr(options[key]))

    differences = []
    for key in sorted(set(recorded) | set(common), key=str):
        before, now = value(recorded, key), value(common, key)
        if before != now:
            differences.append(f"--{shown_path(key, 60)} was "
                               f"{shown(recorded[key], 60) if key in recorded else 'not set'}, now "
                               f"{shown(common[key], 60) if key in common else 'not set'}")
    return differences


def pin_heads(specs: list[HeadSpec], manifest: dict[str, Any],
               path_heads: dict[str, HeadFile]) -> dict[str, dict[str, str]]:
    """Each --heads PATH row's file and sha256 as first seen (compare.json keeps them): a file
    changed since is refused, since its finished runs trained the old one. The sha256 is that of
    the bytes `path_heads` parsed and checked, not of a second read."""
    pins = {label: dict(pin) for label, pin in manifest.get("pinned_heads", {}).items()}
    for spec in (s for s in specs if s.kind == "path"):
        sha256 = path_heads[spec.label].sha256
        pinned = pins.setdefault(spec.label, {"path": spec.path, "sha256": sha256})
        if pinned.get("sha256") != sha256:
            raise ConfigError(f"--heads {spec.label}: {spec.path} is not the head this comparison began with (sha256 "
                              f"{str(pinned.get('sha256'))[:12]} recorded in {MANIFEST} for {pinned.get('path')}, now "
                              f"{sha256[:12]}); its runs so far trained the recorded one. Restore the file, or compare "
                              "the new head under another label or --out")
    return pins


def record_summary(out: Path, manifest: dict[str, Any], name: str) -> None:
    """compare.json records the sha256 of runs/NAME/summary.json, the run having just finished
    as planned: a later call refuses the run if its summary changed (`check_run`). Written per
    run, so that each record lands at once, from the copy `prepare` checked and wrote: the
    comparison's lock keeps other nasiam commands from writing the file, and a copy removed or
    replaced meanwhile (by hand) is written again whole rather than re-read unchecked."""
    manifest[SUMMARIES][name] = summary_sha256(out / "runs" / name)
    write_manifest(out, manifest)


def write_manifest(out: Path, manifest: Mapping[str, Any]) -> None:
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
