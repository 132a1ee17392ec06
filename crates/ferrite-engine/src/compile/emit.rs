//! The last stage of the pipeline: the render core's nodes, buffers,
//! groups and plan, made from what the passes decided.

use super::passes::{batch::Batches, fuse::Fused};
use super::slots::Slots;
use super::validate::Topology;
use super::{GraphInfo, NodeInfo, RenderSettings};
use crate::error::{EngineError, Result};
use crate::nodes::{BuiltNode, Role};
use crate::render::ops::bank::BatchGroup;
use crate::render::ops::chain::ChainCache;
use crate::render::ops::compressors::CompGroup;
use crate::render::ops::defer::SCRATCH_ROWS;
use crate::render::plan::{Op, Plan, Step, Twin};
use crate::render::{CompDelay, CompiledGraph, Edge, Key, ParamCtl, RenderNode, State};
use ferrite_dsp::ParamBuffer;
use std::collections::HashMap;

/// Everything the passes decided, by index into `built`.
pub(crate) struct Decisions {
    pub(crate) order: Vec<usize>,
    pub(crate) lat: Vec<usize>,
    pub(crate) latency: usize,
    pub(crate) slots: Slots,
    pub(crate) fused: Fused,
    pub(crate) batches: Batches,
    pub(crate) twins: Vec<Vec<usize>>,
    pub(crate) folded: Vec<bool>,
    pub(crate) mono: Vec<bool>,
    pub(crate) deferred: Vec<bool>,
}

/// Builds the compiled graph and the control side's lookups.
pub(crate) fn graph(topo: Topology, d: &Decisions, settings: RenderSettings) -> Result<(CompiledGraph, GraphInfo)> {
    let scratch = if d.deferred.contains(&true) { SCRATCH_ROWS } else { 0 };
    let pool = pool(d.slots.count + scratch, settings.channels * settings.max_block)?;
    let plan = plan(&topo, d);
    let chains = chains(d, settings.channels);
    let (banks, compressors) = groups(d, settings);
    let input_slot = (0..topo.len()).find(|&i| topo.is(i, Role::Input)).map(|i| d.slots.of[i]);
    let output_slot = (0..topo.len()).find(|&i| topo.is(i, Role::Output)).map(|i| d.slots.of[i]);
    let (nodes, info, meters) = nodes(topo, d, settings)?;
    let n = nodes.len();
    let mut ids_sorted: Vec<(u32, usize)> = nodes.iter().enumerate().map(|(k, n)| (n.id, k)).collect();
    ids_sorted.sort_unstable();
    let state = State {
        nodes,
        pool,
        channels: settings.channels,
        stride: settings.max_block,
        out_scale: vec![1.0; n].into_boxed_slice(),
        mono_slots: vec![false; d.slots.count + scratch].into_boxed_slice(),
        deferred: vec![None; d.slots.count + scratch].into_boxed_slice(),
        pending_deferred: 0,
        pending_twins: 0,
        scratch_base: d.slots.count,
        banks,
        compressors,
        chains,
    };
    let graph = CompiledGraph {
        sample_rate: settings.sample_rate,
        channels: settings.channels,
        max_block: settings.max_block,
        plan,
        state,
        input_slot,
        output_slot,
        latency: d.latency,
        meters,
        ids_sorted: ids_sorted.into_boxed_slice(),
    };
    Ok((graph, info))
}

/// `count` zeroed buffers of `len` samples; a clear error when memory runs out.
fn pool(count: usize, len: usize) -> Result<Vec<Box<[f64]>>> {
    let mut pool = Vec::with_capacity(count);
    for _ in 0..count {
        let mut v = Vec::new();
        v.try_reserve_exact(len).map_err(|_| EngineError::range("graph: not enough memory for the render buffers"))?;
        v.resize(len, 0.0);
        pool.push(v.into_boxed_slice());
    }
    Ok(pool)
}

/// Each meter's name and render index.
type Meters = Vec<(String, usize)>;

