//! A graph as the real-time engine runs it ([`RtGraph`]): whole, or cut
//! into parts that the audio thread and its workers render at the same
//! time, then the mix, one block at a time (no latency is added: a block's
//! parts and its mix render in the same callback).
//!
//! Every node has one *global index*: the mix's (or the whole graph's)
//! nodes keep their render index, and part `k`'s nodes follow after the
//! mix's and every earlier part's. Parameter changes, meters and lanes
//! address nodes by global index; [`RtGraph`] routes each to the graph that
//! holds the node, so the control side and the audio thread's bookkeeping
//! do not change with the split.

use super::board::Tasks;
use super::split::{self, Split};
use crate::automation::Lane;
use crate::compile::{
    compile_lanes, compile_tapped, compile_with_ports, CompileOptions, Compiled, CompiledLanes, GraphInfo,
};
use crate::desc::{GraphDesc, LaneDesc};
use crate::error::Result;
use crate::nodes::SideBuffers;
use crate::realtime::Team;
use crate::render::{CompiledGraph, ParamCtl};
use crate::RenderSettings;
use crossbeam_utils::CachePadded;
use ferrite_dsp::kernels::{mix4_into, mix_into};
use ferrite_dsp::Processor;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One graph of an [`RtGraph`] with its automation lanes.
pub struct Member {
    graph: CompiledGraph,
    lanes: Vec<Lane>,
    /// `(node index, param index)` per lane, local to `graph`.
    targets: Vec<(usize, usize)>,
    /// Global index of the graph's first node.
    offset: usize,
}

impl Member {
    fn new(c: Compiled, offset: usize) -> Self {
        Self { graph: c.graph, lanes: c.lanes, targets: c.lane_targets, offset }
    }
}

/// A part: its graph, its ports' render indices and the blocks it hands to
/// the mix (one per port, as long as a node's buffer).
struct Part {
    member: Member,
    ports: Box<[usize]>,
    out: Box<[Box<[f64]>]>,
    pos: u64,
    frames: usize,
}

impl Part {
    /// Renders the part's next block and keeps its ports' samples.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn render(&mut self) {
        let g = &mut self.member.graph;
        g.render_block(self.pos, self.frames, &mut self.member.lanes);
        for (&k, b) in self.ports.iter().zip(self.out.iter_mut()) {
            g.exchange_slot(k, self.frames, b);
        }
    }
}

struct PartCell(UnsafeCell<Part>);

/// The parts as tasks of a [`super::Board`], and the mix node's sum of
/// their ports when it is summed as they finish ([`Chain`]).
struct Parts(Box<[PartCell]>, Option<Chain>);

/// The mix node's inputs summed while the parts render: when the mix node
/// sums only ports, part by part in part order (each part feeding it one
/// run of its inputs, [`split::Assign::InMixOrder`]), with one latency
/// (no compensation delays), step `k` adds part `k`'s ports to the sum in
/// the mix node's order as soon as part `k` and step `k − 1` are done, on
/// whichever thread finished the later of the two. The sum is the mix
/// node's own (its first input copied, each next one added in edge order:
/// the same operations in the same order), and the mix reads it through
/// one port, so only the steps of the parts that finish last are left to
/// the audio thread after the parts, instead of the whole sum.
struct Chain {
    /// Per part: its ports (indices into `Part::out`) in the mix node's order.
    ports: Box<[Box<[usize]>]>,
    /// Parts rendered this block (bit `k`).
    rendered: CachePadded<AtomicU64>,
    /// The next step, shifted left by one; the low bit is set while a
    /// thread runs a step.
    next: CachePadded<AtomicUsize>,
    /// The sum so far (one node buffer).
    sum: UnsafeCell<Box<[f64]>>,
    /// The mix graph's port that reads the sum (render index).
    port: usize,
    channels: usize,
    stride: usize,
}

