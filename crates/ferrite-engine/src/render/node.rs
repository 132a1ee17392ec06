//! One node as the render core sees it: its processor, its inputs, its
//! parameters and the little run-time state the ops keep per node.

use crate::automation::Lane;
use ferrite_dsp::{ParamBuffer, Processor};

/// A compensation delay on one edge: `len` frames per channel, ring-buffered.
#[derive(Debug, Clone)]
pub struct CompDelay {
    pub(crate) len: usize,
    pub(crate) line: Box<[f64]>,
    pub(crate) pos: usize,
}

impl CompDelay {
    /// A zeroed line of `len` frames × `channels`, or an error if the
    /// memory cannot be had (control side).
    pub(crate) fn new(len: usize, channels: usize) -> Result<Self, ferrite_dsp::alloc::AllocError> {
        Ok(Self { len, line: ferrite_dsp::alloc::try_zeroed(len.saturating_mul(channels))?, pos: 0 })
    }

    /// Adds `src` delayed by `len` frames into `dst`, channel by channel.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn add_delayed(&mut self, src: &[f64], dst: &mut [f64], channels: usize, stride: usize, frames: usize) {
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

    pub(crate) fn reset(&mut self) {
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
    /// and this edge multiplies by its gain (see [`super::ops::fold`]).
    pub(crate) scale_from: Option<usize>,
}

/// A compressor's sidechain key: the edge from its key source, and when
/// that edge has a compensation delay, the block the delay writes
/// (`channels × max_block`; empty without a delay). Read by `ops/keyed.rs`.
#[derive(Debug, Clone)]
pub struct Key {
    pub(crate) edge: Edge,
    pub(crate) delayed: Box<[f64]>,
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

/// One node as the render core sees it. What the node does each block is
/// its op in the plan ([`super::plan::Op`]); the node holds what every op
/// reads and a few facts about its last block.
pub struct RenderNode {
    /// Node id (from the serialized graph).
    pub id: u32,
    pub(crate) processor: Option<Box<dyn Processor>>,
    pub(crate) inputs: Vec<Edge>,
    /// A compressor's sidechain key (read by its detector, never summed).
    pub(crate) key: Option<Key>,
    pub(crate) slot: usize,
    pub(crate) params: Vec<ParamBuffer>,
    pub(crate) ctl: Vec<ParamCtl>,
    /// Every parameter buffer holds its constant value, with no ramp and no
    /// lane: [`fill_params`] has nothing to do until a parameter is touched
    /// ([`super::CompiledGraph::param_mut`], [`super::CompiledGraph::bind_lanes`]).
    pub(crate) params_settled: bool,
    /// The node's last block ran on channel 0 only (a mono block).
    pub(crate) ran_mono: bool,
    /// A twin's mono block waits in its buffer for its partner (see [`super::ops::twin`]).
    pub(crate) twin_waiting: bool,
    /// The twin's last block ran paired with its partner's.
    pub(crate) twinned: bool,
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
