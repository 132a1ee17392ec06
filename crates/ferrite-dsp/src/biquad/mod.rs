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

use crate::kernels::{BiquadBank, BiquadCoeffs};
use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

mod section;
#[cfg(test)]
pub(crate) mod tests;

pub(crate) use section::{
    cascade_channels, cascade_pair_cached, load_sections, pair_caches_in_lockstep, run_pair_caches, store_pair_caches,
    store_sections, PairCache, Section,
};

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

/// `processor` as a [`BankFilter`] if it is one (a [`Biquad`] or an
/// [`crate::eq::Eq`]): [`Processor::special`].
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn bank_filter(processor: &mut dyn Processor) -> Option<&mut dyn BankFilter> {
    processor.special().bank_filter()
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

    fn special(&mut self) -> crate::Special<'_> {
        crate::Special::Biquad(self)
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
