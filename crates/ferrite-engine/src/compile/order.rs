//! Render order, depth and latency.

use super::validate::Topology;
use crate::error::{EngineError, Result};

/// Kahn's algorithm in creation order, key edges counted as edges; on a
/// cycle, names the nodes on it.
pub(crate) fn topological(topo: &Topology) -> Result<Vec<usize>> {
    let n = topo.len();
    let mut indeg: Vec<usize> = (0..n).map(|i| topo.sources(i).count()).collect();
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &s in &topo.succs[i] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                ready.insert(s);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk backwards through unresolved predecessors until a node repeats.
    let start = (0..n).find(|&i| indeg[i] > 0).unwrap_or(0);
    let mut path = vec![start];
    let mut cur = start;
    while let Some(p) = topo.sources(cur).find(|&p| indeg[p] > 0) {
        if let Some(at) = path.iter().position(|&x| x == p) {
            let mut cycle: Vec<usize> = path[at..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            // A key edge is named as one: `a → (sidechain key) b`.
            let mut names = topo.built[cycle[0]].label();
            for w in cycle.windows(2) {
                let key = topo.keys[w[1]] == Some(w[0]) && !topo.preds[w[1]].contains(&w[0]);
                names.push_str(if key { " → (sidechain key) " } else { " → " });
                names.push_str(&topo.built[w[1]].label());
            }
            return Err(EngineError::range(format!("graph: cycle: {names}")));
        }
        path.push(p);
        cur = p;
    }
    Err(EngineError::range("graph: cycle"))
}

/// Each node's depth: the longest path (key edges included) from a node
/// without inputs. Two nodes at the same depth cannot depend on each other.
pub(crate) fn depths(topo: &Topology, order: &[usize]) -> Vec<usize> {
    let mut depth = vec![0usize; topo.len()];
    for &i in order {
        depth[i] = topo.sources(i).map(|p| depth[p] + 1).max().unwrap_or(0);
    }
    depth
}

/// Reorders `order` by depth (a valid topological order: every edge goes to
/// a greater depth) and, within a depth, puts the members of each group
/// next to each other; stable, so Kahn's order is kept within a depth and group.
pub(crate) fn cluster(order: &mut [usize], depth: &[usize], groups: &[&[usize]]) {
    if groups.is_empty() {
        return;
    }
    let mut group_of = vec![usize::MAX; depth.len()];
    for (g, members) in groups.iter().enumerate() {
        for &i in members.iter() {
            group_of[i] = g;
        }
    }
    order.sort_by_key(|&i| (depth[i], group_of[i]));
}

/// Each node's output latency: its slowest input's plus its own.
pub(crate) fn latencies(topo: &Topology, order: &[usize]) -> Vec<usize> {
    let mut lat = vec![0usize; topo.len()];
    for &i in order {
        lat[i] = topo.input_latency(i, &lat) + topo.built[i].processor.as_ref().map_or(0, |p| p.latency());
    }
    lat
}
