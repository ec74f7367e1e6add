"""`Genotype`: a head architecture as validated JSON.

A genotype is an explicit chain of layers (`LayerSpec`), each `op -> norm -> activation`,
plus optional records of where it came from: the space it was searched in and the
probability of every decision. The chain alone is enough to build a `NASHead`; the rest is
for people and for `SearchableHead.export(genotype)`.

Loading never executes anything: the file is parsed as JSON (size- and depth-limited), every
field is type-checked, names are looked up in the registries, and sizes are bounded before
anything is allocated. Errors name the offending field and say how to fix it.
"""
from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from nasiam._io import atomic_write_text
from nasiam.errors import shown, shown_path
from nasiam.space import registry

__all__ = ["GenotypeError", "LayerSpec", "Genotype", "LAYER_OPS", "MAX_WIDTH", "MAX_LAYERS", "MAX_PARAMETERS",
           "space_from_dict"]

SCHEMA_VERSION = 1
FORMAT = "nasiam.genotype"

# Layer transforms a head may use (see `LayerSpec`).
LAYER_OPS = ("linear", "avgpool_3x3", "maxpool_3x3", "directpred")
MAX_WIDTH = 1 << 16          # 65536 features: far above any published head
MAX_LAYERS = 64
MAX_PARAMETERS = 1 << 30     # ~4 GiB of float32: refuse before allocating anything absurd
MAX_FILE_BYTES = 1 << 20     # a genotype is a few KiB; anything bigger is not one
_MAX_META_DEPTH = 4


class GenotypeError(ValueError):
    """A genotype (or its JSON file) is invalid. The message names the field at fault."""


