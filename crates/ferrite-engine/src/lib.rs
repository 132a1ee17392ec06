//! ferrite-audio's engine: graph description and validation, the compiler,
//! the render core, real-time plumbing and the offline renderer.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod automation;
pub mod compile;
pub mod desc;
pub mod error;
pub mod files;
pub mod jsproc;
pub mod meter;
pub mod nodes;
pub mod offline;
pub mod parallel;
pub mod realtime;
pub mod render;
pub mod spectrum;
pub mod wav;

pub use compile::{compile, CompileOptions, Compiled, RenderSettings};
pub use desc::GraphDesc;
pub use error::{EngineError, ErrorKind};
pub use offline::{render_offline, render_offline_threads, render_offline_with, OfflineRequest, OfflineResult};