/// The render nodes in render order, with their edges (compensation delays,
/// folded sources), and the control side's lookups.
fn nodes(topo: Topology, d: &Decisions, settings: RenderSettings) -> Result<(Vec<RenderNode>, GraphInfo, Meters)> {
    let n = topo.len();
    let mut info = GraphInfo { nodes: HashMap::with_capacity(n), latency: d.latency };
    let mut meters = Vec::new();
    let mut out = Vec::with_capacity(n);
    let ids: Vec<u32> = topo.built.iter().map(|b| b.id).collect();
    let inmax: Vec<usize> = (0..n).map(|i| topo.input_latency(i, &d.lat)).collect();
    let (preds, keys) = (topo.preds, topo.keys);
    let mut ordered: Vec<Option<BuiltNode>> = topo.built.into_iter().map(Some).collect();
    for (k, &i) in d.order.iter().enumerate() {
        let Some(b) = ordered[i].take() else { continue };
        // A compensation line the machine cannot hold: an error naming the node it feeds.
        let comp_into = |delay: usize| -> Result<Option<CompDelay>> {
            (delay > 0)
                .then(|| CompDelay::new(delay, settings.channels))
                .transpose()
                .map_err(|e| EngineError::range(format!("{}: latency compensation of {delay} frames: {e}", b.label())))
        };
        let inputs = preds[i]
            .iter()
            .map(|&p| {
                let delay = inmax[i] - d.lat[p];
                Ok(Edge {
                    src_slot: d.slots.of[p],
                    src_id: ids[p],
                    comp: comp_into(delay)?,
                    scale_from: (d.folded[p] && delay == 0).then_some(d.slots.pos[p]),
                })
            })
            .collect::<Result<_>>()?;
        // A key edge: aligned like an input, never a folded source (a gain
        // whose only reader is a key is not folded).
        let key = keys[i]
            .map(|p| {
                let comp = comp_into(inmax[i] - d.lat[p])?;
                let delayed = if comp.is_some() { settings.channels * settings.max_block } else { 0 };
                Ok::<_, EngineError>(Key {
                    edge: Edge { src_slot: d.slots.of[p], src_id: ids[p], comp, scale_from: None },
                    delayed: vec![0.0; delayed].into_boxed_slice(),
                })
            })
            .transpose()?;
        if let Some(name) = &b.meter_name {
            meters.push((name.clone(), k));
        }
        let node = NodeInfo { index: k, kind: b.kind.clone(), params: b.params.clone(), latency: d.lat[i] };
        info.nodes.insert(b.id, node);
        out.push(RenderNode {
            id: b.id,
            processor: b.processor,
            inputs,
            key,
            slot: d.slots.of[i],
            params: b.params.iter().map(|p| ParamBuffer::new(p.value, settings.max_block)).collect(),
            ctl: b.params.iter().map(|p| ParamCtl::new(p.value)).collect(),
            params_settled: false,
            ran_mono: false,
            twin_waiting: false,
            twinned: false,
        });
    }
    Ok((out, info, meters))
}

/// The fused chains' kept cascades, in render order of their tails
/// (`Op::Chain`'s `chain` indexes them).
fn chains(d: &Decisions, channels: usize) -> Vec<ChainCache> {
    let mut tails: Vec<usize> = d.fused.by_tail.keys().copied().collect();
    tails.sort_unstable_by_key(|&t| d.slots.pos[t]);
    tails
        .into_iter()
        .map(|t| {
            let members = d.fused.by_tail[&t].iter().map(|&m| d.slots.pos[m]).collect();
            ChainCache::new(members, d.slots.pos[t], channels)
        })
        .collect()
}

/// The filter banks and compressor groups, members by render index.
fn groups(d: &Decisions, settings: RenderSettings) -> (Vec<BatchGroup>, Vec<CompGroup>) {
    let render = |members: &[usize]| {
        let mut m: Vec<usize> = members.iter().map(|&i| d.slots.pos[i]).collect();
        m.sort_unstable();
        m
    };
    let banks = d
        .batches
        .filters
        .iter()
        .map(|(members, stages)| BatchGroup::new(render(members), *stages, settings.channels, settings.max_block))
        .collect();
    let compressors = d.batches.compressors.iter().map(|m| CompGroup::new(render(m), settings.max_block)).collect();
    (banks, compressors)
}

/// Where a node's role in a group puts it: `(group, member, last)`.
fn member_of(groups: &[Vec<usize>], k: usize) -> Option<(usize, usize, bool)> {
    groups.iter().enumerate().find_map(|(g, m)| m.iter().position(|&x| x == k).map(|at| (g, at, at + 1 == m.len())))
}

