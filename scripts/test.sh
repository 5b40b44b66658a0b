#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: setup, formatting, lints, then every test in the workspace.
# One cargo invocation style (--workspace, default features) so nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The bridge and the desktop app take the core without its training stack (the `train` feature); a dependency
# that slips back in shows up here, not only in a slower build.
if cargo tree -p redflag-bridge -p redflag-desktop -e normal --locked --prefix none | grep -E '^(nalgebra|plotters|indicatif|csv) '; then
  echo "the bridge or the desktop app depends on the training stack again (see the train feature in Cargo.toml)" >&2
  exit 1
fi
# The desktop app's end-to-end test opens a real window: give it a virtual display the size of a laptop screen
# (xvfb-run's default 640x480 would cut the window off), unless one is already there.
if [ -z "${DISPLAY:-}" ]; then
  xvfb-run -a -s "-screen 0 1366x900x24" cargo test --workspace --locked
else
  cargo test --workspace --locked
fi