impl Chain {
    /// Runs every step that can run now, one after another.
    ///
    /// # Safety
    /// Only while the parts' tasks are published or by their owner: part
    /// `k`'s `out` is read once its bit in `rendered` is set, and nothing
    /// writes it until the block's tasks are all done.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    unsafe fn advance(&self, cells: &[PartCell], frames: usize) {
        loop {
            // Sequentially consistent: a thread that sets its part's bit and
            // then finds a step running, and the thread ending that step and
            // then reading the bits, cannot both miss the other.
            let now = self.next.load(Ordering::SeqCst);
            let k = now >> 1;
            if now & 1 == 1 || k >= cells.len() || self.rendered.load(Ordering::SeqCst) & (1 << k) == 0 {
                return;
            }
            if self.next.compare_exchange(now, now | 1, Ordering::SeqCst, Ordering::Relaxed).is_err() {
                continue;
            }
            // SAFETY: step `k` is ours (the low bit of `next`), so is the
            // sum; part `k` is rendered and its blocks stay as they are
            // until the block ends (the caller's contract).
            unsafe { self.step(&*cells[k].0.get(), k, frames) };
            self.next.store((k + 1) << 1, Ordering::SeqCst);
        }
    }

    /// Adds part `k`'s ports to the sum (the first port of step 0 is
    /// copied, as the mix node takes its first input).
    ///
    /// # Safety
    /// The caller holds the step (see [`Self::advance`]).
    unsafe fn step(&self, part: &Part, k: usize, frames: usize) {
        // SAFETY: the caller holds the step, and with it the sum.
        let sum = unsafe { &mut *self.sum.get() };
        let (ch, stride) = (self.channels, self.stride);
        let Some(list) = self.ports.get(k) else { return };
        let src = |i: usize, c: usize| {
            let b = list.get(i).and_then(|&j| part.out.get(j))?;
            b.get(c * stride..c * stride + frames)
        };
        let first = usize::from(k == 0);
        for c in 0..ch {
            let Some(d) = sum.get_mut(c * stride..c * stride + frames) else { continue };
            if k == 0 {
                match src(0, c) {
                    Some(s) => d.copy_from_slice(s),
                    None => d.fill(0.0),
                }
            }
            // The mix node's additions: `((sum + a) + b) + …` in edge order
            // (four at a time or one at a time, the same operations).
            let mut i = first;
            while i < list.len() {
                match (src(i, c), src(i + 1, c), src(i + 2, c), src(i + 3, c)) {
                    (Some(a), Some(b), Some(e), Some(f)) => {
                        mix4_into(d, [a, b, e, f], [1.0; 4]);
                        i += 4;
                    }
                    (a, ..) => {
                        if let Some(a) = a {
                            mix_into(d, a, 1.0);
                        }
                        i += 1;
                    }
                }
            }
        }
    }
}

// SAFETY: a part is reached from several threads only through
// `Tasks::run`, whose contract gives each index to one thread at a time,
// or read by a chain step once it is rendered (see [`Chain::advance`]);
// otherwise through `&mut Parts`. `Part` is `Send`.
unsafe impl Sync for Parts {}

impl Tasks for Parts {
    unsafe fn run(&self, i: usize) {
        if let Some(cell) = self.0.get(i) {
            // SAFETY: task `i` is ours alone until we return (the contract
            // of `Tasks::run`); the owner does not touch the parts meanwhile.
            let frames = unsafe {
                let part = &mut *cell.0.get();
                part.render();
                part.frames
            };
            if let Some(chain) = &self.1 {
                chain.rendered.fetch_or(1 << i, Ordering::SeqCst);
                // SAFETY: the tasks are published (this is one of them).
                unsafe { chain.advance(&self.0, frames) };
            }
        }
    }
}

impl Parts {
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Part> {
        self.0.iter_mut().map(|c| c.0.get_mut())
    }

    fn iter(&self) -> impl Iterator<Item = &Part> {
        // SAFETY: called only by the owner through `&self` while no task of
        // the parts is published (between blocks).
        self.0.iter().map(|c| unsafe { &*c.0.get() })
    }
}

/// Part `part`'s port number `port` feeds mix node `node`.
#[derive(Debug, Clone, Copy)]
struct Link {
    part: usize,
    port: usize,
    node: usize,
}

/// A graph compiled for the real-time engine: whole, or a mix with parts.
pub struct RtGraph {
    /// The whole graph, or the mix of a split one.
    mix: Member,
    /// Empty when whole.
    parts: Parts,
    links: Box<[Link]>,
    /// `(meter name, global index)` of every meter: the mix's, then each part's.
    meters: Vec<(String, usize)>,
}

/// What the control side keeps of a compiled [`RtGraph`]: per member
/// (mix first, then parts) its node lookups and which ids it renders.
#[derive(Debug, Clone, Default)]
pub struct RtLayout {
    /// Per member: its info (indices local to it) and its global offset.
    members: Vec<(GraphInfo, usize)>,
    /// Lookups by id with global indices (ports resolved to their parts).
    pub info: GraphInfo,
}

