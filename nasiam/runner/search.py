"""`nasiam search`: differentiable search of a framework's heads, end to end.

Each step trains the weights on a batch of the weight half of the data with the logits
frozen, then (after the warm-up epochs) updates the logits on a batch of the architecture
half, with backbone features computed without gradients (`Architect`). `mode=joint` instead
updates both from one backward on the same batch. At the end the genotypes are checked for
collapse, agreed on by every rank, exported with their weights and written to the run
directory (see nasiam.runner.outputs).
"""
from __future__ import annotations

from typing import Any

import torch

from nasiam.backbones import save_backbone
from nasiam.config import ConfigError, SearchConfig
from nasiam.errors import CollapseError
from nasiam.eval.knn import KNN_SETTINGS
from nasiam.eval.protocol import knn_name
from nasiam.rundir import write_search_genotypes, write_searched_heads
from nasiam.runner import outputs
from nasiam.runner.build import (
    backbone_record,
    build_search_model,
    build_train_data,
    canonical_framework,
    check_eval_datasets,
    data_info,
    gathered,
    make_loader,
    recalibrate_exported,
)
from nasiam.runner.environment import environment
from nasiam.runner.loop import Run
from nasiam.runner.optim import base_lr
from nasiam.search import (
    ARCH_METRICS,
    Architect,
    CollapseMonitor,
    decision_confidence,
    fall_back_to_prior,
    gumbel_tau,
    head_probabilities,
    near_uniform,
    noise_verdict,
    probability_metrics,
    training_progress,
)

__all__ = ["SEARCH_METRICS", "SearchRun", "run_search"]

# The numbers a search's summary.json holds at its top level (the last epoch's averages, the
# final kNN evaluation, the run's counts and times): what a sweep file's `metric: {name: ...}`
# can name. `nasiam sweep` checks the name against these before its first trial (a misspelt
# metric was found only after a trial had trained); a test checks real summaries against them.
SEARCH_METRICS = tuple(sorted({
    "loss", *ARCH_METRICS, "images_per_second",                              # the epoch's averages
    "collapse_std", "effective_rank", "feature_std", "feature_rank",         # its collapse monitors
    "knn_top1", *(f"{knn_name(k)}_top1" for k, _ in KNN_SETTINGS), "rankme", "eval_seconds",   # the evaluation
    "near_uniform_decisions", "decisions_above_noise", "arch_steps", "world_size",
    "train_seconds", "wall_seconds",
}))


