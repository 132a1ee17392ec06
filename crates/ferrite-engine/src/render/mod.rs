//! The render core: what the audio thread (or an offline render) runs.
//!
//! A [`CompiledGraph`] is made by [`crate::compile`] on the control side:
//! every buffer and state is allocated there, and every strategy is decided
//! there and written down as a [`plan::Plan`]. The audio thread runs the
//! plan's steps ([`CompiledGraph::render_block`], in `block.rs`), one op
//! each (`ops/`), and only reads and writes what exists.
//!
//! Where each strategy lives: summing inputs `ops/sum.rs`, a node on its own
//! and mono blocks `ops/node.rs`, gain folding `ops/fold.rs`, deferred
//! sources `ops/defer.rs`, fused biquad chains `ops/chain.rs`, twins
//! `ops/twin.rs`, filter banks `ops/bank.rs`, compressor groups
//! `ops/compressors.rs`, sidechained compressors `ops/keyed.rs`; the passes
//! that decide them are in `crate::compile::passes`.

mod block;
pub(crate) mod node;
pub(crate) mod ops;
pub(crate) mod plan;

pub use node::{CompDelay, Edge, Key, ParamCtl, RenderNode};

use ferrite_dsp::Processor;
use ops::bank::BatchGroup;
use ops::chain::ChainCache;
use ops::compressors::CompGroup;
use plan::{Op, Plan};

/// A graph compiled for one sample rate, channel count and maximum block.
pub struct CompiledGraph {
    pub(crate) sample_rate: f64,
    pub(crate) channels: usize,
    pub(crate) max_block: usize,
    /// What each block does, step by step.
    pub(crate) plan: Plan,
    /// What the steps read and write.
    pub(crate) state: State,
    pub(crate) input_slot: Option<usize>,
    pub(crate) output_slot: Option<usize>,
    pub(crate) latency: usize,
    /// `(meter name, node index)` for every meter node.
    pub(crate) meters: Vec<(String, usize)>,
    /// `(node id, node index)` sorted by id, for state hand-over on a swap.
    pub(crate) ids_sorted: Box<[(u32, usize)]>,
}

