//! [`CompiledGraph::render_block`]: one block, a loop over the plan's steps.

use super::ops::{bank, chain, compressors, defer, fold, keyed, node, twin};
use super::plan::Op;
use super::CompiledGraph;
use crate::automation::Lane;
use ferrite_dsp::kernels::prefetch;
use ferrite_dsp::Processor;

impl CompiledGraph {
    /// Renders `frames` (`<= max_block`) frames starting at transport frame
    /// `position`. The input must have been written with [`Self::input_mut`];
    /// the result is read with [`Self::output`].
    ///
    /// Runs the plan's steps in order (see [`super::plan`]); each op is one
    /// file of [`super::ops`].
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic.
    pub fn render_block(&mut self, position: u64, frames: usize, lanes: &mut [Lane]) {
        let frames = frames.min(self.max_block);
        let st = &mut self.state;
        if let Some(m) = self.input_slot.and_then(|s| st.mono_slots.get_mut(s)) {
            *m = false;
        }
        let steps = &self.plan.steps;
        for (i, step) in steps.iter().enumerate() {
            // The next node's edges, parameters and processor (hints only).
            if let Some(next) = steps.get(i + 1).and_then(|s| s.op.node()).and_then(|k| st.nodes.get(k)) {
                prefetch(next.inputs.as_ptr());
                prefetch(next.params.as_ptr());
                prefetch(next.ctl.as_ptr());
                if let Some(p) = next.processor.as_deref() {
                    prefetch(p);
                    prefetch((p as *const dyn Processor).cast::<u8>().wrapping_add(64));
                }
            }
            match step.op {
                Op::Process { node, mono_source } => node::process(st, node, mono_source, position, frames, lanes),
                Op::Defer { node } => defer::defer(st, node, position, frames, lanes),
                Op::Fold { node, pass_through } => fold::fold(st, node, pass_through, position, frames, lanes),
                Op::Chain { node, chain, twin } => chain::chain(st, node, chain, twin, position, frames, lanes),
                Op::Twin { node, twin } => twin::twin(st, node, twin, position, frames, lanes),
                Op::BankMember { node, group, member } => {
                    bank::member(st, node, group, member, position, frames, lanes)
                }
                Op::Bank { group } => bank::run(st, group, frames),
                Op::CompressorMember { node, group, member } => {
                    compressors::member(st, node, group, member, position, frames, lanes)
                }
                Op::Compressors { group } => compressors::run(st, group, frames),
                Op::Keyed { node } => keyed::keyed(st, node, position, frames, lanes),
            }
        }
        twin::finish_block(st, &self.plan, frames);
        defer::finish_block(st, position, frames);
    }
}
