//! The compiler: validates a [`GraphDesc`], orders its nodes, allocates every
//! buffer and state, and inserts latency compensation. Runs on the control
//! side (or the render worker), never on the audio thread.

use crate::automation::Lane;
use crate::desc::{GraphDesc, LaneDesc};
use crate::error::{EngineError, Result};
use crate::graph::{CompDelay, CompiledGraph, Edge, ParamCtl, RenderNode};
use crate::nodes::{self, BuildContext, BuiltNode, Role, SideBuffers};
use ferrite_dsp::ParamBuffer;
use std::collections::HashMap;

/// Render settings a graph is compiled for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderSettings {
    /// Frames per second.
    pub sample_rate: f64,
    /// Channels every connection carries.
    pub channels: usize,
    /// Largest block rendered at once.
    pub max_block: usize,
}

/// Largest channel count accepted.
pub const MAX_CHANNELS: usize = 32;
/// Largest block size accepted.
pub const MAX_BLOCK: usize = 16_384;

impl RenderSettings {
    /// Checks the settings themselves.
    pub fn validate(&self) -> Result<()> {
        let sr = self.sample_rate;
        if !sr.is_finite() || !(1000.0..=1_536_000.0).contains(&sr) {
            return Err(EngineError::range(format!(
                "sampleRate = {} is out of range [1000, 1536000]",
                crate::error::show(sr)
            )));
        }
        if self.channels == 0 || self.channels > MAX_CHANNELS {
            return Err(EngineError::range(format!(
                "channels = {} is out of range [1, {MAX_CHANNELS}]",
                self.channels
            )));
        }
        if self.max_block == 0 || self.max_block > MAX_BLOCK {
            return Err(EngineError::range(format!("blockSize = {} is out of range [1, {MAX_BLOCK}]", self.max_block)));
        }
        Ok(())
    }
}

/// What the control side keeps about a compiled graph: lookups by id and name.
#[derive(Debug, Clone, Default)]
pub struct GraphInfo {
    /// Node id → (render index, type name, parameter names and checks).
    pub nodes: HashMap<u32, NodeInfo>,
    /// Reported latency in frames.
    pub latency: usize,
}

/// Control-side facts about one node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Index in render order.
    pub index: usize,
    /// Node type name.
    pub kind: String,
    /// Parameters, in processor order.
    pub params: Vec<nodes::ParamInfo>,
}

impl NodeInfo {
    /// `type #id`.
    pub fn label(&self, id: u32) -> String {
        format!("{} #{id}", self.kind)
    }

    /// Index of parameter `name`, or a `TypeError` listing the known ones.
    pub fn param_index(&self, id: u32, name: &str) -> Result<usize> {
        self.params.iter().position(|p| p.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
            EngineError::type_error(format!(
                "{}: unknown parameter '{name}' (known: {})",
                self.label(id),
                if known.is_empty() { "none".into() } else { known.join(", ") }
            ))
        })
    }
}

impl GraphInfo {
    /// The node with `id`, or a `TypeError`.
    pub fn node(&self, id: u32) -> Result<&NodeInfo> {
        self.nodes
            .get(&id)
            .ok_or_else(|| EngineError::type_error(format!("unknown node #{id}: it is not in the current graph")))
    }
}

/// A compiled graph with its lanes and its control-side facts.
pub struct Compiled {
    /// What the render core runs.
    pub graph: CompiledGraph,
    /// Automation lanes, in binding order.
    pub lanes: Vec<Lane>,
    /// `(node index, param index)` per lane.
    pub lane_targets: Vec<(usize, usize)>,
    /// Lookups for the control side.
    pub info: GraphInfo,
}

/// Compiler switches that do not change what a graph renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileOptions {
    /// Run parallel biquad filters as one SIMD bank (see [`crate::batch`]).
    pub batch: bool,
    /// Run series chains of biquad nodes as one cascade (see [`crate::fuse`]).
    pub fuse: bool,
    /// Let the one reader of a constant gain apply it while summing its
    /// inputs, instead of a pass of its own (see
    /// [`crate::graph::CompiledGraph::render_block`]).
    pub fold: bool,
    /// Run generators whose channels are all the same signal (oscillator,
    /// constant) on one channel; their readers take channel 0 for every
    /// channel (see [`crate::graph::CompiledGraph::render_block`]).
    pub mono: bool,
    /// Let a one-channel generator whose samples only a sum reads (directly
    /// or through a folded gain) render when that sum takes them, into a
    /// scratch row shared by every such source, instead of into a buffer of
    /// its own (see [`crate::graph::CompiledGraph::render_block`]).
    pub defer: bool,
    /// With `mono` and `batch`, in a stereo render: pair `eq` nodes (and
    /// fused biquad chains) at the same depth so that their mono blocks run
    /// two at a time as one stereo wavefront (see
    /// [`crate::graph::CompiledGraph::render_block`]).
    pub twin: bool,
}

