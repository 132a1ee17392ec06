//! Batching of parallel filters and compressors: the compiler finds `eq` and
//! `biquad` nodes that cannot depend on each other and runs their
//! constant-parameter blocks as the lanes of one [`BiquadBank`] (lane = node ×
//! channel, stage = band), instead of one node at a time; and it groups
//! `compressor` nodes the same way so that their one-pole recursions (the
//! serial part of a compressor) run side by side, 8 per AVX2 pass
//! ([`CompGroup`]).
//!
//! # What is batched
//! Nodes whose processor is a [`BankFilter`] (`eq`, `biquad`) with the same
//! stage count (bands; 1 for a `biquad`) and the same *depth* (the longest
//! path from a node without inputs). Two nodes at the same depth cannot
//! depend on each other, so their inputs are complete before either runs and
//! neither feeds the other. A group needs at least two members.
//!
//! Not batched: stereo renders' filters of [`MIN_STEREO_CASCADE_STAGES`] or
//! more stages (an 8-band EQ): their own stereo wavefront cascade (both
//! channels in one pass) is faster than bank lanes plus the copies in and out
//! (`cargo bench --bench render`, 16 tracks × 8-band EQ: about 40 µs per
//! block on the cascades vs 49 µs in a bank, AVX2). Single biquads and short
//! chains, and every filter of a mono or multichannel render, are batched.
//! Chains of `biquad` nodes fused by [`crate::fuse`] are not batched (they
//! run as one stereo cascade).
//!
//! Compressors: every `compressor` node, grouped by depth alone (a lane per
//! node, whatever its settings); a member whose parameters are automated in
//! a block runs alone in that block.
//!
//! # Render order
//! When the graph has a group, the compiler orders nodes by depth (a valid
//! topological order: every edge goes to a greater depth), and within a depth
//! puts each group's members next to each other. At each member's turn its
//! inputs are summed into its buffer as for any node; if all its parameters
//! are constant over the block its coefficients, state and samples are copied
//! into its lanes, otherwise it runs its own per-frame path at once (state
//! kept in the processor). When the *last* member's turn comes, the bank runs
//! and the loaded members get their samples and state back. Every consumer of
//! a member has a greater depth, so it runs after the group.
//!
//! # Exactness
//! The processor stays the owner of its filter memory between blocks (the
//! bank is loaded from it and stores back into it every block), so
//! [`ferrite_dsp::Processor::take_state`], `reset` and the per-frame path see
//! the same state whether or not a node is batched. A bank lane performs the
//! same operations as the node's own cascade at the same SIMD level, so the
//! batched render equals the unbatched one (tested to 1e-12 relative; bit for
//! bit in practice). The summing of inputs is unchanged (it follows each
//! node's input order, not the render order).
//!
//! # Measured (AVX2 Zen 3, shared 2-core machine, one run each)
//! `cargo bench --bench render`, 16 tracks × 8-band EQ per 128-frame block:
//! 49 µs with the EQs in a bank vs 40 µs on their own stereo cascades (hence
//! [`MIN_STEREO_CASCADE_STAGES`]); before the stereo cascade existed the two
//! were equal (111 vs 109 µs, with the slower oscillators of then). Batching
//! pays most where one node is little work: single biquads (a 64-lane bank
//! runs about 4x the biquad-samples per second of one stereo biquad) and
//! compressors (see [`CompGroup`]).
//!
//! # Twins
//! A mono track's filter (an `eq` of [`MIN_STEREO_CASCADE_STAGES`] or more
//! bands, or a fused biquad chain, in a stereo render) runs a mono block
//! through one cascade, whose pipeline is bound by the latency of each
//! step: one cascade of 8 stages runs about 1.8 G biquad-samples/s on AVX2
//! here, two as one stereo wavefront about 3 G. So the compiler pairs such
//! filters at the same depth and stage count (in order of appearance; an
//! odd one out stays alone) and puts each pair next to each other in the
//! render order. When the first of a pair has a mono block to run on its
//! kept cascades with unchanged parameters (the `eq`'s `process_unchanged`,
//! a chain whose members are all settled), the block waits in its buffer;
//! at the second's turn, if it can do the same, both run as one stereo
//! wavefront (`run_twins`), else the first runs alone, then the second as
//! usual. Nothing between them reads the first's buffer (its readers have
//! a greater depth). Each cascade does exactly what it does alone
//! ([`BiquadCascade::process_pair_at`]), and the filter memory stays where
//! each filter keeps it, so the samples, the memory and every hand-over are
//! the same bits as without twins (tested: `tests/twin.rs`).
//!
//! Measured (`cargo bench --bench render`, with and without
//! `FERRITE_NO_TWIN=1`, alternating runs): the reference session's block
//! 154 → 137 µs, 16 tracks × 8-band EQ 21.2 → 15.3 µs (medians).
//!
//! # Switch
//! `FERRITE_NO_BATCH=1` (read on the control side, in [`crate::compile()`])
//! or [`crate::compile::CompileOptions::batch`] turns batching off, twins
//! included; `FERRITE_NO_TWIN=1` or [`crate::compile::CompileOptions::twin`]
//! only twins.

