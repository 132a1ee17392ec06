//! `compressor`: a feed-forward, channel-linked compressor with a soft knee.
//!
//! Parameters (in [`ProcessContext::params`] order, all automatable):
//!
//! | # | name          | unit | default | range        |
//! |---|---------------|------|---------|--------------|
//! | 0 | `thresholdDb` | dBFS | -24     | -120 ..= 24  |
//! | 1 | `ratio`       | :1   | 4       | 1 ..= 1000   |
//! | 2 | `attackMs`    | ms   | 10      | 0 ..= 10000  |
//! | 3 | `releaseMs`   | ms   | 100     | 0 ..= 60000  |
//! | 4 | `kneeDb`      | dB   | 6       | 0 ..= 60     |
//! | 5 | `makeupDb`    | dB   | 0       | -60 ..= 60   |
//!
//! # Algorithm (per frame, no latency)
//!
//! 1. Detection, linked: `x = 20·log10(max over channels |s_c|)` (dBFS).
//! 2. Static curve, threshold `T`, ratio `R`, knee width `W` (all in dB):
//!    - `2(x - T) < -W`: `y = x` (below the knee, no compression);
//!    - `2(x - T) > W`: `y = T + (x - T) / R`;
//!    - otherwise (inside the knee): `y = x + (1/R - 1)·(x - T + W/2)² / (2W)`.
//!
//!    With `W = 0` the knee vanishes: `y = x` for `x <= T`, else `T + (x - T)/R`.
//!    See [`static_curve`].
//! 3. Gain reduction `gr = x - y >= 0` (dB), smoothed by a one-pole in dB:
//!    `g[n] = gr + a·(g[n-1] - gr)`, with `a = exp(-1 / (τ·fs))`, `τ` =
//!    `attackMs/1000` while `gr > g[n-1]` (reduction growing) and
//!    `releaseMs/1000` otherwise (`a = 0` for a time of 0). After a step, the
//!    smoothed reduction covers `1 - 1/e` of the step after `τ`.
//! 4. Every channel is multiplied by `10^((makeupDb - g[n]) / 20)`.
//!
//! Output is independent of the block size: everything runs per frame.
//!
//! # Implementation
//! A block runs in passes: linked peaks; the natural log of the peaks
//! (skipped when, with constant parameters, no peak is above the knee start);
//! the targets `x - y` (their own pass when the parameters are constant); the
//! one-pole recursion (arithmetic only); `exp` of the gain exponents; the gains
//! applied. A block with constant parameters, no reduction left and every peak
//! at or below the knee start only applies the makeup gain.
//!
//! `ln` and `exp` are the kernels' block math (within 2 and 1 ulp of
//! `f64::ln`/`f64::exp`, no table). A compressor runs at the level chosen at
//! `prepare` from the CPU and `FERRITE_SIMD` (Scalar, AVX2 or AVX-512, see
//! [`SimdLevel`]): the scalar build is plain f64 arithmetic; the AVX2 build
//! (with FMA) fuses the multiply-adds of `ln` and `exp`, which puts them
//! within 1 ulp of the plain build; the AVX-512 build performs the AVX2
//! build's operations 8 lanes wide, with the same bits. Every other pass
//! rounds as the plain build does, and each build gives the same bits at
//! every block size. The gain computer multiplies by constants derived from
//! the parameters once per change instead of dividing per frame. Against a
//! frame-by-frame evaluation with `f64::ln`/`f64::exp` the gains agree to
//! about 1e-13 dB (tested to 1e-9 dB).
//!
//! # Sidechain
//! [`Compressor::process_keyed`] runs the detector (step 1) on a key signal
//! instead of the programme and applies the gains to the programme (ducking).
//!
//! Parallel compressors can also run as lanes of a batch (see
//! [`Compressor::batch_begin`] and [`smooth_lanes`]): the same bits.

use crate::alloc::{try_filled, AllocError};
use crate::kernels::dispatch::{autovec_level, runnable_autovec, runnable_fused};
use crate::kernels::math::{exp_block_in_place, exp_fast, exp_with, ln_block, DB_PER_NEPER, NEPER_PER_DB};
use crate::kernels::{smooth, SimdLevel};
use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

mod batch;
#[cfg(test)]
mod tests;

pub use crate::kernels::smooth::SmoothLane;
pub use batch::smooth_lanes;

