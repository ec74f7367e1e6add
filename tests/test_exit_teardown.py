"""A Ctrl-C while a finished `python -m nasiam` tears down stops nothing (issue #33, third probe)."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# the command is replaced by one that finishes at once; an object collected while the
# interpreter destroys its modules (after Python's own signal handlers are gone, the window in
# which torch's teardown takes seconds) sends Ctrl-C, or it comes while exit handlers run
SCRIPT = textwrap.dedent("""
    import atexit, os, runpy, signal, sys, time
    import nasiam.cli
    nasiam.cli.main = lambda argv=None: 0
    class CtrlCAtTeardown:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
    if sys.argv[1] == "teardown":
        sys.modules["nasiam.cli"].late = CtrlCAtTeardown()
    else:
        def ctrl_c():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
        atexit.register(ctrl_c)
    runpy.run_module("nasiam", run_name="__main__", alter_sys=True)
""")


@pytest.mark.parametrize("when", ["teardown", "exit handlers"])
def test_ctrl_c_while_a_finished_command_shuts_down_keeps_its_exit_status(when):
    """Before the fix the process died of SIGINT (exit -2, the shell's 130) over its finished
    outputs with no message, in the seconds torch takes to tear down."""
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", SCRIPT, when], capture_output=True, text=True, env=env,
                            timeout=120, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
