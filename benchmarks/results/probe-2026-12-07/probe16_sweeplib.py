"""probe 16 (h54): the sweep record of trial options and hyperband (L1/L2), in process: a study
started under one command line, continued under another, through `_check_same_sweep` as
`nasiam sweep` calls it (options parsed by the real CLI parser). Usage: probe16_sweeplib.py"""
import dataclasses
import shlex
import tempfile
from pathlib import Path

import optuna

from nasiam.cli import build_parser
from nasiam.config import ConfigError, SearchConfig
from nasiam.runner import sweep as S

optuna.logging.set_verbosity(optuna.logging.WARNING)
D = Path(tempfile.mkdtemp())
BASE = "--dataset synthetic --image_size 16 --batch_size 16 --subset 64 --knn_subset 64 --num_workers 0 --warmup_epochs 0"
SW = {"method": "random", "metric": {"name": "knn_top1", "goal": "maximize"},
      "parameters": {"arch_lr": {"distribution": "log_uniform_values", "min": 0.01, "max": 0.1}}}


def overrides(cmd):
    parser = build_parser()
    args, unknown = parser.parse_known_args(["sweep", "--config", "x.yaml", *shlex.split(cmd)])
    assert not unknown, unknown
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(SearchConfig) if hasattr(args, f.name)}


def hb(spec):
    return None if spec is None else S._hyperband("x.yaml", spec)


def case(cid, first, second, expect, sweep1=SW, sweep2=None, hb1=None, hb2=None, pre=None):
    study = optuna.create_study(direction="maximize")
    if pre is not None:   # a study from before the record (or part of it)
        study.set_user_attr(S.SWEEP_ATTRIBUTE, pre)
    else:
        S._check_same_sweep(study, sweep1, D, hb(hb1), overrides(first))
    try:
        S._check_same_sweep(study, sweep2 or sweep1, D, hb(hb2), overrides(second))
        got = "continue"
        msg = ""
    except ConfigError as e:
        got, msg = "refuse", str(e)
    except Exception as e:   # noqa: BLE001
        got, msg = "CRASH", f"{type(e).__name__}: {e}"
    flag = "ok" if got == expect else "**UNEXPECTED**"

    def short(c):
        return c.replace(BASE, "$B") or "(none)"
    print(f"{cid}: [{short(first)}] -> [{short(second)}]: {got} (expected {expect}) {flag}")
    if msg and (flag != "ok" or got == "refuse"):
        print("    ", msg[:600])


B = BASE
# same options, spelt otherwise: expect continue
case("SP1", B + " --lr 0.1", B + " --lr=0.10", "continue")
case("SP2", B + " --lr 0.1", B + " --lr 1e-1", "continue")
case("SP3", B + " --lr 0.1", B + " --lr .1", "continue")
for v in ("True", "1", "yes", "on", ""):
    case(f"SP4{v or 'bare'}", B + " --cifar_stem true", B + f" --cifar_stem {v}".rstrip(), "continue")
