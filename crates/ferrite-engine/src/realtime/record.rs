//! Recording: the audio thread copies a source's block (the master output,
//! the device input, or a node's output) into a preallocated lock-free ring;
//! a `ferrite-writer` thread ([`ferrite_media::RingSink`]) encodes and writes
//! it. Nothing on the JavaScript or control side takes part while it runs, so
//! a recording stays gap-free when they stall.
//!
//! ```text
//!  control side                            audio thread                    writer thread
//!  record(): create the file (temp name),  takes the Recorder; each
//!  ring, RingSink; a node source is        sub-block: copies the frames
//!  recompiled as a tap ──rtrb──▶ Recorder  of [start, end) into the ring ──▶ drains, writes;
//!  stop(): RingFlags::request_stop ──────▶ ends at its next callback,      finishes (rename)
//!                                          RingFlags::set_producer_done ─▶ once drained
//!  drops the Recorder ◀──garbage rtrb──── hands it back
//! ```
//!
//! A full ring never blocks the audio thread: the frames that do not fit are
//! dropped and counted. A recording ends at its end frame, on `stop`, when
//! the writer fails (then the writer's error is the recording's result), or
//! when a newer graph no longer has its source node (cleanly: the file holds
//! what was captured).

use super::Shared;
use crate::error::{EngineError, Result};
use crate::render::CompiledGraph;
use ferrite_media::{AudioFileWriter, BitDepth, RingFlags, RingSink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Most recordings running at once in one engine.
pub const MAX_RECORDINGS: usize = 32;
/// Length of a recording's ring, in seconds of its source (at least two blocks).
pub const RING_SECONDS: f64 = 4.0;

/// What a recording captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSource {
    /// The master output, as the device plays it (after a structural crossfade).
    Output,
    /// The device input, as the graph's `input` node receives it.
    Input,
    /// The output of the node with this id (compiled as a tap).
    Node(u32),
}

/// What to record, and where.
#[derive(Debug, Clone)]
pub struct RecordRequest {
    /// Destination (`.wav` or `.flac`); written under a temporary name until complete.
    pub path: PathBuf,
    /// The source.
    pub source: RecordSource,
    /// Sample format.
    pub bit_depth: BitDepth,
    /// First transport frame recorded (`None`: the next block).
    pub start_frame: Option<u64>,
    /// Transport frame where recording ends, exclusive (`None`: at `stop`).
    pub end_frame: Option<u64>,
}

/// What a finished recording reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordResult {
    /// Frames in the file.
    pub frames: u64,
    /// Frames the audio thread dropped because the ring was full.
    pub dropped_frames: u64,
}

/// What the audio thread reports about one recording.
#[derive(Debug, Default)]
pub struct RecordCounters {
    dropped: AtomicU64,
    source_gone: AtomicBool,
}

/// The audio-thread half of one recording: sent to the audio thread once,
/// handed back (as [`super::Garbage::Recorder`]) to be dropped off it.
pub struct Recorder {
    ring: rtrb::Producer<f32>,
    flags: Arc<RingFlags>,
    counters: Arc<RecordCounters>,
    source: RecordSource,
    channels: usize,
    start: u64,
    end: u64,
    /// The first program generation whose graph has the source (a node
    /// source's tap); the recorder waits for it.
    generation: u64,
    /// The generation `node` was resolved for (0: none yet).
    bound: u64,
    /// Render index of a node source in the running program.
    node: Option<usize>,
    finished: bool,
}

/// What one sub-block offers a recorder.
pub(crate) struct BlockSources<'a> {
    /// The running graph (node sources read its taps).
    pub graph: &'a CompiledGraph,
    /// The sub-block's device input, interleaved with `in_channels` channels (may be empty).
    pub input: &'a [f32],
    pub in_channels: usize,
    /// The sub-block's device output, interleaved with `out_channels` channels.
    pub output: &'a [f32],
    pub out_channels: usize,
}

