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
/// (a loaded machine), at the cost of smaller filter banks per part.
pub const PARTS_PER_THREAD: usize = 2;

/// Below this much work (the sum of the split's per-node weights, about
/// one per node and one per `eq` band; a reference-session track weighs
/// 14) a graph renders on one thread: a hand-over per span of 512 frames
/// must be small against the work of each part, so the
/// line is drawn at about two tracks, where a part would hold less work
/// than a hand-over and a wake-up of a sleeping pool thread.
pub const MIN_SPLIT_WEIGHT: u64 = 24;

/// Every core: [`std::thread::available_parallelism`] (1 when unknown).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS)
}

/// How many parts `desc` is cut into for `threads` threads: 1 (whole)
/// for one thread or a graph below [`MIN_SPLIT_WEIGHT`], else up to
/// `threads × PARTS_PER_THREAD` (fewer when it has fewer components).
pub fn plan_parts(desc: &GraphDesc, threads: usize) -> usize {
    if threads <= 1 || split::splittable_weight(desc) < MIN_SPLIT_WEIGHT {
        return 1;
    }
    (threads * PARTS_PER_THREAD).min(MAX_TASKS)
}
