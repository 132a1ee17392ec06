//! `constant`: a source writing one value (possibly automated) into every channel.
//!
//! Parameters (in [`ProcessContext::params`] order): `0 = value` (any finite
//! number; no default, the node's construction value).
//!
//! The input bus is overwritten: whatever is connected into a constant node is
//! discarded, as for every source.

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameter table of [`Constant`].
pub const PARAMS: &[ParamSpec] = &[ParamSpec::new("value", -1.0e9, 1.0e9)];

/// A constant (or automated) signal source. Stateless, so any block split
/// gives the same output.
///
/// ```
/// use ferrite_dsp::constant::Constant;
/// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
///
/// let mut c = Constant::new();
/// c.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 2, channels: 2 });
/// let params = [ParamBuffer::new(0.25, 2)];
/// let mut data = vec![9.0; 4];
/// let ctx = ProcessContext { frames: 2, position: 0, params: &params };
/// c.process(&ctx, &mut Bus::new(&mut data, 2, 2, 2));
/// assert_eq!(data, vec![0.25; 4]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Constant;

impl Constant {
    /// A constant source; the value itself arrives as parameter 0.
    pub fn new() -> Self {
        Self
    }
}

impl Processor for Constant {
    fn prepare(&mut self, _ctx: &PrepareContext) {}

    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let v = ctx.param(0);
        match v.constant() {
            Some(v) => {
                for ch in io.channels_mut() {
                    ch.fill(v);
                }
            }
            None => {
                for ch in io.channels_mut() {
                    for (i, x) in ch.iter_mut().enumerate() {
                        *x = v.at(i);
                    }
                }
            }
        }
    }

    fn reset(&mut self) {}

    /// Nothing to move (stateless); returns `true` when `previous` is a [`Constant`].
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        previous.as_any_mut().downcast_mut::<Self>().is_some()
    }

    /// Every channel of the block is written (a generator).
    fn overwrites_output(&self) -> bool {
        true
    }

    /// Every channel is channel 0: a one-channel bus gets channel 0 only.
    fn mono_source(&self) -> bool {
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
    fn writes_constant_and_automated_value_into_every_channel() {
        let mut data: Vec<f64> = (0..12).map(|i| i as f64 * 10.0).collect();
        let mut params = [ParamBuffer::new(0.25, 4)];
        let mut c = Constant::new();
        c.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 4, channels: 3 });
        {
            let ctx = ProcessContext { frames: 4, position: 0, params: &params };
            c.process(&ctx, &mut Bus::new(&mut data, 3, 4, 4));
        }
        assert_eq!(data, vec![0.25; 12]);
        params[0].varying_mut(4).copy_from_slice(&[1.0, -2.0, 3.5, 0.0]);
        let ctx = ProcessContext { frames: 4, position: 4, params: &params };
        c.process(&ctx, &mut Bus::new(&mut data, 3, 4, 4));
        for ch in data.chunks(4) {
            assert_eq!(ch, &[1.0, -2.0, 3.5, 0.0]);
        }
    }

    #[test]
    fn take_state_accepts_only_a_constant() {
        let mut a = Constant::new();
        let mut b = Constant::new();
        assert!(a.take_state(&mut b));
        let mut g = crate::gain::Gain::new();
        assert!(!a.take_state(&mut g));
    }
}
