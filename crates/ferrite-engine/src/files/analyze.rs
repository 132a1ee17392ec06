//! `analyzeFile`: a file streamed through a meter.

use crate::error::{EngineError, Result};
use crate::meter::MeterReading;
use crossbeam_channel::bounded;
use ferrite_dsp::meter::Meter;
use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
use ferrite_media::{AudioFileInfo, Decoder};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Frames per block handed from the decoding thread to the meter.
const BLOCK: usize = 16384;

/// Blocks in flight between the two threads (bounds memory: a few MB).
const IN_FLIGHT: usize = 4;

/// Least length of a segment measured on a thread of its own, seconds:
/// each segment after the first also measures the 3.5 s before it
/// ([`WARM_SUBBLOCKS`]), a share that must stay small.
pub const MIN_SEGMENT_SECONDS: u64 = 30;

/// Most segments one file is measured in.
const MAX_SEGMENTS: usize = 64;

/// 100 ms sub-blocks of audio before a segment that its meter hears first:
/// the 3 s short-term window (the loudness-range blocks that end in the
/// segment begin before it), and half a second more for the K-weighting
/// filters' memory (a time constant of milliseconds) and a lossy decoder's
/// history to settle.
const WARM_SUBBLOCKS: u64 = 35;

/// A file's meter reading over its whole length, with its description.
#[derive(Debug, Clone)]
pub struct FileAnalysis {
    /// The reading: peaks, RMS and true peak over the file; integrated
    /// loudness and loudness range over the file; momentary and short-term
    /// loudness at its end.
    pub reading: MeterReading,
    /// What the file holds.
    pub info: AudioFileInfo,
}

/// Measures `path` at its own rate and channel count, exactly as a `meter`
/// node would measure the same samples.
pub fn analyze_file(path: &Path) -> Result<FileAnalysis> {
    analyze_with(path, |_| (), &AtomicBool::new(false))
}

/// [`analyze_file`] on every core, calling `progress(frames_done)` after
/// each block and stopping with an error at the first block after `cancel`
/// is set.
pub fn analyze_with(path: &Path, progress: impl FnMut(u64), cancel: &AtomicBool) -> Result<FileAnalysis> {
    analyze_threads(path, crate::parallel::default_threads(), progress, cancel)
}

/// [`analyze_with`] on at most `threads` threads: a file of at least two
/// [`MIN_SEGMENT_SECONDS`] is cut in time into up to `threads` segments,
/// measured at the same time (each on a thread that decodes and measures)
/// and joined ([`Meter::append`]); a shorter file, or `threads` 1, is
/// decoded on one thread and measured on another. Peaks and true peak are
/// those of one meter fed the whole file, bit for bit; loudness, loudness
/// range and RMS sum the same terms in another order (within 1e-9 LU).
/// One exception: AAC's decoder fills noise-substituted bands (PNS) from a
/// running random generator, so decoding from a cut draws other noise
/// (readings within 0.001 LU).
pub fn analyze_threads(
    path: &Path,
    threads: usize,
    mut progress: impl FnMut(u64),
    cancel: &AtomicBool,
) -> Result<FileAnalysis> {
    let dec = Decoder::open(path)?;
    let info = dec.info().clone();
    ferrite_dsp::meter::check_sample_rate(f64::from(info.sample_rate))
        .map_err(|e| EngineError::range(format!("{}: {e}", path.display())))?;
    let segments = segments_for(&info, threads);
    if segments < 2 {
        return analyze_pipelined(dec, info, path, progress, cancel);
    }
    match analyze_segments(dec, &info, path, segments, &mut progress, cancel) {
        Ok(a) => Ok(a),
        Err(e) if cancel.load(Ordering::Acquire) => Err(e),
        // A segment that cannot be reached or read (a seek refused, a file
        // shorter or more broken than its headers say): the file is read
        // from its start in one piece, which decodes what is intact or
        // refuses it with the reader's reason.
        Err(_) => analyze_pipelined(Decoder::open(path)?, info, path, progress, cancel),
    }
}

/// How many segments `info`'s file is measured in on `threads` threads.
fn segments_for(info: &AudioFileInfo, threads: usize) -> usize {
    let least = MIN_SEGMENT_SECONDS * u64::from(info.sample_rate);
    if least == 0 {
        return 1;
    }
    (info.frames / least).min(threads.clamp(1, MAX_SEGMENTS) as u64) as usize
}

/// Frames of a 100 ms loudness sub-block at `rate`, as the meter counts them.
fn hop(rate: u32) -> u64 {
    ferrite_dsp::meter::subblock_frames(f64::from(rate)) as u64
}

