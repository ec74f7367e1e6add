"""The data readers' findings of the twenty-first probe of #33 (S1, S2, S4-S10, S17's lock file):
each dataset file is checked against its format and a fault is named with the file, before any
training; a read failure is a read of the data (exit 2), not a failed write of the run (exit 5)."""
import errno
import gzip
import pickle
import struct

import numpy as np
import pytest

from nasiam.cli import main
from nasiam.data import ArrayImageDataset, DataNotFoundError, create_dataset, dataset_info
from nasiam.runner.build import check_eval_splits


def _cifar10(root, batches, test=None):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    for i, batch in enumerate(batches, 1):
        (base / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    (base / "test_batch").write_bytes(pickle.dumps(test if test is not None else batches[0]))
    return base


def _batch(n=4, seed=0):
    return {"data": np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8),
            "labels": [i % 10 for i in range(n)]}


def test_cifar_labels_are_counted_against_each_batchs_images(tmp_path):
    """S2: batch 1 with a label too many, batch 2 one too few: the totals matched, and every label
    after batch 1's images was its neighbour's, exit 0."""
    batches = [_batch(seed=i) for i in range(5)]
    batches[0]["labels"].append(3)
    batches[1]["labels"].pop()
    base = _cifar10(tmp_path, batches)
    with pytest.raises(ValueError, match="4 images but 5 labels") as info:
        create_dataset("cifar10", tmp_path, "train")
    assert str(info.value).startswith(f"{base / 'data_batch_1'}:")


@pytest.mark.parametrize("key,value,found", [
    ("data", None, "'data' is NoneType"),
    ("data", {"a": 1}, "'data' is dict"),
    ("data", np.zeros((4, 3072)), "'data' is an array of float64"),     # pixels 0..1: cast to black
    ("data", np.full((4, 3072), 700), "'data' is an array of int64"),   # wrapped mod 256
    ("data", [["x"] * 3072] * 4, "'data' is list"),
    ("labels", ["cat", 1, 2, 3], "found a list of int, str"),
    ("labels", [2.7, 1, 2, 3], "found a list of float, int"),   # truncated to 2
    ("labels", [[1, 2]] * 4, "found a list of list"),
    ("labels", 7, "found int"),
])
def test_a_cifar_batch_of_other_contents_is_refused_naming_the_file(tmp_path, key, value, found):
    """S5, S8: odd contents were a TypeError traceback (exit 1), numpy's words naming no file, or
    read silently as other pixels and labels."""
    batches = [_batch(seed=i) for i in range(5)]
    batches[2][key] = value
    base = _cifar10(tmp_path, batches)
    with pytest.raises(ValueError) as info:
        create_dataset("cifar10", tmp_path, "train")
    message = str(info.value)
    assert message.startswith(f"{base / 'data_batch_3'}:") and found in message, message
    assert "not a CIFAR batch" in message


def _idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    kind = {0x08: "u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    path.write_bytes(gzip.compress(header + array.astype(kind).tobytes()))


def _fashion_mnist(root, images=None, labels=None, image_code=0x08, label_code=0x08, n_labels=8):
    rng = np.random.default_rng(0)
    _idx(root / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (8, 28, 28)) if images is None else images,
         image_code)
    _idx(root / "t10k-labels-idx1-ubyte.gz", np.arange(n_labels) % 10 if labels is None else labels, label_code)


@pytest.mark.parametrize("kwargs,file,found", [
    ({"images": np.zeros((8, 28, 28)), "image_code": 0x0B}, "images", "IDX type 0x0B (int16)"),       # S9
    ({"images": np.zeros((8, 28, 28)), "image_code": 0x0D}, "images", "IDX type 0x0D (float32)"),     # S9
    ({"images": np.zeros((8, 1, 784))}, "images", "shape (8, 1, 784), where this file holds (N, 28, 28)"),  # S8
    ({"images": np.zeros((8, 2, 2))}, "images", "shape (8, 2, 2), where this file holds (N, 28, 28)"),      # S8
    ({"labels": np.full(8, 1.5), "label_code": 0x0E}, "labels", "IDX type 0x0E (float64)"),           # S8
    ({"labels": np.full(8, -1), "label_code": 0x0C}, "labels", "IDX type 0x0C (int32)"),              # S1, S4
])
def test_fashion_mnist_files_of_another_type_or_shape_are_refused_naming_the_file(tmp_path, kwargs, file, found):
    """Images reshaped (40, 1, 784) or (40, 2, 2) trained, exit 0; int16/float32 images failed with
    torch's byte-order words naming no file; float labels were truncated, int32 -1 labels read."""
    _fashion_mnist(tmp_path, **kwargs)
    with pytest.raises(ValueError) as info:
        create_dataset("fashion_mnist", tmp_path, "test")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / f't10k-{file}-idx'}") and found in message, message


