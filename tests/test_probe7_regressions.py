"""Defects the seventh probe of issue #33 found (benchmarks/results/probe-2026-12-07/findings-seventh.md),
kept as strict xfails until they are fixed: each test fails on the code probed (main e385572)."""
import struct
import zlib

import pytest
import torch

from nasiam import SearchableHead


def _png_with_text_bomb(path):
    """A valid 16 x 16 PNG carrying a zTXt chunk that inflates to 64 MiB (PIL stops at 1 MiB)."""
    from PIL import Image

    Image.new("RGB", (16, 16)).save(path)
    raw = path.read_bytes()
    data = b"k\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9)
    chunk = struct.pack(">I", len(data)) + b"zTXt" + data + struct.pack(">I", zlib.crc32(b"zTXt" + data) & 0xFFFFFFFF)
    cut = raw.index(b"IDAT") - 4
    path.write_bytes(raw[:cut] + chunk + raw[cut:])


@pytest.mark.xfail(strict=True, reason="probe7 I3/I4: PIL's ValueError for a text/ICC chunk bomb escapes "
                                       "_load_image, so the CLI names no file ('check the files under --data_root')")
def test_an_image_whose_text_chunk_is_a_bomb_is_named_as_a_damaged_image(tmp_path):
    from nasiam.data.datasets import _load_image

    path = tmp_path / "bomb.png"
    _png_with_text_bomb(path)
    with pytest.raises(OSError) as info:
        _load_image(str(path))
    assert info.value.filename == str(path)


@pytest.mark.xfail(strict=True, reason="probe7 B2: output_layer='no' is read as true (the allow_skip defect, "
                                       "fixed there, in another option)")
def test_output_layer_must_be_a_bool():
    with pytest.raises((TypeError, ValueError)):
        SearchableHead(16, 8, output_layer="no")


@pytest.mark.xfail(strict=True, reason="probe7 B6: output_norm=None raises AttributeError ('NoneType' object "
                                       "has no attribute 'startswith') instead of naming the option")
def test_output_norm_none_is_named():
    with pytest.raises((TypeError, ValueError)) as info:
        SearchableHead(16, 8, output_norm=None)
    assert "norm" in str(info.value)


def test_the_probe_heads_are_tiny():
    """A guard that the module imports and builds a head (the xfails above are strict)."""
    assert SearchableHead(16, 8, num_layers=1)(torch.randn(4, 16)).shape == (4, 8)


@pytest.mark.slow   # spawns a `nasiam` process (it exits 2 at once)
@pytest.mark.xfail(strict=True, reason="probe7 C1: compare appends a run's log through a symbolic link planted at "
                                       "logs/NAME.log (executor._launch opens it with open(log, 'a'))")
def test_a_planted_log_link_is_not_written_through(tmp_path):
    from nasiam.compare.executor import _launch
    from nasiam.compare.plan import Job

    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    logs = tmp_path / "cmp" / "logs"
    logs.mkdir(parents=True)
    (logs / "x-s0.log").symlink_to(outside)
    # --epochs=-1: the run exits 2 before any work (its --out_dir kept under tmp_path all the same)
    job = Job(name="x-s0", command="pretrain", seed=0, settings={"epochs": "-1", "out_dir": str(tmp_path / "cmp" / "runs")})
    try:
        process, _, _ = _launch(job, tmp_path / "cmp" / "runs", logs, env=None)
        process.wait(timeout=120)
    except OSError:
        pass   # refusing the link is the fix's choice
    assert outside.read_text() == "precious\n"
