"""What a search step costs against plain SSL training (issue #4).

Same backbone, batch and machine, timed side by side in interleaved rounds (SimSiam):
  (a) plain: one SimSiam training step with the standard heads;
  (b) ours, bilevel: the weight step (logits frozen) + the architecture step on another
      batch (backbone without gradients, heads only), mlp space, widths {512..4096}; under
      the default policy that step is 4 updates of the logits on the cached features of the
      last 4 architecture batches (`SearchPolicy.arch_steps_per_step`), timed beside the
      single update that was the default before;
  (b') ours, joint: one forward/backward updates weights and logits;
  (b'') ours, bilevel, the NASiam op space (shared Linear per layer);
  (c) NASiam's published loop structure: a full forward+backward through backbone and
      heads for the logits, then another for the weights, with one Linear per candidate op.
Default: ResNet-18 with the CIFAR stem, 32x32, batch 32 (the reference setting of the issue).

    python benchmarks/search_overhead.py [--backbone resnet18 --size 32 --batch 32]
"""
from __future__ import annotations

import argparse
import sys

import torch
import torch.nn as nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import interleaved_medians, machine, tune_glibc_malloc  # noqa: E402
from head_cost import PaperMixedOp  # noqa: E402

from nasiam import SearchableHead  # noqa: E402
from nasiam.backbones import create_backbone, feature_dim  # noqa: E402
from nasiam.frameworks import SimSiam  # noqa: E402
from nasiam.frameworks.losses import simsiam_loss  # noqa: E402
from nasiam.search import Architect  # noqa: E402
from nasiam.space import MLPSpace, NASiamSpace  # noqa: E402


class NASiamStyleSearch(nn.Module):
    """The paper's SimSiam search model: backbone, 6 mixed ops + fc + BN as projector,
    4 mixed ops as predictor, one module per candidate op."""

    def __init__(self, backbone, dim):
        super().__init__()
        self.backbone = backbone
        self.projector = nn.Sequential(*[PaperMixedOp(dim, dim) for _ in range(6)], nn.Linear(dim, 2048, bias=False),
                                       nn.BatchNorm1d(2048, affine=False))
        self.predictor = nn.Sequential(PaperMixedOp(2048, 512), PaperMixedOp(512, 512), PaperMixedOp(512, 512),
                                       PaperMixedOp(512, 2048))

    def arch_parameters(self):
        return [m.alpha for m in self.modules() if isinstance(m, PaperMixedOp)]

    def weight_parameters(self):
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, views):
        z1, z2 = (self.projector(self.backbone(v)) for v in views)
        return simsiam_loss(self.predictor(z1), self.predictor(z2), z1, z2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        tune_glibc_malloc()
    torch.manual_seed(0)

    def backbone():
        return create_backbone(args.backbone, cifar_stem=args.size <= 64, zero_init_residual=True)

    dim = feature_dim(backbone())
    plain = SimSiam(backbone(), dim, proj_layers=2).to(device)
    ours = SimSiam(backbone(), dim, proj_layers=2, heads="search", space=MLPSpace()).to(device)
    narrow = SimSiam(backbone(), dim, proj_layers=2, heads="search", space=MLPSpace(widths=(512, 1024, 2048))).to(device)
    joint = SimSiam(backbone(), dim, proj_layers=2, heads="search", space=MLPSpace()).to(device)
    nasiam_space = SimSiam(backbone(), dim, proj_layers=2, heads={
        "projector": SearchableHead(dim, 2048, 6, NASiamSpace(), output_norm="batchnorm_noaffine"),
        "predictor": SearchableHead(2048, 2048, 4, NASiamSpace(hidden_dim=512), output_layer=False)}).to(device)
    paper = NASiamStyleSearch(backbone(), dim).to(device)

    def views():
        return [torch.randn(args.batch, 3, args.size, args.size, device=device) for _ in range(2)]

    train_views, arch_views = views(), views()

    def sgd(params):
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)

    opt_plain = sgd(plain.parameters())

    def step_plain():
        loss = plain(train_views)["loss"]
        opt_plain.zero_grad()
        loss.backward()
        opt_plain.step()

    def bilevel(model, every=1, updates=None):
        # updates=None: the policy's default (4 updates per architecture step in first-order bilevel)
        opt, architect = sgd(model.weight_parameters()), Architect(model, lr=3e-3, arch_steps_per_step=updates)
        counter = {"step": 0}

        def step():
            with architect.weights_step():
                loss = model(train_views)["loss"]
                opt.zero_grad()
                loss.backward()
            opt.step()
            if counter["step"] % every == 0:
                architect.step(arch_views)
            counter["step"] += 1

        return step

    opt_joint, architect_joint = sgd(joint.weight_parameters()), Architect(joint, lr=3e-3)

    def step_joint():
        loss = joint(train_views)["loss"]
        opt_joint.zero_grad()
        loss.backward()
        opt_joint.step()
        architect_joint.step_from_gradients()

    opt_paper_w, opt_paper_a = sgd(paper.weight_parameters()), torch.optim.Adam(paper.arch_parameters(), lr=3e-4)

    def step_paper():
        # the published loop: the logits' step back-propagates through the whole model ...
        opt_paper_a.zero_grad()
        paper(arch_views).backward()
        opt_paper_a.step()
        # ... then the weights' step does it again
        opt_paper_w.zero_grad()
        paper(train_views).backward()
        opt_paper_w.step()

    # arch_every=2 alternates over pairs of steps: time pairs, report per step
    every2 = bilevel(ours, every=2)
    t = interleaved_medians({"plain": step_plain, "bilevel": bilevel(ours), "bilevel_one_update": bilevel(ours, updates=1),
                             "bilevel_every2": lambda: (every2(), every2()),
                             "bilevel_narrow": bilevel(narrow), "joint": step_joint,
                             "bilevel_nasiam_space": bilevel(nasiam_space), "paper": step_paper},
                            device, rounds=args.rounds)
    t["bilevel_every2"] /= 2
    print(f"\n### Search step vs plain SimSiam step: {args.backbone}, {args.size}x{args.size}, batch {args.batch} "
          f"({machine()}, device {device})\n")
    print("| step | ms | / plain |")
    print("|---|---|---|")
    labels = {"plain": "(a) plain SimSiam, standard heads",
              "bilevel": "(b) ours, bilevel, mlp space, widths 512-4096 (default: 4 updates per step)",
              "bilevel_one_update": "(b) ours, bilevel, one update per step (the default before)",
              "bilevel_every2": "(b) ours, bilevel, --arch_every=2",
              "bilevel_narrow": "(b) ours, bilevel, widths 512-2048 (max = the standard width)",
              "joint": "(b') ours, joint (one backward), widths 512-4096",
              "bilevel_nasiam_space": "(b'') ours, bilevel, NASiam op space",
              "paper": "(c) NASiam-style loop and mixed ops"}
    for key, label in labels.items():
        print(f"| {label} | {t[key] * 1e3:.0f} | {t[key] / t['plain']:.2f}x |")


if __name__ == "__main__":
    main()
