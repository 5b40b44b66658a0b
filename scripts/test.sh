#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: setup, formatting, lints, then every test in the workspace.
# One cargo invocation style (--workspace, default features) so nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
