//! Deferred sources (`CompileOptions::defer`): a mono generator whose samples
//! only a sum reads (directly, or through a folded gain) renders when the sum
//! takes it, into a shared scratch row. Every path must give the same bits as
//! rendering each generator into its own buffer, and the samples must be the
//! signals computed here.

mod common;

use assert_no_alloc::{violation_count, AllocDisabler};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

use common::{input, osc};
use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::{Compiled, RenderSettings};
use serde_json::json;
use std::f64::consts::TAU;

const SR: f64 = 48000.0;

fn build(desc: &GraphDesc, channels: usize, defer: bool) -> Compiled {
    let settings = RenderSettings { sample_rate: SR, channels, max_block: 128 };
    compile_with(desc, settings, &[], CompileOptions { defer, ..CompileOptions::default() }).expect("compiles")
}

/// A bus (gain 2) into the output, its inputs in edge order:
/// - a sine it renders in place on (not deferred);
/// - a saw through a folded gain (deferred);
/// - a panned square (full width: the deferred sources after it are added
///   to every channel);
/// - a triangle straight in (deferred);
/// - a saw through a gain with a lane (deferred while the gain holds, its
///   gain node renders on it while the lane moves);
/// - a saw through a gain ramped mid-render (the same, from a `set`);
/// - a saw with an amplitude lane (deferred; its own parameters vary);
/// - a constant (deferred);
/// - nine saws and squares through folded gains (groups of four and a tail).
fn session_json() -> serde_json::Value {
    let mut nodes = vec![
        json!({"id": 1, "type": "output"}),
        json!({"id": 2, "type": "gain", "params": {"gain": 0.5}}),
        json!({"id": 3, "type": "pan", "params": {"pan": -0.4}}),
        json!({"id": 8, "type": "constant", "params": {"value": 0.05}}),
        osc(21, 310.0, "square"),
        osc(23, 1000.0, "sine"),
        osc(24, 523.0, "triangle"),
        osc(36, 97.0, "saw"),
    ];
    let mut conns = vec![json!([2, 1]), json!([21, 3])];
    for (k, g) in [(0u32, 0.25), (1, 0.6), (2, 0.4)] {
        let (o, gid) = (30 + 2 * k, 31 + 2 * k);
        nodes.push(osc(o, 150.0 + 71.0 * f64::from(k), "saw"));
        nodes.push(json!({"id": gid, "type": "gain", "params": {"gain": g}}));
        conns.push(json!([o, gid]));
    }
    let mut tail = Vec::new();
    for k in 0..9u32 {
        let (o, gid) = (60 + 2 * k, 61 + 2 * k);
        let shape = if k % 3 == 2 { "square" } else { "saw" };
        nodes.push(osc(o, 55.0 * 1.19f64.powi(k as i32), shape));
        nodes.push(json!({"id": gid, "type": "gain", "params": {"gain": 0.05 + 0.02 * f64::from(k)}}));
        conns.push(json!([o, gid]));
        tail.push(gid);
    }
    for src in [23, 31, 3, 24, 33, 35, 36, 8].into_iter().chain(tail) {
        conns.push(json!([src, 2]));
    }
    json!({"version": 1, "nodes": nodes, "connections": conns,
        "automation": [
            {"node": 33, "param": "gain", "points": [{"frame": 3000, "value": 0.6}, {"frame": 4500, "value": 0.1}]},
            {"node": 36, "param": "amplitude", "points": [{"frame": 1000, "value": 0.3}, {"frame": 2500, "value": 0.05}]}]})
}

fn session() -> GraphDesc {
    common::graph(session_json())
}

#[test]
fn deferred_sources_render_the_same_bits_as_their_own_buffers() {
    let desc = session();
    // Saw 30, triangle 24, saws 32 and 34, saw 36, the constant, the nine tails.
    assert_eq!(build(&desc, 2, true).graph.deferred_sources(), 15);
    assert_eq!(build(&desc, 2, false).graph.deferred_sources(), 0);
    assert_eq!(build(&desc, 1, true).graph.deferred_sources(), 0, "one channel: no mono sources");
    // Gain 35 ramps from block 7 on: its node renders on the saw's buffer then.
    common::assert_option_keeps_bits(&|channels, on| build(&desc, channels, on), 35);
}

/// Sines through folded gains straight into the output (which renders in
/// place on the first): the output is the sum of the sines, computed here.
#[test]
fn deferred_sines_sum_to_the_reference() {
    let tracks: Vec<(f64, f64)> = (0..11).map(|k| (110.0 * 1.25f64.powi(k), 0.02 + 0.01 * f64::from(k))).collect();
    let amp = 0.5;
    let mut nodes = vec![json!({"id": 1, "type": "output"})];
    let mut conns = Vec::new();
    for (k, &(f, g)) in tracks.iter().enumerate() {
        let (o, gid) = (10 + 2 * k as u32, 11 + 2 * k as u32);
        nodes.push(json!({"id": o, "type": "oscillator", "params": {"frequency": f, "amplitude": amp}}));
        nodes.push(json!({"id": gid, "type": "gain", "params": {"gain": g}}));
        conns.push(json!([o, gid]));
        conns.push(json!([gid, 1]));
    }
    let desc = common::graph(json!({"version": 1, "nodes": nodes, "connections": conns}));
    for block in [128usize, 50] {
        let mut c = build(&desc, 2, true);
        // The output renders in place on the first track: the other ten are deferred.
        assert_eq!(c.graph.deferred_sources(), 10);
        let out = common::render_blocks(&mut c, 0, 4000, block, &input, &mut |_, _| {});
        for ch in &out {
            for (n, &y) in ch.iter().enumerate() {
                let want: f64 = tracks.iter().map(|&(f, g)| g * amp * (TAU * f * n as f64 / SR).sin()).sum();
                assert!((y - want).abs() < 1e-9, "block {block} frame {n}: {y} vs {want}");
            }
        }
    }
}

/// Swaps between the session and the same ids wired otherwise, with storms
/// on folded gains (their nodes then render on deferred buffers) and on
/// oscillators: no allocation on the audio side.
#[test]
fn deferred_sources_render_without_allocating() {
    let rewired = {
        let mut v = session_json();
        v["connections"] = json!([[30, 31], [31, 1], [24, 1], [32, 33], [33, 3], [3, 1], [8, 1], [60, 61], [61, 1]]);
        v["automation"] = json!([]);
        common::graph(v)
    };
    let (mut control, mut core, _meters) =
        ferrite_engine::realtime::engine_pair(RenderSettings { sample_rate: SR, channels: 2, max_block: 256 });
    let input = vec![0.1f32; 256 * 2];
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 240, |control, cb| {
        if cb % 20 == 0 {
            let desc = if cb % 40 == 0 { session() } else { rewired.clone() };
            control.set_graph(&desc, &[]).unwrap();
        }
        for k in 0..4 {
            control.set_param(61, "gain", 0.1 * f64::from(k + 1), Some(f64::from(k % 2)), None).unwrap();
            control.set_param(31, "gain", 0.2 * f64::from(k + 1), None, None).unwrap();
            control.set_param(62, "frequency", 200.0 + f64::from(10 * k), None, None).unwrap();
        }
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.05, "{heard}");
}
