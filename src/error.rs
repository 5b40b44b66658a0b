//! The core's error type. Every message says what went wrong and what to do about it, because the CLI, the bridge
//! and the desktop app show these to people, not to developers.

use std::path::PathBuf;

/// Anything the analysis core can refuse. Analysis itself never fails on text: these are about the input's shape and
/// about configuration (rules files, later model files).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the input is empty: paste or pipe the text of the job posting or message to check")]
    EmptyInput,

    #[error(
        "the input looks like a binary file ({what}), not text: save the posting or message as plain text, HTML or \
         JSON and try again"
    )]
    BinaryInput { what: String },

    #[error("invalid input: {0}")]
    InvalidInput(String),

    #[error("cannot read the rules file {path}: {source}")]
    RulesIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot load the model from {origin}: {message}")]
    Model { origin: String, message: String },

    #[error("the rules in {origin} are invalid: {message}")]
    Rules { origin: String, message: String },

    /// An image that could not be read (see [`crate::ocr`]).
    #[error(transparent)]
    Image(#[from] crate::ocr::OcrError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
