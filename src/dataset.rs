//! Labelled examples from `../shared/data` (see its DATA.md) for training and evaluating the local classifier,
//! with a grouped split: fraudsters post dozens of near-identical ads, so examples are grouped by company profile
//! and near-duplicate text, and whole groups go to one fold. A random split leaks them and inflates scores.
//!
//! Folds come from a fixed hash (FNV-1a 64) of the group key, so every tool (training, `redflag eval`, the
//! scikit-learn baseline through the exported JSONL) sees the same split without storing it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::hash::fnv1a;
use crate::input::{Input, Posting};

/// Number of folds; fold [`TEST_FOLD`] is held out for reporting, [`VALIDATION_FOLD`] chooses the head and stops
/// its training early, the rest train (see `model::train` for how folds 1-4 are then cross-fitted).
pub const FOLDS: u64 = 5;
pub const TEST_FOLD: u64 = 0;
pub const VALIDATION_FOLD: u64 = 1;

/// Which split an example belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

/// Broad families of sources, reported separately because they are different problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// EMSCAD postings, fraudulent and legitimate.
    Emscad,
    /// Legitimate postings from other job boards.
    BoardPostings,
    /// Ordinary personal text messages.
    SmsHam,
    /// Non-job spam and smishing (prizes, deliveries, account alerts).
    SmsSpam,
    /// Chat-style job and task scams (SpamHunter).
    JobScamMessages,
    /// Real legitimate e-mail: SpamAssassin's ham (2002-03) and UC Berkeley's hand-labelled Enron business mail.
    EmailHam,
    /// SpamAssassin's spam (2002-03): 419 letters, get-rich and work-from-home lures among adverts.
    EmailSpam,
    /// Legitimate SMS from Nigerian phones, 2013-16 (ExAIS): bank debit/credit alerts, balances, personal chat.
    BankSms,
    /// Text written for this project (`models/written/`): present-day recruiter, HR, payroll, gig and notification
    /// messages and scams in the same register. Counted and reported on its own, never mistaken for real data.
    Written,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Family::Emscad,
        Family::BoardPostings,
        Family::SmsHam,
        Family::SmsSpam,
        Family::JobScamMessages,
        Family::EmailHam,
        Family::EmailSpam,
        Family::BankSms,
        Family::Written,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Emscad => "emscad",
            Family::BoardPostings => "board_postings",
            Family::SmsHam => "sms_ham",
            Family::SmsSpam => "sms_spam",
            Family::JobScamMessages => "job_scam_messages",
            Family::EmailHam => "email_ham",
            Family::EmailSpam => "email_spam",
            Family::BankSms => "bank_sms",
            Family::Written => "written",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Example {
    pub id: String,
    pub family: Family,
    pub source: String,
    pub scam: bool,
    pub input: Input,
    pub group: String,
    /// `0..FOLDS`, from the group's hash; [`Split`] names what the fold is for.
    pub fold: u64,
    pub split: Split,
    /// The same posting presented the other way (fields if `input` is pasted text, pasted text if it has fields).
    /// Set for EMSCAD only, whose short fields say as much as its text: training learns from both views, while
    /// evaluation and calibration read `input` alone, so every posting counts once there.
    pub other_view: Option<Input>,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source} (point --data at the shared data directory that holds DATA.md)")]
    Read {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{path}: missing column {column:?}")]
    Column { path: PathBuf, column: String },
    #[error("{path}:{line}: {message} (each line is {{\"id\", \"label\": \"scam\"|\"legit\", \"text\", ...}})")]
    Written { path: PathBuf, line: usize, message: String },
}

/// Load every labelled source under `dir` (the `../shared/data` layout) and, when given, the written corpus
/// (`models/written/*.jsonl`). Nothing from `eval_only/` is loaded: it may be measured on, never trained on.
pub fn load(dir: &Path, written: Option<&Path>) -> Result<Vec<Example>, DataError> {
    let mut raw = Vec::new();
    load_emscad(dir, &mut raw)?;
    load_board_postings(dir, &mut raw)?;
    load_sms(dir, &mut raw)?;
    load_email(dir, &mut raw)?;
    load_bank_sms(dir, &mut raw)?;
    if let Some(written) = written {
        load_written(written, &mut raw)?;
    }
    let mut examples = assign_splits(raw);
    present(&mut examples);
    Ok(examples)
}

