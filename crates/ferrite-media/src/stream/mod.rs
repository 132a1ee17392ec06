//! Streaming files from disk to the audio thread: one reader thread
//! (`ferrite-reader`) decodes and resamples ahead of every [`FilePlayer`]
//! into a lock-free ring per player; the player plays from its ring on the
//! audio thread and never touches the file or waits for it (except in
//! blocking mode, which an offline render turns on).
//!
//! # What a player plays
//!
//! The output at transport frame `p` is a pure function of `p`:
//! - `p < start_frame`: silence;
//! - otherwise the play index `q = offset_frames + (p - start_frame)`;
//!   without `looped`, `q >= len` is silence (`len`: the file's length at
//!   the render rate); with `looped`, file frame `q mod len` plays: the
//!   first pass starts at `offset_frames`, and after the file's last frame
//!   its frame 0 follows, the whole file repeating;
//! - render channel `c` plays file channel `c % file_channels`;
//! - times the `gain` parameter, per frame.
//!
//! The samples are [`decode_file`](crate::decode_file)'s at the render
//! rate, read in segments each decoded from its own start, so that any
//! frame reads the same value whatever the transport did before (and an
//! offline render equals a real-time one that did not underrun): the head
//! (play indices `offset_frames .. offset_frames + head`) is `decode_file`
//! from `offset_frames`, and every other file frame `f` is `decode_file`
//! from [`anchor_frame`]`(f, head_end)`, bit for bit. A PCM, FLAC or ALAC
//! file at the render rate therefore plays its whole decode bit for bit; a
//! resampled or lossy file differs from its whole decode only where a
//! segment starts, by float rounding (measured: -186 dB for a 44.1 kHz
//! FLAC and -192 dB for an MP3 played at 48 kHz, largest sample
//! difference 6e-8).
//!
//! # Jumps
//!
//! A block whose position is not the previous block's end is a jump.
//! Instant (no underrun): a jump into the head (back to the start of the
//! player, a transport loop whose start lies before the player's first
//! `HEAD_SECONDS`), and a jump forwards inside the read-ahead already in the
//! ring (the ring is skipped). Any other jump asks the reader for the new
//! position; in real time the frames until it has delivered play as
//! silence and count in [`disk_underruns`]: up to the reader's poll
//! interval plus a seek and the decode from the segment's anchor (at most
//! [`SEEK_ANCHOR_FRAMES`]), tens of milliseconds (measured: 45 ms to
//! deliver 50000 frames after a far jump into a resampled FLAC, on a loaded
//! 2-core machine). The jump is position-locked: the frames after it play
//! at their transport positions once the data is there, never late.
//!
//! A stream reads its file again (reopens it) whenever it reaches a
//! segment anchored at the file's frame 0: at every loop wrap and after a
//! jump there. A file deleted while streaming plays on from the open
//! handle until then; a file truncated or damaged while streaming stops
//! its player (silence) with an error in [`StreamStatus::error`] and
//! [`take_stream_errors`].

mod player;
mod reader;

pub use player::{FilePlayer, FilePlayerOptions, FILE_PLAYER_PARAMS};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Seconds of read-ahead each player's ring holds, at the render rate.
/// Ardour's butler reads 5-20 s ahead and Tracktion caches 1-5 s; 4 s
/// rides out any disk or scheduling stall a desktop sees while keeping
/// 100 stereo players at 48 kHz under 160 MB of rings.
pub const READ_AHEAD_SECONDS: f64 = 4.0;

/// The reader refills a ring (to full) once its fill drops under this many
/// seconds: refills come as bursts of about one second, large sequential
/// reads, while three seconds of margin remain.
pub const LOW_WATER_SECONDS: f64 = 3.0;

/// Seconds from `offset_frames` that each player keeps decoded in memory
/// (its head): a jump back to the player's start plays from it at once
/// while the ring refills behind it, which takes the reader a seek and
/// well under a second.
pub const HEAD_SECONDS: f64 = 1.5;

/// Frames (at the render rate) the reader writes per ring chunk.
pub const CHUNK_FRAMES: usize = 4096;

/// Resampled files are decoded in segments starting on multiples of this
/// many frames (and at the head's end), see [`anchor_frame`]: a fresh
/// seek costs at most one segment of decoding (2.7 s at 48 kHz, a few
/// milliseconds of work), and a continuous read re-seeks once per segment.
pub const SEEK_ANCHOR_FRAMES: u64 = 1 << 17;

/// How often the reader thread looks at its rings when it has nothing to
/// do (it never needs a wake-up from the audio thread).
pub const READER_POLL: std::time::Duration = std::time::Duration::from_millis(4);

