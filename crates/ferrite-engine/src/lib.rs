//! ferrite-audio's engine: graph description and validation, the compiler,
//! the render core, real-time plumbing and the offline renderer.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
