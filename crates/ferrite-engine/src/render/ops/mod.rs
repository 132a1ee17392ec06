//! The ops of a plan, one file each (audio thread only). Every op that
//! renders a node goes through [`node`]'s phases: inputs summed ([`sum`]),
//! parameters filled, width settled, processor run, buffer put back.

pub(crate) mod bank;
pub(crate) mod chain;
pub(crate) mod compressors;
pub(crate) mod defer;
pub(crate) mod fold;
pub(crate) mod keyed;
mod members;
pub(crate) mod node;
pub(crate) mod sum;
pub(crate) mod twin;
