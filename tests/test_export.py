"""`nasiam export` (issue #34 item 1, issue #33 items 2, 3 and 11's export part): rank 1 is
the search's own choice at any width; the export writes a new folder, whole or not at all, and
reads a run only while nothing writes to it; `pretrain --init` trusts only a finished folder."""
import dataclasses
import errno
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nasiam import NASHead, SearchableHead
from nasiam.cli import main
from nasiam.config import SearchConfig, config_to_yaml, load_config
from nasiam.errors import RunDirLockedError
from nasiam.integrations.lightly import load_head_sources
from nasiam.integrations.plain import HeadMismatchError, fit_head
from nasiam.rundir import read_genotypes
from nasiam.runner import checkpoint as ckpt
from nasiam.runner import export as export_module
from nasiam.runner.build import build_search_model, data_info
from nasiam.runner.export import ranked_genotype
from nasiam.runner.lock import RunDirLock, reading
from nasiam.space import MLPSpace

SMALL = ["--dataset=synthetic", "--subset=64", "--image_size=16", "--batch_size=16", "--widths=16,32",
         "--proj_hidden_dim=32", "--proj_output_dim=32", "--pred_hidden_dim=16", "--queue_size=32",
         "--projector_layers=2", "--num_workers=0"]


def keep_leaning_head() -> SearchableHead:
    """A head whose one skippable layer leans to being kept (p 0.6) with every other choice
    uniform: the search keeps it, yet skipping is jointly likelier than any one kept layer
    (0.4 > 0.6 x 1/2 x 1/3 x 1/8)."""
    head = SearchableHead(16, 8, num_layers=1, space=MLPSpace(widths=(8, 16)))
    with torch.no_grad():
        head.layers[0].arch["keep"].copy_(torch.tensor([0.405, 0.0]))
    return head


_BUILT_RUNS = {}   # framework -> (a run _build_run wrote, torch's random state right after it)


@pytest.fixture(scope="module", autouse=True)
def _built_runs(tmp_path_factory):
    """make_run's runs, built once per framework in this module's own folder."""
    _BUILT_RUNS["folder"] = tmp_path_factory.mktemp("built_runs")
    yield
    _BUILT_RUNS.clear()


def make_run(path, framework="simsiam"):
    """A search run directory as `nasiam search` leaves it, without the training (`_build_run`).
    Each test gets a copy of its own of a run built once (a build takes most of a test's time),
    and torch's random state as the build left it, as if the test had built the run itself."""
    if framework not in _BUILT_RUNS:
        built = _build_run(_BUILT_RUNS["folder"] / framework, framework)
        _BUILT_RUNS[framework] = built, torch.get_rng_state()
    built, random_state = _BUILT_RUNS[framework]
    torch.set_rng_state(random_state)
    return Path(shutil.copytree(built, path))


def _build_run(path, framework):
    """The model of SMALL's configuration with keep-leaning logits, checkpointed, and its choice
    exported as the search exports it. Fast and deterministic: a real search's logits fall
    either way."""
    cfg = load_config(SearchConfig, None, {**{a.split("=")[0][2:]: a.split("=")[1] for a in SMALL},
                                           "framework": framework}, check_environment=False)
    torch.manual_seed(0)
    model = build_search_model(cfg, data_info(cfg))
    for head in model.searchable_heads().values():
        for layer in head.searchable_layers():
            if "keep" in layer.arch:
                with torch.no_grad():
                    layer.arch["keep"].copy_(torch.tensor([0.405, 0.0]))
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(config_to_yaml(cfg))
    state = {"model": model.state_dict(), "epoch": 1, "global_step": 4, "history": [], "elapsed": 1.0, "rng": {}}
    ckpt.save_checkpoint(path / "checkpoints" / ckpt.LAST, state,
                         {"command": "search", "config": dataclasses.asdict(cfg)})
    from nasiam.rundir import write_searched_heads
    from nasiam.runner import outputs

    genotypes = model.genotypes(top_k=cfg.top_k, meta={"framework": model.name})
    # as the search writes them: into its own run (save_pretrained refuses a run's heads/)
    write_searched_heads(path, model.name, genotypes, model.export_heads())
    outputs.write_summary(path, {"command": "search", "selection": {"method": "argmax"}})
    return path


