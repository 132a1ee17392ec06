//! `limiter`: a lookahead peak limiter whose output sample peak never exceeds
//! the ceiling.
//!
//! Parameters (in [`ProcessContext::params`] order):
//! `0 = ceilingDb` (dBFS, default [`DEFAULT_CEILING_DB`] = -1),
//! `1 = releaseMs` (ms, default [`DEFAULT_RELEASE_MS`] = 100).
//! The lookahead (`lookaheadMs`, default [`DEFAULT_LOOKAHEAD_MS`] = 5) is
//! construction-only: it sets [`Processor::latency`].
//!
//! # Algorithm
//!
//! With `D = latency()` frames of lookahead and a window of `W = D + 1` frames,
//! for every input frame `n` (channels linked):
//!
//! 1. `peak[n]` = max over channels of `|x_c[n]|`; the required gain is
//!    `r[n] = min(1, ceiling / peak[n])`, rounded *down* onto a grid of
//!    2⁻³² so that `peak[n] · r[n] <= ceiling` holds in floating point too.
//! 2. `h[n]` = minimum of `r` over the window `[n - D, n]`.
//! 3. `e[n]` = release envelope: follows `h` down at once and back up as
//!    `e[n] = h[n] - a·(h[n] - e[n-1])`, `a = exp(-1 / (releaseMs/1000 · fs))`
//!    (a one-pole with time constant `releaseMs`), so `e <= h` always.
//! 4. `g[n]` = mean of `e` over `[n - D, n]` (exact integer running sum of the
//!    grid values).
//! 5. The output is `y_c[n] = x_c[n - D] · g[n]`.
//!
//! Every `h[j]` with `j` in `[n - D, n]` covers frame `n - D`, so
//! `g[n] <= r[n - D]`: the gain reduction ramps in linearly over the lookahead
//! and is fully applied when the peak leaves the delay line, and
//! `|y| <= ceiling` holds exactly. Once a peak has left the window, the gain
//! reduction `1 - g` decays by the factor `a` per frame (time constant
//! `releaseMs`); the moving average delays it by about `D / 2` frames but does
//! not change the rate. A final clamp at the ceiling (counted by
//! [`Limiter::clamp_count`]) only catches non-finite input; the tests check it
//! never acts on finite audio.
//!
//! The ceiling is rounded down to the nearest `f32` so that the guarantee also
//! holds after the output is converted to `Float32Array`. A signal whose peak
//! stays at or below the ceiling passes through bit-exactly, delayed by `D`
//! frames. An automated ceiling travels with the audio: the ceiling that bounds
//! an output sample is the one in force when that sample entered.

use crate::alloc::{try_filled, AllocError};
use crate::kernels::floor;
use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Default `ceilingDb` (dBFS).
pub const DEFAULT_CEILING_DB: f64 = -1.0;
/// Default lookahead in ms (construction-only; becomes the latency).
pub const DEFAULT_LOOKAHEAD_MS: f64 = 5.0;
/// Default `releaseMs` (ms).
pub const DEFAULT_RELEASE_MS: f64 = 100.0;
/// Largest accepted lookahead in ms (larger values are clamped).
pub const MAX_LOOKAHEAD_MS: f64 = 1000.0;

/// Parameter table of [`Limiter`].
pub const PARAMS: &[ParamSpec] =
    &[ParamSpec::new("ceilingDb", -120.0, 24.0), ParamSpec::new("releaseMs", 0.0, 60_000.0)];

/// Gains live on a grid of `1 / ONE` so that the window sum is exact.
const ONE: u64 = 1 << 32;
const ONE_F: f64 = ONE as f64;
/// Upper bound on the lookahead in frames (keeps the window sum below 2⁵³).
const MAX_DELAY: usize = 1 << 20;

/// Sliding-window minimum over the last `cap` frames (a monotonic deque in a
/// fixed ring), amortized O(1) per frame.
#[derive(Debug, Clone, Default)]
struct MinWindow {
    frame: Vec<u64>,
    value: Vec<u64>,
    head: usize,
    len: usize,
}