/// The file cut into `segments` segments starting on 100 ms boundaries,
/// measured at the same time (the first on this thread, which reports
/// progress), and joined.
fn analyze_segments(
    first: Decoder,
    info: &AudioFileInfo,
    path: &Path,
    segments: usize,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<FileAnalysis> {
    let hop = hop(info.sample_rate);
    // Equal work per thread: every segment but the first also measures its
    // warm-up, so the first is longer by that much. With `e` the work of
    // each, segment k starts at k·e − (k − 1)·warm and
    // e = (frames + (segments − 1)·warm) / segments.
    let (n, warm) = (segments as u64, WARM_SUBBLOCKS * hop);
    let each = (info.frames + (n - 1) * warm) / n;
    let starts: Vec<u64> = (0..n).map(|k| (k * each).saturating_sub(k.saturating_sub(1) * warm) / hop * hop).collect();
    let end = |k: usize| starts.get(k + 1).copied();
    let done = AtomicU64::new(0);
    let floor = AtomicU64::new(0);
    let measured: Vec<Result<Option<(Meter, u64)>>> = std::thread::scope(|scope| {
        let spawned: Vec<_> = (1..segments)
            .map(|k| {
                let (start, shared) = (starts[k], Shared { done: &done, floor: &floor });
                std::thread::Builder::new().name(format!("ferrite-reader-{k}")).spawn_scoped(scope, move || {
                    measure_segment(Decoder::open(path)?, info, start, end(k), shared, cancel, &mut |_| ())
                })
            })
            .collect();
        let shared = Shared { done: &done, floor: &floor };
        let mut out = vec![measure_segment(first, info, 0, end(0), shared, cancel, progress)];
        for s in spawned {
            out.push(match s {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err(EngineError::other(format!(
                        "analyzeFile: {}: a reader thread stopped unexpectedly",
                        path.display()
                    )))
                }),
                Err(e) => Err(EngineError::other(format!("analyzeFile: cannot start a reader thread: {e}"))),
            });
        }
        out
    });
    let mut joined: Option<Meter> = None;
    let mut frames = 0;
    for m in measured {
        let Some((meter, n)) = m? else { continue };
        frames += n;
        match joined.as_mut() {
            None => joined = Some(meter),
            Some(j) => j.append(&meter),
        }
    }
    let Some(meter) = joined.filter(|_| frames > 0) else {
        return Err(EngineError::other(format!("{}: the file holds no audio frames", path.display())));
    };
    progress(frames);
    let mut info = info.clone();
    info.frames = frames;
    Ok(FileAnalysis { reading: meter.total_reading(), info })
}

/// What the segments of one file share: the frames measured, and the
/// largest true peak measured (linear, as `f64` bits: for non-negative
/// numbers their order), which lets each segment's true peak skip what
/// cannot beat it ([`Meter::set_true_peak_floor`]).
#[derive(Clone, Copy)]
struct Shared<'a> {
    done: &'a AtomicU64,
    floor: &'a AtomicU64,
}

/// Measures the file from frame `start` to `end` (or its end): decodes
/// and meters [`WARM_SUBBLOCKS`] of the audio before `start` first, then
/// starts the segment ([`Meter::start_segment`]). Adds the frames measured
/// to `shared.done` and reports it after each block. `None` when the file
/// ends before `start`.
fn measure_segment(
    mut dec: Decoder,
    info: &AudioFileInfo,
    start: u64,
    end: Option<u64>,
    shared: Shared<'_>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<(Meter, u64)>> {
    let channels = info.channels.max(1);
    let hop = hop(info.sample_rate);
    let warm = start.saturating_sub(WARM_SUBBLOCKS * hop);
    if warm > 0 {
        dec.seek(warm)?;
    }
    let mut meter = Meter::new();
    meter.prepare(&PrepareContext { sample_rate: f64::from(info.sample_rate), max_block: BLOCK, channels });
    let mut bus = vec![0.0f64; channels * BLOCK];
    let mut pos = warm;
    loop {
        if cancel.load(Ordering::Acquire) {
            return Err(EngineError::other(format!("analyzeFile: {}: cancelled", info.path.display())));
        }
        let mut want = BLOCK as u64;
        if pos < start {
            want = want.min(start - pos);
        }
        if let Some(end) = end {
            want = want.min(end.saturating_sub(pos));
        }
        if want == 0 {
            break;
        }
        let want = want as usize;
        let mut views: Vec<&mut [f64]> = bus.chunks_exact_mut(BLOCK).map(|c| &mut c[..want]).collect();
        let got = dec.read_f64(&mut views)?;
        meter.set_true_peak_floor(f64::from_bits(shared.floor.load(Ordering::Relaxed)));
        let ctx = ProcessContext { frames: got, position: pos, params: &[] };
        meter.process(&ctx, &mut Bus::new(&mut bus, channels, BLOCK, got));
        let counted = (pos + got as u64).saturating_sub(start.max(pos));
        pos += got as u64;
        if start > 0 && pos == start {
            meter.start_segment(start / hop);
        }
        if counted > 0 {
            // Only what the segment counts is shared: the audio before it
            // (a lossy decoder's first frames after a seek among it) is
            // measured by the segment it belongs to.
            let tp = meter.true_peak_linear();
            if tp.is_finite() && tp > 0.0 {
                shared.floor.fetch_max(tp.to_bits(), Ordering::Relaxed);
            }
            progress(shared.done.fetch_add(counted, Ordering::Relaxed) + counted);
        }
        if got < want {
            break;
        }
    }
    Ok((pos > start).then_some((meter, pos - start)))
}

