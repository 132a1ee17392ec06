//! The compiler: validates a [`GraphDesc`], orders its nodes, inserts
//! latency compensation, assigns buffers, runs the passes that decide the
//! render core's strategies, and writes it all down as a plan
//! ([`crate::render::plan`]). Runs on the control side (or a render
//! worker), never on the audio thread.
//!
//! The pipeline ([`compile_with`]): `validate` (nodes and connections) →
//! `order` (topology) → `passes::fuse` → `passes::batch` and
//! `passes::twin` (then the order is clustered by depth) → `order`
//! (latency) → `slots` (buffer reuse) → `passes::fold`, `passes::mono`,
//! `passes::defer` → `emit` (nodes, buffers, groups, plan).
//!
//! A sidechain (`GraphDesc::sidechains`) is a key edge from a node to a
//! compressor's detector (`validate::Topology::keys`): every stage counts it
//! as an edge for order, depth, latency and slot lifetimes, and `emit` gives
//! it a compensation delay like an input's; it is never summed.

pub mod budget;
mod emit;
mod order;
pub(crate) mod passes;
mod slots;
mod validate;

pub use passes::batch::MIN_STEREO_CASCADE_STAGES;

use crate::automation::Lane;
use crate::desc::{GraphDesc, LaneDesc};
use crate::error::{EngineError, Result};
use crate::nodes::{self, BuildContext, Role, SideBuffers};
use crate::render::CompiledGraph;
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
    /// The latency of the node's output, in frames (its slowest input's
    /// plus its own).
    pub latency: usize,
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
    /// Run parallel biquad filters as one SIMD bank (`passes::batch`).
    pub batch: bool,
    /// Run series chains of biquad nodes as one cascade (`passes::fuse`).
    pub fuse: bool,
    /// Let the one reader of a constant gain apply it while summing its
    /// inputs, instead of a pass of its own (`passes::fold`).
    pub fold: bool,
    /// Run generators whose channels are all the same signal (oscillator,
    /// constant) on one channel; their readers take channel 0 for every
    /// channel (`passes::mono`).
    pub mono: bool,
    /// Let a one-channel generator whose samples only a sum reads (directly
    /// or through a folded gain) render when that sum takes them, into a
    /// scratch row shared by every such source, instead of into a buffer of
    /// its own (`passes::defer`).
    pub defer: bool,
    /// With `mono` and `batch`, in a stereo render: pair `eq` nodes (and
    /// fused biquad chains) at the same depth so that their mono blocks run
    /// two at a time as one stereo wavefront (`passes::twin`).
    pub twin: bool,
    /// Most bytes the graph's buffers and node state may take
    /// ([`budget`]); a larger graph is refused with a `RangeError` naming
    /// its largest nodes. Default [`budget::DEFAULT_MEMORY_BUDGET`].
    pub memory_budget: usize,
}

impl Default for CompileOptions {
    /// Everything on, the default memory budget.
    fn default() -> Self {
        Self {
            batch: true,
            fuse: true,
            fold: true,
            mono: true,
            defer: true,
            twin: true,
            memory_budget: budget::DEFAULT_MEMORY_BUDGET,
        }
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
            memory_budget: budget::DEFAULT_MEMORY_BUDGET,
        }
    }
}

/// Validates and compiles `desc` for `settings` with
/// [`CompileOptions::from_env`].
pub fn compile(desc: &GraphDesc, settings: RenderSettings, buffers: &SideBuffers) -> Result<Compiled> {
    compile_with(desc, settings, buffers, CompileOptions::from_env())
}

/// Validates and compiles `desc` for `settings` with explicit options:
/// [`check`], then [`finish`].
pub fn compile_with(
    desc: &GraphDesc,
    settings: RenderSettings,
    buffers: &SideBuffers,
    options: CompileOptions,
) -> Result<Compiled> {
    finish(check(desc, settings, buffers, options)?)
}

/// A graph validated, with its processors built and prepared: everything a
/// user can get wrong about it has been refused; [`finish`] compiles it.
pub struct Checked {
    topo: validate::Topology,
    order: Vec<usize>,
    settings: RenderSettings,
    options: CompileOptions,
    automation: Vec<LaneDesc>,
    /// What the control side checks later calls against before the graph
    /// is compiled: its nodes and parameters (with `index` the node's place
    /// in the graph description, not its render index), latency and meters.
    pub info: GraphInfo,
    /// `(node, param)` of every lane, indices as in `info`.
    pub automated: Vec<(usize, usize)>,
    /// Meter names.
    pub meters: Vec<String>,
}

