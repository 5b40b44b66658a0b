//! A [`Document`] is an input after normalisation: one text that every tier reads and every evidence offset points
//! into, the entities found in it, and, for structured postings, the facts only the fields tell (which sections
//! exist, whether the company shows a logo).

use std::ops::Range;

use crate::error::{Error, Result};
use crate::extract::Entities;
use crate::input::{Input, Posting};
use crate::normalize;

/// Whether the text came as a structured posting or as free text (a message, a pasted ad, an e-mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Text,
    Posting,
}

/// What the fields of a structured posting say beyond their text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostingFacts {
    /// Where each non-empty field's text lies in [`Document::text`], by field name.
    pub sections: Vec<(&'static str, Range<usize>)>,
    pub telecommuting: Option<bool>,
    pub has_company_logo: Option<bool>,
    pub has_questions: Option<bool>,
}

impl PostingFacts {
    /// The text range of a field, if the posting has it.
    pub fn section(&self, field: &str) -> Option<Range<usize>> {
        self.sections.iter().find(|(name, _)| *name == field).map(|(_, r)| r.clone())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: DocKind,
    pub text: String,
    pub entities: Entities,
    pub posting: Option<PostingFacts>,
    /// What a person should know about how the input was read.
    pub notes: Vec<String>,
}

/// Headings put in front of posting fields so a person reading the normalised text knows where they are. Short
/// fields get an inline label; long ones a heading line.
fn heading(field: &str) -> Option<&'static str> {
    Some(match field {
        "title" => return None,
        "location" => "Location: ",
        "department" => "Department: ",
        "salary_range" => "Salary: ",
        "company_profile" => "About the company\n",
        "description" => "Description\n",
        "requirements" => "Requirements\n",
        "benefits" => "Benefits\n",
        "employment_type" => "Employment type: ",
        "required_experience" => "Experience: ",
        "required_education" => "Education: ",
        "industry" => "Industry: ",
        "function" => "Function: ",
        _ => return None,
    })
}

impl Document {
    pub fn from_input(input: &Input) -> Result<Self> {
        let mut doc = match input {
            Input::Text(raw) => {
                let cleaned = normalize::clean(raw);
                Document {
                    kind: DocKind::Text,
                    text: cleaned.text,
                    entities: Entities::default(),
                    posting: None,
                    notes: cleaned.notes,
                }
            }
            Input::Posting(posting) => Self::lay_out(posting),
        };
        if doc.text.trim().is_empty() {
            return Err(Error::EmptyInput);
        }
        normalize::bound(&mut doc.text, &mut doc.notes);
        if let Some(facts) = &mut doc.posting {
            let len = doc.text.len();
            facts.sections.retain(|(_, r)| r.start < len);
            for (_, r) in &mut facts.sections {
                r.end = r.end.min(len);
            }
        }
        doc.entities = Entities::extract(&doc.text);
        Ok(doc)
    }

    /// Lay a posting's fields out as one text, remembering where each field went.
    fn lay_out(posting: &Posting) -> Self {
        let mut text = String::new();
        let mut facts = PostingFacts {
            telecommuting: posting.telecommuting,
            has_company_logo: posting.has_company_logo,
            has_questions: posting.has_questions,
            ..PostingFacts::default()
        };
        let mut notes = Vec::new();
        for (field, raw) in posting.text_fields() {
            let cleaned = normalize::clean(raw);
            notes.extend(cleaned.notes.into_iter().map(|n| format!("{field}: {n}")));
            if cleaned.text.is_empty() {
                continue;
            }
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(heading(field).unwrap_or(""));
            let start = text.len();
            text.push_str(&cleaned.text);
            facts.sections.push((field, start..text.len()));
        }
        Document { kind: DocKind::Posting, text, entities: Entities::default(), posting: Some(facts), notes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_fields_are_laid_out_with_sections() {
        let posting = Posting {
            title: Some("Data Entry Clerk".into()),
            company_profile: Some("Acme &amp; Co.".into()),
            description: Some("<p>Type forms.</p>".into()),
            has_company_logo: Some(false),
            ..Posting::default()
        };
        let doc = Document::from_input(&Input::Posting(Box::new(posting))).expect("non-empty");
        assert_eq!(doc.text, "Data Entry Clerk\n\nAbout the company\nAcme & Co.\n\nDescription\nType forms.");
        let facts = doc.posting.expect("posting facts");
        let profile = facts.section("company_profile").expect("profile section");
        assert_eq!(&doc.text[profile], "Acme & Co.");
        assert_eq!(facts.has_company_logo, Some(false));
    }

    #[test]
    fn empty_inputs_are_refused() {
        assert!(matches!(Document::from_input(&Input::text(" \n\t ")), Err(Error::EmptyInput)));
        assert!(matches!(Document::from_input(&Input::text("<p> </p>")), Err(Error::EmptyInput)));
        let blank = Input::Posting(Box::default());
        assert!(matches!(Document::from_input(&blank), Err(Error::EmptyInput)));
    }
}
