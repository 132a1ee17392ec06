//! `linearPhaseEq`: the magnitude of a series of RBJ bands (as [`crate::eq`])
//! with no phase shift, as a symmetric FIR.
//!
//! No parameters ([`PARAMS`] is empty): the bands (type, frequency, `q`,
//! `gainDb`) and the FIR length are construction-only. The filter is
//! designed in [`Processor::prepare`] (control side), when the sample rate
//! is known; a graph swap that changes a band builds a new node whose
//! design happens while the graph compiles, off the audio thread, and that
//! takes over the old node's input history ([`Processor::take_state`]), so
//! the new filter applies from the next partition boundary (a switch, not a
//! crossfade).
//!
//! # Design
//! 1. The target magnitude `A(ω) = Π_b |H_b(e^{jω})|` of the bands' RBJ
//!    biquads ([`crate::biquad::coefficients`], the same coefficients as
//!    `eq`) is sampled at `M` points, `M` the power of two at or above
//!    `8·length` (at least 1024).
//! 2. Its inverse real FFT (`realfft`) is the zero-phase impulse response,
//!    circular around frame 0.
//! 3. The taps `-(L-1)/2 ..= (L-1)/2` are kept, made exactly even
//!    (`(h[j] + h[-j]) / 2`), multiplied by a Blackman window (non-zero at
//!    its ends) and shifted by `(L-1)/2`.
//!
//! The result is exactly symmetric (`h[n] == h[L-1-n]`), so its phase is
//! linear: a pure delay of `(L-1)/2` frames, which [`Processor::latency`]
//! reports and the compiler compensates. Allpass bands have unit
//! magnitude and change nothing. The magnitude differs from the bands' by
//! the window's smoothing: with the default length at 48 kHz, well under
//! 0.1 dB from 60 Hz to 15 kHz for bands whose features are wider than a
//! few tens of Hz; narrow low-frequency features need a longer FIR.
//!
//! # Running
//! The FIR runs in a [`Convolver`] (uniformly partitioned FFT convolution,
//! taps kept in f64), whose cost per frame and channel is about
//! `B + L/B` multiply-adds and two FFTs of `2B` every `B` frames
//! (`B` = 128 for the default length).

use crate::alloc::AllocError;
use crate::biquad::{coefficients, sanitize_sample_rate, BiquadType};
use crate::convolver::{auto_partition, Convolver};
use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

/// Parameter table of [`LinearPhaseEq`]: none.
pub const PARAMS: &[ParamSpec] = &[];

/// Default FIR length.
pub const DEFAULT_LENGTH: usize = 4095;
/// Shortest FIR length accepted.
pub const MIN_LENGTH: usize = 15;
/// Longest FIR length accepted.
pub const MAX_LENGTH: usize = 65_535;

/// One band: an RBJ type and its frequency (Hz), `q` and gain (dB).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Filter type.
    pub kind: BiquadType,
    /// Centre or corner frequency, Hz.
    pub frequency: f64,
    /// Quality factor.
    pub q: f64,
    /// Gain in dB (peaking and shelves).
    pub gain_db: f64,
}

/// `|H(e^{jω})|` of one band's RBJ biquad at `sample_rate`.
pub fn band_magnitude(band: &Band, omega: f64, sample_rate: f64) -> f64 {
    let c = coefficients(band.kind, band.frequency, band.q, band.gain_db, sample_rate);
    let z1 = Complex::new(omega.cos(), -omega.sin());
    let z2 = z1 * z1;
    let num = Complex::new(c.b0, 0.0) + z1 * c.b1 + z2 * c.b2;
    let den = Complex::new(1.0, 0.0) + z1 * c.a1 + z2 * c.a2;
    let d = den.norm();
    if d > 0.0 {
        num.norm() / d
    } else {
        1.0
    }
}

/// The symmetric FIR of `length` taps (odd, at least 1) for `bands` at
/// `sample_rate` (see the module documentation; control side).
pub fn design(bands: &[Band], length: usize, sample_rate: f64) -> Vec<f64> {
    let fs = sanitize_sample_rate(sample_rate);
    let length = length.max(1) | 1;
    let half = (length - 1) / 2;
    let m = (8 * length).next_power_of_two().max(1024);
    let mut planner = RealFftPlanner::<f64>::new();
    let inverse = planner.plan_fft_inverse(m);
    let mut spectrum: Vec<Complex<f64>> = (0..=m / 2)
        .map(|k| {
            let omega = 2.0 * core::f64::consts::PI * k as f64 / m as f64;
            let a: f64 = bands.iter().map(|b| band_magnitude(b, omega, fs)).product();
            Complex::new(if a.is_finite() { a } else { 0.0 }, 0.0)
        })
        .collect();
    let mut time = vec![0.0; m];
    if inverse.process(&mut spectrum, &mut time).is_err() {
        time.fill(0.0);
        time[0] = m as f64;
    }
    let scale = 1.0 / m as f64;
    let mut taps = vec![0.0; length];
    // Blackman over `length + 2` points, so that the end taps are not zero.
    let span = (half + 1) as f64;
    for j in 0..=half {
        let x = core::f64::consts::PI * j as f64 / span;
        let w = 0.42 + 0.5 * x.cos() + 0.08 * (2.0 * x).cos();
        let even = if j == 0 { time[0] } else { 0.5 * (time[j] + time[m - j]) };
        let v = even * scale * w;
        taps[half + j] = v;
        taps[half - j] = v;
    }
    taps
}

