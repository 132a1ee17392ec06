//! napi bindings of JavaScript processors: registering the shared memory
//! the TypeScript host made (main thread), and the worker's wait and wake
//! (worker thread; the addon is loaded there too).

use crate::guarded;
use ferrite_engine::jsproc::{self, Region, Words};
use ferrite_engine::EngineError;
use napi::bindgen_prelude::{Float32Array, Int32Array, Int32ArraySlice};
use napi::Env;
use napi_derive::napi;
use std::sync::atomic::AtomicU32;

/// Registers one processor instance's region (`ring`, over a
/// `SharedArrayBuffer` whose header the host wrote) and its worker's
/// doorbell; returns the token the graph names it by. Rust keeps both arrays
/// (so their memory) alive until every processor built on them is dropped.
#[napi]
pub fn register_processor_memory(env: Env, ring: Float32Array, door: Int32Array) -> napi::Result<u32> {
    let token = guarded("processor", || {
        let ring_ptr = ring.as_ptr() as *mut u8;
        let ring_len = ring.len();
        let door_ptr = door.as_ptr() as *mut u8;
        let door_len = door.len();
        // SAFETY: the typed arrays are views of `SharedArrayBuffer`s that
        // they keep alive while Rust holds them (moved into `keep`); their
        // memory is 8-byte aligned (checked by `Region::new`) and the worker
        // writes it only with atomics or whole-word typed-array stores.
        let ring = unsafe { Words::new(ring_ptr, ring_len, Box::new(ring)) };
        // SAFETY: as above.
        let door = unsafe { Words::new(door_ptr, door_len, Box::new(door)) };
        let region = Region::new(ring, door).map_err(|e| EngineError::other(format!("processor: {e}")))?;
        let token = jsproc::register(region);
        u32::try_from(token).map_err(|_| EngineError::other("processor: too many regions registered"))
    })?;
    // A render waiting on this region when its environment is torn down
    // (whose host then cannot mark its worker gone) is woken and goes on.
    crate::spawn::on_teardown(&env, u64::from(token), move || jsproc::mark_gone(u64::from(token)))?;
    Ok(token)
}

/// Forgets a token (the instance was disposed); processors still running on it keep its memory.
#[napi]
pub fn unregister_processor_memory(env: Env, token: u32) -> napi::Result<()> {
    jsproc::unregister(u64::from(token));
    crate::spawn::forget_teardown(&env, u64::from(token))
}

/// The word `index` of `words`, when it exists and is aligned.
fn word<'a>(words: &'a Int32ArraySlice<'_>, index: u32) -> Option<&'a AtomicU32> {
    let cell = words.get(index as usize)?;
    // SAFETY: `cell` is a live, 4-byte aligned i32 of a shared typed array
    // (valid for this call); every thread touches it atomically.
    Some(unsafe { &*(cell as *const i32 as *const AtomicU32) })
}

/// Worker side: blocks until word `index` of `words` differs from `value`
/// or someone wakes it (may return early). Never called on the audio thread.
#[napi]
pub fn processor_wait(words: Int32ArraySlice, index: u32, value: i32) {
    if let Some(w) = word(&words, index) {
        jsproc::wait_word(w, value as u32);
    }
}

/// Wakes every thread waiting on word `index` of `words` (non-blocking).
#[napi]
pub fn processor_wake(words: Int32ArraySlice, index: u32) {
    if let Some(w) = word(&words, index) {
        jsproc::wake_word(w);
    }
}

/// Worker side: names the calling thread (`ferrite-jsproc`), once at its start.
#[napi]
pub fn processor_worker_started() {
    jsproc::name_worker_thread();
}
