//! Reading a Chat Completions response: the envelope (usage, model, refusal, finish reason) strictly, the verdict
//! in `message.content` leniently.
//!
//! The envelope decides billing and whether another format is worth trying, so it is read field by field from a
//! `serde_json::Value` (compatible servers differ in the details: Ollama has no `prompt_tokens_details`, some
//! servers send content as a list of parts). The content is model output: with `json_schema` it should be exact
//! JSON, but a server that ignores `response_format` returns fences, prose around the object or near-synonyms
//! for the labels. Those are accepted; anything that still does not make a coherent verdict is an error, which
//! the client answers by trying the next format.

use serde_json::Value;

use super::{LlmReason, LlmVerdict, Usage};
use crate::Label;

/// More reasons than this are noise (the prompt asks for five).
pub(crate) const MAX_REASONS: usize = 8;
pub(crate) const MAX_REASON_CHARS: usize = 300;
pub(crate) const MAX_QUOTE_CHARS: usize = 200;

/// What one successful (HTTP 200) response said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Completion {
    pub usage: Usage,
    /// The model as the server reported it (`gpt-4o-mini-2024-07-18` for `gpt-4o-mini`).
    pub model: Option<String>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Content(String),
    /// The model declined (`message.refusal`); another format would decline too.
    Refusal(String),
    /// `finish_reason` was `length` or `content_filter`: the JSON is cut or withheld.
    Stopped(String),
}

/// Reads the response envelope. `Err` means the body is not a Chat Completions response at all (a proxy's HTML
/// page, an empty `choices`).
pub(crate) fn parse_completion(body: &[u8]) -> Result<Completion, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the response is not JSON".to_string())?;
    let usage = parse_usage(&v["usage"]);
    let model = v["model"].as_str().map(str::to_string);
    let choice = v["choices"].get(0).ok_or_else(|| "the response has no choices".to_string())?;
    let message = &choice["message"];
    let outcome = if let Some(refusal) = message["refusal"].as_str().filter(|r| !r.trim().is_empty()) {
        Outcome::Refusal(refusal.trim().to_string())
    } else if let Some(reason @ ("length" | "content_filter")) = choice["finish_reason"].as_str() {
        Outcome::Stopped(reason.to_string())
    } else {
        Outcome::Content(content_text(&message["content"]))
    };
    Ok(Completion { usage, model, outcome })
}

fn parse_usage(u: &Value) -> Usage {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let prompt_tokens = n(&u["prompt_tokens"]);
    Usage {
        prompt_tokens,
        // A cached count above the prompt count would make the uncached part negative in the cost formula.
        cached_tokens: n(&u["prompt_tokens_details"]["cached_tokens"]).min(prompt_tokens),
        completion_tokens: n(&u["completion_tokens"]),
    }
}

/// `content` is a string on OpenAI, Ollama and llama.cpp; a list of `{type: text, text}` parts on some proxies.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str().or_else(|| p.as_str())).collect(),
        _ => String::new(),
    }
}

/// The verdict in a model's answer, or why there is none (the reason never quotes the answer, which may quote the
/// classified text).
pub(crate) fn parse_verdict(content: &str) -> Result<LlmVerdict, String> {
    let v = extract_object(content)?;
    let label_text = v.get("label").or_else(|| v.get("verdict")).and_then(Value::as_str).unwrap_or("");
    let label = parse_label(label_text).ok_or_else(|| {
        if label_text.is_empty() {
            "the answer has no label".to_string()
        } else {
            format!("the label {:?} is not scam, uncertain or legit", cap(label_text, 40))
        }
    })?;
    let p = v.get("scam_probability").or_else(|| v.get("probability")).and_then(number);
    let p = match p {
        Some(p) if p.is_finite() && (0.0..=1.0).contains(&p) => p,
        Some(_) => return Err("scam_probability is outside [0, 1]".to_string()),
        None => return Err("the answer has no numeric scam_probability".to_string()),
    };
    let reasons = match v.get("reasons") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(parse_reason).take(MAX_REASONS).collect(),
        Some(_) => return Err("reasons is not a list".to_string()),
    };
    // A label that contradicts its own probability is a model unsure of itself; say so rather than pick one.
    let label = match label {
        Label::Scam if p < 0.5 => Label::Uncertain,
        Label::Legit if p > 0.5 => Label::Uncertain,
        l => l,
    };
    Ok(LlmVerdict { label, score: p as f32, reasons })
}

