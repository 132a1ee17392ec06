//! Fused biquad chains (the fuse pass, `render/ops/chain.rs`): which links fuse, fused renders equal
//! node-by-node renders bit for bit (constant, ramped and automated
//! parameters, any block size), equal an independent f64 RBJ direct-form-I
//! reference, and keep their filter memory across a graph swap.

mod common;

use common::{input, render};

use assert_no_alloc::{violation_count, AllocDisabler};
use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::realtime::engine_pair;
use ferrite_engine::{Compiled, RenderSettings};
use serde_json::{json, Value};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

const SR: f64 = 48000.0;

/// `(type, frequency, q, gainDb)` of the main chain: 10 nodes, so the fused
/// run crosses the 8-stage cascade boundary.
const MAIN: [(&str, f64, f64, f64); 10] = [
    ("highpass", 30.0, 0.7, 0.0),
    ("peaking", 90.0, 1.1, 4.0),
    ("peaking", 250.0, 0.8, -3.0),
    ("lowpass", 16000.0, 0.9, 0.0),
    ("peaking", 700.0, 2.0, 6.0),
    ("peaking", 1500.0, 1.4, -5.0),
    ("peaking", 3000.0, 0.6, 2.5),
    ("peaking", 6000.0, 1.0, -2.0),
    ("peaking", 9000.0, 3.0, 3.0),
    ("highpass", 45.0, 0.5, 0.0),
];

fn biquad(id: u32, (ty, f, q, g): (&str, f64, f64, f64)) -> Value {
    json!({"id": id, "type": "biquad", "options": {"type": ty}, "params": {"frequency": f, "q": q, "gainDb": g}})
}

/// input → 10 biquads (ids 100..110) → output; osc → 3 biquads (200..203) →
/// output; a fan-out: 300 → {301, output}, 301 → 302 → output (only
/// 301 → 302 fuses); a join: 400 → 402, 401 → 402, 402 → 403 → output
/// (only 402 → 403 fuses); with `automate`, a lane on 103's frequency.
fn session(automate: bool) -> GraphDesc {
    let mut nodes = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    let mut conns: Vec<Value> = Vec::new();
    let mut prev = 0;
    for (k, b) in MAIN.iter().enumerate() {
        let id = 100 + k as u32;
        nodes.push(biquad(id, *b));
        conns.push(json!([prev, id]));
        prev = id;
    }
    conns.push(json!([prev, 1]));
    nodes.push(json!({"id": 199, "type": "oscillator", "params": {"frequency": 110.0, "amplitude": 0.3}, "options": {"type": "saw"}}));
    prev = 199;
    for k in 0..3u32 {
        nodes.push(biquad(200 + k, MAIN[(k as usize * 3 + 1) % 10]));
        conns.push(json!([prev, 200 + k]));
        prev = 200 + k;
    }
    conns.push(json!([prev, 1]));
    for k in 0..3u32 {
        nodes.push(biquad(300 + k, MAIN[k as usize + 4]));
    }
    conns.extend([json!([0, 300]), json!([300, 301]), json!([300, 1]), json!([301, 302]), json!([302, 1])]);
    for k in 0..4u32 {
        nodes.push(biquad(400 + k, MAIN[k as usize + 1]));
    }
    conns.extend([json!([0, 400]), json!([199, 401]), json!([400, 402]), json!([401, 402]), json!([402, 403])]);
    conns.push(json!([403, 1]));
    let automation = if automate {
        json!([{"node": 103, "param": "frequency", "points": [
            {"frame": 500, "value": 16000.0}, {"frame": 2500, "value": 2000.0, "curve": "exponential"}]}])
    } else {
        json!([])
    };
    GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns, "automation": automation}))
        .expect("valid session")
}

fn build(desc: &GraphDesc, max_block: usize, fuse: bool) -> Compiled {
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block };
    compile_with(
        desc,
        settings,
        &[],
        CompileOptions {
            batch: true,
            fuse,
            fold: true,
            mono: true,
            defer: true,
            twin: true,
            ..CompileOptions::default()
        },
    )
    .expect("compiles")
}

/// A ramp on 106's gain from block 7, a jump of 201's q at block 11 and a
/// reset of every node at block 30 (fused chains keep their filter memory in
/// their cascades in between: see `render/ops/chain.rs`).
fn ramps(c: &mut Compiled, k: usize) {
    if k == 30 {
        c.graph.reset();
    }
    let at = |c: &Compiled, id: u32, p: &str| (c.info.nodes[&id].index, c.info.nodes[&id].param_index(id, p).unwrap());
    if k == 7 {
        let (n, p) = at(c, 106, "gainDb");
        c.graph.param_mut(n, p).unwrap().set(-9.0, 300);
    }
    if k == 11 {
        let (n, p) = at(c, 201, "q");
        c.graph.param_mut(n, p).unwrap().set(4.0, 0);
    }
}

fn bits(x: &[Vec<f64>]) -> Vec<Vec<u64>> {
    x.iter().map(|c| c.iter().map(|v| v.to_bits()).collect()).collect()
}

#[test]
fn series_links_fuse_and_fan_outs_and_joins_do_not() {
    let c = build(&session(false), 128, true);
    let mut chains = c.graph.fused_chains();
    chains.sort_unstable();
    // 100..109 (10), 200..202 (3), 301→302 (2), 402→403 (2).
    assert_eq!(chains, [2, 2, 3, 10]);
    assert!(build(&session(false), 128, false).graph.fused_chains().is_empty());
}