impl Default for CompileOptions {
    /// Everything on.
    fn default() -> Self {
        Self { batch: true, fuse: true, fold: true, mono: true, defer: true, twin: true }
    }
}

impl CompileOptions {
    /// The defaults, with batching off when the environment variable
    /// `FERRITE_NO_BATCH` is `1`, fusion off when `FERRITE_NO_FUSE` is `1`,
    /// gain folding off when `FERRITE_NO_FOLD` is `1`, mono sources off when
    /// `FERRITE_NO_MONO` is `1`, deferred sources off when
    /// `FERRITE_NO_DEFER` is `1` and twins off when `FERRITE_NO_TWIN` is `1`
    /// (control side: reads the environment).
    pub fn from_env() -> Self {
        let off = |name: &str| std::env::var(name).is_ok_and(|v| v.trim() == "1");
        Self {
            batch: !off("FERRITE_NO_BATCH"),
            fuse: !off("FERRITE_NO_FUSE"),
            fold: !off("FERRITE_NO_FOLD"),
            mono: !off("FERRITE_NO_MONO"),
            defer: !off("FERRITE_NO_DEFER"),
            twin: !off("FERRITE_NO_TWIN"),
        }
    }
}

/// Validates and compiles `desc` for `settings` with
/// [`CompileOptions::from_env`].
pub fn compile(desc: &GraphDesc, settings: RenderSettings, buffers: &SideBuffers) -> Result<Compiled> {
    compile_with(desc, settings, buffers, CompileOptions::from_env())
}

/// Validates and compiles `desc` for `settings` with explicit options.
pub fn compile_with(
    desc: &GraphDesc,
    settings: RenderSettings,
    buffers: &SideBuffers,
    options: CompileOptions,
) -> Result<Compiled> {
    compile_tapped(desc, settings, buffers, options, &[])
}