/// One step per rendering node in render order (the input node and absorbed
/// chain members have none), a bank's or compressor group's step after its
/// last member; then each step's dependencies.
fn plan(topo: &Topology, d: &Decisions) -> Plan {
    let pos = &d.slots.pos;
    let render = |members: &[usize]| {
        let mut m: Vec<usize> = members.iter().map(|&i| pos[i]).collect();
        m.sort_unstable();
        m
    };
    let banks: Vec<Vec<usize>> = d.batches.filters.iter().map(|(m, _)| render(m)).collect();
    let comps: Vec<Vec<usize>> = d.batches.compressors.iter().map(|m| render(m)).collect();
    let mut tails: Vec<usize> = d.fused.by_tail.keys().map(|&t| pos[t]).collect();
    tails.sort_unstable();
    let chain_of = |k: usize| tails.iter().position(|&t| t == k);
    let mut twin_of: HashMap<usize, Twin> = HashMap::new();
    for pair in &d.twins {
        if let [a, b] = pair[..] {
            let (a, b) = (pos[a].min(pos[b]), pos[a].max(pos[b]));
            twin_of.insert(a, Twin { partner: b, partner_chain: chain_of(b), first: true });
            twin_of.insert(b, Twin { partner: a, partner_chain: chain_of(a), first: false });
        }
    }
    let mut ops = Vec::with_capacity(d.order.len() + banks.len() + comps.len());
    for (k, &i) in d.order.iter().enumerate() {
        if topo.is(i, Role::Input) || d.fused.absorbed[i] {
            continue;
        }
        let twin = twin_of.get(&k).copied();
        if d.deferred[i] {
            ops.push(Op::Defer { node: k });
        } else if d.folded[i] {
            ops.push(Op::Fold { node: k, pass_through: super::passes::fold::pass_through(topo, &d.slots, i) });
        } else if let Some(chain) = chain_of(k) {
            ops.push(Op::Chain { node: k, chain, twin });
        } else if let Some((group, member, last)) = member_of(&banks, k) {
            ops.push(Op::BankMember { node: k, group, member });
            if last {
                ops.push(Op::Bank { group });
            }
        } else if let Some((group, member, last)) = member_of(&comps, k) {
            ops.push(Op::CompressorMember { node: k, group, member });
            if last {
                ops.push(Op::Compressors { group });
            }
        } else if topo.keys[i].is_some() {
            ops.push(Op::Keyed { node: k });
        } else if let Some(twin) = twin {
            ops.push(Op::Twin { node: k, twin });
        } else {
            ops.push(Op::Process { node: k, mono_source: d.mono[i] });
        }
    }
    let steps = dependencies(topo, d, &ops, &banks, &comps);
    Plan { steps: ops.into_iter().zip(steps).map(|(op, after)| Step { op, after }).collect() }
}

