"""Probe 22 (#33), library level: the twenty-first session's SLURM/W&B/sweep/labels/ranks checks."""
import os
import tempfile
import warnings
from pathlib import Path

import optuna

from nasiam.cli.evaluate import legend_labels
from nasiam.config.machine import check_cluster_environment, check_wandb_environment
from nasiam.runner.loop import is_lost_peer, ranks_disagreement
from nasiam.runner.sweep_file import read_sweep, suggest

warnings.simplefilter("ignore")

def show(label, fn):
    try:
        r = fn()
        print(f"[{label}] OK -> {r!r}"[:400])
    except Exception as e:
        print(f"[{label}] {type(e).__name__}: {e}"[:600])


SL = ("SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_NTASKS", "SLURM_NNODES", "SLURM_NTASKS_PER_NODE",
      "SLURM_JOB_NAME", "SLURM_JOB_ID", "SLURM_TASKS_PER_NODE", "SLURM_STEP_ID")
def slurm(label, **env):
    for k in SL:
        os.environ.pop(k, None)
    os.environ.update(env)
    show(f"slurm {label} {env}", check_cluster_environment)
    # does Lightning accept what nasiam accepted?
    try:
        from lightning_fabric.plugins.environments import SLURMEnvironment
        det = SLURMEnvironment.detect()
        e = SLURMEnvironment() if det else None
        print(f"    lightning detect={det}", (e.world_size(), e.global_rank(), e.local_rank(), e.node_rank()) if e else "")
    except Exception as ex:
        print(f"    lightning: {type(ex).__name__}: {ex}"[:300])
    for k in SL:
        os.environ.pop(k, None)

slurm("plain srun 2 tasks", SLURM_NTASKS="2", SLURM_NTASKS_PER_NODE="2", SLURM_PROCID="0", SLURM_LOCALID="0",
      SLURM_NODEID="0", SLURM_NNODES="1", SLURM_JOB_NAME="train", SLURM_JOB_ID="7", SLURM_TASKS_PER_NODE="2")
slurm("real 2 nodes tasks_per_node 2(x2)", SLURM_NTASKS="4", SLURM_NTASKS_PER_NODE="2", SLURM_PROCID="3",
      SLURM_LOCALID="1", SLURM_NODEID="1", SLURM_NNODES="2", SLURM_JOB_NAME="train", SLURM_TASKS_PER_NODE="2(x2)")
slurm("superscript two", SLURM_NTASKS="\u00b2", SLURM_JOB_NAME="train")
slurm("superscript in PROCID", SLURM_PROCID="\u00b2")
slurm("arabic-indic two", SLURM_NTASKS="\u0662", SLURM_NTASKS_PER_NODE="2", SLURM_JOB_NAME="train")
slurm("spaces", SLURM_NTASKS=" 1 ", SLURM_JOB_NAME="train")
slurm("empty", SLURM_NTASKS="", SLURM_JOB_NAME="train")
slurm("sbatch --ntasks=2 no srun", SLURM_NTASKS="2", SLURM_JOB_NAME="train", SLURM_PROCID="0")
slurm("salloc interactive ntasks=2", SLURM_NTASKS="2", SLURM_JOB_NAME="interactive")
slurm("ntasks_per_node not a number", SLURM_NTASKS="2", SLURM_NTASKS_PER_NODE="2(x2)", SLURM_JOB_NAME="train")
slurm("huge", SLURM_NTASKS="9" * 5000, SLURM_JOB_NAME="train")

for mode in ("offline", "OFFLINE", "Offline", "dryrun", "", " offline", "disabled"):
    os.environ["WANDB_MODE"] = mode
    show(f"WANDB_MODE={mode!r}", check_wandb_environment)
    try:
        import wandb
        st = wandb.Settings()
        st.update_from_env_vars(dict(os.environ))
        print(f"    wandb env path accepts it: mode={st.mode!r}")
    except Exception as ex:
        print(f"    wandb: {type(ex).__name__}: {str(ex).splitlines()[0][:200]}")
