//! Twins: a mono track's filter (an `eq` of 4 or more bands, or a fused
//! biquad chain, in a stereo render) runs a mono block through one cascade,
//! whose pipeline is bound by the latency of each step; two as one stereo
//! wavefront run nearly twice the samples. So the compiler pairs such
//! filters at the same depth and stage count and puts each pair next to
//! each other in the render order ([`crate::compile`], twin pass). When the
//! first of a pair has a mono block to run on its kept cascades with
//! unchanged parameters (the `eq`'s `process_unchanged`, a chain whose
//! members are all settled), the block waits in its buffer; at the second's
//! turn, if it can do the same, both run as one stereo wavefront
//! ([`run_twins`]), else the first runs alone, then the second as usual.
//! Nothing between them reads the first's buffer (its readers have a
//! greater depth). Each cascade does exactly what it does alone
//! (`BiquadCascade::process_pair_at`), and the filter memory stays where each
//! filter keeps it, so the samples, the memory and every hand-over are the
//! same bits as without twins (tested against `CompileOptions::twin` off;
//! `FERRITE_NO_TWIN=1` turns it off).

use super::chain::ChainCache;
use super::node::Turn;
use crate::render::node::RenderNode;
use crate::render::plan::{Op, Plan, Twin};
use crate::render::State;
use ferrite_dsp::kernels::{simd_level, BiquadCascade};
use ferrite_dsp::Special;

/// The cascade of stages `8·chunk ..` that a twin's next mono block runs,
/// while it runs on kept cascades (an `eq`'s stereo caches, or fused chain
/// `chain`'s, holding mono memory); `None` past the last chunk or otherwise.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn mono_cascade<'a>(
    node: &'a mut RenderNode,
    chain: Option<&'a mut ChainCache>,
    chunk: usize,
) -> Option<&'a mut BiquadCascade> {
    match chain {
        Some(c) => c.mono_cascade_mut(chunk),
        None => match node.processor.as_mut()?.special() {
            Special::Eq(eq) => eq.mono_cascade_mut(chunk),
            _ => None,
        },
    }
}

/// Whether twin `k`'s block (mono, unchanged) runs on its kept cascades
/// alone: an `eq`'s `process_unchanged`, or a fused chain whose members'
/// parameters are settled too.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn ready(st: &mut State, k: usize, chain: Option<usize>) -> bool {
    let cache = chain.and_then(|c| st.chains.get_mut(c));
    let nodes = &mut st.nodes;
    let members_settled =
        cache.as_deref().is_none_or(|c| c.members().iter().all(|&j| nodes.get(j).is_some_and(|m| m.params_settled)));
    members_settled && nodes.get_mut(k).is_some_and(|n| mono_cascade(n, cache, 0).is_some())
}

/// Twin `turn.k`'s part in its step, after its width is settled: the first
/// of a ready pair leaves its block waiting; the second runs both, or the
/// waiting first alone. Returns the turn when the node still has to run
/// its own block (`None`: done, its buffer back in the pool).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn pair(
    st: &mut State,
    mut turn: Turn,
    twin: Twin,
    chain: Option<usize>,
    out_mono: bool,
    unchanged: bool,
    frames: usize,
) -> Option<Turn> {
    let k = turn.k;
    if let Some(n) = st.nodes.get_mut(k) {
        n.twinned = false;
    }
    let ready = out_mono && unchanged && ready(st, k, chain);
    if twin.first && ready {
        if let Some(n) = st.nodes.get_mut(k) {
            n.twin_waiting = true;
        }
        st.pending_twins += 1;
        turn.finish(st);
        return None;
    }
    if !twin.first && st.nodes.get(twin.partner).is_some_and(|n| n.twin_waiting) {
        st.pending_twins = st.pending_twins.saturating_sub(1);
        let b = ready.then_some((k, chain, &mut turn.buf[..]));
        run_twins(st, twin.partner, twin.partner_chain, b, frames);
        if ready {
            for j in [k, twin.partner] {
                if let Some(n) = st.nodes.get_mut(j) {
                    n.twinned = true;
                }
            }
            turn.finish(st);
            return None;
        }
    }
    Some(turn)
}

