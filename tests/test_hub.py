"""Hub-ready heads (nasiam.head.hub; a run's: nasiam.rundir.push_run_to_hub): push, hf-hub: loading,
offline mode, strict loading of what comes back. Fully offline: the transfer functions of
huggingface_hub are replaced by a fake Hub backed by a folder, sockets are refused, and the
offline tests use the real huggingface_hub with HF_HUB_OFFLINE set and a cache in tmp_path."""
import functools
import importlib
import inspect
import json
import pickle
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
import yaml
from _heads_run import make_search_run
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import LocalEntryNotFoundError, filter_repo_objects

from nasiam import NASHead, __version__
from nasiam.cli import main
from nasiam.head.nas_head import GENOTYPE_FILE, WEIGHTS_FILE
from nasiam.presets import get_preset
from nasiam.rundir import load_heads, push_run_to_hub, run_file_digests
from nasiam.space import Genotype, GenotypeError, LayerSpec

HEAD_FILES = {GENOTYPE_FILE, WEIGHTS_FILE, "config.json"}


def _head():
    g = Genotype(layers=(LayerSpec(width=16, norm="batchnorm", activation="relu"),
                         LayerSpec(width=8, norm="batchnorm_noaffine", fixed=True)))
    head = NASHead.from_genotype(g, in_dim=12).train()
    head(torch.randn(32, 12))  # non-trivial BatchNorm statistics
    return head.eval()


def assert_bit_exact(a: NASHead, b: NASHead):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k
    assert a.genotype == b.genotype


def files_under(folder: Path) -> set:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch):
    """Any connection attempt fails the test (huggingface_hub would otherwise swallow it)."""
    attempts = []

    def refuse(*args):
        attempts.append(args)
        raise OSError(f"test_hub: network access refused {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)  # name lookups too
    yield attempts  # a test that means to try (and fail) empties it
    assert attempts == []


def with_real_signature(real):
    """A fake that takes exactly the arguments `real` (huggingface_hub's own function) takes: a
    misspelt or removed keyword is a TypeError, as with the real library, so the fake cannot drift
    from it. The fake gets every argument by name, defaults filled in."""
    signature = inspect.signature(real)

    def decorate(fake):
        @functools.wraps(real)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return fake(**bound.arguments)
        return checked
    return decorate


class FakeHub:
    """HfApi.create_repo/create_branch/upload_folder/model_info/update_repo_settings and
    snapshot_download/hf_hub_download over a folder: remote/<user>/<name>/<revision>/..., with
    huggingface_hub's signatures. Every call is recorded in `calls`; `public` holds the repos that
    are not private."""

    def __init__(self, root: Path, monkeypatch):
        self.remote, self.cache, self.calls, self.public = root / "remote", root / "cache", [], set()
        hub, api = self, huggingface_hub.HfApi

        @with_real_signature(api.create_repo)
        def create_repo(self, repo_id, token, private, exist_ok, **_):
            hub.calls.append(("create_repo", repo_id, {"token": token, "private": private, "exist_ok": exist_ok}))
            if not (hub.remote / repo_id).exists():  # as on the Hub, `private` applies to a new repo only
                (hub.remote / repo_id / "main").mkdir(parents=True)
                if not private:
                    hub.public.add(repo_id)
            return f"https://huggingface.co/{repo_id}"

        @with_real_signature(api.model_info)
        def model_info(self, repo_id, token, **_):
            hub.calls.append(("model_info", repo_id, {"token": token}))
            return ModelInfo(id=repo_id, private=repo_id not in hub.public)

        @with_real_signature(api.update_repo_settings)
        def update_repo_settings(self, repo_id, private, token, **_):
            hub.calls.append(("update_repo_settings", repo_id, {"private": private, "token": token}))
            if private is not None:
                (hub.public.discard if private else hub.public.add)(repo_id)

        @with_real_signature(api.create_branch)
        def create_branch(self, repo_id, branch, exist_ok, **_):
            hub.calls.append(("create_branch", repo_id, {"branch": branch, "exist_ok": exist_ok}))
            target = hub.remote / repo_id / branch
            if not target.exists():
                shutil.copytree(hub.remote / repo_id / "main", target)

        @with_real_signature(api.upload_folder)
        def upload_folder(self, repo_id, folder_path, revision, commit_message, token, create_pr, **_):
            hub.calls.append(("upload_folder", repo_id, {"revision": revision, "commit_message": commit_message,
                                                          "token": token, "create_pr": create_pr}))
            target = hub.remote / repo_id / (revision or "main")
            assert target.is_dir(), "upload to a repo or branch that was not created"
            shutil.copytree(folder_path, target, dirs_exist_ok=True)
            return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/{len(hub.calls)}")

        @with_real_signature(huggingface_hub.snapshot_download)
        def snapshot_download(repo_id, revision, allow_patterns, library_name, **_):
            hub.calls.append(("snapshot_download", repo_id, {"revision": revision, "allow_patterns": allow_patterns,
                                                              "library_name": library_name}))
            source = hub.remote / repo_id / (revision or "main")
            snapshot = hub.cache / f"snapshot{len(hub.calls)}"
            snapshot.mkdir(parents=True)
            for name in filter_repo_objects(sorted(files_under(source)), allow_patterns=allow_patterns):
                (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source / name, snapshot / name)
            return str(snapshot)

        def hf_hub_download(*args, **kw):
            hub.calls.append(("hf_hub_download", args, kw))
            raise AssertionError("hf_hub_download is not expected")

        for fake in (create_repo, model_info, update_repo_settings, create_branch, upload_folder):
            monkeypatch.setattr(api, fake.__name__, fake)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
        monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)

    def named(self, name):
        return [c for c in self.calls if c[0] == name]

    def repo(self, repo_id, revision="main") -> Path:
        return self.remote / repo_id / revision


