//! The compiled graph: what the audio thread (or the offline renderer) runs.
//!
//! Everything here is allocated by [`crate::compile`] on the control side;
//! [`CompiledGraph::render_block`] only reads and writes what exists.

use crate::automation::Lane;
use crate::batch::{BatchGroup, CompGroup};
use crate::nodes::Role;
use ferrite_dsp::kernels::{gain, mix4_into, mix_into, prefetch};
use ferrite_dsp::{Bus, ParamBuffer, ProcessContext, Processor};

/// A compensation delay on one edge: `len` frames per channel, ring-buffered.
#[derive(Debug, Clone)]
pub struct CompDelay {
    pub(crate) len: usize,
    pub(crate) line: Box<[f64]>,
    pub(crate) pos: usize,
}

impl CompDelay {
    pub(crate) fn new(len: usize, channels: usize) -> Self {
        Self { len, line: vec![0.0; len * channels].into_boxed_slice(), pos: 0 }
    }

    /// Adds `src` delayed by `len` frames into `dst`, channel by channel.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn add_delayed(&mut self, src: &[f64], dst: &mut [f64], channels: usize, stride: usize, frames: usize) {
        let len = self.len;
        if len == 0 {
            return;
        }
        for c in 0..channels {
            let (Some(s), Some(line)) =
                (src.get(c * stride..c * stride + frames), self.line.get_mut(c * len..(c + 1) * len))
            else {
                continue;
            };
            let Some(d) = dst.get_mut(c * stride..c * stride + frames) else { continue };
            let mut pos = self.pos;
            for (x, y) in s.iter().zip(d.iter_mut()) {
                if let Some(slot) = line.get_mut(pos) {
                    *y += *slot;
                    *slot = *x;
                }
                pos += 1;
                if pos == len {
                    pos = 0;
                }
            }
        }
        self.pos = (self.pos + frames) % len;
    }

    fn reset(&mut self) {
        self.line.fill(0.0);
        self.pos = 0;
    }
}

/// One input of a node.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Buffer slot of the source node.
    pub(crate) src_slot: usize,
    /// Id of the source node (to hand a compensation delay over on a swap).
    pub(crate) src_id: u32,
    /// Delay that aligns this path with the node's slowest input.
    pub(crate) comp: Option<CompDelay>,
    /// The source is a folded gain (render index): its buffer is unscaled
    /// and this edge multiplies by its gain (`CompiledGraph::out_scale`).
    pub(crate) scale_from: Option<usize>,
}

/// Run-time state of one parameter: a ramp towards a target, or a lane.
#[derive(Debug, Clone, Copy)]
pub struct ParamCtl {
    pub(crate) current: f64,
    pub(crate) target: f64,
    pub(crate) step: f64,
    pub(crate) remaining: u64,
    pub(crate) lane: Option<usize>,
}

impl ParamCtl {
    pub(crate) fn new(value: f64) -> Self {
        Self { current: value, target: value, step: 0.0, remaining: 0, lane: None }
    }

    /// Starts a linear ramp to `target` over `frames` (an immediate set when 0).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn set(&mut self, target: f64, frames: u64) {
        self.target = target;
        if frames == 0 {
            self.current = target;
            self.remaining = 0;
        } else {
            self.step = (target - self.current) / frames as f64;
            self.remaining = frames;
        }
    }
}

/// One node as the render core sees it.
pub struct RenderNode {
    /// Node id (from the serialized graph).
    pub id: u32,
    pub(crate) role: Role,
    pub(crate) processor: Option<Box<dyn Processor>>,
    pub(crate) inputs: Vec<Edge>,
    pub(crate) slot: usize,
    pub(crate) params: Vec<ParamBuffer>,
    pub(crate) ctl: Vec<ParamCtl>,
    /// `(group, member)` when the node runs in a batch (see [`crate::batch`]).
    pub(crate) batch: Option<(usize, usize)>,
    /// `(group, member)` when the node is a batched compressor.
    pub(crate) comp_batch: Option<(usize, usize)>,
    /// For the tail of a fused biquad chain: the render indices of the other
    /// members, in chain order (see [`crate::fuse`]); empty otherwise.
    pub(crate) fused: Box<[usize]>,
    /// For the tail of a fused chain: the chain's kept cascades.
    pub(crate) chain: Option<Box<crate::fuse::ChainCache>>,
    /// A `gain` whose one reader applies it (see [`CompiledGraph::render_block`]):
    /// while its gain is constant it does not run.
    pub(crate) fold: bool,
    /// A folded gain with one input, rendered in place on it: while its
    /// parameters are settled, its block leaves every buffer, flag and factor
    /// as it was, so the render core skips it without touching its edges.
    pub(crate) pass_through: bool,
    /// A generator run on channel 0 only (see [`CompiledGraph::render_block`]).
    pub(crate) mono: bool,
    /// With mono sources on, a processor asked before each mono block
    /// whether it runs on channel 0 only and keeps the block mono
    /// (`Processor::mono_ready`).
    pub(crate) may_keep_mono: bool,
    /// Whether the node's last block ran on channel 0 only.
    pub(crate) ran_mono: bool,
    /// A mono generator that renders when its one reader sums it (see
    /// [`CompiledGraph::render_block`]).
    pub(crate) defer: bool,
    /// A fused chain member other than the tail: the tail runs it.
    pub(crate) absorbed: bool,
    /// One of a pair of twins (see [`crate::batch::run_twins`]).
    pub(crate) twin: Option<crate::batch::TwinLink>,
    /// The first of twins whose mono block waits for its partner's turn.
    pub(crate) twin_waiting: bool,
    /// The twin's last block ran paired with its partner's.
    pub(crate) twinned: bool,
    /// Every parameter buffer holds its constant value, with no ramp and no
    /// lane: [`fill_params`] has nothing to do until a parameter is touched
    /// ([`CompiledGraph::param_mut`], [`CompiledGraph::bind_lanes`]).
    pub(crate) params_settled: bool,
}

