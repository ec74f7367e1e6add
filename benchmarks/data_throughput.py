"""Does the augmentation pipeline keep up with the model? (issue #3)

Measured on this machine, for 32x32 and 224x224 images, two views per image:
  1. per-sample torchvision v2 transforms in DataLoader workers (2 workers): images/s;
  2. batched augmentation with kornia on the model's device (here the CPU, main process);
  3. what the model consumes: SimSiam training steps (2 views, forward+backward+SGD) of
     resnet10t and resnet18 (CIFAR stem at 32 px), images/s;
  4. end to end: the training step fed by (1) vs fed by (2), images/s, since on a 2-core
     machine the workers and the model share the same cores.
Images come from in-memory uint8 arrays (no JPEG decoding, which an ImageNet folder adds).

    python benchmarks/data_throughput.py [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import machine  # noqa: E402

from nasiam.backbones import create_backbone, feature_dim  # noqa: E402
from nasiam.data import ArrayImageDataset, MultiViewTransform, augment_recipe, dataset_info  # noqa: E402
from nasiam.frameworks import create_framework  # noqa: E402


def kornia_views(recipe):
    import kornia.augmentation as K

    ops = [K.RandomResizedCrop((recipe.size, recipe.size), scale=recipe.scale),
           K.RandomHorizontalFlip(p=recipe.hflip_p),
           K.ColorJitter(*recipe.jitter, p=recipe.jitter_p), K.RandomGrayscale(p=recipe.grayscale_p)]
    if recipe.blur_p:
        k = max(3, int(0.1 * recipe.size) // 2 * 2 + 1)
        ops.append(K.RandomGaussianBlur((k, k), (0.1, 2.0), p=recipe.blur_p))
    ops.append(K.Normalize(torch.tensor(recipe.mean), torch.tensor(recipe.std)))
    aug = torch.nn.Sequential(*ops)
    return lambda batch: [aug(batch), aug(batch)]


def make_dataset(size, n, transform=None):
    stored = 32 if size == 32 else 256  # ImageNet images are resized to ~256 before cropping to 224
    images = np.random.default_rng(0).integers(0, 256, (n, stored, stored, 3), dtype=np.uint8)
    return ArrayImageDataset(images, np.zeros(n, dtype=np.int64), transform=transform)


def rate(fn, images_per_call, seconds):
    fn()  # warm-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return images_per_call * count / (time.perf_counter() - start)


def forever(loader):
    """Batches without end, re-running the loader each epoch (itertools.cycle would replay
    the first epoch's cached batches)."""
    while True:
        yield from loader


def to_float(batch):
    return batch.float().div_(255)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    seconds = 4 if args.quick else 12
    torch.manual_seed(0)
    rows = []
    for size, batch, backbones in ((32, 128, ("resnet10t", "resnet18")), (224, 16, ("resnet10t", "resnet18"))):
        info = dataset_info("cifar10" if size == 32 else "imagenet")
        recipe = augment_recipe("simsiam", info, size=size)
        # 1. per-sample in workers
        ds = make_dataset(size, 4096 if size == 32 else 512, MultiViewTransform(recipe))
        loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=args.workers, drop_last=True,
                            persistent_workers=True, prefetch_factor=4)
        it = forever(loader)
        per_sample = rate(lambda: next(it), batch, seconds)
        # 2. batched kornia, main process
        raw = make_dataset(size, 4096 if size == 32 else 512)
        raw_loader = DataLoader(raw, batch_size=batch, shuffle=True, num_workers=1, drop_last=True,
                                persistent_workers=True)
        raw_it = forever(raw_loader)
        views_of = kornia_views(recipe)
        batched = rate(lambda: views_of(to_float(next(raw_it)[0])), batch, seconds)
        fixed_views = [torch.randn(batch, 3, size, size) for _ in range(2)]
        for name in backbones:
            bb = create_backbone(name, cifar_stem=size == 32)
            model = create_framework("simsiam", bb, feature_dim(bb), proj_hidden_dim=512, proj_output_dim=512,
                                     pred_hidden_dim=128)
            opt = torch.optim.SGD(model.weight_parameters(), lr=0.01, momentum=0.9)

            def step(views):
                loss = model(views)["loss"]
                opt.zero_grad()
                loss.backward()
                opt.step()

            consume = rate(lambda: step(fixed_views), batch, seconds)
            fed_workers = rate(lambda: step(next(it)[0]), batch, seconds)
            fed_kornia = rate(lambda: step(views_of(to_float(next(raw_it)[0]))), batch, seconds)
            rows.append((size, batch, name, per_sample, batched, consume, fed_workers, fed_kornia))
    print(f"\n### Two-view augmentation vs consumption, images/s ({machine()}, {args.workers} workers)\n")
    print("| size | batch | model | per-sample v2, workers | batched kornia | model alone | "
          "train fed by workers | train fed by kornia |")
    print("|---|---|---|---|---|---|---|---|")
    for size, batch, name, ps, bk, cons, fw, fk in rows:
        print(f"| {size} | {batch} | {name} | {ps:.0f} | {bk:.0f} | {cons:.0f} | {fw:.0f} ({fw / cons:.0%}) | "
              f"{fk:.0f} ({fk / cons:.0%}) |")


if __name__ == "__main__":
    main()
