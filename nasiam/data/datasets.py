"""Datasets from local roots: CIFAR-10/100, STL-10, Fashion-MNIST, image folders (ImageNet,
ImageNet-100, any folder of class sub-folders), and a synthetic set for tests and smoke runs.

    dataset = create_dataset("fashion_mnist", split="train", transform=...)

Each item is `(transform(image), label)`, the image a uint8 `tv_tensors.Image` (C, H, W) or a
PIL image for folders; `dataset_info(name)` gives size, channels, classes and normalisation.
Nothing is downloaded here: a missing dataset raises `DataNotFoundError` naming the path that
was searched and how to obtain the files (for Fashion-MNIST, CIFAR-10/100 and STL-10 that includes
`--download`, which fetches them with torchvision's downloaders: nasiam.data.download).
"""
from __future__ import annotations

import errno
import math
import os
import stat
import struct
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from nasiam._io import is_within
from nasiam.data.readers import DataNotFoundError, read_cifar_batches, read_idx, read_stl10_images, read_stl10_labels
from nasiam.errors import shown

__all__ = ["DatasetInfo", "dataset_info", "create_dataset", "list_datasets", "ArrayImageDataset",
           "SyntheticImages", "DataNotFoundError", "FASHION_MNIST_DEBIAN_ROOT", "default_root", "image_folder_classes"]

FASHION_MNIST_DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    image_size: int            # side of the (square) training crop
    channels: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    splits: tuple[str, ...]
    eval_split: str = "test"


_INFO = {
    "cifar10": DatasetInfo("cifar10", 32, 3, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
                           ("train", "test")),
    "cifar100": DatasetInfo("cifar100", 32, 3, 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
                            ("train", "test")),
    "stl10": DatasetInfo("stl10", 96, 3, 10, IMAGENET_MEAN, IMAGENET_STD,
                         ("train", "test", "unlabeled", "train+unlabeled")),
    "fashion_mnist": DatasetInfo("fashion_mnist", 28, 1, 10, (0.2860,), (0.3530,), ("train", "test")),
    "imagenet": DatasetInfo("imagenet", 224, 3, 1000, IMAGENET_MEAN, IMAGENET_STD, ("train", "val"), "val"),
    "imagenet100": DatasetInfo("imagenet100", 224, 3, 100, IMAGENET_MEAN, IMAGENET_STD, ("train", "val"), "val"),
    "imagefolder": DatasetInfo("imagefolder", 224, 3, 0, IMAGENET_MEAN, IMAGENET_STD, ("train", "val"), "val"),
    "synthetic": DatasetInfo("synthetic", 32, 3, 10, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), ("train", "test")),
}


def list_datasets() -> list[str]:
    return list(_INFO)


def dataset_info(name: str, **overrides) -> DatasetInfo:
    if name not in _INFO:
        raise KeyError(f"unknown dataset {name!r}; choose one of {', '.join(_INFO)}")
    info = _INFO[name]
    if not overrides:
        return info
    fields = {**info.__dict__, **overrides}
    channels = fields["channels"]
    for key in ("mean", "std"):  # a channel override keeps the normalisation consistent with it
        if key not in overrides and len(fields[key]) != channels:
            fields[key] = tuple((fields[key] * channels)[:channels])
    return DatasetInfo(**fields)


def default_root(name: str) -> Path:
    """Where a dataset is looked for when no root is given: Debian's Fashion-MNIST package (or,
    when it is not installed, a copy `--download` put under `$NASIAM_DATA`), else `$NASIAM_DATA`
    (default `./data`)."""
    local = Path(os.environ.get("NASIAM_DATA", "data"))
    if name == "fashion_mnist":
        debian_has_it = (FASHION_MNIST_DEBIAN_ROOT / "train-images-idx3-ubyte.gz").is_file()
        return local if not debian_has_it and (local / "FashionMNIST" / "raw").is_dir() else FASHION_MNIST_DEBIAN_ROOT
    return local


