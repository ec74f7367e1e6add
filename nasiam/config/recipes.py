"""Recipes and command-line options read into a run configuration (nasiam.config.schema).

Precedence: field defaults < `--config recipe.yaml` (several `--config` files: later ones
override earlier ones) < command-line `--key=value` (also `--key value` and `--key-with-dashes`,
the forms `wandb agent` passes). Recipes are read with `yaml.safe_load` and checked key by key:
a misspelt key is an error that suggests the right one, never silently ignored. A recipe's
`base: other.yaml` key (a path relative to the recipe) reads that recipe first and overrides it.
"""
from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

from nasiam._io import not_a_file
from nasiam.config.machine import check_packages, check_resources
from nasiam.config.schema import (
    ConfigError,
    PretrainConfig,
    RunConfig,
    SearchConfig,
    _suggest,
    field_types,
    parse_value,
)
from nasiam.config.validate import check_input_path, validate_config
from nasiam.errors import shown, shown_path

MAX_RECIPE_DEPTH = 8  # `base:` chains longer than this are refused
MAX_RECIPE_BYTES = 1 << 20
# the options only a search has, which a search recipe sets
_SEARCH_ONLY = frozenset(field_types(SearchConfig)) - frozenset(field_types(PretrainConfig))
_OPTION_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,47}$")   # `_common:`, an anchor's holder, named too


# More values than any recipe or sweep file holds (a few dozen): a few lines of YAML aliases that
# refer to each other name 10^9 of them, which printing or hashing one would build in memory.
MAX_YAML_VALUES = 100_000