/// The nodes, buffers and per-block bookkeeping the ops share.
pub(crate) struct State {
    /// Nodes in render order (render index = position here).
    pub(crate) nodes: Vec<RenderNode>,
    /// Buffer slots: `channels` rows of `stride` frames each.
    pub(crate) pool: Vec<Box<[f64]>>,
    pub(crate) channels: usize,
    /// Row length of every buffer (the graph's largest block).
    pub(crate) stride: usize,
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
    /// How many twins wait for their partner.
    pub(crate) pending_twins: usize,
    /// The first of the scratch rows deferred sources render into (past the
    /// node slots; only present when a node is deferred).
    pub(crate) scratch_base: usize,
    /// Filter banks.
    pub(crate) banks: Vec<BatchGroup>,
    /// Compressor groups.
    pub(crate) compressors: Vec<CompGroup>,
    /// Fused chains, in render order of their tails.
    pub(crate) chains: Vec<ChainCache>,
}

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
        self.state.nodes.get_mut(index).and_then(|n| n.processor.as_deref_mut())
    }

    /// Nodes in render order.
    pub fn nodes(&self) -> &[RenderNode] {
        &self.state.nodes
    }

    /// Member counts of the batched filter groups (see `ops/bank.rs`).
    pub fn batch_groups(&self) -> Vec<usize> {
        self.state.banks.iter().map(BatchGroup::len).collect()
    }

    /// Member counts of the batched compressor groups.
    pub fn compressor_groups(&self) -> Vec<usize> {
        self.state.compressors.iter().map(CompGroup::len).collect()
    }

    /// How many `gain` nodes are folded into their reader (see
    /// [`Self::render_block`]).
    pub fn folded_gains(&self) -> usize {
        self.plan.count(|op| matches!(op, Op::Fold { .. }))
    }

    /// How many generators run on one channel (see [`Self::render_block`]).
    pub fn mono_sources(&self) -> usize {
        self.plan.count(|op| matches!(op, Op::Process { mono_source: true, .. } | Op::Defer { .. }))
    }

    /// How many processors other than generators ran their last block on
    /// channel 0 of a mono block and kept it mono (see [`Self::render_block`]).
    pub fn kept_mono(&self) -> usize {
        let sources_ran_mono = self.plan.count(|op| match *op {
            Op::Process { node, mono_source: true } => self.state.nodes.get(node).is_some_and(|n| n.ran_mono),
            _ => false,
        });
        self.state.nodes.iter().filter(|n| n.ran_mono).count() - sources_ran_mono
    }

    /// How many generators render when their reader sums them (see
    /// [`Self::render_block`]).
    pub fn deferred_sources(&self) -> usize {
        self.plan.count(|op| matches!(op, Op::Defer { .. }))
    }

    /// How many pairs of twins the compiler formed (see [`Self::render_block`]).
    pub fn twin_pairs(&self) -> usize {
        self.plan.count(|op| op.twin().is_some_and(|t| t.first))
    }

    /// The ids of the twins that ran their last block paired with their
    /// partner, in render order.
    pub fn twinned(&self) -> Vec<u32> {
        self.state.nodes.iter().filter(|n| n.twinned).map(|n| n.id).collect()
    }

    /// Lengths of the fused biquad chains, in render order (see `ops/chain.rs`).
    pub fn fused_chains(&self) -> Vec<usize> {
        self.state.chains.iter().map(|c| c.members().len() + 1).collect()
    }

    /// Parameter control of node `node`, parameter `param`.
    pub fn param_mut(&mut self, node: usize, param: usize) -> Option<&mut ParamCtl> {
        let n = self.state.nodes.get_mut(node)?;
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
        match self.input_slot.and_then(|s| self.state.pool.get_mut(s)) {
            Some(buf) if c < self.channels => buf.get_mut(c * mb..(c + 1) * mb).unwrap_or(&mut []),
            _ => &mut [],
        }
    }

    /// Exchanges node `index`'s buffer (`channels × max_block`) with
    /// `other` (of that length; else nothing happens), a mono block first
    /// made full width: a split render hands a part's tap to the mix's port
    /// this way (see [`crate::parallel`]), without copying. The node's next
    /// block writes the buffer it gets anew, and a port's slot is its own
    /// for the whole block. Returns whether the buffers were exchanged.
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic.
    pub(crate) fn exchange_slot(&mut self, index: usize, frames: usize, other: &mut Box<[f64]>) -> bool {
        let st = &mut self.state;
        let Some(slot) = st.nodes.get(index).map(|n| n.slot) else { return false };
        let Some(buf) = st.pool.get_mut(slot).filter(|b| b.len() == other.len()) else { return false };
        if let Some(m) = st.mono_slots.get_mut(slot).filter(|m| **m) {
            *m = false;
            ops::sum::widen(buf, st.channels, st.stride, frames.min(st.stride));
        }
        std::mem::swap(buf, other);
        true
    }

    /// Whether the graph reads the render input.
    pub fn uses_input(&self) -> bool {
        self.input_slot.is_some()
    }

    /// The output of the last block: channel `c`, `frames` long.
    pub fn output(&self, c: usize, frames: usize) -> &[f64] {
        let mb = self.max_block;
        match self.output_slot.and_then(|s| self.state.pool.get(s)) {
            Some(buf) if c < self.channels && frames <= mb => buf.get(c * mb..c * mb + frames).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The output of node `index` in the last block: channel `c`, `frames`
    /// long, and whether the block was mono (then channel 0 is returned for
    /// every channel). Only meaningful for a node compiled as a recording
    /// tap ([`crate::compile::finish_tapped`]): any other node's slot may have
    /// been reused, folded or never written. Empty when out of range.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn tap_output(&self, index: usize, c: usize, frames: usize) -> (&[f64], bool) {
        let mb = self.max_block;
        let Some(slot) = self.state.nodes.get(index).map(|n| n.slot) else { return (&[], false) };
        let mono = self.state.mono_slots.get(slot).copied().unwrap_or(false);
        let c = if mono { 0 } else { c };
        match self.state.pool.get(slot) {
            Some(buf) if c < self.channels && frames <= mb => (buf.get(c * mb..c * mb + frames).unwrap_or(&[]), mono),
            _ => (&[], mono),
        }
    }

    /// Points each parameter at its lane in `lanes` (`(node index, param index)` per lane).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn bind_lanes(&mut self, targets: &[(usize, usize)]) {
        for n in self.state.nodes.iter_mut() {
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
        for node in self.state.nodes.iter_mut() {
            let Some(old_index) = previous.index_of(node.id) else { continue };
            let Some(old) = previous.state.nodes.get_mut(old_index) else { continue };
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
            // So does a key from the same source.
            let old_key =
                old.key.as_mut().filter(|k| node.key.as_ref().is_some_and(|n| n.edge.src_id == k.edge.src_id));
            if let (Some(comp), Some(old_comp)) =
                (node.key.as_mut().and_then(|k| k.edge.comp.as_mut()), old_key.and_then(|k| k.edge.comp.as_mut()))
            {
                if comp.len == old_comp.len && comp.line.len() == old_comp.line.len() {
                    std::mem::swap(comp, old_comp);
                }
            }
        }
    }

    /// Moves the filter memory that fused chains keep in their cascades back
    /// into their biquads (see `ops/chain.rs`).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn flush_chains(&mut self) {
        for cache in self.state.chains.iter_mut() {
            ops::chain::flush(&mut self.state.nodes, cache);
        }
    }

    /// Clears every processor and delay to its prepared state.
    pub fn reset(&mut self) {
        for c in self.state.chains.iter_mut() {
            c.drop_state();
        }
        for n in self.state.nodes.iter_mut() {
            if let Some(p) = n.processor.as_mut() {
                p.reset();
            }
            for e in n.inputs.iter_mut().chain(n.key.as_mut().map(|k| &mut k.edge)) {
                if let Some(c) = e.comp.as_mut() {
                    c.reset();
                }
            }
        }
    }
}
