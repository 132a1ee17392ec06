//! The compiler's passes: each decides one strategy of the render core and
//! can be switched off on its own (`CompileOptions`, `FERRITE_NO_*`). They
//! run on the control side; what they decide is written into the plan
//! (`crate::render::plan`) and run by the op of the same name
//! (`crate::render::ops`).

pub(crate) mod batch;
pub(crate) mod defer;
pub(crate) mod fold;
pub(crate) mod fuse;
pub(crate) mod mono;
pub(crate) mod twin;

/// Groups of batchable nodes: `(members, stages)` by `(depth, stages)`, in
/// order of first appearance, with ≥ 2 members each. `stages[i]` is `None`
/// for a node that cannot be batched.
pub(crate) fn find_groups(depth: &[usize], stages: &[Option<usize>]) -> Vec<(Vec<usize>, usize)> {
    let mut groups: Vec<((usize, usize), Vec<usize>)> = Vec::new();
    for (i, (&d, s)) in depth.iter().zip(stages).enumerate() {
        let Some(s) = *s else { continue };
        match groups.iter_mut().find(|(k, _)| *k == (d, s)) {
            Some((_, v)) => v.push(i),
            None => groups.push(((d, s), vec![i])),
        }
    }
    groups.into_iter().filter(|(_, v)| v.len() >= 2).map(|((_, s), v)| (v, s)).collect()
}
