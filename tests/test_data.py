import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from nasiam.data import (
    FASHION_MNIST_DEBIAN_ROOT,
    DataNotFoundError,
    MultiViewTransform,
    augment_recipe,
    class_balanced_subset,
    create_dataset,
    dataset_info,
    eval_transform,
    random_subset,
    search_split,
)


def _write_cifar(root, name):
    rng = np.random.default_rng(0)
    if name == "cifar10":
        base = root / "cifar-10-batches-py"
        base.mkdir(parents=True)
        files, key = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], "labels"
    else:
        base = root / "cifar-100-python"
        base.mkdir(parents=True)
        files, key = ["train", "test"], "fine_labels"
    for f in files:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), key: [0, 1, 2, 3],
                 "batch_label": "tiny"}
        with open(base / f, "wb") as fh:
            pickle.dump(batch, fh)
    return base


@pytest.mark.parametrize("name,train_size", [("cifar10", 20), ("cifar100", 4)])
def test_cifar_reads_the_python_batches(tmp_path, name, train_size):
    base = _write_cifar(tmp_path, name)
    train = create_dataset(name, tmp_path, "train")
    test = create_dataset(name, tmp_path, "test")
    assert len(train) == train_size and len(test) == 4
    image, label = train[1]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8 and label == 1
    with open(base / ("test_batch" if name == "cifar10" else "test"), "rb") as fh:
        raw = pickle.load(fh)["data"][2]
    assert torch.equal(test[2][0].permute(1, 2, 0).reshape(-1),
                       torch.from_numpy(raw.reshape(3, 32, 32).transpose(1, 2, 0).reshape(-1)))


def test_cifar_refuses_a_pickle_that_would_run_code(tmp_path):
    base = _write_cifar(tmp_path, "cifar10")
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)

    with open(base / "test_batch", "wb") as fh:
        pickle.dump({"data": Evil(), "labels": []}, fh)
    with pytest.raises(ValueError, match="refusing to load"):
        create_dataset("cifar10", tmp_path, "test")
    assert not marker.exists()


def _write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_gz(tmp_path):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([7, 0, 9]))
    ds = create_dataset("fashion_mnist", tmp_path, "test")
    assert len(ds) == 3 and ds[2][1] == 9 and ds.classes[9] == "Ankle boot"
    assert torch.equal(ds[1][0][0], torch.from_numpy((images[1] % 256).astype(np.uint8)))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abc"))
    with pytest.raises(ValueError, match="IDX header says"):
        create_dataset("fashion_mnist", tmp_path, "test")


def test_stl10_reads_the_binary_format(tmp_path):
    base = tmp_path / "stl10_binary"
    base.mkdir()
    rng = np.random.default_rng(0)
    for part, n in (("train", 3), ("test", 2), ("unlabeled", 4)):
        images = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        images.transpose(0, 3, 2, 1).tofile(base / f"{part}_X.bin")  # channel-major, column-major
        if part == "train":
            kept = images
        if part != "unlabeled":
            (np.arange(n, dtype=np.uint8) + 1).tofile(base / f"{part}_y.bin")
    train = create_dataset("stl10", tmp_path, "train")
    assert len(train) == 3 and train[2][1] == 2
    assert torch.equal(train[1][0].permute(1, 2, 0), torch.from_numpy(kept[1]))
    both = create_dataset("stl10", tmp_path, "train+unlabeled")
    assert len(both) == 7 and both[6][1] == -1


