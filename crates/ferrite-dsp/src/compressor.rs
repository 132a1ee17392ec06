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

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

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

/// `20 / ln 10`: dB per neper of amplitude (`20·log10(v) = DB_PER_NEPER · ln v`).
const DB_PER_NEPER: f64 = 20.0 / core::f64::consts::LN_10;
/// `ln 10 / 20` (`10^(d/20) = exp(d · NEPER_PER_DB)`).
const NEPER_PER_DB: f64 = core::f64::consts::LN_10 / 20.0;

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
    sample_rate: f64,
    channels: usize,
    /// Smoothed gain reduction in dB (>= 0).
    reduction: f64,
    /// Per-block scratch: linked peak, then gain.
    gain: Vec<f64>,
    // Caches keyed on the raw parameter values.
    raw_curve: [f64; 3],
    threshold: f64,
    ratio: f64,
    knee: f64,
    knee_start_lin: f64,
    raw_attack: f64,
    attack_coef: f64,
    raw_release: f64,
    release_coef: f64,
    raw_makeup: f64,
    makeup: f64,
    makeup_lin: f64,
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
            sample_rate: 0.0,
            channels: 0,
            reduction: 0.0,
            gain: Vec::new(),
            raw_curve: [f64::NAN; 3],
            threshold: DEFAULT_THRESHOLD_DB,
            ratio: DEFAULT_RATIO,
            knee: DEFAULT_KNEE_DB,
            knee_start_lin: 0.0,
            raw_attack: f64::NAN,
            attack_coef: 0.0,
            raw_release: f64::NAN,
            release_coef: 0.0,
            raw_makeup: f64::NAN,
            makeup: 0.0,
            makeup_lin: 1.0,
        }
    }

    /// The current smoothed gain reduction in dB (for meters and tests).
    pub fn gain_reduction_db(&self) -> f64 {
        self.reduction
    }

    #[inline]
    fn update(&mut self, ctx: &ProcessContext<'_>, i: usize) {
        let curve = [ctx.param(0).at(i), ctx.param(1).at(i), ctx.param(4).at(i)];
        // `!=` on the raw values (NaN never equals, so a NaN recomputes with defaults).
        if curve != self.raw_curve {
            self.raw_curve = curve;
            self.threshold = sane(curve[0], 0, DEFAULT_THRESHOLD_DB);
            self.ratio = sane(curve[1], 1, DEFAULT_RATIO);
            self.knee = sane(curve[2], 4, DEFAULT_KNEE_DB);
            // Below this linear peak the curve is the identity: no log needed.
            self.knee_start_lin = 10f64.powf((self.threshold - self.knee / 2.0) / 20.0);
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
            self.makeup_lin = 10f64.powf(self.makeup / 20.0);
        }
    }

    /// Renders `n <= scratch` frames starting at block offset `off`.
    fn process_chunk(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>, off: usize, n: usize) {
        let chans = io.channels();
        let mut gain = core::mem::take(&mut self.gain);
        {
            let peak = gain.get_mut(..n).unwrap_or(&mut []);
            peak.fill(0.0);
            for c in 0..chans {
                let x = io.channel(c).get(off..off + n).unwrap_or(&[]);
                for (p, v) in peak.iter_mut().zip(x) {
                    *p = p.max(v.abs());
                }
            }
            // Constant parameters are read once per chunk, automated ones per frame.
            let automated = (0..PARAMS.len()).any(|k| ctx.param(k).constant().is_none());
            self.update(ctx, off);
            for (i, g) in peak.iter_mut().enumerate() {
                if automated {
                    self.update(ctx, off + i);
                }
                let pk = *g;
                let target = if pk > self.knee_start_lin {
                    let x = DB_PER_NEPER * pk.ln();
                    (x - static_curve(x, self.threshold, self.ratio, self.knee)).max(0.0)
                } else {
                    0.0
                };
                let a = if target > self.reduction { self.attack_coef } else { self.release_coef };
                let mut r = target + a * (self.reduction - target);
                if !r.is_finite() {
                    r = 0.0;
                }
                if r < 1e-12 && target == 0.0 {
                    r = 0.0;
                }
                self.reduction = r;
                *g = if r == 0.0 { self.makeup_lin } else { ((self.makeup - r) * NEPER_PER_DB).exp() };
            }
        }
        let g = gain.get(..n).unwrap_or(&[]);
        for c in 0..chans {
            if let Some(x) = io.channel_mut(c).get_mut(off..off + n) {
                for (s, g) in x.iter_mut().zip(g) {
                    *s *= g;
                }
            }
        }
        self.gain = gain;
    }
}