def check_genotype_file(path: Path) -> None:
    """`path` must be a regular file (or a link to one) before it is read: FileNotFoundError
    when nothing is there; a folder, a FIFO or a device (/dev/zero) is a `GenotypeError` saying
    what it is, since reading a FIFO blocks and a device may never end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no genotype file at {shown_path(path)}") from None
    except OSError as e:   # a loop of links, a name too long
        raise GenotypeError(f"{shown_path(path)}: cannot be read as a genotype file ({e.strerror})") from None
    if stat.S_ISDIR(mode):
        raise GenotypeError(f"{shown_path(path)} is a folder, not a genotype file (a saved head's folder is read by "
                            "NASHead.from_pretrained, a run's genotype.json by nasiam.rundir.read_genotypes)")
    if not stat.S_ISREG(mode):
        raise GenotypeError(f"{shown_path(path)} is not a regular file (a FIFO, socket or device): a genotype is a "
                            "JSON file; pass that file's path")


def schema_version_problem(version: Any, supported: int) -> str:
    """Why a file's schema_version is refused. Only a newer version (a larger integer) is
    fixed by upgrading nasiam; 0, -1, '1' or null are no version nasiam ever wrote."""
    if isinstance(version, int) and not isinstance(version, bool) and version > supported:
        return (f"this nasiam reads schema version {supported}, the file has {shown(version)}; upgrade nasiam to "
                "read newer files")
    return (f"{shown(version)} is not a valid schema version (nasiam writes the integer {supported}); the file was "
            "edited or not written by nasiam: restore it, or export the head again")


def _fail(where: str, problem: str) -> GenotypeError:
    return GenotypeError(f"{where}: {problem}")


def _check_int(value: Any, where: str, low: int, high: int) -> int:
    # bool is an int subclass; `true` is never a width.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(where, f"expected an integer, got {type(value).__name__} {shown(value)}")
    if not low <= value <= high:
        raise _fail(where, f"{shown(value)} is out of range [{low}, {high}]")
    return value


def _check_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {type(value).__name__}")
    if len(value) > 64:
        raise _fail(where, f"string of {len(value)} characters is too long to be a name")
    return value


def _check_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"expected true or false, got {type(value).__name__} {value!r}")
    return value


def _check_keys(d: Any, where: str, allowed: Sequence[str], required: Sequence[str] = ()) -> Mapping:
    if not isinstance(d, Mapping):
        raise _fail(where, f"expected an object, got {type(d).__name__}")
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    missing = [k for k in required if k not in d]
    if missing:
        raise _fail(where, f"missing field(s) {', '.join(missing)}")
    return d


def _check_json_value(value: Any, where: str, depth: int = 0) -> None:
    """Free-form metadata: JSON scalars and small containers only, bounded depth."""
    if depth > _MAX_META_DEPTH:
        raise _fail(where, f"nested deeper than {_MAX_META_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(where, "non-finite number")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json_value(v, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise _fail(where, "object keys must be strings")
            _check_json_value(v, f"{where}.{k}", depth + 1)
        return
    raise _fail(where, f"unsupported value of type {type(value).__name__}")


def _validate_layer_fields(op, width, norm, activation, bias, fixed, where: str) -> None:
    op = _check_str(op, f"{where}.op")
    if op not in LAYER_OPS:
        raise _fail(f"{where}.op", f"unknown op {op!r}; known: {', '.join(LAYER_OPS)}")
    _check_int(width, f"{where}.width", 1, MAX_WIDTH)
    for name, value, lookup in (("norm", norm, registry.get_norm), ("activation", activation, registry.get_activation)):
        _check_str(value, f"{where}.{name}")
        try:
            lookup(value)
        except KeyError as e:
            raise _fail(f"{where}.{name}", e.args[0]) from None
    _check_bool(bias, f"{where}.bias")
    _check_bool(fixed, f"{where}.fixed")
    if op != "linear" and bias:
        raise _fail(f"{where}.bias", f"op {op!r} has no bias")


def _default_bias(fields: Mapping[str, Any], where: str) -> bool:
    """The bias of a layer whose `fields` give none: none but a Linear's, and a Linear followed by
    BatchNorm has none, since BN subtracts the mean and would cancel it (the convention of the
    SimSiam, MoCo v3 and lightly heads). The fields are checked first: the default reads the
    norm, so a null or numeric norm is named, not an AttributeError."""
    _validate_layer_fields(**{**fields, "bias": False}, where=where)
    return fields["op"] == "linear" and not fields["norm"].startswith("batchnorm")


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a head: `op(width) -> norm -> activation`.

    `op` is "linear" (a `nn.Linear` to `width` features), a width-keeping 1-D pooling over the
    features from the NASiam paper's op set ("avgpool_3x3", "maxpool_3x3"), or "directpred",
    DirectPred's width-keeping predictor set from its input's statistics, not trained
    (`nasiam.space.directpred`). `fixed` marks layers set by the SSL framework's convention
    rather than by the search (e.g. SimSiam's output BatchNorm).
    """

    width: int
    norm: str = "none"
    activation: str = "identity"
    op: str = "linear"
    bias: bool | None = None
    fixed: bool = False

    def __post_init__(self):
        if self.bias is None:
            object.__setattr__(self, "bias", _default_bias(vars(self), "LayerSpec"))
        self.validate("LayerSpec")

    def validate(self, where: str) -> None:
        _validate_layer_fields(self.op, self.width, self.norm, self.activation, self.bias, self.fixed, where)

    def num_parameters(self, in_width: int) -> int:
        n = in_width * self.width + (self.width if self.bias else 0) if self.op == "linear" else 0
        probe = registry.create_norm(self.norm, 1)  # norm parameters scale with width
        return n + self.width * sum(p.numel() for p in probe.parameters())

    def num_state(self, in_width: int) -> int:
        """Values the layer stores besides its parameters and a norm's running statistics:
        DirectPred's predictor and its correlation estimate (two `width x width` matrices)."""
        return 2 * self.width * self.width if self.op == "directpred" else 0

    def to_dict(self) -> dict:
        d = {"op": self.op, "width": self.width, "norm": self.norm, "activation": self.activation,
             "bias": self.bias}
        if self.fixed:
            d["fixed"] = True
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "layer") -> "LayerSpec":
        _check_keys(d, where, ("op", "width", "norm", "activation", "bias", "fixed"), required=("width",))
        fields = {"op": "linear", "norm": "none", "activation": "identity", "fixed": False, **d}
        # validated here, so that errors name the position in the file, then constructed
        if fields.get("bias") is None:
            fields["bias"] = _default_bias(fields, where)
        _validate_layer_fields(**fields, where=where)
        return cls(**fields)

    def short(self) -> str:
        parts = [f"{self.op}{self.width}" if self.op == "linear" else self.op]
        if self.norm != "none":
            parts.append(self.norm)
        if self.activation != "identity":
            parts.append(self.activation)
        return "-".join(parts)


