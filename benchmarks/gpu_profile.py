"""Where a step's time goes on a GPU: kernels, or the host launching them?

benchmarks/gpu_throughput.py measured on an H200 that the bilevel search step costs 3.4-4.5x a
plain one and that device augmentation feeds a plain step at 55-67 % of the model's own rate.
Both could be launch-bound (each of hundreds of small operators costs a few microseconds of
host time whatever its arithmetic; benchmarks/dispatch_count.py counts them) or kernel-bound.
Which one decides the lever: fusion and CUDA graphs for the first, less arithmetic for the
second. This times a few calls of each part, then profiles as many under torch.profiler, and
reports per call: the wall time (unprofiled, and profiled), the time the GPU spent in kernels
and its share of the unprofiled wall time, the kernels launched, and the operators that took
the most host time.

    python3 benchmarks/gpu_profile.py                  # on the device, ~30 s (gpu_session.sh runs it)
    python3 benchmarks/gpu_profile.py --tiny           # a CPU smoke run (no kernel columns)

Same models, sizes and feeds as gpu_throughput.py (ResNet-18, 32 px, batch 512, bf16 autocast,
channels-last): the two-view augmentation of a batch alone, a plain step and a bilevel step
with 4 updates and with 1, each fed by views made once (the model alone).
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gpu_throughput  # noqa: E402


def busy_time(intervals: list[tuple[float, float]]) -> float:
    """The length of the union of (start, end) intervals: the time the device had work."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def profile_calls(fn, calls: int, device: torch.device) -> dict:
    """Wall time, kernel time and kernel count per call of `fn`, and its top host operators."""
    gpu = device.type == "cuda"
    def sync():
        if gpu:
            torch.cuda.synchronize(device)

    for _ in range(2):   # warm-up: allocations, cuDNN's choice, lazy state
        fn()
    sync()
    # unprofiled first: the profiler adds host time to every operator, which would make a
    # launch-bound call look even more so; the kernels' own times do not change under it
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    plain_wall = (time.perf_counter() - started) / calls
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    with profile(activities=activities) as prof:
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        profiled_wall = (time.perf_counter() - started) / calls
    averages = prof.key_averages()
    # the device's own events (kernels, copies, fills), not the user annotations kineto also
    # puts on the device's timeline; busy: the union of their intervals (an aten operator's
    # averaged row repeats its kernels' time, and kernels on two streams may overlap)
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
               and not getattr(e, "is_user_annotation", False)] if gpu else []
    busy = busy_time([(e.time_range.start, e.time_range.end) for e in kernels])
    host_ops = sorted((e for e in averages if e.key.startswith("aten::")), key=lambda e: e.self_cpu_time_total,
                      reverse=True)[:5]
    return {"wall_ms": plain_wall * 1e3, "profiled_ms": profiled_wall * 1e3,
            "kernel_ms": busy / 1e3 / calls if gpu else None,
            "kernels": len(kernels) / calls if kernels else None,
            "top_host": ", ".join(f"{e.key[6:]} {e.self_cpu_time_total / 1e3 / calls:.1f}" for e in host_ops)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5, help="profiled calls of each part")
    parser.add_argument("--tiny", action="store_true", help="CPU-sized (the default without CUDA)")
    args = parser.parse_args(argv)
    bench = gpu_throughput.parse(["--workers", "0", "--steps_only", "plain,bilevel,bilevel1", "--images", "4096",
                                  *(["--tiny"] if args.tiny else [])])
    device = torch.device(bench.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    array, info = gpu_throughput.images_and_info(bench)
    feeds = gpu_throughput.Feeds(bench, device, array, info)
    steps, _ = gpu_throughput.make_steps(bench, device, ["plain", "bilevel", "bilevel1"], info.channels)
    parts = {
        "two-view augmentation of a batch (device)": feeds.on_device,
        "plain step (views made once)": lambda: steps["plain"](feeds.fixed, feeds.fixed),
        "bilevel step, 4 updates": lambda: steps["bilevel"](feeds.fixed, feeds.fixed),
        "bilevel step, 1 update": lambda: steps["bilevel1"](feeds.fixed, feeds.fixed),
    }
    print(f"\n### Profile per call: {bench.backbone}, {bench.size} px, batch {bench.batch}, device {device} "
          f"({gpu_throughput.machine()}, torch {torch.__version__}, {args.calls} calls each)\n")
    print("| part | wall ms | profiled wall ms | GPU kernels ms (busy share of the wall) | kernels | "
          "most host time, profiled (ms): aten operator |")
    print("|---|---|---|---|---|---|")
    for name, fn in parts.items():
        r = profile_calls(fn, args.calls, device)
        busy = "—" if r["kernel_ms"] is None else f"{r['kernel_ms']:.1f} ({100 * r['kernel_ms'] / r['wall_ms']:.0f} %)"
        kernels = "—" if r["kernels"] is None else f"{r['kernels']:.0f}"
        print(f"| {name} | {r['wall_ms']:.1f} | {r['profiled_ms']:.1f} | {busy} | {kernels} | {r['top_host']} |")
    print("\nA busy share well under 100 % means the GPU waited for the host to launch the kernels: fusion "
          "(--compile) or CUDA graphs are the lever, not less arithmetic.")


if __name__ == "__main__":
    main()
