//! `analyser`: a pass-through spectrum tap, split into an audio half
//! ([`Analyser`], the processor) and an events half ([`SpectrumReader`]).
//!
//! No parameters ([`PARAMS`] is empty). Construction-only: the name, the FFT
//! size (a power of two in [`MIN_FFT_SIZE`]`..=`[`MAX_FFT_SIZE`]) and the
//! smoothing time constant (`0..=1`).
//!
//! # What is analysed
//! The mono mix of the node's input: the mean of its channels. The audio
//! passes through unchanged.
//!
//! # Real time
//! On the audio thread the processor only copies the mono mix into a
//! lock-free ring (`rtrb`; a full ring drops samples and counts them, it
//! never waits). The [`SpectrumReader`], on the events thread, drains that
//! ring, keeps the newest `fftSize` samples (the waveform) and, when asked,
//! windows them (Blackman, as Web Audio's `AnalyserNode`), runs the real FFT
//! (`realfft`), takes magnitudes, and smooths them over time as Web Audio
//! does: `X̂_k ← τ·X̂_k + (1 − τ)·|X_k|` with `τ` the smoothing.
//!
//! # Offline
//! After [`Processor::set_blocking`]`(true)` (which only an offline render
//! calls) the processor instead accumulates the average power spectrum of
//! the whole render (Welch: Blackman-windowed segments of `fftSize` frames
//! every `fftSize / 2` frames from the first frame, so the result does not
//! depend on the block size); a render shorter than one segment analyses
//! the frames it has, zero-padded. [`Analyser::average_spectrum_db`] reads it.
//!
//! # dB reference
//! Magnitudes are scaled by `2 / Σw` (`w` the window): **a full-scale sine
//! (amplitude 1) centred on bin `k` reads 0 dB in bin `k`**, a sine of
//! amplitude `a` reads `20·log10(a)`; this holds for `0 < k < fftSize/2`
//! (DC and Nyquist, which have no mirror image, read 6 dB higher). Web Audio
//! scales by `1 / fftSize` instead, so its readings of the same signal are
//! `20·log10(Σw / (2·fftSize)) ≈ −13.56 dB` lower. Bin `k` is at
//! `k · sampleRate / fftSize` Hz; there are `fftSize/2 + 1` bins. Silence
//! reads `-inf`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameter table of [`Analyser`]: none.
pub const PARAMS: &[ParamSpec] = &[];

/// Smallest FFT size.
pub const MIN_FFT_SIZE: usize = 32;
/// Largest FFT size.
pub const MAX_FFT_SIZE: usize = 32768;
/// Default FFT size.
pub const DEFAULT_FFT_SIZE: usize = 2048;
/// Default smoothing time constant (Web Audio's).
pub const DEFAULT_SMOOTHING: f64 = 0.8;

/// Frames the ring holds beyond one FFT: the events thread may fall this
/// far behind the audio thread before samples are dropped.
pub const RING_SLACK: usize = 32768;

/// Whether `n` is a valid FFT size.
pub fn valid_fft_size(n: usize) -> bool {
    n.is_power_of_two() && (MIN_FFT_SIZE..=MAX_FFT_SIZE).contains(&n)
}

/// Web Audio's Blackman window (`α = 0.16`) of `n` points, `w[i]` for `i/n`.
pub fn blackman(n: usize) -> Vec<f64> {
    let a0 = 0.42;
    let a1 = 0.5;
    let a2 = 0.08;
    (0..n)
        .map(|i| {
            let x = 2.0 * core::f64::consts::PI * i as f64 / n as f64;
            a0 - a1 * x.cos() + a2 * (2.0 * x).cos()
        })
        .collect()
}

/// Windowed FFT work of one size: plan, window, scratch, and the `2 / Σw` scale.
struct Fft {
    plan: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    time: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    scale: f64,
}

impl Fft {
    fn new(n: usize) -> Self {
        let plan = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let window = blackman(n);
        let sum: f64 = window.iter().sum();
        Self {
            time: vec![0.0; n],
            spectrum: plan.make_output_vec(),
            scratch: plan.make_scratch_vec(),
            scale: 2.0 / sum,
            window,
            plan,
        }
    }

    /// Windows `frames` (oldest first, `n` of them) and transforms them; the
    /// scaled magnitudes are then `|spectrum[k]| · scale`.
    fn run<'a>(&mut self, frames: impl Iterator<Item = &'a f64>) {
        for ((t, x), w) in self.time.iter_mut().zip(frames).zip(&self.window) {
            *t = x * w;
        }
        if self.plan.process_with_scratch(&mut self.time, &mut self.spectrum, &mut self.scratch).is_err() {
            self.spectrum.fill(Complex::new(0.0, 0.0));
        }
    }
}

