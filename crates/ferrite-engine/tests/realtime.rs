//! The audio-thread half driven like a device callback: no allocation under
//! graph swaps and parameter storms, sample-accurate changes, the transport,
//! and equality with the offline renderer.

mod common;

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count, AllocDisabler};
use common::{graph, mix_graph, noise};
use ferrite_engine::realtime::engine_pair;
use ferrite_engine::{render_offline, OfflineRequest, RenderSettings};
use serde_json::json;
use std::sync::Arc;

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

const SR: f64 = 48000.0;

fn settings() -> RenderSettings {
    RenderSettings { sample_rate: SR, channels: 2, max_block: 128 }
}

fn buffers() -> Vec<Arc<[Box<[f32]>]>> {
    vec![vec![noise(5000, 9).into_boxed_slice()].into()]
}

#[test]
fn callbacks_do_not_allocate_under_swaps_and_parameter_storms() {
    let (mut control, mut core, _meters) = engine_pair(settings());
    let bufs = buffers();
    let input = vec![0.25f32; 256 * 2];
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 600, |control, cb| {
        if cb % 10 == 0 {
            // A graph swap, compiled on this (control) thread; every third one
            // removes a connection (a structural swap, crossfaded).
            let mut desc = mix_graph(0.5 + (cb % 7) as f64 * 0.1);
            if cb % 30 == 0 {
                desc.connections.retain(|&c| c != (6, 5));
            }
            control.set_graph(&desc, &bufs).unwrap();
        }
        for k in 0..20 {
            // A storm of parameter changes, some ramped, some at future frames.
            let at = if k % 3 == 0 { Some((cb * 256 + k * 11) as f64) } else { None };
            control.set_param(5, "gain", 0.1 * (k % 9) as f64, Some((k % 4) as f64), at).unwrap();
            control.set_param(3, "frequency", 200.0 + 50.0 * k as f64, None, None).unwrap();
        }
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.01, "the engine produced sound ({heard})");
}

#[test]
fn a_stuck_meter_consumer_does_not_stall_rendering() {
    // Nobody reads the meter queue: pushes fail and are counted, rendering goes on.
    let (mut control, mut core, meters) = engine_pair(settings());
    control.shared().meter_period.store(1, std::sync::atomic::Ordering::Relaxed);
    control.set_graph(&mix_graph(1.0), &buffers()).unwrap();
    let mut out = vec![0.0f32; 128 * 2];
    for _ in 0..10_000 {
        core.render(&mut out, &[], 0, 128, 2);
    }
    assert!(control.shared().transport.position() >= 10_000 * 128 - 1);
    drop(meters);
}

#[test]
fn a_change_at_a_frame_lands_on_that_frame() {
    let (mut control, mut core, _m) = engine_pair(settings());
    let g = graph(json!({"version": 1, "nodes": [
        {"id": 0, "type": "output"}, {"id": 1, "type": "constant", "params": {"value": 1}},
        {"id": 2, "type": "gain", "params": {"gain": 0.5}}],
        "connections": [[1, 2], [2, 0]]}));
    control.set_graph(&g, &[]).unwrap();
    control.set_param(2, "gain", 2.0, None, Some(1000.0)).unwrap();
    let mut all = Vec::new();
    let mut out = vec![0.0f32; 300 * 2];
    for _ in 0..5 {
        core.render(&mut out, &[], 0, 300, 2);
        all.extend(out.chunks(2).map(|f| f[0]));
    }
    assert_eq!(all[999], 0.5);
    assert_eq!(all[1000], 2.0);
    assert!(all[..1000].iter().all(|&x| x == 0.5));
    assert!(all[1000..].iter().all(|&x| x == 2.0));
    // A ramp moves linearly over its length.
    control.set_param(2, "gain", 0.0, Some(1000.0 / SR * 1000.0), Some(2000.0)).unwrap();
    // Frames 1500..3500: the ramp runs from frame 2000 to 3000.
    let mut out = vec![0.0f32; 2000 * 2];
    core.render(&mut out, &[], 0, 2000, 2);
    let at = |frame: usize| out[(frame - 1500) * 2];
    assert_eq!(at(1999), 2.0);
    assert!((at(2500) - 1.0).abs() < 3e-3, "{}", at(2500));
    assert!(at(2400) > at(2500) && at(2500) > at(2600));
    assert_eq!(at(3000), 0.0);
}

