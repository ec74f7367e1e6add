#!/usr/bin/env bash
# A long, declared benchmark that spans sessions, run from a frozen worktree: the code of the
# commit that declared it, whatever main becomes meanwhile. Its finished runs live in main's
# benchmarks/results/NAME/ (committed), so a fresh machine continues where the last one stopped.
#
#   bash benchmarks/frozen.sh start  NAME COMMIT [ARGS...]   # e.g. start confirmatory ccd263c
#   bash benchmarks/frozen.sh status NAME
#   bash benchmarks/frozen.sh stop   NAME                    # then commit benchmarks/results/NAME/
#
# NAME is a script benchmarks/NAME.py built on benchmarks/ceiling.py's run_archived (confirmatory,
# directpred_confirmatory, ...); its runs go to WORKTREE/benchmarks/out/NAME/. The worktree is
# $FROZEN_DIR, else $FROZEN_ROOT/frozen-NAME (default: beside this checkout); the archive
# $FROZEN_KEEP, else benchmarks/results/NAME; the Python $PYTHON, else this checkout's .venv.
#
# Why `stop` signals every process itself: a driver started in the background ignores SIGINT,
# and drivers older than main's compare signal handling die on SIGTERM without stopping their
# runs. So: SIGTERM to the driver, one SIGTERM to each of its runs (a run checkpoints at its
# step and exits; a second signal would stop it at once), wait for them, then archive the
# finished runs' small files into main.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
usage() { sed -n 6,8p "$0" | sed 's/^# *//' >&2; exit 2; }
[[ $# -ge 2 ]] || usage
ACTION=$1 NAME=$2
shift 2
[[ $NAME =~ ^[a-z0-9_]+$ ]] || { echo "frozen.sh: NAME must be a benchmarks/NAME.py script name, got '$NAME'" >&2; exit 2; }
WT=${FROZEN_DIR:-${FROZEN_ROOT:-$(dirname "$ROOT")}/frozen-$NAME}
KEEP=${FROZEN_KEEP:-$ROOT/benchmarks/results/$NAME}
OUT=$WT/benchmarks/out/$NAME
LOG=$WT/benchmarks/out/$NAME.log
PIDFILE=$WT/benchmarks/out/$NAME.driver.pid

# the driver: the pid `start` wrote, else a benchmarks/NAME.py process working in the worktree
# (one started by hand); a pid is only trusted while its command line is still the driver's
is_driver() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q -- "benchmarks/$NAME.py"; }
driver_pid() {
  local pid
  if [[ -f $PIDFILE ]] && is_driver "$(cat "$PIDFILE")"; then cat "$PIDFILE"; return; fi
  for pid in $(pgrep -f -- "benchmarks/$NAME.py" || true); do
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$WT" ]] && { echo "$pid"; return; }
  done
  return 1
}
# the runs themselves, not their DataLoader workers (same command line, a run as parent)
run_pids() {
  local all pid
  all=$(pgrep -f -- "--out_dir=$OUT/" || true)   # $OUT/runs, or $OUT/SUB/runs (framework_screen)
  for pid in $all; do
    grep -qx "$(ps -o ppid= -p "$pid" | tr -d ' ')" <<<"$all" || echo "$pid"
  done
}

case $ACTION in
  start)
    [[ $# -ge 1 ]] || usage
    COMMIT=$1
    shift
    [[ -x $PY ]] || { echo "frozen.sh: no $PY: set up this checkout's .venv first (README), or set PYTHON" >&2; exit 2; }
    if [[ ! -d $WT ]]; then
      git -C "$ROOT" worktree prune
      git -C "$ROOT" worktree add --detach "$WT" "$COMMIT" >/dev/null
    fi
    HEAD=$(git -C "$WT" rev-parse HEAD)
    [[ $HEAD == $(git -C "$ROOT" rev-parse "$COMMIT^{commit}") ]] || {
      echo "frozen.sh: $WT is at ${HEAD:0:7}, not $COMMIT: remove it (git worktree remove $WT) or pass its commit" >&2; exit 2; }
    if pid=$(driver_pid); then echo "frozen.sh: $NAME is already running (driver $pid); log: $LOG" >&2; exit 2; fi
    mkdir -p "$OUT" "$WT/benchmarks/results/$NAME"
    [[ -d $KEEP ]] && cp -a "$KEEP/." "$WT/benchmarks/results/$NAME/"   # the frozen script restores from here
    cd "$WT"
    PYTHONPATH=$WT setsid nohup "$PY" "benchmarks/$NAME.py" "$@" >>"$LOG" 2>&1 < /dev/null &
    echo $! >"$PIDFILE"
    echo "started $NAME at ${HEAD:0:7} (driver $!); log: $LOG"
    ;;
  status)
    if pid=$(driver_pid); then echo "$NAME: running (driver $pid)"; else echo "$NAME: not running"; fi
    echo "runs in progress: $(run_pids | wc -l); finished runs archived in main: $(find "$KEEP" -name summary.json 2>/dev/null | wc -l)"
    [[ -f $LOG ]] && tail -n 5 "$LOG"
    ;;
  stop)
    if pid=$(driver_pid); then   # a driver of main's compare stops its runs itself, then exits
      kill -TERM "$pid"
      for _ in $(seq 300); do is_driver "$pid" || break; sleep 1; done
    fi
    # one SIGTERM per run (a second one would stop it at once, without the step's checkpoint)
    signalled=" "
    for _ in $(seq 300); do
      pids=$(run_pids)
      [[ -z $pids ]] && break
      for pid in $pids; do
        [[ $signalled == *" $pid "* ]] || { kill -TERM "$pid" 2>/dev/null || true; signalled+="$pid "; }
      done
      sleep 1
    done
    [[ -z $(run_pids) ]] || { echo "frozen.sh: runs still alive after 300 s: $(run_pids | tr '\n' ' ')" >&2; exit 1; }
    # each compare folder under $OUT (itself, or one per framework) into the same place under $KEEP
    PYTHONPATH=$ROOT "$PY" -c "import sys; sys.path.insert(0, '$ROOT/benchmarks'); import ceiling; \
from pathlib import Path; out = Path('$OUT'); [ceiling.archive(r.parent, Path('$KEEP') / r.parent.relative_to(out)) \
for r in sorted(out.glob('**/runs')) if r.is_dir()]"
    echo "stopped $NAME; finished runs archived in $KEEP ($(find "$KEEP" -name summary.json 2>/dev/null | wc -l)): commit them"
    ;;
  *) usage ;;
esac
