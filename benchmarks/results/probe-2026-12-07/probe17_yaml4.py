"""probe 17 (h56): a sweep file whose early_terminate merges a template kept in a `templates:`
group, the template itself merging a base (a chained merge whose holder sits deeper than its user)."""
import tempfile
from pathlib import Path

from nasiam.config import ConfigError
from nasiam.runner.sweep import read_sweep

T = Path(tempfile.mkdtemp())
(T / "s.yaml").write_text("""\
templates:
  hb_base: &hb_base {type: hyperband, min_iter: 1}
  hb: &hb
    <<: *hb_base
    eta: 3
    min_iter: 2
method: random
metric: {name: knn_top1, goal: maximize}
early_terminate:
  <<: *hb
parameters:
  arch_lr: {values: [0.01, 0.1]}
""")
for cid, text in (("H1 as written", None), ("H2 the same with the template's own override removed", "    min_iter: 2\n")):
    if text:
        (T / "s.yaml").write_text((T / "s.yaml").read_text().replace(text, ""))
    try:
        print(f"{cid}: ok -> {read_sweep(T / 's.yaml').get('early_terminate')}")
    except ConfigError as e:
        print(f"{cid}: refused: {e}")
