//! The operator console's doors (issue #20), on the real binary over HTTP: no data without a session, the cookie's
//! flags, CSRF on every change, the viewer role, lockout after failed logins, logout, and an audit entry for each.
//! `console_e2e.rs` drives the same console in Chromium.

mod common;

use std::time::Duration;

use common::bridge::{Bridge, eventually, settings};
use common::fake_twilio::{Failure, FakeTwilio};
use redflag_bridge::queue::{Queue, State};
use reqwest::StatusCode;
use serde_json::{Value, json};

const USER: &str = "whatsapp:+14155550123";
const SCAM: &str = "Hello! Our company is hiring online part-time workers. Like and rate hotels on Google, earn \
                    $300/day. Pay a $50 registration fee to start. Contact us on WhatsApp.";
const WAIT: Duration = Duration::from_secs(30);

/// `admins add NAME --role ROLE --json`: the password it prints once.
fn add_admin(bridge: &Bridge, name: &str, role: &str) -> String {
    let out = bridge.command(&["admins", "add", name, "--role", role, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!((v["admin"].as_str(), v["role"].as_str()), (Some(name), Some(role)));
    v["password"].as_str().expect("a password").to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Log in; the session cookie's `name=value` and the CSRF token.
async fn login(bridge: &Bridge, name: &str, password: &str) -> (String, String) {
    let r = client()
        .post(format!("{}/admin/api/login", bridge.base))
        .json(&json!({ "name": name, "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200, "{name} logs in");
    let set = r.headers().get("set-cookie").expect("a cookie").to_str().expect("text").to_string();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(flag), "the session cookie is {flag}: {set}");
    }
    let me: Value = r.json().await.expect("the session");
    (set.split(';').next().expect("name=value").to_string(), me["csrf"].as_str().expect("csrf").to_string())
}

async fn get(bridge: &Bridge, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", bridge.base));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("GET")
}

async fn post(bridge: &Bridge, path: &str, cookie: &str, csrf: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = client().post(format!("{}{path}", bridge.base)).header("cookie", cookie).json(&body);
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    req.send().await.expect("POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_nothing_without_a_session_and_checks_role_csrf_and_lockout() {
    let twilio = FakeTwilio::start();
    twilio.fail_to(USER, Failure::unsubscribed());
    let bridge = Bridge::start(&settings(&twilio, ""));
    bridge.post_signed("/webhooks/twilio", &Bridge::inbound("SM00000000000000000000000000000001", USER, SCAM)).await;
    let q = bridge.queue();
    let job = eventually(WAIT, || q.jobs(Some(State::Review), 10).expect("jobs").into_iter().next())
        .await
        .expect("a message in review");

    // No session: the page redirects to the login page and no call shows data.
    let page = get(&bridge, "/admin", None).await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/admin/login");
    assert_eq!(get(&bridge, "/admin/login", None).await.status(), 200);
    for path in ["/admin/api/overview", "/admin/api/review", "/admin/api/audit", "/admin/api/keys"] {
        assert_eq!(get(&bridge, path, None).await.status(), 401, "{path}");
        assert_eq!(get(&bridge, path, Some("redflag_admin=forged")).await.status(), 401, "{path}");
    }

    let password = add_admin(&bridge, "alice", "operator");
    let viewer_password = add_admin(&bridge, "victor", "viewer");
    let taken = bridge.command(&["admins", "add", "alice"]);
    assert!(!taken.status.success() && String::from_utf8_lossy(&taken.stderr).contains("admins reset"));

    // A wrong password and an unknown name get the same answer.
    for (name, pw) in [("alice", "wrong"), ("nobody", "wrong")] {
        let r = client()
            .post(format!("{}/admin/api/login", bridge.base))
            .json(&json!({ "name": name, "password": pw }))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 401);
        assert_eq!(r.text().await.expect("text").trim(), "wrong name or password");
    }

    let (cookie, csrf) = login(&bridge, "alice", &password).await;
    assert_eq!(get(&bridge, "/admin", Some(&cookie)).await.status(), 200);
    let overview: Value = get(&bridge, "/admin/api/overview", Some(&cookie)).await.json().await.expect("JSON");
    assert_eq!(overview["queue"]["review"], 1, "{overview:#}");
    let hours = overview["received_per_hour"].as_array().expect("hours");
    assert_eq!(hours.len(), 24);
    assert_eq!(hours.iter().map(|h| h[1].as_u64().expect("a count")).sum::<u64>(), 1, "{overview:#}");
    let review: Value = get(&bridge, "/admin/api/review", Some(&cookie)).await.json().await.expect("JSON");
    assert_eq!(review[0]["id"], job.id);
    assert!(review[0].get("body").is_none() && !review.to_string().contains("rate hotels"), "no text in the list");
    let shown: Value =
        get(&bridge, &format!("/admin/api/jobs/{}", job.id), Some(&cookie)).await.json().await.expect("JSON");
    assert!(shown["text"].as_str().expect("text").contains("rate hotels"));

    // A change without the CSRF token, or with another, is refused and changes nothing.
    let settle = json!({ "action": "resolve", "ids": [job.id], "note": "test" });
    for token in [None, Some("not-the-token")] {
        let r = post(&bridge, "/admin/api/jobs/settle", &cookie, token, settle.clone()).await;
        assert_eq!(r.status(), 403, "{token:?}");
    }
    assert_eq!(q.jobs(Some(State::Review), 10).expect("jobs").len(), 1);

    // The viewer sees the list but not the text, and cannot change anything even with its own token.
    let (viewer, viewer_csrf) = login(&bridge, "victor", &viewer_password).await;
    assert_eq!(get(&bridge, "/admin/api/review", Some(&viewer)).await.status(), 200);
    assert_eq!(get(&bridge, &format!("/admin/api/jobs/{}", job.id), Some(&viewer)).await.status(), 403);
    let r = post(&bridge, "/admin/api/jobs/settle", &viewer, Some(&viewer_csrf), settle.clone()).await;
    assert_eq!(r.status(), 403);
    let r = post(&bridge, "/admin/api/users/erase", &viewer, Some(&viewer_csrf), json!({ "address": USER })).await;
    assert_eq!(r.status(), 403);

    // Answering by hand needs words, and a message still in review.
    let r = post(&bridge, "/admin/api/jobs/reply", &cookie, Some(&csrf), json!({ "id": job.id, "text": "  " })).await;
    assert_eq!(r.status(), 400);
    let not_in_review = bridge.command(&["jobs", "reply", "999999", "Hello"]);
    assert!(!not_in_review.status.success());
    assert!(String::from_utf8_lossy(&not_in_review.stderr).contains("not in review"));
    // Devices: the viewer sees the list and cannot pair one.
    assert_eq!(get(&bridge, "/admin/api/devices", Some(&viewer)).await.status(), 200);
    let r = post(&bridge, "/admin/api/devices/pair", &viewer, Some(&viewer_csrf), json!({ "name": "x" })).await;
    assert_eq!(r.status(), 403);

    // The operator with the token: done.
    let r = post(&bridge, "/admin/api/jobs/settle", &cookie, Some(&csrf), settle).await;
    assert_eq!(r.status(), 200);
    let settled: Value = r.json().await.expect("JSON");
    assert_eq!(settled["moved"], json!([[job.id, "done"]]));

    // Five wrong passwords lock the account: the right one is refused too, until a reset.
    for _ in 0..5 {
        let r = client()
            .post(format!("{}/admin/api/login", bridge.base))
            .json(&json!({ "name": "victor", "password": "guess" }))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 401);
    }
    let locked = client()
        .post(format!("{}/admin/api/login", bridge.base))
        .json(&json!({ "name": "victor", "password": viewer_password }))
        .send()
        .await
        .expect("login");
    assert_eq!(locked.status(), 429);
    assert!(locked.text().await.expect("text").contains("admins reset"));
    let listed = String::from_utf8_lossy(&bridge.command(&["admins", "list"]).stdout).into_owned();
    assert!(listed.lines().any(|l| l.starts_with("victor\tviewer\tlocked until")), "{listed}");
    let reset: Value =
        serde_json::from_slice(&bridge.command(&["admins", "reset", "victor", "--json"]).stdout).expect("JSON");
    login(&bridge, "victor", reset["password"].as_str().expect("a password")).await;
    assert_eq!(get(&bridge, "/admin/api/review", Some(&viewer)).await.status(), 401, "a reset ends sessions");

    // Logging out ends the session on the server, not only in the browser.
    let r = post(&bridge, "/admin/api/logout", &cookie, Some(&csrf), json!({})).await;
    assert_eq!(r.status(), 204);
    assert!(r.headers()["set-cookie"].to_str().expect("text").contains("Max-Age=0"));
    assert_eq!(get(&bridge, "/admin/api/overview", Some(&cookie)).await.status(), 401);

    let audit = String::from_utf8_lossy(&bridge.command(&["audit", "--limit", "100"]).stdout).into_owned();
    for line in [
        "admin.create\talice",
        "admin:alice\tadmin.login",
        "admin:alice\tjob.show",
        "admin:alice\tjob.resolve",
        "admin:victor\tadmin.locked",
        "admin.reset\tvictor",
        "admin:alice\tadmin.logout",
    ] {
        assert!(audit.contains(line), "{line:?} in the audit log:\n{audit}");
    }
    assert!(!audit.contains(&password) && !audit.contains("guess"), "no password in the audit log");
    let log = bridge.log();
    assert!(!log.contains(&password) && !log.contains(&cookie[14..]), "no secret in the log");
}
