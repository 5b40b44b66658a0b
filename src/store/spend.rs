//! The spend ledger and its budgets: every paid LLM call is written down, and no call starts that could push
//! spending over a cap, even with several workers or processes calling at once.
//!
//! Reserve, then settle. Before a call the caller reserves an upper-bound estimate ([`Store::spend_reserve`]). In
//! one `IMMEDIATE` transaction (the write lock is taken first, so no other reservation can slip in between the
//! check and the insert) the store sums what was spent in each window a cap applies to (the UTC day and month,
//! globally and, for a bridge user, that user's) and either refuses with [`Reserve::CapReached`], writing nothing,
//! or inserts a `reserved` row at the estimate. After the call the caller settles the row with the real usage and
//! cost ([`Store::spend_settle`]): `ok`, or `failed` (a failed call with nothing billed settles at 0). Reserved
//! rows count at their estimate and settled rows at their real cost, so a reservation a crash left unsettled
//! keeps counting at its estimate: the budget errs on the safe side.
//!
//! Money is `f64` US dollars. A cap compares with a nanodollar of slack, so that rounding in a sum of, say, ten
//! $0.10 calls does not refuse the tenth under a $1.00 cap. Amounts that are negative or not finite are refused
//! ([`StoreError::Amount`]): NaN compares false and would walk straight past any cap. User caps apply only to
//! bridge users; the local user (`user_id = None`) is bound by the global caps alone.

use std::fmt;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::{SpendLedger, SqliteStore, StoreError, count};

/// Slack when comparing a sum of floating-point costs with a cap: far below any price, far above rounding.
pub(crate) const CAP_SLACK_USD: f64 = 1e-9;

/// Spending limits in US dollars; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Caps {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    /// Per bridge user, per UTC day.
    pub user_daily_usd: Option<f64>,
    /// Per bridge user, per UTC month.
    pub user_monthly_usd: Option<f64>,
}

/// Which cap stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapKind {
    Daily,
    Monthly,
    UserDaily,
    UserMonthly,
}

impl fmt::Display for CapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CapKind::Daily => "the daily budget",
            CapKind::Monthly => "the monthly budget",
            CapKind::UserDaily => "this user's daily budget",
            CapKind::UserMonthly => "this user's monthly budget",
        })
    }
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reserve {
    /// Go ahead; settle this reservation id afterwards.
    Reserved(i64),
    /// Do not call: `spent_usd` (in that cap's window) plus the estimate would exceed `limit_usd`.
    CapReached { cap: CapKind, spent_usd: f64, limit_usd: f64 },
}

/// Tokens a call used, as the endpoint reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    /// Prompt tokens served from the provider's prompt cache (billed cheaper).
    pub cached: u64,
    pub completion: u64,
}

/// Spending in the current UTC day and month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spent {
    pub day_usd: f64,
    pub month_usd: f64,
}

/// One line of the spend report: a UTC day, a model and a user (`None`: the local user, or a forgotten one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    pub day: String,
    pub model: String,
    pub user_id: Option<String>,
    /// Every call, including failed ones and reservations not settled.
    pub calls: u64,
    pub failed: u64,
    /// Reservations not settled: calls in flight, or lost in a crash. They count at their estimate.
    pub reserved: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// A dollar amount the ledger can do arithmetic with.
pub(crate) fn check_amount(what: &'static str, value: f64) -> Result<f64, StoreError> {
    if value.is_finite() && value >= 0.0 { Ok(value) } else { Err(StoreError::Amount { what, value }) }
}

pub(crate) fn tokens_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The UTC day (`YYYY-MM-DD`) and month (`YYYY-MM`) of a unix time, by SQLite so every process agrees.
fn day_and_month(conn: &Connection, now: i64) -> rusqlite::Result<(String, String)> {
    conn.query_row("SELECT strftime('%Y-%m-%d', ?1, 'unixepoch'), strftime('%Y-%m', ?1, 'unixepoch')", [now], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })
}

