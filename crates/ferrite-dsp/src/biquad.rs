//! `biquad`: one second-order IIR section, RBJ *Audio EQ Cookbook* designs.
//!
//! Parameters (in [`ProcessContext::params`] order, see [`PARAMS`]):
//! `0 = frequency` (Hz), `1 = q` (default [`DEFAULT_Q`] = 1/√2),
//! `2 = gainDb` (dB, default [`DEFAULT_GAIN_DB`] = 0; only `peaking`,
//! `lowshelf` and `highshelf` use it). The filter type is construction-only.
//!
//! # Design
//!
//! [`coefficients`] follows the cookbook as the API defines it:
//! `w0 = 2π·f/fs`, `alpha = sin(w0)/(2·q)` for every type (shelves included:
//! they use `2·sqrt(A)·alpha` with this alpha), `A = 10^(gainDb/40)`, and the
//! bandpass is the constant 0 dB peak gain form. Coefficients are normalized
//! by `a0`. Every design is stable for `0 < w0 < π`, `alpha > 0`, `A > 0`,
//! which the run-time guards ([`clamp_frequency`], [`clamp_q`],
//! [`clamp_gain_db`]) enforce.
//!
//! # Structure and state
//!
//! Transposed direct form II in `f64`, two state values per channel
//! (`[s1, s2]`), see [`process_block_scalar`] (the plain scalar reference):
//!
//! ```text
//! y[n]  = b0·x[n] + s1
//! s1'   = b1·x[n] − a1·y[n] + s2
//! s2'   = b2·x[n] − a2·y[n]
//! ```
//!
//! # Kernels and exactness
//!
//! Blocks with constant parameters run on the SIMD kernels
//! ([`crate::kernels::BiquadCascade`], pipelined across the bands of an
//! `Eq`, 8 per cascade); blocks with a varying parameter run per frame with
//! exactly the kernels' arithmetic at the current level (fused `a·b + c` on
//! AVX2 / AVX-512 / NEON, the same order unfused elsewhere). Both paths use
//! the same `[s1, s2]` state, so a filter can switch between them at any block
//! and continue bit for bit; a constant block equals a varying block holding
//! the same values bit for bit. Against the plain scalar reference
//! [`process_block_scalar`] results differ by rounding only (about 1e-16
//! relative per operation, amplified by the recursion). The engine may also
//! run many filters as lanes of one [`crate::kernels::BiquadBank`] through
//! [`BankFilter`]: same bits again.
//!
//! # Parameter changes
//!
//! While all three parameters are constant over a block, the coefficients are
//! computed once and cached until a value changes. When any parameter is
//! `Varying` (automation or a ramp), the coefficients are recomputed for
//! **every frame** from that frame's values, and frame `n` is filtered with
//! the coefficients of frame `n` ([`process_block_varying_scalar`]). Sweeps
//! are thereby sample-accurate, smooth (no zipper steps) and independent of
//! the block size. Cost per varying frame and filter: a `sin`/`cos` pair when
//! the frequency varies, a `powf` when the gain varies (and the type uses
//! it), and the handful of multiplies and one set of divisions of the design;
//! parameters that stay constant within the block are not recomputed. The
//! coefficients of one frame are shared by all channels.
//!
//! Coefficients are a pure function of the parameter values, so a constant
//! block and a varying block holding the same values give identical samples.

use core::f64::consts::{FRAC_1_SQRT_2, PI};

use crate::kernels::{simd_level, BiquadBank, BiquadCascade, BiquadCoeffs, SimdLevel, MAX_CASCADE_STAGES};
use crate::processor::{Bus, ParamBlock, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Default `q` (1/√2: Butterworth for lowpass and highpass).
pub const DEFAULT_Q: f64 = FRAC_1_SQRT_2;

/// Default `gainDb`.
pub const DEFAULT_GAIN_DB: f64 = 0.0;

/// Smallest accepted `q` (also the run-time clamp).
pub const Q_MIN: f64 = 1.0e-4;
/// Largest accepted `q` (also the run-time clamp).
pub const Q_MAX: f64 = 1.0e3;
/// Smallest accepted `gainDb` (also the run-time clamp).
pub const GAIN_DB_MIN: f64 = -120.0;
/// Largest accepted `gainDb` (also the run-time clamp).
pub const GAIN_DB_MAX: f64 = 120.0;
/// Lowest frequency used at run time, as a fraction of the sample rate.
pub const FREQUENCY_MIN_RATIO: f64 = 1.0e-6;
/// Highest frequency used at run time, as a fraction of the sample rate
/// (just below Nyquist). The engine should reject `frequency >= fs/2`
/// itself: [`PARAMS`] cannot know the sample rate.
pub const FREQUENCY_MAX_RATIO: f64 = 0.4999;

/// Sample rate assumed before [`Processor::prepare`] (or when given a bad one).
const FALLBACK_SAMPLE_RATE: f64 = 48_000.0;

/// Frames of per-frame coefficients computed at once before `prepare` says
/// how large a block can be.
const DEFAULT_SCRATCH: usize = 128;

/// Parameter table of [`Biquad`]: `frequency` (Hz), `q`, `gainDb`.
///
/// The `frequency` range here is only the sample-rate-free part of the
/// check; the engine must also require `frequency < sampleRate / 2`.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec::new("frequency", 1.0e-3, 1.0e6),
    ParamSpec::new("q", Q_MIN, Q_MAX),
    ParamSpec::new("gainDb", GAIN_DB_MIN, GAIN_DB_MAX),
];

/// The eight cookbook filter types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BiquadType {
    /// Second-order lowpass; `|H(f0)| = q`.
    Lowpass,
    /// Second-order highpass; `|H(f0)| = q`.
    Highpass,
    /// Bandpass with a constant 0 dB peak gain at `f0`.
    Bandpass,
    /// Notch: zero gain at `f0`.
    Notch,
    /// Allpass: unit gain everywhere, phase turns around `f0`.
    Allpass,
    /// Peaking EQ: `gainDb` at `f0`, 0 dB far away.
    Peaking,
    /// Low shelf: `gainDb` at DC, 0 dB at Nyquist, `gainDb/2` at `f0`.
    Lowshelf,
    /// High shelf: 0 dB at DC, `gainDb` at Nyquist, `gainDb/2` at `f0`.
    Highshelf,
}

impl BiquadType {
    /// Every type, in API order.
    pub const ALL: [BiquadType; 8] = [
        BiquadType::Lowpass,
        BiquadType::Highpass,
        BiquadType::Bandpass,
        BiquadType::Notch,
        BiquadType::Allpass,
        BiquadType::Peaking,
        BiquadType::Lowshelf,
        BiquadType::Highshelf,
    ];

    /// The type named `name` in the API (`"lowpass"`, `"highpass"`,
    /// `"bandpass"`, `"notch"`, `"allpass"`, `"peaking"`, `"lowshelf"`,
    /// `"highshelf"`); `None` for anything else (case-sensitive).
    ///
    /// ```
    /// use ferrite_dsp::biquad::BiquadType;
    /// assert_eq!(BiquadType::parse("peaking"), Some(BiquadType::Peaking));
    /// assert_eq!(BiquadType::parse("Peaking"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "lowpass" => BiquadType::Lowpass,
            "highpass" => BiquadType::Highpass,
            "bandpass" => BiquadType::Bandpass,
            "notch" => BiquadType::Notch,
            "allpass" => BiquadType::Allpass,
            "peaking" => BiquadType::Peaking,
            "lowshelf" => BiquadType::Lowshelf,
            "highshelf" => BiquadType::Highshelf,
            _ => return None,
        })
    }

    /// The API name of this type (the inverse of [`BiquadType::parse`]).
    pub fn name(self) -> &'static str {
        match self {
            BiquadType::Lowpass => "lowpass",
            BiquadType::Highpass => "highpass",
            BiquadType::Bandpass => "bandpass",
            BiquadType::Notch => "notch",
            BiquadType::Allpass => "allpass",
            BiquadType::Peaking => "peaking",
            BiquadType::Lowshelf => "lowshelf",
            BiquadType::Highshelf => "highshelf",
        }
    }

    /// Whether `gainDb` affects this type (peaking and the shelves).
    pub fn uses_gain(self) -> bool {
        matches!(self, BiquadType::Peaking | BiquadType::Lowshelf | BiquadType::Highshelf)
    }
}