impl RtLayout {
    /// Compiles `lanes` for each member (each lane goes to the member
    /// rendering its node): per member its lanes and local targets, and
    /// every target with global indices (the order of `lanes` is checked as
    /// in a whole graph: unknown nodes, two lanes on one parameter).
    pub fn compile_lanes(&self, lanes: &[LaneDesc], sample_rate: f64) -> Result<LaneSplit> {
        let (_, global) = compile_lanes(lanes, &self.info, sample_rate)?;
        let mut per = Vec::with_capacity(self.members.len());
        for (info, _) in &self.members {
            let mine: Vec<LaneDesc> =
                lanes.iter().filter(|l| info.nodes.get(&l.node).is_some_and(|n| n.kind != "port")).cloned().collect();
            per.push(compile_lanes(&mine, info, sample_rate)?);
        }
        Ok(LaneSplit { per, global })
    }
}

/// Lanes compiled for each member of an [`RtGraph`].
pub struct LaneSplit {
    /// Per member: its lanes and their local `(node, param)` targets.
    pub per: Vec<CompiledLanes>,
    /// Every lane's `(global node index, param index)`.
    pub global: Vec<(usize, usize)>,
}

impl RtGraph {
    /// The whole graph, as one member.
    pub fn whole(c: Compiled) -> (Self, RtLayout) {
        let meters = c.graph.meters().to_vec();
        let layout = RtLayout { members: vec![(c.info.clone(), 0)], info: c.info.clone() };
        let g = Self { mix: Member::new(c, 0), parts: Parts(Box::new([]), None), links: Box::new([]), meters };
        (g, layout)
    }

    /// Compiles `desc` (already checked whole) cut into `max_parts` parts
    /// and a mix; `None` when it does not split (fewer than two
    /// components, or a part refused within its share of the memory
    /// budget: then it is compiled whole).
    pub fn split(
        desc: &GraphDesc,
        settings: RenderSettings,
        buffers: &SideBuffers,
        options: CompileOptions,
        max_parts: usize,
    ) -> Option<(Self, RtLayout)> {
        let split = split::split(desc, max_parts, split::Assign::InMixOrder)?;
        Self::compile_split(&split, settings, buffers, options, desc.memory_budget).ok()
    }

    fn compile_split(
        split: &Split,
        settings: RenderSettings,
        buffers: &SideBuffers,
        options: CompileOptions,
        budget: Option<usize>,
    ) -> Result<(Self, RtLayout)> {
        let share = budget.unwrap_or(options.memory_budget) / (split.parts.len() + 1);
        let options = CompileOptions { memory_budget: share, ..options };
        let mut compiled = Vec::with_capacity(split.parts.len());
        // (id, latency, part, port number) of every port.
        let mut ports = Vec::new();
        for (p, pd) in split.parts.iter().enumerate() {
            let c = compile_tapped(&pd.desc, settings, buffers, options, &pd.ports)?;
            let mut idx = Vec::with_capacity(pd.ports.len());
            for &id in &pd.ports {
                let Some(info) = c.info.nodes.get(&id) else { continue };
                ports.push((id, info.latency, p, idx.len()));
                idx.push(info.index);
            }
            compiled.push((c, idx));
        }
        let chain = chain_plan(split, &ports);
        let mut mix_graph = split.mix.clone();
        let mut with_latency: Vec<(u32, usize)> = Vec::with_capacity(ports.len() + 1);
        if let Some(plan) = &chain {
            // The mix node reads the sum through one port, in the place of
            // its first input; ports that fed only the mix node are left out.
            let at = mix_graph.connections.iter().position(|&(_, b)| b == split.mix_node);
            mix_graph.connections.retain(|&(_, b)| b != split.mix_node);
            if let Some(at) = at {
                mix_graph.connections.insert(at.min(mix_graph.connections.len()), (plan.id, split.mix_node));
            }
            with_latency.push((plan.id, plan.latency));
        }
        let feeds_mix = |id: u32| {
            mix_graph.connections.iter().chain(mix_graph.sidechains.iter()).any(|&(a, _)| a == id) || chain.is_none()
        };
        let linked: Vec<_> = ports.iter().copied().filter(|&(id, ..)| feeds_mix(id)).collect();
        with_latency.extend(linked.iter().map(|&(id, lat, _, _)| (id, lat)));
        let mix_desc = split::mix_desc(&mix_graph, &with_latency);
        let mix = compile_with_ports(&mix_desc, settings, buffers, options, &with_latency)?;
        let links = linked
            .iter()
            .filter_map(|&(id, _, part, port)| Some(Link { part, port, node: mix.info.nodes.get(&id)?.index }))
            .collect();
        let node_len = settings.channels * settings.max_block;
        let chain = match chain {
            Some(plan) => {
                // The mix node reads only the sum's port now: without it the
                // split is refused (and the graph compiled whole).
                let Some(info) = mix.info.nodes.get(&plan.id) else {
                    return Err(crate::error::EngineError::other("split: the mix has no port for its sum"));
                };
                Some(Chain {
                    ports: plan.ports,
                    rendered: CachePadded::new(AtomicU64::new(0)),
                    next: CachePadded::new(AtomicUsize::new(0)),
                    sum: UnsafeCell::new(vec![0.0; node_len].into_boxed_slice()),
                    port: info.index,
                    channels: settings.channels,
                    stride: settings.max_block,
                })
            }
            None => None,
        };
        let mut offset = mix.graph.nodes().len();
        let mut layout = RtLayout { members: vec![(mix.info.clone(), 0)], info: mix.info.clone() };
        layout.info.nodes.retain(|_, n| n.kind != "port");
        let mut meters = mix.graph.meters().to_vec();
        let mut parts = Vec::with_capacity(compiled.len());
        for (c, idx) in compiled {
            for (id, n) in &c.info.nodes {
                let mut n = n.clone();
                n.index += offset;
                layout.info.nodes.insert(*id, n);
            }
            meters.extend(c.graph.meters().iter().map(|(name, i)| (name.clone(), i + offset)));
            layout.members.push((c.info.clone(), offset));
            let len = c.graph.nodes().len();
            let out = idx.iter().map(|_| vec![0.0; node_len].into_boxed_slice()).collect();
            let part = Part { member: Member::new(c, offset), ports: idx.into(), out, pos: 0, frames: 0 };
            parts.push(PartCell(UnsafeCell::new(part)));
            offset += len;
        }
        let g = Self { mix: Member::new(mix, 0), parts: Parts(parts.into(), chain), links, meters };
        Ok((g, layout))
    }

