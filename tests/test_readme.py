"""The README's snippets run as written (paths to a search run replaced by a test one)."""
import re
from pathlib import Path

import pytest
import yaml
from _heads_run import make_search_run

README = (Path(__file__).parent.parent / "README.md").read_text()
SNIPPETS = dict(re.findall(r"<!-- snippet: ([\w-]+) -->\n```\w+\n(.*?)```", README, flags=re.S))


def run_snippet(name, run_dir, namespace=None):
    code = SNIPPETS[name].replace("runs/my-search", str(run_dir))
    exec(compile(code, f"README:{name}", "exec"), namespace if namespace is not None else {})
    return namespace


def test_every_marked_snippet_is_found():
    assert set(SNIPPETS) == {"quickstart", "plain", "lightly", "solo-learn", "own-loop"}


def test_quickstart(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_snippet("quickstart", tmp_path, {})
    assert (tmp_path / "my_projector" / "head.safetensors").is_file() and ns["projector"].in_dim == 512


def test_plain_pytorch_swap(tmp_path):
    from test_integrations import facebook_simsiam

    from nasiam import NASHead

    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=128, pred_hidden=32)
    ns = run_snippet("plain", run, {"model": facebook_simsiam()})
    assert isinstance(ns["model"].encoder.fc, NASHead) and isinstance(ns["model"].predictor, NASHead)


def test_lightly_snippet_with_a_default_search_run(tmp_path):
    """A default `nasiam search` outputs 512 features; lightly's SimSiam example expects 128."""
    pytest.importorskip("lightly")
    from nasiam import NASHead

    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=512, pred_hidden=128)
    ns = run_snippet("lightly", run, {})
    assert isinstance(ns["model"].projection_head, NASHead) and ns["loss"].requires_grad
    assert ns["model"].projection_head.out_dim == ns["model"].prediction_head.out_dim == 128


def test_solo_learn_yaml_is_what_the_adapter_reads():
    config = yaml.safe_load(SNIPPETS["solo-learn"])
    assert config["method"] == "nas_simsiam"
    assert {"nas_heads", "nas_init_weights", "proj_output_dim"} <= set(config["method_kwargs"])


def test_solo_learn_snippet_with_solo_learn(tmp_path):
    pytest.importorskip("solo.methods", reason="solo-learn is not installed (it is GitHub-only)")
    from test_integrations import solo_cfg

    from nasiam import NASHead
    from nasiam.integrations.solo_learn import register

    config = yaml.safe_load(SNIPPETS["solo-learn"])
    kwargs = dict(config["method_kwargs"])
    run = make_search_run(tmp_path / "run", in_dim=512, out_dim=512, pred_hidden=128)  # a default search's widths
    kwargs["nas_heads"] = str(run)
    cls = register()[config["method"]]
    model = cls(cls.add_and_assert_specific_cfg(solo_cfg(config["method"], **kwargs)))
    assert isinstance(model.projector, NASHead) and isinstance(model.predictor, NASHead)


@pytest.mark.slow
def test_search_in_your_own_loop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = run_snippet("own-loop", tmp_path, {})
    assert (tmp_path / "my_projector" / "genotype.json").is_file()
    assert all(p.grad is None for p in ns["projector"].weight_parameters())  # the arch step left none


@pytest.mark.slow
def test_plain_loop_example_runs(tmp_path):
    import subprocess
    import sys

    example = Path(__file__).parent.parent / "examples" / "plain_loop_search.py"
    assert len(example.read_text().splitlines()) < 80
    result = subprocess.run([sys.executable, str(example), "--synthetic", "--steps", "3", "--batch", "16",
                             "--out", str(tmp_path / "heads")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "projector:" in result.stdout and (tmp_path / "heads" / "predictor" / "head.safetensors").is_file()
