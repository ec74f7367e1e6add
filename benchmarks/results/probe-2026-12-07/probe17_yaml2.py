"""probe 17 (h56): dates and merges where nasiam writes or reads YAML itself: a run's config.yaml
(config_to_yaml) with date-like strings read back as a recipe and by compare/export's reader; a
sweep file's name and a parameter value as unquoted dates."""
import tempfile
from pathlib import Path

from nasiam.config import ConfigError, SearchConfig, config_to_yaml, load_config, read_yaml_file
from nasiam.runner.sweep import read_sweep

T = Path(tempfile.mkdtemp())


def t(cid, fn):
    try:
        print(f"{cid}: ok -> {str(fn())[:200]}")
    except ConfigError as e:
        print(f"{cid}: refused: {str(e)[:300]}")
    except Exception as e:  # noqa: BLE001
        print(f"{cid}: CRASH {type(e).__name__}: {e}")


cfg = load_config(SearchConfig, None, {"run_name": "2026-12-07", "wandb_project": "2026-12-07 10",
                                       "dataset": "synthetic"}, check_environment=False)
text = config_to_yaml(cfg)
(T / "config.yaml").write_text(text)
print("config.yaml lines:", [ln for ln in text.splitlines() if "2026" in ln])
t("D1 run config.yaml read back as a recipe (--config runs/x/config.yaml)",
  lambda: {k: v for k, v in vars(load_config(SearchConfig, T / "config.yaml", check_environment=False)).items()
           if k in ("run_name", "wandb_project")})
t("D2 run config.yaml through read_yaml_file (export, compare)", lambda: read_yaml_file(T / "config.yaml", "run configuration")["run_name"])
sw = "method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr: {values: [0.01]}\n"
(T / "s1.yaml").write_text("name: 2026-12-07\n" + sw)
t("D3 sweep file with name: 2026-12-07 unquoted", lambda: read_sweep(T / "s1.yaml").get("name"))
(T / "s2.yaml").write_text(sw + "  wandb_project: {value: 2026-12-07}\n")
t("D4 sweep parameter (a text option) value: 2026-12-07 unquoted", lambda: read_sweep(T / "s2.yaml")["parameters"])
(T / "s3.yaml").write_text("defaults: &d {distribution: log_uniform_values, min: 0.01, max: 0.1}\n" + sw.replace(
    "  arch_lr: {values: [0.01]}\n", "  arch_lr:\n    <<: *d\n  lr:\n    <<: *d\n    max: 0.2\n"))
t("D5 sweep file with a `defaults:` anchor holder and merges", lambda: read_sweep(T / "s3.yaml")["parameters"])
(T / "s4.yaml").write_text(sw.replace("parameters:\n", "x-common: &d {values: [0.0, 0.5]}\nparameters:\n  beta_weight: *d\n"))
t("D6 sweep file with an x-common anchor holder (as docker-compose writes)", lambda: read_sweep(T / "s4.yaml")["parameters"])