/// [`compile_with`], with the nodes whose ids are in `taps` compiled as
/// recording taps: each keeps a buffer slot of its own for the whole block
/// (pinned: never released, reused or taken in place by a successor) and is
/// not folded, absorbed into a fused chain or deferred, so that after every
/// block [`CompiledGraph::tap_output`] reads its output. Ids not in the graph
/// are ignored. Everything else compiles as without taps.
pub fn compile_tapped(
    desc: &GraphDesc,
    settings: RenderSettings,
    buffers: &SideBuffers,
    options: CompileOptions,
    taps: &[u32],
) -> Result<Compiled> {
    settings.validate()?;
    // Detect the SIMD level here, on the control side: its first call reads
    // the environment (allocates), which the audio thread must never do.
    let _ = ferrite_dsp::kernels::simd_level();
    let ctx = BuildContext { sample_rate: settings.sample_rate, channels: settings.channels, buffers };
    let prep = ferrite_dsp::PrepareContext {
        sample_rate: settings.sample_rate,
        max_block: settings.max_block,
        channels: settings.channels,
    };

    // Nodes: unique ids, at most one input and one output, each valid on its own.
    let mut index: HashMap<u32, usize> = HashMap::with_capacity(desc.nodes.len());
    let mut built: Vec<BuiltNode> = Vec::with_capacity(desc.nodes.len());
    for n in &desc.nodes {
        if index.insert(n.id, built.len()).is_some() {
            return Err(EngineError::type_error(format!("graph: two nodes have id #{}", n.id)));
        }
        let mut b = nodes::build(n, &ctx)?;
        if let Some(p) = b.processor.as_mut() {
            p.prepare(&prep);
        }
        if matches!(b.role, Role::Input | Role::Output) {
            if let Some(other) = built.iter().find(|o| o.role == b.role) {
                return Err(EngineError::type_error(format!(
                    "graph: two {} nodes (#{} and #{})",
                    b.kind, other.id, b.id
                )));
            }
        }
        built.push(b);
    }

    // [recording tap] Which nodes are taps (by creation index).
    let tapped: Vec<bool> = built.iter().map(|b| taps.contains(&b.id)).collect();

    // Connections: known nodes, legal directions, duplicates merged.
    let n = built.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(from, to) in &desc.connections {
        let f = *index.get(&from).ok_or_else(|| EngineError::type_error(format!("connect: unknown node #{from}")))?;
        let t = *index.get(&to).ok_or_else(|| EngineError::type_error(format!("connect: unknown node #{to}")))?;
        if built[f].role == Role::Output {
            return Err(EngineError::type_error(format!(
                "connect: {} is the master output and has no outgoing connections",
                built[f].label()
            )));
        }
        if matches!(built[t].role, Role::Source | Role::Input) {
            return Err(EngineError::type_error(format!(
                "connect: {} takes no input ({} → {})",
                built[t].label(),
                built[f].label(),
                built[t].label()
            )));
        }
        if f == t {
            return Err(EngineError::range(format!("connect: cycle: {} is connected to itself", built[f].label())));
        }
        if !preds[t].contains(&f) {
            preds[t].push(f);
            succs[f].push(t);
        }
    }

    let mut order = topological_order(&built, &preds, &succs)?;

    // Fusion: series biquad chains run from their tail (crate::fuse). The
    // graph is rewired after the cycle check, so errors name every node.
    let mut chains = if options.fuse { crate::fuse::find_chains(&built, &preds, &succs) } else { Vec::new() };
    // [recording tap] A tap never materialises inside a chain: drop chains absorbing one.
    chains.retain(|chain| chain.split_last().is_none_or(|(_, members)| !members.iter().any(|&m| tapped[m])));
    let mut chain_of_tail: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut absorbed = vec![false; n];
    if !chains.is_empty() {
        crate::fuse::rewire(&chains, &mut preds, &mut succs);
        order = topological_order(&built, &preds, &succs)?;
        for chain in chains {
            if let Some((&tail, members)) = chain.split_last() {
                for &m in members {
                    absorbed[m] = true;
                }
                chain_of_tail.insert(tail, members.to_vec());
            }
        }
    }

    // Batching: like filters at the same depth run as one bank; their
    // members are made contiguous in a depth-sorted order (crate::batch).
    let groups = if options.batch {
        let mut depth = vec![0usize; n];
        for &i in &order {
            depth[i] = preds[i].iter().map(|&p| depth[p] + 1).max().unwrap_or(0);
        }
        let stages: Vec<Option<usize>> = built
            .iter_mut()
            .map(|b| match b.role {
                Role::Effect => b.processor.as_mut().and_then(|p| crate::batch::batchable(p.as_mut())),
                _ => None,
            })
            .enumerate()
            .map(|(i, s)| if absorbed[i] || chain_of_tail.contains_key(&i) { None } else { s })
            // A stereo filter of 4 or more stages runs faster on its own
            // stereo cascade than as bank lanes (crate::batch, "What is batched").
            .map(|s| s.filter(|&s| s < crate::batch::MIN_STEREO_CASCADE_STAGES || settings.channels != 2))
            .collect();
        let groups = crate::batch::find_groups(&depth, &stages);
        // Compressors: one lane each, grouped by depth the same way.
        let comp: Vec<Option<usize>> =
            built.iter().map(|b| (b.role == Role::Effect && b.kind == "compressor").then_some(1)).collect();
        let comp_groups: Vec<Vec<usize>> =
            crate::batch::find_groups(&depth, &comp).into_iter().map(|(members, _)| members).collect();
        // Twins: the filters that run on their own stereo cascades (an `eq`
        // of 4 or more bands, a fused chain's tail), paired by depth and
        // stage count in order of appearance.
        let twins: Vec<Vec<usize>> = if options.twin && options.mono && settings.channels == 2 {
            let cascade: Vec<Option<usize>> = built
                .iter_mut()
                .enumerate()
                .map(|(i, b)| match chain_of_tail.get(&i) {
                    Some(members) => Some(members.len() + 1),
                    None if b.role == Role::Effect && b.kind == "eq" && !absorbed[i] => b
                        .processor
                        .as_mut()
                        .and_then(|p| crate::batch::batchable(p.as_mut()))
                        .filter(|&s| s >= crate::batch::MIN_STEREO_CASCADE_STAGES),
                    None => None,
                })
                .collect();
            crate::batch::find_groups(&depth, &cascade)
                .into_iter()
                .flat_map(|(members, _)| members.chunks_exact(2).map(<[usize]>::to_vec).collect::<Vec<_>>())
                .collect()
        } else {
            Vec::new()
        };
        if !groups.is_empty() || !comp_groups.is_empty() || !twins.is_empty() {
            let mut group_of = vec![usize::MAX; n];
            for (g, members) in groups.iter().map(|(m, _)| m).chain(comp_groups.iter()).chain(twins.iter()).enumerate()
            {
                for &i in members {
                    group_of[i] = g;
                }
            }
            // Stable: within a depth and group, Kahn's order is kept.
            order.sort_by_key(|&i| (depth[i], group_of[i]));
        }
        (groups, comp_groups, twins)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let (groups, comp_groups, twins) = groups;

    // Latency: each node's output latency is the slowest input's plus its own.
    let mut lat = vec![0usize; n];
    for &i in &order {
        let inmax = preds[i].iter().map(|&p| lat[p]).max().unwrap_or(0);
        lat[i] = inmax + built[i].processor.as_ref().map_or(0, |p| p.latency());
    }
    let latency = built.iter().position(|b| b.role == Role::Output).map_or(0, |o| lat[o]);

    // Buffer slots: a node's slot is live from its own render until its last consumer's.
    let pos_in_order: Vec<usize> = {
        let mut v = vec![0; n];
        for (k, &i) in order.iter().enumerate() {
            v[i] = k;
        }
        v
    };
    let last_use: Vec<usize> =
        (0..n).map(|i| succs[i].iter().map(|&s| pos_in_order[s]).max().unwrap_or(pos_in_order[i])).collect();
    let mut slot_of = vec![usize::MAX; n];
    let mut free: Vec<usize> = Vec::new();
    let mut nslots = 0;
    let mut releases: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, &i) in order.iter().enumerate() {
        // In place: a node whose first input is that source's last use, with
        // no compensation delay, takes the source's slot, so its input needs
        // no copy (the render core sees `src_slot == slot`). The input node's
        // slot is pinned (written by the host).
        let inmax = preds[i].iter().map(|&p| lat[p]).max().unwrap_or(0);
        let in_place = preds[i].first().and_then(|&p| {
            let ok = last_use[p] == k && lat[p] == inmax && !matches!(built[p].role, Role::Input | Role::Output);
            let at = releases[k].iter().position(|&s| s == slot_of[p]);
            at.filter(|_| ok).map(|at| releases[k].swap_remove(at))
        });
        // Keep the input and output slots (and meters' inputs' consumers) pinned: they are read after rendering.
        let s = in_place.or_else(|| free.pop()).unwrap_or_else(|| {
            nslots += 1;
            nslots - 1
        });
        slot_of[i] = s;
        // [recording tap] A tap's slot is pinned too (read after the block).
        let pinned = matches!(built[i].role, Role::Input | Role::Output) || tapped[i];
        if !pinned {
            releases[last_use[i]].push(s);
        }
        for &s in &releases[k] {
            free.push(s);
        }
    }
    // Gain folding: a `gain` node whose output one node reads, through a plain
    // edge (no compensation delay) and not in place, leaves its buffer
    // unscaled while its gain is constant; the reader multiplies while summing
    // (the same products and sums, so the same bits).
    let foldable: Vec<bool> = (0..n)
        .map(|i| {
            options.fold
                && built[i].role == Role::Effect
                && built[i].kind == "gain"
                && !absorbed[i]
                && !tapped[i] // [recording tap] its buffer must hold the scaled signal
                && match succs[i].as_slice() {
                    &[c] => {
                        let inmax = preds[c].iter().map(|&p| lat[p]).max().unwrap_or(0);
                        let in_place = preds[c].first() == Some(&i) && slot_of[c] == slot_of[i];
                        inmax == lat[i] && !in_place && preds[c].iter().filter(|&&p| p == i).count() == 1
                    }
                    _ => false,
                }
        })
        .collect();

    // Deferred sources: a one-channel generator whose samples one sum reads
    // (a plain edge, not in place), directly or through a folded gain that
    // renders in place on it and has no other input, renders when that sum
    // takes it, into one of `SCRATCH_ROWS` rows shared by every such source.
    let mono_gen: Vec<bool> = (0..n)
        .map(|i| {
            options.mono
                && settings.channels > 1
                && preds[i].is_empty()
                && built[i].processor.as_ref().is_some_and(|p| p.mono_source())
        })
        .collect();
    // `from` is one plain, not-in-place input of `r`, which sums it when it renders.
    let sums = |from: usize, r: usize| {
        let inmax = preds[r].iter().map(|&p| lat[p]).max().unwrap_or(0);
        let in_place = preds[r].first() == Some(&from) && slot_of[r] == slot_of[from];
        inmax == lat[from]
            && !in_place
            && preds[r].iter().filter(|&&p| p == from).count() == 1
            && !absorbed[r]
            && built[r].role != Role::Input
    };
    let deferred: Vec<bool> = (0..n)
        .map(|i| {
            options.defer
                && mono_gen[i]
                && !tapped[i] // [recording tap] it must render into its own slot
                && match *succs[i].as_slice() {
                    [c] if sums(i, c) => true,
                    [c] => {
                        foldable[c]
                            && preds[c].as_slice() == [i]
                            && slot_of[c] == slot_of[i]
                            && matches!(*succs[c].as_slice(), [r] if sums(c, r))
                    }
                    _ => false,
                }
        })
        .collect();
    let scratch_base = nslots;
    let scratch = if deferred.contains(&true) { crate::graph::SCRATCH_ROWS } else { 0 };
    let slot_len = settings.channels * settings.max_block;
    let mut pool = Vec::with_capacity(nslots + scratch);
    for _ in 0..nslots + scratch {
        let mut v = Vec::new();
        v.try_reserve_exact(slot_len)
            .map_err(|_| EngineError::range("graph: not enough memory for the render buffers"))?;
        v.resize(slot_len, 0.0);
        pool.push(v.into_boxed_slice());
    }

    let mut info = GraphInfo { nodes: HashMap::with_capacity(n), latency };
    let mut meters = Vec::new();
    let mut render_nodes = Vec::with_capacity(n);
    let mut input_slot = None;
    let mut output_slot = None;
    let ids: Vec<u32> = built.iter().map(|b| b.id).collect();
    let mut ordered: Vec<Option<BuiltNode>> = built.into_iter().map(Some).collect();
    for (k, &i) in order.iter().enumerate() {
        let Some(b) = ordered[i].take() else { continue };
        let inmax = preds[i].iter().map(|&p| lat[p]).max().unwrap_or(0);
        let inputs = preds[i]
            .iter()
            .map(|&p| {
                let d = inmax - lat[p];
                Edge {
                    src_slot: slot_of[p],
                    src_id: ids[p],
                    comp: (d > 0).then(|| CompDelay::new(d, settings.channels)),
                    scale_from: (foldable[p] && d == 0).then_some(pos_in_order[p]),
                }
            })
            .collect();
        match b.role {
            Role::Input => input_slot = Some(slot_of[i]),
            Role::Output => output_slot = Some(slot_of[i]),
            _ => {}
        }
        if let Some(name) = &b.meter_name {
            meters.push((name.clone(), k));
        }
        info.nodes.insert(b.id, NodeInfo { index: k, kind: b.kind.clone(), params: b.params.clone() });
        // A generator with every channel the same: run on channel 0 only.
        let mono = mono_gen[i];
        // Any processor may keep a mono block mono when it says so (asked per block).
        let may_keep_mono = options.mono && b.processor.is_some();
        render_nodes.push(RenderNode {
            id: b.id,
            role: b.role,
            processor: b.processor,
            inputs,
            slot: slot_of[i],
            params: b.params.iter().map(|p| ParamBuffer::new(p.value, settings.max_block)).collect(),
            ctl: b.params.iter().map(|p| ParamCtl::new(p.value)).collect(),
            batch: None,
            comp_batch: None,
            fused: Box::new([]),
            chain: None,
            fold: foldable[i],
            // One input, rendered in place: while settled, nothing to do at all.
            pass_through: foldable[i]
                && preds[i].len() == 1
                && preds[i].first().map(|&p| slot_of[p]) == Some(slot_of[i]),
            mono,
            may_keep_mono,
            ran_mono: false,
            defer: deferred[i],
            absorbed: absorbed[i],
            twin: None,
            twin_waiting: false,
            twinned: false,
            params_settled: false,
        });
    }
    for (tail, members) in &chain_of_tail {
        if let Some(node) = render_nodes.get_mut(pos_in_order[*tail]) {
            node.fused = members.iter().map(|&m| pos_in_order[m]).collect();
            node.chain = Some(Box::new(crate::fuse::ChainCache::new(members.len() + 1, settings.channels)));
        }
    }
    let mut batches = Vec::with_capacity(groups.len());
    for (g, (members, stages)) in groups.into_iter().enumerate() {
        let mut members: Vec<usize> = members.into_iter().map(|i| pos_in_order[i]).collect();
        members.sort_unstable();
        for (m, &k) in members.iter().enumerate() {
            if let Some(node) = render_nodes.get_mut(k) {
                node.batch = Some((g, m));
            }
        }
        batches.push(crate::batch::BatchGroup::new(members, stages, settings.channels, settings.max_block));
    }

    let mut comp_batches = Vec::with_capacity(comp_groups.len());
    for (g, members) in comp_groups.into_iter().enumerate() {
        let mut members: Vec<usize> = members.into_iter().map(|i| pos_in_order[i]).collect();
        members.sort_unstable();
        for (m, &k) in members.iter().enumerate() {
            if let Some(node) = render_nodes.get_mut(k) {
                node.comp_batch = Some((g, m));
            }
        }
        comp_batches.push(crate::batch::CompGroup::new(members, settings.max_block));
    }

    for pair in &twins {
        if let [a, b] = pair[..] {
            let (a, b) = (pos_in_order[a].min(pos_in_order[b]), pos_in_order[a].max(pos_in_order[b]));
            if let Some(node) = render_nodes.get_mut(a) {
                node.twin = Some(crate::batch::TwinLink { partner: b, first: true });
            }
            if let Some(node) = render_nodes.get_mut(b) {
                node.twin = Some(crate::batch::TwinLink { partner: a, first: false });
            }
        }
    }

    let mut ids_sorted: Vec<(u32, usize)> = render_nodes.iter().enumerate().map(|(k, n)| (n.id, k)).collect();
    ids_sorted.sort_unstable();
    let mut graph = CompiledGraph {
        sample_rate: settings.sample_rate,
        channels: settings.channels,
        max_block: settings.max_block,
        nodes: render_nodes,
        pool,
        input_slot,
        output_slot,
        latency,
        meters,
        ids_sorted: ids_sorted.into_boxed_slice(),
        batches,
        comp_batches,
        out_scale: vec![1.0; n].into_boxed_slice(),
        mono_slots: vec![false; nslots + scratch].into_boxed_slice(),
        deferred: vec![None; nslots + scratch].into_boxed_slice(),
        pending_deferred: 0,
        pending_twins: 0,
        scratch_base,
    };
    let (lanes, lane_targets) = compile_lanes(&desc.automation, &info, settings.sample_rate)?;
    graph.bind_lanes(&lane_targets);
    Ok(Compiled { graph, lanes, lane_targets, info })
}