def test_fashion_mnist_label_count_names_both_files(tmp_path):
    """S6: '8 images but 7 labels', naming no file."""
    _fashion_mnist(tmp_path, n_labels=7)
    with pytest.raises(ValueError) as info:
        create_dataset("fashion_mnist", tmp_path, "test")
    assert str(info.value).startswith(f"{tmp_path / 't10k-images-idx3-ubyte.gz'} holds 8 images but "
                                      f"{tmp_path / 't10k-labels-idx1-ubyte.gz'} 7 labels")


def _stl10(root, parts):
    base = root / "stl10_binary"
    base.mkdir(parents=True)
    for name, content in parts.items():
        (base / name).write_bytes(content)
    return base


def test_stl10_empty_or_missing_files_are_named(tmp_path):
    """S6: a 0-byte train_X.bin was "cannot mmap an empty file", a missing train_y.bin the raw
    errno text; both name the file now, the missing one with where to get it."""
    base = _stl10(tmp_path / "empty", {"train_X.bin": b"", "train_y.bin": b""})
    with pytest.raises(ValueError, match="the file is empty") as info:
        create_dataset("stl10", tmp_path / "empty", "train")
    assert str(info.value).startswith(f"{base / 'train_X.bin'}:")
    _stl10(tmp_path / "no_y", {"train_X.bin": bytes(3 * 96 * 96)})
    with pytest.raises(DataNotFoundError, match="expected stl10_binary/train_y.bin under .*stl10_binary.tar.gz"):
        create_dataset("stl10", tmp_path / "no_y", "train")


def test_stl10_labels_a_folder_is_named(tmp_path):
    """S7: train_y.bin a folder failed as "a folder, where nasiam writes a file", exit 5."""
    base = _stl10(tmp_path, {"train_X.bin": bytes(3 * 96 * 96)})
    (base / "train_y.bin").mkdir()
    with pytest.raises(ValueError, match="is not a regular file") as info:
        create_dataset("stl10", tmp_path, "train")
    assert str(info.value).startswith(f"{base / 'train_y.bin'} ")


def test_a_data_file_that_cannot_be_mapped_is_a_read_error_naming_it(tmp_path, monkeypatch):
    """S7: a sparse 5.5 GB train_X.bin under `ulimit -v` failed in np.memmap with ENOMEM, reported
    as "Cannot allocate memory on a file of the run; ... --resume", exit 5."""
    base = _stl10(tmp_path, {"train_X.bin": bytes(3 * 96 * 96), "train_y.bin": b"\x01"})

    def no_memory(*args, **kwargs):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(np, "memmap", no_memory)
    with pytest.raises(ValueError, match=r"cannot read this data file \(Cannot allocate memory\)") as info:
        create_dataset("stl10", tmp_path, "train")
    assert str(info.value).startswith(f"{base / 'train_X.bin'}:") and "ulimit -v" in str(info.value)


def _labelled(labels):
    return ArrayImageDataset(np.zeros((len(labels), 4, 4, 3), np.uint8), np.asarray(labels))


@pytest.mark.parametrize("split", ["bank", "test"])
@pytest.mark.parametrize("labels", [[-1] * 4, [-1, 1, -1, 3]])
def test_unlabelled_images_are_refused_in_the_evaluations_splits(split, labels):
    """S1, S4: -1 (STL-10's unlabelled) was allowed in any dataset's train and test split: a test
    split of -1 scored 0.00 %, exit 0; a train split of -1 failed after training, exit 1."""
    sound = _labelled([0, 1, 2, 3])
    bank, test = (_labelled(labels), sound) if split == "bank" else (sound, _labelled(labels))
    with pytest.raises(ValueError, match=r"labels outside 0..9 \(found -1..-?\d\) \(-1 marks an unlabelled image"):
        check_eval_splits("cifar10", dataset_info("cifar10"), bank, test)