use crate::graph::RenderNode;
use ferrite_dsp::biquad::{bank_filter, BankFilter};
use ferrite_dsp::compressor::{smooth_lanes, Compressor, SmoothLane};
use ferrite_dsp::eq::Eq;
use ferrite_dsp::kernels::{simd_level, BiquadBank, BiquadCascade};
use ferrite_dsp::{ProcessContext, Processor};

/// Stage count from which a filter of a stereo render is not batched (see
/// the module documentation).
pub const MIN_STEREO_CASCADE_STAGES: usize = 4;

/// The members of a group (render indices, in render order) and which of
/// them were loaded this block.
struct Members {
    render: Box<[usize]>,
    loaded: Box<[bool]>,
}

impl Members {
    fn new(render: Vec<usize>) -> Self {
        Self { loaded: vec![false; render.len()].into_boxed_slice(), render: render.into() }
    }

    /// Records whether member `m` was loaded this block.
    fn set_loaded(&mut self, m: usize, loaded: bool) {
        if let Some(l) = self.loaded.get_mut(m) {
            *l = loaded;
        }
    }

    fn any_loaded(&self) -> bool {
        self.loaded.iter().any(|&l| l)
    }

    /// `(member, render index)` of the members loaded this block.
    fn loaded(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.render.iter().zip(self.loaded.iter()).enumerate().filter(|(_, (_, &l))| l).map(|(m, (&k, _))| (m, k))
    }
}

/// Member count, emptiness and the last member of a group.
macro_rules! group_members {
    ($t:ty) => {
        impl $t {
            /// Number of members.
            pub fn len(&self) -> usize {
                self.members.render.len()
            }

            /// Whether the group has no member.
            pub fn is_empty(&self) -> bool {
                self.members.render.is_empty()
            }

            /// Render index of the last member: the group runs after it.
            pub(crate) fn last(&self) -> Option<usize> {
                self.members.render.last().copied()
            }
        }
    };
}
group_members!(BatchGroup);
group_members!(CompGroup);

/// One group of batched filters and its bank.
pub struct BatchGroup {
    members: Members,
    /// Lanes per member (the render channel count).
    channels: usize,
    bank: BiquadBank,
    /// Frame-major samples, `max_block` rows of `bank.stride()`.
    scratch: Box<[f64]>,
}

impl BatchGroup {
    /// A group of `members` (render indices) with `stages` biquads per lane.
    /// Allocates: control side.
    pub(crate) fn new(members: Vec<usize>, stages: usize, channels: usize, max_block: usize) -> Self {
        let bank = BiquadBank::new(members.len() * channels, stages);
        let scratch = vec![0.0; bank.stride() * max_block].into_boxed_slice();
        Self { members: Members::new(members), channels, bank, scratch }
    }

    /// Member `m`'s turn: `buf` holds its summed input (planar, `channels`
    /// rows of `stride`). Loads it into the bank when its parameters are
    /// constant, else runs `processor` on `buf` in place.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn stage(
        &mut self,
        m: usize,
        processor: &mut dyn Processor,
        ctx: &ProcessContext<'_>,
        buf: &mut [f64],
        stride: usize,
    ) {
        let first_lane = m * self.channels;
        let loaded = match bank_filter(processor) {
            Some(f) => f.load_bank(ctx, &mut self.bank, first_lane),
            None => false,
        };
        self.members.set_loaded(m, loaded);
        if loaded {
            for c in 0..self.channels {
                if let Some(ch) = buf.get(c * stride..c * stride + ctx.frames) {
                    self.bank.write_lane(&mut self.scratch, first_lane + c, ch);
                }
            }
        } else {
            let mut bus = ferrite_dsp::Bus::new(buf, self.channels, stride, ctx.frames);
            processor.process(ctx, &mut bus);
        }
    }

    /// Runs the bank over `frames` frames, then gives each loaded member
    /// its samples (into its buffer in `pool`, rows of `stride`) and its
    /// state back.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn run(&mut self, frames: usize, nodes: &mut [RenderNode], pool: &mut [Box<[f64]>], stride: usize) {
        if !self.members.any_loaded() {
            return;
        }
        self.bank.process(&mut self.scratch, frames);
        let channels = self.channels;
        for (m, node) in self.members.loaded() {
            let Some(node) = nodes.get_mut(node) else { continue };
            let first_lane = m * channels;
            if let Some(buf) = pool.get_mut(node.slot) {
                for c in 0..channels {
                    if let Some(ch) = buf.get_mut(c * stride..c * stride + frames) {
                        self.bank.read_lane(&self.scratch, first_lane + c, ch);
                    }
                }
            }
            if let Some(f) = node.processor.as_deref_mut().and_then(|p| bank_filter(p)) {
                f.store_bank(&self.bank, first_lane);
            }
        }
    }
}

