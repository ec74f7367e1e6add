"""probe 17 (h56): read_yaml_file / recipes after 951b1b6 (duplicate keys, MAX_YAML_VALUES, dates,
_SEARCH_ONLY), in process. Every shipped recipe through load_config(SearchConfig) and every sweep
file through the sweep reader; then legitimate YAML a user writes (anchors, merges, nested merges,
lists of merges, quoted keys, large grids), each written to a temp folder.
Usage: probe17_yaml.py RECIPES_DIR"""
import sys
import tempfile
import textwrap
from pathlib import Path

from nasiam.config import ConfigError, PretrainConfig, SearchConfig, load_config, read_yaml_file
from nasiam.runner import sweep as S

R = Path(sys.argv[1])
T = Path(tempfile.mkdtemp())


def try_(cid, fn, expect="ok"):
    try:
        got = fn()
        res = "ok"
        extra = f" -> {got!r}"[:160] if got is not None else ""
    except ConfigError as e:
        res, extra = "refused", f": {str(e)[:400]}"
    except Exception as e:  # noqa: BLE001
        res, extra = "CRASH", f": {type(e).__name__}: {str(e)[:300]}"
    flag = "" if res == expect else "  **UNEXPECTED**"
    print(f"{cid}: {res}{extra}{flag}")


print("== shipped recipes, load_config(SearchConfig) with check_environment=False")
for p in sorted(R.glob("*.yaml")) + sorted((R / "base").glob("*.yaml")):
    try_(f"RC {p.relative_to(R)}", lambda p=p: (load_config(SearchConfig, p, check_environment=False), None)[1])
print("== shipped sweep files, through the sweep's own reader")
for p in sorted((R / "sweeps").glob("*.yaml")):
    try_(f"SW {p.name}", lambda p=p: (S.read_sweep(p) if hasattr(S, "read_sweep") else read_yaml_file(p, "sweep file"), None)[1])


def w(name, text):
    p = T / name
    p.write_text(textwrap.dedent(text))
    return p


def rd(text, name="y.yaml"):
    return read_yaml_file(w(name, text), "sweep file")


def rc(text, cls=SearchConfig, name="r.yaml"):
    c = load_config(cls, w(name, text), check_environment=False)
    return {k: getattr(c, k) for k in ("epochs", "lr", "batch_size", "run_name") if hasattr(c, k)}


print("== legitimate YAML")
try_("Y1 anchor+alias", lambda: rd("a: &x 3\nb: *x\n"))
try_("Y2 merge then override", lambda: rd("base: &b {epochs: 1, lr: 0.1}\nrun:\n  <<: *b\n  epochs: 7\n"))
try_("Y3 list of merges", lambda: rd("a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n  x: 3\n"))
try_("Y4 list of merges overlapping", lambda: rd("a: &a {x: 1}\nb: &b {x: 2}\nc:\n  <<: [*a, *b]\n"))
try_("Y5 chained merge (anchor holder merges too), used after", lambda: rd("""\
    base: &base {x: 1}
    mid: &mid
      <<: *base
      x: 2
    top:
      <<: *mid
    """))
try_("Y6 nested merge: holder defined deeper than its user", lambda: rd("""\
    base: &base {x: 1}
    group:
      mid: &mid
        <<: *base
        x: 2
    top:
      <<: *mid
    """))
try_("Y7 sweep params sharing a merged anchor", lambda: rd("""\
    method: random
    metric: {name: knn_top1, goal: maximize}
    common: &c {distribution: log_uniform_values}
    parameters:
      arch_lr: &alr
        <<: *c
        min: 0.01
        max: 0.1
      lr:
        <<: *alr
        max: 0.2
    """))
try_("Y8 quoted vs plain key '1' and 1", lambda: rd('m:\n  "1": x\n  1: y\n'))
try_("Y9 key true vs True (same key after reading: YAML 1.1)", lambda: rd("m:\n  true: x\n  True: y\n"), "refused")
try_("Y10 key 'epochs' and \"epochs\" (the same key)", lambda: rd('epochs: 1\n"epochs": 7\n'), "refused")
try_("Y11 merge + a key written twice beside it", lambda: rd("b: &b {x: 1}\nc:\n  <<: *b\n  y: 1\n  y: 2\n"), "refused")
try_("Y12 key 'null' and '~'", lambda: rd("m:\n  null: 1\n  ~: 2\n"), "refused")
try_("Y13 two merge keys in one mapping", lambda: rd("a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: *a\n  <<: *b\n"))
grid = ", ".join(str(i) for i in range(1000))
try_("Y14 grid of 1000 values", lambda: len(rd(f"method: grid\nparameters:\n  seed:\n    values: [{grid}]\n")["parameters"]["seed"]["values"]))
grid = ", ".join(str(i / 10) for i in range(20000))
try_("Y15 grid of 20000 values (legit? a big grid)", lambda: len(rd(f"method: grid\nparameters:\n  lr:\n    values: [{grid}]\n")["parameters"]["lr"]["values"]))
try_("Y16 one anchored list of 1000 used by 60 parameters", lambda: len(rd(
    "g: &g [" + ", ".join(str(i) for i in range(1000)) + "]\nparameters:\n" +
    "".join(f"  p{i}: {{values: *g}}\n" for i in range(60)))["parameters"]))
print("== recipes with anchors/merges (search)")
try_("R1 recipe with a _common anchor holder", lambda: rc("_common: &c {epochs: 2}\nepochs: 3\n"), "refused")
try_("R2 recipe run_name: '2026-12-07' quoted", lambda: rc("run_name: '2026-12-07'\n"))
try_("R3 recipe run_name: 2026-12-07 (unquoted: refused, advice quotes)", lambda: rc("run_name: 2026-12-07\n"), "refused")
try_("R4 recipe run_name: 2026-12-07T10:00:00 (timestamp)", lambda: rc("run_name: 2026-12-07T10:00:00\n"), "refused")
try_("R5 recipe run_name: 20261207 (int)", lambda: rc("run_name: 20261207\n"))
try_("R6 recipe epochs: 1 and epochs: 1 again", lambda: rc("epochs: 1\nepochs: 1\n"), "refused")
try_("R7 recipe base: + same key overridden (legit)", lambda: (w("b.yaml", "epochs: 2\n"), rc("base: b.yaml\nepochs: 3\n"))[1])
print("== pretrain recipes")
try_("P1 pretrain recipe of pretrain options", lambda: rc("epochs: 1\nlr: 0.1\nbatch_size: 16\n", PretrainConfig))
try_("P2 pretrain given a search recipe (M15: refused by name)", lambda: rc("warmup_epochs: 1\n", PretrainConfig), "refused")
try_("P3 pretrain recipe with base: a search recipe", lambda: (w("sb.yaml", "epochs: 2\narch_lr: 0.01\n"), rc("base: sb.yaml\n", PretrainConfig))[1], "refused")
for p in sorted(R.glob("*.yaml")):
    try_(f"PR {p.name} given to pretrain (search recipe: refused, M15)", lambda p=p: (load_config(PretrainConfig, p, check_environment=False), None)[1], "refused")
