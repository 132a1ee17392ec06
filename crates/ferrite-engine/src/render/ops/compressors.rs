//! Compressor groups: `compressor` nodes at the same depth (grouped by the
//! compiler's batch pass) run their one-pole recursions, the serial part of
//! a compressor, side by side, 16 per AVX-512 pass, 8 per AVX2 pass. Each
//! member computes its targets at its turn ([`member`]); the
//! [`crate::render::plan::Op::Compressors`] step after the last member runs
//! every recursion, then each loaded member applies its gains. A member with
//! automated parameters in a block runs its own `process` at its turn. Same
//! bits as unbatched (tested against `CompileOptions::batch` off). A member
//! with a sidechain computes its targets from its key ([`super::keyed`]).

use super::keyed::{key_bus, process_keyed};
use super::members::Members;
use super::node::{begin, Keep};
use crate::automation::Lane;
use crate::render::node::RenderNode;
use crate::render::State;
use ferrite_dsp::compressor::{smooth_lanes, SmoothLane};
use ferrite_dsp::{ProcessContext, Processor, Special};

/// The [`crate::render::plan::Op::CompressorMember`] step: node `k`, member `m` of group `g`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn member(st: &mut State, k: usize, g: usize, m: usize, position: u64, frames: usize, lanes: &mut [Lane]) {
    let Some(mut turn) = begin(st, k, position, frames, lanes) else { return };
    let (out_mono, _) = turn.settle_width(st, false, Keep::Processor, position, frames);
    let (channels, stride) = (st.channels, st.stride);
    let width = if out_mono { 1 } else { channels };
    if let (Some(RenderNode { processor: Some(p), key, params, .. }), Some(group)) =
        (st.nodes.get_mut(k), st.compressors.get_mut(g))
    {
        let ctx = ProcessContext { frames, position, params };
        let key = key.as_mut().and_then(|key| key_bus(key, &mut st.pool, &mut st.mono_slots, channels, stride, frames));
        group.stage(m, p.as_mut(), &ctx, &mut turn.buf, width, stride, key.as_ref());
    }
    turn.finish(st);
}

/// The [`crate::render::plan::Op::Compressors`] step: runs group `g`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn run(st: &mut State, g: usize, frames: usize) {
    if let Some(group) = st.compressors.get_mut(g) {
        group.run(frames, &mut st.nodes, &mut st.pool, st.stride);
    }
}

/// A group of compressors whose one-pole recursions run side by side
/// ([`smooth_lanes`]; see the module documentation).
pub(crate) struct CompGroup {
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
    /// for a mono block); the detector reads `key` when the member has a
    /// sidechain, else `buf`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage(
        &mut self,
        m: usize,
        processor: &mut dyn Processor,
        ctx: &ProcessContext<'_>,
        buf: &mut [f64],
        channels: usize,
        stride: usize,
        key: Option<&ferrite_dsp::Bus<'_>>,
    ) {
        let frames = ctx.frames;
        let mut bus = ferrite_dsp::Bus::new(buf, channels, stride, frames);
        if let Some(w) = self.widths.get_mut(m) {
            *w = channels;
        }
        let row = self.targets.get_mut(m * self.stride..(m + 1) * self.stride);
        let begun = match (processor.special(), row) {
            (Special::Compressor(c), Some(row)) if frames <= self.stride => {
                c.batch_begin(ctx, key.unwrap_or(&bus), row)
            }
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
            process_keyed(processor, ctx, &mut bus, key);
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
            if let Some(Special::Compressor(c)) = node.processor.as_mut().map(|p| p.special()) {
                c.batch_finish(&mut ferrite_dsp::Bus::new(buf, channels, stride, frames), exps, lane);
            }
        }
    }
}

impl CompGroup {
    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }
}