/// A graph compiled for one sample rate, channel count and maximum block.
pub struct CompiledGraph {
    pub(crate) sample_rate: f64,
    pub(crate) channels: usize,
    pub(crate) max_block: usize,
    pub(crate) nodes: Vec<RenderNode>,
    pub(crate) pool: Vec<Box<[f64]>>,
    pub(crate) input_slot: Option<usize>,
    pub(crate) output_slot: Option<usize>,
    pub(crate) latency: usize,
    /// `(meter name, node index)` for every meter node.
    pub(crate) meters: Vec<(String, usize)>,
    /// `(node id, node index)` sorted by id, for state hand-over on a swap.
    pub(crate) ids_sorted: Box<[(u32, usize)]>,
    /// Groups of batched filters (see [`crate::batch`]).
    pub(crate) batches: Vec<BatchGroup>,
    /// Groups of batched compressors (see [`crate::batch::CompGroup`]).
    pub(crate) comp_batches: Vec<CompGroup>,
    /// Per node (render index): the gain a folded `gain` left for its reader
    /// to apply this block (1 when it ran itself).
    pub(crate) out_scale: Box<[f64]>,
    /// Per buffer slot: it holds a mono block, channel 0 standing for every
    /// channel (set by its writer each block).
    pub(crate) mono_slots: Box<[bool]>,
    /// Per buffer slot: the deferred source (render index) whose samples
    /// belong there this block but are not rendered yet, and whether its
    /// parameters were settled before the block.
    pub(crate) deferred: Box<[Option<(usize, bool)>]>,
    /// How many entries of `deferred` are set.
    pub(crate) pending_deferred: usize,
    /// How many twins wait for their partner (see [`Self::render_block`]).
    pub(crate) pending_twins: usize,
    /// The first of the [`SCRATCH_ROWS`] pool slots deferred sources render
    /// into (past the node slots; only present when a node is deferred).
    pub(crate) scratch_base: usize,
}

/// Pool slots shared by the deferred sources a sum takes at once (the mix
/// kernel adds four sources per pass).
pub(crate) const SCRATCH_ROWS: usize = 4;

impl CompiledGraph {
    /// Total latency reported to the output, in frames.
    pub fn latency(&self) -> usize {
        self.latency
    }

    /// Render channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Largest block [`Self::render_block`] accepts.
    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// Sample rate the graph was compiled for.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Meter names and node indices.
    pub fn meters(&self) -> &[(String, usize)] {
        &self.meters
    }

    /// The processor of node `index` (for meters and tests).
    pub fn processor_mut(&mut self, index: usize) -> Option<&mut (dyn Processor + 'static)> {
        self.nodes.get_mut(index).and_then(|n| n.processor.as_deref_mut())
    }

    /// Nodes in render order.
    pub fn nodes(&self) -> &[RenderNode] {
        &self.nodes
    }

    /// Member counts of the batched filter groups (see [`crate::batch`]).
    pub fn batch_groups(&self) -> Vec<usize> {
        self.batches.iter().map(BatchGroup::len).collect()
    }

    /// Member counts of the batched compressor groups.
    pub fn compressor_groups(&self) -> Vec<usize> {
        self.comp_batches.iter().map(CompGroup::len).collect()
    }

    /// How many `gain` nodes are folded into their reader (see
    /// [`Self::render_block`]).
    pub fn folded_gains(&self) -> usize {
        self.nodes.iter().filter(|n| n.fold).count()
    }

    /// How many generators run on one channel (see [`Self::render_block`]).
    pub fn mono_sources(&self) -> usize {
        self.nodes.iter().filter(|n| n.mono).count()
    }

