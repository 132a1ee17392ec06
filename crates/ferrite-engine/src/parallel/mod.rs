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
//! ([`plan_parts`]).

mod board;
mod graph;
pub mod pool;
mod port;
mod split;

pub use board::{Board, MAX_TASKS};
pub use graph::{InputFn, OfflineGraph, OutputFn, SplitGraph};
pub use port::Port;

use crate::desc::GraphDesc;

/// Most threads a render accepts (`threads` is checked against it).
pub const MAX_THREADS: usize = 64;

/// Parts per thread of a split graph: more parts than threads lets a
/// thread that finishes early take another part when the others are slow
/// (a loaded machine).
pub const PARTS_PER_THREAD: usize = 4;

/// Least work in one part (the sum of the split's per-node weights, about
/// one per node and one per `eq` band; a reference-session track weighs
/// 14): about eight such tracks. The render core runs like tracks as
/// banks, whose width is what makes them fast; a part of two to four
/// tracks rendered on one core costs 1.35 to 1.4 times its share of the
/// whole graph, of eight about 1.04 times, so a graph gets no more parts
/// than it has eight-track shares, and below two renders whole.
pub const MIN_PART_WEIGHT: u64 = 112;

/// Every core: [`std::thread::available_parallelism`] (1 when unknown).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS)
}

/// How many parts `desc` is cut into for `threads` threads: 1 (whole)
/// for one thread or a graph below two [`MIN_PART_WEIGHT`]s, else up to
/// `threads × PARTS_PER_THREAD` (fewer when it has fewer components).
pub fn plan_parts(desc: &GraphDesc, threads: usize) -> usize {
    if threads <= 1 {
        return 1;
    }
    let shares = split::splittable_weight(desc) / MIN_PART_WEIGHT;
    (shares as usize).min(threads * PARTS_PER_THREAD).min(MAX_TASKS).max(1)
}
