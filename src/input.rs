//! What people hand to Redflag: free text (a chat message, a pasted posting, an e-mail body, HTML) or a structured
//! posting with the EMSCAD fields that job boards expose. Both become one [`crate::Document`] before analysis.

use serde::{Deserialize, Deserializer, Serialize};

/// One thing to check.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Free text: a message, an e-mail body, a pasted posting; HTML is detected and converted.
    Text(String),
    /// A job posting with separate fields, as job boards and the EMSCAD corpus have them.
    Posting(Box<Posting>),
}

impl Input {
    pub fn text(text: impl Into<String>) -> Self {
        Input::Text(text.into())
    }
}

/// A structured job posting. Field names follow EMSCAD (Vidros et al. 2017) so that corpus and job-board exports
/// map one to one; every field is optional because real exports are patchy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Posting {
    pub title: Option<String>,
    pub location: Option<String>,
    pub department: Option<String>,
    pub salary_range: Option<String>,
    pub company_profile: Option<String>,
    pub description: Option<String>,
    pub requirements: Option<String>,
    pub benefits: Option<String>,
    pub employment_type: Option<String>,
    pub required_experience: Option<String>,
    pub required_education: Option<String>,
    pub industry: Option<String>,
    pub function: Option<String>,
    #[serde(deserialize_with = "flexible_bool")]
    pub telecommuting: Option<bool>,
    #[serde(deserialize_with = "flexible_bool")]
    pub has_company_logo: Option<bool>,
    #[serde(deserialize_with = "flexible_bool")]
    pub has_questions: Option<bool>,
}

impl Posting {
    /// The field names a structured posting may carry, in the order they are laid out for analysis.
    pub const FIELDS: [&'static str; 16] = [
        "title",
        "location",
        "department",
        "salary_range",
        "company_profile",
        "description",
        "requirements",
        "benefits",
        "employment_type",
        "required_experience",
        "required_education",
        "industry",
        "function",
        "telecommuting",
        "has_company_logo",
        "has_questions",
    ];

    /// The text-bearing fields that are present, with their names, in layout order.
    pub fn text_fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("title", &self.title),
            ("location", &self.location),
            ("department", &self.department),
            ("salary_range", &self.salary_range),
            ("company_profile", &self.company_profile),
            ("description", &self.description),
            ("requirements", &self.requirements),
            ("benefits", &self.benefits),
            ("employment_type", &self.employment_type),
            ("required_experience", &self.required_experience),
            ("required_education", &self.required_education),
            ("industry", &self.industry),
            ("function", &self.function),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
    }
}

/// Fields a JSON record may carry besides the input itself: its id and evaluation metadata. They are accepted
/// silently; any other unknown field is reported as a warning, never an error, so newer producers keep working.
const META_FIELDS: [&str; 6] = ["id", "label", "source", "category", "lang", "url"];

impl Input {
    /// Read one JSON record: `{"text": "..."}` or a posting with the fields of [`Posting`]. Returns the input and
    /// warnings about fields that were ignored. This is the shape of `redflag check --jsonl` lines and of the API.
    pub fn from_json(value: serde_json::Value) -> crate::Result<(Input, Vec<String>)> {
        use crate::Error::InvalidInput;
        let serde_json::Value::Object(mut map) = value else {
            return Err(InvalidInput(format!(
                "expected a JSON object like {{\"id\": 1, \"text\": \"...\"}}, got {}",
                json_kind(&value)
            )));
        };
        let mut warnings = Vec::new();
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| {
                k.as_str() != "text" && !META_FIELDS.contains(&k.as_str()) && !Posting::FIELDS.contains(&k.as_str())
            })
            .cloned()
            .collect();
        for key in unknown {
            map.remove(&key);
            warnings.push(format!("unknown field {key:?} ignored"));
        }
        for meta in META_FIELDS {
            map.remove(meta);
        }
        let text = map.remove("text");
        if text.is_some() && !map.is_empty() {
            return Err(InvalidInput(
                "give either \"text\" or posting fields (title, description, ...), not both".into(),
            ));
        }
        match text {
            Some(serde_json::Value::String(text)) => Ok((Input::Text(text), warnings)),
            Some(other) => Err(InvalidInput(format!("\"text\" must be a string, got {}", json_kind(&other)))),
            None if map.is_empty() => Err(InvalidInput(
                "no \"text\" field and no posting fields (title, description, company_profile, ...)".into(),
            )),
            None => {
                let posting: Posting = serde_json::from_value(serde_json::Value::Object(map))
                    .map_err(|e| InvalidInput(format!("bad posting field: {e}")))?;
                Ok((Input::Posting(Box::new(posting)), warnings))
            }
        }
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// EMSCAD and spreadsheet exports write booleans as 0/1, "0"/"1", "t"/"f" or true/false; accept them all.
fn flexible_bool<'de, D: Deserializer<'de>>(de: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error as _;
    let value = Option::<serde_json::Value>::deserialize(de)?;
    Ok(match value {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::Number(n)) => Some(n.as_f64().is_some_and(|x| x != 0.0)),
        Some(serde_json::Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "1" | "t" | "true" | "yes" | "y" => Some(true),
            "0" | "f" | "false" | "no" | "n" => Some(false),
            other => return Err(D::Error::custom(format!("expected a boolean (0/1, true/false), got {other:?}"))),
        },
        Some(other) => return Err(D::Error::custom(format!("expected a boolean (0/1, true/false), got {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_accepts_emscad_booleans() {
        let p: Posting =
            serde_json::from_str(r#"{"title":"Clerk","telecommuting":"1","has_company_logo":0,"has_questions":true}"#)
                .expect("valid posting");
        assert_eq!(p.telecommuting, Some(true));
        assert_eq!(p.has_company_logo, Some(false));
        assert_eq!(p.has_questions, Some(true));
    }

    #[test]
    fn posting_rejects_nonsense_booleans_with_a_clear_message() {
        let err = serde_json::from_str::<Posting>(r#"{"telecommuting":"maybe"}"#).expect_err("not a boolean");
        assert!(err.to_string().contains("expected a boolean"), "{err}");
    }

    #[test]
    fn json_records_become_text_or_postings_with_warnings_for_unknown_fields() {
        let (input, warnings) =
            Input::from_json(serde_json::json!({"id": 7, "text": "hi", "label": "scam", "colour": "red"})).expect("ok");
        assert_eq!(input, Input::text("hi"));
        assert_eq!(warnings, ["unknown field \"colour\" ignored"]);
        let (input, _) = Input::from_json(serde_json::json!({"title": "Clerk", "telecommuting": 1})).expect("ok");
        assert!(matches!(input, Input::Posting(p) if p.title.as_deref() == Some("Clerk")));
    }

    #[test]
    fn json_records_without_input_or_with_both_shapes_are_refused() {
        for bad in [
            serde_json::json!({"id": 1}),
            serde_json::json!({"text": "a", "title": "b"}),
            serde_json::json!({"text": 5}),
            serde_json::json!([1, 2]),
            serde_json::json!({"title": ["not", "text"]}),
        ] {
            let err = Input::from_json(bad.clone()).expect_err("refused");
            assert!(matches!(err, crate::Error::InvalidInput(_)), "{bad}: {err}");
        }
    }
}
