//! Runs every X-Twilio-Signature vector in `shared/protocol/twilio_vectors.json` (taken from the test suites of
//! Twilio's Python, Node and Java SDKs, plus two derived WhatsApp cases) through `verify` and `sign`.
//!
//! Every failing vector is collected and reported at once, so one run shows the whole picture. The file lives
//! outside this repository; when it is absent the test says so and passes (CI has it).

use std::path::Path;

use redflag_bridge::twilio::signature::{Payload, body_sha256_hex, sign, verify};
use serde_json::Value;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/protocol/twilio_vectors.json");
/// The file's README promises 31; a truncated or regenerated file must not pass silently.
const EXPECTED_COUNT: usize = 31;

struct Vector {
    id: String,
    auth_token: String,
    request_url: String,
    params: Vec<(String, String)>,
    signature: String,
    expect_valid: bool,
    signed_url_variant: Option<String>,
    raw_body: Option<String>,
    form_body: Option<String>,
}

fn text(v: &Value, field: &str) -> Result<String, String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("missing string field `{field}`"))
}

fn optional_text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn parse_vector(v: &Value) -> Result<Vector, String> {
    let params = v
        .get("params")
        .and_then(Value::as_array)
        .ok_or("missing `params` array")?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(name), Value::String(value)]) => Ok((name.clone(), value.clone())),
            _ => Err(format!("param is not a [name, value] pair: {pair}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Vector {
        id: text(v, "id")?,
        auth_token: text(v, "auth_token")?,
        request_url: text(v, "request_url")?,
        params,
        signature: text(v, "x_twilio_signature")?,
        expect_valid: v.get("expect_valid").and_then(Value::as_bool).ok_or("missing bool `expect_valid`")?,
        signed_url_variant: optional_text(v, "signed_url_variant"),
        raw_body: optional_text(v, "raw_body"),
        form_body: optional_text(v, "form_body_urlencoded"),
    })
}

/// Every way this vector can fail, as human-readable lines; empty when it passes.
fn check(v: &Vector) -> Vec<String> {
    let mut problems = Vec::new();
    let payload = match &v.raw_body {
        Some(body) => Payload::Json(body.as_bytes()),
        None => Payload::Form(&v.params),
    };
    let got = verify(&v.auth_token, &v.request_url, payload, &v.signature);
    if got != v.expect_valid {
        problems.push(format!("verify returned {got}, expected {}", v.expect_valid));
    }
    if !v.expect_valid {
        return problems;
    }

    // The vector names the exact URL Twilio signed; signing it ourselves must give the same header.
    if let Some(signed_url) = &v.signed_url_variant {
        let signed_params: &[(String, String)] = if v.raw_body.is_some() { &[] } else { &v.params };
        let ours = sign(&v.auth_token, signed_url, signed_params);
        if ours != v.signature {
            problems.push(format!("sign over {signed_url:?} gave {ours}, expected {}", v.signature));
        }
    }
    if let Some(body) = &v.raw_body {
        let claimed = v.request_url.split_once("bodySHA256=").map(|(_, hash)| hash);
        if claimed != Some(body_sha256_hex(body.as_bytes()).as_str()) {
            problems.push("body_sha256_hex disagrees with the URL's bodySHA256".to_owned());
        }
        let tampered = format!("{body} ");
        if verify(&v.auth_token, &v.request_url, Payload::Json(tampered.as_bytes()), &v.signature) {
            problems.push("a tampered JSON body still verified".to_owned());
        }
    }
    // The raw form body, decoded the way the webhook handler will decode it, must give the same params.
    if let Some(form) = &v.form_body {
        let decoded: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes()).into_owned().collect();
        if decoded != v.params {
            problems.push("decoding form_body_urlencoded does not give `params`".to_owned());
        }
        if !verify(&v.auth_token, &v.request_url, Payload::Form(&decoded), &v.signature) {
            problems.push("verify failed on the decoded form body".to_owned());
        }
    }
    // A valid vector must stop verifying under any single change.
    let wrong_token = format!("{}x", v.auth_token);
    if verify(&wrong_token, &v.request_url, payload, &v.signature) {
        problems.push("verified with the wrong auth token".to_owned());
    }
    let flipped = flip_first_char(&v.signature);
    if verify(&v.auth_token, &v.request_url, payload, &flipped) {
        problems.push(format!("verified with a altered header {flipped}"));
    }
    if let Payload::Form(params) = payload {
        let mut extra = params.to_vec();
        extra.push(("Injected".to_owned(), "1".to_owned()));
        if verify(&v.auth_token, &v.request_url, Payload::Form(&extra), &v.signature) {
            problems.push("verified with an extra form field".to_owned());
        }
    }
    problems
}

fn flip_first_char(signature: &str) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

#[test]
fn every_sdk_vector_gives_the_expected_outcome() {
    let path = Path::new(VECTORS);
    if !path.exists() {
        eprintln!("SKIPPED: {} not found (it lives in ../shared, outside this repository)", path.display());
        return;
    }
    let raw = std::fs::read_to_string(path).expect("the vectors file exists, so it should be readable");
    let doc: Value = serde_json::from_str(&raw).expect("twilio_vectors.json should be valid JSON");
    let vectors =
        doc.get("vectors").and_then(Value::as_array).expect("twilio_vectors.json should have a `vectors` array");
    assert_eq!(
        vectors.len(),
        EXPECTED_COUNT,
        "twilio_vectors.json should hold {EXPECTED_COUNT} vectors; is it truncated?"
    );

    let mut failures = Vec::new();
    for (index, raw_vector) in vectors.iter().enumerate() {
        match parse_vector(raw_vector) {
            Ok(vector) => {
                for problem in check(&vector) {
                    failures.push(format!("{}: {problem}", vector.id));
                }
            }
            Err(problem) => failures.push(format!("vector #{index}: {problem}")),
        }
    }
    assert!(failures.is_empty(), "{} problem(s) in twilio_vectors.json:\n  {}", failures.len(), failures.join("\n  "));
}
