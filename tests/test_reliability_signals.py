"""SIGTERM and SIGINT mid-epoch: a checkpoint at the next step boundary, exit 143 / 130, and a
`--resume` that continues at that step and ends exactly as an uninterrupted run.

The signal goes to a real `nasiam` process started in its own session (so it is not ignored
as a background job's SIGINT would be), once the run has logged a step well inside epoch 2.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from _runs import TINY

from nasiam.cli import main
from nasiam.config import PretrainConfig
from nasiam.runner.checkpoint import load_checkpoint
from nasiam.runner.logger import read_metrics
from nasiam.runner.stop import StopSignals, requeue_slurm_job, slurm_job_id

SMALL = ["--log_every_n_steps=1", "--subset=256", "--knn_subset=64"]
SEARCH = TINY + SMALL
PRETRAIN = [a for a in TINY if not a.startswith(("--warmup_epochs", "--widths", "--arch_lr"))] + SMALL + (
    ["--linear_probe=false"] if "linear_probe" in PretrainConfig.__dataclass_fields__ else [])
STEPS_PER_EPOCH = {"search": 4, "pretrain": 8}  # 256 images (half of them for the logits), batches of 32


def _logged_step(metrics):
    try:   # (read while the run writes it: a half-written row reads as nothing yet)
        return max(row["step"] for row in read_metrics(metrics) if "train/loss" in row)
    except (OSError, ValueError, KeyError):
        return -1


def _signals_as_in_a_terminal():
    """For a child: SIGINT and SIGHUP as a terminal leaves them. The suite may run under `nohup`
    or as a background job, which ignore them, and `nasiam compare` keeps an ignored signal
    ignored (its caller asked for that), so a child inheriting them would not test the stop."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _interrupt(command, args, signum, at_step, env=None):
    # the child computes with as many threads as this process, whose uninterrupted run and
    # resume it is compared with bit for bit: another count rounds sums differently
    env = {**(os.environ if env is None else env), "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen([sys.executable, "-m", "nasiam", command, *args], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    metrics = next(a for a in args if a.startswith("--out_dir=")).split("=", 1)[1] + "/cut/logs/metrics.csv"
    deadline = time.time() + 600
    while _logged_step(__import__("pathlib").Path(metrics)) < at_step and proc.poll() is None \
            and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


def _check_interrupted_then_resume(tmp_path, command, options, signum, code, env=None, resume="--resume"):
    steps = STEPS_PER_EPOCH[command]
    assert main([command, *options, f"--out_dir={tmp_path}", "--run_name=whole"]) == 0
    cut = [*options, f"--out_dir={tmp_path}", "--run_name=cut"]
    returncode, err = _interrupt(command, cut, signum, at_step=steps + 1, env=env)  # the 2nd step of epoch 2
    assert returncode == code, err
    assert f"stopped by {signal.Signals(signum).name} after step" in err and "--resume" in err, err
    state = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.ckpt")
    done = state["mid_epoch"]["step"]
    assert state["epoch"] == 1 and 2 <= done < steps, "the signal was not handled mid-epoch"
    assert state["global_step"] == steps + done
    assert not (tmp_path / "cut" / ".lock").exists()  # released on the way out
    assert main([command, *cut, resume]) == 0
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    resumed = json.loads((tmp_path / "cut" / "summary.json").read_text())
    timing = ("epoch_seconds", "images_per_second")
    assert [{k: v for k, v in e.items() if k not in timing} for e in resumed["epochs"]] == \
        [{k: v for k, v in e.items() if k not in timing} for e in whole["epochs"]]
    return whole, resumed, err


@pytest.mark.slow
def test_sigterm_mid_epoch_search_exits_143_and_resumes_to_the_same_genotype(tmp_path):
    _check_interrupted_then_resume(tmp_path, "search", SEARCH, signal.SIGTERM, 143)
    assert (tmp_path / "cut" / "genotype.json").read_text() == (tmp_path / "whole" / "genotype.json").read_text()
    assert (tmp_path / "cut" / "alphas.csv").read_text() == (tmp_path / "whole" / "alphas.csv").read_text()


@pytest.mark.slow
def test_sigint_mid_epoch_pretrain_exits_130_and_resumes_to_the_same_result(tmp_path):
    whole, resumed, _ = _check_interrupted_then_resume(tmp_path, "pretrain", PRETRAIN, signal.SIGINT, 130)
    assert resumed["knn_top1"] == whole["knn_top1"]


@pytest.mark.slow
def test_slurm_sigusr1_checkpoints_requeues_the_job_and_resume_auto_continues(tmp_path):
    """SLURM's `--signal=USR1@N`: checkpoint at the step boundary, `scontrol requeue JOB`, exit
    138; the requeued job's same command with --resume=auto ends as an uninterrupted run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'scontrol.calls'}\n")
    (bin_dir / "scontrol").chmod(0o755)
    env = {**os.environ, "SLURM_JOB_ID": "31337", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    whole, resumed, err = _check_interrupted_then_resume(tmp_path, "pretrain", PRETRAIN, signal.SIGUSR1, 138,
                                                         env=env, resume="--resume=auto")
    assert (tmp_path / "scontrol.calls").read_text().split() == ["requeue", "31337"]
    assert "SLURM job 31337 requeued" in err
    assert resumed["knn_top1"] == whole["knn_top1"]


def test_slurm_array_tasks_are_requeued_by_their_own_id():
    assert slurm_job_id({"SLURM_JOB_ID": "7", "SLURM_ARRAY_JOB_ID": "5", "SLURM_ARRAY_TASK_ID": "2"}) == "5_2"
    assert slurm_job_id({"SLURM_JOB_ID": "7"}) == "7" and slurm_job_id({}) is None
    assert "not in a SLURM job" in requeue_slurm_job({})


def test_handlers_are_restored_and_a_second_signal_stops_at_once():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopSignals() as stop:
        assert signal.getsignal(signal.SIGTERM) != before[0]
        signal.raise_signal(signal.SIGTERM)
        assert stop.signum == signal.SIGTERM  # noted, not acted on: the step finishes first
        try:
            signal.raise_signal(signal.SIGINT)
            raise AssertionError("a second signal must not wait for the step")
        except KeyboardInterrupt:
            pass
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def _kill_leftovers(marker: str) -> None:
    """SIGKILL every process whose command line names `marker` (a failed test's orphans)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read():
                        os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


@pytest.mark.slow
@pytest.mark.parametrize("how, signum, code", [("kill", signal.SIGTERM, 143), ("ctrl-c", signal.SIGINT, 130),
                                               ("hangup", signal.SIGHUP, 129)])
def test_a_stopped_compare_stops_its_runs_with_a_checkpoint_before_it_exits(tmp_path, how, signum, code):
    """`kill` of a `nasiam compare` (a scheduler's cancel, a `timeout`), Ctrl-C in its terminal
    (SIGINT to its whole process group) or the terminal closing (SIGHUP): its run gets one
    SIGTERM, checkpoints at its step and exits before the driver does, so no orphan trains on
    holding the run's lock."""
    options = [a for a in PRETRAIN if not a.startswith("--epochs")] + ["--epochs=50", "--knn_every=0"]
    proc = subprocess.Popen([sys.executable, "-m", "nasiam", "compare", "--heads=default", "--seeds=1",
                             f"--out={tmp_path}", *options], start_new_session=True,
                            preexec_fn=_signals_as_in_a_terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = tmp_path / "runs" / "default-s0"
    try:
        deadline = time.time() + 600
        while _logged_step(run / "logs" / "metrics.csv") < 2 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        if how == "ctrl-c":
            os.killpg(proc.pid, signum)        # what a terminal does: the whole foreground group
        else:
            proc.send_signal(signum)           # to the driver alone
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == code, err
        assert f"stopped by {signal.Signals(signum).name}" in err and "default-s0" in err and "same command" in err, err
        assert not (run / ".lock").exists(), "the run still holds its lock: it outlived the driver"
        assert "stopped by SIGTERM after step" in (tmp_path / "logs" / "default-s0.log").read_text()
        assert load_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] >= 2
    finally:
        _kill_leftovers(str(tmp_path))


def test_sighup_is_a_stop_request_unless_ignored_as_under_nohup():
    """A closed terminal (SIGHUP) killed a lone search with no checkpoint and no message; now
    it stops at the step like SIGTERM. Under `nohup` (SIGHUP ignored) it stays ignored."""
    before = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with StopSignals() as stop:
            assert signal.getsignal(signal.SIGHUP) == stop._handle
            signal.raise_signal(signal.SIGHUP)
            assert stop.signum == signal.SIGHUP
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with StopSignals():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


@pytest.mark.slow
def test_sighup_mid_epoch_search_checkpoints_and_exits_129(tmp_path):
    cut = [*SEARCH, f"--out_dir={tmp_path}", "--run_name=cut"]
    proc = subprocess.Popen([sys.executable, "-m", "nasiam", "search", *cut], start_new_session=True,
                            preexec_fn=_signals_as_in_a_terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 600
    metrics = tmp_path / "cut" / "logs" / "metrics.csv"
    while _logged_step(metrics) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 129, err
    assert "stopped by SIGHUP after step" in err and "--resume" in err
    assert load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.ckpt")["global_step"] >= 1


@pytest.mark.parametrize("command", ["search", "pretrain"])
def test_ctrl_c_after_a_finished_run_stops_nothing(tmp_path, monkeypatch, capsys, command):
    """A Ctrl-C while a finished run's result was printed (or as the CLI returned, or at
    shutdown) said "interrupted; continue with --resume", exit 130, over a complete run
    (#33 round three, a sibling of export's). Once the run has returned its summary, SIGINT
    only says the run is complete: exit 0. The run itself is stubbed: only the CLI's part is
    under test."""
    import importlib

    cli = importlib.import_module(f"nasiam.cli.{command}")   # the command's module, which prints the result

    signal.signal(signal.SIGINT, signal.default_int_handler)   # as a terminal leaves it (conftest restores it)
    summary = {"run_dir": str(tmp_path / "run"), "train_seconds": 1.0, "genotypes": {}, "heads": {}}
    module = "nasiam.runner.search.run_search" if command == "search" else "nasiam.runner.pretrain.run_pretrain"
    monkeypatch.setattr(module, lambda cfg: summary)
    scores = cli._scores

    def ctrl_c_while_printing(result):
        signal.raise_signal(signal.SIGINT)
        return scores(result)

    monkeypatch.setattr(cli, "_scores", ctrl_c_while_printing)
    assert main([command, "--dataset=synthetic", f"--out_dir={tmp_path}"]) == 0
    err = capsys.readouterr().err
    assert f"nasiam {command}: Ctrl-C came after the run had finished; its outputs in {tmp_path / 'run'} are " \
           "complete, nothing to stop" in err
    assert "interrupted" not in err and "--resume" not in err


@pytest.mark.parametrize("out_dir,name", [("/tmp/my runs;echo injected", "run 1"), ("/tmp/it's", "a$(echo b)c"),
                                          ("/tmp/bad\x1b[2J\u202e", "r")])
def test_the_resume_advice_after_a_stop_is_a_command_to_paste(tmp_path, out_dir, name):
    """The advice printed after SIGTERM put --run_name and --out_dir in unquoted: a folder with a
    space or a ';' made a pasted command run something else. Each value is now quoted for the
    shell (escape sequences written escaped, as bash's $'...'); pasted, the command gets them back."""
    import shlex
    from pathlib import Path
    from types import SimpleNamespace

    from nasiam.runner.guard import StepGuard

    guard = StepGuard(SimpleNamespace(world_size=1, is_global_zero=True), 1, tmp_path / "last.ckpt", lambda: 1)
    guard.signals.signum = signal.SIGTERM
    message = str(guard.interrupted("after step 3", Path(out_dir) / name))
    assert "\x1b" not in message and "\u202e" not in message
    command = message.split("continue with ", 1)[1]
    if out_dir.isprintable():   # read as a POSIX shell reads it, without running anything
        assert shlex.split(command) == ["--resume", "--run_name", name, "--out_dir", out_dir]
    else:   # $'...' is bash's: bash reads it back (the values are quoted, so nothing else runs)
        echoed = subprocess.run(["bash", "-c", f"printf '%s\\n' {command}"], capture_output=True, text=True,
                                check=True)
        assert echoed.stdout.splitlines() == ["--resume", "--run_name", name, "--out_dir", out_dir]


@pytest.mark.parametrize("checkpoint", [False, True])
def test_a_diverged_run_suggests_resuming_only_where_a_checkpoint_is(tmp_path, checkpoint):
    """A loss that turned NaN before the first epoch ended said "there is no checkpoint", then
    "continue with --resume" (the sixth probe of #33, H2): --resume would be refused. Without a
    checkpoint the advice is a lower --lr and a fresh start; with one, a lower --lr and --resume."""
    from types import SimpleNamespace

    import torch

    from nasiam.errors import NonFiniteLossError
    from nasiam.runner.guard import StepGuard

    last = tmp_path / "last.ckpt"
    if checkpoint:
        last.write_bytes(b"a checkpoint")
    fabric = SimpleNamespace(world_size=1, is_global_zero=True, device=torch.device("cpu"))
    guard = StepGuard(fabric, 1, last, lambda: 2)
    with pytest.raises(NonFiniteLossError) as raised:
        guard.note_loss(torch.tensor(float("nan")), epoch=0, step=3)
    message = str(raised.value)
    assert "the loss became nan at epoch 1, step 3" in message and "Lower --lr" in message
    if checkpoint:
        assert f"the last good checkpoint is {last} (after epoch 2)" in message and "with --resume" in message
    else:
        assert "nothing to resume" in message and "--resume" not in message and "starts afresh" in message
