"""Probe 16 (h54): recipes and sweep files with hostile YAML. Writes the files under WORKDIR and
(1) reads the legitimate-looking recipes in process with load_config (no training), (2) runs every
YAML alias bomb through the real command line under `ulimit -v 8000000` and 120 s.
Usage: PYTHONPATH=<archive copy> python probe16_yaml.py WORKDIR"""
import os
import subprocess
import sys
import time
from pathlib import Path

W = Path(sys.argv[1])
W.mkdir(parents=True, exist_ok=True)
os.chdir(W)
from nasiam.config import ConfigError, SearchConfig, load_config  # noqa: E402


def bomb(levels=9, width=10, indent="  "):
    """A YAML list whose last item expands to width**levels leaves, all anchors inside it."""
    lines = [f"{indent}- &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"{indent}- &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines)


def recipe(name, text):
    Path(name).write_text(text)
    try:
        cfg = load_config(SearchConfig, name, check_environment=False)
        keys = [k for k in ("framework", "epochs", "lr", "batch_size", "subset", "cifar_stem", "widths", "seed", "logger")
                if k in text]
        print(f"{name}: loaded; " + ", ".join(f"{k}={getattr(cfg, k)!r}" for k in keys))
    except ConfigError as e:
        print(f"{name}: ConfigError: {str(e)[:300]}")
    except Exception as e:  # noqa: BLE001
        print(f"{name}: {type(e).__name__} (not a ConfigError): {str(e)[:300]}")


# ---- legitimate-looking and hostile values, in process
recipe("r_dup.yaml", "epochs: 1\nepochs: 7\n")
recipe("r_merge.yaml", "<<: {epochs: 2, lr: 0.1}\nlr: 0.2\n")
recipe("r_anchor_hidden.yaml", "_common: &c {epochs: 2}\n<<: *c\n")
recipe("r_inf.yaml", "epochs: .inf\n")
recipe("r_nan.yaml", "lr: .nan\n")
recipe("r_lrinf.yaml", "lr: .inf\n")
recipe("r_neg.yaml", "lr: -0.1\n")
recipe("r_hex.yaml", "batch_size: 0x10\n")
recipe("r_us.yaml", "subset: 1_000\n")
recipe("r_yes.yaml", "cifar_stem: yes\n")
recipe("r_y.yaml", "cifar_stem: y\n")
recipe("r_1e3.yaml", "lr: 1e-3\n")
recipe("r_float_epochs.yaml", "epochs: 2.0\n")
recipe("r_big_seed.yaml", "seed: 99999999999999999999999\n")
recipe("r_null_fw.yaml", "framework: null\n")
recipe("r_widths_int.yaml", "widths: 16\n")
recipe("r_widths_str.yaml", "widths: '16,32'\n")
recipe("r_logger_str.yaml", "logger: csv\n")
recipe("r_bom.yaml", "\ufeffepochs: 3\n")
recipe("r_crlf.yaml", "epochs: 3\r\nlr: 0.1\r\n")
recipe("r_tab.yaml", "epochs:\t3\n")
recipe("r_empty.yaml", "")
recipe("r_docsep.yaml", "---\n")
recipe("r_multidoc.yaml", "epochs: 1\n---\nepochs: 2\n")
recipe("r_list.yaml", "- epochs: 1\n")
recipe("r_intkey.yaml", "1: 2\n")
recipe("r_dash.yaml", "batch-size: 32\n")
recipe("r_upper.yaml", "Epochs: 3\n")
recipe("r_timestamp.yaml", "run_name: 2026-12-07\n")
recipe("r_octal.yaml", "seed: 010\n")
recipe("r_sexagesimal.yaml", "subset: 1:30\n")
recipe("r_str_num.yaml", "run_name: 1e3\n")
recipe("r_norway.yaml", "norms: [no]\n")
recipe("r_base_self.yaml", "base: r_base_self.yaml\n")
recipe("r_python_tag.yaml", "framework: !!python/object/apply:os.system ['echo PWNED']\n")

# ---- YAML alias bombs through the command line
TINY = ["--dataset", "synthetic", "--image_size", "16", "--batch_size", "16", "--epochs", "1", "--subset", "64",
        "--knn_subset", "64", "--num_workers", "0"]
bombs = {
    "b_framework.yaml": f"framework:\n{bomb()}\n",
    "b_lr.yaml": f"lr:\n{bomb()}\n",
    "b_widths.yaml": f"widths:\n{bomb()}\n",
    "b_logger.yaml": f"logger:\n{bomb()}\n",
    "b_run_name.yaml": f"run_name:\n{bomb()}\n",
}
sweeps = {
    "s_param_extra.yaml": "method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr:\n"
                          f"    distribution: uniform\n    min: 0.01\n    max: 0.1\n    note:\n{bomb(indent='      ')}\n",
    "s_distribution.yaml": "method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr:\n"
                           f"    min: 0.01\n    max: 0.1\n    distribution:\n{bomb(indent='      ')}\n",
    "s_values.yaml": "method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr:\n"
                     f"    values:\n{bomb(indent='      ')}\n",
    "s_value.yaml": "method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr:\n"
                    f"    value:\n{bomb(indent='      ')}\n",
    "s_method.yaml": "metric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr: {value: 0.1}\n"
                     f"method:\n{bomb()}\n",
    "s_min_iter.yaml": "method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr: {value: 0.1}\n"
                       f"early_terminate:\n  type: hyperband\n  min_iter:\n{bomb(indent='    ')}\n",
    "s_et_type.yaml": "method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr: {value: 0.1}\n"
                      f"early_terminate:\n  type:\n{bomb(indent='    ')}\n",
    "s_goal.yaml": "method: random\nparameters:\n  arch_lr: {value: 0.1}\n"
                   f"metric:\n  name: knn_top1\n  goal:\n{bomb(indent='    ')}\n",
    "s_description.yaml": "method: random\nmetric: {name: knn_top1, goal: maximize}\nparameters:\n  arch_lr: {value: 0.1}\n"
                          f"description:\n{bomb()}\n",
}
PY = sys.executable
for name, text in {**bombs, **sweeps}.items():
    Path(name).write_text(text)
    if name.startswith("b_"):
        cmd = [PY, "-m", "nasiam", "search", "--config", name, *TINY, "--out_dir", "yruns", "--run_name", name[:-5]]
    else:
        cmd = [PY, "-m", "nasiam", "sweep", "--config", name, "--sweep_dir", "yswd", "--trials", "1", *TINY,
               "--warmup_epochs", "0"]
    start = time.time()
    try:
        p = subprocess.run(["bash", "-c", 'ulimit -v 8000000; exec "$@"', "bash", *cmd], capture_output=True, text=True, timeout=120)
        rc, tail = p.returncode, " | ".join(p.stderr.strip().splitlines()[-2:])[:400]
    except subprocess.TimeoutExpired:
        rc, tail = "TIMEOUT(120s)", ""
    print(f"{name} ({len(text)} bytes): rc={rc} in {time.time() - start:.1f}s: {tail}")
