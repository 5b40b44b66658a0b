//! The SQLite queue's own cases: a file shared with the core's store and other processes. What both engines
//! must do alike is `bridge/tests/store.rs`.

use std::sync::Arc;

use super::*;

fn q() -> SqliteQueue {
    SqliteQueue::open_in_memory().expect("an in-memory queue")
}

fn msg(sid: &str, user: &str, body: &str, now_ms: i64) -> NewMessage {
    NewMessage {
        channel: Channel::WhatsApp,
        dedupe_key: sid.into(),
        idempotency_key: None,
        user_key: user.into(),
        reply_to: Some(user.into()),
        body: body.into(),
        media: false,
        media_url: None,
        now_ms,
    }
}

#[test]
fn concurrent_deliveries_of_one_message_queue_it_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("q.db");
    SqliteQueue::open(&path).expect("create");
    let wins: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                s.spawn(move || {
                    let q = SqliteQueue::open(&path).expect("open");
                    (0..50)
                        .filter(|i| {
                            let sid = format!("SM{i}");
                            matches!(q.enqueue(&msg(&sid, "u", "b", 0)).expect("no lock errors"), Enqueued::New(_))
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    assert_eq!(wins, 50, "each of 50 messages delivered 8 times is queued exactly once");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("q.db");
    SqliteQueue::open(&path).expect("create");
    let conn = Connection::open(&path).expect("open");
    conn.execute("UPDATE redflag_schema SET version = 99 WHERE name = 'bridge'", []).expect("bump");
    drop(conn);
    let err = SqliteQueue::open(&path).expect_err("refused");
    assert!(err.to_string().contains("newer Redflag (bridge schema 99"), "{err}");
}

#[test]
fn shares_the_file_with_the_core_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("redflag.db");
    let core = Arc::new(redflag::store::SqliteStore::open(&path).expect("core store"));
    let q = SqliteQueue::open(&path).expect("queue on the same file");
    q.enqueue(&msg("m", "u", "t", 0)).expect("enqueue");
    assert_eq!(core.schema_version().expect("version"), redflag::store::CORE_SCHEMA.version());
    drop(q);
    SqliteQueue::open(&path).expect("reopen keeps the schema");
}

#[test]
fn the_core_store_and_the_queue_share_one_connection() {
    let q = q();
    let core = redflag::store::SqliteStore::on(Arc::clone(q.db())).expect("the core's tables on the same database");
    // An in-memory database is private to its connection: what the core writes shows through the queue's
    // handle only if they are one.
    redflag::store::EscalationState::disable_llm(&core, "fingerprint", "test", 1).expect("a core write");
    let rows: i64 =
        q.db().conn().query_row("SELECT COUNT(*) FROM llm_disabled", [], |r| r.get(0)).expect("the core's table");
    assert_eq!(rows, 1);
    assert_eq!(core.schema_version().expect("core"), redflag::store::CORE_SCHEMA.version());
    assert_eq!(q.db().schema_version("bridge").expect("bridge"), crate::queue::BRIDGE_SCHEMA.version());
}

/// Webhooks arrive on many threads at once through one queue handle, as the bridge's blocking pool sends them:
/// the writer thread commits them in batches, and each caller still gets its own answer, duplicates included.
#[test]
fn concurrent_enqueues_through_one_handle_are_answered_each() {
    let q = q();
    let answers: Vec<Enqueued> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|t| {
                let q = &q;
                s.spawn(move || {
                    // Each of 100 messages is delivered by two threads.
                    (0..100)
                        .map(|i| q.enqueue(&msg(&format!("SM{}", (t / 2) * 100 + i), "u", "b", 0)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("thread")).map(|r| r.expect("enqueue")).collect()
    });
    let new = answers.iter().filter(|a| matches!(a, Enqueued::New(_))).count();
    assert_eq!((new, answers.len() - new), (800, 800), "800 messages, each queued once and refused once");
    assert_eq!(q.depth(0).expect("depth").pending, 800);
}
