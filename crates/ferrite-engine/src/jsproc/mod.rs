//! Processors written in JavaScript: the audio-thread half.
//!
//! A `processor` node's DSP runs on a JavaScript `worker_threads` worker,
//! never on the audio thread. The two meet in shared memory
//! ([`memory`]): the audio thread copies each block's input and per-frame
//! parameter values into a slot of a preallocated ring, rings the worker's
//! doorbell (atomics, and one futex wake when the worker sleeps), and plays
//! the output of the block it handed over `K` blocks earlier. The node
//! reports `K × block` frames of latency, which the compiler compensates
//! like any other. A block the worker has not returned in time plays
//! silence and counts as an underrun; the audio thread never waits. An
//! offline render waits instead ([`ferrite_dsp::Processor::set_blocking`]),
//! so it gives the samples a real-time run gives when nothing under-ran.
//!
//! The TypeScript host makes the regions and registers them here
//! ([`register`], control side); the graph names a region by the token it
//! got. A region belongs to one processor instance for its life: graph
//! swaps that keep the node keep the region, and the running processor
//! hands it over ([`JsProcessor`]'s `take_state`).

pub mod memory;
pub mod node;
mod processor;

pub use memory::{Layout, Words};
pub use processor::JsProcessor;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One processor instance's region and its worker's doorbell, with the
/// audio side's cursor (which processor of which graph owns the region now,
/// and where in the ring it is).
pub struct Region {
    /// The instance's words (header and ring).
    pub ring: Words,
    /// The worker's doorbell.
    pub door: Words,
    /// The checked shape of `ring`.
    pub layout: Layout,
    /// Id of the [`JsProcessor`] allowed to run on this region (0: the first to run takes it).
    pub(crate) owner: AtomicU64,
    /// Frames written into the ring (= frames read from it) so far.
    pub(crate) frames: AtomicU64,
    /// Block whose readiness was last decided, plus one (0: none).
    pub(crate) checked: AtomicU64,
    /// Whether that block's output was there.
    pub(crate) ready: AtomicBool,
}

impl Region {
    /// Checks `ring`'s header and wraps the two regions (control side).
    pub fn new(ring: Words, door: Words) -> Result<Self, String> {
        let layout = Layout::read(&ring)?;
        if door.len() < memory::DOOR_WORDS {
            return Err("the doorbell is too small".into());
        }
        Ok(Self {
            ring,
            door,
            layout,
            owner: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            checked: AtomicU64::new(0),
            ready: AtomicBool::new(false),
        })
    }

    /// Blocks that played as silence because the worker had not returned them.
    pub fn underruns(&self) -> u32 {
        self.ring.load(memory::UNDERRUNS, Ordering::Relaxed)
    }
}

struct Registry {
    next: u64,
    regions: Vec<(u64, Arc<Region>)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { next: 1, regions: Vec::new() });

/// Registers a region; graphs name it by the returned token (control side).
pub fn register(region: Region) -> u64 {
    let mut r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let token = r.next;
    r.next += 1;
    r.regions.push((token, Arc::new(region)));
    token
}

/// Forgets a token; processors built from it keep their region until they are dropped.
pub fn unregister(token: u64) {
    let mut r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    r.regions.retain(|(t, _)| *t != token);
}

/// Marks the worker of the region registered under `token` as gone, as the
/// host does when its worker exits, and wakes a render waiting on it: the
/// render goes on without the processor instead of waiting forever. For
/// the environment that made the region when it is torn down (its host can
/// no longer do it). Control side.
pub fn mark_gone(token: u64) {
    let Some(region) = lookup(token) else { return };
    region.ring.store(memory::STATE, memory::STATE_GONE, Ordering::SeqCst);
    if let Some(done) = region.ring.word(memory::DONE) {
        done.fetch_add(1, Ordering::SeqCst);
    }
    wake(&region.ring, memory::DONE);
}

/// The region registered under `token`.
pub fn lookup(token: u64) -> Option<Arc<Region>> {
    let r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    r.regions.iter().find(|(t, _)| *t == token).map(|(_, g)| g.clone())
}

/// Waits (off the audio thread) until word `index` of `words` differs from
/// `value`, or a wake: the worker's doorbell wait and the offline render's
/// wait for a block. May return spuriously.
pub fn wait(words: &Words, index: usize, value: u32) {
    if let Some(w) = words.word(index) {
        atomic_wait::wait(w, value);
    }
}

/// Wakes every thread waiting on word `index` of `words` (non-blocking).
pub fn wake(words: &Words, index: usize) {
    if let Some(w) = words.word(index) {
        atomic_wait::wake_all(w);
    }
}

/// Waits (off the audio thread) until `word` differs from `value`, or a
/// wake; may return spuriously. For the worker's native wait on its doorbell.
pub fn wait_word(word: &std::sync::atomic::AtomicU32, value: u32) {
    atomic_wait::wait(word, value);
}

/// Wakes every thread waiting on `word` (non-blocking).
pub fn wake_word(word: &std::sync::atomic::AtomicU32) {
    atomic_wait::wake_all(word);
}

/// Names the calling thread `ferrite-jsproc` for `top -H`, debuggers and
/// profilers (Linux; elsewhere nothing). The processor worker, a thread
/// Node starts, calls it once.
pub fn name_worker_thread() {
    #[cfg(target_os = "linux")]
    {
        const NAME: &[u8] = b"ferrite-jsproc\0";
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16
        // bytes from the pointer, which `NAME` is; it only renames the
        // calling thread.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, NAME.as_ptr() as libc::c_ulong, 0, 0, 0);
        }
    }
}
