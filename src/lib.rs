//! napi bindings for ferrite-audio: conversion and error mapping only.
//!
//! Every function here is called by the TypeScript facade (`index.ts`), never
//! directly by users. Errors cross as `Error`s whose message starts with
//! `[ferrite:TypeError]`, `[ferrite:RangeError]` or `[ferrite:Error]`; the
//! facade rethrows them as the matching JavaScript class. No Rust panic
//! reaches JavaScript: every entry point runs inside `catch_unwind`.
#![deny(clippy::all)]

mod engine;
mod jsproc;
mod latest;
mod media;
mod offline;
mod spawn;
mod wav;

use ferrite_engine::{EngineError, ErrorKind};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Maps an engine error to a napi error the facade can classify.
pub(crate) fn to_js(e: EngineError) -> napi::Error {
    let tag = match e.kind {
        ErrorKind::Type => "TypeError",
        ErrorKind::Range => "RangeError",
        ErrorKind::Other => "Error",
    };
    napi::Error::from_reason(format!("[ferrite:{tag}] {}", e.message))
}

/// Runs `f`, turning a panic into an ordinary error.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, EngineError>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_js),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(to_js(EngineError::other(format!("{what}: internal error ({msg}); please report it"))))
        }
    }
}

/// The SIMD kernel set chosen at run time.
pub(crate) fn simd_name() -> String {
    ferrite_dsp::kernels::simd_level().name().to_string()
}