#[test]
fn transport_stop_seek_and_loop() {
    let (mut control, mut core, _m) = engine_pair(settings());
    let ramp: Vec<f32> = (0..1000).map(|i| i as f32).collect();
    let bufs: Vec<Arc<[Box<[f32]>]>> = vec![vec![ramp.into_boxed_slice()].into()];
    let g = graph(json!({"version": 1, "nodes": [
        {"id": 0, "type": "output"}, {"id": 1, "type": "player", "options": {"channels": {"buffer": 0}}}],
        "connections": [[1, 0]]}));
    control.set_graph(&g, &bufs).unwrap();
    let t = &control.shared().transport;
    let mut out = vec![0.0f32; 64 * 2];
    core.render(&mut out, &[], 0, 64, 2);
    assert_eq!(out[2 * 10], 10.0);
    t.stop();
    core.render(&mut out, &[], 0, 64, 2);
    assert!(out.iter().all(|&x| x == 0.0));
    assert_eq!(t.position(), 64);
    t.play();
    t.seek(500);
    core.render(&mut out, &[], 0, 64, 2);
    assert_eq!(out[0], 500.0);
    assert_eq!(t.position(), 564);
    t.set_loop(100, Some(130));
    t.seek(120);
    core.render(&mut out, &[], 0, 64, 2);
    let got: Vec<f32> = out.chunks(2).map(|f| f[0]).collect();
    let want: Vec<f32> = (0..64).map(|i| (100 + (20 + i) % 30) as f32).collect();
    assert_eq!(got, want);
}

#[test]
fn real_time_and_offline_renders_are_the_same_samples() {
    let desc = mix_graph(0.7);
    let bufs = buffers();
    let input = noise(9000, 4);
    let offline = render_offline(
        &desc,
        &bufs,
        &OfflineRequest { sample_rate: SR, frames: 9000, channels: 2, block_size: 128, input: vec![input.clone()] },
        None,
    )
    .unwrap();
    let (mut control, mut core, _m) = engine_pair(settings());
    control.set_graph(&desc, &bufs).unwrap();
    let mut got = [Vec::new(), Vec::new()];
    let mut pos = 0;
    for frames in [100usize, 256, 1, 37, 128].iter().cycle() {
        if pos >= 9000 {
            break;
        }
        let n = (*frames).min(9000 - pos);
        let inter: Vec<f32> = input[pos..pos + n].iter().flat_map(|&x| [x, x]).collect();
        let mut out = vec![0.0f32; n * 2];
        core.render(&mut out, &inter, 2, n, 2);
        for f in out.chunks(2) {
            got[0].push(f[0]);
            got[1].push(f[1]);
        }
        pos += n;
    }
    assert_eq!(got[0], offline.channels[0]);
    assert_eq!(got[1], offline.channels[1]);
}

#[test]
fn bad_set_param_calls_are_refused_by_name() {
    let (mut control, _core, _m) = engine_pair(settings());
    control.set_graph(&mix_graph(1.0), &buffers()).unwrap();
    let e = control.set_param(99, "gain", 1.0, None, None).unwrap_err();
    assert!(e.message.contains("#99"), "{}", e.message);
    let e = control.set_param(5, "gian", 1.0, None, None).unwrap_err();
    assert!(e.message.contains("gain #5") && e.message.contains("'gian'"), "{}", e.message);
    let e = control.set_param(5, "gain", f64::NAN, None, None).unwrap_err();
    assert_eq!(e.kind, ferrite_engine::ErrorKind::Range);
    let e = control.set_param(3, "frequency", 30000.0, None, None).unwrap_err();
    assert!(e.message.contains("Nyquist"), "{}", e.message);
    let e = control.set_param(5, "gain", 1.0, None, Some(-3.0)).unwrap_err();
    assert!(e.message.contains("atFrame"), "{}", e.message);
}

/// A constant 1 through a gain whose lane is the signal: the output is the lane.
fn lane_graph(points: serde_json::Value) -> ferrite_engine::GraphDesc {
    graph(json!({"version": 1, "nodes": [
        {"id": 0, "type": "output"}, {"id": 1, "type": "constant", "params": {"value": 1}},
        {"id": 2, "type": "gain", "params": {"gain": 1}}],
        "connections": [[1, 2], [2, 0]],
        "automation": [{"node": 2, "param": "gain", "points": points}]}))
}

