"""Lightning: search heads inside your own `LightningModule`'s training.

lightly's and solo-learn's models are LightningModules with their own `training_step` and
`configure_optimizers`. Put `SearchableHead`s where their heads are, add `NASSearchCallback` to
the Trainer and train as usual; the callback takes the architecture step around your weight
step and, at the end, exports the searched heads:

    from nasiam import MLPSpace, SearchableHead
    from nasiam.integrations.lightly import replace_heads
    from nasiam.integrations.lightning import NASSearchCallback

    model = SimSiam()                          # lightly's example, unchanged
    space = MLPSpace(widths=(256, 512, 1024))
    replace_heads(model, {"projector": SearchableHead(512, 128, space=space, output_norm="batchnorm_noaffine"),
                          "predictor": SearchableHead(128, 128, num_layers=1, space=space)})
    search = NASSearchCallback(export_dir="searched")   # nasiam's SearchPolicy, as `nasiam search`
    pl.Trainer(max_epochs=10, callbacks=[search]).fit(model, dataloader)
    search.genotypes()                         # {"projector": Genotype, "predictor": Genotype}

`searched/` then holds `genotype.json` and `heads/<slot>/` (`NASHead.from_pretrained`), laid
out like a `nasiam search` run directory: `replace_heads(other_model, "searched")` reads it.

When and how the logits step (warm-up, `arch_every`, Beta-Decay, Adam's settings) is the
`SearchPolicy` of `nasiam search`, with the same defaults, driven by its `SearchDriver` (the
replay of recent batches, the noise verdict); the callback decides only where the architecture
loss comes from. Both modes are first-order DARTS, as in `nasiam search`:

* "bilevel" (the default when `arch_dataloader` is given): after a weight step, the logits step
  on a batch of `arch_dataloader` (held-out images), all weights frozen. Around a nasiam
  framework (the module or its `model` has `encode` and `head_loss`) the backbone runs once per
  batch and the policy's N updates replay the heads on cached features, as `nasiam search`
  does; otherwise each update runs `loss_fn(module, batch)`, backbone included.
* "joint" (the default without held-out batches): the logits' gradients come from your own
  backward on the training batch; no extra forward, more prone to overfit the logits.

It logs under `nasiam search`'s names, so one dashboard compares runs of either:
`train/arch_loss`, ... per architecture step, `prob/<slot>/layer<i>/<choice>/<option>` per
epoch, `eval/decisions_above_noise` at the end, the search's settings as `nas/*` hyperparameters.

Your optimizer never moves the logits, whatever `configure_optimizers` hands it (lightly's
examples use `self.parameters()`): their gradients are taken away before it steps, and logits
changed anyway (an optimizer that decays parameters without gradients) are put back, with a
warning. Building the optimizer from `nasiam_weight_parameters(self)` avoids both.

Under DDP the logits are averaged by the `ArchitectureOptimizer` itself, outside DDP's reduction.

A Trainer accepts only its own package's `Callback` when the callback is passed alone, so
`NASSearchCallback` subclasses the `Callback` of each of `lightning.pytorch` and
`pytorch_lightning` (lightly 1.6 uses the latter) that is installed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from nasiam._arguments import check_count
from nasiam._compat import ddp_ignore
from nasiam.errors import shown_path
from nasiam.head import NASHead, SearchableHead
from nasiam.head.nas_head import run_record_in
from nasiam.integrations.lightly import LIGHTLY_SLOTS
from nasiam.rundir import name_problem, write_searched_heads
from nasiam.search.architect import ArchitectureOptimizer, Encoded, requires_grad
from nasiam.search.decisions import head_probabilities, probability_metrics
from nasiam.search.driver import SearchDriver, framework_of, head_loss, noise_verdict, training_progress
from nasiam.search.policy import SearchPolicy
from nasiam.space.directpred import frozen_statistics
from nasiam.space.genotype import Genotype

__all__ = ["NASSearchCallback", "find_searchable_heads", "nasiam_weight_parameters", "training_step_loss"]


def _callback_bases() -> tuple[type, ...]:
    bases = []
    with contextlib.suppress(ImportError):
        from lightning.pytorch import Callback

        bases.append(Callback)
    with contextlib.suppress(ImportError):
        from pytorch_lightning import Callback

        bases.append(Callback)
    if not bases:
        raise ImportError("nasiam.integrations.lightning needs Lightning: pip install lightning "
                          "(or pytorch-lightning, which lightly uses)")
    return tuple(bases)


MODES = ("joint", "bilevel")

# Sampling modes whose forward gives the logits a gradient; the others pick a path outright.
_DIFFERENTIABLE_SAMPLING = ("softmax", "gumbel")


def nasiam_weight_parameters(module: nn.Module) -> list[nn.Parameter]:
    """Every parameter of `module` except the architecture logits of its `SearchableHead`s:
    what `configure_optimizers` should hand the weight optimizer.

        def configure_optimizers(self):
            return torch.optim.SGD(nasiam_weight_parameters(self), lr=0.06)
    """
    arch = {id(p) for m in module.modules() if isinstance(m, SearchableHead) for p in m.arch_parameters()}
    return [p for p in module.parameters() if id(p) not in arch]


def find_searchable_heads(module: nn.Module) -> dict[str, SearchableHead]:
    """The `SearchableHead`s of `module` whose logits train, by slot.

    A head's slot is its attribute path, with lightly's names mapped to nasiam's
    (`projection_head` -> `projector`, `prediction_head` -> `predictor`) so that an exported
    folder reads back with `replace_heads`. Heads whose logits are all frozen are momentum
    copies (lightly's `deactivate_requires_grad`, MoCo's key encoder): they follow the online
    head through the EMA and are left out.
    """
    found: dict[str, SearchableHead] = {}
    paths: list[str] = []
    for path, m in module.named_modules():
        if not isinstance(m, SearchableHead) or any(path.startswith(p + ".") for p in paths):
            continue
        paths.append(path)
        if not any(p.requires_grad for p in m.arch_parameters()):
            continue
        slot = LIGHTLY_SLOTS.get(path, path)
        found[path if slot in found else slot] = m
    return found


def training_step_loss(module: nn.Module, batch: Any) -> Any:
    """The default `loss_fn` of the bilevel step: the module's own `training_step`.
    (A function, not a lambda: `ddp_spawn` pickles the callbacks.)"""
    return module.training_step(batch, 0)


def _as_loss(output: Any) -> Tensor:
    """The loss in what a `training_step` returns: a tensor or a dict with "loss"."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, Mapping) and isinstance(output.get("loss"), Tensor):
        return output["loss"]
    raise TypeError(f"loss_fn must return the loss tensor or a dict with 'loss', got {type(output).__name__}")