/// For each op, the earlier steps whose output it reads (its inputs' and
/// its key's writers): a node's output is
/// complete after its own step, a bank's or compressor group's member's
/// after the group's step, the first twin's after its partner's.
fn dependencies(
    topo: &Topology,
    d: &Decisions,
    ops: &[Op],
    banks: &[Vec<usize>],
    comps: &[Vec<usize>],
) -> Vec<Box<[usize]>> {
    let n = d.order.len();
    let mut step_of = vec![usize::MAX; n];
    for (s, op) in ops.iter().enumerate() {
        if let Some(k) = op.node() {
            step_of[k] = s;
        }
    }
    let mut done = step_of.clone();
    for (s, op) in ops.iter().enumerate() {
        let members = match *op {
            Op::Bank { group } => banks.get(group),
            Op::Compressors { group } => comps.get(group),
            _ => None,
        };
        for &k in members.into_iter().flatten() {
            done[k] = s;
        }
        if let Some(t) = op.twin().filter(|t| !t.first) {
            if let Some(k) = op.node() {
                done[t.partner] = done[t.partner].max(step_of[k]);
            }
        }
    }
    let index_of: Vec<usize> = d.order.clone();
    ops.iter()
        .map(|op| {
            let mut after: Vec<usize> = match *op {
                Op::Bank { group } => banks.get(group).into_iter().flatten().map(|&k| step_of[k]).collect(),
                Op::Compressors { group } => comps.get(group).into_iter().flatten().map(|&k| step_of[k]).collect(),
                _ => op
                    .node()
                    .into_iter()
                    .flat_map(|k| topo.sources(index_of[k]).map(|p| done[d.slots.pos[p]]))
                    .collect(),
            };
            after.retain(|&s| s != usize::MAX);
            after.sort_unstable();
            after.dedup();
            after.into()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::compile::{compile_with, CompileOptions, RenderSettings};
    use crate::desc::GraphDesc;
    use crate::render::plan::Op;
    use serde_json::json;

    /// Tracks of every kind the passes treat (banks, compressor groups,
    /// twins, fused chains, folded gains, deferred sources) into a master.
    fn session() -> GraphDesc {
        let mut nodes = vec![json!({"id": 1, "type": "output"}), json!({"id": 2, "type": "gain"})];
        let mut conns = vec![json!([2, 1])];
        let eq = |id: u32, bands: usize| {
            let kinds: Vec<_> = (0..bands).map(|_| json!({"type": "peaking"})).collect();
            let mut params = serde_json::Map::new();
            for b in 0..bands {
                params.insert(format!("bands[{b}].frequency"), json!(200.0 * (b + 1) as f64));
                params.insert(format!("bands[{b}].gainDb"), json!(2.0));
            }
            json!({"id": id, "type": "eq", "params": params, "options": {"bands": kinds}})
        };
        for t in 0..6u32 {
            let base = 10 + 10 * t;
            nodes.push(json!({"id": base, "type": "oscillator", "params": {"frequency": 100.0 + f64::from(t)}}));
            let last = match t % 3 {
                0 => {
                    nodes.push(eq(base + 1, 8));
                    conns.push(json!([base, base + 1]));
                    base + 1
                }
                1 => {
                    nodes.push(eq(base + 1, 2));
                    nodes.push(json!({"id": base + 2, "type": "compressor"}));
                    conns.extend([json!([base, base + 1]), json!([base + 1, base + 2])]);
                    base + 2
                }
                _ => {
                    for j in 1..=3 {
                        nodes.push(json!({"id": base + j, "type": "biquad", "params": {"frequency": 500.0 * f64::from(j)}, "options": {"type": "lowpass"}}));
                        conns.push(json!([base + j - 1, base + j]));
                    }
                    base + 3
                }
            };
            nodes.push(json!({"id": base + 8, "type": "gain", "params": {"gain": 0.5}}));
            conns.extend([json!([last, base + 8]), json!([base + 8, 2])]);
            nodes.push(json!({"id": base + 9, "type": "oscillator", "params": {"frequency": 50.0}}));
            conns.push(json!([base + 9, 2]));
        }
        GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns})).unwrap()
    }

    #[test]
    fn every_step_comes_after_the_steps_whose_output_it_reads() {
        let settings = RenderSettings { sample_rate: 48000.0, channels: 2, max_block: 128 };
        let c = compile_with(&session(), settings, &[], CompileOptions::default()).unwrap();
        let plan = &c.graph.plan;
        let kinds = |f: &dyn Fn(&Op) -> bool| plan.count(f);
        // Every strategy is in this plan.
        assert!(kinds(&|op| matches!(op, Op::Bank { .. })) > 0);
        assert!(kinds(&|op| matches!(op, Op::Compressors { .. })) > 0);
        assert!(kinds(&|op| matches!(op, Op::Chain { .. })) > 0);
        assert!(kinds(&|op| op.twin().is_some()) > 0);
        assert!(kinds(&|op| matches!(op, Op::Fold { .. })) > 0);
        assert!(kinds(&|op| matches!(op, Op::Defer { .. })) > 0);
        let step_of = |k: usize| plan.steps.iter().position(|s| s.op.node() == Some(k));
        for (s, step) in plan.steps.iter().enumerate() {
            assert!(step.after.iter().all(|&a| a < s), "step {s} {:?} depends on a later step", step.op);
            // Every input's writer is a dependency (directly or through its group's step).
            let Some(k) = step.op.node() else { continue };
            for e in &c.graph.state.nodes[k].inputs {
                let src = c.graph.index_of(e.src_id).unwrap();
                let Some(w) = step_of(src) else { continue };
                assert!(step.after.iter().any(|&a| a >= w), "step {s} reads node {src} without depending on it");
            }
        }
    }

    #[test]
    fn a_keyed_step_comes_after_its_keys_writer() {
        // Compressor #6 sums oscillator #2 and is keyed by biquad #4, a
        // member of a filter bank (with biquad #5): its key is complete
        // after the bank's step, not its member's.
        let biquad = |id: u32, f: f64| json!({"id": id, "type": "biquad", "params": {"frequency": f}, "options": {"type": "lowpass"}});
        let desc = GraphDesc::from_value(&json!({"version": 1,
            "nodes": [{"id": 1, "type": "output"}, {"id": 2, "type": "oscillator", "params": {"frequency": 100}},
                {"id": 3, "type": "oscillator", "params": {"frequency": 200}},
                biquad(4, 500.0), biquad(5, 900.0), {"id": 6, "type": "compressor"}],
            "connections": [[3, 4], [2, 5], [4, 1], [5, 1], [2, 6], [6, 1]],
            "sidechains": [[4, 6]]}))
        .unwrap();
        let settings = RenderSettings { sample_rate: 48000.0, channels: 2, max_block: 128 };
        let c = compile_with(&desc, settings, &[], CompileOptions::default()).unwrap();
        let plan = &c.graph.plan;
        let keyed = plan.steps.iter().position(|s| matches!(s.op, Op::Keyed { .. })).expect("a keyed step");
        let bank = plan.steps.iter().position(|s| matches!(s.op, Op::Bank { .. })).expect("a bank");
        assert!(bank < keyed && plan.steps[keyed].after.contains(&bank), "{:?}", plan.steps);
    }
}
