//! A port: in the mix graph of a split render, the stand-in for a node
//! rendered in a part. The caller writes the part's samples into the
//! port's slot before each block; the port's step leaves them there.

use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};

/// A source whose block its caller writes; it reports the latency of the
/// node it stands in for, so that the mix compensates exactly as the whole
/// graph would.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    latency: usize,
}

impl Port {
    /// A port standing in for a node of `latency` frames.
    pub fn new(latency: usize) -> Self {
        Self { latency }
    }
}

impl Processor for Port {
    fn prepare(&mut self, _ctx: &PrepareContext) {}

    /// Leaves the block as the caller wrote it.
    fn process(&mut self, _ctx: &ProcessContext<'_>, _io: &mut Bus<'_>) {}

    fn reset(&mut self) {}

    fn latency(&self) -> usize {
        self.latency
    }

    /// The buffer already holds the block: not zeroed.
    fn overwrites_output(&self) -> bool {
        true
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}
