//! Batched biquad filters (the compiler's batch pass, `render/ops/bank.rs`): a graph rendered with batching on
//! equals the same graph rendered node by node, at any block size, with
//! automation and ramps switching members to their per-frame path, and the
//! filter memory of batched nodes survives a graph swap.

mod common;

use common::{input, render};

use assert_no_alloc::{violation_count, AllocDisabler};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::{Compiled, RenderSettings};
use serde_json::{json, Value};

const SR: f64 = 48000.0;

/// Mono, so that the 8- and 4-band EQs are batched too: in a stereo render
/// filters of 4 or more stages run on their own stereo cascades instead.
fn settings(max_block: usize) -> RenderSettings {
    RenderSettings { sample_rate: SR, channels: 1, max_block }
}

const TYPES: [&str; 8] = ["lowshelf", "peaking", "peaking", "notch", "peaking", "allpass", "highshelf", "lowpass"];

/// `tracks` sources (oscillators of different shapes and pitches, plus the
/// render input on every third track) each through an 8-band EQ into a gain
/// and the output; plus 3 parallel 4-band EQs behind track 0's EQ (a second
/// group, one level deeper) and 4 parallel peaking biquads on the input. When
/// `automate`, track 1's band 2 frequency sweeps and track 5's band 0 gain
/// steps, so those members run their own per-frame path in some blocks.
fn session(tracks: u32, automate: bool) -> GraphDesc {
    let mut nodes = vec![
        json!({"id": 0, "type": "input"}),
        json!({"id": 1, "type": "output"}),
        json!({"id": 2, "type": "gain", "params": {"gain": 0.2}}),
    ];
    let mut conns: Vec<Value> = vec![json!([2, 1])];
    let mut next = 10;
    let mut first_eq = None;
    for t in 0..tracks {
        let (osc, eq) = (next, next + 1);
        next += 2;
        let shape = ["saw", "square", "sine", "triangle"][t as usize % 4];
        nodes.push(json!({"id": osc, "type": "oscillator",
            "params": {"frequency": 40.0 + 37.0 * t as f64, "amplitude": 0.5}, "options": {"type": shape}}));
        let mut params = serde_json::Map::new();
        let mut bands = Vec::new();
        for (b, ty) in TYPES.iter().enumerate() {
            bands.push(json!({"type": ty}));
            let f = 60.0 * 2.2f64.powi(b as i32) * (1.0 + 0.03 * t as f64);
            params.insert(format!("bands[{b}].frequency"), json!(f));
            params.insert(format!("bands[{b}].q"), json!(0.6 + 0.2 * ((b as u32 + t) % 5) as f64));
            params
                .insert(format!("bands[{b}].gainDb"), json!(if (b as u32 + t).is_multiple_of(2) { 6.0 } else { -4.5 }));
        }
        nodes.push(json!({"id": eq, "type": "eq", "params": params, "options": {"bands": bands}}));
        conns.push(json!([osc, eq]));
        if t % 3 == 0 {
            conns.push(json!([0, eq]));
        }
        conns.push(json!([eq, 2]));
        first_eq.get_or_insert(eq);
    }
    // A deeper group: three 4-band EQs fed by the first track's EQ.
    for k in 0..3 {
        let id = next;
        next += 1;
        let mut params = serde_json::Map::new();
        let mut bands = Vec::new();
        for b in 0..4 {
            bands.push(json!({"type": TYPES[(b + k) % 8]}));
            params.insert(format!("bands[{b}].frequency"), json!(200.0 * (b + 1) as f64 + 50.0 * k as f64));
            params.insert(format!("bands[{b}].gainDb"), json!(3.0 - b as f64));
        }
        nodes.push(json!({"id": id, "type": "eq", "params": params, "options": {"bands": bands}}));
        conns.extend([json!([first_eq.unwrap_or(11), id]), json!([id, 2])]);
    }
    // A group of single biquads on the input.
    for k in 0..4 {
        let id = next;
        next += 1;
        nodes.push(json!({"id": id, "type": "biquad", "options": {"type": "peaking"},
            "params": {"frequency": 300.0 + 700.0 * k as f64, "q": 2.0, "gainDb": 9.0}}));
        conns.extend([json!([0, id]), json!([id, 2])]);
    }
    let automation = if automate {
        json!([
            {"node": 13, "param": "bands[2].frequency", "points": [
                {"frame": 300, "value": 300.0}, {"frame": 2000, "value": 2500.0, "curve": "exponential"}]},
            {"node": 21, "param": "bands[0].gainDb", "points": [
                {"frame": 0, "value": -6.0}, {"frame": 1500, "value": 9.0, "curve": "step"}]}
        ])
    } else {
        json!([])
    };
    GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns, "automation": automation}))
        .expect("valid session")
}