/// Offline accumulation: the current segment and the summed power.
struct Average {
    fft: Fft,
    segment: Vec<f64>,
    filled: usize,
    power: Vec<f64>,
    count: u64,
}

impl Average {
    /// Adds the segment's power spectrum.
    fn add_segment(&mut self) {
        self.fft.run(self.segment.iter());
        let s2 = self.fft.scale * self.fft.scale;
        for (p, c) in self.power.iter_mut().zip(&self.fft.spectrum) {
            *p += c.norm_sqr() * s2;
        }
        self.count += 1;
    }
}

/// The audio half: a pass-through that feeds the mono mix to its
/// [`SpectrumReader`] (real time) or averages it (offline).
///
/// ```
/// use ferrite_dsp::analyser::Analyser;
/// use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
///
/// let mut a = Analyser::new("master".into(), 256, 0.0);
/// let mut reader = a.take_reader().unwrap();
/// a.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 256, channels: 1 });
/// // A full-scale sine on bin 8 (1500 Hz at 48 kHz with 256 points).
/// let mut data: Vec<f64> = (0..256).map(|i| (2.0 * std::f64::consts::PI * 8.0 * i as f64 / 256.0).sin()).collect();
/// let copy = data.clone();
/// a.process(&ProcessContext { frames: 256, position: 0, params: &[] }, &mut Bus::new(&mut data, 1, 256, 256));
/// assert_eq!(data, copy); // passes through
/// reader.drain();
/// let db = reader.analyse(&mut Vec::new());
/// assert!(db[8].abs() < 0.01);
/// assert_eq!(reader.waveform().len(), 256);
/// ```
pub struct Analyser {
    name: String,
    fft_size: usize,
    smoothing: f64,
    sample_rate: f64,
    tx: rtrb::Producer<f32>,
    reader: Option<SpectrumReader>,
    dropped: u64,
    /// A total the drops are also added to (an engine's `stats()`), when given.
    drop_total: Option<Arc<AtomicU64>>,
    average: Option<Box<Average>>,
}

impl core::fmt::Debug for Analyser {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Analyser")
            .field("name", &self.name)
            .field("fft_size", &self.fft_size)
            .field("smoothing", &self.smoothing)
            .finish_non_exhaustive()
    }
}

impl Analyser {
    /// An analyser keyed by `name` with `fft_size` points (clamped to a
    /// valid size: the engine refuses invalid ones) and `smoothing` (clamped
    /// to `0..=1`). Control side: allocates its ring and its reader.
    pub fn new(name: String, fft_size: usize, smoothing: f64) -> Self {
        Self::with_slack(name, fft_size, smoothing, RING_SLACK)
    }

    /// [`Analyser::new`] with a ring of `fft_size + slack` frames instead
    /// of `fft_size + `[`RING_SLACK`].
    pub fn with_slack(name: String, fft_size: usize, smoothing: f64, slack: usize) -> Self {
        let fft_size = fft_size.clamp(MIN_FFT_SIZE, MAX_FFT_SIZE).next_power_of_two();
        let smoothing = if smoothing.is_finite() { smoothing.clamp(0.0, 1.0) } else { DEFAULT_SMOOTHING };
        let (tx, rx) = rtrb::RingBuffer::new(fft_size.saturating_add(slack.min(RING_SLACK)));
        let reader = SpectrumReader::new(name.clone(), rx, fft_size, smoothing);
        Self {
            name,
            fft_size,
            smoothing,
            sample_rate: 48_000.0,
            tx,
            reader: Some(reader),
            dropped: 0,
            drop_total: None,
            average: None,
        }
    }

    /// Adds every frame dropped from now on to `total` too (control side,
    /// before the analyser goes to the audio thread).
    pub fn count_drops_into(&mut self, total: Arc<AtomicU64>) {
        self.drop_total = Some(total);
    }

    /// The name readings are keyed by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// FFT size.
    pub fn fft_size(&self) -> usize {
        self.fft_size
    }

    /// The prepared sample rate.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// The events half, once (control side: hand it to the events thread).
    pub fn take_reader(&mut self) -> Option<SpectrumReader> {
        self.reader.take()
    }

    /// Samples the ring had no room for (the reader fell behind or is gone).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Offline: the average power spectrum so far in dB, `fftSize/2 + 1`
    /// bins (see the module documentation for the reference); `None`
    /// unless [`Processor::set_blocking`]`(true)` was called. Control side.
    pub fn average_spectrum_db(&mut self) -> Option<Vec<f64>> {
        let avg = self.average.as_mut()?;
        if avg.count == 0 && avg.filled > 0 {
            let filled = avg.filled;
            avg.segment[filled..].fill(0.0);
            avg.add_segment();
            avg.filled = filled;
        }
        let count = avg.count.max(1) as f64;
        Some(avg.power.iter().map(|p| 10.0 * (p / count).log10()).collect())
    }
}

