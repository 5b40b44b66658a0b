//! What can go wrong when the LLM tier is asked, sorted by what the caller should do next, not by where it
//! happened: [`LlmError::Config`] switches escalation off until the configuration changes,
//! [`LlmError::Unavailable`] means "try again later", [`LlmError::BadAnswer`] means the model could not produce a
//! verdict (and may have been billed), [`LlmError::Rejected`] means this particular request can never succeed.
//!
//! Every message is shown to people, so it says what happened and what to do. The server's own error message is
//! quoted because it is usually the most precise diagnosis (OpenAI masks keys in it, and the client scrubs the
//! configured key out of it anyway); the text being classified never appears.

use super::Usage;

/// Why the LLM tier gave no verdict. The local verdict always stands.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The endpoint refuses this configuration for good: 401/403 (key), 404 (model or path), 429
    /// `insufficient_quota`. The caller switches escalation off until the configuration changes. No retry.
    /// `status` 0 means the configuration was refused locally, before any request (e.g. a malformed base URL).
    #[error("{}", config_text(*.status, .code.as_deref(), .message))]
    Config { status: u16, code: Option<String>, message: String },
    /// Rate limits, 5xx, network errors, timeouts — after the allowed retries, or when the deadline leaves no time.
    #[error("the LLM endpoint is unavailable: {message} ({}); the local verdict stands, try again later", plural_calls(*.calls))]
    Unavailable { message: String, calls: u32, usage: Usage },
    /// The server answered but gave no usable verdict: refusal, finish_reason length/content_filter, malformed or
    /// invalid JSON after every format. Tokens may still have been billed.
    #[error("the LLM gave no usable verdict: {message} ({}); the local verdict stands", plural_calls(*.calls))]
    BadAnswer { message: String, calls: u32, usage: Usage },
    /// The request itself was refused (other 400s, 413, 429 "Request too large"): retrying cannot help.
    #[error("{}", rejected_text(*.status, .message))]
    Rejected { status: u16, message: String },
}

impl LlmError {
    /// Tokens billed before the failure: an unusable answer is billed, and a run can get one and then time out or
    /// hit a 5xx while falling back to a simpler format. `Config` and `Rejected` end on a response that bills
    /// nothing.
    pub fn usage(&self) -> Usage {
        match self {
            LlmError::BadAnswer { usage, .. } | LlmError::Unavailable { usage, .. } => *usage,
            _ => Usage::default(),
        }
    }

    /// HTTP calls made. `Config` and `Rejected` stop at the first such answer, so they count as one call (0 for a
    /// configuration refused before any request).
    pub fn calls(&self) -> u32 {
        match self {
            LlmError::Unavailable { calls, .. } | LlmError::BadAnswer { calls, .. } => *calls,
            LlmError::Config { status: 0, .. } => 0,
            LlmError::Config { .. } | LlmError::Rejected { .. } => 1,
        }
    }

    /// True when the caller should switch escalation off until the configuration changes.
    pub fn is_config(&self) -> bool {
        matches!(self, LlmError::Config { .. })
    }
}

const OFF: &str = "escalation is off until the configuration changes";

fn config_text(status: u16, code: Option<&str>, message: &str) -> String {
    match status {
        0 => format!("the LLM endpoint is misconfigured: {message}; {OFF}"),
        401 => format!(
            "the LLM endpoint rejected the API key (401: {message}): check OPENAI_API_KEY or llm.api_key; {OFF}"
        ),
        403 => format!(
            "the LLM endpoint refused access (403: {message}): check that the API key may use llm.model from here; \
             {OFF}"
        ),
        404 => format!(
            "the LLM endpoint does not know this model or path (404: {message}): check llm.model and llm.base_url \
             (it usually ends in /v1); {OFF}"
        ),
        429 => format!(
            "the LLM account is out of quota (429 {}: {message}): add credit or raise the limit with the provider, \
             or use another key; {OFF}",
            code.unwrap_or("insufficient_quota")
        ),
        _ => format!("the LLM endpoint refuses this configuration ({status}: {message}); {OFF}"),
    }
}

fn rejected_text(status: u16, message: &str) -> String {
    if status == 413 || message.to_ascii_lowercase().contains("too large") {
        format!(
            "the LLM endpoint rejected the request as too large ({status}: {message}): the text is beyond this \
             model's limits, so retrying cannot help; the local verdict stands"
        )
    } else {
        format!(
            "the LLM endpoint rejected the request ({status}: {message}): retrying cannot help; the local verdict \
             stands. If it happens for every text, check llm.model and llm.base_url"
        )
    }
}

fn plural_calls(calls: u32) -> String {
    if calls == 1 { "1 call".to_string() } else { format!("{calls} calls") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = LlmError::Config { status: 401, code: Some("invalid_api_key".into()), message: "Incorrect".into() };
        let s = e.to_string();
        assert!(s.contains("401") && s.contains("OPENAI_API_KEY") && s.contains(OFF), "{s}");
        let e = LlmError::Config { status: 429, code: Some("insufficient_quota".into()), message: "quota".into() };
        assert!(e.to_string().contains("out of quota"), "{e}");
        let e = LlmError::Unavailable { message: "server error (500)".into(), calls: 3, usage: Usage::default() };
        assert!(e.to_string().contains("3 calls") && e.to_string().contains("try again later"), "{e}");
        let e = LlmError::Rejected { status: 429, message: "Request too large for gpt-4o".into() };
        assert!(e.to_string().contains("too large"), "{e}");
        assert_eq!(e.calls(), 1);
    }
}
