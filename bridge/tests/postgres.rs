//! What only the PostgreSQL store has to get right: several nodes (here, several stores with pools of their own,
//! as separate processes would have) on one database at once, its migrations, and its start-up errors. The
//! behaviour both engines share is `store.rs`.

mod common;

use std::collections::HashMap;
use std::sync::Barrier;

use redflag_bridge::queue::{
    BRIDGE_PG_SCHEMA, Channel, Coalesce, Enqueued, NewMessage, Outcome, PgQueue, Queue, Quota, Reply, Users, Work,
};

const C: Coalesce = Coalesce { quiet_ms: 0, max_wait_ms: 0, max_messages: 10, max_send_claims: 5 };
const LEASE: i64 = 600_000;

fn msg(sid: &str, user: &str, now_ms: i64) -> NewMessage {
    NewMessage {
        channel: Channel::WhatsApp,
        dedupe_key: sid.into(),
        idempotency_key: None,
        user_key: user.into(),
        reply_to: Some(user.into()),
        body: format!("message {sid}"),
        media: false,
        media_url: None,
        now_ms,
    }
}

/// `nodes` stores on one new database, each with its own pool, migrated concurrently as nodes starting together
/// would.
fn nodes(n: usize) -> Vec<PgQueue> {
    let url = common::postgres::fresh_database();
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    PgQueue::connect(&url).expect("every node starts")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("node thread")).collect()
    })
}

#[test]
fn nodes_starting_together_migrate_once() {
    let nodes = nodes(6);
    let version = nodes[0].pg().schema_version("bridge").expect("version");
    assert_eq!(version, BRIDGE_PG_SCHEMA.version());
    nodes[1].enqueue(&msg("SM1", "u", 0)).expect("the tables exist once");
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let url = common::postgres::fresh_database();
    PgQueue::connect(&url).expect("create");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    admin.execute("UPDATE redflag_schema SET version = 99 WHERE name = 'bridge'", &[]).expect("bump");
    let err = PgQueue::connect(&url).expect_err("refused").to_string();
    assert!(err.contains("at version 99, newer than this build knows"), "{err}");
    assert!(err.contains("upgrade redflag-bridge"), "says what to do: {err}");
}

/// The audit log is append-only in the database itself, TRUNCATE included (it skips row triggers).
#[test]
fn the_audit_log_refuses_changes() {
    use redflag_bridge::audit::AuditEntry;
    use redflag_bridge::queue::Audit;
    let url = common::postgres::fresh_database();
    let q = PgQueue::connect(&url).expect("create");
    q.audit(1, &AuditEntry::new("cli:ops", "key.create").target("partner")).expect("append");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    for statement in ["DELETE FROM bridge_audit", "UPDATE bridge_audit SET actor = 'x'", "TRUNCATE bridge_audit"] {
        let err = admin.batch_execute(statement).expect_err("refused");
        let reason = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(reason.contains("append-only"), "{statement}: {err}");
    }
    assert_eq!(q.audit_log(10).expect("read").len(), 1);
}

#[test]
fn start_up_errors_say_what_is_wrong_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let err = PgQueue::connect(&format!("postgres://redflag:s3cret-pw@127.0.0.1:{port}/redflag"))
        .expect_err("nothing listens there")
        .to_string();
    assert!(err.contains("cannot connect to PostgreSQL at redflag@127.0.0.1:"), "{err}");
    assert!(!err.contains("s3cret-pw"), "the password never shows: {err}");

    let cluster = common::postgres::cluster();
    let err = PgQueue::connect(&format!("postgres://postgres@127.0.0.1:{}/no_such_db", cluster.port))
        .expect_err("no such database")
        .to_string();
    assert!(err.contains("no_such_db") && err.contains("does not exist"), "{err}");

    let err = PgQueue::connect("mysql://x@y/z").expect_err("not postgres").to_string();
    assert!(err.contains("postgres://USER:PASSWORD@HOST:5432/DATABASE"), "{err}");
}

