"""The training steps do not wait for the device: nasiam reads loss values and flags back once
per logging interval and per epoch, and the architecture step once (its skip decision). Counted
on CPU by the host reads of nasiam's own code; on a GPU each such read is a synchronisation."""
import pytest
from _host_reads import HostReads
from _runs import TINY

from nasiam.cli import main

QUIET = ["--log_every_n_steps=1000", "--knn_subset=64", "--epochs=1", "--data_device=workers"]
PRETRAIN = [a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr", "--epochs"))] + QUIET + [
    "--linear_probe=false"]
SEARCH = [a for a in TINY if not a.startswith(("--warmup_epochs", "--epochs"))] + QUIET + [
    "--warmup_epochs=0"]


def _reads(monkeypatch, tmp_path, command, args, subset):
    with monkeypatch.context() as patch:
        reads = HostReads(patch, exclude=("data", "eval"))  # the loaders and the final kNN are not the step
        assert main([command, *args, f"--subset={subset}", f"--out_dir={tmp_path}", f"--run_name=n{subset}"]) == 0
    return reads.count


@pytest.mark.slow
def test_pretrain_steps_read_nothing_back(monkeypatch, tmp_path):
    # 256 images: 8 steps of 32; 512 images: 16 steps
    assert _reads(monkeypatch, tmp_path, "pretrain", PRETRAIN, 256) == _reads(monkeypatch, tmp_path, "pretrain",
                                                                              PRETRAIN, 512)


@pytest.mark.slow
def test_search_steps_read_back_once_per_architecture_update(monkeypatch, tmp_path):
    # bilevel: half the images train the weights (4 or 8 steps), each followed by the policy's
    # default 4 architecture updates on the recent batches (1, 2, 3, then 4 as the cache fills):
    # 10 updates against 26, one read each
    few, more = (_reads(monkeypatch, tmp_path, "search", SEARCH, n) for n in (256, 512))
    assert more - few == 16


@pytest.mark.parametrize("space", ["mlp", "nasiam"])
@pytest.mark.parametrize("mode", ["gumbel", "argmax", "uniform"])
def test_a_sampled_path_is_read_back_once_per_layer_and_step(monkeypatch, space, mode):
    """Hard modes evaluate only the selected branches, which the host must know: the head
    reads each layer's sample once (Gumbel and argmax from the device; uniform from the CPU
    generator), and the forwards that share it (both views, the momentum target) read nothing."""
    import torch

    from nasiam import SearchableHead

    head = SearchableHead(16, 16, num_layers=2, space=space).set_sampling(mode, tau=1.0)
    with monkeypatch.context() as patch:
        counter = HostReads(patch)
        with head.shared_sample():
            outputs = [head(torch.randn(4, 16)) for _ in range(3)]
            decisions = head.current_decisions()
    assert counter.count == 2  # two searchable layers
    assert all(torch.isfinite(y).all() for y in outputs)
    assert len(decisions) == 2


@pytest.mark.slow
def test_an_architecture_update_launches_a_bounded_number_of_kernels(capsys):
    """benchmarks/dispatch_count.py, the CPU proxy for the search step's GPU cost (launch-bound on
    an H200: 3.4-4.5x a plain step). One update launched 807 kernel operators with torch 2.14 (205
    of them the head loss's forward; ResNet-18, 4 updates), 438 (161) since the mixed ops are
    stacked; the bounds leave room for other torch versions and backbones, not for a change that
    adds a pass over the heads or unstacks the candidates."""
    from _benchmarks import load_benchmark

    load_benchmark("dispatch_count").main(["--backbone", "resnet10t", "--updates", "2"])
    rows = {line.split("|")[1].strip(): int(line.split("|")[2]) for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and line.split("|")[2].strip().isdigit()}
    assert 300 <= rows["one update"] <= 560, rows
    assert rows["of which the head loss forward"] <= 220, rows
    # two updates and one backbone encode: more than two updates' worth, and not three
    step = rows["search: architecture step (2 updates + 1 backbone encode)"]
    assert 2 * rows["one update"] < step < 3 * rows["one update"], rows
