"""--compile: pretrain and search compile the backbones and heads in place, so the state-dict
keys do not change: a compiled run's checkpoint resumes without --compile, its heads export and
load as usual.

Compiled here with dynamo's "eager" backend: it captures the same graphs as inductor without
generating code, which on two CPU cores takes about a minute per graph. `benchmarks/gpu_smoke.sh`
compiles for real (inductor) on a GPU."""
import pytest
import torch
import torch.nn as nn
from _runs import TINY

from nasiam import NASHead
from nasiam.cli import main
from nasiam.frameworks import create_framework
from nasiam.runner.build import compile_modules
from nasiam.search import Architect

pytestmark = pytest.mark.slow  # every test here trains or compiles

dynamo = pytest.importorskip("torch._dynamo")

PRETRAIN = [a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr", "--epochs"))] + [
    "--linear_probe=false", "--knn_subset=64", "--subset=128"]
SEARCH = [a for a in TINY if not a.startswith(("--epochs", "--warmup_epochs"))] + [
    "--warmup_epochs=0", "--knn_subset=64", "--subset=256", "--epochs=1"]


GUARD_FLAG = "skip_tensor_guards_with_matching_dict_tags"  # an ArchitectureOptimizer clears it for the process


@pytest.fixture(autouse=True)
def dynamo_guard_flag_at_its_default():
    """Each test starts from dynamo's default (on), whatever an earlier test's ArchitectureOptimizer left."""
    saved = getattr(dynamo.config, GUARD_FLAG, None)
    if saved is not None:
        setattr(dynamo.config, GUARD_FLAG, True)
    yield
    if saved is not None:
        setattr(dynamo.config, GUARD_FLAG, saved)


@pytest.fixture
def eager_compile(monkeypatch):
    """`nn.Module.compile` on the eager backend; yields the names of the classes compiled."""
    compiled: list[str] = []
    original = nn.Module.compile

    def compile_eagerly(self, *args, **kwargs):
        compiled.append(type(self).__name__)
        original(self, *args, **{**kwargs, "backend": "eager"})

    monkeypatch.setattr(nn.Module, "compile", compile_eagerly)
    dynamo.reset()
    dynamo.utils.counters.clear()
    yield compiled
    dynamo.reset()


def _graphs() -> int:
    return int(dynamo.utils.counters["stats"]["unique_graphs"])


def test_compile_modules_compiles_backbones_and_heads_in_place(eager_compile):
    model = create_framework("mocov2", nn.Sequential(nn.Flatten(), nn.Linear(12, 8)), 8, proj_hidden_dim=16,
                             proj_output_dim=8, queue_size=16)
    keys = list(model.state_dict())
    assert compile_modules(model) == ["backbone", "projector", "momentum_backbone", "momentum_projector"]
    assert list(model.state_dict()) == keys   # in place: no `_orig_mod.` prefix
    out = model([torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)])
    assert torch.isfinite(out["loss"])
    assert _graphs() > 0


def test_compile_modules_passes_its_options_to_every_module(monkeypatch):
    """`compile_modules(model, mode=...)`: what benchmarks/gpu_throughput.py --compile_mode uses
    to try CUDA graphs (reduce-overhead); every compiled module gets the same options."""
    seen = []
    monkeypatch.setattr(nn.Module, "compile", lambda self, **options: seen.append((type(self).__name__, options)))
    model = create_framework("simsiam", nn.Sequential(nn.Flatten(), nn.Linear(12, 8)), 8, proj_hidden_dim=16,
                             proj_output_dim=8, pred_hidden_dim=4)
    assert compile_modules(model, mode="reduce-overhead") == ["backbone", "projector", "predictor"]
    assert [options for _, options in seen] == [{"mode": "reduce-overhead"}] * 3


def test_pretrain_compiles_and_its_checkpoint_resumes_without_compile(eager_compile, tmp_path, capsys):
    common = [*PRETRAIN, f"--out_dir={tmp_path}", "--run_name=run"]
    assert main(["pretrain", *common, "--epochs=1", "--compile"]) == 0
    assert "torch.compile: backbone, projector, predictor" in capsys.readouterr().out
    assert sorted(eager_compile) and _graphs() > 0   # the step ran through dynamo
    # the same run continued uncompiled: the checkpoint's keys fit the plain modules
    assert main(["pretrain", *common, "--epochs=2", "--resume"]) == 0
    for slot in ("projector", "predictor"):
        head = NASHead.from_pretrained(tmp_path / "run" / "heads" / slot)
        assert torch.isfinite(head(torch.randn(2, head.in_dim))).all()