impl Processor for Analyser {
    fn prepare(&mut self, ctx: &PrepareContext) {
        self.sample_rate = ctx.sample_rate;
        if let Some(r) = self.reader.as_mut() {
            r.sample_rate = ctx.sample_rate;
        }
    }

    /// Passes the audio through; copies its mono mix into the ring (real
    /// time) or into the current segment (offline).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic; a full ring drops and counts. No
    /// FFT runs here in real time.
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let frames = ctx.frames.min(io.frames());
        let channels = io.channels();
        if channels == 0 {
            return;
        }
        let inv = 1.0 / channels as f64;
        let mono = |i: usize| -> f64 {
            (0..channels).map(|c| io.channel(c).get(i).copied().unwrap_or(0.0)).sum::<f64>() * inv
        };
        if let Some(avg) = self.average.as_mut() {
            let hop = self.fft_size / 2;
            for i in 0..frames {
                if let Some(s) = avg.segment.get_mut(avg.filled) {
                    *s = mono(i);
                }
                avg.filled += 1;
                if avg.filled >= self.fft_size {
                    avg.add_segment();
                    avg.segment.copy_within(hop.., 0);
                    avg.filled = self.fft_size - hop;
                }
            }
            return;
        }
        let n = frames.min(self.tx.slots());
        let lost = (frames - n) as u64;
        if lost > 0 {
            self.dropped += lost;
            if let Some(total) = &self.drop_total {
                total.fetch_add(lost, Ordering::Relaxed);
            }
        }
        if let Ok(chunk) = self.tx.write_chunk_uninit(n) {
            chunk.fill_from_iter((0..n).map(|i| mono(i) as f32));
        }
    }

    fn reset(&mut self) {
        if let Some(avg) = self.average.as_mut() {
            avg.filled = 0;
            avg.count = 0;
            avg.power.fill(0.0);
        }
    }

    /// `true`: an offline render; the processor averages the spectrum of
    /// the whole render itself (allocated here, control side).
    fn set_blocking(&mut self, blocking: bool) {
        self.average = blocking.then(|| {
            let fft = Fft::new(self.fft_size);
            let bins = self.fft_size / 2 + 1;
            Box::new(Average { fft, segment: vec![0.0; self.fft_size], filled: 0, power: vec![0.0; bins], count: 0 })
        });
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

/// The events half of an [`Analyser`]: drains its ring and computes
/// spectra (never on the audio thread; allocates only in [`SpectrumReader::new`]).
pub struct SpectrumReader {
    name: String,
    rx: rtrb::Consumer<f32>,
    smoothing: f64,
    sample_rate: f64,
    /// The newest `fft_size` samples, oldest at `pos`.
    history: Vec<f64>,
    pos: usize,
    fft: Fft,
    waveform: Vec<f32>,
}

impl core::fmt::Debug for SpectrumReader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpectrumReader").field("name", &self.name).finish_non_exhaustive()
    }
}

impl SpectrumReader {
    fn new(name: String, rx: rtrb::Consumer<f32>, fft_size: usize, smoothing: f64) -> Self {
        Self {
            name,
            rx,
            smoothing,
            sample_rate: 48_000.0,
            history: vec![0.0; fft_size],
            pos: 0,
            fft: Fft::new(fft_size),
            waveform: vec![0.0; fft_size],
        }
    }

    /// The analyser's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// FFT size.
    pub fn fft_size(&self) -> usize {
        self.history.len()
    }

    /// The sample rate of the analysed audio.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Bin `k`'s frequency: `k · sampleRate / fftSize`.
    pub fn frequencies(&self) -> Vec<f32> {
        let n = self.history.len();
        (0..=n / 2).map(|k| (k as f64 * self.sample_rate / n as f64) as f32).collect()
    }

    /// Takes every sample the audio thread has written so far.
    pub fn drain(&mut self) {
        let n = self.rx.slots();
        let Ok(chunk) = self.rx.read_chunk(n) else { return };
        let len = self.history.len();
        for x in chunk.into_iter() {
            if let Some(h) = self.history.get_mut(self.pos) {
                *h = f64::from(x);
            }
            self.pos = (self.pos + 1) % len;
        }
    }

