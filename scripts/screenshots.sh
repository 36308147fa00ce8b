#!/usr/bin/env bash
# Takes the README's screenshots of the menu-bar app from the real app: the stand-in services
# installed by the real `gardener install` under a private systemd user manager, the app on
# Xvfb with a tray host (trayer) and a notification daemon (dunst). Writes
#   docs/screenshots/tray-menu.png     the tray menu, both services healthy
#   docs/screenshots/notification.png  the notification when Ollama stops
#
# Usage: scripts/screenshots.sh   (as root; needs the Debian packages xvfb, dbus, dunst,
#        trayer, xdotool and imagemagick)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=${PROFILE:-debug}
OUT=$ROOT/docs/screenshots

# shellcheck source=lib/machine.sh
. "$ROOT/scripts/lib/machine.sh"
if [[ "${GARDENER_BENCH_INSIDE:-}" != 1 ]]; then
  for tool in Xvfb dbus-daemon dunst trayer xdotool import convert; do
    command -v "$tool" >/dev/null || {
      echo "needs $tool (Debian packages xvfb dbus dunst trayer xdotool imagemagick)" >&2
      exit 2
    }
  done
  flag=(); [[ $PROFILE == release ]] && flag=(--release)
  (cd "$ROOT" && make -s ui && cargo build -q "${flag[@]}" -p gardener-app -p gardener-cli \
    -p gardener-e2e --bin gardener-app --bin gardener --bin stand-in-ollama)
fi
reexec_in_namespace "$0"

BIN=$ROOT/target/$PROFILE
start_machine "$ROOT" "$BIN" 1
start_desktop
# A plain light desktop, and the tray host as a bar along the top.
xsetroot -solid '#e8e8e8' 2>/dev/null || true
trayer --edge top --align left --widthtype pixel --width 240 --heighttype pixel --height 30 \
  --tint 0x2b2b2b --transparent true --alpha 0 >/dev/null 2>&1 &
dunst >/dev/null 2>&1 &
"$BIN/gardener-app" >"$HOME/app.log" 2>&1 &
APP=$!

# Until the menu shows both services healthy: the icon turns from grey to green.
sleep 6
mkdir -p "$OUT"
xdotool mousemove 14 15 click 1
sleep 1.5
import -window root "$HOME/root.png"
convert "$HOME/root.png" -crop 400x360+0+0 +repage "$OUT/tray-menu.png"
xdotool key Escape
sleep 0.5

systemctl --user stop gardener-ollama.service
sleep 3
import -window root "$HOME/root.png"
# dunst shows its notifications at the top right.
convert "$HOME/root.png" -gravity NorthEast -crop 336x64+22+16 +repage "$OUT/notification.png"
systemctl --user start gardener-ollama.service

kill "$APP"
echo "wrote $OUT/tray-menu.png and $OUT/notification.png"
