//! Whole-file jobs with constant memory: measuring a file's loudness
//! ([`analyze_file`]). Files are read in blocks on one thread and measured
//! on another, so decoding and measuring overlap.

mod analyze;

pub use analyze::{analyze_file, FileAnalysis};

use crate::error::EngineError;
use ferrite_media::{MediaError, MediaErrorKind};

impl From<MediaError> for EngineError {
    fn from(e: MediaError) -> Self {
        match e.kind {
            MediaErrorKind::Range => EngineError::range(e.message),
            MediaErrorKind::File => EngineError::other(e.message),
        }
    }
}
