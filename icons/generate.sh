#!/usr/bin/env bash
# Regenerates every PNG/ICNS/ICO in icons/ from the SVG sources. The outputs
# are committed so that building the app needs neither rsvg-convert nor node.
# Needs: rsvg-convert (Debian: librsvg2-bin); for icon.icns/icon.ico also the
# Tauri CLI from ui/node_modules (`npm install` in ui/ first).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

command -v rsvg-convert >/dev/null || {
  echo "rsvg-convert not found (Debian/Ubuntu: apt-get install librsvg2-bin; macOS: brew install librsvg)" >&2
  exit 1
}

png() { # png SOURCE SIZE OUTPUT
  rsvg-convert --width "$2" --height "$2" --keep-aspect-ratio "$1" --output "$3"
}

# Bundle icons (the names tauri.conf.json lists).
png gardener.svg 32 32x32.png
png gardener.svg 128 128x128.png
png gardener.svg 256 128x128@2x.png
png gardener.svg 512 icon.png

# Tray: coloured on Linux; on macOS a template image (alpha only), at the
# menu bar's 22 pt and its Retina double.
# One icon per overall state: ok (the plain sprout), warning, critical, not set up,
# cannot tell.
png tray.svg 32 tray.png
png tray-template.svg 22 tray-template.png
png tray-template.svg 44 tray-template@2x.png
for state in warning critical not-set-up cannot-tell; do
  png "tray-$state.svg" 32 "tray-$state.png"
  png "tray-template-$state.svg" 22 "tray-template-$state.png"
  png "tray-template-$state.svg" 44 "tray-template-$state@2x.png"
done

# icon.icns (macOS) and icon.ico (Windows) via the Tauri CLI, which works
# offline. It also writes store/mobile icons we do not ship, hence the temp dir.
tauri="$here/../ui/node_modules/.bin/tauri"
if [[ -x "$tauri" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$tauri" icon gardener.svg --output "$tmp" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
  cp "$tmp/icon.icns" "$tmp/icon.ico" .
else
  echo "skipping icon.icns/icon.ico: run 'npm install' in ui/ first" >&2
fi

echo "icons regenerated in $here"
