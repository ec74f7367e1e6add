"""Should `nasiam search` run on Lightning's `Trainer` (with `NASSearchCallback`) instead of its
own Fabric loop (`nasiam.runner.loop.Run`)? (issue #20, item 2)

One driver is simpler than two, so the question is what the Trainer would cost the users of
the CLI. Two things are measured side by side, on the same model, data and search policy:

  speed    seconds per training epoch (the first epoch, which warms up, left out) of
           `SearchRun` and of a `Trainer` fitting the same SimSiam supernet with
           `NASSearchCallback` in bilevel mode, alternated run by run
  resume   a run stopped in the middle of an epoch and resumed, against the same run
           uninterrupted: the largest difference of any weight at the end. `SearchRun` is
           stopped by SIGTERM (its checkpoint holds the loaders' positions and RNG states);
           the Trainer by `max_steps` and resumed from `trainer.save_checkpoint` with
           `ckpt_path`, Lightning's way (its loader is a plain DataLoader, as the CLI's)

    python benchmarks/driver_choice.py              # about 5 minutes on two CPU cores
    python benchmarks/driver_choice.py --reps 1     # one run of each

The table goes to stdout and benchmarks/results/driver_choice.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = {"framework": "simsiam", "dataset": "synthetic", "subset": 1024, "image_size": 32, "batch_size": 64,
           "epochs": 3, "num_workers": 0, "knn_every": 0, "proj_hidden_dim": 256, "proj_output_dim": 256,
           "pred_hidden_dim": 64, "seed": 0}
CLI = [f"--{k}={v}" for k, v in OPTIONS.items()] + ["--knn_subset=256", "--knn_k=10"]


def nasiam_search(out: Path, name: str, extra: list[str] = (), stop_after: float | None = None) -> dict:
    """`nasiam search` in a subprocess; with `stop_after`, SIGTERM once that many seconds of the
    second epoch have passed (read from its log), then `--resume` to the end."""
    cmd = [sys.executable, "-m", "nasiam", "search", *CLI, f"--out_dir={out}", f"--run_name={name}", *extra]
    if stop_after is None:
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    else:
        process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            if line.startswith("epoch 1/"):
                time.sleep(stop_after)
                process.send_signal(signal.SIGTERM)
                break
        process.communicate()
        if process.returncode != 143:   # 143: stopped by SIGTERM with a checkpoint (else it was not mid-run)
            raise RuntimeError(f"the run was not stopped by SIGTERM (exit {process.returncode})")
        subprocess.run(cmd + ["--resume"], check=True, capture_output=True, cwd=ROOT)
    return json.loads((out / name / "summary.json").read_text())


def trainer_search(out: Path, max_steps: int = -1, ckpt_path: str | None = None):
    """The same supernet, data and policy, fitted by Lightning's Trainer with NASSearchCallback."""
    import pytorch_lightning as pl

    from nasiam.config import SearchConfig
    from nasiam.integrations.lightning import NASSearchCallback, nasiam_weight_parameters
    from nasiam.runner.build import build_search_model, build_train_data, data_info, make_loader
    from nasiam.runner.optim import base_lr

    cfg = SearchConfig(**OPTIONS)
    pl.seed_everything(cfg.seed, verbose=False)
    info = data_info(cfg)
    data = build_train_data(cfg, info, bilevel=True, arch_fraction=cfg.arch_fraction)
    model = build_search_model(cfg, info)

    class SimSiamModule(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = model

        def training_step(self, batch, batch_idx):
            return self.model(batch[0])["loss"]

        def configure_optimizers(self):
            return torch.optim.SGD(nasiam_weight_parameters(self), lr=base_lr(cfg), momentum=0.9,
                                   weight_decay=cfg.weight_decay)

    times: list[float] = []

    class EpochClock(pl.Callback):
        def on_train_epoch_start(self, trainer, module):
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            times.append(time.perf_counter() - self.start)

    search = NASSearchCallback(policy=cfg.policy(), arch_dataloader=make_loader(data.arch, cfg, True, True),
                               log_metrics=False)
    trainer = pl.Trainer(max_epochs=cfg.epochs, max_steps=max_steps, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[search, EpochClock()], default_root_dir=out)
    module = SimSiamModule()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(module, make_loader(data.weight, cfg, True, True), ckpt_path=ckpt_path)
    return trainer, module, times, [str(w.message) for w in caught]


def max_weight_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point())


def nasiam_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return state["model"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    results: dict = {"options": OPTIONS, "speed": {"fabric": [], "trainer": []}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for rep in range(args.reps):   # alternated, so both see the same machine
            summary = nasiam_search(tmp, f"speed{rep}")
            results["speed"]["fabric"] += [e["epoch_seconds"] for e in summary["epochs"][1:]]
            _, _, times, _ = trainer_search(tmp / f"trainer{rep}")
            results["speed"]["trainer"] += times[1:]
        # resume in the middle of the second epoch
        steps_per_epoch = OPTIONS["subset"] // 2 // OPTIONS["batch_size"]
        nasiam_search(tmp, "whole")
        nasiam_search(tmp, "stopped", stop_after=0.5 * statistics.median(results["speed"]["fabric"]))
        fabric_diff = max_weight_difference(nasiam_weights(tmp / "whole"), nasiam_weights(tmp / "stopped"))
        _, whole, _, _ = trainer_search(tmp / "t-whole")
        stopped_trainer, _, _, _ = trainer_search(tmp / "t-stopped", max_steps=steps_per_epoch + steps_per_epoch // 2)
        checkpoint = tmp / "t-stopped.ckpt"
        stopped_trainer.save_checkpoint(checkpoint)
        _, resumed, _, caught = trainer_search(tmp / "t-resumed", ckpt_path=str(checkpoint))
        trainer_diff = max_weight_difference(whole.model.state_dict(), resumed.model.state_dict())
    fabric, trainer = (statistics.median(results["speed"][k]) for k in ("fabric", "trainer"))
    results.update(fabric_epoch_s=round(fabric, 2), trainer_epoch_s=round(trainer, 2),
                   trainer_over_fabric=round(trainer / fabric, 3),
                   resume_max_weight_diff={"fabric": fabric_diff, "trainer": trainer_diff},
                   trainer_resume_warnings=[w for w in caught if "before the epoch ended" in w][:1],
                   torch=torch.__version__)
    print(f"epoch seconds (median): nasiam Run {fabric:.2f}, Trainer + NASSearchCallback {trainer:.2f} "
          f"(x{trainer / fabric:.2f})")
    print(f"stopped mid-epoch and resumed, largest weight difference from the uninterrupted run: "
          f"nasiam Run {fabric_diff:.3g}, Trainer {trainer_diff:.3g}")
    for w in results["trainer_resume_warnings"]:
        print(f"  Lightning warned: {w[:200]}")
    out = ROOT / "benchmarks" / "results" / "driver_choice.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