def _check_decisions(decisions: Any, where: str = "decisions") -> tuple:
    if not isinstance(decisions, (list, tuple)):
        raise _fail(where, f"expected a list, got {type(decisions).__name__}")
    if len(decisions) > MAX_LAYERS:
        raise _fail(where, f"{len(decisions)} entries exceed the maximum of {MAX_LAYERS} layers")
    for i, decision in enumerate(decisions):
        w = f"{where}[{i}]"
        if not isinstance(decision, Mapping) or len(decision) > 16:
            raise _fail(w, "expected an object of at most 16 choices")
        for name, ranked in decision.items():
            _check_str(name, f"{w} key")
            if not isinstance(ranked, (list, tuple)) or not 1 <= len(ranked) <= 64:
                raise _fail(f"{w}.{name}", "expected a list of 1 to 64 [option, probability] pairs")
            for j, pair in enumerate(ranked):
                pw = f"{w}.{name}[{j}]"
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise _fail(pw, "expected an [option, probability] pair")
                option, prob = pair
                if not isinstance(option, (str, int)):
                    raise _fail(pw, f"option must be a string, integer or boolean, got {type(option).__name__}")
                if isinstance(option, str):
                    _check_str(option, pw)
                if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0.0 <= prob <= 1.0:
                    raise _fail(pw, f"probability must be a number in [0, 1], got {prob!r}")
    return tuple(decisions)


def space_from_dict(d: Mapping) -> Any:
    """The `SearchSpace` a genotype's `space` record describes, from the registered spaces
    (`nasiam.space.registry.SPACES`); GenotypeError naming the field if there is none."""
    if not isinstance(d, Mapping) or not isinstance(d.get("name"), str):
        raise GenotypeError("space: expected an object with a 'name'")
    if d["name"] not in registry.SPACES:
        raise GenotypeError(f"space.name: unknown search space {d['name']!r}; known: {', '.join(registry.SPACES)}")
    return registry.SPACES[d["name"]].from_dict(d)


