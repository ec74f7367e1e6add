# ruff: noqa
"""Probe 21 (#33): nasiam.data.batched_augment.BatchedViews and nasiam.data.device from the library API, odd inputs."""
import torch
from nasiam.data.transforms import AugmentRecipe
from nasiam.data.batched_augment import BatchedViews
from nasiam.data.device import DeviceImages, DeviceViewSet, shard_batches
g = lambda: torch.Generator().manual_seed(0)
def t(label, f):
    try:
        r = f()
        if isinstance(r, torch.Tensor):
            r = f"tensor {tuple(r.shape)} {r.dtype} finite={bool(torch.isfinite(r).all()) if r.numel() else None} range=({r.min().item() if r.numel() else None:.3g},{r.max().item() if r.numel() else None:.3g})" if r.is_floating_point() and r.numel() else f"tensor {tuple(r.shape)} {r.dtype}"
        print(f"{label}: OK {str(r)[:200]}")
    except Exception as e:
        print(f"{label}: {type(e).__name__}: {str(e)[:250]}")
rgb = AugmentRecipe(size=16, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3)
x = torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8)
t("B0 sound", lambda: BatchedViews(rgb)(x, g()))
t("B1 1-channel images, RGB recipe", lambda: BatchedViews(rgb)(x[:, :1], g()))
t("B2 4-channel images (RGBA)", lambda: BatchedViews(rgb)(torch.cat([x, x[:, :1]], 1), g()))
t("B3 float images 0..255 (docs: floats in [0, 1])", lambda: BatchedViews(rgb)(x.float(), g()))
t("B4 empty batch", lambda: BatchedViews(rgb)(x[:0], g()))
t("B5 images 1x1 pixel", lambda: BatchedViews(rgb)(x[:, :, :1, :1], g()))
t("B6 std 0", lambda: BatchedViews(AugmentRecipe(size=16, channels=3, mean=(0.5,) * 3, std=(0.0,) * 3))(x, g()))
t("B7 size 0", lambda: BatchedViews(AugmentRecipe(size=0, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3))(x, g()))
t("B8 scale (0, 0)", lambda: BatchedViews(AugmentRecipe(size=16, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3, scale=(0.0, 0.0)))(x, g()))
t("B9 ratio (2, 0.5) reversed", lambda: BatchedViews(AugmentRecipe(size=16, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3, ratio=(2.0, 0.5)))(x, g()))
t("B10 jitter_p 2, hflip_p -1", lambda: BatchedViews(AugmentRecipe(size=16, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3, jitter_p=2.0, hflip_p=-1.0))(x, g()))
t("B11 mean of 1 value for 3 channels", lambda: BatchedViews(AugmentRecipe(size=16, channels=3, mean=(0.5,), std=(0.25,)))(x, g()))
t("B12 int64 images", lambda: BatchedViews(rgb)(x.long(), g()))
t("B13 NaN float images", lambda: BatchedViews(rgb)(torch.full((2, 3, 24, 24), float("nan")), g()))
t("B14 blur_p 1 on 16 px, sigma (0, 0)", lambda: BatchedViews(AugmentRecipe(size=16, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3, blur_p=1.0, blur_sigma=(0.0, 0.0)))(x, g()))
t("D1 DeviceImages int16", lambda: DeviceImages(x.short(), torch.zeros(4)))
t("D2 DeviceImages labels float 1.7", lambda: DeviceImages(x, torch.full((4,), 1.7)).targets)
t("D3 shard_batches n=0", lambda: shard_batches(0, 4, 0))
t("D4 shard_batches batch_size 0", lambda: shard_batches(10, 0, 0))
t("D5 shard_batches batch_size -2", lambda: shard_batches(10, -2, 0))
t("D6 shard_batches world_size 0", lambda: shard_batches(10, 2, 0, 0, 0))
t("D7 shard_batches seed -1", lambda: shard_batches(10, 2, -1))
t("D8 shard_batches seed 2**64", lambda: shard_batches(10, 2, 2**64))
t("D9 DeviceViewSet indices out of range", lambda: len(DeviceViewSet(DeviceImages(x, torch.zeros(4)), [0, 9], rgb)))
t("D10 DeviceViewSet float indices 1.5", lambda: DeviceViewSet(DeviceImages(x, torch.zeros(4)), [1.5], rgb).indices)