/// Spent in one window. Each query is shaped for one index, because it runs under the write lock: `spend_day`,
/// `spend_month`, `spend_user_day` (a user's month is a range of days, so it uses that index too).
const SUM_DAY: &str = "SELECT COALESCE(SUM(cost_usd), 0.0) FROM spend WHERE day = ?1";
const SUM_MONTH: &str = "SELECT COALESCE(SUM(cost_usd), 0.0) FROM spend WHERE month = ?1";
const SUM_USER_DAY: &str = "SELECT COALESCE(SUM(cost_usd), 0.0) FROM spend WHERE user_id = ?1 AND day = ?2";
const SUM_USER_MONTH: &str =
    "SELECT COALESCE(SUM(cost_usd), 0.0) FROM spend WHERE user_id = ?1 AND day BETWEEN ?2 || '-01' AND ?2 || '-31'";

fn sum_day(conn: &Connection, day: &str) -> rusqlite::Result<f64> {
    conn.query_row(SUM_DAY, [day], |r| r.get(0))
}

fn sum_month(conn: &Connection, month: &str) -> rusqlite::Result<f64> {
    conn.query_row(SUM_MONTH, [month], |r| r.get(0))
}

fn sum_user_day(conn: &Connection, user: &str, day: &str) -> rusqlite::Result<f64> {
    conn.query_row(SUM_USER_DAY, params![user, day], |r| r.get(0))
}

fn sum_user_month(conn: &Connection, user: &str, month: &str) -> rusqlite::Result<f64> {
    conn.query_row(SUM_USER_MONTH, params![user, month], |r| r.get(0))
}

impl SpendLedger for SqliteStore {
    /// Reserve `estimate_usd` (an upper bound of the call's cost) against `caps`, or refuse; see the module docs.
    /// Only the caps that are set are summed, so an uncapped ledger costs one insert.
    fn spend_reserve(
        &self,
        user_id: Option<&str>,
        model: &str,
        estimate_usd: f64,
        caps: &Caps,
        now: i64,
    ) -> Result<Reserve, StoreError> {
        let estimate = check_reservation(estimate_usd, caps)?;
        self.write(|tx| {
            let (day, month) = day_and_month(tx, now)?;
            for (cap, limit, window) in cap_windows(caps, user_id) {
                let Some(limit_usd) = limit else { continue };
                let spent_usd = match window {
                    Window::Day => sum_day(tx, &day)?,
                    Window::Month => sum_month(tx, &month)?,
                    Window::UserDay(user) => sum_user_day(tx, user, &day)?,
                    Window::UserMonth(user) => sum_user_month(tx, user, &month)?,
                };
                if spent_usd + estimate > limit_usd + CAP_SLACK_USD {
                    return Ok(Reserve::CapReached { cap, spent_usd, limit_usd });
                }
            }
            tx.execute(
                "INSERT INTO spend (created_at, day, month, user_id, model, state, cost_usd)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'reserved', ?6)",
                params![now, day, month, user_id, model, estimate],
            )?;
            Ok(Reserve::Reserved(tx.last_insert_rowid()))
        })
    }

