"""Where a run, an export or an evaluation may write (#33 probe 7, D1, D2, D5): a new run starts
only in a folder holding nothing but a killed start's leftovers; no output path lies inside
another nasiam run or export; a killed write's hidden temporary is removed by the next writer of
the same output, once its own writer is gone."""
import json

import pytest

from nasiam.cli import main
from nasiam.config import SearchConfig, config_to_yaml
from nasiam.errors import CheckpointError
from nasiam.runner.checkpoint import find_checkpoint
from nasiam.runner.claim import claim_run_dir

TINY = ["--dataset=synthetic", "--image_size=16", "--batch_size=16", "--epochs=1", "--subset=64", "--knn_subset=64",
        "--num_workers=0", "--warmup_epochs=0"]


class _OneProcess:
    is_global_zero = True

    @staticmethod
    def broadcast(value):
        return value


def _claim(out_dir, name):
    cfg = SearchConfig(out_dir=str(out_dir), run_name=name)
    claimed = claim_run_dir(cfg, "search", "simsiam", _OneProcess(), say=lambda _: None)
    claimed.lock.release()
    return claimed


def _tree(folder):
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*"))


def test_a_new_run_is_not_started_in_a_folder_holding_files_nasiam_did_not_write_for_it(tmp_path):
    """probe 7 E10b: a user's folder holding alphas.csv had it replaced by the run's."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "alphas.csv").write_text("my own numbers\n")
    with pytest.raises(CheckpointError) as info:
        _claim(tmp_path, "mine")
    message = str(info.value)
    assert "mine holds files nasiam did not write for a run (alphas.csv)" in message
    assert "choose another --run_name or --out_dir" in message
    assert _tree(folder) == [("alphas.csv", b"my own numbers\n")]   # the lock taken and given back, nothing left


@pytest.mark.parametrize("record, what", [("summary.json", "a finished run (summary.json) whose checkpoints/last.ckpt "
                                                           "is gone"),
                                          ("export.json", "an export (export.json")])
def test_a_finished_run_without_its_checkpoints_and_an_export_are_named_and_kept(tmp_path, record, what):
    """probe 7 E12 (a finished run whose checkpoints/ was deleted to save disk) and E11b (an
    export): started over, their genotype.json, heads and backbone were replaced, exit 0."""
    folder = tmp_path / "done"
    (folder / "heads" / "projector").mkdir(parents=True)
    (folder / "heads" / "projector" / "head.safetensors").write_bytes(b"weights")
    (folder / "genotype.json").write_text("{}\n")
    (folder / record).write_text("{}\n")
    if record == "summary.json":
        (folder / "config.yaml").write_text(config_to_yaml(SearchConfig(run_name="done")))
    before = _tree(folder)
    with pytest.raises(CheckpointError) as info:
        _claim(tmp_path, "done")
    assert f"done holds {what}" in str(info.value) and "Nothing was written" in str(info.value)
    assert _tree(folder) == before
    with pytest.raises(CheckpointError) as info:   # probe 7 E11: --resume of it advised starting it over
        find_checkpoint(folder)
    assert "without --resume" not in str(info.value) and "nothing to resume" in str(info.value)


def test_what_a_killed_start_leaves_is_started_over(tmp_path):
    """Killed before its first last.ckpt, a run leaves its lock file, config.yaml, logs/,
    alphas.csv and checkpoints/ (a temporary file; epoch=1.ckpt, written just before the first
    last.ckpt): the same command starts it again there, and --resume says so."""
    folder = tmp_path / "r"
    (folder / "logs").mkdir(parents=True)
    (folder / "checkpoints").mkdir()
    (folder / ".lock").write_text(json.dumps({"pid": 1, "host": "h", "since": 0.0, "command": "search"}))
    (folder / "config.yaml").write_text(config_to_yaml(SearchConfig(run_name="r")))
    (folder / "logs" / "metrics.csv").write_text("step\n")
    (folder / "alphas.csv").write_text("epoch\n")
    (folder / "checkpoints" / ".last.ckpt.0123abcd.nasiam.tmp").write_bytes(b"half")
    with pytest.raises(CheckpointError, match="start it again without --resume$"):
        find_checkpoint(folder)
    (folder / "checkpoints" / "epoch=1.ckpt").write_bytes(b"epoch 1")
    with pytest.raises(CheckpointError, match=r"start it again without --resume \(or continue after epoch 1"):
        find_checkpoint(folder)
    assert _claim(tmp_path, "r").run_dir == folder
    assert _claim(tmp_path, "new").run_dir == tmp_path / "new" and not (tmp_path / "new").exists()
    (tmp_path / "dl" / "inputs" / "entity_project_head_v0").mkdir(parents=True)   # killed after a W&B download
    assert _claim(tmp_path, "dl").run_dir == tmp_path / "dl"


def test_a_users_file_named_as_a_temporary_is_not_taken_for_a_killed_start(tmp_path):
    """#33 probe 8, E3: a user's `.notes.txt.0123abcd.nasiam.tmp` (nasiam's temporary pattern)
    in a folder given as --run_name was deleted as a killed write's when the run started. Before
    the run's config.yaml, a run leaves no temporary but config.yaml's own: anything else is
    refused by name and kept; config.yaml's (a start killed while writing it) is started over."""
    folder = tmp_path / "usr2"
    folder.mkdir()
    (folder / ".notes.txt.0123abcd.nasiam.tmp").write_text("precious\n")
    (folder / "sub").mkdir()
    (folder / "sub" / ".a.0123abcd.nasiam.tmp").write_text("mine too\n")
    before = _tree(folder)
    with pytest.raises(CheckpointError, match=r"files nasiam did not write for a run "
                                              r"\(\.notes\.txt\.0123abcd\.nasiam\.tmp, sub/\)"):
        _claim(tmp_path, "usr2")
    assert _tree(folder) == before
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / ".lock").write_text(json.dumps({"pid": 1, "host": "h", "since": 0.0, "command": "search"}))
    (killed / ".config.yaml.89abcdef.nasiam.tmp").write_text("run_name: kil")
    assert _claim(tmp_path, "killed").run_dir == killed


