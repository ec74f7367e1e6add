"""`Registry`: the one name -> entry table behind every extensible list in nasiam (search
spaces, norms, activations, presets, frameworks), with one rule for a name already taken:
`register` raises ValueError unless `overwrite=True`. Lookups of an unknown name raise
KeyError listing the known names (and how to add one)."""
from __future__ import annotations

import re
from typing import Iterator, Mapping, TypeVar

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Mapping[str, T]):
    """A read-only mapping name -> entry, extended only through `register`.

    Args:
        kind: what an entry is, for messages ("norm", "search space").
        hint: appended to the unknown-name error, e.g. how to register one.
        name_rule: (regex, description) a name must match; None accepts any string.
    """

    def __init__(self, kind: str, *, hint: str = "", name_rule: tuple[str, str] | None = None):
        self.kind, self.hint = kind, hint
        self._rule = (re.compile(name_rule[0]), name_rule[1]) if name_rule else None
        self._entries: dict[str, T] = {}

    def check(self, name: str, *, overwrite: bool = False) -> None:
        """Raise ValueError if `name` is not a valid new name (the duplicate rule)."""
        if not isinstance(name, str) or (self._rule and not self._rule[0].fullmatch(name)):
            rule = f": {self._rule[1]}" if self._rule else ": expected a string"
            raise ValueError(f"{self.kind} name {name!r} is invalid{rule}")
        if name in self._entries and not overwrite:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it")

    def register(self, name: str, entry: T, *, overwrite: bool = False) -> T:
        self.check(name, overwrite=overwrite)
        self._entries[name] = entry
        return entry

    def pop(self, name: str) -> T:
        """Remove `name` (tests, interactive sessions) and return its entry."""
        return self._entries.pop(name)

    def __getitem__(self, name: str) -> T:
        if name not in self:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._entries))}{self.hint}")
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
