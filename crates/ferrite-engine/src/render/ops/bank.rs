//! Filter banks: `eq` and `biquad` nodes that cannot depend on each other
//! (same depth, same stage count; grouped by the compiler's batch pass) run
//! their constant-parameter blocks as the lanes of one [`BiquadBank`] (lane
//! = node × channel, stage = band), instead of one node at a time.
//!
//! At each member's turn ([`member`]) its inputs are summed into its buffer
//! as for any node; if all its parameters are constant over the block its
//! coefficients, state and samples are copied into its lanes, otherwise it
//! runs its own per-frame path at once (state kept in the processor). The
//! [`crate::render::plan::Op::Bank`] step after the last member runs the bank
//! and gives the loaded members their samples and state back. Every reader
//! of a member comes after that step.
//!
//! The processor stays the owner of its filter memory between blocks (the
//! bank is loaded from it and stores back into it every block), so
//! `take_state`, `reset` and the per-frame path see the same state whether
//! or not a node is batched. A bank lane performs the same operations as the
//! node's own cascade at the same SIMD level, so the batched render equals
//! the unbatched one bit for bit (tested against `CompileOptions::batch`
//! off; `FERRITE_NO_BATCH=1` turns it off).

use super::members::Members;
use super::node::{begin, Keep};
use crate::automation::Lane;
use crate::render::node::RenderNode;
use crate::render::State;
use ferrite_dsp::biquad::bank_filter;
use ferrite_dsp::kernels::BiquadBank;
use ferrite_dsp::{ProcessContext, Processor};

/// The [`crate::render::plan::Op::BankMember`] step: node `k`, member `m` of bank `g`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn member(st: &mut State, k: usize, g: usize, m: usize, position: u64, frames: usize, lanes: &mut [Lane]) {
    let Some(mut turn) = begin(st, k, position, frames, lanes) else { return };
    turn.settle_width(st, false, Keep::Never, position, frames);
    if let (Some(node), Some(group)) = (st.nodes.get_mut(k), st.banks.get_mut(g)) {
        if let Some(p) = node.processor.as_mut() {
            let ctx = ProcessContext { frames, position, params: &node.params };
            group.stage(m, p.as_mut(), &ctx, &mut turn.buf, st.stride);
        }
    }
    turn.finish(st);
}

/// The [`crate::render::plan::Op::Bank`] step: runs bank `g`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn run(st: &mut State, g: usize, frames: usize) {
    if let Some(group) = st.banks.get_mut(g) {
        group.run(frames, &mut st.nodes, &mut st.pool, st.stride);
    }
}

/// One group of batched filters and its bank.
pub(crate) struct BatchGroup {
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

impl BatchGroup {
    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }
}

/// The stage count of `processor` if it can be batched.
pub(crate) fn batchable(processor: &mut dyn Processor) -> Option<usize> {
    bank_filter(processor).map(|f| f.bank_stages()).filter(|&s| s > 0)
}
