//! Coalesced callbacks: a reading queued for the JavaScript thread is taken
//! when the thread runs the call, so a thread that was busy for seconds gets
//! the newest reading once, not every stale one in turn.

use napi::bindgen_prelude::ToNapiValue;
use napi::sys;
use std::sync::{Arc, Mutex};

/// The newest value waiting for the JavaScript thread, and whether a call
/// to deliver it is queued. Shared by the events thread (which puts) and
/// the JavaScript thread (which takes); never touched by the audio thread.
pub struct Slot<T> {
    state: Mutex<(Option<T>, bool)>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self { state: Mutex::new((None, false)) }
    }
}

impl<T> Slot<T> {
    /// Replaces the waiting value with `v`; `true` when no call is queued
    /// (the caller queues one: it will deliver `v`, or a newer value).
    pub fn put(&self, v: T) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = Some(v);
        !std::mem::replace(&mut s.1, true)
    }

    /// Takes the waiting value; the next [`Slot::put`] queues a new call.
    pub fn take(&self) -> Option<T> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.1 = false;
        s.0.take()
    }

    /// Forgets a queued call that could not be made (the function is
    /// closing), so a later put tries again.
    pub fn unqueue(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = false;
    }
}

/// The argument of a coalesced call: converted on the JavaScript thread
/// from whatever its slot holds then.
pub struct Latest<T>(pub Arc<Slot<T>>);

impl<T: ToNapiValue + Default> ToNapiValue for Latest<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // A queued call always finds a value (put stores before it queues,
        // take clears the flag with the value under one lock); the default
        // covers the impossible case without a panic.
        let v = val.0.take().unwrap_or_default();
        // SAFETY: called by napi on the JavaScript thread with its `env`.
        unsafe { T::to_napi_value(env, v) }
    }
}