fn build(desc: &GraphDesc, max_block: usize, batch: bool) -> Compiled {
    compile_with(
        desc,
        settings(max_block),
        &[],
        CompileOptions {
            batch,
            fuse: true,
            fold: true,
            mono: true,
            defer: true,
            twin: true,
            ..CompileOptions::default()
        },
    )
    .expect("compiles")
}

/// Largest `|a − b| / max(|b|, 1e-3)` (the output is about unit scale).
fn max_rel_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut worst = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            assert!(p.is_finite() && q.is_finite());
            worst = worst.max((p - q).abs() / q.abs().max(1e-3));
        }
    }
    worst
}

fn no_ramps(_: &mut Compiled, _: usize) {}

/// Ramps of EQ params set through the control path: track 3's band 4 gain
/// ramps over 200 frames from block 5, track 8's band 1 frequency jumps.
fn ramps(c: &mut Compiled, k: usize) {
    let node = |c: &Compiled, id: u32| c.info.nodes[&id].index;
    if k == 5 {
        let (n, p) = (node(c, 17), c.info.nodes[&17].param_index(17, "bands[4].gainDb").unwrap());
        c.graph.param_mut(n, p).unwrap().set(-12.0, 200);
    }
    if k == 9 {
        let (n, p) = (node(c, 27), c.info.nodes[&27].param_index(27, "bands[1].frequency").unwrap());
        c.graph.param_mut(n, p).unwrap().set(700.0, 0);
    }
}

#[test]
fn groups_are_found_by_depth_and_stage_count() {
    let c = build(&session(16, false), 128, true);
    let mut groups = c.graph.batch_groups();
    groups.sort_unstable();
    assert_eq!(groups, [3, 4, 16]);
    assert!(build(&session(16, false), 128, false).graph.batch_groups().is_empty());
    // One EQ alone is not a group.
    assert!(build(&session(1, false), 128, true).graph.batch_groups().len() == 2);
    // Stereo: only the single biquads are batched.
    let stereo = RenderSettings { channels: 2, ..settings(128) };
    let c = compile_with(
        &session(16, false),
        stereo,
        &[],
        CompileOptions {
            batch: true,
            fuse: true,
            fold: true,
            mono: true,
            defer: true,
            twin: true,
            ..CompileOptions::default()
        },
    )
    .unwrap();
    assert_eq!(c.graph.batch_groups(), [4]);
}

#[test]
fn batched_render_equals_unbatched_render() {
    for automate in [false, true] {
        let desc = session(16, automate);
        let frames = 6000;
        let mut on = build(&desc, 128, true);
        let mut off = build(&desc, 128, false);
        let a = render(&mut on, frames, 128, &mut ramps);
        let b = render(&mut off, frames, 128, &mut ramps);
        let d = max_rel_diff(&a, &b);
        println!("automate={automate}: max relative difference batched vs unbatched = {d:e}");
        assert!(d <= 1e-12, "automate={automate}: {d:e}");
        // The graph does something: the output is not silent, and the EQs matter.
        let peak = a[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak > 0.05, "{peak}");
    }
}

#[test]
fn batched_render_is_block_size_invariant() {
    let desc = session(16, true);
    let frames = 3000;
    let reference = render(&mut build(&desc, 128, true), frames, 128, &mut no_ramps);
    for block in [1, 37, 64] {
        let got = render(&mut build(&desc, block.max(64), true), frames, block, &mut no_ramps);
        let d = max_rel_diff(&got, &reference);
        assert!(d <= 1e-12, "block {block}: {d:e}");
    }
    // The unbatched render agrees too.
    let off = render(&mut build(&desc, 37, false), frames, 37, &mut no_ramps);
    assert!(max_rel_diff(&off, &reference) <= 1e-12);
}

