//! Issue 26, item 1: a graph too large for memory is refused with a
//! `RangeError` naming its largest nodes, before anything is allocated;
//! never an aborted process.

use ferrite_engine::compile::{compile_with, CompileOptions, RenderSettings};
use ferrite_engine::error::ErrorKind;
use ferrite_engine::GraphDesc;
use serde_json::{json, Value};

fn desc(v: Value) -> GraphDesc {
    GraphDesc::from_value(&v).expect("a well-formed document")
}

/// `n` delays of `frames` frames in series after an oscillator.
fn delays(n: u32, frames: u64) -> GraphDesc {
    let mut nodes = vec![json!({ "id": 0, "type": "oscillator", "params": { "frequency": 100 } })];
    let mut connections = Vec::new();
    for i in 1..=n {
        nodes.push(json!({ "id": i, "type": "delay", "params": { "frames": frames } }));
        connections.push(json!([i - 1, i]));
    }
    nodes.push(json!({ "id": n + 1, "type": "output" }));
    connections.push(json!([n, n + 1]));
    desc(json!({ "version": 1, "nodes": nodes, "connections": connections }))
}

fn options(budget: usize) -> CompileOptions {
    CompileOptions { memory_budget: budget, ..CompileOptions::default() }
}

/// What the budget counts for one delay of `max_frames` (the oscillator and
/// output beside it are counted too), from the documented layout: each
/// channel's f64 ring is the next power of two above `max_frames +
/// max_block + 4` frames; each node holds one f64 row per parameter and
/// per channel of its output (the output node: its channels).
fn expected(max_frames: usize, channels: usize, block: usize) -> usize {
    let ring = (max_frames + block + 4).next_power_of_two() * channels * 8;
    let rows = |params: usize| (params + channels) * block * 8;
    // oscillator: frequency, amplitude, phase; delay: frames, feedback, mix; output: none.
    ring + rows(3) + rows(3) + rows(0)
}

#[test]
fn thousands_of_wide_delays_at_the_largest_block_are_refused_by_kind() {
    // 2,500 one-frame delays at 32 channels and blockSize 16384 held 21.5 GB.
    let settings = RenderSettings { sample_rate: 48_000.0, channels: 32, max_block: 16_384 };
    let e = compile_with(&delays(2500, 1), settings, &[], CompileOptions::default()).err().expect("refused");
    assert_eq!(e.kind, ErrorKind::Range, "{e}");
    for part in ["graph: needs about", "2502 nodes at blockSize 16384, 32 channels", "memory budget of 2.0 GiB"] {
        assert!(e.message.contains(part), "{part:?} in {e}");
    }
    // 2500 × (32768-frame rings × 32 channels + 35 rows) × 8 bytes = 21.0 GiB.
    let per = expected(1, 32, 16_384) - (3 + 32) * 16_384 * 8 - 32 * 16_384 * 8;
    let total = 2500.0 * per as f64 + (3.0 + 32.0 + 32.0) * 16_384.0 * 8.0;
    let gib = format!("{:.1} GiB", total / f64::from(1u32 << 30));
    assert!(e.message.contains(&format!("needs about {gib}")), "{gib} in {e}");
    assert!(e.message.contains("2500 delay nodes"), "{e}");
    assert!(!e.message.contains("oscillator #0") && !e.message.contains("output #"), "only what matters: {e}");
    assert!(e.message.contains("memoryBudget"), "says how to raise it: {e}");
}

#[test]
fn long_delays_over_the_budget_are_refused_and_a_raised_budget_takes_them() {
    // Forty 600-s delays: each a 2^25-frame stereo ring, 512 MiB.
    let settings = RenderSettings { sample_rate: 48_000.0, channels: 2, max_block: 128 };
    let e = compile_with(&delays(40, 600 * 48_000), settings, &[], CompileOptions::default()).err().expect("refused");
    assert_eq!(e.kind, ErrorKind::Range, "{e}");
    assert!(e.message.contains("40 delay nodes 20.0 GiB (the largest, #1, 512.0 MiB)"), "{e}");
    // Two of them fit in a 1.5 GiB budget (and are compiled: 1 GiB of rings).
    compile_with(&delays(2, 600 * 48_000), settings, &[], options(3 << 29)).expect("within the budget");
}

#[test]
fn the_budget_is_exact_at_its_edge() {
    let settings = RenderSettings { sample_rate: 48_000.0, channels: 2, max_block: 256 };
    let need = expected(100_000, 2, 256);
    compile_with(&delays(1, 100_000), settings, &[], options(need)).expect("exactly the budget fits");
    let e = compile_with(&delays(1, 100_000), settings, &[], options(need - 1)).err().expect("one byte over");
    assert_eq!(e.kind, ErrorKind::Range, "{e}");
    assert!(e.message.contains("delay #1 2.0 MiB"), "names the node: {e}");
}

#[test]
fn an_ordinary_session_is_far_inside_the_default_budget() {
    // 64 tracks of oscillator → 8-band EQ → compressor → gain at 48 kHz / 128.
    let mut nodes = vec![json!({ "id": 0, "type": "output" })];
    let mut connections = Vec::new();
    for t in 0..64u32 {
        let base = 1 + t * 4;
        let bands: Vec<Value> = (0..8).map(|_| json!({ "type": "peaking" })).collect();
        let mut eq_params = serde_json::Map::new();
        for b in 0..8 {
            eq_params.insert(format!("bands[{b}].frequency"), json!(100 * (b + 1)));
            eq_params.insert(format!("bands[{b}].q"), json!(1));
            eq_params.insert(format!("bands[{b}].gainDb"), json!(3));
        }
        nodes.push(json!({ "id": base, "type": "oscillator", "params": { "frequency": 110 } }));
        nodes.push(json!({ "id": base + 1, "type": "eq", "params": eq_params, "options": { "bands": bands } }));
        nodes.push(json!({ "id": base + 2, "type": "compressor" }));
        nodes.push(json!({ "id": base + 3, "type": "gain", "params": { "gain": 0.1 } }));
        connections.extend([json!([base, base + 1]), json!([base + 1, base + 2]), json!([base + 2, base + 3])]);
        connections.push(json!([base + 3, 0]));
    }
    let d = desc(json!({ "version": 1, "nodes": nodes, "connections": connections }));
    let settings = RenderSettings { sample_rate: 48_000.0, channels: 2, max_block: 128 };
    // 256 nodes hold well under 64 MiB; the default budget is 2 GiB.
    compile_with(&d, settings, &[], options(64 << 20)).expect("compiles within 64 MiB");
}
