//! The fuse pass: series chains of `biquad` nodes (`biquad → … → biquad`,
//! each feeding only the next, the next with no other input) run from
//! their tail as one cascade (`crate::render::ops::chain`). The graph is
//! rewired after the cycle check, so errors name every node: the tail takes
//! the head's inputs, the other members (absorbed) lose their edges; order,
//! latency, compensation delays and slots are then computed on the rewired
//! graph. `FERRITE_NO_FUSE=1` or `CompileOptions::fuse` turns it off.

use crate::compile::order;
use crate::compile::validate::Topology;
use crate::error::Result;
use crate::nodes::{BuiltNode, Role};
use std::collections::HashMap;

/// The chains found: members by tail, and which nodes are absorbed.
pub(crate) struct Fused {
    /// Tail → the other members, head first.
    pub(crate) by_tail: HashMap<usize, Vec<usize>>,
    /// Absorbed members (by index into `built`).
    pub(crate) absorbed: Vec<bool>,
}

/// Finds the chains (when `on`), rewires `topo` and orders it again.
pub(crate) fn plan(topo: &mut Topology, order: &mut Vec<usize>, on: bool) -> Result<Fused> {
    let mut fused = Fused { by_tail: HashMap::new(), absorbed: vec![false; topo.len()] };
    let mut chains = if on { find_chains(&topo.built, &topo.preds, &topo.succs) } else { Vec::new() };
    // A recording tap never disappears inside a chain.
    chains.retain(|chain| chain.split_last().is_none_or(|(_, members)| !members.iter().any(|&m| topo.tapped[m])));
    if chains.is_empty() {
        return Ok(fused);
    }
    rewire(&chains, &mut topo.preds, &mut topo.succs);
    *order = order::topological(topo)?;
    for chain in chains {
        if let Some((&tail, members)) = chain.split_last() {
            for &m in members {
                fused.absorbed[m] = true;
            }
            fused.by_tail.insert(tail, members.to_vec());
        }
    }
    Ok(fused)
}

/// Chains of at least two biquad nodes, head first (indices into `built`).
fn find_chains(built: &[BuiltNode], preds: &[Vec<usize>], succs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let is_biquad = |i: usize| built.get(i).is_some_and(|b| b.role == Role::Effect && b.kind == "biquad");
    // `next[a] = b` when a → b is a fusable link.
    let next: Vec<Option<usize>> = (0..built.len())
        .map(|a| match succs.get(a).map(Vec::as_slice) {
            Some(&[b]) if is_biquad(a) && is_biquad(b) && preds.get(b).map(Vec::as_slice) == Some(&[a]) => Some(b),
            _ => None,
        })
        .collect();
    let mut has_prev = vec![false; built.len()];
    for b in next.iter().flatten() {
        has_prev[*b] = true;
    }
    let mut chains = Vec::new();
    for head in 0..built.len() {
        if has_prev[head] || next[head].is_none() {
            continue;
        }
        let mut chain = vec![head];
        let mut cur = head;
        while let Some(b) = next[cur] {
            // A cycle of links cannot start from a head; guard anyway.
            if chain.contains(&b) {
                break;
            }
            chain.push(b);
            cur = b;
        }
        if chain.len() >= 2 {
            chains.push(chain);
        }
    }
    chains
}

/// Rewires `preds`/`succs` so each chain's tail takes its head's inputs and
/// the other members have no edges.
fn rewire(chains: &[Vec<usize>], preds: &mut [Vec<usize>], succs: &mut [Vec<usize>]) {
    for chain in chains {
        let (Some(&head), Some(&tail)) = (chain.first(), chain.last()) else { continue };
        let head_preds = std::mem::take(&mut preds[head]);
        for &p in &head_preds {
            for s in succs[p].iter_mut() {
                if *s == head {
                    *s = tail;
                }
            }
        }
        for &m in &chain[..chain.len() - 1] {
            preds[m].clear();
            succs[m].clear();
        }
        preds[tail] = head_preds;
    }
}
