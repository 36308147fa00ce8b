#!/usr/bin/env bash
# Idle cost of the menu-bar app against an empty Tauri 2 tray app (bench/empty-tray), both
# release builds of this workspace, on the same headless desktop (Xvfb and a session bus) with
# the stand-in services installed under a private systemd user manager and the monitor ticking
# every INTERVAL seconds (default 5, the app's default; INTERVAL=2 for a busier monitor). Three
# runs:
#   empty-tray                   the baseline
#   gardener-app, never opened   tray and monitor only
#   gardener-app, opened+closed  started with the dashboard open, which is then closed the
#                                way a window manager closes it (WM_DELETE_WINDOW)
# Each settles for 10 s, then for SECONDS its RSS is read every 2 s (mean and max) and its CPU
# time (own threads and waited-for children, e.g. systemctl) over the whole window.
#
# Usage: bench/app-idle.sh [SECONDS]   (default 60; needs root, Xvfb, dbus-daemon, and
#        Debian's python3-xlib for closing the window)
#        BUILD=0 uses the binaries already in target/ instead of building them.
# Prints each figure, the RSS ratio to the baseline (target <= 1.15), CPU as % of one core
# (target <= 0.1 %) and how many webview processes were alive (target 0).
set -euo pipefail

WINDOW=${1:-60}
INTERVAL=${INTERVAL:-5}
SETTLE=10
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=${PROFILE:-release}

# shellcheck source=../scripts/lib/machine.sh
. "$ROOT/scripts/lib/machine.sh"
if [[ "${GARDENER_BENCH_INSIDE:-}" != 1 ]]; then
  for tool in /usr/bin/Xvfb /usr/bin/dbus-daemon; do
    [[ -x $tool ]] || { echo "needs $tool (Debian packages xvfb, dbus)" >&2; exit 2; }
  done
  /usr/bin/python3 -c 'import Xlib' 2>/dev/null || { echo "needs Debian's python3-xlib" >&2; exit 2; }
fi
if [[ "${GARDENER_BENCH_INSIDE:-}" != 1 && "${BUILD:-1}" != 0 ]]; then
  flag=(); [[ $PROFILE == release ]] && flag=(--release)
  (cd "$ROOT/ui" && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run -s build)
  (cd "$ROOT" && cargo build -q "${flag[@]}" -p gardener-app -p empty-tray -p gardener-cli \
    -p gardener-e2e --bin gardener-app --bin empty-tray --bin gardener --bin stand-in-ollama)
fi
reexec_in_namespace "$0" "$WINDOW"

BIN=$ROOT/target/$PROFILE
start_machine "$ROOT" "$BIN" "$INTERVAL"
echo "monitor interval ${INTERVAL} s; ${WINDOW} s windows, RSS read every 2 s"

start_desktop

CLK_TCK=$(getconf CLK_TCK)

# descendants PID: every process below PID.
descendants() {
  local child
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# webviews PID: WebKit processes below PID (a webview's web and network processes).
webviews() {
  local n=0 p
  for p in $(descendants "$1"); do
    grep -q WebKit "/proc/$p/comm" 2>/dev/null && n=$((n + 1))
  done
  echo "$n"
}

# close_window TITLE: asks the window titled TITLE to close, as a window manager would.
close_window() {
  /usr/bin/python3 - "$1" <<'PY'
import sys
from Xlib import X, display, protocol
d = display.Display()
atoms = {n: d.intern_atom(n) for n in ("WM_PROTOCOLS", "WM_DELETE_WINDOW", "_NET_WM_NAME", "UTF8_STRING")}
def walk(w):
    yield w
    for c in w.query_tree().children:
        yield from walk(c)
for w in walk(d.screen().root):
    name = w.get_full_property(atoms["_NET_WM_NAME"], atoms["UTF8_STRING"])
    if name and name.value.decode() == sys.argv[1]:
        data = (32, [atoms["WM_DELETE_WINDOW"], X.CurrentTime, 0, 0, 0])
        w.send_event(protocol.event.ClientMessage(window=w, client_type=atoms["WM_PROTOCOLS"], data=data))
        d.flush()
        sys.exit(0)
sys.exit(f"no window titled {sys.argv[1]!r}")
PY
}

# measure NAME PID: samples PID over the window; prints one line and sets RSS_MEAN. (RSS and
# CPU are the process's own; webview processes counted are any below it.)
measure() {
  local name=$1 pid=$2 start end t0 t1 sum=0 max=0 n=0 rss views=0 v
  thread_ns "$pid" >"$HOME/threads.before"
  start=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  local deadline=$((SECONDS + WINDOW))
  while ((SECONDS < deadline)); do
    rss=$(rss_kib "$pid")
    sum=$((sum + rss)); n=$((n + 1)); ((rss > max)) && max=$rss
    v=$(webviews "$pid"); ((v > views)) && views=$v
    sleep 2
  done
  end=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  thread_ns "$pid" >"$HOME/threads.after"
  RSS_MEAN=$((sum / n))
  awk -v name="$name" -v mean="$RSS_MEAN" -v max="$max" -v a="$start" -v b="$end" -v t0="$t0" \
    -v t1="$t1" -v hz="$CLK_TCK" -v views="$views" 'BEGIN {
    pct = (b - a) / hz / (t1 - t0) * 100
    printf "%-30s RSS mean %6.1f MiB, max %6.1f MiB; CPU %.3f%% of one core; webview processes %d\n",
      name, mean / 1024, max / 1024, pct, views
  }'
  thread_split "$HOME/threads.before" "$HOME/threads.after" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
}

"$BIN/empty-tray" >"$HOME/empty.log" 2>&1 &
PID=$!
sleep "$SETTLE"
measure "empty-tray (baseline)" "$PID"
BASE=$RSS_MEAN
kill "$PID"; wait "$PID" 2>/dev/null || true

ratio() { awk -v a="$1" -v b="$BASE" 'BEGIN { r = a / b; printf "  RSS ratio to the baseline %.3f (target <= 1.15: %s)\n", r, (r <= 1.15 ? "within" : "OVER") }'; }

"$BIN/gardener-app" >"$HOME/app.log" 2>&1 &
PID=$!
sleep "$SETTLE"
measure "gardener-app, never opened" "$PID"
ratio "$RSS_MEAN"
kill "$PID"; wait "$PID" 2>/dev/null || true

"$BIN/gardener-app" --open dashboard >"$HOME/app-opened.log" 2>&1 &
PID=$!
sleep "$SETTLE"
opened=$(webviews "$PID")
close_window "Gardener"
sleep "$SETTLE"
measure "gardener-app, opened+closed" "$PID"
ratio "$RSS_MEAN"
echo "  webview processes while the window was open: $opened"
for p in $(descendants "$PID"); do
  echo "  still running after the window closed: $(cat "/proc/$p/comm" 2>/dev/null) (pid $p)"
done
kill "$PID"; wait "$PID" 2>/dev/null || true
