//! Whole-file jobs with constant memory: measuring a file's loudness
//! ([`analyze_file`]) and rendering to a file ([`render_to_file`]). Files are read in blocks on one thread and measured
//! on another, so decoding and measuring overlap.

mod analyze;
mod normalize;
mod render;
mod streams;

pub use analyze::{analyze_file, analyze_threads, analyze_with, FileAnalysis, MIN_SEGMENT_SECONDS};
pub use normalize::{normalize_file, normalize_file_with, NormalizeRequest, NormalizeResult};
pub use render::{default_depth, render_to_file, writable, FileRenderRequest, FileRenderResult, RenderInput};
pub use streams::{prepare_offline, stream_failure, wait_for_prefill, PREFILL_WAIT};

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
