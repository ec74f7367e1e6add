"""Cost of a searchable head layer as its candidates grow, against the paper's construction.

Part 1 (issue #2): one layer, batch 512, 2048 wide, forward+backward, candidate activations
1..8. Three layers built side by side and timed in interleaved rounds:
  fixed   Linear(2048, 2048) - BatchNorm - ReLU (what a standard head runs)
  ours    MLPSearchLayer: one shared Linear, widths {256, 512, 1024, 2048} as prefix masks,
          norms {batchnorm, layernorm, none} and k activations as weighted element-wise
          branches, keep/skip
  paper   one Linear(2048, 2048) - BatchNorm - activation per candidate op, weighted sum
          (the NASiam paper's mixed op)
Memory is the bytes autograd saves for backward (activation memory; CPU and GPU alike).

Part 2: whole heads with ResNet-18 dimensions (512 features): the paper's searchable SimSiam
projector (6 mixed ops) + predictor (4), built the paper's way (one Linear per op) and built
ours (`NASiamSpace`, shared Linear), against the standard SimSiam heads.

    python benchmarks/head_cost.py            # writes nothing; prints markdown tables
"""
from __future__ import annotations

import argparse
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import interleaved_medians, machine, saved_tensor_bytes, tune_glibc_malloc  # noqa: E402

from nasiam import SearchableHead  # noqa: E402
from nasiam.space import NASiamSpace, create_activation  # noqa: E402
from nasiam.space.mlp import DEFAULT_ACTIVATIONS, MLPSearchLayer  # noqa: E402
from nasiam.space.nasiam_paper import PAPER_OPS, op_layers  # noqa: E402
from nasiam.space.spaces import build_layer  # noqa: E402


class PaperMixedLinear(nn.Module):
    """The paper's mixed op over activations: a full Linear-BN-act per candidate."""

    def __init__(self, dim: int, activations):
        super().__init__()
        self.ops = nn.ModuleList(nn.Sequential(nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim),
                                               create_activation(a)) for a in activations)
        self.alpha = nn.Parameter(torch.zeros(len(activations)))

    def forward(self, x):
        w = F.softmax(self.alpha, 0)
        return sum(wi * op(x) for wi, op in zip(w, self.ops))


class PaperMixedOp(nn.Module):
    """The paper's mixed op over its seven ops: every op its own module (own Linear when it
    changes the width), built from the op table in nasiam.space.nasiam_paper."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.ops = nn.ModuleList()
        for op in PAPER_OPS:
            width, blocks = d_in, []
            for spec in op_layers(op, d_in, d_out):
                blocks.append(build_layer(spec, width))
                width = spec.width
            self.ops.append(nn.Sequential(*blocks))
        self.alpha = nn.Parameter(torch.zeros(len(PAPER_OPS)))

    def forward(self, x):
        w = F.softmax(self.alpha, 0)
        return sum(wi * op(x) for wi, op in zip(w, self.ops))


class _OursStep(nn.Module):
    """Softmax of the logits + the layer, as one module so torch.compile sees all of it."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x, {n: F.softmax(p, 0) for n, p in self.layer.arch.items()})


