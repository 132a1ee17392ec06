//! ferrite-audio's audio backends: cpal devices, a clock-paced null backend,
//! and audio-thread setup (real-time priority, FTZ/DAZ).
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
