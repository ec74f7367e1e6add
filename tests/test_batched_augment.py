"""BatchedViews: one random draw per image, the recipe's ranges, torchvision's semantics.

Each operation is checked against torchvision's own functional kernel on the same image
with the same parameters (exact up to float rounding); the whole pipeline against the
per-sample torchvision recipe by the statistics of many views of the same images.
"""
import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from nasiam.data import SyntheticImages, augment_recipe, dataset_info, view_transform
from nasiam.data.batched_augment import BatchedViews, ViewParams

RGB = dataset_info("cifar10")


def _images(n=16, size=32, channels=3, seed=0):
    """Structured uint8 images (coloured gratings with noise), not flat noise: crops, jitter
    and grayscale then change their statistics the way they change real images'."""
    data = SyntheticImages(size=n, image_size=size, channels=channels, seed=seed)
    return torch.stack([data[i][0].as_subclass(torch.Tensor) for i in range(n)])


def _params(views, n, size=32, seed=0, **overrides):
    params = views.sample(n, size, size, torch.Generator().manual_seed(seed))
    for key, value in overrides.items():
        setattr(params, key, value)
    return params


@pytest.mark.parametrize("method", ["simsiam", "simclr", "mocov2", "mocov3"])
@pytest.mark.parametrize("dataset,size", [("cifar10", 32), ("fashion_mnist", 28), ("stl10", 96)])
def test_every_recipe_gives_normalised_float32_views_of_the_recipe_size(method, dataset, size):
    info = dataset_info(dataset)
    recipe = augment_recipe(method, info)
    images = _images(4, size, info.channels)
    out = BatchedViews(recipe)(images, torch.Generator().manual_seed(0))
    assert out.shape == (4, info.channels, recipe.size, recipe.size) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert (recipe.blur_p > 0) == (size >= 96)  # the recipes blur at ImageNet-like sizes only


def test_views_are_float32_under_autocast_and_equal_to_the_plain_call():
    views = BatchedViews(augment_recipe("simclr", RGB))
    images = _images(8)
    plain = views(images, torch.Generator().manual_seed(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = views(images, torch.Generator().manual_seed(3))
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, plain)


def test_each_image_draws_its_own_crop_flip_and_jitter():
    views = BatchedViews(augment_recipe("simsiam", RGB))
    same = _images(1).expand(64, -1, -1, -1)  # one image, 64 times
    params = views.sample(64, 32, 32, torch.Generator().manual_seed(0))
    assert len({tuple(b.tolist()) for b in params.boxes}) > 50
    assert 10 < int(params.flip.sum()) < 54
    assert len({tuple(f.tolist()) for f in params.factors[params.jitter]}) == int(params.jitter.sum())
    assert len({tuple(o.tolist()) for o in params.order}) > 12  # of the 24 orders
    out = views.apply(same, params).flatten(1)
    distance = torch.cdist(out, out, compute_mode="donot_use_mm_for_euclid_dist") + torch.eye(64) * 1e9
    assert distance.min() > 1e-2  # no two views of the batch are the same


def test_sampled_parameters_stay_in_the_recipe_ranges():
    recipe = augment_recipe("simclr", RGB, blur_p=0.5, solarize_p=0.2)
    p = BatchedViews(recipe).sample(4000, 32, 40, torch.Generator().manual_seed(1))
    top, left, h, w = p.boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 32).all() and (left + w <= 40).all()
    assert (h == h.round()).all() and (w == w.round()).all()
    area = h * w / (32 * 40)
    # rounded sides move the area by about a pixel's width along each side
    assert area.min() >= recipe.scale[0] * 0.85 and area.max() <= 1.0
    aspect = w / h
    assert aspect.min() >= recipe.ratio[0] * 0.8 and aspect.max() <= recipe.ratio[1] * 1.25
    for flag, rate in ((p.flip, recipe.hflip_p), (p.jitter, recipe.jitter_p), (p.gray, recipe.grayscale_p),
                       (p.blur, recipe.blur_p), (p.solarize, recipe.solarize_p)):
        assert abs(flag.float().mean().item() - rate) < 0.03
    b, c, s, hue = recipe.jitter
    on = p.factors[p.jitter]
    for column, (lo, hi) in enumerate([(max(0, 1 - b), 1 + b), (max(0, 1 - c), 1 + c), (max(0, 1 - s), 1 + s),
                                       (-hue, hue)]):
        assert on[:, column].min() >= lo and on[:, column].max() <= hi
        assert on[:, column].max() - on[:, column].min() > 0.9 * (hi - lo)  # the whole range, not a corner
    assert (p.factors[~p.jitter] == torch.tensor([1.0, 1.0, 1.0, 0.0])).all()
    assert (p.order.sort(dim=1).values == torch.arange(4)).all()  # a permutation per image
    assert p.sigma.min() >= recipe.blur_sigma[0] and p.sigma.max() <= recipe.blur_sigma[1]


