"""`--download`: fetch a dataset with torchvision's own downloaders (opt-in; nasiam reads local
files otherwise).

    root = download_dataset("cifar10", "data")   # data/cifar-10-batches-py/, as create_dataset reads it

torchvision checks each archive's MD5 and shows its progress bar; a dataset already in place is
not fetched again. The roots are the layouts `create_dataset` reads: Fashion-MNIST in
`<root>/FashionMNIST/raw/`, CIFAR in `<root>/cifar-10-batches-py/` or `<root>/cifar-100-python/`,
STL-10 in `<root>/stl10_binary/`.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from nasiam.data.datasets import create_dataset, dataset_info, default_root
from nasiam.data.readers import DataNotFoundError
from nasiam.errors import shown_path

__all__ = ["DOWNLOADABLE", "download_dataset", "download_root", "ensure_downloaded"]

DOWNLOADABLE = ("fashion_mnist", "cifar10", "cifar100", "stl10")  # what torchvision's downloaders fetch


def download_root(root: str | os.PathLike | None) -> Path:
    """Where `--download` puts a dataset: `--data_root`, else `$NASIAM_DATA` or ./data."""
    return Path(root) if root is not None else Path(os.environ.get("NASIAM_DATA", "data"))


def _present(name: str, root: Path, split: str) -> bool:
    try:
        create_dataset(name, root, split)
    except (DataNotFoundError, ValueError):
        return False
    return True


def download_dataset(name: str, root: str | os.PathLike | None = None) -> Path:
    """Fetch `name`'s training and test files into `root` unless they are there; returns the root."""
    if name not in DOWNLOADABLE:
        raise ValueError(f"--download fetches {', '.join(DOWNLOADABLE)}, not {name}")
    # every split a run reads (STL-10's unlabeled too), so that one missing is fetched, as the
    # missing-data message promises, not skipped because train and test are in place
    splits = tuple(split for split in dataset_info(name).splits if "+" not in split)
    if root is None and all(_present(name, default_root(name), split) for split in splits):
        return default_root(name)  # e.g. Debian's dataset-fashion-mnist is installed
    root = download_root(root)
    if all(_present(name, root, split) for split in splits):
        return root
    from torchvision import datasets

    root.mkdir(parents=True, exist_ok=True)
    target = os.fspath(root)
    try:
        if name == "fashion_mnist":
            for train in (True, False):
                datasets.FashionMNIST(target, train=train, download=True)
        elif name in ("cifar10", "cifar100"):
            (datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100)(target, train=False, download=True)
        else:  # one archive holds every STL-10 split; the test split is the quickest to read back
            datasets.STL10(target, split="test", download=True)
    except (RuntimeError, OSError) as e:  # no network, a mirror down, a corrupt archive (MD5)
        debian = (" On Debian/Ubuntu, `sudo apt-get install dataset-fashion-mnist` installs it without a download."
                  if name == "fashion_mnist" else "")
        raise DataNotFoundError(f"--download could not fetch {name} into {root}: {str(e).strip()}.{debian} "
                                "Or put the files under --data_root yourself.") from None
    return root


def ensure_downloaded(name: str, root: str | os.PathLike | None) -> Path:
    """`download_dataset`, one process at a time: every process of a run (on one machine or
    several sharing the folder, however they were launched) takes an exclusive lock on the
    download folder; the first fetches, the others then find the files in place. A failed
    download leaves the data folder as it found it: the folders made for it (the root, an
    empty FashionMNIST/raw/) are removed again, and the lock file always is."""
    folder = download_root(root)
    made = [p for p in (*(folder / sub for sub in _DOWNLOADER_FOLDERS.get(name, ())), folder, *folder.parents)
            if not os.path.lexists(p)]
    _make_folder(folder, "--data_root" if root is not None or "NASIAM_DATA" not in os.environ else "$NASIAM_DATA")
    try:
        with _download_lock(folder):
            return download_dataset(name, root)
    except BaseException:
        for path in sorted(made, key=lambda p: len(p.parts), reverse=True):   # the deepest first
            with contextlib.suppress(OSError):   # not empty: something is in it now, kept
                path.rmdir()
        raise


def _make_folder(folder: Path, option: str) -> None:
    """The download folder made, or the `option` that chose it named: a file there (or above
    it), a link that leads nowhere, or a place nothing can be made in (/proc), is a bad data
    root (exit 2), not a failed write of the run's outputs."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataNotFoundError(f"{option}: --download cannot make its folder {shown_path(folder)}: "
                                f"{_why_no_folder(folder, e)}; choose another {option}") from None


def _why_no_folder(folder: Path, error: OSError) -> str:
    """What stands in the way, from the nearest part of `folder` that exists: a dangling link was
    "a file", /proc "No such file or directory" (#33 probe 22, T8)."""
    existing = next(p for p in (folder, *folder.parents) if os.path.lexists(p))
    if existing.is_symlink() and not existing.exists():
        return f"{shown_path(existing)} is a link that leads nowhere (to {shown_path(Path(os.readlink(existing)))})"
    if not existing.is_dir():
        return f"{shown_path(existing)} is a file, not a folder"
    return f"nothing can be created in {shown_path(existing)} ({error.strerror or error})"


LOCK_NAME = ".nasiam-download.lock"
# the folders a downloader makes under the root before it fetches (torchvision's FashionMNIST:
# FashionMNIST/raw/; the CIFAR and STL-10 archives are fetched into the root itself)
_DOWNLOADER_FOLDERS: dict[str, tuple[str, ...]] = {"fashion_mnist": ("FashionMNIST", "FashionMNIST/raw")}


@contextlib.contextmanager
def _download_lock(folder: Path):
    """An exclusive lock on `folder`'s downloads, by a lock file removed when the holder is done.
    A process that waited on a file the holder has since removed (its path gone, or another
    file there now) takes the lock again on the path's current file: two processes holding two
    files would both fetch."""
    import fcntl

    path = folder / LOCK_NAME
    while True:
        folder.mkdir(parents=True, exist_ok=True)   # again: a failed download may have removed it
        lock = open(path, "a")
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(lock.fileno()), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        lock.close()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)   # while it is held: a process waiting on it then sees it gone
        lock.close()
