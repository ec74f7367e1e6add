"""The help, the version and no command's usage reach standard output, or the CLI says they did
not: argparse prints them before any command runs and drops a failed write, so `nasiam --help >
/dev/full` exited 0 and `nasiam > /dev/full` 2, saying nothing (the ninth probe of #33, F3). A
failed write is exit 5 naming standard output, a reader that left 141 without a word, as for a
command's report (test_exit_codes)."""
import io
import os
import sys

import pytest

from nasiam.cli import EXIT_BROKEN_PIPE, EXIT_IO, EXIT_USAGE, main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="/dev/full and POSIX pipes")

# what each prints to stdout, and its exit code when the text arrives
TEXTS = {"--help": ["--help"], "search --help": ["search", "--help"], "--version": ["--version"], "no command": []}


def _exit_code(argv) -> int:
    """main's exit code: returned, or argparse's SystemExit (--help, --version), as the shell sees it."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def _stdout(fd: int, buffered: bool) -> io.TextIOWrapper:
    """A stdout on `fd` as Python makes one: block-buffered, or written through (PYTHONUNBUFFERED,
    `python -u`): the first fails only in its last flush, the second in argparse's own write."""
    raw = io.FileIO(fd, "w", closefd=True)
    return io.TextIOWrapper(io.BufferedWriter(raw) if buffered else raw, encoding="utf-8", write_through=not buffered)


def _close(stream: io.TextIOWrapper) -> None:
    try:
        stream.close()
    except OSError:   # what it still buffers cannot be written (the CLI pointed it at devnull where it saw that)
        pass


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("text", list(TEXTS))
def test_help_and_version_to_a_full_device_name_standard_output(monkeypatch, capsys, text, buffered):
    stream = _stdout(os.open("/dev/full", os.O_WRONLY), buffered)
    monkeypatch.setattr(sys, "stdout", stream)
    try:
        code = _exit_code(TEXTS[text])
    finally:
        monkeypatch.undo()
        _close(stream)
    assert code == (EXIT_USAGE if text == "no command" else EXIT_IO)   # a usage error stays one
    err = capsys.readouterr().err
    assert err.startswith("nasiam: error: standard output cannot be written (No space left on device); no file was "
                          "written. Send it where it can be written"), err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("text", list(TEXTS))
def test_help_and_version_into_a_pipe_its_reader_left_exit_quietly(monkeypatch, capsys, text, buffered):
    """`nasiam --help | head -c 1`, the help longer than the pipe holds: 141 as a command's report
    gives (EXIT_BROKEN_PIPE), or no command's usage error, 2; nothing said either way."""
    read_end, write_end = os.pipe()
    os.close(read_end)   # the reader has gone
    stream = _stdout(write_end, buffered)
    monkeypatch.setattr(sys, "stdout", stream)
    try:
        code = _exit_code(TEXTS[text])
    finally:
        monkeypatch.undo()
        _close(stream)
    assert code == (EXIT_USAGE if text == "no command" else EXIT_BROKEN_PIPE)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("text", list(TEXTS))
def test_help_and_version_with_stdout_closed_name_it_as_unwritable(monkeypatch, capsys, text):
    """`nasiam --help >&-`: Python sets sys.stdout to None; argparse then printed the help to
    stderr and the CLI exited 0, where `> /dev/full` exits 5 (#33 probe 13, J9). A closed stdout
    cannot be written: exit 5 (no command's usage error stays 2), said on stderr with the fix."""
    monkeypatch.setattr(sys, "stdout", None)
    code = _exit_code(TEXTS[text])
    assert sys.stdout is None   # given back as it was
    monkeypatch.undo()
    assert code == (EXIT_USAGE if text == "no command" else EXIT_IO)
    err = capsys.readouterr().err
    assert err == ("nasiam: error: standard output is closed (`>&-`); no file was written. Give the command a "
                   "standard output to write to (`> /dev/null` discards it)\n")


