//! The commands as the page calls them, through Tauri's IPC on the mock runtime: real analyser, real SQLite file,
//! real config files in a temp dir, and a fake OpenAI server on loopback for "Ask AI".

#[path = "../../tests/common/fake_openai.rs"]
mod fake_openai;
#[path = "common/pdf.rs"]
mod pdf;
// Shared with the CLI's and the bridge's tests; this one renders a single layout.
#[allow(dead_code)]
#[path = "../../tests/common/screenshot.rs"]
mod screenshot;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fake_openai::{Behaviour, FakeOpenAi, verdict};
use redflag::Analyzer;
use redflag_desktop::Desktop;
use redflag_desktop::secrets::SecretStore;
use redflag_desktop::settings::Paths;
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};

const SCAM: &str = "Hello dear, I am Linda from Amazon HR. Part-time online job: like and rate products from home, \
                    earn $300-$800 per day, salary paid daily. To unlock your tasks you must recharge a deposit of \
                    100 USDT first. Contact me on WhatsApp +1 415 555 0132 or Telegram @linda_hr.";
const LEGIT: &str = "Software Engineer II, Payments team. We are hiring a backend engineer to build our payment \
                     services in Go and PostgreSQL. You will design APIs, review code and mentor engineers. \
                     Requirements: 3+ years of experience with distributed systems. Benefits: health insurance, \
                     401(k) matching and a yearly learning budget. Apply through our careers page.";

struct Harness {
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
}

impl Harness {
    /// The app with `config` as its config file and everything else in a fresh temp dir.
    fn new(config: &str) -> Harness {
        Harness::prepared(config, |_| {})
    }

    /// [`Harness::new`], after `prepare` wrote what the app should find in its database at start-up.
    fn prepared(config: &str, prepare: impl FnOnce(&std::path::Path)) -> Harness {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("redflag.db");
        prepare(&db);
        let text = format!("[store]\npath = {:?}\n{config}", db.display().to_string());
        std::fs::write(dir.path().join("config.toml"), text).expect("write the config");
        let paths =
            Paths { export_dir: Some(dir.path().join("exports")), ..Paths::beside(dir.path().join("config.toml")) };
        let secrets = SecretStore::detect(paths.key_file.clone(), Some("file"));
        let analyzer = Analyzer::builtin().expect("the built-in rules and model");
        let desktop = Desktop::new(analyzer, paths, secrets, Arc::new(|_| None)).expect("the app state");
        let app = redflag_desktop::app(mock_builder(), desktop).build(mock_context(noop_assets())).expect("the app");
        let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("a window");
        Harness { _app: app, window, dir }
    }

    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        self.invoke(cmd, InvokeBody::Json(args), Default::default())
    }

    fn invoke(&self, cmd: &str, body: InvokeBody, headers: tauri::http::HeaderMap) -> Result<Value, Value> {
        invoke(&self.window, cmd, body, headers)
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn err_kind(&self, cmd: &str, args: Value) -> String {
        let e = self.call(cmd, args).expect_err("an error");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "errors carry a message: {e}");
        e["kind"].as_str().expect("a kind").to_string()
    }

    fn history(&self) -> Vec<Value> {
        self.ok("history_list", json!({})).as_array().expect("a list").clone()
    }
}

/// One IPC call, as `window.__TAURI__.core.invoke` makes it.
fn invoke(
    window: &WebviewWindow<MockRuntime>,
    cmd: &str,
    body: InvokeBody,
    headers: tauri::http::HeaderMap,
) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        // The local origin on Linux and macOS; a remote origin would be refused by the ACL, as in the app.
        url: "tauri://localhost".parse().expect("a url"),
        body,
        headers,
        invoke_key: INVOKE_KEY.to_string(),
    };
    tauri::test::get_ipc_response(window, request).map(|b| b.deserialize::<Value>().expect("JSON"))
}

fn flag_ids(check: &Value) -> Vec<&str> {
    check["analysis"]["flags"].as_array().expect("flags").iter().filter_map(|f| f["id"].as_str()).collect()
}

