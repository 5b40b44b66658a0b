#!/usr/bin/env python3
"""How often each Redflag rule fires on each slice of the shared corpora, as a Markdown table.

Why: a rule is only worth its weight if it fires far more often on scams (EMSCAD fraud, job-scam messages,
CFPB job-scam narratives) than on legitimate text (EMSCAD legit, other job boards, SMS ham, real e-mail from
SpamAssassin and Enron, Nigerian bank and personal SMS), and the non-job spam (SMS, SpamAssassin, ExAIS) and
the Phishing Pot honeypot e-mail (measured only, never trained on) show which rules are about scams in general
rather than job scams. Run it after changing a rule;
use --examples to read the evidence behind a rule's false positives.

It regenerates the JSONL slices with shared_to_jsonl.py into the work directory, pipes each through
`<bin> check --jsonl <file> --offline` and reads the results as they stream out, one line per input line.
Rates are per successfully checked line; lines the CLI answered with an error are counted separately and the
first few are printed to stderr.
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import shared_to_jsonl

ROOT = Path(__file__).resolve().parent.parent
LABELS = ("scam", "uncertain", "legit")
ERRORS_SHOWN = 3


@dataclass(frozen=True)
class Slice:
    name: str
    header: str
    file: str
    label: str | None = None  # keep only input lines with this label


SLICES = (
    Slice("emscad_fraud", "EMSCAD fraud", "emscad_fraud.jsonl"),
    Slice("emscad_legit", "EMSCAD legit", "emscad_legit.jsonl"),
    Slice("legit_postings", "Other-board legit", "legit_postings.jsonl"),
    Slice("sms_ham", "SMS ham", "sms_ham.jsonl"),
    Slice("sms_spam_nonjob", "SMS spam (non-job)", "sms_spam_nonjob.jsonl"),
    Slice("job_scam_messages", "Job-scam messages", "job_scam_messages.jsonl"),
    Slice("cfpb_job_scam", "CFPB job-scam narratives", "cfpb_narratives.jsonl", label="scam"),
    Slice("spamassassin_ham", "SpamAssassin ham", "spamassassin.jsonl", label="legit"),
    Slice("spamassassin_spam", "SpamAssassin spam", "spamassassin.jsonl", label="scam"),
    Slice("enron", "Enron e-mail", "enron.jsonl"),
    Slice("exais_legit", "ExAIS SMS legit", "exais_sms.jsonl", label="legit"),
    Slice("exais_spam", "ExAIS SMS spam", "exais_sms.jsonl", label="scam"),
    Slice("phishing_pot", "Phishing Pot (eval only)", "phishing_pot.jsonl"),
)


@dataclass
class SliceStats:
    checked: int = 0
    any_flag: int = 0
    rules: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)
    errors: list = field(default_factory=list)  # (id, message)

    def add(self, result):
        if "error" in result:
            self.errors.append((result.get("id"), result["error"]))
            return
        self.checked += 1
        self.labels[result.get("label")] += 1
        rule_ids = {flag.get("id") for flag in result.get("flags") or ()}
        self.any_flag += bool(rule_ids)
        self.rules.update(rule_ids)


def check(binary, path, label, rules=None):
    """Run the CLI on one JSONL file; yield (input record, result) for input lines carrying `label` (or all).

    Results are paired with inputs by position, as the CLI answers each line in order; a missing or garbled
    result becomes an `error` result so that it is counted rather than silently dropped.
    """
    cmd = [str(binary), "check", "--jsonl", str(path), "--offline"]
    if rules is not None:
        cmd += ["--rules", str(rules)]
    # The HTML parser warns about every malformed e-mail it repairs; keep stderr for real errors unless asked.
    env = {**os.environ, "REDFLAG_LOG": os.environ.get("REDFLAG_LOG", "error")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env)
    finished = False
    try:
        with open(path, encoding="utf-8") as inputs:
            for n, (in_line, out_line) in enumerate(itertools.zip_longest(inputs, proc.stdout), 1):
                if in_line is None:
                    print(f"warning: {path.name}: more output lines than input lines", file=sys.stderr)
                    break
                record = json.loads(in_line)
                if label is not None and record["label"] != label:
                    continue
                yield record, parse_result(record, out_line, n)
        finished = True
    finally:
        if not finished:  # the caller stopped early: the CLI may be blocked writing to a full pipe
            proc.kill()
        proc.stdout.close()
        if proc.wait() != 0 and finished:
            print(f"note: {' '.join(cmd)} exited with status {proc.returncode}", file=sys.stderr)


def parse_result(record, out_line, line_no):
    """The CLI's answer to one input line, or an `error` result saying why there is none."""
    if out_line is None:
        return {"id": record["id"], "error": f"no output for input line {line_no}"}
    try:
        result = json.loads(out_line)
    except json.JSONDecodeError:
        return {"id": record["id"], "error": f"unparseable output line {line_no}: {out_line.strip()[:200]}"}
    if not isinstance(result, dict):
        return {"id": record["id"], "error": f"output line {line_no} is not an object: {out_line.strip()[:200]}"}
    if result.get("id") != record["id"]:
        return {"id": record["id"], "error": f"output line {line_no} has id {result.get('id')!r}"}
    return result


