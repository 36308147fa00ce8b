# Shared by the idle benchmarks and the screenshot script: a private systemd user manager with
# the stand-in services installed by the real `gardener install`, and CPU/RSS readings from
# /proc. Source it; it defines functions only.

# reexec_in_namespace SCRIPT ARGS...: as root, re-runs SCRIPT in private mount and PID
# namespaces (so it may mount over /run); returns in the re-run copy.
reexec_in_namespace() {
  if [[ "${GARDENER_BENCH_INSIDE:-}" == 1 ]]; then
    return 0
  fi
  if [[ $(id -u) != 0 ]]; then
    echo "needs root: it starts a private systemd user manager in its own namespaces" >&2
    exit 2
  fi
  export GARDENER_BENCH_INSIDE=1
  exec unshare --mount --propagation private --pid --fork --mount-proc bash "$@"
}

# start_machine ROOT BIN INTERVAL: a temporary HOME with systemd --user running and the
# stand-ins installed from BIN with `[monitor] interval_secs = INTERVAL`. Sets HOME, the XDG
# variables and CONFIG.
start_machine() {
  local root=$1 bin=$2 interval=$3
  mount -t tmpfs -o mode=0755 tmpfs /run
  mkdir -p /run/systemd/system /run/user/0
  chmod 700 /run/user/0
  HOME=$(mktemp -d /tmp/gardener-bench-XXXXXX)
  export HOME XDG_RUNTIME_DIR=/run/user/0 XDG_CONFIG_HOME=$HOME/.config \
    XDG_DATA_HOME=$HOME/.local/share XDG_STATE_HOME=$HOME/.local/state
  unset DBUS_SESSION_BUS_ADDRESS
  mkdir -p "$XDG_CONFIG_HOME/gardener" "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$HOME/bin"
  SYSTEMD_LOG_TARGET=console /lib/systemd/systemd --user >"$HOME/systemd.log" 2>&1 &
  local state
  for _ in $(seq 100); do
    state=$(systemctl --user is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && break
    sleep 0.1
  done

  local ollama_port app_port
  ollama_port=$(free_port)
  app_port=$(free_port)
  { echo "#!$(command -v python3)"; tail -n +2 "$root/tests/stand-ins/codebase-gardener"; } >"$HOME/bin/codebase-gardener"
  chmod 755 "$HOME/bin/codebase-gardener"
  CONFIG=$XDG_CONFIG_HOME/gardener/gardener.toml
  cat >"$CONFIG" <<TOML
[ollama]
binary = "$bin/stand-in-ollama"
host = "127.0.0.1:$ollama_port"

[app]
command = ["$HOME/bin/codebase-gardener", "serve", "--host", "127.0.0.1", "--port", "$app_port"]
health_url = "http://127.0.0.1:$app_port/"

[install]
min_free_disk = "1MiB"

[monitor]
interval_secs = $interval
TOML
  "$bin/gardener" install --yes >"$HOME/install.log" 2>&1 || { cat "$HOME/install.log"; exit 1; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# cpu_ticks PID: utime + stime + cutime + cstime of PID (fields 14-17 of /proc/PID/stat, in
# clock ticks: its own threads and the children it waited for, e.g. systemctl). The comm field
# may hold spaces, so count from the closing parenthesis.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'; }

# thread_ns PID: one line per live thread of PID, "TID NAME NS": the nanoseconds it has run
# (first field of /proc/PID/task/TID/schedstat, exact where the clock ticks above are 10 ms).
thread_ns() {
  local task
  for task in /proc/"$1"/task/*; do
    [[ -r $task/schedstat ]] || continue
    echo "${task##*/} $(tr ' ' '_' <"$task/comm" 2>/dev/null) $(cut -d' ' -f1 "$task/schedstat" 2>/dev/null)"
  done
}

# thread_split BEFORE AFTER SECONDS: from two thread_ns listings taken SECONDS apart, each
# thread's CPU over the window as % of one core, busiest first (threads born in the window count
# from zero; those that ended are missing, which the clock-tick total still includes).
thread_split() {
  awk -v wall="$3" 'FNR == NR { before[$1] = $3; next }
    { used = $3 - ($1 in before ? before[$1] : 0); pct[$2] += used / 1e9 / wall * 100 }
    END { for (n in pct) printf "%.4f %s\n", pct[n], n }' "$1" "$2" | sort -rn |
    awk '{ total += $1; printf "    %-18s %.3f%%\n", $2, $1 } END { printf "    %-18s %.3f%%\n", "(all live threads)", total }'
}

# rss_kib PID: resident memory of PID in KiB (VmRSS).
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start_desktop: an X server (Xvfb, on a free display) and a session bus for the menu-bar app,
# under $HOME; exports DISPLAY and DBUS_SESSION_BUS_ADDRESS.
start_desktop() {
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$HOME/display" 2>/dev/null &
  for _ in $(seq 50); do [[ -s $HOME/display ]] && break; sleep 0.1; done
  DISPLAY=":$(cat "$HOME/display")"
  dbus-daemon --session --nofork --print-address=3 --address="unix:path=$HOME/bus" 3>"$HOME/bus-address" 2>/dev/null &
  for _ in $(seq 50); do [[ -s $HOME/bus-address ]] && break; sleep 0.1; done
  DBUS_SESSION_BUS_ADDRESS=$(head -1 "$HOME/bus-address")
  export DISPLAY DBUS_SESSION_BUS_ADDRESS
}
