//! The fold pass (`crate::render::ops::fold`): a `gain` node whose output
//! one node reads, through a plain edge (no compensation delay) and not in
//! place, leaves its buffer unscaled while its gain is constant; the reader
//! multiplies while summing (the same products and sums, so the same bits).
//! `FERRITE_NO_FOLD=1` or `CompileOptions::fold` turns it off.

use super::fuse::Fused;
use crate::compile::slots::Slots;
use crate::compile::validate::Topology;
use crate::nodes::Role;

/// Which nodes are folded gains (by index into `built`).
pub(crate) fn plan(topo: &Topology, lat: &[usize], slots: &Slots, fused: &Fused, on: bool) -> Vec<bool> {
    (0..topo.len())
        .map(|i| {
            on && topo.is(i, Role::Effect)
                && topo.built[i].kind == "gain"
                && !fused.absorbed[i]
                // A recording tap's buffer must hold the scaled signal.
                && !topo.tapped[i]
                && match topo.succs[i].as_slice() {
                    &[c] => {
                        topo.input_latency(c, lat) == lat[i]
                            && !slots.in_place(topo, i, c)
                            && topo.preds[c].iter().filter(|&&p| p == i).count() == 1
                    }
                    _ => false,
                }
        })
        .collect()
}

/// A folded gain with one input, rendered in place on it: while its
/// parameters are settled its block leaves every buffer as it was.
pub(crate) fn pass_through(topo: &Topology, slots: &Slots, i: usize) -> bool {
    topo.preds[i].len() == 1 && topo.preds[i].first().map(|&p| slots.of[p]) == Some(slots.of[i])
}
