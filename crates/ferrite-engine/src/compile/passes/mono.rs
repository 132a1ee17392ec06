//! The mono pass (`crate::render::ops::node`, "Mono blocks"): generators
//! whose channels all carry one signal (`Processor::mono_source`:
//! oscillator, constant) run on channel 0 only in a render of more than one
//! channel. Whether a processor keeps a mono block mono is asked per block
//! (`Processor::mono_ready`). `FERRITE_NO_MONO=1` or `CompileOptions::mono`
//! turns it off.

use crate::compile::validate::Topology;

/// Which nodes are mono generators (by index into `built`).
pub(crate) fn plan(topo: &Topology, channels: usize, on: bool) -> Vec<bool> {
    (0..topo.len())
        .map(|i| {
            on && channels > 1
                && topo.preds[i].is_empty()
                && topo.built[i].processor.as_ref().is_some_and(|p| p.mono_source())
        })
        .collect()
}
