//! The real `redflag-bridge` binary answering Twilio webhooks end to end, against a fake Twilio REST API on
//! loopback (issue #5).

mod common;

use std::time::Duration;

use common::bridge::{Bridge, OUR_NUMBER, PUBLIC_URL, eventually, post_signed_at, settings};
use common::fake_twilio::{self, Failure, FakeTwilio};
use redflag::store::HistoryStore;
use redflag_bridge::queue::{Queue, State};

const SCAM: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                    $300/day. Pay a 50 USDT deposit to unlock tasks. Contact our HR on WhatsApp";
const USER: &str = "whatsapp:+14155550123";
const WAIT: Duration = Duration::from_secs(30);

/// Every sender's checks: the operator's view of the bridge's file.
fn everyones() -> redflag::store::HistoryQuery {
    redflag::store::HistoryQuery { owner: redflag::store::Owner::Anyone, ..Default::default() }
}

fn sid(n: u32) -> String {
    format!("SM{n:032x}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_is_answered_end_to_end() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let response = bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(1), USER, SCAM)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/xml"));
    assert!(response.text().await.expect("body").contains("<Response/>"), "an empty TwiML response");

    let sends = twilio.wait_for_async(1, WAIT).await;
    let reply = &sends[0];
    assert_eq!(reply.to(), Some(USER));
    assert_eq!(reply.param("From"), Some(OUR_NUMBER));
    assert_eq!(reply.auth_user.as_deref(), Some(fake_twilio::ACCOUNT_SID));
    let body = reply.body().expect("a text reply");
    assert!(body.contains("Likely scam"), "{body}");
    assert!(body.chars().count() <= 1600);

    let q = bridge.queue();
    let done = eventually(WAIT, || {
        let jobs = q.jobs(None, 10).expect("jobs");
        (jobs.len() == 1 && jobs[0].state == State::Done).then_some(jobs[0].id)
    })
    .await
    .expect("the job is done");
    assert_eq!(q.events(done).expect("events"), [State::Received, State::Analysing, State::Replying, State::Done]);

    // Issue #20: the first reply a sender gets says what is kept about them and how to erase it; later ones do not.
    let notice = "About your data";
    assert!(body.contains(notice) && body.contains("delete my data"), "{body}");
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(3), USER, "Is this one real?")).await;
    let sends = twilio.wait_for_async(2, WAIT).await;
    let second = sends[1].body().expect("text");
    assert!(!second.contains(notice), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_is_answered_from_the_bare_number() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let response = bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(2), "+14155550124", SCAM)).await;
    assert_eq!(response.status(), 200);
    let sends = twilio.wait_for_async(1, WAIT).await;
    assert_eq!(sends[0].to(), Some("+14155550124"));
    assert_eq!(sends[0].param("From"), Some("+14155238886"));
    assert!(sends[0].body().expect("text").contains("LIKELY SCAM"), "SMS style: {:?}", sends[0].body());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_missing_signatures_are_refused_and_nothing_is_queued() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let form = Bridge::inbound(&sid(3), USER, SCAM);

    assert_eq!(bridge.post_form("/webhooks/twilio", &form, None).await.status(), 403, "missing");
    assert_eq!(bridge.post_form("/webhooks/twilio", &form, Some("AAAA")).await.status(), 403, "wrong");
    let wrong_token = fake_twilio::sign("another-token", &format!("{PUBLIC_URL}/webhooks/twilio"), &form);
    assert_eq!(bridge.post_form("/webhooks/twilio", &form, Some(&wrong_token)).await.status(), 403, "wrong token");
    // Signed over the address the request reached (the Host), not the public URL Twilio calls: refused.
    let host_signed = fake_twilio::sign(fake_twilio::AUTH_TOKEN, &format!("{}/webhooks/twilio", bridge.base), &form);
    assert_eq!(bridge.post_form("/webhooks/twilio", &form, Some(&host_signed)).await.status(), 403, "host URL");
    // A valid signature over other parameters than the ones posted.
    let mut tampered = form.clone();
    let good = fake_twilio::sign(fake_twilio::AUTH_TOKEN, &format!("{PUBLIC_URL}/webhooks/twilio"), &form);
    tampered[5].1 = "Totally legit job".into();
    assert_eq!(bridge.post_form("/webhooks/twilio", &tampered, Some(&good)).await.status(), 403, "tampered");

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bridge.queue().jobs(None, 10).expect("jobs").is_empty(), "nothing queued");
    assert!(twilio.messages().is_empty(), "nothing sent");
    let metrics = reqwest::get(format!("{}/metrics", bridge.base)).await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.contains(r#"redflag_bridge_webhooks_total{channel="twilio",outcome="bad_signature"} 5"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_get_one_reply() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let form = Bridge::inbound(&sid(4), USER, SCAM);
    // Twilio's retries of one event, some of them concurrent with the first delivery.
    let posts: Vec<_> = (0..6)
        .map(|_| {
            let (base, form) = (bridge.base.clone(), form.clone());
            tokio::spawn(async move { post_signed_at(&base, "/webhooks/twilio", &form).await.status() })
        })
        .collect();
    for post in posts {
        assert_eq!(post.await.expect("task"), 200);
    }
    twilio.wait_for_async(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(twilio.messages().len(), 1, "one reply for six deliveries");
    assert_eq!(bridge.queue().jobs(None, 10).expect("jobs").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_burst_is_analysed_together() {
    let twilio = FakeTwilio::start();
    // A quiet period well above a loaded CI machine's gap between the posts below.
    let bridge = Bridge::start(&settings(&twilio, "").replace("coalesce_quiet_ms = 150", "coalesce_quiet_ms = 1500"));
    let pieces = [
        "Hello! Our company is hiring online part-time workers.",
        "Like and rate hotels on Google, earn $300/day.",
        "Pay a 50 USDT deposit to unlock tasks.",
    ];
    for (i, piece) in pieces.iter().enumerate() {
        let r = bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(10 + i as u32), USER, piece)).await;
        assert_eq!(r.status(), 200);
    }
    twilio.wait_for_async(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sends = twilio.messages();
    assert_eq!(sends.len(), 1, "one reply for the burst: {sends:#?}");
    let body = sends[0].body().expect("text");
    // Flags from different pieces in one verdict show they were analysed as one text.
    assert!(body.contains("rate hotels") && body.contains("deposit"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_go_to_review_without_retrying() {
    let twilio = FakeTwilio::start();
    twilio.fail_to(USER, Failure::unsubscribed());
    let bridge = Bridge::start(&settings(&twilio, ""));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(20), USER, SCAM)).await;
    let q = bridge.queue();
    let job = eventually(WAIT, || q.jobs(Some(State::Review), 10).expect("jobs").into_iter().next())
        .await
        .expect("the message goes to manual review");
    assert!(job.reason.as_deref().unwrap_or("").contains("21610"), "{job:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(twilio.messages().len(), 1, "a permanent error is not retried");
    let out = bridge.command(&["jobs", "--state", "review"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("21610"), "the operator sees the reason");

    // The person reviewing it reads the message, its reason and its history.
    let shown = String::from_utf8_lossy(&bridge.command(&["jobs", "show", &job.id.to_string()]).stdout).into_owned();
    assert!(shown.contains("rate hotels") && shown.contains("21610"), "{shown}");
    assert!(shown.contains("received -> analysing -> replying -> review"), "{shown}");

    // Issue #20: the review list no longer only grows. The person opted back in (START), so the operator requeues
    // it: the stored reply goes out. A second message in review is resolved: done, its text forgotten.
    twilio.clear_failures();
    let requeued = bridge.command(&["jobs", "requeue", &job.id.to_string()]);
    assert!(requeued.status.success(), "{}", String::from_utf8_lossy(&requeued.stderr));
    assert_eq!(String::from_utf8_lossy(&requeued.stdout).trim(), format!("{}\treplying", job.id));
    eventually(WAIT, || (q.jobs(Some(State::Done), 10).expect("jobs").len() == 1).then_some(())).await.expect("sent");
    assert!(twilio.sent().iter().any(|m| m.to() == Some(USER) && m.body().is_some_and(|b| b.contains("scam"))));

    twilio.fail_to("+14155550166", Failure::invalid_number());
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(21), "+14155550166", "Is this real?")).await;
    let second = eventually(WAIT, || q.jobs(Some(State::Review), 10).expect("jobs").into_iter().next())
        .await
        .expect("the second goes to review");
    let resolved = bridge.command(&["jobs", "resolve", &second.id.to_string(), "--note", "number does not exist"]);
    assert!(resolved.status.success(), "{}", String::from_utf8_lossy(&resolved.stderr));
    assert!(q.jobs(Some(State::Review), 10).expect("jobs").is_empty());
    let text: String = rusqlite::Connection::open(bridge.db())
        .expect("open")
        .query_row("SELECT body FROM bridge_jobs WHERE id = ?1", [second.id], |r| r.get(0))
        .expect("the row");
    assert_eq!(text, "", "a resolved message's text is forgotten");
    // A message not in review is named, and the command fails.
    let again = bridge.command(&["jobs", "resolve", &second.id.to_string()]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains(&second.id.to_string()));
    let audit = String::from_utf8_lossy(&bridge.command(&["audit"]).stdout).into_owned();
    assert!(audit.contains("job.requeue") && audit.contains("job.resolve"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_errors_are_retried_with_backoff() {
    let twilio = FakeTwilio::start();
    twilio.fail_next(1, Failure::RateLimited { retry_after: None });
    twilio.fail_next(1, Failure::ServerError);
    let bridge = Bridge::start(&settings(&twilio, ""));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(21), USER, SCAM)).await;
    let sends = twilio.wait_for_async(3, WAIT).await;
    assert_eq!(twilio.sent().len(), 1, "taken on the third try");
    assert!(sends[1].at >= sends[0].at + Duration::from_millis(70), "a pause before retrying");
    let q = bridge.queue();
    eventually(WAIT, || q.jobs(Some(State::Done), 10).expect("jobs").into_iter().next()).await.expect("done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_after_max_attempts() {
    let twilio = FakeTwilio::start();
    twilio.fail_to(USER, Failure::ServerError);
    let bridge = Bridge::start(&settings(&twilio, ""));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(22), USER, SCAM)).await;
    let q = bridge.queue();
    let job = eventually(WAIT, || q.jobs(Some(State::Failed), 10).expect("jobs").into_iter().next())
        .await
        .expect("given up as failed");
    assert_eq!(twilio.messages().len(), 4, "max_attempts = 4");
    assert!(job.reason.as_deref().unwrap_or("").contains("20500"), "{job:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_24_hour_window_the_template_is_sent() {
    let twilio = FakeTwilio::start();
    twilio.fail_next(1, Failure::outside_window());
    let bridge = Bridge::start(&settings(&twilio, "").replace(
        "status_callbacks = false",
        "status_callbacks = false\ntemplate_content_sid = \"HXb5b62575e6e4ff6129ad7c8efe1f983e\"",
    ));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(23), USER, SCAM)).await;
    let sends = twilio.wait_for_async(2, WAIT).await;
    assert!(sends[0].body().is_some(), "free-form first");
    assert_eq!(sends[1].param("ContentSid"), Some("HXb5b62575e6e4ff6129ad7c8efe1f983e"));
    assert_eq!(sends[1].body(), None, "the template replaces the free-form text");
    let q = bridge.queue();
    eventually(WAIT, || q.jobs(Some(State::Done), 10).expect("jobs").into_iter().next()).await.expect("done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_window_without_a_template_goes_to_review() {
    let twilio = FakeTwilio::start();
    twilio.fail_next(1, Failure::outside_window());
    let bridge = Bridge::start(&settings(&twilio, ""));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(24), USER, SCAM)).await;
    let q = bridge.queue();
    let job =
        eventually(WAIT, || q.jobs(Some(State::Review), 10).expect("jobs").into_iter().next()).await.expect("review");
    assert!(job.reason.as_deref().unwrap_or("").contains("template"), "{job:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_quota_is_told_once() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, "[limits]\ndaily_quota = 2\n"));
    for i in 0..4u32 {
        bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(30 + i), USER, &format!("{SCAM} #{i}"))).await;
        // Wait for each to be handled, so they are not coalesced into one analysis.
        let q = bridge.queue();
        eventually(WAIT, || {
            let pending = q.depth(i64::MAX / 2).expect("depth").pending;
            (pending == 0).then_some(())
        })
        .await
        .expect("handled");
    }
    let bodies: Vec<String> = twilio.messages().iter().filter_map(|m| m.body().map(str::to_string)).collect();
    assert_eq!(bodies.len(), 3, "two verdicts and one quota notice, then silence: {bodies:#?}");
    assert!(bodies[0].contains("Likely scam") && bodies[1].contains("Likely scam"));
    assert!(bodies[2].to_lowercase().contains("tomorrow"), "{}", bodies[2]);
}

