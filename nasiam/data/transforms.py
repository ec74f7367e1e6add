"""Augmentation recipes of each method, per dataset, as torchvision v2 pipelines.

The recipes follow the papers: SimCLR's (crops down to 8 % of the image, strong colour
jitter 0.8/0.8/0.8/0.2), and the MoCo v2 recipe that SimSiam and MoCo v3 also use (crops down
to 20 %, jitter 0.4/0.4/0.4/0.1). Gaussian blur only at ImageNet-like sizes (the CIFAR
variants drop it); grayscale images drop saturation, hue and random grayscale.

`MultiViewTransform(recipe)` turns one image into a list of views, per sample in DataLoader
workers (the default; RESULTS.md says why). `BatchedViews(recipe)` draws the same recipe per
image on a whole batch at once: both read every parameter from the one `AugmentRecipe`, so the
two pipelines cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from nasiam.data.datasets import DatasetInfo, dataset_info
from nasiam.frameworks import FRAMEWORKS, framework_class

__all__ = ["AugmentRecipe", "RECIPES", "recipe_name", "augment_recipe", "view_transform", "MultiViewTransform", "eval_transform",
           "blur_kernel_size"]


@dataclass(frozen=True)
class AugmentRecipe:
    size: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    scale: tuple[float, float] = (0.2, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)                        # crop aspect ratio range
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)   # brightness, contrast, saturation, hue
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    hflip_p: float = 0.5
    solarize_p: float = 0.0                                              # BYOL / MoCo v3 style (none by default)


def blur_kernel_size(size: int) -> int:
    """Gaussian blur kernel side for `size`-pixel views: about 10 % of the image, odd, >= 3."""
    return max(3, int(0.1 * size) // 2 * 2 + 1)


# The recipes by name, as their departures from `AugmentRecipe`'s defaults (MoCo v2's). A
# method names its recipe (`SSLFramework.augmentation`); add one here for a new recipe.
RECIPES: dict[str, dict[str, Any]] = {
    "mocov2": {},                                                        # also SimSiam's and MoCo v3's
    "simclr": {"scale": (0.08, 1.0), "jitter": (0.8, 0.8, 0.8, 0.2)},
    # crops and flips only, no colour distortion or blur: fine-tuning on labelled images
    "crop_flip": {"scale": (0.5, 1.0), "jitter_p": 0.0, "grayscale_p": 0.0, "blur_p": 0.0},
}


def recipe_name(name: str) -> str:
    """`name` if it is a recipe, else the recipe of the framework `name` (its `augmentation`)."""
    if name in RECIPES:
        return name
    try:
        return framework_class(name).augmentation
    except KeyError:
        raise KeyError(f"no augmentation recipe for {name!r}: known recipes {', '.join(RECIPES)}, or a framework "
                       f"({', '.join(FRAMEWORKS)})") from None


def augment_recipe(method: str, info: DatasetInfo, size: int | None = None, **overrides) -> AugmentRecipe:
    """The recipe `method` (in `RECIPES`, or a framework's name, e.g. "simsiam") for a dataset."""
    size = size or info.image_size
    departures = RECIPES[recipe_name(method)]
    base = AugmentRecipe(size, info.channels, info.mean, info.std, **departures)
    if size >= 96 and "blur_p" not in departures:
        base = replace(base, blur_p=0.5)  # ImageNet-style; the CIFAR variants drop blur
    if info.channels == 1:
        b, c, _, _ = base.jitter
        base = replace(base, jitter=(b, c, 0.0, 0.0), grayscale_p=0.0)
    return replace(base, **overrides)


def view_transform(recipe: AugmentRecipe):
    """One random view: crop, flip, colour jitter, grayscale, blur, to float, normalise."""
    from torchvision.transforms import v2

    ops = [v2.ToImage(), v2.RandomResizedCrop(recipe.size, scale=recipe.scale, ratio=recipe.ratio, antialias=True),
           v2.RandomHorizontalFlip(recipe.hflip_p)]
    if recipe.jitter_p > 0 and any(recipe.jitter):
        ops.append(v2.RandomApply([v2.ColorJitter(*recipe.jitter)], p=recipe.jitter_p))
    if recipe.grayscale_p > 0:
        ops.append(v2.RandomGrayscale(recipe.grayscale_p))
    if recipe.blur_p > 0:
        ops.append(v2.RandomApply([v2.GaussianBlur(blur_kernel_size(recipe.size), sigma=recipe.blur_sigma)],
                                  p=recipe.blur_p))
    if recipe.solarize_p > 0:  # on uint8 images: pixels >= 128 inverted, as 0.5 for floats
        ops.append(v2.RandomSolarize(128, p=recipe.solarize_p))
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(recipe.mean, recipe.std)]
    return v2.Compose(ops)


class MultiViewTransform:
    """Returns `n_views` independently augmented views of one image."""

    def __init__(self, recipe: AugmentRecipe, n_views: int = 2):
        if n_views < 2:
            raise ValueError("siamese methods need at least two views")
        self.transform = view_transform(recipe)
        self.n_views = n_views

    def __call__(self, image):
        return [self.transform(image) for _ in range(self.n_views)]

    def __repr__(self) -> str:
        return f"MultiViewTransform(n_views={self.n_views}, {self.transform})"


def _native_size(info: DatasetInfo) -> int:
    """The size the dataset's files hold (the registry's; `info` may carry an --image_size)."""
    try:
        return dataset_info(info.name).image_size
    except KeyError:   # a dataset outside the registry: its info is all there is
        return info.image_size


def eval_transform(info: DatasetInfo, size: int | None = None):
    """Deterministic preprocessing for evaluation: resize + centre crop, except where the
    dataset's images already have the size (CIFAR at 32, Fashion-MNIST at 28), so that every
    image of a batch comes out alike; to float, normalise."""
    from torchvision.transforms import v2

    size = size or info.image_size
    ops = [v2.ToImage()]
    if size >= 96:
        ops += [v2.Resize(int(size * 256 / 224), antialias=True), v2.CenterCrop(size)]
    elif size != _native_size(info):
        ops += [v2.Resize(size, antialias=True), v2.CenterCrop(size)]
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(info.mean, info.std)]
    return v2.Compose(ops)
