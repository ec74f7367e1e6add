"""`nasiam compare`: a head bake-off under one paired protocol.

    from nasiam.compare import compare
    compare("default,paper,random:5,search", seeds=[0, 1, 2, 3, 4], out="runs/compare",
            options={"epochs": "16", "knn_every": "4"}, jobs=2)

Every head is trained by `nasiam pretrain` with the same options on each seed (searches by
`nasiam search` on the same seed), one process per run, `jobs` at a time; re-running the same
call continues where it stopped. Results: OUT/results.md, results.csv, results.json,
comparison.png (see nasiam.compare.report).
"""
from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from nasiam._io import remove_temporary_files
from nasiam.compare.executor import ExecutionReport, run_jobs
from nasiam.compare.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_SCHEMA_VERSION,
    SUMMARIES,
    pin_heads,
    read_manifest,
    record_summary,
    write_manifest,
)
from nasiam.compare.plan import FORBIDDEN_COMMON, Plan, build_plan, search_common
from nasiam.compare.report import write_report
from nasiam.compare.run_folders import check_run, run_finished
from nasiam.compare.specs import LIBRARY_KINDS, PREDICTOR_KINDS, HeadSpec, parse_heads
from nasiam.config import ConfigError, PretrainConfig, SearchConfig, check_output_path, load_config, nearest_folder
from nasiam.errors import RunDirLockedError, shown_path
from nasiam.rundir import HeadFile, read_head_file, write_search_genotypes

__all__ = ["compare", "prepare", "parse_heads", "HeadSpec", "parse_seeds"]

MAX_SEEDS = 1000   # each seed trains every row once: more is a typo, not a protocol


def parse_seeds(text: str | int | Sequence[int]) -> list[int]:
    """`5` -> seeds 0..4; `0,3,7` -> those seeds; `7,` -> seed 7 alone (a comma makes a list)."""
    def count(n: int) -> list[int]:
        if not 1 <= n <= MAX_SEEDS:
            raise ConfigError(f"--seeds: {n} seeds; a comparison runs 1 to {MAX_SEEDS} (each seed trains every row)")
        return list(range(n))

    if isinstance(text, int):
        values = count(text)
    elif isinstance(text, str):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if len(parts) > MAX_SEEDS or any(len(p) > 12 for p in parts):
            raise ConfigError(f"--seeds: at most {MAX_SEEDS} seeds, each below 2**32")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = []
        if not numbers:
            raise ConfigError(f"--seeds: {text!r} is neither a count (5) nor a list of seeds (0,1,2 or 7,)")
        values = numbers if "," in text else count(numbers[0])
    else:
        values = [int(v) for v in text]
    if not values or len(set(values)) != len(values) or min(values) < 0 or max(values) >= 2 ** 32 \
            or len(values) > MAX_SEEDS:
        raise ConfigError(f"--seeds: need 1 to {MAX_SEEDS} distinct seeds in [0, 2**32), got {str(text)[:80]!r}")
    return values


def _check_common(options: Mapping[str, Any]) -> dict[str, str]:
    common = {k.replace("-", "_"): str(v) for k, v in options.items()}
    for key in common:
        if key in FORBIDDEN_COMMON:
            raise ConfigError(f"--{key} is set by `nasiam compare` for every run (seed, run name, output, heads); "
                              "remove it")
    load_config(PretrainConfig, None, common)   # every value checked now, before any training
    return common


def _option_dict(tokens: Sequence[str]) -> dict[str, str]:
    """`--key=value` / `--flag` tokens as {key: raw value}; names and values are checked by
    `load_config`, which suggests the right spelling of an unknown one."""
    options = {}
    for token in tokens:
        key, sep, value = token[2:].partition("=")
        options[key.replace("-", "_")] = value if sep else "true"
    return options


def _pretrain_options(specs: list[HeadSpec], common: dict[str, str]) -> dict[str, dict[str, str]]:
    """{label: the options a fixed row adds to its pretraining runs} (`default(--epochs=20)`),
    each checked now against `nasiam pretrain`'s configuration."""
    return {spec.label: _row_options(spec, spec.pretrain_options, PretrainConfig, common)
            for spec in specs if spec.pretrain_options}


def _search_options(specs: list[HeadSpec], common: dict[str, str]) -> dict[tuple[str, ...], dict[str, str]]:
    result = {}
    for spec in specs:
        if spec.kind != "search" or spec.search_key in result:
            continue
        if spec.argmax and spec.init:
            raise ConfigError(f"--heads: {spec.label!r}: one-stage (+init) continues with the heads the search "
                              "exported, its own selection; drop :argmax or +init")
        result[spec.search_key] = _row_options(spec, spec.search_options, SearchConfig, search_common(common))
    return result