    /// How many processors other than generators ran their last block on
    /// channel 0 of a mono block and kept it mono (see [`Self::render_block`]).
    pub fn kept_mono(&self) -> usize {
        self.nodes.iter().filter(|n| n.ran_mono && !n.mono).count()
    }

    /// How many generators render when their reader sums them (see
    /// [`Self::render_block`]).
    pub fn deferred_sources(&self) -> usize {
        self.nodes.iter().filter(|n| n.defer).count()
    }

    /// How many pairs of twins the compiler formed (see [`Self::render_block`]).
    pub fn twin_pairs(&self) -> usize {
        self.nodes.iter().filter(|n| n.twin.is_some_and(|t| t.first)).count()
    }

    /// The ids of the twins that ran their last block paired with their
    /// partner, in render order.
    pub fn twinned(&self) -> Vec<u32> {
        self.nodes.iter().filter(|n| n.twinned).map(|n| n.id).collect()
    }

    /// Lengths of the fused biquad chains, in render order (see [`crate::fuse`]).
    pub fn fused_chains(&self) -> Vec<usize> {
        self.nodes.iter().filter(|n| !n.fused.is_empty()).map(|n| n.fused.len() + 1).collect()
    }

    /// Parameter control of node `node`, parameter `param`.
    pub fn param_mut(&mut self, node: usize, param: usize) -> Option<&mut ParamCtl> {
        let n = self.nodes.get_mut(node)?;
        n.params_settled = false;
        n.ctl.get_mut(param)
    }

    /// The render input for the next block: channel `c`, `max_block` long.
    /// Write up to `frames` samples before [`Self::render_block`].
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn input_mut(&mut self, c: usize) -> &mut [f64] {
        let mb = self.max_block;
        match self.input_slot.and_then(|s| self.pool.get_mut(s)) {
            Some(buf) if c < self.channels => buf.get_mut(c * mb..(c + 1) * mb).unwrap_or(&mut []),
            _ => &mut [],
        }
    }

    /// Whether the graph reads the render input.
    pub fn uses_input(&self) -> bool {
        self.input_slot.is_some()
    }

    /// The output of the last block: channel `c`, `frames` long.
    pub fn output(&self, c: usize, frames: usize) -> &[f64] {
        let mb = self.max_block;
        match self.output_slot.and_then(|s| self.pool.get(s)) {
            Some(buf) if c < self.channels && frames <= mb => buf.get(c * mb..c * mb + frames).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// [recording tap] The output of node `index` in the last block: channel
    /// `c`, `frames` long, and whether the block was mono (then channel 0 is
    /// returned for every channel). Only meaningful for a node compiled as a
    /// tap ([`crate::compile::compile_tapped`]): any other node's slot may
    /// have been reused, folded or never written. Empty when out of range.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn tap_output(&self, index: usize, c: usize, frames: usize) -> (&[f64], bool) {
        let mb = self.max_block;
        let Some(slot) = self.nodes.get(index).map(|n| n.slot) else { return (&[], false) };
        let mono = self.mono_slots.get(slot).copied().unwrap_or(false);
        let c = if mono { 0 } else { c };
        match self.pool.get(slot) {
            Some(buf) if c < self.channels && frames <= mb => (buf.get(c * mb..c * mb + frames).unwrap_or(&[]), mono),
            _ => (&[], mono),
        }
    }

    /// Points each parameter at its lane in `lanes` (`(node index, param index)` per lane).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn bind_lanes(&mut self, targets: &[(usize, usize)]) {
        for n in self.nodes.iter_mut() {
            n.params_settled = false;
            for c in n.ctl.iter_mut() {
                c.lane = None;
            }
        }
        for (li, &(node, param)) in targets.iter().enumerate() {
            if let Some(c) = self.param_mut(node, param) {
                c.lane = Some(li);
            }
        }
    }

    /// Index of the node with `id`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic (a binary search).
    pub fn index_of(&self, id: u32) -> Option<usize> {
        self.ids_sorted
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()
            .and_then(|k| self.ids_sorted.get(k))
            .map(|&(_, idx)| idx)
    }

