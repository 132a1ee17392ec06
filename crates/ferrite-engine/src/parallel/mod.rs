//! Every core: one graph rendered by several threads, with the same bits
//! as one thread.
//!
//! A graph whose mix sums independent components (tracks, busses) is cut
//! into parts ([`split`]): each part is compiled as a graph of its own
//! (with every strategy of the render core inside it: banks, groups,
//! chains, twins), and the mix is compiled with a [`Port`] in place of
//! each part node it reads. Each block, the parts render on whichever
//! threads claim them from a [`Board`] (lock-free), then the mix copies
//! the ports' samples and renders. Every node sums its inputs in the same
//! edge order with the same compensation delays as in the whole graph,
//! and the render core gives the same bits whichever of its strategies
//! run (each is tested against its switch off), so the samples do not
//! depend on how many threads ran or which ran what.
//!
//! Offline, the parts render [`graph`]'s span ahead of the mix on the
//! process-wide [`pool`]; a small graph stays on one thread
//! ([`plan_parts`]). In real time ([`RtGraph`]) a block's parts and its
//! mix render in the same callback, the parts on the audio thread and its
//! workers ([`crate::realtime::Team`]).

mod board;
mod graph;
pub mod pool;
mod port;
mod realtime;
mod split;

pub(crate) use board::Tasks;
pub use board::{Board, MAX_TASKS};
pub use graph::{InputFn, OfflineGraph, OutputFn, SplitGraph};
pub use port::Port;
pub use realtime::{LaneSplit, Member, RtGraph, RtLayout};

use crate::desc::GraphDesc;

/// Most threads a render accepts (`threads` is checked against it).
pub const MAX_THREADS: usize = 64;

/// Parts per thread of a split graph: more parts than threads lets a
/// thread that finishes early take another part when the others are slow
/// (a loaded machine).
pub const PARTS_PER_THREAD: usize = 4;

/// Least components (tracks, busses) in one part: the render core runs
/// like tracks as banks, whose width is what makes them fast. A part of
/// two to four reference-session tracks rendered on one core costs 1.35
/// to 1.4 times its share of the whole graph, of eight about 1.04 times.
pub const MIN_PART_COMPONENTS: usize = 8;

/// Least work in one part (the sum of the split's per-node weights, about
/// one per node and one per `eq` band; a reference-session track weighs
/// 14, an oscillator with an 8-band `eq` and a gain 10): below it the
/// hand-overs of a span cost more than the part's share of the work saves.
pub const MIN_PART_WEIGHT: u64 = 64;

/// Least work per component, on average, for a split: each component
/// hands the mix a port (its own buffer, copied and summed each block),
/// where the whole graph sums cheap sources through shared scratch rows.
/// 64 oscillators with their gains (weight 2 each) rendered 3× slower in
/// two parts than whole.
pub const MIN_COMPONENT_WEIGHT: u64 = 6;

/// Whether `desc`, too light a graph for [`plan_parts`] to split (its
/// components cheap beside a port each), is worth two parts of which the
/// first sums its own components ([`split`]'s `presum_first`): at least
/// two parts' components ([`MIN_PART_COMPONENTS`]) and half of one part's
/// work ([`MIN_PART_WEIGHT`]); the crossover measured is in
/// benches/README.md.
pub fn plan_presummed(desc: &GraphDesc) -> bool {
    let (components, weight) = split::splittable(desc);
    components >= 2 * MIN_PART_COMPONENTS && weight >= MIN_PART_WEIGHT / 2
}

/// Every core: [`std::thread::available_parallelism`] (1 when unknown).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS)
}

/// How many parts `desc` is cut into for `threads` threads: 1 (whole)
/// for one thread, or a graph of light components
/// ([`MIN_COMPONENT_WEIGHT`]) or with less than two parts' components
/// ([`MIN_PART_COMPONENTS`]) or work ([`MIN_PART_WEIGHT`]); else as many
/// as those allow, up to `threads × PARTS_PER_THREAD`.
pub fn plan_parts(desc: &GraphDesc, threads: usize) -> usize {
    if threads <= 1 {
        return 1;
    }
    let (components, weight) = split::splittable(desc);
    if components == 0 || weight < MIN_COMPONENT_WEIGHT * components as u64 {
        return 1;
    }
    let shares = (components / MIN_PART_COMPONENTS).min((weight / MIN_PART_WEIGHT) as usize);
    shares.min(threads * PARTS_PER_THREAD).clamp(1, MAX_TASKS)
}
