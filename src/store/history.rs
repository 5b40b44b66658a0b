//! The history of checks: what was checked (redacted), when, through which channel, for whom, and the verdict.
//!
//! The original text can hold personal data (names, phone numbers), so it is never stored: a row keeps the
//! redacted text, the SHA-256 of the normalised original (to recognise a repeat without keeping it) and the full
//! [`Analysis`] JSON with its `text` removed. Label, score, flag ids and tiers are copied into columns so lists and
//! searches need not parse that JSON. `user_id` is `NULL` for the local user (CLI, desktop) and the sender's id
//! on the bridge; [`Store::forget_user`] is the "delete my data" request.
//!
//! The CLI, the desktop and the bridge may share one file, so every read and deletion names whose checks it
//! reaches ([`Owner`]): a job seeker's History lists and clears their own checks, never the bridge's senders'.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use serde::Serialize;

use super::{HistoryStore, SqliteStore, StoreError, sql_int};
use crate::redact::Redactor;
use crate::sync::report::{self, IndicatorDigest};
use crate::{Analysis, Label, Tier};

/// One check to record.
#[derive(Debug, Clone, Copy)]
pub struct NewHistory<'a> {
    /// Unix seconds.
    pub created_at: i64,
    /// `cli`, `desktop`, `whatsapp`, `sms`, `telegram` or `api`.
    pub channel: &'a str,
    /// `None` for the local user.
    pub user_id: Option<&'a str>,
    /// SHA-256 hex of the normalised original text.
    pub input_hash: &'a str,
    pub redacted_text: &'a str,
    /// Digests of the scammer-side values in the original text, for a report on this check (see
    /// [`crate::sync::report`]); empty for the bridge's senders, who report nothing.
    pub indicators: &'a [IndicatorDigest],
    /// The verdict; its `text` is dropped before storing whatever it holds.
    pub analysis: &'a Analysis,
    pub cost_usd: f64,
}

/// One stored check.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub created_at: i64,
    pub channel: String,
    pub user_id: Option<String>,
    pub input_hash: String,
    pub redacted_text: String,
    pub label: Label,
    pub score: f32,
    pub flags: Vec<String>,
    pub tiers: Vec<Tier>,
    pub cost_usd: f64,
    /// Digests of the scammer-side values the checked text held (the values themselves are not kept).
    pub indicators: Vec<IndicatorDigest>,
    /// The stored [`Analysis`] (without `text`), kept as JSON so rows written by an older build still load.
    pub analysis: serde_json::Value,
}

impl HistoryEntry {
    /// What the stored verdict means and what to do, in this build's words: the store keeps the verdict, not its
    /// wording.
    pub fn advice(&self) -> crate::advice::Advice {
        let ids: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        let llm = self.analysis.pointer("/llm/label").and_then(|l| serde_json::from_value(l.clone()).ok());
        crate::advice::advise_parts(self.label, self.score, &ids, llm)
    }
}

/// Whose checks a read or a deletion reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Owner {
    /// The person at this machine (CLI, desktop): rows without a user id.
    #[default]
    Local,
    /// One bridge sender.
    User(String),
    /// Everyone's: the operator's view of a bridge's file.
    Anyone,
}

impl Owner {
    /// The SQL condition on `user_id` and its argument, if any. Written out per case (not `? IS NULL OR ...`) so
    /// the `user_id` index is usable.
    fn condition(&self) -> (&'static str, Option<Value>) {
        match self {
            Owner::Local => ("user_id IS NULL", None),
            Owner::User(id) => ("user_id = ?", Some(id.clone().into())),
            Owner::Anyone => ("1", None),
        }
    }
}

/// Which checks to list. The default lists the local user's, newest first.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Matches a case-insensitive substring of the redacted text, a label (`scam`), or a flag id. Case folding is
    /// SQLite's `LIKE`: ASCII letters only.
    pub search: Option<String>,
    /// Whose checks.
    pub owner: Owner,
    /// At most this many rows; 0 means no limit.
    pub limit: usize,
    pub offset: usize,
}

