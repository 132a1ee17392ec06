//! The memory a JavaScript processor shares with its worker: one region of
//! 32-bit words per processor instance (header, ring of block slots) and a
//! doorbell shared by every processor of one worker.
//!
//! The regions are `SharedArrayBuffer`s made by the TypeScript host; this
//! side only sees words. Every access goes through atomics (the worker
//! writes with `Atomics` and plain typed-array stores, which the JavaScript
//! memory model allows on shared memory), so a slow worker can at worst see
//! a torn block that is never played, never undefined behaviour here.
//!
//! # Layout of a processor region (word indices)
//! The host writes the header once, before the region is registered; the
//! offsets in it are checked against the region's length here.
//!
//! | word | holds | written by |
//! |------|-------|------------|
//! | [`MAGIC`] | `0x4A53_5052` | host |
//! | [`CHANNELS`], [`BLOCK`], [`SLOTS`], [`LATENCY_BLOCKS`], [`PARAMS`] | the ring's shape | host |
//! | [`STATE`] | [`STATE_RUNNING`], [`STATE_BYPASSED`] (its `process` threw), [`STATE_GONE`] | worker, host |
//! | [`WAITING`] | 1 while a render thread waits on [`DONE`] | render thread, worker |
//! | [`DONE`] | blocks the worker completed (futex word) | worker |
//! | [`UNDERRUNS`] | blocks played as silence because the worker was late | audio thread |
//! | [`PUBLISHED`] | blocks handed to the worker | audio thread |
//! | [`STAMPS_OFF`].. | offsets: stamps, positions, flags, data, slot size, message | host |
//!
//! Slot `i` (of [`SLOTS`]) holds block `b` with `b % slots == i`: its
//! stamp (`b + 1` once the worker wrote its output), its first frame's
//! transport position (an `f64` over two words), one flag per parameter
//! (1: constant over the block), and its data: `channels × block` input
//! samples, `channels × block` output samples, `params × block` parameter
//! values (`f32`).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Word 0: identifies a processor region.
pub const MAGIC: usize = 0;
/// The value of [`MAGIC`].
pub const MAGIC_VALUE: u32 = 0x4A53_5052;
/// Channels the processor sees.
pub const CHANNELS: usize = 1;
/// Frames per block the worker processes.
pub const BLOCK: usize = 2;
/// Slots in the ring.
pub const SLOTS: usize = 3;
/// Blocks of latency (the output of block `b` plays with block `b + K`).
pub const LATENCY_BLOCKS: usize = 4;
/// Parameters per block.
pub const PARAMS: usize = 5;
/// The worker's state of this processor.
pub const STATE: usize = 6;
/// A render thread waits for [`DONE`] to change.
pub const WAITING: usize = 7;
/// Blocks completed by the worker (a futex word).
pub const DONE: usize = 8;
/// Blocks that played as silence because the worker had not returned them.
pub const UNDERRUNS: usize = 9;
/// Blocks published to the worker.
pub const PUBLISHED: usize = 10;
/// Word offset of the stamps (one word per slot).
pub const STAMPS_OFF: usize = 11;
/// Word offset of the positions (two words per slot, 8-byte aligned).
pub const POS_OFF: usize = 12;
/// Word offset of the constant flags (`params` words per slot).
pub const FLAGS_OFF: usize = 13;
/// Word offset of slot 0's data.
pub const DATA_OFF: usize = 14;
/// Words per slot of data.
pub const SLOT_WORDS: usize = 15;
/// Word offset of the error message area (UTF-8).
pub const MSG_OFF: usize = 16;
/// Bytes of the error message the worker wrote.
pub const MSG_LEN: usize = 17;
/// Capacity of the message area, bytes.
pub const MSG_CAP: usize = 18;
/// Words of header before the first table.
pub const HEADER_WORDS: usize = 32;

/// [`STATE`]: the processor runs.
pub const STATE_RUNNING: u32 = 0;
/// [`STATE`]: its `process` threw; the worker passes input through (dry) from then on.
pub const STATE_BYPASSED: u32 = 1;
/// [`STATE`]: the worker is gone (closed, crashed); nothing will come back.
pub const STATE_GONE: u32 = 2;