/// Lanes and their `(node index, param index)` targets, in binding order.
pub type CompiledLanes = (Vec<Lane>, Vec<(usize, usize)>);

/// Validates lanes against a compiled graph's parameters.
pub fn compile_lanes(descs: &[LaneDesc], info: &GraphInfo, sample_rate: f64) -> Result<CompiledLanes> {
    let mut lanes = Vec::with_capacity(descs.len());
    let mut targets = Vec::with_capacity(descs.len());
    for l in descs {
        let node = info
            .nodes
            .get(&l.node)
            .ok_or_else(|| EngineError::type_error(format!("automate: unknown node #{}", l.node)))?;
        let p = node.param_index(l.node, &l.param)?;
        if targets.contains(&(node.index, p)) {
            return Err(EngineError::type_error(format!(
                "automate: {} parameter '{}' has two lanes",
                node.label(l.node),
                l.param
            )));
        }
        let label = format!("{} (automation)", node.label(l.node));
        for pt in &l.points {
            node.params[p].check(&label, pt.value, sample_rate)?;
        }
        lanes.push(Lane::new(&l.points));
        targets.push((node.index, p));
    }
    Ok((lanes, targets))
}

/// Kahn's algorithm in creation order; on a cycle, names the nodes on it.
fn topological_order(built: &[BuiltNode], preds: &[Vec<usize>], succs: &[Vec<usize>]) -> Result<Vec<usize>> {
    let n = built.len();
    let mut indeg: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &s in &succs[i] {
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
    while let Some(&p) = preds[cur].iter().find(|&&p| indeg[p] > 0) {
        if let Some(at) = path.iter().position(|&x| x == p) {
            let mut cycle: Vec<usize> = path[at..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            let names: Vec<String> = cycle.iter().map(|&i| built[i].label()).collect();
            return Err(EngineError::range(format!("graph: cycle: {}", names.join(" → "))));
        }
        path.push(p);
        cur = p;
    }
    Err(EngineError::range("graph: cycle"))
}