impl MinWindow {
    fn with_capacity(cap: usize) -> Result<Self, AllocError> {
        Ok(Self { frame: try_filled(cap, 0)?, value: try_filled(cap, 0)?, head: 0, len: 0 })
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    #[inline]
    fn slot(&self, k: usize) -> usize {
        let cap = self.value.len().max(1);
        // `head < cap` and `k < cap`: one conditional wrap, no division.
        let i = self.head + k;
        if i >= cap {
            i - cap
        } else {
            i
        }
    }

    /// Adds `v` at frame `t` and returns the minimum over frames `t - cap + 1 ..= t`
    /// (frames before the first push count as `ONE`).
    #[inline]
    fn push(&mut self, t: u64, v: u64) -> u64 {
        let cap = self.value.len();
        if cap == 0 {
            return v;
        }
        // Expire the front.
        while self.len > 0 {
            let f = self.frame.get(self.head).copied().unwrap_or(t);
            if t.wrapping_sub(f) >= cap as u64 {
                self.head += 1;
                if self.head >= cap {
                    self.head = 0;
                }
                self.len -= 1;
            } else {
                break;
            }
        }
        // Drop larger-or-equal values from the back.
        while self.len > 0 {
            let back = self.slot(self.len - 1);
            if self.value.get(back).is_some_and(|&b| b >= v) {
                self.len -= 1;
            } else {
                break;
            }
        }
        if self.len < cap {
            let s = self.slot(self.len);
            if let (Some(f), Some(x)) = (self.frame.get_mut(s), self.value.get_mut(s)) {
                *f = t;
                *x = v;
            }
            self.len += 1;
        }
        self.value.get(self.head).copied().unwrap_or(v)
    }
}

/// The largest `f32` value not above `v` (as `f64`), for `v > 0`.
fn f32_floor(v: f64) -> f64 {
    let f = v as f32;
    if (f as f64) > v && f > 0.0 {
        f32::from_bits(f.to_bits() - 1) as f64
    } else {
        f as f64
    }
}

/// A linked lookahead peak limiter (see the module documentation).
///
/// ```
/// use ferrite_dsp::limiter::{Limiter, DEFAULT_CEILING_DB, DEFAULT_RELEASE_MS};
/// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
///
/// let mut lim = Limiter::new(5.0);
/// lim.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: 64, channels: 1 });
/// assert_eq!(lim.latency(), 240);
/// let params = [ParamBuffer::new(DEFAULT_CEILING_DB, 64), ParamBuffer::new(DEFAULT_RELEASE_MS, 64)];
/// let ceiling = 10f64.powf(-1.0 / 20.0);
/// for block in 0..10u64 {
///     let mut audio = [4.0f64; 64]; // +12 dBFS DC
///     let ctx = ProcessContext { frames: 64, position: block * 64, params: &params };
///     lim.process(&ctx, &mut Bus::new(&mut audio, 1, 64, 64));
///     assert!(audio.iter().all(|v| v.abs() <= ceiling));
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Limiter {
    lookahead_ms: f64,
    delay: usize,
    channels: usize,
    sample_rate: f64,
    /// Planar audio delay lines, `channels × delay`, sharing `pos`.
    line: Vec<f64>,
    /// The ceiling in force when each delayed frame entered.
    ceil_line: Vec<f64>,
    pos: usize,
    window: MinWindow,
    frame: u64,
    /// Release envelope in grid units (`0..=ONE`).
    env: f64,
    /// Last `W` quantized envelope values and their exact sum.
    box_ring: Vec<u64>,
    box_pos: usize,
    box_sum: u64,
    /// Per-block scratch (allocated in `prepare`).
    gain: Vec<f64>,
    ceil_out: Vec<f64>,
    peak: Vec<f64>,
    cached_ceiling_db: f64,
    ceiling: f64,
    cached_release_ms: f64,
    release_coef: f64,
    clamped: u64,
}

impl Limiter {
    /// A limiter with `lookahead_ms` of lookahead (construction-only, clamped to
    /// `0..=`[`MAX_LOOKAHEAD_MS`]; non-finite means the default). Its latency is
    /// `round(lookahead_ms · fs / 1000)` frames at the prepared rate, at least 1
    /// when the lookahead is above 0. The API default is [`DEFAULT_LOOKAHEAD_MS`].
    pub fn new(lookahead_ms: f64) -> Self {
        let lookahead_ms =
            if lookahead_ms.is_finite() { lookahead_ms.clamp(0.0, MAX_LOOKAHEAD_MS) } else { DEFAULT_LOOKAHEAD_MS };
        Self {
            lookahead_ms,
            delay: 0,
            channels: 0,
            sample_rate: 0.0,
            line: Vec::new(),
            ceil_line: Vec::new(),
            pos: 0,
            window: MinWindow::default(),
            frame: 0,
            env: ONE_F,
            box_ring: Vec::new(),
            box_pos: 0,
            box_sum: 0,
            gain: Vec::new(),
            ceil_out: Vec::new(),
            peak: Vec::new(),
            cached_ceiling_db: f64::NAN,
            ceiling: 1.0,
            cached_release_ms: f64::NAN,
            release_coef: 0.0,
            clamped: 0,
        }
    }