    /// Whether the mix node's inputs are summed while the parts render
    /// (see [`Chain`]).
    pub fn chained_sum(&self) -> bool {
        self.parts.1.is_some()
    }

    /// How many parts render at the same time (1: whole).
    pub fn parts(&self) -> usize {
        self.parts.0.len().max(1)
    }

    /// Render channel count.
    pub fn channels(&self) -> usize {
        self.mix.graph.channels()
    }

    /// Largest block [`Self::render_block`] accepts.
    pub fn max_block(&self) -> usize {
        self.mix.graph.max_block()
    }

    /// `(meter name, global index)` of every meter.
    pub fn meters(&self) -> &[(String, usize)] {
        &self.meters
    }

    /// The whole graph, or the mix (whose output is the graph's).
    pub fn mix(&self) -> &CompiledGraph {
        &self.mix.graph
    }

    /// The member holding global node `index`, and the node's local index.
    fn member_mut(&mut self, index: usize) -> Option<(&mut Member, usize)> {
        let mix_len = self.mix.graph.nodes().len();
        if index < mix_len {
            return Some((&mut self.mix, index));
        }
        let part = self.parts.iter_mut().take_while(|p| p.member.offset <= index).last()?;
        let local = index - part.member.offset;
        (local < part.member.graph.nodes().len()).then_some((&mut part.member, local))
    }

