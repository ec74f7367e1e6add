"""benchmarks/gpu_profile.py on the CPU: the per-call timing and the host-time ranking it
reports for a GPU session (the kernel columns need CUDA and are absent here)."""
import torch
from _benchmarks import load_benchmark


def test_a_profiled_call_reports_its_wall_time_and_the_operators_with_the_most_host_time():
    profile_calls = load_benchmark("gpu_profile").profile_calls
    a, b, small = torch.randn(1024, 1024), torch.randn(1024, 1024), torch.randn(4)
    calls = []

    def fn():
        calls.append(1)
        for op in (torch.neg, torch.abs, torch.exp, torch.sin, torch.cos, torch.tanh, torch.sigmoid):
            op(small)   # cheap operators: the ranking must put them below the product
        return torch.relu(a @ b)

    r = profile_calls(fn, 3, torch.device("cpu"))
    assert len(calls) == 2 + 3 + 3   # warm-up, timed, profiled
    assert r["wall_ms"] > 0 and r["profiled_ms"] > 0
    assert r["kernel_ms"] is None and r["kernels"] is None   # no GPU: no kernel columns
    top = [entry.split() for entry in r["top_host"].split(", ")]   # "operator ms", aten:: left off
    assert all(len(entry) == 2 and float(entry[1]) >= 0 for entry in top), top
    assert len(top) == 5 and [float(t) for _, t in top] == sorted((float(t) for _, t in top), reverse=True), top
    # the product dominates; its ReLU (clamp_min) can overtake it on a loaded machine
    assert "mm" in [name for name, _ in top[:2]], top


def test_busy_time_is_the_union_of_the_device_intervals():
    busy_time = load_benchmark("gpu_profile").busy_time
    assert busy_time([]) == 0
    assert busy_time([(0, 10), (20, 25)]) == 15
    assert busy_time([(0, 10), (5, 12), (3, 4), (30, 31)]) == 13   # overlaps and one inside another, once