@dataclass(frozen=True)
class Genotype:
    """A head architecture: an ordered chain of `LayerSpec`s plus provenance.

    Attributes:
        layers: the layers, input to output.
        in_dim: input features, when the genotype is tied to one backbone (saved heads are);
            `None` for a portable genotype such as a preset.
        space: the search space the decisions were made in (as `SearchSpace.to_dict()`), or
            None for hand-written heads.
        decisions: per searchable layer, each choice's options ranked by probability, as
            `{choice: [[option, probability], ...]}`; the first option is the one taken.
        meta: free-form JSON metadata (framework, slot, epoch, ...).
    """

    layers: tuple[LayerSpec, ...]
    in_dim: int | None = None
    space: Mapping | None = None
    decisions: tuple | None = None
    meta: Mapping = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        if self.decisions is not None:
            object.__setattr__(self, "decisions", _check_decisions(self.decisions))
        self.validate()

    # -- validation -------------------------------------------------------------------
    def validate(self, in_dim: int | None = None) -> None:
        """Check the chain; with `in_dim` (or `self.in_dim`) also the dims and the size."""
        if not self.layers:
            raise _fail("layers", "a head needs at least one layer")
        if len(self.layers) > MAX_LAYERS:
            raise _fail("layers", f"{len(self.layers)} layers exceed the maximum of {MAX_LAYERS}")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, LayerSpec):
                raise _fail(f"layers[{i}]", f"expected a LayerSpec, got {type(layer).__name__}")
            layer.validate(f"layers[{i}]")
        if self.in_dim is not None:
            _check_int(self.in_dim, "in_dim", 1, MAX_WIDTH)
        if in_dim is not None:   # a caller's width (NASHead(g, in_dim)), checked as a file's is
            _check_int(in_dim, "in_dim", 1, MAX_WIDTH)
        if in_dim is not None and self.in_dim is not None and in_dim != self.in_dim:
            raise _fail("in_dim", f"this genotype was saved for {self.in_dim} input features, not {in_dim}")
        _check_json_value(dict(self.meta), "meta")
        if self.space is not None:
            _check_json_value(dict(self.space), "space")
        dim = in_dim if in_dim is not None else self.in_dim
        if dim is None:
            return
        width, total = dim, 0
        for i, layer in enumerate(self.layers):
            if layer.op != "linear" and layer.width != width:
                raise _fail(f"layers[{i}].width", f"{layer.op} keeps the width: expected {width}, got {layer.width}")
            # DirectPred's matrices are buffers, not parameters, but they take the memory all the same
            total += layer.num_parameters(width) + layer.num_state(width)
            width = layer.width
        if total > MAX_PARAMETERS:
            raise _fail("layers", f"{total:,} parameters exceed the limit of {MAX_PARAMETERS:,}; "
                                  "this is not a projector/predictor head")

    # -- derived ----------------------------------------------------------------------
    @property
    def out_dim(self) -> int:
        return self.layers[-1].width

    def num_parameters(self, in_dim: int | None = None) -> int:
        width = in_dim if in_dim is not None else self.in_dim
        if width is None:
            raise GenotypeError("in_dim: needed to count parameters")
        self.validate(width)
        total = 0
        for layer in self.layers:
            total += layer.num_parameters(width)
            width = layer.width
        return total

    def flops(self, in_dim: int | None = None) -> int:
        """Approximate forward FLOPs per sample: 2 per multiply-add of each Linear (plus its
        bias), and a few per element for norms (BatchNorm 2, LayerNorm 5), pooling (3) and
        activations (1)."""
        width = in_dim if in_dim is not None else self.in_dim
        if width is None:
            raise GenotypeError("in_dim: needed to count FLOPs")
        total = 0
        for layer in self.layers:
            if layer.op == "linear":
                total += 2 * width * layer.width + (layer.width if layer.bias else 0)
            elif layer.op == "directpred":
                total += 2 * width * layer.width
            else:
                total += 3 * layer.width
            total += {"none": 0, "layernorm": 5}.get(layer.norm, 2) * layer.width
            total += 0 if layer.activation == "identity" else layer.width
            width = layer.width
        return total

    def describe(self) -> str:
        """One line, e.g. 'linear2048-batchnorm-relu > linear2048-batchnorm_noaffine'."""
        return " > ".join(layer.short() for layer in self.layers)

    def with_in_dim(self, in_dim: int | None) -> "Genotype":
        return replace(self, in_dim=in_dim)

    def for_dims(self, in_dim: int | None = None, out_dim: int | None = None) -> "Genotype":
        """This architecture rebuilt for a model whose head slot takes `in_dim` and gives
        `out_dim` features (None keeps the genotype's own).

        The rule: the searched hidden layers keep their searched widths. The output width is
        carried by the last Linear (the framework's fixed output layer; for a head without one,
        such as the nasiam space's predictor cell, its last cell) and by the width-keeping
        layers after it; the input width by the first Linear, and by width-keeping layers
        before it. The widths it had are recorded in `meta["resized_from"]`.
        """
        linears = [i for i, layer in enumerate(self.layers) if layer.op == "linear"]
        old_out = self.out_dim
        out_dim = old_out if out_dim is None else _check_int(out_dim, "out_dim", 1, MAX_WIDTH)
        in_dim = self.in_dim if in_dim is None else _check_int(in_dim, "in_dim", 1, MAX_WIDTH)
        if not linears and in_dim is not None and in_dim != out_dim:
            raise _fail("layers", f"no Linear layer to carry another width: a head of width-keeping layers only "
                                  f"(pooling, DirectPred) gives as many features as it takes, not {in_dim} -> {out_dim}")
        layers = list(self.layers)
        if out_dim != old_out:   # from the last Linear on; all of a head of width-keeping layers
            for i in range(linears[-1] if linears else 0, len(layers)):
                layers[i] = replace(layers[i], width=out_dim)
        if in_dim is not None:
            for i in range(linears[0] if linears else 0):  # pooling before the first Linear keeps the input width
                layers[i] = replace(layers[i], width=in_dim)
        was = {}  # what changed, for people reading the file later
        if self.in_dim is not None and in_dim != self.in_dim:
            was["in_dim"] = self.in_dim
        if out_dim != old_out:
            was["out_dim"] = old_out
        meta = {**self.meta, "resized_from": was} if was else self.meta
        return replace(self, layers=tuple(layers), in_dim=in_dim, meta=meta)

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d: dict[str, Any] = {"format": FORMAT, "schema_version": SCHEMA_VERSION,
                             "layers": [layer.to_dict() for layer in self.layers]}
        if self.in_dim is not None:
            d["in_dim"] = self.in_dim
        if self.space is not None:
            d["space"] = dict(self.space)
        if self.decisions is not None:
            d["decisions"] = [{k: [list(p) for p in v] for k, v in dec.items()} for dec in self.decisions]
        if self.meta:
            d["meta"] = dict(self.meta)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "Genotype":
        _check_keys(d, "genotype", ("format", "schema_version", "layers", "in_dim", "space", "decisions", "meta"),
                    required=("schema_version", "layers"))
        if d.get("format", FORMAT) != FORMAT:
            raise _fail("format", f"expected {FORMAT!r}, got {d['format']!r}: this is not a nasiam genotype")
        version = d["schema_version"]
        if isinstance(version, bool) or version != SCHEMA_VERSION:
            raise _fail("schema_version", schema_version_problem(version, SCHEMA_VERSION))
        layers = d["layers"]
        if not isinstance(layers, list):
            raise _fail("layers", f"expected a list, got {type(layers).__name__}")
        if len(layers) > MAX_LAYERS:
            raise _fail("layers", f"{len(layers)} layers exceed the maximum of {MAX_LAYERS}")
        specs = tuple(LayerSpec.from_dict(layer, f"layers[{i}]") for i, layer in enumerate(layers))
        meta = d.get("meta", {})
        if not isinstance(meta, Mapping):
            raise _fail("meta", "expected an object")
        space = d.get("space")
        if space is not None and not isinstance(space, Mapping):
            raise _fail("space", "expected an object")
        g = cls(layers=specs, in_dim=d.get("in_dim"), space=space, decisions=d.get("decisions"), meta=meta)
        if space is not None:
            space_from_dict(space).check_genotype(g)  # raises GenotypeError naming the field
        return g

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Genotype":
        if len(text) > MAX_FILE_BYTES:
            raise GenotypeError(f"genotype JSON of {len(text):,} bytes exceeds {MAX_FILE_BYTES:,}: not a genotype")

        def _reject_constant(name):
            raise GenotypeError(f"non-finite number {name} is not allowed in a genotype")

        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise GenotypeError("genotype JSON is nested too deeply to be a genotype") from None
        except json.JSONDecodeError as e:
            raise GenotypeError(f"not valid JSON: {e}") from None
        except UnicodeDecodeError:
            raise GenotypeError("not valid JSON: the file is not UTF-8 text") from None
        except ValueError as e:  # e.g. an integer of thousands of digits
            raise GenotypeError(f"not a valid genotype: {e}") from None
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON, atomically (an interrupted save leaves the previous file intact)."""
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Genotype":
        path = Path(path)
        check_genotype_file(path)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise GenotypeError(f"{path}: {size:,} bytes exceeds {MAX_FILE_BYTES:,}: not a genotype file")
        try:
            return cls.from_json(path.read_bytes())
        except GenotypeError as e:
            raise GenotypeError(f"{path}: {e}") from None