def test_image_folder(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            Image.new("RGB", (40, 30), (255, 0, 0) if cls == "cat" else (0, 0, 255)).save(tmp_path / split / cls / "a.png")
    ds = create_dataset("imagefolder", tmp_path, "val", transform=eval_transform(dataset_info("imagefolder"), 32))
    assert len(ds) == 2 and ds.classes == ["cat", "dog"]
    assert ds[0][0].shape == (3, 32, 32)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_put_in_an_images_place_after_the_check_is_named_not_waited_on(tmp_path):
    """The folder is checked when the run starts; a FIFO swapped in for an image afterwards
    blocked the loader's open() forever (and a run's SIGTERM, acted on at the next step, never
    came). Now it is an OSError naming the file at once."""
    import threading

    from PIL import Image

    for cls in ("cat", "dog"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "train" / cls / "a.png")
    ds = create_dataset("imagefolder", tmp_path, "train")
    image = tmp_path / "train" / "cat" / "a.png"
    image.unlink()
    os.mkfifo(image)
    outcome = []

    def load():
        try:
            ds[0]
        except OSError as e:
            outcome.append(e)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():   # unblock the reader the old code left waiting for a writer
        os.close(os.open(image, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("reading a FIFO in an image's place blocked")
    assert outcome and outcome[0].filename == str(image) and "not a regular file" in str(outcome[0])


def test_class_folders_beside_a_val_folder_are_told_to_move_into_train(tmp_path):
    """Class folders at the root with val/ beside them: the root was read as train/, and the
    refusal said only "other class folders than its train split (only in train: 'val')"."""
    from PIL import Image

    for folder in ("cat", "dog", "val/cat", "val/dog"):
        (tmp_path / folder).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / folder / "a.png")
    with pytest.raises(DataNotFoundError, match=f"{tmp_path} has a val/ folder but no train/: .* val/ would be one "
                                                f"more class of it. Move the class folders beside val/ into "
                                                f"{tmp_path / 'train'}/"):
        create_dataset("imagefolder", tmp_path, "train")


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10", "fashion_mnist", "imagenet"])
def test_missing_data_says_where_and_how(tmp_path, name):
    """Where the files go, and --download where it can fetch them. The message said nasiam
    "never downloads data" while --download exists (#33 round three): each now says what it does."""
    how = ("--download fetches only Fashion-MNIST, CIFAR-10/100 and STL-10" if name == "imagenet"
           else "Or pass --download to nasiam search, pretrain or compare")
    with pytest.raises(DataNotFoundError, match=f"not found: expected .* under {tmp_path}.*{how}") as missing:
        create_dataset(name, tmp_path, dataset_info(name).splits[0])
    assert "never downloads" not in str(missing.value)


@pytest.mark.parametrize("layout", ["train/<class>", "<class>"])
def test_an_image_folder_without_its_val_split_says_where_the_held_out_images_go(tmp_path, layout):
    """An image folder whose training images were there but no val/ was reported as
    "imagefolder not found ... Arrange the images in one sub-folder per class ... (nasiam never
    downloads data; ...)", though they were so arranged and --download exists (#33 round three).
    Now: the val split is missing, where its images go, and for a plain folder of class folders
    (read as the train split, where a val/ would be one more class) that they move to train/."""
    from PIL import Image

    train = tmp_path / "train" if layout == "train/<class>" else tmp_path
    for cls in ("cat", "dog"):
        (train / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(train / cls / "a.png")
    assert len(create_dataset("imagefolder", tmp_path, "train")) == 2
    with pytest.raises(DataNotFoundError) as missing:
        create_dataset("imagefolder", tmp_path, "val")
    message = str(missing.value)
    assert message.startswith(f"the val split of imagefolder is missing: expected val/<class>/<image files> under "
                              f"{tmp_path}."), message
    assert f"held-out labelled images of the same classes from {tmp_path / 'val'}/<class>/" in message
    if layout == "<class>":
        assert f"move the class folders into {tmp_path / 'train'}/ and some of each class's images into" in message
    else:
        assert f"The training images are in {tmp_path / 'train'}/" in message
    assert "never downloads" not in message and "Arrange the images" not in message
    assert "--download fetches only Fashion-MNIST, CIFAR-10/100 and STL-10" in message


def test_download_fetches_a_missing_stl10_unlabeled_split(tmp_path, monkeypatch):
    """STL-10's train and test in place, its unlabeled split (what a run trains on) missing:
    --download checked only train and test, fetched nothing, and the run then said "Or add
    --download" (#33 round three). Every split a run reads is checked now, so it fetches."""
    from torchvision import datasets

    from nasiam.data.download import download_dataset

    base = tmp_path / "stl10_binary"
    base.mkdir()
    for part in ("train", "test"):
        np.zeros((2, 3, 96, 96), dtype=np.uint8).tofile(base / f"{part}_X.bin")
        np.ones(2, dtype=np.uint8).tofile(base / f"{part}_y.bin")
    fetched = []
    monkeypatch.setattr(datasets, "STL10", lambda root, split, download: fetched.append((root, split, download)))
    assert download_dataset("stl10", tmp_path) == tmp_path
    assert fetched == [(str(tmp_path), "test", True)]
    np.zeros((2, 3, 96, 96), dtype=np.uint8).tofile(base / "unlabeled_X.bin")
    fetched.clear()
    download_dataset("stl10", tmp_path)
    assert fetched == []   # all in place: nothing fetched


def test_unknown_dataset_and_split():
    with pytest.raises(KeyError, match="choose one of"):
        create_dataset("mnist3d")
    with pytest.raises(ValueError, match="has splits"):
        create_dataset("cifar10", split="validation")


def test_search_split_is_disjoint_complete_and_reproducible():
    w, a = search_split(101, 0.5, seed=3)
    assert set(w).isdisjoint(a) and sorted(w + a) == list(range(101))
    assert abs(len(a) - 50) <= 1
    assert search_split(101, 0.5, seed=3) == (w, a)
    assert search_split(101, 0.5, seed=4) != (w, a)
    with pytest.raises(ValueError):
        search_split(10, 1.0)


def test_subsets():
    assert random_subset(10, None) == list(range(10))
    sub = random_subset(100, 10, seed=1)
    assert len(set(sub)) == 10 and sub == random_subset(100, 10, seed=1)
    targets = [c for c in range(5) for _ in range(20)] + [-1] * 7
    chosen = class_balanced_subset(targets, 0.1, seed=0)
    counts = np.bincount(np.asarray(targets)[chosen])
    assert counts.tolist() == [2] * 5
    assert class_balanced_subset(targets, 0.1, seed=0) == chosen
    assert len(class_balanced_subset(targets, 0.01)) == 5  # at least one per class


@pytest.mark.parametrize("method", ["simclr", "simsiam", "mocov2", "mocov3"])
@pytest.mark.parametrize("name,size", [("fashion_mnist", 28), ("synthetic", 32), ("stl10", 96)])
def test_multi_view_recipes_give_distinct_normalised_views(method, name, size):
    info = dataset_info(name)
    recipe = augment_recipe(method, info)
    image = create_dataset("synthetic", size=1, image_size=size, channels=info.channels)[0][0]
    views = MultiViewTransform(recipe)(image)
    assert len(views) == 2 and views[0].shape == (info.channels, size, size) and views[0].dtype == torch.float32
    assert not torch.equal(views[0], views[1])
    assert (recipe.blur_p > 0) == (size >= 96)
    assert (recipe.jitter[2] == 0) == (info.channels == 1)


def test_synthetic_is_deterministic_and_class_structured():
    a, b = create_dataset("synthetic", size=20), create_dataset("synthetic", size=20)
    assert torch.equal(a[5][0], b[5][0]) and a[5][1] == 5
    assert not torch.equal(a[5][0], create_dataset("synthetic", size=20, split="test")[5][0])


@pytest.mark.skipif(not FASHION_MNIST_DEBIAN_ROOT.exists(), reason="dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_the_debian_package():
    train, test = create_dataset("fashion_mnist", split="train"), create_dataset("fashion_mnist", split="test")
    assert (len(train), len(test)) == (60000, 10000)
    assert np.bincount(train.targets).tolist() == [6000] * 10


def test_a_hostile_test_split_stops_the_run_before_training(tmp_path, capsys):
    """Labels outside the dataset's classes in the test split: refused (exit 2) before the first
    step, with no run directory left, instead of a traceback after training."""
    from nasiam.cli import main

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 96), ("t10k", 16)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(16, 200))
    code = main(["pretrain", "--dataset=fashion_mnist", f"--data_root={tmp_path}", "--batch_size=32", "--subset=96",
                 "--epochs=1", "--num_workers=0", "--proj_hidden_dim=16", "--proj_output_dim=16", "--pred_hidden_dim=8",
                 f"--out_dir={tmp_path / 'runs'}", "--run_name=r"])
    assert code == 2
    assert "labels outside 0..9" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "r" / "checkpoints").exists()


def test_an_idx_gzip_bomb_is_refused_without_decompressing_it(tmp_path):
    """A 1 MiB gzip file that inflates to 1 GiB behind a header announcing 3 images: read()
    stops after the announced bytes; a header announcing terabytes is refused before reading."""
    import resource

    from nasiam.data.readers import read_idx

    header = struct.pack(">BBBB", 0, 0, 0x08, 3) + b"".join(struct.pack(">I", d) for d in (3, 28, 28))
    bomb = tmp_path / "bomb-idx3-ubyte.gz"
    # gzip members one after another read as one stream: 1024 copies of one compressed MiB of
    # zeros inflate to 1 GiB as a single member would, without compressing a GiB here (seconds)
    one_mib = gzip.compress(bytes(1 << 20), compresslevel=9)
    bomb.write_bytes(gzip.compress(header + bytes(3 * 28 * 28)) + one_mib * 1024)
    assert bomb.stat().st_size < 4 << 20
    mapped = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (mapped + (512 << 20), hard))   # inflating the bomb would not fit
    try:
        with pytest.raises(ValueError, match="file has more"):
            read_idx(bomb)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    huge = tmp_path / "huge-idx3-ubyte.gz"
    with gzip.open(huge, "wb") as fh:
        fh.write(struct.pack(">BBBB", 0, 0, 0x08, 3) + b"".join(struct.pack(">I", d) for d in (2 ** 31, 2 ** 16, 8)))
    with pytest.raises(ValueError, match="more than a dataset file of this kind holds"):
        read_idx(huge)