/// People paste postings as one block of text far more often than they have the fields. Half the postings (chosen
/// by a hash of the id, so the choice is fixed) are presented that way, so "free text" does not come to mean "a
/// chat message" to the model; EMSCAD's keep the other presentation as their second view.
fn present(examples: &mut [Example]) {
    for e in examples {
        let Input::Posting(p) = &e.input else { continue };
        let paste = fnv1a(e.id.as_bytes()) % 2 == 1;
        let keep_other = e.family == Family::Emscad;
        if !paste && !keep_other {
            continue;
        }
        let text = Input::Text(pasted(p));
        let other = if paste { std::mem::replace(&mut e.input, text) } else { text };
        if keep_other {
            e.other_view = Some(other);
        }
    }
}

/// A posting as someone would paste it from a job board: its text fields, one paragraph each.
pub fn pasted(posting: &Posting) -> String {
    posting.text_fields().map(|(_, v)| v.trim()).filter(|v| !v.is_empty()).collect::<Vec<_>>().join("\n\n")
}

/// An example before grouping.
struct Raw {
    id: String,
    family: Family,
    source: String,
    scam: bool,
    input: Input,
    keys: Vec<String>,
}

fn read_csv(path: &Path) -> Result<(csv::StringRecord, Vec<csv::StringRecord>), DataError> {
    let err = |source| DataError::Read { path: path.to_path_buf(), source };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(err)?;
    let headers = reader.headers().map_err(err)?.clone();
    let rows = reader.records().collect::<Result<Vec<_>, _>>().map_err(err)?;
    Ok((headers, rows))
}

/// Column accessor by name.
struct Columns {
    path: PathBuf,
    index: HashMap<String, usize>,
}

impl Columns {
    fn new(path: &Path, headers: &csv::StringRecord) -> Self {
        Columns {
            path: path.to_path_buf(),
            index: headers.iter().enumerate().map(|(i, h)| (h.to_string(), i)).collect(),
        }
    }

    fn get<'r>(&self, row: &'r csv::StringRecord, column: &str) -> Result<&'r str, DataError> {
        let i = self
            .index
            .get(column)
            .ok_or_else(|| DataError::Column { path: self.path.clone(), column: column.to_string() })?;
        Ok(row.get(*i).unwrap_or(""))
    }

    fn opt(&self, row: &csv::StringRecord, column: &str) -> Result<Option<String>, DataError> {
        let v = self.get(row, column)?.trim();
        Ok((!v.is_empty()).then(|| v.to_string()))
    }
}

fn load_emscad(dir: &Path, out: &mut Vec<Raw>) -> Result<(), DataError> {
    let path = dir.join("emscad/postings.csv");
    let (headers, rows) = read_csv(&path)?;
    let c = Columns::new(&path, &headers);
    for row in rows {
        let flag = |name: &str| -> Result<Option<bool>, DataError> {
            Ok(c.opt(&row, name)?.map(|v| v == "1" || v.eq_ignore_ascii_case("t")))
        };
        let posting = Posting {
            title: c.opt(&row, "title")?,
            location: c.opt(&row, "location")?,
            department: c.opt(&row, "department")?,
            salary_range: c.opt(&row, "salary_range")?,
            company_profile: c.opt(&row, "company_profile")?,
            description: c.opt(&row, "description")?,
            requirements: c.opt(&row, "requirements")?,
            benefits: c.opt(&row, "benefits")?,
            employment_type: c.opt(&row, "employment_type")?,
            required_experience: c.opt(&row, "required_experience")?,
            required_education: c.opt(&row, "required_education")?,
            industry: c.opt(&row, "industry")?,
            function: c.opt(&row, "function")?,
            telecommuting: flag("telecommuting")?,
            has_company_logo: flag("has_company_logo")?,
            has_questions: flag("has_questions")?,
        };
        let mut keys = Vec::new();
        if let Some(profile) = &posting.company_profile {
            keys.push(format!("profile:{}", fingerprint(profile, 300)));
        }
        if let Some(description) = &posting.description {
            keys.push(format!("desc:{}", fingerprint(description, 300)));
        }
        out.push(Raw {
            id: format!("emscad:{}", c.get(&row, "job_id")?),
            family: Family::Emscad,
            source: "emscad".into(),
            scam: c.get(&row, "fraudulent")? == "1",
            input: Input::Posting(Box::new(posting)),
            keys,
        });
    }
    Ok(())
}

