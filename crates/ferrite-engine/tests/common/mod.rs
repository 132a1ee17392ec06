//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use ferrite_engine::desc::GraphDesc;
use serde_json::json;

/// A deterministic noise buffer in [-1, 1).
pub fn noise(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f64 / 4294967296.0 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// Parses a graph from a `serde_json::json!` value.
pub fn graph(v: serde_json::Value) -> GraphDesc {
    GraphDesc::from_value(&v).expect("valid graph")
}

/// A player of `buffer 0` through a biquad, a delay with feedback and a gain into the output.
pub fn mix_graph(gain: f64) -> GraphDesc {
    graph(json!({
        "version": 1,
        "nodes": [
            {"id": 0, "type": "input"}, {"id": 1, "type": "output"},
            {"id": 2, "type": "player", "options": {"channels": {"buffer": 0}, "loop": true}},
            {"id": 3, "type": "biquad", "params": {"frequency": 1500, "q": 2, "gainDb": 6}, "options": {"type": "peaking"}},
            {"id": 4, "type": "delay", "params": {"frames": 300, "feedback": 0.4, "mix": 0.5}},
            {"id": 5, "type": "gain", "params": {"gain": gain}},
            {"id": 6, "type": "constant", "params": {"value": 0.01}}
        ],
        "connections": [[2, 3], [3, 4], [4, 5], [5, 1], [6, 5], [0, 5]]
    }))
}
