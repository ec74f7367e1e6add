"""Head specifications of `nasiam compare --heads ...`: what each row of a bake-off trains.

    default              the framework's standard heads
    paper                NASiam's published SimSiam genotype (Heuillet et al. 2023), at the run's dims
    directpred           standard projector, DirectPred's closed-form linear predictor (Tian et al. 2021)
    linpred              standard projector, a trained linear predictor (DirectPred's weaker baseline)
    lightly              lightly's default heads at the run's dims and lightly's depths (none for MoCo v3)
    solo-learn           solo-learn's heads at the run's dims and its depths (MoCo v3's by --backbone)
    random:N             a panel of N distinct heads, drawn uniformly over the search space's canonical
                         architectures (a skipped layer's other choices collapsed), trained on every seed
    random:N/seed        N distinct fresh heads per seed, each trained on its own seed only
    default(OPTS)        a fixed head (default, paper, directpred, ...) trained with other pretraining
                         options, e.g. default(--epochs=20): the default head given a search's compute
                         ("search, or train longer?")
    search               `nasiam search` on each seed, the head it exported trained from scratch
    search(OPTS)         the same with extra search options, e.g. search(--below_noise=prior --epochs=12)
    search...:argmax     the search's most probable genotype, whatever --below_noise=prior picked
    search...+init       one-stage: continue from the search's backbone and head weights (SSWP-NAS)
    PATH                 a search run directory or a genotype.json, the same head on every seed,
                         labelled by its folder's name (a name that breaks the label rule: LABEL=PATH)
    LABEL=SPEC           any of the above under another name in the tables (not another kind's name)

Specs are separated by commas (commas inside parentheses belong to the options). Everything is
checked here, before any training starts: a bad spec is a `ConfigError` (exit 2).
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from nasiam.config import ConfigError, check_input_path
from nasiam.errors import shown, shown_path

__all__ = ["HeadSpec", "parse_heads", "split_specs", "MAX_RANDOM_HEADS", "LIBRARY_KINDS"]

MAX_RANDOM_HEADS = 100
LIBRARY_KINDS = ("lightly", "solo-learn")   # other libraries' heads: nasiam.presets.LIBRARY_HEADS
# the default projector with another predictor: its preset in nasiam.presets
PREDICTOR_KINDS = {"directpred": "directpred_predictor", "linpred": "linear_predictor"}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+:-]{0,63}\Z")   # \Z: $ would let a final newline in
# a label names run folders (LABEL-s0): plain ASCII, so that no two look alike or escape runs/
LABEL_RULE = ("a label is 1 to 64 ASCII letters, digits and _ . + : -, starting with a letter or digit "
              "(LABEL=SPEC, e.g. mine=runs/search-X)")
_SEARCH = re.compile(r"^search(?:\((?P<opts>.*)\))?(?P<argmax>:argmax)?(?P<init>\+init)?$", re.S)
_RANDOM = re.compile(r"^random:(?P<n>\d+)(?P<per_seed>/seed)?$")
_FIXED_KINDS = ("default", *PREDICTOR_KINDS, "paper", *LIBRARY_KINDS)
_KIND_NAMES = (*_FIXED_KINDS, "random", "search")   # a row's label may be one only where the row is of that kind
_FIXED = re.compile(r"^(?P<kind>" + "|".join(map(re.escape, _FIXED_KINDS)) + r")\((?P<opts>.*)\)$", re.S)


@dataclass(frozen=True)
class HeadSpec:
    """One row of a comparison.

    kind: "default", "paper", "directpred", "linpred", "lightly", "solo-learn", "random", "search" or "path".
    """

    label: str
    kind: str
    path: str | None = None            # kind "path": run directory or genotype.json
    count: int = 0                     # kind "random": heads to draw
    per_seed: bool = False             # kind "random": fresh heads for every seed
    search_options: tuple[str, ...] = ()   # kind "search": extra `nasiam search` options
    pretrain_options: tuple[str, ...] = ()   # a fixed kind: extra `nasiam pretrain` options (default(--epochs=20))
    argmax: bool = False               # kind "search": the search's argmax genotype
    init: bool = False                 # kind "search": one-stage, from the search's weights

    @property
    def search_key(self) -> tuple[str, ...]:
        """Rows with the same key share one search per seed."""
        return self.search_options


def split_specs(text: str) -> list[str]:
    """Split on commas outside parentheses, each spec stripped of the whitespace around it."""
    return [part.strip() for part in _split_as_given(text)]


def _split_as_given(text: str) -> list[str]:
    """Split on commas outside parentheses, each spec as given, whitespace included (a path may end in it)."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"--heads: unbalanced ')' in {text!r}")
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise ConfigError(f"--heads: unbalanced '(' in {text!r}")
    parts.append("".join(current))
    if any(not p.strip() for p in parts):
        raise ConfigError(f"--heads: empty head spec in {text!r} (two commas in a row, or a trailing comma?)")
    return parts


def _options(spec: str, text: str, what: str) -> tuple[str, ...]:
    """The `--key=value` tokens inside a spec's parentheses (values checked later, by the config)."""
    try:
        options = tuple(shlex.split(text))
    except ValueError as e:
        raise ConfigError(f"--heads: cannot read the options of {spec!r} ({e})") from None
    for option in options:
        if not option.startswith("--"):
            raise ConfigError(f"--heads: {spec!r}: {what} options are --key=value, got {option!r}")
    return options