#[test]
fn a_task_scam_is_flagged_with_evidence_and_saved_once() {
    let h = Harness::new("");
    let check = h.ok("analyze_text", json!({"text": SCAM, "save": true}));
    assert_eq!(check["analysis"]["label"], "scam", "{check}");
    let flags = check["analysis"]["flags"].as_array().expect("flags");
    assert!(!flags.is_empty());
    let text = check["analysis"]["text"].as_str().expect("the analysed text");
    for e in flags.iter().flat_map(|f| f["evidence"].as_array().expect("evidence")) {
        let (start, end) = (e["start"].as_u64().expect("start") as usize, e["end"].as_u64().expect("end") as usize);
        assert_eq!(&text[start..end], e["snippet"].as_str().expect("snippet"), "evidence points into the text");
    }
    // No endpoint is configured: the page must say the verdict is local only.
    assert_eq!(check["ai"]["state"], "unavailable");
    assert!(check["ai"]["reason"].as_str().expect("reason").contains("Local verdict only"));

    // Saved once, redacted; a repeat of the same text (blur after paste) is not saved again; live typing never is.
    h.ok("analyze_text", json!({"text": SCAM, "save": true}));
    h.ok("analyze_text", json!({"text": LEGIT, "save": false}));
    let history = h.history();
    assert_eq!(history.len(), 1, "{history:?}");
    let stored = history[0]["text"].as_str().expect("text");
    assert!(!stored.contains("555 0132"), "the phone number is redacted before saving: {stored}");
    assert_eq!(history[0]["label"], "scam");
    assert!(!history[0]["flags"].as_array().expect("titles").is_empty());
}

#[test]
fn an_ordinary_posting_is_not_flagged() {
    let h = Harness::new("");
    let check = h.ok("analyze_text", json!({"text": LEGIT, "save": false}));
    assert_ne!(check["analysis"]["label"], "scam", "{check}");
    assert!(check["analysis"]["score"].as_f64().expect("score") < 0.5, "{check}");
}

#[test]
fn bad_input_gets_a_kind_and_a_message() {
    let h = Harness::new("");
    assert_eq!(h.err_kind("analyze_text", json!({"text": "   ", "save": true})), "input");
    assert_eq!(h.err_kind("history_get", json!({"id": 999})), "not_found");
    assert_eq!(h.err_kind("ai_preview", json!({"checkId": 12345})), "llm", "no endpoint: the AI is unavailable");
    let mut headers = tauri::http::HeaderMap::new();
    headers.insert("x-file-name", "cv.docx".parse().expect("header"));
    let e = h.invoke("analyze_file", InvokeBody::Raw(b"PK\x03\x04".to_vec()), headers).expect_err("unsupported");
    assert_eq!(e["kind"], "unsupported_file");
}

#[test]
fn files_are_read_by_their_format() {
    let h = Harness::new("");
    let eml = format!(
        "From: Amazon HR <amazon.hr.jobs@gmail.com>\r\nSubject: Job offer\r\nContent-Type: text/plain\r\n\r\n{SCAM}\r\n"
    );
    let mut headers = tauri::http::HeaderMap::new();
    headers.insert("x-file-name", "offer%20letter.eml".parse().expect("header"));
    let check = h.invoke("analyze_file", InvokeBody::Raw(eml.into_bytes()), headers).expect("an e-mail");
    assert_eq!(check["analysis"]["label"], "scam");
    assert!(check["analysis"]["text"].as_str().expect("text").contains("Subject: Job offer"));
    assert_eq!(h.history().len(), 1, "an opened file is saved");
}