#[test]
fn fused_render_equals_node_by_node_render_bit_for_bit() {
    for automate in [false, true] {
        let desc = session(automate);
        let frames = 6000;
        // Ramps through the control path (block-aligned), fused vs unfused.
        let want = render(&mut build(&desc, 128, false), frames, 128, &mut ramps);
        let got = render(&mut build(&desc, 128, true), frames, 128, &mut ramps);
        assert_eq!(bits(&got), bits(&want), "automate={automate}");
        let peak = want[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak > 0.05, "{peak}");
        // Lanes only, at other block sizes: still the same bits.
        let want = render(&mut build(&desc, 128, false), frames, 128, &mut |_, _| {});
        for block in [37, 1] {
            let got = render(&mut build(&desc, 128, true), frames, block, &mut |_, _| {});
            assert_eq!(bits(&got), bits(&want), "automate={automate} block {block}");
        }
    }
}

/// RBJ cookbook coefficients `[b0, b1, b2, a1, a2]` (normalized by a0), f64.
fn rbj(ty: &str, f0: f64, q: f64, db: f64) -> [f64; 5] {
    let w0 = 2.0 * std::f64::consts::PI * f0 / SR;
    let (sn, cs) = w0.sin_cos();
    let alpha = sn / (2.0 * q);
    let a = 10f64.powf(db / 40.0);
    let (b0, b1, b2, a0, a1, a2) = match ty {
        "peaking" => (1.0 + alpha * a, -2.0 * cs, 1.0 - alpha * a, 1.0 + alpha / a, -2.0 * cs, 1.0 - alpha / a),
        "lowpass" => ((1.0 - cs) / 2.0, 1.0 - cs, (1.0 - cs) / 2.0, 1.0 + alpha, -2.0 * cs, 1.0 - alpha),
        "highpass" => ((1.0 + cs) / 2.0, -(1.0 + cs), (1.0 + cs) / 2.0, 1.0 + alpha, -2.0 * cs, 1.0 - alpha),
        _ => unreachable!("{ty}"),
    };
    [b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0]
}

#[test]
fn a_fused_chain_matches_a_direct_form_one_reference() {
    // Only the main chain: input → 10 biquads → output.
    let mut nodes = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    let mut conns = Vec::new();
    let mut prev = 0;
    for (k, b) in MAIN.iter().enumerate() {
        nodes.push(biquad(100 + k as u32, *b));
        conns.push(json!([prev, 100 + k as u32]));
        prev = 100 + k as u32;
    }
    conns.push(json!([prev, 1]));
    let desc = GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns})).unwrap();
    let mut c = build(&desc, 128, true);
    assert_eq!(c.graph.fused_chains(), [10]);
    let frames = 4000;
    let got = render(&mut c, frames, 128, &mut |_, _| {});
    for (ch, got) in got.iter().enumerate() {
        let mut x: Vec<f64> = (0..frames).map(|t| input(t, ch)).collect();
        for (ty, f, q, g) in MAIN {
            let [b0, b1, b2, a1, a2] = rbj(ty, f, q, g);
            let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
            for v in x.iter_mut() {
                let y = b0 * *v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
                (x2, x1, y2, y1) = (x1, *v, y1, y);
                *v = y;
            }
        }
        let scale = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.1, "{scale}");
        for (t, (g, w)) in got.iter().zip(&x).enumerate() {
            assert!((g - w).abs() <= 1e-9 * scale, "channel {ch} frame {t}: {g} vs {w}");
        }
    }
}

#[test]
fn a_swap_keeps_the_filter_memory_of_fused_members() {
    let desc = session(false);
    let frames = 3000;
    let want = render(&mut build(&desc, 128, true), frames, 128, &mut |_, _| {});
    // Render half, swap to a fresh compile of the same graph, render the rest.
    let mut first = build(&desc, 128, true);
    let mut got = render(&mut first, 1536, 128, &mut |_, _| {});
    let mut second = build(&desc, 128, true);
    second.graph.take_state_from(&mut first.graph);
    let rest = common::render_blocks(&mut second, 1536, frames - 1536, 128, &input, &mut |_, _| {});
    for (g, r) in got.iter_mut().zip(rest) {
        g.extend(r);
    }
    assert_eq!(bits(&got), bits(&want));
}

#[test]
fn fused_chains_render_without_allocating_under_swaps_and_parameter_storms() {
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let (mut control, mut core, _meters) = engine_pair(settings);
    let input: Vec<f32> = (0..256 * 2).map(|i| input(i / 2, i % 2) as f32).collect();
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 400, |control, cb| {
        if cb % 25 == 0 {
            control.set_graph(&session(cb % 50 == 0), &[]).unwrap();
        }
        for k in 0..10 {
            let at = if k % 3 == 0 { Some((cb * 256 + k * 13) as f64) } else { None };
            control.set_param(105, "gainDb", -6.0 + k as f64, Some((k % 3) as f64), at).unwrap();
            control.set_param(201, "q", 0.5 + 0.1 * k as f64, None, None).unwrap();
        }
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.01, "{heard}");
}

#[test]
fn fused_chains_are_exact_in_mono_and_with_an_odd_channel_count() {
    let desc = session(true);
    for channels in [1usize, 3] {
        let settings = RenderSettings { sample_rate: SR, channels, max_block: 128 };
        let mut outs = Vec::new();
        for fuse in [false, true] {
            let mut c = compile_with(
                &desc,
                settings,
                &[],
                CompileOptions {
                    batch: true,
                    fuse,
                    fold: true,
                    mono: true,
                    defer: true,
                    twin: true,
                    ..CompileOptions::default()
                },
            )
            .unwrap();
            let out = common::render_blocks(&mut c, 0, 4096, 128, &input, &mut |_, _| {});
            outs.push(bits(&out));
        }
        assert_eq!(outs[0], outs[1], "{channels} channels");
    }
}
