#!/bin/bash
# probe 18 (h57): 97eb452's sweep-record fixes (N1, N2, N6), in process: probe17_sweeprec.py's cases
# rerun on today's code (records made by the code before 951b1b6), then probe18_sweepwin.py (records
# made between 951b1b6 and 97eb452). Usage: probe18_sweeprec.sh PROBE_DIR (copies: PROBE_DIR/pre951 =
# 951b1b6^, old = 97eb452^, new = HEAD)
P=$1; H=$(cd "$(dirname "$0")" && pwd); PY=/work/main/.venv/bin/python; ulimit -v 8000000; cd "$P" || exit 1
PYTHONPATH=$P/pre951 $PY $H/probe17_sweeprec.py old > rec_pre951.json
PYTHONPATH=$P/old $PY $H/probe17_sweeprec.py old > rec_window.json
echo "#### records of the code before 951b1b6, continued by today's (probe17_sweeprec cases)"
PYTHONPATH=$P/new $PY $H/probe17_sweeprec.py new rec_pre951.json
echo "#### records of the code between 951b1b6 and 97eb452, continued by today's"
PYTHONPATH=$P/new $PY $H/probe18_sweepwin.py rec_window.json