    /// Replace a reservation's estimate with what the call really used and cost. `ok = false` marks a failed
    /// call; pass a cost of 0 when nothing was billed. Settling twice is refused ([`StoreError::Reservation`]).
    fn spend_settle(&self, reservation: i64, ok: bool, tokens: Tokens, cost_usd: f64) -> Result<(), StoreError> {
        let cost = check_amount("the cost of an LLM call", cost_usd)?;
        let state = if ok { "ok" } else { "failed" };
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE spend SET state = ?2, prompt_tokens = ?3, cached_tokens = ?4, completion_tokens = ?5,
                                  cost_usd = ?6
                 WHERE id = ?1 AND state = 'reserved'",
                params![
                    reservation,
                    state,
                    tokens_sql(tokens.prompt),
                    tokens_sql(tokens.cached),
                    tokens_sql(tokens.completion),
                    cost
                ],
            )?;
            if changed == 0 { Err(StoreError::Reservation(reservation)) } else { Ok(()) }
        })
    }

    /// Spending grouped by UTC day, model and user, newest day first; `since` (unix seconds) keeps calls made
    /// at or after it.
    fn spend_report(&self, since: Option<i64>) -> Result<Vec<SpendRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT day, model, user_id, COUNT(*), SUM(state = 'failed'), SUM(state = 'reserved'),
                    SUM(prompt_tokens), SUM(cached_tokens), SUM(completion_tokens), SUM(cost_usd)
             FROM spend WHERE created_at >= ?1
             GROUP BY day, model, user_id
             ORDER BY day DESC, model, user_id",
        )?;
        let rows = stmt.query_map([since.unwrap_or(i64::MIN)], |r| {
            Ok(SpendRow {
                day: r.get(0)?,
                model: r.get(1)?,
                user_id: r.get(2)?,
                calls: count(r.get(3)?),
                failed: count(r.get(4)?),
                reserved: count(r.get(5)?),
                prompt_tokens: count(r.get(6)?),
                cached_tokens: count(r.get(7)?),
                completion_tokens: count(r.get(8)?),
                cost_usd: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What was spent in the UTC day and month of `now`: globally (`None`, every user included) or by one user.
    fn spent(&self, user_id: Option<&str>, now: i64) -> Result<Spent, StoreError> {
        let conn = self.conn();
        let (day, month) = day_and_month(&conn, now)?;
        let spent = match user_id {
            None => Spent { day_usd: sum_day(&conn, &day)?, month_usd: sum_month(&conn, &month)? },
            Some(user) => {
                Spent { day_usd: sum_user_day(&conn, user, &day)?, month_usd: sum_user_month(&conn, user, &month)? }
            }
        };
        Ok(spent)
    }
}

/// The estimate of a reservation, once it and every cap set are amounts the arithmetic can use.
pub(crate) fn check_reservation(estimate_usd: f64, caps: &Caps) -> Result<f64, StoreError> {
    let estimate = check_amount("the estimated cost of an LLM call", estimate_usd)?;
    for (kind, cap) in [
        (CapKind::Daily, caps.daily_usd),
        (CapKind::Monthly, caps.monthly_usd),
        (CapKind::UserDaily, caps.user_daily_usd),
        (CapKind::UserMonthly, caps.user_monthly_usd),
    ] {
        if let Some(limit) = cap {
            check_amount(cap_name(kind), limit)?;
        }
    }
    Ok(estimate)
}

/// The caps a reservation by `user_id` is checked against, with the window each sums over. The local user (`None`)
/// has no per-user caps: it is the operator.
pub(crate) fn cap_windows<'a>(caps: &Caps, user_id: Option<&'a str>) -> Vec<(CapKind, Option<f64>, Window<'a>)> {
    let mut checks =
        vec![(CapKind::Daily, caps.daily_usd, Window::Day), (CapKind::Monthly, caps.monthly_usd, Window::Month)];
    if let Some(user) = user_id {
        checks.push((CapKind::UserDaily, caps.user_daily_usd, Window::UserDay(user)));
        checks.push((CapKind::UserMonthly, caps.user_monthly_usd, Window::UserMonth(user)));
    }
    checks
}

/// The window a cap sums over.
#[derive(Clone, Copy)]
pub(crate) enum Window<'a> {
    Day,
    Month,
    UserDay(&'a str),
    UserMonth(&'a str),
}

fn cap_name(kind: CapKind) -> &'static str {
    match kind {
        CapKind::Daily => "the daily budget",
        CapKind::Monthly => "the monthly budget",
        CapKind::UserDaily => "the per-user daily budget",
        CapKind::UserMonthly => "the per-user monthly budget",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};
    use std::thread;

    use super::*;
    use crate::Label;
    use crate::store::HistoryStore;
    use crate::store::{NewHistory, sample_analysis};

    /// 2024-01-15 12:00:00 UTC.
    const NOW: i64 = 1_705_320_000;
    const JAN_15_LAST_SECOND: i64 = 1_705_363_199;
    const JAN_16_FIRST_SECOND: i64 = 1_705_363_200;
    const JAN_31_LAST_SECOND: i64 = 1_706_745_599;
    const FEB_1_FIRST_SECOND: i64 = 1_706_745_600;

    fn store() -> SqliteStore {
        SqliteStore::open_in_memory().expect("in-memory store")
    }

    fn reserved(r: Reserve) -> i64 {
        match r {
            Reserve::Reserved(id) => id,
            other => panic!("expected a reservation, got {other:?}"),
        }
    }

    fn reached(r: Reserve) -> CapKind {
        match r {
            Reserve::CapReached { cap, .. } => cap,
            other => panic!("expected a cap to be reached, got {other:?}"),
        }
    }

    #[test]
    fn each_kind_of_cap_stops_a_reservation() {
        let cases = [
            (CapKind::Daily, Caps { daily_usd: Some(1.0), ..Caps::default() }),
            (CapKind::Monthly, Caps { monthly_usd: Some(1.0), ..Caps::default() }),
            (CapKind::UserDaily, Caps { user_daily_usd: Some(1.0), ..Caps::default() }),
            (CapKind::UserMonthly, Caps { user_monthly_usd: Some(1.0), ..Caps::default() }),
        ];
        for (kind, caps) in cases {
            let s = store();
            // Ten calls of $0.10 fit a $1.00 cap exactly, despite 0.1 not being exact in binary.
            for i in 0..10 {
                reserved(s.spend_reserve(Some("u1"), "m", 0.1, &caps, NOW + i).expect("reserve"));
            }
            let refused = s.spend_reserve(Some("u1"), "m", 0.1, &caps, NOW + 10).expect("reserve");
            match refused {
                Reserve::CapReached { cap, spent_usd, limit_usd } => {
                    assert_eq!(cap, kind);
                    assert!((spent_usd - 1.0).abs() < 1e-9, "{spent_usd}");
                    assert!((limit_usd - 1.0).abs() < f64::EPSILON);
                }
                other => panic!("{kind:?}: expected the cap to be reached, got {other:?}"),
            }
            // A refusal writes nothing.
            let calls: u64 = s.spend_report(None).expect("report").iter().map(|r| r.calls).sum();
            assert_eq!(calls, 10, "{kind:?}");
        }
    }

    #[test]
    fn a_users_cap_does_not_stop_another_user_or_the_local_user() {
        let s = store();
        let caps = Caps { user_daily_usd: Some(0.5), user_monthly_usd: Some(0.5), ..Caps::default() };
        reserved(s.spend_reserve(Some("u1"), "m", 0.5, &caps, NOW).expect("reserve"));
        assert_eq!(reached(s.spend_reserve(Some("u1"), "m", 0.01, &caps, NOW).expect("reserve")), CapKind::UserDaily);
        reserved(s.spend_reserve(Some("u2"), "m", 0.5, &caps, NOW).expect("reserve"));
        reserved(s.spend_reserve(None, "m", 5.0, &caps, NOW).expect("reserve"));
        // But the global cap counts everyone.
        let global = Caps { daily_usd: Some(6.0), ..caps };
        assert_eq!(reached(s.spend_reserve(Some("u3"), "m", 0.01, &global, NOW).expect("reserve")), CapKind::Daily);
    }

    #[test]
    fn a_single_call_above_the_cap_is_refused_on_an_empty_ledger() {
        let s = store();
        let caps = Caps { daily_usd: Some(0.05), ..Caps::default() };
        assert_eq!(reached(s.spend_reserve(None, "m", 0.06, &caps, NOW).expect("reserve")), CapKind::Daily);
        reserved(s.spend_reserve(None, "m", 0.05, &caps, NOW).expect("reserve"));
    }

    #[test]
    fn days_roll_over_at_utc_midnight_and_months_keep_counting() {
        let s = store();
        let caps = Caps { daily_usd: Some(1.0), monthly_usd: Some(1.5), ..Caps::default() };
        reserved(s.spend_reserve(None, "m", 1.0, &caps, JAN_15_LAST_SECOND).expect("reserve"));
        assert_eq!(reached(s.spend_reserve(None, "m", 0.5, &caps, JAN_15_LAST_SECOND).expect("r")), CapKind::Daily);
        reserved(s.spend_reserve(None, "m", 0.5, &caps, JAN_16_FIRST_SECOND).expect("next day"));
        assert_eq!(reached(s.spend_reserve(None, "m", 0.1, &caps, JAN_16_FIRST_SECOND).expect("r")), CapKind::Monthly);
        let jan16 = s.spent(None, JAN_16_FIRST_SECOND).expect("spent");
        assert_eq!(jan16, Spent { day_usd: 0.5, month_usd: 1.5 });
    }

    #[test]
    fn months_roll_over_at_utc_midnight() {
        let s = store();
        let caps = Caps { monthly_usd: Some(1.0), user_monthly_usd: Some(1.0), ..Caps::default() };
        reserved(s.spend_reserve(Some("u1"), "m", 1.0, &caps, JAN_31_LAST_SECOND).expect("reserve"));
        assert_eq!(
            reached(s.spend_reserve(Some("u2"), "m", 0.5, &caps, JAN_31_LAST_SECOND).expect("r")),
            CapKind::Monthly
        );
        reserved(s.spend_reserve(Some("u1"), "m", 1.0, &caps, FEB_1_FIRST_SECOND).expect("next month"));
        assert_eq!(s.spent(Some("u1"), FEB_1_FIRST_SECOND).expect("spent"), Spent { day_usd: 1.0, month_usd: 1.0 });
        assert_eq!(s.spent(Some("u1"), JAN_31_LAST_SECOND).expect("spent"), Spent { day_usd: 1.0, month_usd: 1.0 });
        // The user's month is every day of it, not only the last one.
        let mid_jan = s.spend_reserve(Some("u1"), "m", 0.25, &Caps::default(), NOW).expect("reserve");
        s.spend_settle(reserved(mid_jan), true, Tokens::default(), 0.25).expect("settle");
        assert_eq!(s.spent(Some("u1"), JAN_31_LAST_SECOND).expect("spent"), Spent { day_usd: 1.0, month_usd: 1.25 });
    }

    #[test]
    fn settling_replaces_the_estimate_and_unsettled_reservations_keep_counting() {
        let s = store();
        let caps = Caps { daily_usd: Some(1.5), ..Caps::default() };
        let first = reserved(s.spend_reserve(None, "m", 1.0, &caps, NOW).expect("reserve"));
        // Unsettled, the estimate blocks a second call.
        assert_eq!(reached(s.spend_reserve(None, "m", 1.0, &caps, NOW).expect("reserve")), CapKind::Daily);
        let tokens = Tokens { prompt: 1200, cached: 200, completion: 80 };
        s.spend_settle(first, true, tokens, 0.25).expect("settle");
        let second = reserved(s.spend_reserve(None, "m", 1.0, &caps, NOW).expect("reserve"));
        s.spend_settle(second, false, Tokens::default(), 0.0).expect("settle failed");
        // The third is left unsettled, as if the process crashed mid-call.
        reserved(s.spend_reserve(None, "m", 1.0, &caps, NOW).expect("reserve"));
        assert_eq!(s.spent(None, NOW).expect("spent").day_usd, 1.25);

        let report = s.spend_report(None).expect("report");
        assert_eq!(
            report,
            [SpendRow {
                day: "2024-01-15".into(),
                model: "m".into(),
                user_id: None,
                calls: 3,
                failed: 1,
                reserved: 1,
                prompt_tokens: 1200,
                cached_tokens: 200,
                completion_tokens: 80,
                cost_usd: 1.25,
            }]
        );
        let err = s.spend_settle(first, true, tokens, 0.25).expect_err("settled twice");
        assert!(matches!(err, StoreError::Reservation(id) if id == first), "{err:?}");
        assert!(matches!(s.spend_settle(9999, true, tokens, 0.0), Err(StoreError::Reservation(9999))));
    }

    #[test]
    fn amounts_that_would_break_the_arithmetic_are_refused() {
        let s = store();
        for bad in [f64::NAN, f64::INFINITY, -0.01] {
            let err = s.spend_reserve(None, "m", bad, &Caps::default(), NOW).expect_err("bad estimate");
            assert!(matches!(err, StoreError::Amount { .. }), "{err:?}");
            let caps = Caps { daily_usd: Some(bad), ..Caps::default() };
            let err = s.spend_reserve(None, "m", 0.1, &caps, NOW).expect_err("bad cap");
            assert!(matches!(err, StoreError::Amount { .. }), "{err:?}");
        }
        let id = reserved(s.spend_reserve(None, "m", 0.1, &Caps::default(), NOW).expect("reserve"));
        assert!(matches!(s.spend_settle(id, true, Tokens::default(), f64::NAN), Err(StoreError::Amount { .. })));
        assert!(s.spend_report(None).expect("report").iter().all(|r| r.calls == 1));
    }

    #[test]
    fn report_groups_by_day_model_and_user_newest_first() {
        let s = store();
        let none = Caps::default();
        for (user, model, at) in [
            (None, "a", NOW),
            (None, "a", NOW + 60),
            (Some("u1"), "a", NOW),
            (None, "b", NOW),
            (None, "a", JAN_16_FIRST_SECOND),
        ] {
            let id = reserved(s.spend_reserve(user, model, 0.5, &none, at).expect("reserve"));
            s.spend_settle(id, true, Tokens { prompt: 10, cached: 0, completion: 1 }, 0.25).expect("settle");
        }
        let keys: Vec<_> = s
            .spend_report(None)
            .expect("report")
            .into_iter()
            .map(|r| (r.day, r.model, r.user_id, r.calls, r.prompt_tokens, r.cost_usd))
            .collect();
        let row = |day: &str, model: &str, user: Option<&str>, calls, prompt, cost| {
            (day.to_owned(), model.to_owned(), user.map(str::to_owned), calls, prompt, cost)
        };
        assert_eq!(
            keys,
            [
                row("2024-01-16", "a", None, 1, 10, 0.25),
                row("2024-01-15", "a", None, 2, 20, 0.5),
                row("2024-01-15", "a", Some("u1"), 1, 10, 0.25),
                row("2024-01-15", "b", None, 1, 10, 0.25),
            ]
        );
        let since: Vec<_> = s.spend_report(Some(NOW + 1)).expect("report").into_iter().map(|r| r.day).collect();
        assert_eq!(since, ["2024-01-16", "2024-01-15"]);
    }

    #[test]
    fn budget_sums_use_their_indexes() {
        let s = store();
        let conn = s.conn();
        for (sql, index) in [
            (SUM_DAY, "spend_day (day=?)"),
            (SUM_MONTH, "spend_month (month=?)"),
            (SUM_USER_DAY, "spend_user_day (user_id=? AND day=?)"),
            (SUM_USER_MONTH, "spend_user_day (user_id=? AND day>? AND day<?)"),
        ] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("prepare");
            let n = stmt.parameter_count();
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(std::iter::repeat_n("x", n)), |r| r.get(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("plan rows");
            let plan = plan.join("\n");
            assert!(plan.contains(index), "{sql}:\n{plan}");
        }
    }

    /// Separate connections (as separate processes or bridge workers have) racing for the same budget: every
    /// call must succeed without "database is locked", and exactly as many reservations as the cap allows win.
    #[test]
    fn concurrent_workers_never_overspend() {
        const THREADS: usize = 8;
        const ROUNDS: usize = 50;
        const ALLOWED: usize = 150;
        const PRICE: f64 = 0.25; // Exact in binary, so the cap allows exactly ALLOWED calls.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join("redflag.db");
        let caps = Caps { daily_usd: Some(PRICE * ALLOWED as f64), ..Caps::default() };
        let start = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (path, start) = (path.clone(), Arc::clone(&start));
                thread::spawn(move || -> Result<usize, StoreError> {
                    // Opening races too: the first opener creates the file and migrates it.
                    start.wait();
                    let s = SqliteStore::open(&path)?;
                    let analysis = sample_analysis(Label::Scam, &["upfront-fee"], None);
                    let user = format!("user-{t}");
                    let mut won = 0;
                    for round in 0..ROUNDS {
                        let now = NOW + i64::try_from(round).unwrap_or(0);
                        if let Reserve::Reserved(id) = s.spend_reserve(Some(&user), "m", PRICE, &caps, now)? {
                            won += 1;
                            s.spend_settle(id, true, Tokens { prompt: 100, cached: 0, completion: 10 }, PRICE)?;
                        }
                        s.history_add(&NewHistory {
                            created_at: now,
                            channel: "whatsapp",
                            user_id: Some(&user),
                            input_hash: "hash",
                            redacted_text: "text",
                            indicators: &[],
                            analysis: &analysis,
                            cost_usd: PRICE,
                        })?;
                    }
                    Ok(won)
                })
            })
            .collect();
        let mut won = 0;
        for worker in workers {
            won += worker.join().expect("worker thread panicked").expect("no store error in any worker");
        }
        assert_eq!(won, ALLOWED);
        let s = SqliteStore::open(&path).expect("reopen");
        assert_eq!(s.spent(None, NOW).expect("spent").day_usd, PRICE * ALLOWED as f64);
        let history = s
            .history_list(&crate::store::HistoryQuery { owner: crate::store::Owner::Anyone, ..Default::default() })
            .expect("history");
        assert_eq!(history.len(), THREADS * ROUNDS);
    }
}