    /// Parameter control of global node `node`, parameter `param`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn param_mut(&mut self, node: usize, param: usize) -> Option<&mut ParamCtl> {
        let (m, local) = self.member_mut(node)?;
        m.graph.param_mut(local, param)
    }

    /// The processor of global node `index`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn processor_mut(&mut self, index: usize) -> Option<&mut (dyn Processor + 'static)> {
        let (m, local) = self.member_mut(index)?;
        m.graph.processor_mut(local)
    }

    /// Calls `f` on every graph (the mix first).
    pub fn each_graph_mut(&mut self, mut f: impl FnMut(&mut CompiledGraph)) {
        f(&mut self.mix.graph);
        for p in self.parts.iter_mut() {
            f(&mut p.member.graph);
        }
    }

    /// The output of the last block: channel `c`, `frames` long.
    pub fn output(&self, c: usize, frames: usize) -> &[f64] {
        self.mix.graph.output(c, frames)
    }

    /// Renders `frames` from `position`: the parts on `team`'s board (the
    /// calling thread works on them too, and waits only for parts another
    /// thread has claimed; without a team it renders them itself), then
    /// the mix. The render input must have been written into every graph
    /// that reads it ([`Self::each_graph_mut`]).
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic.
    pub fn render_block(&mut self, position: u64, frames: usize, team: Option<&Team>) {
        let frames = frames.min(self.max_block());
        if !self.parts.0.is_empty() {
            for p in self.parts.iter_mut() {
                p.pos = position;
                p.frames = frames;
            }
            if let Some(chain) = self.parts.1.as_mut() {
                *chain.rendered.get_mut() = 0;
                *chain.next.get_mut() = 0;
            }
            match team {
                Some(t) => t.run(&self.parts, self.parts.0.len()),
                None => {
                    for i in 0..self.parts.0.len() {
                        // SAFETY: one thread runs every task, in turn.
                        unsafe { self.parts.run(i) };
                    }
                }
            }
            let Self { mix, parts, links, .. } = self;
            if let Some(chain) = parts.1.as_mut() {
                // The steps no thread could take yet (the last parts'):
                // every part is rendered now.
                // SAFETY: the block's tasks are done; this thread owns the parts.
                unsafe { chain.advance(&parts.0, frames) };
                mix.graph.exchange_slot(chain.port, frames, chain.sum.get_mut());
            }
            for l in links.iter() {
                let Some(part) = parts.0.get_mut(l.part).map(|c| c.0.get_mut()) else { continue };
                if let Some(b) = part.out.get_mut(l.port) {
                    mix.graph.exchange_slot(l.node, frames, b);
                }
            }
        }
        self.mix.graph.render_block(position, frames, &mut self.mix.lanes);
    }

    /// Moves the running state of every node that also exists in
    /// `previous` (by id, whichever of its graphs holds it) into this one.
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic.
    pub fn take_state_from(&mut self, previous: &mut RtGraph) {
        let mut each_new = |g: &mut CompiledGraph| {
            g.take_state_from(&mut previous.mix.graph);
            for p in previous.parts.iter_mut() {
                g.take_state_from(&mut p.member.graph);
            }
        };
        each_new(&mut self.mix.graph);
        for p in self.parts.iter_mut() {
            each_new(&mut p.member.graph);
        }
    }

    /// Swaps in `per` (one `(lanes, targets)` per member, as
    /// [`RtLayout::compile_lanes`] made them for this graph) and binds the
    /// parameters to them; `per` gets the old lanes. Ignored when it has
    /// the wrong number of members.
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic.
    pub fn swap_lanes(&mut self, per: &mut [CompiledLanes]) {
        if per.len() != self.parts.0.len() + 1 {
            return;
        }
        let members = std::iter::once(&mut self.mix).chain(self.parts.0.iter_mut().map(|c| &mut c.0.get_mut().member));
        for (m, (lanes, targets)) in members.zip(per.iter_mut()) {
            std::mem::swap(&mut m.lanes, lanes);
            std::mem::swap(&mut m.targets, targets);
            m.graph.bind_lanes(&m.targets);
        }
    }

    /// Whether the mix or a part graph reads the render input.
    pub fn uses_input(&self) -> bool {
        self.mix.graph.uses_input() || self.parts.iter().any(|p| p.member.graph.uses_input())
    }
}

/// What [`Chain`] needs from a split: the id and latency of the port that
/// carries the sum, and per part its ports in the mix node's order.
struct ChainPlan {
    id: u32,
    latency: usize,
    ports: Box<[Box<[usize]>]>,
}

/// The mix node's sum as a [`Chain`], when it can be: every input of the
/// mix node is a part's port (no sidechain), in part order (each part's
/// run after the one before), part 0 supplies the first, and every port
/// has the same latency (so no input is delayed to line up with another).
/// `ports`: `(id, latency, part, port number)` of every port.
fn chain_plan(split: &Split, ports: &[(u32, usize, usize, usize)]) -> Option<ChainPlan> {
    let m = split.mix_node;
    // (`Chain::rendered` holds a bit per part.)
    if split.parts.len() > 64 || split.mix.sidechains.iter().any(|&(_, b)| b == m) {
        return None;
    }
    let inputs: Vec<u32> = split.mix.connections.iter().filter(|&&(_, b)| b == m).map(|&(a, _)| a).collect();
    let mut per: Vec<Vec<usize>> = vec![Vec::new(); split.parts.len()];
    let (mut part, mut latency) = (0usize, None);
    for id in &inputs {
        let &(_, lat, p, port) = ports.iter().find(|q| q.0 == *id)?;
        if p < part || latency.is_some_and(|l| l != lat) {
            return None;
        }
        (part, latency) = (p, Some(lat));
        per.get_mut(p)?.push(port);
    }
    if per.first().is_none_or(|f| f.is_empty()) {
        return None;
    }
    let used = |id: u32| split.mix.nodes.iter().any(|n| n.id == id) || ports.iter().any(|q| q.0 == id);
    let id = (1..=u32::MAX).map(|k| u32::MAX - k).find(|&id| !used(id))?;
    Some(ChainPlan { id, latency: latency?, ports: per.into_iter().map(Vec::into_boxed_slice).collect() })
}