/// Default `thresholdDb`.
pub const DEFAULT_THRESHOLD_DB: f64 = -24.0;
/// Default `ratio`.
pub const DEFAULT_RATIO: f64 = 4.0;
/// Default `attackMs`.
pub const DEFAULT_ATTACK_MS: f64 = 10.0;
/// Default `releaseMs`.
pub const DEFAULT_RELEASE_MS: f64 = 100.0;
/// Default `kneeDb`.
pub const DEFAULT_KNEE_DB: f64 = 6.0;
/// Default `makeupDb`.
pub const DEFAULT_MAKEUP_DB: f64 = 0.0;

/// Parameter table of [`Compressor`].
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec::new("thresholdDb", -120.0, 24.0),
    ParamSpec::new("ratio", 1.0, 1000.0),
    ParamSpec::new("attackMs", 0.0, 10_000.0),
    ParamSpec::new("releaseMs", 0.0, 60_000.0),
    ParamSpec::new("kneeDb", 0.0, 60.0),
    ParamSpec::new("makeupDb", -60.0, 60.0),
];

/// Defaults in [`PARAMS`] order.
pub const DEFAULTS: [f64; 6] =
    [DEFAULT_THRESHOLD_DB, DEFAULT_RATIO, DEFAULT_ATTACK_MS, DEFAULT_RELEASE_MS, DEFAULT_KNEE_DB, DEFAULT_MAKEUP_DB];

/// The static curve: output level in dB for input level `x` dB, threshold
/// `t` dB, ratio `r` (>= 1) and knee width `w` dB (>= 0), as in the module
/// documentation.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn static_curve(x: f64, t: f64, r: f64, w: f64) -> f64 {
    let over = x - t;
    if w <= 0.0 {
        if over <= 0.0 {
            x
        } else {
            t + over / r
        }
    } else if 2.0 * over < -w {
        x
    } else if 2.0 * over > w {
        t + over / r
    } else {
        let k = over + w / 2.0;
        x + (1.0 / r - 1.0) * k * k / (2.0 * w)
    }
}

/// One-pole coefficient `exp(-1 / (ms/1000 · fs))`, 0 for a zero time.
fn coefficient(ms: f64, fs: f64) -> f64 {
    let tau = ms / 1000.0 * fs;
    if tau > 0.0 {
        (-1.0 / tau).exp()
    } else {
        0.0
    }
}

/// Clamps `v` into a parameter's range, falling back to `default` when not finite.
fn sane(v: f64, spec: usize, default: f64) -> f64 {
    match PARAMS.get(spec) {
        Some(p) if v.is_finite() => v.clamp(p.min, p.max),
        _ => default,
    }
}

/// Linked detection: `peak[i]` = the largest `|x|` over the channels of
/// `io` at frame `off + i`.
#[inline(always)]
fn linked_peaks(io: &Bus<'_>, off: usize, peak: &mut [f64]) {
    let n = peak.len();
    // The first channel initializes (`|v|.max(0.0)` is `0.0.max(|v|)`: a NaN
    // sample counts as 0), the others take the maximum.
    match io.channel(0).get(off..off + n) {
        Some(x) => {
            for (p, v) in peak.iter_mut().zip(x) {
                *p = v.abs().max(0.0);
            }
        }
        None => peak.fill(0.0),
    }
    for c in 1..io.channels() {
        let x = io.channel(c).get(off..off + n).unwrap_or(&[]);
        for (p, v) in peak.iter_mut().zip(x) {
            *p = p.max(v.abs());
        }
    }
}

/// Applies the gains to frames `off..off + gain.len()` of every channel:
/// `flat` (skipped when 1) when every frame has the same gain, else
/// `exp` of the exponents in `gain` (turned into gains in place).
#[inline(always)]
fn apply_gains(level: SimdLevel, io: &mut Bus<'_>, off: usize, gain: &mut [f64], flat: Option<f64>) {
    let n = gain.len();
    match flat {
        Some(g) => {
            if g != 1.0 {
                for c in 0..io.channels() {
                    if let Some(x) = io.channel_mut(c).get_mut(off..off + n) {
                        x.iter_mut().for_each(|s| *s *= g);
                    }
                }
            }
        }
        None => {
            exp_block_in_place(level, gain);
            for c in 0..io.channels() {
                if let Some(x) = io.channel_mut(c).get_mut(off..off + n) {
                    for (s, g) in x.iter_mut().zip(gain.iter()) {
                        *s *= g;
                    }
                }
            }
        }
    }
}

