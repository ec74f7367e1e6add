"""From head specs to runs: which `nasiam search` and `nasiam pretrain` processes a
comparison needs, with which options, in which order.

Pairing: every run of seed s gets `--seed=s` and the same common options, so the rows of one
seed share the data subset, the backbone's initialisation and (the runner re-seeds the data
stream after building the model) the batch order and augmentations; only the head differs.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nasiam.compare.specs import LIBRARY_KINDS, PREDICTOR_KINDS, HeadSpec
from nasiam.config import ConfigError, PretrainConfig, SearchConfig, load_config
from nasiam.errors import shown_path
from nasiam.rundir import genotype_file_sha256

__all__ = ["Job", "Plan", "build_plan", "draw_panel", "FORBIDDEN_COMMON", "one_stage_epochs", "search_common",
           "changed_head"]

# options the comparison itself sets on every run
FORBIDDEN_COMMON = ("seed", "run_name", "out_dir", "resume", "head", "init", "config")


@dataclass
class Job:
    """One `nasiam` process. `row`/`head_id` say which table cell its summary fills (a
    search fills none). `settings`: what its config.yaml must hold for a finished run to count
    as this job (`run_folders.check_run`). `head` gives --head when the job starts: a search row's
    head is a file of its search; a PATH row's file is checked against its pinned hash then
    (`changed_head`), and its finished run's summary must record that hash (`check_run`)."""

    name: str
    command: str                                  # "search" or "pretrain"
    seed: int
    settings: dict[str, str]
    head: Callable[[], str] | None = None
    after: tuple[str, ...] = ()
    row: str | None = None
    head_id: str | None = None
    needs_weights: bool = False                   # continues from its search's weights (+init), not only its genotype
    head_sha256: str | None = None                # a --heads PATH row's pinned file: its runs' summaries must name it
    # what this run is given beyond the comparison's common options (its row's own options, its
    # --heads file, the head its search exported), or None: a run of the common options alone.
    # A refusal (exit 2) of a run with its own input is that row's, not every run's
    # (`executor.run_jobs`); runs with the same `own_input` would all meet it.
    own_input: str | None = None

    def options(self) -> list[str]:
        """The command line's options (resolves the head: its search must have finished)."""
        return _cli({**self.settings, **({"head": self.head()} if self.head else {})})


@dataclass
class Plan:
    jobs: list[Job]
    rows: list[HeadSpec]
    random_genotypes: dict[str, str] = field(default_factory=dict)   # head_id -> genotype.json written
    search_names: dict[tuple[str, ...], str] = field(default_factory=dict)
    # the random heads' genotype files, {path: {slot: Genotype}}: written by `prepare` once the
    # run folders already there are checked, so that a refused call changes no file
    genotype_files: dict[Path, dict] = field(default_factory=dict)


