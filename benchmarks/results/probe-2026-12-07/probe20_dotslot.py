# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: a slot whose name starts with '.': written by write_searched_heads, then skipped by load_heads (Q16 fix)?"""
import tempfile
from pathlib import Path
from nasiam.rundir import load_heads, write_searched_heads
heads = load_heads(Path("runs/s0"))
for slot in [".projector", "_projector", "projector."]:
    d = Path(tempfile.mkdtemp(dir=".", prefix="dot."))
    try:
        write_searched_heads(d, "lightning", {slot: heads["projector"].genotype}, {slot: heads["projector"]})
        print(repr(slot), "written:", sorted(p.name for p in (d / "heads").iterdir()), "| read back:", sorted(load_heads(d)))
    except Exception as e:
        print(repr(slot), "->", type(e).__name__, str(e)[:200])
