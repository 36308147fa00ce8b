#!/usr/bin/env bash
# Idle cost of `gardener monitor`: installs the stand-in services under a private systemd user
# manager, runs the monitor at a 2 s interval, and reads the monitor's CPU time (its own threads
# and the processes it waited for, e.g. systemctl) from /proc/PID/stat over a window.
#
# Usage: bench/monitor-idle.sh [SECONDS]   (default 60; needs root for the namespaces)
# Prints the CPU used as a percentage of one core and the ratio to the 0.1 % budget.
set -euo pipefail

WINDOW=${1:-60}
BUDGET=0.1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=${PROFILE:-release}

# shellcheck source=../scripts/lib/machine.sh
. "$ROOT/scripts/lib/machine.sh"
if [[ "${GARDENER_BENCH_INSIDE:-}" != 1 ]]; then
  flag=(); [[ $PROFILE == release ]] && flag=(--release)
  (cd "$ROOT" && cargo build -q "${flag[@]}" -p gardener-cli -p gardener-e2e --bin gardener --bin stand-in-ollama)
fi
reexec_in_namespace "$0" "$WINDOW"

BIN=$ROOT/target/$PROFILE
start_machine "$ROOT" "$BIN" 2

"$BIN/gardener" monitor --no-notify >"$HOME/monitor.log" 2>&1 &
PID=$!
sleep 5 # first ticks, connection pool warm

CLK_TCK=$(getconf CLK_TCK)
thread_ns "$PID" >"$HOME/threads.before"
start=$(cpu_ticks "$PID"); t0=$(date +%s.%N)
sleep "$WINDOW"
end=$(cpu_ticks "$PID"); t1=$(date +%s.%N)
thread_ns "$PID" >"$HOME/threads.after"
kill -TERM "$PID"; wait "$PID" || true

awk -v a="$start" -v b="$end" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v budget="$BUDGET" 'BEGIN {
  cpu = (b - a) / hz; wall = t1 - t0; pct = cpu / wall * 100
  printf "gardener monitor, 2 s interval, %.0f s window: %.3f s CPU = %.3f%% of one core\n", wall, cpu, pct
  printf "budget %.1f%%: ratio %.2f (%s); resolution %.3f%% (one clock tick over the window)\n", budget, pct / budget, (pct <= budget ? "within" : "OVER"), 100 / hz / wall
}'
echo "  by thread (exact run time from schedstat):"
thread_split "$HOME/threads.before" "$HOME/threads.after" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
