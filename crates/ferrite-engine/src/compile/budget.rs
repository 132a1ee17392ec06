//! The memory budget of a compiled graph. Before any node is prepared, the
//! compiler adds up what the graph will hold — each processor's state
//! ([`ferrite_dsp::Processor::memory_bytes`]: delay lines, convolution
//! partitions, scratch rows), each parameter's per-frame buffer and at most
//! one output buffer per node — and refuses a graph over the budget with a
//! `RangeError` naming the kinds of node that take the most. A graph too
//! large for memory is an error, never an aborted process.

use crate::error::{EngineError, Result};
use crate::nodes::BuiltNode;
use ferrite_dsp::PrepareContext;

/// The default budget: 2 GiB.
pub const DEFAULT_MEMORY_BUDGET: usize = 2 << 30;

/// What node `b` will hold once prepared for `prep`, in bytes (an upper
/// estimate).
pub fn node_bytes(b: &BuiltNode, prep: &PrepareContext) -> usize {
    let row = prep.max_block.max(1).saturating_mul(size_of::<f64>());
    let own = b.processor.as_ref().map_or(0, |p| p.memory_bytes(prep));
    let buffers = (b.params.len() + prep.channels).saturating_mul(row);
    own.saturating_add(buffers)
}

/// Refuses `built` when it would hold more than `budget` bytes.
pub(crate) fn check(built: &[BuiltNode], prep: &PrepareContext, budget: usize) -> Result<()> {
    let costs: Vec<usize> = built.iter().map(|b| node_bytes(b, prep)).collect();
    let total = costs.iter().fold(0usize, |a, &c| a.saturating_add(c));
    if total <= budget {
        return Ok(());
    }
    // By kind: (kind, nodes, bytes, largest node's index).
    let mut kinds: Vec<(&str, usize, usize, usize)> = Vec::new();
    for (i, (b, &c)) in built.iter().zip(&costs).enumerate() {
        match kinds.iter_mut().find(|k| k.0 == b.kind) {
            Some(k) => {
                k.1 += 1;
                k.2 = k.2.saturating_add(c);
                if c > costs[k.3] {
                    k.3 = i;
                }
            }
            None => kinds.push((&b.kind, 1, c, i)),
        }
    }
    kinds.sort_by(|a, b| b.2.cmp(&a.2));
    // The kinds that matter: the largest, and up to two more that hold at
    // least a twentieth of the total.
    let largest: Vec<String> = kinds
        .iter()
        .enumerate()
        .filter(|&(k, kind)| k == 0 || kind.2 >= total / 20)
        .map(|(_, kind)| kind)
        .take(3)
        .map(|&(kind, n, bytes, big)| {
            if n == 1 {
                format!("{} {}", built[big].label(), size(bytes))
            } else {
                format!("{n} {kind} nodes {} (the largest, #{}, {})", size(bytes), built[big].id, size(costs[big]))
            }
        })
        .collect();
    Err(EngineError::range(format!(
        "graph: needs about {} ({} nodes at blockSize {}, {} channels), more than the memory budget of {}; \
         the largest: {}. Raise the budget with the memoryBudget option, or use a smaller blockSize, fewer \
         channels or shorter delays",
        size(total),
        built.len(),
        prep.max_block,
        prep.channels,
        size(budget),
        largest.join(", ")
    )))
}

/// `bytes` in KiB, MiB or GiB, one decimal.
fn size(bytes: usize) -> String {
    let b = bytes as f64;
    if b >= f64::from(1u32 << 30) {
        format!("{:.1} GiB", b / f64::from(1u32 << 30))
    } else if b >= f64::from(1u32 << 20) {
        format!("{:.1} MiB", b / f64::from(1u32 << 20))
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}
