"""One run per run directory: a second run (or --resume) on a live one exits 2 naming the owner;
a killed owner's lock file blocks nothing; `nasiam export` waits for a running directory to end."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from _runs import TINY
from _sockets import bind_unix_socket

from nasiam.cli import main
from nasiam.errors import RunDirLockedError
from nasiam.runner.lock import LOCK_FILE, RunDirLock


def _hold_lock_in_child(run_dir):
    """A process that takes the run directory's lock and sleeps."""
    code = textwrap.dedent(f"""
        import sys, time
        from nasiam.runner.lock import RunDirLock
        RunDirLock({str(run_dir)!r}, "search").acquire()
        print("locked", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.slow
def test_a_live_owner_is_named_and_a_killed_one_blocks_nothing(tmp_path, capsys):
    run_dir = tmp_path / "run"
    child = _hold_lock_in_child(run_dir)
    try:
        with pytest.raises(RunDirLockedError, match=f"in use by pid {child.pid} on "):
            RunDirLock(run_dir).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert json.loads((run_dir / LOCK_FILE).read_text())["pid"] == child.pid  # left behind by the kill
    # the kernel released the flock with the process: the leftover file is taken over, and said so
    assert main(["search", *TINY, f"--out_dir={tmp_path}", "--run_name=run", "--resume"]) == 2
    captured = capsys.readouterr()
    assert f"pid {child.pid}" in captured.out and "ended without cleaning up" in captured.out
    assert "has no checkpoints/last.ckpt" in captured.err  # the resume itself then fails as it should
    assert not (run_dir / LOCK_FILE).exists()  # released at exit


@pytest.mark.slow
def test_second_run_resume_and_export_on_a_running_directory_exit_2(tmp_path, capsys):
    args = [*TINY, "--epochs=40", f"--out_dir={tmp_path}", "--run_name=live"]
    run_dir = tmp_path / "live"
    owner = subprocess.Popen([sys.executable, "-m", "nasiam", "search", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        checkpoint = run_dir / "checkpoints" / "epoch=1.ckpt"
        deadline = time.time() + 600
        while not checkpoint.exists() and owner.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert owner.poll() is None, "the owner ended before the test could use its directory"
        config = (run_dir / "config.yaml").read_bytes()
        for extra in ([], ["--resume"], ["--resume=" + str(run_dir)]):
            assert main(["search", *args, *extra]) == 2
            err = capsys.readouterr().err
            assert f"in use by pid {owner.pid}" in err and "one run writes to a run directory at a time" in err, err
        assert (run_dir / "config.yaml").read_bytes() == config  # the refused runs wrote nothing
        # export takes the lock too: a run still writing would give heads its records do not name
        assert main(["export", str(run_dir), "--out", str(tmp_path / "exported")]) == 2
        assert f"in use by pid {owner.pid}" in capsys.readouterr().err
        assert not (tmp_path / "exported").exists()
        assert owner.poll() is None
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    # a run refused after taking the lock (no such data) leaves neither lock nor empty directory
    assert main(["search", *TINY, "--dataset=cifar10", f"--data_root={tmp_path}", f"--out_dir={tmp_path}",
                 "--run_name=x"]) == 2
    assert not (tmp_path / "x").exists()
    with RunDirLock(tmp_path / "y") as lock:
        assert lock.stale_owner is None and json.loads((tmp_path / "y" / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / "y").exists()


def test_the_lock_never_follows_a_symlink_nor_touches_a_lock_file_it_does_not_own(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / LOCK_FILE).symlink_to(victim)
    with pytest.raises(RunDirLockedError, match="symbolic link"):
        RunDirLock(linked).acquire()
    assert victim.read_text() == "keep me" and (linked / LOCK_FILE).is_symlink()
    foreign = tmp_path / "otherapp"
    foreign.mkdir()
    (foreign / LOCK_FILE).write_text("another program's lock\n")
    with pytest.raises(RunDirLockedError, match="not a nasiam lock file"):
        RunDirLock(foreign).acquire()
    assert (foreign / LOCK_FILE).read_text() == "another program's lock\n"


def test_a_refused_lock_files_folder_is_named_escaped(tmp_path):
    """#33 probe 13, J8: "is a symbolic link" and "is not a nasiam lock file" printed the path raw,
    so a folder named with a terminal's escape sequence reached the terminal through a traceback."""
    for name, make in (("link\x1b[2J", lambda lock: lock.symlink_to(tmp_path)),
                       ("other\x1b[2J", lambda lock: lock.write_text("x"))):
        folder = tmp_path / name
        folder.mkdir()
        make(folder / LOCK_FILE)
        with pytest.raises(RunDirLockedError) as refused:
            RunDirLock(folder).acquire()
        assert "\x1b" not in str(refused.value) and "\\x1b[2J" in str(refused.value)


def test_a_lock_that_is_a_fifo_socket_or_folder_is_named_never_opened_and_exits_2(tmp_path, capsys):
    fifo_run = tmp_path / "runs" / "fifo"
    fifo_run.mkdir(parents=True)
    os.mkfifo(fifo_run / LOCK_FILE)
    assert main(["search", *TINY, f"--out_dir={tmp_path / 'runs'}", "--run_name=fifo"]) == 2
    err = capsys.readouterr().err
    assert "is a FIFO (named pipe), not a nasiam lock file" in err and "Move it out of" in err, err
    assert "Illegal seek" not in err and (fifo_run / LOCK_FILE).is_fifo()
    folder = tmp_path / "folder"
    (folder / LOCK_FILE).mkdir(parents=True)
    with pytest.raises(RunDirLockedError, match="is a folder, not a nasiam lock file"):
        RunDirLock(folder).acquire()
    sock_dir = tmp_path / "sock"
    sock_dir.mkdir()
    with bind_unix_socket(sock_dir / LOCK_FILE):
        with pytest.raises(RunDirLockedError, match="is a socket, not a nasiam lock file"):
            RunDirLock(sock_dir).acquire()
    assert (folder / LOCK_FILE).is_dir() and (sock_dir / LOCK_FILE).is_socket()


def test_resume_and_run_names_stay_inside_nasiam_run_directories(tmp_path, capsys):
    other = tmp_path / "otherapp"
    other.mkdir()
    (other / "data.bin").write_bytes(b"\x00\x01")
    (other / LOCK_FILE).write_text("")   # even an empty .lock of someone else's stays
    before = sorted(p.name for p in other.iterdir())
    assert main(["search", *TINY, f"--out_dir={tmp_path / 'runs'}", f"--resume={other / 'data.bin'}"]) == 2
    assert "not a nasiam run directory" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == before and (other / LOCK_FILE).exists()
    for name in ("../escaped", "a/b", "..", "x" * 300):
        assert main(["search", *TINY, f"--out_dir={tmp_path / 'runs'}", f"--run_name={name}"]) == 2
        assert "--run_name" in capsys.readouterr().err
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "runs").exists()


