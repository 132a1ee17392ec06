//! Render-core benchmarks: one 128-frame block of an EQ-heavy session, the
//! reference session's compile time, the audio-thread cost of a graph swap,
//! and one second rendered offline per thread count.
//!
//! `cargo bench --bench render`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::parallel::OfflineGraph;
use ferrite_engine::realtime::engine_pair;
use ferrite_engine::{compile, RenderSettings};
use serde_json::{json, Value};
use std::hint::black_box;

const SR: f64 = 48000.0;

/// `tracks` oscillators, each through an 8-band EQ, a compressor, a gain and a
/// pan, into a master limiter and meter (DESIGN.md's reference session at 64).
fn session(tracks: u32, dynamics: bool) -> GraphDesc {
    let mut nodes = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    let mut conns: Vec<Value> = Vec::new();
    let master = 2;
    nodes.push(json!({"id": master, "type": "gain", "params": {"gain": 0.1}}));
    let mut next = 10;
    if dynamics {
        nodes.push(json!({"id": 3, "type": "limiter", "params": {"ceilingDb": -1.0}}));
        nodes.push(json!({"id": 4, "type": "meter", "options": {"name": "master"}}));
        conns.extend([json!([master, 3]), json!([3, 4]), json!([4, 1])]);
    } else {
        conns.push(json!([master, 1]));
    }
    for t in 0..tracks {
        let mut params = serde_json::Map::new();
        let mut bands = Vec::new();
        for b in 0..8 {
            bands.push(json!({"type": "peaking"}));
            params.insert(format!("bands[{b}].frequency"), json!(100.0 * (b as f64 + 1.0).powf(2.0)));
            params.insert(format!("bands[{b}].q"), json!(1.0));
            params.insert(format!("bands[{b}].gainDb"), json!(if b % 2 == 0 { 3.0 } else { -3.0 }));
        }
        let (osc, eq, comp, gain, pan) = (next, next + 1, next + 2, next + 3, next + 4);
        next += 5;
        nodes.push(json!({"id": osc, "type": "oscillator", "params": {"frequency": 55.0 + t as f64 * 7.0, "amplitude": 0.3}, "options": {"type": "saw"}}));
        nodes.push(json!({"id": eq, "type": "eq", "params": params, "options": {"bands": bands}}));
        nodes.push(json!({"id": gain, "type": "gain", "params": {"gain": 0.5}}));
        nodes.push(json!({"id": pan, "type": "pan", "params": {"pan": (t as f64 / tracks as f64) * 2.0 - 1.0}}));
        conns.push(json!([osc, eq]));
        if dynamics {
            nodes.push(json!({"id": comp, "type": "compressor", "params": {"thresholdDb": -20.0}}));
            conns.extend([json!([eq, comp]), json!([comp, gain])]);
        } else {
            conns.push(json!([eq, gain]));
        }
        conns.extend([json!([gain, pan]), json!([pan, master])]);
    }
    GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns})).expect("valid session")
}

/// `tracks` band-limited saw oscillators, each through a gain, into the
/// output (`npm run bench`'s "64 plain oscillator tracks").
fn plain_oscillators(tracks: u32) -> GraphDesc {
    let mut nodes = vec![json!({"id": 1, "type": "output"})];
    let mut conns: Vec<Value> = Vec::new();
    for t in 0..tracks {
        let (osc, gain) = (10 + 2 * t, 11 + 2 * t);
        nodes.push(json!({"id": osc, "type": "oscillator", "params": {"frequency": 55.0 + t as f64 * 7.0}, "options": {"type": "saw"}}));
        nodes.push(json!({"id": gain, "type": "gain", "params": {"gain": 1.0 / f64::from(tracks)}}));
        conns.extend([json!([osc, gain]), json!([gain, 1])]);
    }
    GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns})).expect("valid graph")
}

/// `tracks` saw oscillators, each through an 8-band `eq` and a gain, into
/// the output (`npm run bench`'s "16 tracks × 8-band EQ": mono tracks).
fn eq_tracks(tracks: u32) -> GraphDesc {
    let mut nodes = vec![json!({"id": 1, "type": "output"})];
    let mut conns: Vec<Value> = Vec::new();
    for t in 0..tracks {
        let (osc, eq, gain) = (10 + 3 * t, 11 + 3 * t, 12 + 3 * t);
        let mut params = serde_json::Map::new();
        let mut bands = Vec::new();
        for b in 0..8 {
            bands.push(json!({"type": "peaking"}));
            params.insert(format!("bands[{b}].frequency"), json!(100.0 * (b as f64 + 1.0).powf(2.0)));
            params.insert(format!("bands[{b}].gainDb"), json!(if b % 2 == 0 { 3.0 } else { -3.0 }));
        }
        nodes.push(json!({"id": osc, "type": "oscillator", "params": {"frequency": 55.0 + t as f64 * 11.0}, "options": {"type": "saw"}}));
        nodes.push(json!({"id": eq, "type": "eq", "params": params, "options": {"bands": bands}}));
        nodes.push(json!({"id": gain, "type": "gain", "params": {"gain": 1.0 / f64::from(tracks)}}));
        conns.extend([json!([osc, eq]), json!([eq, gain]), json!([gain, 1])]);
    }
    GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns})).expect("valid graph")
}

