#!/usr/bin/env python3
"""Would the full MiniLM encoder rank EMSCAD's frauds better than the shipped static table? The study behind not
building the issue's optional "full encoder" tier.

Grouped cross-validation over EMSCAD postings only, on Redflag's folds (FNV-1a of the exported `group`, as in
scripts/emscad_fields_study.py): each of folds 1-4 is scored by a logistic regression (balanced classes, standardised
inputs) fitted on the other three; the test fold 0 is not used. Representations, all from the same word pieces:
  static128   the shipped recipe: IDF-weighted mean of the static table's rows over the first 128 word pieces
  staticAll   the same over the whole text
  minilm128   the encoder's mean-pooled output over the first window ([CLS] + 126 pieces + [SEP])
  minilmAll   the mean of that over the text's consecutive windows (examples/encoder_study.rs)
  ...+fields  with the short-field indicators of src/model/fields.rs, scaled by 0.9
Prints average precision out of fold on folds 1-4 for a few regularisation strengths.

Run after `redflag train` has exported its splits and distilled its table (target/redflag-train):

    python3 scripts/encoder_study.py [--data ../shared/data] [--dir target/redflag-train]

It runs `cargo run --release --example encoder_study` (about 5 minutes on 2 cores for EMSCAD's 1,401 postings).
Needs `pip install scikit-learn numpy scipy tokenizers`. Measured 2026-12-04, C=0.1: static128 0.788, staticAll
0.722, minilm128 0.795, minilmAll 0.673; static128+fields 0.824, minilm128+fields 0.813. The full encoder adds
under 0.01 alone and nothing beside the fields, at ~30x the inference cost; whole texts are worse for both.
"""

import argparse
import csv
import json
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.preprocessing import StandardScaler
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
sys.path.insert(0, str(ROOT / "scripts"))
from emscad_fields_study import field_tokens  # noqa: E402
from sklearn_baseline import fold_of, load, record_text  # noqa: E402

FIELDS_WEIGHT = 0.9


def static_table(path):
    """The distilled table from its safetensors file (one tensor), as float32."""
    raw = path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = {k: v for k, v in json.loads(raw[8:8 + size]).items() if k != "__metadata__"}
    (meta,) = header.values()
    dtype = {"F32": np.float32, "F16": np.float16}[meta["dtype"]]
    start, end = meta["data_offsets"]
    return np.frombuffer(raw[8 + size + start:8 + size + end], dtype=dtype).reshape(meta["shape"]).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dir", type=Path, default=Path("target/redflag-train"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    records = [r for name in ("train", "validation", "heldout") for r in load(args.dir / f"{name}.jsonl")
               if r["source"] == "emscad"]
    texts = [record_text(r) for r in records]
    study = args.dir / "encoder-study"
    study.mkdir(exist_ok=True)
    with open(study / "emscad.jsonl", "w", encoding="utf-8") as f:
        for r, text in zip(records, texts):
            f.write(json.dumps({"id": r["id"], "text": text}) + "\n")
    vectors_path = study / "vectors.jsonl"
    subprocess.run(["cargo", "run", "--release", "--example", "encoder_study", "--",
                    str(args.data.parent / "models/all-MiniLM-L6-v2"), str(ROOT / "models/tokenizer.json"),
                    str(study / "emscad.jsonl"), str(vectors_path)], check=True, cwd=ROOT)
    vectors = {v["id"]: v for v in map(json.loads, open(vectors_path, encoding="utf-8"))}

    y = np.array([r["label"] == "scam" for r in records])
    fold = np.array([fold_of(r["group"]) for r in records])
    rows = {r["job_id"]: r for r in csv.DictReader(open(args.data / "emscad/postings.csv", encoding="utf-8"))}
    fields = [field_tokens(rows[r["id"].split(":", 1)[1]]) for r in records]

    table = static_table(args.dir / "static-table-256.safetensors")
    tokenizer = Tokenizer.from_file(str(ROOT / "models/tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    ids = [np.array(tokenizer.encode(t).ids) for t in texts]
    df = np.zeros(table.shape[0])
    for i in np.where(fold != 0)[0]:
        df[np.unique(ids[i])] += 1
    idf = np.log(((fold != 0).sum() + 1) / (df + 1)) + 1

    def static(t):
        w = idf[t]
        return (table[t] * w[:, None]).sum(0) / w.sum()

    reps = {
        "static128": np.array([static(t[:128]) for t in ids]),
        "staticAll": np.array([static(t) for t in ids]),
        "minilm128": np.array([vectors[r["id"]]["first"] for r in records]),
        "minilmAll": np.array([vectors[r["id"]]["all"] for r in records]),
    }

    def design(x, with_fields, train, test):
        scaler = StandardScaler().fit(x[train])
        if not with_fields:
            return scaler.transform(x[train]), scaler.transform(x[test])
        vocab = CountVectorizer(token_pattern=r"\S+", binary=True, lowercase=False)
        vocab.fit([fields[i] for i in np.where(train)[0]])

        def block(m):
            dense = csr_matrix(scaler.transform(x[m]))
            return hstack([dense, vocab.transform([fields[i] for i in np.where(m)[0]]) * FIELDS_WEIGHT]).tocsr()
        return block(train), block(test)

    def out_of_fold(x, with_fields, c):
        score = np.zeros(len(y))
        for k in (1, 2, 3, 4):
            train, test = (fold != 0) & (fold != k), fold == k
            xtr, xte = design(x, with_fields, train, test)
            model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(xtr, y[train])
            score[test] = model.decision_function(xte)
        return average_precision_score(y[fold != 0], score[fold != 0])

    print(f"EMSCAD postings: {len(records)} ({int(y.sum())} fraudulent); average precision out of fold, folds 1-4")
    print("| C | " + " | ".join(list(reps) + ["static128+fields", "minilm128+fields"]) + " |")
    for c in (0.01, 0.1, 1.0):
        cells = [out_of_fold(x, False, c) for x in reps.values()]
        cells += [out_of_fold(reps[name], True, c) for name in ("static128", "minilm128")]
        print(f"| {c} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")


if __name__ == "__main__":
    main()
