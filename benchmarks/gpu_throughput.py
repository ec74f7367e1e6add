"""Does the GPU wait for its data? Images/s of the model alone vs fed end to end (issue #10).

How to run on a GPU. The device machine has torch 2.11, torchvision 0.26, timm, pytorch-lightning
(with lightning_fabric), safetensors, numpy, matplotlib, tqdm, pyyaml, scipy, and no internet: no
install is needed (an editable install would fetch setuptools>=77 for its build), the checkout on
PYTHONPATH is enough. A session's device time (15 minutes, the machine's start included) holds one
call: `benchmarks/gpu_session.sh` runs benchmarks/gpu_profile.py, this script reduced to fit
(compiled and not, fed by the model alone and device augmentation), then benchmarks/gpu_smoke.sh,
each step's output in its own file under $OUT:

    bash benchmarks/gpu_session.sh $OUT       # device call: timeout_s=570, carry [".data"]

(`.data/fashion-mnist`, the four IDX .gz files, carried; see gpu_smoke.sh). The full-size call
below (40 steps x 3 rounds, workers fed at ~1,500 img/s on an H200) did not finish in 210 s there:

    PYTHONPATH=$PWD python3 benchmarks/gpu_throughput.py --compile

Before spending device time, `bash benchmarks/device_dry_run.sh` runs the throughput and smoke
scripts on a CPU in a copy of that machine's Python environment.

For each step — a plain SimSiam step, the search step (bilevel: weight step + architecture
step on another batch; joint: one backward) — and each feed, timed in interleaved rounds
(medians, `_timing.interleaved_medians`):
  (1) model alone: views already on the device, made once (the limit);
  (2) CPU workers: per-sample torchvision v2 transforms in DataLoader workers, pinned, copied;
  (3) device augmentation: the uint8 images held on the device, `BatchedViews` there
      (nasiam.data.device, what `--data_device=gpu` runs); in the `+compile` rows its
      `apply` is compiled too (`BatchedViews.compile()`: some 225 small operators a batch,
      each a kernel launch paid on the host in the training step's thread).
With `--graphs`, `+graphs` rows time the bilevel steps with the architecture updates as CUDA graphs
(`Architect(graphs=True)`, what `nasiam search --arch_cuda_graphs` runs; the weight step and the
backbone eager), beside the eager and `+compile` rows, and print inductor's CUDA-graph counters
(graphs recorded, regions skipped and why): whether the launch-bound update was graphed at all. On a
CPU (`--tiny`) those rows trace the same regions without graphs (dynamo's eager backend): a smoke
test of the code path, not a measurement.
ResNet-18 with the CIFAR stem, 32 px, batch 512, bf16 autocast and channels-last on a GPU.
Then the projected wall time of a 100-epoch search (bilevel: the weight half, 25,000 images,
per epoch) and an 800-epoch pretrain on 50,000 images, from the median step times (training
steps only: no kNN, checkpoints or start-up).

Without CUDA it runs `--tiny` (resnet10t, 16 px, batch 16, a few steps: < 60 s, a smoke test);
`--device cpu` without --tiny measures the CPU at the sizes given.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import nullcontext

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import interleaved_medians, machine, tune_glibc_malloc  # noqa: E402

from nasiam.backbones import create_backbone, feature_dim  # noqa: E402
from nasiam.data import ArrayImageDataset, MultiViewTransform, augment_recipe, create_dataset, dataset_info  # noqa: E402
from nasiam.data.device import DeviceImages, DeviceViewSet, device_loader  # noqa: E402
from nasiam.frameworks import SimSiam  # noqa: E402
from nasiam.runner.build import compile_modules  # noqa: E402
from nasiam.search import Architect  # noqa: E402
from nasiam.space import MLPSpace  # noqa: E402


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cuda when available; else cpu, and --tiny")
    parser.add_argument("--tiny", action="store_true", help="a smoke-sized run (default without CUDA)")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--dataset", default="random", help="random (uint8 noise, CIFAR-shaped), or a dataset "
                                                            "name read from --data_root (cifar10, fashion_mnist...)")
    parser.add_argument("--data_root", default=None)
    parser.add_argument("--images", type=int, default=20480, help="images held in memory for the feeds")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--steps", type=int, default=40, help="steps per timed call (several loader prefetches)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps_only", default="plain,bilevel,joint",
                        help="which steps to time: plain, bilevel (the default 4 architecture updates a step), "
                             "bilevel1 (one update a step: --arch_steps_per_step 1), joint")
    parser.add_argument("--feeds", default="model,workers,device",
                        help="which feeds to time (model: views made once; workers; device augmentation)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd models (compile time "
                                                               "printed apart)")
    parser.add_argument("--compile_mode", default=None, choices=["default", "reduce-overhead", "max-autotune"],
                        help="torch.compile's mode for --compile (reduce-overhead: CUDA graphs, for steps bound by "
                             "the host's kernel launches; not what the runner's --compile uses)")
    parser.add_argument("--graphs", action="store_true",
                        help="also time the bilevel steps with CUDA-graphed architecture updates (+graphs rows; "
                             "compile and recording time printed apart)")
    parser.add_argument("--augment_only", action="store_true", help="time only the two-view augmentation of a "
                                                                    "batch: per-sample torchvision in this process vs "
                                                                    "BatchedViews on --device")
    parser.add_argument("--epoch_images", type=int, default=50000, help="images per epoch for the projections")
    args = parser.parse_args(argv)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
        args.tiny = args.tiny or args.device == "cpu"
    if args.tiny:
        args.backbone, args.size, args.batch, args.images = "resnet10t", 16, 16, 128
        args.workers, args.steps, args.rounds = min(args.workers, 1), 1, 2
    # heads: the methods' CIFAR sizes and the default search space; tiny ones for the smoke run
    args.heads = dict(proj_hidden_dim=128, proj_output_dim=128, pred_hidden_dim=32) if args.tiny else {}
    args.space = MLPSpace(widths=(64, 128)) if args.tiny else MLPSpace()
    return args


def images_and_info(args):
    """uint8 (N, H, W, C) images and their DatasetInfo."""
    if args.dataset == "random":
        info = dataset_info("cifar10", image_size=args.size)
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8), info
    info = dataset_info(args.dataset, image_size=args.size)
    ds = create_dataset(args.dataset, args.data_root, "train")
    return np.array(ds.images[: args.images]), info  # a writable copy


PREFETCH = 2  # batches each DataLoader worker prepares ahead


def endless(loader):
    while True:
        yield from loader


class Feeds:
    """Three sources of (views) batches for the same images: fixed, CPU workers, device."""

    def __init__(self, args, device, array, info):
        self.device, self.batch = device, args.batch
        recipe = augment_recipe("simsiam", info)
        labels = np.zeros(len(array), dtype=np.int64)
        c = info.channels
        fixed = torch.randn(2 * args.batch, c, args.size, args.size, device=device)
        self.fixed = list(fixed.chunk(2))
        workers = torch.utils.data.DataLoader(
            ArrayImageDataset(array, labels, transform=MultiViewTransform(recipe)), batch_size=args.batch,
            shuffle=True, drop_last=True, num_workers=args.workers, pin_memory=device.type == "cuda",
            persistent_workers=args.workers > 0, prefetch_factor=PREFETCH if args.workers > 0 else None)
        self._workers = endless(workers)
        self._prefetched = args.workers * PREFETCH  # batches the workers hold ready
        storage = DeviceImages(torch.from_numpy(array).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels))
        views = DeviceViewSet(storage, torch.arange(len(array)), recipe, device=device)
        self._device = endless(device_loader(views, args.batch, rank=0, world_size=1))
        self._device_compiled = None
        if args.compile:  # the compiled steps' device feed: the augmentation compiled too (BatchedViews.compile)
            compiled = device_loader(views, args.batch, rank=0, world_size=1)
            compiled.dataset.augment.compile()
            self._device_compiled = endless(compiled)

    def workers(self):
        views, _ = next(self._workers)
        return [v.to(self.device, non_blocking=True) for v in views]

    def drain_workers(self):
        """Drop the batches the workers made while other variants were timed: a timed call
        starts from the steady state (workers busy, nothing ready), not from a full queue."""
        for _ in range(self._prefetched):
            next(self._workers)

    def on_device(self, compiled: bool = False):
        return next(self._device_compiled if compiled else self._device)[0]


def make_steps(args, device, which, channels, graphs=False):
    """Step functions taking (views, arch_views) -> None, built as benchmarks/search_overhead.py does;
    `graphs`: the architecture updates of the bilevel steps as CUDA graphs (`Architect(graphs=...)`)."""
    gpu = device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if gpu else nullcontext
    fmt = torch.channels_last if gpu else torch.contiguous_format

    def backbone():
        return create_backbone(args.backbone, cifar_stem=args.size <= 64, in_chans=channels, zero_init_residual=True)

    dim = feature_dim(backbone())
    sgd = lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9)  # noqa: E731
    prep = lambda views: [v.contiguous(memory_format=fmt) for v in views]  # noqa: E731
    steps, models = {}, {}
    if "plain" in which:
        plain = SimSiam(backbone(), dim, proj_layers=2, **args.heads).to(device, memory_format=fmt)
        opt_plain = sgd(plain.parameters())

        def step_plain(views, _arch, model=plain):
            with autocast():
                loss = model(prep(views))["loss"]
            opt_plain.zero_grad(set_to_none=True)
            loss.backward()
            opt_plain.step()

        steps["plain"], models["plain"] = step_plain, plain
    for name in ("bilevel", "bilevel1"):
        if name not in which:
            continue
        # bilevel: the policy's default updates of the logits a step (4, on the last 4
        # architecture batches' cached features); bilevel1: one (--arch_steps_per_step 1)
        ours = SimSiam(backbone(), dim, proj_layers=2, heads="search", space=args.space, **args.heads).to(device, memory_format=fmt)
        updates = 1 if name == "bilevel1" else None
        opt = sgd(ours.weight_parameters())
        architect = Architect(ours, lr=3e-3, arch_steps_per_step=updates, graphs=graphs)

        def step_bilevel(views, arch_views, model=ours, opt=opt, architect=architect):
            with architect.weights_step():
                with autocast():
                    loss = model(prep(views))["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
            with autocast():
                architect.step(prep(arch_views))

        steps[name], models[name] = step_bilevel, ours
    if "joint" in which:
        joint = SimSiam(backbone(), dim, proj_layers=2, heads="search", space=args.space, **args.heads).to(device, memory_format=fmt)
        opt_joint, architect_joint = sgd(joint.weight_parameters()), Architect(joint, lr=3e-3)

        def step_joint(views, _arch, model=joint):
            with autocast():
                loss = model(prep(views))["loss"]
            opt_joint.zero_grad(set_to_none=True)
            loss.backward()
            opt_joint.step()
            architect_joint.step_from_gradients()

        steps["joint"], models["joint"] = step_joint, joint
    return steps, models


def compiled_steps(args, device, which, channels):
    """The same steps on fresh models, compiled as `--compile` compiles them: the backbone and
    the heads, each in place (`nasiam.runner.build.compile_modules`), in `--compile_mode`."""
    steps, models = make_steps(args, device, which, channels)
    options = {"mode": args.compile_mode} if args.compile_mode else {}
    for model in models.values():
        compile_modules(model, **options)
    return steps


def graphed_steps(args, device, which, channels):
    """The bilevel steps on fresh models with CUDA-graphed architecture updates (on a CPU: the same
    regions traced by dynamo's eager backend, no graphs: a smoke test of the path)."""
    from nasiam.search.graphs import GRAPHED, TRACE_ONLY

    bilevel = [name for name in which if name.startswith("bilevel")]
    steps, _ = make_steps(args, device, bilevel, channels, graphs=GRAPHED if device.type == "cuda" else TRACE_ONLY)
    return steps


def graph_counters() -> str:
    """Inductor's CUDA-graph counters and dynamo's graph breaks and recompiles so far: whether the
    graphed regions were recorded (not skipped) and recorded once."""
    from torch._dynamo.utils import counters

    seen = {f"inductor.{k}": v for k, v in counters["inductor"].items() if "cudagraph" in k}
    seen.update({f"stats.{k}": v for k, v in counters["stats"].items() if k in ("unique_graphs", "calls_captured")})
    seen.update({f"graph_break: {k[:80]}": v for k, v in counters["graph_break"].items()})
    seen.update({f"recompiles: {k[:80]}": v for k, v in counters["recompiles"].items()})
    return ", ".join(f"{k}={v}" for k, v in sorted(seen.items())) or "none"


def augment_only(args, device, array, info):
    """Seconds per two-view batch: per-sample v2 transforms (one process, as one worker does)
    vs BatchedViews on `device`, interleaved."""
    from nasiam.data.batched_augment import BatchedViews

    recipe = augment_recipe("simsiam", info)
    transform = MultiViewTransform(recipe)
    batched = BatchedViews(recipe)
    host = torch.from_numpy(array[: args.batch]).permute(0, 3, 1, 2).contiguous()
    on_device = host.to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    fns = {"per-sample v2": lambda: [transform(image) for image in host],
           "batched": lambda: batched(on_device.repeat(2, 1, 1, 1), generator)}
    seconds = interleaved_medians(fns, device, rounds=args.rounds, warmup=1)
    print(f"\n### Two views of a batch of {args.batch} at {args.size} px ({machine()}, device {device})\n")
    print("| pipeline | ms/batch | images/s |")
    print("|---|---|---|")
    for name, t in seconds.items():
        print(f"| {name} | {t * 1e3:.1f} | {args.batch / t:.0f} |")
    print(f"\nbatched / per-sample speed: {seconds['per-sample v2'] / seconds['batched']:.1f}x")


def main(argv=None):
    args = parse(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        tune_glibc_malloc()
    else:
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    started = time.perf_counter()
    array, info = images_and_info(args)
    if args.augment_only:
        return augment_only(args, device, array, info)
    feeds = Feeds(args, device, array, info)
    which = [w for w in args.steps_only.split(",") if w]
    steps, _ = make_steps(args, device, which, info.channels)
    feeds_timed = [f for f in args.feeds.split(",") if f]
    unknown = set(feeds_timed) - {"model", "workers", "device"} or set(which) - {"plain", "bilevel", "bilevel1", "joint"}
    if unknown or "model" not in feeds_timed:
        raise SystemExit(f"unknown --feeds/--steps_only entries {sorted(unknown)}, or no 'model' feed (the limit)")
    variants = {f"{name}/{feed}": (step, feed) for name, step in steps.items() for feed in feeds_timed}

    def add(more_steps, suffix):   # a compiled or graphed step, fed by the model and the device feeds
        for name, step in more_steps.items():
            variants.update({f"{name}{suffix}/{feed}": (step, feed) for feed in ("model", "device")
                             if feed in feeds_timed})
        return more_steps

    compile_seconds = None
    if args.compile:
        t0 = time.perf_counter()
        add(compiled_steps(args, device, which, info.channels), "+compile")
        for key, (step, feed) in list(variants.items()):  # the first call compiles; time it apart
            if "+compile" in key and feed == "model":
                step(feeds.fixed, feeds.fixed)
        if "device" in feeds_timed:
            feeds.on_device(compiled=True)
        compile_seconds = time.perf_counter() - t0
    graph_seconds = None
    if args.graphs:
        t0 = time.perf_counter()
        for step in add(graphed_steps(args, device, which, info.channels), "+graphs").values():
            # the first calls compile; the next ones record the graphs (cudagraph trees warm up once)
            for _ in range(3):
                step(feeds.fixed, feeds.fixed)
        graph_seconds = time.perf_counter() - t0

    def call(step, feed, compiled):
        def run():
            for _ in range(args.steps):
                if feed == "model":
                    step(feeds.fixed, feeds.fixed)
                elif feed == "workers":
                    step(feeds.workers(), feeds.workers())
                else:
                    step(feeds.on_device(compiled), feeds.on_device(compiled))
        return run

    seconds = interleaved_medians({k: call(*v, "+compile" in k) for k, v in variants.items()}, device,
                                  rounds=args.rounds, warmup=1,
                                  setup={k: feeds.drain_workers for k, (_, feed) in variants.items() if feed == "workers"})
    per_step = {k: s / args.steps for k, s in seconds.items()}
    print(f"\n### Images/s, model alone vs fed end to end: {args.backbone}, {args.size} px, batch {args.batch} "
          f"({machine()}, device {device}, {args.workers} workers{', bf16 autocast, channels-last' if device.type == 'cuda' else ''})\n")
    ref_feed = "device" if "device" in feeds_timed else "model"  # the ms/step and ratio columns' feed
    print(f"| step | model alone (limit) | CPU workers | device augmentation | ms/step, {ref_feed} | / plain |")
    print("|---|---|---|---|---|---|")
    names = [n for n in ("plain", "bilevel", "bilevel1", "joint") if n in steps]
    names += [f"{n}+compile" for n in names if args.compile] + [f"{n}+graphs" for n in names
                                                                 if args.graphs and n.startswith("bilevel")]
    rate = lambda key: args.batch / per_step[key]  # noqa: E731
    for name in names:
        limit = rate(f"{name}/model")
        cells = [f"{limit:.0f}"]
        for feed in ("workers", "device"):
            key = f"{name}/{feed}"
            cells.append(f"{rate(key):.0f} ({rate(key) / limit:.0%})" if key in per_step else "-")
        base = per_step.get(f"plain/{ref_feed}")
        ratio = f"{per_step[f'{name}/{ref_feed}'] / base:.2f}x" if base else "-"
        print(f"| {name} | {' | '.join(cells)} | {per_step[f'{name}/{ref_feed}'] * 1e3:.1f} | {ratio} |")
    print("\nimages/s counts the training batch (2 views each); the bilevel step also takes an architecture batch.")
    if compile_seconds is not None:
        print(f"torch.compile: {compile_seconds:.0f} s for the first calls of the compiled models")
    if graph_seconds is not None:
        kind = "CUDA graphs" if device.type == "cuda" else "traced only (no CUDA: dynamo's eager backend)"
        print(f"+graphs, architecture updates {kind}: {graph_seconds:.0f} s to compile and record (3 calls each)")
        print(f"graph counters: {graph_counters()}")
    # projections: a search's epoch is its weight half (bilevel) or all images (joint)
    print(f"\n### Projected training time on {args.epoch_images} images (steps only)\n")
    print("| run | feed | steps | projected |")
    print("|---|---|---|---|")
    plans = [("100-epoch search, bilevel", "bilevel", 100, args.epoch_images // 2),
             ("100-epoch search, bilevel, 1 update a step", "bilevel1", 100, args.epoch_images // 2),
             ("100-epoch search, joint", "joint", 100, args.epoch_images),
             ("800-epoch pretrain", "plain", 800, args.epoch_images)]
    for label, name, epochs, images in plans:
        if name not in steps:
            continue
        total = epochs * (images // args.batch)
        for feed in feeds_timed:
            hours = total * per_step[f"{name}/{feed}"] / 3600
            print(f"| {label} | {feed} | {total} | {hours * 60:.1f} min |")
    print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