/// Issue #20, findings 1 and 5: "delete my data" used to restart the day's quota (two rounds of two analyses and a
/// delete gave four with `daily_quota = 2`) and let a captured webhook be answered again. The quota now lives under
/// the sender's pseudonym and the erased messages leave hashed tombstones; the history never held the number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_ones_data_neither_restarts_the_quota_nor_reopens_replays() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, "[limits]\ndaily_quota = 2\n"));
    let q = bridge.queue();
    let settle = || async {
        eventually(WAIT, || (q.depth(i64::MAX / 2).expect("depth").pending == 0).then_some(())).await.expect("settled")
    };
    let first = Bridge::inbound(&sid(100), USER, &format!("{SCAM} #1"));
    let steps = [first.clone(), Bridge::inbound(&sid(101), USER, &format!("{SCAM} #2"))];
    for (n, form) in steps.iter().enumerate() {
        bridge.post_signed("/webhooks/twilio", form).await;
        twilio.wait_for_async(n + 1, WAIT).await;
        settle().await;
    }
    let core = redflag::store::SqliteStore::open(&bridge.db()).expect("core store");
    let history = core.history_list(&everyones()).expect("history");
    assert_eq!(history.len(), 2);
    for entry in &history {
        let who = entry.user_id.as_deref().expect("a sender's check names its sender");
        assert!(who.starts_with("p:") && !who.contains("4155550123"), "the history names the number: {who}");
    }

    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(102), USER, "delete my data")).await;
    twilio.wait_for_async(3, WAIT).await;
    settle().await;
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(103), USER, &format!("{SCAM} #3"))).await;
    let sends = twilio.wait_for_async(4, WAIT).await;
    settle().await;
    let bodies: Vec<&str> = sends.iter().filter_map(|s| s.body()).collect();
    assert!(bodies[2].contains("erased"), "{}", bodies[2]);
    assert!(bodies[3].to_lowercase().contains("tomorrow"), "the quota was restarted by the erasure: {}", bodies[3]);

    let jobs = q.jobs(None, 100).expect("jobs").len();
    let replayed = bridge.post_signed("/webhooks/twilio", &first).await;
    assert_eq!(replayed.status(), 200, "a replay is acknowledged like any duplicate");
    tokio::time::sleep(Duration::from_millis(500)).await;
    settle().await;
    assert_eq!(q.jobs(None, 100).expect("jobs").len(), jobs, "the erased message was queued again");
    assert_eq!(twilio.messages().len(), 4, "nothing more was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_sender_rate_limit_drops_floods() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, "[limits]\nrate_per_minute = 1\nrate_burst = 2\n"));
    for i in 0..5u32 {
        let r = bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(40 + i), USER, SCAM)).await;
        assert_eq!(r.status(), 200, "Twilio is never asked to retry a flood");
    }
    // Another sender is not affected.
    let r = bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(49), "whatsapp:+14155550199", SCAM)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(bridge.queue().jobs(None, 10).expect("jobs").len(), 3, "two from the flood, one from the other");
    let metrics = reqwest::get(format!("{}/metrics", bridge.base)).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains(r#"redflag_bridge_limited_total{kind="rate"} 3"#), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_help_media_and_delete_my_data() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let q = bridge.queue();
    let settle = || async {
        eventually(WAIT, || (q.depth(i64::MAX / 2).expect("depth").pending == 0).then_some(())).await.expect("settled")
    };

    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(50), USER, "help")).await;
    twilio.wait_for_async(1, WAIT).await;
    settle().await;
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(51), USER, SCAM)).await;
    twilio.wait_for_async(2, WAIT).await;
    settle().await;
    let mut media = Bridge::inbound(&sid(52), USER, "");
    media.iter_mut().find(|(k, _)| k == "NumMedia").expect("field").1 = "1".into();
    media.push(("MediaUrl0".into(), "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME".into()));
    media.push(("MediaContentType0".into(), "image/jpeg".into()));
    bridge.post_signed("/webhooks/twilio", &media).await;
    twilio.wait_for_async(3, WAIT).await;
    settle().await;

    let core = redflag::store::SqliteStore::open(&bridge.db()).expect("core store");
    let history = core.history_list(&everyones()).expect("history");
    assert_eq!(history.len(), 1, "the verdict was recorded");

    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(53), USER, "Delete my data")).await;
    let sends = twilio.wait_for_async(4, WAIT).await;
    settle().await;
    let bodies: Vec<&str> = sends.iter().filter_map(|s| s.body()).collect();
    assert!(bodies[0].to_lowercase().contains("delete my data"), "help lists the commands: {}", bodies[0]);
    assert!(bodies[1].contains("Likely scam"));
    assert!(bodies[2].to_lowercase().contains("text"), "media needs text for now: {}", bodies[2]);
    assert!(
        bodies[3].to_lowercase().contains("deleted") || bodies[3].to_lowercase().contains("erased"),
        "{}",
        bodies[3]
    );
    assert!(core.history_list(&everyones()).expect("history").is_empty());
    let left = q.jobs(None, 10).expect("jobs");
    assert_eq!(left.len(), 1, "only the confirmation remains: {left:?}");
}