def test_crop_area_and_flip_distributions_match_torchvision():
    recipe = augment_recipe("simsiam", RGB)
    p = BatchedViews(recipe).sample(3000, 32, 32, torch.Generator().manual_seed(2))
    ours = (p.boxes[:, 2] * p.boxes[:, 3] / 1024).sort().values
    crop = v2.RandomResizedCrop(32, scale=recipe.scale, ratio=recipe.ratio)
    image = torch.zeros(3, 32, 32)
    make_params = getattr(crop, "make_params", None) or crop._get_params  # torchvision < 0.21: _get_params
    theirs = torch.tensor(sorted(q["height"] * q["width"] / 1024 for q in (make_params([image])
                                                                           for _ in range(3000)))).float()
    quantiles = torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9])
    torch.testing.assert_close(ours.quantile(quantiles), theirs.quantile(quantiles), atol=0.03, rtol=0)
    their_params = [make_params([image]) for _ in range(3000)]
    their_aspect = torch.tensor([q["width"] / q["height"] for q in their_params]).log()
    aspect = (p.boxes[:, 3] / p.boxes[:, 2]).log()
    torch.testing.assert_close(aspect.quantile(quantiles), their_aspect.quantile(quantiles), atol=0.03, rtol=0)


def test_crops_reach_every_edge_with_torchvisions_uniform_corner():
    """As torchvision's `randint(0, H - h + 1)`: every position of a crop is equally likely,
    the ones flush with the bottom and right edges included."""
    p = BatchedViews(augment_recipe("simsiam", RGB)).sample(6000, 32, 40, torch.Generator().manual_seed(4))
    top, left, h, w = p.boxes.unbind(1)
    for start, length, size in ((top, h, 32), (left, w, 40)):
        smaller = length < size  # a crop as long as the side has one position only
        assert smaller.sum() > 3000
        start, length = start[smaller], length[smaller]
        expected = (1.0 / (size - length + 1)).sum()  # each of the size - length + 1 positions equally likely
        for at_edge in (start + length == size, start == 0):  # the bottom (right) edge, the top (left)
            assert abs(at_edge.sum() - expected) < 4 * expected.sqrt(), (int(at_edge.sum()), float(expected))


@pytest.mark.parametrize("size,box", [(32, (3, 5, 17, 22)), (24, (0, 0, 32, 32)), (16, (4, 2, 26, 20)),
                                      (32, (10, 12, 1, 3)),
                                      (32, (15, 10, 17, 22))])  # the last: flush with the bottom and right edges
@pytest.mark.parametrize("flip", [False, True])
def test_crop_and_resize_equal_torchvision_resized_crop(size, box, flip):
    """Up- and down-scaling (antialiased) and the flip, against resized_crop on floats."""
    recipe = augment_recipe("simsiam", RGB, size=size)
    views = BatchedViews(recipe)
    image = _images(1).float() / 255
    params = _params(views, 1, boxes=torch.tensor([box], dtype=torch.float32), flip=torch.tensor([flip]))
    ours = views._crop_flip(image, params)[0]
    top, left, h, w = box
    theirs = TF.resized_crop(image[0], top, left, h, w, [size, size], antialias=True)
    if flip:
        theirs = TF.horizontal_flip(theirs)
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=0)


def test_colour_jitter_follows_each_images_order_and_factors_as_torchvision():
    views = BatchedViews(augment_recipe("simclr", RGB))
    image = _images(12).float() / 255
    params = _params(views, 12, seed=5, jitter=torch.ones(12, dtype=torch.bool))
    ours = views._colour_jitter(image, params)
    kernels = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    for i in range(12):
        theirs = image[i]
        for op in params.order[i].tolist():
            theirs = kernels[op](theirs, params.factors[i, op].item())
        torch.testing.assert_close(ours[i], theirs, atol=1e-5, rtol=0)


