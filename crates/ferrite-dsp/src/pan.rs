//! `pan`: constant-power stereo panning.
//!
//! Parameters (in [`ProcessContext::params`] order): `0 = pan` (-1 = hard
//! left, 0 = centre, +1 = hard right; default 0; clamped to -1..=1 at run
//! time, NaN reads as 0).
//!
//! Law: `θ = (pan + 1)·π/4`, `left *= cos θ`, `right *= sin θ`. A centred
//! source is attenuated by 3 dB in each channel, and for a mono source
//! duplicated on both channels `L² + R²` does not depend on `pan`.
//!
//! Channels 0 and 1 are the stereo pair. With fewer than two channels the bus
//! passes through unchanged; channels from 2 on are left untouched.

use core::f64::consts::FRAC_PI_4;

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameter table of [`Pan`].
pub const PARAMS: &[ParamSpec] = &[ParamSpec::new("pan", -1.0, 1.0)];

/// A constant-power stereo panner. Stateless, so any block split gives the
/// same output.
///
/// ```
/// use ferrite_dsp::pan::Pan;
/// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
///
/// let mut p = Pan::new();
/// p.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 1, channels: 2 });
/// let params = [ParamBuffer::new(1.0, 1)]; // hard right
/// let mut data = vec![1.0, 1.0];
/// let ctx = ProcessContext { frames: 1, position: 0, params: &params };
/// p.process(&ctx, &mut Bus::new(&mut data, 2, 1, 1));
/// assert!(data[0].abs() < 1e-15 && data[1] == 1.0);
/// ```
#[derive(Debug, Clone)]
pub struct Pan {
    /// The last constant position and its gains (a constant pan computes
    /// its sine and cosine once, not every block).
    cached: (f64, (f64, f64)),
}

impl Default for Pan {
    fn default() -> Self {
        Self::new()
    }
}

impl Pan {
    /// A panner; the position arrives as parameter 0.
    pub fn new() -> Self {
        Self { cached: (0.0, gains(0.0)) }
    }
}

/// `(left gain, right gain)` for a pan position (clamped to -1..=1; NaN is 0).
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn gains(pan: f64) -> (f64, f64) {
    let pan = if pan.is_nan() { 0.0 } else { pan.clamp(-1.0, 1.0) };
    let theta = (pan + 1.0) * FRAC_PI_4;
    (theta.cos(), theta.sin())
}

impl Processor for Pan {
    /// Reads (and caches) the SIMD level on the control side: its first
    /// read consults `FERRITE_SIMD`, which must not happen on the audio thread.
    fn prepare(&mut self, _ctx: &PrepareContext) {
        let _ = crate::kernels::simd_level();
    }

    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let pan = ctx.param(0);
        let Some((left, right)) = io.pair_mut(0, 1) else {
            return;
        };
        match pan.constant() {
            Some(p) => {
                // `gains` is a pure function: the cache changes no bits.
                if self.cached.0.to_bits() != p.to_bits() {
                    self.cached = (p, gains(p));
                }
                let (gl, gr) = self.cached.1;
                crate::kernels::pan_stereo(left, right, gl, gr);
            }
            None => {
                for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
                    let (gl, gr) = gains(pan.at(i));
                    *l *= gl;
                    *r *= gr;
                }
            }
        }
    }

    fn reset(&mut self) {}

    /// Nothing to move (stateless); returns `true` when `previous` is a [`Pan`].
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        previous.as_any_mut().downcast_mut::<Self>().is_some()
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::ParamBuffer;
    use core::f64::consts::PI;

    fn run(pan: &mut ParamBuffer, channels: usize, input: &[f64], frames: usize) -> Vec<f64> {
        let mut p = Pan::new();
        p.prepare(&PrepareContext { sample_rate: 48000.0, max_block: frames, channels });
        let mut data = input.to_vec();
        let params = [pan.clone()];
        let ctx = ProcessContext { frames, position: 0, params: &params };
        p.process(&ctx, &mut Bus::new(&mut data, channels, frames, frames));
        data
    }

    #[test]
    fn constant_pan_follows_the_constant_power_law() {
        let l_in = [0.5, -1.0, 0.25];
        let r_in = [0.75, 0.5, -0.125];
        let input: Vec<f64> = l_in.iter().chain(r_in.iter()).copied().collect();
        for pan in [-1.0, -0.6, -0.25, 0.0, 0.3, 0.8, 1.0] {
            let out = run(&mut ParamBuffer::new(pan, 3), 2, &input, 3);
            let theta = (pan + 1.0) * PI / 4.0;
            for i in 0..3 {
                assert!((out[i] - l_in[i] * theta.cos()).abs() < 1e-15, "pan {pan}");
                assert!((out[3 + i] - r_in[i] * theta.sin()).abs() < 1e-15, "pan {pan}");
            }
            // Duplicated mono source: constant power.
            let out = run(&mut ParamBuffer::new(pan, 3), 2, &[0.8; 6], 3);
            assert!((out[0] * out[0] + out[3] * out[3] - 0.64).abs() < 1e-15);
        }
        // Centre is -3 dB in each channel.
        let out = run(&mut ParamBuffer::new(0.0, 1), 2, &[1.0, 1.0], 1);
        assert!((20.0 * out[0].log10() + 3.0103).abs() < 1e-3);
        assert!((out[0] - out[1]).abs() < 1e-15);
        // Hard left silences the right channel.
        let out = run(&mut ParamBuffer::new(-1.0, 1), 2, &[1.0, 1.0], 1);
        assert_eq!(out[0], 1.0);
        assert!(out[1].abs() < 1e-15);
    }

    #[test]
    fn out_of_range_pan_is_clamped() {
        let hi = run(&mut ParamBuffer::new(7.0, 1), 2, &[1.0, 1.0], 1);
        let one = run(&mut ParamBuffer::new(1.0, 1), 2, &[1.0, 1.0], 1);
        assert_eq!(hi, one);
        let lo = run(&mut ParamBuffer::new(-3.0, 1), 2, &[1.0, 1.0], 1);
        assert_eq!(lo, vec![1.0, (0.0f64).sin()]);
        let nan = run(&mut ParamBuffer::new(f64::NAN, 1), 2, &[1.0, 1.0], 1);
        assert!((nan[0] - (PI / 4.0).cos()).abs() < 1e-15);
    }

    #[test]
    fn automated_pan_applies_per_frame() {
        let pans = [-1.0, -0.5, 0.0, 0.5, 1.0];
        let mut buf = ParamBuffer::new(0.0, 5);
        buf.varying_mut(5).copy_from_slice(&pans);
        let out = run(&mut buf, 2, &[1.0; 10], 5);
        for (i, pan) in pans.iter().enumerate() {
            let theta = (pan + 1.0) * PI / 4.0;
            assert!((out[i] - theta.cos()).abs() < 1e-15);
            assert!((out[5 + i] - theta.sin()).abs() < 1e-15);
        }
    }

    #[test]
    fn mono_passes_through_and_extra_channels_are_untouched() {
        let out = run(&mut ParamBuffer::new(0.7, 2), 1, &[0.3, -0.4], 2);
        assert_eq!(out, vec![0.3, -0.4]);
        let out = run(&mut ParamBuffer::new(0.0, 1), 3, &[1.0, 1.0, 0.9], 1);
        let g = (PI / 4.0).cos();
        assert!((out[0] - g).abs() < 1e-15 && (out[1] - g).abs() < 1e-15);
        assert_eq!(out[2], 0.9);
    }
}