fn load_board_postings(dir: &Path, out: &mut Vec<Raw>) -> Result<(), DataError> {
    let path = dir.join("postings/legit_postings.csv");
    let (headers, rows) = read_csv(&path)?;
    let c = Columns::new(&path, &headers);
    for row in rows {
        let description = c.opt(&row, "description")?;
        let company = c.opt(&row, "company")?;
        let mut keys = Vec::new();
        if let Some(company) = &company {
            keys.push(format!("company:{}", fingerprint(company, 80)));
        }
        if let Some(d) = &description {
            keys.push(format!("desc:{}", fingerprint(d, 300)));
        }
        // The company name is context a job seeker would paste with the ad; the EMSCAD field for it is the profile.
        let posting = Posting {
            title: c.opt(&row, "title")?,
            location: c.opt(&row, "location")?,
            company_profile: company,
            description,
            employment_type: c.opt(&row, "employment_type")?,
            ..Posting::default()
        };
        out.push(Raw {
            id: c.get(&row, "uid")?.to_string(),
            family: Family::BoardPostings,
            source: format!("board:{}", c.get(&row, "source_dataset")?),
            scam: false,
            input: Input::Posting(Box::new(posting)),
            keys,
        });
    }
    Ok(())
}

fn load_sms(dir: &Path, out: &mut Vec<Raw>) -> Result<(), DataError> {
    // UCI's ham reappears in Mishra-Soni; the first copy of a text wins.
    let mut seen = std::collections::HashSet::new();
    let files: [(&str, &str, &str); 4] = [
        ("sms/uci_sms_spam.csv", "uci", ""),
        ("sms/mishra_soni_smishing.csv", "mishra_soni", ""),
        ("sms/smishtank.csv", "smishtank", "messageid"),
        ("sms/spamhunter_job_scams.csv", "spamhunter", "id"),
    ];
    for (file, source, id_column) in files {
        let path = dir.join(file);
        let (headers, rows) = read_csv(&path)?;
        let c = Columns::new(&path, &headers);
        for (i, row) in rows.iter().enumerate() {
            let label = c.get(row, "label")?;
            let mut text = c.get(row, "text")?.to_string();
            if text.trim().is_empty() {
                continue;
            }
            let (family, scam) = match (source, label) {
                ("spamhunter", _) => {
                    text = undo_spamhunter_normalisation(&text);
                    (Family::JobScamMessages, true)
                }
                (_, "ham") => (Family::SmsHam, false),
                _ => (Family::SmsSpam, true),
            };
            if !seen.insert(fingerprint(&text, usize::MAX)) {
                continue;
            }
            let id = if id_column.is_empty() { i.to_string() } else { c.get(row, id_column)?.to_string() };
            out.push(Raw {
                id: format!("{source}:{id}"),
                family,
                source: source.into(),
                scam,
                keys: vec![format!("text:{}", fingerprint(&text, 60))],
                input: Input::Text(text),
            });
        }
    }
    Ok(())
}

fn load_email(dir: &Path, out: &mut Vec<Raw>) -> Result<(), DataError> {
    // Mailing-list threads quote each other, and SpamAssassin's two easy-ham folders overlap: the first copy wins.
    let mut seen = std::collections::HashSet::new();
    for (file, source) in [("email/spamassassin.csv", "spamassassin"), ("email/enron_berkeley.csv", "enron")] {
        let path = dir.join(file);
        let (headers, rows) = read_csv(&path)?;
        let c = Columns::new(&path, &headers);
        for (i, row) in rows.iter().enumerate() {
            let text = c.get(row, "text")?;
            if text.trim().is_empty() || !seen.insert(fingerprint(text, usize::MAX)) {
                continue;
            }
            let scam = c.get(row, "label")? == "spam";
            out.push(Raw {
                id: format!("{source}:{i}"),
                family: if scam { Family::EmailSpam } else { Family::EmailHam },
                source: source.into(),
                scam,
                // Subject lines repeat across a thread ("Re: ..."), so the body's start groups the thread.
                keys: vec![format!("text:{}", fingerprint(text, 300))],
                input: Input::Text(text.to_string()),
            });
        }
    }
    Ok(())
}