fn bench_render(c: &mut Criterion) {
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let mut group = c.benchmark_group("render_block_128");
    // `_unbatched`: the same graph with the compiler's filter batching off
    // (crate::batch), node by node, for an A/B in one run.
    for (name, tracks, dynamics, batch) in [
        ("16_tracks_x_8band_eq", 16, false, true),
        ("16_tracks_x_8band_eq_unbatched", 16, false, false),
        ("reference_session_64_tracks", 64, true, true),
        ("reference_session_64_tracks_unbatched", 64, true, false),
    ] {
        let options = CompileOptions { batch: batch && CompileOptions::from_env().batch, ..CompileOptions::from_env() };
        let mut compiled = compile_with(&session(tracks, dynamics), settings, &[], options).expect("compiles");
        let mut pos = 0u64;
        group.throughput(Throughput::Elements(128));
        group.bench_function(name, |b| {
            b.iter(|| {
                compiled.graph.render_block(pos, 128, &mut compiled.lanes);
                pos += 128;
                black_box(compiled.graph.output(0, 128)[0])
            })
        });
    }
    {
        let mut compiled =
            compile_with(&plain_oscillators(64), settings, &[], CompileOptions::from_env()).expect("compiles");
        let mut pos = 0u64;
        group.bench_function("64_plain_saw_oscillators", |b| {
            b.iter(|| {
                compiled.graph.render_block(pos, 128, &mut compiled.lanes);
                pos += 128;
                black_box(compiled.graph.output(0, 128)[0])
            })
        });
    }
    group.finish();
}

fn bench_compile_and_swap(c: &mut Criterion) {
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let desc = session(64, true);
    c.bench_function("compile_reference_session_64_tracks", |b| {
        b.iter(|| black_box(compile(&desc, settings, &[]).expect("compiles")))
    });
    // The audio thread's share of a swap: take the published program, hand
    // state over from the running one, render one block.
    c.bench_function("swap_on_audio_thread_64_tracks", |b| {
        let (mut control, mut core, _meters) = engine_pair(settings);
        control.set_graph(&desc, &[]).expect("compiles");
        let mut out = vec![0.0f32; 256];
        core.render(&mut out, &[], 0, 128, 2);
        b.iter_batched(
            || {
                control.collect_garbage();
                control.set_graph(&desc, &[]).expect("compiles");
            },
            |()| core.render(&mut out, &[], 0, 128, 2),
            BatchSize::PerIteration,
        )
    });
}

/// One second of the reference session (and of smaller sessions, for the
/// planner's crossover) rendered offline on 1, 2 and 4 threads: the
/// per-thread-count group. `cargo bench --bench render -- threads`
fn bench_threads(c: &mut Criterion) {
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let mut group = c.benchmark_group("threads_offline_1s");
    group.sample_size(10);
    group.throughput(Throughput::Elements(48000));
    let silence = |_: usize, _: usize, d: &mut [f64]| d.fill(0.0);
    let sessions = [("reference_session_64_tracks", 64), ("4_tracks", 4), ("2_tracks", 2), ("1_track", 1)]
        .map(|(name, tracks)| (name, session(tracks, true)));
    for (name, desc) in sessions.into_iter().chain([("16_eq_tracks", eq_tracks(16))]) {
        for threads in [1usize, 2, 4] {
            let mut g = OfflineGraph::compile(&desc, settings, &[], threads).expect("compiles");
            let mut pos = 0;
            group.bench_function(format!("{name}/{threads}_threads_{}_parts", g.parts()), |b| {
                b.iter(|| {
                    let mut peak = 0.0f64;
                    let mut sink =
                        |_: usize, _: usize, _: usize, s: &[f64]| peak = peak.max(s.first().copied().unwrap_or(0.0));
                    g.render_span(pos, 48000, 128, &silence, &mut sink);
                    pos += 48000;
                    black_box(peak)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_render, bench_compile_and_swap, bench_threads);
criterion_main!(benches);
