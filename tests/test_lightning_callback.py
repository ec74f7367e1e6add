"""NASSearchCallback: nasiam's architecture step inside a user's own LightningModule.

The model is lightly's SimSiam example (docs.lightly.ai, examples/simsiam) with a tiny conv
backbone, its heads replaced by SearchableHeads; the data is a few fixed random images with
two fixed "views" each, so runs are deterministic on CPU.
"""
import copy
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

pl = pytest.importorskip("pytorch_lightning")
from pytorch_lightning.callbacks import ModelCheckpoint  # noqa: E402

pytest.importorskip("lightly")
from lightly.loss import NegativeCosineSimilarity  # noqa: E402
from lightly.models.modules.heads import SimSiamPredictionHead, SimSiamProjectionHead  # noqa: E402

from nasiam import MLPSpace, NASHead, SearchableHead  # noqa: E402
from nasiam.integrations.lightly import replace_heads  # noqa: E402
from nasiam.integrations.lightning import (  # noqa: E402
    NASSearchCallback,
    find_searchable_heads,
    nasiam_weight_parameters,
)

FEATURES, PROJ, PRED_HIDDEN = 8, 12, 6
SPACE = MLPSpace(widths=(4, 8), norms=("batchnorm", "none"), activations=("relu", "identity"))
BATCHES_PER_EPOCH = 4


class SimSiam(pl.LightningModule):
    """lightly's SimSiam example; `params="weights"` builds the optimizer the nasiam way."""

    def __init__(self, params="all", optimizer=None):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, FEATURES, 3, stride=2, padding=1), nn.BatchNorm2d(FEATURES),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.projection_head = SimSiamProjectionHead(FEATURES, 16, PROJ)
        self.prediction_head = SimSiamPredictionHead(PROJ, PRED_HIDDEN, PROJ)
        self.criterion = NegativeCosineSimilarity()
        self.params, self.optimizer = params, optimizer

    def forward(self, x):
        f = self.backbone(x).flatten(start_dim=1)
        z = self.projection_head(f)
        p = self.prediction_head(z)
        z = z.detach()
        return z, p

    def training_step(self, batch, batch_index):
        (x0, x1) = batch[0]
        z0, p0 = self.forward(x0)
        z1, p1 = self.forward(x1)
        loss = 0.5 * (self.criterion(z0, p1) + self.criterion(z1, p0))
        self.log("train_loss", loss)  # muted during the bilevel architecture step
        return loss

    def configure_optimizers(self):
        params = self.parameters() if self.params == "all" else nasiam_weight_parameters(self)
        optimizer = self.optimizer or torch.optim.SGD
        return optimizer(params, lr=0.06, momentum=0.9, weight_decay=5e-2)


def searchable_simsiam(**kwargs):
    model = SimSiam(**kwargs)
    replace_heads(model, {"projector": SearchableHead(FEATURES, PROJ, num_layers=1, space=SPACE,
                                                      output_norm="batchnorm_noaffine"),
                          "predictor": SearchableHead(PROJ, PROJ, num_layers=1, space=SPACE)})
    return model


class TwoViews(Dataset):
    """Fixed images, each with two fixed noisy views; (views, label) like lightly's datasets."""

    def __init__(self, n=8 * BATCHES_PER_EPOCH, label=0, seed=0):
        g = torch.Generator().manual_seed(seed)
        base = torch.randn(n, 3, 8, 8, generator=g)
        self.views = [base + 0.3 * torch.randn(n, 3, 8, 8, generator=g) for _ in range(2)]
        self.label = label

    def __len__(self):
        return len(self.views[0])

    def __getitem__(self, i):
        return [self.views[0][i], self.views[1][i]], self.label


def loader(**kwargs):
    return DataLoader(TwoViews(**kwargs), batch_size=8, shuffle=False)


def trainer(callbacks=(), **kwargs):
    options = dict(accelerator="cpu", devices=1, max_steps=BATCHES_PER_EPOCH, enable_progress_bar=False,
                   logger=False, enable_checkpointing=False, enable_model_summary=False, log_every_n_steps=1)
    options.update(kwargs)
    return pl.Trainer(callbacks=list(callbacks), **options)


