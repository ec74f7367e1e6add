# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: names importable from nasiam.runner.sweep and nasiam.compare before the split (d285b46) and now;
the public functions' signatures. Run twice: PYTHONPATH at the old and at the new copy."""
import inspect, json, sys
import nasiam.runner.sweep as s, nasiam.compare as c
out = {}
for m in (s, c):
    for n in sorted(vars(m)):
        v = getattr(m, n)
        if n.startswith("__") or inspect.ismodule(v): continue
        try: sig = str(inspect.signature(v)) if callable(v) and not inspect.isclass(v) else type(v).__name__
        except (TypeError, ValueError): sig = "?"
        out[f"{m.__name__}.{n}"] = sig
json.dump(out, sys.stdout, indent=0, sort_keys=True)