class ArrayImageDataset(Dataset):
    """Images held as a uint8 (N, H, W, C) array (possibly memory-mapped) with labels."""

    def __init__(self, images: np.ndarray, targets: np.ndarray, classes: list[str] | None = None,
                 transform: Callable | None = None):
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} labels")
        self.images, self.targets, self.transform = images, np.asarray(targets, dtype=np.int64), transform
        self.classes = classes or [str(c) for c in range(int(self.targets.max()) + 1 if len(self.targets) else 0)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        from torchvision import tv_tensors

        image = tv_tensors.Image(torch.from_numpy(np.array(self.images[index])).permute(2, 0, 1))  # a writable copy
        return (self.transform(image) if self.transform else image), int(self.targets[index])


class SyntheticImages(Dataset):
    """Class-structured random images, generated per index (no memory, fully seeded).

    Class c is a grating at orientation pi*c/C with a class colour, at a random phase and noise
    per image: an SSL model can learn to tell classes apart, so kNN rises above chance.
    """

    def __init__(self, size: int = 512, image_size: int = 32, channels: int = 3, num_classes: int = 10,
                 seed: int = 0, transform: Callable | None = None):
        self.size, self.image_size, self.channels, self.num_classes = size, image_size, channels, num_classes
        self.seed, self.transform = seed, transform
        self.targets = np.arange(size, dtype=np.int64) % num_classes
        self.classes = [f"class_{c}" for c in range(num_classes)]

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        from torchvision import tv_tensors

        if not 0 <= index < self.size:
            raise IndexError(index)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        c = int(self.targets[index])
        angle = math.pi * c / self.num_classes
        coords = torch.linspace(0, 1, self.image_size)
        y, x = torch.meshgrid(coords, coords, indexing="ij")
        phase = float(torch.rand((), generator=g)) * 2 * math.pi
        grating = torch.sin(2 * math.pi * 3 * (x * math.cos(angle) + y * math.sin(angle)) + phase)
        colour = 0.5 + 0.5 * torch.cos(torch.tensor([0.0, 2.1, 4.2])[: self.channels] + c)
        image = 0.5 + 0.35 * grating[None] * colour[:, None, None]
        image = image + 0.1 * torch.randn(self.channels, self.image_size, self.image_size, generator=g)
        image = tv_tensors.Image((image.clamp(0, 1) * 255).to(torch.uint8))
        return (self.transform(image) if self.transform else image), c


DOWNLOAD_HINT = ("Or pass --download to nasiam search, pretrain or compare: torchvision's downloader fetches it "
                 "into --data_root (default: $NASIAM_DATA or ./data); nothing is downloaded without it.")
# an image folder (ImageNet, your own) has no downloader: saying "add --download" would fail,
# and saying nasiam "never downloads" would be untrue of the datasets it can fetch
NOT_DOWNLOADABLE = "--download fetches only Fashion-MNIST, CIFAR-10/100 and STL-10; an image folder is yours to fill."


def _missing(what: str, root: Path, expected: str, how: str, downloadable: bool = True,
             split: str = "train") -> DataNotFoundError:
    missing = f"{what} not found" if split == "train" else f"the {split} split of {what} is missing"
    return DataNotFoundError(f"{missing}: expected {expected} under {root}. {how} "
                             + (DOWNLOAD_HINT if downloadable else NOT_DOWNLOADABLE)
                             + " Or pass --data_root to point elsewhere.")


def _is_data_file(path: Path) -> bool:
    """Whether a dataset's file `path` is in place (False: nothing there); something other than a
    file in its place (a folder, a FIFO, a device) is refused by name: "not found" misled, and
    reading it failed as a write of the run's, exit 5 (#33 probe 21, S7)."""
    if path.is_file():
        return True
    if not os.path.lexists(path):
        return False
    raise ValueError(f"{path} is not a regular file (a folder, a link that leads nowhere, a FIFO or a device), where "
                     "the dataset has a data file; replace it with the dataset's file")


def _cifar(name: str, root: Path, split: str, transform) -> ArrayImageDataset:
    folder, label_key = ("cifar-10-batches-py", "labels") if name == "cifar10" else ("cifar-100-python", "fine_labels")
    base = root / folder if (root / folder).is_dir() else root
    if name == "cifar10":
        files = [base / f"data_batch_{i}" for i in range(1, 6)] if split == "train" else [base / "test_batch"]
    else:
        files = [base / ("train" if split == "train" else "test")]
    missing = [f.name for f in files if not _is_data_file(f)]
    if missing:
        archive = "cifar-10-python.tar.gz" if name == "cifar10" else "cifar-100-python.tar.gz"
        raise _missing(name.upper().replace("CIFAR", "CIFAR-"), root, f"{folder}/{', '.join(missing)}",
                       f"Download {archive} from https://www.cs.toronto.edu/~kriz/cifar.html and extract it there.",
                       split=split)
    images, labels = read_cifar_batches(files, label_key)
    return ArrayImageDataset(images, labels, transform=transform)


def _stl10(root: Path, split: str, transform) -> ArrayImageDataset:
    base = root / "stl10_binary" if (root / "stl10_binary").is_dir() else root
    parts = ["train", "unlabeled"] if split == "train+unlabeled" else [split]
    images, labels = [], []
    for part in parts:
        x, y = base / f"{part}_X.bin", base / f"{part}_y.bin"
        missing = [f.name for f in (x, y) if f.name != "unlabeled_y.bin" and not _is_data_file(f)]   # unlabelled: no y
        if missing:
            raise _missing("STL-10", root, " and ".join(f"stl10_binary/{name}" for name in missing),
                           "Download stl10_binary.tar.gz from https://cs.stanford.edu/~acoates/stl10/ and extract it "
                           "there.", split=part)
        images.append(read_stl10_images(x))
        labels.append(read_stl10_labels(y) if part != "unlabeled" else np.full(len(images[-1]), -1, dtype=np.int64))
        if len(labels[-1]) != len(images[-1]):
            raise ValueError(f"{x} holds {len(images[-1])} images but {y} {len(labels[-1])} labels; one of them is "
                             "damaged: extract stl10_binary.tar.gz again")
    data = images[0] if len(images) == 1 else np.concatenate(images)  # concatenation reads the memmaps
    return ArrayImageDataset(data, np.concatenate(labels), classes=[str(c) for c in range(10)], transform=transform)


def _fashion_mnist(root: Path, split: str, transform) -> ArrayImageDataset:
    prefix = "train" if split == "train" else "t10k"
    stems = {"images": f"{prefix}-images-idx3-ubyte", "labels": f"{prefix}-labels-idx1-ubyte"}
    for base in (root, root / "FashionMNIST" / "raw"):
        # each file gzipped or not, the gzipped one first
        found = {kind: next((base / name for name in (stem + ".gz", stem) if (base / name).is_file()), None)
                 for kind, stem in stems.items()}
        if None not in found.values():
            # unsigned bytes both (IDX type 0x08): 28x28 grey images, labels 0..9
            images, labels = read_idx(found["images"], (28, 28), 0x08), read_idx(found["labels"], (), 0x08)
            if len(images) != len(labels):
                raise ValueError(f"{found['images']} holds {len(images)} images but {found['labels']} "
                                 f"{len(labels)} labels; one of them is damaged or of another set of images")
            classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                       "Ankle boot"]
            return ArrayImageDataset(images[..., None], labels.astype(np.int64), classes, transform)
    raise _missing("Fashion-MNIST", root, f"{prefix}-images-idx3-ubyte.gz and {prefix}-labels-idx1-ubyte.gz",
                   "On Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist` puts them in "
                   f"{FASHION_MNIST_DEBIAN_ROOT}; or copy the files from "
                   "https://github.com/zalandoresearch/fashion-mnist there.", split=split)


