# ruff: noqa: E402, E702, E741  (a probe script: compact on purpose)
"""Q/P1: a SIGINT at the exact instants the entry point hands over to nasiam.cli.main: right after
_import_command restored the handler, inside parse_known_args, and while `--help` is being
printed. Emulated by the process signalling itself at that point (the real timing window is ms)."""
import signal
import subprocess

PY = "/work/main/.venv/bin/python"
PRE = """
import os, signal, sys
import nasiam.__main__ as m
import nasiam.cli as cli
def kill_self(): os.kill(os.getpid(), signal.SIGINT)
where = sys.argv[1]; sys.argv[1:] = sys.argv[2:]; sys.argv[0] = 'nasiam'
if where == 'after_import':
    orig = m._import_command
    def wrapped():
        r = orig(); kill_self(); return r
    m._import_command = wrapped
elif where == 'in_parse':
    import argparse
    orig = argparse.ArgumentParser.parse_known_args
    def wrapped(self, *a, **k):
        kill_self(); return orig(self, *a, **k)
    argparse.ArgumentParser.parse_known_args = wrapped
elif where == 'in_help':
    import argparse
    orig = argparse.ArgumentParser.print_help
    def wrapped(self, *a, **k):
        kill_self(); return orig(self, *a, **k)
    argparse.ArgumentParser.print_help = wrapped
elif where == 'after_command':
    orig = cli.run_handler
    def wrapped(args):
        r = orig(args); kill_self(); return r
    cli.run_handler = wrapped
sys.exit(m.main())
"""
def dfl():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
for where, args in [("after_import", ["--version"]), ("after_import", ["eval", "--help"]),
                    ("in_parse", ["--version"]), ("in_help", ["--help"]), ("in_help", ["eval", "knn", "--help"]),
                    ("after_command", ["export", "/nonexistent-run"])]:
    p = subprocess.run([PY, "-c", PRE, where, *args], capture_output=True, text=True, preexec_fn=dfl, timeout=120)
    err = [l for l in p.stderr.strip().splitlines() if l.strip()]
    print(f"{where:<14} {' '.join(args):<22} rc={p.returncode} tb={'Traceback' in p.stderr} stdout={len(p.stdout)}B :: {' | '.join(err[-2:])[:250]}", flush=True)