def _write_image_folder(root, splits=("train", "val"), classes=("circle", "square", "stripe"), per_class=16, size=20):
    """A small real folder of PNG and JPEG files, one colour per class (seeded noise on top), of
    mixed sizes as a user's folder is: every third image wider and taller than `size`."""
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = {"circle": (220, 40, 40), "square": (40, 200, 60), "stripe": (40, 60, 220)}
    for split in splits:
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                height, width = (size, size) if i % 3 else (size + 5 + i % 4, size + 3)
                noise = rng.normal(0, 30, (height, width, 3))
                pixels = np.clip(np.array(colours.get(cls, (128, 128, 128))) + noise, 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / cls / f"{i}.{'png' if i % 2 else 'jpg'}")


@pytest.mark.parametrize("name, size, resized", [("imagefolder", 16, True), ("imagenet", 64, True),
                                                 ("fashion_mnist", 28, False), ("cifar10", 32, False),
                                                 ("cifar10", 16, True)])
def test_evaluation_images_of_any_size_come_out_alike(name, size, resized):
    """The kNN and linear-probe batches stack images: an image folder's (any sizes) at a small
    --image_size are resized and cropped like everything else (they reached the stack at their
    own sizes and crashed the end of a run, #33); a dataset's own size is left alone."""
    from PIL import Image

    from nasiam.data import dataset_info, eval_transform

    info = dataset_info(name, image_size=size)
    transform = eval_transform(info)
    channels = info.channels
    images = [Image.new("RGB" if channels == 3 else "L", (w, h)) for w, h in ((size, size), (size + 7, size + 3))]
    shapes = {tuple(transform(image).shape) for image in images}
    if resized:
        assert shapes == {(channels, size, size)}
    else:
        assert (channels, size, size) in shapes and len(shapes) == 2   # its own size: no resampling


