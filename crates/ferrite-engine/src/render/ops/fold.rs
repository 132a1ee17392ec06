//! Gain folding: a `gain` node whose output only one node reads (a plain
//! edge, not in place) does not run while its gain is constant; its buffer
//! keeps its input and the reader multiplies while summing: `g·x` for its
//! first input (the gain kernel), `d + g·x` for the others (the mix kernel).
//! Those are the gain node's product and the sum that would follow, so the
//! samples are the same bits (tested against `CompileOptions::fold` off;
//! `FERRITE_NO_FOLD=1` turns it off).

use super::node::{begin, Keep};
use crate::automation::Lane;
use crate::render::State;

/// The [`crate::render::plan::Op::Fold`] step for gain node `k`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn fold(st: &mut State, k: usize, pass_through: bool, position: u64, frames: usize, lanes: &mut [Lane]) {
    // Rendered in place on its one input and settled: its block would leave
    // every buffer, flag and factor as it was.
    if pass_through && st.nodes.get(k).is_some_and(|n| n.params_settled) {
        return;
    }
    let Some(mut turn) = begin(st, k, position, frames, lanes) else { return };
    // Settled before this block: the previous block's constant, already in
    // `out_scale` (the parameter buffer is not read).
    let constant = turn.was_settled || {
        let g = st.nodes.get(k).and_then(|n| n.params.first()).and_then(|p| p.block(frames).constant());
        if let Some(scale) = st.out_scale.get_mut(k) {
            *scale = g.unwrap_or(1.0);
        }
        g.is_some()
    };
    if constant {
        if let Some(m) = st.mono_slots.get_mut(turn.slot) {
            *m = turn.mono;
        }
        turn.finish(st);
        return;
    }
    let (out_mono, unchanged) = turn.settle_width(st, false, Keep::Processor, position, frames);
    turn.process(st, out_mono, unchanged, position, frames);
    turn.finish(st);
}
