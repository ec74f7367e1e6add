# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q: what `import nasiam` gives, old (a8e3f3d^) vs new: attributes, submodules, registries."""
import sys
import time

t = time.time()
import nasiam

print("import s", round(time.time() - t, 2), "torch loaded", "torch" in sys.modules)
for name in ["head", "space", "presets", "frameworks", "integrations", "errors", "cli", "_version", "NASHead", "Genotype", "__version__", "recalibrate_batchnorm", "nosuch"]:
    try:
        v = getattr(nasiam, name)
        print(f"nasiam.{name}: ok {type(v).__name__}")
    except Exception as e:
        print(f"nasiam.{name}: {type(e).__name__}: {e}")
print("dir", [n for n in dir(nasiam) if not n.startswith("__")])
print("hasattr head", hasattr(nasiam, "head"))
ns = {}
exec("from nasiam import *", ns)
print("star", sorted(k for k in ns if k != "__builtins__"))
print("submods loaded", sorted(m for m in sys.modules if m.startswith("nasiam")))