/// The first half of a compile: settings, nodes (built and prepared),
/// connections, cycles, latency and automation lanes checked.
pub fn check(
    desc: &GraphDesc,
    settings: RenderSettings,
    buffers: &SideBuffers,
    options: CompileOptions,
) -> Result<Checked> {
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
    let topo = validate::build(desc, &ctx, &prep, desc.memory_budget.unwrap_or(options.memory_budget))?;
    let order = order::topological(&topo)?;
    // Fusion rewires only chains of biquads, which add no latency: the
    // latency is the same before and after.
    let lat = order::latencies(&topo, &order);
    let latency = (0..topo.len()).find(|&i| topo.is(i, Role::Output)).map_or(0, |o| lat[o]);
    let mut info = GraphInfo { nodes: HashMap::with_capacity(topo.len()), latency };
    for (i, b) in topo.built.iter().enumerate() {
        let node = NodeInfo { index: i, kind: b.kind.clone(), params: b.params.clone(), latency: lat[i] };
        info.nodes.insert(b.id, node);
    }
    let (_, automated) = compile_lanes(&desc.automation, &info, settings.sample_rate)?;
    let meters = order.iter().filter_map(|&i| topo.built[i].meter_name.clone()).collect();
    Ok(Checked { topo, order, settings, options, automation: desc.automation.clone(), info, automated, meters })
}

/// [`compile_with`], with the nodes whose ids are in `taps` compiled as
/// recording taps (see [`finish_tapped`]).
pub fn compile_tapped(
    desc: &GraphDesc,
    settings: RenderSettings,
    buffers: &SideBuffers,
    options: CompileOptions,
    taps: &[u32],
) -> Result<Compiled> {
    finish_tapped(check(desc, settings, buffers, options)?, taps)
}

/// [`compile_tapped`] of one graph of a split render ([`crate::parallel`]):
/// each node whose id is in `ports` (`(id, latency)`) is a port, whose
/// samples the caller writes into its slot before each block (a source
/// with that latency, tapped so that its slot is its own for the block).
pub(crate) fn compile_with_ports(
    desc: &GraphDesc,
    settings: RenderSettings,
    buffers: &SideBuffers,
    options: CompileOptions,
    ports: &[(u32, usize)],
) -> Result<Compiled> {
    let mut checked = check(desc, settings, buffers, options)?;
    for b in checked.topo.built.iter_mut() {
        if let Some(&(_, latency)) = ports.iter().find(|p| p.0 == b.id) {
            b.processor = Some(Box::new(crate::parallel::Port::new(latency)));
            b.role = Role::Source;
            b.kind = "port".into();
        }
    }
    let ids: Vec<u32> = ports.iter().map(|p| p.0).collect();
    finish_tapped(checked, &ids)
}

/// The second half of a compile: the passes, buffers and plan.
pub fn finish(checked: Checked) -> Result<Compiled> {
    finish_tapped(checked, &[])
}

/// [`finish`], with the nodes whose ids are in `taps` compiled as recording
/// taps: each keeps a buffer slot of its own for the whole block (pinned:
/// never released, reused or taken in place by a successor) and is not
/// folded, absorbed into a fused chain or deferred, so that after every
/// block [`CompiledGraph::tap_output`] reads its output. Ids not in the
/// graph are ignored.
pub fn finish_tapped(checked: Checked, taps: &[u32]) -> Result<Compiled> {
    let Checked { mut topo, mut order, settings, options, automation, .. } = checked;
    topo.tapped = topo.built.iter().map(|b| taps.contains(&b.id)).collect();
    let fused = passes::fuse::plan(&mut topo, &mut order, options.fuse)?;
    let (batches, twins) = if options.batch {
        let depth = order::depths(&topo, &order);
        let batches = passes::batch::plan(&mut topo, &depth, &fused, settings.channels);
        let twins = passes::twin::plan(&mut topo, &depth, &fused, options.twin && options.mono, settings.channels);
        let groups: Vec<&[usize]> = batches
            .filters
            .iter()
            .map(|(m, _)| m.as_slice())
            .chain(batches.compressors.iter().map(Vec::as_slice))
            .chain(twins.iter().map(Vec::as_slice))
            .collect();
        order::cluster(&mut order, &depth, &groups);
        (batches, twins)
    } else {
        (passes::batch::Batches::default(), Vec::new())
    };
    let lat = order::latencies(&topo, &order);
    let latency = (0..topo.len()).find(|&i| topo.is(i, Role::Output)).map_or(0, |o| lat[o]);
    let slots = slots::assign(&topo, &order, &lat);
    let folded = passes::fold::plan(&topo, &lat, &slots, &fused, options.fold);
    let mono = passes::mono::plan(&topo, settings.channels, options.mono);
    let facts = passes::defer::Facts { lat: &lat, slots: &slots, fused: &fused, folded: &folded, mono: &mono };
    let deferred = passes::defer::plan(&topo, &facts, options.defer);
    let decisions = emit::Decisions { order, lat, latency, slots, fused, batches, twins, folded, mono, deferred };
    let (mut graph, info) = emit::graph(topo, &decisions, settings)?;
    let (lanes, lane_targets) = compile_lanes(&automation, &info, settings.sample_rate)?;
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