@contextlib.contextmanager
def _logging_muted(module: nn.Module) -> Iterator[None]:
    """`self.log` inside the user's `training_step`, run on an architecture batch, would report
    that batch's loss as the training loss; the callback logs `train/arch_loss` itself."""
    names = ("log", "log_dict")
    own = {n: vars(module)[n] for n in names if n in vars(module)}
    for n in names:
        object.__setattr__(module, n, lambda *args, **kwargs: None)
    try:
        yield
    finally:
        for n in names:
            object.__delattr__(module, n)
            if n in own:
                object.__setattr__(module, n, own[n])


def _checked_export_dir(directory: Path, slots: Iterable[str] = ()) -> Path:
    """`directory`, where the callback writes genotype.json and heads/<slot>/: a new folder or one
    the callback wrote before (a second fit() exports again). A nasiam run or export is refused:
    its genotype.json and heads/ are its record (summary.json or export.json lists their sha256,
    config.yaml says how they were trained), which the callback's would replace. So is a `slots`
    folder heads/<slot> that is a run's (through a link): `write_searched_heads` writes by nasiam's
    own door, which does not look (`NASHead.save_pretrained` would)."""
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"export_dir {shown_path(directory)} is a file, not a folder; choose another export_dir")
    for inside in ("", *(f"heads/{slot}" for slot in slots)):
        record = run_record_in(directory / inside)   # NASHead.save_pretrained's rule
        if record is not None:
            where = f"'s {shown_path(inside)}" if inside else ""
            raise ValueError(f"export_dir {shown_path(directory)}{where} holds a nasiam run or export ({record}): the "
                             "callback's genotype.json and heads/ would replace that run's record. Choose another "
                             "export_dir")
    return directory