/// A feed-forward, linked, soft-knee compressor (see the module documentation).
///
/// ```
/// use ferrite_dsp::compressor::{static_curve, Compressor, DEFAULTS};
/// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
///
/// let mut comp = Compressor::new();
/// comp.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: 128, channels: 1 });
/// let params: Vec<ParamBuffer> = DEFAULTS.iter().map(|&v| ParamBuffer::new(v, 128)).collect();
/// let mut audio = [0.0f64; 128];
/// for block in 0..400u64 {
///     audio.fill(0.5); // about -6 dBFS, well above the -24 dB threshold
///     let ctx = ProcessContext { frames: 128, position: block * 128, params: &params };
///     comp.process(&ctx, &mut Bus::new(&mut audio, 1, 128, 128));
/// }
/// let x = 20.0 * 0.5f64.log10();
/// let want = static_curve(x, -24.0, 4.0, 6.0) - x; // steady-state gain in dB
/// assert!((20.0 * (audio[127] / 0.5).log10() - want).abs() < 1e-9);
/// ```
#[derive(Debug, Clone)]
pub struct Compressor {
    channels: usize,
    /// The build this compressor runs (chosen at `prepare`, see
    /// `autovec_level`): Scalar (plain), AVX2 or AVX-512 code generation
    /// (`ln` and `exp` fused in both, within 1 ulp of the plain build).
    simd: SimdLevel,
    /// Per-chunk scratch: linked peak per frame.
    peak: Vec<f64>,
    /// Per-chunk scratch: natural log of the peak.
    level: Vec<f64>,
    /// Per-chunk scratch: gain exponent, then linear gain.
    gain: Vec<f64>,
    gc: GainComputer,
}

/// The gain computer's state and its parameter caches.
#[derive(Debug, Clone)]
struct GainComputer {
    sample_rate: f64,
    /// Smoothed gain reduction in dB (>= 0).
    reduction: f64,
    // Caches keyed on the raw parameter values.
    raw_curve: [f64; 3],
    threshold: f64,
    /// `1 / ratio`.
    inv_ratio: f64,
    /// Half the knee width (dB); 0 for no knee.
    half_knee: f64,
    /// `(1/ratio - 1) / (2·knee)`, the knee's quadratic coefficient; 0 for no knee.
    knee_coef: f64,
    knee_start_lin: f64,
    raw_attack: f64,
    attack_coef: f64,
    raw_release: f64,
    release_coef: f64,
    raw_makeup: f64,
    makeup: f64,
    makeup_lin: f64,
    /// The per-frame `exp` runs fused (the AVX2 + FMA build): `makeup_lin`
    /// is computed the same way, so a flat block's gain has the bits of a
    /// per-frame gain at no reduction.
    fused: bool,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A compressor; every setting arrives as a parameter (see [`PARAMS`], [`DEFAULTS`]).
    pub fn new() -> Self {
        Self {
            channels: 0,
            simd: SimdLevel::Scalar,
            peak: Vec::new(),
            level: Vec::new(),
            gain: Vec::new(),
            gc: GainComputer {
                sample_rate: 0.0,
                reduction: 0.0,
                raw_curve: [f64::NAN; 3],
                threshold: DEFAULT_THRESHOLD_DB,
                inv_ratio: 1.0 / DEFAULT_RATIO,
                half_knee: DEFAULT_KNEE_DB / 2.0,
                knee_coef: (1.0 / DEFAULT_RATIO - 1.0) / (2.0 * DEFAULT_KNEE_DB),
                knee_start_lin: 0.0,
                raw_attack: f64::NAN,
                attack_coef: 0.0,
                raw_release: f64::NAN,
                release_coef: 0.0,
                raw_makeup: f64::NAN,
                makeup: 0.0,
                makeup_lin: 1.0,
                fused: false,
            },
        }
    }

    /// Chooses the build (a level of `autovec_level`'s, or lower); the
    /// makeup gain is recomputed with the matching `exp`.
    fn set_level(&mut self, level: SimdLevel) {
        self.simd = level;
        self.gc.fused = runnable_fused(level) != SimdLevel::Scalar;
        self.gc.raw_makeup = f64::NAN;
    }

    /// The current smoothed gain reduction in dB (for meters and tests).
    pub fn gain_reduction_db(&self) -> f64 {
        self.gc.reduction
    }

