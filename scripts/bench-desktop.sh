#!/usr/bin/env bash
# Times the desktop app as a person meets it, on the release build: launch to an interactive window, and paste to
# verdict, by running the end-to-end test (src-tauri/tests/e2e.rs) against target/release/redflag-desktop RUNS
# times under Xvfb. For comparison it times the CLI on the same message with hyperfine (a whole process: start,
# load the model, analyse, print), which is what a person without the app would run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"

cargo build --release --workspace --locked
cargo test --workspace --locked --no-run --test e2e
export REDFLAG_DESKTOP_BIN="$PWD/target/release/redflag-desktop"
for i in $(seq "$runs"); do
  xvfb-run -a -s "-screen 0 1366x900x24" cargo test --workspace --locked --test e2e -- --nocapture --exact \
    a_job_seeker_checks_a_scam_and_a_real_posting 2>&1 |
    grep '^e2e:' | sed "s/^/run $i: /"
done

if command -v hyperfine >/dev/null 2>&1; then
  message=$(mktemp)
  printf '%s' 'Hello dear, I am Linda from Amazon HR. Part-time online job: like and rate products from home, earn $300-$800 per day, salary paid daily. To unlock your tasks you must recharge a deposit of 100 USDT first. Contact me on WhatsApp +1 415 555 0132.' > "$message"
  hyperfine --warmup 3 --runs 20 "target/release/redflag check --offline --no-history $message"
  rm -f "$message"
else
  echo "hyperfine is not installed (apt-get install hyperfine) so the CLI comparison is skipped"
fi
