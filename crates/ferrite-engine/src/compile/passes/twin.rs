//! The twin pass (`crate::render::ops::twin`): in a stereo render with mono
//! blocks on, the filters that run on their own stereo cascades (an `eq` of
//! [`super::batch::MIN_STEREO_CASCADE_STAGES`] or more bands, a fused
//! chain's tail) are paired by depth and stage count, in order of
//! appearance; an odd one out stays alone. The pairs are put next to each
//! other in the render order. `FERRITE_NO_TWIN=1` or
//! `CompileOptions::twin` turns it off.

use super::batch::MIN_STEREO_CASCADE_STAGES;
use super::find_groups;
use super::fuse::Fused;
use crate::compile::validate::Topology;
use crate::nodes::Role;
use crate::render::ops::bank::batchable;

/// Pairs of twins (indices into `built`), when `on` and the render is stereo.
pub(crate) fn plan(topo: &mut Topology, depth: &[usize], fused: &Fused, on: bool, channels: usize) -> Vec<Vec<usize>> {
    if !on || channels != 2 {
        return Vec::new();
    }
    let cascade: Vec<Option<usize>> = topo
        .built
        .iter_mut()
        .enumerate()
        .map(|(i, b)| match fused.by_tail.get(&i) {
            Some(members) => Some(members.len() + 1),
            None if b.role == Role::Effect && b.kind == "eq" && !fused.absorbed[i] => {
                b.processor.as_mut().and_then(|p| batchable(p.as_mut())).filter(|&s| s >= MIN_STEREO_CASCADE_STAGES)
            }
            None => None,
        })
        .collect();
    find_groups(depth, &cascade)
        .into_iter()
        .flat_map(|(members, _)| members.chunks_exact(2).map(<[usize]>::to_vec).collect::<Vec<_>>())
        .collect()
}