@pytest.fixture
def hub(tmp_path, monkeypatch):
    return FakeHub(tmp_path / "hub", monkeypatch)


def test_push_then_load_keeps_the_weights_bit_exact(hub):
    head = _head()
    info = head.push_to_hub("user/heads", commit_message="first head", token="hf_x")
    assert info.commit_url.startswith("https://huggingface.co/user/heads/commit/")
    assert files_under(hub.repo("user/heads")) == HEAD_FILES | {"README.md"}
    assert hub.named("create_repo")[0][2] == {"token": "hf_x", "private": None, "exist_ok": True}
    upload = hub.named("upload_folder")[0][2]
    assert upload["commit_message"] == "first head" and upload["token"] == "hf_x" and upload["revision"] is None

    loaded = NASHead.from_pretrained("hf-hub:user/heads")
    assert_bit_exact(loaded, head)
    x = torch.randn(5, 12)
    assert torch.equal(loaded.eval()(x), head(x))
    # only the two files the loader reads were asked for, and only they arrived
    (_, repo_id, download), = hub.named("snapshot_download")
    assert repo_id == "user/heads" and download["allow_patterns"] == [GENOTYPE_FILE, WEIGHTS_FILE]
    assert download["library_name"] == "nasiam"
    assert {p.name for p in hub.cache.rglob("*") if p.is_file()} == {GENOTYPE_FILE, WEIGHTS_FILE}


