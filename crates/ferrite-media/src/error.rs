//! The media error type: every message names the file (or the argument) and the reason.

use std::fmt;

/// Which JavaScript error class a media error maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaErrorKind {
    /// A value out of range (a sample rate of 0, a slice past the end): `RangeError`.
    Range,
    /// A file that cannot be read or written, or is not audio: `Error`.
    File,
}

/// A refused or failed media operation, with a message meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaError {
    /// The error class.
    pub kind: MediaErrorKind,
    /// What went wrong, starting with the file's path where there is one.
    pub message: String,
}

impl MediaError {
    /// A `RangeError`.
    pub fn range(message: impl Into<String>) -> Self {
        Self { kind: MediaErrorKind::Range, message: message.into() }
    }

    /// A file error: `path: reason`.
    pub fn file(path: &std::path::Path, reason: impl fmt::Display) -> Self {
        Self { kind: MediaErrorKind::File, message: format!("{}: {reason}", path.display()) }
    }
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MediaError {}

/// Shorthand for media results.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;