#[test]
fn a_user_without_create_is_told_what_to_grant() {
    let url = common::postgres::fresh_database();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    // Roles are per cluster: a name of this test's own.
    let role = format!("limited_{}", std::process::id());
    admin
        .batch_execute(&format!("CREATE ROLE {role} LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        .expect("a role");
    let limited = url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let err = PgQueue::connect(&limited).expect_err("cannot create tables").to_string();
    assert!(err.contains("may not change the schema") && err.contains("grant it CREATE"), "{err}");
}

#[test]
fn one_webhook_delivered_to_every_node_is_queued_once() {
    let nodes = nodes(3);
    let barrier = Barrier::new(nodes.len() * 2);
    let wins: usize = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .flat_map(|node| [node, node])
            .map(|node| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    (0..50)
                        .filter(|i| {
                            matches!(node.enqueue(&msg(&format!("SM{i}"), "u", 0)).expect("enqueue"), Enqueued::New(_))
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    assert_eq!(wins, 50, "each of 50 messages delivered six times over three nodes is queued exactly once");
}

/// Workers on three nodes drain 300 messages from 60 senders at once: every message is analysed exactly once, no
/// sender ever has two groups in analysis, and every reply is sent.
#[test]
fn workers_on_several_nodes_claim_each_message_once() {
    let nodes = nodes(3);
    for i in 0..300 {
        nodes[i % 3].enqueue(&msg(&format!("SM{i}"), &format!("sender{}", i % 60), 0)).expect("enqueue");
    }
    let analysed: Vec<(String, Vec<i64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..9)
            .map(|w| {
                let node = &nodes[w % 3];
                s.spawn(move || {
                    let owner = format!("node{}-w{w}", w % 3);
                    let mut mine = Vec::new();
                    while let Some(work) = node.claim(&owner, 1_000, LEASE, C).expect("claim") {
                        match work {
                            Work::Analyse(group) => {
                                let ids: Vec<i64> = group.iter().map(|j| j.id).collect();
                                let reply = Reply { parts: vec!["verdict".into()], template: false };
                                node.store_reply(&owner, &ids, &reply, 1_000, 1_000 + LEASE).expect("store");
                                // The worker that stored the reply sends it, as the bridge's workers do.
                                node.part_sent(&owner, ids[0], 0, &format!("SMout{}", ids[0]), 1_000).expect("sent");
                                node.finish(&owner, &[ids[0]], Outcome::Done, None, 1_000).expect("finish");
                                mine.push((group[0].user_key.clone(), ids));
                            }
                            Work::Send(job) => {
                                node.part_sent(&owner, job.id, 0, &format!("SMout{}", job.id), 1_000).expect("sent");
                                node.finish(&owner, &[job.id], Outcome::Done, None, 1_000).expect("finish");
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker")).collect()
    });
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (_, ids) in &analysed {
        for id in ids {
            *seen.entry(*id).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), 300, "every message analysed");
    assert!(seen.values().all(|&n| n == 1), "none twice");
    // Each sender's five messages were waiting together, so each sender is one group: a second group would mean
    // two nodes claimed the same sender at once.
    let mut groups: HashMap<&str, usize> = HashMap::new();
    for (user, _) in &analysed {
        *groups.entry(user).or_default() += 1;
    }
    assert!(groups.values().all(|&n| n == 1), "one group per sender: {groups:?}");
    assert_eq!(nodes[0].depth(1_000).expect("depth").pending, 0, "every reply sent");
}

#[test]
fn the_daily_quota_is_exact_across_nodes() {
    let nodes = nodes(2);
    let barrier = Barrier::new(8);
    let answers: Vec<Quota> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (node, barrier) = (&nodes[t % 2], &barrier);
                s.spawn(move || {
                    barrier.wait();
                    (0..25)
                        .map(|_| node.count_analysis("whatsapp:+15550001", 1_000, 50).expect("count"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("thread")).collect()
    });
    let count = |q: Quota| answers.iter().filter(|a| **a == q).count();
    assert_eq!(count(Quota::Allowed), 50, "exactly the quota, over 200 concurrent requests on two nodes");
    assert_eq!(count(Quota::JustExceeded), 1, "told once");
    assert_eq!(count(Quota::Exceeded), 149);
}

#[test]
fn a_queued_message_wakes_listeners_on_every_node() {
    let nodes = nodes(2);
    let (tx, rx) = std::sync::mpsc::channel();
    // Listening has begun when `listen` returns.
    nodes[1]
        .listen(move || {
            let _ = tx.send(());
        })
        .expect("listen");
    assert!(rx.try_recv().is_err(), "nothing queued yet");
    nodes[0].enqueue(&msg("SM1", "u", 0)).expect("enqueue");
    rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the other node is woken by the enqueue");
}

/// The last handle on a store may go on an async runtime's thread (a bridge shutting down, a benchmark): its
/// connections are closed on a thread of their own, since the synchronous client cannot block there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_dropped_on_the_async_runtime_closes_cleanly() {
    let url = common::postgres::fresh_database();
    let queue = tokio::task::spawn_blocking(move || {
        let queue = PgQueue::connect(&url).expect("connect");
        // Used, so the pool holds idle connections that must be closed; and old enough that the pool's own
        // start-up jobs have let go of it, so the last reference is this test's.
        queue.depth(0).expect("depth");
        std::thread::sleep(std::time::Duration::from_millis(500));
        queue
    })
    .await
    .expect("join");
    drop(queue);
}

/// The bridge's connections commit synchronously whatever the server's default (this test cluster's is `off`): a
/// webhook is acknowledged only once its row is on disk (`pg_outage.rs` shows what `off` loses).
#[test]
fn commits_are_synchronous_whatever_the_server_default() {
    let queue = PgQueue::connect(&common::postgres::fresh_database()).expect("connect");
    let mut conn = queue.pg().conn().expect("a connection");
    let setting: String = conn.query_one("SHOW synchronous_commit", &[]).expect("show").get(0);
    assert_eq!(setting, "on");
}