    /// The lookahead in frames for `sample_rate` (what `latency()` reports once prepared).
    pub fn lookahead_frames(&self, sample_rate: f64) -> usize {
        if self.lookahead_ms <= 0.0 || sample_rate.is_nan() || sample_rate <= 0.0 {
            return 0;
        }
        let f = (self.lookahead_ms * sample_rate / 1000.0).round();
        (f as usize).clamp(1, MAX_DELAY)
    }

    /// How many output samples the final safety clamp changed since `prepare`
    /// or `reset` (non-finite input; finite audio never needs it).
    pub fn clamp_count(&self) -> u64 {
        self.clamped
    }

    #[inline]
    fn update_ceiling(&mut self, db: f64) {
        if db != self.cached_ceiling_db {
            self.cached_ceiling_db = db;
            let db = if db.is_finite() { db.clamp(-120.0, 24.0) } else { DEFAULT_CEILING_DB };
            self.ceiling = f32_floor(10f64.powf(db / 20.0));
        }
    }

    #[inline]
    fn update_release(&mut self, ms: f64) {
        if ms != self.cached_release_ms {
            self.cached_release_ms = ms;
            let ms = if ms.is_finite() { ms.max(0.0) } else { DEFAULT_RELEASE_MS };
            let tau = ms / 1000.0 * self.sample_rate;
            self.release_coef = if tau > 0.0 { (-1.0 / tau).exp() } else { 0.0 };
        }
    }

    /// The required gain on the grid: the largest grid value `q` with `peak · q / ONE <= ceiling`.
    #[inline]
    fn required(peak: f64, ceiling: f64) -> u64 {
        if peak.is_nan() || peak <= ceiling {
            return ONE;
        }
        let g = ceiling / peak;
        let mut q = floor(g * ONE_F).clamp(0.0, ONE_F) as u64;
        while q > 0 && peak * (q as f64 / ONE_F) > ceiling {
            q -= 1;
        }
        q
    }