def test_model_card_and_config(hub):
    head = _head()
    head.push_to_hub("user/heads")
    card = (hub.repo("user/heads") / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "nasiam"
    assert {"nasiam", "self-supervised-learning"} <= set(front["tags"])
    assert "linear16-batchnorm-relu" in card
    config = json.loads((hub.repo("user/heads") / "config.json").read_text())
    assert config == {"format": "nasiam.head", "library_name": "nasiam", "nasiam_version": __version__,
                      "in_dim": 12, "out_dim": 8, "num_parameters": head.num_parameters(),
                      "genotype": head.genotype.describe()}
    # the card's usage snippet runs as written
    snippet = card.split("```python\n")[1].split("```")[0]
    assert 'NASHead.from_pretrained("hf-hub:user/heads")' in snippet
    namespace = {}
    exec(snippet, namespace)
    assert_bit_exact(namespace["head"], head)


def test_a_runs_heads_go_to_one_repo_in_subfolders(hub, tmp_path):
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    push_run_to_hub(run, "user/run", private=True, revision="v1")
    assert hub.named("create_repo")[0][2]["private"] is True
    assert hub.named("create_branch")[0][2] == {"branch": "v1", "exist_ok": True}
    assert len(hub.named("upload_folder")) == 1  # one commit for both heads
    remote = hub.repo("user/run", "v1")
    assert files_under(remote) == {"README.md", "config.json"} | {
        f"{slot}/{name}" for slot in ("projector", "predictor") for name in HEAD_FILES}
    summary = json.loads((remote / "config.json").read_text())
    assert summary["format"] == "nasiam.heads" and set(summary["heads"]) == {"projector", "predictor"}
    card = (remote / "README.md").read_text()
    assert 'NASHead.from_pretrained("hf-hub:user/run", subfolder="projector")' in card
    assert "(simsiam)" in card  # the framework the search recorded

    local = load_heads(run)
    for slot in ("projector", "predictor"):
        assert_bit_exact(NASHead.from_pretrained("hf-hub:user/run", subfolder=slot, revision="v1"), local[slot])
        download = hub.named("snapshot_download")[-1][2]
        assert download["revision"] == "v1"
        assert download["allow_patterns"] == [f"{slot}/{GENOTYPE_FILE}", f"{slot}/{WEIGHTS_FILE}"]
    with pytest.raises(FileNotFoundError, match="subfolder='projector'"):
        NASHead.from_pretrained("hf-hub:user/run", revision="v1")  # the root holds no head


def test_a_revision_written_in_the_id_as_timm_writes_it(hub, tmp_path):
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    push_run_to_hub(run, "user/run", revision="v1")
    local = load_heads(run)["projector"]
    for model_id, revision in (("hf-hub:user/run@v1", None), ("hf-hub:user/run@v1", "v1")):
        assert_bit_exact(NASHead.from_pretrained(model_id, subfolder="projector", revision=revision), local)
        assert hub.named("snapshot_download")[-1][2]["revision"] == "v1"
    hf_split = getattr(pytest.importorskip("timm.models._hub"), "hf_split", None)
    if hf_split is not None:  # timm reads the id the same way
        assert hf_split("user/run@v1") == ("user/run", "v1")


def test_the_fake_hub_takes_only_what_huggingface_hub_takes(hub):
    api = huggingface_hub.HfApi()
    with pytest.raises(TypeError):
        api.create_repo("user/x", privat=True)  # misspelt: the real create_repo refuses it too
    with pytest.raises(TypeError):
        huggingface_hub.snapshot_download("user/x", allow_pattern=["a"])
    with pytest.raises(TypeError):
        api.upload_folder("user/x", folder_path=".")  # repo_id is keyword-only in upload_folder
    assert hub.calls == []


def test_local_paths_never_touch_the_network(hub, tmp_path):
    head = _head()
    head.save_pretrained(tmp_path / "h")
    assert_bit_exact(NASHead.from_pretrained(tmp_path / "h"), head)
    assert_bit_exact(NASHead.from_pretrained(str(tmp_path / "h")), head)
    assert_bit_exact(NASHead.from_pretrained(tmp_path, subfolder="h"), head)
    for missing in (str(tmp_path / "typo"), "user/heads", Path("hf-hub:user/heads")):
        with pytest.raises(FileNotFoundError, match="is not a saved NASHead"):
            NASHead.from_pretrained(missing)
    with pytest.raises(ValueError, match="local path"):
        NASHead.from_pretrained(tmp_path / "h", revision="main")
    assert hub.calls == []


def test_bad_ids_fail_before_any_request(hub):
    head = _head()
    for model_id, message in (("hf-hub:user/run/projector", "subfolder='projector'"),
                              ("hf-hub:user/run/projector@v1", r"'hf-hub:user/run@v1', subfolder='projector'"),
                              ("hf-hub:user/heads@", "hf-hub:user/name@REVISION"),
                              ("hf-hub:user/heads@a@b", "hf-hub:user/name@REVISION"),
                              ("hf-hub:heads", "user/name"), ("hf-hub:user/-heads", "repo id")):
        with pytest.raises(ValueError, match=message):
            NASHead.from_pretrained(model_id)
    with pytest.raises(ValueError, match="names revision 'v1' and revision='v2' another"):
        NASHead.from_pretrained("hf-hub:user/heads@v1", revision="v2")
    for subfolder in ("../x", "*", "pro[j]"):
        with pytest.raises(ValueError, match="subfolder"):
            NASHead.from_pretrained("hf-hub:user/heads", subfolder=subfolder)
    for repo_id in ("heads", "a/b/c", "user/he ads", "user/a--b"):
        with pytest.raises(ValueError, match="repo id"):
            head.push_to_hub(repo_id)
    assert hub.calls == []


def test_offline_miss_names_HF_HUB_OFFLINE_and_the_cache(tmp_path, monkeypatch):
    # the real huggingface_hub, offline, with an empty cache: nothing is requested, the error says why
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "default-cache"))
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE is set") as e:
        NASHead.from_pretrained("hf-hub:user/heads", cache_dir=tmp_path / "cache")
    assert str(tmp_path / "cache") in str(e.value) and "hf-hub:user/heads" in str(e.value)
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE is set") as e:
        NASHead.from_pretrained("hf-hub:user/heads", subfolder="projector")
    assert str(tmp_path / "default-cache") in str(e.value) and "'projector'" in str(e.value)