const COLUMNS: &str = "id, created_at, channel, user_id, input_hash, redacted_text, label, score, flags, tiers, \
                       cost_usd, analysis, indicators";

/// A row as SQLite holds it; the JSON columns are parsed after the statement is done, so a bad row is a
/// [`StoreError::Json`] rather than a generic conversion error.
/// A history row as stored, in either engine (SQLite here, PostgreSQL in `store::pg`): JSON columns as text.
pub(crate) struct Raw {
    pub id: i64,
    pub created_at: i64,
    pub channel: String,
    pub user_id: Option<String>,
    pub input_hash: String,
    pub redacted_text: String,
    pub label: String,
    pub score: f64,
    pub flags: String,
    pub tiers: String,
    pub cost_usd: f64,
    pub analysis: String,
    pub indicators: String,
}

/// The columns of a new history row that are derived from its analysis, as both engines store them.
pub(crate) struct Encoded {
    pub label: String,
    pub score: f64,
    pub flags: String,
    pub tiers: String,
    pub analysis: String,
    pub indicators: String,
}

impl Encoded {
    pub(crate) fn of(h: &NewHistory<'_>) -> Result<Encoded, StoreError> {
        let a = h.analysis;
        let mut analysis = serde_json::to_value(a)?;
        // Whatever the caller left in it, the original text never reaches the disk. The advice is words derived
        // from the verdict, and a later build words it better: it is made again on reading.
        if let Some(fields) = analysis.as_object_mut() {
            fields.remove("text");
            fields.remove("advice");
        }
        let label = match serde_json::to_value(a.label)? {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        Ok(Encoded {
            label,
            score: f64::from(a.score),
            flags: serde_json::to_string(&a.flag_ids())?,
            tiers: serde_json::to_string(&a.tiers)?,
            analysis: serde_json::to_string(&analysis)?,
            indicators: serde_json::to_string(h.indicators)?,
        })
    }
}

impl Raw {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Raw> {
        Ok(Raw {
            id: row.get(0)?,
            created_at: row.get(1)?,
            channel: row.get(2)?,
            user_id: row.get(3)?,
            input_hash: row.get(4)?,
            redacted_text: row.get(5)?,
            label: row.get(6)?,
            score: row.get(7)?,
            flags: row.get(8)?,
            tiers: row.get(9)?,
            cost_usd: row.get(10)?,
            analysis: row.get(11)?,
            indicators: row.get(12)?,
        })
    }

