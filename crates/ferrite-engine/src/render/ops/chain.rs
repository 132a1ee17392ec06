//! Fused biquad chains: `biquad → biquad → … → biquad`, where each node
//! feeds only the next and the next has no other input, run from their tail
//! as one pipelined cascade (up to 8 stages per [`BiquadCascade`], both
//! channels of a stereo pair at once) instead of node by node. This is how
//! Web Audio style graphs (an EQ built from separate biquad nodes) get the
//! speed of an `eq` node. The compiler's fuse pass finds the chains and
//! rewires the graph (the tail takes the head's inputs); absorbed members
//! keep their processors, parameters, lanes and ids, have no step of their
//! own, and run at the tail's turn on its buffer.
//!
//! # Exactness
//! When every parameter of the chain is constant over a block, the chain runs
//! as cascades whose stages perform exactly the arithmetic of each node's own
//! constant-parameter path (a one-stage cascade at the same SIMD level), so
//! the samples and filter memory are the same bits as unfused. Otherwise each
//! member runs its own `process` in place, in order, which is exactly the
//! unfused computation (a node with one input starts from a copy of it).
//! Tested against unfused renders (`FERRITE_NO_FUSE=1` or
//! `CompileOptions::fuse`).
//!
//! # Kept cascades
//! The chain keeps its cascades ([`ChainCache`]) from block to block. A
//! constant block loads them (coefficients and filter memory from the
//! members) and leaves the memory in them; while no member's parameters are
//! touched (every member *settled* before the block, see
//! [`crate::render::node::fill_params`]), the next blocks run the kept
//! cascades directly: no parameter, coefficient or state traffic per member.
//! The memory goes back to the members ([`flush`]) before anything else
//! reads it: a block that is not constant, and a swap's state hand-over
//! (`CompiledGraph::take_state_from`); a reset drops it.

use super::node::{begin, Keep};
use super::twin;
use crate::automation::Lane;
use crate::render::node::{fill_params, RenderNode};
use crate::render::plan::Twin;
use crate::render::State;
use ferrite_dsp::biquad::Biquad;
use ferrite_dsp::kernels::{simd_level, BiquadCascade, BiquadCoeffs, SimdLevel, MAX_CASCADE_STAGES};
use ferrite_dsp::{Bus, ProcessContext, Special};

/// The [`crate::render::plan::Op::Chain`] step: the tail `k` of chain `c`
/// (and its twin, if it has one).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn chain(
    st: &mut State,
    k: usize,
    c: usize,
    twin: Option<Twin>,
    position: u64,
    frames: usize,
    lanes: &mut [Lane],
) {
    let Some(mut turn) = begin(st, k, position, frames, lanes) else { return };
    let (out_mono, unchanged) = turn.settle_width(st, false, Keep::Chain(c), position, frames);
    if let Some(t) = twin {
        match twin::pair(st, turn, t, Some(c), out_mono, unchanged, frames) {
            Some(t) => turn = t,
            None => return,
        }
    }
    let width = if out_mono { 1 } else { st.channels };
    let done = match st.chains.get_mut(c) {
        Some(cache) => {
            run_chain(&mut st.nodes, cache, unchanged, position, frames, lanes, &mut turn.buf, width, st.stride)
        }
        None => false,
    };
    if !done {
        turn.process(st, out_mono, unchanged, position, frames);
    }
    turn.finish(st);
}

/// The cascades of a fused chain, kept by its tail between blocks: entry
/// `chunk · pairs + pair` filters channels `2·pair` and `2·pair + 1` through
/// stages `8·chunk ..` of the chain.
pub(crate) struct ChainCache {
    /// The absorbed members (render indices, chain order) and the tail.
    members: Box<[usize]>,
    tail: usize,
    cascades: Box<[[BiquadCascade; 2]]>,
    pairs: usize,
    channels: usize,
    /// The cascades hold the chain's coefficients and filter memory (the
    /// members' memory is stale until [`flush`]).
    live: bool,
    /// The kept memory is from mono blocks: channel 0's cascades alone (the
    /// first pair's `a`) hold it, standing for every channel.
    mono: bool,
}