#[test]
fn lanes_follow_seek_and_loop_and_are_replaced_while_playing() {
    let (mut control, mut core, _m) = engine_pair(settings());
    let points =
        json!([{"frame": 0, "value": 0}, {"frame": 1000, "value": 1, "curve": "step"}, {"frame": 2000, "value": 0.25}]);
    let desc = lane_graph(points.clone());
    let lane = ferrite_engine::automation::Lane::new(&desc.automation[0].points);
    control.set_graph(&desc, &[]).unwrap();
    let shared = control.shared().clone();
    let t = &shared.transport;
    let mut out = vec![0.0f32; 300 * 2];
    let mut got = Vec::new();
    for _ in 0..8 {
        core.render(&mut out, &[], 0, 300, 2);
        got.extend(out.chunks(2).map(|f| f[0]));
    }
    for (p, &x) in got.iter().enumerate() {
        assert_eq!(x, lane.value_at(p as u64) as f32, "frame {p}");
    }
    assert_eq!(
        (got[999], got[1000], got[1999], got[2000]),
        (0.999, 1.0, 1.0, 0.25),
        "ramp, then a step held until frame 2000"
    );
    // Seek back, then loop 900..1100 across the step: the lane wraps with the transport.
    t.seek(850);
    t.set_loop(900, Some(1100));
    let mut looped = Vec::new();
    for _ in 0..3 {
        core.render(&mut out, &[], 0, 300, 2);
        looped.extend(out.chunks(2).map(|f| f[0]));
    }
    let frames: Vec<u64> = (0..900u64).map(|i| if i < 250 { 850 + i } else { 900 + (i - 250) % 200 }).collect();
    for (i, &p) in frames.iter().enumerate() {
        assert_eq!(looped[i], lane.value_at(p) as f32, "looped frame {i} = transport {p}");
    }
    // Replace the lane while playing: a flat 0.75 from the next callback, no recompile.
    t.set_loop(0, None);
    control.set_automation(&lane_graph(json!([{"frame": 0, "value": 0.75}])).automation).unwrap();
    reset_violation_count();
    assert_no_alloc(|| core.render(&mut out, &[], 0, 300, 2));
    assert_eq!(violation_count(), 0);
    assert!(out.chunks(2).all(|f| f[0] == 0.75));
    // Automated parameters refuse setParam until their lane is removed.
    assert!(control.set_param(2, "gain", 0.5, None, None).unwrap_err().message.contains("automation lane"));
    control.set_automation(&[]).unwrap();
    core.render(&mut out, &[], 0, 300, 2);
    assert!(out.chunks(2).all(|f| f[0] == 0.75), "a parameter keeps its lane's last value");
    control.set_param(2, "gain", 0.5, Some(0.0), None).unwrap();
    core.render(&mut out, &[], 0, 300, 2);
    assert!(out.chunks(2).all(|f| f[0] == 0.5));
}

