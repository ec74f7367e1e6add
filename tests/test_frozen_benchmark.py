"""benchmarks/frozen.sh stop: the driver first, then exactly one SIGTERM per run (a second
would stop it without its step's checkpoint), never their DataLoader workers, then the
finished runs archived. Fake processes stand in for the driver and the runs."""
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "frozen.sh"

# a "run": notes every SIGTERM it gets; after the first it finishes its "step" and exits
RUN = textwrap.dedent("""
    import os, signal, sys, time
    out = sys.argv[1]
    got = []
    signal.signal(signal.SIGTERM, lambda *a: got.append(1) or open(f"{out}/term-{os.getpid()}-{len(got)}", "w").close())
    worker = os.fork()                      # a DataLoader worker: same command line, a run as parent
    if worker == 0:
        signal.signal(signal.SIGTERM, lambda *a: open(f"{out}/worker-killed", "w").close() or os._exit(0))
        time.sleep(60); os._exit(0)
    while not got:
        time.sleep(0.05)
    time.sleep(1.5)                         # the step's checkpoint
    os.kill(worker, signal.SIGKILL)
    open(f"{out}/clean-{os.getpid()}", "w").close()
""")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_stop_signals_the_driver_then_each_run_once_and_archives(tmp_path):
    name = "fakebench"
    worktree, keep, notes = tmp_path / "wt", tmp_path / "keep", tmp_path / "notes"
    runs = worktree / "benchmarks" / "out" / name / "runs"
    (runs / "done-s1").mkdir(parents=True)
    (runs / "done-s1" / "summary.json").write_text("{}")
    (runs / "half-s2").mkdir()                # unfinished: not archived
    notes.mkdir()
    (tmp_path / "run.py").write_text(RUN)
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", f"benchmarks/{name}.py"],
                              cwd=worktree, start_new_session=True)
    children = [subprocess.Popen([sys.executable, str(tmp_path / "run.py"), str(notes), f"--out_dir={runs}"],
                                 start_new_session=True) for _ in range(2)]
    time.sleep(1.0)   # the runs have forked their workers
    env = {**os.environ, "FROZEN_DIR": str(worktree), "FROZEN_KEEP": str(keep), "PYTHON": sys.executable}
    try:
        result = subprocess.run(["bash", str(SCRIPT), "stop", name], env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        assert driver.wait(timeout=5) == -15                              # the driver went first
        for child in children:
            child.wait(timeout=5)
            assert (notes / f"clean-{child.pid}").exists()                # finished its step
            assert (notes / f"term-{child.pid}-1").exists() and not (notes / f"term-{child.pid}-2").exists()
        assert not (notes / "worker-killed").exists()                     # workers are the run's business
        assert (keep / "runs" / "done-s1" / "summary.json").is_file() and not (keep / "runs" / "half-s2").exists()
    finally:
        for p in (driver, *children):
            if p.poll() is None:
                p.kill()


def test_a_bad_name_or_missing_arguments_exit_2(tmp_path):
    for argv in (["stop", "../x"], ["start"], ["start", "fakebench"]):
        result = subprocess.run(["bash", str(SCRIPT), *argv], capture_output=True, text=True,
                                env={**os.environ, "FROZEN_ROOT": str(tmp_path)})
        assert result.returncode == 2, (argv, result.stderr)