impl Processor for Compressor {
    fn prepare(&mut self, ctx: &PrepareContext) {
        self.sample_rate = ctx.sample_rate;
        self.channels = ctx.channels;
        self.gain = vec![1.0; ctx.max_block.max(1)];
        self.raw_curve = [f64::NAN; 3];
        self.raw_attack = f64::NAN;
        self.raw_release = f64::NAN;
        self.raw_makeup = f64::NAN;
        self.reset();
    }

    /// # Realtime
    /// Does not allocate, lock or panic (a block longer than the prepared
    /// `max_block` is processed in chunks).
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let frames = ctx.frames.min(io.frames());
        let chunk = self.gain.len();
        if chunk == 0 {
            return;
        }
        let mut off = 0;
        while off < frames {
            let n = chunk.min(frames - off);
            self.process_chunk(ctx, io, off, n);
            off += n;
        }
    }

    /// # Realtime
    /// Does not allocate, lock or panic.
    fn reset(&mut self) {
        self.reduction = 0.0;
    }

    /// Takes the smoothed gain reduction of another `Compressor`.
    ///
    /// # Realtime
    /// Does not allocate or free.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        match previous.as_any_mut().downcast_mut::<Compressor>() {
            Some(prev) => {
                self.reduction = prev.reduction;
                true
            }
            None => false,
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::ParamBuffer;

    const FS: f64 = 48_000.0;

    /// The static curve written out independently of the implementation.
    fn reference_curve(x: f64, t: f64, r: f64, w: f64) -> f64 {
        if w == 0.0 {
            return if x <= t { x } else { t + (x - t) / r };
        }
        if x < t - w / 2.0 {
            x
        } else if x > t + w / 2.0 {
            t + (x - t) / r
        } else {
            x + (1.0 / r - 1.0) * (x - t + w / 2.0).powi(2) / (2.0 * w)
        }
    }

    fn db(lin: f64) -> f64 {
        20.0 * lin.log10()
    }

    fn prepared(channels: usize, max_block: usize) -> Compressor {
        let mut c = Compressor::new();
        c.prepare(&PrepareContext { sample_rate: FS, max_block, channels });
        c
    }

    /// Runs over planar `input` in blocks; `params(frame)` gives the six
    /// parameters per frame (sent as varying buffers when `varying`).
    fn run(
        comp: &mut Compressor,
        input: &[Vec<f64>],
        block: usize,
        varying: bool,
        params: &dyn Fn(usize) -> [f64; 6],
    ) -> Vec<Vec<f64>> {
        let ch = input.len();
        let n = input[0].len();
        let mut out = vec![vec![0.0; n]; ch];
        let mut pb: Vec<ParamBuffer> = (0..6).map(|_| ParamBuffer::new(0.0, block)).collect();
        let mut buf = vec![0.0; ch * block];
        let mut start = 0;
        while start < n {
            let f = block.min(n - start);
            for c in 0..ch {
                buf[c * block..c * block + f].copy_from_slice(&input[c][start..start + f]);
            }
            for (k, p) in pb.iter_mut().enumerate() {
                if varying {
                    for (i, v) in p.varying_mut(f).iter_mut().enumerate() {
                        *v = params(start + i)[k];
                    }
                } else {
                    p.set_constant(params(start)[k]);
                }
            }
            let ctx = ProcessContext { frames: f, position: start as u64, params: &pb };
            comp.process(&ctx, &mut Bus::new(&mut buf, ch, block, f));
            for c in 0..ch {
                out[c][start..start + f].copy_from_slice(&buf[c * block..c * block + f]);
            }
            start += f;
        }
        out
    }

    #[test]
    fn static_curve_matches_the_formula_at_steady_state() {
        // (threshold, ratio, knee, makeup)
        let settings = [
            (-24.0, 4.0, 6.0, 0.0),
            (-24.0, 4.0, 0.0, 0.0),
            (-10.0, 20.0, 12.0, 3.0),
            (-30.0, 1.0, 6.0, 0.0),
            (-6.0, 2.5, 24.0, -2.0),
        ];
        for &(t, r, w, m) in &settings {
            let mut level = -60.0;
            while level <= 6.0 {
                let a = 10f64.powf(level / 20.0);
                // DC of one polarity on L, the other on R (linked detection sees |a|).
                let input = [vec![a; 2_400], vec![-a; 2_400]];
                let mut comp = prepared(2, 128);
                let out = run(&mut comp, &input, 128, false, &|_| [t, r, 1.0, 1.0, w, m]);
                let expect = reference_curve(level, t, r, w) - level + m;
                for o in &out {
                    let got = db(o[2_399].abs() / a);
                    assert!(
                        (got - expect).abs() < 1e-9,
                        "T {t} R {r} W {w} at {level} dB: gain {got} dB, expected {expect}"
                    );
                }
                level += 0.25;
            }
        }
        // Points inside the knee really are on the quadratic (not on either line).
        let inside = reference_curve(-24.0, -24.0, 4.0, 6.0);
        assert!((inside - (-24.0 - 0.75 * 9.0 / 12.0)).abs() < 1e-12);
    }

    #[test]
    fn attack_and_release_follow_their_time_constants() {
        let (t, r, attack, release) = (-40.0, 4.0, 10.0, 100.0);
        let (lo, hi) = (10f64.powf(-60.0 / 20.0), 10f64.powf(-20.0 / 20.0));
        let step = reference_curve(-20.0, t, r, 0.0) - -20.0; // -15 dB
        let (n_on, n_off, n) = (1_000usize, 30_000usize, 60_000usize);
        let x: Vec<f64> = (0..n).map(|i| if (n_on..n_off).contains(&i) { hi } else { lo }).collect();
        let mut comp = prepared(1, 64);
        let out = run(&mut comp, std::slice::from_ref(&x), 64, false, &|_| [t, r, attack, release, 0.0, 0.0]);
        let gain_db = |i: usize| db(out[0][i] / x[i]);
        let aa = (-1.0 / (attack / 1000.0 * FS)).exp();
        let ar = (-1.0 / (release / 1000.0 * FS)).exp();
        for k in [1usize, 10, 100, 480, 1_000, 5_000] {
            // Frame n_on + k - 1 has had k smoothing steps toward the step.
            let expect = step * (1.0 - aa.powi(k as i32));
            assert!((gain_db(n_on + k - 1) - expect).abs() < 1e-9, "attack k {k}");
        }
        // After τ the reduction covers 1 - 1/e of the step.
        let at_tau = gain_db(n_on + 480 - 1) / step;
        assert!((at_tau - (1.0 - (-1.0f64).exp())).abs() < 1e-9, "{at_tau}");
        let settled = step * (1.0 - aa.powi((n_off - n_on) as i32));
        for k in [1usize, 100, 4_800, 10_000] {
            let expect = settled * ar.powi(k as i32);
            assert!((gain_db(n_off + k - 1) - expect).abs() < 1e-9, "release k {k}");
        }
        let at_tau = gain_db(n_off + 4_800 - 1) / settled;
        assert!((at_tau - (-1.0f64).exp()).abs() < 1e-9, "{at_tau}");
    }

    #[test]
    fn makeup_gain_applies_below_threshold() {
        let x: Vec<f64> = (0..500).map(|i| 0.01 * (i as f64 * 0.1).sin()).collect();
        let out =
            run(&mut prepared(1, 128), std::slice::from_ref(&x), 128, false, &|_| [-10.0, 4.0, 10.0, 100.0, 6.0, 6.0]);
        let g = 10f64.powf(6.0 / 20.0);
        for (y, x) in out[0].iter().zip(&x) {
            assert!((y - x * g).abs() <= 1e-15, "{y} vs {}", x * g);
        }
    }

    #[test]
    fn detection_is_linked_across_channels() {
        let n = 4_800;
        let loud = vec![0.5; n];
        let quiet = vec![0.01; n];
        let out = run(&mut prepared(2, 64), &[loud.clone(), quiet.clone()], 64, false, &|_| DEFAULTS);
        for i in 0..n {
            assert!((out[0][i] / loud[i] - out[1][i] / quiet[i]).abs() < 1e-12);
        }
        assert!(out[1][n - 1] / quiet[n - 1] < 0.3);
    }

    fn noise(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed.max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let n = 5_000;
        let a = noise(1, n);
        let b: Vec<f64> = noise(2, n).iter().map(|v| 0.2 * v).collect();
        let params = |i: usize| {
            let s = i as f64;
            [-30.0 + 10.0 * (s / 400.0).sin(), 3.0 + (s / 300.0).cos(), 5.0, 50.0 + 40.0 * (s / 1000.0).sin(), 6.0, 2.0]
        };
        let reference = run(&mut prepared(2, 1), &[a.clone(), b.clone()], 1, true, &params);
        for block in [37, 64, 128] {
            let out = run(&mut prepared(2, block), &[a.clone(), b.clone()], block, true, &params);
            assert_eq!(out, reference, "block {block}");
        }
    }

    #[test]
    fn constant_and_varying_parameter_blocks_agree() {
        let x = [noise(21, 3_000), noise(22, 3_000)];
        let p = |_: usize| [-20.0, 3.0, 2.0, 40.0, 4.0, 1.5];
        let constant = run(&mut prepared(2, 64), &x, 64, false, &p);
        let varying = run(&mut prepared(2, 64), &x, 64, true, &p);
        assert_eq!(constant, varying);
    }

    #[test]
    fn wild_per_frame_automation_stays_finite_and_bounded() {
        let n = 20_000;
        let x: Vec<f64> = noise(3, n).iter().map(|v| 4.0 * v).collect();
        let r = noise(4, 6 * n);
        // Every parameter jumps anywhere in (and beyond) its range each frame.
        let params = |i: usize| {
            let mut p = [0.0; 6];
            for (k, v) in p.iter_mut().enumerate() {
                let spec = &PARAMS[k];
                let u = r[6 * i + k] * 0.6 + 0.5; // slightly past both ends
                *v = spec.min + (spec.max - spec.min) * u;
            }
            p
        };
        let out = run(&mut prepared(1, 128), std::slice::from_ref(&x), 128, true, &params);
        let max_makeup = 10f64.powf(60.0 / 20.0);
        for (y, x) in out[0].iter().zip(&x) {
            assert!(y.is_finite());
            assert!(y.abs() <= x.abs() * max_makeup * (1.0 + 1e-12));
        }
        // Non-finite parameter values fall back to defaults instead of poisoning the state.
        let out = run(&mut prepared(1, 16), &[vec![0.5; 64]], 16, true, &|_| {
            [f64::NAN, f64::INFINITY, f64::NAN, -1.0, f64::NAN, f64::NAN]
        });
        assert!(out[0].iter().all(|v| v.is_finite()));
    }

    #[test]
    fn take_state_continues_and_reset_starts_over() {
        let n = 3_000;
        let x: Vec<f64> = noise(9, n);
        let p = |_: usize| DEFAULTS;
        let whole = run(&mut prepared(1, 64), std::slice::from_ref(&x), 64, false, &p);
        let mut first = prepared(1, 64);
        let head = run(&mut first, &[x[..1_000].to_vec()], 64, false, &p);
        let mut second = prepared(1, 64);
        assert!(second.take_state(&mut first));
        assert!(second.gain_reduction_db() > 0.0);
        let mut tail = run(&mut second, &[x[1_000..].to_vec()], 64, false, &p);
        let mut joined = head[0].clone();
        joined.append(&mut tail[0]);
        assert_eq!(joined, whole[0]);
        assert_eq!(second.latency(), 0);
        second.reset();
        assert_eq!(run(&mut second, std::slice::from_ref(&x), 64, false, &p), whole);
    }
}