    /// Renders `n <= scratch` frames starting at block offset `off`, in passes:
    /// linked peaks; `ln` of the peaks (whole chunk, vectorized); the gain
    /// computer and the one-pole recursion (arithmetic only); `exp` of the
    /// gains (whole chunk, vectorized); the gain applied to every channel.
    /// Every pass works per frame, so the samples do not depend on how a
    /// render is split into chunks or blocks. The detector reads `key` when
    /// there is one (a sidechain), else `io` itself; everything after the
    /// peaks is the same code either way.
    #[inline(always)]
    fn process_chunk(
        &mut self,
        ctx: &ProcessContext<'_>,
        io: &mut Bus<'_>,
        key: Option<&Bus<'_>>,
        off: usize,
        n: usize,
    ) {
        let (Some(peak), Some(level), Some(gain)) =
            (self.peak.get_mut(..n), self.level.get_mut(..n), self.gain.get_mut(..n))
        else {
            return;
        };
        // 1. Linked detection, on the key or on the programme.
        linked_peaks(key.unwrap_or(io), off, peak);
        // Constant parameters are read once per chunk, automated ones per frame.
        let automated = (0..PARAMS.len()).any(|k| ctx.param(k).constant().is_none());
        let makeup_constant = ctx.param(5).constant().is_some();
        let st = &mut self.gc;
        st.update(ctx, off);
        // 2. Natural log of the peaks, only needed where a peak is above the knee start.
        // (An or-fold rather than `any`: it vectorizes, the early exit does not.)
        let knee_start = st.knee_start_lin;
        let need_ln = automated || peak.iter().fold(false, |above, &p| above | (p > knee_start));
        if need_ln {
            ln_block(self.simd, peak, level);
        }
        // 3. Gain computer and smoothing; `gain` gets the exponent `(makeup - r)·ln10/20`.
        // With constant parameters, no reduction left and every peak at or below
        // the knee start, every frame's target is 0 and `r` stays exactly 0:
        // nothing to compute.
        let any_reduction = if automated {
            st.frames::<true>(ctx, off, peak, level, gain)
        } else if need_ln || st.reduction != 0.0 {
            st.frames::<false>(ctx, off, peak, level, gain)
        } else {
            false
        };
        // 4.–5. Gains, applied. With no reduction and a constant makeup every
        // frame's gain is `makeup_lin` (= exp_fast of the same exponent).
        let flat = (!any_reduction && makeup_constant).then_some(st.makeup_lin);
        apply_gains(self.simd, io, off, gain, flat);
    }
}

impl Compressor {
    /// [`Compressor::process_chunk`] compiled for AVX2 (without FMA, so every
    /// operation outside `ln`/`exp` rounds as in the plain build).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn process_chunk_avx2(
        &mut self,
        ctx: &ProcessContext<'_>,
        io: &mut Bus<'_>,
        key: Option<&Bus<'_>>,
        off: usize,
        n: usize,
    ) {
        self.process_chunk(ctx, io, key, off, n);
    }

    /// [`Compressor::process_chunk`] compiled for AVX-512 (FMA is enabled
    /// for `ln`/`exp`, which fuse explicitly; Rust never fuses on its own, so
    /// every other operation rounds as in the plain build).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn process_chunk_avx512(
        &mut self,
        ctx: &ProcessContext<'_>,
        io: &mut Bus<'_>,
        key: Option<&Bus<'_>>,
        off: usize,
        n: usize,
    ) {
        self.process_chunk(ctx, io, key, off, n);
    }

    /// A block in chunks of the prepared size, at the chosen build, the
    /// detector on `key` when there is one (see [`Self::process_chunk`]).
    fn render(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>, key: Option<&Bus<'_>>) {
        let frames = ctx.frames.min(io.frames());
        let chunk = self.gain.len();
        if chunk == 0 {
            return;
        }
        let mut off = 0;
        while off < frames {
            let n = chunk.min(frames - off);
            match runnable_autovec(self.simd) {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `runnable_autovec` returned AVX-512: the CPU supports AVX-512F, AVX2 and FMA.
                SimdLevel::Avx512 => unsafe { self.process_chunk_avx512(ctx, io, key, off, n) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `runnable_autovec` returned AVX2: the CPU supports AVX2.
                SimdLevel::Avx2 => unsafe { self.process_chunk_avx2(ctx, io, key, off, n) },
                _ => self.process_chunk(ctx, io, key, off, n),
            }
            off += n;
        }
    }

    /// Sidechain compression (ducking): the detector reads `key` instead of
    /// `io`, and the gains it computes are applied to `io`. The key's
    /// channels are linked like the programme's (any count; a mono key is
    /// one channel); frames the key lacks count as silence. With `key`
    /// holding the same samples as `io`, exactly [`Processor::process`]'s
    /// bits: the gain computer, smoothing and gains are the same code.
    ///
    /// ```
    /// use ferrite_dsp::compressor::{Compressor, DEFAULTS};
    /// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
    ///
    /// let mut comp = Compressor::new();
    /// comp.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: 64, channels: 1 });
    /// let params: Vec<ParamBuffer> = DEFAULTS.iter().map(|&v| ParamBuffer::new(v, 64)).collect();
    /// let (mut music, mut voice) = ([0.1f64; 64], [0.9f64; 64]);
    /// for block in 0..200u64 {
    ///     music.fill(0.1); // quiet: would pass untouched on its own
    ///     let ctx = ProcessContext { frames: 64, position: block * 64, params: &params };
    ///     let key = Bus::new(&mut voice, 1, 64, 64);
    ///     comp.process_keyed(&ctx, &mut Bus::new(&mut music, 1, 64, 64), &key);
    /// }
    /// assert!(music[63] < 0.05); // ducked under the loud key
    /// ```
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn process_keyed(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>, key: &Bus<'_>) {
        self.render(ctx, io, Some(key));
    }
}

