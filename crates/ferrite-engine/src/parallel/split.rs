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
    /// The mix node: the first node up from the output that sums several.
    pub(crate) mix_node: u32,
    /// When part 0 sums its own components ([`presum_first`]): the nodes
    /// it sums, which must have the latency of every other input of the
    /// mix node (checked once the parts are compiled).
    pub(crate) presummed: Option<Vec<u32>>,
}

/// How components are shared out among parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assign {
    /// Largest first onto the lightest part (the most even loads).
    Balanced,
    /// In the order the mix node sums them, cut into runs of about equal
    /// weight: each part feeds the mix node one run of its inputs, in
    /// part order (what a real-time mix summed as the parts finish needs).
    InMixOrder,
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
        .map_or((0, 0), |(comps, _, _)| (comps.len(), comps.iter().flatten().map(|&i| weight(&desc.nodes[i])).sum()))
}

/// The components that would become parts (node indices into
/// `desc.nodes`, each in node order, ordered by their first node), the
/// mix's node set and the mix node's index; `None` when the graph has no
/// mix of two or more independent components.
fn components(desc: &GraphDesc) -> Option<(Vec<Vec<usize>>, Vec<bool>, usize)> {
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
    (comps.len() >= 2).then_some((comps, in_mix, mix))
}

/// Cuts `desc` into at most `max_parts` parts of about equal weight
/// (shared out as `assign` says), or `None` when it has fewer than two
/// independent components.
pub(crate) fn split(desc: &GraphDesc, max_parts: usize, assign: Assign) -> Option<Split> {
    let (comps, in_mix, mix_at) = components(desc)?;
    let k = max_parts.min(comps.len());
    if k < 2 {
        return None;
    }
    let w: Vec<u64> = comps.iter().map(|c| c.iter().map(|&i| weight(&desc.nodes[i])).sum()).collect();
    let balanced = balanced_parts(&w, k);
    let part_of_comp = match assign {
        Assign::Balanced => balanced,
        Assign::InMixOrder => {
            // Runs in the mix node's order, unless they load the parts
            // less evenly than the balanced share-out (by more than 5%).
            let runs = runs_in_mix_order(desc, &comps, mix_at, &w, k);
            let most = |of: &[usize]| {
                let mut load = vec![0u64; k];
                of.iter().zip(&w).for_each(|(&p, &w)| load[p.min(k - 1)] += w);
                load.into_iter().max().unwrap_or(0)
            };
            if most(&runs) * 100 <= most(&balanced) * 105 {
                runs
            } else {
                balanced
            }
        }
    };
    Some(build(desc, &comps, &in_mix, mix_at, &part_of_comp, k))
}

