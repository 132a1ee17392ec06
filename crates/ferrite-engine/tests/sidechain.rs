//! Sidechain ducking through the whole engine (`"sidechains": [[from,
//! compressor]]`): a compressor keyed by its own input renders the plain
//! compressor's bits (alone or batched); a programme keyed by a voice is
//! attenuated by the static curve of the voice's level and untouched while
//! the voice is silent, and the voice never reaches the output; key and
//! programme are aligned when either passes a limiter's lookahead; cycles
//! through a key and keys into anything but a compressor are refused; a
//! keyed graph renders across swaps without allocating.
//!
//! References are computed here: the static curve in f64 from the key's
//! samples, the programme from a render of the same graph without the
//! compressor, latencies from the limiter's documented `round(ms·fs/1000)`.

mod common;

use assert_no_alloc::{violation_count, AllocDisabler};
use common::{bits, render_blocks};
use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::realtime::engine_pair;
use ferrite_engine::{Compiled, ErrorKind, GraphDesc, RenderSettings};
use serde_json::{json, Value};
use std::f64::consts::PI;

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

const SR: f64 = 48_000.0;

fn settings() -> RenderSettings {
    RenderSettings { sample_rate: SR, channels: 2, max_block: 128 }
}

fn build(desc: &GraphDesc, batch: bool) -> Compiled {
    let options = CompileOptions { batch, ..CompileOptions::default() };
    compile_with(desc, settings(), &[], options).expect("compiles")
}

fn desc(nodes: Vec<Value>, connections: Value, sidechains: Value) -> GraphDesc {
    let mut all = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    all.extend(nodes);
    GraphDesc::from_value(&json!({"version": 1, "nodes": all, "connections": connections, "sidechains": sidechains}))
        .expect("valid graph")
}

fn compressor(id: u32, t: f64, r: f64, attack: f64, release: f64, w: f64) -> Value {
    json!({"id": id, "type": "compressor", "params": {"thresholdDb": t, "ratio": r, "attackMs": attack,
        "releaseMs": release, "kneeDb": w, "makeupDb": 0.0}})
}

fn sine(id: u32, f: f64, amplitude: f64) -> Value {
    json!({"id": id, "type": "oscillator", "params": {"frequency": f, "amplitude": amplitude}, "options": {"type": "sine"}})
}

/// The voice: a 1 kHz tone of amplitude 0.8 from `on` to `off` (frames), else silence.
fn voice(on: usize, off: usize) -> impl Fn(usize, usize) -> f64 {
    move |t, _| if (on..off).contains(&t) { 0.8 * (2.0 * PI * 1000.0 * t as f64 / SR).sin() } else { 0.0 }
}

