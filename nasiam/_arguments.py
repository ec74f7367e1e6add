"""Checks of the library API's arguments, one message for each kind of mistake: the argument's
name, what it got and what it takes, as a ValueError (the error the spaces and heads raise for
a bad argument: `except ValueError` catches every one).

Python's own errors named none of that: `MLPSpace(widths=5)` raised "'int' object is not
iterable", `norms=[["batchnorm"]]` "unhashable type: 'list'", `set_sampling("gumbel", tau="1")`
"'>' not supported between 'str' and 'int'" (the fifth probe of #33).
"""
from __future__ import annotations

import errno
import math
import numbers
import operator
import os
from typing import Any, Iterable, Mapping, Sequence

from nasiam.errors import shown

__all__ = ["as_bool", "as_integer", "as_real", "check_bool", "check_count", "check_items", "check_iterable", "check_mapping", "check_name",
           "check_positive", "check_sequence", "check_type", "path_problem"]


def _got(value: Any) -> str:
    kind = type(value)   # numpy.int64, not "int64" alone: its repr may read as a plain number
    return f"{shown(value)} (type {kind.__name__ if kind.__module__ == 'builtins' else kind.__module__ + '.' + kind.__name__})"


def as_integer(value: Any) -> int | None:
    """`value` as an int when it is an integral number: an int, a numpy integer, a one-value
    integer tensor (what `operator.index` takes, as range() and slices do); else None. A numpy
    or torch integer was refused as "must be an integer ..., got np.int64(16)", a message that
    contradicts itself (the eighth probe of #33). A bool, of any library, is no integer."""
    if isinstance(value, bool) or "bool" in str(getattr(value, "dtype", "")):
        return None
    try:
        return operator.index(value)
    except (TypeError, ValueError, RuntimeError):   # a float tensor raises TypeError; a tensor of two, RuntimeError
        return None


def as_real(value: Any) -> float | None:
    """`value` as a float when it is a real number: an int or a float, a numpy number (np.float32
    is no Python float), a one-value tensor or array (what `.item()` reads); else None. A float
    was taken only as a Python float: "tau must be a positive, finite number, got np.float32(0.5)"
    (the ninth probe of #33, F5), E7's float twin. An integer too large for a float is inf. A
    bool, of any library, is no number; nor is a complex one."""
    if isinstance(value, bool) or "bool" in str(getattr(value, "dtype", "")):
        return None
    if not isinstance(value, numbers.Real) and hasattr(value, "dtype") and hasattr(value, "item"):
        try:
            value = value.item()   # a tensor's or an array's one value, as a Python number
        except (ValueError, RuntimeError):   # more values than one (numpy, torch), a meta tensor
            return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:   # an int past a float's range: finite, but no float holds it
        return math.inf


def as_bool(value: Any) -> bool | None:
    """`value` as a bool when it is one: Python's, or numpy's (`np.False_`, what a comparison of
    arrays gives); else None. An integer or a string is none ("no" is a true value)."""
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool"):
        return bool(value)
    return None


def check_count(name: str, value: Any, none_means: str | None = None) -> int | None:
    """`value` a count of options (an integer >= 1), or None where `none_means` says what None is:
    `top_k=0` kept no option (an IndexError when the genotype read its first), `2.5` a TypeError
    from a slice. Returns it as an int (a numpy integer's, say)."""
    if value is None and none_means is not None:
        return None
    count = as_integer(value)
    if count is None or count < 1:
        raise ValueError(f"{name} must be an integer >= 1{f' or None ({none_means})' if none_means else ''}, "
                         f"got {_got(value)}")
    return count


def check_positive(name: str, value: Any) -> float:
    """`value` a positive, finite number (a temperature, a margin): a string failed in a
    comparison, a negative margin committed the opposite choice, NaN or inf made every
    probability NaN. Returns it as a float (a numpy float's, a one-value tensor's)."""
    number = as_real(value)
    if number is None or not 0 < number < math.inf:
        raise ValueError(f"{name} must be a positive, finite number, got {_got(value)}")
    return number


def check_items(name: str, values: Any, item: type, takes: str) -> tuple:
    """`values` a sequence (a list, a tuple, a range: ordered, as a space's choices are) whose
    items are each an `item` (a bool is no int), as a tuple; `takes` says what, e.g. "widths
    (integers)"."""
    if isinstance(values, (str, bytes)):   # tuple("relu") would be four one-letter names
        raise ValueError(f"{name}: expected a list of {takes}, got the string {shown(values)}; write ({values!r:.40},)")
    if not isinstance(values, Sequence):
        raise ValueError(f"{name}: expected a list of {takes}, got {_got(values)}")
    items = []
    for i, value in enumerate(values):
        if item is int and as_integer(value) is not None:   # a numpy integer too, as an int
            value = as_integer(value)
        if isinstance(value, bool) or not isinstance(value, item):
            raise ValueError(f"{name}: expected a list of {takes}, got {_got(value)} at position {i}")
        items.append(value)
    return tuple(items)


def check_mapping(name: str, value: Any, takes: str) -> Mapping:
    """`value` a mapping (a dict); `takes` says of what, e.g. "{choice: option}"."""
    return check_type(name, value, Mapping, f"a mapping {takes}")


def check_sequence(name: str, value: Any, takes: str) -> Sequence:
    """`value` a sequence, not a string (of anything: each item is checked by its caller)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list of {takes}, got {_got(value)}")
    return value


def check_bool(name: str, value: Any, none_means: str | None = None) -> bool | None:
    """`value` True or False (or None where `none_means` says what None is): `output_layer="no"`
    is a non-empty string, which Python reads as true (the seventh probe of #33). Returns it as
    a Python bool (numpy's `np.False_` is taken: "got np.False_ (type bool)" contradicted itself)."""
    if value is None and none_means is not None:
        return None
    flag = as_bool(value)
    if flag is None:
        raise ValueError(f"{name} must be True or False{f' or None ({none_means})' if none_means else ''}, "
                         f"got {_got(value)}")
    return flag


def check_name(name: str, value: Any, takes: str) -> str:
    """`value` a string naming one of `takes` (e.g. "norms (see nasiam.space.list_norms)"):
    None reached `str.startswith` as an AttributeError naming nothing."""
    return check_type(name, value, str, f"the name of one of the {takes}")


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


def path_problem(path: Any) -> str | None:
    """Why the file system cannot look `path` up at all, in words ("it holds a NUL character", "it
    is longer than the file system allows ..."), or None: a path that is merely not there is the
    caller's to judge. Python raised ValueError "embedded null byte" or a raw OSError (Errno 36)
    echoing the whole path, naming no argument; the CLI's options (config.check_input_path) and
    the library's (NASHead.from_pretrained) say it with the argument's name."""
    if "\x00" in os.fsdecode(os.fspath(path)):
        return "it holds a NUL character, which no path can hold"
    try:
        os.stat(os.fspath(path))
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return "it is longer than the file system allows (a name at most 255 bytes, the path 4096)"
        if e.errno == errno.ELOOP:
            return "it goes round a loop of symbolic links"
    return None   # (a permission, say: said where the file is read)
