//! `delay`: a musical feedback delay (not latency compensation: it reports
//! zero latency and the compiler does not compensate for it).
//!
//! Parameters (in [`ProcessContext::params`] order):
//! - `0 = frames`: delay length in frames, fractional values allowed (linear
//!   interpolation, so the length can be automated smoothly); clamped at run
//!   time to `0..=max_frames` (NaN reads as 0). No default (construction value).
//! - `1 = feedback`: `-0.999..=0.999` (clamped at run time), default 0.
//! - `2 = mix`: dry/wet, `0..=1` (clamped at run time), default 1.
//!
//! Per channel and frame, with `x` the input:
//! `wet = line(frames)`, `line_in = x + feedback·wet`,
//! `out = (1 - mix)·x + mix·wet`. `line(d)` is the `line_in` of `d` frames ago;
//! for a fractional `d = i + f` it is `(1-f)·line(i) + f·line(i+1)`, and
//! `line(0)` is the current `x` (so `frames = 0` gives `wet = x`: no delay).
//! With the defaults (`feedback = 0`, `mix = 1`) it is a pure delay.
//!
//! `max_frames` is construction-only: it sizes the delay lines, allocated in
//! [`Processor::prepare`] (`channels` lines of `max_frames + max_block + 4`
//! frames, rounded up to a power of two, 8 bytes each). The caller bounds it:
//! nothing here refuses a huge value.

use crate::alloc::{try_zeroed, AllocError};
use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameter table of [`Delay`]. `frames` is further clamped to the
/// instance's `max_frames` at run time.
pub const PARAMS: &[ParamSpec] =
    &[ParamSpec::new("frames", 0.0, 1.0e9), ParamSpec::new("feedback", -0.999, 0.999), ParamSpec::new("mix", 0.0, 1.0)];

/// Largest accepted magnitude of `feedback`.
const MAX_FEEDBACK: f64 = 0.999;

/// A feedback delay with one line per channel.
///
/// ```
/// use ferrite_dsp::delay::Delay;
/// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
///
/// let mut d = Delay::new(100);
/// d.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 8, channels: 1 });
/// // 3 frames, feedback 0, mix 1: a pure delay
/// let params = [ParamBuffer::new(3.0, 8), ParamBuffer::new(0.0, 8), ParamBuffer::new(1.0, 8)];
/// let mut data = vec![1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
/// let ctx = ProcessContext { frames: 8, position: 0, params: &params };
/// d.process(&ctx, &mut Bus::new(&mut data, 1, 8, 8));
/// assert_eq!(data, vec![0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0]);
/// ```
#[derive(Debug, Clone)]
pub struct Delay {
    max_frames: usize,
    /// One ring buffer per channel, each `mask + 1` long (a power of two).
    lines: Vec<Box<[f64]>>,
    mask: usize,
    /// Ring index the next frame's `line_in` is written to (same for every channel).
    write: usize,
}

impl Delay {
    /// A delay able to hold up to `max_frames` frames. Lines are allocated in
    /// [`Processor::prepare`].
    pub fn new(max_frames: usize) -> Self {
        Self { max_frames, lines: Vec::new(), mask: 0, write: 0 }
    }

    /// The longest delay this instance renders, in frames.
    pub fn max_frames(&self) -> usize {
        self.max_frames
    }
}

/// `v` clamped to `lo..=hi`, with NaN read as `nan`.
#[inline(always)]
fn clamp_or(v: f64, lo: f64, hi: f64, nan: f64) -> f64 {
    if v.is_nan() {
        nan
    } else {
        v.clamp(lo, hi)
    }
}

impl Delay {
    /// Frames of each channel's ring: reads reach `max_frames + 1` frames
    /// back (interpolation); the slack keeps the ring a power of two.
    fn capacity(&self, ctx: &PrepareContext) -> usize {
        self.max_frames
            .saturating_add(ctx.max_block)
            .saturating_add(4)
            .checked_next_power_of_two()
            .unwrap_or(usize::MAX / 2 + 1)
    }
}

impl Processor for Delay {
    fn memory_bytes(&self, ctx: &PrepareContext) -> usize {
        self.capacity(ctx).saturating_mul(ctx.channels).saturating_mul(size_of::<f64>())
    }

    fn prepare(&mut self, ctx: &PrepareContext) {
        if let Err(e) = self.try_prepare(ctx) {
            e.abort()
        }
    }

