//! Mono sources (`CompileOptions::mono`): a generator whose channels all carry
//! one signal (oscillator, constant) is run on channel 0 only, and its
//! readers take channel 0 for every channel. Every reader path must give the
//! same bits as full-width rendering, and the samples must be the signals
//! computed here.

mod common;

use assert_no_alloc::{violation_count, AllocDisabler};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

use common::input;
use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::{Compiled, RenderSettings};
use serde_json::json;
use std::f64::consts::TAU;

const SR: f64 = 48000.0;

fn build(desc: &GraphDesc, channels: usize, mono: bool) -> Compiled {
    let settings = RenderSettings { sample_rate: SR, channels, max_block: 128 };
    compile_with(desc, settings, &[], CompileOptions { mono, ..CompileOptions::default() }).expect("compiles")
}

fn osc(id: u32, f: f64, shape: &str) -> serde_json::Value {
    json!({"id": id, "type": "oscillator", "params": {"frequency": f, "amplitude": 0.3}, "options": {"type": shape}})
}

/// Every way a mono block is read:
/// - summed into a bus with folded gains: two mono inputs first (the bus
///   renders in place on the first), then a stereo one (the pan), then mono;
/// - copied by a gain (its source has three readers: not in place), which
///   keeps it mono, as does the ramped gain below;
/// - rendered on in place by an `eq` and by a `meter`;
/// - read through a compensation delay (a limiter's lookahead on the other path);
/// - a folded gain that turns non-constant mid-render (a ramp), then a lane;
/// - a constant source into the output directly (the output renders in place).
fn mono_session() -> GraphDesc {
    common::graph(mono_session_json())
}

/// [`mono_session`] as JSON.
fn mono_session_json() -> serde_json::Value {
    let mut nodes = vec![
        json!({"id": 1, "type": "output"}),
        json!({"id": 2, "type": "gain", "params": {"gain": 0.5}}),
        json!({"id": 3, "type": "pan", "params": {"pan": -0.4}}),
        json!({"id": 4, "type": "eq",
            "params": {"bands[0].frequency": 400.0, "bands[0].q": 1.2, "bands[0].gainDb": 5.0,
                       "bands[1].frequency": 3000.0, "bands[1].q": 0.7},
            "options": {"bands": [{"type": "peaking"}, {"type": "lowpass"}]}}),
        json!({"id": 5, "type": "limiter", "params": {"ceilingDb": -1.0, "lookaheadMs": 2.0}}),
        json!({"id": 6, "type": "meter", "options": {"name": "m"}}),
        json!({"id": 7, "type": "gain", "params": {"gain": 0.8}}),
        json!({"id": 8, "type": "constant", "params": {"value": 0.05}}),
        osc(20, 97.0, "saw"),
        osc(21, 310.0, "square"),
        osc(22, 523.0, "triangle"),
        osc(23, 1000.0, "sine"),
        osc(24, 61.0, "saw"),
    ];
    let mut conns = vec![
        json!([2, 1]),
        json!([4, 1]),
        json!([5, 1]),
        json!([6, 1]),
        json!([8, 1]),
        // Osc 20 is read by three nodes (so not in place): copied by gain 7,
        // delayed on its way to the output, panned.
        json!([20, 7]),
        json!([20, 5]),
        json!([20, 3]),
        json!([21, 4]),
        json!([22, 6]),
    ];
    // Folded track gains.
    for (k, g) in [(0u32, 0.25), (1, 0.6), (2, 0.4)] {
        let (o, gid) = (30 + 2 * k, 31 + 2 * k);
        nodes.push(osc(o, 150.0 + 71.0 * f64::from(k), "saw"));
        nodes.push(json!({"id": gid, "type": "gain", "params": {"gain": g}}));
        conns.push(json!([o, gid]));
    }
    // The bus's inputs in edge order: two mono (it renders in place on the
    // first, an oscillator), the stereo pan, four mono.
    for src in [23, 33, 3, 35, 31, 24, 7] {
        conns.push(json!([src, 2]));
    }
    json!({"version": 1, "nodes": nodes, "connections": conns,
        "automation": [{"node": 33, "param": "gain", "points": [
            {"frame": 3000, "value": 0.6}, {"frame": 4500, "value": 0.1}]}]})
}