    /// Moves the running state of every node that also exists in `previous`
    /// (same id, same kind of processor) into this graph: filter memory, delay
    /// lines, phases, envelopes, and the compensation delays of unchanged edges.
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic (processors copy or swap state
    /// of equal sizes only).
    pub fn take_state_from(&mut self, previous: &mut CompiledGraph) {
        previous.flush_chains();
        for node in self.nodes.iter_mut() {
            let Some(old_index) = previous.index_of(node.id) else { continue };
            let Some(old) = previous.nodes.get_mut(old_index) else { continue };
            if let (Some(new_p), Some(old_p)) = (node.processor.as_mut(), old.processor.as_mut()) {
                new_p.take_state(old_p.as_mut());
            }
            // An edge from the same source with a compensation delay of the
            // same length keeps its delay line (a swap of boxes: no allocation).
            for edge in node.inputs.iter_mut() {
                let Some(comp) = edge.comp.as_mut() else { continue };
                let old_comp = old.inputs.iter_mut().find(|e| e.src_id == edge.src_id).and_then(|e| e.comp.as_mut());
                if let Some(old_comp) = old_comp.filter(|c| c.len == comp.len && c.line.len() == comp.line.len()) {
                    std::mem::swap(comp, old_comp);
                }
            }
        }
    }

    /// Moves the filter memory that fused chains keep in their cascades back
    /// into their biquads (see [`crate::fuse`]).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn flush_chains(&mut self) {
        for k in 0..self.nodes.len() {
            let Some(node) = self.nodes.get_mut(k) else { continue };
            let Some(mut cache) = node.chain.take() else { continue };
            let fused = std::mem::take(&mut node.fused);
            crate::fuse::flush(&mut self.nodes, &fused, k, &mut cache);
            if let Some(node) = self.nodes.get_mut(k) {
                node.chain = Some(cache);
                node.fused = fused;
            }
        }
    }

    /// Clears every processor and delay to its prepared state.
    pub fn reset(&mut self) {
        for n in self.nodes.iter_mut() {
            if let Some(c) = n.chain.as_mut() {
                c.drop_state();
            }
            if let Some(p) = n.processor.as_mut() {
                p.reset();
            }
            for e in n.inputs.iter_mut() {
                if let Some(c) = e.comp.as_mut() {
                    c.reset();
                }
            }
        }
    }

