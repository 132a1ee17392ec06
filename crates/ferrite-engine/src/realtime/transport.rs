//! The transport: play, stop, seek and loop requests, and the position, as atomics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const NONE: u64 = u64::MAX;

/// Transport state shared by the control side and the audio thread.
#[derive(Debug)]
pub struct Transport {
    playing: AtomicBool,
    position: AtomicU64,
    seek_to: AtomicU64,
    // A sequence lock: odd while the control side writes the loop region.
    loop_seq: AtomicU64,
    loop_start: AtomicU64,
    loop_end: AtomicU64,
}

impl Default for Transport {
    fn default() -> Self {
        Self {
            playing: AtomicBool::new(true),
            position: AtomicU64::new(0),
            seek_to: AtomicU64::new(NONE),
            loop_seq: AtomicU64::new(0),
            loop_start: AtomicU64::new(0),
            loop_end: AtomicU64::new(NONE),
        }
    }
}

impl Transport {
    /// [control] Starts or resumes the transport.
    pub fn play(&self) {
        self.playing.store(true, Ordering::Release);
    }

    /// [control] Pauses the transport (the engine outputs silence).
    pub fn stop(&self) {
        self.playing.store(false, Ordering::Release);
    }

    /// [control] Moves the transport to `frame` at the next callback.
    pub fn seek(&self, frame: u64) {
        self.seek_to.store(frame.min(NONE - 1), Ordering::Release);
        // Reflect it at once for readers of `position`.
        self.position.store(frame, Ordering::Release);
    }

    /// [control] Loops `start..end` (`end` exclusive); `None` ends looping.
    pub fn set_loop(&self, start: u64, end: Option<u64>) {
        let s = self.loop_seq.fetch_add(1, Ordering::AcqRel);
        debug_assert!(s.is_multiple_of(2));
        self.loop_start.store(start, Ordering::Release);
        self.loop_end.store(end.unwrap_or(NONE), Ordering::Release);
        self.loop_seq.fetch_add(1, Ordering::AcqRel);
    }

    /// [any] Whether the transport is playing.
    pub fn playing(&self) -> bool {
        self.playing.load(Ordering::Acquire)
    }

    /// [any] The transport frame (as of the last callback, or the last seek).
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// [audio-thread] Takes a pending seek.
    pub(crate) fn take_seek(&self) -> Option<u64> {
        match self.seek_to.swap(NONE, Ordering::AcqRel) {
            NONE => None,
            f => Some(f),
        }
    }

    /// [audio-thread] Publishes the position.
    pub(crate) fn set_position(&self, frame: u64) {
        // A seek requested meanwhile wins; it will be taken next callback.
        if self.seek_to.load(Ordering::Acquire) == NONE {
            self.position.store(frame, Ordering::Release);
        }
    }

    /// [audio-thread] The loop region, or `None` (also while it is being written:
    /// the previous region is kept by the caller then).
    pub(crate) fn loop_region(&self) -> Option<Option<(u64, u64)>> {
        let s1 = self.loop_seq.load(Ordering::Acquire);
        if s1 % 2 == 1 {
            return None;
        }
        let start = self.loop_start.load(Ordering::Acquire);
        let end = self.loop_end.load(Ordering::Acquire);
        let s2 = self.loop_seq.load(Ordering::Acquire);
        if s1 != s2 {
            return None;
        }
        Some(if end == NONE || end <= start { None } else { Some((start, end)) })
    }
}