def tree(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def hidden_parameters(head: NASHead, layers):
    return {f"{i}.{k}": v for i in layers for k, v in head[i].state_dict().items()
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


# -- one notion of the searched head (issue #34 item 1) ------------------------------------
def test_rank_one_is_the_search_choice_and_rank_two_the_most_probable_alternative():
    head = keep_leaning_head()
    chosen, joint_best = head.genotype(), head.top_genotypes(1)[0]
    assert len(chosen.layers) == 2 and len(joint_best.layers) == 1   # the two orders disagree here
    first = ranked_genotype(head, 1, {"slot": "projector"})
    assert first.layers == chosen.layers and first.meta["ranked_by"] == export_module.SEARCH_CHOICE
    second = ranked_genotype(head, 2, {"slot": "projector"})
    assert second.layers == joint_best.layers and "joint probability" in second.meta["ranked_by"]
    ranks = [ranked_genotype(head, k, {}).layers for k in range(1, 6)]
    assert len(set(ranks)) == 5   # distinct heads: the choice is not repeated among the alternatives


def test_rank_beyond_the_space_is_refused_by_count():
    head = SearchableHead(16, 8, num_layers=1, space=MLPSpace(widths=(16,), norms=("none",), activations=("relu",)))
    assert ranked_genotype(head, 2, {}).layers != ranked_genotype(head, 1, {}).layers   # kept, skipped
    with pytest.raises(ValueError, match="has 2 distinct architectures; --rank 3 does not exist"):
        ranked_genotype(head, 3, {"slot": "projector"})


def test_a_rank_beyond_what_top_genotypes_ranks_is_refused_naming_rank(monkeypatch):
    head = SearchableHead(16, 8, num_layers=3)   # more assignments than MAX_TOP_GENOTYPES
    with pytest.raises(ValueError, match=r"--rank 10001: export ranks at most the first 10,000 architectures"):
        ranked_genotype(head, 10_001, {"slot": "projector"})
    # a rank within the bound whose distinct alternatives lie beyond it: the doubling of k stops there
    chosen = head.genotype()
    def one_repeated_head(k, meta=None):   # a ranking of one repeated head; a k past the bound fails, not hangs
        assert k <= 4, f"asked top_genotypes for {k} past the bound of 4"
        return [chosen] * k

    monkeypatch.setattr(head, "top_genotypes", one_repeated_head)
    monkeypatch.setattr(export_module, "MAX_TOP_GENOTYPES", 4)
    with pytest.raises(ValueError, match=r"--rank 2: export ranks at most the first 4 architectures .*, which hold 1 "
                                         r"distinct ones; choose a smaller --rank"):
        ranked_genotype(head, 2, {"slot": "projector"})


def test_an_out_where_no_folder_can_be_made_is_refused_naming_it(tmp_path, capsys):
    """#33 probe 15, L7: under a parent nothing can be made in, export failed when it wrote,
    exit 5 naming its hidden temporary folder and advising the permissions of --out."""
    run = make_run(tmp_path / "run")
    assert main(["export", str(run), "--out", "/proc/self/nasiam-x/exp"]) == 2
    err = capsys.readouterr().err
    assert "--out: no folder can be made at /proc/self/nasiam-x/exp: nothing can be created in /proc/self" in err
    assert ".partial" not in err


@pytest.mark.parametrize("framework", ["simsiam", "mocov3"])
def test_export_and_reexport_at_another_width_start_from_the_search_choice(tmp_path, framework, capsys):
    run = make_run(tmp_path / "run", framework)
    _, searched = read_genotypes(run)
    assert main(["export", str(run), "--out", str(tmp_path / "same")]) == 0
    assert {s: g.layers for s, g in read_genotypes(tmp_path / "same")[1].items()} == \
        {s: g.layers for s, g in searched.items()}
    assert main(["export", str(run), "--out", str(tmp_path / "w8"), "--proj_output_dim", "8"]) == 0
    out = capsys.readouterr().out
    assert "rank 1 (the search's choice" in out and "searched weights kept in layers 0:" in out
    _, resized = read_genotypes(tmp_path / "w8")
    for slot, genotype in searched.items():
        assert resized[slot].layers[:-1] == genotype.layers[:-1]   # the hidden layers the search kept
    projector = NASHead.from_pretrained(tmp_path / "w8" / "heads" / "projector")
    search_projector = NASHead.from_pretrained(run / "heads" / "projector")
    hidden = range(len(search_projector) - 1)
    kept, want = hidden_parameters(projector, hidden), hidden_parameters(search_projector, hidden)
    assert kept.keys() == want.keys() and all(torch.equal(kept[k], want[k]) for k in want)
    record = json.loads((tmp_path / "w8" / "export.json").read_text())
    assert record["layers"]["projector"] == {"kept": list(hidden), "fresh": [len(search_projector) - 1]}
    assert record["rank"] == 1 and record["ranked_by"] == export_module.SEARCH_CHOICE


# -- the export writes a new folder, whole, from a run nothing writes to (issue #33) --------
def test_export_refuses_an_existing_out_and_leaves_the_run_untouched(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    before = tree(run)
    assert main(["export", str(run), "--out", str(run), "--rank", "2"]) == 2
    err = capsys.readouterr().err
    assert f"--out {run} is the run directory being exported" in err and "Choose a new --out" in err
    assert tree(run) == before
    assert main(["export", str(run), "--out", str(tmp_path / "first")]) == 0
    earlier = tree(tmp_path / "first")
    assert main(["export", str(run), "--out", str(tmp_path / "first"), "--proj_output_dim", "8"]) == 2
    assert "is an existing, non-empty folder" in capsys.readouterr().err
    assert tree(tmp_path / "first") == earlier and tree(run) == before
    (tmp_path / "empty").mkdir()   # an empty folder is as good as a new one
    assert main(["export", str(run), "--out", str(tmp_path / "empty")]) == 0
    assert (tmp_path / "empty" / "export.json").is_file()


@pytest.mark.parametrize("failure,code,message", [
    (OSError(errno.ENOSPC, "No space left on device"), 5, "the disk is full"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_a_failed_export_leaves_nothing_behind(tmp_path, monkeypatch, capsys, failure, code, message):
    run = make_run(tmp_path / "run")
    before = tree(run)

    def fail_after_the_heads(*args, **kwargs):   # the heads are on disk by then
        raise failure

    monkeypatch.setattr(export_module, "save_backbone", fail_after_the_heads)
    assert main(["export", str(run), "--out", str(tmp_path / "new" / "out")]) == code
    err = capsys.readouterr().err
    assert message in err and "nothing was written to --out" in err and "--resume" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]   # no out, no partial folder, no new/ made for it
    assert tree(run) == before and not (run / ".lock").exists()


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGUSR1, 138)])
def test_sigterm_or_sighup_mid_export_leaves_nothing_behind(tmp_path, monkeypatch, capsys, signum, code):
    """SIGTERM (`kill`, a scheduler), SIGHUP (the terminal closed) or SIGUSR1 (SLURM's warning
    ahead of the time limit, which stops a run) while the export writes: before the fix their
    default action killed the process with no message and left the hidden `.out.*.partial`
    folder, a whole backbone, beside --out forever (only Ctrl-C was handled; SIGUSR1 until the
    fifth probe of #33)."""
    run = make_run(tmp_path / "run")
    before = tree(run)
    save_backbone = export_module.save_backbone

    def signalled_while_writing(*args, **kwargs):
        save_backbone(*args, **kwargs)
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(export_module, "save_backbone", signalled_while_writing)
    # the suite may run under `nohup` (SIGHUP ignored, which an export honours, as a run does):
    # the signal's default disposition for the test's duration
    outer = signal.signal(signum, signal.SIG_DFL)
    try:
        assert main(["export", str(run), "--out", str(tmp_path / "out")]) == code
        assert signal.getsignal(signum) == signal.SIG_DFL   # the process's own handling is put back
    finally:
        signal.signal(signum, outer)
    err = capsys.readouterr().err
    assert f"stopped by {signal.Signals(signum).name}; nothing was written to --out" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]   # no out, no partial folder
    assert tree(run) == before and not (run / ".lock").exists()


def test_ctrl_c_after_the_export_finished_reports_it_complete(tmp_path, monkeypatch, capsys):
    """A Ctrl-C landing after the folder was renamed into place (here while the rename is
    synced) said "interrupted; nothing was written to --out", exit 130, over a whole export
    (#33 round three): now exit 0, saying it is complete. Before the export finished, or over
    an earlier export's folder, it is still an interruption."""
    import nasiam._io as io_module

    run = make_run(tmp_path / "run")

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(io_module, "_fsync_directory", ctrl_c)
        assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"the export to {tmp_path / 'out'} had finished when Ctrl-C came; it is complete" in err
    assert "interrupted" not in err and (tmp_path / "out" / "export.json").is_file()
    with monkeypatch.context() as patched:   # an earlier export there, Ctrl-C before the refusal: not ours
        patched.setattr(export_module, "_check_new_out", ctrl_c)
        assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 130
    assert "interrupted; nothing was written to --out" in capsys.readouterr().err


@pytest.mark.parametrize("when", ["after main returned", "at interpreter shutdown"])
def test_ctrl_c_on_the_way_out_of_a_finished_export_exits_0(tmp_path, when):
    """A Ctrl-C landing after `nasiam export` had finished, once its handler had returned (in the
    CLI's return path, `sys.exit(main())`, or atexit at shutdown), ended a complete export with
    exit 130: a KeyboardInterrupt traceback, or "interrupted; nothing was written to --out"
    (#33 round three, D5). Now SIGINT stops nothing once export.json is in place: exit 0, with a
    line saying the export is complete."""
    run = make_run(tmp_path / "run")
    out = tmp_path / "out"
    late = ("import atexit; atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2)))"
            if when == "at interpreter shutdown" else "")
    child = textwrap.dedent(f"""
        import os, signal, sys, time
        signal.signal(signal.SIGINT, signal.default_int_handler)   # as a terminal leaves it (not a background job's)
        {late}
        from nasiam.cli import main
        code = main(["export", {str(run)!r}, "--out", {str(out)!r}])
        if {not late}:
            os.kill(os.getpid(), signal.SIGINT)   # the Ctrl-C, between main's return and the exit
            time.sleep(0.2)
        sys.exit(code)
    """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "interrupted" not in result.stderr
    assert f"Ctrl-C came after the export to {out} had finished; it is complete" in result.stderr
    assert (out / "export.json").is_file()


def test_an_out_that_cannot_be_a_new_folder_is_named_with_a_fix(tmp_path, capsys):
    """A dangling link as --out said "is an existing, non-empty folder"; a --out below a file
    said "was created by something else during the export" (#33 round three). Each now names
    the problem, the path and a fix, exit 2; and the suggested --out is never inside the run."""
    run = make_run(tmp_path / "run")
    before = tree(run)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("mine")
    cases = {
        tmp_path / "dangling": f"is a symbolic link to {tmp_path / 'nowhere'}, which does not exist; "
                               r"`nasiam export` writes only to a new folder, outside the run, and replaces nothing "
                               f"(a run's genotype.json and heads/ are the search's record). Remove the link, or "
                               f"choose a new --out, e.g. {tmp_path / 'dangling-export'}",
        tmp_path / "notes.txt" / "sub": f"is below {tmp_path / 'notes.txt'}, a file, not a folder; ",
        tmp_path / "dangling" / "sub": f"is below {tmp_path / 'dangling'}, a symbolic link to",
        run / "heads": f"is inside the run directory being exported ({run}); ",
        run / "new": f"is inside the run directory being exported ({run}); ",
    }
    # (an --out with control characters is refused before these checks: test_exit_codes.py's
    # test_an_output_path_a_terminal_would_act_on_is_refused_before_anything_is_written)
    for out, words in cases.items():
        assert main(["export", str(run), "--out", str(out)]) == 2, out
        err = capsys.readouterr().err
        assert (f"--out {out} {words}" if str(out).isprintable() else words) in err and "\x1b" not in err, err
        suggested = re.search(r"e\.g\. (\S+)$", err.strip()).group(1)
        assert not suggested.startswith(str(run) + "/") and not os.path.lexists(suggested), suggested
    def suggestion(out):
        assert main(["export", str(run), "--out", str(out)]) == 2
        return re.search(r"e\.g\. (\S+)$", capsys.readouterr().err.strip()).group(1)

    assert suggestion(tmp_path / "notes.txt" / "sub") == str(tmp_path / "notes.txt-export")   # beside the file
    assert suggestion(run / "heads") == str(tmp_path / "run-export")   # beside the run, not run/heads-export
    (tmp_path / "run-export").mkdir()
    (tmp_path / "run-export" / "x").write_text("taken")
    assert suggestion(run) == str(tmp_path / "run-export-2")   # and where nothing is yet
    assert (tmp_path / "notes.txt").read_text() == "mine" and tree(run) == before
    assert not (tmp_path / "new").exists()   # the too-long name was refused before any folder was made
    assert main(["export", str(run), "--out", ""]) == 2
    assert f"--out is empty; give the path of a new folder, e.g. {tmp_path / 'run-export-2'}" in capsys.readouterr().err


def test_an_out_naming_the_current_folder_is_a_usage_error(tmp_path, capsys, monkeypatch):
    """`cd empty && nasiam export RUN --out .` exited 5 ("Device or resource busy" renaming
    ..<hex>.partial onto `.`); by its absolute path the rename succeeded over the shell's own
    folder, which the shell then saw deleted. Now exit 2 naming it, nothing written."""
    from nasiam._io import new_directory

    run = make_run(tmp_path / "run")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    for out in (".", "../empty", str(empty), "sub/.."):
        assert main(["export", str(run), "--out", out]) == 2, out
        err = capsys.readouterr().err
        what = "a folder named by '..'" if out == "sub/.." else "is the current folder"
        assert f"--out {out} " in err and what in err and f"e.g. {tmp_path / 'empty-export'}" in err, err
    assert not list(empty.iterdir()) and sorted(p.name for p in tmp_path.iterdir()) == ["empty", "run"]
    with pytest.raises(ValueError, match="names an existing folder through '.' or '..'"):
        with new_directory("."):
            pass


def test_an_out_with_control_characters_is_refused_escaped_before_anything_is_written(tmp_path, capsys, monkeypatch):
    """Its success line escaped such an --out, but every other line naming it did not (progress,
    a later `pretrain --init`): refused as --run_name is (the sixth probe of #33)."""
    run = make_run(tmp_path / "run")
    monkeypatch.chdir(tmp_path)   # a relative name: a long $TMPDIR cuts an absolute one in the message
    out = Path("\x1b[31mred")
    assert main(["export", str(run), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err and "\\x1b[31mred' holds characters" in captured.err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_pretrain_init_refuses_a_folder_its_writer_did_not_finish(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "export")]) == 0
    (tmp_path / "export" / "export.json").unlink()   # what a kill before the rename's last file leaves
    args = ["pretrain", *[a for a in SMALL if not a.startswith(("--widths", "--projector_layers"))],
            "--epochs=1", f"--out_dir={tmp_path}", "--run_name=p", f"--init={tmp_path / 'export'}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "has neither summary.json nor export.json" in err and "nasiam export RUN --out NEW_FOLDER" in err


def _hold_lock(run_dir):
    code = textwrap.dedent(f"""
        from nasiam.runner.lock import RunDirLock
        RunDirLock({str(run_dir)!r}, "search").acquire()
        print("locked", flush=True)
        import time; time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.slow
def test_export_refuses_a_run_that_is_still_writing(tmp_path, capsys, monkeypatch):
    run = make_run(tmp_path / "run")
    owner = _hold_lock(run)
    try:
        assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert f"in use by pid {owner.pid}" in err and "wait for the run to end" in err and "--run_name" not in err
        assert not (tmp_path / "out").exists()
        # where the lock file cannot be written (a read-only archive), a live owner is still seen
        with monkeypatch.context() as patched, pytest.raises(RunDirLockedError, match=f"in use by pid {owner.pid}"):
            patched.setattr(RunDirLock, "acquire", _refuse_to_write)
            with reading(run, "export", "wait"):
                pass
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    with monkeypatch.context() as patched:
        patched.setattr(RunDirLock, "acquire", _refuse_to_write)
        with reading(run, "export", "wait"):   # its owner is gone: nothing writes the run
            pass


def _refuse_to_write(lock):
    """RunDirLock.acquire in a directory this process may not write to (tests run as root,
    whom permissions do not stop)."""
    raise PermissionError(errno.EACCES, "Permission denied", str(lock.path))


# -- a real search, each framework: the re-export the integrations advise keeps its head ----
@pytest.mark.slow
@pytest.mark.parametrize("framework", ["simsiam", "simclr", "mocov2", "mocov3"])
def test_reexport_at_a_models_width_keeps_the_searched_hidden_layers(tmp_path, framework, capsys):
    assert main(["search", *SMALL, "--epochs=2", "--warmup_epochs=1", "--knn_subset=32", "--knn_k=5",
                 "--arch_lr=0.05", f"--framework={framework}", f"--out_dir={tmp_path}", "--run_name=run"]) == 0
    run = tmp_path / "run"
    _, searched = read_genotypes(run)
    heads, _ = load_head_sources(run)
    with pytest.raises(HeadMismatchError) as error:   # the integrations' advice, as solo-learn and lightly give it
        fit_head(heads["projector"], 512, 8, where="the model's projector", run=run)
    command = shlex.split(re.search(r"`(nasiam export [^`]+)`", str(error.value)).group(1))
    capsys.readouterr()
    assert main(command[1:]) == 0
    exported = run.with_name("run-out8")
    _, resized = read_genotypes(exported)
    assert set(resized) == set(searched)
    for slot, genotype in searched.items():
        assert resized[slot].layers[:-1] == genotype.layers[:-1], slot
    fitted = fit_head(load_head_sources(exported)[0]["projector"], 512, 8, where="the model's projector",
                      run=exported)
    search_projector = load_file(run / "heads" / "projector" / "head.safetensors")
    hidden = [k for k in search_projector if int(k.split(".")[0]) < len(searched["projector"].layers) - 1
              and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert hidden
    state = fitted.state_dict()
    for k in hidden:
        torch.testing.assert_close(state[k], search_projector[k], rtol=0, atol=0)


def test_pretrain_init_refuses_an_export_assembled_from_two_runs(tmp_path, capsys):
    """export.json lists the sha256 of every file the export wrote: a backbone or a head copied
    in from another run afterwards (same shapes, so nothing else notices) is refused (#33,
    found by an independent probe); the untouched export passes the same check."""
    from nasiam.errors import CheckpointError
    from nasiam.rundir import require_complete

    run = make_run(tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    require_complete(tmp_path / "a", "--init")   # as written: trusted
    head = tmp_path / "a" / "heads" / "projector" / "head.safetensors"
    head.write_bytes(head.read_bytes()[:-1] + bytes([head.read_bytes()[-1] ^ 1]))   # another head's bytes
    with pytest.raises(CheckpointError, match="heads/projector/head.safetensors changed since the export"):
        require_complete(tmp_path / "a", "--init")
    args = ["pretrain", *[a for a in SMALL if not a.startswith(("--widths", "--projector_layers"))],
            "--epochs=1", f"--out_dir={tmp_path}", "--run_name=p", f"--init={tmp_path / 'a'}"]
    assert main(args) == 2
    assert "changed since the export (its heads and backbone may come from different runs)" in \
        capsys.readouterr().err


def test_pretrain_init_refuses_an_export_file_of_another_size_without_hashing_it(tmp_path, monkeypatch):
    """export.json records each file's size: a head replaced by a link to a 20 GB sparse file was
    hashed whole (229 s) before the refusal (#33 probe 12, I3); it is refused from its size."""
    import nasiam.rundir
    from nasiam.errors import CheckpointError
    from nasiam.rundir import require_complete

    run = make_run(tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    head = tmp_path / "a" / "heads" / "projector" / "head.safetensors"
    assert json.loads((tmp_path / "a" / "export.json").read_text())["sizes"]["heads/projector/head.safetensors"] == \
        head.stat().st_size
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(1 << 26)   # sparse: no disk used
    head.unlink()
    head.symlink_to(big)
    hashed = []
    sha256 = nasiam.rundir._sha256
    monkeypatch.setattr(nasiam.rundir, "_sha256", lambda path: hashed.append(path) or sha256(path))
    with pytest.raises(CheckpointError, match="heads/projector/head.safetensors changed since the export"):
        require_complete(tmp_path / "a", "--init")
    assert hashed and head not in hashed


def _export_with_record(tmp_path, change):
    """An export of make_run's run in tmp_path/"a", its export.json passed through `change`."""
    run = make_run(tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    record_path = tmp_path / "a" / "export.json"
    record = json.loads(record_path.read_text())
    change(record)
    record_path.write_text(json.dumps(record))
    return tmp_path / "a"


def _hashed_paths(monkeypatch):
    """The files `require_complete` hashes from now on (one over 1 GiB is listed, not read)."""
    import nasiam.rundir

    hashed, sha256 = [], nasiam.rundir._sha256
    monkeypatch.setattr(nasiam.rundir, "_sha256", lambda path: hashed.append(Path(path)) or (
        "0" * 64 if Path(path).stat().st_size > 1 << 30 else sha256(path)))
    return hashed


def test_an_export_record_without_sizes_still_loads_and_reads_no_link_or_oversized_file(tmp_path, monkeypatch):
    """An export.json without "sizes" (every export written before them, or the key deleted)
    hashed each file whole, a link to a 20 GB file for minutes (#33 probe 13, J2): such a file is
    now refused unread (a link; a file over 8 GiB, more than an export writes), while an older
    export as written still loads."""
    from nasiam.errors import CheckpointError
    from nasiam.rundir import require_complete

    folder = _export_with_record(tmp_path, lambda record: record.pop("sizes"))
    hashed = _hashed_paths(monkeypatch)
    require_complete(folder, "--init")   # an older export, as written: trusted
    head, backbone = folder / "heads" / "projector" / "head.safetensors", folder / "backbone.safetensors"
    assert head in hashed and backbone in hashed
    target = tmp_path / "head.safetensors"
    head.rename(target)
    head.symlink_to(target)   # the very bytes the export wrote, through a link
    with open(backbone, "r+b") as f:
        f.truncate((8 << 30) + 1)   # sparse: no disk used
    hashed.clear()
    with pytest.raises(CheckpointError) as error:
        require_complete(folder, "--init")
    assert "backbone.safetensors, heads/projector/head.safetensors not read: a symbolic link or a file over 8 GiB" \
        in str(error.value)
    assert "Put the files the export wrote in their place, or export the search run again" in str(error.value)
    assert head not in hashed and backbone not in hashed


FORGED_SIZES = [
    ({"backbone.safetensors": -1}, "'sizes' gives backbone.safetensors -1, not a size in bytes"),
    ({"backbone.safetensors": 10 ** 30}, "'sizes' gives backbone.safetensors 1000000000000000000000000000000, not"),
    ({"backbone.safetensors": "1000"}, "'sizes' gives backbone.safetensors '1000', not a size in bytes"),
    ({"backbone.safetensors": True}, "'sizes' gives backbone.safetensors True, not a size in bytes"),
    ({"backbone.safetensors": 1000.0}, "'sizes' gives backbone.safetensors 1000.0, not a size in bytes"),
    ({"backbone.safetensors": None}, "'sizes' gives no size for backbone.safetensors"),   # the entry removed
    ({"notes.txt": 4}, "'sizes' names notes.txt, which 'files' does not list"),
]


def test_forged_export_sizes_are_a_damaged_record_not_a_changed_file(tmp_path, monkeypatch):
    """A forged size in export.json (negative, 10**30, a string, true) was read as the file having
    "changed since the export", a size for a file the record does not list was ignored, and a
    listed file without a size was hashed whole (#33 probe 13, J2, J4): each is a damaged record,
    refused before any file is read."""
    from nasiam.errors import CheckpointError
    from nasiam.rundir import require_complete

    folder = _export_with_record(tmp_path, lambda record: None)
    written = json.loads((folder / "export.json").read_text())
    hashed = _hashed_paths(monkeypatch)
    for sizes, reason in FORGED_SIZES:
        forged = {name: size for name, size in {**written["sizes"], **sizes}.items() if size is not None}
        (folder / "export.json").write_text(json.dumps({**written, "sizes": forged}))
        with pytest.raises(CheckpointError) as error:
            require_complete(folder, "--init")
        assert f"export.json (read) is not a complete export record ({reason}" in str(error.value)
        assert "changed since the export" not in str(error.value)
    assert hashed == []


def test_pretrain_init_checks_an_exports_record_even_beside_a_summary(tmp_path):
    """require_complete read summary.json whenever there was one and never export.json: a
    summary without "files" dropped into an export folder whose backbone was swapped made the
    folder trusted (#33, found by an independent probe). Now every record present is checked."""
    from nasiam.errors import CheckpointError
    from nasiam.rundir import require_complete

    run = make_run(tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    backbone = tmp_path / "a" / "backbone.safetensors"
    backbone.write_bytes(backbone.read_bytes()[:-1] + bytes([backbone.read_bytes()[-1] ^ 1]))   # another backbone
    (tmp_path / "a" / "summary.json").write_text(json.dumps({"knn_top1": 0.5}))   # no "files": an older summary
    with pytest.raises(CheckpointError, match="backbone.safetensors changed since the export .* summary.json not written by the export"):
        require_complete(tmp_path / "a", "--init")


def test_pretrain_init_names_a_missing_or_an_added_export_file_as_such(tmp_path, capsys):
    """A removed heads/predictor/ or a user's notes.txt beside a head was refused (rightly) as
    files that "differ from what the export wrote ... may come from different runs" (#33 probe
    10, G8): each is now named missing or not the export's, with its own fix."""
    from nasiam.errors import CheckpointError
    from nasiam.rundir import require_complete

    run = make_run(tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    slot = next(p for p in sorted((tmp_path / "a" / "heads").iterdir()) if p.name != "projector")
    shutil.rmtree(slot)
    with pytest.raises(CheckpointError) as missing:
        require_complete(tmp_path / "a", "--init")
    assert f"heads/{slot.name}/genotype.json, heads/{slot.name}/head.safetensors missing (" in str(missing.value)
    assert "Restore the files, or export" in str(missing.value)
    (tmp_path / "b" / "heads" / "projector" / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError) as added:
        require_complete(tmp_path / "b", "--init")
    assert "heads/projector/notes.txt not written by the export (" in str(added.value)
    assert "Move the added file out of the folder, or export" in str(added.value)
    for error in (missing.value, added.value):
        assert "differ" not in str(error) and "different runs" not in str(error)


def test_the_out_suggested_for_a_too_long_out_fits_the_file_system(tmp_path, capsys):
    """For a --out whose name was too long, export suggested that name plus "-export": longer
    still, refused in turn (#33, found by an independent probe). The suggestion is now cut to
    fit, and left out when nothing beside --out would fit."""
    run = make_run(tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / ("x" * 250))]) == 2
    err = capsys.readouterr().err
    assert "is a path whose folder name" in err, err
    suggested = Path(re.search(r"e\.g\. (\S+)$", err.strip()).group(1))   # in full, to copy (a long $TMPDIR)
    assert suggested.parent == tmp_path and suggested.name.startswith("x" * 100) and suggested.name.endswith("-export")
    assert export_module._too_long(suggested) is None and not suggested.exists()
    deep = tmp_path
    while len(os.fsencode(deep)) < 4096 - 150:   # no room in it for an export's files, yet a path it can make
        deep = deep / ("d" * min(200, 4096 - 100 - len(os.fsencode(deep)) - 1))
    deep.mkdir(parents=True)
    assert main(["export", str(run), "--out", str(deep / "e")]) == 2
    err = capsys.readouterr().err
    assert "a path too long for this file system" in err and "e.g." not in err, err


def test_a_pretraining_run_is_named_as_one(tmp_path, capsys):
    """`nasiam export PRETRAIN_RUN` said "config.yaml: unknown key 'head'" (the sixth probe of
    #33): true of a search's configuration, no help to someone who pointed it at the wrong run."""
    from nasiam.config import PretrainConfig

    run = tmp_path / "pretrain-run"
    run.mkdir()
    (run / "config.yaml").write_text(config_to_yaml(load_config(PretrainConfig, None, {"dataset": "synthetic"},
                                                                check_environment=False)))
    assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{run} is a `nasiam pretrain` run" in err and "unknown key" not in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind, words", [("fifo", "is a FIFO, socket or device, not a regular file"),
                                         ("device", "is a FIFO, socket or device, not a regular file"),
                                         ("folder", "is a folder, not a regular file"),
                                         ("dangling", "is a dangling symbolic link, not a regular file")])
def test_a_checkpoint_that_is_not_a_regular_file_is_named_as_such_never_opened(tmp_path, capsys, kind, words):
    """`export --checkpoint FIFO` said "no checkpoint at" (the sixth probe of #33, X4): the path
    is there, as a FIFO, a device, a folder or a dangling link. Now it is named as what it is,
    from its metadata: a FIFO is never opened (that would block until a writer comes)."""
    run = make_run(tmp_path / "run")
    path = tmp_path / "not.ckpt"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path(os.devnull)
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(tmp_path / "gone.ckpt")
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the export blocked on the checkpoint"))
    signal.alarm(60)
    try:
        assert main(["export", str(run), "--out", str(tmp_path / "out"), "--checkpoint", str(path)]) == 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = capsys.readouterr().err
    assert f"{path} {words}: a checkpoint is a file" in err and "no checkpoint at" not in err, err
    assert not (tmp_path / "out").exists()


# -- #33 probe 16: another method's export as --init; stdout lost; SIGTERM after the export -----
def test_init_from_an_export_of_another_method_is_refused_as_head_is(tmp_path, capsys):
    """M5: `nasiam pretrain --init E` where E is a SimCLR search's export trained SimSiam from it
    without a word, where `--head E` is refused "was searched for simclr, not simsiam"."""
    run = make_run(tmp_path / "run", "simclr")
    assert main(["export", str(run), "--out", str(tmp_path / "e")]) == 0
    capsys.readouterr()
    options = [a for a in SMALL if not a.startswith(("--widths", "--projector_layers"))]
    for option in ("--init", "--head"):
        assert main(["pretrain", *options, "--epochs=1", "--knn_subset=32", f"{option}={tmp_path / 'e'}",
                     f"--out_dir={tmp_path / 'runs'}", f"--run_name={option[2:]}"]) == 2
        err = capsys.readouterr().err
        assert f"{option} {tmp_path / 'e'} was searched for simclr, not simsiam" in err, err
    assert not (tmp_path / "runs" / "init" / "summary.json").exists()


def _exported(out: str) -> dict:
    """What export_run returns, its folder written (a stand-in: these tests are about what follows)."""
    Path(out).mkdir()
    (Path(out) / "export.json").write_text("{}")
    return {"out": out, "epoch": 1, "rank": 1, "ranked_by": export_module.SEARCH_CHOICE, "recalibrated": True,
            "genotypes": {}, "layers": {}}


def test_an_export_with_stdout_closed_is_refused_before_it_writes(monkeypatch, capsys, tmp_path):
    """M10: `nasiam export RUN --out X >&-` wrote X whole, then exited 5 "nothing was written to
    --out", and the rerun it advised was refused because X exists. Refused up front, as search is."""
    run = make_run(tmp_path / "run")
    monkeypatch.setattr(sys, "stdout", None)
    code = main(["export", str(run), "--out", str(tmp_path / "x")])
    monkeypatch.undo()
    assert code == 5 and not (tmp_path / "x").exists()
    assert capsys.readouterr().err == ("nasiam export: error: standard output is closed (`>&-`); no file was written. "
                                       "Give the command a standard output to write to (`> /dev/null` discards it)\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_report_lost_after_the_export_says_the_export_is_complete(monkeypatch, capsys, tmp_path):
    """M10: a report that cannot be printed once the export is in place (`> /dev/full`) said
    "nothing was written to --out (an export is written whole or not at all)"."""
    monkeypatch.setattr(export_module, "export_run", lambda run_dir, out, **options: _exported(out))
    full = open("/dev/full", "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", full)
    code = main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "x")])
    monkeypatch.setattr(sys, "stdout", sys.__stdout__)
    try:
        full.close()
    except OSError:
        pass
    err = capsys.readouterr().err
    assert code == 5 and f"the export to {tmp_path / 'x'} is complete" in err and "nothing was written" not in err, err


def test_sigterm_after_the_export_is_in_place_stops_nothing(monkeypatch, capsys, tmp_path):
    """M14: SIGTERM just after an export's folder was in place killed the process silently (143),
    where Ctrl-C says the export is complete and exits 0: SIGTERM now does as Ctrl-C."""
    monkeypatch.setattr(export_module, "export_run", lambda run_dir, out, **options: _exported(out))
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "x")]) == 0
    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler), handler   # not the default, which kills the finished export
    handler(signal.SIGTERM, None)   # as the signal would call it: no exception, a note
    assert "SIGTERM came after the export to" in capsys.readouterr().err