def _yaml_loader():
    """yaml.SafeLoader (no code runs) refusing a key written twice in one mapping: the last one
    silently won (`epochs: 1` ... `epochs: 7` trained 7). Checked on the document as written,
    before PyYAML merges `<<: *anchor` entries into their mappings (which may then override them,
    as YAML says), and on the keys as read (`1` and `"1"` are two keys, `true` and `True` one)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_document(self, node):
            seen_nodes, stack = set(), [node]
            while stack:   # each node once: an anchor used many times is checked once
                current = stack.pop()
                if id(current) in seen_nodes:
                    continue
                seen_nodes.add(id(current))
                if isinstance(current, yaml.MappingNode):
                    keys = set()
                    for key_node, value_node in current.value:
                        stack += [key_node, value_node]
                        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                            continue
                        try:
                            key = self.construct_object(key_node)
                        except yaml.constructor.ConstructorError:   # `=` (YAML 1.1's value key): as safe_load
                            self.recursive_objects.pop(key_node, None)   # left marked by the failed attempt
                            continue
                        if key in keys:
                            raise yaml.constructor.ConstructorError(
                                None, None, f"the key {shown(key_node.value, 60)} is written twice in one mapping",
                                key_node.start_mark)
                        keys.add(key)
                elif isinstance(current, yaml.SequenceNode):
                    stack += current.value
            return super().construct_document(node)

    return UniqueKeyLoader


def _too_many_values(data: Any, limit: int, what: str) -> str | None:
    """Why `data` cannot be a `what` (a recipe, a sweep file): more than `limit` values, counting a
    value each time an alias refers to it, or an alias inside the value it names; stops at the limit."""
    stack, on_path, count = [(data, False)], set(), 0
    while stack:
        value, leaving = stack.pop()
        if leaving:
            on_path.discard(id(value))
            continue
        count += 1
        if count > limit:
            return (f"holds more than {limit:,} values (counting each alias, *name, as the values it stands for), "
                    f"more than a {what} holds")
        if isinstance(value, (dict, list)):
            if id(value) in on_path:
                return "holds an alias (*name) inside the value it names, which never ends: write the value out"
            on_path.add(id(value))
            stack.append((value, True))
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((child, False) for child in children)
    return None


def read_yaml_file(path: Path, what: str) -> Any:
    """A recipe's or sweep's YAML (safe: no code runs), refusing what cannot be one: over 1 MiB,
    not UTF-8, nested past the parser's recursion limit, a key written twice, more than
    MAX_YAML_VALUES values (aliases counted as what they stand for) or an alias inside itself.
    Errors give the position, never the file's text (the path may name any file, e.g. a `base:`
    that leads astray)."""
    import yaml

    size = path.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise ConfigError(f"{path}: {size} bytes is too large for a {what} (at most {MAX_RECIPE_BYTES})")
    try:
        data = yaml.load(path.read_bytes().decode("utf-8"), Loader=_yaml_loader())
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text, so not a {what} (a YAML file)") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a {what}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML ({getattr(e, 'problem', None) or 'a parse error'}{where})") from None
    problem = _too_many_values(data, MAX_YAML_VALUES, what)
    if problem:
        raise ConfigError(f"{path}: {problem}")
    return data


def _read_recipe(path: str | os.PathLike, cls, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = Path(path)
    where = f" (the base of {_chain[-1]})" if _chain else ""
    check_input_path("--config", path, f"a recipe (a YAML file){where}")   # before is_file(), which raises
    if not path.is_file():
        kind = not_a_file(path)   # a FIFO is named from its metadata: reading it would block
        raise ConfigError(f"--config: {f'{shown_path(path)} is {kind}, not a recipe' if kind else f'no recipe at {shown_path(path)}'}"
                          f"{where} (see the recipes/ folder)")
    resolved = path.resolve()
    if resolved in _chain:
        raise ConfigError(f"{path}: recipes inherit in a cycle via `base:` "
                          f"({' -> '.join(str(p) for p in _chain + (resolved,))})")
    if len(_chain) >= MAX_RECIPE_DEPTH:
        raise ConfigError(f"{path}: more than {MAX_RECIPE_DEPTH} levels of `base:` recipes")
    data = read_yaml_file(path, "recipe") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of option: value")
    known = field_types(cls)
    values = {}
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str) or not base.strip() or Path(base).is_absolute():
            raise ConfigError(f"{path}: `base:` names another recipe file by a path relative to this one (not an "
                              "absolute path)")
        values.update(_read_recipe(path.parent / base, cls, _chain + (resolved,)))
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            if not _OPTION_LIKE.match(str(key)):   # never echo what may be another file's content
                raise ConfigError(f"{path}: holds keys that are no option names; is it a nasiam recipe?")
            if name in _SEARCH_ONLY and cls is not SearchConfig:
                # a search recipe given to pretrain: "did you mean warmup_lr_epochs?" for the search's
                # warmup_epochs changed its meaning (#33 probe 16, M15)
                raise ConfigError(f"{path}: {key!r} is an option of `nasiam search`, not of this command (a "
                                  "search recipe: recipes/ holds search recipes); give the data and backbone as "
                                  "options (--dataset, --backbone, --cifar_stem, --batch_size, --epochs, --lr), "
                                  "or a recipe of this command's options only")
            raise ConfigError(f"{path}: unknown key {key!r}{_suggest(name, list(known))}")
        values[name] = parse_value(name, value, known[name])
    return values


# The CPU demo's scale: a 12,000-image subset, 512-wide heads, a 4,096-long MoCo queue. It
# belongs to the demo's datasets only; a run on any other dataset starts from the method's
# defaults for these (all of its images, the method's widths and queue) unless an option or a
# recipe sets them, so that `--dataset imagenet100` never trains silently on 12,000 images.
DEMO_DATASETS = ("fashion_mnist", "synthetic")
DEMO_SCALE = ("subset", "proj_hidden_dim", "proj_output_dim", "pred_hidden_dim", "queue_size", "widths")


def demo_scale_note(config: RunConfig) -> str | None:
    """The line a run prints first when the demo's scale applies to it, else None."""
    if config.dataset not in DEMO_DATASETS:
        return None
    defaults = {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                for f in fields(config) if f.name in DEMO_SCALE}
    kept = {name: value for name, value in defaults.items() if getattr(config, name) == value}
    if "subset" not in kept and not any(k.endswith("_dim") for k in kept):
        return None
    parts = []
    if "subset" in kept:
        parts.append(f"{kept['subset']:,} training images")
    dims = [f"--{k} {v}" for k, v in kept.items() if k.endswith("_dim")]
    if "widths" in kept and getattr(config, "space", None) == "mlp":   # the only space with a width choice
        dims.append(f"--widths {','.join(map(str, kept['widths']))}")
    if dims:
        parts.append("heads " + ", ".join(dims))
    return (f"CPU demo scale ({config.dataset}): {'; '.join(parts)}. Other datasets start from the method's "
            "defaults (all images, its widths); here `--subset none` and `--proj_hidden_dim none` etc. give them.")


def load_config(cls, config_path: str | os.PathLike | typing.Sequence[str | os.PathLike] | None = None,
                overrides: Mapping[str, Any] | None = None, check_environment: bool = True):
    """Build `cls` from its defaults, recipes (later ones override earlier ones), then overrides
    (strings or values); `check_environment` also checks the options against this machine."""
    known = field_types(cls)
    paths = [config_path] if isinstance(config_path, (str, os.PathLike)) else list(config_path or [])
    values = {}
    for path in paths:
        values.update(_read_recipe(path, cls))
    for key, raw in (overrides or {}).items():
        name = key.replace("-", "_")
        if name not in known:
            raise ConfigError(f"unknown option --{key}{_suggest(name, list(known))}")
        values[name] = parse_value(name, raw, known[name])
    if values.get("dataset", cls.dataset) not in DEMO_DATASETS:   # the method's scale, not the demo's
        for name in DEMO_SCALE:
            if name in known:   # pretrain has no --widths
                values.setdefault(name, None)
    config = cls(**values)
    validate_config(config)
    if check_environment:   # this machine: its packages, cores, GPUs, memory and cluster environment
        check_packages(config)
        check_resources(config)
    return config


def config_to_yaml(config) -> str:
    import yaml

    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