def test_the_cli_keeps_a_users_file_named_as_a_temporary(tmp_path, capsys):
    folder = tmp_path / "usr2"
    folder.mkdir()
    (folder / ".notes.txt.0123abcd.nasiam.tmp").write_text("precious\n")
    assert main(["search", *TINY, f"--out_dir={tmp_path}", "--run_name=usr2"]) == 2
    assert "usr2 holds files nasiam did not write for a run (.notes.txt.0123abcd.nasiam.tmp)" in capsys.readouterr().err
    assert (folder / ".notes.txt.0123abcd.nasiam.tmp").read_text() == "precious\n"


def test_config_yamls_temporary_is_a_killed_starts_only_on_evidence(tmp_path):
    """#33 probe 9, F1: a user's folder holding only `.config.yaml.0123abcd.nasiam.tmp` was taken
    for a killed start's and the file deleted when the run started there. A start writes its lock
    file before config.yaml's temporary, and a kill leaves that lock file behind: the temporary
    is a killed start's beside such a lock, or where it reads as the config.yaml of this run;
    otherwise it is refused by name and kept, like any file nasiam did not write."""
    folder = tmp_path / "usr3"
    folder.mkdir()
    (folder / ".config.yaml.0123abcd.nasiam.tmp").write_text("precious\n")
    before = _tree(folder)
    with pytest.raises(CheckpointError, match=r"files nasiam did not write for a run "
                                              r"\(\.config\.yaml\.0123abcd\.nasiam\.tmp\).*move those files away"):
        _claim(tmp_path, "usr3")
    assert _tree(folder) == before   # the lock taken and given back, the file kept
    other = tmp_path / "other"   # a whole config.yaml of another run (copied): not this run's
    other.mkdir()
    (other / ".config.yaml.0123abcd.nasiam.tmp").write_text(config_to_yaml(SearchConfig(run_name="elsewhere")))
    with pytest.raises(CheckpointError, match=r"\(\.config\.yaml\.0123abcd\.nasiam\.tmp\)"):
        _claim(tmp_path, "other")
    longer = tmp_path / "longer"   # the pattern's NAME is config.yaml.x, not config.yaml
    longer.mkdir()
    (longer / ".lock").write_text(json.dumps({"pid": 1, "host": "h", "since": 0.0, "command": "search"}))
    (longer / ".config.yaml.x.0123abcd.nasiam.tmp").write_text("mine\n")
    with pytest.raises(CheckpointError, match=r"\(\.config\.yaml\.x\.0123abcd\.nasiam\.tmp\)"):
        _claim(tmp_path, "longer")
    notes = tmp_path / "notes"   # beside a killed run's lock, but the user's text (probe 11, H7)
    notes.mkdir()
    (notes / ".lock").write_text(json.dumps({"pid": 1, "host": "h", "since": 0.0, "command": "search"}))
    (notes / ".config.yaml.0123abcd.nasiam.tmp").write_text("my notes, not yaml\n")
    before = _tree(notes)
    with pytest.raises(CheckpointError, match=r"\(\.config\.yaml\.0123abcd\.nasiam\.tmp\)"):
        _claim(tmp_path, "notes")
    assert (notes / ".config.yaml.0123abcd.nasiam.tmp").read_text() == "my notes, not yaml\n"
    empty = tmp_path / "empty"   # killed before its write: empty, beside the lock
    empty.mkdir()
    (empty / ".lock").write_text(json.dumps({"pid": 1, "host": "h", "since": 0.0, "command": "search"}))
    (empty / ".config.yaml.0123abcd.nasiam.tmp").write_text("")
    assert _claim(tmp_path, "empty").run_dir == empty
    whole = tmp_path / "whole"   # killed between the write and the rename; its lock file gone since
    whole.mkdir()
    (whole / ".config.yaml.89abcdef.nasiam.tmp").write_text(config_to_yaml(SearchConfig(run_name="whole")))
    assert _claim(tmp_path, "whole").run_dir == whole