/// The operator's `[privacy] names` reach the history's redaction with no LLM configured too (they used to be
/// applied only on the way to an LLM, so a bridge without one stored them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_redacts_the_operators_names_without_an_llm() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, "[privacy]\nnames = [\"Amara Okafor\"]\n"));
    let text = "Hi Amara Okafor, you are hired. Pay the $85 training fee by Cash App before your first shift.";
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(60), USER, text)).await;
    twilio.wait_for_async(1, WAIT).await;
    let core = redflag::store::SqliteStore::open(&bridge.db()).expect("core store");
    let history = eventually(WAIT, || {
        let rows = core.history_list(&everyones()).expect("history");
        (!rows.is_empty()).then_some(rows)
    })
    .await
    .expect("the check was recorded");
    let stored = &history[0].redacted_text;
    assert!(!stored.contains("Amara") && !stored.contains("Okafor"), "the name was kept: {stored}");
    assert!(stored.contains("training fee"), "the rest of the text is kept: {stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_4xx_never_5xx() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/twilio", bridge.base);

    // No MessageSid, correctly signed.
    let mut form = Bridge::inbound(&sid(60), USER, SCAM);
    form.retain(|(k, _)| k != "MessageSid" && k != "SmsMessageSid");
    assert_eq!(bridge.post_signed("/webhooks/twilio", &form).await.status(), 400);
    // JSON instead of a form.
    let r = client.post(&url).header("content-type", "application/json").body("{}").send().await.expect("answer");
    assert_eq!(r.status(), 415);
    // No content type at all.
    let r = client.post(&url).body("Body=x").send().await.expect("answer");
    assert_eq!(r.status(), 415);
    // Invalid UTF-8, raw and percent-encoded.
    for body in [&b"Body=\xff\xfe&MessageSid=SM1"[..], b"Body=%ff%fe&MessageSid=SM1"] {
        let r = client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_vec())
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 400);
    }
    // A huge body.
    let huge = format!("Body={}", "a".repeat(2 * 1024 * 1024));
    // On its own client: the server closes that connection after the 413 without reading the rest, and a pooled
    // connection reused for the next request would race that close.
    let r = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    } // else: the server closed the connection mid-upload, which is also a refusal.
    // Issue #20: the same in chunks, with no Content-Length for the limit layer to refuse up front: still 413.
    assert_eq!(chunked_post(&bridge.base, "/webhooks/twilio", 2 * 1024 * 1024), Some(413));
    // Issue #20: a bad signature on a huge query logs the path and the query's length, not the query.
    let long = format!("{url}?pad={}", "q".repeat(60_000));
    let r = client
        .post(&long)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", "bad")
        .body("Body=hi&MessageSid=SMx")
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 403);
    let longest = eventually(WAIT, || {
        let log = bridge.log();
        log.contains("query_bytes").then(|| log.lines().map(str::len).max().unwrap_or(0))
    })
    .await
    .expect("the rejection is logged");
    assert!(longest < 2_000, "a log line of {longest} characters");
    // Wrong method, unknown route, garbage status callback.
    assert_eq!(client.get(&url).send().await.expect("answer").status(), 405);
    assert_eq!(client.post(format!("{}/nope", bridge.base)).send().await.expect("answer").status(), 404);
    let r = bridge.post_signed("/webhooks/twilio/status", &[("Foo".to_string(), "bar".to_string())]).await;
    assert_eq!(r.status(), 400);
    // An unparseable sender is queued for review, never replied to (no 21211 loops).
    let r = bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(61), "whatsapp:+1", SCAM)).await;
    assert_eq!(r.status(), 200);
    let q = bridge.queue();
    eventually(WAIT, || q.jobs(Some(State::Review), 10).expect("jobs").into_iter().next()).await.expect("review");
    assert!(twilio.messages().is_empty());

    // Still healthy, and nothing was a server error.
    assert_eq!(reqwest::get(format!("{}/healthz", bridge.base)).await.expect("health").status(), 200);
    assert!(!bridge.log().contains("panicked"), "{}", bridge.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_callbacks_move_forward_only_and_are_signed() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let cb = |status: &str| {
        vec![
            ("MessageSid".to_string(), "SMout1".to_string()),
            ("MessageStatus".to_string(), status.to_string()),
            ("AccountSid".to_string(), fake_twilio::ACCOUNT_SID.to_string()),
        ]
    };
    assert_eq!(bridge.post_signed("/webhooks/twilio/status", &cb("delivered")).await.status(), 204);
    assert_eq!(bridge.post_signed("/webhooks/twilio/status", &cb("sent")).await.status(), 204);
    assert_eq!(bridge.post_form("/webhooks/twilio/status", &cb("read"), Some("bad")).await.status(), 403);
    let q = bridge.queue();
    assert!(!q.delivery_status("SMout1", "delivered", 5, None, 0).expect("status"), "delivered was stored, not sent");
    assert!(q.delivery_status("SMout1", "read", 6, None, 0).expect("status"), "the forged read was not stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, ""));
    let r = reqwest::get(format!("{}/healthz", bridge.base)).await.expect("healthz");
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    // Issue #20: a caller's request id is kept only when it is a UUID; anything else is replaced, never echoed.
    let id_of = |sent: &'static str| {
        let url = format!("{}/healthz", bridge.base);
        async move {
            let r = reqwest::Client::new().get(url).header("x-request-id", sent).send().await.expect("healthz");
            r.headers()["x-request-id"].to_str().expect("ascii").to_string()
        }
    };
    let uuid = "0b6f4a4e-6d8e-4a5e-9c1b-2f2d1f0e9a77";
    assert_eq!(id_of(uuid).await, uuid);
    let forged = id_of("abc level=ERROR msg=\"forged\" <script>").await;
    assert!(uuid::Uuid::parse_str(&forged).is_ok(), "a forged id is replaced: {forged}");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let ready: serde_json::Value =
        reqwest::get(format!("{}/readyz", bridge.base)).await.expect("readyz").json().await.expect("json");
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["model"], "loaded");
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(70), USER, SCAM)).await;
    twilio.wait_for_async(1, WAIT).await;
    let metrics = bridge
        .metrics_showing(&[
            r#"redflag_bridge_webhooks_total{channel="whatsapp",outcome="queued"} 1"#,
            "redflag_bridge_analysis_seconds_bucket",
            r#"redflag_bridge_replies_total{channel="whatsapp",outcome="sent",code=""} 1"#,
        ])
        .await;
    assert!(!metrics.contains("14155550123"), "no phone numbers in metrics");
    assert!(!bridge.log().contains("14155550123"), "no phone numbers in logs by default:\n{}", bridge.log());
    assert!(!bridge.log().contains("USDT"), "no message bodies in logs by default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully() {
    let twilio = FakeTwilio::start();
    let mut bridge = Bridge::start(&settings(&twilio, ""));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(80), USER, SCAM)).await;
    twilio.wait_for_async(1, WAIT).await;
    let status = bridge.terminate();
    assert!(status.success(), "exit {status:?}; log:\n{}", bridge.log());
    assert!(bridge.log().contains("redflag-bridge stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_63016_status_callback_sends_the_template() {
    let twilio = FakeTwilio::start();
    let bridge = Bridge::start(&settings(&twilio, "").replace(
        "status_callbacks = false",
        "status_callbacks = false\ntemplate_content_sid = \"HXb5b62575e6e4ff6129ad7c8efe1f983e\"",
    ));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(90), USER, SCAM)).await;
    let first = twilio.wait_for_async(1, WAIT).await;
    let out_sid = first[0].sid().expect("taken").to_string();
    let q = bridge.queue();
    eventually(WAIT, || q.jobs(Some(State::Done), 10).expect("jobs").into_iter().next()).await.expect("done");
    // Twilio took the free-form reply, then reports it failed as outside the window.
    let callback = [("MessageSid", out_sid.as_str()), ("MessageStatus", "undelivered"), ("ErrorCode", "63016")]
        .map(|(k, v)| (k.to_string(), v.to_string()));
    assert_eq!(bridge.post_signed("/webhooks/twilio/status", &callback).await.status(), 204);
    let sends = twilio.wait_for_async(2, WAIT).await;
    assert_eq!(sends[1].param("ContentSid"), Some("HXb5b62575e6e4ff6129ad7c8efe1f983e"));
    assert_eq!(sends[1].to(), Some(USER));
    // A repeated callback does not send the template twice.
    bridge.post_signed("/webhooks/twilio/status", &callback).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(twilio.messages().len(), 2);
}