/// The static curve written out independently of the engine.
fn curve(x: f64, t: f64, r: f64, w: f64) -> f64 {
    if x < t - w / 2.0 {
        x
    } else if x > t + w / 2.0 {
        t + (x - t) / r
    } else {
        x + (1.0 / r - 1.0) * (x - t + w / 2.0).powi(2) / (2.0 * w)
    }
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Three oscillator tracks and the render input, each through a compressor
/// (one of them automated), into the output; `key(track)` names each
/// compressor's key source, if any.
fn tracks(key: &dyn Fn(u32) -> Option<u32>) -> GraphDesc {
    let mut nodes = Vec::new();
    let mut conns = Vec::new();
    let mut keys = Vec::new();
    for t in 0..4u32 {
        let (src, comp) = if t == 3 { (0, 23) } else { (10 + t, 20 + t) };
        if t < 3 {
            nodes.push(sine(src, 90.0 + 70.0 * f64::from(t), 0.2 + 0.1 * f64::from(t)));
        }
        nodes.push(compressor(comp, -30.0 + 3.0 * f64::from(t), 3.0 + f64::from(t), 2.0, 40.0, 4.0));
        conns.extend([json!([src, comp]), json!([comp, 1])]);
        if let Some(k) = key(t) {
            keys.push(json!([k, comp]));
        }
    }
    let mut d = desc(nodes, json!(conns), json!(keys));
    let lane = json!({"version": 1, "automation": [{"node": 21, "param": "thresholdDb",
        "points": [{"frame": 500, "value": -40.0}, {"frame": 1800, "value": -10.0}]}]});
    d.automation = GraphDesc::from_value(&lane).expect("lane").automation;
    d
}

/// The sources of [`tracks`]: oscillators 10..=12 and the input (0).
fn source(t: u32) -> u32 {
    if t == 3 {
        0
    } else {
        10 + t
    }
}

/// A render input with different channels.
fn input(t: usize, c: usize) -> f64 {
    0.5 * (t as f64 * 0.013 + c as f64).sin()
}

#[test]
fn a_compressor_keyed_by_its_own_input_renders_the_plain_compressors_bits() {
    let plain = tracks(&|_| None);
    let own = tracks(&|t| Some(source(t)));
    for block in [128, 37, 1] {
        let want = render_blocks(&mut build(&plain, false), 0, 4000, block, &input, &mut |_, _| {});
        for batch in [false, true] {
            let mut c = build(&own, batch);
            assert_eq!(c.graph.compressor_groups(), if batch { vec![4] } else { vec![] });
            let got = render_blocks(&mut c, 0, 4000, block, &input, &mut |_, _| {});
            assert_eq!(bits(&got), bits(&want), "block {block}, batch {batch}");
        }
        // The compressors do compress: at ratio 1 the mix is louder.
        let mut dry = plain.clone();
        for n in dry.nodes.iter_mut().filter(|n| n.kind == "compressor") {
            n.params.insert("ratio".into(), json!(1.0));
        }
        let dry = render_blocks(&mut build(&dry, false), 0, 4000, block, &input, &mut |_, _| {});
        let energy = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
        assert!(energy(&want[0]) < 0.5 * energy(&dry[0]), "the compressors compress");
    }
}

#[test]
fn batched_compressors_with_other_keys_equal_unbatched_ones() {
    // Each compressor keyed by the next track's source: a group of keyed
    // members, one automated (run alone in its blocks), against no batching.
    let keyed = tracks(&|t| Some(source((t + 1) % 4)));
    for block in [128, 37] {
        let want = render_blocks(&mut build(&keyed, false), 0, 4000, block, &input, &mut |_, _| {});
        let mut c = build(&keyed, true);
        assert_eq!(c.graph.compressor_groups(), [4]);
        let got = render_blocks(&mut c, 0, 4000, block, &input, &mut |_, _| {});
        assert_eq!(bits(&got), bits(&want), "block {block}");
    }
}

/// Music (a 220 Hz sine into `prog`), a compressor 3 (attack and release 0:
/// the reduction is each frame's target) keyed by the voice on the input
/// (through `key` first), into the output.
fn ducking(prog: Vec<Value>, prog_conns: Vec<Value>, key: Option<(Value, u32)>, keyed: bool) -> GraphDesc {
    let mut nodes = vec![sine(2, 220.0, 0.3), compressor(3, -30.0, 8.0, 0.0, 0.0, 6.0)];
    nodes.extend(prog);
    let mut conns = prog_conns;
    conns.push(json!([3, 1]));
    let from = match key {
        Some((node, id)) => {
            nodes.push(node);
            conns.push(json!([0, id]));
            id
        }
        None => 0,
    };
    desc(nodes, json!(conns), if keyed { json!([[from, 3]]) } else { json!([]) })
}

/// The music as the output hears it without the compressor: the same graph
/// with the compressor's inputs wired to the output instead.
fn music(d: &GraphDesc, frames: usize) -> Vec<Vec<f64>> {
    let mut dry = d.clone();
    dry.connections =
        dry.connections.iter().filter(|c| c.1 != 1).map(|&(a, b)| (a, if b == 3 { 1 } else { b })).collect();
    dry.nodes.retain(|n| n.id != 3);
    dry.sidechains.clear();
    let mut c = build(&dry, false);
    render_blocks(&mut c, 0, frames, 128, &|_, _| 0.0, &mut |_, _| {})
}

/// Checks a ducked render against the curve: `out = music · g` with `g` in
/// dB `curve(x) - x` of the voice's level `x` at `n - latency`; exactly the
/// music where the voice is silent. Returns how many frames were ducked by
/// more than 10 dB.
fn assert_ducked(out: &[Vec<f64>], music: &[Vec<f64>], latency: usize, on: usize, off: usize) -> usize {
    let v = voice(on, off);
    let mut ducked = 0;
    for (o, m) in out.iter().zip(music) {
        for n in latency..o.len() {
            let key = v(n - latency, 0);
            if key == 0.0 {
                assert_eq!(o[n].to_bits(), m[n].to_bits(), "frame {n}: the voice is silent, gain 1");
                continue;
            }
            if m[n].abs() < 1e-3 {
                continue;
            }
            let x = db(key.abs());
            let want = curve(x, -30.0, 8.0, 6.0) - x;
            let got = db(o[n] / m[n]);
            assert!((got - want).abs() < 1e-9, "frame {n}: gain {got} dB, the curve says {want}");
            ducked += usize::from(want < -10.0);
        }
    }
    ducked
}

#[test]
fn music_is_ducked_by_the_static_curve_of_the_voice() {
    let d = ducking(vec![], vec![json!([2, 3])], None, true);
    let m = music(&d, 6000);
    for block in [128, 37] {
        for batch in [false, true] {
            let mut c = build(&d, batch);
            assert_eq!(c.graph.latency(), 0);
            let out = render_blocks(&mut c, 0, 6000, block, &voice(1500, 4500), &mut |_, _| {});
            let ducked = assert_ducked(&out, &m, 0, 1500, 4500);
            assert!(ducked > 2 * 2000, "{ducked} frames ducked by more than 10 dB");
        }
    }
    // The voice steers the gain only: with the music silent, the output is silent.
    let mut silent = d.clone();
    silent.nodes.iter_mut().filter(|n| n.id == 2).for_each(|n| {
        n.params.insert("amplitude".into(), json!(0.0));
    });
    let out = render_blocks(&mut build(&silent, true), 0, 6000, 128, &voice(1500, 4500), &mut |_, _| {});
    assert!(out.iter().flatten().all(|&y| y == 0.0), "the key reached the output");
}

#[test]
fn ducking_recovers_after_the_release() {
    // Everyday settings: attack 10 ms, release 100 ms. Under the voice the
    // music drops by more than 10 dB; 600 ms after the voice stops it is
    // back within 0.5 dB.
    let mut d = ducking(vec![], vec![json!([2, 3])], None, true);
    let m = music(&d, 72_000);
    for n in d.nodes.iter_mut().filter(|n| n.id == 3) {
        n.params.insert("attackMs".into(), json!(10.0));
        n.params.insert("releaseMs".into(), json!(100.0));
    }
    let out = render_blocks(&mut build(&d, false), 0, 72_000, 128, &voice(4800, 24_000), &mut |_, _| {});
    let gain_at = |range: std::ops::Range<usize>| {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for n in range.filter(|&n| m[0][n].abs() > 0.1) {
            let g = db(out[0][n] / m[0][n]);
            lo = lo.min(g);
            hi = hi.max(g);
        }
        (lo, hi)
    };
    let (_, under) = gain_at(14_400..24_000);
    assert!(under < -10.0, "under the voice: {under} dB");
    let (lo, hi) = gain_at(52_800..72_000);
    assert!(lo > -0.5 && hi <= 1e-12, "after the release: {lo}..{hi} dB");
}

fn limiter(id: u32) -> Value {
    json!({"id": id, "type": "limiter", "params": {"ceilingDb": 0, "lookaheadMs": 5.0, "releaseMs": 50}})
}

#[test]
fn a_key_through_a_limiter_is_aligned_with_the_programme() {
    let d_frames = (5.0 * SR / 1000.0_f64).round() as usize;
    // The key arrives late (through the limiter's lookahead): the programme waits.
    let late_key = ducking(vec![], vec![json!([2, 3])], Some((limiter(4), 4)), true);
    // The programme arrives late (through a limiter): the key waits.
    let late_music = ducking(vec![limiter(5)], vec![json!([2, 5]), json!([5, 3])], None, true);
    for (name, d) in [("late key", &late_key), ("late music", &late_music)] {
        // The music the output would hear, `latency` frames late.
        let mut dry = music(d, 6000);
        if name == "late key" {
            for ch in dry.iter_mut() {
                ch.splice(0..0, vec![0.0; d_frames]);
                ch.truncate(6000);
            }
        }
        for block in [128, 37] {
            let mut c = build(d, true);
            assert_eq!(c.graph.latency(), d_frames, "{name}");
            let out = render_blocks(&mut c, 0, 6000, block, &voice(1500, 4500), &mut |_, _| {});
            let ducked = assert_ducked(&out, &dry, d_frames, 1500, 4500);
            assert!(ducked > 2 * 2000, "{name}, block {block}: {ducked} frames ducked");
        }
    }
}

fn refused(d: GraphDesc) -> ferrite_engine::EngineError {
    match compile_with(&d, settings(), &[], CompileOptions::default()) {
        Ok(_) => panic!("compiled"),
        Err(e) => e,
    }
}

#[test]
fn a_cycle_through_a_key_is_refused_naming_its_nodes() {
    // input → compressor #3 → gain #4 → output, and gain #4 keys compressor #3.
    let gain = json!({"id": 4, "type": "gain"});
    let e = refused(desc(
        vec![compressor(3, -20.0, 4.0, 1.0, 50.0, 6.0), gain],
        json!([[0, 3], [3, 4], [4, 1]]),
        json!([[4, 3]]),
    ));
    assert_eq!(e.kind, ErrorKind::Range);
    assert!(e.message.contains("cycle"), "{}", e.message);
    assert!(e.message.contains("gain #4 → (sidechain key) compressor #3"), "{}", e.message);
    assert!(e.message.contains("compressor #3 → gain #4"), "{}", e.message);
}

#[test]
fn bad_sidechains_are_refused_by_name() {
    let comp = || compressor(3, -20.0, 4.0, 1.0, 50.0, 6.0);
    let conns = || json!([[0, 3], [3, 1], [2, 1]]);
    let osc = || sine(2, 100.0, 0.3);
    let cases: [(Value, ErrorKind, &str); 5] = [
        (json!([[2, 1]]), ErrorKind::Type, "output #1 is not a compressor"),
        (json!([[2, 99]]), ErrorKind::Type, "sidechain: unknown node #99"),
        (json!([[1, 3]]), ErrorKind::Type, "output #1 is the master output"),
        (json!([[3, 3]]), ErrorKind::Range, "compressor #3 is keyed by itself"),
        (
            json!([[2, 3], [0, 3]]),
            ErrorKind::Type,
            "compressor #3 already has a key, oscillator #2 (a second one from input #0)",
        ),
    ];
    for (keys, kind, text) in cases {
        let e = refused(desc(vec![comp(), osc()], conns(), keys.clone()));
        assert_eq!(e.kind, kind, "{keys}: {}", e.message);
        assert!(e.message.contains(text), "{keys}: {}", e.message);
    }
    // The same pair twice is one key.
    let twice = desc(vec![comp(), osc()], conns(), json!([[2, 3], [2, 3]]));
    assert!(compile_with(&twice, settings(), &[], CompileOptions::default()).is_ok());
}

#[test]
fn a_keyed_graph_renders_across_swaps_without_allocating() {
    // Swaps between keys direct and through a limiter (a compensation delay
    // on the key or on the programme), a changed threshold, and the key removed.
    let variants: Vec<GraphDesc> = vec![
        ducking(vec![], vec![json!([2, 3])], None, true),
        ducking(vec![], vec![json!([2, 3])], Some((limiter(4), 4)), true),
        ducking(vec![limiter(5)], vec![json!([2, 5]), json!([5, 3])], None, true),
        tracks(&|t| Some(source((t + 1) % 4))),
        ducking(vec![], vec![json!([2, 3])], None, false),
    ];
    let (mut control, mut core, _meters) = engine_pair(settings());
    let v = voice(0, usize::MAX);
    let input: Vec<f32> = (0..512).map(|i| v(i / 2, 0) as f32).collect();
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 400, |control, cb| {
        if cb % 10 == 0 {
            let d = &variants[(cb / 10) % variants.len()];
            control.set_graph(d, &[]).expect("set_graph");
        }
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.001, "the engine produced sound ({heard})");
}
