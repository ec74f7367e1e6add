# ruff: noqa: E401, E402, E701, E702, E731, E741, F401, F841, I001  (a probe script: compact on purpose)
"""probe 20: curves' legend shows labels as written (Q8 fix): an SVG with text kept as text, searched for the labels."""
import matplotlib, re
matplotlib.rcParams["svg.fonttype"] = "none"
from nasiam.runner.evaluate import curves
labels = ["_baseline", "cost $5 vs $10", r"a$\frac$b", "日本 café"]
runs = ["curv/seed0/best", "curv/seed1/best", "curv/c", "curv/v1"]
p = curves(runs, "curv/labels.svg", labels)
text = open(p, encoding="utf-8").read()
shown = re.findall(r"<text[^>]*>([^<]*)</text>", text)
for label in labels:
    esc = label.replace("&", "&amp;").replace("<", "&lt;")
    print(repr(label), "in legend:", any(esc == s.strip() or label == s.strip() for s in shown))
print("texts:", [s for s in shown if not s.strip().replace(".", "").replace("−", "").isdigit()][:12])
