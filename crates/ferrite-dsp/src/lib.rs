//! Pure DSP for ferrite-audio: the [`Processor`] contract, one module per
//! processor, and the SIMD kernels they are built on.
//!
//! Nothing here starts threads, does I/O, or allocates after `prepare`.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod alloc;
pub mod processor;

pub mod gain;
pub mod meter;

pub mod biquad;
pub mod constant;
pub mod delay;
pub mod eq;
pub mod oscillator;
pub mod pan;
pub mod player;
pub mod wavetable;

pub mod compressor;

pub mod convolver;

pub mod limiter;

pub mod analyser;
pub mod linear_phase_eq;
pub mod noise;

pub mod kernels;

pub use processor::{Bus, ParamBlock, ParamBuffer, ParamSpec, PrepareContext, ProcessContext, Processor, Special};
