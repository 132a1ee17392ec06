//! Buffer reuse: a node's slot is live from its own render until its last
//! reader's (a compressor it keys included), then free for a later node.

use super::validate::Topology;
use crate::nodes::Role;

/// Slots of every node.
pub(crate) struct Slots {
    /// Slot of each node (by index into `built`).
    pub(crate) of: Vec<usize>,
    /// Render index of each node.
    pub(crate) pos: Vec<usize>,
    /// Slots used by nodes.
    pub(crate) count: usize,
}

impl Slots {
    /// Node `r` renders in place on its first input `from` (it took that slot).
    pub(crate) fn in_place(&self, topo: &Topology, from: usize, r: usize) -> bool {
        topo.preds[r].first() == Some(&from) && self.of[r] == self.of[from]
    }
}

/// Assigns slots in render order. A node whose first input is that source's
/// last use, with no compensation delay, takes the source's slot (renders in
/// place: its input needs no copy). The input and output nodes' slots, and
/// recording taps', are pinned: written by the host or read after rendering.
pub(crate) fn assign(topo: &Topology, order: &[usize], lat: &[usize]) -> Slots {
    let n = topo.len();
    let mut pos = vec![0; n];
    for (k, &i) in order.iter().enumerate() {
        pos[i] = k;
    }
    let last_use: Vec<usize> = (0..n).map(|i| topo.succs[i].iter().map(|&s| pos[s]).max().unwrap_or(pos[i])).collect();
    let mut of = vec![usize::MAX; n];
    let mut free: Vec<usize> = Vec::new();
    let mut count = 0;
    let mut releases: Vec<Vec<usize>> = vec![Vec::new(); n];
    let pinned = |i: usize| matches!(topo.built[i].role, Role::Input | Role::Output) || topo.tapped[i];
    for (k, &i) in order.iter().enumerate() {
        let inmax = topo.input_latency(i, lat);
        let in_place = topo.preds[i].first().and_then(|&p| {
            // (A compressor keyed by its first input reads that slot as its
            // key while it writes its own: never in place.)
            let ok = last_use[p] == k && lat[p] == inmax && !pinned(p) && topo.keys[i] != Some(p);
            let at = releases[k].iter().position(|&s| s == of[p]);
            at.filter(|_| ok).map(|at| releases[k].swap_remove(at))
        });
        let s = in_place.or_else(|| free.pop()).unwrap_or_else(|| {
            count += 1;
            count - 1
        });
        of[i] = s;
        if !pinned(i) {
            releases[last_use[i]].push(s);
        }
        for &s in &releases[k] {
            free.push(s);
        }
    }
    Slots { of, pos, count }
}