#[test]
fn a_structural_swap_crossfades_and_a_persistent_node_keeps_its_state() {
    let (mut control, mut core, _m) = engine_pair(settings());
    let with_dc = graph(json!({"version": 1, "nodes": [
        {"id": 0, "type": "output"}, {"id": 1, "type": "constant", "params": {"value": 1}},
        {"id": 2, "type": "oscillator", "params": {"frequency": 1000, "amplitude": 0.0}}],
        "connections": [[1, 0], [2, 0]]}));
    control.set_graph(&with_dc, &[]).unwrap();
    let mut out = vec![0.0f32; 128 * 2];
    core.render(&mut out, &[], 0, 128, 2);
    assert!(out.iter().all(|&x| x == 1.0));
    // Removing the source is structural: a 10 ms (480-frame) linear fade, not a click.
    let without = graph(json!({"version": 1, "nodes": [
        {"id": 0, "type": "output"}, {"id": 2, "type": "oscillator", "params": {"frequency": 1000, "amplitude": 0.0}}],
        "connections": [[2, 0]]}));
    control.set_graph(&without, &[]).unwrap();
    let mut faded = Vec::new();
    reset_violation_count();
    for _ in 0..5 {
        assert_no_alloc(|| core.render(&mut out, &[], 0, 128, 2));
        faded.extend(out.chunks(2).map(|f| f[0]));
    }
    assert_eq!(violation_count(), 0);
    for (i, &x) in faded.iter().enumerate() {
        let want = (1.0 - i as f64 / 480.0).max(0.0) as f32;
        assert!((x - want).abs() < 1e-6, "frame {i}: {x} vs {want}");
    }
    control.collect_garbage();

    // A persistent oscillator keeps its phase across a swap that only adds a node.
    let (mut control, mut core, _m) = engine_pair(settings());
    let osc = |extra: bool| {
        let mut nodes = vec![
            json!({"id": 0, "type": "output"}),
            json!({"id": 1, "type": "oscillator", "params": {"frequency": 441, "amplitude": 1}}),
        ];
        if extra {
            nodes.push(json!({"id": 5, "type": "gain", "params": {"gain": 1}}));
        }
        graph(json!({"version": 1, "nodes": nodes, "connections": [[1, 0]]}))
    };
    control.set_graph(&osc(false), &[]).unwrap();
    let mut got = Vec::new();
    for k in 0..6 {
        if k == 3 {
            control.set_graph(&osc(true), &[]).unwrap();
        }
        core.render(&mut out, &[], 0, 128, 2);
        got.extend(out.chunks(2).map(|f| f[0]));
    }
    for (i, &x) in got.iter().enumerate() {
        let want = (2.0 * std::f64::consts::PI * 441.0 * i as f64 / SR).sin() as f32;
        assert!((x - want).abs() < 1e-5, "frame {i}: {x} vs {want} (phase lost across the swap?)");
    }
}

/// 16 oscillators each through an 8-band EQ into the output: the EQs run as
/// one batched bank (crate::batch).
fn eq_mix_graph(gain_db: f64) -> ferrite_engine::GraphDesc {
    let mut nodes = vec![json!({"id": 0, "type": "output"})];
    let mut conns = Vec::new();
    for t in 0..16u32 {
        let (osc, eq) = (10 + 2 * t, 11 + 2 * t);
        let mut params = serde_json::Map::new();
        let mut bands = Vec::new();
        for b in 0..8 {
            bands.push(json!({"type": "peaking"}));
            params.insert(format!("bands[{b}].frequency"), json!(80.0 * (b + 1) as f64 * (b + 1) as f64));
            params.insert(format!("bands[{b}].gainDb"), json!(gain_db));
        }
        nodes.push(json!({"id": osc, "type": "oscillator", "params": {"frequency": 50.0 + 30.0 * t as f64, "amplitude": 0.05}}));
        nodes.push(json!({"id": eq, "type": "eq", "params": params, "options": {"bands": bands}}));
        conns.extend([json!([osc, eq]), json!([eq, 0])]);
    }
    graph(json!({"version": 1, "nodes": nodes, "connections": conns}))
}

#[test]
fn batched_eq_graph_does_not_allocate_under_swaps_and_ramps() {
    let (mut control, mut core, _meters) = engine_pair(settings());
    let mut out = vec![0.0f32; 256 * 2];
    reset_violation_count();
    let mut heard = 0.0f32;
    for cb in 0..300 {
        if cb % 25 == 0 {
            control.set_graph(&eq_mix_graph(-3.0 + (cb % 4) as f64), &[]).unwrap();
        }
        if cb % 7 == 0 {
            // Ramps send some members to their per-frame path for a while.
            let eq = 11 + 2 * (cb as u32 % 16);
            control.set_param(eq, "bands[3].gainDb", (cb % 12) as f64 - 6.0, Some(300.0), None).unwrap();
            control
                .set_param(11 + 2 * ((cb as u32 + 1) % 16), "bands[0].frequency", 100.0 + cb as f64, None, None)
                .unwrap();
        }
        let frames = [256usize, 100, 1, 37][cb % 4];
        assert_no_alloc(|| core.render(&mut out[..frames * 2], &[], 0, frames, 2));
        heard = heard.max(out[..frames * 2].iter().fold(0.0f32, |m, x| m.max(x.abs())));
        control.collect_garbage();
    }
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.01, "the engine produced sound ({heard})");
}