/// A group of compressors at the same depth whose one-pole recursions run
/// side by side ([`smooth_lanes`], 16 per AVX-512 pass, 8 per AVX2 pass): each member computes its
/// targets at its turn, the last member's turn runs every recursion, then
/// each loaded member applies its gains. A member with automated parameters
/// in a block runs its own `process` at its turn. Same bits as unbatched
/// (tested).
pub struct CompGroup {
    members: Members,
    lanes: Box<[SmoothLane]>,
    /// Member-major rows of `stride`: targets, then gain exponents.
    targets: Box<[f64]>,
    exps: Box<[f64]>,
    /// Per member: the channels its block has (1 for a mono block).
    widths: Box<[usize]>,
    stride: usize,
}

impl CompGroup {
    /// A group of `members` (render indices) for blocks of up to `max_block`.
    /// Allocates: control side.
    pub(crate) fn new(members: Vec<usize>, max_block: usize) -> Self {
        let n = members.len();
        Self {
            lanes: vec![SmoothLane::default(); n].into_boxed_slice(),
            targets: vec![0.0; n * max_block].into_boxed_slice(),
            exps: vec![0.0; n * max_block].into_boxed_slice(),
            widths: vec![0; n].into_boxed_slice(),
            members: Members::new(members),
            stride: max_block,
        }
    }

    /// Member `m`'s turn: `buf` holds its summed input, `channels` wide (1
    /// for a mono block).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn stage(
        &mut self,
        m: usize,
        processor: &mut dyn Processor,
        ctx: &ProcessContext<'_>,
        buf: &mut [f64],
        channels: usize,
        stride: usize,
    ) {
        let frames = ctx.frames;
        let mut bus = ferrite_dsp::Bus::new(buf, channels, stride, frames);
        if let Some(w) = self.widths.get_mut(m) {
            *w = channels;
        }
        let row = self.targets.get_mut(m * self.stride..(m + 1) * self.stride);
        let begun = match (processor.as_any_mut().downcast_mut::<Compressor>(), row) {
            (Some(c), Some(row)) if frames <= self.stride => c.batch_begin(ctx, &bus, row),
            _ => None,
        };
        let loaded = match (begun, self.lanes.get_mut(m)) {
            (Some(lane), Some(l)) => {
                *l = lane;
                true
            }
            _ => false,
        };
        self.members.set_loaded(m, loaded);
        if !loaded {
            if let Some(l) = self.lanes.get_mut(m) {
                *l = SmoothLane::default();
            }
            processor.process(ctx, &mut bus);
        }
    }

    /// Runs every recursion, then each loaded member applies its gains to its
    /// buffer in `pool` (at the width it was staged with).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn run(&mut self, frames: usize, nodes: &mut [RenderNode], pool: &mut [Box<[f64]>], stride: usize) {
        if !self.members.any_loaded() || frames > self.stride {
            return;
        }
        smooth_lanes(&mut self.lanes, &self.targets, &mut self.exps, self.stride, frames);
        for (m, node) in self.members.loaded() {
            let Some(node) = nodes.get_mut(node) else { continue };
            let (Some(buf), Some(exps), Some(lane), Some(&channels)) = (
                pool.get_mut(node.slot),
                self.exps.get_mut(m * self.stride..m * self.stride + frames),
                self.lanes.get(m),
                self.widths.get(m),
            ) else {
                continue;
            };
            if let Some(c) = node.processor.as_mut().and_then(|p| p.as_any_mut().downcast_mut::<Compressor>()) {
                c.batch_finish(&mut ferrite_dsp::Bus::new(buf, channels, stride, frames), exps, lane);
            }
        }
    }
}

