//! A node's input: its inputs summed into its buffer, with compensation
//! delays, folded gains, mono blocks and deferred sources honoured.
//!
//! The first input is copied (a plain edge) or added to zeros (an edge with
//! a compensation delay), the others added in edge order, up to four at a
//! time by the mix kernel, each times its folded gain: the same products and
//! sums as one by one. While every input so far is mono, so is the sum
//! (channel 0 only: each channel would have had the same operands in the
//! same order); when a full-width input joins, the sum so far is widened
//! first. With no input the buffer is zeroed, unless the processor writes
//! the whole block anyway.

use super::defer::{render_deferred, take_deferred};
use crate::render::State;
use ferrite_dsp::kernels::{gain, mix4_into, mix_into};

/// A summed input: its buffer slot, the gain applied while summing, and
/// whether the slot holds a mono block (channel 0 read for every channel).
#[derive(Debug, Clone, Copy)]
struct Source {
    slot: usize,
    gain: f64,
    mono: bool,
}

/// Node `k`'s buffer, taken out of the pool, holding its summed input.
pub(crate) struct Summed {
    pub(crate) buf: Box<[f64]>,
    /// The sum is a mono block (channel 0 only).
    pub(crate) mono: bool,
    /// The node renders in place on its first input's buffer.
    pub(crate) in_place: bool,
}

/// Sums node `k`'s inputs into its buffer, which it takes out of the pool
/// (no allocation: an empty boxed slice is a dangling pointer). `None` when
/// the node or its slot does not exist.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn sum_inputs(st: &mut State, k: usize, position: u64, frames: usize) -> Option<Summed> {
    let (channels, mb) = (st.channels, st.stride);
    let at = k.min(st.nodes.len());
    let (done, rest) = st.nodes.split_at_mut(at);
    let node = rest.first_mut()?;
    // A compensation delay keeps every channel's history: its source gets
    // all its channels (a mono block is widened in place, which leaves
    // channel 0, all its other readers see, as it was).
    for edge in node.inputs.iter().filter(|e| e.comp.is_some()) {
        if let Some(m) = st.mono_slots.get_mut(edge.src_slot).filter(|m| **m) {
            *m = false;
            if let Some(src) = st.pool.get_mut(edge.src_slot) {
                widen(src, channels, mb, frames);
            }
        }
    }
    let mut buf = std::mem::take(st.pool.get_mut(node.slot)?);
    // Rendered in place: the first input's samples are already in `buf`.
    let in_place = node.inputs.first().is_some_and(|e| e.src_slot == node.slot);
    // In place on a deferred source, with more to sum: its samples first.
    if in_place && node.inputs.len() > 1 {
        if let Some((j, settled)) = take_deferred(&mut st.deferred, &mut st.pending_deferred, node.slot) {
            render_deferred(done, j, settled, &mut buf, mb, position, frames);
        }
    }
    let mono_at = |slots: &[bool], s: usize| slots.get(s).copied().unwrap_or(false);
    let mut empty = !in_place;
    let mut mono = in_place && mono_at(&st.mono_slots, node.slot);
    let mut pending = [Source { slot: 0, gain: 1.0, mono: false }; 4];
    let mut np = 0;
    for edge in node.inputs.iter_mut().skip(usize::from(in_place)) {
        // A folded gain's factor (1: a plain sum).
        let g = edge.scale_from.and_then(|j| st.out_scale.get(j)).copied().unwrap_or(1.0);
        if let Some((j, settled)) = take_deferred(&mut st.deferred, &mut st.pending_deferred, edge.src_slot) {
            // Added to the sum: into the scratch row of its place in the pending four.
            if edge.comp.is_none() && !empty {
                let row = st.scratch_base + np;
                if let (Some(scratch), Some(p)) = (st.pool.get_mut(row), pending.get_mut(np)) {
                    render_deferred(done, j, settled, scratch, mb, position, frames);
                    *p = Source { slot: row, gain: g, mono: true };
                    np += 1;
                }
                if np == pending.len() {
                    let width = if mono { 1 } else { channels };
                    sum_sources(&st.pool, &pending, &mut buf, width, mb, frames);
                    np = 0;
                }
                continue;
            }
            // The first input, or a delayed one (the compiler defers
            // neither): into its own buffer, then read as usual.
            if let Some(slot) = st.pool.get_mut(edge.src_slot) {
                render_deferred(done, j, settled, slot, mb, position, frames);
            }
        }
        let Some(src) = st.pool.get(edge.src_slot) else { continue };
        let src_mono = mono_at(&st.mono_slots, edge.src_slot);
        // A full-width input joins a mono sum: the sum so far becomes full width.
        if mono && !src_mono {
            sum_sources(&st.pool, pending.get(..np).unwrap_or(&[]), &mut buf, 1, mb, frames);
            np = 0;
            widen(&mut buf, channels, mb, frames);
            mono = false;
        }
        let width = if mono { 1 } else { channels };
        match edge.comp.as_mut() {
            Some(d) => {
                sum_sources(&st.pool, pending.get(..np).unwrap_or(&[]), &mut buf, width, mb, frames);
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
                    sum_sources(&st.pool, &pending, &mut buf, width, mb, frames);
                    np = 0;
                }
            }
        }
        empty = false;
    }
    let width = if mono { 1 } else { channels };
    sum_sources(&st.pool, pending.get(..np).unwrap_or(&[]), &mut buf, width, mb, frames);
    if empty && !node.processor.as_ref().is_some_and(|p| p.overwrites_output()) {
        zero_channels(&mut buf, channels, mb, frames);
    }
    Some(Summed { buf, mono, in_place })
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
pub(crate) fn widen(buf: &mut [f64], channels: usize, stride: usize, frames: usize) {
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