def test_the_lock_is_released_when_the_ranks_cannot_be_told(tmp_path):
    """Rank 0 holds the lock when it broadcasts the outcome; if that fails (another rank died,
    a timeout, Ctrl-C) the lock must not stay taken."""
    from types import SimpleNamespace

    from nasiam.config import SearchConfig
    from nasiam.runner.claim import claim_run_dir
    from nasiam.runner.lock import RunDirLock

    def broadcast(value):
        if value is None or isinstance(value, str) and value.startswith("search-"):
            raise RuntimeError("another rank is gone")
        return value

    fabric = SimpleNamespace(is_global_zero=True, broadcast=broadcast)
    cfg = SearchConfig(out_dir=str(tmp_path), run_name="r")
    with pytest.raises(RuntimeError, match="another rank is gone"):
        claim_run_dir(cfg, "search", "simsiam", fabric, print)
    RunDirLock(tmp_path / "r", "search").acquire().release()   # free again: no "already running" refusal


def test_a_hostile_owner_record_reaches_the_terminal_escaped():
    """Any process may write a .lock: its fields are printed escaped (no escape sequence or
    right-to-left override reaches the terminal), cut short, and an absurd time is '?'."""
    from nasiam.runner.lock import describe_owner

    text = describe_owner({"pid": "1\x1b[2J", "host": "evil\u202ehost" + "x" * 500, "since": 1e300,
                           "command": "search\r\nnasiam: all good"})
    assert text.isprintable(), text
    assert "\\x1b[2J" in text and "\\u202e" in text and "since ?" in text and len(text) < 300
    plain = describe_owner({"pid": 42, "host": "node-1", "since": 0, "command": "search"})
    assert plain.startswith("pid 42 on node-1 (since ") and plain.endswith("`nasiam search`)")


def test_resume_by_path_of_a_live_run_between_its_two_checkpoint_writes_names_the_owner(tmp_path, capsys):
    """A run writes epoch=N.ckpt before last.ckpt: a --resume=PATH caught between the two found
    no last.ckpt and said the run "ended before its first epoch finished" (with advice to start
    it again) while it was training; the lock is taken first, so its owner is named."""
    run_dir = tmp_path / "live"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("framework: simsiam\n")
    (run_dir / "checkpoints" / "epoch=1.ckpt").write_bytes(b"written, last.ckpt not yet")
    owner = _hold_lock_in_child(run_dir)
    try:
        assert main(["search", *TINY, f"--resume={run_dir}"]) == 2
        err = capsys.readouterr().err
        assert f"in use by pid {owner.pid}" in err, err
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
