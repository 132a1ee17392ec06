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
    /// Readers of each node.
    pub(crate) succs: Vec<Vec<usize>>,
    /// Recording taps: their output must be in their own slot after the block.
    pub(crate) tapped: Vec<bool>,
}

impl Topology {
    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.built.len()
    }

    /// The largest output latency among node `i`'s inputs (0 without inputs).
    pub(crate) fn input_latency(&self, i: usize, lat: &[usize]) -> usize {
        self.preds[i].iter().map(|&p| lat[p]).max().unwrap_or(0)
    }

    /// Whether node `i` has role `role`.
    pub(crate) fn is(&self, i: usize, role: Role) -> bool {
        self.built[i].role == role
    }
}

/// Builds and prepares every node of `desc` and checks its connections:
/// unique ids, at most one input and one output node, known nodes, legal
/// directions, no self-loop (cycles are found when ordering).
pub(crate) fn build(desc: &GraphDesc, ctx: &BuildContext<'_>, prep: &ferrite_dsp::PrepareContext) -> Result<Topology> {
    let mut index: HashMap<u32, usize> = HashMap::with_capacity(desc.nodes.len());
    let mut built: Vec<BuiltNode> = Vec::with_capacity(desc.nodes.len());
    for n in &desc.nodes {
        if index.insert(n.id, built.len()).is_some() {
            return Err(EngineError::type_error(format!("graph: two nodes have id #{}", n.id)));
        }
        let mut b = nodes::build(n, ctx)?;
        if let Some(p) = b.processor.as_mut() {
            p.prepare(prep);
        }
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
    Ok(Topology { built, preds, succs, tapped: vec![false; n] })
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
