"""Where runs report: TensorBoard, W&B model artifacts and their use by `nasiam pretrain`,
W&B's own settings, and plots that leave matplotlib's global state alone."""
import csv
import io
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from _runs import TINY

from nasiam.cli import main
from nasiam.rundir import read_genotypes
from nasiam.runner import outputs

SMALL = ["--subset=256", "--knn_subset=64", "--epochs=1", "--warmup_epochs=0"]
PRETRAIN = [a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr"))] + [
    "--subset=256", "--knn_subset=64", "--epochs=1", "--linear_probe=false"]


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    for key in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_SILENT", "true")


class Terminal(io.StringIO):
    """A console that says it is a terminal: where nasiam shows its progress bars."""

    def isatty(self):
        return True


@pytest.fixture(scope="module")
def tb_run(tmp_path_factory):
    """A tiny search (default --knn_every 0) logging to TensorBoard, its stderr a terminal:
    (run directory, what it wrote to stderr)."""
    pytest.importorskip("tensorboard")
    out, terminal = tmp_path_factory.mktemp("tb"), Terminal()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stderr", terminal)
        # the default --below_noise prior: a fallback makes the export differ from the argmax
        assert main(["search", *TINY, *SMALL, "--logger=csv,tensorboard", "--log_every_n_steps=1",
                     f"--out_dir={out}", "--run_name=tb"]) == 0
    return out / "tb", terminal.getvalue()


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(run_dir / "logs" / "tensorboard")).Reload()


@pytest.mark.slow
def test_tensorboard_receives_the_metrics(tb_run):
    events = _events(tb_run[0])
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/arch_loss", "epoch/effective_rank"} <= tags
    assert len(events.Scalars("train/loss")) >= 2


@pytest.mark.slow
def test_tensorboard_shows_the_search_view_and_the_final_evaluation(tb_run):
    from PIL import Image
    from tensorboard.plugins.hparams import plugin_data_pb2

    run_dir = tb_run[0]
    events, summary = _events(run_dir), json.loads((run_dir / "summary.json").read_text())
    steps = len(events.Scalars("train/loss"))   # one per step (--log_every_n_steps=1)
    # every option's probability, as alphas.csv has it after the epoch
    alphas = [r for r in csv.DictReader(open(run_dir / "alphas.csv")) if r["epoch"] == "1"]
    assert len(alphas) > 8
    for r in alphas:
        [point] = events.Scalars(f"prob/{r['head']}/layer{r['layer']}/{r['choice']}/{r['option']}")
        assert point.step == steps and point.value == pytest.approx(float(r["probability"]), abs=1e-5)
    # the alpha figure and each head's heatmap, as images; the genotype as text
    assert set(events.Tags()["images"]) == {"alphas", "alphas_heatmap/projector", "alphas_heatmap/predictor"}
    [image] = events.Images("alphas")
    png = Image.open(io.BytesIO(image.encoded_image_string))
    assert image.step == steps and png.size == (image.width, image.height) and image.width > 200
    # the exported genotype once, at the end; each epoch's argmax beside it (here one epoch)
    for slot in ("projector", "predictor"):
        [text] = events.Tensors(f"genotype/{slot}/text_summary")   # (the tag add_text writes)
        assert text.step == steps and text.tensor_proto.string_val[0].decode() == summary["genotypes"][slot]
        [text] = events.Tensors(f"argmax/{slot}/text_summary")
        argmax = run_dir / "genotype.argmax.json"   # written when a fallback changed the export
        argmax_genotype = read_genotypes(argmax if argmax.is_file() else run_dir)[1][slot]
        assert text.tensor_proto.string_val[0].decode() == argmax_genotype.describe()
    # the final evaluation after the last step, also with --knn_every 0
    for name in ("knn_top1", "knn20_top1", "knn200_top1", "rankme"):
        [point] = events.Scalars(f"eval/{name}")
        assert point.step == steps and point.value == pytest.approx(summary[name], rel=1e-5)
    # HParams: the configuration with the final metrics as its columns
    hparams = events.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/experiment"]).experiment
    assert {"eval/knn_top1", "eval/knn20_top1", "eval/knn200_top1", "eval/decisions_above_noise",
            "eval/decisions"} <= {m.name.tag for m in experiment.metric_infos}
    [point] = events.Scalars("eval/decisions_above_noise")   # a search's primary figure beside its kNN
    assert point.value == summary["decisions_above_noise"]
    start = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["arch_lr"].number_value == pytest.approx(0.05)
    assert start.hparams["dataset"].string_value == "synthetic" and start.hparams["framework"].string_value


