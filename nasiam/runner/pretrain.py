"""`nasiam pretrain`: standard SSL pretraining with a fixed-architecture head.

`--head default` trains the method's standard heads, `--head RUN_DIR|genotype.json` the
searched architecture from scratch (two-stage), and `--init RUN_DIR` continues from the
weights the search preserved, backbone and heads (one-stage, as SSWP-NAS proposes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nasiam.backbones import feature_dim, load_backbone, save_backbone
from nasiam.config import ConfigError, PretrainConfig, canonical, check_input_path, read_yaml_file
from nasiam.errors import CheckpointError, RemoteError
from nasiam.eval.plots import plot_curves
from nasiam.frameworks import framework_class
from nasiam.head import NASHead
from nasiam.rundir import load_heads, read_head_file, require_complete
from nasiam.runner import outputs
from nasiam.runner.build import (
    backbone_record,
    build_backbone,
    build_train_data,
    canonical_framework,
    check_eval_datasets,
    data_info,
    framework_kwargs,
    make_loader,
)
from nasiam.runner.environment import environment
from nasiam.runner.loop import Run
from nasiam.runner.wandb_artifacts import download_run, is_artifact_reference
from nasiam.search import CollapseMonitor

__all__ = ["PretrainRun", "run_pretrain"]


def _check_searched_for(cfg: PretrainConfig, option: str, frameworks: set[str | None]) -> None:
    """Heads searched for another method (`frameworks`: what their files record, None where
    nothing) are refused, by --head and --init alike: --init trained SimSiam from a SimCLR
    export's backbone and projector without a word (#33 probe 16, M5)."""
    wanted = canonical_framework(cfg)
    # `moco` recorded (by the Lightning callback's framework="moco") is mocov2 (#33 probe 18, P5)
    other = sorted({str(canonical("framework", f)) for f in frameworks if f is not None} - {wanted})
    if other:
        raise CheckpointError(f"--{option} {getattr(cfg, option)} was searched for {' and '.join(other)}, not "
                              f"{wanted}; pass --framework {other[0]}, or a run of {wanted}")