impl Recorder {
    /// [audio-thread] Resolves a node source in the running program: the
    /// recording waits for the program with its tap, and ends when a later
    /// program lacks it.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn bind(&mut self, generation: u64, graph: &CompiledGraph, taps: &[u32]) {
        let RecordSource::Node(id) = self.source else { return };
        if self.bound == generation || generation < self.generation || self.finished {
            return;
        }
        self.bound = generation;
        self.node = if taps.contains(&id) { graph.index_of(id) } else { None };
        if self.node.is_none() {
            self.counters.source_gone.store(true, Ordering::Release);
            self.finished = true;
        }
    }

    /// [audio-thread] Ends the recording when a stop was asked or its writer failed.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn poll(&mut self) {
        if self.flags.stop_requested() || self.flags.failed() {
            self.finished = true;
        }
    }

    /// [audio-thread] Whether the recording has ended (it pushes nothing more).
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// [audio-thread] Marks the recording's last push: the writer finishes
    /// once it has drained the ring.
    ///
    /// # Realtime
    /// An atomic store.
    pub(crate) fn retire(&mut self) {
        self.finished = true;
        self.flags.set_producer_done();
    }

    /// [audio-thread] Copies the frames of transport frames `pos..pos + n`
    /// that fall in `[start, end)` into the ring; frames that do not fit
    /// are counted as dropped (here and in `shared`).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn capture(&mut self, pos: u64, n: usize, src: &BlockSources<'_>, shared: &Shared) {
        let waiting = matches!(self.source, RecordSource::Node(_)) && self.node.is_none();
        if self.finished || waiting {
            return;
        }
        if pos >= self.end {
            self.finished = true;
            return;
        }
        let lo = self.start.max(pos);
        let hi = self.end.min(pos + n as u64);
        if lo < hi {
            let (first, count, ch) = ((lo - pos) as usize, (hi - lo) as usize, self.channels.max(1));
            let fit = (self.ring.slots() / ch).min(count);
            if fit < count {
                let lost = (count - fit) as u64;
                self.counters.dropped.fetch_add(lost, Ordering::Relaxed);
                shared.record_dropped_frames.fetch_add(lost, Ordering::Relaxed);
            }
            if let Ok(mut chunk) = self.ring.write_chunk(fit * ch) {
                let (a, b) = chunk.as_mut_slices();
                for (k, d) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                    *d = sample(self.source, self.node, src, n, first + k / ch, k % ch);
                }
                chunk.commit_all();
            }
        }
        if hi >= self.end {
            self.finished = true;
        }
    }
}

/// Frame `i`, channel `c` of a sub-block of `n` frames from `source`.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
fn sample(source: RecordSource, node: Option<usize>, src: &BlockSources<'_>, n: usize, i: usize, c: usize) -> f32 {
    match source {
        RecordSource::Output => src.output.get(i * src.out_channels + c % src.out_channels.max(1)).copied(),
        RecordSource::Input if src.in_channels == 0 => None,
        RecordSource::Input => src.input.get(i * src.in_channels + c % src.in_channels).copied(),
        RecordSource::Node(_) => node.and_then(|k| src.graph.tap_output(k, c, n).0.get(i)).map(|&x| x as f32),
    }
    .unwrap_or(0.0)
}

/// The control side's handle on one recording (not real-time).
#[derive(Debug)]
pub struct Recording {
    sink: RingSink,
    counters: Arc<RecordCounters>,
    source: RecordSource,
    result: Option<std::result::Result<RecordResult, EngineError>>,
}

