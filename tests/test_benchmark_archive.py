"""benchmarks/archive.py: a finished benchmark's run files packed into runs.json +
runs.safetensors, unpacked byte for byte, and a damaged pack refused with the file it found
damaged."""
import hashlib
import json
import struct

import pytest
from _benchmarks import BENCHMARKS, load_benchmark

archive = load_benchmark("archive")


def _safetensors(header: dict, tensors: list[bytes]) -> bytes:
    """A safetensors file written by hand, so the header's key order is fixed: metadata keys
    unsorted and tensors listed out of name order (what safetensors itself writes varies)."""
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(tensors)


def _synthetic(root):
    """A protocol folder with every kind of file an archive holds."""
    predictions = _safetensors({
        "__metadata__": {"schema_version": "1", "format": "nasiam.predictions"},
        "linear": {"dtype": "U8", "shape": [4], "data_offsets": [6, 10]},
        "knn20": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
        "scores": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]},
    }, [bytes([1, 2]), struct.pack("<f", 0.25), bytes([3, 4, 5, 6])])
    files = {
        "results.md": b"| head | top-1 |\n|---|---|\n| default | 70.1 |\n",
        "results.json": b'{"records": []}\n',
        "comparison.png": bytes(range(256)),
        "runs/default-s0/config.yaml": b"seed: 0\nhead: default\n",
        "runs/default-s0/summary.json": '{"note": "caf\u00e9, no newline at the end"}'.encode(),
        "runs/default-s0/eval/predictions.safetensors": predictions,
        "runs/default-s0/crlf.txt": b"line one\r\nline two\r\n\n",
        "runs/default-s0/empty.json": b"",
        "runs/default-s0/blob.bin": bytes([0xff, 0xfe, 0x00, 0x81]),
        "runs/search-s0/genotype.json": b'{\n  "heads": {}\n}\n',
        "heads/random-1/genotype.json": b'{"heads": {"projector": "linear512"}}\n',
        "seeds5-9/results.md": b"kept loose\n",
        "seeds5-9/results.json": b'{"kept": "loose"}\n',
        "superseded/README.md": b"why these runs were replaced\n",
    }
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return files


def _digests(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_pack_then_unpack_recreates_every_file_byte_for_byte(tmp_path):
    """Catches any lossy step: re-serialising the predictions with safetensors (its metadata
    order varies), text read with universal newlines (the CRLF file), or a binary file or an
    empty one dropped."""
    protocol = tmp_path / "protocol"
    files = _synthetic(protocol)
    before = _digests(protocol)
    assert archive.pack(protocol)["packed"] == 8
    left = {p.relative_to(protocol).as_posix() for p in protocol.rglob("*") if p.is_file()}
    assert left == {"results.md", "results.json", "comparison.png", "runs.json", "runs.safetensors",
                    "seeds5-9/results.md", "seeds5-9/results.json", "superseded/README.md"}
    assert not (protocol / "runs").exists() and not (protocol / "heads").exists()
    out = tmp_path / "unpacked"
    assert archive.unpack(protocol, out) == len(files)
    assert _digests(out) == before
    # the predictions stay tensors, readable by name without unpacking
    from safetensors import safe_open

    with safe_open(protocol / "runs.safetensors", "pt") as tensors:
        assert tensors.get_tensor("runs/default-s0/eval/predictions.safetensors:linear").tolist() == [3, 4, 5, 6]


def test_packing_the_same_files_again_gives_the_same_pack_bytes(tmp_path):
    """A --report that archives unchanged files into a packed folder must leave git clean."""
    first, second = tmp_path / "a" / "protocol", tmp_path / "b" / "protocol"
    _synthetic(first)
    archive.pack(first)
    archive.unpack(first, second)
    archive.pack(second)
    for name in ("runs.json", "runs.safetensors"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


@pytest.mark.parametrize("damage, expected", [
    (lambda p: (p / "runs.safetensors").write_bytes((p / "runs.safetensors").read_bytes()[:-100]),
     "runs.safetensors: "),
    (lambda p: (p / "runs.json").write_text((p / "runs.json").read_text().replace("head: default", "head: paper")),
     "runs/default-s0/config.yaml rebuilds to"),
    (lambda p: (p / "runs.json").write_text((p / "runs.json").read_text()[:500]), "not valid JSON"),
    (lambda p: (p / "runs.safetensors").unlink(), "runs.safetensors: missing"),
])
def test_a_truncated_or_edited_pack_is_refused_naming_the_damage(tmp_path, capsys, damage, expected):
    """Without the digests an edited runs.json would unpack into different evidence, silently."""
    protocol = tmp_path / "protocol"
    _synthetic(protocol)
    archive.pack(protocol)
    damage(protocol)
    with pytest.raises(archive.ArchiveError, match="git checkout|not a readable") as error:
        archive.unpack(protocol, tmp_path / "out")
    assert expected in str(error.value)
    assert archive.main(["check", str(protocol)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("archive.py check: ") and "Traceback" not in err


def test_pack_refuses_a_packed_folder_with_loose_run_files_and_unpack_a_used_folder(tmp_path):
    protocol = tmp_path / "protocol"
    _synthetic(protocol)
    archive.pack(protocol)
    assert archive.pack(protocol)["packed"] == 0   # packing twice changes nothing
    (protocol / "runs" / "late-s0").mkdir(parents=True)
    (protocol / "runs" / "late-s0" / "summary.json").write_text("{}")
    with pytest.raises(archive.ArchiveError, match="packed and also holds loose run files"):
        archive.pack(protocol)
    with pytest.raises(archive.ArchiveError, match="not an empty folder"):
        archive.unpack(protocol, protocol.parent)


def test_the_benchmark_scripts_restore_from_and_archive_into_a_packed_folder(tmp_path):
    """ceiling.restore/archive (budget, directpred, confirmatory... use them): a packed keep is
    read directly, unchanged files leave its pack as it was, a new run goes into the pack."""
    ceiling = load_benchmark("ceiling")
    keep = tmp_path / "keep"
    _synthetic(keep)
    archive.pack(keep)
    packed = {name: (keep / name).read_bytes() for name in ("runs.json", "runs.safetensors")}
    out = tmp_path / "out"
    ceiling.restore(keep, out)
    assert (out / "runs" / "default-s0" / "eval" / "predictions.safetensors").is_file()
    ceiling.archive(out, keep)
    assert {name: (keep / name).read_bytes() for name in packed} == packed
    (out / "runs" / "new-s1").mkdir()
    (out / "runs" / "new-s1" / "summary.json").write_text('{"linear_top1": 71.0}\n')
    ceiling.archive(out, keep)
    assert not (keep / "runs").exists()
    assert archive.read(keep)["runs/new-s1/summary.json"] == b'{"linear_top1": 71.0}\n'


def test_every_committed_pack_rebuilds_with_matching_digests():
    """The archived evidence itself: each packed protocol under benchmarks/results/."""
    packed = sorted(p.parent for p in (BENCHMARKS / "results").glob("*/runs.json"))
    for protocol in packed:
        assert archive.read(protocol), protocol