@pytest.mark.slow
def test_metrics_csv_is_wide_with_the_final_evaluation(tb_run):
    from nasiam.runner.logger import read_metrics

    run_dir = tb_run[0]
    summary = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "logs" / "metrics.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    header = reader.fieldnames
    assert header[0] == "step" and header[1:] == sorted(header[1:])
    assert {"train/loss", "epoch/loss", "epoch/epoch", "eval/knn_top1", "eval/knn20_top1", "eval/knn200_top1",
            "eval/rankme", "eval/seconds"} <= set(header)
    steps = [int(r["step"]) for r in rows]
    assert steps == list(range(len(rows)))   # one row per step: the epoch's metrics share its last step's row
    assert rows[-2]["epoch/epoch"] == "1" and rows[-2]["train/loss"]
    assert float(rows[-1]["eval/knn_top1"]) == pytest.approx(summary["knn_top1"]) and not rows[-1]["train/loss"]
    assert read_metrics(run_dir / "logs" / "metrics.csv")[-1]["eval/knn20_top1"] == pytest.approx(summary["knn20_top1"])


@pytest.mark.slow
def test_the_final_evaluation_and_nasiam_eval_show_progress(tb_run, monkeypatch):
    run_dir, err = tb_run
    assert "train features" in err and "test features" in err   # the search's final evaluation
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["eval", "linear", str(run_dir), "--num_workers=0", f"--out={run_dir / 'eval' / 'linear-progress.json'}"]) == 0
    shown = terminal.getvalue()
    assert "train features" in shown and "test features" in shown and "linear probe" in shown


def test_metrics_csv_fills_a_step_widens_and_resumes(tmp_path):
    from nasiam.runner.logger import MetricsCSV, read_metrics

    path = tmp_path / "metrics.csv"
    log = MetricsCSV(path)
    log.log({"train/loss": 2.0, "train/lr": 0.1}, 0)
    log.log({"train/loss": 1.5, "train/lr": 0.1}, 1)
    log.log({"epoch/loss": 1.75, "epoch/rank": None}, 1)   # the same step: its row, a new column
    log.log({"train/loss": 1.0}, 2)
    log.log({"train/loss": 0.5}, 2)                        # the same metric again: a row of its own
    log.log({"eval/top1": 90.0}, 2)
    log.close()
    assert path.read_text().splitlines() == ["step,epoch/loss,eval/top1,train/loss,train/lr", "0,,,2.0,0.1",
                                             "1,1.75,,1.5,0.1", "2,,,1.0,", "2,,90.0,0.5,"]
    log = MetricsCSV(path, resume_step=2)   # the epoch from step 2 is redone
    log.log({"train/loss": 0.9}, 2)
    log.close()
    assert read_metrics(path) == [{"step": 0, "train/loss": 2.0, "train/lr": 0.1},
                                  {"step": 1, "epoch/loss": 1.75, "train/loss": 1.5, "train/lr": 0.1},
                                  {"step": 2, "train/loss": 0.9}]


def test_an_epochs_metrics_reach_wandb_under_the_names_a_sweep_optimises(tmp_path):
    from nasiam.runner.logger import RunLogger, read_metrics

    class WandbRun:   # what RunLogger asks of wandb.init's run
        def __init__(self):
            self.logged = []

        def log(self, metrics, step):
            self.logged.append((step, dict(metrics)))

        def finish(self, exit_code):
            pass

    logger = RunLogger(tmp_path, True, {})
    logger.wandb_run = wandb_run = WandbRun()
    logger.log_epoch({"epoch": 1, "knn_top1": 61.5, "loss": -0.9, "note": "text"}, 7)
    logger.close()
    keys = {key for step, metrics in wandb_run.logged if step == 7 for key in metrics}
    # recipes/sweeps name `knn_top1`: W&B's hyperband reads the run's history by that name
    assert {"knn_top1", "loss", "epoch/knn_top1", "epoch/loss"} <= keys and "note" not in keys
    [row] = read_metrics(tmp_path / "logs" / "metrics.csv")   # the CSV keeps one column per metric
    assert set(row) == {"step", "epoch/epoch", "epoch/knn_top1", "epoch/loss"}