    pub(crate) fn into_entry(self) -> Result<HistoryEntry, StoreError> {
        Ok(HistoryEntry {
            id: self.id,
            created_at: self.created_at,
            channel: self.channel,
            user_id: self.user_id,
            input_hash: self.input_hash,
            redacted_text: self.redacted_text,
            // Labels are stored as their serde names, so serde reads them back.
            label: serde_json::from_value(serde_json::Value::String(self.label))?,
            // Scores are written from an f32; narrowing back is exact.
            score: self.score as f32,
            flags: serde_json::from_str(&self.flags)?,
            tiers: serde_json::from_str(&self.tiers)?,
            cost_usd: self.cost_usd,
            analysis: serde_json::from_str(&self.analysis)?,
            indicators: serde_json::from_str(&self.indicators)?,
        })
    }
}

/// `s` as a `LIKE` pattern matching it anywhere, with `%`, `_` and the escape character itself taken literally
/// (the query says `ESCAPE '\'`).
pub(crate) fn like_substring(s: &str) -> String {
    let mut pattern = String::with_capacity(s.len() + 2);
    pattern.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// [`super::Store::record_check`], for every implementation: what is redacted must not depend on the backend.
pub(super) fn record<S: super::Store + ?Sized>(
    store: &S,
    a: &Analysis,
    redactor: &Redactor,
    channel: &str,
    user_id: Option<&str>,
) -> Result<i64, StoreError> {
    let text = a.text.as_deref().unwrap_or_default();
    let redacted = redactor.redact(text);
    let mut stored = a.clone();
    stored.text = None;
    // An image's recognised text is the same personal text: kept redacted, like the text itself.
    if let Some(input) = stored.input.as_mut() {
        input.text = redactor.redact(&input.text).text;
    }
    // Flags, reassurances, the model's words and the LLM's reasons quote the original text; the stored copy
    // quotes it redacted, like the text itself.
    let redact = |snippet: &mut String| *snippet = redactor.redact(snippet).text;
    let findings = stored.flags.iter_mut().chain(stored.reassurances.iter_mut());
    findings.flat_map(|f| f.evidence.iter_mut()).for_each(|e| redact(&mut e.snippet));
    for w in &mut stored.model_words {
        redact(&mut w.word);
        w.evidence.iter_mut().for_each(|e| redact(&mut e.snippet));
    }
    if let Some(llm) = stored.llm.as_mut() {
        llm.reasons.iter_mut().filter_map(|r| r.evidence.as_mut()).for_each(|e| redact(&mut e.snippet));
    }
    let cost_usd = a.llm.as_ref().map_or(0.0, |o| o.cost_usd);
    // Only the person at this machine can report a check, and only to a hub it is paired with: otherwise the
    // values' digests (a phone number's can be brute-forced) are not kept at all.
    let reportable = user_id.is_none() && store.hub_link().is_ok_and(|link| link.is_some());
    let indicators = if reportable { report::digests(text) } else { Vec::new() };
    store.history_add(&NewHistory {
        created_at: crate::time::unix_now(),
        channel,
        user_id,
        input_hash: &crate::hash::sha256_hex(text),
        redacted_text: &redacted.text,
        indicators: &indicators,
        analysis: &stored,
        cost_usd,
    })
}

impl HistoryStore for SqliteStore {
    /// Record one check; returns its id.
    fn history_add(&self, h: &NewHistory<'_>) -> Result<i64, StoreError> {
        let e = Encoded::of(h)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO history (created_at, channel, user_id, input_hash, redacted_text, label, score, flags,
                                      tiers, analysis, cost_usd, indicators)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    h.created_at,
                    h.channel,
                    h.user_id,
                    h.input_hash,
                    h.redacted_text,
                    e.label,
                    e.score,
                    e.flags,
                    e.tiers,
                    e.analysis,
                    h.cost_usd,
                    e.indicators
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Checks matching `q`, newest first.
    fn history_list(&self, q: &HistoryQuery) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut args: Vec<Value> = Vec::new();
        let (owner, arg) = q.owner.condition();
        args.extend(arg);
        // `?` is numbered by position; the owner's argument, if any, is the first.
        let mut sql = format!("SELECT {COLUMNS} FROM history WHERE {}", owner.replace('?', "?1"));
        if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            args.push(like_substring(search).into());
            let like = args.len();
            args.push(search.to_lowercase().into());
            let label = args.len();
            args.push(search.to_owned().into());
            let flag = args.len();
            sql.push_str(&format!(
                " AND (redacted_text LIKE ?{like} ESCAPE '\\' OR label = ?{label}
                       OR EXISTS (SELECT 1 FROM json_each(history.flags) WHERE json_each.value = ?{flag}))"
            ));
        }
        // SQLite reads a negative LIMIT as "no limit".
        let limit = if q.limit == 0 { -1 } else { sql_int(q.limit) };
        args.push(limit.into());
        args.push(sql_int(q.offset).into());
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ?{} OFFSET ?{}", args.len() - 1, args.len()));

        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let raws = stmt.query_map(params_from_iter(args), Raw::from_row)?.collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        drop(conn);
        raws.into_iter().map(Raw::into_entry).collect()
    }

    /// One of `owner`'s checks; `None` when there is no such row or it is someone else's.
    fn history_get(&self, id: i64, owner: &Owner) -> Result<Option<HistoryEntry>, StoreError> {
        let (cond, arg) = owner.condition();
        let args: Vec<Value> = std::iter::once(id.into()).chain(arg).collect();
        let sql = format!("SELECT {COLUMNS} FROM history WHERE id = ?1 AND {}", cond.replace('?', "?2"));
        let raw = self.conn().query_row(&sql, params_from_iter(args), Raw::from_row).optional()?;
        raw.map(Raw::into_entry).transpose()
    }