/// The outermost JSON object in `content`, tolerating ``` fences and prose before or after it.
fn extract_object(content: &str) -> Result<serde_json::Map<String, Value>, String> {
    let s = strip_fences(content.trim());
    let start = s.find('{').ok_or_else(|| "the answer contains no JSON object".to_string())?;
    let end = s.rfind('}').filter(|&e| e > start);
    // First try the widest span (the outermost object when prose follows it), then just the first complete value,
    // for prose that itself contains a closing brace after the object.
    let widest = end.and_then(|e| serde_json::from_str::<Value>(&s[start..=e]).ok());
    let first = || serde_json::Deserializer::from_str(&s[start..]).into_iter::<Value>().next().and_then(Result::ok);
    match widest.or_else(first) {
        Some(Value::Object(map)) => Ok(map),
        _ => Err("the answer is not valid JSON".to_string()),
    }
}

fn strip_fences(s: &str) -> &str {
    let Some(rest) = s.strip_prefix("```") else { return s };
    // Drop the info string (```json) up to the end of the line.
    let rest = rest.split_once('\n').map_or(rest, |(_, body)| body);
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

fn parse_label(s: &str) -> Option<Label> {
    match s.trim().to_ascii_lowercase().as_str() {
        "scam" => Some(Label::Scam),
        "uncertain" | "suspicious" | "unsure" => Some(Label::Uncertain),
        "legit" | "legitimate" | "safe" => Some(Label::Legit),
        _ => None,
    }
}

/// Small models sometimes quote numbers.
fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// A reason object, or a bare string from a model that flattened the list. Empty reasons are dropped.
fn parse_reason(v: &Value) -> Option<LlmReason> {
    let (reason, quote) = match v {
        Value::String(s) => (s.as_str(), ""),
        Value::Object(o) => (
            o.get("reason").and_then(Value::as_str).unwrap_or(""),
            o.get("quote").and_then(Value::as_str).unwrap_or(""),
        ),
        _ => return None,
    };
    let reason = cap(reason.trim(), MAX_REASON_CHARS);
    if reason.is_empty() {
        return None;
    }
    let quote = cap(quote.trim(), MAX_QUOTE_CHARS);
    Some(LlmReason { reason, quote: (!quote.is_empty()).then_some(quote) })
}

/// At most `max` characters (not bytes: the text may be in any script).
fn cap(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].trim_end().to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verdict(content: &str) -> LlmVerdict {
        parse_verdict(content).expect("a valid verdict")
    }

    #[test]
    fn exact_json() {
        let v = verdict(
            r#"{"label":"scam","scam_probability":0.92,"reasons":[{"reason":"Upfront fee","quote":"pay $50"}]}"#,
        );
        assert_eq!(v.label, Label::Scam);
        assert!((v.score - 0.92).abs() < 1e-6);
        assert_eq!(v.reasons, vec![LlmReason { reason: "Upfront fee".into(), quote: Some("pay $50".into()) }]);
    }

    #[test]
    fn fences_and_prose_are_tolerated() {
        let fenced = "```json\n{\"label\": \"legit\", \"scam_probability\": 0.1, \"reasons\": []}\n```";
        assert_eq!(verdict(fenced).label, Label::Legit);
        let prose = "Sure! Here is my verdict: {\"label\": \"Scam\", \"scam_probability\": \"0.8\", \
                     \"reasons\": [\"asks for a fee\"]} Hope that helps {:}";
        let v = verdict(prose);
        assert_eq!(v.label, Label::Scam);
        assert_eq!(v.reasons, vec![LlmReason { reason: "asks for a fee".into(), quote: None }]);
    }

    #[test]
    fn label_synonyms_case_insensitive() {
        for (word, label) in [
            ("SAFE", Label::Legit),
            ("Legitimate", Label::Legit),
            ("suspicious", Label::Uncertain),
            ("Unsure", Label::Uncertain),
        ] {
            let p = if label == Label::Legit { 0.2 } else { 0.5 };
            let v = verdict(&json!({"label": word, "scam_probability": p, "reasons": []}).to_string());
            assert_eq!(v.label, label, "{word}");
        }
        assert!(parse_verdict(r#"{"label":"maybe","scam_probability":0.5,"reasons":[]}"#).is_err());
    }

    #[test]
    fn label_contradicting_probability_becomes_uncertain() {
        assert_eq!(verdict(r#"{"label":"scam","scam_probability":0.3,"reasons":[]}"#).label, Label::Uncertain);
        assert_eq!(verdict(r#"{"label":"legit","scam_probability":0.7,"reasons":[]}"#).label, Label::Uncertain);
        assert_eq!(verdict(r#"{"label":"scam","scam_probability":0.5,"reasons":[]}"#).label, Label::Scam);
    }

    #[test]
    fn probability_must_be_finite_in_range() {
        for p in ["1.5", "-0.1", "\"NaN\"", "null", "\"high\""] {
            let content = format!(r#"{{"label":"scam","scam_probability":{p},"reasons":[]}}"#);
            assert!(parse_verdict(&content).is_err(), "{p}");
        }
    }

    #[test]
    fn reasons_are_capped_and_cleaned() {
        let long = "x".repeat(1000);
        let reasons: Vec<Value> = (0..12).map(|i| json!({"reason": format!("  reason {i} "), "quote": ""})).collect();
        let mut reasons = reasons;
        reasons.insert(0, json!({"reason": long, "quote": "é".repeat(500)}));
        reasons.insert(1, json!({"reason": "   ", "quote": "dropped"}));
        let v = verdict(&json!({"label": "scam", "scam_probability": 0.9, "reasons": reasons}).to_string());
        assert_eq!(v.reasons.len(), MAX_REASONS);
        assert_eq!(v.reasons[0].reason.chars().count(), MAX_REASON_CHARS);
        assert_eq!(v.reasons[0].quote.as_deref().map(|q| q.chars().count()), Some(MAX_QUOTE_CHARS));
        assert_eq!(v.reasons[1], LlmReason { reason: "reason 0".into(), quote: None });
    }

    #[test]
    fn malformed_or_missing_json_is_an_error() {
        for content in
            ["", "This looks like a scam.", "{\"label\": \"scam\", \"scam_probability\": 0.9, \"reas", "[1,2]"]
        {
            assert!(parse_verdict(content).is_err(), "{content:?}");
        }
        assert!(parse_verdict(r#"{"label":"scam","scam_probability":0.9,"reasons":"many"}"#).is_err());
    }

    #[test]
    fn envelope_usage_refusal_and_truncation() {
        let ok = json!({
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"message": {"content": "{}", "refusal": null}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 119, "completion_tokens": 38, "prompt_tokens_details": {"cached_tokens": 64}}
        });
        let c = parse_completion(ok.to_string().as_bytes()).expect("completion");
        assert_eq!(c.usage, Usage { prompt_tokens: 119, cached_tokens: 64, completion_tokens: 38 });
        assert_eq!(c.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(c.outcome, Outcome::Content("{}".into()));

        // Ollama: no *_details.
        let ollama = json!({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 2}});
        let c = parse_completion(ollama.to_string().as_bytes()).expect("completion");
        assert_eq!(c.usage, Usage { prompt_tokens: 10, cached_tokens: 0, completion_tokens: 2 });

        let refusal =
            json!({"choices": [{"message": {"content": null, "refusal": "I'm sorry"}, "finish_reason": "stop"}]});
        let c = parse_completion(refusal.to_string().as_bytes()).expect("completion");
        assert_eq!(c.outcome, Outcome::Refusal("I'm sorry".into()));

        let cut = json!({"choices": [{"message": {"content": "{\"label\": \"sc"}, "finish_reason": "length"}]});
        let c = parse_completion(cut.to_string().as_bytes()).expect("completion");
        assert_eq!(c.outcome, Outcome::Stopped("length".into()));

        let parts = json!({"choices": [{"message": {"content": [{"type": "text", "text": "{\"a\""}, {"type": "text", "text": ":1}"}]}}]});
        let c = parse_completion(parts.to_string().as_bytes()).expect("completion");
        assert_eq!(c.outcome, Outcome::Content("{\"a\":1}".into()));

        assert!(parse_completion(b"<html>bad gateway</html>").is_err());
        assert!(parse_completion(br#"{"choices": []}"#).is_err());
    }
}