/// Doorbell word 0: rung (incremented) for every block published; a futex word.
pub const DOOR_RING: usize = 0;
/// Doorbell word 1: 1 while the worker sleeps on [`DOOR_RING`].
pub const DOOR_SLEEPING: usize = 1;
/// Words of a doorbell region.
pub const DOOR_WORDS: usize = 2;

/// Largest block, slot count, latency and parameter count accepted.
pub const MAX_BLOCK: usize = 4096;
/// See [`MAX_BLOCK`].
pub const MAX_SLOTS: usize = 256;
/// See [`MAX_BLOCK`].
pub const MAX_PARAMS: usize = 64;

/// A region of shared 32-bit words kept alive by its owner (the
/// `SharedArrayBuffer`'s handle, or a test's own allocation).
pub struct Words {
    ptr: *const AtomicU32,
    len: usize,
    _keep: Box<dyn Send + Sync>,
}

// SAFETY: the words are only touched through atomics, and `_keep` (Send +
// Sync) keeps the memory alive for as long as `Words` exists.
unsafe impl Send for Words {}
// SAFETY: as for `Send`: shared access is atomic only.
unsafe impl Sync for Words {}

impl Words {
    /// Wraps `len` words at `ptr`, kept alive by `keep`.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` 32-bit words, 8-byte
    /// aligned, for as long as `keep` lives, and only accessed atomically (or
    /// by another thread's plain stores of whole words, as JavaScript's
    /// typed arrays do on shared memory).
    pub unsafe fn new(ptr: *mut u8, len: usize, keep: Box<dyn Send + Sync>) -> Self {
        Self { ptr: ptr as *const AtomicU32, len, _keep: keep }
    }

    /// Zeroed words owned by this process (tests, benchmarks).
    pub fn owned(len: usize) -> Self {
        let mut v: Box<[AtomicU64]> = (0..len.div_ceil(2)).map(|_| AtomicU64::new(0)).collect();
        let ptr = v.as_mut_ptr() as *mut u8;
        // SAFETY: `v` is 8-byte aligned and holds at least `len` words; the
        // box moves into `keep` without moving its heap storage.
        unsafe { Self::new(ptr, len, Box::new(v)) }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the region starts on an 8-byte boundary.
    pub fn aligned(&self) -> bool {
        (self.ptr as usize).is_multiple_of(8)
    }

    /// Word `i`, or `None` past the end.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline(always)]
    pub fn word(&self, i: usize) -> Option<&AtomicU32> {
        if i < self.len {
            // SAFETY: `i < len`, and the region is valid while `self` lives (see `new`).
            Some(unsafe { &*self.ptr.add(i) })
        } else {
            None
        }
    }

    /// Loads word `i` (0 past the end).
    #[inline(always)]
    pub fn load(&self, i: usize, order: Ordering) -> u32 {
        self.word(i).map_or(0, |w| w.load(order))
    }

    /// Stores word `i` (nothing past the end).
    #[inline(always)]
    pub fn store(&self, i: usize, v: u32, order: Ordering) {
        if let Some(w) = self.word(i) {
            w.store(v, order);
        }
    }

    /// Stores an `f64` into words `i, i + 1` (`i` even; nothing past the end).
    #[inline(always)]
    pub fn store_f64(&self, i: usize, v: f64) {
        if i.is_multiple_of(2) && i + 1 < self.len {
            // SAFETY: `i` is even and the region 8-byte aligned, so words
            // `i, i + 1` form an aligned `AtomicU64` inside the region.
            let w = unsafe { &*(self.ptr.add(i) as *const AtomicU64) };
            w.store(v.to_bits(), Ordering::Relaxed);
        }
    }

    /// Words `from..from + n` (an empty slice when they do not fit).
    #[inline(always)]
    pub fn slice(&self, from: usize, n: usize) -> &[AtomicU32] {
        match from.checked_add(n) {
            Some(end) if end <= self.len => {
                // SAFETY: `from..end` lies inside the region (valid while `self` lives).
                unsafe { std::slice::from_raw_parts(self.ptr.add(from), n) }
            }
            _ => &[],
        }
    }
}

/// The checked shape of a processor region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Channels the processor sees.
    pub channels: usize,
    /// Frames per worker block.
    pub block: usize,
    /// Slots in the ring (more than `latency_blocks`).
    pub slots: usize,
    /// Blocks of latency.
    pub latency_blocks: usize,
    /// Parameters per block.
    pub params: usize,
    /// Word offsets: stamps, positions, flags, data; words per slot.
    pub stamps: usize,
    /// See [`Layout::stamps`].
    pub pos: usize,
    /// See [`Layout::stamps`].
    pub flags: usize,
    /// See [`Layout::stamps`].
    pub data: usize,
    /// See [`Layout::stamps`].
    pub slot_words: usize,
}

