# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/P1: imports after the lazy namespace: each integration alone, nasiam.cli, pickling/copying a
NASHead and its class, the lazy names from threads at once, a name imported under TYPE_CHECKING."""
import copy
import pickle
import subprocess
import sys

PY = sys.executable
def fresh(code):
    p = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=300)
    tail = (p.stdout + p.stderr).strip().splitlines()[-1:] if (p.stdout + p.stderr).strip() else []
    return p.returncode, " ".join(tail)[:200]
for code in ["import nasiam.cli; print('ok', nasiam.cli.main)",
             "import nasiam.integrations.lightning as L; print('ok', [n for n in dir(L) if not n.startswith('_')][:6])",
             "import nasiam.integrations.lightly as L; print('ok', L.replace_heads)",
             "import nasiam.integrations.solo_learn as S; print('ok', [n for n in dir(S) if not n.startswith('_')][:8])",
             "import nasiam.integrations as I; print('ok', I.swap_heads)",
             "import nasiam.presets as p; print('ok', p.list_presets()[:3])",
             "import nasiam; import nasiam.presets; print('ok', nasiam.presets, nasiam.NASHead)",
             "import nasiam; nasiam.space.register_activation",
             "import nasiam; import nasiam.space; print('ok', nasiam.space.register_activation)",
             "import nasiam; nasiam.head.DirectPredLinear",
             "import nasiam, pickle; print('ok', len(pickle.dumps(nasiam.NASHead)))",
             "from nasiam import NASHead, nosuch",
             "import nasiam; print(nasiam.__getattr__('Genotype'))",
             "import nasiam, sys; sys.modules['torch']=None; print(nasiam.__version__); nasiam.NASHead",
             "import nasiam.space.registry as r; print('ok', sorted(r.SPACES))",
             "import nasiam.frameworks as f; print('ok', sorted(f.FRAMEWORKS))",
             "import threading, nasiam; out=[]; ts=[threading.Thread(target=lambda: out.append(nasiam.NASHead)) for _ in range(8)]; [t.start() for t in ts]; [t.join() for t in ts]; print('ok', len(set(map(id,out))))",
             "import importlib, nasiam; importlib.reload(nasiam); print('ok', nasiam.Genotype)",
             "import nasiam; print('ok', nasiam.importlib, nasiam.annotations, nasiam.TYPE_CHECKING)",
             ]:
    rc, tail = fresh(code)
    print(f"rc={rc} {code[:90]!r}\n      -> {tail}", flush=True)
# in process: a NASHead pickled, deep-copied, and unpickled in a fresh interpreter
from nasiam.presets import create_head

h = create_head("simsiam_projector", in_dim=8)
blob = pickle.dumps(h)
print("pickle", len(blob), "deepcopy", type(copy.deepcopy(h)).__name__)
import os
import tempfile

f = os.path.join(tempfile.mkdtemp(dir="/tmp/h59probe.Eyqc"), "head.pkl"); open(f, "wb").write(blob)
rc, tail = fresh(f"import pickle, torch; h = pickle.load(open({f!r}, 'rb')); print('ok', type(h).__module__, h(torch.randn(4, 8)).shape)")
print("unpickle fresh", rc, tail)
