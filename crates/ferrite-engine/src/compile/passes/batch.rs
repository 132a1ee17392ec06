//! The batch pass: filter banks and compressor groups
//! (`crate::render::ops::bank`, `crate::render::ops::compressors`).
//!
//! # What is batched
//! Nodes whose processor is a bank filter (`eq`, `biquad`) with the same
//! stage count (bands; 1 for a `biquad`) and the same *depth*: two nodes at
//! the same depth cannot depend on each other, so their inputs are complete
//! before either runs and neither feeds the other. A group needs at least
//! two members. Not batched: a stereo render's filters of
//! [`MIN_STEREO_CASCADE_STAGES`] or more stages (an 8-band EQ), whose own
//! stereo wavefront cascade is faster than bank lanes plus the copies in
//! and out (benches/README.md); fused chains (one stereo cascade each).
//! Compressors: every `compressor` node, grouped by depth alone (a lane
//! per node, whatever its settings).
//!
//! `FERRITE_NO_BATCH=1` or `CompileOptions::batch` turns batching off,
//! twins included.

use super::find_groups;
use super::fuse::Fused;
use crate::compile::validate::Topology;
use crate::nodes::Role;
use crate::render::ops::bank::batchable;

/// Stage count from which a filter of a stereo render is not batched.
pub const MIN_STEREO_CASCADE_STAGES: usize = 4;

/// The groups found (indices into `built`).
#[derive(Default)]
pub(crate) struct Batches {
    /// Filter banks: members and stage count.
    pub(crate) filters: Vec<(Vec<usize>, usize)>,
    /// Compressor groups.
    pub(crate) compressors: Vec<Vec<usize>>,
}

/// Groups the batchable nodes of `topo` by depth.
pub(crate) fn plan(topo: &mut Topology, depth: &[usize], fused: &Fused, channels: usize) -> Batches {
    let stages: Vec<Option<usize>> = topo
        .built
        .iter_mut()
        .map(|b| match b.role {
            Role::Effect => b.processor.as_mut().and_then(|p| batchable(p.as_mut())),
            _ => None,
        })
        .enumerate()
        .map(|(i, s)| if fused.absorbed[i] || fused.by_tail.contains_key(&i) { None } else { s })
        .map(|s| s.filter(|&s| s < MIN_STEREO_CASCADE_STAGES || channels != 2))
        .collect();
    let comp: Vec<Option<usize>> =
        topo.built.iter().map(|b| (b.role == Role::Effect && b.kind == "compressor").then_some(1)).collect();
    Batches {
        filters: find_groups(depth, &stages),
        compressors: find_groups(depth, &comp).into_iter().map(|(members, _)| members).collect(),
    }
}