/// Issue #21 on the desktop: a screenshot opened or dropped (known by its bytes, whatever its name) is read with
/// the core's OCR and judged like its text, with boxes on the evidence; saved once; a broken image says what to do.
#[test]
fn screenshots_are_read_and_judged_like_their_text() {
    let h = Harness::new("");
    let png = h.dir.path().join("chat.png");
    screenshot::render(SCAM, screenshot::Layout::DarkChat, &png);
    let bytes = std::fs::read(&png).expect("the screenshot");
    let headers = || {
        let mut headers = tauri::http::HeaderMap::new();
        headers.insert("x-file-name", "IMG_0042".parse().expect("header"));
        headers
    };
    let check = h.invoke("analyze_file", InvokeBody::Raw(bytes.clone()), headers()).expect("a screenshot");
    let a = &check["analysis"];
    assert_eq!((a["input"]["kind"].as_str(), a["label"].as_str()), (Some("image"), Some("scam")), "{a}");
    let boxed = a["flags"].as_array().expect("flags").iter().flat_map(|f| f["evidence"].as_array().expect("evidence"));
    assert!(
        boxed.clone().count() > 0 && boxed.into_iter().all(|e| e["boxes"].as_array().is_some_and(|b| !b.is_empty()))
    );
    assert_eq!(h.history().len(), 1, "an opened image is saved");
    h.invoke("analyze_file", InvokeBody::Raw(bytes.clone()), headers()).expect("again");
    assert_eq!(h.history().len(), 1, "the same image is not saved twice");

    let mut broken = bytes[..bytes.len() / 3].to_vec();
    broken.truncate(broken.len().min(4096));
    let e = h.invoke("analyze_file", InvokeBody::Raw(broken), headers()).expect_err("a cut-off image");
    assert_eq!(e["kind"], "input");
    assert!(e["message"].as_str().expect("message").contains("image"), "{e}");
}

/// A PDF whose only page is a scanned picture: `jpeg` as a `DCTDecode` image filling a 612×792 page, the way
/// scanners and phone scanning apps write them (no text layer).
fn scanned_pdf(jpeg: &[u8], width: u32, height: u32) -> Vec<u8> {
    let content = "q 612 0 0 792 0 0 cm /Scan Do Q";
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
           /Resources << /XObject << /Scan 5 0 R >> >> >>"
            .to_vec(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).into_bytes(),
    ];
    let mut image = format!(
        "<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceRGB \
         /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
        jpeg.len()
    )
    .into_bytes();
    image.extend_from_slice(jpeg);
    image.extend_from_slice(b"\nendstream");
    objects.push(image);
    pdf::pdf(&objects)
}

/// Issue #21: a scanned PDF (pictures, no text) is read with the core's OCR and judged like its text.
#[test]
fn a_scanned_pdf_is_read_and_judged_like_its_text() {
    let h = Harness::new("");
    let png = h.dir.path().join("letter.png");
    screenshot::render(SCAM, screenshot::Layout::Plain, &png);
    let jpg = h.dir.path().join("letter.jpg");
    let converted = std::process::Command::new("convert")
        .args([png.as_os_str(), "-quality".as_ref(), "90".as_ref(), jpg.as_os_str()])
        .status()
        .expect("ImageMagick's convert runs");
    assert!(converted.success());
    let size = std::process::Command::new("identify").args(["-format", "%w %h"]).arg(&jpg).output().expect("identify");
    let size = String::from_utf8_lossy(&size.stdout).into_owned();
    let (w, h_px) = size.split_once(' ').expect("width and height");
    let pdf = scanned_pdf(&std::fs::read(&jpg).expect("the JPEG"), w.parse().expect("w"), h_px.parse().expect("h"));
    let mut headers = tauri::http::HeaderMap::new();
    headers.insert("x-file-name", "scan.pdf".parse().expect("header"));
    let check = h.invoke("analyze_file", InvokeBody::Raw(pdf), headers).expect("a scanned PDF");
    let a = &check["analysis"];
    assert_eq!(a["label"], "scam", "{a}");
    let text = a["text"].as_str().expect("the recognised text").to_lowercase();
    assert!(text.contains("deposit") && text.contains("whatsapp"), "{text}");
    assert_eq!(h.history().len(), 1, "an opened scan is saved");
}