@pytest.mark.slow
def test_a_users_image_folder_is_searched_and_pretrained_end_to_end(tmp_path):
    """`--dataset imagefolder`, a user's own images: its classes are its class folders (3 here),
    known once the folder is read. A search (kNN at the end), then a pretraining of the searched
    heads (kNN and the linear probe). Before, every folder was refused: 'labels outside 0..-1'."""
    import json

    from nasiam.cli import main

    _write_image_folder(tmp_path / "data")
    common = ["--dataset=imagefolder", f"--data_root={tmp_path / 'data'}", "--image_size=16", "--batch_size=8",
              "--epochs=1", "--num_workers=0", "--proj_hidden_dim=16", "--proj_output_dim=16", "--pred_hidden_dim=8",
              "--knn_k=5", f"--out_dir={tmp_path / 'runs'}"]
    assert main(["search", *common, "--run_name=search", "--warmup_epochs=0", "--widths=8,16"]) == 0
    assert main(["pretrain", *common, "--run_name=pretrain", f"--head={tmp_path / 'runs' / 'search'}"]) == 0
    searched = json.loads((tmp_path / "runs" / "search" / "summary.json").read_text())
    pretrained = json.loads((tmp_path / "runs" / "pretrain" / "summary.json").read_text())
    assert 0 <= searched["knn_top1"] <= 100
    assert 0 <= pretrained["knn_top1"] <= 100 and 0 <= pretrained["linear_top1"] <= 100, pretrained


def test_an_image_folder_counts_its_classes_from_its_class_folders(tmp_path):
    from nasiam.runner.build import read_dataset_info

    _write_image_folder(tmp_path, splits=("train",), classes=("circle", "square"), per_class=1)
    assert read_dataset_info("imagefolder", tmp_path).num_classes == 2
    assert read_dataset_info("imagefolder", tmp_path, image_size=16).image_size == 16
    assert read_dataset_info("cifar10", tmp_path).num_classes == 10   # a fixed count reads nothing