def test_the_cli_keeps_a_users_file_named_as_config_yamls_temporary(tmp_path, capsys):
    folder = tmp_path / "usr3"
    folder.mkdir()
    (folder / ".config.yaml.0123abcd.nasiam.tmp").write_text("precious\n")
    assert main(["search", *TINY, f"--out_dir={tmp_path}", "--run_name=usr3"]) == 2
    err = capsys.readouterr().err
    assert "usr3 holds files nasiam did not write for a run (.config.yaml.0123abcd.nasiam.tmp)" in err, err
    assert _tree(folder) == [(".config.yaml.0123abcd.nasiam.tmp", b"precious\n")]


def test_leftovers_count_only_with_this_runs_own_config(tmp_path):
    """logs/, alphas.csv, epoch files: a run's only beside the config.yaml that run wrote; copied
    from another run (another run_name), or later epochs without last.ckpt, they are refused."""
    folder = tmp_path / "r"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.yaml").write_text(config_to_yaml(SearchConfig(run_name="other")))
    (folder / "alphas.csv").write_text("epoch\n")
    with pytest.raises(CheckpointError, match=r"files nasiam did not write for a run \(alphas.csv, config.yaml\)"):
        _claim(tmp_path, "r")
    (folder / "config.yaml").write_text(config_to_yaml(SearchConfig(run_name="r")))
    for n in (1, 2):
        (folder / "checkpoints" / f"epoch={n}.ckpt").write_bytes(b"x")
    with pytest.raises(CheckpointError, match=r"epoch=1.ckpt, epoch=2.ckpt\).*--resume=\S*epoch=2.ckpt"):
        _claim(tmp_path, "r")


def test_the_cli_refuses_a_users_folder_before_writing_anything(tmp_path, capsys):
    folder = tmp_path / "usr2"
    (folder / "heads").mkdir(parents=True)
    (folder / "alphas.csv").write_text("mine\n")
    (folder / "backbone.json").write_text("{}\n")
    (folder / "heads" / "README").write_text("notes\n")
    before = _tree(folder)
    assert main(["search", *TINY, f"--out_dir={tmp_path}", "--run_name=usr2"]) == 2
    assert "usr2 holds files nasiam did not write for a run (alphas.csv, backbone.json, heads/)" in capsys.readouterr().err
    assert _tree(folder) == before


def _finished_run(folder, name="p0"):
    """A run folder as far as the output-path check reads one: its config.yaml and summary.json."""
    (folder / "heads" / "projector").mkdir(parents=True)
    (folder / "config.yaml").write_text(config_to_yaml(SearchConfig(run_name=name)))
    (folder / "summary.json").write_text("{}\n")
    return folder


