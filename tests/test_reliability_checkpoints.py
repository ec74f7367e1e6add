"""Malicious, foreign and truncated files: refused with nasiam's own words, nothing executed, and
never PyTorch's advice to load an untrusted file with `weights_only=False`."""
import os
import pickle

import pytest
import torch
from _runs import TINY

from nasiam import NASHead
from nasiam.backbones import create_backbone, feature_dim, load_backbone, save_backbone
from nasiam.cli import main
from nasiam.config import SearchConfig, config_to_yaml, load_config
from nasiam.errors import CheckpointError
from nasiam.presets import get_preset
from nasiam.runner.checkpoint import load_checkpoint

UNSAFE_ADVICE = ("weights_only=False", "weights_only` set to `False", "Re-running `torch.load`", "add_safe_globals",
                 "safe_globals", "trusted source", "will likely succeed")


class _Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _malicious_files(directory, marker):
    torch_zip = directory / "torch_zip.ckpt"  # torch.save's format, a pickle inside
    torch.save({"nasiam": {"format": "nasiam.checkpoint"}, "model": _Payload(marker)}, torch_zip)
    raw = directory / "raw_pickle.ckpt"  # a bare pickle, as torch's legacy format
    raw.write_bytes(pickle.dumps({"model": _Payload(marker)}, protocol=2))
    return [torch_zip, raw]


def _assert_refusal(message):
    for advice in UNSAFE_ADVICE:
        assert advice not in message, message
    assert "runs nothing from the file" in message and "loads no checkpoint any other way" in message, message


def test_malicious_pickles_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "pwned"
    for path in _malicious_files(tmp_path, marker):
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        _assert_refusal(str(info.value))
        assert str(path) in str(info.value)
    assert not marker.exists()