def _row_options(spec: HeadSpec, tokens: Sequence[str], config_class, common: dict[str, str]) -> dict[str, str]:
    """A row's own options, checked now as its runs would load them with `common`; a refusal
    names the row, since the same option may be fine for the others (`d1=default(--batch_size=1)`)."""
    options = _option_dict(tokens)
    for key in options:
        if key in FORBIDDEN_COMMON:
            raise ConfigError(f"--heads: {spec.label!r}: --{key} is set by `nasiam compare`")
    try:
        load_config(config_class, None, {**common, **options})
    except ConfigError as error:
        raise ConfigError(f"--heads: {spec.label!r}: {error}") from None
    return options


@functools.lru_cache(maxsize=8)
def _feature_dim(backbone: str, cifar_stem: bool, channels: int) -> int:
    """The backbone's feature width (built once per comparison set-up, not once per use)."""
    from nasiam.backbones import create_backbone, feature_dim

    return feature_dim(create_backbone(backbone, cifar_stem=cifar_stem, in_chans=channels))


def _run_feature_dim(cfg) -> int:
    from nasiam.runner.build import data_info

    channels = data_info(cfg).channels
    try:
        return _feature_dim(cfg.backbone, cfg.cifar_stem, channels)
    except ValueError as e:   # an unknown --backbone: refused as its runs refuse it (exit 2), not a traceback
        raise ConfigError.from_error(e) from None


def _draw_space(common: dict[str, str], search_options: dict[tuple[str, ...], dict[str, str]]):
    """The searchable heads random genotypes are drawn from: the first search row's space
    (so the random baseline and the search share one space), else the default space."""
    from nasiam.frameworks import framework_class
    from nasiam.runner.build import framework_kwargs, searchable_heads

    options = next(iter(search_options.values()), {})
    cfg = load_config(SearchConfig, None, {**search_common(common), **options})
    dim = _run_feature_dim(cfg)
    return searchable_heads(cfg, framework_class(cfg.framework), dim, framework_kwargs(cfg))


def _fixed_genotypes(specs: list[HeadSpec], common: dict[str, str], heads_dir: Path) -> dict[Path, dict]:
    """The paper, DirectPred, linear-predictor, lightly and solo-learn rows' genotype files at the run's
    dims, {path: {slot: Genotype}} (written by `prepare`)."""
    from nasiam.frameworks import framework_class
    from nasiam.presets import LIBRARY_HEADS, get_preset
    from nasiam.runner.build import framework_kwargs

    cfg = load_config(PretrainConfig, None, common)
    method = framework_class(cfg.framework)
    framework = method.name
    kinds = {s.kind for s in specs}
    files: dict[Path, dict] = {}
    if kinds & {"paper", *PREDICTOR_KINDS, *LIBRARY_KINDS}:
        slots = method.head_slots(_run_feature_dim(cfg),
                                  **{k: v for k, v in framework_kwargs(cfg).items() if k in method.dim_names()})
        if "paper" in kinds:
            try:
                files[heads_dir / "paper" / "genotype.json"] = method.published_heads(slots)
            except ValueError as e:
                raise ConfigError(f"--heads: 'paper': {e}") from None
        for kind in (k for k in PREDICTOR_KINDS if k in kinds):
            if "predictor" not in slots:
                raise ConfigError(f"--heads: {kind!r} replaces a predictor; {framework} has none")
            files[heads_dir / kind / "genotype.json"] = {
                "predictor": get_preset(PREDICTOR_KINDS[kind], out_dim=slots["predictor"].out_dim)}
        for library in (k for k in LIBRARY_KINDS if k in kinds):
            projector, predictor = slots["projector"], slots.get("predictor")
            extra = {"backbone": cfg.backbone} if library == "solo-learn" else {}   # its MoCo v3 heads depend on it
            try:
                genotypes = LIBRARY_HEADS[library](
                    framework, projector.in_dim, projector.preset_kwargs["hidden_dim"], projector.out_dim,
                    predictor.preset_kwargs["hidden_dim"] if predictor else None, **extra)
            except ValueError as e:
                raise ConfigError(f"--heads: {library!r}: {e}") from None
            files[heads_dir / library / "genotype.json"] = genotypes
    return files


