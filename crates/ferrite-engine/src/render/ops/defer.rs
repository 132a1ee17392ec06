//! Deferred sources: a mono generator whose samples only a sum reads (a
//! plain edge, not in place; directly or through a folded gain rendered in
//! place on it) fills its parameters at its turn but renders when the sum
//! takes it, into one of [`SCRATCH_ROWS`] scratch rows that the mix kernel
//! then adds, four at a time, exactly as it would add the generator's own
//! buffer. As the sum's first input (which the compiler does not defer) it
//! renders into its own buffer. The rows are shared by every such source, so
//! the samples go from the generator to the sum while in the L1 cache
//! instead of through one buffer per generator. If anything else comes to
//! read the generator's buffer (the folded gain runs because its gain
//! changes), the generator renders there first; one no reader took this
//! block renders into its own buffer at the end of the block. Each generator
//! runs once per block on the same parameters, so the samples are the same
//! bits (tested against `CompileOptions::defer` off; `FERRITE_NO_DEFER=1`
//! turns it off).

use crate::automation::Lane;
use crate::render::node::{fill_params, RenderNode};
use crate::render::State;
use ferrite_dsp::{Bus, ProcessContext};

/// Pool slots shared by the deferred sources a sum takes at once (the mix
/// kernel adds four sources per pass).
pub(crate) const SCRATCH_ROWS: usize = 4;

/// The [`crate::render::plan::Op::Defer`] step: node `k`'s parameters for
/// the block, and its slot marked as holding its (not yet rendered) mono block.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn defer(st: &mut State, k: usize, position: u64, frames: usize, lanes: &mut [Lane]) {
    let Some(node) = st.nodes.get_mut(k) else { return };
    let settled = node.params_settled;
    fill_params(node, position, frames, lanes);
    if let Some(d) = st.deferred.get_mut(node.slot) {
        if d.replace((k, settled)).is_none() {
            st.pending_deferred += 1;
        }
    }
    if let Some(m) = st.mono_slots.get_mut(node.slot) {
        *m = true;
    }
}

/// The deferred source whose samples belong in `slot`, if any, now taken
/// off the list (`pending` counts what is left).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn take_deferred(
    deferred: &mut [Option<(usize, bool)>],
    pending: &mut usize,
    slot: usize,
) -> Option<(usize, bool)> {
    let taken = deferred.get_mut(slot).and_then(Option::take);
    if taken.is_some() {
        *pending = pending.saturating_sub(1);
    }
    taken
}

/// Renders deferred source `j` (a mono generator) into channel 0 of `buf`,
/// as its own turn would have: [`ferrite_dsp::Processor::process_unchanged`]
/// when its parameters were settled before the block, else `process`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn render_deferred(
    nodes: &mut [RenderNode],
    j: usize,
    settled: bool,
    buf: &mut [f64],
    stride: usize,
    position: u64,
    frames: usize,
) {
    let Some(node) = nodes.get_mut(j) else { return };
    if let Some(p) = node.processor.as_mut() {
        let ctx = ProcessContext { frames, position, params: &node.params };
        let mut bus = Bus::new(buf, 1, stride, frames);
        if settled {
            p.process_unchanged(&ctx, &mut bus);
        } else {
            p.process(&ctx, &mut bus);
        }
    }
}

/// The end of a block: a deferred source no one summed (its reader did not
/// run) renders into its own buffer, so that it runs every block.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn finish_block(st: &mut State, position: u64, frames: usize) {
    if st.pending_deferred == 0 {
        return;
    }
    for (s, d) in st.deferred.iter_mut().enumerate() {
        if let (Some((j, settled)), Some(slot)) = (d.take(), st.pool.get_mut(s)) {
            render_deferred(&mut st.nodes, j, settled, slot, st.stride, position, frames);
        }
    }
    st.pending_deferred = 0;
}