def part1(device, batch, dim, rounds, compile_ks):
    x = torch.randn(batch, dim, device=device)
    fixed = nn.Sequential(nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU()).to(device)
    fixed_compiled = torch.compile(fixed) if compile_ks else None
    widths = tuple(dim // d for d in (8, 4, 2, 1))
    rows = []
    for k in range(1, 9):
        acts = DEFAULT_ACTIVATIONS[:k]
        ours = _OursStep(MLPSearchLayer(dim, widths, ("batchnorm", "layernorm", "none"), acts, skippable=True)).to(device)
        paper = PaperMixedLinear(dim, acts).to(device)
        fns = {"fixed": lambda: fixed(x).sum().backward(), "ours": lambda: ours(x).sum().backward(),
               "paper": lambda: paper(x).sum().backward()}
        if k in compile_ks:
            ours_compiled = torch.compile(ours)
            fns["ours compiled"] = lambda: ours_compiled(x).sum().backward()
            fns["fixed compiled"] = lambda: fixed_compiled(x).sum().backward()
        t = interleaved_medians(fns, device, rounds=rounds)
        mem = {"fixed": saved_tensor_bytes(lambda: fixed(x)), "ours": saved_tensor_bytes(lambda: ours(x)),
               "paper": saved_tensor_bytes(lambda: paper(x))}
        rows.append((k, t, mem, sum(p.numel() for p in ours.parameters()), sum(p.numel() for p in paper.parameters())))
    print(f"\n### One layer, batch {batch}, {dim} wide, forward+backward ({machine()}, device {device})\n")
    print("| activations | fixed ms | ours ms | paper ms | ours / fixed | paper / fixed | "
          "compiled: ours / fixed | saved MiB fixed / ours / paper | params ours / paper |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k, t, mem, p_ours, p_paper in rows:
        mib = "/".join(f"{mem[n] / 2**20:.0f}" for n in ("fixed", "ours", "paper"))
        compiled = (f"{t['ours compiled'] / t['fixed compiled']:.2f}x ({t['ours compiled'] * 1e3:.1f} ms)"
                    if "ours compiled" in t else "-")
        print(f"| {k} | {t['fixed'] * 1e3:.1f} | {t['ours'] * 1e3:.1f} | {t['paper'] * 1e3:.1f} | "
              f"{t['ours'] / t['fixed']:.2f}x | {t['paper'] / t['fixed']:.2f}x | {compiled} | {mib} | "
              f"{p_ours / 1e6:.2f}M / {p_paper / 1e6:.2f}M |")


def _standard_simsiam_heads(in_dim):
    # The paper's baseline for ResNet-18: 3-layer projector at the backbone width + predictor.
    projector = nn.Sequential(nn.Linear(in_dim, in_dim, bias=False), nn.BatchNorm1d(in_dim), nn.ReLU(),
                              nn.Linear(in_dim, in_dim, bias=False), nn.BatchNorm1d(in_dim), nn.ReLU(),
                              nn.Linear(in_dim, 2048, bias=False), nn.BatchNorm1d(2048, affine=False))
    predictor = nn.Sequential(nn.Linear(2048, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, 2048))
    return nn.Sequential(projector, predictor)


def _paper_search_heads(in_dim):
    projector = nn.Sequential(*[PaperMixedOp(in_dim, in_dim) for _ in range(6)],
                              nn.Linear(in_dim, 2048, bias=False), nn.BatchNorm1d(2048, affine=False))
    predictor = nn.Sequential(PaperMixedOp(2048, 512), PaperMixedOp(512, 512), PaperMixedOp(512, 512),
                              PaperMixedOp(512, 2048))
    return nn.Sequential(projector, predictor)


def _our_search_heads(in_dim):
    projector = SearchableHead(in_dim, 2048, 6, NASiamSpace(), output_norm="batchnorm_noaffine")
    predictor = SearchableHead(2048, 2048, 4, NASiamSpace(hidden_dim=512), output_layer=False)
    return nn.Sequential(projector, predictor)


def part2(device, batches, rounds):
    in_dim = 512
    heads = {"standard": _standard_simsiam_heads(in_dim), "paper": _paper_search_heads(in_dim),
             "ours": _our_search_heads(in_dim)}
    heads = {k: v.to(device) for k, v in heads.items()}
    params = {k: sum(p.numel() for p in v.parameters()) for k, v in heads.items()}
    print(f"\n### SimSiam projector+predictor, ResNet-18 dims, NASiam op set ({machine()}, device {device})\n")
    print("| batch | standard ms | paper search ms | ours search ms | paper / standard | ours / standard | "
          "params standard / paper / ours |")
    print("|---|---|---|---|---|---|---|")
    for batch in batches:
        x = torch.randn(batch, in_dim, device=device)
        fns = {k: (lambda h=h: h(x).sum().backward()) for k, h in heads.items()}
        t = interleaved_medians(fns, device, rounds=rounds)
        print(f"| {batch} | {t['standard'] * 1e3:.1f} | {t['paper'] * 1e3:.1f} | {t['ours'] * 1e3:.1f} | "
              f"{t['paper'] / t['standard']:.2f}x | {t['ours'] / t['standard']:.2f}x | "
              f"{params['standard'] / 1e6:.1f}M / {params['paper'] / 1e6:.1f}M / {params['ours'] / 1e6:.1f}M |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--compile", type=int, nargs="*", default=[8], metavar="K",
                        help="also time torch.compile'd layers for these activation counts (none: --compile)")
    parser.add_argument("--tune-malloc", action="store_true",
                        help="raise glibc's mmap/trim thresholds first (what nasiam's runner does on CPU)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if args.tune_malloc:
        print("glibc malloc tuned:", tune_glibc_malloc())
    part1(device, args.batch, args.dim, args.rounds, set(args.compile))
    part2(device, (32, 512), args.rounds)


if __name__ == "__main__":
    main()
