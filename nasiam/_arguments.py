"""Checks of the library API's arguments, one message for each kind of mistake: the argument's
name, what it got and what it takes, as a ValueError (the error the spaces and heads raise for
a bad argument: `except ValueError` catches every one).

Python's own errors named none of that: `MLPSpace(widths=5)` raised "'int' object is not
iterable", `norms=[["batchnorm"]]` "unhashable type: 'list'", `set_sampling("gumbel", tau="1")`
"'>' not supported between 'str' and 'int'" (the fifth probe of #33).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from nasiam.errors import shown

__all__ = ["check_bool", "check_count", "check_items", "check_iterable", "check_mapping", "check_name",
           "check_positive", "check_sequence", "check_type"]


def _got(value: Any) -> str:
    return f"{shown(value)} (type {type(value).__name__})"


def check_count(name: str, value: Any, none_means: str | None = None) -> None:
    """`value` a count of options (an integer >= 1), or None where `none_means` says what None is:
    `top_k=0` kept no option (an IndexError when the genotype read its first), `2.5` a TypeError
    from a slice."""
    if value is None and none_means is not None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1{f' or None ({none_means})' if none_means else ''}, "
                         f"got {shown(value)}")


def check_positive(name: str, value: Any) -> float:
    """`value` a positive, finite number (a temperature, a margin): a string failed in a
    comparison, a negative margin committed the opposite choice, NaN or inf made every
    probability NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive, finite number, got {_got(value)}")
    return float(value)


def check_items(name: str, values: Any, item: type, takes: str) -> tuple:
    """`values` a sequence (a list, a tuple, a range: ordered, as a space's choices are) whose
    items are each an `item` (a bool is no int), as a tuple; `takes` says what, e.g. "widths
    (integers)"."""
    if isinstance(values, (str, bytes)):   # tuple("relu") would be four one-letter names
        raise ValueError(f"{name}: expected a list of {takes}, got the string {shown(values)}; write ({values!r:.40},)")
    if not isinstance(values, Sequence):
        raise ValueError(f"{name}: expected a list of {takes}, got {_got(values)}")
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, item):
            raise ValueError(f"{name}: expected a list of {takes}, got {_got(value)} at position {i}")
    return tuple(values)


def check_mapping(name: str, value: Any, takes: str) -> Mapping:
    """`value` a mapping (a dict); `takes` says of what, e.g. "{choice: option}"."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping {takes}, got {_got(value)}")
    return value


def check_sequence(name: str, value: Any, takes: str) -> Sequence:
    """`value` a sequence, not a string (of anything: each item is checked by its caller)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list of {takes}, got {_got(value)}")
    return value


def check_bool(name: str, value: Any, none_means: str | None = None) -> None:
    """`value` True or False (or None where `none_means` says what None is): `output_layer="no"`
    is a non-empty string, which Python reads as true (the seventh probe of #33)."""
    if value is None and none_means is not None:
        return
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False{f' or None ({none_means})' if none_means else ''}, "
                         f"got {_got(value)}")


def check_name(name: str, value: Any, takes: str) -> str:
    """`value` a string naming one of `takes` (e.g. "norms (see nasiam.space.list_norms)"):
    None reached `str.startswith` as an AttributeError naming nothing."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be the name of one of the {takes}, got {_got(value)}")
    return value


def check_iterable(name: str, value: Any, takes: str) -> Iterable:
    """`value` something to iterate over (a list, a generator, a DataLoader), not a string:
    None failed later as "'NoneType' object is not iterable", naming no argument."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be an iterable of {takes}, got {_got(value)}")
    return value


def check_type(name: str, value: Any, kinds: type | tuple[type, ...], takes: str) -> Any:
    """`value` an instance of `kinds`; `takes` says what in words, e.g. "a head (an nn.Module)"."""
    if not isinstance(value, kinds):
        raise ValueError(f"{name} must be {takes}, got {_got(value)}")
    return value
