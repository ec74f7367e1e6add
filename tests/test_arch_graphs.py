"""CUDA graphs for the architecture update (`Architect(graphs=...)`, `--arch_cuda_graphs`), as far
as a CPU can test them: each graphed region traces as one graph with no break (dynamo's eager
backend with fullgraph, `TRACE_ONLY`: a host sync, a data-dependent shape or branch, or an
untraceable call raises), once for a whole search (no recompile as the step count and the
Beta-Decay ramp move), with the eager update's results over several steps and across a resume; and
the option is refused where it cannot work. Whether the regions are recorded as CUDA graphs, and
what they save, is benchmarks/gpu_throughput.py --graphs on a GPU."""
import pytest
import torch
import torch.nn as nn

from nasiam.config import SearchConfig, load_config
from nasiam.frameworks import framework_class
from nasiam.runner.build import framework_kwargs, searchable_heads
from nasiam.search import Architect
from nasiam.search.architect import ArchitectureOptimizer, Encoded
from nasiam.search.graphs import TRACE_ONLY
from nasiam.space import MLPSpace

dynamo = pytest.importorskip("torch._dynamo")

OPTIONS = {"dataset": "synthetic", "proj_hidden_dim": "32", "proj_output_dim": "32", "pred_hidden_dim": "16",
           "widths": "16,32", "queue_size": "64"}


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each test counts its own graphs (dynamo's caches and counters are per process)."""
    dynamo.reset()
    dynamo.utils.counters.clear()
    yield
    dynamo.reset()


def _graphs() -> int:
    return int(dynamo.utils.counters["stats"]["unique_graphs"])


def _framework(name="simsiam", space="siam", seed=0):
    torch.manual_seed(seed)
    cfg = load_config(SearchConfig, None, {**OPTIONS, "framework": name, "space": space})
    cls = framework_class(name)
    kwargs = framework_kwargs(cfg)
    return cls(nn.Linear(12, 24), 24, heads=searchable_heads(cfg, cls, 24, kwargs), **kwargs).train()


def _batches(name, n=6, seed=1):
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n):
        online = [torch.randn(16, 24, generator=generator) for _ in range(2)]
        batches.append(Encoded(online, [v + 0.1 for v in online] if name.startswith("moco") else None))
    return batches


def _logits(owner):
    """The logits of an Architect, an ArchitectureOptimizer or a framework, as one vector."""
    params = owner.arch_parameters() if isinstance(owner, nn.Module) else owner.arch_params
    return torch.cat([p.detach().reshape(-1) for p in params])


@pytest.mark.slow   # dynamo traces the heads' loss: 10-20 s on two busy cores
@pytest.mark.parametrize("name,space", [("simsiam", "siam"), ("mocov2", "mlp")])
def test_a_search_traces_each_update_region_as_one_graph_once(name, space):
    """The loss on cached features (the siam space's DirectPred predictor, frozen in architecture
    steps, included; MoCo v2's target features and queue) and the update's maths: one graph each,
    with no break, for six architecture steps (up to four updates each) at moving progress. A
    Python step count or Beta-Decay weight in the maths would recompile (and, on a GPU, record a
    graph again) as they move; a host read would raise."""
    model = _framework(name, space)
    architect = Architect(model, graphs=TRACE_ONLY)
    for i, encoded in enumerate(_batches(name)):
        metrics = architect.step(encoded=encoded, progress=i / 6)
        assert {"arch_loss", "beta_decay", "arch_grad_rms"} <= set(metrics)
    assert architect.arch_steps == 4 * 6 - 6   # the replay fills up: 1, 2, 3, then 4 updates a step
    assert _graphs() == 2, dict(dynamo.utils.counters["stats"])
    assert not dynamo.utils.counters["graph_break"] and not dynamo.utils.counters["recompiles"]


@pytest.mark.slow   # dynamo traces the heads' loss: 10-20 s on two busy cores
@pytest.mark.parametrize("name,space", [("simsiam", "siam"), ("simclr", "mlp")])
def test_graphed_updates_equal_the_eager_ones_across_a_resume(name, space, tmp_path):
    """Eight steps uninterrupted, eager, against four graphed steps, a checkpoint, and four more
    graphed steps in a fresh process's objects: the same logits (to float rounding: the graphed
    Adam takes its bias corrections as tensors), the same moments and step count."""
    batches = _batches(name, 8)
    eager_model = _framework(name, space)
    eager = Architect(eager_model)
    for i, encoded in enumerate(batches):
        eager.step(encoded=encoded, progress=i / 8)

    first_model = _framework(name, space)
    first = Architect(first_model, graphs=TRACE_ONLY)
    for i, encoded in enumerate(batches[:4]):
        first.step(encoded=encoded, progress=i / 8)
    torch.save({"model": first_model.state_dict(), "arch": first.state_dict()}, tmp_path / "last.ckpt")

    state = torch.load(tmp_path / "last.ckpt", weights_only=True)
    resumed_model = _framework(name, space, seed=123)   # other initial weights: the checkpoint sets them
    resumed_model.load_state_dict(state["model"])
    resumed = Architect(resumed_model, graphs=TRACE_ONLY)
    resumed.load_state_dict(state["arch"])
    for i, encoded in enumerate(batches[4:], start=4):
        resumed.step(encoded=encoded, progress=i / 8)

    assert resumed.arch_steps == eager.arch_steps == 4 * 8 - 6
    assert not torch.equal(_logits(eager), _logits(_framework(name, space)))   # the logits moved
    torch.testing.assert_close(_logits(resumed), _logits(eager), rtol=1e-5, atol=1e-6)
    # the moments to the gradients' rounding: traced and eager sum in other orders, and an AMD EPYC
    # put one of exp_avg's elements 3.4e-5 (relative) apart; a moment not restored is off by itself
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(resumed.state_dict()[key], eager.state_dict()[key], rtol=1e-4, atol=1e-9)