    /// Renders `n <= scratch` frames starting at block offset `off`.
    fn process_chunk(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>, off: usize, n: usize) {
        let ceil_p = ctx.param(0);
        let rel_p = ctx.param(1);
        let chans = io.channels().min(self.channels);

        // Pass 1: linked peak per frame.
        let peak = &mut self.peak[..n];
        peak.fill(0.0);
        for c in 0..chans {
            let x = io.channel(c).get(off..off + n).unwrap_or(&[]);
            for (p, v) in peak.iter_mut().zip(x) {
                *p = p.max(v.abs());
            }
        }

        // Pass 2: gain per frame and the ceiling that bounds each output frame.
        let d = self.delay;
        let w = d as u64 + 1;
        let denom = w as f64 * ONE_F;
        let mut pos = self.pos;
        for i in 0..n {
            self.update_ceiling(ceil_p.at(off + i));
            self.update_release(rel_p.at(off + i));
            let pk = self.peak.get(i).copied().unwrap_or(0.0);
            let q = Self::required(pk, self.ceiling);
            let h = self.window.push(self.frame, q);
            self.frame = self.frame.wrapping_add(1);
            let hf = h as f64;
            let a = self.release_coef;
            let mut e = hf - a * (hf - self.env);
            if e > hf || hf - e <= 1.0 {
                e = hf;
            }
            self.env = e;
            let b = (floor(e) as u64).min(h);
            if let Some(old) = self.box_ring.get_mut(self.box_pos) {
                self.box_sum = self.box_sum.wrapping_sub(*old).wrapping_add(b);
                *old = b;
            }
            self.box_pos += 1;
            if self.box_pos >= self.box_ring.len() {
                self.box_pos = 0;
            }
            if let Some(g) = self.gain.get_mut(i) {
                *g = self.box_sum as f64 / denom;
            }
            let c_out = match self.ceil_line.get_mut(pos) {
                Some(slot) => core::mem::replace(slot, self.ceiling),
                None => self.ceiling,
            };
            if let Some(co) = self.ceil_out.get_mut(i) {
                *co = c_out;
            }
            pos += 1;
            if pos >= d {
                pos = 0;
            }
        }

        // Pass 3: delay, gain, safety clamp, per channel.
        let gain = &self.gain[..n];
        let ceil_out = &self.ceil_out[..n];
        let mut clamped = 0u64;
        for c in 0..chans {
            let line = self.line.get_mut(c * d..(c + 1) * d).unwrap_or(&mut []);
            let x = io.channel_mut(c).get_mut(off..off + n).unwrap_or(&mut []);
            let mut p = self.pos;
            for ((s, g), lim) in x.iter_mut().zip(gain).zip(ceil_out) {
                let delayed = match line.get_mut(p) {
                    Some(slot) => core::mem::replace(slot, *s),
                    None => *s,
                };
                p += 1;
                if p >= d {
                    p = 0;
                }
                let y = delayed * g;
                *s = if y.abs() <= *lim {
                    y
                } else {
                    clamped += 1;
                    if y > 0.0 {
                        *lim
                    } else if y < 0.0 {
                        -*lim
                    } else {
                        0.0
                    }
                };
            }
        }
        self.clamped = self.clamped.wrapping_add(clamped);
        self.pos = pos;
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Self::new(DEFAULT_LOOKAHEAD_MS)
    }
}

impl Processor for Limiter {
    fn memory_bytes(&self, ctx: &PrepareContext) -> usize {
        // Delay lines (channels + ceiling), the window (two u64 per frame)
        // and its box ring, three scratch rows.
        let w = self.lookahead_frames(ctx.sample_rate) + 1;
        ((ctx.channels + 4) * w + 3 * ctx.max_block.max(1)) * size_of::<f64>()
    }

    fn prepare(&mut self, ctx: &PrepareContext) {
        if let Err(e) = self.try_prepare(ctx) {
            e.abort()
        }
    }

    /// Allocates the delay lines, the window and the scratch rows fallibly.
    fn try_prepare(&mut self, ctx: &PrepareContext) -> Result<(), AllocError> {
        self.sample_rate = ctx.sample_rate;
        let delay = self.lookahead_frames(ctx.sample_rate);
        let w = delay.saturating_add(1);
        let scratch = ctx.max_block.max(1);
        self.line = try_filled(ctx.channels.saturating_mul(delay), 0.0)?;
        self.ceil_line = try_filled(delay, 0.0)?;
        self.window = MinWindow::with_capacity(w)?;
        self.box_ring = try_filled(w, ONE)?;
        self.gain = try_filled(scratch, 1.0)?;
        self.ceil_out = try_filled(scratch, 0.0)?;
        self.peak = try_filled(scratch, 0.0)?;
        self.delay = delay;
        self.channels = ctx.channels;
        self.cached_ceiling_db = f64::NAN;
        self.cached_release_ms = f64::NAN;
        self.reset();
        Ok(())
    }

    /// # Realtime
    /// Does not allocate, lock or panic. Works in chunks of the prepared
    /// `max_block` if a longer block arrives.
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
        // Channels the limiter was not prepared for carry no delay line: silence them.
        for c in self.channels..io.channels() {
            io.channel_mut(c).fill(0.0);
        }
    }

