#!/usr/bin/env python3
"""Turn the shared, read-only CSV corpora into labelled JSONL slices for `redflag check --jsonl`.

Why: the corpora (see DATA.md beside them) come in ten CSV layouts. Measuring Redflag's rules on them
(scripts/rule_stats.py) needs one input format, which is the CLI's batch format plus two bookkeeping fields
the CLI ignores: every line is `{"id", "label": "scam"|"legit", "source", ...}` followed by either `text` or
the EMSCAD posting fields. Output goes outside the repository: the data must never be committed.

Slices written (one file each, rows in source-file order, so output is deterministic):
  emscad_fraud.jsonl, emscad_legit.jsonl  EMSCAD postings.csv as structured postings
  legit_postings.jsonl                    other job boards; the company name is prefixed to the description
  sms_ham.jsonl                           UCI + Mishra-Soni ham, de-duplicated
  sms_spam_nonjob.jsonl                   UCI spam, Mishra-Soni spam/smishing, SmishTank (not job scams), de-duplicated
  job_scam_messages.jsonl                 SpamHunter rows labelled job_scam
  job_scam_ambiguous.jsonl                SpamHunter rows labelled job_recruitment_spam_ambiguous
  cfpb_narratives.jsonl                   CFPB complaints: scam if job_scam(_probable), legit otherwise
  spamassassin.jsonl                      SpamAssassin e-mail: legit (easy/hard ham) and scam (spam), `category` = folder
  enron.jsonl                             Enron (Berkeley subset) e-mail, all legit; `category` = top Berkeley category
  exais_sms.jsonl                         ExAIS_SMS (Nigerian bank, telco and personal SMS): legit and scam (spam)
  phishing_pot.jsonl                      Phishing Pot honeypot e-mail, all scam; for measuring only, never training

The e-mail texts already start with their "Subject:" line, so they are passed on as they are.
"""

import argparse
import csv
import json
import re
import sys
from pathlib import Path

EMSCAD_TEXT_FIELDS = (
    "title", "location", "department", "salary_range", "company_profile", "description", "requirements",
    "benefits", "employment_type", "required_experience", "required_education", "industry", "function",
)
EMSCAD_BOOL_FIELDS = ("telecommuting", "has_company_logo", "has_questions")

# The indeed_us_2023_multiindustry scrape sliced off the start of "<salary> - <job type>", leaving tails such as
# "r - Full-time" (from "… a year - Full-time"), "rt-time", "ct" or a bare salary period ("n hour", "month").
# Repair the unambiguous tails, keep recognised job types and drop the salary leftovers.
INDEED_2023_REPAIRS = {"rt-time": "Part-time", "ct": "Contract", "ry": "Temporary", "nent": "Permanent"}
INDEED_2023_JOB_TYPES = {
    "Full-time", "Part-time", "Contract", "Temporary", "Permanent", "Internship", "Per diem", "Apprenticeship",
    "Temp-to-hire",
}

SPAMHUNTER_URL_SCHEME = re.compile(r"\b(https?) //", re.IGNORECASE)
NOT_ALNUM = re.compile(r"[\W_]+")


def read_csv(path):
    """Yield the rows of a UTF-8 CSV file with a header row as dicts."""
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def dedup_key(text):
    """Key under which two short messages count as the same message.

    Case, whitespace and punctuation are ignored: the UCI and Mishra-Soni copies of one SMS differ in stray
    quotes, trailing dots and U+FFFD replacement characters. Texts without letters or digits (":)") fall back
    to their case- and whitespace-folded form.
    """
    return NOT_ALNUM.sub("", text.casefold()) or " ".join(text.casefold().split())


def emscad(data):
    """EMSCAD postings as structured postings, split into (fraudulent, legitimate) lists of records."""
    fraud, legit = [], []
    for row in read_csv(data / "emscad" / "postings.csv"):
        is_fraud = row["fraudulent"] == "1"
        record = {"id": f"emscad:{row['job_id']}", "label": "scam" if is_fraud else "legit", "source": "emscad"}
        record.update({k: row[k] for k in EMSCAD_TEXT_FIELDS if row[k].strip()})
        record.update({k: row[k] == "1" for k in EMSCAD_BOOL_FIELDS if row[k].strip()})
        (fraud if is_fraud else legit).append(record)
    return fraud, legit


def clean_indeed_2023_employment_type(value):
    """Undo the indeed_us_2023_multiindustry slicing damage (see INDEED_2023_REPAIRS); '' when nothing is left."""
    kept = []
    for part in value.split(", "):
        job_type = part.rsplit(" - ", 1)[-1].strip()
        job_type = INDEED_2023_REPAIRS.get(job_type, job_type)
        if job_type in INDEED_2023_JOB_TYPES:
            kept.append(job_type)
    return ", ".join(kept)


def legit_postings(data):
    """Postings from other job boards; the schema has no company field, so the name heads the description."""
    for row in read_csv(data / "postings" / "legit_postings.csv"):
        source = row["source_dataset"]
        employment_type = row["employment_type"]
        if source == "indeed_us_2023_multiindustry":
            employment_type = clean_indeed_2023_employment_type(employment_type)
        company = row["company"].strip()
        description = f"Company: {company}\n\n{row['description']}" if company else row["description"]
        record = {"id": row["uid"], "label": "legit", "source": f"legit_postings:{source}"}
        fields = {
            "title": row["title"], "location": row["location"], "description": description,
            "employment_type": employment_type,
        }
        record.update({k: v for k, v in fields.items() if v.strip()})
        yield record


