"""CUDA graphs for the architecture update (issue #35, item 3): `Architect(model, graphs=True)`,
`nasiam search --arch_cuda_graphs`.

On a GPU the default bilevel search step is launch-bound: on an H200 it took 3.4-4.5x a plain
step while its kernels are small (benchmarks/RESULTS.md), because each update of the logits is
a few hundred operators, each a kernel launch of ~35 us paid by the host. An update on cached
backbone features is two regions with nothing for the host to decide inside:

1. the architecture loss: the heads' forward on the cached features and, through AOTAutograd,
   its backward to the logits (`Architect`);
2. the update maths: normalise, Beta-Decay, centre, Adam on the padded logits
   (`update_logits`), with the values the host reads (`ArchitectureOptimizer.finish`).

With graphs on, each region is `torch.compile(mode="reduce-overhead", fullgraph=True)`:
inductor fuses its operators and records them as a CUDA graph that replays with one launch.

Why torch.compile's CUDA graphs rather than a hand capture (`torch.cuda.CUDAGraph`,
`make_graphed_callables`): the loss region needs its backward. Inductor's cudagraph trees record
the forward and the backward AOTAutograd compiles for it, keep the static input buffers and
the memory pool, record again where an input's shape changes, and fall back to the compiled
(ungraphed) code with a logged reason ("skipping cudagraphs due to ...") where a region cannot
be captured. `make_graphed_callables` captures a module's backward for the parameters that need
gradients at capture time, and the heads' weights need them on weight steps, the logits on
architecture steps; a hand capture of `autograd.grad` would redo the trees' bookkeeping.

Outside the graphs, eager, and why:
* the gradients' concatenation (one operator) and, under DDP, their all_reduce (a collective);
* the one read of the device per update (the skip decision on non-finite gradients, the fp16
  loss scale's check, the metrics): a read inside a graph is a host sync, refused at capture,
  and the skip is a host decision (logits, moments and step count change only on a finite
  update), taken on the same read as before;
* the copy of the new logits and moments into the parameters and the state: a graph's outputs
  are overwritten by its next replay;
* the fp16 loss scale: it multiplies the loss and divides the gradients outside the loss graph
  (the backward graph takes the scaled seed as an input), so it stays a host number that may
  change without a recompile.
The step count and Beta-Decay's weight enter the maths graph as device tensors
(`update_logits`'s tensor form), written with `fill_` before each replay: a Python number would
be burnt into the graph, recompiled and recorded again at every step.

Capture-safety is checked on a CPU by tracing each region with dynamo's "eager" backend and
`fullgraph=True` (`TRACE_ONLY`), which raises on any graph break: a host sync, a
data-dependent shape or branch, an unsupported call. Shapes are static: the architecture
batches drop their incomplete last one (`drop_last`), so every update sees one shape. Only a GPU
can say whether both regions are recorded rather than skipped, how often, and what they save:
benchmarks/gpu_throughput.py's `+graphs` rows print inductor's counters with the times.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

__all__ = ["GRAPHED", "TRACE_ONLY", "compile_options", "check_graph_device", "mark_update_begin", "mark_static"]

# CUDA graphs through inductor, one graph per region or an error
GRAPHED: Mapping[str, Any] = {"mode": "reduce-overhead", "fullgraph": True}
# the capture-safety check: dynamo traces each region as one graph and runs it eagerly (CPU, tests)
TRACE_ONLY: Mapping[str, Any] = {"backend": "eager", "fullgraph": True}


def compile_options(graphs: bool | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """torch.compile's options for the update's regions: None for `False` (eager), `GRAPHED`
    for `True`, else the mapping given (e.g. `TRACE_ONLY`)."""
    if graphs is None or graphs is False:
        return None
    return dict(GRAPHED if graphs is True else graphs)


def check_graph_device(options: Mapping[str, Any] | None, device: torch.device) -> None:
    """CUDA graphs need CUDA: on another device `reduce-overhead` would only compile with inductor,
    minutes of start-up for code that is slower than eager on a CPU; refused with the fix."""
    if options is not None and options.get("mode") == "reduce-overhead" and device.type != "cuda":
        raise ValueError(f"CUDA graphs for the architecture update (graphs=True, --arch_cuda_graphs) need the logits on "
                         f"a CUDA device; they are on {device}. Leave the option off on a {device.type}")


def mark_update_begin() -> None:
    """Before each update: the previous update's graph outputs (loss, gradients, new logits) have
    been read or copied, so the next replay may overwrite them (cudagraph trees' step boundary;
    nothing happens eagerly or without CUDA graphs)."""
    torch.compiler.cudagraph_mark_step_begin()


def mark_static(tensors) -> None:
    """Tensors made once and read by every replay (the layout's indices and masks): static inputs
    of the graph, so no copy into its input buffers at each replay."""
    from torch._dynamo import mark_static_address

    for t in tensors:
        mark_static_address(t)
