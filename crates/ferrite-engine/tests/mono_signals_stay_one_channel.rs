//! Mono sources (`CompileOptions::mono`): a generator whose channels all carry
//! one signal (oscillator, constant) is run on channel 0 only, and its
//! readers take channel 0 for every channel. Every reader path must give the
//! same bits as full-width rendering, and the samples must be the signals
//! computed here.

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

fn build(desc: &GraphDesc, channels: usize, mono: bool) -> Compiled {
    let settings = RenderSettings { sample_rate: SR, channels, max_block: 128 };
    compile_with(desc, settings, &[], CompileOptions { mono, ..CompileOptions::default() }).expect("compiles")
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

/// An `eq` node of `bands` bands (peaking, low shelf and high pass in turn).
fn eq(id: u32, bands: usize, f0: f64) -> serde_json::Value {
    let kinds = ["peaking", "lowshelf", "highpass"];
    common::eq_node(id, bands, |b| {
        let g = if b % 2 == 0 { 4.0 } else { -3.0 };
        (kinds[b % 3], f0 * (b as f64 + 1.0).powf(1.7), 0.8 + 0.1 * b as f64, g)
    })
}

/// The reference session's track chain (oscillator → 8-band `eq` →
/// `compressor` → gain → pan) on three tracks, whose filters and
/// compressors then run on mono blocks, next to:
/// - a track whose `eq` and compressor get a stereo input (a pan before
///   them), in the same compressor batch as the mono ones;
/// - a single `biquad` node on an oscillator, and eight in series (a fused
///   chain), one of them automated;
/// - automation on a band of track 0's `eq` (its per-frame path on a mono
///   block) and on track 1's threshold (that compressor leaves the batch for
///   those blocks).
fn chain_session(channels_hint: u32) -> GraphDesc {
    let mut nodes = vec![json!({"id": 1, "type": "output"}), json!({"id": 2, "type": "gain", "params": {"gain": 0.4}})];
    let mut conns = vec![json!([2, 1])];
    for t in 0..4u32 {
        let base = 100 + 10 * t;
        let (o, e, c, g, p) = (base, base + 1, base + 2, base + 3, base + 4);
        nodes.push(osc(o, 70.0 + 53.0 * f64::from(t), if t % 2 == 0 { "saw" } else { "square" }));
        nodes.push(eq(e, if t == 2 { 3 } else { 8 }, 90.0 + 20.0 * f64::from(t)));
        nodes.push(json!({"id": c, "type": "compressor",
            "params": {"thresholdDb": -30.0, "ratio": 6.0, "attackMs": 3.0, "releaseMs": 60.0, "makeupDb": 2.0}}));
        nodes.push(json!({"id": g, "type": "gain", "params": {"gain": 0.7}}));
        nodes.push(json!({"id": p, "type": "pan", "params": {"pan": -0.6 + 0.4 * f64::from(t)}}));
        if t == 3 {
            // Stereo from the start: the pan comes first.
            conns.extend([json!([o, p]), json!([p, e]), json!([e, c]), json!([c, g]), json!([g, 2])]);
        } else {
            conns.extend([json!([o, e]), json!([e, c]), json!([c, g]), json!([g, p]), json!([p, 2])]);
        }
    }
    nodes.push(osc(150, 440.0 + f64::from(channels_hint), "saw"));
    nodes.push(
        json!({"id": 151, "type": "biquad", "options": {"type": "lowpass"}, "params": {"frequency": 900.0, "q": 2.0}}),
    );
    nodes.push(json!({"id": 152, "type": "pan", "params": {"pan": 0.3}}));
    conns.extend([json!([150, 151]), json!([151, 152]), json!([152, 2])]);
    // Eight biquad nodes in series (fused into one chain), one automated.
    nodes.push(osc(160, 97.0, "saw"));
    nodes.push(json!({"id": 170, "type": "pan", "params": {"pan": -0.2}}));
    let mut prev = 160;
    for b in 0..8u32 {
        let id = 161 + b;
        nodes.push(json!({"id": id, "type": "biquad", "options": {"type": if b == 7 { "lowpass" } else { "peaking" }},
            "params": {"frequency": 80.0 * f64::from(b + 1).powf(1.9), "q": 1.1, "gainDb": if b % 2 == 0 { 5.0 } else { -4.0 }}}));
        conns.push(json!([prev, id]));
        prev = id;
    }
    conns.extend([json!([prev, 170]), json!([170, 2])]);
    common::graph(json!({"version": 1, "nodes": nodes, "connections": conns, "automation": [
        {"node": 163, "param": "gainDb", "points": [{"frame": 1500, "value": 5.0}, {"frame": 2600, "value": -9.0}]},
        {"node": 101, "param": "bands[1].frequency", "points": [{"frame": 2000, "value": 300.0}, {"frame": 3500, "value": 2500.0}]},
        {"node": 112, "param": "thresholdDb", "points": [{"frame": 2500, "value": -30.0}, {"frame": 4000, "value": -12.0}]}]}))
}

#[test]
fn filters_and_compressors_keep_mono_blocks_mono_with_the_same_bits() {
    let desc = chain_session(0);
    common::assert_option_keeps_bits(&|channels, on| build(&desc, channels, on), 123);
    let mut c = build(&desc, 2, true);
    common::render(&mut c, 1024, 128, &mut |_, _| {});
    // Tracks 0–2: eq, compressor, gain; the biquad; the chain's tail. Not
    // track 3 (stereo).
    assert_eq!(c.graph.kept_mono(), 11);
    assert_eq!(build(&desc, 2, false).graph.kept_mono(), 0);
}

/// Renders `first` (compiled with mono on or off), swaps to `second` taking
/// its state at frame 2000, renders to 5000.
fn swap_render(first: &GraphDesc, second: &GraphDesc, on: bool, block: usize) -> Vec<Vec<f64>> {
    common::render_across_swap(build(first, 2, on), build(second, 2, on), block)
}

/// Three oscillators through an 8-band `eq` and a compressor, a `biquad`,
/// and three `biquad` nodes in series (a fused chain): with `stereo`, a pan
/// before the filters (stereo inputs), else after them (mono inputs). The
/// same ids either way.
fn swap_wiring(stereo: bool) -> GraphDesc {
    let chain = if stereo {
        json!([
            [40, 41],
            [41, 50],
            [50, 51],
            [51, 1],
            [42, 52],
            [52, 53],
            [53, 1],
            [44, 45],
            [45, 60],
            [60, 61],
            [61, 62],
            [62, 1]
        ])
    } else {
        json!([
            [40, 50],
            [50, 51],
            [51, 1],
            [42, 53],
            [53, 52],
            [52, 1],
            [44, 60],
            [60, 61],
            [61, 62],
            [62, 45],
            [45, 1]
        ])
    };
    let bq = |id: u32, f: f64| json!({"id": id, "type": "biquad", "options": {"type": "peaking"}, "params": {"frequency": f, "q": 2.0, "gainDb": 7.0}});
    common::graph(json!({"version": 1, "nodes": [
        {"id": 1, "type": "output"},
        osc(40, 110.0, "saw"), osc(42, 330.0, "square"),
        {"id": 41, "type": "pan", "params": {"pan": -0.7}},
        eq(50, 8, 120.0),
        {"id": 51, "type": "compressor", "params": {"thresholdDb": -30.0, "ratio": 4.0}},
        {"id": 52, "type": "pan", "params": {"pan": 0.5}},
        {"id": 53, "type": "biquad", "options": {"type": "peaking"}, "params": {"frequency": 700.0, "q": 3.0, "gainDb": 9.0}},
        osc(44, 150.0, "saw"), {"id": 45, "type": "pan", "params": {"pan": 0.8}}, bq(60, 200.0), bq(61, 900.0), bq(62, 3000.0)],
        "connections": chain}))
}

/// Swaps among the mono and stereo wirings and the chain session under a
/// storm of filter and compressor parameters: no allocation on the audio
/// side while filters go from mono blocks to stereo and back.
#[test]
fn filters_on_mono_blocks_render_without_allocating() {
    let graphs = [swap_wiring(false), swap_wiring(true), chain_session(0)];
    let (mut control, mut core, _meters) =
        ferrite_engine::realtime::engine_pair(RenderSettings { sample_rate: SR, channels: 2, max_block: 256 });
    let input = vec![0.1f32; 256 * 2];
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 240, |control, cb| {
        if cb % 16 == 0 {
            control.set_graph(&graphs[(cb / 16) % 3], &[]).unwrap();
        }
        let k = f64::from(u32::try_from(cb % 7).unwrap());
        // Ids absent from the current graph are refused; that is fine here.
        let _ = control.set_param(50, "bands[0].gainDb", k - 3.0, Some(0.002), None);
        let _ = control.set_param(51, "thresholdDb", -30.0 + k, None, None);
        let _ = control.set_param(53, "frequency", 500.0 + 50.0 * k, Some(0.001), None);
        let _ = control.set_param(101, "bands[2].q", 0.5 + 0.1 * k, None, None);
        let _ = control.set_param(61, "gainDb", k, if cb % 3 == 0 { None } else { Some(0.002) }, None);
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.05, "{heard}");
}

/// Filter memory across a graph swap: an `eq`, a `biquad` and a fused chain that ran on
/// stereo blocks (their channels' memories differ) and then get a mono input
/// must keep running every channel; ones that ran on mono blocks and then
/// get a stereo input must give every channel channel 0's memory first.
/// Both against mono sources off, bit for bit.
#[test]
fn a_swap_hands_over_the_memory_of_filters_that_ran_mono() {
    let (stereo, mono) = (swap_wiring(true), swap_wiring(false));
    for block in [128usize, 37] {
        for (first, second) in [(&stereo, &mono), (&mono, &stereo)] {
            let want = swap_render(first, second, false, block);
            let got = swap_render(first, second, true, block);
            assert_eq!(common::bits(&got), common::bits(&want), "block {block}");
            assert_ne!(common::bits(&want[..1]), common::bits(&want[1..2]));
        }
    }
    // On the mono wiring from the start, the eq, the compressor, the biquad
    // and the chain run mono.
    let mut c = build(&mono, 2, true);
    common::render(&mut c, 512, 128, &mut |_, _| {});
    assert_eq!(c.graph.kept_mono(), 4);
}