/// The split of `desc` with component `c` (of `comps`) in part
/// `part_of_comp[c]` of `k`.
fn build(
    desc: &GraphDesc,
    comps: &[Vec<usize>],
    in_mix: &[bool],
    mix_at: usize,
    part_of_comp: &[usize],
    k: usize,
) -> Split {
    let mut part_of = vec![usize::MAX; desc.nodes.len()];
    for (c, nodes) in comps.iter().enumerate() {
        nodes.iter().for_each(|&i| part_of[i] = part_of_comp[c]);
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
    Split { parts, mix, mix_node: desc.nodes[mix_at].id, presummed: None }
}

/// `desc` cut in two in the mix node's order ([`Assign::InMixOrder`]):
/// the first run of components as a part that sums them itself, and the
/// second run rendered with the mix, one span behind it. A `gain` of 1 (a
/// fresh id) takes the edges the mix node took from the first run, in
/// their order, and the mix node takes that sum in their place; the second
/// run's edges into the mix node follow as before. The first run must be
/// the mix node's first inputs (each component one edge, into nothing else
/// of the mix), so the mix node's sum is the same operations in the same
/// order: the first input, then each next one added. The part hands the
/// mix one port, not one per component, and the second run's sources sum
/// as they do in the whole graph: what makes a split of light components
/// (plain sources) pay. `None` when the graph has no such split.
pub(crate) fn presum_first(desc: &GraphDesc) -> Option<Split> {
    let (comps, in_mix, mix_at) = components(desc)?;
    let w: Vec<u64> = comps.iter().map(|c| c.iter().map(|&i| weight(&desc.nodes[i])).sum()).collect();
    // The runs in the mix node's order, the first as heavy as the second
    // with the mix's own nodes (and the port and output copies, one more).
    let own: u64 = 1 + (0..desc.nodes.len()).filter(|&i| in_mix[i]).map(|i| weight(&desc.nodes[i])).sum::<u64>();
    let order = mix_order(desc, &comps, mix_at);
    let half = (w.iter().sum::<u64>() + own).div_ceil(2);
    let mut part_of_comp = vec![1; comps.len()];
    let mut acc = 0;
    for &c in order.iter().take(comps.len().saturating_sub(1)) {
        if acc > 0 && acc + w[c] / 2 > half {
            break;
        }
        acc += w[c];
        part_of_comp[c] = 0;
    }
    let mut s = build(desc, &comps, &in_mix, mix_at, &part_of_comp, 2);
    let mix_id = s.mix_node;
    let summed = s.parts.first()?.ports.clone();
    let into_mix = |id: u32| s.mix.nodes.iter().any(|n| n.id == id);
    // Each of the first run's ports: one connection into the mix, to the mix node.
    for &p in &summed {
        let mut out = desc.connections.iter().filter(|&&(a, b)| a == p && into_mix(b));
        if out.next() != Some(&(p, mix_id)) || out.next().is_some() {
            return None;
        }
        if desc.sidechains.iter().any(|&(a, b)| a == p && into_mix(b)) {
            return None;
        }
    }
    // They are the mix node's first inputs.
    let inputs: Vec<u32> = desc.connections.iter().filter(|e| e.1 == mix_id).map(|e| e.0).collect();
    if inputs.len() <= summed.len() || inputs[..summed.len()].iter().any(|a| !summed.contains(a)) {
        return None;
    }
    let fresh = desc.nodes.iter().map(|d| d.id).max()?.checked_add(1)?;
    // The second run joins the mix (its edges into the mix node are there already).
    let second = s.parts.pop()?.desc;
    for n in second.nodes {
        if !s.mix.nodes.iter().any(|m| m.id == n.id) {
            s.mix.nodes.push(n);
        }
    }
    s.mix.connections.extend(second.connections);
    s.mix.sidechains.extend(second.sidechains);
    s.mix.automation.extend(second.automation);
    let first = s.parts.first_mut()?;
    let mut params = Map::new();
    params.insert("gain".into(), json!(1.0));
    first.desc.nodes.push(NodeDesc { id: fresh, kind: "gain".into(), params, options: Map::new() });
    first.desc.connections.extend(inputs[..summed.len()].iter().map(|&a| (a, fresh)));
    first.ports = vec![fresh];
    let at = s.mix.connections.iter().position(|&(a, b)| b == mix_id && summed.contains(&a))?;
    s.mix.connections[at] = (fresh, mix_id);
    s.mix.connections.retain(|&(a, b)| !(b == mix_id && summed.contains(&a)));
    s.presummed = Some(summed);
    Some(s)
}

/// The part of each component (weights `w`) among `k` parts: largest
/// first onto the lightest part (ties to the first).
fn balanced_parts(w: &[u64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by(|&a, &b| w[b].cmp(&w[a]).then(a.cmp(&b)));
    let mut load = vec![0u64; k];
    let mut of = vec![0; w.len()];
    for c in order {
        let p = (0..k).min_by_key(|&p| (load[p], p)).unwrap_or(0);
        load[p] += w[c];
        of[c] = p;
    }
    of
}

/// The part of each component among `k` parts as runs of about equal
/// weight in the order the mix node (`desc.nodes[mix_at]`) sums them: by
/// each component's first connection into it (components that feed it
/// only through others, or not at all, last), every part at least one.
fn runs_in_mix_order(desc: &GraphDesc, comps: &[Vec<usize>], mix_at: usize, w: &[u64], k: usize) -> Vec<usize> {
    let order = mix_order(desc, comps, mix_at);
    let total: u64 = w.iter().sum();
    let (mut p, mut acc) = (0usize, 0u64);
    let mut of = vec![0; comps.len()];
    for (n, &c) in order.iter().enumerate() {
        // The next part once this one has its share, or when the
        // components left are only enough for one in each part left.
        let left = order.len() - n;
        if n > 0 && p + 1 < k && (acc * k as u64 >= (p as u64 + 1) * total || left <= k - 1 - p) {
            p += 1;
        }
        acc += w[c];
        of[c] = p;
    }
    of
}

/// The components in the order the mix node (`desc.nodes[mix_at]`) sums
/// them: by each one's first connection into it (components that feed it
/// only through others, or not at all, last).
fn mix_order(desc: &GraphDesc, comps: &[Vec<usize>], mix_at: usize) -> Vec<usize> {
    let mix_id = desc.nodes[mix_at].id;
    let mut comp_of = vec![usize::MAX; desc.nodes.len()];
    for (c, nodes) in comps.iter().enumerate() {
        nodes.iter().for_each(|&i| comp_of[i] = c);
    }
    let index: HashMap<u32, usize> = desc.nodes.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
    let mut first_edge = vec![usize::MAX; comps.len()];
    for (e, &(a, b)) in desc.connections.iter().enumerate() {
        if b != mix_id {
            continue;
        }
        if let Some(f) = index.get(&a).and_then(|&i| comp_of.get(i)).and_then(|&c| first_edge.get_mut(c)) {
            *f = (*f).min(e);
        }
    }
    let mut order: Vec<usize> = (0..comps.len()).collect();
    order.sort_by_key(|&c| (first_edge[c], c));
    order
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `weights.len()` tracks (a chain of `weights[t]` gains each) into a
    /// master gain, connected to it in the order `order`.
    fn tracks(weights: &[usize], order: &[usize]) -> GraphDesc {
        let mut nodes = vec![json!({"id": 1, "type": "output"}), json!({"id": 2, "type": "gain"})];
        let mut conns = vec![json!([2, 1])];
        let mut ends = Vec::new();
        for (t, &n) in weights.iter().enumerate() {
            let first = 100 * (t as u32 + 1);
            for k in 0..n as u32 {
                nodes.push(json!({"id": first + k, "type": "gain"}));
                if k > 0 {
                    conns.push(json!([first + k - 1, first + k]));
                }
            }
            ends.push(first + n as u32 - 1);
        }
        conns.extend(order.iter().map(|&t| json!([ends[t], 2])));
        GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns})).expect("valid graph")
    }

    /// The tracks (by index) in each part of `s`.
    fn members(s: &Split, tracks: usize) -> Vec<Vec<usize>> {
        s.parts
            .iter()
            .map(|p| (0..tracks).filter(|&t| p.desc.nodes.iter().any(|n| n.id == 100 * (t as u32 + 1))).collect())
            .collect()
    }

    #[test]
    fn runs_in_mix_order_follow_the_master_s_inputs() {
        // Equal tracks connected in a shuffled order: runs of four in that
        // order, part by part.
        let order = [3, 7, 0, 4, 6, 1, 5, 2];
        let d = tracks(&[2; 8], &order);
        let s = split(&d, 2, Assign::InMixOrder).expect("splits");
        assert_eq!(s.mix_node, 2);
        assert_eq!(members(&s, 8), vec![vec![0, 3, 4, 7], vec![1, 2, 5, 6]]);
        let balanced = split(&d, 2, Assign::Balanced).expect("splits");
        assert_eq!(members(&balanced, 8), vec![vec![0, 2, 4, 6], vec![1, 3, 5, 7]]);
        // As many parts as tracks: one each.
        let s = split(&tracks(&[2, 2, 2, 2], &[0, 1, 2, 3]), 4, Assign::InMixOrder).expect("splits");
        assert_eq!(members(&s, 4), vec![vec![0], vec![1], vec![2], vec![3]]);
    }

    #[test]
    fn a_first_run_that_sums_itself_takes_the_master_s_first_inputs() {
        // Equal tracks connected in a shuffled order: the first five in
        // that order (as heavy as the other three with the master and the
        // output) are a part summed by a fresh gain (id 802, one past the
        // largest), in the master's order; the rest join the mix.
        let order = [3, 7, 0, 4, 6, 1, 5, 2];
        let d = tracks(&[2; 8], &order);
        let s = presum_first(&d).expect("splits");
        assert_eq!(s.parts.len(), 1);
        assert_eq!(members(&s, 8), vec![vec![0, 3, 4, 6, 7]]);
        let part = &s.parts[0];
        assert_eq!(part.ports, vec![802]);
        let sum: Vec<(u32, u32)> = part.desc.connections.iter().copied().filter(|e| e.1 == 802).collect();
        assert_eq!(sum, vec![(401, 802), (801, 802), (101, 802), (501, 802), (701, 802)]);
        let into_master: Vec<u32> = s.mix.connections.iter().filter(|e| e.1 == 2).map(|e| e.0).collect();
        assert_eq!(into_master, vec![802, 201, 601, 301]);
        assert!(s.mix.nodes.iter().any(|n| n.id == 200) && s.mix.nodes.iter().any(|n| n.id == 201));
        assert_eq!(s.presummed.as_deref(), Some(&[101, 401, 501, 701, 801][..]));
        // A track of the first run that feeds the master twice: refused.
        let mut twice = tracks(&[2; 8], &[0, 1, 2, 3, 4, 5, 6, 7]);
        twice.connections.push((101, 2));
        assert!(presum_first(&twice).is_none());
        // The first run weighs as much as the rest with the mix's own nodes.
        let s = presum_first(&tracks(&[2; 16], &(0..16).collect::<Vec<_>>())).expect("splits");
        assert_eq!(members(&s, 16), vec![(0..9).collect::<Vec<_>>()]);
    }

    #[test]
    fn uneven_runs_fall_back_to_the_balanced_share_out() {
        // A heavy track between light ones: runs would load one part with
        // 6 + 1 against 1 + 1 + 1 (balanced: 6 against 4).
        let d = tracks(&[1, 6, 1, 1, 1], &[0, 1, 2, 3, 4]);
        let s = split(&d, 2, Assign::InMixOrder).expect("splits");
        let b = split(&d, 2, Assign::Balanced).expect("splits");
        assert_eq!(members(&s, 5), members(&b, 5));
        assert_eq!(members(&s, 5), vec![vec![1], vec![0, 2, 3, 4]]);
    }
}