os.environ.pop("WANDB_MODE")
for rid in ("abc123", "a b", "x" * 200, "é", "a\nb", "a\tb", "\t"):
    os.environ["WANDB_RUN_ID"] = rid
    show(f"WANDB_RUN_ID={rid[:20]!r}", check_wandb_environment)
    try:
        import wandb
        st = wandb.Settings()
        st.update_from_env_vars(dict(os.environ))
        print(f"    wandb env path accepts it: run_id={st.run_id!r}")
    except Exception as ex:
        print(f"    wandb: {type(ex).__name__}: {str(ex).splitlines()[0][:200]}")
os.environ.pop("WANDB_RUN_ID")


for t in ("a,b", "a, a", " a ,b ", "a,", ",", "a,,b", "\u200b,b", "a\u00a0,b"):
    show(f"labels {t!r}", lambda t=t: legend_labels(t))



optuna.logging.set_verbosity(optuna.logging.ERROR)
tmp = Path(tempfile.mkdtemp(dir=os.environ.get("PROBE_DIR")))
def sweep(label, params, n=4):
    import yaml
    p = tmp / f"{label.replace(' ', '_')}.yaml"
    p.write_text(yaml.safe_dump({"method": "random", "metric": {"name": "knn_top1", "goal": "maximize"},
                                 "parameters": params}))
    try:
        s = read_sweep(p)
    except Exception as e:
        print(f"[sweep {label}] {type(e).__name__}: {e}"[:500])
        return
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    vals = []
    for _ in range(n):
        tr = study.ask()
        try:
            vals.append({k: suggest(tr, k, v) for k, v in s["parameters"].items()})
        except Exception as e:
            vals.append(f"{type(e).__name__}: {e}"[:200])
        study.tell(tr, 0.0)
    print(f"[sweep {label}] accepted; draws {vals}"[:600])

sweep("min==max float", {"lr": {"distribution": "uniform", "min": 0.1, "max": 0.1}})
sweep("min==max log", {"lr": {"distribution": "log_uniform_values", "min": 0.1, "max": 0.1}})
sweep("log tiny", {"lr": {"distribution": "log_uniform_values", "min": 1e-300, "max": 1e-1}})
sweep("log denormal", {"lr": {"distribution": "log_uniform_values", "min": 5e-324, "max": 1e-1}})
sweep("q larger than range", {"lr": {"distribution": "q_uniform", "min": 0.1, "max": 0.2, "q": 1}})
sweep("q_log with q", {"lr": {"distribution": "q_log_uniform_values", "min": 0.001, "max": 0.1, "q": 0.01}})
sweep("q_log q=-1", {"lr": {"distribution": "q_log_uniform_values", "min": 0.001, "max": 0.1, "q": -1}})
sweep("int_uniform on float lr", {"lr": {"distribution": "int_uniform", "min": 0.0001, "max": 0.01}})
sweep("int_uniform int 16..16", {"batch_size": {"distribution": "int_uniform", "min": 16, "max": 16}})
sweep("int_uniform float bounds on int", {"batch_size": {"distribution": "int_uniform", "min": 16.5, "max": 17.5}})
sweep("q_uniform on int batch", {"batch_size": {"distribution": "q_uniform", "min": 16, "max": 64, "q": 16}})
sweep("uniform on int batch", {"batch_size": {"distribution": "uniform", "min": 16, "max": 64}})
sweep("categorical with min max", {"lr": {"distribution": "categorical", "min": 0.01, "max": 0.1}})
sweep("constant with min max", {"lr": {"distribution": "constant", "min": 0.01, "max": 0.1}})
sweep("string bounds", {"lr": {"distribution": "uniform", "min": "1e-3", "max": "1e-1"}})
sweep("log neg both", {"lr": {"distribution": "log_uniform_values", "min": -2, "max": -1}})
sweep("q string", {"lr": {"distribution": "q_uniform", "min": 0.1, "max": 0.5, "q": "0.1"}})
sweep("q tiny", {"lr": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 1e-300}})
sweep("int huge", {"epochs": {"distribution": "int_uniform", "min": 1, "max": 10**30}})
sweep("bool param uniform", {"compile": {"distribution": "uniform", "min": 0, "max": 1}})


show("ranks nan seed", lambda: ranks_disagreement([{"a": float("nan")}, {"a": float("nan")}]))
show("ranks 1 vs 1.0", lambda: ranks_disagreement([{"lr": 1}, {"lr": 1.0}]))
show("lost peer: timeout text", lambda: is_lost_peer(RuntimeError("[../gloo/transport/tcp/pair.cc] Socket Timeout")))
