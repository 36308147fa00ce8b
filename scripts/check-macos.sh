#!/usr/bin/env bash
# Type-checks and lints the whole workspace for macOS (aarch64-apple-darwin),
# `cfg(target_os = "macos")` code included, with warnings as errors.
#
# On a Mac this is plain `cargo clippy` for the host. On Linux it needs
# Debian's Rust with its standard library's source (packages rustc-web,
# cargo-web, rust-web-src, rust-web-clippy; scripts/install-deps.sh --test
# installs them), because rustup's toolchain has no Apple target here and
# cannot fetch one: std is built from source for the target (-Zbuild-std),
# nothing is linked, and crates with C sources get a stub compiler
# (scripts/apple-cc-stub says why).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)" = Darwin ]; then
  exec cargo clippy --workspace --all-targets -- -D warnings
fi

for f in /usr/bin/cargo /usr/bin/rustc /usr/bin/cargo-clippy /usr/lib/rustlib/src/rust/library/Cargo.lock; do
  [ -e "$f" ] || {
    echo "check-macos: $f is missing; install Debian's rustc-web cargo-web rust-web-src rust-web-clippy" >&2
    exit 1
  }
done
[ -d ui/dist ] || { echo "check-macos: ui/dist is missing (the app embeds it): run 'make ui' first" >&2; exit 1; }

here=$PWD
# Debian's cargo must find Debian's clippy-driver and rustc, not rustup's.
export PATH=/usr/bin:$PATH
export RUSTC=/usr/bin/rustc
# -Zbuild-std is unstable; Debian's compiler is a stable release.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${MACOS_TARGET_DIR:-$here/target/macos-check}
export CC_aarch64_apple_darwin=$here/scripts/apple-cc-stub
export CXX_aarch64_apple_darwin=$here/scripts/apple-cc-stub
export AR_aarch64_apple_darwin=$here/scripts/apple-ar-stub
# Build scripts ask for an SDK and a deployment target; neither is used.
export MACOSX_DEPLOYMENT_TARGET=11.0
exec /usr/bin/cargo clippy -Zbuild-std=std,panic_abort --target aarch64-apple-darwin \
  --workspace --all-targets -- -D warnings