    /// Renders `frames` (`<= max_block`) frames starting at transport frame
    /// `position`. The input must have been written with [`Self::input_mut`];
    /// the result is read with [`Self::output`].
    ///
    /// Gain folding: a `gain` node whose output only one node reads (a plain
    /// edge, not in place) does not run while its gain is constant; its
    /// buffer keeps its input and the reader multiplies while summing:
    /// `g·x` for its first input (the gain kernel), `d + g·x` for the others
    /// (the mix kernel). Those are the gain node's product and the sum that
    /// would follow, so the samples are the same bits (tested against
    /// `CompileOptions::fold` off; `FERRITE_NO_FOLD=1` turns it off).
    ///
    /// Mono sources: a generator whose channels all carry one signal
    /// (`Processor::mono_source`: oscillator, constant) writes channel 0 only,
    /// and its buffer slot is marked mono for the block. A sum of mono inputs
    /// is computed on channel 0 only; when a full-width input joins, the sum so
    /// far is copied to the other channels first. A processor that treats
    /// every channel alike and says so for the block
    /// (`Processor::mono_ready`: a gain or a compressor always; an `eq` or a
    /// `biquad` while every channel's filter memory is channel 0's, which
    /// running on mono blocks keeps so) runs on channel 0 of a mono block and
    /// leaves it mono. Before any other processor runs, and
    /// for a compensation delay, a mono block is widened (channel 0 copied to
    /// the others). Each channel would have had the same operands in the same
    /// order, so the samples are the same bits (tested against
    /// `CompileOptions::mono` off; `FERRITE_NO_MONO=1` turns it off). It saves
    /// the generator's copies and half of the mixing of plain source tracks.
    ///
    /// Twins: two filters of mono tracks paired by the compiler run their
    /// mono blocks on kept cascades as one stereo wavefront, the first
    /// waiting for the second's turn (see [`crate::batch`], "Twins"; tested
    /// against `CompileOptions::twin` off; `FERRITE_NO_TWIN=1` turns it off).
    ///
    /// Deferred sources: a mono generator whose samples only a sum reads
    /// (a plain edge, not in place; directly or through a folded gain
    /// rendered in place on it) fills its parameters at its turn but renders
    /// when the sum takes it, into one of [`SCRATCH_ROWS`] scratch rows that
    /// the mix kernel then adds, four at a time, exactly as it would add the
    /// generator's own buffer (as the sum's first input, which the compiler
    /// does not defer, it renders into its own buffer). The rows are shared by every such source, so
    /// the samples go from the generator to the sum while in the L1 cache,
    /// instead of through one buffer per generator (64 oscillators' blocks
    /// are 64 KB). If anything else comes to read the generator's buffer (the
    /// folded gain runs because its gain changes), the generator renders
    /// there first. Each generator runs once per block on the same
    /// parameters, so the samples are the same bits (tested against
    /// `CompileOptions::defer` off; `FERRITE_NO_DEFER=1` turns it off).
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic.
    pub fn render_block(&mut self, position: u64, frames: usize, lanes: &mut [Lane]) {
        let frames = frames.min(self.max_block);
        let (channels, mb) = (self.channels, self.max_block);
        if let Some(m) = self.input_slot.and_then(|s| self.mono_slots.get_mut(s)) {
            *m = false;
        }
        for k in 0..self.nodes.len() {
            // The next node's edges, parameters and processor (hints only).
            if let Some(next) = self.nodes.get(k + 1) {
                prefetch(next.inputs.as_ptr());
                prefetch(next.params.as_ptr());
                prefetch(next.ctl.as_ptr());
                if let Some(p) = next.processor.as_deref() {
                    prefetch(p);
                    prefetch((p as *const dyn Processor).cast::<u8>().wrapping_add(64));
                }
            }
            let at = k.min(self.nodes.len());
            let (done, rest) = self.nodes.split_at_mut(at);
            let Some(node) = rest.first_mut() else { continue };
            if node.role == Role::Input || node.absorbed || (node.pass_through && node.params_settled) {
                continue;
            }
            // A deferred source: its parameters now, its samples when its reader sums it.
            if node.defer {
                let settled = node.params_settled;
                fill_params(node, position, frames, lanes);
                if let Some(d) = self.deferred.get_mut(node.slot) {
                    if d.replace((k, settled)).is_none() {
                        self.pending_deferred += 1;
                    }
                }
                if let Some(m) = self.mono_slots.get_mut(node.slot) {
                    *m = true;
                }
                continue;
            }
            let batch = node.batch;
            let comp_batch = node.comp_batch;
            // A compensation delay keeps every channel's history: its source
            // gets all its channels (a mono block is widened in place, which
            // leaves channel 0, all its other readers see, as it was).
            for edge in node.inputs.iter().filter(|e| e.comp.is_some()) {
                if let Some(m) = self.mono_slots.get_mut(edge.src_slot).filter(|m| **m) {
                    *m = false;
                    if let Some(src) = self.pool.get_mut(edge.src_slot) {
                        widen(src, channels, mb, frames);
                    }
                }
            }
            let mono_at = |s: usize| self.mono_slots.get(s).copied().unwrap_or(false);
            // Take the node's buffer out of the pool (no allocation: an empty
            // boxed slice is a dangling pointer), sum its inputs into it: the
            // first input is copied (a plain edge) or added to zeros (an edge
            // with a compensation delay), the others added; no input: zeros.
            let Some(slot) = self.pool.get_mut(node.slot) else { continue };
            let mut buf = std::mem::take(slot);
            // Rendered in place: the first input's samples are already in `buf`.
            let in_place = node.inputs.first().is_some_and(|e| e.src_slot == node.slot);
            // In place on a deferred source, with more to sum: its samples first.
            if in_place && node.inputs.len() > 1 {
                if let Some((j, settled)) = take_deferred(&mut self.deferred, &mut self.pending_deferred, node.slot) {
                    render_deferred(done, j, settled, &mut buf, mb, position, frames);
                }
            }
            let mut empty = !in_place;
            // While every input so far is mono, so is the sum: channel 0 only
            // (each channel would have the same operands in the same order).
            let mut mono = in_place && mono_at(node.slot);
            // Plain inputs after the first are added up to four at a time, in
            // edge order, each times its folded gain (the same bits as one by one).
            let mut pending = [Source { slot: 0, gain: 1.0, mono: false }; 4];
            let mut np = 0;
            for edge in node.inputs.iter_mut().skip(usize::from(in_place)) {
                // A folded gain's factor (1: a plain sum).
                let g = edge.scale_from.and_then(|j| self.out_scale.get(j)).copied().unwrap_or(1.0);
                if let Some((j, settled)) = take_deferred(&mut self.deferred, &mut self.pending_deferred, edge.src_slot)
                {
                    // Added to the sum: into the scratch row of its place in
                    // the pending four.
                    if edge.comp.is_none() && !empty {
                        let row = self.scratch_base + np;
                        if let (Some(scratch), Some(p)) = (self.pool.get_mut(row), pending.get_mut(np)) {
                            render_deferred(done, j, settled, scratch, mb, position, frames);
                            *p = Source { slot: row, gain: g, mono: true };
                            np += 1;
                        }
                        if np == pending.len() {
                            let width = if mono { 1 } else { channels };
                            sum_sources(&self.pool, &pending, &mut buf, width, mb, frames);
                            np = 0;
                        }
                        continue;
                    }
                    // The first input, or a delayed one (the compiler defers
                    // neither): into its own buffer, then read as usual.
                    if let Some(slot) = self.pool.get_mut(edge.src_slot) {
                        render_deferred(done, j, settled, slot, mb, position, frames);
                    }
                }
                let Some(src) = self.pool.get(edge.src_slot) else { continue };
                let src_mono = mono_at(edge.src_slot);
                // A full-width input joins a mono sum: the sum so far becomes full width.
                if mono && !src_mono {
                    sum_sources(&self.pool, pending.get(..np).unwrap_or(&[]), &mut buf, 1, mb, frames);
                    np = 0;
                    widen(&mut buf, channels, mb, frames);
                    mono = false;
                }
                let width = if mono { 1 } else { channels };
                match edge.comp.as_mut() {
                    Some(d) => {
                        sum_sources(&self.pool, pending.get(..np).unwrap_or(&[]), &mut buf, width, mb, frames);
                        np = 0;
                        if empty {
                            zero_channels(&mut buf, channels, mb, frames);
                        }
                        d.add_delayed(src, &mut buf, channels, mb, frames);
                    }
                    None if empty => {
                        mono = src_mono;
                        for c in 0..if src_mono { 1 } else { channels } {
                            let r = c * mb..c * mb + frames;
                            if let (Some(s), Some(d)) = (src.get(r.clone()), buf.get_mut(r)) {
                                d.copy_from_slice(s);
                                if g != 1.0 {
                                    // What the gain node would have computed.
                                    gain(d, g);
                                }
                            }
                        }
                    }
                    None => {
                        if let Some(p) = pending.get_mut(np) {
                            *p = Source { slot: edge.src_slot, gain: g, mono: src_mono };
                            np += 1;
                        }
                        if np == pending.len() {
                            sum_sources(&self.pool, &pending, &mut buf, width, mb, frames);
                            np = 0;
                        }
                    }
                }
                empty = false;
            }
            let width = if mono { 1 } else { channels };
            sum_sources(&self.pool, pending.get(..np).unwrap_or(&[]), &mut buf, width, mb, frames);
            // No input: zeros, unless the processor writes the whole block anyway.
            if empty && !node.processor.as_ref().is_some_and(|p| p.overwrites_output()) {
                zero_channels(&mut buf, channels, mb, frames);
            }
            let was_settled = node.params_settled;
            fill_params(node, position, frames, lanes);
            // A folded gain with a constant gain: its reader applies it.
            if node.fold {
                // Settled before this block: the previous block's constant,
                // already in `out_scale` (the parameter buffer is not read).
                let constant = was_settled || {
                    let g = node.params.first().and_then(|p| p.block(frames).constant());
                    if let Some(scale) = self.out_scale.get_mut(k) {
                        *scale = g.unwrap_or(1.0);
                    }
                    g.is_some()
                };
                if constant {
                    if let Some(slot) = self.pool.get_mut(node.slot) {
                        *slot = buf;
                    }
                    if let Some(m) = self.mono_slots.get_mut(node.slot) {
                        *m = mono;
                    }
                    continue;
                }
            }
            // Running on a deferred source's buffer (a folded gain whose gain
            // changes): the source's samples first.
            if in_place {
                if let Some((j, settled)) = take_deferred(&mut self.deferred, &mut self.pending_deferred, node.slot) {
                    render_deferred(done, j, settled, &mut buf, mb, position, frames);
                }
            }
            // Processors see every channel; a generator of one signal writes
            // channel 0 only, and so does a processor that treats every
            // channel alike (a gain, a filter in lockstep) on a mono block,
            // on its own buffer at its own width (a compressor batch takes
            // each member's width; a fused chain asks all its members).
            let alone = batch.is_none() && comp_batch.is_none() && node.fused.is_empty();
            let mut keep_mono = mono && node.may_keep_mono && batch.is_none();
            if keep_mono {
                if node.fused.is_empty() {
                    keep_mono = node.processor.as_ref().is_some_and(|p| p.mono_ready());
                } else {
                    // Moved out and back: no allocation.
                    let (fused, chain) = (std::mem::take(&mut node.fused), node.chain.take());
                    keep_mono = crate::fuse::mono_ready(&self.nodes, &fused, k, chain.as_deref());
                    if let Some(n) = self.nodes.get_mut(k) {
                        (n.fused, n.chain) = (fused, chain);
                    }
                }
            }
            let Some(node) = self.nodes.get_mut(k) else { continue };
            if mono && !keep_mono {
                widen(&mut buf, channels, mb, frames);
            }
            let out_mono = (node.mono && alone) || keep_mono;
            // `process_unchanged` promises the previous block's channels.
            let was_settled = was_settled && node.ran_mono == out_mono;
            node.ran_mono = out_mono;
            if let Some(m) = self.mono_slots.get_mut(node.slot) {
                *m = out_mono;
            }
            // Twins: the first's mono block on kept cascades waits for its
            // partner's, to run with it as one stereo wavefront.
            if let Some(link) = node.twin {
                node.twinned = false;
                let slot = node.slot;
                let ready = out_mono && was_settled && crate::batch::twin_ready(&mut self.nodes, k);
                if link.first && ready {
                    if let Some(s) = self.pool.get_mut(slot) {
                        *s = buf;
                    }
                    if let Some(n) = self.nodes.get_mut(k) {
                        n.twin_waiting = true;
                    }
                    self.pending_twins += 1;
                    continue;
                }
                if !link.first && self.nodes.get(link.partner).is_some_and(|n| n.twin_waiting) {
                    self.pending_twins = self.pending_twins.saturating_sub(1);
                    let b = ready.then_some((k, &mut buf[..]));
                    crate::batch::run_twins(&mut self.nodes, &mut self.pool, link.partner, b, frames);
                    if ready {
                        for j in [k, link.partner] {
                            if let Some(n) = self.nodes.get_mut(j) {
                                n.twinned = true;
                            }
                        }
                        if let Some(s) = self.pool.get_mut(slot) {
                            *s = buf;
                        }
                        continue;
                    }
                }
            }
            let Some(node) = self.nodes.get_mut(k) else { continue };
            // The tail of a fused chain: the other members first (the whole
            // chain at once when its parameters are constant).
            if !node.fused.is_empty() {
                // Moved out and back: no allocation.
                let fused = std::mem::take(&mut node.fused);
                let mut chain = node.chain.take();
                let done = crate::fuse::run_chain(
                    &mut self.nodes,
                    &fused,
                    k,
                    was_settled,
                    chain.as_deref_mut(),
                    position,
                    frames,
                    lanes,
                    &mut buf,
                    if out_mono { 1 } else { channels },
                    mb,
                );
                if let Some(node) = self.nodes.get_mut(k) {
                    node.fused = fused;
                    node.chain = chain;
                }
                if done {
                    if let Some(slot) = self.nodes.get(k).and_then(|n| self.pool.get_mut(n.slot)) {
                        *slot = buf;
                    }
                    continue;
                }
            }
            let Some(node) = self.nodes.get_mut(k) else { continue };
            if let Some(p) = node.processor.as_mut() {
                let ctx = ProcessContext { frames, position, params: &node.params };
                if let Some((group, m)) = comp_batch.and_then(|(g, m)| Some((self.comp_batches.get_mut(g)?, m))) {
                    group.stage(m, p.as_mut(), &ctx, &mut buf, if out_mono { 1 } else { channels }, mb);
                } else {
                    match batch.and_then(|(g, m)| Some((self.batches.get_mut(g)?, m))) {
                        // A batch member: loaded into its group's bank, or run alone.
                        Some((group, m)) => group.stage(m, p.as_mut(), &ctx, &mut buf, mb),
                        None => {
                            let mut bus = Bus::new(&mut buf, if out_mono { 1 } else { channels }, mb, frames);
                            if was_settled {
                                p.process_unchanged(&ctx, &mut bus);
                            } else {
                                p.process(&ctx, &mut bus);
                            }
                        }
                    }
                }
            }
            if let Some(slot) = self.pool.get_mut(node.slot) {
                *slot = buf;
            }
            if let Some(group) = comp_batch.and_then(|(g, _)| self.comp_batches.get_mut(g)) {
                if group.last() == Some(k) {
                    group.run(frames, &mut self.nodes, &mut self.pool, mb);
                }
            }
            // The group's last member: run the bank, hand samples and state back.
            if let Some(group) = batch.and_then(|(g, _)| self.batches.get_mut(g)) {
                if group.last() == Some(k) {
                    group.run(frames, &mut self.nodes, &mut self.pool, mb);
                }
            }
        }
        // A twin whose partner did not run (the compiler puts partners
        // next to each other, so this does not happen): alone.
        if self.pending_twins > 0 {
            for j in 0..self.nodes.len() {
                if self.nodes.get(j).is_some_and(|n| n.twin_waiting) {
                    crate::batch::run_twins(&mut self.nodes, &mut self.pool, j, None, frames);
                }
            }
            self.pending_twins = 0;
        }
        // A deferred source no one summed this block (its reader did not
        // run): rendered into its own buffer, so that it runs every block.
        if self.pending_deferred > 0 {
            for (s, d) in self.deferred.iter_mut().enumerate() {
                if let (Some((j, settled)), Some(slot)) = (d.take(), self.pool.get_mut(s)) {
                    render_deferred(&mut self.nodes, j, settled, slot, mb, position, frames);
                }
            }
            self.pending_deferred = 0;
        }
    }
}