impl GainComputer {
    /// The target reduction `x - curve(x)` (dB, >= 0) for a linked peak
    /// `pk` whose natural log is `lnp`: 0 at or below the knee start (where
    /// `lnp` is not needed and may hold anything).
    ///
    /// Every case of the curve is computed and one selected (no
    /// data-dependent branches: the constant-parameter pass vectorizes), with
    /// multiplications by the constants `update` derives from the parameters
    /// instead of divisions. The automated (per-frame) and the constant paths
    /// both call this, so they give the same bits. With no knee
    /// (`half_knee = knee_coef = 0`) the inside case is reached only at
    /// `x = T` exactly, where it gives `x + 0·0·0 = x`: the hard knee of
    /// [`static_curve`]. `knee_coef` is finite, so the inside value is never
    /// NaN for a finite `x`, and where it is selected (`|x - T| <= W/2`) it is
    /// within `W/4` of `x`.
    #[inline(always)]
    fn target(&self, pk: f64, lnp: f64) -> f64 {
        let (t, h) = (self.threshold, self.half_knee);
        let x = DB_PER_NEPER * lnp;
        let over = x - t;
        let above = t + over * self.inv_ratio;
        let k = over + h;
        let inside = x + self.knee_coef * k * k;
        // `over < -h` is `2(x - T) < -W` exactly (doubling and halving are exact).
        let y = if over < -h {
            x
        } else if over > h {
            above
        } else {
            inside
        };
        let target = (x - y).max(0.0);
        if pk > self.knee_start_lin {
            target
        } else {
            0.0
        }
    }

    /// The gain computer and the one-pole smoothing over one chunk: reads
    /// the peaks and their logs, writes the gain exponents
    /// `(makeup - r)·ln10/20`; returns whether any frame has a reduction.
    /// `AUTOMATED` reads the parameters per frame; otherwise they are already
    /// current, and the targets are computed in a pass of their own (into
    /// `level`) so that the recursion loop only carries the smoothing.
    #[inline(always)]
    fn frames<const AUTOMATED: bool>(
        &mut self,
        ctx: &ProcessContext<'_>,
        off: usize,
        peak: &[f64],
        level: &mut [f64],
        gain: &mut [f64],
    ) -> bool {
        let mut any_reduction = false;
        let mut reduction = self.reduction;
        if AUTOMATED {
            for (i, ((g, &pk), &lnp)) in gain.iter_mut().zip(peak).zip(level.iter()).enumerate() {
                self.update(ctx, off + i);
                let r = smooth::step(reduction, self.target(pk, lnp), self.attack_coef, self.release_coef);
                reduction = r;
                any_reduction |= r != 0.0;
                *g = (self.makeup - r) * NEPER_PER_DB;
            }
        } else {
            for (t, &pk) in level.iter_mut().zip(peak) {
                *t = self.target(pk, *t);
            }
            let (makeup, att, rel) = (self.makeup, self.attack_coef, self.release_coef);
            for (g, &target) in gain.iter_mut().zip(level.iter()) {
                let r = smooth::step(reduction, target, att, rel);
                reduction = r;
                any_reduction |= r != 0.0;
                *g = (makeup - r) * NEPER_PER_DB;
            }
        }
        self.reduction = reduction;
        any_reduction
    }