/// A linear-phase FIR EQ (see the module documentation).
///
/// ```
/// use ferrite_dsp::biquad::BiquadType;
/// use ferrite_dsp::linear_phase_eq::{Band, LinearPhaseEq};
/// use ferrite_dsp::{PrepareContext, Processor};
///
/// let band = Band { kind: BiquadType::Peaking, frequency: 1000.0, q: 1.0, gain_db: 6.0 };
/// let mut eq = LinearPhaseEq::new(vec![band], 255);
/// eq.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 128, channels: 2 });
/// assert_eq!(eq.latency(), 127);
/// let h = eq.taps();
/// assert!((0..255).all(|n| h[n] == h[254 - n])); // symmetric: linear phase
/// ```
pub struct LinearPhaseEq {
    bands: Vec<Band>,
    length: usize,
    taps: Vec<f64>,
    /// Designed for this rate (NaN before `prepare`).
    designed_for: f64,
    conv: Convolver,
}

impl core::fmt::Debug for LinearPhaseEq {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LinearPhaseEq")
            .field("bands", &self.bands)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl LinearPhaseEq {
    /// An EQ of `bands` (in any order: magnitudes multiply) as a FIR of
    /// `length` taps (made odd: an even length gets one more tap; the
    /// engine refuses even lengths). Designed in `prepare`.
    pub fn new(bands: Vec<Band>, length: usize) -> Self {
        let length = length.max(1) | 1;
        let mut identity = vec![0.0; length];
        identity[(length - 1) / 2] = 1.0;
        let conv = Convolver::with_f64_taps(vec![identity.clone()], false, auto_partition(length));
        Self { bands, length, taps: identity, designed_for: f64::NAN, conv }
    }

    /// The bands.
    pub fn bands(&self) -> &[Band] {
        &self.bands
    }

    /// FIR length in taps (odd).
    pub fn length(&self) -> usize {
        self.length
    }

    /// The designed taps (a centred unit impulse before `prepare`).
    pub fn taps(&self) -> &[f64] {
        &self.taps
    }
}

impl Processor for LinearPhaseEq {
    /// The convolver's state for `ctx`, plus a new design's taps and
    /// spectra (which take no more than one channel's state).
    fn memory_bytes(&self, ctx: &PrepareContext) -> usize {
        let one = PrepareContext { channels: 1, ..*ctx };
        self.conv.memory_bytes(ctx) + self.conv.memory_bytes(&one) + self.length * size_of::<f64>()
    }

    /// Designs the FIR for the sample rate (when it changed) and prepares
    /// its convolver (control side; allocates).
    fn prepare(&mut self, ctx: &PrepareContext) {
        let fs = sanitize_sample_rate(ctx.sample_rate);
        if self.designed_for != fs {
            self.taps = design(&self.bands, self.length, fs);
            self.conv = Convolver::with_f64_taps(vec![self.taps.clone()], false, auto_partition(self.length));
            self.designed_for = fs;
        }
        self.conv.prepare(ctx);
    }

    /// [`Processor::prepare`] with the convolver's buffers allocated fallibly.
    fn try_prepare(&mut self, ctx: &PrepareContext) -> Result<(), AllocError> {
        let fs = sanitize_sample_rate(ctx.sample_rate);
        if self.designed_for != fs {
            self.taps = design(&self.bands, self.length, fs);
            self.conv = Convolver::with_f64_taps(vec![self.taps.clone()], false, auto_partition(self.length));
            self.designed_for = fs;
        }
        self.conv.try_prepare(ctx)
    }

    /// # Realtime
    /// Does not allocate, lock or panic (the convolver's pre-allocated FFTs).
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        self.conv.process(ctx, io);
    }

    fn reset(&mut self) {
        self.conv.reset();
    }

    fn latency(&self) -> usize {
        (self.length - 1) / 2
    }

    /// Takes another `LinearPhaseEq`'s input history (same length and
    /// channels), whatever its bands: see [`Convolver::take_state`].
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let Some(prev) = previous.as_any_mut().downcast_mut::<LinearPhaseEq>() else { return false };
        prev.length == self.length && self.conv.take_state(&mut prev.conv)
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biquad::tests::ref_coeffs;
    use crate::processor::ParamBuffer;
    use core::f64::consts::PI;

    const FS: f64 = 48_000.0;

    /// `|H(e^{jw})|` of cookbook coefficients `[b0, b1, b2, a1, a2]`, in f64.
    fn ref_mag(c: [f64; 5], w: f64) -> f64 {
        let [b0, b1, b2, a1, a2] = c;
        let (re_n, im_n) = (b0 + b1 * w.cos() + b2 * (2.0 * w).cos(), -(b1 * w.sin() + b2 * (2.0 * w).sin()));
        let (re_d, im_d) = (1.0 + a1 * w.cos() + a2 * (2.0 * w).cos(), -(a1 * w.sin() + a2 * (2.0 * w).sin()));
        re_n.hypot(im_n) / re_d.hypot(im_d)
    }