    /// # Realtime
    /// Does not allocate, lock or panic.
    fn reset(&mut self) {
        self.line.fill(0.0);
        let c = self.ceiling;
        self.ceil_line.fill(c);
        self.pos = 0;
        self.window.clear();
        self.frame = 0;
        self.env = ONE_F;
        self.box_ring.fill(ONE);
        self.box_pos = 0;
        self.box_sum = ONE * self.box_ring.len() as u64;
        self.clamped = 0;
    }

    fn latency(&self) -> usize {
        self.delay
    }

    /// Takes the delay lines, envelope and window of a prepared `Limiter` with
    /// the same lookahead (in frames) and channel count.
    ///
    /// # Realtime
    /// Swaps buffers: does not allocate or free.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let Some(prev) = previous.as_any_mut().downcast_mut::<Limiter>() else {
            return false;
        };
        if prev.delay != self.delay
            || prev.channels != self.channels
            || prev.line.len() != self.line.len()
            || prev.box_ring.len() != self.box_ring.len()
        {
            return false;
        }
        core::mem::swap(&mut self.line, &mut prev.line);
        core::mem::swap(&mut self.ceil_line, &mut prev.ceil_line);
        core::mem::swap(&mut self.window, &mut prev.window);
        core::mem::swap(&mut self.box_ring, &mut prev.box_ring);
        self.pos = prev.pos;
        self.frame = prev.frame;
        self.env = prev.env;
        self.box_pos = prev.box_pos;
        self.box_sum = prev.box_sum;
        true
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

    /// A small deterministic generator (xorshift) for test signals in [-1, 1).
    fn noise(seed: u64, n: usize) -> Vec<f64> {
        crate::kernels::testutil::xorshift(seed.max(1), n)
    }

    /// Runs `lim` over planar `input` in blocks of `block`; `params(frame)` gives
    /// `[ceilingDb, releaseMs]` per frame (sent as varying when `varying`).
    fn run(
        lim: &mut Limiter,
        input: &[Vec<f64>],
        block: usize,
        varying: bool,
        params: &dyn Fn(usize) -> [f64; 2],
    ) -> Vec<Vec<f64>> {
        let ch = input.len();
        let n = input[0].len();
        let mut out = vec![vec![0.0; n]; ch];
        let mut pb = [ParamBuffer::new(0.0, block), ParamBuffer::new(0.0, block)];
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
            lim.process(&ctx, &mut Bus::new(&mut buf, ch, block, f));
            for c in 0..ch {
                out[c][start..start + f].copy_from_slice(&buf[c * block..c * block + f]);
            }
            start += f;
        }
        out
    }

    fn prepared(lookahead_ms: f64, channels: usize, max_block: usize) -> Limiter {
        let mut l = Limiter::new(lookahead_ms);
        l.prepare(&PrepareContext { sample_rate: FS, max_block, channels });
        l
    }

    fn defaults(_: usize) -> [f64; 2] {
        [DEFAULT_CEILING_DB, DEFAULT_RELEASE_MS]
    }

    #[test]
    fn hot_sine_never_exceeds_the_ceiling() {
        let amp = 10f64.powf(6.0 / 20.0);
        let ceiling = 10f64.powf(-1.0 / 20.0);
        let n = 48_000;
        let l: Vec<f64> = (0..n).map(|i| amp * (2.0 * core::f64::consts::PI * 997.0 * i as f64 / FS).sin()).collect();
        let r: Vec<f64> =
            (0..n).map(|i| amp * (2.0 * core::f64::consts::PI * 1503.0 * i as f64 / FS + 1.0).sin()).collect();
        let mut lim = prepared(DEFAULT_LOOKAHEAD_MS, 2, 128);
        let out = run(&mut lim, &[l, r], 128, false, &defaults);
        let peak = out.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak <= ceiling, "peak {peak} above ceiling {ceiling}");
        assert!(peak > 0.99 * ceiling, "limiter over-attenuates: peak {peak}");
        // Also after the conversion to f32 that crosses to JavaScript.
        assert!(out.iter().flatten().all(|v| (*v as f32).abs() as f64 <= ceiling));
        assert_eq!(lim.clamp_count(), 0, "the safety clamp had to act");
    }

    #[test]
    fn bursts_and_fast_release_never_exceed_the_ceiling_without_the_clamp() {
        // Quiet noise with sudden loud spikes and a 1 ms release: the hardest case
        // for a smoothed gain. Various ceilings and lookaheads.
        for (k, (look, ceil_db)) in
            [(5.0, -1.0), (0.5, -6.0), (0.02, -0.1), (0.0, -3.0), (2.0, 0.0)].into_iter().enumerate()
        {
            let ceiling = 10f64.powf(ceil_db / 20.0);
            let mut x = noise(7 + k as u64, 20_000);
            for (i, v) in x.iter_mut().enumerate() {
                *v *= if i % 997 < 3 {
                    30.0
                } else if i % 3001 < 400 {
                    4.0
                } else {
                    0.2
                };
            }
            let y2: Vec<f64> = x.iter().map(|v| -0.5 * v).collect();
            let mut lim = prepared(look, 2, 64);
            let out = run(&mut lim, &[x, y2], 64, false, &|_| [ceil_db, 1.0]);
            let peak = out.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(peak <= ceiling, "lookahead {look}: peak {peak} above {ceiling}");
            assert!(peak > 0.9 * ceiling);
            assert_eq!(lim.clamp_count(), 0, "lookahead {look}: safety clamp acted");
        }
    }

    #[test]
    fn automated_ceiling_bounds_each_sample_with_the_ceiling_it_entered_with() {
        let n = 9_600;
        let x: Vec<f64> = noise(3, n).iter().map(|v| 3.0 * v).collect();
        let ceil_db = |i: usize| -12.0 + 10.0 * (i as f64 / 700.0).sin();
        let mut lim = prepared(2.0, 1, 37);
        let d = lim.latency();
        let out = run(&mut lim, &[x], 37, true, &|i| [ceil_db(i), 20.0]);
        for (i, y) in out[0].iter().enumerate().skip(d) {
            let c = 10f64.powf(ceil_db(i - d) / 20.0);
            assert!(y.abs() <= c, "frame {i}: {y} above {c}");
        }
        assert_eq!(lim.clamp_count(), 0);
    }

    #[test]
    fn signal_below_the_ceiling_is_a_bit_exact_delayed_copy() {
        let n = 5_000;
        let a: Vec<f64> = noise(11, n).iter().map(|v| 0.85 * v).collect();
        let b: Vec<f64> = noise(12, n).iter().map(|v| 0.3 * v).collect();
        let mut lim = prepared(DEFAULT_LOOKAHEAD_MS, 2, 128);
        let d = lim.latency();
        assert_eq!(d, 240);
        let out = run(&mut lim, &[a.clone(), b.clone()], 128, false, &defaults);
        for (o, x) in out.iter().zip([&a, &b]) {
            assert!(o[..d].iter().all(|v| *v == 0.0));
            assert_eq!(&o[d..], &x[..n - d]);
        }
    }

    #[test]
    fn impulse_arrives_at_exactly_the_latency() {
        for (look, fs, expect) in [
            (5.0, 48_000.0, 240usize),
            (5.0, 44_100.0, 221),
            (1.3, 96_000.0, 125),
            (0.001, 48_000.0, 1),
            (0.0, 48_000.0, 0),
        ] {
            let mut lim = Limiter::new(look);
            lim.prepare(&PrepareContext { sample_rate: fs, max_block: 64, channels: 1 });
            assert_eq!(lim.latency(), expect, "lookahead {look} ms at {fs}");
            let mut x = vec![0.0; 600];
            x[0] = 0.5;
            let out = run(&mut lim, &[x], 64, false, &defaults);
            let nz: Vec<usize> = (0..600).filter(|&i| out[0][i] != 0.0).collect();
            assert_eq!(nz, vec![expect]);
            assert_eq!(out[0][expect], 0.5);
        }
        // A loud impulse is brought exactly to (not above) the ceiling at the same frame.
        let mut lim = prepared(DEFAULT_LOOKAHEAD_MS, 1, 64);
        let mut x = vec![0.0; 600];
        x[10] = 4.0;
        let out = run(&mut lim, &[x], 64, false, &defaults);
        let c = 10f64.powf(-1.0 / 20.0);
        assert!(out[0][250] <= c && out[0][250] > c * (1.0 - 1e-6), "{}", out[0][250]);
    }

    #[test]
    fn release_recovers_with_the_documented_time_constant() {
        let release_ms = 50.0;
        let n = 48_000 * 3;
        let mut x = vec![0.1; n];
        x[1000] = 10.0;
        let mut lim = prepared(1.0, 1, 128);
        let d = lim.latency();
        let out = run(&mut lim, std::slice::from_ref(&x), 128, false, &|_| [DEFAULT_CEILING_DB, release_ms]);
        let deficit = |i: usize| 1.0 - out[0][i] / x[i - d];
        // Once the peak has left both windows, 1 - g decays by exp(-1/τ) per frame.
        let n0 = 1000 + 3 * (d + 1) + 10;
        let tau = release_ms / 1000.0 * FS;
        for k in [1usize, 100, tau as usize, 5 * tau as usize] {
            let ratio = deficit(n0 + k) / deficit(n0);
            let expect = (-(k as f64) / tau).exp();
            assert!((ratio - expect).abs() < 1e-6 * expect.max(1e-3), "k {k}: {ratio} vs {expect}");
        }
        assert!(deficit(n0) > 0.5);
        // Recovery reaches exact unity gain: the tail is a bit-exact delayed copy.
        let tail = n - 10_000;
        assert_eq!(&out[0][tail..], &x[tail - d..n - d]);
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let n = 6_000;
        let a: Vec<f64> =
            noise(5, n).iter().enumerate().map(|(i, v)| v * if i % 1500 < 300 { 5.0 } else { 0.5 }).collect();
        let b: Vec<f64> = noise(6, n).iter().map(|v| 2.0 * v).collect();
        let params = |i: usize| [-3.0 - (i as f64 / 500.0).cos(), 30.0 + 20.0 * (i as f64 / 900.0).sin()];
        let reference = run(&mut prepared(3.0, 2, 1), &[a.clone(), b.clone()], 1, true, &params);
        for block in [37, 64, 128] {
            let out = run(&mut prepared(3.0, 2, block), &[a.clone(), b.clone()], block, true, &params);
            assert_eq!(out, reference, "block {block}");
        }
    }

    #[test]
    fn take_state_continues_and_reset_starts_over() {
        let n = 4_000;
        let x: Vec<f64> = noise(9, n).iter().map(|v| 3.0 * v).collect();
        let whole = run(&mut prepared(2.0, 1, 64), std::slice::from_ref(&x), 64, false, &defaults);
        let mut first = prepared(2.0, 1, 64);
        let head = run(&mut first, &[x[..1_000].to_vec()], 64, false, &defaults);
        let mut second = prepared(2.0, 1, 64);
        assert!(second.take_state(&mut first));
        let mut tail = run(&mut second, &[x[1_000..].to_vec()], 64, false, &defaults);
        let mut joined = head[0].clone();
        joined.append(&mut tail[0]);
        assert_eq!(joined, whole[0]);
        // Different lookahead: nothing taken.
        assert!(!prepared(3.0, 1, 64).take_state(&mut second));
        second.reset();
        let again = run(&mut second, std::slice::from_ref(&x), 64, false, &defaults);
        assert_eq!(again, whole);
    }

    #[test]
    fn non_finite_input_is_caught_by_the_counted_clamp() {
        let mut x = vec![0.5; 400];
        x[5] = f64::NAN;
        x[50] = f64::INFINITY;
        let mut lim = prepared(1.0, 1, 64);
        let out = run(&mut lim, &[x], 64, false, &defaults);
        let c = 10f64.powf(-1.0 / 20.0);
        assert!(out[0].iter().all(|v| v.is_finite() && v.abs() <= c));
        assert!(lim.clamp_count() >= 2);
    }
}