def cell(count, total):
    return f"{100 * count / total:.1f}% ({count})" if total else "n/a"


def markdown_table(stats):
    """One row per rule id seen anywhere, then summary rows; one column per slice."""
    columns = [(s, stats[s.name]) for s in SLICES]
    rule_ids = sorted(set().union(*(st.rules for _, st in columns)), key=str)
    labels = list(LABELS) + sorted({lab for _, st in columns for lab in st.labels} - set(LABELS), key=str)
    header = ["rule"] + [f"{s.header} (n={st.checked})" for s, st in columns]
    rows = [[f"`{rule}`"] + [cell(st.rules[rule], st.checked) for _, st in columns] for rule in rule_ids]
    rows.append(["**any flag**"] + [cell(st.any_flag, st.checked) for _, st in columns])
    rows += [[f"label={lab}"] + [cell(st.labels[lab], st.checked) for _, st in columns] for lab in labels]
    rows.append(["error lines"] + [str(len(st.errors)) for _, st in columns])
    lines = [header, ["---"] + ["---:"] * len(columns)] + rows
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def run_stats(binary, work, rules=None):
    stats = {}
    for s in SLICES:
        print(f"checking {s.name} ...", file=sys.stderr)
        st = stats[s.name] = SliceStats()
        for _, result in check(binary, work / s.file, s.label, rules):
            st.add(result)
        for rid, message in st.errors[:ERRORS_SHOWN]:
            print(f"  {s.name}: error on {rid}: {message}", file=sys.stderr)
    print(markdown_table(stats))


def snippet_text(item):
    text = item.get("snippet", json.dumps(item, ensure_ascii=False)) if isinstance(item, dict) else str(item)
    return " ".join(str(text).split())


def show_examples(binary, work, rule, slice_, limit, rules=None):
    """Print the evidence of `rule` on the first `limit` lines of the slice where it fires."""
    shown = 0
    for record, result in check(binary, work / slice_.file, slice_.label, rules):
        flags = [f for f in result.get("flags") or () if f.get("id") == rule]
        if not flags:
            continue
        print(f"- {record['id']}")
        for item in (e for f in flags for e in f.get("evidence") or ()):
            print(f"    {snippet_text(item)}")
        shown += 1
        if shown == limit:
            break
    print(f"{shown} line(s) of {slice_.name} where {rule} fired", file=sys.stderr)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the shared data directory (holds DATA.md)")
    parser.add_argument("--bin", type=Path, default=ROOT / "target" / "debug" / "redflag",
                        help="the redflag binary (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=ROOT / "target" / "rule-stats",
                        help="where the JSONL slices are written (default: %(default)s); keep it out of git")
    parser.add_argument("--rules", type=Path,
                        help="measure this rules file instead of the binary's built-in rules (e.g. an older copy "
                        "of models/rules.toml, for a before/after table)")
    parser.add_argument("--examples", metavar="RULE_ID",
                        help="instead of the table, print evidence snippets of this rule (needs --slice)")
    parser.add_argument("--slice", choices=[s.name for s in SLICES], help="the slice to take --examples from")
    parser.add_argument("-n", type=int, default=10,
                        help="with --examples: how many lines where the rule fired to show, each with all its "
                        "evidence (default: %(default)s)")
    args = parser.parse_args(argv)
    if (args.examples is None) != (args.slice is None):
        parser.error("--examples and --slice go together")
    if args.n < 1:
        parser.error("-n must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if not (args.bin.is_file() and os.access(args.bin, os.X_OK)):
        sys.exit(f"error: no executable binary at {args.bin} (run `cargo build`, or pass --bin)")
    if not (args.data / "DATA.md").is_file():
        sys.exit(f"error: {args.data} does not look like the shared data directory (no DATA.md)")
    shared_to_jsonl.write_all(args.data, args.work)
    if args.examples is None:
        run_stats(args.bin, args.work, args.rules)
    else:
        slice_ = next(s for s in SLICES if s.name == args.slice)
        show_examples(args.bin, args.work, args.examples, slice_, args.n, args.rules)


if __name__ == "__main__":
    main()
