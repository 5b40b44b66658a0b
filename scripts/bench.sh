#!/usr/bin/env bash
# Speed of the local tiers (issue #3), side by side with the alternative a user would pick: a scikit-learn
# TF-IDF + logistic regression pipeline trained on the same split and timed on the same kind of inputs.
# Needs ../shared/data (for the baseline's split), hyperfine (apt-get install hyperfine) and
# `pip install scikit-learn numpy`. Run on a quiet machine: every number here is wall-clock time.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --workspace
echo "## Core: latency, batch throughput, model load (divan)"
cargo bench --workspace --bench analyze

echo "## CLI cold start: one check, process start to exit"
hyperfine --warmup 3 --runs 30 \
  'target/release/redflag check examples/legit-posting.txt' \
  'target/release/redflag --no-model check examples/legit-posting.txt'

echo "## scikit-learn baseline on the same grouped split"
if [ ! -f target/redflag-train/heldout.jsonl ]; then
  # Exports target/redflag-train/{train,validation,heldout}.jsonl; writes the model to a scratch directory.
  target/release/redflag train --data ../shared/data --out target/redflag-train/model --work target/redflag-train
fi
python3 benches/sklearn_baseline.py --dir target/redflag-train --json target/redflag-train/baseline.json --crossval