    /// Allocates one ring of the capacity per channel, fallibly: a ring the
    /// machine cannot hold is an error naming its total size.
    fn try_prepare(&mut self, ctx: &PrepareContext) -> Result<(), AllocError> {
        let cap = self.capacity(ctx);
        self.lines = Vec::new();
        let mut lines = Vec::new();
        lines.try_reserve_exact(ctx.channels).map_err(|_| AllocError::of::<Box<[f64]>>(ctx.channels))?;
        for _ in 0..ctx.channels {
            lines.push(try_zeroed::<f64>(cap).map_err(|_| AllocError::of::<f64>(cap.saturating_mul(ctx.channels)))?);
        }
        self.lines = lines;
        self.mask = cap - 1;
        self.write = 0;
        Ok(())
    }

    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let (frames_p, fb_p, mix_p) = (ctx.param(0), ctx.param(1), ctx.param(2));
        let max_d = self.max_frames as f64;
        let mask = self.mask;
        let start = self.write;
        for (line, ch) in self.lines.iter_mut().zip(io.channels_mut()) {
            let mut w = start;
            for (i, x) in ch.iter_mut().enumerate() {
                let d = clamp_or(frames_p.at(i), 0.0, max_d, 0.0);
                let fb = clamp_or(fb_p.at(i), -MAX_FEEDBACK, MAX_FEEDBACK, 0.0);
                let mix = clamp_or(mix_p.at(i), 0.0, 1.0, 1.0);
                let input = *x;
                // `d` is in 0..=max_frames, so the cast is exact and in range.
                let k = d as usize;
                let frac = d - k as f64;
                let tap = |k: usize| -> f64 {
                    if k == 0 {
                        input
                    } else {
                        line.get(w.wrapping_sub(k) & mask).copied().unwrap_or(0.0)
                    }
                };
                let a = tap(k);
                let wet = if frac > 0.0 { a + frac * (tap(k + 1) - a) } else { a };
                if let Some(slot) = line.get_mut(w & mask) {
                    *slot = input + fb * wet;
                }
                *x = (1.0 - mix) * input + mix * wet;
                w = (w + 1) & mask;
            }
        }
        self.write = (start + io.frames()) & mask;
    }

    fn reset(&mut self) {
        for line in &mut self.lines {
            line.fill(0.0);
        }
        self.write = 0;
    }

    /// Copies the most recent history of a previous [`Delay`] into this
    /// (prepared) one, channel by channel, as much as both lines hold.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let Some(prev) = previous.as_any_mut().downcast_mut::<Self>() else {
            return false;
        };
        for (dst, src) in self.lines.iter_mut().zip(prev.lines.iter()) {
            let n = dst.len().min(src.len());
            for k in 1..=n {
                let from = prev.write.wrapping_sub(k) & prev.mask;
                let to = self.write.wrapping_sub(k) & self.mask;
                if let (Some(s), Some(d)) = (src.get(from), dst.get_mut(to)) {
                    *d = *s;
                }
            }
        }
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

    /// Per-frame parameter values for a render.
    #[derive(Clone)]
    enum P {
        Const(f64),
        Frames(Vec<f64>),
    }

    /// Renders a mono signal (written to every channel) through `d` in blocks of `block`.
    fn render(d: &mut Delay, x: &[f64], params: &[P], block: usize, channels: usize) -> Vec<Vec<f64>> {
        // Missing trailing parameters take the engine's defaults (feedback 0, mix 1).
        let defaults = [P::Const(0.0), P::Const(0.0), P::Const(1.0)];
        let params: Vec<P> = (0..3).map(|i| params.get(i).unwrap_or(&defaults[i]).clone()).collect();
        let params = &params[..];
        let mut bufs: Vec<ParamBuffer> = params.iter().map(|_| ParamBuffer::new(0.0, block)).collect();
        let mut out = vec![Vec::new(); channels];
        let mut pos = 0;
        while pos < x.len() {
            let n = block.min(x.len() - pos);
            for (b, p) in bufs.iter_mut().zip(params) {
                match p {
                    P::Const(v) => b.set_constant(*v),
                    P::Frames(v) => b.varying_mut(n).copy_from_slice(&v[pos..pos + n]),
                }
            }
            let mut data = vec![0.0; channels * block];
            for c in 0..channels {
                data[c * block..c * block + n].copy_from_slice(&x[pos..pos + n]);
            }
            let ctx = ProcessContext { frames: n, position: pos as u64, params: &bufs };
            let mut bus = Bus::new(&mut data, channels, block, n);
            d.process(&ctx, &mut bus);
            for (c, o) in out.iter_mut().enumerate() {
                o.extend_from_slice(bus.channel(c));
            }
            pos += n;
        }
        out
    }

    fn prepared(max_frames: usize, block: usize, channels: usize) -> Delay {
        let mut d = Delay::new(max_frames);
        d.prepare(&PrepareContext { sample_rate: 48000.0, max_block: block, channels });
        d
    }

    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn impulse_response_with_feedback_matches_formula() {
        let (dl, fb, mix) = (10usize, -0.6, 0.7);
        let mut x = vec![0.0; 100];
        x[0] = 1.0;
        let mut d = prepared(64, 16, 2);
        let out = render(&mut d, &x, &[P::Const(dl as f64), P::Const(fb), P::Const(mix)], 16, 2);
        for ch in &out {
            for (n, &y) in ch.iter().enumerate() {
                let want = if n == 0 {
                    1.0 - mix
                } else if n % dl == 0 {
                    mix * f64::powi(fb, (n / dl) as i32 - 1)
                } else {
                    0.0
                };
                assert!((y - want).abs() < 1e-12, "n {n}: {y} vs {want}");
            }
        }
    }

    #[test]
    fn integer_delay_is_exact_and_mix_blends_dry_and_wet() {
        let x = noise(500, 1);
        let mut d = prepared(300, 64, 1);
        let out = render(&mut d, &x, &[P::Const(37.0)], 64, 1);
        for n in 0..x.len() {
            assert_eq!(out[0][n], if n >= 37 { x[n - 37] } else { 0.0 });
        }
        let mix = 0.25;
        let mut d = prepared(300, 64, 1);
        let out = render(&mut d, &x, &[P::Const(5.0), P::Const(0.0), P::Const(mix)], 64, 1);
        for n in 0..x.len() {
            let wet = if n >= 5 { x[n - 5] } else { 0.0 };
            assert!((out[0][n] - ((1.0 - mix) * x[n] + mix * wet)).abs() < 1e-15);
        }
    }

    #[test]
    fn delay_longer_than_block_and_zero_delay() {
        let x = noise(2000, 2);
        let mut d = prepared(1500, 128, 1);
        let out = render(&mut d, &x, &[P::Const(1234.0), P::Const(0.0), P::Const(1.0)], 128, 1);
        for n in 0..x.len() {
            assert_eq!(out[0][n], if n >= 1234 { x[n - 1234] } else { 0.0 });
        }
        let mut d = prepared(1500, 128, 1);
        let out = render(&mut d, &x, &[P::Const(0.0), P::Const(0.5), P::Const(1.0)], 128, 1);
        assert_eq!(out[0], x);
        // Longer than max_frames is clamped to max_frames.
        let mut d = prepared(100, 128, 1);
        let out = render(&mut d, &x, &[P::Const(5000.0)], 128, 1);
        for n in 0..x.len() {
            assert_eq!(out[0][n], if n >= 100 { x[n - 100] } else { 0.0 });
        }
    }

    #[test]
    fn fractional_and_automated_delay_interpolates_linearly() {
        let x = noise(400, 3);
        let mut d = prepared(64, 32, 1);
        let out = render(&mut d, &x, &[P::Const(3.25)], 32, 1);
        let at = |n: isize| if n >= 0 { x[n as usize] } else { 0.0 };
        for n in 0..x.len() as isize {
            let want = 0.75 * at(n - 3) + 0.25 * at(n - 4);
            assert!((out[0][n as usize] - want).abs() < 1e-15);
        }
        // A sweep from 0.5 to 40.5 frames, no feedback: out[n] = x[n - d(n)] interpolated.
        let sweep: Vec<f64> = (0..400).map(|n| 0.5 + 40.0 * n as f64 / 399.0).collect();
        let mut d = prepared(64, 32, 1);
        let out = render(&mut d, &x, &[P::Frames(sweep.clone())], 32, 1);
        for (n, &dn) in sweep.iter().enumerate() {
            let k = dn.floor();
            let f = dn - k;
            let n = n as isize;
            let k = k as isize;
            let want = (1.0 - f) * at(n - k) + f * at(n - k - 1);
            assert!((out[0][n as usize] - want).abs() < 1e-12, "n {n}");
        }
    }

    #[test]
    fn block_size_does_not_change_the_output() {
        let x = noise(1000, 4);
        let frames: Vec<f64> = (0..1000).map(|n| 20.0 + 15.0 * (n as f64 * 0.01).sin()).collect();
        let fb: Vec<f64> = (0..1000).map(|n| 0.9 * (n as f64 * 0.003).cos()).collect();
        let params = [P::Frames(frames), P::Frames(fb), P::Const(0.6)];
        let reference = render(&mut prepared(64, 1, 2), &x, &params, 1, 2);
        for block in [37, 64, 128] {
            let out = render(&mut prepared(64, block, 2), &x, &params, block, 2);
            assert_eq!(out, reference, "block {block}");
        }
    }

    #[test]
    fn take_state_keeps_the_line_across_a_swap() {
        let x = noise(600, 5);
        let params = [P::Const(150.0)];
        let mut first = prepared(200, 64, 2);
        let a = render(&mut first, &x[..300], &params, 64, 2);
        // A new instance (different block size, so a different ring size) takes over.
        let mut second = prepared(200, 128, 2);
        assert!(second.take_state(&mut first));
        let b = render(&mut second, &x[300..], &params, 128, 2);
        for c in 0..2 {
            let out: Vec<f64> = a[c].iter().chain(b[c].iter()).copied().collect();
            for n in 0..x.len() {
                assert_eq!(out[n], if n >= 150 { x[n - 150] } else { 0.0 }, "ch {c} n {n}");
            }
        }
        // Without take_state the history is lost (so the check above can fail).
        let mut third = prepared(200, 128, 2);
        let c = render(&mut third, &x[300..], &params, 128, 2);
        assert_ne!(c[0][0], x[150]);
        assert!(!third.take_state(&mut crate::gain::Gain::new()));
    }

    #[test]
    fn reset_clears_the_line() {
        let x = noise(100, 6);
        let mut d = prepared(50, 100, 1);
        render(&mut d, &x, &[P::Const(40.0), P::Const(0.9)], 100, 1);
        d.reset();
        let out = render(&mut d, &[0.0; 100], &[P::Const(40.0), P::Const(0.9)], 100, 1);
        assert!(out[0].iter().all(|&y| y == 0.0));
    }
}
