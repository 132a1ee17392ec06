//! The control-side error type: every refusal names the node, parameter and value.

use std::fmt;

/// Which JavaScript error class a refusal maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Wrong type, unknown node type, parameter or node (`TypeError`).
    Type,
    /// A value out of range: NaN, infinite, negative frames, cycles (`RangeError`).
    Range,
    /// Anything else: I/O, a device, a closed engine (`Error`).
    Other,
}

/// A refused request, with a message meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    /// The error class.
    pub kind: ErrorKind,
    /// What was wrong, naming the node (`type #id`), parameter and value.
    pub message: String,
}

impl EngineError {
    /// A `TypeError`.
    pub fn type_error(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Type, message: message.into() }
    }

    /// A `RangeError`.
    pub fn range(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Range, message: message.into() }
    }

    /// A plain `Error`.
    pub fn other(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Other, message: message.into() }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EngineError {}

/// Shorthand for results of control-side calls.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Formats a number the way JavaScript users write it (`NaN`, `Infinity`, `440`).
pub fn show(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "Infinity".into()
    } else if v == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        format!("{v}")
    }
}