def slug(label: str) -> str:
    """A directory-safe, stable name for a row label."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.") or "row"
    if text != label:
        text = f"{text[:40]}-{hashlib.sha1(label.encode()).hexdigest()[:6]}"
    return text


def one_stage_epochs(pretrain: PretrainConfig, search: SearchConfig) -> int:
    """Epochs left to a one-stage run on the same budget: the search trained the weights on
    `epochs x (1 - arch_fraction)` of the images (bilevel) or on all of them (joint)."""
    share = 1.0 - search.arch_fraction if search.mode == "bilevel" else 1.0
    return max(1, pretrain.epochs - round(search.epochs * share))


def search_common(options: dict[str, str]) -> dict[str, str]:
    """The options a search shares with the pretraining runs: all but the pretraining budget
    (--epochs; a search's own is its default or search(--epochs=N)) and pretrain-only ones."""
    known = {f.name for f in dataclasses.fields(SearchConfig)} - {"epochs"}
    return {k: v for k, v in options.items() if k in known}


def _cli(options: dict[str, str]) -> list[str]:
    return [f"--{k}={v}" for k, v in options.items()]


def build_plan(specs: list[HeadSpec], seeds: list[int], common: dict[str, str],
               search_options: dict[tuple[str, ...], dict[str, str]], out: Path,
               draw_space: Callable[[], dict], pins: dict[str, str] | None = None,
               pretrain_options: dict[str, dict[str, str]] | None = None) -> Plan:
    """Jobs for every row and seed, searches first within a seed; writes nothing.

    `draw_space()` returns the searchable heads random genotypes are drawn from; `pins` maps a
    PATH row's label to the sha256 its file must still have when each of its runs starts. Two
    jobs that would share a run folder (`search1=default,search`) are a `ConfigError`.
    """
    runs = out / "runs"
    pretrain_cfg = load_config(PretrainConfig, None, common)
    shared = search_common(common)
    plan = Plan([], specs)
    for key in dict.fromkeys(s.search_key for s in specs if s.kind == "search"):
        plan.search_names[key] = f"search{len(plan.search_names) + 1}"
    heads_dir = out / "heads"
    fixed_heads: dict[str, Callable[[], str]] = {}   # label -> its --head
    head_sha256: dict[str, str] = {}                 # a --heads PATH row's label -> its file's pinned sha256
    for spec in specs:
        if spec.kind == "default":
            fixed_heads[spec.label] = functools.partial(str, "default")
        elif spec.kind in ("paper", *PREDICTOR_KINDS, *LIBRARY_KINDS):  # written by compare's _fixed_genotypes
            fixed_heads[spec.label] = functools.partial(str, heads_dir / spec.kind / "genotype.json")
        elif spec.kind == "path":
            head_sha256[spec.label] = (pins or {}).get(spec.label) or genotype_file_sha256(spec.path)
            fixed_heads[spec.label] = functools.partial(str, spec.path)

    # random heads: a panel of distinct canonical architectures, drawn once, recorded
    # (the same label gives the same draw, so re-running a comparison redraws the same heads)
    space_heads = None
    # each random row's own head ids: a name prefix cannot tell them apart (row `r`'s heads are
    # `r-1`..., row `r-x`'s `r-x-1`..., which also start with `r-`)
    panels: dict[str, list[str]] = {}
    for spec in specs:
        if spec.kind != "random":
            continue
        space_heads = space_heads or draw_space()
        for seed in (seeds if spec.per_seed else [None]):
            suffix = f"/seed{seed}" if seed is not None else ""
            panel = draw_panel(space_heads, spec.count, random.Random(f"nasiam-compare/{spec.label}/panel{suffix}"))
            for i, genotypes in enumerate(panel, start=1):
                head_id = f"{slug(spec.label)}-{i}" + (f"-s{seed}" if seed is not None else "")
                path = heads_dir / head_id / "genotype.json"
                plan.genotype_files[path] = {slot: dataclasses.replace(g, meta={**g.meta, "compare_head": head_id})
                                             for slot, g in genotypes.items()}
                plan.random_genotypes[head_id] = str(path)
                panels.setdefault(spec.label, []).append(head_id)

    for seed in seeds:
        seed_opts = {**common, "seed": str(seed), "out_dir": str(runs)}
        for key, name in plan.search_names.items():
            opts = {**search_common(seed_opts), **search_options[key], "run_name": f"{name}-s{seed}"}
            own = f"the options of {name} ({' '.join(_cli(search_options[key]))})" if search_options[key] else None
            plan.jobs.append(Job(f"{name}-s{seed}", "search", seed, opts, own_input=own))
        for spec in specs:
            if spec.label in fixed_heads:
                row_options = (pretrain_options or {}).get(spec.label, {})
                opts = {**seed_opts, **row_options}
                own = " and ".join([*([f"the options {' '.join(_cli(row_options))}"] if row_options else []),
                                    *([f"the head file {shown_path(spec.path)}"] if spec.kind == "path" else [])])
                plan.jobs.append(_pretrain(f"{slug(spec.label)}-s{seed}", seed, opts, fixed_heads[spec.label],
                                           spec.label, spec.label, head_sha256=head_sha256.get(spec.label),
                                           own_input=f"{own} of row {spec.label!r}" if own else None))
            elif spec.kind == "random":
                for head_id in panels[spec.label]:
                    path = plan.random_genotypes[head_id]
                    if spec.per_seed and not head_id.endswith(f"-s{seed}"):
                        continue
                    name = head_id if spec.per_seed else f"{head_id}-s{seed}"
                    plan.jobs.append(_pretrain(name, seed, seed_opts, functools.partial(str, path), spec.label,
                                               head_id))
            elif spec.kind == "search":
                search_dir = runs / f"{plan.search_names[spec.search_key]}-s{seed}"
                name = f"{slug(spec.label)}-s{seed}"
                if spec.init:
                    search_cfg = load_config(SearchConfig, None, {**shared, **search_options[spec.search_key]})
                    opts = {**seed_opts, "init": str(search_dir), "epochs": str(one_stage_epochs(pretrain_cfg, search_cfg))}
                    plan.jobs.append(_pretrain(name, seed, opts, None, spec.label, spec.label, after=(search_dir.name,),
                                               needs_weights=True, own_input=f"the weights {search_dir.name} exported"))
                else:
                    plan.jobs.append(_pretrain(name, seed, seed_opts, functools.partial(searched_head, search_dir,
                                                                                        spec.argmax),
                                               spec.label, spec.label, after=(search_dir.name,),
                                               own_input=f"the head {search_dir.name} exported"))
    _check_distinct_names(plan)
    return plan


def _check_distinct_names(plan: Plan) -> None:
    """Every job its own run folder: a label can meet a name made for another job (a search's
    `search1-s0`, a random head's `r-1-s0`), and two jobs in one folder would report one twice."""
    owner: dict[str, Job] = {}
    for job in plan.jobs:
        # case-folded: on a case-insensitive file system (macOS, Windows) `A-s0` and `a-s0` are one folder
        other = owner.setdefault(job.name.casefold(), job)
        if other is not job:
            def what(j: Job) -> str:
                return f"row {j.row!r}" if j.row else f"the search of {j.name.rsplit('-s', 1)[0]}"
            raise ConfigError(f"--heads: {what(other)} and {what(job)} would both train in runs/{job.name}; "
                              "give one of them another label (LABEL=SPEC)")


def changed_head(job: Job) -> str | None:
    """Why `job` must not start, or None: a --heads PATH row's file that no longer has the
    content the comparison pinned (or cannot be read). Its runs so far trained the pinned head;
    this one would train another under the same row, so it is refused, not the comparison: the
    other rows and seeds go on (`executor.run_jobs`)."""
    if job.head_sha256 is None or job.head is None:
        return None
    path = job.head()
    fix = ("restore the file and run the same command again to train the row's remaining runs, or compare the new "
           "head under another label or --out")
    try:
        now = genotype_file_sha256(path)
    except (OSError, ValueError) as e:   # gone, unreadable, or a FIFO now (GenotypeError)
        return f"--heads {job.row}: {shown_path(path)} cannot be read now ({getattr(e, 'strerror', None) or e}); {fix}"
    if now == job.head_sha256:
        return None
    return (f"--heads {job.row}: {shown_path(path)} changed since this comparison pinned it (sha256 {job.head_sha256[:12]} "
            f"recorded in compare.json, now {now[:12]}); its runs so far trained the pinned head: {fix}")


def searched_head(search_dir: Path, argmax: bool) -> str:
    """A search row's --head: the search's run directory (what it exported), or its argmax genotype."""
    argmax_file = search_dir / "genotype.argmax.json"
    return str(argmax_file if argmax and argmax_file.is_file() else search_dir)


def _draw(head, generator: random.Random):
    """A searchable head's uniform canonical draw; a head the search keeps fixed (`--predictor
    default|directpred`: a NASHead) is the same in every draw."""
    if hasattr(head, "random_canonical_genotype"):
        return head.random_canonical_genotype(generator)
    return head.genotype


def draw_panel(space_heads: dict, count: int, generator: random.Random) -> list[dict]:
    """`count` distinct architectures ({slot: Genotype}), each slot drawn uniformly over its
    head's canonical genotypes. Two draws that export the same layers (say, a different layer
    of a deeper head skipped) count as one: every member of the panel is a different head."""
    available = math.prod(head.canonical_count() if hasattr(head, "canonical_count") else 1
                          for head in space_heads.values())
    if count > available:
        raise ConfigError(f"--heads: random:{count} asks for {count} distinct heads, but the search space holds "
                          f"{available}; draw at most {available}")
    panel, seen = [], set()
    for _ in range(100 * count + 1000):
        if len(panel) == count:
            break
        genotypes = {slot: _draw(head, generator) for slot, head in space_heads.items()}
        key = tuple((slot, g.layers) for slot, g in genotypes.items())
        if key not in seen:
            seen.add(key)
            panel.append(genotypes)
    if len(panel) < count:
        raise ConfigError(f"--heads: found only {len(panel)} distinct heads for random:{count} in this search space; "
                          "draw fewer")
    return panel


def _pretrain(name: str, seed: int, options: dict[str, str], head: Callable[[], str] | None, row: str,
              head_id: str, after: tuple[str, ...] = (), needs_weights: bool = False,
              head_sha256: str | None = None, own_input: str | None = None) -> Job:
    return Job(name, "pretrain", seed, {**options, "run_name": name}, head, after, row, head_id, needs_weights,
               head_sha256, own_input)
