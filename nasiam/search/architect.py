"""The architecture step of a differentiable head search.

`ArchitectureOptimizer` is the loop-agnostic part: Adam on the logits of any searchable heads,
with nasiam's gradient normalisation and regulariser, the freezing contexts, and the
`SearchPolicy` that says when to step (warm-up, `arch_every`, the Beta-Decay ramp); drop it
into your own loop (see examples/plain_loop_search.py). `Architect` drives it for an
`SSLFramework` and adds second-order DARTS:

    model = create_framework("simsiam", backbone, dim, heads="search")
    architect = Architect(model)                # SearchPolicy's defaults; Architect(model, lr=0.1) etc.
    for step, ((views, _), (arch_views, _)) in enumerate(zip(weight_loader, arch_loader)):
        with architect.weights_step():          # logits frozen while the weights train
            loss = model(views)["loss"]
            loss.backward(); weight_optimizer.step(); weight_optimizer.zero_grad()
        if architect.due(epoch, step):          # the policy's warm-up and arch_every
            architect.step(arch_views, progress=step / total_steps)   # backbone without gradients
    architect.decisions()                       # each decision against its noise floor

The logits live only in the heads, so the step computes backbone features under `no_grad`
and back-propagates the loss through the heads alone, with the head weights frozen: no
backward through the backbone and no weight gradients. It works on any module with
`arch_parameters()`, `encode(views)` and `head_loss(encoded, update_state)` (every
`SSLFramework`), in a plain loop, Lightning or solo-learn. Under torch.distributed it averages
the logit gradients itself, so wrap only the weights in DDP (see nasiam.runner).

* order=1: first-order DARTS, `grad_alpha L_val(w, alpha)`.
* order=2: DARTS' second-order hypergradient with the finite-difference Hessian-vector
  product, unrolled over the head weights (the backbone features are the step's inputs).
* Gumbel/GDAS sampling is a mode of the heads (`set_sampling("gumbel", tau)`), used by the
  same step.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
import torch.distributed as dist
import torch.nn as nn
from torch import Tensor

from nasiam._distributed import is_distributed
from nasiam.search.decisions import decision_report, head_probabilities
from nasiam.search.driver import SearchDriver, head_loss
from nasiam.search.graphs import check_graph_device, compile_options, mark_static, mark_update_begin
from nasiam.search.policy import SearchPolicy
from nasiam.search.update import ChoiceLayout, update_logits

__all__ = ["Architect", "ArchitectureOptimizer", "Encoded", "requires_grad"]


@dataclass
class Encoded:
    """Backbone features of each view: `online` with gradients (unless computed under
    no_grad), `target` from the momentum backbone (always without). What `encode(views)`
    returns and `head_loss` reads in the model protocol `Architect` drives (every
    `SSLFramework`; nasiam.frameworks re-exports it)."""

    online: list[Tensor]
    target: list[Tensor] | None = None


@contextlib.contextmanager
def requires_grad(params: Sequence[nn.Parameter], flag: bool) -> Iterator[None]:
    """Temporarily set `requires_grad` of `params` (restored afterwards)."""
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(flag)
    try:
        yield
    finally:
        for p, s in zip(params, saved):
            p.requires_grad_(s)


def guard_requires_grad_flips() -> None:
    """Make `torch.compile` see the `requires_grad` flips of a search (called by every
    `ArchitectureOptimizer`, so before the first compiled call of a search loop).

    The weight step freezes the logits and the architecture step the weights (`requires_grad`
    above). Dynamo skips the guards on tensors held in a dict whose tag has not changed
    (`skip_tensor_guards_with_matching_dict_tags`: the parameters of an unchanged module), and
    torch 2.11 then misses the flip (2.12-2.14 do not; older ones are untested): a compiled
    head re-runs the graph traced for the other step, and the architecture loss comes back
    without a gradient. This turns that shortcut off for the process, for good (a few more
    guard checks per call of a compiled module; nothing changes for eager modules). It imports
    torch._dynamo, about a second once per process where nothing had (Fabric and Lightning do)."""
    from torch._dynamo import config

    if getattr(config, "skip_tensor_guards_with_matching_dict_tags", False):
        config.skip_tensor_guards_with_matching_dict_tags = False


class ArchitectureOptimizer:
    """Updates the architecture logits of searchable heads as the `SearchPolicy` says; works in
    any training loop.

    Args:
        heads: `SearchableHead`s (or modules containing them).
        policy: the search policy (default `SearchPolicy()`: nasiam's defaults); keyword
            `settings` change single fields of it, e.g. `ArchitectureOptimizer(heads, lr=0.1)`.
        loss_scaling: for fp16 autocast (`16-mixed`): `step` back-propagates the loss times a
            dynamic scale, as `torch.amp.GradScaler` does for weights, because the gradients
            reaching the logits (1e-4 and far less inside the heads) underflow half precision.
            The scale starts at 2**16, halves on every step whose gradients are not finite (that
            step is skipped) and doubles after 2000 finite ones. `state_dict` carries it, so a
            resumed run does not start again from 2**16 (and skip steps to find its level).
        graphs: the update's maths (`finish`) as one CUDA graph, for GPUs where the update is
            bound by the host's kernel launches: True compiles it with
            `torch.compile(mode="reduce-overhead", fullgraph=True)` (needs the logits on CUDA),
            a mapping of torch.compile options compiles it with those (`nasiam.search.graphs`,
            whose docstring says what is graphed and what stays eager). The same updates to
            float rounding; `Architect(graphs=...)` graphs the loss on cached features too.

    In your loop::

        arch = ArchitectureOptimizer([projector, predictor])       # SearchPolicy's defaults
        for epoch in range(epochs):
            for batch in loader:
                with arch.frozen():                                # weight step: logits untouched
                    loss = my_loss(...); loss.backward(); weight_optimizer.step()
                if arch.due(epoch, step):                          # after the warm-up, every arch_every
                    arch.step(lambda: my_loss_on_detached_features(...), progress=step / total_steps)
                step += 1
        arch.decisions({"projector": projector.probabilities()})   # which rose above noise
    """

    def __init__(self, heads: Sequence[nn.Module] | nn.Module, policy: SearchPolicy | None = None, *,
                 loss_scaling: bool = False, graphs: bool | Mapping[str, Any] = False, **settings):
        from nasiam.head import SearchableHead

        self.policy = (policy or SearchPolicy()).replace(**settings)
        modules = [heads] if isinstance(heads, nn.Module) else list(heads)
        searchable = [m for module in modules for m in module.modules() if isinstance(m, SearchableHead)]
        self.arch_params = [p for head in searchable for p in head.arch_parameters()]
        if not self.arch_params:
            raise ValueError("no searchable heads (architecture logits) to optimise")
        arch_ids = {id(p) for p in self.arch_params}
        self.head_weights = [p for head in searchable for p in head.parameters()
                             if id(p) not in arch_ids and p.requires_grad]
        if any(p.dim() != 1 for p in self.arch_params):
            raise ValueError("architecture logits must be one vector per choice (1-D), got shapes "
                             f"{sorted({tuple(p.shape) for p in self.arch_params})}")
        self._layout: ChoiceLayout | None = None
        self._moments: tuple[Tensor, Tensor] | None = None   # Adam's, in the layout's padded form
        self.loss_scaling = loss_scaling
        self.loss_scale = 2.0 ** 16 if loss_scaling else 1.0
        self._finite_steps = 0  # since the scale last changed
        self.arch_steps = 0     # updates taken (skipped ones not counted): Adam's step, the noise floor's length
        self.first_progress: float | None = None  # training progress at the first update
        guard_requires_grad_flips()  # the heads may be compiled, now or later
        # graphed: the maths compiled, and the step count and Beta-Decay weight as device tensors
        self.graph_options = compile_options(graphs)
        self._graphed_maths = None if self.graph_options is None else torch.compile(self._update_maths,
                                                                                     **self.graph_options)
        self._graph_scalars: tuple[Tensor, Tensor] | None = None

    def due(self, epoch: int, step: int) -> bool:
        """Whether the policy takes an architecture step at optimizer step `step` of `epoch`."""
        return self.policy.due(epoch, step)

    def frozen(self):
        """Context for the weight step: the logits are frozen, so the weights' backward
        neither computes nor leaves gradients on them."""
        return requires_grad(self.arch_params, False)

    def weights_frozen(self):
        """Context for the architecture step: the head weights are frozen (no weight
        gradients are computed; gradients still flow through the heads to the logits)."""
        return requires_grad(self.head_weights, False)

    def step(self, closure: Callable[[], Tensor], progress: float | None = None) -> dict[str, float]:
        """Run `closure()` (the loss on the architecture batch, from backbone features
        computed without gradients), take its gradient with respect to the logits only, and
        update. No weight anywhere receives a gradient: the step never touches `.grad` of
        anything but the logits, whatever modules the loss runs through. `progress` is the
        share of training done (0 to 1), for the policy's Beta-Decay ramp."""
        self.begin_update()
        with self.weights_frozen():  # saves the heads' weight-gradient products
            loss = closure()
            grads = self.grad(loss, self.arch_params)
        for p, g in zip(self.arch_params, grads):
            p.grad = g
        return self.finish(progress, loss=loss)

    def begin_update(self) -> None:
        """Before an update's loss: with graphs, check the device (before anything compiles) and
        let the graphs overwrite the previous update's outputs (`mark_update_begin`)."""
        if self.graph_options is not None:
            check_graph_device(self.graph_options, self.arch_params[0].device)
            mark_update_begin()

    def grad(self, loss: Tensor, params: Sequence[Tensor]) -> tuple[Tensor | None, ...]:
        """`autograd.grad(loss, params)`, through the loss scale when `loss_scaling` (the
        gradients come back unscaled; `finish(loss=...)` then adjusts the scale)."""
        if not self.loss_scaling:
            return torch.autograd.grad(loss, params, allow_unused=True)
        scale = self.loss_scale
        # in float32: 2**16 itself is beyond half precision's largest value
        grads = torch.autograd.grad(loss.float() * scale, params, allow_unused=True)
        return tuple(None if g is None else g / scale for g in grads)

    def _update_loss_scale(self, finite: bool) -> None:
        if not finite:
            self.loss_scale, self._finite_steps = max(self.loss_scale / 2, 1.0), 0
            return
        self._finite_steps += 1
        if self._finite_steps == 2000:
            self.loss_scale, self._finite_steps = min(self.loss_scale * 2, 2.0 ** 24), 0

    def step_from_gradients(self, progress: float | None = None, *, scaler=None,
                            unscaled: Sequence[Tensor] = ()) -> dict[str, float]:
        """Joint (single-level) search: the logits' gradients come from the weight step's own
        backward on the training batch; update, and clear them for the next step.

        With fp16 AMP, pass the `torch.amp.GradScaler` that scaled that backward, before it
        steps the weights (its `update` may change the scale): the logits' gradients are
        unscaled here, except those in `unscaled` (logits the user's own optimizer holds, which
        the trainer has unscaled already)."""
        if scaler is not None and scaler.is_enabled():
            done, inverse = {id(p) for p in unscaled}, 1.0 / float(scaler.get_scale())
            for p in self.arch_params:
                if p.grad is not None and id(p) not in done:
                    p.grad.mul_(inverse)
        return self.finish(progress)

    @torch.no_grad()
    def finish(self, progress: float | None = None, loss: Tensor | None = None) -> dict[str, float]:
        """Turn the loss gradients on the logits into the update (`update_logits`: normalise,
        Beta-Decay, centre, Adam) and clear them; `loss` (the architecture loss, its gradients
        taken through `grad`) is reported as "arch_loss", and with `loss_scaling` the loss scale
        follows whether the gradients were finite. Under torch.distributed the gradients are
        averaged over ranks first (every rank then holds the same logits). All choices at once, in
        one padded tensor: about 30 operators whatever the number of decisions (149 when each was a loop
        of its own), and one read of the device (the skip decision, with the metrics). With
        `graphs`, those operators (`_update_maths`) are one CUDA graph; the concatenation, the
        all_reduce, the read and the copies into the logits and the moments stay eager.
        """
        params = self.arch_params
        layout = self._choice_layout()
        # gradients and logits concatenated (one operator, promoted to at least float32: float64
        # logits keep their precision); a logit the loss did not reach has gradient zero, read
        # from the layout's zero without making one
        grads = [layout.zero.expand(p.numel()) if p.grad is None else p.grad for p in params]   # 1-D each
        for p in params:
            p.grad = None
        concatenated = layout.concat([grads, [p.detach() for p in params]])
        if is_distributed():   # a collective: outside the graphed maths
            flat = concatenated[:layout.total]   # the gradients as one vector, a view
            dist.all_reduce(flat)
            flat /= dist.get_world_size()
        moments = self._moments or tuple(torch.zeros_like(layout.mask, dtype=concatenated.dtype) for _ in range(2))
        if self._graphed_maths is None:
            new_flat, *new_moments, read = self._update_maths(concatenated, *moments, self.arch_steps, progress, loss)
        else:   # the numbers a graph cannot take as constants, written where it reads them
            check_graph_device(self.graph_options, concatenated.device)
            step, beta = self._graph_scalars
            step.fill_(self.arch_steps)
            beta.fill_(self.policy.beta(progress))
            new_flat, *new_moments, read = self._graphed_maths(concatenated, *moments, step, None, loss, beta)
        values = read.tolist()   # the update's one read of the device
        finite = values[0] == 0
        rms, reg_value = values[1:3]
        reported = {"arch_loss": values[3]} if loss is not None else {}
        if loss is not None and self.loss_scaling:
            self._update_loss_scale(bool(finite))
        if not finite:
            # identical on every rank (the average spreads a NaN), so every rank skips: a
            # loss-scaled fp16 step that overflowed, as GradScaler skips the weights' step
            return {**reported, "arch_skipped": 1.0}
        chunks = new_flat.split(layout.sizes)
        torch._foreach_copy_(params, [c.view_as(p) for p, c in zip(params, chunks)])   # one kernel on a GPU
        if self._graphed_maths is None:
            self._moments = tuple(new_moments)
        elif self._moments is None:   # a graph's outputs are overwritten by its next replay: kept as copies
            self._moments = tuple(m.clone() for m in new_moments)
        else:
            torch._foreach_copy_(list(self._moments), new_moments)
        if self.arch_steps == 0:
            self.first_progress = progress
        self.arch_steps += 1
        return {**reported, "beta_decay": reg_value, "arch_grad_rms": rms}

    def _update_maths(self, concatenated: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, step: int | Tensor,
                      progress: float | None, loss: Tensor | None = None, beta: Tensor | None = None
                      ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """`finish`'s device work, pure: from the concatenated gradients and logits, the new
        logits (flat), the new moments and the values the host reads (whether every gradient is
        finite, the gradient's RMS, Beta-Decay's value before the update, the loss). What a
        graphed update compiles (`step` and `beta` then device tensors, see `update_logits`)."""
        layout = self._layout
        flat = concatenated[:layout.total]   # the gradients as one vector, a view
        grad, logits = layout.pad_concat(concatenated)   # padded together, in one gather
        masked = logits.masked_fill(layout.padding, -math.inf)
        new_logits, *new_moments, rms = update_logits(self.policy, layout, logits, grad, exp_avg, exp_avg_sq, step,
                                                      progress, flat_grad=flat, masked_logits=masked, beta=beta)
        reg = torch.logsumexp(masked, dim=-1).mean()   # Beta-Decay's, before
        # zero exactly when every gradient is finite (inf * 0 and NaN * 0 are NaN): two
        # operators where `isfinite(flat).all()` took five
        read = [flat.mul(0).sum(), rms.reshape(()), reg] + ([loss.detach().float()] if loss is not None else [])
        return layout.unpad(new_logits), *new_moments, torch.stack(read)

    def _choice_layout(self) -> ChoiceLayout:
        device = self.arch_params[0].device
        if self._layout is None or self._layout.mask.device != device:   # made once, moved with the logits
            self._layout = ChoiceLayout([p.numel() for p in self.arch_params], device)
            if self.graph_options is not None:
                self._layout.stacked_gather(2)   # filled here, not inside the graph that reads it
                # float64, as the Python numbers they stand for: in float32, 1 - 0.999 ** t would be 1e-5 off
                self._graph_scalars = tuple(torch.zeros((), device=device, dtype=torch.float64) for _ in range(2))
                mark_static([*self._layout.tensors(), *self._graph_scalars])
        return self._layout

    def decisions(self, probabilities: Mapping[str, list], samples: int = 512) -> list[dict[str, Any]]:
        """Each decision of `{slot: head.probabilities()}` with its noise floor for the steps
        taken so far (`nasiam.search.decisions.decision_report`)."""
        return decision_report(probabilities, self.arch_steps, self.policy, self.first_progress or 0.0, samples)

    def state_dict(self) -> dict:
        state = {"arch_steps": self.arch_steps, "first_progress": self.first_progress}
        if self._moments is not None:   # flat, as the logits are concatenated
            state["exp_avg"], state["exp_avg_sq"] = (self._choice_layout().unpad(m) for m in self._moments)
        if self.loss_scaling:
            state["loss_scale"], state["loss_scale_finite_steps"] = self.loss_scale, self._finite_steps
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        if "state" in state:   # torch.optim.Adam's layout, as 0.1.0 writes it (one state per logit vector)
            per_logit = [state["state"][i] for i in sorted(state["state"])]
            state.update({key: torch.cat([s[key].reshape(-1) for s in per_logit]) for key in ("exp_avg", "exp_avg_sq")
                          if per_logit})
        self.arch_steps, self.first_progress = int(state.get("arch_steps", 0)), state.get("first_progress")
        total, device = sum(p.numel() for p in self.arch_params), self.arch_params[0].device
        self._moments = None
        if "exp_avg" in state:
            if state["exp_avg"].numel() != total:
                raise ValueError(f"the checkpoint's architecture optimizer state holds {state['exp_avg'].numel()} "
                                 f"logits, these heads have {total}: resume with the heads (space, layers) the "
                                 "search was started with")
            dtype = torch.promote_types(self.arch_params[0].dtype, torch.float32)   # as `finish` computes
            self._moments = tuple(self._choice_layout().pad(state[k].to(device, dtype))
                                  for k in ("exp_avg", "exp_avg_sq"))
        # a checkpoint from a run without loss scaling (or from before it was saved) leaves the
        # scale where it starts; a run resumed without fp16 does not need one
        if self.loss_scaling and "loss_scale" in state:
            self.loss_scale = float(state["loss_scale"])
            self._finite_steps = int(state.get("loss_scale_finite_steps", 0))


class Architect:
    """The architecture step for an `SSLFramework` (or any module with `searchable_heads`,
    `encode(views)` and `head_loss(encoded, update_state)`).

    Args:
        model: the framework.
        policy, loss_scaling, settings: see `ArchitectureOptimizer`.
        order: 1 (first-order) or 2 (finite-difference second-order DARTS).
        unroll_lr: the virtual SGD step of order 2 (DARTS uses the weights' learning rate).
        graphs: each first-order update on cached features as two CUDA graphs, the loss (the
            heads' forward and its backward to the logits) and the update's maths (see
            `ArchitectureOptimizer` and `nasiam.search.graphs`): True for GPUs, a mapping of
            torch.compile options to trace the same regions otherwise. Softmax sampling only (a
            sampled path is read by the host); order 2 is refused.
    """

    def __init__(self, model: nn.Module, policy: SearchPolicy | None = None, *, order: int = 1,
                 unroll_lr: float = 0.05, loss_scaling: bool = False, graphs: bool | Mapping[str, Any] = False,
                 **settings):
        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {order}")
        if order == 2 and compile_options(graphs) is not None:
            raise ValueError("graphs: CUDA graphs serve the first-order update on cached features; second-order "
                             "DARTS (order=2) perturbs the head weights between its losses and runs eagerly")
        self.model, self.order, self.unroll_lr = model, order, unroll_lr
        try:
            self.arch = ArchitectureOptimizer(list(model.searchable_heads().values()), policy,
                                              loss_scaling=loss_scaling, graphs=graphs, **settings)
        except ValueError as e:
            if "no searchable heads" not in str(e):
                raise
            raise ValueError("the model has no searchable heads (build it with heads='search')") from None
        self.arch_params, self.head_weights = self.arch.arch_params, self.arch.head_weights
        # when the logits step, and the cached features of the last architecture batches
        self.driver = SearchDriver(self.policy, bilevel_first_order=order == 1)
        options = self.arch.graph_options
        self._graphed_loss = None if options is None else torch.compile(self._features_loss, **options)
        # nasiam's frameworks write `head_loss` as `head_context` around `_head_loss`: the graph
        # takes the tensor work alone and the context (the shared sample, DirectPred's frozen
        # statistics: attribute flips, an ExitStack) is entered outside it, eagerly
        self._graph_in_context = hasattr(model, "head_context") and hasattr(model, "_head_loss")

    @property
    def policy(self) -> SearchPolicy:
        return self.arch.policy

    @property
    def arch_steps(self) -> int:
        """Updates of the logits taken so far (skipped ones not counted)."""
        return self.arch.arch_steps

    def due(self, epoch: int, step: int) -> bool:
        return self.driver.due(epoch, step)

    def decisions(self, samples: int = 512) -> list[dict[str, Any]]:
        """Each decision of the model's heads with its noise floor (`ArchitectureOptimizer.decisions`)."""
        return self.arch.decisions(head_probabilities(self.model.searchable_heads()), samples)

    def weights_step(self):
        """Context for the weight step (logits frozen)."""
        return self.arch.frozen()

    def state_dict(self) -> dict:
        """The logits' optimizer state, with the fp16 loss scale (`ArchitectureOptimizer`), and
        the cached features of the recent architecture batches (`SearchDriver.state_dict`): a
        resumed search takes the same updates as an uninterrupted one."""
        return {**self.arch.state_dict(), **self.driver.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.arch.load_state_dict({k: v for k, v in state.items() if k != "recent_features"})
        self.driver.load_state_dict(state, device=self.arch_params[0].device, rebuild=lambda e: Encoded(**e))

    def _encode(self, views: Sequence[Tensor] | None, encoded: Encoded | None) -> Encoded:
        if encoded is not None:
            return Encoded([f.detach() for f in encoded.online],
                           None if encoded.target is None else [f.detach() for f in encoded.target])
        if views is None:
            raise ValueError("pass the architecture batch's views or its encoded features")
        with torch.no_grad():
            return self.model.encode(views)

    def _loss(self, encoded: Encoded) -> Tensor:
        if self._graphed_loss is None:
            return head_loss(self.model, encoded)
        sampled = sorted(slot for slot, h in self.model.searchable_heads().items() if h.sampling != "softmax")
        if sampled:
            raise ValueError(f"graphs: the {', '.join(sampled)} head(s) sample a path, which the host reads each step "
                             "(no CUDA graph can hold that); graph softmax (DARTS) searches only")
        online, target = list(encoded.online), None if encoded.target is None else list(encoded.target)
        with self.model.head_context(False) if self._graph_in_context else contextlib.nullcontext():
            return self._graphed_loss(online, target)

    def _features_loss(self, online: list[Tensor], target: list[Tensor] | None) -> Tensor:
        """The loss a graphed update compiles: tensors in (the cached features), the loss out;
        for nasiam's frameworks without the context, which `_loss` enters outside the graph."""
        if self._graph_in_context:
            return self.model._head_loss(Encoded(online, target), False)["loss"]
        return head_loss(self.model, Encoded(online, target))

    def step(self, views: Sequence[Tensor] | None = None, *, encoded: Encoded | None = None,
             train_encoded: Encoded | None = None, progress: float | None = None) -> dict[str, float]:
        """One update of the logits on the architecture batch (`views`, or its `encoded`
        backbone features). Order 2 also needs the weight batch's features,
        `train_encoded`. `progress` (0 to 1) drives the Beta-Decay ramp. With the policy's
        `arch_steps_per_step` N, first order takes one update on each of the last N
        architecture batches (this one first) from their cached features. Returns the
        architecture loss and regulariser values (averaged over the updates)."""
        if self.order == 1 and encoded is None and views is not None:
            return self.driver.replay_encoded(self.arch, views, self.model.encode, self._loss, progress)
        encoded = self._encode(views, encoded)
        if self.order == 1:
            return self.driver.replay(self.arch, encoded, self._loss, progress)
        if train_encoded is None:
            raise ValueError("second-order DARTS needs train_encoded, the weight batch's backbone features")
        if any(h.sampling != "softmax" for h in self.model.searchable_heads().values()):
            raise ValueError("second-order DARTS differentiates the softmax relaxation: use softmax sampling "
                             "(a sampled path per evaluation would make the finite difference noise)")
        loss = self._second_order_backward(encoded, self._encode(None, train_encoded))
        return self.arch.finish(progress, loss=loss)

    def step_from_gradients(self, progress: float | None = None, *, scaler=None) -> dict[str, float]:
        return self.arch.step_from_gradients(progress, scaler=scaler)

    def _second_order_backward(self, val: Encoded, train: Encoded) -> Tensor:
        """alpha.grad = grad_alpha L_val(w') - xi * (grad_alpha L_train(w+) - grad_alpha L_train(w-)) / 2 eps,
        with w' = w - xi grad_w L_train(w) and w+- = w +- eps grad_w' L_val(w') (Liu et al. 2019, eq. 7-8)."""
        weights, xi = self.head_weights, self.unroll_lr
        backup = [w.detach().clone() for w in weights]
        buffers = [b for head in self.model.searchable_heads().values() for b in head.buffers()]
        buffer_backup = [b.detach().clone() for b in buffers]  # BN statistics at perturbed weights are dropped
        try:
            with requires_grad(self.arch_params, False):
                g_train = self.arch.grad(self._loss(train), weights)
            with torch.no_grad():
                for w, g in zip(weights, g_train):
                    if g is not None:
                        w.sub_(xi * g)
            val_loss = self._loss(val)
            grads = self.arch.grad(val_loss, self.arch_params + weights)
            d_alpha, d_w = grads[: len(self.arch_params)], grads[len(self.arch_params):]
            norm = torch.sqrt(sum((g * g).sum() for g in d_w if g is not None))
            eps = 0.01 / (norm + 1e-12)
            hessian_terms = []
            for direction in (1.0, -1.0):  # w + eps d_w, then w - eps d_w
                with torch.no_grad():
                    for w, b, g in zip(weights, backup, d_w):
                        if g is not None:
                            w.copy_(b + direction * eps * g)
                with requires_grad(weights, False):
                    hessian_terms.append(self.arch.grad(self._loss(train), self.arch_params))
            for p, da, gp, gm in zip(self.arch_params, d_alpha, *hessian_terms):
                grad = torch.zeros_like(p) if da is None else da.clone()
                if gp is not None and gm is not None:
                    grad -= xi * (gp - gm) / (2 * eps)
                p.grad = grad
            return val_loss.detach()
        finally:
            with torch.no_grad():
                for w, b in zip(weights, backup):
                    w.copy_(b)
                for b, saved in zip(buffers, buffer_backup):
                    b.copy_(saved)