impl ChainCache {
    /// Cascades for a chain of `total` biquads on `channels` channels
    /// (control side).
    pub(crate) fn new(members: Vec<usize>, tail: usize, channels: usize) -> Self {
        let total = members.len() + 1;
        let pairs = channels.div_ceil(2);
        let cascades = (0..total.div_ceil(MAX_CASCADE_STAGES))
            .flat_map(|chunk| {
                let n = (total - chunk * MAX_CASCADE_STAGES).min(MAX_CASCADE_STAGES);
                (0..pairs).map(move |_| [BiquadCascade::new(n); 2])
            })
            .collect();
        Self { members: members.into(), tail, cascades, pairs, channels, live: false, mono: false }
    }

    /// The absorbed members, in chain order.
    pub(crate) fn members(&self) -> &[usize] {
        &self.members
    }

    /// Forgets the kept memory (after the members were reset).
    pub(crate) fn drop_state(&mut self) {
        self.live = false;
        self.mono = false;
    }

    /// Whether every channel's kept memory is the same, bit for bit (the
    /// chain's filters may then run on mono blocks).
    fn in_lockstep(&self) -> bool {
        self.cascades.chunks(self.pairs.max(1)).all(|chunk| {
            let Some([first, _]) = chunk.first() else { return true };
            chunk
                .iter()
                .enumerate()
                .all(|(p, [a, b])| a.same_state(first) && (2 * p + 1 >= self.channels || b.same_state(first)))
        })
    }

    /// While the kept memory is from mono blocks: channel 0's cascade of
    /// stages `8·chunk ..`, the one a mono block runs ([`Self::run`] runs
    /// them in order, each alone, and clears their non-finite states);
    /// `None` past the last chunk or in any other state (see
    /// [`crate::batch`], "Twins").
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn mono_cascade_mut(&mut self, chunk: usize) -> Option<&mut BiquadCascade> {
        if !(self.live && self.mono) {
            return None;
        }
        self.cascades.get_mut(chunk * self.pairs.max(1)).map(|[a, _]| a)
    }

    /// Runs the kept cascades on `buf` (`channels` rows of `stride`).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn run(&mut self, buf: &mut [f64], stride: usize, frames: usize) {
        let level = simd_level();
        let pairs = self.pairs.max(1);
        let channels = self.channels;
        for (i, [a, b]) in self.cascades.iter_mut().enumerate() {
            let c = 2 * (i % pairs);
            if self.mono {
                // Channel 0's cascades alone (the other pairs hold nothing current).
                if c == 0 {
                    run_pair(level, a, b, buf, 0, false, stride, frames);
                    a.clear_non_finite_states();
                }
                continue;
            }
            run_pair(level, a, b, buf, c, c + 1 < channels, stride, frames);
            a.clear_non_finite_states();
            b.clear_non_finite_states();
        }
    }
}

/// Channels `c` (through `a`) and, when `two`, `c + 1` (through `b`) of
/// `buf` (rows of `stride`), `frames` long: one stereo wavefront, or `a` alone.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[allow(clippy::too_many_arguments)]
fn run_pair(
    level: SimdLevel,
    a: &mut BiquadCascade,
    b: &mut BiquadCascade,
    buf: &mut [f64],
    c: usize,
    two: bool,
    stride: usize,
    frames: usize,
) {
    let (lo, hi) = buf.split_at_mut(((c + 1) * stride).min(buf.len()));
    match (lo.get_mut(c * stride..c * stride + frames), two.then(|| hi.get_mut(..frames)).flatten()) {
        (Some(x), Some(y)) => a.process_pair_at(level, x, b, y),
        (Some(x), None) => a.process_at(level, x),
        _ => {}
    }
}

/// Moves the filter memory kept in `cache` back into the chain's members,
/// if it holds it.
///
/// # Realtime
/// Does not allocate, free, lock or panic (the member list is moved out and back).
pub(crate) fn flush(nodes: &mut [RenderNode], cache: &mut ChainCache) {
    let members = std::mem::take(&mut cache.members);
    flush_members(nodes, &members, cache.tail, cache);
    cache.members = members;
}