#[test]
fn settings_round_trip_through_the_files_and_the_key_stays_private() {
    let h = Harness::new("# my notes\n");
    let mut s = h.ok("settings_get", json!({}));
    assert_eq!(s["key_storage"], "file");
    assert!(s["key_storage_detail"].as_str().expect("detail").contains("readable only by you"));
    assert_eq!(s["api_key_set"], false);
    s["base_url"] = json!("http://127.0.0.1:11434/v1");
    s["model"] = json!("llama3.2");
    s["policy"] = json!("auto");
    s["monthly_usd"] = json!(2.5);
    s["offline_only"] = json!(true);
    let saved = h.ok("settings_save", json!({"settings": s}));
    assert_eq!(saved["model"], "llama3.2");
    assert_eq!(saved["offline_only"], true);
    let file = std::fs::read_to_string(h.dir.path().join("config.toml")).expect("the config");
    assert!(file.contains("# my notes") && file.contains("monthly_usd = 2.5"), "{file}");

    // Offline only wins over a configured endpoint.
    let check = h.ok("analyze_text", json!({"text": SCAM, "save": false}));
    assert!(check["ai"]["reason"].as_str().expect("reason").contains("offline"), "{check}");

    let s = h.ok("api_key_set", json!({"key": "sk-test-abc"}));
    assert_eq!(s["api_key_set"], true);
    let key_file = h.dir.path().join("api-key");
    assert_eq!(std::fs::read_to_string(&key_file).expect("the key file"), "sk-test-abc");
    assert!(!std::fs::read_to_string(h.dir.path().join("config.toml")).expect("config").contains("sk-test"));
    assert_eq!(h.err_kind("api_key_set", json!({"key": "sk with spaces"})), "input");
    let s = h.ok("api_key_clear", json!({}));
    assert_eq!(s["api_key_set"], false);
    assert!(!key_file.exists());

    let mut bad = h.ok("settings_get", json!({}));
    bad["daily_usd"] = json!(-1.0);
    assert_eq!(h.err_kind("settings_save", json!({"settings": bad})), "config");
}

#[test]
fn ask_ai_shows_what_is_sent_then_merges_the_answer() {
    let fake = FakeOpenAi::start(verdict("scam", 0.97));
    let h = Harness::new(&format!(
        "[llm]\nbase_url = {:?}\nmodel = \"local-test\"\n[escalation]\npolicy = \"always\"\n",
        fake.base_url
    ));
    let events = Arc::new(AtomicUsize::new(0));
    let seen = events.clone();
    h.window.listen_any("ai-progress", move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });

    let check = h.ok("analyze_text", json!({"text": SCAM, "save": true}));
    assert_eq!(check["ai"]["state"], "offered", "{check}");
    let id = check["check_id"].as_u64().expect("a check id");

    let preview = h.ok("ai_preview", json!({"checkId": id}));
    let sent = preview["redacted"].as_str().expect("the redacted text");
    assert!(!sent.contains("555 0132") && sent.contains("[PHONE]"), "phone numbers are redacted: {sent}");
    assert!(preview["redactions"].as_u64().expect("count") >= 1);
    assert_eq!(preview["estimate_usd"], 0.0, "a loopback server with an unknown model costs nothing");
    assert_eq!(fake.calls(), 0, "a preview sends nothing");

    let merged = h.ok("ai_ask", json!({"checkId": id}));
    assert_eq!(merged["ai"]["state"], "done");
    assert_eq!(merged["analysis"]["llm"]["label"], "scam", "{merged}");
    assert_eq!(fake.calls(), 1);
    let body = fake.last_request().expect("a request").body;
    assert!(!body.to_string().contains("555 0132"), "only the redacted text left the machine");
    assert_eq!(events.load(Ordering::SeqCst), 2, "sending and merging");

    // The history holds the merged verdict in place of the local one.
    let history = h.history();
    assert_eq!(history.len(), 1);
    let stored = h.ok("history_get", json!({"id": history[0]["id"]}));
    assert!(stored["llm"].is_object(), "{stored}");
    assert_eq!(flag_ids(&json!({"analysis": stored})).len(), flag_ids(&merged).len());
}

