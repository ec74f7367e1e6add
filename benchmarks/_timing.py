"""Shared timing helpers: interleaved rounds so that every variant sees the same machine state,
medians so that a stray slow step does not move the figure."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(fns: dict[str, Callable[[], None]], device: torch.device, rounds: int = 15,
                        warmup: int = 3, setup: dict[str, Callable[[], None]] | None = None) -> dict[str, float]:
    """Median seconds per call of each function, measured in interleaved rounds. `setup[name]`,
    if given, runs untimed before each call of `fns[name]`."""
    setup = setup or {}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            if name in setup:
                setup[name]()
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def saved_tensor_bytes(fn: Callable[[], torch.Tensor]) -> int:
    """Bytes autograd keeps for the backward pass of `fn()` (distinct storages): the
    activation memory of a forward pass, measurable on CPU as well as GPU."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    out.sum().backward()
    return sum(seen.values())


def peak_cuda_bytes(fn: Callable[[], None], device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn()
    sync(device)
    return torch.cuda.max_memory_allocated(device) - base


def machine() -> str:
    import os
    import platform

    cpu = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        cpu += f", {torch.cuda.get_device_name()}"
    return cpu


def tune_glibc_malloc() -> bool:
    """Keep freed memory in the process instead of returning it to the OS (Linux/glibc).

    PyTorch's CPU allocator is plain malloc: every tensor above the mmap threshold is a
    fresh mmap whose pages fault in on first touch. A training step allocates many such
    tensors; raising the thresholds removes that cost (the effect jemalloc/tcmalloc have).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):
        return False
