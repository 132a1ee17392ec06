//! The first stage of the pipeline: every node built and checked on its own,
//! every connection checked, duplicates merged.

use crate::desc::GraphDesc;
use crate::error::{EngineError, Result};
use crate::nodes::{self, BuildContext, BuiltNode, Role};
use std::collections::HashMap;

/// The graph as the passes see it: built nodes (in creation order) and their
/// edges, by index into `built`.
pub(crate) struct Topology {
    pub(crate) built: Vec<BuiltNode>,
    /// Inputs of each node, in connection order.
    pub(crate) preds: Vec<Vec<usize>>,
    /// Readers of each node, a compressor it keys included (once more if
    /// it is also one of its inputs).
    pub(crate) succs: Vec<Vec<usize>>,
    /// The key source of each compressor with a sidechain: its detector
    /// reads that node's output, which is not summed into its input. A key
    /// edge orders, keeps its source's slot alive and is latency-compensated
    /// like an input; it is not in `preds`.
    pub(crate) keys: Vec<Option<usize>>,
    /// Recording taps: their output must be in their own slot after the block.
    pub(crate) tapped: Vec<bool>,
}

impl Topology {
    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.built.len()
    }

    /// The largest output latency among node `i`'s inputs and key (0
    /// without either): what its inputs and key are aligned to.
    pub(crate) fn input_latency(&self, i: usize, lat: &[usize]) -> usize {
        self.sources(i).map(|p| lat[p]).max().unwrap_or(0)
    }

    /// Every node whose output node `i` reads: its inputs, then its key.
    pub(crate) fn sources(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.preds[i].iter().copied().chain(self.keys[i])
    }

    /// Whether node `i` has role `role`.
    pub(crate) fn is(&self, i: usize, role: Role) -> bool {
        self.built[i].role == role
    }
}

/// Builds every node of `desc`, checks its connections (unique ids, at
/// most one input and one output node, known nodes, legal directions, no
/// self-loop; cycles are found when ordering) and the graph's memory
/// against `budget` bytes ([`super::budget`]), then prepares the nodes.
pub(crate) fn build(
    desc: &GraphDesc,
    ctx: &BuildContext<'_>,
    prep: &ferrite_dsp::PrepareContext,
    budget: usize,
) -> Result<Topology> {
    let mut index: HashMap<u32, usize> = HashMap::with_capacity(desc.nodes.len());
    let mut built: Vec<BuiltNode> = Vec::with_capacity(desc.nodes.len());
    for n in &desc.nodes {
        if index.insert(n.id, built.len()).is_some() {
            return Err(EngineError::type_error(format!("graph: two nodes have id #{}", n.id)));
        }
        let b = nodes::build(n, ctx)?;
        if matches!(b.role, Role::Input | Role::Output) {
            if let Some(other) = built.iter().find(|o| o.role == b.role) {
                return Err(EngineError::type_error(format!(
                    "graph: two {} nodes (#{} and #{})",
                    b.kind, other.id, b.id
                )));
            }
        }
        built.push(b);
    }
    let n = built.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(from, to) in &desc.connections {
        let f = *index.get(&from).ok_or_else(|| EngineError::type_error(format!("connect: unknown node #{from}")))?;
        let t = *index.get(&to).ok_or_else(|| EngineError::type_error(format!("connect: unknown node #{to}")))?;
        check_connection(&built[f], &built[t])?;
        if !preds[t].contains(&f) {
            preds[t].push(f);
            succs[f].push(t);
        }
    }
    let keys = sidechains(desc, &index, &built, &mut succs)?;
    super::budget::check(&built, prep, budget)?;
    for b in built.iter_mut() {
        let label = b.label();
        if let Some(p) = b.processor.as_mut() {
            // Within the budget but more than the machine can give (a budget
            // raised past its memory): an error naming the node, not an abort.
            p.try_prepare(prep).map_err(|e| EngineError::range(format!("{label}: {e}")))?;
        }
    }
    Ok(Topology { built, preds, succs, keys, tapped: vec![false; n] })
}

/// The key source of each compressor (see [`Topology::keys`]), its reader
/// added to the source's `succs`: known nodes, a compressor as the target,
/// a source with an output, one key per compressor (the same pair twice is
/// one), no compressor keyed by itself.
fn sidechains(
    desc: &GraphDesc,
    index: &HashMap<u32, usize>,
    built: &[BuiltNode],
    succs: &mut [Vec<usize>],
) -> Result<Vec<Option<usize>>> {
    let mut keys: Vec<Option<usize>> = vec![None; built.len()];
    for &(from, to) in &desc.sidechains {
        let known = |id: u32| {
            index.get(&id).copied().ok_or_else(|| EngineError::type_error(format!("sidechain: unknown node #{id}")))
        };
        let (f, t) = (known(from)?, known(to)?);
        let (src, comp) = (&built[f], &built[t]);
        if comp.kind != "compressor" {
            return Err(EngineError::type_error(format!(
                "sidechain: {} is not a compressor: only a compressor takes a key ({} → {})",
                comp.label(),
                src.label(),
                comp.label()
            )));
        }
        if src.role == Role::Output {
            return Err(EngineError::type_error(format!(
                "sidechain: {} is the master output and has no outgoing connections",
                src.label()
            )));
        }
        if f == t {
            return Err(EngineError::range(format!("sidechain: cycle: {} is keyed by itself", comp.label())));
        }
        match keys[t] {
            Some(k) if k == f => {}
            Some(k) => {
                return Err(EngineError::type_error(format!(
                    "sidechain: {} already has a key, {} (a second one from {})",
                    comp.label(),
                    built[k].label(),
                    src.label()
                )))
            }
            None => {
                keys[t] = Some(f);
                succs[f].push(t);
            }
        }
    }
    Ok(keys)
}

/// A connection `from → to` is legal on its own.
fn check_connection(from: &BuiltNode, to: &BuiltNode) -> Result<()> {
    if from.role == Role::Output {
        return Err(EngineError::type_error(format!(
            "connect: {} is the master output and has no outgoing connections",
            from.label()
        )));
    }
    if matches!(to.role, Role::Source | Role::Input) {
        return Err(EngineError::type_error(format!(
            "connect: {} takes no input ({} → {})",
            to.label(),
            from.label(),
            to.label()
        )));
    }
    if std::ptr::eq(from, to) {
        return Err(EngineError::range(format!("connect: cycle: {} is connected to itself", from.label())));
    }
    Ok(())
}