#[test]
fn filter_memory_of_batched_nodes_survives_a_swap() {
    let desc = session(16, false);
    let (frames, split) = (4000, 1280);
    let whole = render(&mut build(&desc, 128, true), frames, 128, &mut no_ramps);

    let run_split = |take: bool, batch_second: bool| {
        let mut first = build(&desc, 128, true);
        let mut head = render(&mut first, split, 128, &mut no_ramps);
        let mut second = build(&desc, 128, batch_second);
        if take {
            second.graph.take_state_from(&mut first.graph);
        }
        // Continue at transport frame `split`.
        let channels = second.graph.channels();
        let mut pos = split;
        while pos < frames {
            let n = 128.min(frames - pos);
            for ch in 0..channels {
                for (i, v) in second.graph.input_mut(ch).iter_mut().take(n).enumerate() {
                    *v = input(pos + i, ch);
                }
            }
            second.graph.render_block(pos as u64, n, &mut second.lanes);
            for (ch, h) in head.iter_mut().enumerate() {
                h.extend_from_slice(second.graph.output(ch, n));
            }
            pos += n;
        }
        head
    };
    for batch_second in [true, false] {
        let swapped = run_split(true, batch_second);
        let d = max_rel_diff(&swapped, &whole);
        assert!(d <= 1e-12, "batch_second={batch_second}: {d:e}");
    }
    // Without the hand-over the continuation differs (the test can fail).
    let fresh = run_split(false, true);
    assert!(max_rel_diff(&fresh, &whole) > 1e-6);
}

/// `tracks` oscillators (different shapes, pitches and levels), each through
/// its own compressor (different settings) into the output; track 2's
/// threshold is automated, so that member runs alone in some blocks.
fn compressor_session(tracks: u32) -> GraphDesc {
    let mut nodes = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    let mut conns: Vec<Value> = Vec::new();
    for t in 0..tracks {
        let (osc, comp) = (10 + 2 * t, 11 + 2 * t);
        let shape = ["saw", "square", "sine", "triangle"][t as usize % 4];
        nodes.push(json!({"id": osc, "type": "oscillator", "options": {"type": shape},
            "params": {"frequency": 50.0 + 31.0 * t as f64, "amplitude": 0.1 + 0.08 * t as f64}}));
        nodes.push(json!({"id": comp, "type": "compressor", "params": {
            "thresholdDb": -30.0 + t as f64, "ratio": 2.0 + t as f64, "attackMs": 1.0 + t as f64,
            "releaseMs": 30.0 + 10.0 * t as f64, "kneeDb": (t % 3) as f64 * 4.0, "makeupDb": t as f64 - 4.0}}));
        conns.extend([json!([osc, comp]), json!([comp, 1])]);
        if t % 4 == 1 {
            conns.push(json!([0, comp]));
        }
    }
    let automation = json!([{"node": 15, "param": "thresholdDb", "points": [
        {"frame": 700, "value": -40.0}, {"frame": 2100, "value": -6.0}]}]);
    GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns, "automation": automation}))
        .expect("valid session")
}

#[test]
fn batched_compressors_equal_unbatched_compressors_bit_for_bit() {
    let desc = compressor_session(13);
    assert_eq!(build(&desc, 128, true).graph.compressor_groups(), [13]);
    assert!(build(&desc, 128, false).graph.compressor_groups().is_empty());
    let frames = 8000;
    let want = render(&mut build(&desc, 128, false), frames, 128, &mut no_ramps);
    for block in [128, 37] {
        let got = render(&mut build(&desc, 128, true), frames, block, &mut no_ramps);
        for (g, w) in got.iter().zip(&want) {
            let (g, w): (Vec<u64>, Vec<u64>) =
                (g.iter().map(|v| v.to_bits()).collect(), w.iter().map(|v| v.to_bits()).collect());
            assert_eq!(g, w, "block {block}");
        }
    }
    let peak = want[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(peak > 0.1, "{peak}");
}

#[test]
fn batched_filters_and_compressors_render_without_allocating() {
    let (mut control, mut core, _meters) =
        ferrite_engine::realtime::engine_pair(RenderSettings { channels: 2, ..settings(128) });
    let input = vec![0.3f32; 256 * 2];
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 300, |control, cb| {
        if cb % 30 == 0 {
            let desc = if cb % 60 == 0 { compressor_session(13) } else { session(16, true) };
            control.set_graph(&desc, &[]).unwrap();
        }
        if cb % 60 < 30 {
            for k in 0..10 {
                control.set_param(13, "ratio", 2.0 + k as f64, Some((k % 3) as f64), None).unwrap();
            }
        }
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.01, "{heard}");
}
