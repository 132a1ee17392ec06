//! How a graph is cut into parts that render at the same time (control
//! side). The graph's mix is found by walking up from the output through
//! nodes of one input to the first node that sums several: the mix node.
//! It, everything downstream of it and the `input` node stay in the mix
//! graph; every other node belongs to a part. Nodes connected to each other
//! (by a connection or a sidechain, in either direction) belong to the same
//! part, so a part is a set of whole weakly connected components (tracks,
//! busses with their tracks), and the only edges between graphs run from a
//! part into the mix: each such source is a port, tapped in its part and
//! stood in for in the mix by a node of the same id and latency whose
//! samples are copied over. Every node keeps its inputs in the same edge
//! order and every edge the same compensation delay, so the sums are the
//! same operations in the same order as in the whole graph.

use crate::desc::{GraphDesc, NodeDesc};
use serde_json::{json, Map};
use std::collections::HashMap;

/// One part: a graph of whole components, with the ids of its ports.
#[derive(Debug, Clone)]
pub(crate) struct PartDesc {
    pub(crate) desc: GraphDesc,
    /// Nodes whose output the mix reads, in the order of `desc.nodes`.
    pub(crate) ports: Vec<u32>,
}

/// A graph cut into parts and the mix they feed.
#[derive(Debug, Clone)]
pub(crate) struct Split {
    pub(crate) parts: Vec<PartDesc>,
    /// The mix graph without its ports (added with their latencies by
    /// [`mix_desc`] once the parts are compiled).
    pub(crate) mix: GraphDesc,
}

/// An estimate of a node's cost per block, to balance the parts.
fn weight(n: &NodeDesc) -> u64 {
    match n.kind.as_str() {
        "eq" => n.options.get("bands").and_then(|b| b.as_array()).map_or(4, |b| b.len() as u64).max(1),
        "linearPhaseEq" | "convolver" => 16,
        "compressor" | "limiter" | "analyser" | "meter" | "filePlayer" => 3,
        _ => 1,
    }
}

/// How many independent components would go to parts, and the sum of
/// their nodes' [`weight`]s ((0, 0) when the graph cannot be split): what
/// the planner ([`super::plan_parts`]) weighs.
pub(crate) fn splittable(desc: &GraphDesc) -> (usize, u64) {
    components(desc)
        .map_or((0, 0), |(comps, _)| (comps.len(), comps.iter().flatten().map(|&i| weight(&desc.nodes[i])).sum()))
}