def test_an_extra_class_folder_in_val_is_named_before_the_label_range(tmp_path):
    """S10: val/.ipynb_checkpoints/ (Jupyter makes it) was "labels outside 0..1 (found 0..2); its
    label file is damaged": an image folder has no label file."""
    from PIL import Image

    for split, classes in (("train", ("a", "b")), ("val", ("a", "b", ".ipynb_checkpoints"))):
        for name in classes:
            (tmp_path / split / name).mkdir(parents=True)
            Image.new("RGB", (8, 8)).save(tmp_path / split / name / "x.png")
    info = dataset_info("imagefolder", num_classes=2)
    bank, test = (create_dataset("imagefolder", tmp_path, split) for split in ("train", "val"))
    with pytest.raises(ValueError, match=r"other class folders than its train split \(only in train: none; "
                                         r"only in val: '?\.ipynb_checkpoints'?\)"):
        check_eval_splits("imagefolder", info, bank, test)


TINY = ["--image_size=16", "--batch_size=4", "--subset=4", "--knn_subset=4", "--num_workers=0", "--epochs=1",
        "--logger=csv"]


def test_pretrain_on_an_unreadable_data_file_exits_2_as_a_read(tmp_path, capsys):
    """S7 through the command: exit 2 naming the data file, nothing about writing or --resume."""
    base = _stl10(tmp_path / "data", {"train_X.bin": bytes(3 * 96 * 96)})
    (base / "train_y.bin").mkdir()
    assert main(["pretrain", "--dataset=stl10", f"--data_root={tmp_path / 'data'}", "--train_split=train",
                 f"--out_dir={tmp_path / 'runs'}", "--run_name=r", *TINY]) == 2
    err = capsys.readouterr().err
    assert "train_y.bin is not a regular file" in err and "--resume" not in err and "writes" not in err


@pytest.mark.parametrize("where", ["a file", "/proc"])
def test_download_into_a_data_root_that_cannot_be_a_folder_exits_2_naming_it(tmp_path, capsys, where):
    """S7, S17: --data_root a file was "File exists on afile; files already written ...", exit 5;
    under /proc the bare errno text."""
    root = tmp_path / "afile" if where == "a file" else "/proc/nasiam-probe21"
    if where == "a file":
        root.write_text("mine")
    assert main(["pretrain", "--dataset=fashion_mnist", "--download", f"--data_root={root}",
                 f"--out_dir={tmp_path / 'runs'}", "--run_name=r", *TINY]) == 2
    err = capsys.readouterr().err
    assert "--data_root:" in err and "choose another --data_root" in err and "files already written" not in err
    if where == "a file":
        assert root.read_text() == "mine"


def test_a_failed_download_leaves_the_data_folder_as_it_was(tmp_path, monkeypatch):
    """S17: the lock file and an empty FashionMNIST/raw/ (and the root the download made) were left
    behind after a download that failed."""
    from urllib.error import URLError

    import torchvision.datasets.mnist as mnist

    from nasiam.data.download import LOCK_NAME, ensure_downloaded

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    (tmp_path / "kept").mkdir()
    with pytest.raises(DataNotFoundError, match="--download could not fetch fashion_mnist"):
        ensure_downloaded("fashion_mnist", tmp_path / "new" / "data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    with pytest.raises(DataNotFoundError):
        ensure_downloaded("fashion_mnist", tmp_path / "kept")
    assert list((tmp_path / "kept").iterdir()) == []   # the folder the user made stays, empty as it was
    assert not (tmp_path / "kept" / LOCK_NAME).exists()


def test_the_download_lock_is_taken_anew_where_its_holder_removed_it(tmp_path, monkeypatch):
    """The lock file is removed by its holder: a process that waited on the removed file takes
    the lock on the path's new file, so that two processes never fetch at once."""
    import fcntl
    import threading

    from nasiam.data import download

    fetching = []
    monkeypatch.setattr(download, "download_dataset", lambda name, root: fetching.append(root) or root)
    lock = tmp_path / download.LOCK_NAME
    with open(lock, "a") as first:
        fcntl.flock(first, fcntl.LOCK_EX)
        waiting = threading.Thread(target=download.ensure_downloaded, args=("cifar10", tmp_path))
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and fetching == []
        lock.unlink()   # the holder is done: it removes its lock file, then releases it
        with open(lock, "a") as third:   # a third process takes the lock on a new file meanwhile
            fcntl.flock(third, fcntl.LOCK_EX)
            first.close()
            waiting.join(timeout=0.5)
            assert waiting.is_alive() and fetching == []   # it waits for the new file's holder
    waiting.join(timeout=30)
    assert not waiting.is_alive() and fetching == [tmp_path] and not lock.exists()