/// Biquad coefficients normalized by `a0`:
/// `H(z) = (b0 + b1·z⁻¹ + b2·z⁻²) / (1 + a1·z⁻¹ + a2·z⁻²)`; the same type as
/// the kernels' [`BiquadCoeffs`] (fields `b0, b1, b2, a1, a2`, `a1`/`a2`
/// entering with a minus sign, [`BiquadCoeffs::IDENTITY`]).
pub type Coeffs = BiquadCoeffs;

/// `sample_rate` if it is positive and finite, else 48 kHz.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn sanitize_sample_rate(sample_rate: f64) -> f64 {
    if sample_rate.is_finite() && sample_rate > 0.0 {
        sample_rate
    } else {
        FALLBACK_SAMPLE_RATE
    }
}

/// `frequency` clamped into `[1e-6·fs, 0.4999·fs]` (strictly between 0 and
/// Nyquist); NaN maps to the upper bound.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn clamp_frequency(frequency: f64, sample_rate: f64) -> f64 {
    let lo = FREQUENCY_MIN_RATIO * sample_rate;
    let hi = FREQUENCY_MAX_RATIO * sample_rate;
    if frequency.is_nan() {
        hi
    } else {
        frequency.clamp(lo, hi)
    }
}

/// `q` clamped into `[Q_MIN, Q_MAX]`; NaN maps to [`DEFAULT_Q`].
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn clamp_q(q: f64) -> f64 {
    if q.is_nan() {
        DEFAULT_Q
    } else {
        q.clamp(Q_MIN, Q_MAX)
    }
}

/// `gain_db` clamped into `[GAIN_DB_MIN, GAIN_DB_MAX]`; NaN maps to 0 dB.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn clamp_gain_db(gain_db: f64) -> f64 {
    if gain_db.is_nan() {
        DEFAULT_GAIN_DB
    } else {
        gain_db.clamp(GAIN_DB_MIN, GAIN_DB_MAX)
    }
}

/// `(sin(w0), cos(w0))` with `w0 = 2π·f/fs`, after the frequency guard.
#[inline]
fn trig(frequency: f64, fs: f64) -> (f64, f64) {
    let w0 = 2.0 * PI * clamp_frequency(frequency, fs) / fs;
    (w0.sin(), w0.cos())
}

/// `A = 10^(gainDb/40)`, after the gain guard.
#[inline]
fn amplitude(gain_db: f64) -> f64 {
    10f64.powf(clamp_gain_db(gain_db) / 40.0)
}

/// The cookbook design from its parts: `sin(w0)`, `cos(w0)`, guarded `q`, and `A`.
#[inline]
fn design(kind: BiquadType, sin_w0: f64, cos_w0: f64, q: f64, a: f64) -> Coeffs {
    let alpha = sin_w0 / (2.0 * q);
    let (b0, b1, b2, a0, a1, a2) = match kind {
        BiquadType::Lowpass => {
            let b1 = 1.0 - cos_w0;
            (b1 / 2.0, b1, b1 / 2.0, 1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha)
        }
        BiquadType::Highpass => {
            let k = 1.0 + cos_w0;
            (k / 2.0, -k, k / 2.0, 1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha)
        }
        BiquadType::Bandpass => (alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha),
        BiquadType::Notch => (1.0, -2.0 * cos_w0, 1.0, 1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha),
        BiquadType::Allpass => (1.0 - alpha, -2.0 * cos_w0, 1.0 + alpha, 1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha),
        BiquadType::Peaking => {
            (1.0 + alpha * a, -2.0 * cos_w0, 1.0 - alpha * a, 1.0 + alpha / a, -2.0 * cos_w0, 1.0 - alpha / a)
        }
        BiquadType::Lowshelf => {
            let k = 2.0 * a.sqrt() * alpha;
            (
                a * ((a + 1.0) - (a - 1.0) * cos_w0 + k),
                2.0 * a * ((a - 1.0) - (a + 1.0) * cos_w0),
                a * ((a + 1.0) - (a - 1.0) * cos_w0 - k),
                (a + 1.0) + (a - 1.0) * cos_w0 + k,
                -2.0 * ((a - 1.0) + (a + 1.0) * cos_w0),
                (a + 1.0) + (a - 1.0) * cos_w0 - k,
            )
        }
        BiquadType::Highshelf => {
            let k = 2.0 * a.sqrt() * alpha;
            (
                a * ((a + 1.0) + (a - 1.0) * cos_w0 + k),
                -2.0 * a * ((a - 1.0) + (a + 1.0) * cos_w0),
                a * ((a + 1.0) + (a - 1.0) * cos_w0 - k),
                (a + 1.0) - (a - 1.0) * cos_w0 + k,
                2.0 * ((a - 1.0) - (a + 1.0) * cos_w0),
                (a + 1.0) - (a - 1.0) * cos_w0 - k,
            )
        }
    };
    Coeffs { b0: b0 / a0, b1: b1 / a0, b2: b2 / a0, a1: a1 / a0, a2: a2 / a0 }
}

/// The RBJ cookbook coefficients of `kind` at `frequency` Hz, quality `q` and
/// `gain_db`, at `sample_rate`, normalized by `a0`.
///
/// Odd inputs never panic or give NaN: the sample rate falls back to 48 kHz
/// when not positive and finite, and frequency, `q` and gain pass through
/// [`clamp_frequency`], [`clamp_q`] and [`clamp_gain_db`] first. The result
/// is always a stable filter.
///
/// ```
/// use ferrite_dsp::biquad::{coefficients, BiquadType};
/// let c = coefficients(BiquadType::Lowpass, 1000.0, 1.0 / 2f64.sqrt(), 0.0, 48000.0);
/// // Unit gain at DC: (b0 + b1 + b2) / (1 + a1 + a2) = 1.
/// assert!(((c.b0 + c.b1 + c.b2) / (1.0 + c.a1 + c.a2) - 1.0).abs() < 1e-12);
/// ```
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn coefficients(kind: BiquadType, frequency: f64, q: f64, gain_db: f64, sample_rate: f64) -> Coeffs {
    let fs = sanitize_sample_rate(sample_rate);
    let (s, c) = trig(frequency, fs);
    design(kind, s, c, clamp_q(q), amplitude(gain_db))
}

/// Filters one channel in place with fixed coefficients: the scalar
/// transposed direct form II reference (see the module docs). `state` is
/// `[s1, s2]` and carries over to the next block.
///
/// ```
/// use ferrite_dsp::biquad::{process_block_scalar, Coeffs};
/// let mut x = [1.0, 0.0, 0.0];
/// let mut state = [0.0; 2];
/// let c = Coeffs { b0: 0.5, b1: 0.25, b2: 0.0, a1: 0.0, a2: 0.0 };
/// process_block_scalar(&c, &mut state, &mut x);
/// assert_eq!(x, [0.5, 0.25, 0.0]);
/// ```
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn process_block_scalar(c: &Coeffs, state: &mut [f64; 2], samples: &mut [f64]) {
    let [mut s1, mut s2] = *state;
    for x in samples.iter_mut() {
        let xn = *x;
        let y = c.b0 * xn + s1;
        s1 = c.b1 * xn - c.a1 * y + s2;
        s2 = c.b2 * xn - c.a2 * y;
        *x = y;
    }
    *state = [s1, s2];
}