/// The frame a segment containing file frame `f` (outside the head) is
/// decoded from: the last multiple of [`SEEK_ANCHOR_FRAMES`] at or before
/// `f`, or the head's end (`head_end`, a file frame) when that lies
/// between them.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn anchor_frame(f: u64, head_end: u64) -> u64 {
    let m = f / SEEK_ANCHOR_FRAMES * SEEK_ANCHOR_FRAMES;
    if head_end > m && head_end <= f {
        head_end
    } else {
        m
    }
}

/// The first anchor after `f`.
fn next_anchor(f: u64, head_end: u64) -> u64 {
    let m = (f / SEEK_ANCHOR_FRAMES).saturating_add(1).saturating_mul(SEEK_ANCHOR_FRAMES);
    if head_end > f && head_end < m {
        head_end
    } else {
        m
    }
}

/// Frames played as silence because the reader was late, over the process
/// (all players): it counts frames, not events (a 10 ms underrun at 48 kHz
/// counts 480), so that it measures how much audio was lost.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn disk_underruns() -> u64 {
    DISK_UNDERRUNS.load(Ordering::Relaxed)
}

static DISK_UNDERRUNS: AtomicU64 = AtomicU64::new(0);

static STREAM_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Takes the stream errors recorded since the last call (a read error
/// during streaming, the reader thread stopping), each naming the file and
/// the reason, oldest first. The engine's events thread drains this to
/// report through `onError`. Control side.
pub fn take_stream_errors() -> Vec<String> {
    let mut q = STREAM_ERRORS.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *q)
}

fn push_error(message: String) {
    let mut q = STREAM_ERRORS.lock().unwrap_or_else(|e| e.into_inner());
    // A bound so that nobody draining it cannot grow it without end.
    if q.len() < 1024 {
        q.push(message);
    }
}

/// A stream's state shared between its player, the reader and the engine.
#[derive(Debug)]
pub(crate) struct Shared {
    path: PathBuf,
    error: Mutex<Option<String>>,
    failed: AtomicBool,
    /// Set once the head is decoded and the ring first filled (or the file ended).
    ready: AtomicBool,
    /// The head: `head_len` interleaved frames from `offset_frames`, set once.
    head: OnceLock<Box<[f32]>>,
    underruns: AtomicU64,
    request_drops: AtomicU64,
}

impl Shared {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            error: Mutex::new(None),
            failed: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            head: OnceLock::new(),
            underruns: AtomicU64::new(0),
            request_drops: AtomicU64::new(0),
        }
    }

    /// Records an error (the first one stays) and stops the stream. Control side.
    fn fail(&self, message: String) {
        {
            let mut e = self.error.lock().unwrap_or_else(|e| e.into_inner());
            if e.is_none() {
                *e = Some(message.clone());
            }
        }
        self.failed.store(true, Ordering::Release);
        push_error(message);
    }

    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
}

/// A cheap handle on one player's stream status, shared with the engine.
#[derive(Debug, Clone)]
pub struct StreamStatus(Arc<Shared>);

impl StreamStatus {
    /// The file streamed.
    pub fn path(&self) -> &std::path::Path {
        &self.0.path
    }

    /// The error that stopped the stream (the player then plays silence),
    /// naming the file and the reason.
    pub fn error(&self) -> Option<String> {
        self.0.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the prefill is done: the head is decoded and the ring was
    /// filled once (or holds the file to its end). Stays true.
    pub fn ready(&self) -> bool {
        self.0.ready.load(Ordering::Acquire)
    }

    /// Frames this player played as silence because the reader was late.
    pub fn underruns(&self) -> u64 {
        self.0.underruns.load(Ordering::Relaxed)
    }

    /// Position requests the player could not queue (queue full); the
    /// player retries them on the next block.
    pub fn request_drops(&self) -> u64 {
        self.0.request_drops.load(Ordering::Relaxed)
    }
}

/// A chunk of interleaved frames in a sample ring: play indices
/// `q .. q + frames` of request `epoch`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Header {
    epoch: u32,
    q: u64,
    frames: u64,
}

/// A request from a player: continue from play index `q`, tagging chunks `epoch`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Request {
    epoch: u32,
    q: u64,
}

/// What both ends of a stream know about it, fixed when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// File channels (interleaved in the ring).
    channels: usize,
    /// The file's length at the render rate.
    len: u64,
    looped: bool,
    offset: u64,
    /// Frames of the head (play indices `offset .. offset + head_len`).
    head_len: u64,
}

impl Layout {
    /// The play index after the head.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    fn head_end(&self) -> u64 {
        self.offset.saturating_add(self.head_len)
    }

    /// The file frame played at play index `q`, or `None` for silence.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    fn file_frame(&self, q: u64) -> Option<u64> {
        if q < self.len {
            Some(q)
        } else if self.looped {
            q.checked_rem(self.len)
        } else {
            None
        }
    }
}