/// POST `bytes` bytes of form body in 64 KB chunks (`Transfer-Encoding: chunked`) over a plain socket; the status
/// code, or `None` when the server closed the connection before answering.
fn chunked_post(base: &str, path: &str, bytes: usize) -> Option<u16> {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("headers");
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < bytes {
        let wrote = stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|()| stream.write_all(&chunk))
            .and_then(|()| stream.write_all(b"\r\n"));
        if wrote.is_err() {
            break; // the server answered and closed: read what it said
        }
        sent += chunk.len();
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())
}

/// Issue #20: a wrong Twilio auth token used to send every reply to review, with no way back. Now the refusal
/// pauses sending: the replies wait, their attempts not counted however long it lasts, and go out once the
/// credentials work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_pause_sending_instead_of_filling_review() {
    let twilio = FakeTwilio::start();
    twilio.require_auth(fake_twilio::ACCOUNT_SID, "the token the operator forgot to update");
    // Appended to [workers], whose max_attempts is 4 here.
    let bridge = Bridge::start(&settings(&twilio, "auth_pause_secs = 0.3"));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(90), USER, SCAM)).await;
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound(&sid(91), "+14155550188", "Is this job real?")).await;

    // Many more refusals than max_attempts, and still nothing failed or in review.
    let refused = || twilio.requests().iter().filter(|r| r.is_send()).count();
    eventually(WAIT, || (refused() >= 10).then_some(())).await.expect("the paused sends keep being tried");
    let q = bridge.queue();
    assert!(q.jobs(Some(State::Review), 10).expect("jobs").is_empty(), "nothing sent to review");
    assert!(q.jobs(Some(State::Failed), 10).expect("jobs").is_empty(), "nothing given up");
    let waiting = q.jobs(Some(State::Replying), 10).expect("jobs");
    assert_eq!(waiting.len(), 2, "both replies wait");
    assert!(waiting.iter().all(|j| j.reason.as_deref().is_some_and(|r| r.contains("twilio refused"))), "{waiting:?}");
    bridge
        .metrics_showing(&[
            r#"redflag_bridge_sending_paused{provider="twilio"} 1"#,
            r#"redflag_bridge_replies_total{channel="whatsapp",outcome="paused",code="20003"}"#,
        ])
        .await;
    let ready: serde_json::Value =
        reqwest::get(format!("{}/readyz", bridge.base)).await.expect("readyz").json().await.expect("json");
    assert_eq!(ready["sending_paused"], serde_json::json!(["twilio"]), "webhooks are still taken: {ready}");
    // One event for the pause, not one per try.
    let events = q.events(waiting[0].id).expect("events");
    assert!(events.len() < 6, "{events:?}");

    // The operator fixes the token (here: the fake accepts the bridge's): both replies go out, sending resumes.
    twilio.require_auth(fake_twilio::ACCOUNT_SID, fake_twilio::AUTH_TOKEN);
    eventually(WAIT, || (q.jobs(Some(State::Done), 10).expect("jobs").len() == 2).then_some(())).await.expect("sent");
    assert!(twilio.sent().iter().any(|m| m.to() == Some(USER)));
    bridge.metrics_showing(&[r#"redflag_bridge_sending_paused{provider="twilio"} 0"#]).await;
}