/// Filters one channel in place with per-frame coefficients: frame `n` uses
/// `coeffs[n]` (same recurrence as [`process_block_scalar`]). Processes
/// `min(coeffs.len(), samples.len())` frames.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn process_block_varying_scalar(coeffs: &[Coeffs], state: &mut [f64; 2], samples: &mut [f64]) {
    let [mut s1, mut s2] = *state;
    for (x, c) in samples.iter_mut().zip(coeffs) {
        let xn = *x;
        let y = c.b0 * xn + s1;
        s1 = c.b1 * xn - c.a1 * y + s2;
        s2 = c.b2 * xn - c.a2 * y;
        *x = y;
    }
    *state = [s1, s2];
}

/// Whether the kernels fuse `a·b + c` at `level` (AVX2, AVX-512, NEON).
#[inline]
fn is_fused(level: SimdLevel) -> bool {
    matches!(level, SimdLevel::Avx2 | SimdLevel::Avx512 | SimdLevel::Neon)
}

/// Per-frame coefficients with exactly the arithmetic of the kernels at a
/// level of this flavour (see [`crate::kernels::biquad`]), so that a varying
/// block and a constant block (run by the kernels) continue the same filter
/// bit for bit.
#[inline]
fn varying_kernel_flavour<const FUSED: bool>(coeffs: &[Coeffs], state: &mut [f64; 2], samples: &mut [f64]) {
    for (x, c) in samples.iter_mut().zip(coeffs) {
        *x = crate::kernels::biquad::tdf2_step::<FUSED>(c, state, *x);
    }
}

/// Runs the first `prepared` channels of `io` through `sections` in series
/// with their cached coefficients. A stereo bus (exactly 2 prepared channels)
/// runs both channels in one interleaved pass
/// ([`BiquadCascade::process_pair_at`], the same bits as one channel at a
/// time); any other count runs channel by channel.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn cascade_bus(level: SimdLevel, sections: &mut [Section], prepared: usize, io: &mut Bus<'_>) {
    if prepared == 2 {
        let mut channels = io.channels_mut();
        if let (Some(l), Some(r)) = (channels.next(), channels.next()) {
            cascade_pair(level, sections, l, r);
            return;
        }
    }
    for (c, ch) in io.channels_mut().enumerate().take(prepared) {
        cascade_channel(level, sections, c, ch);
    }
}

/// A cascade of `chunk`'s coefficients with channel `c`'s state.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn load_cascade(chunk: &[Section], c: usize) -> BiquadCascade {
    let mut cascade = BiquadCascade::new(chunk.len());
    for (k, s) in chunk.iter().enumerate() {
        cascade.set_coeffs(k, s.coeffs);
        if let Some(z) = s.states.get(c) {
            cascade.set_state(k, *z);
        }
    }
    cascade
}

/// Moves channel `c`'s state from `cascade` back into `chunk`.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn store_cascade(chunk: &mut [Section], c: usize, cascade: &BiquadCascade) {
    for (k, s) in chunk.iter_mut().enumerate() {
        if let (Some(z), Some(dst)) = (cascade.state(k), s.states.get_mut(c)) {
            *dst = z;
        }
    }
}

/// Runs channels 0 (`l`) and 1 (`r`) through `sections` in series, both in
/// one interleaved stereo wavefront per chunk of up to 8 sections; the state
/// of both channels moves from the sections into the cascades and back.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn cascade_pair(level: SimdLevel, sections: &mut [Section], l: &mut [f64], r: &mut [f64]) {
    for chunk in sections.chunks_mut(MAX_CASCADE_STAGES) {
        let (mut a, mut b) = (load_cascade(chunk, 0), load_cascade(chunk, 1));
        a.process_pair_at(level, l, &mut b, r);
        store_cascade(chunk, 0, &a);
        store_cascade(chunk, 1, &b);
    }
}

/// Runs channel `c` of `data` through `sections` in series with their cached
/// coefficients, as [`BiquadCascade`]s of up to 8 stages; the state moves
/// from the sections into the cascade and back.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn cascade_channel(level: SimdLevel, sections: &mut [Section], c: usize, data: &mut [f64]) {
    for chunk in sections.chunks_mut(MAX_CASCADE_STAGES) {
        let mut cascade = load_cascade(chunk, c);
        cascade.process_at(level, data);
        store_cascade(chunk, c, &cascade);
    }
}

/// A filter whose constant-parameter blocks can run as lanes of a
/// [`BiquadBank`] (the engine batches parallel EQs this way): lane
/// `first_lane + c` carries channel `c`, stage `s` is band `s`.
///
/// The filter keeps owning its state: [`BankFilter::load_bank`] copies it
/// into the bank and [`BankFilter::store_bank`] takes it back, so batched
/// and unbatched blocks, `take_state` and `reset` all see the same memory.
/// A bank lane performs exactly the arithmetic of the filter's own path at
/// the same SIMD level, so the output is the same bits.
pub trait BankFilter {
    /// Biquads per channel, in series (bands of an `Eq`, 1 for a `Biquad`).
    fn bank_stages(&self) -> usize;

    /// Lanes needed: the prepared channel count.
    fn bank_channels(&self) -> usize;

    /// When every parameter is constant over the block: updates the
    /// coefficient cache, writes coefficients and state of every channel and
    /// stage into lanes `first_lane..first_lane + bank_channels()` and returns
    /// `true`. Otherwise returns `false` and changes nothing: the caller then
    /// runs [`Processor::process`] for this block.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn load_bank(&mut self, ctx: &ProcessContext<'_>, bank: &mut BiquadBank, first_lane: usize) -> bool;

    /// Takes the state back from the bank after it ran (clearing a state
    /// made non-finite by a non-finite input, as `process` does).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn store_bank(&mut self, bank: &BiquadBank, first_lane: usize);
}

/// `processor` as a [`BankFilter`] if it is a [`Biquad`] or an
/// [`crate::eq::Eq`].
///
/// # Realtime
/// Does not allocate, lock or panic (a type check).
pub fn bank_filter(processor: &mut dyn Processor) -> Option<&mut dyn BankFilter> {
    let any = processor.as_any_mut();
    if any.is::<Biquad>() {
        any.downcast_mut::<Biquad>().map(|b| b as &mut dyn BankFilter)
    } else {
        any.downcast_mut::<crate::eq::Eq>().map(|e| e as &mut dyn BankFilter)
    }
}

/// [`BankFilter::load_bank`] for a series of sections.
pub(crate) fn load_sections(
    sections: &mut [Section],
    fs: f64,
    ctx: &ProcessContext<'_>,
    bank: &mut BiquadBank,
    first_lane: usize,
) -> bool {
    let all_constant = (0..sections.len() * 3).all(|i| ctx.param(i).constant().is_some());
    if !all_constant {
        return false;
    }
    for (band, s) in sections.iter_mut().enumerate() {
        let base = band * 3;
        let params = [ctx.param(base), ctx.param(base + 1), ctx.param(base + 2)];
        let Some(c) = s.constant_coeffs(fs, params) else { return false };
        for (ch, z) in s.states.iter().enumerate() {
            bank.set_coeffs(band, first_lane + ch, c);
            bank.set_state(band, first_lane + ch, *z);
        }
    }
    true
}

/// The two cascades of one chunk of up to 8 sections of a stereo filter,
/// kept between blocks with their coefficients so that a block with
/// unchanged parameters only moves the filter memory in and out (see
/// [`cascade_pair_cached`]).
#[derive(Debug, Clone)]
pub(crate) struct PairCache {
    a: BiquadCascade,
    b: BiquadCascade,
    /// The section keys the cascades' coefficients belong to.
    keys: [Option<[f64; 3]>; MAX_CASCADE_STAGES],
}

impl PairCache {
    /// Channel 0's cascade (the one a mono block runs).
    pub(crate) fn mono_mut(&mut self) -> &mut BiquadCascade {
        &mut self.a
    }