class SearchRun(Run):
    command = "search"
    step_counts = ("arch_steps",)
    cfg: SearchConfig

    # -- construction -----------------------------------------------------------------
    def build(self) -> None:
        cfg = self.cfg
        self.info = data_info(cfg)
        self.data = build_train_data(cfg, self.info, bilevel=cfg.mode == "bilevel", arch_fraction=cfg.arch_fraction)
        check_eval_datasets(cfg, self.info)   # a bad test split stops the run now, not after training
        self.model = build_search_model(cfg, self.info)
        if cfg.strategy == "gumbel":
            self.model.set_sampling("gumbel", cfg.tau_max)
        if self.multi_trial:
            self.model.set_sampling("uniform")  # one-shot training: a random path per step
        pin = self.fabric.device.type == "cuda"
        self.train_loader = self.fabric.setup_dataloaders(make_loader(self.data.weight, cfg, True, True, pin_memory=pin))
        self.arch_loader = (self.fabric.setup_dataloaders(make_loader(self.data.arch, cfg, True, True, pin_memory=pin))
                            if self.data.arch is not None else None)
        self.monitor = CollapseMonitor(min_std=cfg.collapse_min_std, min_rank=cfg.collapse_min_rank)
        # SimSiam's, SimCLR's and MoCo v3's projectors end in BatchNorm, which restores unit
        # variance per dimension even when every image has the same features: collapse is
        # judged on the backbone's features too (healthy resnets give a normalised std ~0.8)
        self.feature_monitor = CollapseMonitor(min_std=cfg.collapse_min_std, min_rank=cfg.collapse_min_rank)
        self.alpha_rows = outputs.alpha_rows(0, self._probabilities())

    def setup_fabric(self):
        super().setup_fabric()
        if self.cfg.arch_cuda_graphs and self.fabric.device.type != "cuda":
            # refused, not ignored: a CPU has no launches to save, and reduce-overhead there would
            # only add inductor's compilation; said before the run directory is claimed
            raise ConfigError(f"--arch_cuda_graphs records the architecture update as CUDA graphs and needs a CUDA GPU; "
                              f"this run trains on {self.fabric.device.type}: leave the option out")

    @property
    def multi_trial(self) -> bool:
        return self.cfg.strategy in ("tpe", "random")

    def ddp_ignored(self) -> list[str]:
        # the logits are averaged by the Architect itself
        arch = {id(p) for p in self.model.arch_parameters()}
        return [n for n, p in self.model.named_parameters() if id(p) in arch] + super().ddp_ignored()

    def find_unused_parameters(self) -> bool:
        return self.cfg.strategy in ("gumbel", "tpe", "random")  # a sampled path leaves other branches unused

    def setup_optimizers(self) -> None:
        super().setup_optimizers()
        cfg = self.cfg
        self.architect = Architect(self.model, cfg.policy(), order=2 if cfg.strategy == "darts2" else 1,
                                   unroll_lr=base_lr(cfg), loss_scaling=self.grad_scaler() is not None,
                                   graphs=cfg.arch_cuda_graphs)

    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "weight_optimizer": self.optimizer.state_dict(),
                "arch_optimizer": self.architect.state_dict(), "alpha_rows": self.alpha_rows}

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["weight_optimizer"])
        self.architect.load_state_dict(state["arch_optimizer"])
        self.alpha_rows = list(state["alpha_rows"])

    # -- the step ---------------------------------------------------------------------
    def _probabilities(self):
        return head_probabilities(self.model.searchable_heads())

    def begin_epoch(self, epoch: int) -> None:
        """The epoch's architecture batches."""
        if self.arch_loader is not None:
            self.set_sampler_epoch(self.arch_loader, epoch)
        self.arch_batches = self.batches(self.arch_loader, "arch", endless=True) if self.arch_loader is not None else None

    def training_step(self, views, epoch: int, step: int):
        cfg, model, fabric = self.cfg, self.fabric_model, self.fabric
        if cfg.strategy == "gumbel":
            self.model.set_sampling("gumbel", gumbel_tau(cfg.tau_max, cfg.tau_min, step, self.total_steps))
        # the search policy's warm-up and arch_every; multi-trial strategies never train the logits
        due = not self.multi_trial and self.architect.due(epoch, step)
        done = training_progress(step, self.total_steps)  # the Beta-Decay ramp
        metrics: dict[str, Any] = {}
        if due and cfg.mode == "joint":
            out = model(views)
            self.guard.note_loss(out["loss"], epoch, step)
            fabric.backward(out["loss"])
            # before the weight step, whose scaler update may change the scale
            metrics.update(self.architect.step_from_gradients(done, scaler=self.grad_scaler()))
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        else:
            with self.architect.weights_step():
                # darts2: the weight step keeps its features for the architecture step
                out = model(views, return_encoded=due and cfg.strategy == "darts2")
                self.guard.note_loss(out["loss"], epoch, step)
                fabric.backward(out["loss"])
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            if due:
                arch_views = self.prepare(next(self.arch_batches)[0])
                with fabric.autocast():
                    metrics.update(self.architect.step(arch_views, train_encoded=out.get("encoded"), progress=done))
        if due:
            metrics["arch_steps"] = 1   # summed: the epoch's count, which averages the architecture's metrics
        return out, metrics

    def epoch_averages(self, totals: dict[str, Any], steps: int) -> dict[str, float]:
        arch_steps = max(1, int(totals.get("arch_steps", 0)))
        averages = super().epoch_averages(totals, steps)
        # the architecture's metrics over the epoch's architecture steps, the others over all of its steps
        averages.update({k: float(totals[k]) / arch_steps for k in ARCH_METRICS if k in totals})
        return averages

    def step_log_extras(self) -> dict[str, float]:
        return {"tau": self.model.projector.tau} if self.cfg.strategy == "gumbel" else {}

    # -- per-epoch artefacts ------------------------------------------------------------
    def after_epoch(self, epoch: int) -> None:
        probabilities = self._probabilities()
        self.alpha_rows += outputs.alpha_rows(epoch + 1, probabilities)
        if self.fabric.is_global_zero:
            outputs.write_alphas_csv(self.run_dir / "alphas.csv", self.alpha_rows)
            genotypes = self.model.genotypes()
            step = self.global_step
            # TensorBoard and W&B alike: the epoch's most probable genotype as text (argmax/<slot>:
            # the export, genotype/<slot>, may differ where a prior fallback decides), each option's
            # probability, the figures
            self.logger.log_view({f"argmax/{slot}": g.describe() for slot, g in genotypes.items()}, step)
            self.logger.log_view(probability_metrics(probabilities), step)
            self.logger.log_figures({"alphas": lambda: outputs.alpha_figure(self.alpha_rows),
                                     **{f"alphas_heatmap/{slot}": (lambda s=slot: outputs.alpha_heatmap(
                                         probabilities[s], f"{s}, epoch {epoch + 1}")) for slot in probabilities}},
                                    step)

    # -- the end --------------------------------------------------------------------------
    def _select_by_trials(self) -> None:
        """tpe/random: score genotypes with the trained supernet on held-out batches (rank 0)
        and write the winner into every rank's logits."""
        from nasiam.runner.multi_trial import select_by_trials

        cfg, fabric = self.cfg, self.fabric
        chosen = None
        if fabric.is_global_zero:
            batches = []
            for (views, _), _ in zip(self.arch_loader, range(cfg.trial_batches)):
                with torch.no_grad(), fabric.autocast():
                    batches.append(self.model.encode(self.prepare(views)))
            with fabric.autocast():  # the features were encoded under it
                chosen = select_by_trials(self.model, batches, cfg.strategy, cfg.genotype_trials, cfg.seed,
                                          cfg.collapse_min_std, cfg.collapse_min_rank, self.run_dir / "trials.csv")
        self._fix_decisions(fabric.broadcast(chosen))

    def _fix_decisions(self, chosen: dict[str, list[dict[str, Any]]]) -> None:
        """Write a selection into every rank's logits (one-hot in effect) and checkpoint it, so
        the outputs and `nasiam export` read it as they read a DARTS decision."""
        cfg, fabric = self.cfg, self.fabric
        for slot, head in self.model.searchable_heads().items():
            head.commit_decisions(chosen[slot]).set_sampling("argmax")   # a choice left out (one option): as it is
        self.alpha_rows += outputs.alpha_rows(cfg.epochs + 1, self._probabilities())
        if fabric.is_global_zero:
            outputs.write_alphas_csv(self.run_dir / "alphas.csv", self.alpha_rows)
        self.save(cfg.epochs)  # the checkpoint now holds the selection: `nasiam export` reads it

    def _fall_back_to_prior(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """--below_noise prior: each decision below its noise floor takes the best known head's
        option (`SSLFramework.prior_decisions`) instead of noise's argmax; the rest keep their
        argmax. Every rank computes the same (the logits and the floors agree across ranks)."""
        argmax: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            layers = argmax.setdefault(row["head"], [])
            while len(layers) <= row["layer"]:
                layers.append({})
            layers[row["layer"]][row["choice"]] = row["option"]
        decided, fallbacks = fall_back_to_prior(rows, argmax, self.model.prior_decisions())
        taken = [f for f in fallbacks if f["fallback"] is not None]
        if taken:
            self.say(f"{len(taken)} decision(s) below the noise floor fall back to the best known head's option: "
                     + ", ".join(f"{f['head']} layer {f['layer']} {f['choice']}: {f['fallback']} (noise's pick "
                                 f"{f['argmax']})" for f in taken))
            self._fix_decisions(decided)
        return {"method": "argmax", "below_noise": "prior", "fallbacks": fallbacks}

    def finish(self) -> dict[str, Any]:
        cfg, fabric = self.cfg, self.fabric
        framework = canonical_framework(cfg)
        meta = {"framework": framework, "epochs": cfg.epochs, "strategy": cfg.strategy, "mode": cfg.mode,
                "dataset": cfg.dataset, "backbone": cfg.backbone}
        # before a fallback or the trials write their choice into the logits
        confidence = self.architect.decisions() if not self.multi_trial else decision_confidence(self._probabilities())
        verdict = noise_verdict(confidence)
        argmax_genotypes = self.model.genotypes(top_k=cfg.top_k, meta=meta)
        selection = None
        if self.multi_trial:
            self._select_by_trials()
        elif cfg.below_noise == "prior":
            selection = self._fall_back_to_prior(confidence)
        genotypes = self.model.genotypes(top_k=cfg.top_k, meta=meta)
        ranks = gathered({slot: g.to_json() for slot, g in genotypes.items()})
        agree = all(r == ranks[0] for r in ranks)
        if not agree:
            raise RuntimeError("the ranks ended with different genotypes; their logits diverged (please report)")
        # rank 0 judges, so every rank agrees: the projector's output, then the backbone's features
        report, features = fabric.broadcast((self.monitor.report(), self.feature_monitor.report()))
        collapsed_where = [where for where, r in (("projector output", report), ("backbone features", features))
                           if r is not None and r.collapsed]
        collapsed = bool(collapsed_where)
        summary: dict[str, Any] = {
            "command": "search", "framework": framework, "run_dir": str(self.run_dir),
            "genotypes": {slot: g.describe() for slot, g in genotypes.items()},
            "fixed_heads": list(self.model.fixed_heads()),   # kept as they are (--predictor), not searched
            "collapse": None if report is None else {"normalized_std": report.normalized_std,
                                                       "effective_rank": report.effective_rank,
                                                       "feature_normalized_std": getattr(features, "normalized_std", None),
                                                       "feature_effective_rank": getattr(features, "effective_rank", None),
                                                       "collapsed": collapsed, "where": collapsed_where},
            "selection": selection or {"method": "trials" if self.multi_trial else "argmax"},
            "decisions": confidence, "near_uniform_decisions": len(near_uniform(confidence)),
            "decisions_above_noise": verdict.above,
            "arch_steps": self.architect.arch_steps,
            "world_size": fabric.world_size, "ranks_agree": agree, "train_seconds": round(self.elapsed, 1),
            "environment": environment(fabric.device),
            **{k: v for k, v in (self.history[-1] if self.history else {}).items()
               if k not in ("epoch", "epoch_seconds", "knn_top1")},
            "epochs": self.history,
        }
        if collapsed and not cfg.allow_collapsed:
            if fabric.is_global_zero:
                write_search_genotypes(self.run_dir / "genotype.rejected.json", framework, genotypes)
                outputs.write_summary(self.run_dir, {**summary, "wall_seconds": self.wall_seconds()})
            raise CollapseError(
                f"the search collapsed ({' and '.join(collapsed_where)}): projector output "
                f"{report.describe() if report else '-'}; backbone features {features.describe() if features else '-'}. "
                "The genotype was refused and written to "
                f"{self.run_dir / 'genotype.rejected.json'} for inspection. Try a lower --arch_lr, a larger "
                "--beta_weight or more --warmup_epochs, or pass --allow_collapsed to export it anyway.")
        # the search's own backbone, kNN only: the head is the product, judged by pretraining with
        # it (`nasiam pretrain` fits the linear probe); a probe here would add ~40 % to the evaluation
        summary.update(self.final_evaluation(linear=False, logged=verdict.metrics()))
        if fabric.is_global_zero:
            heads = self.model.export_heads()
            recalibrate_exported(heads, self.model.backbone, self.data.calibration, fabric.device, cfg.batch_size,
                                 cfg.seed)
            write_searched_heads(self.run_dir, framework, genotypes, heads)
            if selection is not None:  # what argmax would have exported, for comparison
                write_search_genotypes(self.run_dir / "genotype.argmax.json", framework, argmax_genotypes)
            save_backbone(self.run_dir, self.model.backbone, backbone_record(cfg, self.info, self.model.backbone))
            outputs.write_alphas_png(self.run_dir / "alphas.png", self.alpha_rows)
            summary["head_parameters"] = {slot: h.num_parameters() for slot, h in heads.items()}
            summary["head_flops"] = {slot: h.genotype.flops() for slot, h in heads.items()}
            outputs.write_summary(self.run_dir, {**summary, "wall_seconds": self.wall_seconds()})
            self.logger.log_view({f"genotype/{slot}": g.describe() for slot, g in genotypes.items()}, self.global_step)
            self.logger.log_wandb({"genotype_table": lambda: _genotype_table(genotypes)}, self.global_step)
            # genotype/<slot>, the key logged just above: a nested {"genotype": {...}} would show
            # beside it as genotype.<slot>
            self.logger.summary({**{f"genotype/{slot}": g for slot, g in summary["genotypes"].items()},
                                 "head_parameters": summary["head_parameters"],
                                 "head_flops": summary["head_flops"], "knn_top1": summary["knn_top1"]})
            self.logger.log_run_artifact(self.run_dir, "search", {
                "framework": framework, "genotypes": summary["genotypes"], "knn_top1": summary["knn_top1"],
                "rankme": self.rankme, "head_parameters": summary["head_parameters"]})
        fabric.barrier()
        return summary


def _genotype_table(genotypes):
    import wandb

    rows = [[slot, i, layer.op, layer.width, layer.norm, layer.activation, layer.fixed]
            for slot, g in genotypes.items() for i, layer in enumerate(g.layers)]
    return wandb.Table(columns=["head", "layer", "op", "width", "norm", "activation", "fixed"], data=rows)


def run_search(cfg: SearchConfig, verbose: bool = True) -> dict[str, Any]:
    return SearchRun(cfg, verbose).execute()