/// The deferred source whose samples belong in `slot`, if any, now taken
/// off the list (`pending` counts what is left).
///
/// # Realtime
/// Does not allocate, lock or panic.
fn take_deferred(deferred: &mut [Option<(usize, bool)>], pending: &mut usize, slot: usize) -> Option<(usize, bool)> {
    let taken = deferred.get_mut(slot).and_then(Option::take);
    if taken.is_some() {
        *pending = pending.saturating_sub(1);
    }
    taken
}

/// Renders deferred source `j` (a mono generator) into channel 0 of `buf`,
/// as its own turn would have: [`Processor::process_unchanged`] when its
/// parameters were settled before the block, else [`Processor::process`].
///
/// # Realtime
/// Does not allocate, lock or panic.
fn render_deferred(
    nodes: &mut [RenderNode],
    j: usize,
    settled: bool,
    buf: &mut [f64],
    stride: usize,
    position: u64,
    frames: usize,
) {
    let Some(node) = nodes.get_mut(j) else { return };
    if let Some(p) = node.processor.as_mut() {
        let ctx = ProcessContext { frames, position, params: &node.params };
        let mut bus = Bus::new(buf, 1, stride, frames);
        if settled {
            p.process_unchanged(&ctx, &mut bus);
        } else {
            p.process(&ctx, &mut bus);
        }
    }
}