@pytest.mark.parametrize("command", ["search", "pretrain"])
def test_a_training_command_with_stdout_closed_is_refused_before_it_writes(monkeypatch, capsys, tmp_path, command):
    """#33 probe 15, L6: `nasiam search ... >&-` failed at its first report line and said
    "files already written (checkpoints, earlier outputs) are intact ... --resume continues",
    where nothing had been written. Refused before the run starts: exit 5, "no file was written"."""
    monkeypatch.setattr(sys, "stdout", None)
    code = main([command, "--dataset=synthetic", "--image_size=16", "--batch_size=16", "--epochs=1", "--subset=64",
                 "--knn_subset=64", "--num_workers=0", f"--out_dir={tmp_path / 'runs'}", "--run_name=r"])
    monkeypatch.undo()
    assert code == EXIT_IO
    err = capsys.readouterr().err
    assert err == (f"nasiam {command}: error: standard output is closed (`>&-`); no file was written. Give the "
                   "command a standard output to write to (`> /dev/null` discards it)\n")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_a_sweep_or_comparison_with_stdout_closed_is_refused_before_it_starts(monkeypatch, capsys, tmp_path, command):
    """#33 probe 16, M10: `nasiam sweep ... >&-` trained a whole trial, and compare wrote
    compare.json, before failing at their report."""
    from pathlib import Path

    monkeypatch.setattr(sys, "stdout", None)
    args = {"sweep": ["--config", str(Path(__file__).parent.parent / "recipes" / "sweeps" / "cpu_smoke.yaml"),
                      "--sweep_dir", str(tmp_path / "out"), "--trials", "1"],
            "compare": ["--heads", "default", "--seeds", "0", "--epochs", "1", "--out", str(tmp_path / "out")]}
    code = main([command, *args[command]])
    monkeypatch.undo()
    assert code == EXIT_IO
    assert "standard output is closed (`>&-`); no file was written" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_report_with_stdout_closed_from_the_shell_exits_5(tmp_path):
    """`nasiam compare --report_only >&-` dropped the report and exited 0 (#33 probe 13, J9): now
    exit 5, naming standard output, as `> /dev/full` gives."""
    import subprocess

    report = ("import sys; import nasiam.cli.compare as c; from nasiam.cli import main; "
              "c.cmd_compare = lambda args: print('the report') or 0; "
              "sys.exit(main(['compare', '--heads', 'default', '--report_only', '--out', sys.argv[1]]))")
    done = subprocess.run([sys.executable, "-c", report, str(tmp_path)], stderr=subprocess.PIPE, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                          preexec_fn=lambda: os.close(1))   # `>&-`
    assert done.returncode == EXIT_IO, done.stderr
    assert done.stderr.startswith("nasiam compare: error: standard output is closed (`>&-`)"), done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


@pytest.mark.parametrize("text", list(TEXTS))
def test_help_and_version_that_arrive_keep_their_exit_codes(capsys, text):
    code = _exit_code(TEXTS[text])
    assert code == (EXIT_USAGE if text == "no command" else 0)
    captured = capsys.readouterr()
    assert captured.out.startswith("nasiam 0" if text == "--version" else "usage: nasiam") and captured.err == ""
    assert type(sys.stdout).__name__ != "_MarkedStream"   # stdout given back as it was


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_the_version_to_a_full_device_from_the_shell(tmp_path):
    """`nasiam --version > /dev/full` as a shell runs it (block-buffered): the interpreter's last
    flush failed ("Exception ignored ... OSError", exit 120); now the CLI's own flush fails first."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "nasiam", "--version"], stdout=full, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == EXIT_IO, done.stderr
    assert done.stderr.startswith("nasiam: error: standard output cannot be written (No space left on device)")
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("text", ["--help", "--version"])
def test_help_to_a_full_device_with_stderr_closed_exits_5(monkeypatch, text):
    """`nasiam --help > /dev/full 2>&-`: the message that says so could not be printed to stderr
    (None); print() then wrote it to stdout, failed there, and the CLI exited 1 (#33 probe 11, H6)."""
    stream = _stdout(os.open("/dev/full", os.O_WRONLY), buffered=False)   # the message's own write fails
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(sys, "stderr", None)
    try:
        code = _exit_code(TEXTS[text])
    finally:
        monkeypatch.undo()
        _close(stream)
    assert code == EXIT_IO


def test_an_error_with_stderr_closed_never_reaches_stdout(monkeypatch, capsys):
    """`nasiam search --bogus 2>&- | cat`: the error line arrived on stdout (H6); it is dropped,
    and the exit code still says it."""
    monkeypatch.setattr(sys, "stderr", None)
    code = _exit_code(["search", "--bogus"])
    assert sys.stderr is None   # given back as it was
    monkeypatch.undo()
    assert code == EXIT_USAGE
    assert capsys.readouterr().out == ""