def test_the_graphed_maths_equal_the_eager_ones_on_a_skip_and_in_float64():
    """A non-finite update is skipped on the host's one read, graphed or not (nothing moves, the
    step count stays); float64 logits keep their precision through the graphed maths."""
    from nasiam import SearchableHead

    def run(graphs):
        torch.manual_seed(0)
        head = SearchableHead(4, 3, 2, MLPSpace(widths=(2, 4))).double()
        arch = ArchitectureOptimizer(head, graphs=graphs, lr=0.1)
        x = torch.randn(8, 4, dtype=torch.float64)
        scales = [1.0, float("nan"), 1.0, 1.0, 1.0]   # the second update's gradients are not finite
        results = [arch.step(lambda s=s: head(x).pow(2).mean() * s, progress=i / 5) for i, s in enumerate(scales)]
        return arch, results

    (eager, eager_results), (graphed, graphed_results) = run(False), run(TRACE_ONLY)
    assert [r.get("arch_skipped") for r in graphed_results] == [None, 1.0, None, None, None]
    assert graphed.arch_steps == eager.arch_steps == 4
    assert all(p.dtype == torch.float64 for p in graphed.arch_params)
    torch.testing.assert_close(_logits(graphed), _logits(eager), rtol=1e-12, atol=1e-12)
    for mine, theirs in zip(graphed_results, eager_results):
        assert mine.keys() == theirs.keys()


def test_cuda_graphs_are_refused_without_cuda_before_anything_compiles(monkeypatch):
    """graphs=True on logits that are not on a CUDA device: a clear error at the first update, before
    inductor is asked to compile anything (minutes on a CPU, for nothing to graph)."""
    model = _framework()
    architect = Architect(model, graphs=True)
    monkeypatch.setattr(torch, "compile", lambda *a, **k: pytest.fail("compiled before the device was checked"))
    with pytest.raises(ValueError, match="need the logits on a CUDA device; they are on cpu"):
        architect.step(encoded=_batches("simsiam", 1)[0])


def test_graphs_are_refused_where_the_host_decides_inside_the_update():
    with pytest.raises(ValueError, match="second-order DARTS"):
        Architect(_framework(), order=2, graphs=True)
    model = _framework(space="mlp")
    model.set_sampling("gumbel", 1.0)
    architect = Architect(model, graphs=TRACE_ONLY)
    with pytest.raises(ValueError, match=r"predictor, projector head\(s\) sample a path"):
        architect.step(encoded=_batches("simsiam", 1)[0])


@pytest.mark.parametrize("options,message", [
    (["--strategy=gumbel"], "--arch_cuda_graphs graphs the first-order bilevel update"),
    (["--mode=joint"], "--arch_cuda_graphs graphs the first-order bilevel update"),
    (["--devices=2"], "--arch_cuda_graphs runs in one process"),
    ([], "--arch_cuda_graphs records the architecture update as CUDA graphs and needs a CUDA GPU"),
])
def test_the_option_is_refused_on_a_cpu_and_with_other_strategies(options, message, tmp_path, capsys):
    """A usage error (exit 2) with the reason, before the run directory is claimed."""
    from _runs import TINY

    from nasiam.cli import main

    code = main(["search", *TINY, "--accelerator=cpu", "--arch_cuda_graphs", *options, f"--out_dir={tmp_path}",
                 "--run_name=graphs"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "graphs").exists()


def test_architecture_steps_read_the_closed_form_predictor_at_one_address():
    """DirectPred's W is a new tensor after every weight-step update; a CUDA graph reads module
    buffers at the addresses it was recorded with and records again where one moved. Inside
    `frozen_statistics` (every architecture step) the predictor applies a copy of W kept at one
    address: the same numbers, the same address step after step."""
    model = _framework("simsiam", "siam")
    layer = model.predictor.layers[0].closed_form()
    addresses = set()
    for encoded in _batches("simsiam", 3):
        model.head_loss(encoded, update_state=True)["loss"].backward()   # a weight step's forward: W moves on
        with model.head_context(False):
            addresses.add(layer.applied_weight.data_ptr())
            assert torch.equal(layer.applied_weight, layer.weight)
    assert int(layer.updates) == 6 and len(addresses) == 1
    assert layer.applied_weight is layer.weight   # outside the architecture steps: W itself