# The most pixels an image is decoded at: 2^25, an 8K frame (7680 x 4320) fits. A training view
# is a crop resized to --image_size (224 for folders), so more pixels only cost time and memory
# (100 MB decoded here, per read: every epoch, every worker). A JPEG above it is decoded reduced
# (by 2, 4 or 8, as libjpeg does for free); an image that cannot be (a PNG) is refused.
MAX_DECODED_PIXELS = 1 << 25


# What PIL raises for a file it cannot parse: OSError for most, but ValueError for a text (zTXt,
# iTXt) or ICC (iCCP) chunk that inflates past its limit ("Decompressed data too large", the
# seventh probe of #33), SyntaxError, struct.error, EOFError and IndexError from its plugins'
# parsers for other malformed headers. Each names the file, as a truncated image does.
_DAMAGED_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, struct.error, EOFError, IndexError)


def _load_image(path: str):
    """torchvision's PIL loader, with a damaged image named in the error (an OSError carrying
    the path, so the CLI says which file could not be read). The file is opened without
    blocking: a FIFO put in an image's place after the folder was checked would otherwise block
    the open forever, where even SIGTERM (acted on at the next step) could not stop the run.
    The header's size is checked before anything is decoded (`MAX_DECODED_PIXELS`)."""
    from PIL import Image

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise OSError(None, f"damaged or unreadable image ({e})", path) from None
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(None, "not a regular file (a FIFO, socket or device), whose reading would block or "
                                "never end", path)
        try:
            image = Image.open(f)   # reads the header only
            too_large = _reduce_if_too_large(image)
            if too_large is None:
                return _as_rgb(image, path)
        except _UnscalableImageError:   # already names the file and the fix
            raise
        except Image.DecompressionBombError:   # a small file that would decode to gigabytes
            raise OSError(None, f"an image of more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, far more than a "
                                "training image needs (a decompression bomb?)", path) from None
        except _DAMAGED_IMAGE_ERRORS as e:
            detail = str(e) if isinstance(e, OSError) else f"{type(e).__name__}: {e}"
            raise OSError(None, f"damaged or unreadable image ({detail})", path) from None
        raise OSError(None, too_large, path)