def test_offline_load_from_the_cache(tmp_path, monkeypatch):
    # a head in the Hugging Face cache layout loads with HF_HUB_OFFLINE set, through the real library
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--user--run"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    head = _head()
    head.save_pretrained(repo / "snapshots" / commit / "projector")
    loaded = NASHead.from_pretrained("hf-hub:user/run", subfolder="projector", cache_dir=tmp_path / "cache")
    assert_bit_exact(loaded, head)


def test_unreachable_hub_miss_says_so(hub, monkeypatch):
    def unreachable(*args, **kwargs):
        raise LocalEntryNotFoundError("An error happened while trying to locate the files on the Hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(FileNotFoundError, match="could not be downloaded.*HF_HUB_OFFLINE=1") as e:
        NASHead.from_pretrained("hf-hub:user/heads", cache_dir="/some/cache")
    assert "/some/cache" in str(e.value)


class _Trap:
    """Creates `marker` if it is ever unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_tampered_remote_is_rejected_by_the_strict_loader(hub, tmp_path):
    _head().push_to_hub("user/heads")
    remote = hub.repo("user/heads")
    weights = (remote / WEIGHTS_FILE).read_bytes()
    # a pickle where the safetensors file should be: refused, never unpickled
    marker = tmp_path / "unpickled"
    (remote / WEIGHTS_FILE).write_bytes(pickle.dumps({"0.linear.weight": _Trap(marker)}))
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        NASHead.from_pretrained("hf-hub:user/heads")
    assert not marker.exists()
    # weights of another shape
    other = NASHead.from_genotype(get_preset("simsiam_predictor", hidden_dim=4, out_dim=8), in_dim=12)
    other.save_pretrained(tmp_path / "other")
    shutil.copy(tmp_path / "other" / WEIGHTS_FILE, remote / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="weights do not match the genotype"):
        NASHead.from_pretrained("hf-hub:user/heads")
    # a genotype that does not validate
    (remote / WEIGHTS_FILE).write_bytes(weights)
    (remote / GENOTYPE_FILE).write_text(json.dumps({"schema_version": 1, "in_dim": 12, "layers": [{"width": -3}]}))
    with pytest.raises(GenotypeError):
        NASHead.from_pretrained("hf-hub:user/heads")
    # a repo with a pickled checkpoint instead of head.safetensors: the pickle is not even downloaded
    _head().push_to_hub("user/heads")
    (remote / WEIGHTS_FILE).unlink()
    torch.save(_head().state_dict(), remote / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="missing head.safetensors"):
        NASHead.from_pretrained("hf-hub:user/heads")
    assert not list(hub.cache.rglob("pytorch_model.bin"))


def test_without_huggingface_hub_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import huggingface_hub now fails
    with pytest.raises(ImportError, match="pip install huggingface_hub"):
        NASHead.from_pretrained("hf-hub:user/heads")
    with pytest.raises(ImportError, match="pip install huggingface_hub"):
        _head().push_to_hub("user/heads")
    _head().save_pretrained(tmp_path / "h")
    NASHead.from_pretrained(tmp_path / "h")  # local loading does not need it


def test_the_core_does_not_import_huggingface_hub(tmp_path):
    code = ("import sys\nimport nasiam.rundir\nfrom nasiam import NASHead\nfrom nasiam.presets import get_preset\n"
            f"NASHead.from_genotype(get_preset('simsiam_predictor'), 8).save_pretrained({str(tmp_path)!r})\n"
            f"NASHead.from_pretrained({str(tmp_path)!r})\nprint('huggingface_hub' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_cli_push(hub, tmp_path, capsys):
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    assert main(["push", str(run), "--repo", "user/run", "--private", "--revision", "v1"]) == 0
    assert "https://huggingface.co/user/run/commit/" in capsys.readouterr().out
    assert hub.named("create_repo")[0][2]["private"] is True
    assert {"projector/head.safetensors", "predictor/head.safetensors"} <= files_under(hub.repo("user/run", "v1"))
    hub.calls.clear()
    assert main(["push", str(tmp_path), "--repo", "user/run"]) == 2
    assert "no heads/ folder" in capsys.readouterr().err
    assert main(["push", str(run), "--repo", "run"]) == 2
    assert "repo id 'run'" in capsys.readouterr().err
    assert hub.calls == []


# The HTTP client under huggingface_hub (httpx2 in 2.x, httpx in 1.x, requests in 0.x): its errors
# are what a request really fails with.
CLIENT = importlib.import_module(HfHubHTTPError.__bases__[0].__module__.split(".")[0])


def _http_error(status: int) -> HfHubHTTPError:
    request = CLIENT.Request("POST", "https://huggingface.co/api/repos/create")
    return HfHubHTTPError(f"{status} Client Error for url", response=CLIENT.Response(status, request=request))


@pytest.mark.parametrize("error,message", [
    (lambda: _http_error(401), "the Hub refused the token (HfHubHTTPError: 401 Client Error"),
    (lambda: _http_error(500), "the Hub answered HTTP 500"),
    (lambda: CLIENT.ConnectError("[Errno -2] Name or service not known"), "the Hub could not be reached "
                                                                          "(ConnectError: [Errno -2]"),
])
def test_cli_push_reports_a_refused_or_failed_upload(hub, tmp_path, capsys, monkeypatch, error, message):
    def fails(*args, **kwargs):
        raise error()

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", fails)
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    assert main(["push", str(run), "--repo", "user/run"]) == 2
    err = capsys.readouterr().err
    assert "could not push to user/run, the heads were not uploaded: " + message in err, err
    assert "Traceback" not in err


def test_cli_push_without_a_network_is_exit_2(tmp_path, capsys, monkeypatch, no_sockets):
    # the real huggingface_hub, no fake: the refused connection comes back as its client's ConnectError
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 34)
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    assert main(["push", str(run), "--repo", "user/run"]) == 2
    assert "the Hub could not be reached" in capsys.readouterr().err
    assert no_sockets
    no_sockets.clear()
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    assert main(["push", str(run), "--repo", "user/run"]) == 2
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err and not no_sockets


def test_cli_push_private_makes_an_existing_public_repo_private(hub, tmp_path, capsys):
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    assert main(["push", str(run), "--repo", "user/run"]) == 0
    assert hub.public == {"user/run"}
    capsys.readouterr()
    hub.calls.clear()
    assert main(["push", str(run), "--repo", "user/run", "--private"]) == 0
    assert "user/run existed and was public: it is private now" in capsys.readouterr().err
    assert hub.public == set()
    assert [c[0] for c in hub.calls] == ["create_repo", "model_info", "update_repo_settings", "upload_folder"]
    hub.calls.clear()
    assert main(["push", str(run), "--repo", "user/run", "--private"]) == 0  # already private: nothing to say
    assert "private now" not in capsys.readouterr().err and not hub.named("update_repo_settings")


def test_push_to_hub_without_a_network_explains_itself_as_nasiam_push_does(tmp_path, monkeypatch, no_sockets):
    from nasiam.errors import RemoteError

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 34)
    with pytest.raises(RemoteError, match=r"could not push to user/heads, the head was not uploaded: the Hub could "
                                          r"not be reached \(ConnectError.*check the connection") as raised:
        _head().push_to_hub("user/heads")   # was a raw ConnectError traceback
    assert raised.value.exit_code == 2 and no_sockets
    no_sockets.clear()


def test_create_head_takes_a_hub_id_as_timms_create_model_does(hub, tmp_path):
    from nasiam.presets import create_head

    head = _head()
    head.push_to_hub("user/heads")
    assert_bit_exact(create_head("hf-hub:user/heads"), head)
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    push_run_to_hub(run, "user/run")
    assert_bit_exact(create_head("hf-hub:user/run", subfolder="predictor"), load_heads(run)["predictor"])
    with pytest.raises(ValueError, match="takes 12 input features, not in_dim=64"):
        create_head("hf-hub:user/heads", in_dim=64)


def test_a_hub_id_written_without_hf_hub_says_how_to_ask_for_the_hub(hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"NASHead.from_pretrained\('hf-hub:user/heads'\)"):
        NASHead.from_pretrained("user/heads")
    with pytest.raises(FileNotFoundError, match=r"'hf-hub:user/run', subfolder='projector'"):
        NASHead.from_pretrained("user/run/projector")
    with pytest.raises(FileNotFoundError) as raised:   # an absolute path is no Hub id
        NASHead.from_pretrained(str(tmp_path / "heads"))
    assert "hf-hub:" not in str(raised.value)
    assert hub.calls == []


def test_a_runs_model_card_says_what_the_run_recorded(hub, tmp_path):
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    (run / "config.yaml").write_text("framework: simsiam\ndataset: cifar10\nbackbone: resnet18\nepochs: 3\n")
    (run / "summary.json").write_text(json.dumps({"knn_top1": 61.25, "linear_top1": 70.5, "rankme": None}))
    push_run_to_hub(run, "user/run")
    card = (hub.repo("user/run") / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] == "mit" and front["datasets"] == ["cifar10"]
    assert "| simsiam | cifar10 | resnet18 |" in card
    assert "| knn_top1 | 61.25 |" in card and "| linear_top1 | 70.5 |" in card and "rankme" not in card
    for slot, head in load_heads(run).items():
        assert f"`{head.genotype.describe()}`" in card and f'subfolder="{slot}"' in card
    # a head pushed alone: nothing recorded is guessed
    _head().push_to_hub("user/alone")
    alone = (hub.repo("user/alone") / "README.md").read_text()
    assert "| not recorded | not recorded | not recorded |" in alone and "No evaluation was recorded" in alone


# -- what a run's model card reads (the nineteenth probe of #33) ---------------------------------
@pytest.mark.parametrize("name, text", [
    ("summary.json", "[" * 200_000 + "]" * 200_000),            # nested past the parser's recursion limit
    ("config.yaml", "a: " + "[" * 200_000 + "]" * 200_000 + "\n"),
    ("config.yaml", b"\xff\xfe\x00bad"),                         # not UTF-8
    ("config.yaml", "a: [1\n"),                                  # not YAML
    ("summary.json", "[1, 2]"),                                  # JSON, not a summary
], ids=["deep-json", "deep-yaml", "not-utf8", "not-yaml", "a-list"])
def test_a_damaged_run_record_is_refused_naming_it_before_any_request(hub, tmp_path, capsys, name, text):
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    (run / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    # a RecursionError traceback (exit 1), or "'utf-8' codec can't decode byte 0xff" naming no file (Q3)
    assert main(["push", str(run), "--repo", "user/run"]) == 2
    err = capsys.readouterr().err
    assert f"{run / name} (read) is not the record nasiam writes there" in err and "Traceback" not in err
    assert "Restore it, or move it out of the folder" in err
    assert hub.calls == []


def test_a_non_finite_metric_is_left_out_of_the_card(hub, tmp_path):
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    (run / "summary.json").write_text('{"knn_top1": NaN, "linear_top1": Infinity, "linear_top5": 90.5, '
                                      '"rankme": ' + "9" * 400 + "}")
    push_run_to_hub(run, "user/run")
    card = (hub.repo("user/run") / "README.md").read_text()
    assert "| linear_top5 | 90.5 |" in card
    assert "knn_top1" not in card and "rankme" not in card and "linear_top1" not in card and "nan" not in card and "inf" not in card


def test_a_hidden_folder_in_heads_is_no_head(hub, tmp_path):
    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    recorded = run_file_digests(run)   # what summary.json records, and `pretrain --init` checks
    (run / "heads" / ".ipynb_checkpoints").mkdir()     # Jupyter's; was "not a saved NASHead" (Q16)
    (run / "heads" / ".ipynb_checkpoints" / "notes-checkpoint.txt").write_text("x")
    assert sorted(load_heads(run)) == ["predictor", "projector"]
    assert run_file_digests(run) == recorded   # not "heads/.ipynb_checkpoints/... changed since the run finished"
    push_run_to_hub(run, "user/run")
    assert not any(".ipynb" in name for name in files_under(hub.repo("user/run")))


def test_an_exports_card_names_its_backbone_and_its_runs_dataset(hub, tmp_path, monkeypatch):
    """An export has no config.yaml or summary.json: its backbone.json names the backbone, the
    run its export.json names the dataset; that run's numbers measured the run's heads, not
    necessarily the export's (another rank, other widths), so none are shown (Q18)."""
    from nasiam.config import SearchConfig, config_to_yaml

    run = make_search_run(tmp_path / "run", in_dim=12, out_dim=8, pred_hidden=6)
    (run / "config.yaml").write_text(config_to_yaml(SearchConfig(dataset="cifar10", backbone="resnet10t")))
    (run / "summary.json").write_text(json.dumps({"knn_top1": 61.25}))
    export = tmp_path / "ex1"
    shutil.copytree(run / "heads", export / "heads")
    shutil.copy(run / "genotype.json", export / "genotype.json")
    (export / "backbone.json").write_text(json.dumps({"format": "nasiam.backbone", "name": "resnet10t"}))
    (export / "export.json").write_text(json.dumps({"format": "nasiam.export", "run": str(run), "files": {}}))
    push_run_to_hub(export, "user/ex1")
    card = (hub.repo("user/ex1") / "README.md").read_text()
    assert "| simsiam | cifar10 | resnet10t |" in card and "knn_top1" not in card
    # #33 probe 20, R2: an export.json naming its run relative to where `nasiam export` ran, read
    # from another folder: another method's run there, or another tool's config.yaml, is no source
    other = tmp_path / "elsewhere" / "run"
    other.mkdir(parents=True)
    record = json.loads((export / "export.json").read_text())
    (export / "export.json").write_text(json.dumps({**record, "run": "run"}))
    for text in (config_to_yaml(SearchConfig(framework="mocov3", dataset="cifar100")), "framework: [1, 2\n"):
        (other / "config.yaml").write_text(text)
        hub_name = f"user/elsewhere{len(text)}"
        with monkeypatch.context() as m:
            m.chdir(other.parent)
            push_run_to_hub(export, hub_name)
        assert "| simsiam | not recorded | resnet10t |" in (hub.repo(hub_name) / "README.md").read_text()
    (export / "export.json").write_text(json.dumps(record))
    # the run moved away since: the backbone is still named, the dataset is not guessed
    shutil.rmtree(run)
    push_run_to_hub(export, "user/ex2")
    assert "| simsiam | not recorded | resnet10t |" in (hub.repo("user/ex2") / "README.md").read_text()
