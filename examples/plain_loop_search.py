"""Search SimSiam heads inside a plain PyTorch loop: SearchableHead + ArchitectureOptimizer.

    python examples/plain_loop_search.py --steps 200      # Fashion-MNIST (Debian's package)
    python examples/plain_loop_search.py --synthetic      # no data needed
"""
import argparse
import itertools
from functools import partial

import torch
from torch.utils.data import DataLoader, Subset

from nasiam import MLPSpace, SearchableHead
from nasiam.backbones import create_backbone
from nasiam.data import MultiViewTransform, augment_recipe, create_dataset, dataset_info, search_split
from nasiam.frameworks.losses import simsiam_loss
from nasiam.search import ArchitectureOptimizer, SearchPolicy

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--batch", type=int, default=128)
parser.add_argument("--synthetic", action="store_true")
parser.add_argument("--out", default="plain_loop_heads")
args = parser.parse_args()
torch.manual_seed(0)

name = "synthetic" if args.synthetic else "fashion_mnist"
info = dataset_info(name, image_size=28, channels=1) if args.synthetic else dataset_info(name)
extra = {"image_size": 28, "channels": 1, "size": 2048} if args.synthetic else {}
data = create_dataset(name, transform=MultiViewTransform(augment_recipe("simsiam", info)), **extra)
weight_idx, arch_idx = search_split(min(len(data), 8192), seed=0)  # bilevel: two disjoint halves


def batches(indices):  # endless shuffled batches of two views
    loader = DataLoader(Subset(data, indices), batch_size=args.batch, shuffle=True, drop_last=True)
    return (views for _ in itertools.count() for views, _ in loader)


backbone = create_backbone("resnet10t", in_chans=info.channels)
space = MLPSpace(widths=(128, 256, 512), activations=("relu", "gelu", "identity"))
projector = SearchableHead(512, 512, num_layers=1, space=space, output_norm="batchnorm_noaffine")
predictor = SearchableHead(512, 512, num_layers=1, space=space)
heads = torch.nn.ModuleList([projector, predictor])

weights = list(backbone.parameters()) + [p for h in heads for p in h.weight_parameters()]
weight_opt = torch.optim.SGD(weights, lr=0.05, momentum=0.9, weight_decay=5e-4)
arch_opt = ArchitectureOptimizer(heads, SearchPolicy(warmup_epochs=0))  # nasiam search's policy, no warm-up epoch


def loss_from_features(f1, f2):
    z1, z2 = projector(f1), projector(f2)
    return simsiam_loss(predictor(z1), predictor(z2), z1, z2)


for step, (views, arch_views) in enumerate(zip(batches(weight_idx), batches(arch_idx))):
    if step == args.steps:
        break
    with arch_opt.frozen():  # 1. weights, logits frozen
        loss = loss_from_features(backbone(views[0]), backbone(views[1]))
        weight_opt.zero_grad()
        loss.backward()
        weight_opt.step()
    if not arch_opt.due(epoch=0, step=step):  # the policy's arch_every
        continue
    with torch.no_grad():  # 2. logits, on held-out images; the backbone gets no gradient
        f1, f2 = backbone(arch_views[0]), backbone(arch_views[1])
    stats = arch_opt.step(partial(loss_from_features, f1, f2), progress=step / args.steps)
    if step % 20 == 0:
        print(f"step {step}: loss {loss.item():.3f}, arch loss {stats['arch_loss']:.3f}")

decisions = arch_opt.decisions({"projector": projector.probabilities(), "predictor": predictor.probabilities()})
print(f"{sum(d['above_noise'] for d in decisions)} of {len(decisions)} decisions rose above the noise floor")
for slot, head in (("projector", projector), ("predictor", predictor)):
    print(f"{slot}: {head.genotype().describe()}")
    head.export().save_pretrained(f"{args.out}/{slot}")  # NASHead with the searched weights