/// Two distinct elements of `v`, mutably (`None` for a missing or equal index).
fn two_mut<T>(v: &mut [T], a: Option<usize>, b: Option<usize>) -> (Option<&mut T>, Option<&mut T>) {
    match (a, b) {
        (Some(a), Some(b)) if a < b => {
            let (lo, hi) = v.split_at_mut(b.min(v.len()));
            (lo.get_mut(a), hi.first_mut())
        }
        (Some(a), Some(b)) if a > b => {
            let (lo, hi) = v.split_at_mut(a.min(v.len()));
            (hi.first_mut(), lo.get_mut(b))
        }
        (Some(a), None) => (v.get_mut(a), None),
        (None, Some(b)) => (None, v.get_mut(b)),
        _ => (None, None),
    }
}

/// Runs the mono block of twin `a` (with fused chain `a_chain`), waiting in
/// its buffer in the pool, and, when given, that of its partner `b` (render
/// index after `a`, its chain, its buffer): chunk by chunk, the two cascades
/// of a chunk as one stereo wavefront (exactly each cascade alone), then
/// their non-finite states cleared, as each node's own block would.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn run_twins(
    st: &mut State,
    a: usize,
    a_chain: Option<usize>,
    b: Option<(usize, Option<usize>, &mut [f64])>,
    frames: usize,
) {
    let (b, b_chain, xb) = match b {
        Some((b, chain, xb)) if b > a => (Some(b), chain, xb.get_mut(..frames)),
        _ => (None, None, None),
    };
    let (na, nb) = two_mut(&mut st.nodes, Some(a), b);
    let (ca, cb) = two_mut(&mut st.chains, a_chain, b_chain);
    let Some(na) = na else { return };
    na.twin_waiting = false;
    let Some(xa) = st.pool.get_mut(na.slot).and_then(|s| s.get_mut(..frames)) else { return };
    let (mut nb, xb) = match (nb, xb) {
        (Some(n), Some(x)) => (Some(n), x),
        _ => (None, &mut [][..]),
    };
    let (mut ca, mut cb) = (ca, cb);
    let level = simd_level();
    for chunk in 0.. {
        let cas = mono_cascade(na, ca.as_deref_mut(), chunk);
        let cbs = nb.as_deref_mut().and_then(|n| mono_cascade(n, cb.as_deref_mut(), chunk));
        match (cas, cbs) {
            (Some(x), Some(y)) => {
                x.process_pair_at(level, xa, y, xb);
                x.clear_non_finite_states();
                y.clear_non_finite_states();
            }
            (Some(x), None) => {
                x.process_at(level, xa);
                x.clear_non_finite_states();
            }
            (None, Some(y)) => {
                y.process_at(level, xb);
                y.clear_non_finite_states();
            }
            (None, None) => break,
        }
    }
}

/// The end of a block: a twin whose partner did not run (the compiler puts
/// partners next to each other, so this does not happen) runs alone.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn finish_block(st: &mut State, plan: &Plan, frames: usize) {
    if st.pending_twins == 0 {
        return;
    }
    for step in plan.steps.iter() {
        let (Some(k), Some(_)) = (step.op.node(), step.op.twin()) else { continue };
        let chain = match step.op {
            Op::Chain { chain, .. } => Some(chain),
            _ => None,
        };
        if st.nodes.get(k).is_some_and(|n| n.twin_waiting) {
            run_twins(st, k, chain, None, frames);
        }
    }
    st.pending_twins = 0;
}

/// The [`Op::Twin`] step: `eq` node `k` with its twin.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn twin(
    st: &mut State,
    k: usize,
    twin: Twin,
    position: u64,
    frames: usize,
    lanes: &mut [crate::automation::Lane],
) {
    let Some(mut turn) = super::node::begin(st, k, position, frames, lanes) else { return };
    let (out_mono, unchanged) = turn.settle_width(st, false, super::node::Keep::Processor, position, frames);
    if let Some(mut turn) = pair(st, turn, twin, None, out_mono, unchanged, frames) {
        turn.process(st, out_mono, unchanged, position, frames);
        turn.finish(st);
    }
}