@pytest.mark.parametrize("command", [
    ["export", "{src}", "--out", "{p0}/heads/extra"],
    ["eval", "knn", "{src}", "--num_workers", "0", "--out", "{p0}/heads/knn.json"],
    ["eval", "curves", "{src}", "--out", "{p0}/curves.png"],
    ["compare", "--seeds", "1", *TINY[:-1], "--heads", "default", "--report_only", "--out", "{p0}/heads"],
    ["search", *TINY, "--out_dir", "{p0}/heads", "--run_name", "x"],
    ["pretrain", *TINY[:-1], "--out_dir", "{p0}", "--run_name", "x"],
    ["eval", "knn", "{src}", "--num_workers", "0", "--out", "{exported}/knn.json"],
])
def test_no_command_writes_inside_another_run_or_an_export(tmp_path, capsys, command):
    """probe 7 E2, E13, E14: `export --out`, `eval --out` and `compare --out` inside another run's
    heads/ exited 0, and that run was then refused by `pretrain --init` and `push`. Every output
    path option is refused there, exit 2, before anything is written; so is --out_dir."""
    p0 = _finished_run(tmp_path / "runs" / "p0")
    exported = tmp_path / "e"
    exported.mkdir()
    (exported / "export.json").write_text(json.dumps({"format": "nasiam.export", "schema_version": 1}))
    (tmp_path / "runs" / "s0").mkdir()   # as far as export reads before --out
    (tmp_path / "runs" / "s0" / "config.yaml").write_text(config_to_yaml(SearchConfig(run_name="s0")))
    before = _tree(tmp_path)
    paths = {"src": tmp_path / "runs" / "s0", "p0": p0, "exported": exported}
    assert main([part.format(**paths) for part in command]) == 2
    err = capsys.readouterr().err
    holder = f"a nasiam export, {exported}" if "exported" in "".join(command) else f"a nasiam run, {p0}"
    assert f"{holder}; writing there would change its files" in err and "Choose a path outside it" in err, err
    assert _tree(tmp_path) == before


def test_a_runs_own_eval_folder_and_folders_that_are_not_nasiams_stay_writable(tmp_path):
    from nasiam.config import ConfigError, check_output_path

    s0 = _finished_run(tmp_path / "s0", "s0")
    check_output_path("--out", s0 / "eval" / "knn-k20.json", may_write_in=s0 / "eval")   # eval's own place
    with pytest.raises(ConfigError, match="is inside a nasiam run"):
        check_output_path("--out", s0 / "knn.json", may_write_in=s0 / "eval")
    with pytest.raises(ConfigError, match="is a nasiam run"):
        check_output_path("--out", s0)
    (tmp_path / "link").symlink_to(s0 / "heads")
    with pytest.raises(ConfigError, match="is inside a nasiam run"):   # links resolved
        check_output_path("--out", tmp_path / "link" / "x")
    # another tool's project: its own config.yaml and checkpoints/, a recipe, a killed start
    project = tmp_path / "project"
    (project / "checkpoints").mkdir(parents=True)
    (project / "config.yaml").write_text("trainer:\n  max_epochs: 3\nmodel: resnet\n")
    check_output_path("--out_dir", project / "runs")
    (project / "export.json").write_text('{"format": "other"}')
    check_output_path("--out_dir", project / "runs")