def test_search_compiles(eager_compile, tmp_path, capsys):
    assert main(["search", *SEARCH, "--compile",
                 f"--out_dir={tmp_path}", "--run_name=s"]) == 0
    assert "torch.compile: backbone, projector, predictor" in capsys.readouterr().out
    assert _graphs() > 0
    assert NASHead.from_pretrained(tmp_path / "s" / "heads" / "projector").out_dim == 32


def test_heads_that_sample_a_path_per_step_stay_eager(eager_compile):
    """Gumbel and one-shot uniform paths change the graph every step: compiling those heads
    (and the momentum projector that follows the projector's path) would only recompile."""
    model = create_framework("mocov2", nn.Sequential(nn.Flatten(), nn.Linear(12, 8)), 8, heads="search",
                             proj_hidden_dim=16, proj_output_dim=8, queue_size=16)
    model.set_sampling("gumbel", 1.0)
    assert compile_modules(model) == ["backbone", "momentum_backbone"]


@pytest.fixture
def aot_compile(monkeypatch):
    """`nn.Module.compile` on dynamo's aot_eager backend: unlike "eager", it builds the autograd
    graph ahead of time, as inductor does, without generating code."""
    original = nn.Module.compile
    monkeypatch.setattr(nn.Module, "compile", lambda self, *a, **kw: original(self, *a, **{**kw, "backend": "aot_eager"}))
    dynamo.reset()
    yield
    dynamo.reset()


def test_a_compiled_search_takes_both_its_weight_and_architecture_steps(aot_compile):
    """The weight step freezes the logits and the architecture step the weights. torch 2.11's
    dynamo did not see that flip (it skips the guards of parameters whose module dict is
    unchanged) and re-ran the graph traced for the weight step: the architecture loss had no
    gradient. `ArchitectureOptimizer` turns the shortcut off. (Newer torch guards the flip anyway: this
    fails on 2.11, the GPU machines' version, not on 2.14.)"""
    torch.manual_seed(0)
    model = create_framework("simsiam", nn.Sequential(nn.Flatten(), nn.Linear(12, 8)), 8, heads="search",
                             proj_hidden_dim=16, proj_output_dim=8, pred_hidden_dim=4)
    compile_modules(model)
    architect = Architect(model, lr=0.1)
    if hasattr(dynamo.config, GUARD_FLAG):  # what fixes it, checked on any torch (2.12+ pass without it)
        assert getattr(dynamo.config, GUARD_FLAG) is False
    weights = torch.optim.SGD(model.weight_parameters(), lr=0.1)
    logits = [p.detach().clone() for p in model.arch_parameters()]
    views = [torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)]
    for _ in range(2):
        with architect.weights_step():
            model(views)["loss"].backward()
        weights.step()
        weights.zero_grad()
        architect.step(views)
    assert not all(torch.equal(a, b) for a, b in zip(logits, model.arch_parameters()))


def test_a_searchable_head_compiles_into_one_graph_under_autocast(monkeypatch):
    """The float32 sections inside a head asked `torch.amp.is_autocast_available`, which torch
    2.11's dynamo cannot trace: a graph break at every call, 9-11 graphs per head. Here it is
    made untraceable on purpose, whatever this torch's dynamo can do."""
    real = torch.amp.is_autocast_available

    def untraceable(device_type):
        dynamo.graph_break()
        return real(device_type)

    monkeypatch.setattr(torch.amp, "is_autocast_available", untraceable)
    dynamo.reset()
    head = create_framework("simsiam", nn.Flatten(), 8, heads="search", proj_hidden_dim=16,
                            proj_output_dim=8, pred_hidden_dim=4).projector
    with torch.autocast("cpu", dtype=torch.bfloat16):
        explained = dynamo.explain(head)(torch.randn(4, 8))
    assert explained.graph_count == 1, [r.reason for r in explained.break_reasons]
