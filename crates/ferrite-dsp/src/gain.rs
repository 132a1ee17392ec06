//! `gain`: multiplies every channel by a linear gain.
//!
//! Parameters (in [`ProcessContext::params`] order): `0 = gain` (linear, default 1).

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameter table of [`Gain`].
pub const PARAMS: &[ParamSpec] = &[ParamSpec::new("gain", -1.0e6, 1.0e6)];

/// A linear gain stage. Stateless, so any block split gives the same output.
#[derive(Debug, Default, Clone)]
pub struct Gain;

impl Gain {
    /// A gain stage; the gain itself arrives as parameter 0.
    pub fn new() -> Self {
        Self
    }
}

impl Processor for Gain {
    /// Reads (and caches) the SIMD level on the control side: its first
    /// read consults `FERRITE_SIMD`, which must not happen on the audio thread.
    fn prepare(&mut self, _ctx: &PrepareContext) {
        let _ = crate::kernels::simd_level();
    }

    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let g = ctx.param(0);
        match g.constant() {
            // The gain kernels (vectorized at the run-time SIMD level; a
            // product per sample, the same bits at every level).
            Some(g) => {
                if g != 1.0 {
                    for ch in io.channels_mut() {
                        crate::kernels::gain(ch, g);
                    }
                }
            }
            None => {
                for ch in io.channels_mut() {
                    for (i, x) in ch.iter_mut().enumerate() {
                        *x *= g.at(i);
                    }
                }
            }
        }
    }

    fn reset(&mut self) {}

    /// The same product on every channel, no state: a mono block stays mono.
    fn channel_symmetric(&self) -> bool {
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

    #[test]
    fn constant_and_varying_gain_scale_each_frame() {
        let mut data: Vec<f64> = (0..8).map(|i| i as f64).collect();
        let mut params = [ParamBuffer::new(0.5, 4)];
        let mut g = Gain::new();
        g.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 4, channels: 2 });
        {
            let ctx = ProcessContext { frames: 4, position: 0, params: &params };
            g.process(&ctx, &mut Bus::new(&mut data, 2, 4, 4));
        }
        assert_eq!(data, vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]);
        params[0].varying_mut(4).copy_from_slice(&[1.0, 2.0, 0.0, -1.0]);
        let ctx = ProcessContext { frames: 4, position: 4, params: &params };
        g.process(&ctx, &mut Bus::new(&mut data, 2, 4, 4));
        assert_eq!(data, vec![0.0, 1.0, 0.0, -1.5, 2.0, 5.0, 0.0, -3.5]);
    }
}