@pytest.mark.parametrize("into", ["other", "own"])
def test_eval_does_not_write_through_a_runs_eval_link_into_a_run(tmp_path, capsys, into):
    """probe 8 E2: a run's eval/ a symbolic link to another run's heads/: `nasiam eval` (no --out)
    wrote knn.json there, exit 0, and `pretrain --init` then refused that run as changed. The
    exemption holds for the run's own eval/ only, not where a link at it leads (nor into its own
    heads/); the default output path goes through the same check."""
    from nasiam.config import ConfigError, check_output_path

    s0 = _finished_run(tmp_path / "s0", "s0")
    target = _finished_run(tmp_path / "p0") if into == "other" else s0
    (s0 / "eval").symlink_to(target / "heads", target_is_directory=True)
    with pytest.raises(ConfigError, match=f"is inside a nasiam run, {target}"):
        check_output_path("--out", s0 / "eval" / "knn.json", may_write_in=s0 / "eval")
    before = _tree(tmp_path)
    assert main(["eval", "knn", str(s0), "--num_workers", "0", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"the default --out: {s0 / 'eval' / 'knn.json'} is inside a nasiam run, {target}" in err, err
    assert _tree(tmp_path) == before and not (target / "heads" / "knn.json").exists()


def test_eval_does_not_write_into_a_run_placed_inside_its_eval_folder(tmp_path, capsys):
    """#33 probe 9, F2: `eval knn s0x --out s0x/eval/inner/heads/knn.json`, where inner is a run
    copied into s0x's eval/, exit 0, and `pretrain --init s0x/eval/inner` then refused inner as
    changed. The exemption holds only where the nearest run around the output is the evaluated
    run itself: a run nested in its eval/ is refused like any other; other folders there are not."""
    from nasiam.config import ConfigError, check_output_path

    s0x = _finished_run(tmp_path / "s0x", "s0x")
    inner = _finished_run(s0x / "eval" / "inner")
    with pytest.raises(ConfigError, match=f"is inside a nasiam run, {inner}"):
        check_output_path("--out", inner / "heads" / "knn.json", may_write_in=s0x / "eval")
    with pytest.raises(ConfigError, match=f"is a nasiam run, {inner}"):
        check_output_path("--out", inner, may_write_in=s0x / "eval")
    check_output_path("--out", s0x / "eval" / "mine" / "knn.json", may_write_in=s0x / "eval")   # a plain folder there
    before = _tree(tmp_path)
    out = inner / "heads" / "knn.json"
    assert main(["eval", "knn", str(s0x), "--num_workers", "0", "--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out: {out} is inside a nasiam run, {inner}; writing there would change its files" in err, err
    assert _tree(tmp_path) == before and not out.exists()


def _held(path):
    """Open and `flock` `path` as a live writer holds its temporary; close the result to let go."""
    import fcntl
    import os

    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_killed_exports_hidden_folder_goes_with_the_next_export_to_the_same_out(tmp_path):
    """probe 7 X12c: a SIGKILLed export's `.OUT.<hex>.partial` (23 MB) stayed beside --out for
    good. The next writer of OUT removes those whose writer is gone (nobody holds their flock),
    and nothing else: a live writer's, another output's, lookalikes, links (never followed)."""
    import os

    from nasiam._io import PARTIAL_MARKER, new_directory

    abandoned = tmp_path / ".e12.05a65ab63a69.partial"
    (abandoned / "heads").mkdir(parents=True)
    (abandoned / PARTIAL_MARKER).mkdir()   # made first by the killed writer
    (abandoned / "backbone.safetensors").write_bytes(b"x" * 1000)
    live = tmp_path / ".e12.111111111111.partial"
    live.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine\n")
    (abandoned / "link").symlink_to(outside, target_is_directory=True)   # removed as a link, not followed
    kept = [tmp_path / ".other.05a65ab63a69.partial", tmp_path / ".e12.partial", tmp_path / ".e12.05A65AB63A69.partial"]
    for folder in kept:
        (folder / PARTIAL_MARKER).mkdir(parents=True)
    (tmp_path / ".e12.222222222222.partial").symlink_to(outside, target_is_directory=True)
    holder = _held(live)
    try:
        with new_directory(tmp_path / "e12") as folder:
            (folder / "export.json").write_text("{}\n")
    finally:
        os.close(holder)
    assert not abandoned.exists() and live.is_dir() and all(folder.is_dir() for folder in kept)
    assert (tmp_path / ".e12.222222222222.partial").is_symlink() and (outside / "keep").read_text() == "mine\n"
    assert (tmp_path / "e12" / "export.json").is_file()


def test_a_users_folder_named_as_an_exports_hidden_folder_is_kept(tmp_path):
    """#33 probe 8, E3: a user's `.e4.fedcba987654.partial` (holding notes.txt) beside
    `export --out e4` was removed with its files, on its name and a free flock alone. A writer's
    hidden folder holds nasiam's marker from its creation until its rename; a folder without
    it is not nasiam's, and is kept. The export itself holds no marker."""
    from nasiam._io import PARTIAL_MARKER, new_directory

    mine = tmp_path / ".e4.fedcba987654.partial"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    (mine / "heads").mkdir()   # even one holding what an export writes
    with new_directory(tmp_path / "e4") as folder:
        assert (folder / PARTIAL_MARKER).is_dir() and folder.name.endswith(".partial")
        (folder / "export.json").write_text("{}\n")
    assert (mine / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in (tmp_path / "e4").iterdir()) == ["export.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".e4.fedcba987654.partial", "e4"]


def test_a_killed_evaluations_temporary_goes_with_the_next_evaluation(tmp_path, capsys):
    """probe 7 K2: `eval/.knn.json.<hex>.nasiam.tmp` of a SIGKILLed `eval knn` stayed after the
    command was run again. A writer holds its temporary file (flock) until it has its name."""
    import os

    from nasiam._io import _create_temporary, remove_abandoned

    out = tmp_path / "eval"
    out.mkdir()
    abandoned = out / ".knn.json.0123abcd.nasiam.tmp"
    abandoned.write_bytes(b"half a result")
    fd, live = _create_temporary(out, "knn.json")   # a writer at work: held until closed
    other = out / ".linear.json.0123abcd.nasiam.tmp"
    other.write_bytes(b"another output's")
    try:
        assert main(["eval", "knn", "random", "--dataset", "synthetic", "--image_size", "16", "--bank_subset", "64",
                     "--num_workers", "0", "--batch_size", "64", "--device", "cpu", "--out", str(out / "knn.json")]) == 0
        assert not abandoned.exists() and live.exists() and other.exists()
        assert json.loads((out / "knn.json").read_text())["protocol"] == "knn"
    finally:
        os.close(fd)
    assert remove_abandoned(out, "knn.json") == [live.name] and not live.exists()


def test_a_writer_whose_new_temporary_was_taken_for_abandoned_makes_another(tmp_path):
    """Between a temporary's creation and its writer's flock a cleaner may remove it (holding
    it meanwhile): the writer then sees it has no name left, and draws another."""
    import os

    from nasiam._io import _hold

    path = tmp_path / ".x.0123abcd.nasiam.tmp"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert _hold(fd)
        path.unlink()
        assert not _hold(fd)
    finally:
        os.close(fd)


def _finished_looking_run(folder):
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(config_to_yaml(SearchConfig(out_dir=str(folder.parent), run_name=folder.name)))
    return (folder / "config.yaml").read_bytes()


@pytest.mark.parametrize("options, named", [({"run_name": "r7"}, "--run_name r7 names "),
                                            ({"run_name": "s0", "out_dir": "elsewhere"}, "--out_dir elsewhere names "),
                                            ({"out_dir": "elsewhere"}, "--out_dir elsewhere names ")])
def test_resume_of_a_folder_with_a_run_name_or_out_dir_naming_another_is_refused(tmp_path, monkeypatch, options, named):
    """`--run_name r7 --resume=runs/s0` continued the finished s0 in place and wrote `run_name: r7`
    into its config.yaml (the fourteenth probe of #33, K7): refused now, naming both folders and
    the fix, before the lock is taken or anything written."""
    from nasiam.config import ConfigError

    monkeypatch.chdir(tmp_path)
    before = _finished_looking_run(tmp_path / "runs" / "s0")
    cfg = SearchConfig(**{"out_dir": "runs", **options}, resume="runs/s0")
    with pytest.raises(ConfigError) as info:
        claim_run_dir(cfg, "search", "simsiam", _OneProcess(), say=lambda _: None)
    message = str(info.value)
    assert message.startswith("--resume=runs/s0 continues runs/s0, but ") and named in message
    assert "to continue runs/s0, or start " in message and "as a new run without --resume" in message
    assert (tmp_path / "runs" / "s0" / "config.yaml").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "runs" / "s0").iterdir()) == ["config.yaml"]


@pytest.mark.parametrize("options", [{"run_name": "s0"}, {"out_dir": "runs/"}, {"run_name": "s0", "out_dir": "./runs"}])
def test_resume_of_a_folder_with_options_naming_that_same_folder_goes_on(tmp_path, monkeypatch, options):
    monkeypatch.chdir(tmp_path)
    _finished_looking_run(tmp_path / "runs" / "s0")
    cfg = SearchConfig(**{"out_dir": "runs", **options}, resume="runs/s0")
    with pytest.raises(CheckpointError, match="checkpoint"):   # past the check: this folder has no checkpoint
        claim_run_dir(cfg, "search", "simsiam", _OneProcess(), say=lambda _: None)


def test_resume_with_another_run_name_exits_2_in_the_cli(tmp_path, capsys):
    before = _finished_looking_run(tmp_path / "runs" / "s0")
    assert main(["search", *TINY, "--out_dir", str(tmp_path / "runs"), "--run_name", "r7",
                 f"--resume={tmp_path / 'runs' / 's0'}"]) == 2
    assert "--run_name r7 --out_dir " in capsys.readouterr().err
    assert not (tmp_path / "runs" / "r7").exists() and (tmp_path / "runs" / "s0" / "config.yaml").read_bytes() == before
