"""probe 18 (h57): 97eb452's YAML checks (N3, N4, N5) through read_yaml_file, in process: every
shipped recipe and sweep file, legitimate odd keys and merges, duplicates by value, deep chains,
the value-count and self-alias messages, the time a large file takes. Usage: probe18_yaml.py DIR"""
import glob
import sys
import time
from pathlib import Path

from nasiam.config import ConfigError, read_yaml_file

D = Path(sys.argv[1])
ROOT = Path(__import__("nasiam").__file__).parent.parent


def probe(pid, text, expect):
    p = D / f"{pid}.yaml"
    p.write_text(text)
    t = time.time()
    try:
        data = read_yaml_file(p, "sweep file")
        got, shown = "load", repr(data)[:110]
    except ConfigError as e:
        got, shown = "refused", str(e).replace(str(D) + "/", "")[:260]
    flag = "ok " if got == expect else "UNEXPECTED"
    print(f"{flag} {pid}: {got} ({time.time() - t:.2f}s) {shown}")


for f in sorted(glob.glob(str(ROOT / "recipes" / "**" / "*.yaml"), recursive=True)):
    try:
        read_yaml_file(Path(f), "recipe")
        print(f"ok  shipped {Path(f).relative_to(ROOT)}: load")
    except ConfigError as e:
        print(f"UNEXPECTED shipped {f}: {e}")

# legitimate: should load
probe("K1", "m: {'1': x, 1: y}\n", "load")                       # str vs int: two keys (N4's false refusal)
probe("K2", "m: {!!str 1: x, 1: y}\n", "load")
probe("K3", "m: {a: 1, 'b': 2, \"c\": 3}\n", "load")
probe("K4", "m: {'=': 1, b: 2}\n", "load")                       # quoted '=': a str key
probe("K5", "m: {=: 1, b: 2}\n", "load")                         # plain '=' key: yaml.safe_load and 97eb452^ load {'=': 1}
probe("K6", "m: {x: =}\n", "refused")                            # '=' as a value: yaml.safe_load refuses it too
probe("K7", "? [a, b]\n: 1\n", "refused")                       # a list key: unhashable, as PyYAML always said
probe("K8", "m: {1: a, 2: b, 1.5: c, null: d, true: e, 2026-12-07: f}\n", "refused")   # 1 == True: one key as read
probe("K9", "'<<': 1\nb: 2\n", "load")                          # a quoted '<<' is a plain key
probe("K10", "m: {.nan: 1, .NaN: 2}\n", "refused")              # PyYAML's one nan object: one key as read
probe("K11", "m: {0x10: a, 16: b}\n", "refused")                # one key (16), spelt twice
probe("K12", "m: {1.0: a, 1: b}\n", "refused")                  # one key as Python reads it
probe("K13", "m: {~: a, null: b}\n", "refused")
probe("K14", "m: {yes: a, 'yes': b}\n", "load")                 # YAML 1.1 bool vs str
probe("K15", "m: !!set {a, b}\n", "load")
probe("K16", "m: !!omap [a: 1, b: 2]\n", "load")
probe("K17", "m: !!pairs [a: 1, a: 2]\n", "load")               # pairs allow a key twice
probe("K18", "&k a: 1\nb: *k\n", "load")                        # an anchored key used as a value
probe("K19", "&k a: 1\n*k : 2\n", "refused")                    # an anchored key used as a key again
probe("K20", "? |\n  a\n: 1\n? a\n: 2\n", "load")               # 'a\n' and 'a'
probe("K21", "m: {!!binary aGk=: 1, hi: 2}\n", "load")
# merges
probe("M1", "b: &b {x: 1, y: 2}\nc: &c {y: 3, z: 4}\nm: {<<: [*b, *c], z: 5}\n", "load")
probe("M2", "b: &b {x: 1}\nm: {<<: *b, <<: {y: 2}}\n", "load")
probe("M3", "t:\n  base: &base {type: hyperband, min_iter: 1}\n  hb: &hb {<<: *base, eta: 3, min_iter: 2}\n"
           "early_terminate: {<<: *hb}\n", "load")                # N3's case
chain = "".join(f"l{i}: &l{i} {{<<: *l{i-1}, k{i}: {i}, k0: {i}}}\n" for i in range(1, 60))
probe("M4", "l0: &l0 {k0: 0}\n" + chain + "use: {<<: *l59, k0: last}\n", "load")   # 60-deep chain
deep = "".join(f"{'  ' * i}d{i}:\n" for i in range(30)) + "  " * 30 + "v: &v {a: 1, b: 2}\n"
probe("M5", deep + "m: {<<: *v, a: 3}\n", "load")
probe("M6", "b: &b {x: 1, x: 2}\nm: {<<: *b}\n", "refused")     # a duplicate inside the anchor
probe("M7", "b: &b {x: 1}\nm: {<<: *b, y: 1, y: 2}\n", "refused")
probe("M8", "b: &b {x: 1}\nm: {<<: [*b, *b]}\n", "load")        # the same anchor merged twice
probe("M9", "m: {<<: {a: 1}, a: 2, <<: {a: 3}}\n", "load")
# N5 messages
probe("V1", "a: &a [1, *a]\n", "refused")
probe("V2", "a: &a {k: *a}\n", "refused")
probe("V3", "x: &x [1, 2]\ny: [*x, [*x, [*x]]]\n", "load")     # shared, not inside itself
probe("V4", "v: [" + ", ".join(str(i) for i in range(100_001)) + "]\n", "refused")
bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                                                  for p, c in zip("abcdefg", "bcdefgh"))
probe("V5", bomb, "refused")
# time: a large legitimate file (under 1 MiB: 15,000 mappings, 60,000 keys)
probe("T1", "".join(f"key_{i}: {{value: {i}, other: {i}}}\n" for i in range(15_000)), "load")
probe("T2", "p:\n" + "".join(f"  k{i}: {i}\n" for i in range(60_000)), "refused")   # 120,000 keys and values, no alias: over the count (N5 words)
if len(sys.argv) > 2:   # `timing`: the same two files through yaml.safe_load, for the cost of the checks
    import yaml
    for pid in ("T1", "T2"):
        t = time.time()
        yaml.safe_load((D / f"{pid}.yaml").read_text())
        print(f"    {pid} yaml.safe_load alone: {time.time() - t:.2f}s")