def _check_path_heads(specs: list[HeadSpec], path_heads: dict[str, HeadFile],
                      common: dict[str, str], row_options: dict[str, dict[str, str]]) -> None:
    """Each --heads PATH row's heads checked now against its runs' framework, slots and widths:
    a head that cannot fit would otherwise fail only at its row's turn, after other rows trained."""
    from nasiam.frameworks import framework_class
    from nasiam.frameworks.base import genotype_misfit
    from nasiam.runner.build import framework_kwargs

    for spec in (s for s in specs if s.kind == "path"):
        cfg = load_config(PretrainConfig, None, {**common, **row_options.get(spec.label, {})})
        method = framework_class(cfg.framework)
        found, genotypes = path_heads[spec.label].framework, path_heads[spec.label].genotypes
        if found is not None and found != method.name:
            raise ConfigError(f"--heads: {spec.path} was searched for {found}, not {method.name}")
        slots = method.head_slots(_run_feature_dim(cfg),
                                  **{k: v for k, v in framework_kwargs(cfg).items() if k in method.dim_names()})
        unknown = sorted(set(genotypes) - set(slots))
        if unknown:
            raise ConfigError(f"--heads {spec.label}: {shown_path(spec.path)} holds a {', '.join(unknown)} head; {method.name} has "
                              f"{', '.join(sorted(slots))}")
        for slot, genotype in genotypes.items():
            misfit = genotype_misfit(genotype, slots[slot])
            if misfit:
                raise ConfigError(f"--heads {spec.label}: {shown_path(spec.path)}: its {slot}: {misfit} under this comparison's "
                                  "options. Pass the widths the head was searched at (--proj_output_dim, "
                                  "--pred_hidden_dim, ...), or export the search at these: `nasiam export RUN --out "
                                  "NEW_FOLDER --proj_output_dim N`")


def _check_runs(plan: Plan, runs: Path, summaries: Mapping[str, str]) -> None:
    """Every finished run folder must be its job's run (`check_run`), its summary.json the one
    compare.json recorded when it finished (`summaries`); the folders that are not are named,
    and nothing is trained or reported."""
    problems = []
    for job in plan.jobs:
        try:
            problem = check_run(job, runs, summaries.get(job.name))
        except ConfigError as e:
            problem = str(e)
        if problem:
            problems.append(problem)
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        # each problem ends with its own fix: advice common to all would not fit them all (a
        # run copied in from another seed cannot be matched by passing its options)
        raise ConfigError(f"{len(problems)} run folder(s) in {runs} are not the runs this comparison plans there, so "
                          f"they are neither reported nor trained over (nothing was written); each with its fix:\n"
                          f"  {shown}")


def prepare(heads: str | list[str], seeds: str | int | Sequence[int], out: str | Path,
            options: Mapping[str, Any] | None = None) -> tuple[Plan, Path]:
    """Check everything, including the run folders already there, then write the genotype files
    and compare.json; no training. `ConfigError` on any bad input, before writing anything."""
    plan, out, _ = _prepare(heads, seeds, out, options)
    return plan, out


def _prepare(heads, seeds, out, options) -> tuple[Plan, Path, dict[str, Any]]:
    """`prepare`, also returning the compare.json it wrote: the record each finished run is added to."""
    check_output_path("--out", out)
    out = Path(out)
    specs = parse_heads(heads)
    seed_list = parse_seeds(seeds)
    common = _check_common(options or {})
    search_options = _search_options(specs, common)
    manifest = read_manifest(out, common)
    from nasiam.runner.build import canonical_framework
    from nasiam.runner.environment import code_version

    framework = canonical_framework(load_config(PretrainConfig, None, common))
    fixed_files = _fixed_genotypes(specs, common, out / "heads")
    row_options = _pretrain_options(specs, common)
    # --heads PATH files, validated now: a bad file stops before training
    path_heads = {spec.label: read_head_file(spec.path) for spec in specs if spec.kind == "path"}
    # before the widths: a file edited since the comparison began is named so
    pins = pin_heads(specs, manifest, path_heads)
    _check_path_heads(specs, path_heads, common, row_options)
    plan = build_plan(specs, seed_list, common, search_options, out, lambda: _draw_space(common, search_options),
                      {label: pin["sha256"] for label, pin in pins.items()}, row_options)
    summaries = manifest.get(SUMMARIES, {})
    _check_runs(plan, out / "runs", summaries)
    for path, genotypes in {**fixed_files, **plan.genotype_files}.items():
        write_search_genotypes(path, framework, genotypes)
    manifest = {"format": MANIFEST_FORMAT, "schema_version": MANIFEST_SCHEMA_VERSION, "framework": framework,
                "common": common, "random_genotypes": plan.random_genotypes, "pinned_heads": pins,
                # the code the comparison began with; each run's summary.json records its own
                "code": manifest.get("code", code_version()), SUMMARIES: summaries}
    write_manifest(out, manifest)
    return plan, out, manifest