def logits(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if ".arch." in n}


def weights(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if ".arch." not in n}


def changed(before, after):
    return [n for n in before if not torch.equal(before[n], after[n])]


class ArchStepRecorder(pl.Callback):
    """Wraps the architecture optimizer's update, `finish` (after NASSearchCallback created
    it), and records the logits before and after each one."""

    def __init__(self, search):
        self.search, self.steps = search, []

    def on_fit_start(self, trainer, pl_module):
        arch = self.search.arch
        finish = arch.finish

        def recorded_finish(*args, **kwargs):
            before = logits(pl_module)
            out = finish(*args, **kwargs)
            self.steps.append((before, logits(pl_module)))
            return out

        arch.finish = recorded_finish


def assert_only_arch_steps_moved_logits(initial, steps, final):
    """Between two architecture steps (and before the first, after the last) the logits
    did not change: nothing but the architecture optimizer moved them."""
    assert steps, "no architecture step was taken"
    points = [initial] + [s for pair in steps for s in pair] + [final]
    for k in range(0, len(points), 2):  # (initial, before_0), (after_0, before_1), ..., (after_last, final)
        assert not changed(points[k], points[k + 1]), f"logits changed outside the architecture step (gap {k // 2})"


# -- 1. lightly's SimSiam: search, user optimizer, export -----------------------------------
@pytest.mark.slow
def test_lightly_simsiam_search_exports_heads(tmp_path):
    model = searchable_simsiam()  # configure_optimizers hands SGD self.parameters(), logits included
    assert set(find_searchable_heads(model)) == {"projector", "predictor"}
    search = NASSearchCallback(lr=0.05, warmup_epochs=0, export_dir=tmp_path / "searched")
    recorder = ArchStepRecorder(search)
    logits0, weights0 = logits(model), weights(model)
    fit = trainer([search, recorder])
    fit.fit(model, loader())

    assert search.arch_steps == len(recorder.steps) == BATCHES_PER_EPOCH
    assert set(changed(logits0, logits(model))) == set(logits0)  # every logit moved
    moved = changed(weights0, weights(model))
    assert any(n.startswith("backbone.") for n in moved) and any(n.startswith("projection_head.") for n in moved)
    # the user's SGD (weight decay, momentum) never touched the logits: it was never given
    # their gradients, so it holds no state for them, and only architecture steps moved them
    arch_ids = {id(p) for p in search.arch.arch_params}
    user_optimizer = fit.optimizers[0]
    assert arch_ids <= {id(p) for g in user_optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in arch_ids for p in user_optimizer.state)
    assert_only_arch_steps_moved_logits(logits0, recorder.steps, logits(model))

    # the export: a run-directory layout, heads that compute the supernet's argmax path
    genotypes = search.genotypes()
    assert set(genotypes) == {"projector", "predictor"}
    for slot, head in (("projector", model.projection_head), ("predictor", model.prediction_head)):
        loaded = NASHead.from_pretrained(tmp_path / "searched" / "heads" / slot)
        assert loaded.genotype.describe() == genotypes[slot].describe()
        head.eval().set_sampling("argmax")
        loaded.eval()
        x = torch.randn(16, head.in_dim)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), head(x), atol=1e-5, rtol=1e-5)
    # and lightly's replace_heads reads the folder back into a fresh model
    fresh = SimSiam()
    replace_heads(fresh, tmp_path / "searched")
    assert isinstance(fresh.projection_head, NASHead) and isinstance(fresh.prediction_head, NASHead)
    torch.testing.assert_close(fresh.projection_head.state_dict(),
                               NASHead.from_pretrained(tmp_path / "searched/heads/projector").state_dict())


