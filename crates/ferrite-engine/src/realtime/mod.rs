//! Real-time plumbing: the audio-thread half ([`AudioCore`]) and the control
//! half ([`EngineControl`]) of a running engine, and what passes between them.
//!
//! ```text
//!  control side                          audio thread
//!  ───────────                          ────────────
//!  set_graph: compile ──triple buffer──▶ take newest Program (O(1)), hand state over
//!  set_automation ────triple buffer──▶ take newest lanes for the running graph
//!  set_param ─────────────rtrb────────▶ apply now, or at its frame (sample-accurate)
//!  transport ────────────atomics──────▶ play / stop / seek / loop
//!  drop old Programs ◀────rtrb──────── replaced Programs (never freed on the audio thread)
//!  events thread ◀───────rtrb──────── meter readings (non-blocking; a full queue drops)
//!  record ────────────────rtrb────────▶ recorders; their frames ──rtrb──▶ writer threads (record.rs)
//! ```
//!
//! The host drives the control side through a [`Controller`]: calls are
//! checked on the host's thread and done, in order, by the `ferrite-control`
//! thread that owns the [`EngineControl`]. [`events::Events`] runs the
//! `ferrite-events` thread, which delivers meters, spectra and errors.

mod audio;
mod control;
mod controller;
pub mod events;
mod messages;
mod record;
mod transport;
mod workers;

pub use audio::AudioCore;
pub use control::{EngineControl, MeterNames, SpectrumReaders, Structure};
pub use controller::Controller;
pub use messages::{ControlMsg, Garbage, LaneSet, MeterMsg, ParamMsg, Program};
pub use record::{RecordRequest, RecordResult, RecordSource, Recorder, Recording, MAX_RECORDINGS, RING_SECONDS};
pub use transport::Transport;
pub use workers::{Team, WorkerHooks, SPIN};

use crate::compile::RenderSettings;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;

/// Capacity of the control → audio parameter queue.
pub const PARAM_QUEUE: usize = 4096;
/// Capacity of the audio → events meter queue.
pub const METER_QUEUE: usize = 4096;
/// Capacity of the audio → control queue of replaced programs.
pub const GARBAGE_QUEUE: usize = 256;
/// Most parameter changes waiting for their frame at once.
pub const MAX_SCHEDULED: usize = 1024;

/// State both halves read and write through atomics.
#[derive(Debug, Default)]
pub struct Shared {
    /// Transport requests and position.
    pub transport: Transport,
    /// Control messages that did not fit their queue (or schedule).
    pub dropped_messages: AtomicU64,
    /// Frames between meter readings pushed by the audio thread (0: none).
    pub meter_period: AtomicU64,
    /// Generation of the program the audio thread is running.
    pub generation: AtomicU64,
    /// Programs that could not be handed back and were leaked rather than freed on the audio thread.
    pub leaked_programs: AtomicU64,
    /// Frames recordings dropped because their ring was full.
    pub record_dropped_frames: AtomicU64,
    /// How many threads render: the audio thread and the workers started.
    pub threads: AtomicUsize,
    /// Frames analysers dropped because their ring to the events thread was full.
    pub analyser_dropped_frames: Arc<AtomicU64>,
}

/// How many threads an engine renders on when `threads` is not given.
pub fn default_threads() -> usize {
    crate::parallel::default_threads()
}

/// Creates the two halves of an engine plus the meter consumer for the
/// events thread, rendering on one thread.
pub fn engine_pair(settings: RenderSettings) -> (EngineControl, AudioCore, rtrb::Consumer<MeterMsg>) {
    engine_pair_threads(settings, 1, WorkerHooks::default())
}

/// [`engine_pair`] rendering on up to `threads` threads (`1..=`
/// [`crate::parallel::MAX_THREADS`]): the audio thread and `threads - 1`
/// workers started now ([`Team`]; fewer when the system refuses threads).
/// The control side splits a graph that is big enough to gain from it
/// ([`crate::parallel::plan_parts`]). `hooks` are for tests.
pub fn engine_pair_threads(
    settings: RenderSettings,
    threads: usize,
    hooks: WorkerHooks,
) -> (EngineControl, AudioCore, rtrb::Consumer<MeterMsg>) {
    let threads = threads.clamp(1, crate::parallel::MAX_THREADS);
    let team = Team::start(threads - 1, hooks);
    let running = 1 + team.as_ref().map_or(0, Team::workers);
    let shared = Arc::new(Shared { threads: AtomicUsize::new(running), ..Shared::default() });
    let (program_in, program_out) = triple_buffer::TripleBuffer::<Option<Box<Program>>>::default().split();
    let (lanes_in, lanes_out) = triple_buffer::TripleBuffer::<Option<Box<LaneSet>>>::default().split();
    let (param_tx, param_rx) = rtrb::RingBuffer::new(PARAM_QUEUE);
    let (garbage_tx, garbage_rx) = rtrb::RingBuffer::new(GARBAGE_QUEUE);
    let (meter_tx, meter_rx) = rtrb::RingBuffer::new(METER_QUEUE);
    let (record_tx, record_rx) = rtrb::RingBuffer::new(MAX_RECORDINGS);
    let core = AudioCore::new(program_out, lanes_out, param_rx, garbage_tx, meter_tx, record_rx, shared.clone(), team);
    let mut control = EngineControl::new(settings, program_in, lanes_in, param_tx, garbage_rx, record_tx, shared);
    control.set_threads(running);
    (control, core, meter_rx)
}