def compare(heads: str | list[str], seeds: str | int | Sequence[int] = 5, out: str | Path = "runs/compare",
            options: Mapping[str, Any] | None = None, jobs: int = 1, threads: int | None = None,
            say: Callable[[str], None] = print, report_only: bool = False,
            reference: str | None = None) -> dict[str, Any]:
    """Train every head on every seed under one protocol and write the report.

    `reference` is the row every other one is paired with (e.g. "directpred" to ask what a
    search adds to DirectPred); by default `default`, where the heads include it.

    `report_only` trains nothing: the tables of the runs finished so far, e.g. while another
    process runs the comparison. They are a status: a protocol declared in advance is read
    once, when all its seeds are in."""
    check_output_path("--out", out)   # printed in every status line: refused before the lock creates it
    # a parent nothing can be made in: named now, not as a failed write (#33 probe 16, M11)
    nearest_folder("--out", out)
    cores = os.cpu_count() or 1
    if not 1 <= jobs <= cores:
        raise ConfigError(f"--jobs must be between 1 and this machine's {cores} cores (one process per run), got {jobs}")
    if threads is not None and not 1 <= threads <= 4 * cores:
        raise ConfigError(f"--threads must be between 1 and {4 * cores} (4 x this machine's cores), got {threads}")
    labels = [spec.label for spec in parse_heads(heads)]   # checked before anything is written
    if reference is not None and reference not in labels:
        raise ConfigError(f"--reference: {reference!r} is not one of the compared heads ({', '.join(labels)}); "
                          "pass one of these labels (name a head LABEL=SPEC in --heads to give it one)")
    if report_only:   # a status: no lock, so that it can read a comparison another process runs
        return _compare(heads, seeds, Path(out), options, jobs, threads, say, report_only, reference)
    with _comparison_lock(Path(out)):
        # what a killed `nasiam compare` left mid-write (compare.json, the tables, the fixed
        # heads' genotypes); runs/ is the runs' own, each cleans it when it starts
        stale = [*remove_temporary_files(out, recursive=False),
                 *(f"heads/{name}" for name in remove_temporary_files(Path(out) / "heads"))]
        if stale:
            say(f"Removed {len(stale)} temporary file(s) of a write that was killed before it finished "
                f"({', '.join(stale[:3])}); the files themselves are whole")
        return _compare(heads, seeds, Path(out), options, jobs, threads, say, report_only, reference)


@contextlib.contextmanager
def _comparison_lock(out: Path):
    """One `nasiam compare` per --out: a second one would start the same runs (refused one by
    one by their run folders' locks, as if their options were wrong) and append to their logs."""
    from nasiam.runner.lock import RunDirLock, describe_holder, live_owner

    lock = RunDirLock(out, "compare")
    try:
        lock.acquire()
    except RunDirLockedError:
        if live_owner(out) is None:   # held by nobody: a link or another program's file, not a comparison running
            raise RunDirLockedError(f"{lock.path} is not a nasiam lock file (a symbolic link, or another program's "
                                    "file); nasiam leaves it as it is. Move it away, or choose another --out") from None
        raise RunDirLockedError(f"{out} is in use by {describe_holder(lock.path)}: one `nasiam compare` "
                                "runs a comparison folder at a time. Wait for it to end (or stop it with SIGTERM, "
                                "which keeps its runs' checkpoints), or read its tables meanwhile with "
                                "--report_only") from None
    try:
        yield
    finally:
        lock.release()


def _compare(heads, seeds, out: Path, options, jobs, threads, say, report_only, reference) -> dict[str, Any]:
    plan, out, manifest = _prepare(heads, seeds, out, options)
    runs = out / "runs"
    if report_only:
        done = [job.name for job in plan.jobs if run_finished(runs, job.name, weights=False)]
        execution = ExecutionReport(skipped=done)
        say(f"{len(done)} of {len(plan.jobs)} runs in {out}/ have finished; nothing is trained (--report_only)")
    else:
        say(f"{len(plan.jobs)} runs planned in {out}/ ({len(plan.rows)} heads x {len(parse_seeds(seeds))} seeds"
            f"{', plus searches' if plan.search_names else ''}); {jobs} at a time")
        execution = run_jobs(plan.jobs, runs, out / "logs", max_jobs=jobs, threads=threads, say=say,
                             on_finished=functools.partial(record_summary, out, manifest))
    # a run that failed in this call is not reported, even one that finished (not the planned run)
    result = write_report(plan, runs, out, reference, excluded={failure.name for failure in execution.failures})
    return {"report": execution, **result, "out": str(out), "planned": len(plan.jobs)}