@pytest.mark.slow
def test_an_optimizer_that_moves_parameters_without_gradients_is_undone():
    class DecayEverything(torch.optim.SGD):  # shrinks every parameter, gradient or not
        @torch.no_grad()
        def step(self, closure=None):
            loss = super().step(closure)
            for group in self.param_groups:
                for p in group["params"]:
                    p.mul_(0.9)
            return loss

    model = searchable_simsiam(optimizer=DecayEverything)
    search = NASSearchCallback(lr=0.05, warmup_epochs=0)
    recorder = ArchStepRecorder(search)
    logits0 = logits(model)
    with pytest.warns(UserWarning, match="nasiam_weight_parameters"):
        trainer([search, recorder]).fit(model, loader())
    assert_only_arch_steps_moved_logits(logits0, recorder.steps, logits(model))


# -- 2. the control: without the callback nothing moves the logits ---------------------------
@pytest.mark.slow
def test_without_the_callback_the_logits_do_not_move():
    model = searchable_simsiam(params="weights")
    logits0, weights0 = logits(model), weights(model)
    trainer().fit(model, loader())
    assert changed(weights0, weights(model))  # it trained
    assert not changed(logits0, logits(model))
    # the hazard the callback removes: an optimizer given self.parameters() moves them itself
    model = searchable_simsiam(params="all")
    logits0 = logits(model)
    trainer().fit(model, loader())
    assert changed(logits0, logits(model))


def test_nasiam_weight_parameters_leave_out_the_logits():
    model = searchable_simsiam()
    arch = {id(p) for m in (model.projection_head, model.prediction_head) for p in m.arch_parameters()}
    kept = nasiam_weight_parameters(model)
    assert arch and not arch & {id(p) for p in kept}
    assert len(kept) + len(arch) == len(list(model.parameters()))