class PretrainRun(Run):
    command = "pretrain"
    cfg: PretrainConfig

    def _local_source(self, option: str) -> str | None:
        """--head/--init as a local path: a W&B artifact is downloaded by rank 0 into
        RUN_DIR/inputs/ and recorded as the run's input; the config keeps the reference."""
        value = getattr(self.cfg, option)
        if not is_artifact_reference(value):
            if value is not None:
                check_input_path(f"--{option}", value, "a search run directory or genotype.json at a shorter path"
                                 if option == "head" else "a run directory at a shorter path")
            return value
        result: tuple[str | None, str | None, str | None] = (None, None, None)
        if self.fabric.is_global_zero:
            try:
                local, reference = download_run(value, self.run_dir / "inputs")
                result = (str(local), reference, None)
            except (FileNotFoundError, ValueError, ImportError, RemoteError) as e:
                result = (None, None, f"--{option} {value}: {e}")
        local, reference, error = self.fabric.broadcast(result)
        if error:
            raise ConfigError(error)
        self.say(f"--{option} {value}: {local}")  # downloaded, or a copy found locally (download_run)
        self.used_artifacts.append(reference)
        return local

    def _heads_and_backbone(self):
        cfg, info = self.cfg, self.info
        head, init = self._local_source("head"), self._local_source("init")
        # the sha256 of the head file's bytes this run parsed (read once, set below): a path names a
        # file that can be edited after the run, and a comparison must tell which version it trained
        self.head_sha256 = None
        if init:
            require_complete(init, "--init")   # a half-written folder may mix heads and backbone
            expect = {"name": cfg.backbone, "cifar_stem": cfg.cifar_stem, "in_chans": info.channels}
            backbone = load_backbone(init, expect)
            heads: Any = load_heads(init)
            frameworks = {h.genotype.meta.get("framework") for h in heads.values()}
            run_config = Path(init) / "config.yaml"
            if run_config.is_file():   # a pretraining run's heads record no framework; its config does (P2)
                recorded = read_yaml_file(run_config, "run configuration")
                frameworks.add(recorded.get("framework") if isinstance(recorded, dict) else None)
            _check_searched_for(cfg, "init", frameworks)
            if head not in ("default", init):
                wanted = read_head_file(head)
                self.head_sha256 = wanted.sha256
                for slot, genotype in wanted.genotypes.items():
                    if slot in heads and heads[slot].genotype.layers != genotype.layers:
                        raise CheckpointError(f"--init {cfg.init} holds a different {slot} than --head {cfg.head}; "
                                              "pass --head default to use the searched heads with their weights")
            return backbone, heads
        backbone = build_backbone(cfg, info)
        if head == "default":
            return backbone, "default"
        head_file = read_head_file(head)
        self.head_sha256 = head_file.sha256
        _check_searched_for(cfg, "head", {head_file.framework})
        return backbone, dict(head_file.genotypes)

    def build(self) -> None:
        cfg = self.cfg
        self.info = data_info(cfg)
        self.data = build_train_data(cfg, self.info)
        check_eval_datasets(cfg, self.info)   # a bad test split stops the run now, not after training
        backbone, heads = self._heads_and_backbone()
        self.model = framework_class(cfg.framework)(backbone, feature_dim(backbone), heads=heads,
                                                    **framework_kwargs(cfg))
        pin = self.fabric.device.type == "cuda"
        self.train_loader = self.fabric.setup_dataloaders(make_loader(self.data.weight, cfg, True, True, pin_memory=pin))
        self.monitor = CollapseMonitor()
        self.feature_monitor = CollapseMonitor()

    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "head_sha256": self.head_sha256}

    def load_state(self, state: dict[str, Any]) -> None:
        # a head file edited between the interruption and --resume: the same shapes would load
        # silently, and the summary would name a head the first epochs never trained
        saved = state.get("head_sha256")
        if saved is not None and saved != self.head_sha256:
            raise CheckpointError(f"--head {self.cfg.head} is not the head file this run began with (sha256 "
                                  f"{str(saved)[:12]} in the checkpoint, now {str(self.head_sha256)[:12]}); restore "
                                  "the file, or train the new head in another run (another --run_name)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])

    def training_step(self, views, epoch: int, step: int):
        out = self.fabric_model(views)
        self.guard.note_loss(out["loss"], epoch, step)
        self.fabric.backward(out["loss"])
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return out, {}

    def finish(self) -> dict[str, Any]:
        cfg, fabric = self.cfg, self.fabric
        evaluation = self.final_evaluation(linear=cfg.linear_probe)
        final, linear = evaluation.get("knn_top1"), evaluation.get("linear_top1")
        summary = {"command": "pretrain", "framework": canonical_framework(cfg), "run_dir": str(self.run_dir),
                   "head": cfg.head, "head_sha256": self.head_sha256, "init": cfg.init,
                   "knn_top1": final, "linear_top1": linear,
                   "rankme": self.rankme, "train_seconds": round(self.elapsed, 1),
                   **{k: v for k, v in evaluation.items() if k not in ("knn_top1", "linear_top1", "rankme")},
                   "heads": {slot: (h.genotype.describe() if hasattr(h, "genotype") else type(h).__name__)
                             for slot, h in self.model.heads().items()},
                   "world_size": fabric.world_size, "environment": environment(fabric.device),
                   "epochs": self.history}
        if fabric.is_global_zero:
            save_backbone(self.run_dir, self.model.backbone, backbone_record(cfg, self.info, self.model.backbone))
            for slot, head in self.model.heads().items():
                if isinstance(head, NASHead):   # by nasiam's door: save_pretrained refuses a run's heads/
                    head._write_pretrained(self.run_dir / "heads" / slot)
            curve = [(h["epoch"], h["knn_top1"]) for h in self.history if h.get("knn_top1") is not None]
            if len(curve) > 1:
                plot_curves({self.run_dir.name: curve}, self.run_dir / "knn.png")
            outputs.write_summary(self.run_dir, {**summary, "wall_seconds": self.wall_seconds()})
            self.logger.summary({"knn_top1": final, "linear_top1": linear, "rankme": self.rankme})
            self.logger.log_run_artifact(self.run_dir, "pretrain", {
                "framework": summary["framework"], "heads": summary["heads"], "knn_top1": final,
                "linear_top1": linear, "rankme": self.rankme, "used": self.used_artifacts})
        fabric.barrier()
        return summary


def run_pretrain(cfg: PretrainConfig, verbose: bool = True) -> dict[str, Any]:
    return PretrainRun(cfg, verbose).execute()