    #[inline]
    fn update(&mut self, ctx: &ProcessContext<'_>, i: usize) {
        let curve = [ctx.param(0).at(i), ctx.param(1).at(i), ctx.param(4).at(i)];
        // `!=` on the raw values (NaN never equals, so a NaN recomputes with defaults).
        if curve != self.raw_curve {
            self.raw_curve = curve;
            let t = sane(curve[0], 0, DEFAULT_THRESHOLD_DB);
            let ratio = sane(curve[1], 1, DEFAULT_RATIO);
            // A subnormal knee is no knee: keeps `knee_coef` finite.
            let w = sane(curve[2], 4, DEFAULT_KNEE_DB);
            let w = if w >= f64::MIN_POSITIVE { w } else { 0.0 };
            self.threshold = t;
            self.inv_ratio = 1.0 / ratio;
            self.half_knee = w / 2.0;
            self.knee_coef = if w > 0.0 { (self.inv_ratio - 1.0) / (2.0 * w) } else { 0.0 };
            // Below this linear peak the curve is the identity: no log needed.
            // (`exp_fast` rather than `powf`: automated curves land here every
            // frame. Within an ulp or two of `10^((T - W/2)/20)`; a peak that
            // close to the knee start has a target of 0 or within 1e-15 dB of it.)
            self.knee_start_lin = exp_fast((t - w / 2.0) * NEPER_PER_DB);
        }
        let attack = ctx.param(2).at(i);
        if attack != self.raw_attack {
            self.raw_attack = attack;
            self.attack_coef = coefficient(sane(attack, 2, DEFAULT_ATTACK_MS), self.sample_rate);
        }
        let release = ctx.param(3).at(i);
        if release != self.raw_release {
            self.raw_release = release;
            self.release_coef = coefficient(sane(release, 3, DEFAULT_RELEASE_MS), self.sample_rate);
        }
        let makeup = ctx.param(5).at(i);
        if makeup != self.raw_makeup {
            self.raw_makeup = makeup;
            self.makeup = sane(makeup, 5, DEFAULT_MAKEUP_DB);
            // The same function as the per-frame gains: bit-identical to them.
            let y = self.makeup * NEPER_PER_DB;
            self.makeup_lin = if self.fused { exp_with::<true>(y) } else { exp_fast(y) };
        }
    }
}

impl Processor for Compressor {
    fn memory_bytes(&self, ctx: &PrepareContext) -> usize {
        3 * ctx.max_block.max(1) * size_of::<f64>()
    }

    fn prepare(&mut self, ctx: &PrepareContext) {
        if let Err(e) = self.try_prepare(ctx) {
            e.abort()
        }
    }

    /// Allocates the three block-long rows (detector peak, level, gain) fallibly.
    fn try_prepare(&mut self, ctx: &PrepareContext) -> Result<(), AllocError> {
        let n = ctx.max_block.max(1);
        self.peak = try_filled(n, 0.0)?;
        self.level = try_filled(n, 0.0)?;
        self.gain = try_filled(n, 1.0)?;
        self.channels = ctx.channels;
        self.set_level(autovec_level());
        let gc = &mut self.gc;
        gc.sample_rate = ctx.sample_rate;
        gc.raw_curve = [f64::NAN; 3];
        gc.raw_attack = f64::NAN;
        gc.raw_release = f64::NAN;
        gc.raw_makeup = f64::NAN;
        self.reset();
        Ok(())
    }

    /// # Realtime
    /// Does not allocate, lock or panic (a block longer than the prepared
    /// `max_block` is processed in chunks).
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        self.render(ctx, io, None);
    }

    /// # Realtime
    /// Does not allocate, lock or panic.
    fn reset(&mut self) {
        self.gc.reduction = 0.0;
    }

    /// Linked detection (the peak of identical channels is that channel's)
    /// and one gain for every channel, with no state per channel: a mono
    /// block stays mono.
    fn channel_symmetric(&self) -> bool {
        true
    }

    fn special(&mut self) -> crate::Special<'_> {
        crate::Special::Compressor(self)
    }

    /// Takes the smoothed gain reduction of another `Compressor`.
    ///
    /// # Realtime
    /// Does not allocate or free.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        match previous.as_any_mut().downcast_mut::<Compressor>() {
            Some(prev) => {
                self.gc.reduction = prev.gc.reduction;
                true
            }
            None => false,
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}