/// A member of a pair of twins (see [`run_twins`]): its partner (render
/// index) and whether it comes first in render order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TwinLink {
    pub(crate) partner: usize,
    pub(crate) first: bool,
}

/// The cascade of stages `8·chunk ..` that node's next mono block runs,
/// while it runs on kept cascades (an `eq`'s stereo caches or a fused
/// chain's, holding mono memory); `None` past the last chunk or otherwise.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn mono_cascade(node: &mut RenderNode, chunk: usize) -> Option<&mut BiquadCascade> {
    match node.chain.as_deref_mut() {
        Some(c) => c.mono_cascade_mut(chunk),
        None => node.processor.as_mut()?.as_any_mut().downcast_mut::<Eq>()?.mono_cascade_mut(chunk),
    }
}

/// Whether the block of twin `k` (mono, with its parameters settled before
/// the block and the previous block's width) runs on its kept cascades
/// alone: an `eq`'s `process_unchanged`, or a fused chain whose members'
/// parameters are settled too (`fuse::run_chain`).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn twin_ready(nodes: &mut [RenderNode], k: usize) -> bool {
    let members_settled =
        nodes.get(k).is_some_and(|n| n.fused.iter().all(|&j| nodes.get(j).is_some_and(|m| m.params_settled)));
    members_settled && nodes.get_mut(k).is_some_and(|n| mono_cascade(n, 0).is_some())
}

/// Runs the mono block of twin `a`, waiting in its buffer in `pool`, and,
/// when given, that of its partner `b` (render index after `a`) in `xb`:
/// chunk by chunk, the two cascades of a chunk as one stereo wavefront
/// ([`BiquadCascade::process_pair_at`], exactly each cascade alone), then
/// their non-finite states cleared, as each node's own block would.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn run_twins(
    nodes: &mut [RenderNode],
    pool: &mut [Box<[f64]>],
    a: usize,
    b: Option<(usize, &mut [f64])>,
    frames: usize,
) {
    let (na, nb, xb) = match b {
        Some((b, xb)) if b > a => {
            let (lo, hi) = nodes.split_at_mut(b);
            (lo.get_mut(a), hi.first_mut(), xb.get_mut(..frames))
        }
        _ => (nodes.get_mut(a), None, None),
    };
    let Some(na) = na else { return };
    na.twin_waiting = false;
    let Some(xa) = pool.get_mut(na.slot).and_then(|s| s.get_mut(..frames)) else { return };
    let (mut nb, xb) = match (nb, xb) {
        (Some(n), Some(x)) => (Some(n), x),
        _ => (None, &mut [][..]),
    };
    let level = simd_level();
    for chunk in 0.. {
        match (mono_cascade(na, chunk), nb.as_deref_mut().and_then(|n| mono_cascade(n, chunk))) {
            (Some(ca), Some(cb)) => {
                ca.process_pair_at(level, xa, cb, xb);
                ca.clear_non_finite_states();
                cb.clear_non_finite_states();
            }
            (Some(ca), None) => {
                ca.process_at(level, xa);
                ca.clear_non_finite_states();
            }
            (None, Some(cb)) => {
                cb.process_at(level, xb);
                cb.clear_non_finite_states();
            }
            (None, None) => break,
        }
    }
}

/// The stage count of `processor` if it can be batched.
pub(crate) fn batchable(processor: &mut dyn Processor) -> Option<usize> {
    bank_filter(processor).map(|f: &mut dyn BankFilter| f.bank_stages()).filter(|&s| s > 0)
}

/// Groups of batchable nodes: `(members, stages)` by `(depth, stages)`, in
/// order of first appearance, with ≥ 2 members each. `stages[i]` is `None`
/// for a node that cannot be batched.
pub(crate) fn find_groups(depth: &[usize], stages: &[Option<usize>]) -> Vec<(Vec<usize>, usize)> {
    let mut groups: Vec<((usize, usize), Vec<usize>)> = Vec::new();
    for (i, (&d, s)) in depth.iter().zip(stages).enumerate() {
        let Some(s) = *s else { continue };
        match groups.iter_mut().find(|(k, _)| *k == (d, s)) {
            Some((_, v)) => v.push(i),
            None => groups.push(((d, s), vec![i])),
        }
    }
    groups.into_iter().filter(|(_, v)| v.len() >= 2).map(|((_, s), v)| (v, s)).collect()
}
