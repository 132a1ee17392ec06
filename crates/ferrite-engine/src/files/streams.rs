//! The graph's file players as the control side sees them: offline renders
//! make them wait for their data, real-time graphs wait (briefly) for their
//! prefill before they are published, and both look for stream errors.

use crate::render::CompiledGraph;
use ferrite_media::{FilePlayer, StreamStatus};
use std::time::{Duration, Instant};

/// Longest `set_graph` waits for new file players' prefill.
pub const PREFILL_WAIT: Duration = Duration::from_millis(500);

/// Stream status handles of the graph's file players.
fn statuses(g: &mut CompiledGraph) -> Vec<StreamStatus> {
    (0..g.nodes().len())
        .filter_map(|i| g.processor_mut(i)?.as_any_mut().downcast_mut::<FilePlayer>().map(|p| p.status()))
        .collect()
}

/// Readies a compiled graph for an offline render: processors fed by
/// another thread (file streams) wait for their data instead of playing
/// silence, so an offline render never misses a sample.
pub fn prepare_offline(g: &mut CompiledGraph) {
    for i in 0..g.nodes().len() {
        if let Some(p) = g.processor_mut(i) {
            p.set_blocking(true);
        }
    }
}

/// The first stream error of a graph's file players, if any (an offline
/// render fails with it rather than writing silence).
pub fn stream_failure(g: &mut CompiledGraph) -> Option<String> {
    statuses(g).iter().find_map(StreamStatus::error)
}

/// Waits until every file player of `g` has its first read-ahead (or
/// failed), at most `limit`, so that a graph published to the audio thread
/// starts with its files' data at hand. Control side only.
pub fn wait_for_prefill(g: &mut CompiledGraph, limit: Duration) {
    let statuses = statuses(g);
    let until = Instant::now() + limit;
    while statuses.iter().any(|s| !s.ready() && s.error().is_none()) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
}