def test_the_sync_free_gpu_code_gives_the_cpu_codes_views():
    views = BatchedViews(augment_recipe("simclr", RGB))
    images = _images(16)
    params = _params(views, 16, seed=7)
    on_cpu = views.apply(images, params)
    views.subset_on_cpu = False  # what runs on a GPU: every op on the whole batch, identity factors
    torch.testing.assert_close(views.apply(images, params), on_cpu, atol=1e-5, rtol=0)


@pytest.mark.slow  # traces the graph (dynamo's eager backend: no code generated), a few seconds
@pytest.mark.parametrize("method,size", [("simclr", 32), ("simsiam", 96)])   # 96 px: with blur
def test_compiled_apply_is_one_graph_with_the_eager_views(method, size):
    """`BatchedViews.compile()` traces `apply` whole (fullgraph: no break, so nothing falls back
    to eager operator by operator) through the sync-free code, and gives its views."""
    pytest.importorskip("torch._dynamo")
    recipe = augment_recipe(method, RGB, size=size)
    compiled = BatchedViews(recipe).compile(backend="eager", fullgraph=True)
    eager = BatchedViews(recipe)
    eager.subset_on_cpu = False
    images = _images(8, size=40)
    for seed in (3, 4):   # a second draw reuses the graph
        params = _params(eager, 8, size=40, seed=seed)
        torch.testing.assert_close(compiled.apply(images, params), eager.apply(images, params), atol=0, rtol=0)
    with pytest.raises(ValueError, match="expected"):
        compiled.apply(images[:, :1], params)   # the shape check stays outside the compiled part


