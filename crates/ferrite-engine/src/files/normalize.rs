//! `normalizeFile`: ffmpeg loudnorm's job done exactly. Measure the file,
//! apply the gain that reaches the target, true-peak limit when the gain
//! would push the true peak over the ceiling, measure again and correct
//! (the limiter lowers the loudness it touches, and a sample-peak limiter
//! lets inter-sample peaks through), then write the result and measure
//! what was written.

use super::analyze::{analyze_with, FileAnalysis};
use crate::error::{EngineError, Result};
use crate::meter::MeterReading;
use ferrite_dsp::limiter::Limiter;
use ferrite_dsp::meter::Meter;
use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
use ferrite_media::{AudioFileWriter, BitDepth, FileSink, ResampledReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Frames processed per step.
const CHUNK: usize = 8192;
/// The limiter's lookahead, ms (its latency is removed from the output).
const LOOKAHEAD_MS: f64 = 5.0;
/// The limiter's release, ms.
const RELEASE_MS: f64 = 150.0;
/// Measuring passes at most before writing.
const MAX_PASSES: usize = 8;
/// How close a measuring pass must land (LU) before the result is written;
/// the contract is 0.1 LU, and quantising to the file's depth moves it a little.
const AIM_LU: f64 = 0.03;

/// A normalisation.
#[derive(Debug, Clone)]
pub struct NormalizeRequest {
    /// The file to read (any format).
    pub input: PathBuf,
    /// The file to write (`.wav` or `.flac`).
    pub output: PathBuf,
    /// Integrated loudness to reach, LUFS.
    pub target_lufs: f64,
    /// True-peak ceiling, dBTP; never exceeded.
    pub true_peak_db: f64,
    /// Sample format of the output.
    pub depth: BitDepth,
    /// Output rate (none: the input's).
    pub sample_rate: Option<u32>,
}

/// What a normalisation did.
#[derive(Debug, Clone)]
pub struct NormalizeResult {
    /// The input's analysis.
    pub before: FileAnalysis,
    /// The written file's analysis.
    pub after: FileAnalysis,
    /// The gain applied before the limiter, dB.
    pub gain_db: f64,
    /// Whether the limiter reduced any peak.
    pub limited: bool,
}

/// Normalises `req.input` into `req.output` (written under a temporary name
/// and renamed when complete).
pub fn normalize_file(req: &NormalizeRequest) -> Result<NormalizeResult> {
    normalize_file_with(req, &AtomicBool::new(false))
}

/// [`normalize_file`] that stops with an error at the next chunk after
/// `cancel` is set, leaving no file (the temporary one is removed).
pub fn normalize_file_with(req: &NormalizeRequest, cancel: &AtomicBool) -> Result<NormalizeResult> {
    let analyze_file = |p: &Path| analyze_with(p, |_| (), cancel);
    let what = |m: String| EngineError::range(format!("normalizeFile: {m}"));
    if !req.target_lufs.is_finite() || !(-70.0..=0.0).contains(&req.target_lufs) {
        return Err(what(format!("targetLufs = {} must be in [-70, 0]", req.target_lufs)));
    }
    if !req.true_peak_db.is_finite() || !(-30.0..=0.0).contains(&req.true_peak_db) {
        return Err(what(format!("truePeakDb = {} must be in [-30, 0]", req.true_peak_db)));
    }
    if !super::writable(&req.output) {
        return Err(EngineError::range(format!(
            "normalizeFile: {}: the output must end in .wav or .flac",
            req.output.display()
        )));
    }
    if let Some(r) = req.sample_rate {
        ferrite_dsp::meter::check_sample_rate(f64::from(r)).map_err(|e| what(format!("sampleRate = {r}: {e}")))?;
    }
    let before = analyze_file(&req.input).map_err(|e| match e.kind {
        crate::error::ErrorKind::Range => what(e.message),
        _ => e,
    })?;
    if !before.reading.integrated_lufs.is_finite() {
        return Err(EngineError::other(format!(
            "normalizeFile: {}: the file is silent (or below the -70 LUFS gate): there is no loudness to normalise",
            req.input.display()
        )));
    }
    let ceiling = req.true_peak_db;
    let mut gain_db = req.target_lufs - before.reading.integrated_lufs;
    let resampled = req.sample_rate.is_some_and(|r| r != before.info.sample_rate);
    // The limiter's own (sample-peak) ceiling; lowered when inter-sample peaks come through.
    let mut limit: Option<f64> = None;
    if before.reading.true_peak_db + gain_db > ceiling || resampled {
        limit = Some(ceiling);
        for _ in 0..MAX_PASSES {
            let (r, _) = pass(&req.input, req.sample_rate, gain_db, limit, None, cancel)?;
            let off = req.target_lufs - r.integrated_lufs;
            let over = r.true_peak_db - ceiling;
            if off.abs() <= AIM_LU && over <= 0.0 {
                break;
            }
            if over > 0.0 {
                limit = limit.map(|l| l - over - 0.01);
            }
            if off.is_finite() {
                gain_db += off;
            }
        }
    }
    let mut attempt = 0;
    loop {
        let writer = AudioFileWriter::create(
            &req.output,
            req.sample_rate.unwrap_or(before.info.sample_rate),
            before.info.channels.max(1),
            req.depth,
        )?;
        let sink = FileSink::spawn(writer, 8)?;
        let (_, limited) = pass(&req.input, req.sample_rate, gain_db, limit, Some(sink), cancel)?;
        let after = analyze_file(&req.output)?;
        let off = req.target_lufs - after.reading.integrated_lufs;
        let over = after.reading.true_peak_db - ceiling;
        if (off.abs() <= 0.1 && over <= 0.0) || attempt >= 2 {
            if over > 0.0 || off.abs() > 0.1 {
                return Err(EngineError::other(format!(
                    "normalizeFile: {}: could not reach {} LUFS under {} dBTP (got {:.2} LUFS, {:.2} dBTP)",
                    req.input.display(),
                    req.target_lufs,
                    ceiling,
                    after.reading.integrated_lufs,
                    after.reading.true_peak_db
                )));
            }
            return Ok(NormalizeResult { before, after, gain_db, limited });
        }
        // Quantisation or the limiter moved it: correct and write again.
        gain_db += off;
        if over > 0.0 {
            limit = Some(limit.unwrap_or(ceiling) - over - 0.01);
        }
        attempt += 1;
    }
}

/// One pass: the file through the gain and (when `limit` is given) the
/// limiter, measured; written to `sink` when given. Returns the reading and
/// whether the limiter reduced any peak.
fn pass(
    input: &Path,
    rate: Option<u32>,
    gain_db: f64,
    limit: Option<f64>,
    sink: Option<FileSink>,
    cancel: &AtomicBool,
) -> Result<(MeterReading, bool)> {
    let mut reader = ResampledReader::open(input, rate)?;
    let n = reader.channels().max(1);
    let sr = f64::from(reader.sample_rate());
    let prep = PrepareContext { sample_rate: sr, max_block: CHUNK, channels: n };
    let mut meter = Meter::new();
    meter.prepare(&prep);
    let mut limiter = limit.map(|_| {
        let mut l = Limiter::new(LOOKAHEAD_MS);
        l.prepare(&prep);
        l
    });
    let delay = limiter.as_ref().map_or(0, |l| l.latency());
    let params = [ParamBuffer::new(limit.unwrap_or(0.0), CHUNK), ParamBuffer::new(RELEASE_MS, CHUNK)];
    let g = 10f64.powf(gain_db / 20.0);
    let mut sink = sink;
    let mut read_buf: Vec<Vec<f32>> = vec![vec![0.0; CHUNK]; n];
    let mut bus = vec![0.0f64; n * CHUNK];
    let (mut input_left_after_end, mut to_skip, mut position, mut limited) = (delay, delay, 0u64, false);
    let mut ended = false;
    loop {
        if cancel.load(Ordering::Acquire) {
            // Dropping the sink aborts it: its temporary file is removed.
            return Err(EngineError::other(format!("normalizeFile: {}: cancelled", input.display())));
        }
        let got = if ended {
            0
        } else {
            let mut views: Vec<&mut [f32]> = read_buf.iter_mut().map(|c| &mut c[..]).collect();
            reader.read(&mut views)?
        };
        ended |= got < CHUNK;
        // After the end, feed the limiter's delay line out with silence.
        let tail = if ended { input_left_after_end.min(CHUNK - got) } else { 0 };
        input_left_after_end -= tail;
        let frames = got + tail;
        if frames == 0 {
            break;
        }
        for c in 0..n {
            let row = &mut bus[c * CHUNK..c * CHUNK + frames];
            for (d, s) in row.iter_mut().zip(read_buf[c][..got].iter()) {
                *d = f64::from(*s) * g;
            }
            row[got..].fill(0.0);
        }
        let ctx = ProcessContext { frames, position, params: &params };
        if let Some(l) = limiter.as_mut() {
            let peak_in =
                bus.chunks(CHUNK).take(n).flat_map(|c| c[..frames].iter()).fold(0.0f64, |m, v| m.max(v.abs()));
            if 20.0 * peak_in.log10() > limit.unwrap_or(0.0) {
                limited = true;
            }
            l.process(&ctx, &mut Bus::new(&mut bus, n, CHUNK, frames));
        }
        position += frames as u64;
        // The first `delay` output frames are the limiter's lookahead (silence).
        let skip = to_skip.min(frames);
        to_skip -= skip;
        let keep = frames - skip;
        if keep > 0 {
            for c in 0..n {
                bus.copy_within(c * CHUNK + skip..c * CHUNK + frames, c * CHUNK);
            }
            let mctx = ProcessContext { frames: keep, position, params: &[] };
            meter.process(&mctx, &mut Bus::new(&mut bus, n, CHUNK, keep));
            if let Some(s) = sink.as_mut() {
                let mut out = s.buffer();
                out.resize_with(n, Vec::new);
                for (c, o) in out.iter_mut().enumerate() {
                    o.clear();
                    o.extend(bus[c * CHUNK..c * CHUNK + keep].iter().map(|&v| v as f32));
                }
                s.send(out, keep)?;
            }
        }
        if ended && input_left_after_end == 0 && tail == 0 && got == 0 {
            break;
        }
    }
    if let Some(s) = sink {
        s.finish()?;
    }
    Ok((meter.total_reading(), limited))
}