case("SP5", B + " --cifar_stem true", B + " --cifar-stem=TRUE", "continue")
case("SP6", B + " --space mlp --widths 16,32", B + " --space mlp --widths [16,32]", "continue")
case("SP7", B + " --space mlp --widths 16,32", B + " --space mlp --widths '16, 32'", "continue")
case("SP8", B + " --space mlp --widths 16,32", B + " --space mlp --widths 16,32,", "continue")
case("SP9", B + " --space mlp --widths 16,32", B + " --space mlp --widths 016,032", "continue")
case("SP10", B + " --precision 32", B + " --precision 32-true", "continue")
case("SP11", B + " --precision bf16", B + " --precision bf16-mixed", "continue")
case("SP12", B + " --precision 16-mixed", B + " --precision 16", "continue")
case("SP13", B + " --framework moco", B + " --framework mocov2", "continue")
case("SP14", B + " --temperature none", B + " --temperature null", "continue")
case("SP15", B + " --temperature none", B + " --temperature ~", "continue")
case("SP16", B + " --temperature none", B, "continue")
case("SP17", B + " --epochs 1e0", B + " --epochs 1", "continue")
case("SP18", B + " --logger csv,tensorboard", B + " --logger tensorboard,csv", "continue")
case("SP19", B + " --arch_betas 0.5,0.999", B + " --arch_betas [0.5,0.999]", "continue")
case("SP20", B + " --dataset synthetic", B + " --dataset=synthetic", "continue")
case("SP21", B + " --lr 0.05", B + " --lr 5e-2", "continue")
case("SP22", B + " --batch_size 16", B + " --batch-size 16", "continue")
case("SP23", B + " --norms batchnorm,layernorm", B + " --norms batchnorm,layernorm", "continue")
case("SP24", B + " --accelerator cuda", B + " --accelerator gpu", "continue")
# options at their defaults, given vs omitted
case("DF1", B + " --epochs 5", B, "continue")
case("DF2", B + " --seed 0", B, "continue")
case("DF3", B, B + " --lr 0.05", "continue")
case("DF4", B + " --widths 128,256,512,1024", B, "continue")
case("DF5", B + " --arch_betas 0.9,0.999", B, "continue")   # SearchPolicy.betas
case("DF6", B + " --norms batchnorm,layernorm,none", B, "continue")
case("DF7", B + " --framework simsiam", B, "continue")
case("DF8", "--dataset cifar10 --subset none", "--dataset cifar10", "continue")
case("DF9", "--dataset cifar10 --proj_hidden_dim none --widths none", "--dataset cifar10", "continue")
case("DF10", "--dataset synthetic --subset 10000", "--dataset synthetic", "continue")
case("DF11", "", "--dataset fashion_mnist --subset 10000 --proj_hidden_dim 512", "continue")
case("DF12", B + " --zero_init_residual none", B, "continue")
case("DF13", B + " --precision auto", B, "continue")
case("DF14", B + " --arch_steps_per_step none", B, "continue")
case("DF15", "--dataset cifar10 --queue_size none", "--dataset cifar10", "continue")
case("DF16", B + " --cifar_stem false", B, "continue")
case("DF17", B + " --logger csv", B, "continue")
case("DF18", B + " --sync_batchnorm false", B, "continue")
# where/how-it-ran options changed: expect continue
case("HW1", B, B.replace("--num_workers 0", "--num_workers 2"), "continue")
case("HW2", B + " --data_root /tmp/a", B + " --data_root /tmp/b", "continue")
case("HW3", B + " --logger csv", B + " --logger tensorboard", "continue")
case("HW4", B, B + " --wandb --wandb_mode offline --wandb_project p", "continue")
case("HW5", B, B + " --keep_checkpoints -1 --log_every_n_steps 1", "continue")
case("HW6", B, B + " --out_dir elsewhere --run_name r --resume auto --devices 2", "continue")
case("HW7", B, B + " --download", "continue")
# an option the sweep file also sets: the file wins, expect continue
case("FS1", B + " --arch_lr 0.5", B + " --arch_lr 0.7", "continue")
case("FS2", B + " --arch_lr 0.5", B, "continue")
# a study from before the record
case("PR1", B, B + " --epochs 3", "continue", pre={})
old = {"method": "random", "metric": "knn_top1", "goal": "maximize", "parameters": SW["parameters"]}
case("PR2", B, B + " --epochs 3", "continue", pre=old)
case("PR3", B, B + " --epochs 3", "continue", pre=old, hb2={"type": "hyperband", "min_iter": 1})
# result-changing: expect refuse
for opt in ("--epochs 3", "--subset 32", "--lr 0.2", "--seed 1", "--framework simclr", "--backbone resnet18",
            "--knn_k 10", "--knn_subset 32", "--image_size 24", "--batch_size 8", "--strategy gumbel",
            "--precision bf16-mixed", "--data_device cpu", "--warmup_epochs 1", "--space mlp", "--cifar_stem",
            "--compile", "--accelerator cpu", "--train_split test", "--channels_last", "--sync_batchnorm",
            "--mode joint", "--arch_every 2", "--top_k 2", "--below_noise argmax",
            "--allow_collapsed", "--collapse_min_std 0.1"):
    case(f"RC {opt}", B, B + " " + opt, "refuse")
case("RC demo", "--dataset cifar10 --subset 10000", "--dataset cifar10", "refuse")
case("RC root", "--dataset imagefolder --data_root /tmp/a", "--dataset imagefolder --data_root /tmp/b", "refuse")
# hyperband
H = {"type": "hyperband", "min_iter": 1}
case("HB1", B, B, "refuse", hb1=None, hb2=H)
case("HB2", B, B, "refuse", hb1=H, hb2=None)
case("HB3", B, B, "continue", hb1=H, hb2={"type": "hyperband", "min_iter": 1.0, "eta": 3.0, "strict": True})
case("HB4", B, B, "refuse", hb1=H, hb2={"type": "hyperband", "min_iter": 2})
case("HB5", B, B, "continue", hb1={"type": "hyperband", "max_iter": 27, "s": 3},
     hb2={"type": "hyperband", "max_iter": 27.0, "s": 3, "eta": 3})
case("HB6", B, B, "refuse", hb1=H, hb2={"type": "hyperband", "min_iter": 1, "strict": False})
# a recorded option nasiam no longer has (a study of another version): a clear message, no crash
rec = S._sweep_form(SW, None, overrides(B))
rec["options"]["old_option"] = 3
case("OLD1", B, B, "continue", pre=rec)
rec = S._sweep_form(SW, None, overrides(B))
rec["options"] = "not a mapping"
case("OLD2", B, B, "continue", pre=rec)