def test_the_sync_free_code_dispatches_a_bounded_number_of_operators():
    """On a GPU each operator of `apply` is a kernel launch paid on the host, in the training
    step's thread (the H200 fed a plain step at 55-67 % of the model's rate). The sync-free code
    shifts the hue once, not at each of the four jitter positions: 322 operators dispatched
    (views included; 225 that launch kernels) with torch 2.14, 393 before; the bound leaves room
    for other versions, not for the hue back at every position."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.n += 1
            return func(*args, **(kwargs or {}))

    views = BatchedViews(augment_recipe("simclr", RGB))
    views.subset_on_cpu = False
    images = _images(8)
    params = _params(views, 8, seed=2)
    with Count():
        views.apply(images, params)
    assert 200 <= Count.n <= 350, Count.n


def test_one_channel_images_take_brightness_and_contrast_only():
    info = dataset_info("fashion_mnist")
    recipe = augment_recipe("simsiam", info)
    assert recipe.jitter[2:] == (0.0, 0.0) and recipe.grayscale_p == 0
    views = BatchedViews(recipe)
    image = _images(6, 28, 1).float() / 255
    params = _params(views, 6, size=28, seed=1, jitter=torch.ones(6, dtype=torch.bool))
    ours = views._colour_jitter(image, params)
    for i in range(6):
        theirs = image[i]
        for op in params.order[i].tolist():
            if op < 2:
                theirs = [TF.adjust_brightness, TF.adjust_contrast][op](theirs, params.factors[i, op].item())
        torch.testing.assert_close(ours[i], theirs, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="saturation and hue jitter need RGB"):
        BatchedViews(augment_recipe("simsiam", info, jitter=(0.4, 0.4, 0.4, 0.1)))


def test_a_flat_128_is_solarized_everywhere_after_resampling():
    """torchvision inverts every pixel of a flat 128 (its resized uint8 image is still 128); the
    float resampling leaves some a rounding error below 128/255, which must count too."""
    recipe = augment_recipe("simsiam", RGB, solarize_p=1.0, jitter_p=0.0, grayscale_p=0.0)
    views = BatchedViews(recipe)
    images = torch.full((64, 3, 40, 40), 128, dtype=torch.uint8)   # 40 px: crops resampled to 32 both ways
    params = _params(views, 64, size=40, seed=1, solarize=torch.ones(64, dtype=torch.bool))
    mean, std = torch.tensor(recipe.mean).view(1, 3, 1, 1), torch.tensor(recipe.std).view(1, 3, 1, 1)
    pixels = views.apply(images, params) * std + mean
    torch.testing.assert_close(pixels, torch.full_like(pixels, 1 - 128 / 255), atol=1e-5, rtol=0)


def test_grayscale_blur_and_solarize_equal_torchvision():
    recipe = augment_recipe("simsiam", dataset_info("stl10"), solarize_p=0.5)  # 96 px: blur on
    views = BatchedViews(recipe)
    image = _images(4, 96).float() / 255
    n = 4
    params = _params(views, n, size=96, seed=3, jitter=torch.zeros(n, dtype=torch.bool),
                     factors=torch.tensor([[1.0, 1.0, 1.0, 0.0]] * n), gray=torch.tensor([True, False, True, False]),
                     blur=torch.tensor([True, True, False, False]), sigma=torch.tensor([0.5, 1.7, 1.0, 1.0]),
                     solarize=torch.tensor([False, True, True, False]),
                     boxes=torch.tensor([[0.0, 0.0, 96.0, 96.0]] * n), flip=torch.zeros(n, dtype=torch.bool))
    ours = views.apply(image, params)
    mean, std = torch.tensor(recipe.mean).view(3, 1, 1), torch.tensor(recipe.std).view(3, 1, 1)
    k = views.blur_kernel
    assert k == 9
    for i in range(n):
        theirs = image[i]
        if params.gray[i]:
            theirs = TF.rgb_to_grayscale(theirs, num_output_channels=3)
        if params.blur[i]:
            theirs = TF.gaussian_blur(theirs, [k, k], [params.sigma[i].item()] * 2)
        if params.solarize[i]:
            # which pixels torchvision's uint8 pipeline inverts (those that round to 128 or more),
            # inverted at float precision as ours keeps it
            theirs = torch.where((theirs * 255).round() >= 128, 1.0 - theirs, theirs)
        torch.testing.assert_close(ours[i], (theirs - mean) / std, atol=1e-4, rtol=0)


def test_same_generator_seed_same_views_and_another_seed_others():
    views = BatchedViews(augment_recipe("mocov2", RGB))
    images = _images(8)
    a = views(images, torch.Generator().manual_seed(11))
    torch.testing.assert_close(views(images, torch.Generator().manual_seed(11)), a, atol=0, rtol=0)
    assert not torch.allclose(views(images, torch.Generator().manual_seed(12)), a)


def _view_stats(views: torch.Tensor, recipe) -> dict[str, torch.Tensor]:
    """Per-channel mean and std, and the share of gray views, of (N, C, H, W) normalised views."""
    x = views * torch.tensor(recipe.std).view(1, -1, 1, 1) + torch.tensor(recipe.mean).view(1, -1, 1, 1)
    spread = (x.amax(dim=1) - x.amin(dim=1)).flatten(1).amax(dim=1)
    return {"mean": x.mean(dim=(0, 2, 3)), "std": x.std(dim=(0, 2, 3)), "gray": (spread < 2 / 255).float().mean(),
            "saturation": spread.mean()}


@pytest.mark.parametrize("method", ["simclr", "simsiam"])
def test_view_statistics_match_the_torchvision_recipe_on_the_same_images(method):
    recipe = augment_recipe(method, RGB)
    images = _images(96, seed=4)
    repeats = 16  # 1536 views each way; seed-to-seed differences measured at a third of the tolerances
    transform = view_transform(recipe)
    torch.manual_seed(0)
    theirs = torch.stack([transform(images[i]) for _ in range(repeats) for i in range(len(images))])
    ours = BatchedViews(recipe)(images.repeat(repeats, 1, 1, 1), torch.Generator().manual_seed(0))
    a, b = _view_stats(ours, recipe), _view_stats(theirs, recipe)
    torch.testing.assert_close(a["mean"], b["mean"], atol=0.02, rtol=0)
    torch.testing.assert_close(a["std"], b["std"], atol=0.012, rtol=0)
    assert abs(a["gray"] - b["gray"]) < 0.04 and abs(a["gray"] - recipe.grayscale_p) < 0.05
    assert abs(a["saturation"] - b["saturation"]) < 0.03


def test_apply_refuses_images_with_the_wrong_channel_count():
    views = BatchedViews(augment_recipe("simsiam", RGB))
    with pytest.raises(ValueError, match=r"expected \(N, 3, H, W\)"):
        views.apply(torch.zeros(2, 1, 32, 32, dtype=torch.uint8), views.sample(2, 32, 32))
    assert isinstance(views.sample(2, 32, 32), ViewParams)
