"""Device-resident data: index batches (seeded, sharded, resumable), the loader, the runner wiring."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _runs import TINY

from nasiam import NASHead
from nasiam.cli import main
from nasiam.config import ConfigError, SearchConfig
from nasiam.data import ArrayImageDataset, SyntheticImages, augment_recipe, dataset_info, search_split
from nasiam.data.device import DeviceBatches, DeviceImages, DeviceViewSet, device_loader, shard_batches
from nasiam.runner import build
from nasiam.runner.batches import ResumableBatches

RECIPE = augment_recipe("simsiam", dataset_info("cifar10"))


def _views(n=40, size=16):
    """A view set whose labels are the images' own indices, so batches say which images they hold."""
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return DeviceViewSet(DeviceImages(images, torch.arange(n)), torch.arange(n), RECIPE)


def _pass(loader):
    return [(views, labels.clone()) for views, labels in loader]


def test_rank_shards_are_disjoint_equal_and_cover_the_permutation():
    n, world = 103, 3
    shards = [torch.cat(shard_batches(n, 8, seed=5, rank=r, world_size=world, drop_last=False)) for r in range(world)]
    assert [len(s) for s in shards] == [n // world] * world  # the same number of steps on every rank
    together = torch.cat(shards)
    assert len(set(together.tolist())) == len(together)  # disjoint
    order = torch.randperm(n, generator=torch.Generator().manual_seed(5))
    assert set(together.tolist()) == set(order[: n // world * world].tolist())
    dropped = shard_batches(n, 8, seed=5, rank=0, world_size=world, drop_last=True)
    assert all(len(b) == 8 for b in dropped) and len(dropped) == (n // world) // 8
    assert not torch.equal(torch.cat(shard_batches(n, 8, seed=6)), torch.cat(shard_batches(n, 8, seed=5)))
    with pytest.raises(ValueError, match="rank 3 is not in"):
        shard_batches(n, 8, seed=5, rank=3, world_size=3)
    # fewer images than ranks: every rank takes no step (not one empty batch its length does not count)
    assert shard_batches(2, 8, seed=5, rank=1, world_size=3, drop_last=False) == []


def test_a_pass_visits_each_image_at_most_once_in_len_full_batches():
    loader = device_loader(_views(), batch_size=8, rank=0, world_size=1)
    batches = _pass(loader)
    assert len(batches) == len(loader) == 5
    seen = torch.cat([labels for _, labels in batches])
    assert len(set(seen.tolist())) == 40
    views, labels = batches[0]
    assert len(views) == 2 and views[0].shape == (8, 3, 32, 32) and views[0].dtype == torch.float32  # recipe: 32
    assert not torch.allclose(views[0], views[1])  # two independent views of the same images
    partial = device_loader(_views(44), batch_size=8, drop_last=True, rank=0, world_size=1)
    assert len(partial) == len(_pass(partial)) == 5


@pytest.mark.slow
def test_passes_reshuffle_and_a_fixed_seed_gives_the_same_batches_per_epoch():
    seeded = DeviceBatches(_views(), batch_size=8, seed=3)
    first = [labels for _, labels in seeded]
    again = [labels for _, labels in DeviceBatches(_views(), batch_size=8, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    seeded.set_epoch(1)
    assert not all(torch.equal(a, b) for a, b in zip(first, (labels for _, labels in seeded)))
    views_a = next(iter(DeviceBatches(_views(), batch_size=8, seed=3)))[0][0]
    views_b = next(iter(DeviceBatches(_views(), batch_size=8, seed=3)))[0][0]
    torch.testing.assert_close(views_a, views_b, atol=0, rtol=0)  # the augmentations too
    loader = device_loader(_views(), batch_size=8, rank=0, world_size=1)  # seed=None: global RNG per pass
    one, two = _pass(loader), _pass(loader)
    assert not all(torch.equal(a[1], b[1]) for a, b in zip(one, two))


def test_ranks_of_a_seeded_pass_get_disjoint_images_and_their_own_augmentations():
    ranks = [DeviceBatches(_views(48), batch_size=8, seed=1, rank=r, world_size=2) for r in range(2)]
    labels = [torch.cat([b for _, b in r]) for r in ranks]
    assert not set(labels[0].tolist()) & set(labels[1].tolist())
    assert len(labels[0]) == len(labels[1]) == 24


def test_a_rebuilt_loader_continues_the_epochs_of_the_original():
    """As tests/test_loader_resume.py for the worker pipeline: the checkpoint's RNG state
    at an epoch boundary gives the next epoch's batches and views again."""
    torch.manual_seed(0)
    original = device_loader(_views(), batch_size=8, rank=0, world_size=1)
    _pass(original)
    state = torch.get_rng_state()
    second = _pass(original)
    torch.set_rng_state(state)
    resumed = _pass(device_loader(_views(), batch_size=8, rank=0, world_size=1))
    for (views_a, labels_a), (views_b, labels_b) in zip(second, resumed):
        assert torch.equal(labels_a, labels_b)
        torch.testing.assert_close(views_a[0], views_b[0], atol=0, rtol=0)


def test_the_runners_mid_epoch_position_replays_the_device_pass():
    torch.manual_seed(0)
    loader = device_loader(_views(), batch_size=8, rank=0, world_size=1)
    batches = ResumableBatches(loader)
    taken = [next(batches) for _ in range(2)]
    position = batches.position()
    rest = list(batches)
    replayed = list(ResumableBatches(device_loader(_views(), batch_size=8, rank=0, world_size=1), position=position))
    assert len(taken) + len(rest) == 5 and len(replayed) == len(rest)
    for (views_a, labels_a), (views_b, labels_b) in zip(rest, replayed):
        assert torch.equal(labels_a, labels_b)
        torch.testing.assert_close(views_a[1], views_b[1], atol=0, rtol=0)


def test_device_images_of_in_memory_datasets_match_their_items():
    array = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    dataset = ArrayImageDataset(array, np.arange(10))
    images = DeviceImages.from_dataset(dataset, [7, 2, 5])
    assert images.images.shape == (3, 3, 8, 8) and images.targets.tolist() == [7, 2, 5]
    assert torch.equal(images.images[1], torch.as_tensor(dataset[2][0]))
    synthetic = SyntheticImages(size=6, image_size=8, transform=lambda x: x.float())
    held = DeviceImages.from_dataset(synthetic, [4, 1])
    synthetic.transform = None
    assert held.images.dtype == torch.uint8 and torch.equal(held.images[0], torch.as_tensor(synthetic[4][0]))
    with pytest.raises(TypeError, match="not held in memory"):
        DeviceImages.from_dataset(torch.utils.data.TensorDataset(torch.zeros(2)))


def _config(cls=SearchConfig, **overrides):
    base = dict(dataset="synthetic", subset=96, image_size=16, batch_size=16, epochs=2, num_workers=0)
    return cls(**{**base, **overrides})


def test_data_device_cpu_builds_both_search_halves_on_one_storage():
    cfg = _config(data_device="cpu")
    info = build.data_info(cfg)
    data = build.build_train_data(cfg, info, bilevel=True)
    assert isinstance(data.weight, DeviceViewSet) and isinstance(data.arch, DeviceViewSet)
    assert data.weight.storage is data.arch.storage and len(data.weight.storage) == 96  # the images once
    weight_pos, arch_pos = search_split(96, 0.5, seed=cfg.seed)
    assert data.weight.indices.tolist() == weight_pos and data.arch.indices.tolist() == arch_pos
    assert len(data.calibration) == len(weight_pos)  # BatchNorm recalibration: unchanged, per-sample
    loader = build.make_loader(data.weight, cfg, True, True)
    assert len(loader) == 48 // 16
    views, _ = next(iter(loader))
    assert views[0].shape == (16, 3, 16, 16)
    plain = build.build_train_data(_config(), info, bilevel=True)  # auto on a CPU: the worker pipeline
    assert isinstance(plain.weight, torch.utils.data.Subset)


def test_bad_data_device_choices_are_config_errors_naming_the_option():
    info = build.data_info(_config())
    with pytest.raises(ConfigError, match="--data_device: 'tpu' is not one of auto, cpu, gpu, workers"):
        build.build_train_data(_config(data_device="tpu"), info)
    with pytest.raises(ConfigError, match="--data_device=cpu: imagefolder is read image by image"):
        build.resolve_data_device(_config(dataset="imagefolder", data_device="cpu"), torch.utils.data.Dataset(), 10)
    if not torch.cuda.is_available():
        data = build.build_train_data(_config(data_device="gpu"), info)  # `nasiam export` needs this to work
        with pytest.raises(ConfigError, match="--data_device=gpu needs a CUDA GPU"):
            build.make_loader(data.weight, _config(data_device="gpu"), True, True)


@pytest.fixture
def loaders_made(monkeypatch):
    """The view sets the runner made device loaders for (proof that it took the batched path)."""
    made = []
    real = build.device_loader
    monkeypatch.setattr(build, "device_loader", lambda views, *a, **k: made.append(views) or real(views, *a, **k))
    yield made


@pytest.mark.slow
def test_search_on_the_batched_cpu_pipeline_finishes_and_exports(tmp_path, loaders_made):
    assert main(["search", *TINY, "--data_device=cpu", f"--out_dir={tmp_path}",
                 "--run_name=search"]) == 0
    assert len(loaders_made) == 2 and loaders_made[0].storage is loaders_made[1].storage  # both halves
    for slot in ("projector", "predictor"):
        NASHead.from_pretrained(tmp_path / "search" / "heads" / slot)


@pytest.mark.slow
def test_pretrain_on_the_batched_cpu_pipeline_finishes(tmp_path, loaders_made):
    pretrain = [a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr"))]
    assert main(["pretrain", *pretrain, "--data_device=cpu", "--linear_probe=true", f"--out_dir={tmp_path}",
                 "--run_name=pretrain"]) == 0
    assert len(loaders_made) == 1
    assert (tmp_path / "pretrain" / "summary.json").is_file()


@pytest.mark.slow
def test_the_gpu_throughput_benchmark_runs_its_tiny_version_on_a_cpu():
    """The smoke test of benchmarks/gpu_throughput.py (the full run needs a GPU): every step and
    feed runs and the tables come out."""
    script = Path(__file__).parent.parent / "benchmarks" / "gpu_throughput.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(script), "--tiny", "--device=cpu"], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    for row in ("| plain |", "| bilevel |", "| joint |", "| 100-epoch search, bilevel | device |",
                "| 800-epoch pretrain | workers |"):
        assert row in result.stdout, result.stdout


@pytest.mark.slow
def test_the_gpu_throughput_benchmark_times_the_steps_and_feeds_asked_for():
    """--steps_only bilevel1 (one architecture update a step) and --feeds without the workers:
    the rows asked for, no workers column, the ratio taken on the device feed; --graphs adds the
    bilevel steps with graphed architecture updates (on a CPU traced, not graphed) and the counters."""
    script = Path(__file__).parent.parent / "benchmarks" / "gpu_throughput.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(script), "--tiny", "--device=cpu", "--steps_only=plain,bilevel1",
                             "--feeds=model,device", "--graphs"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines()
            if line.startswith(("| plain |", "| bilevel1 |", "| bilevel1+graphs |"))]
    assert len(rows) == 3 and all(row.split("|")[3].strip() == "-" for row in rows), result.stdout  # no workers
    assert "| plain+graphs |" not in result.stdout   # only the search steps have an update to graph
    assert "traced only (no CUDA" in result.stdout and "graph counters: " in result.stdout
    assert "| 100-epoch search, bilevel, 1 update a step | device |" in result.stdout
    assert "| bilevel |" not in result.stdout and "| workers |" not in result.stdout
    bad = subprocess.run([sys.executable, str(script), "--tiny", "--device=cpu", "--feeds=device,gpu"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode != 0 and "gpu" in bad.stderr and "model" in bad.stderr


def _empty_fashion_mnist(folder: Path) -> Path:
    """The four IDX file names, empty: all the smoke test checks before its (stand-in) runs."""
    folder.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes(b"")
    return folder


def test_the_gpu_session_runs_every_step_and_exits_with_the_first_failure(tmp_path):
    """benchmarks/gpu_session.sh, the one device call, with a stand-in Python: a failed step
    (here the profile) neither stops the steps after it nor goes unreported."""
    fake = tmp_path / "python"
    fake.write_text("#!/usr/bin/env bash\n"
                    "echo \"$@\" >> \"$CALLS\"\n"
                    "case \"$*\" in *gpu_profile.py*) exit 3;; esac\n"
                    "exit 0\n")
    fake.chmod(0o755)
    out, calls = tmp_path / "out", tmp_path / "calls.txt"
    data = _empty_fashion_mnist(tmp_path / "data")   # not .data/: a fresh clone has none
    script = Path(__file__).parent.parent / "benchmarks" / "gpu_session.sh"
    env = {**os.environ, "PYTHON": str(fake), "CALLS": str(calls), "DEADLINE": "600", "SMOKE_DIR": str(tmp_path / "smoke"),
           "SMOKE_DATA": str(data)}
    result = subprocess.run(["bash", str(script), str(out)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    for name in ("gpu.txt", "profile.md", "throughput.md", "smoke.log"):
        assert (out / name).is_file(), name
    assert "profile: exit 3" in result.stdout and "throughput: exit 0" in result.stdout and "smoke: exit" in result.stdout
    assert (out / "smoke-runs" / "search-bf16.log").is_file()   # each smoke run's log comes back
    throughput = [line for line in calls.read_text().splitlines() if "gpu_throughput.py" in line]
    assert len(throughput) == 1 and "--feeds model,device --compile --graphs" in throughput[0]
    assert "bilevel1" in throughput[0]


def _fake_smoke(tmp_path, fail=""):
    """benchmarks/gpu_smoke.sh with a stand-in Python that logs when each run starts and ends
    (and fails the run named `fail`); returns (CompletedProcess, {run: (start, end)}, the
    OMP_NUM_THREADS each run was given)."""
    data = _empty_fashion_mnist(tmp_path / "data")
    fake, times = tmp_path / "python", tmp_path / "times.txt"
    fake.write_text("#!/usr/bin/env bash\n"
                    "name=$(printf '%s\\n' \"$@\" | sed -n 's/^--run_name=//p')\n"
                    "[[ -z $name ]] && exit 0   # the heads check\n"
                    "echo \"$name start $(date +%s.%N) $OMP_NUM_THREADS\" >> \"$TIMES\"\n"
                    "sleep 0.5\n"
                    "echo \"$name end $(date +%s.%N)\" >> \"$TIMES\"\n"
                    "[[ $name == \"$FAIL\" ]] && exit 7\n"
                    "exit 0\n")
    fake.chmod(0o755)
    script = Path(__file__).parent.parent / "benchmarks" / "gpu_smoke.sh"
    env = {**os.environ, "PYTHON": str(fake), "TIMES": str(times), "FAIL": fail, "NASIAM_SMOKE_CPU": "1",
           "SMOKE_JOBS": "4"}
    result = subprocess.run(["bash", str(script), str(data), str(tmp_path / "out")], capture_output=True, text=True,
                            timeout=120, env=env)
    spans: dict[str, list[float]] = {}
    threads: list[int] = []
    for line in times.read_text().splitlines() if times.exists() else []:
        name, _, when, *given = line.split()
        spans.setdefault(name, []).append(float(when))
        threads += [int(n) for n in given]   # the start lines carry the run's threads
    return result, spans, threads


def test_the_gpu_smoke_test_runs_a_phase_at_once_and_the_pretraining_after_the_searches(tmp_path):
    result, spans, threads = _fake_smoke(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    searches = [n for n in spans if n.startswith("search-")]
    pretrains = [n for n in spans if n.startswith("pretrain-")]
    assert len(searches) == 6 and len(pretrains) == 3
    assert all(f"ok     {name} (" in result.stdout for name in searches + pretrains)
    # SMOKE_JOBS=4: some searches overlapped, never more than four at once
    events = sorted((t, +1 if i == 0 else -1) for start_end in (spans[n] for n in searches)
                    for i, t in enumerate(start_end))
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert 2 <= peak <= 4, peak
    assert max(spans[n][1] for n in searches) <= min(spans[n][0] for n in pretrains)
    # each run gets its share of the cores, at least one thread
    assert set(threads) == {max(1, len(os.sched_getaffinity(0)) // 4)}
    # a run's end is reported when it happens, before the phase's report (a cut test says how far it got)
    lines = result.stdout.splitlines()
    ended = [i for i, line in enumerate(lines) if line.startswith("ended  search-bf16: exit 0 after ")]
    reported = [i for i, line in enumerate(lines) if line.startswith("ok     search-bf16 (")]
    assert len(ended) == len(reported) == 1 and ended[0] < reported[0], result.stdout


def test_a_failed_smoke_run_is_named_with_its_exit_and_stops_the_next_phase(tmp_path):
    result, spans, _ = _fake_smoke(tmp_path, fail="search-fp16")
    assert result.returncode == 1
    assert "FAILED search-fp16 (exit 7" in result.stderr and "ok     search-bf16 (" in result.stdout
    assert not any(name.startswith("pretrain-") for name in spans)


def test_auto_holds_the_data_on_the_gpu_only_when_training_there_and_it_fits(monkeypatch):
    cfg = _config()
    dataset = SyntheticImages(size=8, image_size=16)
    assert build.resolve_data_device(cfg, dataset, 8) is None  # a CPU: the worker pipeline
    gpu = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(build, "training_device", lambda cfg: gpu)
    asked = []
    monkeypatch.setattr(build, "can_hold", lambda nbytes, device: asked.append(nbytes) or nbytes < 10_000)
    assert build.resolve_data_device(cfg, dataset, 8) == gpu
    assert asked == [8 * 3 * 16 * 16]  # the uint8 images, not their float views
    assert build.resolve_data_device(cfg, dataset, 100) is None  # too large: workers
    assert build.resolve_data_device(_config(data_device="workers"), dataset, 8) is None
    assert build.resolve_data_device(_config(dataset="imagefolder"), torch.utils.data.Dataset(), 8) is None