#[test]
fn ask_ai_can_be_cancelled() {
    let fake = FakeOpenAi::start(Behaviour::Hang);
    let h = Harness::new(&format!("[llm]\nbase_url = {:?}\n[escalation]\npolicy = \"always\"\n", fake.base_url));
    let check = h.ok("analyze_text", json!({"text": SCAM, "save": false}));
    let id = check["check_id"].as_u64().expect("a check id");
    let window = h.window.clone();
    let asker = std::thread::spawn(move || {
        invoke(&window, "ai_ask", InvokeBody::Json(json!({"checkId": id})), Default::default())
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while fake.calls() == 0 {
        assert!(std::time::Instant::now() < deadline, "the LLM was never asked");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(h.ok("ai_cancel", json!({"checkId": id})), json!(true));
    let result = asker.join().expect("the asking thread");
    assert_eq!(result.expect_err("cancelled")["kind"], "cancelled");
    assert_eq!(h.ok("ai_cancel", json!({"checkId": id})), json!(false), "nothing is running any more");
}

#[test]
fn history_search_delete_clear_and_export() {
    let h = Harness::new("");
    h.ok("analyze_text", json!({"text": SCAM, "save": true}));
    h.ok("analyze_text", json!({"text": LEGIT, "save": true}));
    assert_eq!(h.history().len(), 2);
    let found = h.ok("history_list", json!({"query": "payments"}));
    assert_eq!(found.as_array().expect("a list").len(), 1, "{found}");

    let exported = h.ok("history_export", json!({}));
    assert_eq!(exported["count"], 2);
    let path = exported["path"].as_str().expect("a path");
    assert!(Path::new(path).starts_with(h.dir.path().join("exports")));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the export")).expect("JSON");
    assert_eq!(json.as_array().expect("entries").len(), 2);

    let first = h.history()[0]["id"].clone();
    assert_eq!(h.ok("history_delete", json!({"id": first})), json!(true));
    assert_eq!(h.ok("history_delete", json!({"id": first})), json!(false));
    assert_eq!(h.ok("history_clear", json!({})), json!(1));
    assert!(h.history().is_empty());
}

/// A bridge on the same machine shares the SQLite file: its senders' checks are not the person's to see or wipe.
#[test]
fn history_lists_and_clears_only_this_users_checks_when_a_bridge_shares_the_file() {
    let h = Harness::new("");
    use redflag::store::HistoryStore;
    let store = redflag::store::SqliteStore::open(&h.dir.path().join("redflag.db")).expect("the shared file");
    let analysis = Analyzer::builtin().expect("analyzer").analyze(&redflag::Input::text(SCAM)).expect("analysis");
    let sender = store
        .history_add(&redflag::store::NewHistory {
            created_at: 1,
            channel: "whatsapp",
            user_id: Some("whatsapp:+14155550123"),
            input_hash: "ab12",
            redacted_text: "a bridge sender's message",
            indicators: &[],
            analysis: &analysis,
            cost_usd: 0.0,
        })
        .expect("a bridge row");
    h.ok("analyze_text", json!({"text": LEGIT, "save": true}));

    let history = h.history();
    assert_eq!(history.len(), 1, "only the person's own check is listed: {history:?}");
    assert_ne!(history[0]["id"], json!(sender));
    assert_eq!(h.err_kind("history_get", json!({"id": sender})), "not_found");
    assert_eq!(h.ok("history_delete", json!({"id": sender})), json!(false));
    assert_eq!(h.ok("history_clear", json!({})), json!(1));
    let everyone = redflag::store::HistoryQuery { owner: redflag::store::Owner::Anyone, ..Default::default() };
    let left = store.history_list(&everyone).expect("list");
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), [sender], "the sender's check is still there");
}

#[test]
fn asking_about_a_live_check_replaces_the_row_its_text_was_saved_as() {
    let fake = FakeOpenAi::start(verdict("scam", 0.97));
    let h = Harness::new(&format!("[llm]\nbase_url = {:?}\n[escalation]\npolicy = \"always\"\n", fake.base_url));
    // Typing gives a live check; the pause (or the blur when the person reaches for "Ask AI") saves the text.
    let live = h.ok("analyze_text", json!({"text": SCAM, "save": false}));
    h.ok("analyze_text", json!({"text": SCAM, "save": true}));
    assert_eq!(h.history().len(), 1);
    h.ok("ai_ask", json!({"checkId": live["check_id"]}));
    let history = h.history();
    assert_eq!(history.len(), 1, "the merged verdict replaced the saved row: {history:?}");
    // A row deleted by the person is saved again when the same text comes back.
    h.ok("history_delete", json!({"id": history[0]["id"]}));
    h.ok("analyze_text", json!({"text": SCAM, "save": true}));
    assert_eq!(h.history().len(), 1);
}

#[test]
fn what_the_preview_showed_is_what_is_sent() {
    let fake = FakeOpenAi::start(verdict("scam", 0.97));
    let h = Harness::new(&format!("[llm]\nbase_url = {:?}\n[escalation]\npolicy = \"always\"\n", fake.base_url));
    let check = h.ok("analyze_text", json!({"text": SCAM, "save": false}));
    let id = check["check_id"].clone();
    h.ok("ai_preview", json!({"checkId": id}));
    let mut s = h.ok("settings_get", json!({}));
    s["model"] = json!("another-model");
    h.ok("settings_save", json!({"settings": s}));
    assert_eq!(h.err_kind("ai_ask", json!({"checkId": id})), "llm", "the endpoint changed after the preview");
    assert_eq!(fake.calls(), 0);
    // After looking again, it goes.
    let preview = h.ok("ai_preview", json!({"checkId": id}));
    assert_eq!(preview["model"], "another-model");
    h.ok("ai_ask", json!({"checkId": id}));
    assert_eq!(fake.calls(), 1);
}

#[test]
fn a_refused_key_stops_the_offer_until_the_settings_are_saved_again() {
    let fake = FakeOpenAi::start(Behaviour::Unauthorized);
    let h = Harness::new(&format!("[llm]\nbase_url = {:?}\n[escalation]\npolicy = \"always\"\n", fake.base_url));
    h.ok("api_key_set", json!({"key": "sk-wrong"}));
    let check = h.ok("analyze_text", json!({"text": SCAM, "save": false}));
    let asked = h.ok("ai_ask", json!({"checkId": check["check_id"]}));
    assert_eq!(asked["analysis"]["escalation"]["status"], "disabled", "{asked}");
    let check = h.ok("analyze_text", json!({"text": LEGIT, "save": false}));
    assert_eq!(check["ai"]["state"], "unavailable", "{check}");
    assert!(check["ai"]["reason"].as_str().expect("reason").contains("Settings"));

    fake.set(verdict("legit", 0.05));
    h.ok("api_key_set", json!({"key": "sk-right"}));
    let check = h.ok("analyze_text", json!({"text": LEGIT, "save": false}));
    assert_eq!(check["ai"]["state"], "offered", "a new key is tried: {check}");
}

#[test]
fn a_broken_config_file_opens_on_defaults_and_says_why() {
    let h = Harness::new("[llm]\nmodle = \"typo\"\n");
    let s = h.ok("settings_get", json!({}));
    let why = s["config_error"].as_str().expect("the error is shown");
    assert!(why.contains("modle") && why.contains("default settings"), "{why}");
    let check = h.ok("analyze_text", json!({"text": SCAM, "save": true}));
    assert_eq!(check["analysis"]["label"], "scam", "checking still works");
}

/// Issue #18: indicators synced from a hub into the shared file (`redflag sync`) are matched by the app too,
/// locally, as the `reported-indicator` flag on the value.
#[test]
fn indicators_synced_into_the_database_are_flagged_in_the_app() {
    use redflag::store::SyncState;
    use redflag::sync::feed::{Cursor, HubKey, IndicatorPage, Published};
    use redflag::sync::indicators::{IndicatorKind, digest};
    let h = Harness::prepared("", |db| {
        let store = redflag::store::SqliteStore::open(db).expect("the file");
        let start = Cursor::start("hubfp").to_string();
        let key = HubKey { public_key: "k".into(), fingerprint: "hubfp".into() };
        let link = redflag::store::HubLink {
            url: "https://hub.example.org".into(),
            token: "t".into(),
            key,
            cursor: start.clone(),
            last_sync: None,
        };
        store.pair_hub(&link).expect("pair");
        let page = IndicatorPage {
            hub: "hubfp".into(),
            cursor: start,
            next: "hubfp.1".into(),
            more: false,
            adds: vec![Published {
                hash: digest(IndicatorKind::Phone, "+14155550147"),
                kind: IndicatorKind::Phone,
                count: 12,
                last_seen: redflag::time::unix_now(),
            }],
            removes: vec![],
        };
        assert!(store.apply_page(&page, 1).expect("apply"));
    });
    let text = "You are hired! Text the manager on +1 415 555 0147 to start today.";
    let check = h.ok("analyze_text", json!({"text": text, "save": false}));
    let flags = check["analysis"]["flags"].as_array().expect("flags");
    let flag = flags.iter().find(|f| f["id"] == "reported-indicator").expect("the reported number is flagged");
    assert_eq!(flag["evidence"][0]["snippet"], "+1 415 555 0147");
    assert!(flag["explanation"].as_str().expect("text").contains("12 job scams"), "{flag}");
}

/// A hub on loopback that publishes one phone number, signed as the real hub signs its pages.
/// Reports the fake hub received, as JSON.
type Received = std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

fn fake_hub() -> (String, Received) {
    use axum::response::IntoResponse;
    use ed25519_dalek::Signer;
    use redflag::sync::feed::{self, Cursor, IndicatorPage, Published};
    use redflag::sync::indicators::{IndicatorKind, digest};
    let key = ed25519_dalek::SigningKey::from_bytes(&[21; 32]);
    let public = feed::hub_key(&key.verifying_key().to_bytes());
    // The page after the device's cursor: the number on the first, nothing after it.
    let page = move |q: std::collections::HashMap<String, String>| {
        let fp = &public.fingerprint;
        let seq = q.get("cursor").and_then(|c| Cursor::parse(c)).map_or(0, |c| c.seq);
        let page = IndicatorPage {
            hub: fp.clone(),
            cursor: Cursor { hub: fp, seq }.to_string(),
            next: Cursor { hub: fp, seq: 1 }.to_string(),
            more: false,
            adds: if seq > 0 {
                vec![]
            } else {
                vec![Published {
                    hash: digest(IndicatorKind::Phone, "+14155550147"),
                    kind: IndicatorKind::Phone,
                    count: 5,
                    last_seen: redflag::time::unix_now(),
                }]
            },
            removes: vec![],
        };
        let body = serde_json::to_vec(&page).expect("json");
        let signature = feed::encode_signature(&key.sign(&body).to_bytes());
        ([(feed::SIGNATURE_HEADER, signature)], body).into_response()
    };
    let public = feed::hub_key(&ed25519_dalek::SigningKey::from_bytes(&[21; 32]).verifying_key().to_bytes());
    let received = Received::default();
    let inbox = received.clone();
    let take = move |axum::Json(report): axum::Json<serde_json::Value>| {
        let inbox = inbox.clone();
        async move {
            let id = report["id"].clone();
            inbox.lock().expect("inbox").push(report);
            axum::Json(json!({ "id": id, "duplicate": false }))
        }
    };
    let app = axum::Router::new()
        .route("/v1/sync/key", axum::routing::get(move || async move { axum::Json(public.clone()) }))
        .route("/v1/sync/indicators", axum::routing::get(move |axum::extract::Query(q)| async move { page(q) }))
        .route("/v1/sync/reports", axum::routing::post(take))
        // Every call carries the device's token, wherever the app keeps it.
        .layer(axum::middleware::from_fn(|req: axum::extract::Request, next: axum::middleware::Next| async move {
            if req.headers().get("authorization").is_some_and(|v| v == "Bearer rfd_token") {
                next.run(req).await
            } else {
                axum::http::StatusCode::UNAUTHORIZED.into_response()
            }
        }));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    (format!("http://127.0.0.1:{port}"), received)
}

/// Issue #18: Settings → "Connect to a Redflag hub": pair, sync, and the next check matches what was synced.
#[test]
fn the_app_pairs_with_a_hub_syncs_and_matches_what_it_learned() {
    let h = Harness::new("");
    let status = h.ok("sync_status", json!({}));
    assert_eq!(status["paired"], false);
    assert_eq!(h.err_kind("sync_now", json!({})), "hub", "nothing to sync with yet");
    assert_eq!(h.err_kind("sync_pair", json!({"url": "http://hub.example.org", "token": "t"})), "hub", "https only");
    assert_eq!(h.err_kind("sync_pair", json!({"url": "https://hub.example.org", "token": "two words"})), "input");

    let text = "You are hired! Text the manager on +1 415 555 0147 to start today.";
    let before = h.ok("analyze_text", json!({"text": text, "save": false}));
    assert!(!before["analysis"]["flags"].as_array().expect("flags").iter().any(|f| f["id"] == "reported-indicator"));

    let (url, received) = fake_hub();
    let paired = h.ok("sync_pair", json!({"url": url, "token": "rfd_token"}));
    assert_eq!((paired["paired"].as_bool(), paired["indicators"].as_u64()), (Some(true), Some(1)), "{paired}");
    assert!(paired["fingerprint"].as_str().is_some_and(|f| f.len() == 39), "{paired}");
    assert!(paired["last_sync"].is_i64());
    // The token is kept like the API key (here in the private file the tests force), not in the database.
    let kept = std::fs::read_to_string(h.dir.path().join("hub-token")).expect("the token's file");
    assert_eq!(kept.trim(), "rfd_token");
    let db = redflag::store::SqliteStore::open(&h.dir.path().join("redflag.db")).expect("the database");
    let link = redflag::store::SyncState::hub_link(&db).expect("read").expect("paired");
    assert!(link.token.is_empty(), "no token in the database");
    let after = h.ok("analyze_text", json!({"text": text, "save": false}));
    let flag =
        after["analysis"]["flags"].as_array().expect("flags").iter().find(|f| f["id"] == "reported-indicator").cloned();
    assert_eq!(flag.expect("learned at once, without a restart")["evidence"][0]["snippet"], "+1 415 555 0147");
    assert_eq!(h.ok("sync_now", json!({}))["indicators"], 1);

    // "Report" on a saved verdict: the hub gets the redacted text and digests, never the number itself.
    let saved = h.ok("analyze_text", json!({"text": text, "save": true}));
    let reported = h.ok("report_check", json!({"checkId": saved["check_id"], "label": "scam"}));
    assert_eq!(reported["sent"], true, "{reported}");
    let got = received.lock().expect("inbox").clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["label"], "scam");
    assert!(!got[0].to_string().contains("0147"), "{}", got[0]);
    assert_eq!(got[0]["indicators"][0]["kind"], "phone");
    assert_eq!(h.ok("sync_status", json!({}))["reports_waiting"], 0);
    // A live check that was not saved has nothing to report from; a word other than scam/legit is refused.
    let live = h.ok("analyze_text", json!({"text": "Another message entirely", "save": false}));
    assert_eq!(h.err_kind("report_check", json!({"checkId": live["check_id"], "label": "scam"})), "input");
    assert_eq!(h.err_kind("report_check", json!({"checkId": saved["check_id"], "label": "maybe"})), "input");
}