/// A summed input: its buffer slot, the gain applied while summing, and
/// whether the slot holds a mono block (channel 0 read for every channel).
#[derive(Debug, Clone, Copy)]
struct Source {
    slot: usize,
    gain: f64,
    mono: bool,
}

/// Adds the buffers of `sources` (up to 4) times their gains to the first
/// `channels` channels of `buf`, in that order: four at once with
/// [`mix4_into`], fewer one by one with [`mix_into`] (the same products and
/// sums either way; a gain of 1 is a plain sum).
///
/// # Realtime
/// Does not allocate, lock or panic.
fn sum_sources(
    pool: &[Box<[f64]>],
    sources: &[Source],
    buf: &mut [f64],
    channels: usize,
    stride: usize,
    frames: usize,
) {
    for c in 0..channels {
        let r = c * stride..c * stride + frames;
        let Some(d) = buf.get_mut(r.clone()) else { continue };
        let src = |k: usize| {
            let s = sources.get(k)?;
            let row = if s.mono { 0 } else { c * stride };
            pool.get(s.slot)?.get(row..row + frames)
        };
        let g = |k: usize| sources.get(k).map_or(1.0, |s| s.gain);
        match (sources.len(), src(0), src(1), src(2), src(3)) {
            (4, Some(a), Some(b), Some(e), Some(f)) => mix4_into(d, [a, b, e, f], [g(0), g(1), g(2), g(3)]),
            _ => {
                for k in 0..sources.len() {
                    if let Some(s) = src(k) {
                        mix_into(d, s, g(k));
                    }
                }
            }
        }
    }
}