impl Layout {
    /// The layout a host writes for these sizes (the TypeScript host computes the same).
    pub fn new(channels: usize, block: usize, slots: usize, latency_blocks: usize, params: usize) -> Self {
        let stamps = HEADER_WORDS;
        let pos = (stamps + slots).next_multiple_of(2);
        let flags = pos + 2 * slots;
        let msg = flags + slots * params;
        let data = (msg + MSG_WORDS).next_multiple_of(2);
        let slot_words = (2 * channels + params) * block;
        Self { channels, block, slots, latency_blocks, params, stamps, pos, flags, data, slot_words }
    }

    /// Words a region of this layout takes.
    pub fn total_words(&self) -> usize {
        self.data + self.slots * self.slot_words
    }

    /// Writes this layout's header into `w` (hosts and tests).
    pub fn write_header(&self, w: &Words) {
        let r = Ordering::Relaxed;
        w.store(CHANNELS, self.channels as u32, r);
        w.store(BLOCK, self.block as u32, r);
        w.store(SLOTS, self.slots as u32, r);
        w.store(LATENCY_BLOCKS, self.latency_blocks as u32, r);
        w.store(PARAMS, self.params as u32, r);
        w.store(STAMPS_OFF, self.stamps as u32, r);
        w.store(POS_OFF, self.pos as u32, r);
        w.store(FLAGS_OFF, self.flags as u32, r);
        w.store(DATA_OFF, self.data as u32, r);
        w.store(SLOT_WORDS, self.slot_words as u32, r);
        w.store(MSG_OFF, (self.flags + self.slots * self.params) as u32, r);
        w.store(MSG_CAP, (MSG_WORDS * 4) as u32, r);
        w.store(MAGIC, MAGIC_VALUE, Ordering::Release);
    }

    /// Reads and checks the header of `w`: a message saying what is wrong otherwise.
    pub fn read(w: &Words) -> Result<Self, String> {
        if !w.aligned() {
            return Err("the shared memory is not 8-byte aligned".into());
        }
        if w.load(MAGIC, Ordering::Acquire) != MAGIC_VALUE {
            return Err("the shared memory is not a processor region".into());
        }
        let g = |i| w.load(i, Ordering::Relaxed) as usize;
        let (channels, block, slots, k, params) = (g(CHANNELS), g(BLOCK), g(SLOTS), g(LATENCY_BLOCKS), g(PARAMS));
        if channels == 0 || channels > crate::compile::MAX_CHANNELS {
            return Err(format!("{channels} channels is out of range"));
        }
        if block == 0 || block > MAX_BLOCK || k == 0 || slots <= k || slots > MAX_SLOTS || params > MAX_PARAMS {
            return Err(format!(
                "block {block}, {slots} slots, latency {k} blocks, {params} parameters is not a valid ring"
            ));
        }
        let l = Self::new(channels, block, slots, k, params);
        let offsets = (g(STAMPS_OFF), g(POS_OFF), g(FLAGS_OFF), g(DATA_OFF), g(SLOT_WORDS));
        if offsets != (l.stamps, l.pos, l.flags, l.data, l.slot_words) || l.total_words() > w.len() {
            return Err("the shared memory's offsets do not match its shape".into());
        }
        Ok(l)
    }
}

/// Words of the error message area.
pub const MSG_WORDS: usize = 256;