    /// Delete one of `owner`'s checks; `false` when there was no such row (or it is someone else's).
    fn history_delete(&self, id: i64, owner: &Owner) -> Result<bool, StoreError> {
        let (cond, arg) = owner.condition();
        let args: Vec<Value> = std::iter::once(id.into()).chain(arg).collect();
        let sql = format!("DELETE FROM history WHERE id = ?1 AND {}", cond.replace('?', "?2"));
        self.write(|tx| {
            let deleted = tx.execute(&sql, params_from_iter(args))? > 0;
            drop_orphan_reports(tx)?;
            Ok(deleted)
        })
    }

    /// Delete every check of `owner`'s; returns how many went. The spend ledger is kept: it is the operator's
    /// accounts.
    fn history_clear(&self, owner: &Owner) -> Result<usize, StoreError> {
        let (cond, arg) = owner.condition();
        let sql = format!("DELETE FROM history WHERE {}", cond.replace('?', "?1"));
        self.write(|tx| {
            let deleted = tx.execute(&sql, params_from_iter(arg))?;
            drop_orphan_reports(tx)?;
            Ok(deleted)
        })
    }

    /// Retention: delete checks made before `older_than` (unix seconds); returns how many went.
    fn history_purge(&self, older_than: i64) -> Result<usize, StoreError> {
        self.write(|tx| {
            let deleted = tx.execute("DELETE FROM history WHERE created_at < ?1", [older_than])?;
            drop_orphan_reports(tx)?;
            Ok(deleted)
        })
    }

    /// "Delete my data": delete the user's checks and move their spend rows to `spend_to` or unlink them (the
    /// cost stays in the operator's totals either way), in one transaction. Returns the number of rows touched.
    fn forget_user(&self, user_id: &str, spend_to: Option<&str>) -> Result<usize, StoreError> {
        self.write(|tx| {
            let deleted = tx.execute("DELETE FROM history WHERE user_id = ?1", [user_id])?;
            let moved = tx.execute(
                "UPDATE spend SET user_id = ?2 WHERE user_id = ?1 AND user_id IS NOT ?2",
                params![user_id, spend_to],
            )?;
            Ok(deleted + moved)
        })
    }
}