impl Recording {
    /// Starts a recording's control half and its writer thread; returns it
    /// with the audio-thread half. Creates the file (under its temporary
    /// name) now, so a path that cannot be written is an error here.
    pub(crate) fn start(
        req: &RecordRequest,
        sample_rate: f64,
        channels: usize,
        max_block: usize,
        generation: u64,
    ) -> Result<(Self, Box<Recorder>)> {
        if let (Some(s), Some(e)) = (req.start_frame, req.end_frame) {
            if e <= s {
                return Err(EngineError::range(format!("record: endFrame = {e} must be after startFrame = {s}")));
            }
        }
        let writer = AudioFileWriter::create(&req.path, sample_rate.round() as u32, channels, req.bit_depth)
            .map_err(|e| prefixed(e.into()))?;
        let frames = ((sample_rate * RING_SECONDS).ceil() as usize).max(2 * max_block);
        let (ring, rx) = rtrb::RingBuffer::new(frames * channels);
        let flags = RingFlags::new();
        let sink = RingSink::spawn(writer, rx, flags.clone()).map_err(|e| prefixed(e.into()))?;
        let counters = Arc::new(RecordCounters::default());
        let recorder = Box::new(Recorder {
            ring,
            flags,
            counters: counters.clone(),
            source: req.source,
            channels,
            start: req.start_frame.unwrap_or(0),
            end: req.end_frame.unwrap_or(u64::MAX),
            generation,
            bound: 0,
            node: None,
            finished: false,
        });
        Ok((Self { sink, counters, source: req.source, result: None }, recorder))
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        self.sink.path()
    }

    /// The source.
    pub fn source(&self) -> RecordSource {
        self.source
    }

    /// The flags shared with the audio thread and the writer.
    pub(crate) fn flags(&self) -> &Arc<RingFlags> {
        self.sink.flags()
    }

    /// Whether the recording has ended and its file is complete (or failed).
    pub fn is_done(&self) -> bool {
        self.result.is_some() || self.sink.is_done()
    }

    /// Whether the recording ended because a newer graph lost its source node.
    pub fn source_gone(&self) -> bool {
        self.counters.source_gone.load(Ordering::Acquire)
    }

    /// Asks the audio thread to end the recording at its next callback,
    /// without waiting (see [`stop`](Self::stop)).
    pub fn request_stop(&self) {
        self.sink.flags().request_stop();
    }

    /// Ends the recording at the audio thread's next callback (if it has not
    /// ended already) and waits until every frame is on disk. Errors: the
    /// writer's failure (an I/O error naming the file). Later calls return
    /// the same.
    pub fn stop(&mut self) -> std::result::Result<RecordResult, EngineError> {
        if let Some(r) = &self.result {
            return r.clone();
        }
        let r = self
            .sink
            .stop()
            .map(|frames| RecordResult { frames, dropped_frames: self.counters.dropped.load(Ordering::Acquire) })
            .map_err(|e| prefixed(e.into()));
        self.result = Some(r.clone());
        r
    }
}

fn prefixed(e: EngineError) -> EngineError {
    EngineError { message: format!("record: {}", e.message), ..e }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_ring_drops_and_counts_frames_and_never_waits() {
        // Nobody drains the ring: the first 1000 frames fit, the rest are dropped and counted.
        let desc = crate::GraphDesc::from_value(&serde_json::json!({"version": 1,
            "nodes": [{"id": 0, "type": "output"}], "connections": []}))
        .unwrap();
        let settings = crate::RenderSettings { sample_rate: 48000.0, channels: 2, max_block: 128 };
        let graph = crate::compile(&desc, settings, &[]).unwrap().graph;
        let (ring, rx) = rtrb::RingBuffer::new(1000 * 2);
        let counters = Arc::new(RecordCounters::default());
        let mut r = Recorder {
            ring,
            flags: RingFlags::new(),
            counters: counters.clone(),
            source: RecordSource::Output,
            channels: 2,
            start: 0,
            end: u64::MAX,
            generation: 0,
            bound: 0,
            node: None,
            finished: false,
        };
        let shared = Shared::default();
        let output: Vec<f32> = (0..256).map(|k| k as f32).collect();
        let src = BlockSources { graph: &graph, input: &[], in_channels: 0, output: &output, out_channels: 2 };
        for b in 0..20u64 {
            r.capture(b * 128, 128, &src, &shared);
        }
        assert_eq!(rx.slots(), 2000);
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 20 * 128 - 1000);
        assert_eq!(shared.record_dropped_frames.load(Ordering::Relaxed), 20 * 128 - 1000);
        assert!(!r.finished());
    }
}