def test_resume_and_export_from_a_malicious_checkpoint_exit_2_with_the_refusal(tmp_path, capsys):
    marker = tmp_path / "pwned"
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    cfg = load_config(SearchConfig, None, {a[2:].split("=")[0]: a.split("=")[1] for a in TINY})
    (run_dir / "config.yaml").write_text(config_to_yaml(cfg))
    for path in _malicious_files(tmp_path, marker):
        (run_dir / "checkpoints" / "last.ckpt").write_bytes(path.read_bytes())
        assert main(["export", str(run_dir), "--out", str(tmp_path / "out")]) == 2
        _assert_refusal(capsys.readouterr().err)
        assert main(["search", *TINY, f"--out_dir={tmp_path}", "--run_name=run", "--resume"]) == 2
        _assert_refusal(capsys.readouterr().err)
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_truncated_safetensors_are_refused_by_name(tmp_path):
    head = NASHead.from_genotype(get_preset("simsiam_predictor", hidden_dim=8, out_dim=16), in_dim=16)
    head.save_pretrained(tmp_path / "h")
    backbone = create_backbone("resnet10t", in_chans=1)
    save_backbone(tmp_path, backbone, {"format": "nasiam.backbone", "name": "resnet10t", "cifar_stem": False,
                                       "in_chans": 1, "feature_dim": feature_dim(backbone)})
    for path, load, error in ((tmp_path / "h" / "head.safetensors", lambda: NASHead.from_pretrained(tmp_path / "h"),
                               ValueError),
                              (tmp_path / "backbone.safetensors", lambda: load_backbone(tmp_path), CheckpointError)):
        data = path.read_bytes()
        for cut in (len(data) // 2, 9, 0):
            path.write_bytes(data[:cut])
            with pytest.raises(error, match="not a readable safetensors file"):
                load()


@pytest.fixture(scope="module")
def finished_search(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished")
    assert main(["search", *TINY, "--epochs=1", "--warmup_epochs=0", f"--out_dir={out}", "--run_name=r"]) == 0
    return out / "r"


@pytest.mark.slow
@pytest.mark.parametrize("field, value", [("epoch", "1"), ("global_step", -4), ("history", 5), ("rng", "x"),
                                          ("elapsed", None), ("model", None)])
def test_a_checkpoint_with_a_valid_header_and_damaged_fields_is_refused_by_name(tmp_path, capsys, finished_search,
                                                                                field, value):
    import shutil

    shutil.copytree(finished_search, tmp_path / "r")
    last = tmp_path / "r" / "checkpoints" / "last.ckpt"
    state = torch.load(last, weights_only=True)
    if field == "model":   # the model's state under its own key: every tensor replaced by a string
        field = next(k for k, v in state.items() if isinstance(v, dict) and any("weight" in n for n in v))
        value = {name: "w" for name in state[field]}
    state[field] = value
    torch.save(state, last)
    (tmp_path / "r" / "summary.json").unlink()
    args = ["search", *TINY, "--epochs=2", "--warmup_epochs=0", f"--out_dir={tmp_path}", "--run_name=r", "--resume"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(last) in err and "Traceback" not in err


def _flip_bytes(path, at: float, count: int = 64) -> None:
    """Damage `path` in place as a bad disk or copy would: `count` bytes inverted at fraction `at`."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start:start + count] = bytes(b ^ 0xFF for b in data[start:start + count])
    path.write_bytes(bytes(data))


def test_a_checkpoint_whose_bytes_changed_is_refused_naming_the_damaged_record(tmp_path):
    from nasiam.runner.checkpoint import save_checkpoint

    weights = {"w": torch.randn(20000, generator=torch.Generator().manual_seed(0))}
    save_checkpoint(tmp_path / "c.ckpt", {"model": weights}, {"command": "pretrain"})
    assert torch.equal(load_checkpoint(tmp_path / "c.ckpt", "pretrain")["model"]["w"], weights["w"])
    _flip_bytes(tmp_path / "c.ckpt", at=0.5)   # inside the tensor's bytes: torch.load alone takes it
    with pytest.raises(CheckpointError, match=r"c\.ckpt is damaged: its record 'archive/data/0' does not match"):
        load_checkpoint(tmp_path / "c.ckpt", "pretrain")


@pytest.mark.parametrize("offset, value, found", [
    (8, 0x01, "compressed or encrypted"),     # the encrypted flag: RuntimeError from zipfile
    (10, 99, "compressed or encrypted"),      # an unknown compression method: NotImplementedError
    (46, 0xFF, "index cannot be read"),       # a name byte that is not UTF-8 (torch sets the UTF-8 flag)
])
def test_a_checkpoint_with_a_garbled_zip_header_is_refused_by_name(tmp_path, offset, value, found):
    """#33 probe 11, H1: one byte of the zip's central directory changed made the checksum check
    itself raise (a traceback, exit 1), where torch.load's error had been named."""
    import struct

    from nasiam.runner.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "c.ckpt", {"model": {"w": torch.ones(100)}}, {"command": "pretrain"})
    data = bytearray((tmp_path / "c.ckpt").read_bytes())
    end = data.rfind(b"PK\x05\x06")   # the end record points at the central directory's first entry
    first = struct.unpack("<I", data[end + 16:end + 20])[0]
    data[first + offset] = data[first + offset] | value if offset == 8 else value
    (tmp_path / "c.ckpt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"is damaged: .*{found}"):
        load_checkpoint(tmp_path / "c.ckpt", "pretrain")


def test_a_compressed_record_added_to_a_checkpoint_is_refused_before_it_is_inflated(tmp_path):
    """#33 probe 11, H5: a few hundred bytes that inflate to 256 MiB were decompressed whole to
    check their checksum; torch.save never compresses, so such a record is refused unread."""
    import zipfile

    from nasiam.runner.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "c.ckpt", {"model": {"w": torch.ones(100)}}, {"command": "pretrain"})
    with zipfile.ZipFile(tmp_path / "c.ckpt", "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/extra.bin", b"\0" * (1 << 20))
    with pytest.raises(CheckpointError, match=r"record 'archive/extra\.bin' is compressed or encrypted"):
        load_checkpoint(tmp_path / "c.ckpt", "pretrain")


def test_a_checkpoint_written_without_checksums_still_loads(tmp_path):
    from nasiam.runner.checkpoint import save_checkpoint

    serialization = torch.serialization
    if not hasattr(serialization, "set_crc32_options"):
        pytest.skip("this torch always writes checksums (torch < 2.6)")
    before = serialization.get_crc32_options()
    serialization.set_crc32_options(False)   # a user's global choice: every record's checksum stored as 0
    try:
        save_checkpoint(tmp_path / "c.ckpt", {"model": {"w": torch.ones(100)}}, {"command": "pretrain"})
    finally:
        serialization.set_crc32_options(before)
    assert load_checkpoint(tmp_path / "c.ckpt", "pretrain")["model"]["w"].sum() == 100


def test_a_zeroed_checksum_among_checksums_does_not_turn_the_check_off(tmp_path):
    """A record whose CRC field in the central directory was zeroed was skipped as if written
    without checksums, so garbled weights in it loaded (#33 probe 11, H4, Z4). Only a file whose
    every checksum is 0 (set_crc32_options(False)) goes unchecked now."""
    import struct
    import zipfile

    from nasiam.runner.checkpoint import save_checkpoint

    path = tmp_path / "c.ckpt"
    save_checkpoint(path, {"model": {"w": torch.ones(1000)}}, {"command": "pretrain"})
    with zipfile.ZipFile(path) as archive:
        record = max(archive.infolist(), key=lambda r: r.file_size)   # the weight
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    entry = data.find(b"PK\x01\x02", struct.unpack("<I", data[end + 16:end + 20])[0])
    while data[entry + 46:entry + 46 + len(record.orig_filename)] != record.orig_filename.encode():
        entry = data.find(b"PK\x01\x02", entry + 4)
    data[entry + 16:entry + 20] = bytes(4)   # its CRC-32 in the central directory: 0
    local = record.header_offset
    name_length, extra_length = struct.unpack("<HH", data[local + 26:local + 30])
    start = local + 30 + name_length + extra_length   # the record's data, after its local header
    data[start:start + 64] = bytes(b ^ 0xFF for b in data[start:start + 64])   # and its weight garbled
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"its record {record.filename!r} does not match the checksum"):
        load_checkpoint(path, "pretrain")


def _with_its_weight_listed_again(path, renamed: bool) -> str:
    """`path`'s central directory with one more entry for its biggest record (the same local
    header and bytes), under the same name or, `renamed`, another of the same length; that name."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as archive:
        record = max(archive.infolist(), key=lambda r: r.file_size)
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    count, size, start = struct.unpack("<HII", data[end + 10:end + 20])
    entry = data.find(b"PK\x01\x02", start)
    while data[entry + 46:entry + 46 + len(record.orig_filename)] != record.orig_filename.encode():
        entry = data.find(b"PK\x01\x02", entry + 4)
    name_length, extra_length, comment_length = struct.unpack("<HHH", data[entry + 28:entry + 34])
    copy = bytearray(data[entry:entry + 46 + name_length + extra_length + comment_length])
    name = record.filename[:-1] + ("X" if renamed else record.filename[-1])
    copy[46:46 + name_length] = name.encode()
    tail = bytearray(data[end:])
    struct.pack_into("<HHI", tail, 8, count + 1, count + 1, size + len(copy))
    path.write_bytes(bytes(data[:start + size] + copy + tail))
    return name


@pytest.mark.parametrize("renamed, found", [(False, "appears twice in its index"), (True, "overlap")])
def test_a_checkpoint_whose_index_lists_a_record_again_is_refused_unread(tmp_path, monkeypatch, renamed, found):
    """#33 probe 12, I2: an index naming the weight's record 1,024 more times (60 bytes each) had
    it read and checked once per entry, then loaded. torch.save writes each record once, apart:
    such an index is refused from the index alone, no record read."""
    import zipfile

    from nasiam.runner.checkpoint import save_checkpoint

    path = tmp_path / "c.ckpt"
    save_checkpoint(path, {"model": {"w": torch.ones(1000)}}, {"command": "pretrain"})
    name = _with_its_weight_listed_again(path, renamed)
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("a record was read"))
    with pytest.raises(CheckpointError, match=f"c\\.ckpt is damaged: its records? .*{found}, which torch.save never") as e:
        load_checkpoint(path, "pretrain")
    assert repr(name) in str(e.value)


@pytest.mark.slow
def test_export_and_resume_refuse_a_damaged_checkpoint_and_change_nothing(tmp_path, capsys, finished_search):
    import shutil

    shutil.copytree(finished_search, tmp_path / "r")
    last = tmp_path / "r" / "checkpoints" / "last.ckpt"
    _flip_bytes(last, at=0.05)   # the probe's garble: a backbone weight off by ~2,000, loaded silently
    before = {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert main(["export", str(tmp_path / "r"), "--out", str(tmp_path / "x")]) == 2
    assert "is damaged" in capsys.readouterr().err and not (tmp_path / "x").exists()
    args = ["search", *TINY, "--epochs=1", "--warmup_epochs=0", f"--out_dir={tmp_path}", "--run_name=r", "--resume"]
    assert main(args) == 2
    assert "is damaged" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()} == before


def _killed_checkpoint_write(directory, name, monkeypatch):
    """What SIGKILL leaves of an atomic checkpoint write: its temporary file, never renamed
    (the rename and the clean-up on error made impossible, as a kill makes them)."""
    import nasiam._io as io_module

    def killed(*args):
        raise SystemExit("killed")

    with monkeypatch.context() as m:
        m.setattr(io_module.os, "replace", killed)
        m.setattr(io_module.os, "unlink", lambda path: None)
        with pytest.raises(SystemExit):
            io_module.atomic_write_bytes(directory / name, b"partial checkpoint")
    (left,) = [p for p in directory.iterdir() if p.name.startswith(f".{name}.")]
    return left


def test_pruning_removes_the_temporary_files_of_killed_checkpoint_writes_and_nothing_else(tmp_path, monkeypatch):
    from nasiam.runner.checkpoint import prune_epoch_checkpoints

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    stale = [_killed_checkpoint_write(checkpoints, name, monkeypatch) for name in ("last.ckpt", "epoch=12.ckpt")]
    outside = tmp_path / "mine.bin"
    outside.write_bytes(b"a user's file")
    kept = ["last.ckpt", "epoch=3.ckpt", "epoch=4.ckpt", ".last.ckpt.tmp", ".notes.abcd1234.tmp",
            ".last.ckpt.abcd1234.tmp.bak", "last.ckpt.abcd1234.tmp", ".config.yaml.abcd1234.tmp"]
    for name in kept:
        (checkpoints / name).write_bytes(b"x")
    (checkpoints / ".epoch=5.ckpt.00000000.nasiam.tmp").mkdir()              # a folder: not a file nasiam wrote
    (checkpoints / ".last.ckpt.11111111.nasiam.tmp").symlink_to(outside)      # a link: its target is not ours
    (checkpoints / "sub").mkdir()
    (checkpoints / "sub" / ".last.ckpt.abcd1234.nasiam.tmp").write_bytes(b"x")   # not in checkpoints/ itself
    prune_epoch_checkpoints(checkpoints, keep=5)
    assert not any(p.exists() for p in stale)
    assert all((checkpoints / name).exists() for name in kept)
    assert (checkpoints / ".epoch=5.ckpt.00000000.nasiam.tmp").is_dir()
    assert (checkpoints / "sub" / ".last.ckpt.abcd1234.nasiam.tmp").exists()
    assert (checkpoints / ".last.ckpt.11111111.nasiam.tmp").is_symlink() and outside.read_bytes() == b"a user's file"


def test_a_run_started_again_removes_what_a_killed_first_checkpoint_write_left(tmp_path, monkeypatch, capsys):
    """Killed while writing its first last.ckpt, a run is started again (there is nothing to
    resume): the stale temporary file goes as soon as the run holds its directory, even when
    the run then stops (here at its data, missing)."""
    checkpoints = tmp_path / "runs" / "r" / "checkpoints"
    checkpoints.mkdir(parents=True)
    # written before the first step: beside it, a temporary is the run's (#33 probe 8, E3)
    (checkpoints.parent / "config.yaml").write_text(config_to_yaml(SearchConfig(run_name="r")))
    stale = _killed_checkpoint_write(checkpoints, "last.ckpt", monkeypatch)
    (tmp_path / "empty").mkdir()
    assert main(["search", *TINY, "--dataset=fashion_mnist", f"--data_root={tmp_path / 'empty'}",
                 f"--out_dir={tmp_path / 'runs'}", "--run_name=r"]) == 2
    out, err = capsys.readouterr()
    assert "Fashion-MNIST not found" in err and not stale.exists()
    assert "Removed 1 temporary file(s) of a write that was killed" in out


def test_a_run_started_again_removes_every_killed_atomic_write_in_its_directory_and_nothing_else(
        tmp_path, monkeypatch, capsys):
    """Not only checkpoints: a kill while writing summary.json, the backbone or a head's weights
    left its temporary file forever (only checkpoints/ was cleaned, #33 round three). Every
    atomic write's temporary file has nasiam's own name; on start they go, wherever they are in
    the run directory; lookalikes, folders, links and anything outside the run stay. (Those
    writes come after the run's last.ckpt, so it is resumed; a new run would not start in a
    folder holding files nasiam did not write, the lookalikes here: probe 7, D1.)"""
    run = tmp_path / "runs" / "r"
    (run / "heads" / "projector").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"read after the data, which is missing here")
    stale = [_killed_checkpoint_write(run, "summary.json", monkeypatch),
             _killed_checkpoint_write(run, "backbone.safetensors", monkeypatch),
             _killed_checkpoint_write(run / "heads" / "projector", "head.safetensors", monkeypatch)]
    assert all(p.name.endswith(".nasiam.tmp") for p in stale)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    theirs = _killed_checkpoint_write(outside, "summary.json", monkeypatch)   # another folder's: not this run's
    (run / "linked").symlink_to(outside, target_is_directory=True)
    kept = [run / ".notes.abcd1234.tmp", run / ".summary.json.abcd1234.tmp", run / "summary.json.1234abcd.nasiam.tmp",
            run / ".summary.json.ABCD1234.nasiam.tmp"]
    for path in kept:
        path.write_bytes(b"a user's file")
    (run / ".backbone.json.0000aaaa.nasiam.tmp").mkdir()   # a folder: not a file nasiam wrote
    (tmp_path / "empty").mkdir()
    assert main(["search", *TINY, "--dataset=fashion_mnist", f"--data_root={tmp_path / 'empty'}",
                 f"--out_dir={tmp_path / 'runs'}", "--run_name=r", "--resume"]) == 2
    out = capsys.readouterr().out
    assert not any(p.exists() for p in stale) and "Removed 3 temporary file(s) of a write that was killed" in out
    assert theirs.exists() and all(p.read_bytes() == b"a user's file" for p in kept)
    assert (run / ".backbone.json.0000aaaa.nasiam.tmp").is_dir()


def test_resuming_from_a_fifo_names_it_as_not_a_regular_file(tmp_path):
    """`--resume` given a FIFO, or a run whose checkpoints/last.ckpt is one, said "has no
    checkpoints/last.ckpt: the run ended before its first epoch finished": the file is there,
    and is not a regular file (never opened: a FIFO would block)."""
    from nasiam.runner.checkpoint import find_checkpoint

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(CheckpointError, match="fifo is a FIFO, socket or device, not a regular file"):
        find_checkpoint(tmp_path / "fifo")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    os.mkfifo(tmp_path / "run" / "checkpoints" / "last.ckpt")
    with pytest.raises(CheckpointError, match="last.ckpt is a FIFO, socket or device, not a regular file"):
        find_checkpoint(tmp_path / "run")
    (tmp_path / "empty").mkdir()   # a run that ended before its first checkpoint: as before
    with pytest.raises(CheckpointError, match="has no checkpoints/last.ckpt: the run ended before"):
        find_checkpoint(tmp_path / "empty")


class _Killed(BaseException):
    """Stands for a SIGKILL: nothing in the run catches it, nothing after it runs."""


def test_a_kill_between_an_epochs_two_checkpoint_writes_loses_no_epoch_checkpoint(tmp_path, monkeypatch):
    """last.ckpt was written before epoch=N.ckpt: killed between the two, --resume went on from
    last.ckpt (epoch N done) and epoch N's own file was never written (#33 probe 7, D10). Now
    epoch=N.ckpt comes first: the kill leaves last.ckpt at epoch N-1, and the resumed run redoes
    epoch N and writes both."""
    from nasiam.runner import checkpoint as ckpt

    tiny = ["--dataset=synthetic", "--image_size=16", "--batch_size=16", "--epochs=2", "--subset=64",
            "--knn_subset=64", "--num_workers=0", f"--out_dir={tmp_path}", "--run_name=k"]
    save, writes = ckpt.save_checkpoint, []

    def killed_between_epoch_twos_writes(path, state, header):
        writes.append(state["epoch"])
        if writes.count(2) == 2:   # the second of epoch 2's two files
            raise _Killed
        save(path, state, header)

    monkeypatch.setattr(ckpt, "save_checkpoint", killed_between_epoch_twos_writes)
    with pytest.raises(_Killed):
        main(["pretrain", *tiny])
    monkeypatch.setattr(ckpt, "save_checkpoint", save)
    assert main(["pretrain", *tiny, "--resume"]) == 0
    checkpoints = tmp_path / "k" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch=1.ckpt", "epoch=2.ckpt", "last.ckpt"]
    assert load_checkpoint(checkpoints / "epoch=2.ckpt", "pretrain")["epoch"] == 2
