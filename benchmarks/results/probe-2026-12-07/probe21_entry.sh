#!/bin/bash
# Probe 21 (#33): the entry point (nasiam.__main__:main) with closed standard streams, and signals during imports.
PY=/work/main/.venv/bin/python
export PYTHONPATH=/work/wt-h63
ENTRY="$PY -c 'import sys; from nasiam.__main__ import main; sys.exit(main())'"
t() { echo "--- $1"; shift; bash -c "$*"; echo "rc=$?"; }
t "--version, stdin closed" "$PY -m nasiam --version <&-"
t "--version, stdout closed (stderr shown)" "$PY -m nasiam --version >&-"
t "--version, stdout and stderr closed (rc only)" "$PY -m nasiam --version >&- 2>&-"
t "eval --help, stdout closed" "$PY -m nasiam eval --help >&- | head -3"
t "bad command, stdout closed" "$PY -m nasiam nosuch >&-"
t "console entry --version, stdin closed" "$ENTRY --version <&-"
t "export of a missing run, stdout closed" "$PY -m nasiam export /nonexistent --out /tmp/h63/x >&-"
t "--version to /dev/full" "$PY -m nasiam --version > /dev/full"
t "--help to /dev/full" "$PY -m nasiam --help > /dev/full"
for s in INT TERM HUP QUIT USR1; do
  for d in 0.5 2; do
    echo "--- SIG$s at ${d}s during 'eval knn --help' (console entry)"
    bash -c "$ENTRY eval knn --help > /dev/null & p=\$!; sleep $d; kill -$s \$p; wait \$p; echo rc=\$?" 2>&1 | tail -3
  done
done
echo "--- two SIGINT 0.05 s apart at 1 s"
bash -c "$ENTRY eval knn --help > /dev/null & p=\$!; sleep 1; kill -INT \$p; sleep 0.05; kill -INT \$p; wait \$p; echo rc=\$?" 2>&1 | tail -3