/// ExAIS's legitimate messages only. Its "spam" is mostly the operators' own marketing ("text PRO to 33334 for a
/// free trial") with some of the users' own transfer receipts among it: not scams, and training on it as scams
/// would teach the model that a telco's or a bank's notice is one, the very false alarm these texts are here to
/// correct.
fn load_bank_sms(dir: &Path, out: &mut Vec<Raw>) -> Result<(), DataError> {
    let path = dir.join("sms/exais_sms.csv");
    let (headers, rows) = read_csv(&path)?;
    let c = Columns::new(&path, &headers);
    let mut seen = std::collections::HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let text = c.get(row, "text")?;
        if c.get(row, "label")? != "legit" || text.trim().is_empty() || !seen.insert(fingerprint(text, usize::MAX)) {
            continue;
        }
        out.push(Raw {
            id: format!("exais:{i}"),
            family: Family::BankSms,
            source: "exais".into(),
            scam: false,
            // Alerts from one bank differ only in amounts and dates: group them by their digit-free start.
            keys: vec![format!("text:{}", fingerprint(&text.replace(|c: char| c.is_ascii_digit(), ""), 40))],
            input: Input::Text(text.to_string()),
        });
    }
    Ok(())
}

/// One line of the written corpus.
#[derive(serde::Deserialize)]
struct WrittenLine {
    id: String,
    label: String,
    #[serde(default)]
    register: String,
    text: String,
}

/// Every `*.jsonl` under `dir`, in name order. The corpus is written in matched pairs (a legitimate message and a
/// scam in the same voice, on neighbouring lines, often with the same opening words): each line is grouped with
/// its neighbour and with every text that opens the same way, so a pair never straddles two folds.
fn load_written(dir: &Path, out: &mut Vec<Raw>) -> Result<(), DataError> {
    let bad =
        |path: &Path, line: usize, message: String| DataError::Written { path: path.to_path_buf(), line, message };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, 0, format!("cannot list the written corpus: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, 0, e.to_string()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for (k, (i, line)) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).enumerate() {
            let w: WrittenLine = serde_json::from_str(line).map_err(|e| bad(&path, i + 1, e.to_string()))?;
            let scam = match w.label.as_str() {
                "scam" => true,
                "legit" => false,
                other => return Err(bad(&path, i + 1, format!("label {other:?} is not scam or legit"))),
            };
            out.push(Raw {
                id: format!("written:{}", w.id),
                family: Family::Written,
                source: format!("written:{}", w.register),
                scam,
                keys: vec![format!("text:{}", fingerprint(&w.text, 40)), format!("pair:{name}:{}", k / 2)],
                input: Input::Text(w.text),
            });
        }
    }
    Ok(())
}

/// SpamHunter's authors replaced digits with `X` and dropped the colon of URLs (DATA.md). Restore what can be
/// restored so the model does not learn the artefacts: `http //` becomes `http://`, and runs of `X` standing for
/// digits (next to a currency sign, a digit, or alone) become `0`.
fn undo_spamhunter_normalisation(text: &str) -> String {
    use std::sync::LazyLock;
    static X_DIGITS: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"\b[X\d]*X[X\d]*\b|([$€£₹])X+").expect("static regex"));
    let text = text.replace("https //", "https://").replace("http //", "http://");
    X_DIGITS
        .replace_all(&text, |c: &regex::Captures<'_>| match c.get(1) {
            Some(sym) => format!("{}0", sym.as_str()),
            None if c[0].len() == 1 && c[0] == *"X" => "0".to_string(),
            None => c[0].replace('X', "0"),
        })
        .into_owned()
}

/// Lower-case letters and digits of the first `max` characters: equal for texts that differ only in spacing,
/// punctuation or case.
fn fingerprint(text: &str, max: usize) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).take(max).collect()
}

