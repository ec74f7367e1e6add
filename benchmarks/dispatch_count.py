"""How many kernels a step launches: plain SimSiam step vs the search step's parts.

On a GPU the search's architecture updates are small (heads on cached 512-wide features), so
their time is the launch and dispatch overhead of each operator, not arithmetic: an H200 ran
the bilevel step at 4.50x a plain one (benchmarks/RESULTS.md). Operator counts are the same on
any device, so this CPU script is the proxy a change to the architecture update can be judged
by before a GPU measures it. Counted: every ATen operator dispatched (TorchDispatchMode), less
the views and metadata operators that launch no kernel.

    python benchmarks/dispatch_count.py [--backbone resnet18] [--updates 4] [--space siam]

Deterministic (seeded, tiny inputs: the counts do not depend on the batch or image size). On
CUDA the optimizers take their foreach paths (a few kernels for all parameters), so the SGD
and Adam shares counted here on the CPU (a few per parameter) overstate theirs there.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nasiam.backbones import create_backbone, feature_dim  # noqa: E402
from nasiam.data import augment_recipe, dataset_info  # noqa: E402
from nasiam.data.batched_augment import BatchedViews  # noqa: E402
from nasiam.frameworks import SimSiam  # noqa: E402
from nasiam.search import Architect  # noqa: E402

# operators that return views, read or change metadata, allocate, or mark profiler ranges: no
# kernel on a GPU
NO_KERNEL = {"detach", "view", "select", "t", "expand", "unsqueeze", "squeeze", "slice", "_unsafe_view",
             "as_strided", "permute", "transpose", "alias", "reshape", "split", "unbind", "narrow",
             "_reshape_alias", "lift_fresh", "split_with_sizes", "promote_types", "result_type",
             "squeeze_", "unsqueeze_", "t_", "empty", "empty_like", "empty_strided", "new_empty",
             "new_empty_strided", "_record_function_enter_new", "_record_function_exit"}


class KernelCount(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name not in NO_KERNEL:
            self.counts[name] += 1
        return func(*args, **(kwargs or {}))


def count(fn) -> collections.Counter:
    with KernelCount() as counter:
        fn()
    return counter.counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--updates", type=int, default=None, help="architecture updates a step (default: the policy's)")
    parser.add_argument("--space", default=None, help="a registered search space, e.g. siam (`nasiam search`'s default "
                                                      "path since 2026-12-06); default: the library's MLPSpace")
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    def backbone():
        return create_backbone(args.backbone, cifar_stem=True, in_chans=3, zero_init_residual=True)

    dim = feature_dim(backbone())
    views = [torch.randn(8, 3, 16, 16) for _ in range(2)]
    plain, ours = SimSiam(backbone(), dim, proj_layers=2), SimSiam(backbone(), dim, proj_layers=2, heads="search",
                                                                          space=args.space)
    plain_opt = torch.optim.SGD(plain.parameters(), lr=0.01)
    weight_opt = torch.optim.SGD(ours.weight_parameters(), lr=0.01)
    architect = Architect(ours, lr=3e-3, arch_steps_per_step=args.updates)
    updates = architect.driver.updates

    def plain_step():
        loss = plain(views)["loss"]
        plain_opt.zero_grad(set_to_none=True)
        loss.backward()
        plain_opt.step()

    def weight_step():
        with architect.weights_step():
            loss = ours(views)["loss"]
            weight_opt.zero_grad(set_to_none=True)
            loss.backward()
        weight_opt.step()

    for _ in range(updates + 1):  # optimizer states made, the feature cache full
        plain_step(), weight_step(), architect.step(views)
    encoded = architect._encode(views, None)
    arch = architect.arch

    def one_update():
        arch.step(lambda: architect._loss(encoded))

    def finish_alone():
        arch.finish(0.5)

    def loss_gradients():  # what `finish` starts from, set outside the count
        for p in arch.arch_params:
            p.grad = torch.zeros_like(p)

    # the device augmentation's sync-free code (what runs on a GPU), SimCLR's recipe (hue on)
    augment = BatchedViews(augment_recipe("simclr", dataset_info("cifar10")))
    augment.subset_on_cpu = False
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    drawn = augment.sample(8, 32, 32, torch.Generator().manual_seed(0))
    parts = {
        "augmentation: apply a batch's drawn views (sync-free code)": lambda: augment.apply(images, drawn),
        "plain step (forward, backward, SGD)": plain_step,
        "search: weight step (searchable heads)": weight_step,
        f"search: architecture step ({updates} updates + 1 backbone encode)": lambda: architect.step(views),
        "  one update": one_update,
        "    of which the head loss forward": lambda: architect._loss(encoded),
        "    of which finish (normalise, Beta-Decay, centre, Adam)": finish_alone,
    }
    counts = {}
    for name, fn in parts.items():
        if fn is finish_alone:
            loss_gradients()
        counts[name] = count(fn)
    base = sum(counts["plain step (forward, backward, SGD)"].values())
    print(f"Kernel-launching operators per call ({args.backbone}, SimSiam, {args.space or 'mlp'} search space, torch "
          f"{torch.__version__}):\n")
    print("| part | operators | / plain step | most frequent |")
    print("|---|---|---|---|")
    for name, c in counts.items():
        top = ", ".join(f"{op} {n}" for op, n in c.most_common(4))
        print(f"| {name} | {sum(c.values())} | {sum(c.values()) / base:.2f}x | {top} |")
    whole = sum(counts["search: weight step (searchable heads)"].values()) + \
        sum(counts[f"search: architecture step ({updates} updates + 1 backbone encode)"].values())
    print(f"\nA bilevel search step: {whole} operators, {whole / base:.1f}x the plain step's.")


if __name__ == "__main__":
    main()