    /// Caches for `sections` sections, one per chunk of 8 (control side).
    pub(crate) fn for_sections(sections: usize) -> Vec<Self> {
        (0..sections.div_ceil(MAX_CASCADE_STAGES))
            .map(|k| {
                let n = (sections - k * MAX_CASCADE_STAGES).min(MAX_CASCADE_STAGES);
                Self { a: BiquadCascade::new(n), b: BiquadCascade::new(n), keys: [None; MAX_CASCADE_STAGES] }
            })
            .collect()
    }
}

/// [`cascade_channels`] for a stereo bus with caches from
/// [`PairCache::for_sections`]: the same coefficients, states and kernel
/// ([`BiquadCascade::process_pair_at`]), so the same bits; returns `false`
/// (nothing done) when a parameter varies or the shapes do not match. A
/// one-channel bus (a mono block) runs channel 0's cascades alone.
///
/// `live`: the caches already hold the current filter memory (the previous
/// block ran here too), so it is not loaded from the sections. The memory
/// stays in the caches afterwards (it is not stored back into the sections;
/// see [`store_pair_caches`]), with non-finite states cleared as
/// [`Section::process`] clears them.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn cascade_pair_cached(
    sections: &mut [Section],
    fs: f64,
    ctx: &ProcessContext<'_>,
    caches: &mut [PairCache],
    io: &mut Bus<'_>,
    live: bool,
) -> bool {
    if caches.len() != sections.len().div_ceil(MAX_CASCADE_STAGES) || sections.iter().any(|s| s.channels() != 2) {
        return false;
    }
    for (band, s) in sections.iter_mut().enumerate() {
        let base = band * 3;
        if s.constant_coeffs(fs, [ctx.param(base), ctx.param(base + 1), ctx.param(base + 2)]).is_none() {
            return false;
        }
    }
    if io.channels() != 1 && io.pair_mut(0, 1).is_none() {
        return false;
    }
    for (chunk, cache) in sections.chunks_mut(MAX_CASCADE_STAGES).zip(caches.iter_mut()) {
        for (k, s) in chunk.iter().enumerate() {
            if cache.keys.get(k).copied().flatten() != s.key {
                cache.a.set_coeffs(k, s.coeffs);
                cache.b.set_coeffs(k, s.coeffs);
                if let Some(key) = cache.keys.get_mut(k) {
                    *key = s.key;
                }
            }
            if !live {
                if let (Some(zl), Some(zr)) = (s.states.first(), s.states.get(1)) {
                    cache.a.set_state(k, *zl);
                    cache.b.set_state(k, *zr);
                }
            }
        }
    }
    run_pair_caches(caches, io)
}

/// Runs a stereo bus through `caches` as they are (coefficients and filter
/// memory kept by [`cascade_pair_cached`] for the same parameters): the
/// same bits as [`cascade_pair_cached`] would give: on a one-channel bus
/// (a mono block) channel 0's cascades alone, each a single cascade (the
/// same bits as in the pair). `false` (nothing done) for an empty bus.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn run_pair_caches(caches: &mut [PairCache], io: &mut Bus<'_>) -> bool {
    let level = simd_level();
    if io.channels() == 1 {
        let x = io.channel_mut(0);
        for cache in caches.iter_mut() {
            cache.a.process_at(level, x);
            cache.a.clear_non_finite_states();
        }
        return true;
    }
    let Some((l, r)) = io.pair_mut(0, 1) else { return false };
    for cache in caches.iter_mut() {
        cache.a.process_pair_at(level, l, &mut cache.b, r);
        cache.a.clear_non_finite_states();
        cache.b.clear_non_finite_states();
    }
    true
}

/// Whether both channels' filter memory in `caches` is the same, bit for bit.
pub(crate) fn pair_caches_in_lockstep(caches: &[PairCache]) -> bool {
    caches.iter().all(|c| c.a.same_state(&c.b))
}

/// Stores the filter memory held by `caches` (after [`cascade_pair_cached`])
/// back into `sections`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn store_pair_caches(sections: &mut [Section], caches: &[PairCache]) {
    for (chunk, cache) in sections.chunks_mut(MAX_CASCADE_STAGES).zip(caches) {
        store_cascade(chunk, 0, &cache.a);
        store_cascade(chunk, 1, &cache.b);
    }
}

/// When every parameter of `sections` is constant over the block: runs
/// every prepared channel of `io` through all of them with the cascade
/// kernel and returns `true`; else returns `false` and does nothing.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn cascade_channels(sections: &mut [Section], fs: f64, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) -> bool {
    let all_constant = (0..sections.len() * 3).all(|i| ctx.param(i).constant().is_some());
    if !all_constant {
        return false;
    }
    for (band, s) in sections.iter_mut().enumerate() {
        let base = band * 3;
        if s.constant_coeffs(fs, [ctx.param(base), ctx.param(base + 1), ctx.param(base + 2)]).is_none() {
            return false;
        }
    }
    let prepared = sections.first().map_or(0, Section::channels);
    cascade_bus(simd_level(), sections, prepared, io);
    for s in sections.iter_mut() {
        s.clear_non_finite();
    }
    true
}

/// [`BankFilter::store_bank`] for a series of sections.
pub(crate) fn store_sections(sections: &mut [Section], bank: &BiquadBank, first_lane: usize) {
    for (band, s) in sections.iter_mut().enumerate() {
        for (ch, z) in s.states.iter_mut().enumerate() {
            if let Some(v) = bank.state(band, first_lane + ch) {
                *z = v;
            }
        }
        s.clear_non_finite();
    }
}

/// One biquad section with its coefficient cache and per-channel state;
/// shared by [`Biquad`] and [`crate::eq::Eq`].
#[derive(Debug, Clone)]
pub(crate) struct Section {
    kind: BiquadType,
    /// Parameter values (as received) the cached coefficients belong to.
    key: Option<[f64; 3]>,
    coeffs: Coeffs,
    /// `[s1, s2]` per channel.
    states: Vec<[f64; 2]>,
}

impl Section {
    pub(crate) fn new(kind: BiquadType) -> Self {
        Self { kind, key: None, coeffs: Coeffs::IDENTITY, states: Vec::new() }
    }

    pub(crate) fn kind(&self) -> BiquadType {
        self.kind
    }

    /// Prepared channel count.
    pub(crate) fn channels(&self) -> usize {
        self.states.len()
    }

    /// Control side: one state per channel; keeps state already present
    /// (for example taken from a previous processor) for channels kept.
    pub(crate) fn prepare(&mut self, channels: usize) {
        self.states.resize(channels, [0.0; 2]);
        self.key = None;
    }

    pub(crate) fn reset(&mut self) {
        self.states.fill([0.0; 2]);
    }

    /// Whether every channel's filter memory is channel 0's, bit for bit
    /// (then channels given the same signal give the same samples).
    pub(crate) fn in_lockstep(&self) -> bool {
        let bits = |z: &[f64; 2]| [z[0].to_bits(), z[1].to_bits()];
        let first = self.states.first().map(bits);
        self.states.iter().all(|z| Some(bits(z)) == first)
    }