/// [`flush`] with the member list (`members` then `tail`) moved out of `cache`.
fn flush_members(nodes: &mut [RenderNode], members: &[usize], tail: usize, cache: &mut ChainCache) {
    if !cache.live {
        return;
    }
    cache.live = false;
    let pairs = cache.pairs.max(1);
    let at = |i: usize| if i < members.len() { members.get(i).copied() } else { Some(tail) };
    for (i, [a, b]) in cache.cascades.iter().enumerate() {
        let (chunk, c) = (i / pairs, 2 * (i % pairs));
        if cache.mono && c > 0 {
            continue;
        }
        for s in 0..MAX_CASCADE_STAGES {
            let Some(z) = a.state(s) else { break };
            let Some((bq, _)) = at(chunk * MAX_CASCADE_STAGES + s).and_then(|j| biquad(nodes, j)) else { continue };
            if cache.mono {
                bq.set_series_mono_state(z);
                continue;
            }
            bq.set_series_state(c, z);
            if let Some(z) = b.state(s) {
                bq.set_series_state(c + 1, z);
            }
        }
    }
}

/// Whether chain `cache` (with tail `tail`) may run on channel 0 of a mono
/// block and keep it mono: while every channel's filter memory is channel
/// 0's (see `Processor::mono_ready`), in the cache when it holds it, else in
/// every member.
pub(crate) fn mono_ready(nodes: &[RenderNode], cache: Option<&ChainCache>, tail: usize) -> bool {
    let ready = |j: &usize| nodes.get(*j).and_then(|n| n.processor.as_deref()).is_some_and(|p| p.mono_ready());
    match cache {
        Some(c) if c.live => c.mono || c.in_lockstep(),
        Some(c) => c.members.iter().chain(core::iter::once(&tail)).all(ready),
        None => ready(&tail),
    }
}

/// The tail's turn (its inputs are summed into `buf`, its own parameters
/// filled): runs the absorbed members `members` on `buf` and, when the whole
/// chain has constant parameters, the tail too. Returns `true` when the tail
/// was run (the caller must not process it again). `tail_settled`: the
/// tail's parameters were settled before its parameters were filled for
/// this block; `cache`: the tail's kept cascades. `channels`: the rows of
/// `buf` to filter (1 for a mono block, see [`mono_ready`]).
///
/// # Realtime
/// Does not allocate, lock or panic.
#[allow(clippy::too_many_arguments)]
fn run_chain(
    nodes: &mut [RenderNode],
    cache: &mut ChainCache,
    tail_settled: bool,
    position: u64,
    frames: usize,
    lanes: &mut [Lane],
    buf: &mut [f64],
    channels: usize,
    stride: usize,
) -> bool {
    // Moved out and back: no allocation.
    let members = std::mem::take(&mut cache.members);
    let tail = cache.tail;
    let done =
        run_members(nodes, &members, tail, tail_settled, Some(cache), position, frames, lanes, buf, channels, stride);
    cache.members = members;
    done
}

/// [`run_chain`] with the member list moved out of the cache.
#[allow(clippy::too_many_arguments)]
fn run_members(
    nodes: &mut [RenderNode],
    members: &[usize],
    tail: usize,
    tail_settled: bool,
    mut cache: Option<&mut ChainCache>,
    position: u64,
    frames: usize,
    lanes: &mut [Lane],
    buf: &mut [f64],
    channels: usize,
    stride: usize,
) -> bool {
    if let Some(c) = cache.as_deref_mut() {
        if c.live {
            // Nothing touched since the cascades were loaded: run them as kept.
            let mono = channels == 1 && c.channels > 1;
            if tail_settled
                && c.mono == mono
                && (mono || c.channels == channels)
                && members.iter().all(|&j| nodes.get(j).is_some_and(|n| n.params_settled))
            {
                c.run(buf, stride, frames);
                return true;
            }
            flush_members(nodes, members, tail, c);
        }
    }
    for &j in members {
        if let Some(n) = nodes.get_mut(j) {
            fill_params(n, position, frames, lanes);
        }
    }
    let at = |i: usize| if i < members.len() { members.get(i).copied() } else { Some(tail) };
    let total = members.len() + 1;
    // Settled parameters (see `fill_params`) are constant: no need to look.
    let constant = |j: usize| {
        nodes.get(j).is_some_and(|n| n.params_settled || n.params.iter().all(|p| p.block(frames).constant().is_some()))
    };
    if (0..total).all(|i| at(i).is_some_and(constant))
        && run_cascades(nodes, &at, total, frames, position, buf, channels, stride, cache)
    {
        return true;
    }
    for &j in members {
        let Some(n) = nodes.get_mut(j) else { continue };
        if let Some(p) = n.processor.as_mut() {
            let ctx = ProcessContext { frames, position, params: &n.params };
            p.process(&ctx, &mut Bus::new(buf, channels, stride, frames));
        }
    }
    false
}

