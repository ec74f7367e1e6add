"""Malicious, foreign and truncated files: refused with nasiam's own words, nothing executed, and
never PyTorch's advice to load an untrusted file with `weights_only=False`."""
import os
import pickle

import pytest
import torch
from _runs import TINY

from nasiam import NASHead
from nasiam.backbones import create_backbone, feature_dim
from nasiam.cli import main
from nasiam.config import SearchConfig, config_to_yaml, load_config
from nasiam.presets import get_preset
from nasiam.runner.artifacts import load_backbone
from nasiam.runner.checkpoint import load_checkpoint
from nasiam.runner.errors import CheckpointError
from nasiam.runner.outputs import save_backbone

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