    /// Gives every channel channel 0's filter memory (after blocks that
    /// ran on channel 0 alone, standing for every channel).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn spread_channel_0(&mut self) {
        if let Some((first, rest)) = self.states.split_first_mut() {
            rest.fill(*first);
        }
    }

    /// Control side: copies `other`'s filter memory (all of it when `self`
    /// has not been prepared yet, else the channels both have).
    pub(crate) fn copy_state_from(&mut self, other: &Section) {
        if self.states.is_empty() {
            self.states.clone_from(&other.states);
        } else {
            for (d, s) in self.states.iter_mut().zip(&other.states) {
                *d = *s;
            }
        }
    }

    /// Filters every channel of `io` for one block.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic. `scratch` must be non-empty for
    /// varying parameters (an empty one leaves the block unfiltered).
    pub(crate) fn process(&mut self, fs: f64, params: [ParamBlock<'_>; 3], scratch: &mut [Coeffs], io: &mut Bus<'_>) {
        let [f, q, g] = params;
        match (f.constant(), q.constant(), g.constant()) {
            (Some(f), Some(q), Some(g)) => {
                let key = [f, q, g];
                if self.key != Some(key) {
                    self.coeffs = coefficients(self.kind, f, q, g, fs);
                    self.key = Some(key);
                }
                let prepared = self.states.len();
                cascade_bus(simd_level(), core::slice::from_mut(self), prepared, io);
            }
            _ => self.process_varying(fs, f, q, g, scratch, io),
        }
        self.clear_non_finite();
    }

    /// A non-finite input would latch NaN into the state forever: clear it.
    fn clear_non_finite(&mut self) {
        for st in self.states.iter_mut() {
            if !(st[0].is_finite() && st[1].is_finite()) {
                *st = [0.0; 2];
            }
        }
    }

    /// The cached coefficients for constant parameters (recomputed when a
    /// value changed); `None` when a parameter varies over the block.
    fn constant_coeffs(&mut self, fs: f64, params: [ParamBlock<'_>; 3]) -> Option<Coeffs> {
        let [f, q, g] = params;
        let key = [f.constant()?, q.constant()?, g.constant()?];
        if self.key != Some(key) {
            self.coeffs = coefficients(self.kind, key[0], key[1], key[2], fs);
            self.key = Some(key);
        }
        Some(self.coeffs)
    }

    fn process_varying(
        &mut self,
        fs: f64,
        f: ParamBlock<'_>,
        q: ParamBlock<'_>,
        g: ParamBlock<'_>,
        scratch: &mut [Coeffs],
        io: &mut Bus<'_>,
    ) {
        let kind = self.kind;
        // Parts of the design whose parameter is constant are computed once;
        // this gives bit-identical coefficients to computing them per frame.
        let f_const = f.constant().map(|f| trig(f, fs));
        let q_const = q.constant().map(clamp_q);
        let a_const = if kind.uses_gain() { g.constant().map(amplitude) } else { Some(1.0) };
        let frames = io.frames();
        let chunk = scratch.len();
        if chunk == 0 {
            return;
        }
        let mut start = 0;
        while start < frames {
            let n = chunk.min(frames - start);
            let Some(coeffs) = scratch.get_mut(..n) else {
                return;
            };
            for (i, c) in coeffs.iter_mut().enumerate() {
                let frame = start + i;
                let (s, cs) = match f_const {
                    Some(v) => v,
                    None => trig(f.at(frame), fs),
                };
                let qv = match q_const {
                    Some(v) => v,
                    None => clamp_q(q.at(frame)),
                };
                let a = match a_const {
                    Some(v) => v,
                    None => amplitude(g.at(frame)),
                };
                *c = design(kind, s, cs, qv, a);
            }
            let fused = is_fused(simd_level());
            for (ch, st) in io.channels_mut().zip(self.states.iter_mut()) {
                if let Some(x) = ch.get_mut(start..start + n) {
                    if fused {
                        varying_kernel_flavour::<true>(coeffs, st, x);
                    } else {
                        varying_kernel_flavour::<false>(coeffs, st, x);
                    }
                }
            }
            start += n;
        }
        // The constant cache no longer matches the last frame's values.
        self.key = None;
    }
}

/// A biquad filter node: one [`BiquadType`] section per channel.
///
/// Parameters: see [`PARAMS`] (`frequency`, `q`, `gainDb`); the type is
/// fixed at construction.
#[derive(Debug, Clone)]
pub struct Biquad {
    section: Section,
    sample_rate: f64,
    scratch: Vec<Coeffs>,
    /// The last block ran on a one-channel bus (a mono block, see
    /// [`Processor::mono_ready`]): channel 0's filter memory stands for
    /// every channel's.
    mono_run: bool,
}

impl Biquad {
    /// A biquad of type `kind` (control side). Parameters arrive through
    /// [`ProcessContext::params`] in [`PARAMS`] order.
    pub fn new(kind: BiquadType) -> Self {
        Self {
            section: Section::new(kind),
            sample_rate: FALLBACK_SAMPLE_RATE,
            scratch: vec![Coeffs::IDENTITY; DEFAULT_SCRATCH],
            mono_run: false,
        }
    }

    /// Gives every channel channel 0's filter memory after mono blocks.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn spread_mono(&mut self) {
        if self.mono_run {
            self.section.spread_channel_0();
            self.mono_run = false;
        }
    }

    /// The filter type.
    pub fn kind(&self) -> BiquadType {
        self.section.kind()
    }
}

/// Series runs: the engine fuses a chain of biquad nodes (each feeding only
/// the next) into [`BiquadCascade`]s of up to 8 stages. These calls let it
/// load a node's cached coefficients and filter memory into a cascade stage
/// and take the memory back, so that the fused run performs, stage by stage,
/// exactly the arithmetic of [`Processor::process`] (a one-stage cascade per
/// node at the same SIMD level): the same bits.
impl Biquad {
    /// The coefficients for this block when all three parameters are
    /// constant over it (the cache [`Processor::process`] uses is updated),
    /// else `None`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn series_coeffs(&mut self, ctx: &ProcessContext<'_>) -> Option<BiquadCoeffs> {
        self.section.constant_coeffs(self.sample_rate, [ctx.param(0), ctx.param(1), ctx.param(2)])
    }

    /// Prepared channel count (channels with filter memory).
    pub fn series_channels(&self) -> usize {
        self.section.channels()
    }

    /// Filter memory `[s1, s2]` of channel `c`.
    pub fn series_state(&self, c: usize) -> Option<[f64; 2]> {
        // After mono blocks channel 0's memory stands for every channel's.
        let c = if self.mono_run && c < self.section.channels() { 0 } else { c };
        self.section.states.get(c).copied()
    }

    /// Sets the filter memory of channel `c` (ignored out of range).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn set_series_state(&mut self, c: usize, z: [f64; 2]) {
        self.spread_mono();
        if let Some(st) = self.section.states.get_mut(c) {
            *st = z;
        }
    }

    /// Sets channel 0's filter memory after a block run in series on a
    /// mono block (channel 0 alone, standing for every channel).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn set_series_mono_state(&mut self, z: [f64; 2]) {
        if let Some(st) = self.section.states.first_mut() {
            *st = z;
        }
        self.mono_run = self.section.channels() > 1;
    }

    /// Ends a block run in series: clears memory a non-finite input made
    /// non-finite, as [`Processor::process`] does.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn series_done(&mut self) {
        self.section.clear_non_finite();
    }
}

impl Processor for Biquad {
    /// Sizes the per-channel state and the per-frame coefficient buffer.
    /// Filter memory already present (from [`Processor::take_state`]) is kept
    /// for the channels kept; [`Processor::reset`] clears it.
    fn prepare(&mut self, ctx: &PrepareContext) {
        self.spread_mono();
        self.sample_rate = sanitize_sample_rate(ctx.sample_rate);
        self.scratch = vec![Coeffs::IDENTITY; ctx.max_block.max(1)];
        self.section.prepare(ctx.channels);
    }