/// The biquad of node `j`.
fn biquad(nodes: &mut [RenderNode], j: usize) -> Option<(&mut Biquad, &[ferrite_dsp::ParamBuffer])> {
    let n = nodes.get_mut(j)?;
    match n.processor.as_mut()?.special() {
        Special::Biquad(b) => Some((b, &n.params)),
        _ => None,
    }
}

/// The whole chain (`at(0..total)`, all parameters constant) as cascades of
/// up to 8 stages, channels in pairs; one pass over the members loads
/// coefficients and state, one stores the state back, or, with a `cache` of
/// the chain's shape, the cascades are the cache's and keep the state (it is
/// then live). `false` (and nothing done) when a member is not a prepared
/// biquad, which the compiler rules out.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[allow(clippy::too_many_arguments)]
fn run_cascades(
    nodes: &mut [RenderNode],
    at: &dyn Fn(usize) -> Option<usize>,
    total: usize,
    frames: usize,
    position: u64,
    buf: &mut [f64],
    channels: usize,
    stride: usize,
    cache: Option<&mut ChainCache>,
) -> bool {
    let level = simd_level();
    let members_ch = at(0).and_then(|j| biquad(nodes, j)).map_or(0, |(b, _)| b.series_channels());
    if (0..total).any(|i| at(i).and_then(|j| biquad(nodes, j)).is_none_or(|(b, _)| b.series_channels() != members_ch)) {
        return false;
    }
    // A mono block: channel 0 alone, its memory standing for every channel's.
    let mono = channels == 1 && members_ch > 1;
    let prepared = members_ch.min(channels);
    let pairs = members_ch.div_ceil(2);
    let mut cache = cache.filter(|c| {
        c.channels == members_ch && c.pairs == pairs && c.cascades.len() == total.div_ceil(MAX_CASCADE_STAGES) * pairs
    });
    let mut start = 0;
    while start < total {
        let n = (total - start).min(MAX_CASCADE_STAGES);
        for p in 0..if mono { 1 } else { pairs } {
            let c = 2 * p;
            let two = c + 1 < prepared;
            // The pair's two cascades (kept or on the stack), loaded member by member.
            let mut local = [BiquadCascade::new(n); 2];
            let kept = cache.as_deref_mut().and_then(|k| k.cascades.get_mut(start / MAX_CASCADE_STAGES * pairs + p));
            let keep = kept.is_some();
            let [a, b] = match kept {
                Some(k) => k,
                None => &mut local,
            };
            for s in 0..n {
                let Some((bq, params)) = at(start + s).and_then(|j| biquad(nodes, j)) else { continue };
                let k =
                    bq.series_coeffs(&ProcessContext { frames, position, params }).unwrap_or(BiquadCoeffs::IDENTITY);
                a.set_coeffs(s, k);
                a.set_state(s, bq.series_state(c).unwrap_or([0.0; 2]));
                if two {
                    b.set_coeffs(s, k);
                    b.set_state(s, bq.series_state(c + 1).unwrap_or([0.0; 2]));
                }
            }
            run_pair(level, a, b, buf, c, two, stride, frames);
            if keep {
                a.clear_non_finite_states();
                b.clear_non_finite_states();
                continue;
            }
            let last_pair = mono || p + 1 == pairs;
            for s in 0..n {
                let Some((bq, _)) = at(start + s).and_then(|j| biquad(nodes, j)) else { continue };
                if mono {
                    if let Some(z) = a.state(s) {
                        bq.set_series_mono_state(z);
                    }
                    bq.series_done();
                    continue;
                }
                if let Some(z) = a.state(s) {
                    bq.set_series_state(c, z);
                }
                if two {
                    if let Some(z) = b.state(s) {
                        bq.set_series_state(c + 1, z);
                    }
                }
                if last_pair {
                    bq.series_done();
                }
            }
        }
        start += n;
    }
    if let Some(c) = cache {
        c.live = true;
        c.mono = mono;
    }
    true
}