# 16-bit unsigned grey (16-bit PNG and TIFF): PIL's convert("RGB") clips these to 0..255, so a
# 16-bit picture comes out nearly white (the fourteenth probe of #33, K1).
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
# Formats whose 32-bit "I" images are 16-bit samples widened by PIL: a 16-bit PGM/PPM (and a 16-bit
# PNG in Pillow before 10), so 0..65535 is their range too.
_SIXTEEN_BIT_AS_I_FORMATS = ("PNG", "PPM")


class _UnscalableImageError(OSError):
    """An image whose values have no range to scale to 8 bits by (the OSError names the file)."""


def _as_rgb(image, path: str):
    """`image` as 8-bit RGB. 16-bit grey is scaled by its range (the top 8 bits: value >> 8, which
    gives back exactly the 8-bit picture a 16-bit one was made from). A 32-bit integer (mode I)
    or floating-point (mode F) image is refused: neither has a fixed range (a float image may hold
    0..1, 0..255 or anything), so any scaling nasiam chose would be a guess, and per-image
    min..max scaling would make the same value different grey levels in different images."""
    from PIL import Image

    if image.mode in _SIXTEEN_BIT_MODES or (image.mode == "I" and image.format in _SIXTEEN_BIT_AS_I_FORMATS):
        values = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        return Image.fromarray((values >> 8).astype(np.uint8), "L").convert("RGB")
    if image.mode in ("I", "F"):
        kind = "a 32-bit integer" if image.mode == "I" else "a floating-point"
        raise _UnscalableImageError(None, f"{kind} image (PIL mode {image.mode}), whose values have no fixed range: reading it as "
                            "8-bit RGB would clip every value to 0..255. Convert the images to 8-bit (or 16-bit) PNG "
                            "first, scaled by the range of your data", path)
    return image.convert("RGB")