    /// Filters every prepared channel in place. Bus channels beyond the
    /// prepared count pass through unchanged. A one-channel bus on a filter
    /// prepared for more is a mono block (see [`Processor::mono_ready`]).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        if io.channels() == 1 && self.section.channels() > 1 {
            self.mono_run = true;
        } else {
            self.spread_mono();
        }
        let params = [ctx.param(0), ctx.param(1), ctx.param(2)];
        self.section.process(self.sample_rate, params, &mut self.scratch, io);
    }

    /// Clears the filter memory.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn reset(&mut self) {
        self.mono_run = false;
        self.section.reset();
    }

    /// One filter per channel, alike: while every channel's memory is the
    /// same (always, after mono blocks), a mono block stays mono.
    fn mono_ready(&self) -> bool {
        self.mono_run || self.section.in_lockstep()
    }

    /// Takes the filter memory of a previous [`Biquad`] (of any type; a type
    /// change then acts like a parameter jump).
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        match previous.as_any_mut().downcast_mut::<Biquad>() {
            Some(prev) => {
                prev.spread_mono();
                self.spread_mono();
                self.section.copy_state_from(&prev.section);
                true
            }
            None => false,
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

impl BankFilter for Biquad {
    fn bank_stages(&self) -> usize {
        1
    }

    fn bank_channels(&self) -> usize {
        self.section.channels()
    }

    fn load_bank(&mut self, ctx: &ProcessContext<'_>, bank: &mut BiquadBank, first_lane: usize) -> bool {
        self.spread_mono();
        load_sections(core::slice::from_mut(&mut self.section), self.sample_rate, ctx, bank, first_lane)
    }

    fn store_bank(&mut self, bank: &BiquadBank, first_lane: usize) {
        store_sections(core::slice::from_mut(&mut self.section), bank, first_lane)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gain::Gain;
    use crate::processor::ParamBuffer;

    // ---------- Independent references, written out from the cookbook ----------

    /// Cookbook coefficients `[b0, b1, b2, a1, a2]` (normalized by a0), written
    /// out directly from the RBJ formulas for valid inputs.
    pub(crate) fn ref_coeffs(kind: BiquadType, f0: f64, q: f64, gain_db: f64, fs: f64) -> [f64; 5] {
        let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
        let cw = w0.cos();
        let sw = w0.sin();
        let alpha = sw / (2.0 * q);
        let big_a = 10f64.powf(gain_db / 40.0);
        let sa = big_a.sqrt();
        let (b0, b1, b2, a0, a1, a2) = match kind {
            BiquadType::Lowpass => ((1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
            BiquadType::Highpass => {
                ((1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0, 1.0 + alpha, -2.0 * cw, 1.0 - alpha)
            }
            BiquadType::Bandpass => (alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
            BiquadType::Notch => (1.0, -2.0 * cw, 1.0, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
            BiquadType::Allpass => (1.0 - alpha, -2.0 * cw, 1.0 + alpha, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
            BiquadType::Peaking => (
                1.0 + alpha * big_a,
                -2.0 * cw,
                1.0 - alpha * big_a,
                1.0 + alpha / big_a,
                -2.0 * cw,
                1.0 - alpha / big_a,
            ),
            BiquadType::Lowshelf => (
                big_a * ((big_a + 1.0) - (big_a - 1.0) * cw + 2.0 * sa * alpha),
                2.0 * big_a * ((big_a - 1.0) - (big_a + 1.0) * cw),
                big_a * ((big_a + 1.0) - (big_a - 1.0) * cw - 2.0 * sa * alpha),
                (big_a + 1.0) + (big_a - 1.0) * cw + 2.0 * sa * alpha,
                -2.0 * ((big_a - 1.0) + (big_a + 1.0) * cw),
                (big_a + 1.0) + (big_a - 1.0) * cw - 2.0 * sa * alpha,
            ),
            BiquadType::Highshelf => (
                big_a * ((big_a + 1.0) + (big_a - 1.0) * cw + 2.0 * sa * alpha),
                -2.0 * big_a * ((big_a - 1.0) + (big_a + 1.0) * cw),
                big_a * ((big_a + 1.0) + (big_a - 1.0) * cw - 2.0 * sa * alpha),
                (big_a + 1.0) - (big_a - 1.0) * cw + 2.0 * sa * alpha,
                2.0 * ((big_a - 1.0) - (big_a + 1.0) * cw),
                (big_a + 1.0) - (big_a - 1.0) * cw - 2.0 * sa * alpha,
            ),
        };
        [b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0]
    }

    /// Direct form I difference equation over `x` with coefficients `c`.
    pub(crate) fn ref_df1(c: [f64; 5], x: &[f64]) -> Vec<f64> {
        let [b0, b1, b2, a1, a2] = c;
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&xn| {
                let y = b0 * xn + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
                x2 = x1;
                x1 = xn;
                y2 = y1;
                y1 = y;
                y
            })
            .collect()
    }

    /// `|H(e^{jw})|` of `c`, evaluated as a complex ratio.
    fn ref_mag(c: [f64; 5], w: f64) -> f64 {
        let [b0, b1, b2, a1, a2] = c;
        let (re_n, im_n) = (b0 + b1 * w.cos() + b2 * (2.0 * w).cos(), -(b1 * w.sin() + b2 * (2.0 * w).sin()));
        let (re_d, im_d) = (1.0 + a1 * w.cos() + a2 * (2.0 * w).cos(), -(a1 * w.sin() + a2 * (2.0 * w).sin()));
        (re_n.hypot(im_n)) / (re_d.hypot(im_d))
    }

    /// `|DTFT of h at w|`.
    fn dtft_mag(h: &[f64], w: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &v) in h.iter().enumerate() {
            re += v * (w * n as f64).cos();
            im -= v * (w * n as f64).sin();
        }
        re.hypot(im)
    }

    /// Deterministic noise in [-1, 1) (xorshift).
    pub(crate) fn noise(n: usize, seed: u64) -> Vec<f64> {
        crate::kernels::testutil::xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, n)
    }

    fn as_array(c: &Coeffs) -> [f64; 5] {
        [c.b0, c.b1, c.b2, c.a1, c.a2]
    }

    fn rel_close(a: f64, b: f64, tol: f64) -> bool {
        a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
    }

    const RATES: [f64; 3] = [44_100.0, 48_000.0, 96_000.0];
    const QS: [f64; 8] = [0.1, 0.3, 0.5, FRAC_1_SQRT_2, 1.0, 2.5, 8.0, 20.0];
    const GAINS: [f64; 7] = [-24.0, -12.0, -3.0, 0.0, 3.0, 12.0, 24.0];

    /// 24 log-spaced frequencies from 20 Hz to 0.45·fs.
    fn freqs(fs: f64) -> Vec<f64> {
        let (lo, hi) = (20.0f64, 0.45 * fs);
        (0..24).map(|i| lo * (hi / lo).powf(i as f64 / 23.0)).collect()
    }

    /// Runs `p` over planar `data` (`channels` × `frames`) in blocks of
    /// `block`, with params from `param_at(index, frame)` (varying when
    /// `varying`, else the value at the block's first frame).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn render(
        p: &mut dyn Processor,
        data: &mut [f64],
        channels: usize,
        frames: usize,
        block: usize,
        n_params: usize,
        varying: bool,
        param_at: &dyn Fn(usize, usize) -> f64,
    ) {
        let mut params: Vec<ParamBuffer> = (0..n_params).map(|i| ParamBuffer::new(param_at(i, 0), block)).collect();
        let mut chans: Vec<Vec<f64>> = (0..channels).map(|c| data[c * frames..(c + 1) * frames].to_vec()).collect();
        let mut buf = vec![0.0; channels * block];
        let mut pos = 0;
        while pos < frames {
            let n = block.min(frames - pos);
            for (i, pb) in params.iter_mut().enumerate() {
                if varying {
                    for (k, v) in pb.varying_mut(n).iter_mut().enumerate() {
                        *v = param_at(i, pos + k);
                    }
                } else {
                    pb.set_constant(param_at(i, pos));
                }
            }
            for c in 0..channels {
                buf[c * block..c * block + n].copy_from_slice(&chans[c][pos..pos + n]);
            }
            let ctx = ProcessContext { frames: n, position: pos as u64, params: &params };
            p.process(&ctx, &mut Bus::new(&mut buf, channels, block, n));
            for c in 0..channels {
                chans[c][pos..pos + n].copy_from_slice(&buf[c * block..c * block + n]);
            }
            pos += n;
        }
        for c in 0..channels {
            data[c * frames..(c + 1) * frames].copy_from_slice(&chans[c]);
        }
    }

    fn prepared(kind: BiquadType, fs: f64, max_block: usize, channels: usize) -> Biquad {
        let mut b = Biquad::new(kind);
        b.prepare(&PrepareContext { sample_rate: fs, max_block, channels });
        b
    }

    // ---------- Tests ----------

    #[test]
    fn type_names_round_trip() {
        for k in BiquadType::ALL {
            assert_eq!(BiquadType::parse(k.name()), Some(k));
        }
        assert_eq!(BiquadType::parse("lowpass"), Some(BiquadType::Lowpass));
        assert_eq!(BiquadType::parse("highshelf"), Some(BiquadType::Highshelf));
        assert_eq!(BiquadType::parse("low-pass"), None);
        assert_eq!(BiquadType::parse(""), None);
        assert_eq!(PARAMS.iter().map(|p| p.name).collect::<Vec<_>>(), ["frequency", "q", "gainDb"]);
    }

    #[test]
    fn coefficients_match_cookbook_over_sweep() {
        let mut checked = 0;
        for fs in RATES {
            for f in freqs(fs) {
                for q in QS {
                    for g in GAINS {
                        for k in BiquadType::ALL {
                            let got = as_array(&coefficients(k, f, q, g, fs));
                            let want = ref_coeffs(k, f, q, g, fs);
                            for (a, b) in got.iter().zip(&want) {
                                assert!(
                                    rel_close(*a, *b, 1e-12),
                                    "{k:?} f={f} q={q} g={g} fs={fs}: {got:?} vs {want:?}"
                                );
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 24 * 8 * 7 * 8);
    }

    #[test]
    fn impulse_response_matches_df1_reference() {
        let n = 512;
        let mut impulse = vec![0.0; n];
        impulse[0] = 1.0;
        for fs in RATES {
            for f in freqs(fs).into_iter().step_by(3) {
                for q in [0.1, FRAC_1_SQRT_2, 3.0, 20.0] {
                    for g in [-24.0, 0.0, 9.0, 24.0] {
                        for k in BiquadType::ALL {
                            let want = ref_df1(ref_coeffs(k, f, q, g, fs), &impulse);
                            let mut bq = prepared(k, fs, 64, 1);
                            let mut got = impulse.clone();
                            render(&mut bq, &mut got, 1, n, 64, 3, false, &|i, _| [f, q, g][i]);
                            // Rounding errors are amplified by the filter's
                            // recursion about as much as the impulse response
                            // sums up (L1 norm): near-DC resonances with a high q
                            // are ill-conditioned, and the fused (FMA) kernels
                            // and this unfused reference round differently.
                            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                            let l1: f64 = want.iter().map(|v| v.abs()).sum();
                            for (t, (a, b)) in got.iter().zip(&want).enumerate() {
                                assert!(
                                    (a - b).abs() <= 1e-13 * (scale + l1),
                                    "{k:?} f={f} q={q} g={g} fs={fs} n={t}: {a} vs {b}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn magnitude_matches_analytic_values() {
        for fs in RATES {
            for f0 in freqs(fs) {
                let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
                for q in QS {
                    let c = |k, g| as_array(&coefficients(k, f0, q, g, fs));
                    // Lowpass and highpass: |H(w0)| = q (-3.01 dB at q = 1/√2).
                    assert!(rel_close(ref_mag(c(BiquadType::Lowpass, 0.0), w0), q, 1e-9));
                    assert!(rel_close(ref_mag(c(BiquadType::Highpass, 0.0), w0), q, 1e-9));
                    // Bandpass: 0 dB at the peak.
                    assert!(rel_close(ref_mag(c(BiquadType::Bandpass, 0.0), w0), 1.0, 1e-9));
                    // Notch: zero at f0.
                    assert!(ref_mag(c(BiquadType::Notch, 0.0), w0) < 1e-8);
                    for g in GAINS {
                        let a = 10f64.powf(g / 40.0);
                        assert!(rel_close(ref_mag(c(BiquadType::Peaking, g), w0), a * a, 1e-9));
                        assert!(rel_close(ref_mag(c(BiquadType::Lowshelf, g), 0.0), a * a, 1e-9));
                        assert!(rel_close(ref_mag(c(BiquadType::Lowshelf, g), std::f64::consts::PI), 1.0, 1e-9));
                        // Shelf midpoint: |H(w0)| = A. Looser tolerance: at 20 Hz / 96 kHz the
                        // (1 − cos w0) terms cancel to ~1e-9 relative in f64.
                        let m = ref_mag(c(BiquadType::Lowshelf, g), w0);
                        assert!(rel_close(m, a, 1e-7), "fs={fs} f0={f0} q={q} g={g}: {m} vs {a}");
                        assert!(rel_close(ref_mag(c(BiquadType::Highshelf, g), 0.0), 1.0, 1e-9));
                        assert!(rel_close(ref_mag(c(BiquadType::Highshelf, g), std::f64::consts::PI), a * a, 1e-9));
                        assert!(rel_close(ref_mag(c(BiquadType::Highshelf, g), w0), a, 1e-7));
                    }
                    for i in 1..16 {
                        let w = std::f64::consts::PI * i as f64 / 16.0;
                        assert!(rel_close(ref_mag(c(BiquadType::Allpass, 0.0), w), 1.0, 1e-9));
                    }
                }
            }
        }
        let lp = coefficients(BiquadType::Lowpass, 1000.0, DEFAULT_Q, 0.0, 48_000.0);
        let db = 20.0 * ref_mag(as_array(&lp), 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0).log10();
        assert!((db - (-3.0103)).abs() < 1e-4, "{db}");
    }

    #[test]
    fn processor_frequency_response_matches_analytic_values() {
        // Measure the processor itself: DTFT of its (decayed) impulse response.
        let fs = 48_000.0;
        let n = 1 << 14;
        let mut impulse = vec![0.0; n];
        impulse[0] = 1.0;
        let ir = |k: BiquadType, f0: f64, q: f64, g: f64| {
            let mut bq = prepared(k, fs, 128, 1);
            let mut h = impulse.clone();
            render(&mut bq, &mut h, 1, n, 128, 3, false, &|i, _| [f0, q, g][i]);
            h
        };
        for f0 in [200.0, 1000.0, 6000.0] {
            let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
            for g in [-12.0, 6.0, 18.0] {
                let m = dtft_mag(&ir(BiquadType::Peaking, f0, 2.0, g), w0);
                assert!((20.0 * m.log10() - g).abs() < 1e-6, "peaking {f0} {g}: {m}");
            }
            let m = dtft_mag(&ir(BiquadType::Lowpass, f0, DEFAULT_Q, 0.0), w0);
            assert!((20.0 * m.log10() + 3.010_299_956_6).abs() < 1e-6, "lowpass {f0}: {m}");
            let m = dtft_mag(&ir(BiquadType::Bandpass, f0, 1.5, 0.0), w0);
            assert!((m - 1.0).abs() < 1e-7, "bandpass {f0}: {m}");
            let m = dtft_mag(&ir(BiquadType::Notch, f0, 1.0, 0.0), w0);
            assert!(m < 1e-7, "notch {f0}: {m}");
            let h = ir(BiquadType::Allpass, f0, 0.9, 0.0);
            for i in 1..12 {
                let m = dtft_mag(&h, std::f64::consts::PI * i as f64 / 12.0);
                assert!((m - 1.0).abs() < 1e-7, "allpass {f0}: {m}");
            }
        }
    }

    #[test]
    fn constant_params_are_block_size_invariant() {
        let (channels, frames) = (2, 1000);
        let mut input = noise(frames, 1);
        input.extend(noise(frames, 2));
        for k in BiquadType::ALL {
            let run = |block: usize| {
                let mut bq = prepared(k, 44_100.0, block, channels);
                let mut d = input.clone();
                render(&mut bq, &mut d, channels, frames, block, 3, false, &|i, _| [3000.0, 2.0, 6.0][i]);
                d
            };
            let reference = run(128);
            for block in [1, 37, 64] {
                assert_eq!(run(block), reference, "{k:?} block {block}");
            }
            // Channels are filtered independently with the same coefficients.
            let c = ref_coeffs(k, 3000.0, 2.0, 6.0, 44_100.0);
            let want1 = ref_df1(c, &input[frames..]);
            for (a, b) in reference[frames..].iter().zip(&want1) {
                assert!((a - b).abs() < 1e-12);
            }
        }
    }

    fn sweep_at(frame: usize) -> f64 {
        200.0 * 40f64.powf(frame as f64 / 4799.0)
    }

    #[test]
    fn varying_params_are_block_size_invariant_and_per_frame() {
        let (channels, frames, fs) = (2, 4800, 48_000.0);
        let mut input = noise(frames, 3);
        input.extend(noise(frames, 4));
        let params = |i: usize, t: usize| match i {
            0 => sweep_at(t),
            1 => 0.5 + (t % 700) as f64 / 100.0,
            _ => -12.0 + 24.0 * (t as f64 / frames as f64),
        };
        for k in BiquadType::ALL {
            let run = |block: usize| {
                let mut bq = prepared(k, fs, block, channels);
                let mut d = input.clone();
                render(&mut bq, &mut d, channels, frames, block, 3, true, &params);
                d
            };
            let reference = run(128);
            for block in [1, 37, 64] {
                assert_eq!(run(block), reference, "{k:?} block {block}");
            }
            // Test-side transposed DF2 with per-frame reference coefficients.
            for c in 0..channels {
                let (mut s1, mut s2) = (0.0, 0.0);
                for t in 0..frames {
                    let [b0, b1, b2, a1, a2] = ref_coeffs(k, params(0, t), params(1, t), params(2, t), fs);
                    let x = input[c * frames + t];
                    let y = b0 * x + s1;
                    s1 = b1 * x - a1 * y + s2;
                    s2 = b2 * x - a2 * y;
                    let got = reference[c * frames + t];
                    assert!((got - y).abs() <= 1e-10 * (1.0 + y.abs()), "{k:?} t={t}: {got} vs {y}");
                }
            }
        }
    }

    #[test]
    fn mixed_constant_and_varying_blocks_agree() {
        // A varying block holding constant values equals a constant block.
        let (frames, fs) = (300, 96_000.0);
        let input = noise(frames, 5);
        for k in BiquadType::ALL {
            let run = |varying: bool| {
                let mut bq = prepared(k, fs, 50, 1);
                let mut d = input.clone();
                render(&mut bq, &mut d, 1, frames, 50, 3, varying, &|i, _| [700.0, 0.8, -5.0][i]);
                d
            };
            assert_eq!(run(true), run(false), "{k:?}");
        }
    }

    #[test]
    fn automated_sweep_stays_finite_and_bounded() {
        let (frames, fs) = (48_000, 48_000.0);
        let sweep = |t: usize| 200.0 * 40f64.powf(t as f64 / (frames - 1) as f64);
        let input = noise(frames, 6);
        for k in BiquadType::ALL {
            for q in [DEFAULT_Q, 10.0] {
                let mut bq = prepared(k, fs, 128, 1);
                let mut d = input.clone();
                render(&mut bq, &mut d, 1, frames, 128, 3, true, &|i, t| [sweep(t), q, 24.0][i]);
                let peak = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(d.iter().all(|v| v.is_finite()), "{k:?} q={q}");
                // Worst steady-state gain is q·A² (≤ 10·15.85); allow slack for the sweep.
                assert!(peak < 1000.0, "{k:?} q={q}: peak {peak}");
            }
        }
    }

    #[test]
    fn odd_inputs_give_finite_stable_coefficients() {
        let odd = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0, 1e300, -1e300, 1e-300];
        for k in BiquadType::ALL {
            for &f in &odd {
                for &q in &odd {
                    for &g in &odd {
                        for fs in [48_000.0, 0.0, f64::NAN, -1.0, f64::INFINITY] {
                            let c = coefficients(k, f, q, g, fs);
                            let a = as_array(&c);
                            assert!(a.iter().all(|v| v.is_finite()), "{k:?} {f} {q} {g} {fs}: {c:?}");
                            // Stability triangle.
                            assert!(c.a2.abs() < 1.0 && c.a1.abs() < 1.0 + c.a2, "{k:?} {f} {q} {g} {fs}: {c:?}");
                        }
                    }
                }
            }
            let mut bq = prepared(k, 48_000.0, 16, 1);
            let mut d = vec![1.0; 64];
            d[3] = f64::NAN;
            render(&mut bq, &mut d, 1, 64, 16, 3, false, &|i, _| [f64::NAN, 0.0, 1e9][i]);
            // The NaN block is lost, but the state recovers for the next ones.
            assert!(d[16..].iter().all(|v| v.is_finite()), "{k:?}");
        }
    }

    #[test]
    fn take_state_keeps_filter_memory_across_a_swap() {
        let (channels, frames, split) = (2, 600, 250);
        let mut input = noise(frames, 7);
        input.extend(noise(frames, 8));
        let params = |i: usize, _| [1500.0, 4.0, 10.0][i];
        for k in BiquadType::ALL {
            let mut whole = input.clone();
            render(&mut prepared(k, 48_000.0, 64, channels), &mut whole, channels, frames, 64, 3, false, &params);

            let mut first = prepared(k, 48_000.0, 64, channels);
            let mut a: Vec<f64> = (0..channels).flat_map(|c| input[c * frames..c * frames + split].to_vec()).collect();
            render(&mut first, &mut a, channels, split, 64, 3, false, &params);
            let mut second = Biquad::new(k);
            assert!(second.take_state(&mut first));
            second.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: 64, channels });
            let rest = frames - split;
            let mut b: Vec<f64> =
                (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect();
            render(&mut second, &mut b, channels, rest, 64, 3, false, &params);
            for c in 0..channels {
                assert_eq!(&a[c * split..(c + 1) * split], &whole[c * frames..c * frames + split]);
                assert_eq!(&b[c * rest..(c + 1) * rest], &whole[c * frames + split..(c + 1) * frames], "{k:?}");
            }

            // Prepared before the take: same result.
            let mut third = prepared(k, 48_000.0, 64, channels);
            assert!(third.take_state(&mut first));
            let mut b2: Vec<f64> =
                (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect();
            render(&mut third, &mut b2, channels, rest, 64, 3, false, &params);
            assert_eq!(b2, b);

            // Without the take, the start differs (the test can fail).
            let mut fresh = prepared(k, 48_000.0, 64, channels);
            let mut b3: Vec<f64> =
                (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect();
            render(&mut fresh, &mut b3, channels, rest, 64, 3, false, &params);
            assert_ne!(b3, b);

            // Reset clears the memory.
            third.reset();
            let mut b4: Vec<f64> =
                (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect();
            render(&mut third, &mut b4, channels, rest, 64, 3, false, &params);
            assert_eq!(b4, b3);
        }
        assert!(!Biquad::new(BiquadType::Lowpass).take_state(&mut Gain::new()));
    }

    #[test]
    fn scalar_kernels_agree() {
        let c = coefficients(BiquadType::Peaking, 2500.0, 1.3, 7.0, 48_000.0);
        let x = noise(200, 9);
        let (mut a, mut b) = (x.clone(), x.clone());
        let (mut sa, mut sb) = ([0.0; 2], [0.0; 2]);
        process_block_scalar(&c, &mut sa, &mut a);
        process_block_varying_scalar(&[c; 200], &mut sb, &mut b);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        let want = ref_df1(as_array(&c), &x);
        for (g, w) in a.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12);
        }
    }
}