# -- 3. resuming a Trainer continues the search --------------------------------------------
@pytest.mark.slow
def test_resume_restores_logits_and_arch_optimizer(tmp_path):
    # One batch per epoch: Lightning's loop may replay a batch index when it resumes from an
    # epoch-end checkpoint; with a single batch that replay is the same batch, so a resumed run
    # must land exactly where an uninterrupted one does.
    steps = 4

    def run(callbacks, **kwargs):
        torch.manual_seed(0)  # the same initial model each time
        model = searchable_simsiam(params="weights")
        search = NASSearchCallback(lr=0.05, warmup_epochs=0, beta_schedule="constant")
        fit = trainer([search, *callbacks], **kwargs)
        return model, search, fit

    straight, straight_search, fit = run([], max_steps=2 * steps)
    fit.fit(straight, loader(n=8))

    saver = ModelCheckpoint(dirpath=tmp_path, filename="half", save_on_train_epoch_end=True)
    first, first_search, fit = run([saver], max_steps=-1, max_epochs=steps, enable_checkpointing=True)
    fit.fit(first, loader(n=8))
    checkpoint = torch.load(tmp_path / "half.ckpt", weights_only=False)
    assert set(logits(first)) <= set(checkpoint["state_dict"])  # the logits travel with the weights
    assert checkpoint["callbacks"]["NASSearchCallback"]["arch_optimizer"]["arch_steps"] == steps

    class AtStart(pl.Callback):
        def on_train_start(self, trainer, pl_module):  # after Lightning restored everything
            self.logits, self.adam = logits(pl_module), copy.deepcopy(resumed_search.arch.state_dict())
            self.arch_steps = resumed_search.arch_steps

    at_start = AtStart()
    resumed, resumed_search, fit = run([at_start], max_steps=2 * steps)
    fit.fit(resumed, loader(n=8), ckpt_path=tmp_path / "half.ckpt")

    assert not changed(logits(first), at_start.logits)
    assert at_start.arch_steps == steps
    saved = copy.deepcopy(first_search.arch.state_dict())
    assert set(at_start.adam) == set(saved)
    for key in ("arch_steps", "exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(at_start.adam[key], saved[key])
    # four steps, a checkpoint and four more land where eight steps in one go do
    assert resumed_search.arch_steps == straight_search.arch_steps == 2 * steps
    for name, value in logits(straight).items():
        torch.testing.assert_close(logits(resumed)[name], value)


# -- 4. warm-up ---------------------------------------------------------------------------
@pytest.mark.slow
def test_no_architecture_step_during_warmup(recwarn):
    model = searchable_simsiam()  # the user's SGD holds the logits too, with weight decay and momentum
    search = NASSearchCallback(lr=0.05, warmup_epochs=1)
    logits0 = logits(model)

    class AfterFirstEpoch(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            if trainer.current_epoch == 0:
                self.logits, self.arch_steps = logits(pl_module), search.arch_steps
                self.adam_state = {k: v for k, v in search.arch.state_dict().items() if k.startswith("exp_avg")}
                arch = {id(p) for p in search.arch.arch_params}
                self.user_state = [p for p in trainer.optimizers[0].state if id(p) in arch]

    probe = AfterFirstEpoch()
    trainer([search, probe], max_steps=-1, max_epochs=2).fit(model, loader())
    assert probe.arch_steps == 0 and not probe.adam_state
    assert not changed(logits0, probe.logits)
    # held back from the user's optimizer during the warm-up too (not moved, then put back)
    assert not probe.user_state and not [w for w in recwarn if "nasiam_weight_parameters" in str(w.message)]
    assert search.arch_steps == BATCHES_PER_EPOCH and set(changed(logits0, logits(model))) == set(logits0)


# -- bilevel ------------------------------------------------------------------------------
@pytest.mark.slow
def test_bilevel_steps_on_the_arch_batches():
    model = searchable_simsiam()
    seen = []

    def loss_fn(module, batch):
        seen.append(int(batch[1][0]))
        return module.training_step(batch, 0)

    search = NASSearchCallback(mode="bilevel", lr=0.05, warmup_epochs=0, arch_dataloader=loader(n=16, label=7, seed=1),
                               loss_fn=loss_fn, arch_steps_per_step=1)   # one update per step (N: the next test)
    recorder = ArchStepRecorder(search)

    class LastLoss(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.loss = float(outputs["loss"])

    last = LastLoss()
    logits0 = logits(model)
    fit = trainer([search, recorder, last])
    fit.fit(model, loader())
    assert search.arch_steps == BATCHES_PER_EPOCH and seen == [7] * BATCHES_PER_EPOCH  # two passes of 2 batches
    assert {"train/arch_loss", "train/beta_decay"} <= set(fit.callback_metrics)   # nasiam search's names
    # the module's self.log inside the architecture step was muted: train_loss is the weight batch's
    assert float(fit.callback_metrics["train_loss"]) == pytest.approx(last.loss)
    assert float(fit.callback_metrics["train/arch_loss"]) != pytest.approx(last.loss)
    assert set(changed(logits0, logits(model))) == set(logits0)
    assert_only_arch_steps_moved_logits(logits0, recorder.steps, logits(model))


@pytest.mark.slow
def test_bilevel_takes_the_policys_updates_per_step_on_recent_batches():
    model = searchable_simsiam()
    seen = []

    def loss_fn(module, batch):
        seen.append(int(batch[1][0]))
        return module.training_step(batch, 0)

    g = torch.Generator().manual_seed(2)
    arch_batches = [([torch.randn(4, 3, 8, 8, generator=g) for _ in range(2)], torch.full((4,), label))
                    for label in range(3)]  # labels 0, 1, 2
    search = NASSearchCallback(lr=0.05, warmup_epochs=0, arch_steps_per_step=2, arch_dataloader=arch_batches,
                               loss_fn=loss_fn)
    assert search.mode == "bilevel"  # held-out batches given: bilevel by default
    trainer([search], max_steps=3).fit(model, loader())
    assert search.arch_steps == 1 + 2 + 2 and seen == [0, 1, 0, 2, 1]  # newest first, then the one before


@pytest.mark.slow
def test_architecture_batches_leave_a_directpred_predictor_alone():
    """With DirectPred's closed-form predictor and a searched projector, only the weight
    batches move the predictor's statistics: two views per weight step, none per
    architecture step."""
    from nasiam.head import DirectPredLinear
    from nasiam.presets import create_head

    model = SimSiam()
    replace_heads(model, {"projector": SearchableHead(FEATURES, PROJ, num_layers=1, space=SPACE,
                                                      output_norm="batchnorm_noaffine"),
                          "predictor": create_head("directpred_predictor", in_dim=PROJ, out_dim=PROJ)})
    search = NASSearchCallback(lr=0.05, warmup_epochs=0, arch_steps_per_step=1,
                               arch_dataloader=loader(n=16, label=7, seed=1))
    trainer([search]).fit(model, loader())
    layer = next(m for m in model.prediction_head.modules() if isinstance(m, DirectPredLinear))
    assert search.arch_steps == BATCHES_PER_EPOCH and int(layer.updates) == 2 * BATCHES_PER_EPOCH
    assert layer.frozen is False


def test_amp_loss_scale_is_removed_from_logits_the_optimizer_does_not_hold():
    # 16-mixed: Lightning unscales only the optimizer's parameters; with the optimizer built
    # from nasiam_weight_parameters the logits' gradients still carry the loss scale, and the
    # joint step must remove it (reported as the loss gradient's RMS, unnormalised: 1, not 1024)
    from types import SimpleNamespace

    model = searchable_simsiam(params="weights")
    search = NASSearchCallback(normalize=False, beta_weight=0.0, warmup_epochs=0)
    search.setup(None, model, "fit")
    search.on_fit_start(SimpleNamespace(max_epochs=1), model)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    scaler.scale(torch.ones(()))  # a scaled backward happened this iteration
    fit = SimpleNamespace(precision_plugin=SimpleNamespace(scaler=scaler), current_epoch=0, global_step=0,
                          estimated_stepping_batches=10)
    for optimizer, rms in ((model.configure_optimizers(), 1.0),                       # logits not held: unscaled here
                           (torch.optim.SGD(list(model.parameters()), lr=0.1), 1024.0)):  # held: Lightning did it
        for p in search.arch.arch_params:
            p.grad = torch.full_like(p, 1024.0)
        search.on_train_batch_start(fit, model, None, 0)
        search.on_before_optimizer_step(fit, model, optimizer)
        assert search._metrics["arch_grad_rms"] == pytest.approx(rms)


def test_under_a_loss_scaler_the_bilevel_step_scales_its_own_loss():
    from types import SimpleNamespace

    model = searchable_simsiam(params="weights")
    for scaler, scaled in ((torch.amp.GradScaler("cpu"), True), (None, False)):
        search = NASSearchCallback()
        search.setup(None, model, "fit")
        search.on_fit_start(SimpleNamespace(max_epochs=1, precision_plugin=SimpleNamespace(scaler=scaler)), model)
        assert search.arch.loss_scaling is scaled


def test_bilevel_needs_arch_batches_and_heads_must_be_found():
    with pytest.raises(ValueError, match="arch_dataloader"):
        NASSearchCallback(mode="bilevel")
    with pytest.raises(ValueError, match="no SearchableHead"):
        trainer([NASSearchCallback()]).fit(SimSiam(), loader())


@pytest.mark.slow
def test_importing_the_integrations_does_not_import_lightning():
    code = ("import sys, nasiam.integrations, nasiam.integrations.lightly\n"
            "print(any(m in sys.modules for m in ('lightning', 'pytorch_lightning')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_callback_is_a_callback_of_the_installed_package():
    assert isinstance(NASSearchCallback(), pl.Callback)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lightning = pytest.importorskip("lightning.pytorch")
    assert isinstance(NASSearchCallback(), lightning.Callback)


@pytest.mark.slow
def test_the_callback_logs_under_the_cli_names_with_its_hparams(tmp_path):
    """One naming for `nasiam search` and the callback (#34): the per-option probabilities are
    `nasiam.search.probability_metrics`' keys, the decisions `eval/decisions_above_noise`, and
    the search's settings reach the logger as hyperparameters."""
    from pytorch_lightning.loggers import CSVLogger

    from nasiam.search import probability_metrics

    class Recording(CSVLogger):
        hparams_seen: dict = {}
        metric_keys: set = set()

        def log_hyperparams(self, params, *args, **kwargs):
            type(self).hparams_seen = {**type(self).hparams_seen, **dict(params)}
            return super().log_hyperparams(params, *args, **kwargs)

        def log_metrics(self, metrics, step=None):
            type(self).metric_keys = type(self).metric_keys | set(metrics)
            return super().log_metrics(metrics, step)

    model = searchable_simsiam()
    search = NASSearchCallback(mode="joint", lr=0.05, warmup_epochs=0)
    trainer([search], logger=Recording(tmp_path), max_steps=-1, max_epochs=1).fit(model, loader())
    expected = set(probability_metrics({slot: h.probabilities() for slot, h in search.heads.items()}))
    assert expected and expected <= Recording.metric_keys
    assert {"eval/decisions_above_noise", "eval/decisions"} <= Recording.metric_keys
    assert not {k for k in Recording.metric_keys if k.startswith("nas/")}
    assert Recording.hparams_seen["nas/mode"] == "joint" and Recording.hparams_seen["nas/lr"] == 0.05


def _features(module, batch):
    return [module.backbone(x).flatten(start_dim=1) for x in batch[0]]


def _head_loss(module, features):
    (f0, f1) = features
    z0, z1 = module.projection_head(f0), module.projection_head(f1)
    p0, p1 = module.prediction_head(z0), module.prediction_head(z1)
    return 0.5 * (module.criterion(z0.detach(), p1) + module.criterion(z1.detach(), p0))


@pytest.mark.slow
def test_cached_backbone_features_run_the_backbone_once_per_architecture_batch():
    """features_fn + head_loss_fn (#35): the backbone runs once per architecture batch and the
    policy's N updates replay its features, as `nasiam search` does; with one update a step the
    logits end exactly where the raw-batch replay (loss_fn) leaves them."""
    def fit(updates, **kw):
        torch.manual_seed(0)
        model = searchable_simsiam()
        calls = []
        model.backbone.register_forward_hook(lambda *args: calls.append(1))
        search = NASSearchCallback(mode="bilevel", lr=0.05, warmup_epochs=0, arch_steps_per_step=updates,
                                   arch_dataloader=loader(n=16, label=7, seed=1), **kw)
        trainer([search]).fit(model, loader())
        arch_forwards = len(calls) - 2 * BATCHES_PER_EPOCH   # the weight steps: two views a batch
        return search, arch_forwards, logits(model)

    loss_fn = lambda module, batch: module.training_step(batch, 0)   # noqa: E731
    cached = dict(features_fn=_features, head_loss_fn=_head_loss)
    replayed, replay_forwards, _ = fit(4, loss_fn=loss_fn)
    fast, cached_forwards, _ = fit(4, **cached)
    assert fast.arch_steps == replayed.arch_steps == 4 * BATCHES_PER_EPOCH - 6   # 1+2+3+4 then 4 a step
    assert cached_forwards == 2 * BATCHES_PER_EPOCH                                # two views, once per batch
    assert replay_forwards == 2 * replayed.arch_steps                              # two views every update
    _, _, by_loss = fit(1, loss_fn=loss_fn)
    _, _, by_features = fit(1, **cached)
    for name in by_loss:
        torch.testing.assert_close(by_features[name], by_loss[name])
    with pytest.raises(ValueError, match="go together"):
        NASSearchCallback(features_fn=_features, arch_dataloader=loader())
    with pytest.raises(ValueError, match="not both"):
        NASSearchCallback(loss_fn=loss_fn, arch_dataloader=loader(), **cached)


class FrameworkModule(pl.LightningModule):
    """A LightningModule around a nasiam framework, as benchmarks/driver_choice.py builds one."""

    def __init__(self):
        super().__init__()
        from nasiam.frameworks import SimSiam as NasiamSimSiam

        backbone = nn.Sequential(nn.Conv2d(3, FEATURES, 3, stride=2, padding=1), nn.BatchNorm2d(FEATURES),
                                 nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.model = NasiamSimSiam(backbone, FEATURES, proj_hidden_dim=16, proj_output_dim=PROJ,
                                   pred_hidden_dim=PRED_HIDDEN, heads="search", space=SPACE)

    def training_step(self, batch, batch_index):
        return self.model(batch[0])["loss"]

    def configure_optimizers(self):
        return torch.optim.SGD(nasiam_weight_parameters(self), lr=0.06, momentum=0.9)


def _fit_framework(updates, **kwargs):
    """Fit FrameworkModule for one epoch of bilevel search; the backbone's forwards taken by the
    architecture steps (all of them less the weight steps' two views a batch), and the logits."""
    torch.manual_seed(0)
    module, calls = FrameworkModule(), []
    module.model.backbone.register_forward_hook(lambda *args: calls.append(1))
    search = NASSearchCallback(lr=0.05, warmup_epochs=0, arch_steps_per_step=updates,
                               arch_dataloader=loader(n=16, label=7, seed=1), **kwargs)
    trainer([search]).fit(module, loader())
    return search, len(calls) - 2 * BATCHES_PER_EPOCH, logits(module)


def test_around_a_nasiam_framework_the_updates_replay_cached_features_by_default():
    """#35/#36: where the module's model has `encode` and `head_loss`, the bilevel step runs the
    backbone once per architecture batch (its two views) and the policy's 4 updates replay the
    heads on the cached features, as `nasiam search` does. Before, each update re-ran
    `training_step` on a raw batch: 4 backbone passes of two views per weight step."""
    search, arch_forwards, _ = _fit_framework(4)
    assert search.arch_steps == 4 * BATCHES_PER_EPOCH - 6   # 1+2+3+4 updates, then 4 a step
    assert arch_forwards == 2 * BATCHES_PER_EPOCH            # per weight step: one batch, two views, once


@pytest.mark.slow
def test_the_raw_replay_stays_on_request_and_one_update_lands_where_it_does():
    from nasiam.integrations.lightning import training_step_loss

    raw, raw_forwards, _ = _fit_framework(4, loss_fn=training_step_loss)
    assert raw_forwards == 2 * raw.arch_steps                # every update re-runs the backbone
    # one update a step: no older features to replay, the same logits either way
    _, _, cached = _fit_framework(1)
    _, _, replayed = _fit_framework(1, loss_fn=training_step_loss)
    for name in cached:
        torch.testing.assert_close(cached[name], replayed[name])


def test_arguments_the_export_would_fail_on_are_refused_before_training(tmp_path):
    """The fifth probe of #33: `top_k=0` trained the whole fit, then raised IndexError at its
    end; a framework name or a head's slot (its attribute path, here 70 characters) that
    genotype.json cannot hold was written there, then refused by every reader (`nasiam pretrain
    --head`, compare); an export_dir holding a search run had its genotype.json and heads/
    replaced while its summary.json still named the search's."""
    with pytest.raises(ValueError, match="top_k must be an integer >= 1 or None"):
        NASSearchCallback(top_k=0)
    with pytest.raises(ValueError, match="framework 'My SimSiam' is not a name genotype.json can hold"):
        NASSearchCallback(framework="My SimSiam", export_dir=tmp_path / "out")
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text('{"framework": "simsiam"}')   # as a search writes it
    with pytest.raises(ValueError, match="holds a nasiam run or export \\(summary.json\\)"):
        NASSearchCallback(export_dir=run)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        NASSearchCallback(export_dir=tmp_path / "notes.txt")

    model = SimSiam()
    model.add_module("a" * 70, SearchableHead(FEATURES, PROJ, num_layers=1, space=SPACE))
    fit = trainer([NASSearchCallback(export_dir=tmp_path / "out")])
    with pytest.raises(ValueError, match="slot 'aaa.* is not a name genotype.json can hold"):
        fit.fit(model, loader())
    assert fit.global_step == 0 and not (tmp_path / "out").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine" and sorted(p.name for p in run.iterdir()) == ["summary.json"]


def test_an_export_with_a_slot_that_is_a_path_writes_nothing(tmp_path):
    """The fourteenth probe of #33 (K3): with no export_dir at construction, `export(dir)` of a
    slot named "../../x" wrote `x/` two folders above `dir` (an absolute slot: anywhere), then
    refused the name in genotype.json. Every slot is checked before the first head is written."""
    model = searchable_simsiam()
    search = NASSearchCallback({"../../x": model.projection_head, "predictor": model.prediction_head},
                               warmup_epochs=0)
    trainer([search], max_steps=1).fit(model, loader())
    work = tmp_path / "work"
    with pytest.raises(ValueError, match="slot '../../x' is not a name genotype.json can hold"):
        search.export(work / "out" / "dir")
    assert not work.exists()


def test_an_export_into_a_runs_heads_is_refused_through_links_as_well(tmp_path):
    """#33 probe 17, N8: a run's heads/<slot> is its record too. The callback's heads go by
    nasiam's own door (`write_searched_heads`), which does not refuse a run's folders, so the
    callback checks every heads/<slot> it writes itself: a link to a run's heads/ or heads/<slot>
    inside export_dir would otherwise have replaced the run's heads."""
    run = tmp_path / "run"
    (run / "heads" / "projector").mkdir(parents=True)
    (run / "summary.json").write_text('{"framework": "simsiam"}')   # as a search writes it
    with pytest.raises(ValueError, match=r"export_dir .*/projector holds a nasiam run or export \(\.\./\.\./summary"):
        NASSearchCallback(export_dir=run / "heads" / "projector")
    model = searchable_simsiam()
    search = NASSearchCallback({"projector": model.projection_head, "predictor": model.prediction_head},
                               warmup_epochs=0)
    trainer([search], max_steps=1).fit(model, loader())
    (tmp_path / "linked" / "heads").mkdir(parents=True)
    (tmp_path / "linked" / "heads" / "projector").symlink_to(run / "heads" / "projector")
    (tmp_path / "all").mkdir()
    (tmp_path / "all" / "heads").symlink_to(run / "heads")
    for out, depth in [("linked", 2), ("all", 2)]:
        with pytest.raises(ValueError, match=rf"export_dir .*{out}'s heads/projector holds a nasiam run or export "
                                             rf"\({'[.][.]/' * depth}summary.json\)"):
            search.export(tmp_path / out)
    assert sorted(p.name for p in run.rglob("*")) == ["heads", "projector", "summary.json"]
    assert not (tmp_path / "linked" / "genotype.json").exists() and not (tmp_path / "all" / "genotype.json").exists()


@pytest.mark.slow
def test_resume_replays_the_same_recent_architecture_batches(tmp_path):
    """An N-update search's recent architecture batches (here their cached features, around a
    nasiam framework) go into the checkpoint: two steps, a checkpoint and two more land where
    four steps in one go do. Without them the resumed run's first step takes 1 update, not N."""
    def run(callbacks, **kwargs):
        torch.manual_seed(0)
        module = FrameworkModule()
        # beta constant: the first run's planned length (2 epochs) is not the others' (4 steps)
        search = NASSearchCallback(lr=0.05, warmup_epochs=0, arch_steps_per_step=2, beta_schedule="constant",
                                   arch_dataloader=loader(n=8, label=7, seed=1))   # one batch a pass
        return module, search, trainer([search, *callbacks], **kwargs)

    straight, straight_search, fit = run([], max_steps=4)
    fit.fit(straight, loader(n=8))            # one batch an epoch: resuming replays no other
    saver = ModelCheckpoint(dirpath=tmp_path, filename="half", save_on_train_epoch_end=True)
    first, _, fit = run([saver], max_steps=-1, max_epochs=2, enable_checkpointing=True)
    fit.fit(first, loader(n=8))
    state = torch.load(tmp_path / "half.ckpt", weights_only=True)["callbacks"]["NASSearchCallback"]
    assert len(state["recent_features"]) == 2 and state["recent_encoded"]
    resumed, resumed_search, fit = run([], max_steps=4)
    fit.fit(resumed, loader(n=8), ckpt_path=tmp_path / "half.ckpt")
    assert resumed_search.arch_steps == straight_search.arch_steps == 1 + 2 + 2 + 2
    for name, value in logits(straight).items():
        torch.testing.assert_close(logits(resumed)[name], value)