/// Copies channel 0 to the other `channels - 1` rows of `stride`: a mono
/// block made full width.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn widen(buf: &mut [f64], channels: usize, stride: usize, frames: usize) {
    if stride == 0 || frames > stride {
        return;
    }
    let (first, rest) = buf.split_at_mut(stride.min(buf.len()));
    let Some(src) = first.get(..frames) else { return };
    for row in rest.chunks_mut(stride).take(channels.saturating_sub(1)) {
        if let Some(d) = row.get_mut(..frames) {
            d.copy_from_slice(src);
        }
    }
}

/// Zeroes the first `frames` samples of each of `channels` rows of `stride`.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn zero_channels(buf: &mut [f64], channels: usize, stride: usize, frames: usize) {
    for c in 0..channels {
        if let Some(ch) = buf.get_mut(c * stride..c * stride + frames) {
            ch.fill(0.0);
        }
    }
}

/// Fills a node's parameter buffers for one block: lane, ramp or constant.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn fill_params(node: &mut RenderNode, position: u64, frames: usize, lanes: &mut [Lane]) {
    if node.params_settled {
        return;
    }
    fill_params_now(node, position, frames, lanes);
    node.params_settled = node
        .params
        .iter()
        .zip(node.ctl.iter())
        .all(|(pb, c)| c.lane.is_none() && c.remaining == 0 && pb.block(frames).constant() == Some(c.current));
}

/// [`fill_params`] without the settled shortcut.
fn fill_params_now(node: &mut RenderNode, position: u64, frames: usize, lanes: &mut [Lane]) {
    for (pb, c) in node.params.iter_mut().zip(node.ctl.iter_mut()) {
        if let Some(lane) = c.lane.and_then(|l| lanes.get_mut(l)) {
            if let Some(v) = lane.fill(position, pb.varying_mut(frames)) {
                pb.set_constant(v);
            }
            c.current = pb.last(frames);
            c.target = c.current;
            c.remaining = 0;
            continue;
        }
        if c.remaining == 0 {
            pb.set_constant(c.current);
            continue;
        }
        for v in pb.varying_mut(frames).iter_mut() {
            if c.remaining > 0 {
                c.remaining -= 1;
                c.current = if c.remaining == 0 { c.target } else { c.current + c.step };
            }
            *v = c.current;
        }
    }
}
