//! Sidechained compressors (`graph.sidechain(from, compressor)`): the
//! compressor's inputs are summed as usual, its detector reads its key
//! source's buffer instead ([`ferrite_dsp::compressor::Compressor::process_keyed`]),
//! and the gains go to the summed programme. The key is never summed into
//! anything: it only steers the gain.
//!
//! The key's buffer is read where its source left it: a mono block (one
//! channel) as one channel, which linked detection treats as identical
//! channels; an edge with a compensation delay (the key arrives earlier than
//! the programme) goes through its delay into the key's own block first,
//! every channel (a mono source is widened, as a summed input's is). A
//! keyed member of a compressor group detects on its key the same way
//! ([`super::compressors`]).

use super::node::{begin, Keep};
use super::sum::widen;
use crate::automation::Lane;
use crate::render::node::{Key, RenderNode};
use crate::render::State;
use ferrite_dsp::{Bus, ProcessContext, Processor, Special};

/// The [`crate::render::plan::Op::Keyed`] step: compressor `k` with its key.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn keyed(st: &mut State, k: usize, position: u64, frames: usize, lanes: &mut [Lane]) {
    let Some(mut turn) = begin(st, k, position, frames, lanes) else { return };
    // Linked detection on the key and one gain for every channel: a mono
    // programme stays mono whatever the key is.
    let (out_mono, _) = turn.settle_width(st, false, Keep::Processor, position, frames);
    let width = if out_mono { 1 } else { st.channels };
    let (channels, stride) = (st.channels, st.stride);
    if let Some(RenderNode { processor: Some(p), key, params, .. }) = st.nodes.get_mut(k) {
        let ctx = ProcessContext { frames, position, params };
        let mut io = Bus::new(&mut turn.buf, width, stride, frames);
        let key = key.as_mut().and_then(|key| key_bus(key, &mut st.pool, &mut st.mono_slots, channels, stride, frames));
        process_keyed(p.as_mut(), &ctx, &mut io, key.as_ref());
    }
    turn.finish(st);
}

/// This block of `key` as the detector reads it: its source's buffer in
/// `pool` (one channel for a mono block), or, through its compensation
/// delay, its own delayed block. `None` when the source's slot does not exist.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn key_bus<'a>(
    key: &'a mut Key,
    pool: &'a mut [Box<[f64]>],
    mono_slots: &mut [bool],
    channels: usize,
    stride: usize,
    frames: usize,
) -> Option<Bus<'a>> {
    let slot = key.edge.src_slot;
    let mono = mono_slots.get(slot).copied().unwrap_or(false);
    let Some(delay) = key.edge.comp.as_mut() else {
        let src = pool.get_mut(slot)?;
        return Some(Bus::new(src, if mono { 1 } else { channels }, stride, frames));
    };
    // The delay keeps every channel's history: a mono source is widened in
    // place (channel 0, which its other readers see, stays as it was).
    let src = pool.get_mut(slot)?;
    if mono {
        widen(src, channels, stride, frames);
        if let Some(m) = mono_slots.get_mut(slot) {
            *m = false;
        }
    }
    for c in 0..channels {
        if let Some(row) = key.delayed.get_mut(c * stride..c * stride + frames) {
            row.fill(0.0);
        }
    }
    delay.add_delayed(src, &mut key.delayed, channels, stride, frames);
    Some(Bus::new(&mut key.delayed, channels, stride, frames))
}

/// Runs `p` on `io`: a compressor with a key detects on the key
/// (`process_keyed`); anything else, or no key, is a plain `process`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn process_keyed(p: &mut dyn Processor, ctx: &ProcessContext<'_>, io: &mut Bus<'_>, key: Option<&Bus<'_>>) {
    if let Some(key) = key {
        if let Special::Compressor(c) = p.special() {
            c.process_keyed(ctx, io, key);
            return;
        }
    }
    p.process(ctx, io);
}