def test_an_image_folder_whose_test_split_has_other_classes_is_refused(tmp_path, capsys):
    """ImageFolder numbers classes by their sorted folder names per split: a val split without
    'circle' would call every 'square' image 'circle'. Refused before training (exit 2)."""
    from nasiam.cli import main

    _write_image_folder(tmp_path, splits=("train",), per_class=8)
    _write_image_folder(tmp_path, splits=("val",), classes=("square", "stripe"), per_class=2)
    code = main(["pretrain", "--dataset=imagefolder", f"--data_root={tmp_path}", "--image_size=16", "--batch_size=8",
                 "--epochs=1", "--num_workers=0", "--proj_hidden_dim=8", "--proj_output_dim=8", "--pred_hidden_dim=4",
                 f"--out_dir={tmp_path / 'runs'}", "--run_name=r"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "other class folders than its train split (only in train: 'circle'; only in val: none)" in err
    assert not (tmp_path / "runs" / "r" / "checkpoints").exists()


def test_class_folders_that_differ_only_in_unicode_normalisation_are_told_apart():
    """A train class 'café' written NFC and a val class 'café' written NFD (e + U+0301, as macOS
    writes names) were refused as "only in train: 'café'; only in val: 'café'": two names that
    print the same (the seventh probe of #33, I1). Now they are shown by code point and the
    message says why they differ; other names are shown as before."""
    from types import SimpleNamespace

    from nasiam.runner.build import _check_same_class_folders

    nfc, nfd = "caf\u00e9", "cafe\u0301"
    bank = SimpleNamespace(class_to_idx={"a": 0, "b": 1, nfc: 2})
    test = SimpleNamespace(class_to_idx={"a": 0, "c": 1, nfd: 2})
    with pytest.raises(ValueError) as info:
        _check_same_class_folders("imagefolder", SimpleNamespace(eval_split="val"), bank, test)
    message = str(info.value)
    assert "only in train: 'b', 'caf\\xe9'; only in val: 'c', 'cafe\\u0301'" in message, message
    assert "another Unicode normalisation, NFC and NFD" in message


@pytest.mark.parametrize("link,target,problem", [
    ("up", "..", "a folder that holds the class folder itself"),
    ("again", ".", "a folder this class already reads"),
    ("other", "../square", "another class's folder"),
])
def test_links_that_would_mislabel_or_loop_in_an_image_folder_are_refused(tmp_path, link, target, problem):
    """circle/up -> .. labelled every square as a circle; circle/again -> . counted the circles
    41 times (the walk followed the loop until the path was too long)."""
    _write_image_folder(tmp_path, splits=("train",), classes=("circle", "square"), per_class=2)
    (tmp_path / "train" / "circle" / link).symlink_to(target)
    with pytest.raises(ValueError, match=f"circle/{link} leads to .*{problem}.*read under class 'circle'"):
        create_dataset("imagefolder", tmp_path, "train")


@pytest.mark.parametrize("name, target", [("triangle", "circle"), ("zzz", "circle/inner")])
def test_a_class_folder_that_is_a_link_to_another_class_is_refused(tmp_path, name, target):
    """train/triangle -> circle read every circle twice, once labelled triangle: the same images
    under two classes (the fifth probe of #33; the links inside a class folder were checked, not
    the class folders themselves). A class folder linked to a folder elsewhere is still read."""
    _write_image_folder(tmp_path, splits=("train",), classes=("circle", "square"), per_class=2)
    (tmp_path / "train" / "circle" / "inner").mkdir()
    (tmp_path / "train" / name).symlink_to(target)
    with pytest.raises(ValueError, match=f"train/{name} leads to .*the same images would be read under classes"):
        create_dataset("imagefolder", tmp_path, "train")
    (tmp_path / "train" / name).unlink()
    _write_image_folder(tmp_path / "extra", splits=("more",), classes=("triangle",), per_class=3)
    (tmp_path / "train" / "triangle").symlink_to(tmp_path / "extra" / "more" / "triangle")
    assert sorted(np.bincount(create_dataset("imagefolder", tmp_path, "train").targets).tolist()) == [2, 2, 3]


def test_a_link_to_images_elsewhere_is_followed_once(tmp_path):
    _write_image_folder(tmp_path / "data", splits=("train",), classes=("circle", "square"), per_class=2)
    _write_image_folder(tmp_path / "extra", splits=("more",), classes=("circle",), per_class=3)
    (tmp_path / "data" / "train" / "circle" / "more").symlink_to(tmp_path / "extra" / "more" / "circle")
    dataset = create_dataset("imagefolder", tmp_path / "data", "train")
    assert sorted(np.bincount(dataset.targets).tolist()) == [2, 5]


def test_a_fifo_among_the_images_is_refused_not_waited_on(tmp_path):
    _write_image_folder(tmp_path, splits=("train",), classes=("circle", "square"), per_class=2)
    os.mkfifo(tmp_path / "train" / "square" / "stream.png")
    with pytest.raises(ValueError, match="square/stream.png is not a regular file \\(a FIFO"):
        create_dataset("imagefolder", tmp_path, "train")


def test_a_dangling_link_among_the_images_is_named_with_its_fix(tmp_path, capsys):
    """A link to a deleted image gave ImageFolder's raw "[Errno 2] No such file or directory"
    (#33 round three): now the file, that it is a dangling link, and the fix; exit 2."""
    from nasiam.cli import main

    _write_image_folder(tmp_path, splits=("train", "val"), classes=("circle", "square"), per_class=4)
    link = tmp_path / "train" / "square" / "gone.png"
    link.symlink_to(tmp_path / "deleted.png")
    with pytest.raises(ValueError, match=f"{link} is a dangling symbolic link \\(to {tmp_path / 'deleted.png'}, "
                                         "which does not exist\\): remove it from the data folder"):
        create_dataset("imagefolder", tmp_path, "train")
    code = main(["pretrain", "--dataset=imagefolder", f"--data_root={tmp_path}", "--image_size=16", "--batch_size=4",
                 "--epochs=1", "--num_workers=0", "--proj_hidden_dim=8", "--proj_output_dim=8", "--pred_hidden_dim=4",
                 f"--out_dir={tmp_path / 'runs'}", "--run_name=r"])
    err = capsys.readouterr().err
    assert code == 2 and f"{link} is a dangling symbolic link" in err and "Errno" not in err, err
    link.unlink()
    (tmp_path / "train" / "triangle").symlink_to(tmp_path / "unmounted")   # a class folder: it was skipped
    with pytest.raises(ValueError, match=f"train/triangle is a dangling symbolic link \\(to {tmp_path / 'unmounted'}"
                                         "\\): a class folder that cannot be read. Remove the link"):
        create_dataset("imagefolder", tmp_path, "train")


def test_a_decompression_bomb_is_named_as_an_unreadable_image(tmp_path):
    """A 60-byte PNG announcing 40,000 x 40,000 pixels: an OSError naming the file (exit 2
    in the CLI), not PIL's DecompressionBombError in the middle of an epoch."""
    import zlib

    _write_image_folder(tmp_path, splits=("train",), classes=("circle", "square"), per_class=1)
    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 0, 0, 0, 0)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "train" / "square" / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    dataset = create_dataset("imagefolder", tmp_path, "train")
    with pytest.raises(OSError, match="decompression bomb") as error:
        dataset[[path for path, _ in dataset.samples].index(str(bomb))]
    assert error.value.filename == str(bomb)


def _png_with_a_chunk_bomb(path, kind):
    """A valid 16 x 16 PNG carrying a text (zTXt) or ICC profile (iCCP) chunk that inflates to
    64 MiB (PIL stops at 1 MiB with a ValueError)."""
    import zlib

    from PIL import Image

    Image.new("RGB", (16, 16)).save(path)
    raw = path.read_bytes()
    data = b"k\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9)   # keyword, NUL, compression method 0
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    cut = raw.index(b"IDAT") - 4
    path.write_bytes(raw[:cut] + chunk + raw[cut:])


@pytest.mark.parametrize("kind", [b"zTXt", b"iCCP"])
def test_an_image_whose_text_or_icc_chunk_is_a_bomb_is_named_as_damaged(tmp_path, kind):
    """PIL's ValueError for such a chunk escaped the loader, and the run stopped with "the train
    split cannot be read (ValueError: Decompressed data too large ...)", naming no file (the
    seventh probe of #33, I3 and I4). Now it is the OSError naming the file that every other
    damaged image gives (exit 2 in the CLI)."""
    from nasiam.data.datasets import _load_image

    path = tmp_path / "bomb.png"
    _png_with_a_chunk_bomb(path, kind)
    with pytest.raises(OSError, match="damaged or unreadable image \\(ValueError: Decompressed data too large") as info:
        _load_image(str(path))
    assert info.value.filename == str(path)


def test_an_image_that_crashes_a_pil_parser_is_named_as_damaged(tmp_path, monkeypatch):
    """PIL's plugins raise SyntaxError, struct.error, EOFError or IndexError for some malformed
    headers: each names the file, as a truncated image does."""
    from PIL import Image

    from nasiam.data.datasets import _load_image

    path = tmp_path / "odd.png"
    Image.new("RGB", (16, 16)).save(path)
    for error in (SyntaxError("broken PNG file"), struct.error("unpack requires a buffer of 4 bytes"),
                  EOFError(), IndexError("index out of range")):
        def fail(*args, error=error, **kwargs):
            raise error
        monkeypatch.setattr(Image, "open", fail)
        with pytest.raises(OSError, match=f"damaged or unreadable image \\({type(error).__name__}") as info:
            _load_image(str(path))
        assert info.value.filename == str(path)


def _png_header(path, width, height):
    """A PNG of a few dozen bytes announcing `width` x `height` grey pixels (no pixel data):
    Image.open reads this header only, so a check of its size allocates nothing."""
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def test_a_100_megapixel_png_is_refused_by_name_before_it_is_decoded(tmp_path, capsys):
    """A 10,000 x 10,000 PNG (below Pillow's decompression-bomb error at 179 megapixels) was
    decoded whole on every read, every epoch: slow and 100 MB to 300 MB a read, silently (#33,
    the fourth probe's note). Now its header's size refuses it before any decoding, naming the
    file, its size and the fix; as the first image of a split, before the run starts (exit 2)."""
    import warnings

    from PIL import Image

    from nasiam.cli import main

    _write_image_folder(tmp_path, classes=("circle", "square"), per_class=4)
    huge = tmp_path / "val" / "circle" / "0-huge.png"   # the split's first image: read by the up-front check
    _png_header(huge, 10_000, 10_000)
    dataset = create_dataset("imagefolder", tmp_path, "val")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # Pillow's warning above 89 megapixels
        with pytest.raises(OSError, match=r"10,000 x 10,000 pixels \(100 MP\), more than the 33.6 MP an image is "
                                          r"decoded at: .* Resize the images") as error:
            dataset[0]
        assert error.value.filename == str(huge)
        code = main(["pretrain", "--dataset=imagefolder", f"--data_root={tmp_path}", "--image_size=16",
                     "--batch_size=4", "--epochs=1", "--num_workers=0", "--proj_hidden_dim=8", "--proj_output_dim=8",
                     "--pred_hidden_dim=4", f"--out_dir={tmp_path / 'runs'}", "--run_name=r"])
    err = capsys.readouterr().err
    assert code == 2 and f"{huge}: 10,000 x 10,000 pixels (100 MP)" in err and "Resize the images" in err, err


def test_an_image_over_the_bound_is_read_reduced_if_a_jpeg_else_refused(tmp_path, monkeypatch):
    """JPEG decodes at 1/2, 1/4 or 1/8 scale for free (PIL's draft): an image over the bound is
    read at the smallest reduction that fits; a PNG cannot be, and is refused. At or under the
    bound, every image is read as it is. (The bound lowered so that small files show it.)"""
    from PIL import Image

    from nasiam.data import datasets

    monkeypatch.setattr(datasets, "MAX_DECODED_PIXELS", 40 * 40)
    pixels = np.random.default_rng(0).integers(0, 255, (60, 100, 3), dtype=np.uint8)
    for name in ("big.jpg", "big.png"):
        Image.fromarray(pixels).save(tmp_path / name)
    Image.fromarray(pixels[:40, :40]).save(tmp_path / "bound.png")
    assert datasets._load_image(str(tmp_path / "big.jpg")).size == (50, 30)   # by 2: 1,500 pixels
    assert datasets._load_image(str(tmp_path / "bound.png")).size == (40, 40)
    with pytest.raises(OSError, match=r"100 x 60 pixels .* Resize the images") as error:
        datasets._load_image(str(tmp_path / "big.png"))
    assert error.value.filename == str(tmp_path / "big.png")


def test_a_16_bit_grey_image_is_read_as_the_same_picture_at_8_bits(tmp_path):
    """PIL's convert("RGB") clipped 16-bit grey (mode I;16, or I from a 16-bit PGM) to 0..255,
    so nearly every pixel came out white and kNN fell to chance, exit 0 (the fourteenth probe of
    #33, K1). Now 16 bits are scaled by their range: the same picture saved at 8 and at 16 bits
    reads the same."""
    from PIL import Image

    from nasiam.data.datasets import _load_image

    grey8 = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    Image.fromarray(grey8).save(tmp_path / "grey8.png")
    Image.fromarray(grey8.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    Image.fromarray(grey8.astype(np.uint16) * 257).save(tmp_path / "grey16.pgm")
    expected = np.asarray(_load_image(str(tmp_path / "grey8.png")))
    for name in ("grey16.png", "grey16.pgm"):
        np.testing.assert_array_equal(np.asarray(_load_image(str(tmp_path / name))), expected, err_msg=name)


@pytest.mark.parametrize("mode", ["I", "F"])
def test_a_32_bit_integer_or_float_image_is_refused_naming_file_mode_and_fix(tmp_path, mode):
    """A 32-bit integer TIFF was clipped to 0..255 and a float one in 0..1 read as black (K1).
    Neither has a fixed range to scale by, so the loader refuses it, naming the file, the mode and
    the fix (an OSError with the file name: exit 2 in the CLI)."""
    from PIL import Image

    from nasiam.data.datasets import _load_image

    values = np.tile(np.arange(16, dtype=np.int32) * 4000, (16, 1))
    path = tmp_path / f"{mode}.tif"
    Image.fromarray(values.astype(np.float32) / 65535 if mode == "F" else values).save(path)
    assert Image.open(path).mode == mode
    with pytest.raises(OSError, match=f"\\(PIL mode {mode}\\).*no fixed range.*Convert the images to 8-bit") as info:
        _load_image(str(path))
    assert info.value.filename == str(path)
    assert "damaged" not in str(info.value)


def test_many_empty_class_folders_are_named_by_the_first_few_and_their_count(tmp_path):
    """2,000 empty class folders were every one listed in the error, about 16 KB (the fourteenth
    probe of #33, K14): now the first five and how many more."""
    from PIL import Image

    from nasiam.data import DataNotFoundError, create_dataset

    (tmp_path / "train" / "zz").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "zz" / "x.png")
    for i in range(2000):
        (tmp_path / "train" / f"c{i:05d}").mkdir()
    with pytest.raises(DataNotFoundError) as info:
        create_dataset("imagefolder", tmp_path, "train")
    message = str(info.value)
    assert "2,000 of its 2,001 class folders hold no image file" in message
    assert "'c00000', 'c00001', 'c00002', 'c00003', 'c00004' and 1,995 more" in message
    assert "c00005" not in message and len(message) < 600 and "Add their images, or remove the folders" in message


def test_a_class_folder_that_cannot_be_listed_is_named_unreadable_not_empty(tmp_path, monkeypatch):
    """A class folder without read permission (chmod 0) was reported as empty, "add its images"
    (the fourteenth probe of #33, K15): torchvision's os.walk skips what it cannot list. The
    tests run as root, whom permissions do not stop, so os.scandir is made to fail for that
    folder as the kernel fails it for another user (EACCES)."""
    import errno as errno_codes

    from PIL import Image

    from nasiam.data import DataNotFoundError, create_dataset

    for name in ("a", "b"):
        (tmp_path / "train" / name).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "train" / name / "x.png")
    locked, scandir = tmp_path / "train" / "b", os.scandir

    def refusing_scandir(path="."):
        if os.fspath(path) == os.fspath(locked):
            raise PermissionError(errno_codes.EACCES, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing_scandir)
    with pytest.raises(DataNotFoundError) as info:
        create_dataset("imagefolder", tmp_path, "train")
    message = str(info.value)
    assert message.startswith(f"{locked}: a folder of the image folder that cannot be read (permission denied)")
    assert "chmod -R u+rX" in message and "add its images" not in message.lower()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="permissions do not stop root")
def test_a_class_folder_without_permission_is_named_unreadable(tmp_path):
    from PIL import Image

    from nasiam.data import DataNotFoundError, create_dataset

    for name in ("a", "b"):
        (tmp_path / "train" / name).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "train" / name / "x.png")
    (tmp_path / "train" / "b").chmod(0)
    try:
        with pytest.raises(DataNotFoundError, match="cannot be read \\(permission denied\\)"):
            create_dataset("imagefolder", tmp_path, "train")
    finally:
        (tmp_path / "train" / "b").chmod(0o755)