def _label_from_path(path: Path) -> str:
    """An unlabelled PATH row's label: its folder's name (a genotype.json's stem). It names run
    folders and report rows as an explicit label does, so it meets the same rule: a name with an
    escape sequence, non-ASCII twins (NFC and NFD) or 250 characters asks for LABEL=PATH (#33
    probe 10, G1)."""
    if path.is_dir() and path.name in ("", ".."):   # `--heads .`: the folder's own name, not ''
        path = path.resolve()
    name = path.name if path.is_dir() else path.stem
    if not _LABEL.match(name):
        what = "folder" if path.is_dir() else "file"
        raise ConfigError(f"--heads: the row {shown_path(path, 120)} has no label, and its {what} name {shown(name, 40)} "
                          f"is not a valid label ({LABEL_RULE.split(' (')[0]}); name the row: LABEL=PATH (e.g. mine=PATH)")
    return name


def _path_as_given(spec: str, given: str) -> str:
    """`spec`, stripped as every spec is (`default, paper`); or, where nothing has that name but a
    file or folder has the name as given, its whitespace kept (`lab/$'abc\n'`), that one: it was
    called missing though it was there (#33 probe 11, N1)."""
    if os.path.lexists(spec):
        return spec
    return next((name for name in (given.lstrip(), given) if os.path.lexists(name)), spec)


def _parse_one(given: str) -> HeadSpec:
    raw = given.strip()
    label, spec = None, raw
    head, sep, tail = given.partition("=")
    if sep and "(" not in head and _LABEL.match(head.strip()):
        label, spec, given = head.strip(), tail.strip(), tail
    if spec in _FIXED_KINDS:
        return HeadSpec(label or spec, spec)
    if m := _FIXED.match(spec):
        options = _options(spec, m["opts"], "pretraining")
        return HeadSpec(label or f"{m['kind']}({' '.join(options)})", m["kind"], pretrain_options=options)
    if m := _RANDOM.match(spec):
        n = int(m["n"])
        if not 1 <= n <= MAX_RANDOM_HEADS:
            raise ConfigError(f"--heads: {spec!r} draws {n} heads; use 1 to {MAX_RANDOM_HEADS}")
        return HeadSpec(label or "random", "random", count=n, per_seed=bool(m["per_seed"]))
    if spec.startswith("random"):
        raise ConfigError(f"--heads: {spec!r} is not a random spec; write random:N (N heads on every seed) or "
                          "random:N/seed (N fresh heads per seed)")
    if m := _SEARCH.match(spec):
        options = _options(spec, m["opts"] or "", "search")
        name = "search" + ("(" + " ".join(options) + ")" if options else "") + (":argmax" if m["argmax"] else "")
        name += "+init" if m["init"] else ""
        return HeadSpec(label or name, "search", search_options=options, argmax=bool(m["argmax"]),
                        init=bool(m["init"]))
    if spec.startswith("search"):
        raise ConfigError(f"--heads: {spec!r} is not a search spec; write search, search(--key=value ...), "
                          "search:argmax or search+init")
    if sep and "(" not in head and label is None and not {"/", os.sep} & set(head) and not os.path.lexists(raw):
        # `LABEL=SPEC` whose label breaks the rule, and no file of that name: the label is named,
        # before the whole is read as a path (a 250-character label was called a path too long:
        # #33 probe 8, E6)
        raise ConfigError(f"--heads: {shown(raw, 80)}: {shown(head.strip(), 40)} is not a valid label; {LABEL_RULE}")
    # not a head kind, so a path: one the file system refuses to look up is named as --heads'
    spec = _path_as_given(spec, given)
    check_input_path("--heads", spec, "a head (default, paper, search, random:N, ...) or a search run directory "
                                      "or genotype.json at a shorter path (LABEL=PATH names its row)")
    path = Path(spec)
    if path.is_dir() and (path / "genotype.json").is_file() or path.is_file():
        if label is None:
            label = _label_from_path(path)
        return HeadSpec(label, "path", path=str(path))
    if sep and "(" not in head and label is None:   # `a/b=default`: the label is what is wrong, not the head
        raise ConfigError(f"--heads: {raw!r}: {head.strip()!r} is not a valid label; {LABEL_RULE}")
    if os.path.lexists(path):   # a folder without genotype.json, a FIFO, a dangling link
        raise ConfigError(f"--heads: {spec!r} is neither a search run directory (a folder holding genotype.json) "
                          "nor a genotype.json file; pass the run's folder or its genotype.json")
    if os.sep in spec or "/" in spec:   # a path that is not there (moved, mistyped): not a head's name
        raise ConfigError(f"--heads: {spec!r} does not exist; pass a search run directory or a genotype.json")
    raise ConfigError(f"--heads: {spec!r} is neither a known head (default, paper, directpred, linpred, lightly, solo-learn, "
                      "each optionally with (OPTS), random:N, random:N/seed, search[(OPTS)][:argmax][+init]) nor a "
                      "search run directory or genotype.json")


def parse_heads(text: str | list[str]) -> list[HeadSpec]:
    """Parse `--heads` (a comma-separated string, or a list of specs) into rows with
    distinct labels, in order."""
    raws = _split_as_given(text) if isinstance(text, str) else [s for t in text for s in _split_as_given(t)]
    specs = [_parse_one(r) for r in raws]
    seen: set[str] = set()
    for s in specs:
        if s.label in _KIND_NAMES and s.label != s.kind:
            # the report takes its reference, "vs default", by the label (#33 probe 12, I8)
            row = f"the head at {shown_path(s.path, 120)}" if s.path else f"a {s.kind!r} head"
            raise ConfigError(f"--heads: the label {s.label!r} is the name of a head kind, but its row trains {row}; "
                              "choose another label: LABEL=SPEC (e.g. mine=SPEC)")
        if s.label in seen:
            raise ConfigError(f"--heads: two rows are called {s.label!r}; name one of them with LABEL=SPEC")
        seen.add(s.label)
    if not specs:
        raise ConfigError("--heads: no head to compare")
    return specs