def _reduce_if_too_large(image) -> str | None:
    """An image of more than MAX_DECODED_PIXELS: a JPEG is set to decode at the smallest of 1/2,
    1/4, 1/8 scale that fits (PIL's draft; nothing is decoded yet); for any other, why it is
    refused (its size and the fix), before its decoding would take the time and memory."""
    width, height = image.size
    if width * height <= MAX_DECODED_PIXELS:
        return None
    # the smallest reduction whose size (rounded up, as libjpeg gives it) fits
    scale = next((s for s in (2, 4, 8) if -(-width // s) * -(-height // s) <= MAX_DECODED_PIXELS), 8)
    image.draft(None, (max(1, width // scale), max(1, height // scale)))   # a no-op but for JPEG
    if image.size[0] * image.size[1] <= MAX_DECODED_PIXELS:
        return None
    return (f"{width:,} x {height:,} pixels ({width * height / 1e6:.0f} MP), more than the "
            f"{MAX_DECODED_PIXELS / 1e6:.1f} MP an image is decoded at: every read (each epoch) would decode it whole. "
            "Resize the images, e.g. `mogrify -resize '4096x4096>' *.png`, or save them as JPEG (read reduced)")


def _is_image_file(path: str) -> bool:
    """ImageFolder's test (an image extension), and a regular file: a FIFO named x.png would
    block the first read forever, a device would never end."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

    if not has_file_allowed_extension(path, IMG_EXTENSIONS):
        return False
    try:
        mode = os.stat(path).st_mode
    except OSError as e:   # ImageFolder would stop on the raw errno text
        if os.path.islink(path):
            raise ValueError(f"{path} is a dangling symbolic link (to {os.readlink(path)}, "
                             f"{'a loop of links' if e.errno == errno.ELOOP else 'which does not exist'}): "
                             "remove it from the data folder, or restore what it points to") from None
        raise
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path} is not a regular file (a FIFO, socket or device): reading it would block or never "
                         "end; remove it from the data folder")
    return True


def _check_linked_folders(folder: Path) -> None:
    """ImageFolder follows links to folders inside a class folder. A link back up (a/up -> ..)
    or to another class folder would give this class other classes' images, a loop (a/again ->
    .) would read it 40 times over: each refused, naming the link. Links elsewhere are followed."""
    split = os.path.realpath(folder)
    within = partial(is_within, resolved=True)   # every path below is resolved once, with realpath
    for entry in sorted(folder.iterdir()):   # ImageFolder skips it: a class would vanish without a word
        if entry.is_symlink() and not entry.exists():
            raise ValueError(f"{entry} is a dangling symbolic link (to {os.readlink(entry)}): a class folder that "
                             "cannot be read. Remove the link, or restore (mount) what it points to")
    tops: dict[str, Path] = {}
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        top = os.path.realpath(class_dir)
        # a class folder that is a link to another class's folder (b -> a), or to a folder
        # around or inside one, reads the same images under two labels
        other = next((name for real, name in tops.items() if within(top, real) or within(real, top)), None)
        if other is not None:
            raise ValueError(f"{class_dir} leads to {top}, {'the folder of' if tops.get(top) else 'a folder around or inside'} "
                             f"class {other.name!r}: the same images would be read under classes {other.name!r} and "
                             f"{class_dir.name!r}; remove the link or copy the images")
        tops[top] = class_dir
        seen = {top}
        for parent, dirs, _ in os.walk(class_dir, followlinks=True, onerror=_unreadable_folder):
            for d in dirs:
                link, real = os.path.join(parent, d), os.path.realpath(os.path.join(parent, d))
                problem = ("a folder this class already reads (a loop, or a second way to the same images)"
                           if real in seen else "a folder that holds the class folder itself" if within(top, real)
                           else "another class's folder" if within(real, split) and not within(real, top) else None)
                if problem:
                    raise ValueError(f"{link} leads to {real}, {problem}: its images would be read under class "
                                     f"{class_dir.name!r}; remove the link or copy the images")
                seen.add(real)


def _unreadable_folder(error: OSError) -> None:
    """os.walk's onerror: a folder that cannot be listed (no read or execute permission). ImageFolder
    skips it without a word, so a class folder was then reported as empty, "add its images" (the
    fourteenth probe of #33, K15)."""
    reason = "permission denied" if isinstance(error, PermissionError) else error.strerror or str(error)
    raise DataNotFoundError(f"{error.filename}: a folder of the image folder that cannot be read ({reason}): give "
                            "this user read and execute permission on it (e.g. `chmod -R u+rX` on the data "
                            "folder), or remove it") from None


def _image_folder_path(name: str, root: Path, split: str) -> Path:
    folder = root / split
    if not folder.is_dir() and split == "train" and root.is_dir() and any(p.is_dir() for p in root.iterdir()):
        folder = root  # a plain folder of class sub-folders
        if (root / "val").is_dir():   # read as train/, val/ would be one more class of it
            raise DataNotFoundError(f"{root} has a val/ folder but no train/: with no train/ the folder itself is "
                                    f"read as the training split, and val/ would be one more class of it. Move the "
                                    f"class folders beside val/ into {root / 'train'}/")
    if not folder.is_dir():
        raise _missing(name, root, f"{split}/<class>/<image files>", _image_folder_fix(name, root, split),
                       downloadable=False, split=split)
    return folder


def _image_folder_fix(name: str, root: Path, split: str) -> str:
    """How to give an image folder its missing `split`: the training images may be there
    already, even as a plain folder of class folders, which is read as the train split (a
    `val/` beside its class folders would be read as one more class)."""
    imagenet = " (ImageNet: ILSVRC2012's val images, sorted into class folders)" if name.startswith("imagenet") else ""
    if split == "train" or not root.is_dir():
        return ("Arrange the images in one sub-folder per class, train/<class>/ and val/<class>/ (ImageNet: "
                "extract ILSVRC2012 train and val, with val sorted into class folders).")
    held_out = (f"the evaluation (kNN, linear probe) reads held-out labelled images of the same classes from "
                f"{root / split}/<class>/{imagenet}")
    if (root / "train").is_dir():
        return f"The training images are in {root / 'train'}/; {held_out}: put some of each class there."
    if any(p.is_dir() for p in root.iterdir()):
        return (f"{root} holds class folders, read as the training split; {held_out}: move the class folders into "
                f"{root / 'train'}/ and some of each class's images into {root / split}/<class>/.")
    return f"Arrange the images in one sub-folder per class, train/<class>/ and {split}/<class>/{imagenet}."


def image_folder_classes(name: str, root: str | os.PathLike | None = None, split: str = "train") -> list[str]:
    """The classes of an image folder's `split`: its sub-folders' names, sorted, in the order
    ImageFolder numbers them. A user's folder (`imagefolder`) has as many classes as it has
    sub-folders, which only reading it tells (its `dataset_info` says 0: unknown)."""
    from torchvision.datasets.folder import find_classes

    folder = _image_folder_path(name, Path(root) if root is not None else default_root(name), split)
    try:
        return find_classes(os.fspath(folder))[0]
    except FileNotFoundError as e:
        raise DataNotFoundError(f"{folder}: {e}") from None


def _image_folder(name: str, root: Path, split: str, transform):
    from torchvision.datasets import ImageFolder

    folder = _image_folder_path(name, root, split)
    _check_linked_folders(folder)
    try:
        # allow_empty: the empty classes are named below, a few and their count (torchvision's
        # message listed every one: 2,000 empty folders made 16 KB of error, the fourteenth probe of #33, K14)
        dataset = ImageFolder(os.fspath(folder), transform=transform, loader=_load_image, is_valid_file=_is_image_file,
                              allow_empty=True)
    except FileNotFoundError as e:   # no class folder at all
        raise DataNotFoundError(f"{folder}: {str(e).strip()}") from None
    _check_no_empty_class(folder, dataset.classes, dataset.targets)
    return dataset


def _check_no_empty_class(folder: Path, classes: list[str], targets: list[int]) -> None:
    """Every class folder holds an image file: an empty one would be a class the model never sees."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    found = set(targets)
    empty = [name for index, name in enumerate(classes) if index not in found]
    if not empty:
        return
    listed = 5
    names = ", ".join(shown(name) for name in empty[:listed]) + (f" and {len(empty) - listed:,} more"
                                                                 if len(empty) > listed else "")
    raise DataNotFoundError(f"{folder}: {len(empty):,} of its {len(classes):,} class folders hold no image file "
                            f"({', '.join(IMG_EXTENSIONS)}): {names}. Add their images, or remove the folders")


def create_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train",
                   transform: Callable | None = None, **synthetic_kwargs) -> Dataset:
    """Dataset `name` ("cifar10", "cifar100", "stl10", "fashion_mnist", "imagenet",
    "imagenet100", "imagefolder", "synthetic") from local `root`, split `split`."""
    info = dataset_info(name)
    if split not in info.splits:
        raise ValueError(f"{name} has splits {', '.join(info.splits)}, not {split!r}")
    if name == "synthetic":
        seed = synthetic_kwargs.pop("seed", 0) + (0 if split == "train" else 7919)
        return SyntheticImages(seed=seed, transform=transform, **synthetic_kwargs)
    root = Path(root) if root is not None else default_root(name)
    if name in ("cifar10", "cifar100"):
        return _cifar(name, root, split, transform)
    if name == "stl10":
        return _stl10(root, split, transform)
    if name == "fashion_mnist":
        return _fashion_mnist(root, split, transform)
    return _image_folder(name, root, split, transform)
