"""A file that a writer replaces between two reads, made deterministic: inside
`replaced_on_every_open(path, versions)`, each open of `path` first swaps in the next of
`versions` (an audit hook sees every `open` before it happens). A reader that opens a file
once sees one version; one that opens it twice (to parse it, then to hash it) sees two."""
from __future__ import annotations

import contextlib
import os
import sys

_watched: dict[str, dict] = {}   # path -> {"versions": [...], "opens": n, "busy": bool}
_installed = False


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _watched:
        return
    try:
        key = os.fsdecode(os.fspath(args[0]))
    except TypeError:   # os.open of a file descriptor
        return
    state = _watched.get(key)
    if state is None or state["busy"]:
        return
    state["busy"] = True   # the write below opens a file too (another path, but be sure)
    try:
        version = state["versions"][state["opens"] % len(state["versions"])]
        with open(key + ".next", "wb") as f:
            f.write(version)
        os.replace(key + ".next", key)
        state["opens"] += 1
    finally:
        state["busy"] = False


@contextlib.contextmanager
def replaced_on_every_open(path: str | os.PathLike, versions: list[bytes]):
    """Yields the state; `state["opens"]` counts the opens of `path` (an absolute path) so far."""
    global _installed
    if not _installed:   # an audit hook cannot be removed: one, inert while nothing is watched
        sys.addaudithook(_hook)
        _installed = True
    key = os.fspath(path)
    state = _watched[key] = {"versions": list(versions), "opens": 0, "busy": False}
    try:
        yield state
    finally:
        del _watched[key]
