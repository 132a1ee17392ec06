//! `analyzeFile`: a file streamed through a meter.

use crate::error::{EngineError, Result};
use crate::meter::MeterReading;
use crossbeam_channel::bounded;
use ferrite_dsp::meter::Meter;
use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
use ferrite_media::{AudioFileInfo, Decoder};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Frames per block handed from the decoding thread to the meter.
const BLOCK: usize = 16384;

/// Blocks in flight between the two threads (bounds memory: a few MB).
const IN_FLIGHT: usize = 4;

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

/// [`analyze_file`], calling `progress(frames_done)` after each block and
/// stopping with an error at the first block after `cancel` is set.
pub fn analyze_with(path: &Path, mut progress: impl FnMut(u64), cancel: &AtomicBool) -> Result<FileAnalysis> {
    let mut dec = Decoder::open(path)?;
    let info = dec.info().clone();
    ferrite_dsp::meter::check_sample_rate(f64::from(info.sample_rate))
        .map_err(|e| EngineError::range(format!("{}: {e}", path.display())))?;
    let channels = info.channels.max(1);
    let mut meter = Meter::new();
    meter.prepare(&PrepareContext { sample_rate: f64::from(info.sample_rate), max_block: BLOCK, channels });
    // The work is shared between the two threads: the reader decodes and
    // decodes, the meter thread measures. Decoding PCM is cheap, so there
    // the reader also widens the samples to f64 and measures the true peak
    // (the same filter over the same blocks: the same reading); decoding a
    // compressed file is the larger half, so the meter thread does both.
    let mut tap = if info.codec == "pcm" { meter.split_true_peak() } else { None };
    let widen = |bus: &mut [f64], block: &[Vec<f32>], n: usize| {
        for (dst, src) in bus.chunks_exact_mut(BLOCK).zip(block) {
            for (d, &s) in dst[..n].iter_mut().zip(&src[..n]) {
                *d = f64::from(s);
            }
        }
    };

    // A block: the decoded f32 planes, the f64 bus, frames, and whether the
    // bus holds them already.
    type Block = (Vec<Vec<f32>>, Vec<f64>, usize, bool);
    let (full_tx, full_rx) = bounded::<Block>(IN_FLIGHT);
    let (empty_tx, empty_rx) = bounded::<Block>(IN_FLIGHT + 2);
    for _ in 0..IN_FLIGHT + 1 {
        let _ = empty_tx.send((vec![vec![0.0f32; BLOCK]; channels], vec![0.0f64; channels * BLOCK], 0, false));
    }
    type ReaderResult = std::result::Result<Option<ferrite_dsp::meter::TruePeakTap>, ferrite_media::MediaError>;
    let reader = std::thread::Builder::new()
        .name("ferrite-reader".into())
        .spawn(move || -> ReaderResult {
            while let Ok((mut block, mut bus, _, _)) = empty_rx.recv() {
                let mut views: Vec<&mut [f32]> = block.iter_mut().map(|c| &mut c[..]).collect();
                let got = dec.read(&mut views)?;
                if let Some(tap) = tap.as_mut() {
                    widen(&mut bus, &block, got);
                    let planes: Vec<&[f64]> = bus.chunks_exact(BLOCK).map(|c| &c[..got]).collect();
                    tap.process(&planes);
                }
                let widened = tap.is_some();
                if got == 0 || full_tx.send((block, bus, got, widened)).is_err() {
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
    for (block, mut bus, n, widened) in full_rx.iter() {
        if cancel.load(Ordering::Acquire) {
            cancelled = true;
            break;
        }
        if !widened {
            widen(&mut bus, &block, n);
        }
        let ctx = ProcessContext { frames: n, position, params: &[] };
        meter.process(&ctx, &mut Bus::new(&mut bus, channels, BLOCK, n));
        position += n as u64;
        progress(position);
        let _ = empty_tx.send((block, bus, 0, false));
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