    /// The bands' magnitude in dB at `f` Hz, from the independent cookbook.
    fn ref_db(bands: &[Band], f: f64) -> f64 {
        let w = 2.0 * PI * f / FS;
        bands.iter().map(|b| 20.0 * ref_mag(ref_coeffs(b.kind, b.frequency, b.q, b.gain_db, FS), w).log10()).sum()
    }

    /// `H(e^{jw})` of the taps by direct summation: (magnitude, phase after removing a delay of `d`).
    fn dtft(h: &[f64], w: f64, d: f64) -> (f64, f64) {
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &v) in h.iter().enumerate() {
            let a = w * (n as f64 - d);
            re += v * a.cos();
            im -= v * a.sin();
        }
        (re.hypot(im), im.atan2(re))
    }

    fn band(kind: BiquadType, frequency: f64, q: f64, gain_db: f64) -> Band {
        Band { kind, frequency, q, gain_db }
    }

    fn mastering_bands() -> Vec<Band> {
        vec![
            band(BiquadType::Highpass, 25.0, 0.707, 0.0),
            band(BiquadType::Lowshelf, 120.0, 0.707, 3.0),
            band(BiquadType::Peaking, 400.0, 1.2, -4.0),
            band(BiquadType::Peaking, 2500.0, 2.0, 5.0),
            band(BiquadType::Highshelf, 9000.0, 0.707, -3.0),
            band(BiquadType::Allpass, 1000.0, 1.0, 0.0),
        ]
    }

    fn log_freqs(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64)).collect()
    }

    #[test]
    fn magnitude_matches_the_rbj_bands_from_60_hz_to_15_khz() {
        let bands = mastering_bands();
        let h = design(&bands, DEFAULT_LENGTH, FS);
        let mut worst = (0.0f64, 0.0);
        for f in log_freqs(60.0, 15_000.0, 400) {
            let (m, _) = dtft(&h, 2.0 * PI * f / FS, 0.0);
            let err = (20.0 * m.log10() - ref_db(&bands, f)).abs();
            if err > worst.0 {
                worst = (err, f);
            }
        }
        assert!(worst.0 < 0.1, "{:.3} dB off at {:.1} Hz", worst.0, worst.1);
    }

    #[test]
    fn impulse_response_is_symmetric_and_its_phase_is_a_pure_delay() {
        let bands = mastering_bands();
        for length in [MIN_LENGTH, 255, DEFAULT_LENGTH] {
            let h = design(&bands, length, FS);
            assert_eq!(h.len(), length);
            for n in 0..length {
                assert_eq!(h[n], h[length - 1 - n], "length {length} tap {n}");
            }
        }
        let h = design(&bands, DEFAULT_LENGTH, FS);
        let d = ((DEFAULT_LENGTH - 1) / 2) as f64;
        for f in log_freqs(60.0, 15_000.0, 50) {
            let (_, phase) = dtft(&h, 2.0 * PI * f / FS, d);
            // Zero phase once the delay is removed (or π where the response is negative: never here).
            assert!(phase.abs() < 1e-9, "phase {phase} at {f} Hz");
        }
    }

    #[test]
    fn flat_bands_give_a_delayed_unit_impulse() {
        let h = design(&[band(BiquadType::Peaking, 1000.0, 1.0, 0.0)], 101, FS);
        for (n, v) in h.iter().enumerate() {
            let want = if n == 50 { 1.0 } else { 0.0 };
            assert!((v - want).abs() < 1e-12, "tap {n}: {v}");
        }
    }

    #[test]
    fn the_processor_convolves_with_its_taps_and_reports_the_delay() {
        let bands = mastering_bands();
        let mut eq = LinearPhaseEq::new(bands.clone(), 511);
        eq.prepare(&PrepareContext { sample_rate: FS, max_block: 64, channels: 2 });
        assert_eq!(eq.latency(), 255);
        let h = eq.taps().to_vec();
        assert_eq!(h, design(&bands, 511, FS));
        let x = crate::kernels::testutil::xorshift(5, 3000);
        let mut out = Vec::new();
        let mut buf = vec![0.0; 128];
        let params: [ParamBuffer; 0] = [];
        for (k, chunk) in x.chunks(64).enumerate() {
            let f = chunk.len();
            buf[..f].copy_from_slice(chunk);
            buf[64..64 + f].copy_from_slice(chunk);
            let ctx = ProcessContext { frames: f, position: (k * 64) as u64, params: &params };
            eq.process(&ctx, &mut Bus::new(&mut buf, 2, 64, f));
            assert_eq!(buf[..f], buf[64..64 + f]);
            out.extend_from_slice(&buf[..f]);
        }
        for (n, y) in out.iter().enumerate() {
            let want: f64 = (0..h.len().min(n + 1)).map(|i| h[i] * x[n - i]).sum();
            assert!((y - want).abs() < 1e-9, "frame {n}: {y} vs {want}");
        }
    }
}