def test_an_unknown_logger_is_a_usage_error(capsys):
    assert main(["search", *TINY, "--logger=csv,tensorbored"]) == 2
    assert "tensorbored is not one of csv, tensorboard, wandb" in capsys.readouterr().err


@pytest.mark.slow
def test_a_search_logs_its_heads_and_backbone_as_a_wandb_model_artifact(tmp_path, offline_wandb):
    from _wandb_log import artifacts, exit_code, logged

    assert main(["search", *TINY, *SMALL, "--wandb", f"--out_dir={tmp_path}", "--run_name=art"]) == 0
    [artifact] = [a for a in artifacts(tmp_path / "art") if a["type"] == "model"]  # (tables are artifacts too)
    assert artifact["name"] == "search-art" and "latest" in artifact["aliases"]
    assert {"genotype.json", "backbone.safetensors", "backbone.json", "config.yaml", "summary.json",
            "heads/projector/head.safetensors", "heads/projector/genotype.json",
            "heads/predictor/head.safetensors"} <= artifact["paths"]
    assert exit_code(tmp_path / "art") == 0
    history, _ = logged(tmp_path / "art")   # what TensorBoard shows, W&B shows
    assert {"alphas/_type", "alphas_heatmap/projector/_type", "genotype/projector", "eval/knn_top1",
            "eval/knn20_top1"} <= history   # (an image is logged as its fields)
    assert any(key.startswith("prob/projector/layer0/width/") for key in history)


@pytest.mark.slow
def test_a_collapsed_search_finishes_its_wandb_run_with_the_collapse_exit_code(tmp_path, offline_wandb):
    from _wandb_log import artifacts, exit_code

    assert main(["search", *TINY, *SMALL, "--wandb", "--collapse_min_std=10", f"--out_dir={tmp_path}",
                 "--run_name=collapsed"]) == 3
    assert exit_code(tmp_path / "collapsed") == 3
    # a refused genotype is not published
    assert [a for a in artifacts(tmp_path / "collapsed") if a["type"] == "model"] == []


class FakeArtifact:
    def __init__(self, source: Path, reference: str):
        self.source, self.qualified_name = source, reference

    def download(self, root):
        shutil.copytree(self.source, root, dirs_exist_ok=True)
        return root


class FakeApi:
    """wandb.Api() serving one search run as `me/nasiam/search-src:v0` (no network)."""
    calls: list = []

    def __init__(self, source: Path):
        self.source = source

    def artifact(self, reference, type=None):
        FakeApi.calls.append((reference, type))
        if not reference.startswith("me/nasiam/search-src"):
            raise ValueError(f"artifact '{reference}' not found")
        return FakeArtifact(self.source, "me/nasiam/search-src:v0")


@pytest.fixture
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    assert main(["search", *TINY, *SMALL, f"--out_dir={out}", "--run_name=src"]) == 0
    return out / "src"


@pytest.mark.slow
@pytest.mark.parametrize("option", ["head", "init"])
def test_pretrain_takes_a_wandb_artifact_where_it_takes_a_run(tmp_path, monkeypatch, searched, option):
    wandb = pytest.importorskip("wandb")
    FakeApi.calls = []
    monkeypatch.setattr(wandb, "Api", lambda *a, **k: FakeApi(searched))
    assert main(["pretrain", *PRETRAIN, f"--{option}=wandb:me/nasiam/search-src:latest", f"--out_dir={tmp_path}",
                 "--run_name=from-artifact"]) == 0
    assert FakeApi.calls == [("me/nasiam/search-src:latest", "model")]
    summary = json.loads((tmp_path / "from-artifact" / "summary.json").read_text())
    searched_genotypes = json.loads((searched / "summary.json").read_text())["genotypes"]
    assert summary["heads"] == searched_genotypes
    assert summary[option] == "wandb:me/nasiam/search-src:latest"   # the config keeps the reference
    assert list((tmp_path / "from-artifact" / "inputs").iterdir())


