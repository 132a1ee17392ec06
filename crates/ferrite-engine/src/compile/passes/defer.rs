//! The defer pass (`crate::render::ops::defer`): a mono generator whose
//! samples one sum reads (a plain edge, not in place), directly or through
//! a folded gain that renders in place on it and has no other input,
//! renders when that sum takes it, into scratch rows shared by every such
//! source. `FERRITE_NO_DEFER=1` or `CompileOptions::defer` turns it off.

use super::fuse::Fused;
use crate::compile::slots::Slots;
use crate::compile::validate::Topology;
use crate::nodes::Role;

/// What the defer pass reads from the passes before it.
pub(crate) struct Facts<'a> {
    pub(crate) lat: &'a [usize],
    pub(crate) slots: &'a Slots,
    pub(crate) fused: &'a Fused,
    pub(crate) folded: &'a [bool],
    pub(crate) mono: &'a [bool],
}

/// Which nodes are deferred sources (by index into `built`).
pub(crate) fn plan(topo: &Topology, f: &Facts<'_>, on: bool) -> Vec<bool> {
    // `from` is one plain, not-in-place input of `r`, which sums it when it renders.
    let sums = |from: usize, r: usize| {
        topo.input_latency(r, f.lat) == f.lat[from]
            && !f.slots.in_place(topo, from, r)
            && topo.preds[r].iter().filter(|&&p| p == from).count() == 1
            && !f.fused.absorbed[r]
            && !topo.is(r, Role::Input)
    };
    (0..topo.len())
        .map(|i| {
            // A recording tap renders into its own slot.
            on && f.mono[i]
                && !topo.tapped[i]
                && match *topo.succs[i].as_slice() {
                    [c] if sums(i, c) => true,
                    [c] => {
                        f.folded[c]
                            && topo.preds[c].as_slice() == [i]
                            && f.slots.of[c] == f.slots.of[i]
                            && matches!(*topo.succs[c].as_slice(), [r] if sums(c, r))
                    }
                    _ => false,
                }
        })
        .collect()
}
