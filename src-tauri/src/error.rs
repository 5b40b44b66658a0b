//! The one error type every command returns. It serialises as `{kind, message}`: `kind` is stable for the page's
//! logic, `message` is a sentence for the person that says what to do. Internal detail stays in the logs.

use serde::ser::SerializeStruct;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing to check, or input the person can fix (empty clipboard, empty file).
    #[error("{0}")]
    Input(String),
    #[error(
        "Redflag cannot read {0} files. Open a .txt, .html, .eml or .pdf file or a screenshot (.png, .jpg, .webp), or \
         paste the text."
    )]
    UnsupportedFile(String),
    #[error("{0}")]
    Extract(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Config(String),
    #[error("the Redflag database is unavailable: {0}")]
    Store(String),
    #[error("{0}")]
    Llm(String),
    /// Pairing or syncing with a Redflag hub (unreachable, refused, a page that failed its signature).
    #[error("{0}")]
    Hub(String),
    #[error("cancelled; this is the local verdict")]
    Cancelled,
    #[error("something went wrong inside Redflag: {0}")]
    Internal(String),
}

impl Error {
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Input(_) => "input",
            Error::UnsupportedFile(_) => "unsupported_file",
            Error::Extract(_) => "extract",
            Error::NotFound(_) => "not_found",
            Error::Config(_) => "config",
            Error::Store(_) => "store",
            Error::Llm(_) => "llm",
            Error::Hub(_) => "hub",
            Error::Cancelled => "cancelled",
            Error::Internal(_) => "internal",
        }
    }
}

impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Error", 2)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

impl From<redflag::store::StoreError> for Error {
    fn from(e: redflag::store::StoreError) -> Self {
        Error::Store(e.to_string())
    }
}

impl From<redflag::config::ConfigError> for Error {
    fn from(e: redflag::config::ConfigError) -> Self {
        Error::Config(e.to_string())
    }
}

impl From<redflag::Error> for Error {
    fn from(e: redflag::Error) -> Self {
        Error::Input(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_kind_and_message() {
        let json = serde_json::to_value(Error::UnsupportedFile(".docx".into())).expect("serialises");
        assert_eq!(json["kind"], "unsupported_file");
        assert!(json["message"].as_str().expect("a message").contains(".docx files"));
    }
}
