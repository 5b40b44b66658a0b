#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: setup, formatting, lints, then every test in the workspace.
# One cargo invocation style (--workspace, default features) so nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The desktop app's end-to-end test opens a real window: give it a virtual display the size of a laptop screen
# (xvfb-run's default 640x480 would cut the window off), unless one is already there.
if [ -z "${DISPLAY:-}" ]; then
  xvfb-run -a -s "-screen 0 1366x900x24" cargo test --workspace --locked
else
  cargo test --workspace --locked
fi
