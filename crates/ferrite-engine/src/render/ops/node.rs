//! A node's turn, the phases every rendering op shares: its inputs summed
//! into its buffer and its parameters filled ([`begin`]), the width its
//! processor runs at ([`Turn::settle_width`]), the processor run on its own
//! ([`Turn::process`]) and the buffer put back ([`Turn::finish`]); and
//! [`process`], the plain op made of exactly these.
//!
//! Mono blocks: a generator whose channels all carry one signal
//! (`Processor::mono_source`) writes channel 0 only, and its slot is marked
//! mono for the block; readers take channel 0 for every channel. A processor
//! that treats every channel alike and says so for the block
//! (`Processor::mono_ready`) runs on channel 0 of a mono block and keeps it
//! mono; before any other processor runs, a mono block is widened (channel 0
//! copied to the others). Each channel would have had the same operands in
//! the same order, so the samples are the same bits (tested against
//! `CompileOptions::mono` off; `FERRITE_NO_MONO=1` turns it off).

use super::chain;
use super::defer::{render_deferred, take_deferred};
use super::sum::{sum_inputs, widen};
use crate::automation::Lane;
use crate::render::node::fill_params;
use crate::render::State;
use ferrite_dsp::{Bus, ProcessContext};

/// A node's turn in progress: its buffer is out of the pool until [`Turn::finish`].
pub(crate) struct Turn {
    pub(crate) k: usize,
    pub(crate) slot: usize,
    pub(crate) buf: Box<[f64]>,
    /// The buffer holds a mono block.
    pub(crate) mono: bool,
    in_place: bool,
    /// The node's parameters were settled before this block's were filled.
    pub(crate) was_settled: bool,
}

/// Who decides whether a mono block stays mono through the node.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keep {
    /// The processor (`Processor::mono_ready`).
    Processor,
    /// Fused chain `c`: every member (see [`chain::mono_ready`]).
    Chain(usize),
    /// Nobody: the block is widened (a bank member's lanes are per channel).
    Never,
}

/// Node `k`'s inputs summed into its buffer and its parameters filled for
/// the block. `None` when the node or its slot does not exist.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn begin(st: &mut State, k: usize, position: u64, frames: usize, lanes: &mut [Lane]) -> Option<Turn> {
    let slot = st.nodes.get(k)?.slot;
    let s = sum_inputs(st, k, position, frames)?;
    let mut was_settled = true;
    if let Some(node) = st.nodes.get_mut(k) {
        was_settled = node.params_settled;
        fill_params(node, position, frames, lanes);
    }
    Some(Turn { k, slot, buf: s.buf, mono: s.mono, in_place: s.in_place, was_settled })
}

impl Turn {
    /// Running on a deferred source's buffer (a folded gain whose gain
    /// changes): the source's samples first. Then the width the processor
    /// runs at: channel 0 only for a generator of one signal
    /// (`mono_source`) or a mono block that `keep` keeps mono, else every
    /// channel (a mono block is widened). Returns `(out_mono, unchanged)`:
    /// the block the node writes is mono; the processor may take
    /// `process_unchanged` (settled parameters and the previous block's width).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn settle_width(
        &mut self,
        st: &mut State,
        mono_source: bool,
        keep: Keep,
        position: u64,
        frames: usize,
    ) -> (bool, bool) {
        if self.in_place {
            if let Some((j, settled)) = take_deferred(&mut st.deferred, &mut st.pending_deferred, self.slot) {
                render_deferred(&mut st.nodes, j, settled, &mut self.buf, st.stride, position, frames);
            }
        }
        let keep_mono = self.mono
            && match keep {
                Keep::Never => false,
                Keep::Processor => {
                    st.nodes.get(self.k).and_then(|n| n.processor.as_deref()).is_some_and(|p| p.mono_ready())
                }
                Keep::Chain(c) => chain::mono_ready(&st.nodes, st.chains.get(c), self.k),
            };
        if self.mono && !keep_mono {
            widen(&mut self.buf, st.channels, st.stride, frames);
        }
        let out_mono = mono_source || keep_mono;
        let mut unchanged = self.was_settled;
        if let Some(node) = st.nodes.get_mut(self.k) {
            // `process_unchanged` promises the previous block's channels.
            unchanged = unchanged && node.ran_mono == out_mono;
            node.ran_mono = out_mono;
        }
        if let Some(m) = st.mono_slots.get_mut(self.slot) {
            *m = out_mono;
        }
        (out_mono, unchanged)
    }

    /// Runs the node's processor on its buffer, `out_mono`: on channel 0
    /// only; `unchanged`: through `process_unchanged`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn process(&mut self, st: &mut State, out_mono: bool, unchanged: bool, position: u64, frames: usize) {
        let width = if out_mono { 1 } else { st.channels };
        let Some(node) = st.nodes.get_mut(self.k) else { return };
        if let Some(p) = node.processor.as_mut() {
            let ctx = ProcessContext { frames, position, params: &node.params };
            let mut bus = Bus::new(&mut self.buf, width, st.stride, frames);
            if unchanged {
                p.process_unchanged(&ctx, &mut bus);
            } else {
                p.process(&ctx, &mut bus);
            }
        }
    }

    /// Puts the buffer back into the pool.
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic.
    pub(crate) fn finish(self, st: &mut State) {
        if let Some(s) = st.pool.get_mut(self.slot) {
            *s = self.buf;
        }
    }
}

/// The [`crate::render::plan::Op::Process`] step: node `k` on its own.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn process(st: &mut State, k: usize, mono_source: bool, position: u64, frames: usize, lanes: &mut [Lane]) {
    let Some(mut turn) = begin(st, k, position, frames, lanes) else { return };
    let (out_mono, unchanged) = turn.settle_width(st, mono_source, Keep::Processor, position, frames);
    turn.process(st, out_mono, unchanged, position, frames);
    turn.finish(st);
}
