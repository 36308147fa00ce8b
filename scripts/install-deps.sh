#!/usr/bin/env bash
# Installs what building, running and testing Gardener needs, only what is
# missing: Debian/Ubuntu packages with apt-get; on macOS it checks for Xcode's
# command-line tools and Node.js and says how to get them.
set -euo pipefail

# Tauri's WebKitGTK build deps, plistutil for validating rendered plists,
# Python for the plist and stand-in app tests, zstd for GNU tar to read
# backups back, xfsprogs for the test of backups from cloned files, and a
# headless desktop for the app's tests: an X server, a session bus and a
# notification daemon.
DEBIAN_PACKAGES=(
  build-essential pkg-config curl file
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev
  libplist-utils python3 util-linux systemd zstd tar xfsprogs
  xvfb dbus dunst
)
# Only for the tests (`--test`): WebKitGTK's WebDriver and tauri-driver to drive the real app's
# windows, Chromium for the UI's browser tests, Debian's Rust with its standard library's
# source and clippy for the macOS type-check (scripts/check-macos.sh), age to read copies
# back with stock tools, and OpenSSH's server and client for the SFTP target's tests.
TEST_DEBIAN_PACKAGES=(webkit2gtk-driver chromium rustc-web cargo-web rust-web-src rust-web-clippy
  age openssh-server openssh-client)
if [ "${1:-}" = --test ] && [ "$(uname -s)" = Linux ]; then
  DEBIAN_PACKAGES+=("${TEST_DEBIAN_PACKAGES[@]}")
fi

need() { echo "gardener: $*" >&2; exit 1; }

case "$(uname -s)" in
Darwin)
  xcode-select -p >/dev/null 2>&1 || need "install Xcode's command-line tools first: xcode-select --install"
  command -v npm >/dev/null || need "Node.js builds the UI: brew install node"
  ;;
Linux)
  if command -v dpkg-query >/dev/null; then
    missing=()
    for p in "${DEBIAN_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    command -v npm >/dev/null || missing+=(nodejs npm)
    if ((${#missing[@]})); then
      sudo=()
      [ "$(id -u)" -eq 0 ] || sudo=(sudo)
      echo "gardener: installing ${missing[*]}" >&2
      "${sudo[@]}" apt-get update -q
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
  else
    need "not a Debian/Ubuntu system: install the equivalents of ${DEBIAN_PACKAGES[*]} nodejs npm with your package manager"
  fi
  ;;
*)
  need "unsupported system $(uname -s): Gardener runs on macOS and Linux"
  ;;
esac

command -v cargo >/dev/null || need "Rust is needed: install it with rustup (https://rustup.rs)"
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || need "Node.js 20 or newer is needed to build the UI (found $(node --version 2>/dev/null || echo none))"

if [ "${1:-}" = --test ] && [ "$(uname -s)" = Linux ]; then
  cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
  if ! command -v tauri-driver >/dev/null && [ ! -x "$cargo_bin/tauri-driver" ]; then
    echo "gardener: installing tauri-driver (drives the app's windows in the tests)" >&2
    cargo install tauri-driver --locked --quiet
  fi
  # An S3-compatible server that checks signatures and keeps objects as files: the S3 target's
  # tests start it. 0.14.1 is the newest that builds with this toolchain.
  if ! command -v s3s-fs >/dev/null && [ ! -x "$cargo_bin/s3s-fs" ]; then
    echo "gardener: installing s3s-fs (the S3 target's tests talk to it)" >&2
    cargo install s3s-fs --version 0.14.1 --features binary --locked --quiet
  fi
fi