#[test]
fn mono_sources_render_the_same_bits_as_full_width() {
    let desc = mono_session();
    // Eight oscillators and the constant.
    assert_eq!(build(&desc, 2, true).graph.mono_sources(), 9);
    assert_eq!(build(&desc, 2, false).graph.mono_sources(), 0);
    assert_eq!(build(&desc, 1, true).graph.mono_sources(), 0, "one channel: nothing to save");
    // Gain 31 ramps from block 7 on.
    common::assert_option_keeps_bits(&|channels, on| build(&desc, channels, on), 31);
}

/// A sine straight into the output (rendered in place on the oscillator's
/// mono block), plus a sine that reaches the output both directly and
/// through a gain on a path delayed by a limiter's lookahead, so the direct
/// edge is read through a compensation delay. Reference: the sines.
#[test]
fn mono_sources_are_widened_for_in_place_and_delayed_readers() {
    let (fa, fb, amp) = (441.0, 1234.5, 0.2);
    let direct = common::graph(json!({"version": 1,
        "nodes": [{"id": 1, "type": "output"},
                  {"id": 2, "type": "oscillator", "params": {"frequency": fa, "amplitude": amp}}],
        "connections": [[2, 1]]}));
    let sine = |f: f64, n: i64| if n < 0 { 0.0 } else { amp * (TAU * f * n as f64 / SR).sin() };
    for block in [128usize, 37] {
        let mut c = build(&direct, 2, true);
        assert_eq!(c.graph.mono_sources(), 1);
        let out = common::render_blocks(&mut c, 0, 3000, block, &input, &mut |_, _| {});
        for ch in &out {
            for (n, &y) in ch.iter().enumerate() {
                assert!((y - sine(fa, n as i64)).abs() < 1e-12, "block {block} frame {n}: {y}");
            }
        }
    }
    // The limiter's ceiling (0 dBFS) is far above the signal: it only delays.
    let delayed = common::graph(json!({"version": 1,
        "nodes": [{"id": 1, "type": "output"},
                  {"id": 2, "type": "oscillator", "params": {"frequency": fb, "amplitude": amp}},
                  {"id": 3, "type": "limiter", "params": {"ceilingDb": 0.0, "lookaheadMs": 1.0}},
                  {"id": 4, "type": "gain", "params": {"gain": 0.5}}],
        "connections": [[2, 1], [2, 4], [4, 3], [3, 1]]}));
    let mut c = build(&delayed, 2, true);
    let lat = c.graph.latency() as i64;
    assert_eq!(lat, 48);
    let out = common::render_blocks(&mut c, 0, 3000, 128, &input, &mut |_, _| {});
    for ch in &out {
        for (n, &y) in ch.iter().enumerate() {
            let want = 1.5 * sine(fb, n as i64 - lat);
            assert!((y - want).abs() < 1e-12, "frame {n}: {y} vs {want}");
        }
    }
}

/// Swaps between the mono session and a graph where the same ids are wired
/// differently (the oscillators straight into the output), with a parameter
/// storm on a folded gain and an oscillator: no allocation on the audio side.
#[test]
fn mono_sources_render_without_allocating() {
    let rewired = {
        let mut v = mono_session_json();
        v["connections"] = json!([[20, 1], [21, 1], [30, 1], [23, 3], [3, 1], [8, 1]]);
        v["automation"] = json!([]);
        common::graph(v)
    };
    let (mut control, mut core, _meters) =
        ferrite_engine::realtime::engine_pair(RenderSettings { sample_rate: SR, channels: 2, max_block: 256 });
    let input = vec![0.1f32; 256 * 2];
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 240, |control, cb| {
        if cb % 20 == 0 {
            let desc = if cb % 40 == 0 { mono_session() } else { rewired.clone() };
            control.set_graph(&desc, &[]).unwrap();
        }
        for k in 0..4 {
            control.set_param(35, "gain", 0.1 * f64::from(k + 1), Some(f64::from(k % 2)), None).unwrap();
            control.set_param(30, "frequency", 200.0 + f64::from(10 * k), None, None).unwrap();
        }
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.05, "{heard}");
}