def sms_rows(data):
    """All short messages from UCI, Mishra-Soni and SmishTank as (record, is_ham), in file order."""
    for n, row in enumerate(read_csv(data / "sms" / "uci_sms_spam.csv"), 1):
        yield {"id": f"uci:{n}", "source": "uci", "category": row["label"], "text": row["text"]}, row["label"] == "ham"
    for n, row in enumerate(read_csv(data / "sms" / "mishra_soni_smishing.csv"), 1):
        record = {"id": f"mishra_soni:{n}", "source": "mishra_soni", "category": row["label"], "text": row["text"]}
        yield record, row["label"] == "ham"
    for row in read_csv(data / "sms" / "smishtank.csv"):
        record = {"id": f"smishtank:{row['messageid']}", "source": "smishtank", "category": row["category"],
                  "text": row["text"]}
        yield record, False


def sms(data):
    """(ham, non-job spam) lists, each de-duplicated by dedup_key; the first occurrence wins."""
    ham, spam = [], []
    seen = {True: set(), False: set()}
    for record, is_ham in sms_rows(data):
        key = dedup_key(record["text"])
        if key in seen[is_ham]:
            continue
        seen[is_ham].add(key)
        label = "legit" if is_ham else "scam"
        (ham if is_ham else spam).append({"id": record.pop("id"), "label": label, **record})
    return ham, spam


def spamhunter(data):
    """SpamHunter job-scam messages split into (job_scam, ambiguous), with the URL colon restored."""
    scams, ambiguous = [], []
    for row in read_csv(data / "sms" / "spamhunter_job_scams.csv"):
        record = {
            "id": row["id"], "label": "scam", "source": "spamhunter", "category": row["category"],
            "text": SPAMHUNTER_URL_SCHEME.sub(r"\1://", row["text"]),
        }
        (scams if row["label"] == "job_scam" else ambiguous).append(record)
    return scams, ambiguous


def cfpb(data):
    """CFPB complaint narratives; only (probable) job scams are labelled scam, the original label is kept."""
    for row in read_csv(data / "narratives" / "cfpb_job_scam_narratives.csv"):
        label = "scam" if row["label"] in ("job_scam", "job_scam_probable") else "legit"
        yield {"id": f"cfpb:{row['complaint_id']}", "label": label, "source": "cfpb", "category": row["label"],
               "text": row["text"]}


def spamassassin(data):
    """SpamAssassin e-mail: ham is legit, spam is scam (generic spam, a few job lures); `category` is the folder."""
    for n, row in enumerate(read_csv(data / "email" / "spamassassin.csv"), 1):
        label = "legit" if row["label"] == "legit" else "scam"
        yield {"id": f"spamassassin:{n}", "label": label, "source": "spamassassin", "category": row["group"],
               "text": row["text"]}


def enron(data):
    """The Berkeley-categorised Enron e-mail, all legitimate; hiring mail has category employment_arrangements."""
    for n, row in enumerate(read_csv(data / "email" / "enron_berkeley.csv"), 1):
        yield {"id": f"enron:{n}", "label": "legit", "source": "enron", "category": row["berkeley_top_category"],
               "text": row["text"]}


def exais(data):
    """ExAIS_SMS: bank alerts, telco notices and personal chat (legit), telco promotions (spam, labelled scam)."""
    for n, row in enumerate(read_csv(data / "sms" / "exais_sms.csv"), 1):
        label = "legit" if row["label"] == "legit" else "scam"
        yield {"id": f"exais:{n}", "label": label, "source": "exais", "text": row["text"]}


def phishing_pot(data):
    """Phishing Pot honeypot e-mail (eval_only/: measure with it, never train on it); all scam."""
    for n, row in enumerate(read_csv(data / "eval_only" / "phishing_pot.csv"), 1):
        yield {"id": f"phishing_pot:{n}", "label": "scam", "source": "phishing_pot",
               "category": "job_lure" if row["job_scam_candidate"] == "1" else "phishing", "text": row["text"]}


def write_jsonl(path, records):
    """Write records one JSON object a line; return how many."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_all(data, out):
    """Write every slice into out; return {file name: line count} in writing order."""
    out.mkdir(parents=True, exist_ok=True)
    fraud, legit = emscad(data)
    ham, spam = sms(data)
    scams, ambiguous = spamhunter(data)
    slices = {
        "emscad_fraud.jsonl": fraud,
        "emscad_legit.jsonl": legit,
        "legit_postings.jsonl": legit_postings(data),
        "sms_ham.jsonl": ham,
        "sms_spam_nonjob.jsonl": spam,
        "job_scam_messages.jsonl": scams,
        "job_scam_ambiguous.jsonl": ambiguous,
        "cfpb_narratives.jsonl": cfpb(data),
        "spamassassin.jsonl": spamassassin(data),
        "enron.jsonl": enron(data),
        "exais_sms.jsonl": exais(data),
        "phishing_pot.jsonl": phishing_pot(data),
    }
    return {name: write_jsonl(out / name, records) for name, records in slices.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Every line also carries `category` where the source has a finer label (SMS label, SmishTank or "
        "SpamHunter category, CFPB label, SpamAssassin folder, Enron category). SpamHunter text was normalised by its authors: 'http //' and "
        "'https //' are turned back into 'http://' and 'https://' here, but digits replaced by 'X' and forms "
        "of 'to be' replaced by 'be' cannot be undone and are left as they are.",
    )
    parser.add_argument("--data", type=Path, required=True, help="the shared data directory (holds DATA.md)")
    parser.add_argument("--out", type=Path, required=True,
                        help="directory to write the JSONL files into; keep it outside the repository or in target/")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not (args.data / "DATA.md").is_file():
        sys.exit(f"error: {args.data} does not look like the shared data directory (no DATA.md)")
    for name, count in write_all(args.data, args.out).items():
        print(f"{count:7d}  {args.out / name}")


if __name__ == "__main__":
    main()