class NASSearchCallback(*_callback_bases()):
    """Differentiable search of a LightningModule's `SearchableHead`s during `Trainer.fit`.

    Args:
        heads: the heads to search: None finds every `SearchableHead` with trainable logits
            (see `find_searchable_heads`); or `{slot: head}`, or heads whose slots are their
            attribute paths. They must be submodules of the LightningModule.
        policy: the `SearchPolicy` (default: nasiam's, as `nasiam search`); keyword `settings`
            change single fields of it: `NASSearchCallback(lr=0.1, warmup_epochs=0)`.
        mode: "bilevel" (logits on `arch_dataloader`'s batches after each weight step) or
            "joint" (logits from the training batch's own backward); default: bilevel when
            `arch_dataloader` is given, else joint.
        arch_dataloader: bilevel: any iterable of batches in the training batches' format;
            iterated endlessly. Under DDP shard it yourself (a `DistributedSampler`); Lightning
            only shards its own loaders.
        loss_fn: bilevel: `loss_fn(module, batch)` gives the loss on a raw architecture batch;
            default: cached features around a nasiam framework, else `training_step_loss`
            (`module.training_step(batch, 0)`). Pass one without side effects when the training
            step has them (a momentum-encoder update, a queue).
        features_fn, head_loss_fn: bilevel, instead of `loss_fn`: `features_fn(module, batch)`
            gives the backbone's features of an architecture batch (any structure of tensors)
            and `head_loss_fn(module, features)` the loss from them through the heads: one
            backbone forward per batch, its N updates replayed on the cached features. An older
            batch's features are then the backbone's from up to N-1 weight steps ago, and its
            BatchNorm statistics see each batch once, not once per update.
        export_dir: when given, at the end of training rank zero writes `genotype.json` and
            `heads/<slot>/` (each head's `export()`, `NASHead.save_pretrained`) there.
        top_k: options ranked per choice in the genotypes (None: all).
        framework: recorded in `genotype.json` (default: the LightningModule's class name).
        log_metrics: log `train/arch_loss`, `train/beta_decay`, ... with the module's logger.

    The logits themselves are parameters of the module, so Lightning's checkpoints hold them
    with the weights; the callback's own state (the Adam state of the logits, the step count)
    goes into the checkpoint's callback states, so `fit(ckpt_path=...)` continues the search.
    """

    def __init__(self, heads: Mapping[str, SearchableHead] | Sequence[SearchableHead] | SearchableHead | None = None,
                 *, policy: SearchPolicy | None = None, mode: str | None = None,
                 arch_dataloader: Iterable | None = None, loss_fn: Callable[[Any, Any], Any] | None = None,
                 features_fn: Callable[[Any, Any], Any] | None = None,
                 head_loss_fn: Callable[[Any, Any], Any] | None = None,
                 export_dir: str | Path | None = None, top_k: int | None = None, framework: str | None = None,
                 log_metrics: bool = True, **settings):
        super().__init__()
        self.policy = (policy or SearchPolicy()).replace(**settings)
        mode = mode or ("bilevel" if arch_dataloader is not None else "joint")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "bilevel" and arch_dataloader is None:
            raise ValueError("bilevel mode needs arch_dataloader: held-out batches for the architecture step "
                             "(or use mode='joint')")
        # several updates a step need held-out batches: the policy refuses them in joint mode
        self.driver = SearchDriver(self.policy, bilevel_first_order=mode == "bilevel")
        self._requested_heads, self.mode, self.arch_dataloader = heads, mode, arch_dataloader
        if (features_fn is None) != (head_loss_fn is None):
            raise ValueError("features_fn and head_loss_fn go together: the backbone's features of a batch, and "
                             "the loss from them through the heads")
        if features_fn is not None and loss_fn is not None:
            raise ValueError("pass loss_fn (the loss of a raw batch) or features_fn with head_loss_fn (cached "
                             "backbone features), not both")
        self.loss_fn, self.features_fn, self.head_loss_fn = loss_fn, features_fn, head_loss_fn
        # checked here, not after training: top_k=0 failed in genotypes() at the end of fit, and a
        # framework name genotype.json cannot hold was written there, then refused by its readers
        top_k = check_count("top_k", top_k, none_means="all")
        if export_dir is not None and framework is not None and name_problem("framework", framework):
            raise ValueError(f"{name_problem('framework', framework)}; export_dir's genotype.json records it")
        self.export_dir = None if export_dir is None else _checked_export_dir(Path(export_dir))
        self.top_k, self.framework, self.log_metrics = top_k, framework, log_metrics
        self._framework = framework

        self.heads: dict[str, SearchableHead] = {}
        self.arch: ArchitectureOptimizer | None = None
        self._pending: dict[str, Any] | None = None  # a checkpoint's state, until the optimizer exists
        self._snapshot: Tensor | None = None         # the logits as the architecture optimizer left them
        self._batch_start_step = 0
        self._metrics: dict[str, float] = {}
        self._arch_batches: Iterator | None = None
        self._arch_passes = 0
        self._warned_restore = False
        self._moved: Tensor | None = None            # logits moved outside the search (noted on the device)

    # -- what is searched -------------------------------------------------------------
    def _resolve_heads(self, module: nn.Module) -> dict[str, SearchableHead]:
        requested = self._requested_heads
        if requested is None:
            heads = find_searchable_heads(module)
            if not heads:
                raise ValueError(f"{type(module).__name__} has no SearchableHead with trainable logits; put "
                                 "SearchableHeads where its heads are (nasiam.integrations.lightly.replace_heads)")
            return heads
        if isinstance(requested, SearchableHead):
            requested = [requested]
        paths = {id(m): path for path, m in module.named_modules()}
        if isinstance(requested, Mapping):
            heads = dict(requested)
        else:
            heads = {LIGHTLY_SLOTS.get(paths.get(id(h), ""), paths.get(id(h), "")): h for h in requested}
        for slot, head in heads.items():
            if not isinstance(head, SearchableHead):
                raise TypeError(f"heads[{slot!r}] is a {type(head).__name__}, not a SearchableHead")
            if id(head) not in paths:
                raise ValueError(f"heads[{slot!r}] is not a submodule of {type(module).__name__}: the trainer "
                                 "would neither move it to the device nor checkpoint it")
        return heads

    @property
    def arch_steps(self) -> int:
        """Architecture updates taken so far."""
        return 0 if self.arch is None else self.arch.arch_steps

    def _logits(self) -> list[nn.Parameter]:
        return [] if self.arch is None else self.arch.arch_params

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage != "fit":
            return
        heads = self._resolve_heads(pl_module)
        same = self.arch is not None and [id(p) for h in heads.values() for p in h.arch_parameters()] == \
            [id(p) for p in self.arch.arch_params]
        if not same:  # a second fit() on the same heads keeps the optimizer and its state
            self.heads, self.arch = heads, None
        self._framework = self.framework or type(pl_module).__name__.lower()
        problems = [name_problem("slot", slot) for slot in self.heads] + [name_problem("framework", self._framework)]
        if self.export_dir is not None and any(problems):   # before training: export_dir's genotype.json names them
            raise ValueError(f"{next(p for p in problems if p)}; export_dir's genotype.json names each head's slot "
                             "and the framework: pass heads={name: head} (and framework=NAME) with such names")
        # Runs before the strategy wraps the module in DDP. The logits stay out of DDP's
        # reduction: the ArchitectureOptimizer averages their gradients itself, which it must
        # for the bilevel step (taken outside DDP's forward and backward); reducing them in DDP
        # as well would only repeat that all-reduce, as in nasiam's runner.
        arch = {id(p) for h in self.heads.values() for p in h.arch_parameters()}
        ddp_ignore(pl_module, [n for n, p in pl_module.named_parameters() if id(p) in arch])

    def on_fit_start(self, trainer, pl_module) -> None:
        # Created here, after the strategy moved the module to its device: Adam's state then
        # lives (and a checkpoint's state is cast) where the logits are.
        if self.arch is None:
            # 16-mixed: the bilevel step's own backward scales its loss, as Lightning's does
            scaler = getattr(getattr(trainer, "precision_plugin", None), "scaler", None)
            self.arch = ArchitectureOptimizer(list(self.heads.values()), self.policy,
                                              loss_scaling=scaler is not None and scaler.is_enabled())
        self._apply_pending()
        for slot, head in self.heads.items():
            if head.sampling not in _DIFFERENTIABLE_SAMPLING:
                raise ValueError(f"the {slot} head samples with {head.sampling!r}, which gives its logits no "
                                 f"gradient; search with {' or '.join(_DIFFERENTIABLE_SAMPLING)} sampling")
        if self.log_metrics and getattr(trainer, "is_global_zero", True):   # the search's settings beside the user's own
            for logger in getattr(trainer, "loggers", ()):
                logger.log_hyperparams(self.hparams())
        max_epochs, warmup = trainer.max_epochs, self.policy.warmup_epochs
        if max_epochs is not None and max_epochs > 0 and not self.policy.searches_within(max_epochs):
            warnings.warn(f"warmup_epochs={warmup} with max_epochs={max_epochs}: the logits never train "
                          "(NASSearchCallback(warmup_epochs=0) searches from the first epoch)", stacklevel=2)

    def hparams(self) -> dict[str, Any]:
        """The search's settings as flat hyperparameters (`nas/mode`, `nas/arch_lr`, ..., and
        each head's decisions): what the loggers record, so runs compare by them."""
        record: dict[str, Any] = {"nas/mode": self.mode, **{f"nas/{k}": v for k, v in
                                                              dataclasses.asdict(self.policy).items()}}
        for slot, head in self.heads.items():
            record[f"nas/{slot}/decisions"] = sum(len(choices) for choices in head.probabilities())
        return record

    # -- the steps ----------------------------------------------------------------------
    @staticmethod
    def _progress(trainer) -> float | None:
        return training_progress(trainer.global_step, trainer.estimated_stepping_batches)

    def _take_snapshot(self) -> None:
        params = self._logits()
        self._snapshot = torch.cat([p.detach().reshape(-1) for p in params]) if params else None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._batch_start_step = trainer.global_step
        self._metrics = {}
        self._take_snapshot()

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        # Runs after the backward and before the user's optimizer steps (and before Lightning
        # clips gradients): the last moment the logits' gradients can be used or withheld.
        params = self._logits()
        if not any(p.grad is not None for p in params):
            return
        if self.mode == "joint" and self.driver.due(trainer.current_epoch, trainer.global_step):
            # 16-bit AMP: Lightning has unscaled the gradients its optimizer holds, not the others
            scaler = getattr(getattr(trainer, "precision_plugin", None), "scaler", None)
            held = [p for group in optimizer.param_groups for p in group["params"]]
            self._metrics.update(self.arch.step_from_gradients(self._progress(trainer), scaler=scaler,
                                                               unscaled=held))  # clears the gradients
            self._take_snapshot()  # these logits are the architecture optimizer's
        else:
            for p in params:
                p.grad = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._restore_logits()
        stepped = trainer.global_step > self._batch_start_step  # an optimizer step happened
        if self.mode == "bilevel" and stepped and self.driver.due(trainer.current_epoch, self._batch_start_step):
            self._bilevel_step(trainer, pl_module)
        if self.log_metrics and self._metrics:
            pl_module.log_dict({f"train/{k}": v for k, v in self._metrics.items()}, on_step=True, on_epoch=False)

    def _restore_logits(self) -> None:
        """Put back logits that changed since the architecture optimizer last set them. Copied
        back every batch and compared on the device: the step does not wait for the GPU; whether
        anything had moved is read once per epoch (`_warn_if_moved`)."""
        if self._snapshot is None:
            return
        params = self._logits()
        now = torch.cat([p.detach().reshape(-1) for p in params])
        moved = (now != self._snapshot).any()
        self._moved = moved if self._moved is None else self._moved | moved
        with torch.no_grad():
            for p, chunk in zip(params, self._snapshot.split([p.numel() for p in params])):
                p.copy_(chunk.view_as(p))

    def _warn_if_moved(self) -> None:
        if self._warned_restore or self._moved is None or not bool(self._moved):
            return
        self._warned_restore = True
        warnings.warn("the architecture logits changed outside NASSearchCallback's architecture step (an "
                      "optimizer that updates parameters without gradients?); they were put back. Build the "
                      "weight optimizer from nasiam_weight_parameters(self).", stacklevel=2)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._warn_if_moved()
        if self.log_metrics and self.heads:
            # what `nasiam search` logs per epoch: every option's probability
            pl_module.log_dict(probability_metrics(head_probabilities(self.heads)), on_step=False, on_epoch=True)

    def _next_arch_batch(self) -> Any:
        for _ in range(2):
            if self._arch_batches is None:
                sampler = getattr(self.arch_dataloader, "sampler", None)
                if hasattr(sampler, "set_epoch"):  # a DistributedSampler reshuffles per pass
                    sampler.set_epoch(self._arch_passes)
                self._arch_batches = iter(self.arch_dataloader)
                self._arch_passes += 1
            try:
                return next(self._arch_batches)
            except StopIteration:
                self._arch_batches = None
        raise ValueError("arch_dataloader gave no batch")

    def _bilevel_step(self, trainer, pl_module) -> None:
        features_fn, head_loss_fn = self.features_fn, self.head_loss_fn
        # by default, a nasiam framework's (the module's or its `model`'s: `Architect`'s protocol)
        framework = None if features_fn is not None or self.loss_fn is not None else framework_of(
            pl_module, getattr(pl_module, "model", None))
        if framework is not None:
            def features_fn(_, batch):   # the views: batch[0] of a (views, labels) batch
                return framework.encode(batch[0] if isinstance(batch[0], (list, tuple)) else batch)

            def head_loss_fn(_, encoded):
                return head_loss(framework, encoded)

        batch = trainer.strategy.batch_to_device(self._next_arch_batch())
        arch = {id(p) for p in self._logits()}
        weights = [p for p in pl_module.parameters() if id(p) not in arch]

        def frozen(fn: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
            # all weights frozen: only the logits get gradients (first-order DARTS: grad_alpha
            # L_val(w, alpha)); a closed-form predictor (DirectPred) keeps the statistics of the
            # weight batches only
            def call(item):
                with requires_grad(weights, False), _logging_muted(pl_module), frozen_statistics(pl_module), \
                        trainer.precision_plugin.train_step_context():
                    return fn(pl_module, item)
            return call

        progress = self._progress(trainer)
        if features_fn is None:
            loss = frozen(self.loss_fn or training_step_loss)
            metrics = self.driver.replay(self.arch, batch, lambda item: _as_loss(loss(item)), progress)
        else:
            loss = frozen(head_loss_fn)
            metrics = self.driver.replay_encoded(self.arch, batch, frozen(features_fn),
                                                 lambda item: _as_loss(loss(item)), progress)
        self._metrics.update(metrics)
        self._take_snapshot()

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        if self.arch is None:
            return dict(self._pending or {})
        # the recent architecture batches (or their cached features) too: a resumed N-update
        # search replays the same N as an uninterrupted one, as `nasiam search`'s checkpoints do
        recent = self.driver.state_dict()
        return {"arch_optimizer": self.arch.state_dict(), "slots": list(self.heads), "mode": self.mode, **recent,
                "recent_encoded": any(isinstance(item, Encoded) for item in self.driver.recent)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Lightning restores callbacks before on_fit_start (the optimizer does not exist yet)
        # or, with some strategies, after it: keep the state until both are there.
        self._pending = dict(state_dict)
        self._apply_pending()

    def _apply_pending(self) -> None:
        if not self._pending or self.arch is None:
            return
        state, self._pending = self._pending, None
        if list(state.get("slots", [])) != list(self.heads):
            raise ValueError(f"the checkpoint's search state is for heads {state.get('slots')}, this model searches "
                             f"{list(self.heads)}")
        self.arch.load_state_dict(state["arch_optimizer"])
        rebuild = (lambda fields: Encoded(**fields)) if state.get("recent_encoded") else None
        self.driver.load_state_dict(state, device=self.arch.arch_params[0].device, rebuild=rebuild)

    # -- results --------------------------------------------------------------------------
    def _require_heads(self) -> None:
        if not self.heads:
            raise RuntimeError("NASSearchCallback has no heads yet: they are found when Trainer.fit starts")

    def genotypes(self, top_k: int | None = None) -> dict[str, Genotype]:
        """Each head's most probable architecture, by slot (see `SearchableHead.genotype`)."""
        self._require_heads()
        meta = {"framework": self._framework, "mode": self.mode,
                "arch_steps": self.arch_steps, "searched_with": "nasiam.integrations.lightning"}
        top_k = self.top_k if top_k is None else top_k
        return {slot: head.genotype(top_k=top_k, meta={**meta, "slot": slot}) for slot, head in self.heads.items()}

    def decisions(self) -> list[dict[str, Any]]:
        """Each decision with its best option, probability and noise floor (see
        `nasiam.search.decisions.decision_report`)."""
        self._require_heads()
        if self.arch is None:
            raise RuntimeError("NASSearchCallback has not trained yet: its decisions exist after Trainer.fit")
        return self.arch.decisions(head_probabilities(self.heads))

    def export(self, directory: str | Path | None = None) -> dict[str, NASHead]:
        """Each head's `export()`: a `NASHead` with the searched weights, by slot. With
        `directory`, also write `genotype.json` and `heads/<slot>/` there.

        BatchNorm statistics are the supernet's; `nasiam.head.recalibrate_batchnorm` re-estimates
        them for the exported architecture when eval-mode outputs matter."""
        genotypes = self.genotypes()
        heads = {slot: self.heads[slot].export(g) for slot, g in genotypes.items()}
        if directory is not None:
            checked = _checked_export_dir(Path(directory), heads)
            write_searched_heads(checked, self._framework or "lightning", genotypes, heads)
        return heads

    def on_train_end(self, trainer, pl_module) -> None:
        if self.arch is not None and self.arch.arch_steps and trainer.is_global_zero:
            self._report_decisions(trainer)
        if self.export_dir is not None and trainer.is_global_zero:
            self.export(self.export_dir)

    def _report_decisions(self, trainer) -> None:
        """The decisions against their noise floor: to the loggers, and a warning when no more
        rose above it than noise alone would pass (the search's genotype is then noise's)."""
        verdict = noise_verdict(self.decisions())
        if self.log_metrics:
            for logger in trainer.loggers:
                logger.log_metrics({f"eval/{k}": float(v) for k, v in verdict.metrics().items()},
                                   step=trainer.global_step)
        if verdict.mostly_noise:
            warnings.warn(f"{verdict.above} of {verdict.decisions} decisions rose above the noise floor after "
                          f"{self.arch_steps} architecture steps (noise alone passes about {verdict.chance:.1f}): "
                          "the genotype is mostly noise's choice. Train longer or take more architecture steps; "
                          "see search.decisions().",
                          stacklevel=2)