/// Decodes on one thread and measures on another.
fn analyze_pipelined(
    mut dec: Decoder,
    info: AudioFileInfo,
    path: &Path,
    mut progress: impl FnMut(u64),
    cancel: &AtomicBool,
) -> Result<FileAnalysis> {
    let channels = info.channels.max(1);
    let mut meter = Meter::new();
    meter.prepare(&PrepareContext { sample_rate: f64::from(info.sample_rate), max_block: BLOCK, channels });
    // The work is shared between the two threads: the reader decodes (to
    // f64), the meter thread measures. Decoding PCM is cheap, so there the
    // reader also measures the true peak (the same filter over the same
    // blocks: the same reading); decoding a compressed file is the larger
    // half, so the meter thread does it.
    let mut tap = if info.codec == "pcm" { meter.split_true_peak() } else { None };

    // A block: the decoded bus (one `BLOCK`-long row per channel) and its frames.
    type Block = (Vec<f64>, usize);
    let (full_tx, full_rx) = bounded::<Block>(IN_FLIGHT);
    let (empty_tx, empty_rx) = bounded::<Block>(IN_FLIGHT + 2);
    for _ in 0..IN_FLIGHT + 1 {
        let _ = empty_tx.send((vec![0.0f64; channels * BLOCK], 0));
    }
    type ReaderResult = std::result::Result<Option<ferrite_dsp::meter::TruePeakTap>, ferrite_media::MediaError>;
    let reader = std::thread::Builder::new()
        .name("ferrite-reader".into())
        .spawn(move || -> ReaderResult {
            while let Ok((mut bus, _)) = empty_rx.recv() {
                let mut views: Vec<&mut [f64]> = bus.chunks_exact_mut(BLOCK).collect();
                let got = dec.read_f64(&mut views)?;
                if let Some(tap) = tap.as_mut() {
                    let planes: Vec<&[f64]> = bus.chunks_exact(BLOCK).map(|c| &c[..got]).collect();
                    tap.process(&planes);
                }
                if got == 0 || full_tx.send((bus, got)).is_err() {
                    break;
                }
                if got < BLOCK {
                    break;
                }
            }
            Ok(tap)
        })
        .map_err(|e| EngineError::other(format!("analyzeFile: cannot start the reader thread: {e}")))?;

    let mut position = 0u64;
    let mut cancelled = false;
    for (mut bus, n) in full_rx.iter() {
        if cancel.load(Ordering::Acquire) {
            cancelled = true;
            break;
        }
        // Only the largest true peak over the channels is read: each
        // channel's may skip what cannot beat it.
        meter.set_true_peak_floor(meter.true_peak_linear());
        let ctx = ProcessContext { frames: n, position, params: &[] };
        meter.process(&ctx, &mut Bus::new(&mut bus, channels, BLOCK, n));
        position += n as u64;
        progress(position);
        let _ = empty_tx.send((bus, 0));
    }
    drop(empty_tx);
    // The reader stops at its next send (or its next empty block) once both ends are gone.
    drop(full_rx);
    let joined = reader.join();
    if cancelled {
        return Err(EngineError::other(format!("analyzeFile: {}: cancelled", path.display())));
    }
    let tap = match joined {
        Ok(Ok(tap)) => tap,
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => {
            return Err(EngineError::other(format!(
                "analyzeFile: {}: the reader thread stopped unexpectedly",
                path.display()
            )))
        }
    };
    if position == 0 {
        return Err(EngineError::other(format!("{}: the file holds no audio frames", path.display())));
    }
    let mut info = info;
    info.frames = position;
    let reading = match &tap {
        Some(tap) => meter.total_reading_with(tap),
        None => meter.total_reading(),
    };
    Ok(FileAnalysis { reading, info })
}