/// Union examples that share any key, then give each group a fold from its smallest key's hash.
fn assign_splits(raw: Vec<Raw>) -> Vec<Example> {
    let mut parent: Vec<usize> = (0..raw.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, r) in raw.iter().enumerate() {
        for key in &r.keys {
            if key.len() < 12 {
                continue; // too short to mean "the same ad" (e.g. "ok", an empty profile)
            }
            match owner.get(key.as_str()) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    owner.insert(key, i);
                }
            }
        }
    }
    let roots: Vec<usize> = (0..raw.len()).map(|i| find(&mut parent, i)).collect();
    // Name a group by its first member's content, not its position, so adding data elsewhere moves no group.
    let names: Vec<String> = roots
        .iter()
        .map(|&root| {
            let r = &raw[root];
            format!("{:016x}", fnv1a(r.keys.first().unwrap_or(&r.id).as_bytes()))
        })
        .collect();
    raw.into_iter()
        .zip(names)
        .map(|(r, group)| {
            let fold = fnv1a(group.as_bytes()) % FOLDS;
            let split = match fold {
                TEST_FOLD => Split::Test,
                VALIDATION_FOLD => Split::Validation,
                _ => Split::Train,
            };
            Example {
                id: r.id,
                family: r.family,
                source: r.source,
                scam: r.scam,
                input: r.input,
                group,
                fold,
                split,
                other_view: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spamhunter_artefacts_are_undone() {
        assert_eq!(
            undo_spamhunter_normalisation("Earn $XXX daily, call XXXX-XXX or visit http //bit.ly/Xab. X tasks"),
            "Earn $0 daily, call 0000-000 or visit http://bit.ly/Xab. 0 tasks"
        );
    }

    #[test]
    fn emscad_postings_keep_their_other_view_and_board_postings_have_one() {
        let posting = Posting {
            title: Some("Data Entry".into()),
            description: Some("Type forms.".into()),
            has_company_logo: Some(false),
            ..Posting::default()
        };
        let example = |id: &str, family| Example {
            id: id.into(),
            family,
            source: "t".into(),
            scam: true,
            input: Input::Posting(Box::new(posting.clone())),
            group: "g".into(),
            fold: 2,
            split: Split::Train,
            other_view: None,
        };
        // Ids whose hash falls each way, so both presentations are covered.
        let ids: Vec<String> = (0..40).map(|i| format!("emscad:{i}")).collect();
        let pasted_first = ids.iter().find(|id| fnv1a(id.as_bytes()) % 2 == 1).expect("an odd hash");
        let fields_first = ids.iter().find(|id| fnv1a(id.as_bytes()) % 2 == 0).expect("an even hash");
        let mut examples = vec![
            example(pasted_first, Family::Emscad),
            example(fields_first, Family::Emscad),
            example(pasted_first, Family::BoardPostings),
        ];
        present(&mut examples);
        let text = "Data Entry\n\nType forms.";
        assert!(matches!(&examples[0].input, Input::Text(t) if t == text));
        assert!(matches!(&examples[0].other_view, Some(Input::Posting(p)) if p.has_company_logo == Some(false)));
        assert!(matches!(&examples[1].input, Input::Posting(_)));
        assert!(matches!(&examples[1].other_view, Some(Input::Text(t)) if t == text));
        assert!(matches!(&examples[2].input, Input::Text(_)));
        assert!(examples[2].other_view.is_none(), "only EMSCAD trains on both views");
    }

    #[test]
    fn near_duplicates_share_a_group_and_a_split() {
        let posting = |profile: &str, desc: &str| {
            Input::Posting(Box::new(Posting {
                company_profile: Some(profile.into()),
                description: Some(desc.into()),
                ..Posting::default()
            }))
        };
        let raw = |id: &str, input: Input, keys: Vec<String>| Raw {
            id: id.into(),
            family: Family::Emscad,
            source: "t".into(),
            scam: true,
            input,
            keys,
        };
        let a = raw(
            "a",
            posting("Acme profile text", "one"),
            vec!["profile:acmeprofiletext".into(), "desc:one-long-enough".into()],
        );
        let b = raw("b", posting("x", "two"), vec!["desc:one-long-enough".into()]);
        let c = raw("c", posting("y", "three"), vec!["desc:three-long-enough".into()]);
        let ex = assign_splits(vec![a, b, c]);
        assert_eq!(ex[0].group, ex[1].group);
        assert_eq!(ex[0].split, ex[1].split);
        assert_ne!(ex[0].group, ex[2].group);
    }
}