@pytest.mark.slow
def test_a_missing_or_malformed_artifact_is_a_usage_error(tmp_path, monkeypatch, searched, capsys):
    wandb = pytest.importorskip("wandb")
    monkeypatch.setattr(wandb, "Api", lambda *a, **k: FakeApi(searched))
    assert main(["pretrain", *PRETRAIN, "--head=wandb:me/nasiam/nothing:v9", f"--out_dir={tmp_path}"]) == 2
    assert "could not be fetched" in capsys.readouterr().err
    assert main(["pretrain", *PRETRAIN, "--head=wandb:a b", f"--out_dir={tmp_path}"]) == 2
    assert "not a W&B artifact reference" in capsys.readouterr().err

    def unreachable(*args, **kwargs):  # what wandb.Api() raises when the server cannot be reached
        raise wandb.errors.AuthenticationError("Failed to verify credentials with https://api.wandb.ai")

    monkeypatch.setattr(wandb, "Api", unreachable)
    assert main(["pretrain", *PRETRAIN, "--init=wandb:me/nasiam/search-src:latest", f"--out_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "--init wandb:me/nasiam/search-src:latest: could not read the W&B artifact" in err
    assert "AuthenticationError: Failed to verify credentials" in err and "Traceback" not in err


@pytest.fixture
def no_wandb_server(tmp_path, offline_wandb, monkeypatch):
    """No key anywhere, W&B's download folder in tmp_path, and the real wandb.Api behind a spy
    that records its arguments (which must be wandb.Api's own)."""
    import inspect

    import wandb

    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    monkeypatch.delenv("WANDB_HTTP_TIMEOUT", raising=False)
    real, calls = wandb.Api, []

    def spy(*args, **kwargs):
        inspect.signature(real).bind(*args, **kwargs)
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(wandb, "Api", spy)
    return calls


def _fake_artifact_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "genotype.json").write_text("{}")
    return folder


def test_a_wandb_reference_without_a_key_says_how_to_log_in(tmp_path, no_wandb_server):
    from nasiam.errors import RemoteError
    from nasiam.runner.wandb_artifacts import API_TIMEOUT, download_run

    # the real wandb.Api, no key configured: an error naming the fix, not wandb's traceback
    with pytest.raises(RemoteError, match="no W&B API key.*`wandb login`.*WANDB_API_KEY") as e:
        download_run("wandb:me/nasiam/search-src:latest", tmp_path / "inputs")
    assert "e.g. runs/src" in str(e.value) and "wandb artifact get me/nasiam/search-src:vN" in str(e.value)
    assert no_wandb_server == [{"timeout": API_TIMEOUT}]   # not wandb's 19 s


def test_an_unreachable_wandb_server_is_reported_and_local_copies_named(tmp_path, no_wandb_server, monkeypatch):
    from nasiam.errors import RemoteError
    from nasiam.runner.wandb_artifacts import download_run

    # a key but no server (a closed local port): the real wandb fails within WANDB_HTTP_TIMEOUT
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WANDB_HTTP_TIMEOUT", "1")
    copy = _fake_artifact_folder(tmp_path / "artifacts" / "search-src:v2")
    with pytest.raises(RemoteError, match="could not be reached or refused the key") as e:
        download_run("wandb:me/nasiam/search-src:latest", tmp_path / "inputs")   # 'latest' may have moved: ask
    assert f"holds search-src v2: use one with wandb:me/nasiam/search-src:v2 or pass its folder {copy}" in str(e.value)
    assert no_wandb_server == [{"timeout": 1}]


def test_with_wandb_mode_offline_a_wandb_reference_fails_at_once(tmp_path, no_wandb_server, monkeypatch):
    import time

    from nasiam.errors import RemoteError
    from nasiam.runner.wandb_artifacts import download_run

    # a key and an unreachable server (the case that spent 31 s): offline mode means nobody is asked
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WANDB_MODE", "offline")
    start = time.monotonic()
    with pytest.raises(RemoteError, match="WANDB_MODE is offline, so the W&B server was not asked") as e:
        download_run("wandb:me/nasiam/search-src:latest", tmp_path / "inputs")
    assert time.monotonic() - start < 5 and no_wandb_server == []
    assert "e.g. runs/src" in str(e.value) and e.value.exit_code == 2


def test_local_copies_of_a_wandb_artifact_are_used_without_the_server(tmp_path, no_wandb_server):
    from nasiam.runner.wandb_artifacts import download_run

    # a version W&B already downloaded (`wandb artifact get`, ':' or '-' as wandb writes it)
    for folder in ("search-src:v3", "search-src-v4"):
        copy = _fake_artifact_folder(tmp_path / "artifacts" / folder)
        version = folder[-2:]
        assert download_run(f"wandb:me/nasiam/search-src:{version}", tmp_path / "inputs") == (
            copy, f"me/nasiam/search-src:{version}")
    # this run's own earlier download (as a resumed run finds it), whatever its alias now points to
    inputs = tmp_path / "inputs"
    FakeApi.calls = []
    first = download_run("wandb:me/nasiam/search-src:latest", inputs, api=FakeApi(tmp_path / "artifacts" / "search-src:v3"))
    assert first[1] == "me/nasiam/search-src:v0" and (first[0] / "genotype.json").is_file()
    assert download_run("wandb:me/nasiam/search-src:latest", inputs) == first
    assert len(FakeApi.calls) == 1 and no_wandb_server == []


def test_wandb_settings_come_from_wandb_and_the_options(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    from nasiam.runner.logger import RunLogger, wandb_mode

    seen = {}

    class Run:
        offline = True

        def finish(self, exit_code=0):
            seen["exit_code"] = exit_code

    monkeypatch.setattr(wandb, "init", lambda **kwargs: seen.update(kwargs) or Run())
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    RunLogger(tmp_path, True, {}, ["wandb"], mode="disabled").close(3)
    assert seen["project"] == "from-env" and seen["mode"] == "disabled" and seen["exit_code"] == 3
    RunLogger(tmp_path, True, {}, ["wandb"], project="mine").close()
    assert seen["project"] == "mine" and seen["exit_code"] == 0
    # a self-hosted server's key in netrc means online
    for key in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "netrc").write_text("machine wandb.example.org login user password key\n")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")
    assert wandb_mode() == "online" and wandb_mode("offline") == "offline"


def test_widths_are_plotted_in_numeric_order():
    rows = [{"epoch": 1, "head": "projector", "layer": 0, "choice": "width", "option": o, "probability": 0.25}
            for o in ("1024", "128", "256", "512")]
    fig = outputs.alpha_figure(rows)
    assert fig.axes[0].get_legend_handles_labels()[1] == ["128", "256", "512", "1024"]
    heat = outputs.alpha_heatmap([{"width": {"1024": 0.1, "128": 0.9}}], "t")
    assert [t.get_text() for t in heat.axes[0].get_xticklabels()] == ["128", "1024"]
    assert sorted(["none", "64", "batchnorm", "8"], key=outputs.option_order) == ["8", "64", "batchnorm", "none"]


def test_library_code_leaves_matplotlib_backend_and_pyplot_alone():
    root = Path(__file__).parent.parent / "nasiam"
    offenders = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"matplotlib\.use\(|import matplotlib\.pyplot|from matplotlib import pyplot", line)]
    assert offenders == []


