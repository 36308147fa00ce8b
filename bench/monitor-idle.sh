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

if [[ "${GARDENER_BENCH_INSIDE:-}" != 1 ]]; then
  if [[ $(id -u) != 0 ]]; then
    echo "needs root: it starts a private systemd user manager in its own namespaces" >&2
    exit 2
  fi
  flag=(); [[ $PROFILE == release ]] && flag=(--release)
  (cd "$ROOT" && cargo build -q "${flag[@]}" -p gardener-cli -p gardener-e2e --bin gardener --bin stand-in-ollama)
  export GARDENER_BENCH_INSIDE=1
  exec unshare --mount --propagation private --pid --fork --mount-proc bash "$0" "$WINDOW"
fi

BIN=$ROOT/target/$PROFILE
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/system /run/user/0
chmod 700 /run/user/0
HOME=$(mktemp -d /tmp/gardener-bench-XXXXXX)
export HOME XDG_RUNTIME_DIR=/run/user/0 XDG_CONFIG_HOME=$HOME/.config \
  XDG_DATA_HOME=$HOME/.local/share XDG_STATE_HOME=$HOME/.local/state
unset DBUS_SESSION_BUS_ADDRESS
mkdir -p "$XDG_CONFIG_HOME/gardener" "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$HOME/bin"
SYSTEMD_LOG_TARGET=console /lib/systemd/systemd --user >"$HOME/systemd.log" 2>&1 &
for _ in $(seq 100); do
  state=$(systemctl --user is-system-running 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 0.1
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
OLLAMA_PORT=$(free_port)
APP_PORT=$(free_port)
{ echo "#!$(command -v python3)"; tail -n +2 "$ROOT/tests/stand-ins/codebase-gardener"; } >"$HOME/bin/codebase-gardener"
chmod 755 "$HOME/bin/codebase-gardener"
CONFIG=$XDG_CONFIG_HOME/gardener/gardener.toml
cat >"$CONFIG" <<TOML
[ollama]
binary = "$BIN/stand-in-ollama"
host = "127.0.0.1:$OLLAMA_PORT"

[app]
command = ["$HOME/bin/codebase-gardener", "serve", "--host", "127.0.0.1", "--port", "$APP_PORT"]
health_url = "http://127.0.0.1:$APP_PORT/"

[install]
min_free_disk = "1MiB"

[monitor]
interval_secs = 2
TOML
"$BIN/gardener" install --yes >"$HOME/install.log" 2>&1 || { cat "$HOME/install.log"; exit 1; }

"$BIN/gardener" monitor --no-notify >"$HOME/monitor.log" 2>&1 &
PID=$!
sleep 5 # first ticks, connection pool warm

CLK_TCK=$(getconf CLK_TCK)
# Fields 14-17 of /proc/PID/stat: utime, stime, cutime, cstime (clock ticks). The comm field
# may hold spaces, so count from the closing parenthesis.
ticks() { sed 's/.*) //' "/proc/$PID/stat" | awk '{ print $12 + $13 + $14 + $15 }'; }
start=$(ticks); t0=$(date +%s.%N)
sleep "$WINDOW"
end=$(ticks); t1=$(date +%s.%N)
kill -TERM "$PID"; wait "$PID" || true

awk -v a="$start" -v b="$end" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v budget="$BUDGET" 'BEGIN {
  cpu = (b - a) / hz; wall = t1 - t0; pct = cpu / wall * 100
  printf "gardener monitor, 2 s interval, %.0f s window: %.3f s CPU = %.3f%% of one core\n", wall, cpu, pct
  printf "budget %.1f%%: ratio %.2f (%s); resolution %.3f%% (one clock tick over the window)\n", budget, pct / budget, (pct <= budget ? "within" : "OVER"), 100 / hz / wall
}'