    /// The newest `fftSize` samples, oldest first (as of the last [`Self::drain`]).
    pub fn waveform(&mut self) -> &[f32] {
        let (old, new) = self.history.split_at(self.pos);
        for (w, x) in self.waveform.iter_mut().zip(new.iter().chain(old)) {
            *w = *x as f32;
        }
        &self.waveform
    }

    /// The spectrum of the newest `fftSize` samples in dB (`fftSize/2 + 1`
    /// bins), smoothed with `smoothed`, the previous magnitudes of this
    /// subscriber (resized and zeroed when it does not fit; updated).
    pub fn analyse(&mut self, smoothed: &mut Vec<f64>) -> Vec<f32> {
        let bins = self.history.len() / 2 + 1;
        if smoothed.len() != bins {
            *smoothed = vec![0.0; bins];
        }
        let (old, new) = self.history.split_at(self.pos);
        self.fft.run(new.iter().chain(old));
        let tau = self.smoothing;
        let scale = self.fft.scale;
        smoothed
            .iter_mut()
            .zip(&self.fft.spectrum)
            .map(|(s, c)| {
                let m = tau * *s + (1.0 - tau) * c.norm() * scale;
                *s = if m.is_finite() { m } else { 0.0 };
                (20.0 * m.log10()) as f32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::f64::consts::PI;

    const FS: f64 = 48_000.0;

    fn offline(n_fft: usize, x: &[f64], channels: usize, block: usize) -> Vec<f64> {
        let mut a = Analyser::new("a".into(), n_fft, 0.8);
        a.prepare(&PrepareContext { sample_rate: FS, max_block: block, channels });
        a.set_blocking(true);
        let mut buf = vec![0.0; channels * block];
        let mut pos = 0;
        while pos < x.len() {
            let f = block.min(x.len() - pos);
            for c in 0..channels {
                buf[c * block..c * block + f].copy_from_slice(&x[pos..pos + f]);
            }
            let before = buf.clone();
            a.process(
                &ProcessContext { frames: f, position: pos as u64, params: &[] },
                &mut Bus::new(&mut buf, channels, block, f),
            );
            assert_eq!(buf, before, "pass-through");
            pos += f;
        }
        a.average_spectrum_db().unwrap()
    }

    fn sine(amp: f64, f: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| amp * (2.0 * PI * f * i as f64 / FS).sin()).collect()
    }

    /// Welch average by a direct DFT in f64 (Blackman, hop N/2, scaled by 2/Σw), in dB.
    fn direct_welch_db(x: &[f64], n: usize) -> Vec<f64> {
        let w: Vec<f64> = (0..n)
            .map(|i| {
                0.42 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos() + 0.08 * (4.0 * PI * i as f64 / n as f64).cos()
            })
            .collect();
        let sw: f64 = w.iter().sum();
        let mut acc = vec![0.0; n / 2 + 1];
        let mut segs = 0;
        let mut s = 0;
        while s + n <= x.len() {
            for (k, a) in acc.iter_mut().enumerate() {
                let (mut re, mut im) = (0.0, 0.0);
                for i in 0..n {
                    let v = x[s + i] * w[i];
                    let ph = 2.0 * PI * (k * i) as f64 / n as f64;
                    re += v * ph.cos();
                    im -= v * ph.sin();
                }
                *a += (re * re + im * im) * (2.0 / sw) * (2.0 / sw);
            }
            segs += 1;
            s += n / 2;
        }
        acc.iter().map(|a| 10.0 * (a / segs as f64).log10()).collect()
    }

    #[test]
    fn a_full_scale_sine_on_a_bin_reads_0_db_and_a_minus_20_db_sine_reads_minus_20() {
        let n = 1024;
        let bin = 37;
        let f = bin as f64 * FS / n as f64;
        for (amp, want) in [(1.0, 0.0), (0.1, -20.0)] {
            let db = offline(n, &sine(amp, f, 20 * n), 2, 128);
            assert_eq!(db.len(), n / 2 + 1);
            assert!((db[bin] - want).abs() < 0.1, "amp {amp}: {} dB", db[bin]);
            let peak = (0..db.len()).max_by(|&a, &b| db[a].total_cmp(&db[b])).unwrap();
            assert_eq!(peak, bin);
            // Dynamic range: far from the sine, Blackman's sidelobes are below -58 dB.
            assert!(db.iter().enumerate().filter(|(k, _)| k.abs_diff(bin) > 4).all(|(_, &v)| v < want - 58.0));
        }
    }

    #[test]
    fn the_offline_average_matches_a_direct_dft_and_does_not_depend_on_blocks() {
        let n = 64;
        let x: Vec<f64> = crate::kernels::testutil::xorshift(3, 1000)
            .iter()
            .zip(sine(0.5, 3000.0, 1000))
            .map(|(a, b)| 0.3 * a + b)
            .collect();
        let want = direct_welch_db(&x, n);
        let got = offline(n, &x, 1, 128);
        for k in 0..want.len() {
            assert!((got[k] - want[k]).abs() < 1e-9, "bin {k}: {} vs {}", got[k], want[k]);
        }
        for block in [1, 7, 4096] {
            assert_eq!(offline(n, &x, 1, block), got, "block {block}");
        }
        // Shorter than a segment: the frames there are, zero-padded.
        let short = &x[..40];
        let mut padded = short.to_vec();
        padded.resize(n, 0.0);
        let want = direct_welch_db(&padded, n);
        let got = offline(n, short, 1, 16);
        for k in 0..want.len() {
            assert!((got[k] - want[k]).abs() < 1e-9, "short, bin {k}");
        }
    }

    #[test]
    fn the_reader_gets_the_mono_mix_and_smooths_like_web_audio() {
        let n = 256;
        let mut a = Analyser::new("a".into(), n, 0.5);
        let mut r = a.take_reader().unwrap();
        assert!(a.take_reader().is_none());
        a.prepare(&PrepareContext { sample_rate: FS, max_block: 128, channels: 2 });
        let bin = 10;
        let x = sine(1.0, bin as f64 * FS / n as f64, 2 * n);
        // Left carries the sine, right silence: the mono mix is half of it.
        for k in 0..(2 * n / 128) {
            let mut buf = vec![0.0; 256];
            buf[..128].copy_from_slice(&x[k * 128..(k + 1) * 128]);
            a.process(&ProcessContext { frames: 128, position: 0, params: &[] }, &mut Bus::new(&mut buf, 2, 128, 128));
        }
        r.drain();
        let wave = r.waveform().to_vec();
        for (i, w) in wave.iter().enumerate() {
            assert!((*w as f64 - 0.5 * x[n + i]).abs() < 1e-6);
        }
        let mut smoothed = Vec::new();
        let first = r.analyse(&mut smoothed);
        // τ = 0.5 from zero: half the magnitude, -6.02 dB, on top of the mix's -6.02 dB.
        assert!((first[bin] as f64 + 12.04).abs() < 0.05, "{}", first[bin]);
        let second = r.analyse(&mut smoothed);
        assert!((second[bin] as f64 - 20.0 * 0.375f64.log10()).abs() < 0.05, "{}", second[bin]);
        assert_eq!(r.frequencies()[bin], (bin as f64 * FS / n as f64) as f32);
    }

    #[test]
    fn a_full_ring_drops_and_counts() {
        let mut a = Analyser::new("a".into(), 32, 0.0);
        a.prepare(&PrepareContext { sample_rate: FS, max_block: 4096, channels: 1 });
        let mut buf = vec![0.25; 4096];
        for _ in 0..10 {
            a.process(
                &ProcessContext { frames: 4096, position: 0, params: &[] },
                &mut Bus::new(&mut buf, 1, 4096, 4096),
            );
        }
        assert_eq!(a.dropped(), 10 * 4096 - (32 + RING_SLACK) as u64);
    }

    #[test]
    fn drops_are_added_to_the_total_given() {
        let total = Arc::new(AtomicU64::new(5));
        let mut a = Analyser::with_slack("a".into(), 32, 0.0, 0);
        a.count_drops_into(total.clone());
        a.prepare(&PrepareContext { sample_rate: FS, max_block: 128, channels: 2 });
        let mut buf = vec![0.25; 256];
        for _ in 0..3 {
            a.process(&ProcessContext { frames: 128, position: 0, params: &[] }, &mut Bus::new(&mut buf, 2, 128, 128));
        }
        // A 32-frame ring nobody drains: 32 frames fit, the other 3 × 128 - 32 are dropped.
        assert_eq!(a.dropped(), 3 * 128 - 32);
        assert_eq!(total.load(Ordering::Relaxed), 5 + 3 * 128 - 32);
        // Drained, it takes 32 more.
        let mut r = a.take_reader().unwrap();
        r.drain();
        a.process(&ProcessContext { frames: 128, position: 0, params: &[] }, &mut Bus::new(&mut buf, 2, 128, 128));
        assert_eq!(total.load(Ordering::Relaxed), 5 + 4 * 128 - 64);
    }

    #[test]
    fn fft_sizes() {
        assert!(valid_fft_size(32) && valid_fft_size(2048) && valid_fft_size(32768));
        assert!(!valid_fft_size(16) && !valid_fft_size(65536) && !valid_fft_size(1000));
    }
}