@pytest.mark.parametrize("option, value, words", [
    ("--wandb_project", "a/b", "it holds /, which W&B does not allow"),
    ("--wandb_project", "#?%:", "it holds # ? % :"),
    ("--wandb_project", "p" * 129, "129 characters, more than W&B's 128"),
    ("--wandb_entity", "team/x", "it holds /"),
])
def test_a_wandb_name_w_and_b_refuses_exits_2_naming_the_option_without_wandb(tmp_path, monkeypatch, capsys,
                                                                              option, value, words):
    """`--wandb_project a/b` (or 129 characters) was wandb's traceback, exit 1, after the data were
    loaded, even with --wandb_mode disabled (the fourteenth probe of #33, K6). Now the options
    are checked by W&B's rule with the others (wandb not imported: it may not be installed)."""
    monkeypatch.setitem(sys.modules, "wandb", None)   # `import wandb` fails: the check must not need it
    assert main(["pretrain", *PRETRAIN, "--wandb", "--wandb_mode", "disabled", option, value,
                 "--out_dir", str(tmp_path), "--run_name", "w"]) == 2
    err = capsys.readouterr().err
    assert f"{option}: " in err and words in err and "Traceback" not in err and "e.g. " + option in err
    assert not (tmp_path / "w").exists()


def test_a_wandb_project_from_the_environment_w_and_b_refuses_exits_2_naming_it(tmp_path, monkeypatch, capsys,
                                                                               offline_wandb):
    monkeypatch.setenv("WANDB_PROJECT", "a/b")
    assert main(["pretrain", *PRETRAIN, "--wandb", "--wandb_mode", "disabled", "--out_dir", str(tmp_path),
                 "--run_name", "w"]) == 2
    err = capsys.readouterr().err
    assert "WANDB_PROJECT (the environment variable): 'a/b' is not a W&B name" in err and "Traceback" not in err
