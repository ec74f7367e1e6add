"""A method's augmentation recipe applied to a whole batch at once, one random draw per image.

    views = BatchedViews(augment_recipe("simsiam", info))
    v1, v2 = views(images), views(images)      # images: uint8 (N, C, H, W) on any device

The per-sample torchvision pipeline (`view_transform`) runs image by image in DataLoader
workers; on a GPU, 32 px images are consumed far faster than CPU workers produce them. This
module draws every image's parameters as tensors (`sample`) and applies them with a handful
of batched kernels (`apply`), in plain torch, on the images' device — no host sync, so it
runs ahead of the GPU like any other kernel.

It reads the same `AugmentRecipe` as `view_transform` and follows torchvision v2's semantics:
- random resized crop: 10 attempts of (area in `scale`, log-uniform aspect in `ratio`), the
  first that fits, else the central crop; resampled with antialiased bilinear weights as
  `resize(antialias=True)` does, restricted to the crop (edges clamp to the crop, not to the
  image), through two per-image interpolation matrices — so the horizontal flip is free
  (the matrix's rows reversed);
- colour jitter with probability `jitter_p`: brightness, contrast, saturation, hue in a
  random order per image, factors uniform in [1-s, 1+s] (hue [-s, s]); hue through HSV;
  one-channel images take brightness and contrast only;
- random grayscale, Gaussian blur (per-image sigma in `blur_sigma`, reflect padding, the
  recipe's kernel size), solarisation (the pixels that round to 128/255 or more inverted, as in uint8), normalisation.
Unlike torchvision it keeps float precision between the steps instead of rounding to uint8
after each one (a difference of at most half a grey level per step).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nasiam.data.transforms import AugmentRecipe, blur_kernel_size

__all__ = ["BatchedViews", "ViewParams"]

_GRAY = (0.2989, 0.587, 0.114)  # torchvision's luma weights
# RandomSolarize(128) on uint8 images: torchvision rounds the resized pixels to uint8 first, so
# a resampled value counts from 127.5 up (a flat 128 comes out of the resampling a rounding
# error either side of 128/255)
_SOLARIZE_THRESHOLD = 127.5 / 255


@dataclass
class ViewParams:
    """Every image's own random draw (tensors of length N on the images' device)."""

    boxes: torch.Tensor      # (N, 4) float: top, left, height, width of the crop, in input pixels
    flip: torch.Tensor       # (N,) bool
    jitter: torch.Tensor     # (N,) bool: colour jitter applied
    factors: torch.Tensor    # (N, 4) brightness, contrast, saturation, hue (identity where not applied)
    order: torch.Tensor      # (N, 4) long: the order the four jitter operations run in
    gray: torch.Tensor       # (N,) bool
    blur: torch.Tensor       # (N,) bool
    sigma: torch.Tensor      # (N,) float: blur sigma (meaningful where blur)
    solarize: torch.Tensor   # (N,) bool


def _uniform(n: int, low: float, high: float, generator, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _jitter_range(strength: float, center: float) -> tuple[float, float]:
    # ColorJitter(s): [max(0, 1 - s), 1 + s] for brightness/contrast/saturation, [-s, s] for hue
    return (max(0.0, center - strength), center + strength) if center else (-strength, strength)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) luma of (N, C, H, W) images (the image itself when C == 1)."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (_GRAY[0] * r + _GRAY[1] * g + _GRAY[2] * b).unsqueeze(1)


def _hue_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue of RGB images in [0, 1] by `shift` (N,) turns. Value and chroma are
    kept, so RGB comes back as v - chroma * clamp(min(k, 4 - k), 0, 1) (the closed form of
    torchvision's HSV -> RGB table), with k = (n + 6 h) mod 6 for n = 5, 3, 1."""
    maxc, _ = x.max(dim=1, keepdim=True)
    minc, _ = x.min(dim=1, keepdim=True)
    chroma = maxc - minc
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    rc, gc, bc = ((maxc - x) / safe).unbind(1)
    r, g, _ = x.unbind(1)
    maxc_, is_r, is_g = maxc.squeeze(1), r == maxc.squeeze(1), g == maxc.squeeze(1)
    h = torch.where(is_r, bc - gc, torch.where(is_g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = (h / 6.0 + 1.0 + shift.view(-1, 1, 1)).remainder(1.0)
    n = (5.0 - 2.0 * torch.arange(3, device=x.device)).view(1, 3, 1, 1)       # 5, 3, 1 for r, g, b
    k = (n + 6.0 * h.unsqueeze(1)).remainder(6.0)
    return maxc_.unsqueeze(1) - chroma * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def _blend(x: torch.Tensor, op: torch.Tensor, factors: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
    """One position of the jitter: each image's operation `op` (N,) among brightness (0),
    contrast (1) and saturation (2), all blends `f * x + (1 - f) * other` with other = 0, the
    mean luma, the luma. Images whose operation is the hue (3), or where `skip`, blend with f = 1."""
    op = op.view(-1, 1, 1, 1)
    factor = factors[:, :3].gather(1, op.view(-1, 1).clamp(max=2)).view(-1, 1, 1, 1)
    identity = op == 3 if skip is None else (op == 3) | skip.view(-1, 1, 1, 1)
    factor = torch.where(identity, torch.ones_like(factor), factor)
    luma = _gray(x)
    other = torch.where(op == 1, luma.mean(dim=(1, 2, 3), keepdim=True), luma * (op == 2))
    return (factor * x + (1.0 - factor) * other).clamp(0.0, 1.0)


def _resample_matrix(start: torch.Tensor, length: torch.Tensor, size_in: int, size_out: int,
                     flip: torch.Tensor | None) -> torch.Tensor:
    """(N, size_out, size_in) weights resizing each image's [start, start + length) window to
    size_out pixels: antialiased bilinear (a triangle filter widened by the downscale factor,
    as torchvision's resize(antialias=True)), normalised over the window's own pixels."""
    device = start.device
    scale = (length / size_out).unsqueeze(1)                                    # (N, 1) input px per output px
    out = (torch.arange(size_out, device=device, dtype=torch.float32) + 0.5).unsqueeze(0)
    if flip is not None:
        out = torch.where(flip.unsqueeze(1), size_out - out, out)
    centre = start.unsqueeze(1) + out * scale                                    # (N, size_out), input coordinates
    support = scale.clamp(min=1.0)                                               # widened when downscaling
    pixels = torch.arange(size_in, device=device, dtype=torch.float32).view(1, 1, -1) + 0.5
    weights = (1.0 - ((pixels - centre.unsqueeze(2)) / support.unsqueeze(2)).abs()).clamp(min=0.0)
    inside = (pixels >= start.view(-1, 1, 1)) & (pixels < (start + length).view(-1, 1, 1))
    weights = weights * inside
    # a window edge: the weights of the pixels outside are dropped and the rest renormalised,
    # which is the edge clamping of interpolate(align_corners=False) when upscaling
    return weights / weights.sum(dim=2, keepdim=True).clamp(min=1e-12)


class BatchedViews:
    """Random views of a batch by `recipe`, each image drawing its own parameters.

    Call it on uint8 (N, C, H, W) images (or floats in [0, 1]); it returns normalised float32
    (N, C, size, size) views on the same device, computed in float32 even under autocast.
    Floats are taken as [0, 1], as torchvision's `ToDtype(scale=True)` gives them: divide 0..255
    floats by 255 first. Their range is not checked, which would cost a device-to-host copy per
    batch (a GPU would wait on it); out of range, the colour steps clamp to [0, 1] and the crop does not.
    """

    subset_on_cpu = True  # see _colour_jitter; False runs the GPU's sync-free code on a CPU too (tests)

    def __init__(self, recipe: AugmentRecipe):
        if recipe.channels == 1 and recipe.jitter[2:] != (0.0, 0.0):
            # torchvision leaves one-channel images alone for saturation and hue; say so instead
            raise ValueError("saturation and hue jitter need RGB images; the recipe for one-channel images must set "
                             "them to 0 (augment_recipe does)")
        problem = _recipe_problem(recipe)
        if problem:
            raise ValueError(f"AugmentRecipe: {problem}")
        self.recipe = recipe
        self.blur_kernel = blur_kernel_size(recipe.size) if recipe.blur_p > 0 else 0
        b, c, s, h = recipe.jitter
        self._norm: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}
        self._ranges = [_jitter_range(b, 1.0), _jitter_range(c, 1.0), _jitter_range(s, 1.0), _jitter_range(h, 0.0)]

    def __repr__(self) -> str:
        return f"BatchedViews({self.recipe})"

    # -- drawing ------------------------------------------------------------------------
    def sample(self, n: int, height: int, width: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> ViewParams:
        """Draw the parameters of `n` views of `height` x `width` images."""
        r = self.recipe
        if generator is not None:
            device = generator.device
        device = torch.device(device or "cpu")

        def rand(*shape):
            return torch.rand(*shape, generator=generator, device=device)

        # random resized crop: the first of 10 (area, aspect) attempts that fits, as torchvision
        area = float(height * width)
        u = rand(n, 10, 2)
        target = area * (r.scale[0] + (r.scale[1] - r.scale[0]) * u[..., 0])
        log_lo, log_hi = math.log(r.ratio[0]), math.log(r.ratio[1])
        aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
        w, h = torch.sqrt(target * aspect).round(), torch.sqrt(target / aspect).round()
        fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)
        w, h, found = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1), fits.any(dim=1)
        fallback_w, fallback_h = _central_crop(height, width, r.ratio)
        w = torch.where(found, w, torch.full_like(w, fallback_w))
        h = torch.where(found, h, torch.full_like(h, fallback_h))
        corner = rand(n, 2)
        top = torch.where(found, torch.floor(corner[:, 0] * (height - h + 1)), torch.full_like(h, (height - fallback_h) // 2))
        left = torch.where(found, torch.floor(corner[:, 1] * (width - w + 1)), torch.full_like(w, (width - fallback_w) // 2))
        boxes = torch.stack([top, left, h, w], dim=1)

        flip = rand(n) < r.hflip_p
        jitter = rand(n) < r.jitter_p
        factors = torch.stack([_uniform(n, lo, hi, generator, device) for lo, hi in self._ranges], dim=1)
        identity = (torch.arange(4, device=device) < 3).float()          # 1, 1, 1, 0 (no host copy)
        factors = torch.where(jitter.unsqueeze(1), factors, identity)
        order = rand(n, 4).argsort(dim=1)                 # a uniform random permutation per image
        gray = rand(n) < r.grayscale_p
        blur = rand(n) < r.blur_p
        sigma = _uniform(n, r.blur_sigma[0], r.blur_sigma[1], generator, device)
        solarize = rand(n) < r.solarize_p
        return ViewParams(boxes, flip, jitter, factors, order, gray, blur, sigma, solarize)

    # -- applying -----------------------------------------------------------------------
    def apply(self, images: torch.Tensor, params: ViewParams) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != self.recipe.channels:
            raise ValueError(f"expected (N, {self.recipe.channels}, H, W) images, got {tuple(images.shape)}")
        return self._transform(images, params)

    def compile(self, **options) -> BatchedViews:
        """`torch.compile` the application of the drawn parameters (`apply`; drawing them stays
        eager: dynamo does not trace seeded generators). `apply` is a few hundred small
        element-wise operators, on a GPU each a kernel launch paid on the host; compiled, they
        fuse into a few kernels, one graph per batch shape (`dynamic=False`). On a CPU inductor's
        code is slower than eager (RESULTS.md), so the runner's --compile leaves the augmentation
        alone. A compiled instance does not pickle: compile inside a DataLoader worker, or use it
        on the device."""
        self._transform = torch.compile(self._transform_eager, dynamic=False, **options)
        return self

    def _transform(self, images: torch.Tensor, params: ViewParams) -> torch.Tensor:
        return self._transform_eager(images, params)

    def _transform_eager(self, images: torch.Tensor, params: ViewParams) -> torch.Tensor:
        with torch.autocast(images.device.type, enabled=False):  # colour maths in float32 whatever the caller's
            x = images.float() / 255.0 if not images.is_floating_point() else images.float()
            x = self._crop_flip(x, params)
            x = self._colour_jitter(x, params)
            if self.recipe.grayscale_p > 0 and x.shape[1] == 3:
                x = torch.where(params.gray.view(-1, 1, 1, 1), _gray(x).expand_as(x), x)
            if self.recipe.blur_p > 0:
                x = self._blur(x, params)
            if self.recipe.solarize_p > 0:
                x = torch.where(params.solarize.view(-1, 1, 1, 1) & (x >= _SOLARIZE_THRESHOLD), 1.0 - x, x)
            mean, std = self._normalisation(x.device)
            return (x - mean) / std

    def _normalisation(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        # made once per device: a tensor built from Python numbers on a GPU is a blocking copy
        if device not in self._norm:
            self._norm[device] = tuple(torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1).to(device)
                                       for v in (self.recipe.mean, self.recipe.std))
        return self._norm[device]

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.apply(images, self.sample(images.shape[0], images.shape[2], images.shape[3], generator,
                                              images.device))

    def _crop_flip(self, x: torch.Tensor, p: ViewParams) -> torch.Tensor:
        size = self.recipe.size
        top, left, h, w = p.boxes.unbind(1)
        rows = _resample_matrix(top, h, x.shape[2], size, None)           # (N, size, H)
        cols = _resample_matrix(left, w, x.shape[3], size, p.flip)        # (N, size, W)
        # (N, C, H, W) -> (N, C, size, size): rows @ x @ cols^T, image by image
        return rows.unsqueeze(1) @ x @ cols.transpose(1, 2).unsqueeze(1)

    def _colour_jitter(self, x: torch.Tensor, p: ViewParams) -> torch.Tensor:
        if self.recipe.jitter_p <= 0 or not any(self.recipe.jitter):
            return x
        order, factors = p.order, p.factors
        # (compiled: the sync-free code, whose shapes do not depend on the draw)
        subsets = self.subset_on_cpu and x.device.type == "cpu" and not torch.compiler.is_compiling()
        if subsets:
            # On a CPU, selecting the images an operation applies to costs nothing and saves the
            # work on the others; on a GPU the selection would wait for the device (a host sync),
            # so there every operation runs on the whole batch with identity factors instead.
            chosen = p.jitter.nonzero().squeeze(1)
            jittered = self._jitter_all(x[chosen], order[chosen], factors[chosen], subsets)
            return x.index_copy(0, chosen, jittered)
        return self._jitter_all(x, order, factors, subsets)

    def _jitter_all(self, x: torch.Tensor, order: torch.Tensor, factors: torch.Tensor, subsets: bool) -> torch.Tensor:
        hue = self.recipe.jitter[3] > 0 and x.shape[1] == 3
        if hue and not subsets:
            return self._jitter_hue_once(x, order, factors)
        for position in range(4):
            op = order[:, position]
            x = _blend(x, op, factors)
            if hue:  # (subsets) hue only where it is this position's operation
                chosen = (op == 3).nonzero().squeeze(1)
                x = x.index_copy(0, chosen, _hue_shift(x[chosen], factors[chosen, 3]))
        return x

    @staticmethod
    def _jitter_hue_once(x: torch.Tensor, order: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
        """The sync-free jitter with the hue shift, the costliest operation, run once for the whole
        batch instead of at each of the four positions: the blends each image takes before its
        hue, then every image's hue (a zero shift where the jitter is off), then the blends after
        it. 3 + 3 blends and one hue instead of 4 and 4, for the same result."""
        hue_at = (order == 3).to(torch.uint8).argmax(dim=1)   # each image's position of the hue
        for position in range(3):   # the hue is never before position 0 or after position 3
            x = _blend(x, order[:, position], factors, skip=hue_at <= position)
        x = _hue_shift(x, factors[:, 3])
        for position in range(1, 4):
            x = _blend(x, order[:, position], factors, skip=hue_at >= position)
        return x

    def _blur(self, x: torch.Tensor, p: ViewParams) -> torch.Tensor:
        k = self.blur_kernel
        n, c, height, width = x.shape
        lim = (k - 1) / (2.0 * math.sqrt(2.0))
        t = torch.linspace(-lim, lim, k, device=x.device)
        kernel = torch.softmax(-(t.unsqueeze(0) / p.sigma.unsqueeze(1)).pow(2), dim=1)   # torchvision's kernel
        delta = (torch.arange(k, device=x.device) == k // 2).float().expand(n, k)
        kernel = torch.where(p.blur.unsqueeze(1), kernel, delta)          # no blur: the identity kernel
        kernel = kernel.repeat_interleave(c, dim=0)                       # one per (image, channel)
        y = F.pad(x, (k // 2, k // 2, k // 2, k // 2), mode="reflect").reshape(1, n * c, height + k - 1, width + k - 1)
        y = F.conv2d(y, kernel.view(n * c, 1, k, 1), groups=n * c)
        y = F.conv2d(y, kernel.view(n * c, 1, 1, k), groups=n * c)
        return y.view(n, c, height, width)


def _recipe_problem(recipe: AugmentRecipe) -> str | None:
    """What in `recipe` no view can be made with, in words: a std of 0 divided by 0 (inf), a
    blur sigma of 0 gave NaN, a size of 0 empty views, a mean for 1 of 3 channels was broadcast,
    a probability of 2 accepted (#33 probe 21, S16). And what torchvision's own transforms refuse:
    a ratio of 0 was "math domain error", a negative brightness, a hue of 0.9, a scale above 1 or
    a NaN mean accepted, a size of 1.5 or True taken (#33 probe 22, T6)."""
    if not isinstance(recipe.size, numbers.Integral) or isinstance(recipe.size, bool) or not recipe.size >= 1:
        return f"size must be a whole number of pixels, at least 1, got {recipe.size!r}"
    for name in ("mean", "std"):
        values = getattr(recipe, name)
        if len(values) != recipe.channels:
            return f"{name} has {len(values)} value(s) for {recipe.channels} channel(s); give one per channel"
    if not all(math.isfinite(v) for v in recipe.mean):
        return f"mean must be finite for every channel, got {recipe.mean}"
    for name, top in (("scale", 1.0), ("ratio", math.inf)):   # RandomResizedCrop's area share and aspect
        low, high = getattr(recipe, name)
        if not 0 < low <= high <= top or high == math.inf:
            bound = " <= 1" if top == 1 else ""
            return f"{name} must be (low, high) with 0 < low <= high{bound}, got {getattr(recipe, name)}"
    *factors, hue = recipe.jitter   # ColorJitter's: brightness, contrast, saturation >= 0; hue in [0, 0.5]
    if not all(0 <= f < math.inf for f in factors) or not 0 <= hue <= 0.5:
        return (f"jitter must be (brightness, contrast, saturation, hue), the first three at least 0, hue in "
                f"[0, 0.5]; got {recipe.jitter}")
    if not all(v > 0 and math.isfinite(v) for v in recipe.std):
        return f"std must be above 0 for every channel (it divides), got {recipe.std}"
    for name in ("jitter_p", "grayscale_p", "blur_p", "hflip_p", "solarize_p"):
        if not 0 <= getattr(recipe, name) <= 1:
            return f"{name} is a probability, in [0, 1]; got {getattr(recipe, name)}"
    low, high = recipe.blur_sigma
    if recipe.blur_p > 0 and not 0 < low <= high < math.inf:
        return f"blur_sigma must be (low, high) with 0 < low <= high, got {recipe.blur_sigma}"
    return None


def _central_crop(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """torchvision's fallback after 10 misses: the whole image, cut to the ratio range."""
    in_ratio = width / height
    if in_ratio < min(ratio):
        return width, int(round(width / min(ratio)))
    if in_ratio > max(ratio):
        return int(round(height * max(ratio))), height
    return width, height