/// A deleted check takes its reports with it, sent or not: "delete" means the redacted text goes from this
/// machine, and an unsent report would carry it out later.
fn drop_orphan_reports(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<usize> {
    tx.execute("DELETE FROM sync_outbox WHERE history_id NOT IN (SELECT id FROM history)", [])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SpendLedger, Store, sample_analysis};

    fn add(s: &SqliteStore, at: i64, user: Option<&str>, text: &str, a: &Analysis) -> i64 {
        s.history_add(&NewHistory {
            created_at: at,
            channel: "cli",
            user_id: user,
            input_hash: "ab12",
            redacted_text: text,
            indicators: &[],
            analysis: a,
            cost_usd: 0.0,
        })
        .expect("history_add")
    }

    fn ids(s: &SqliteStore, q: &HistoryQuery) -> Vec<i64> {
        s.history_list(q).expect("history_list").into_iter().map(|e| e.id).collect()
    }

    #[test]
    fn the_advice_is_worded_on_reading_not_stored() {
        let s = SqliteStore::open_in_memory().expect("store");
        let mut a = sample_analysis(Label::Scam, &["fake-check"], None);
        a.refresh_advice();
        assert!(!a.advice.steps.is_empty());
        let new = NewHistory {
            created_at: 1,
            channel: "cli",
            user_id: None,
            input_hash: "h",
            redacted_text: "t",
            indicators: &[],
            analysis: &a,
            cost_usd: 0.0,
        };
        let id = s.history_add(&new).expect("add");
        let e = s.history_get(id, &Owner::Local).expect("get").expect("row exists");
        assert!(e.analysis.get("advice").is_none(), "derived words are not kept");
        assert_eq!(e.advice(), a.advice);
    }

    #[test]
    fn add_then_get_round_trips_without_the_original_text() {
        let s = SqliteStore::open_in_memory().expect("store");
        let a = sample_analysis(Label::Scam, &["upfront-fee", "off-platform-contact"], Some("call +44 7700 900123"));
        let id = s
            .history_add(&NewHistory {
                created_at: 42,
                channel: "whatsapp",
                user_id: Some("u1"),
                input_hash: "deadbeef",
                redacted_text: "call [PHONE]",
                indicators: &[],
                analysis: &a,
                cost_usd: 0.002,
            })
            .expect("add");
        let e = s.history_get(id, &Owner::User("u1".into())).expect("get").expect("row exists");
        assert_eq!((e.created_at, e.channel.as_str(), e.user_id.as_deref()), (42, "whatsapp", Some("u1")));
        assert_eq!((e.input_hash.as_str(), e.redacted_text.as_str()), ("deadbeef", "call [PHONE]"));
        assert_eq!(e.label, Label::Scam);
        assert!((e.score - a.score).abs() < f32::EPSILON);
        assert_eq!(e.flags, ["upfront-fee", "off-platform-contact"]);
        assert_eq!(e.tiers, a.tiers);
        assert!((e.cost_usd - 0.002).abs() < 1e-12);
        assert!(e.analysis.get("text").is_none(), "the original text must not be stored");
        let mut expected = a.clone();
        expected.text = None;
        let back: Analysis = serde_json::from_value(e.analysis).expect("stored analysis parses");
        assert_eq!(back, expected);
        // And not anywhere in the file's row either.
        let raw: String =
            s.conn().query_row("SELECT analysis FROM history WHERE id = ?1", [id], |r| r.get(0)).expect("raw");
        assert!(!raw.contains("7700"), "{raw}");

        assert!(s.history_get(id + 1, &Owner::Anyone).expect("get").is_none());
        assert!(s.history_get(id, &Owner::Local).expect("get").is_none(), "a sender's row is not the local user's");
    }

    #[test]
    fn record_check_redacts_every_quote_of_the_text() {
        let s = SqliteStore::open_in_memory().expect("store");
        let text = "Jane, call +44 7700 900123 about the role";
        let mut a = sample_analysis(Label::Legit, &["x"], Some(text));
        let quote = |snippet: &str| crate::analysis::Evidence::new(0, snippet.len(), snippet);
        a.flags[0].evidence = vec![quote("+44 7700 900123")];
        a.reassurances = a.flags.clone();
        a.reassurances[0].evidence = vec![quote("Jane, call +44 7700 900123")];
        a.model_words =
            vec![crate::analysis::ModelWord { word: "jane".into(), logit_drop: 0.5, evidence: vec![quote("Jane")] }];
        a.input = Some(crate::analysis::InputInfo {
            kind: "image".into(),
            width: 10,
            height: 10,
            text: "Jane, call +44 7700 900123".into(),
        });
        let id = s.record_check(&a, &Redactor::new(&["Jane Doe".into()]), "cli", None).expect("record");
        let raw: String = s
            .conn()
            .query_row("SELECT analysis || redacted_text FROM history WHERE id = ?1", [id], |r| r.get(0))
            .expect("raw row");
        assert!(!raw.contains("7700") && !raw.to_lowercase().contains("jane"), "{raw}");
        assert!(raw.contains("about the role"), "{raw}");
    }

    #[test]
    fn a_local_check_keeps_its_values_as_digests_and_a_deleted_check_takes_its_reports() {
        use crate::store::SyncState;
        use crate::sync::report::{Queued, Report, ReportLabel};
        let s = SqliteStore::open_in_memory().expect("store");
        let text = "Pay the fee on WhatsApp +1 415 555 0188 or at https://pay-talentdesk.example/now";
        let a = sample_analysis(Label::Scam, &["x"], Some(text));
        let unpaired = s.record_check(&a, &Redactor::new(&[]), "cli", None).expect("record");
        let e = s.history_get(unpaired, &Owner::Local).expect("get").expect("row");
        assert!(e.indicators.is_empty(), "no hub to report to, so nothing is kept for reports");
        let key = crate::sync::feed::HubKey { public_key: "k".into(), fingerprint: "fp".into() };
        let link =
            crate::store::HubLink { url: "u".into(), token: "t".into(), key, cursor: "fp.0".into(), last_sync: None };
        s.pair_hub(&link).expect("pair");
        let local = s.record_check(&a, &Redactor::new(&[]), "cli", None).expect("record");
        let sender = s.record_check(&a, &Redactor::new(&[]), "whatsapp", Some("u1")).expect("record");
        let e = s.history_get(local, &Owner::Local).expect("get").expect("row");
        assert_eq!(e.indicators, report::digests(text));
        assert_eq!(e.indicators.len(), 2, "the number and the host");
        let raw: String =
            s.conn().query_row("SELECT indicators FROM history WHERE id = ?1", [local], |r| r.get(0)).expect("raw");
        assert!(!raw.contains("555") && !raw.contains("talentdesk"), "digests, not values: {raw}");
        let e = s.history_get(sender, &Owner::Anyone).expect("get").expect("row");
        assert!(e.indicators.is_empty(), "a bridge sender reports nothing, so nothing is kept");

        let entry = s.history_get(local, &Owner::Local).expect("get").expect("row");
        let report = Report::on(&entry, ReportLabel::Scam);
        s.queue_report(&Queued { history_id: local, report, created_at: 1, sent_at: None }).expect("queue");
        assert!(s.history_delete(local, &Owner::Local).expect("delete"));
        assert_eq!(s.reports_waiting().expect("count"), 0, "its redacted text must not leave later");
    }

    #[test]
    fn list_is_newest_first_with_limit_offset_and_owner() {
        let s = SqliteStore::open_in_memory().expect("store");
        let a = sample_analysis(Label::Legit, &[], None);
        let first = add(&s, 10, None, "one", &a);
        let second = add(&s, 30, Some("u1"), "two", &a);
        let third = add(&s, 20, Some("u2"), "three", &a);
        let same_time = add(&s, 30, None, "four", &a);
        let anyone = |limit, offset| HistoryQuery { owner: Owner::Anyone, limit, offset, ..Default::default() };
        assert_eq!(ids(&s, &anyone(0, 0)), [same_time, second, third, first]);
        assert_eq!(ids(&s, &anyone(2, 0)), [same_time, second]);
        assert_eq!(ids(&s, &anyone(2, 3)), [first]);
        assert_eq!(ids(&s, &anyone(0, 1)), [second, third, first]);
        assert_eq!(ids(&s, &HistoryQuery { owner: Owner::User("u1".into()), ..Default::default() }), [second]);
        assert_eq!(ids(&s, &HistoryQuery::default()), [same_time, first], "the default is the local user's");
        let search =
            HistoryQuery { owner: Owner::User("u2".into()), search: Some("three".into()), ..Default::default() };
        assert_eq!(ids(&s, &search), [third], "owner and search together");
    }

    #[test]
    fn the_local_user_neither_reads_nor_clears_a_senders_checks() {
        let s = SqliteStore::open_in_memory().expect("store");
        let a = sample_analysis(Label::Scam, &[], None);
        let sender = add(&s, 1, Some("whatsapp:+14155550123"), "a sender's message", &a);
        let local = add(&s, 2, None, "my own check", &a);
        assert!(s.history_get(sender, &Owner::Local).expect("get").is_none());
        assert!(!s.history_delete(sender, &Owner::Local).expect("delete"));
        assert_eq!(s.history_clear(&Owner::Local).expect("clear"), 1);
        let left = HistoryQuery { owner: Owner::Anyone, ..Default::default() };
        assert_eq!(ids(&s, &left), [sender], "the sender's check is still there");
        assert!(s.history_get(local, &Owner::Anyone).expect("get").is_none());
    }

    #[test]
    fn search_matches_text_label_and_flag_and_escapes_like_wildcards() {
        let s = SqliteStore::open_in_memory().expect("store");
        let scam = sample_analysis(Label::Scam, &["upfront-fee"], None);
        let legit = sample_analysis(Label::Legit, &[], None);
        let fee = add(&s, 1, None, "Pay a Training FEE of 100% upfront", &scam);
        let plain = add(&s, 2, None, "Senior engineer, hybrid, 100 percent remote_ok", &legit);
        let underscore = add(&s, 3, None, "apply at jobs_portal", &legit);
        let search = |q: &str| ids(&s, &HistoryQuery { search: Some(q.into()), ..Default::default() });

        assert_eq!(search("training fee"), [fee], "case-insensitive substring");
        assert_eq!(search("SCAM"), [fee], "label");
        assert_eq!(search("upfront-fee"), [fee], "flag id");
        assert_eq!(search("100%"), [fee], "% is literal");
        assert_eq!(search("0%"), [fee]);
        assert_eq!(search("y_a"), Vec::<i64>::new(), "_ is literal, not any character (\"Pay a\")");
        assert_eq!(search("jobs_portal"), [underscore]);
        assert_eq!(search("e_o"), [plain], "remote_ok");
        assert_eq!(search(r"\"), Vec::<i64>::new(), "the escape character is literal too");
        assert_eq!(search("upfront-f"), Vec::<i64>::new(), "flag ids match whole, text does not contain it");
        assert_eq!(search("  "), [underscore, plain, fee], "a blank search lists everything");
    }

    #[test]
    fn delete_clear_and_purge() {
        let s = SqliteStore::open_in_memory().expect("store");
        let a = sample_analysis(Label::Uncertain, &[], None);
        let old = add(&s, 100, None, "old", &a);
        let mid = add(&s, 200, None, "mid", &a);
        let new = add(&s, 300, None, "new", &a);
        assert!(s.history_delete(mid, &Owner::Local).expect("delete"));
        assert!(!s.history_delete(mid, &Owner::Local).expect("delete again"));
        assert_eq!(s.history_purge(300).expect("purge"), 1);
        assert!(s.history_get(old, &Owner::Local).expect("get").is_none());
        assert_eq!(ids(&s, &HistoryQuery::default()), [new]);
        assert_eq!(s.history_clear(&Owner::Local).expect("clear"), 1);
        assert!(ids(&s, &HistoryQuery::default()).is_empty());
    }

    #[test]
    fn forget_user_deletes_history_and_unlinks_spend() {
        let s = SqliteStore::open_in_memory().expect("store");
        let a = sample_analysis(Label::Scam, &[], None);
        add(&s, 1, Some("u1"), "mine", &a);
        add(&s, 2, Some("u1"), "mine too", &a);
        let other = add(&s, 3, Some("u2"), "theirs", &a);
        let local = add(&s, 4, None, "local", &a);
        let now = 1_705_320_000;
        for _ in 0..3 {
            s.spend_reserve(Some("u1"), "m", 0.5, &crate::store::Caps::default(), now).expect("reserve");
        }
        s.spend_reserve(Some("u2"), "m", 0.25, &crate::store::Caps::default(), now).expect("reserve");

        assert_eq!(s.forget_user("u1", None).expect("forget"), 2 + 3);
        assert_eq!(ids(&s, &HistoryQuery { owner: Owner::Anyone, ..Default::default() }), [local, other]);
        assert!((s.spent(Some("u1"), now).expect("spent").day_usd).abs() < 1e-12);
        assert!((s.spent(Some("u2"), now).expect("spent").day_usd - 0.25).abs() < 1e-12);
        // The operator's totals still count the forgotten user's calls.
        assert!((s.spent(None, now).expect("spent").day_usd - 1.75).abs() < 1e-12);
        assert_eq!(s.forget_user("u1", None).expect("forget again"), 0);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_substring(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
