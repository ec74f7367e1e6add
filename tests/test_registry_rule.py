"""The one rule of every registry (spaces, norms, activations, presets, frameworks): a name
already taken raises ValueError unless `overwrite=True`; an unknown name is a KeyError listing
the known ones."""
import pytest
import torch.nn as nn

from nasiam._registry import Registry
from nasiam.frameworks import FRAMEWORKS, SimSiam, framework_class, register_framework
from nasiam.presets import _PRESETS, get_preset, register_preset
from nasiam.space import MLPSpace, create_space, register_activation, register_norm, register_space
from nasiam.space import registry as space_registry


def test_the_rule():
    table: Registry[int] = Registry("thing", hint=" (add one with register_thing)")
    assert table.register("a", 1) == 1
    with pytest.raises(ValueError, match="thing 'a' is already registered; pass overwrite=True"):
        table.register("a", 2)
    assert table["a"] == 1
    table.register("a", 2, overwrite=True)
    assert dict(table) == {"a": 2} and "a" in table and ["a"] not in table
    with pytest.raises(KeyError, match=r"unknown thing 'b'; known: a \(add one with register_thing\)"):
        table["b"]
    assert table.pop("a") == 2 and len(table) == 0


@pytest.mark.parametrize("register, table, name, entry", [
    (lambda e, **kw: register_space(e, **kw), space_registry.SPACES, "mlp", MLPSpace),
    (lambda e, **kw: register_norm("batchnorm", e, **kw), space_registry._NORMS, "batchnorm", nn.BatchNorm1d),
    (lambda e, **kw: register_activation("relu", e, **kw), space_registry._ACTIVATIONS, "relu", nn.ReLU),
    (lambda e, **kw: register_preset("simsiam_projector", **kw)(e), _PRESETS, "simsiam_projector", None),
    (lambda e, **kw: register_framework(e, **kw), FRAMEWORKS, "simsiam", SimSiam),
], ids=["spaces", "norms", "activations", "presets", "frameworks"])
def test_every_registry_follows_it(register, table, name, entry):
    before = table[name]
    entry = entry or before
    with pytest.raises(ValueError, match="already registered; pass overwrite=True"):
        register(entry)
    try:
        register(entry, overwrite=True)
    finally:
        table.pop(name)
        table.register(name, before)
    assert table[name] is before


def test_unknown_names_are_listed():
    for lookup, message in ((lambda: get_preset("x"), "unknown preset 'x'; known: .*simsiam_projector"),
                            (lambda: framework_class("byol"), "unknown framework 'byol'; known: .*simsiam.*moco")):
        with pytest.raises(KeyError, match=message):
            lookup()
    with pytest.raises(ValueError, match="unknown search space 'x'; known: mlp, nasiam"):   # a bad argument
        create_space("x")