/// The components that would become parts (node indices into
/// `desc.nodes`, each in node order, ordered by their first node), and the
/// mix's node set; `None` when the graph has no mix of two or more
/// independent components.
fn components(desc: &GraphDesc) -> Option<(Vec<Vec<usize>>, Vec<bool>)> {
    let n = desc.nodes.len();
    let index: HashMap<u32, usize> = desc.nodes.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
    let edges: Vec<(usize, usize)> = desc
        .connections
        .iter()
        .chain(desc.sidechains.iter())
        .filter_map(|&(a, b)| Some((*index.get(&a)?, *index.get(&b)?)))
        .collect();
    let sources = |to: usize| {
        let mut s: Vec<usize> = edges.iter().filter(|e| e.1 == to).map(|e| e.0).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    // Up from the output through nodes of one input to the mix node.
    let mut mix = desc.nodes.iter().position(|d| d.kind == "output")?;
    let mut steps = 0;
    loop {
        let s = sources(mix);
        match s.len() {
            0 => return None,
            1 if steps < n => {
                mix = s[0];
                steps += 1;
            }
            1 => return None,
            _ => break,
        }
    }
    // The mix node, what it feeds, and the input node stay in the mix graph.
    let mut in_mix = vec![false; n];
    let mut stack = vec![mix];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut in_mix[i], true) {
            continue;
        }
        stack.extend(edges.iter().filter(|e| e.0 == i).map(|e| e.1));
    }
    for (i, d) in desc.nodes.iter().enumerate() {
        if d.kind == "input" {
            in_mix[i] = true;
        }
    }
    // Weakly connected components of the rest (union-find).
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for &(a, b) in &edges {
        if !in_mix[a] && !in_mix[b] {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut comps: Vec<Vec<usize>> = Vec::new();
    for i in (0..n).filter(|&i| !in_mix[i]) {
        let r = root(&mut parent, i);
        let c = *by_root.entry(r).or_insert_with(|| {
            comps.push(Vec::new());
            comps.len() - 1
        });
        comps[c].push(i);
    }
    (comps.len() >= 2).then_some((comps, in_mix))
}

/// Cuts `desc` into at most `max_parts` parts of about equal weight
/// (largest component first onto the lightest part; ties to the first),
/// or `None` when it has fewer than two independent components.
pub(crate) fn split(desc: &GraphDesc, max_parts: usize) -> Option<Split> {
    let (comps, in_mix) = components(desc)?;
    let k = max_parts.min(comps.len());
    if k < 2 {
        return None;
    }
    let mut order: Vec<usize> = (0..comps.len()).collect();
    let w: Vec<u64> = comps.iter().map(|c| c.iter().map(|&i| weight(&desc.nodes[i])).sum()).collect();
    order.sort_by(|&a, &b| w[b].cmp(&w[a]).then(a.cmp(&b)));
    let mut load = vec![0u64; k];
    let mut part_of = vec![usize::MAX; desc.nodes.len()];
    for c in order {
        let p = (0..k).min_by_key(|&p| (load[p], p)).unwrap_or(0);
        load[p] += w[c];
        for &i in &comps[c] {
            part_of[i] = p;
        }
    }
    let ids: Vec<u32> = desc.nodes.iter().map(|d| d.id).collect();
    let index: HashMap<u32, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    let at = |id: u32| index.get(&id).copied();
    let input = desc.nodes.iter().position(|d| d.kind == "input");
    let mut parts = Vec::with_capacity(k);
    for p in 0..k {
        let mine = |id: u32| at(id).is_some_and(|i| part_of[i] == p);
        let from_input = |id: u32| at(id).is_some() && at(id) == input;
        let edge_in = |&(a, b): &(u32, u32)| mine(b) && (mine(a) || from_input(a));
        let connections: Vec<(u32, u32)> = desc.connections.iter().copied().filter(edge_in).collect();
        let sidechains: Vec<(u32, u32)> = desc.sidechains.iter().copied().filter(edge_in).collect();
        let reads_input = connections.iter().chain(sidechains.iter()).any(|&(a, _)| from_input(a));
        let nodes: Vec<NodeDesc> = desc
            .nodes
            .iter()
            .enumerate()
            .filter(|&(i, _)| part_of[i] == p || (reads_input && Some(i) == input))
            .map(|(_, d)| d.clone())
            .collect();
        let feeds_mix = |id: u32| {
            desc.connections
                .iter()
                .chain(desc.sidechains.iter())
                .any(|&(a, b)| a == id && at(b).is_some_and(|j| in_mix[j]))
        };
        let ports = nodes.iter().map(|d| d.id).filter(|&id| mine(id) && feeds_mix(id)).collect();
        let automation = desc.automation.iter().filter(|l| mine(l.node)).cloned().collect();
        parts.push(PartDesc {
            desc: GraphDesc { nodes, connections, sidechains, automation, memory_budget: None },
            ports,
        });
    }
    let mixed = |id: u32| at(id).is_some_and(|i| in_mix[i]);
    let mix = GraphDesc {
        nodes: desc.nodes.iter().enumerate().filter(|&(i, _)| in_mix[i]).map(|(_, d)| d.clone()).collect(),
        connections: desc.connections.iter().copied().filter(|&(_, b)| mixed(b)).collect(),
        sidechains: desc.sidechains.iter().copied().filter(|&(_, b)| mixed(b)).collect(),
        automation: desc.automation.iter().filter(|l| mixed(l.node)).cloned().collect(),
        memory_budget: None,
    };
    Some(Split { parts, mix })
}

/// The mix graph with its ports: `ports` (`(id, latency)`) as `constant`
/// nodes, which [`crate::compile::compile_with_ports`] turns into ports.
pub(crate) fn mix_desc(mix: &GraphDesc, ports: &[(u32, usize)]) -> GraphDesc {
    let mut desc = mix.clone();
    for &(id, _) in ports {
        let mut params = Map::new();
        params.insert("value".into(), json!(0.0));
        desc.nodes.push(NodeDesc { id, kind: "constant".into(), params, options: Map::new() });
    }
    desc
}
