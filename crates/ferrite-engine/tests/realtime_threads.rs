//! The real-time engine on several threads (the audio thread and its
//! workers): the same bits as one thread under automation, latency
//! compensation, swaps and meters; swaps and parameter storms without
//! allocation or deadlock; a stalled worker does not stall the audio thread.

mod common;

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count, AllocDisabler};
use common::{eq_node, graph, osc};
use ferrite_engine::desc::{GraphDesc, LaneDesc};
use ferrite_engine::realtime::{engine_pair_threads, AudioCore, EngineControl, MeterMsg, WorkerHooks};
use ferrite_engine::RenderSettings;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

const SR: f64 = 48000.0;

/// Tracks of the test session: enough for the planner to split it (it keeps
/// a graph of fewer than 16 heavy chains whole).
const TRACKS: u32 = 16;

/// `tracks` tracks (oscillator → 8- or 2-band `eq` → compressor, or a
/// lookahead limiter with latency → gain → pan, a meter on some) and a
/// track on the render input, into a master gain → limiter → meter;
/// `gain` scales track 0, `drop_last` removes the last track's connection
/// to the master (a structural swap). `Aligned` sessions have no lookahead
/// limiter: every track has the same latency, so the master sums its
/// inputs as the parts finish ([`AudioCore::chained_sum`]); the others
/// line tracks up with compensation delays.
fn session(tracks: u32, gain: f64, drop_last: bool) -> GraphDesc {
    session_of(tracks, gain, drop_last, ALIGNED.with(|a| a.get()))
}

thread_local! {
    /// Whether the sessions of this test thread are aligned (see [`session`]).
    static ALIGNED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn session_of(tracks: u32, gain: f64, drop_last: bool, aligned: bool) -> GraphDesc {
    let mut nodes = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    nodes.push(json!({"id": 2, "type": "gain", "params": {"gain": 0.2}}));
    nodes.push(json!({"id": 3, "type": "limiter", "params": {"ceilingDb": -1.0}}));
    nodes.push(json!({"id": 4, "type": "meter", "options": {"name": "master"}}));
    let mut conns: Vec<Value> = vec![json!([2, 3]), json!([3, 4]), json!([4, 1])];
    for t in 0..tracks {
        let b = 10 + t * 10;
        let bands = if t % 3 == 2 { 2 } else { 8 };
        nodes.push(osc(b, 55.0 + f64::from(t) * 13.0, ["saw", "sine", "square", "triangle"][t as usize % 4]));
        nodes.push(eq_node(b + 1, bands, |k| ("peaking", 100.0 * (k as f64 + 1.0).powi(2), 1.0, 3.0)));
        if t % 3 == 1 && !aligned {
            nodes.push(
                json!({"id": b + 2, "type": "limiter", "params": {"ceilingDb": -9.0}, "options": {"lookaheadMs": 1.5}}),
            );
        } else {
            nodes.push(json!({"id": b + 2, "type": "compressor", "params": {"thresholdDb": -20.0}}));
        }
        let g = if t == 0 { gain } else { 0.5 };
        nodes.push(json!({"id": b + 3, "type": "gain", "params": {"gain": g}}));
        nodes.push(json!({"id": b + 4, "type": "pan", "params": {"pan": f64::from(t) / f64::from(tracks) - 0.5}}));
        conns.extend([json!([b, b + 1]), json!([b + 1, b + 2]), json!([b + 2, b + 3]), json!([b + 3, b + 4])]);
        let last = if t % 4 == 1 {
            nodes.push(json!({"id": b + 5, "type": "meter", "options": {"name": format!("track {t}")}}));
            conns.push(json!([b + 4, b + 5]));
            b + 5
        } else {
            b + 4
        };
        if !(drop_last && t == tracks - 1) {
            conns.push(json!([last, 2]));
        }
    }
    nodes.push(json!({"id": 5, "type": "biquad", "params": {"frequency": 800.0}, "options": {"type": "lowpass"}}));
    nodes.push(json!({"id": 6, "type": "gain", "params": {"gain": 0.3}}));
    conns.extend([json!([0, 5]), json!([5, 6]), json!([6, 2])]);
    let automation = json!([
        {"node": 23, "param": "gain", "points": [{"frame": 0, "value": 0.5}, {"frame": 3000, "value": 0.1, "curve": "exponential"}, {"frame": 6000, "value": 0.9}]},
        {"node": 21, "param": "bands[2].frequency", "points": [{"frame": 100, "value": 500.0}, {"frame": 5000, "value": 2000.0}]},
        {"node": 2, "param": "gain", "points": [{"frame": 0, "value": 0.2}, {"frame": 4000, "value": 0.25}]}
    ]);
    graph(json!({"version": 1, "nodes": nodes, "connections": conns, "automation": automation}))
}

fn lanes(v: Value) -> Vec<LaneDesc> {
    let d = graph(json!({"version": 1, "nodes": [], "automation": v}));
    d.automation
}

/// The stereo render input of callback `cb`, `frames` long, interleaved.
fn device_input(cb: usize, frames: usize) -> Vec<f32> {
    (0..frames * 2).map(|i| common::input(cb * 131 + i / 2, i % 2) as f32).collect()
}

/// What a run heard: the output samples' bits and every meter reading,
/// by meter name, in the order they were pushed.
#[derive(Debug, PartialEq)]
struct Heard {
    out: Vec<u32>,
    meters: Vec<(String, String)>,
}

/// Drives an engine of `threads` threads (blocks of at most `block`
/// frames) through `callbacks` callbacks of the sizes devices deliver,
/// with swaps (plain and structural), new lanes, parameter changes now
/// and at frames, and meters every 256 frames; each callback under
/// `assert_no_alloc`.
fn run(threads: usize, block: usize, callbacks: usize, hooks: WorkerHooks) -> (Heard, usize) {
    let (heard, parts, _) = run_chained(threads, block, callbacks, hooks);
    (heard, parts)
}

/// [`run`], and whether the master's sum was chained in any callback.
fn run_chained(threads: usize, block: usize, callbacks: usize, hooks: WorkerHooks) -> (Heard, usize, bool) {
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: block };
    let (mut control, mut core, mut meters) = engine_pair_threads(settings, threads, hooks);
    assert_eq!(core.threads(), threads, "every worker started");
    control.shared().meter_period.store(256, Ordering::Relaxed);
    control.set_graph(&session(TRACKS, 0.5, false), &[]).unwrap();
    let mut heard = Heard { out: Vec::new(), meters: Vec::new() };
    let (mut parts, mut chained) = (1, false);
    let mut out = vec![0.0f32; 300 * 2];
    let mut frame = 0usize;
    for cb in 0..callbacks {
        steer(&mut control, cb, frame);
        let frames = [128usize, 100, 1, 37, 300][cb % 5];
        let input = device_input(cb, frames);
        assert_no_alloc(|| core.render(&mut out[..frames * 2], &input, 2, frames, 2));
        parts = parts.max(core.parts());
        chained |= core.chained_sum();
        heard.out.extend(out[..frames * 2].iter().map(|x| x.to_bits()));
        frame += frames;
        drain_meters(&control, &mut meters, &mut heard.meters);
        control.collect_garbage();
    }
    (heard, parts, chained)
}

/// The control traffic before callback `cb` (at transport frame `frame`).
fn steer(control: &mut EngineControl, cb: usize, frame: usize) {
    match cb {
        // A plain swap (values change), then a structural one (crossfaded).
        20 => control.set_graph(&session(TRACKS, 0.7, false), &[]).unwrap(),
        35 => control.set_graph(&session(TRACKS, 0.7, true), &[]).unwrap(),
        50 => control
            .set_automation(&lanes(json!([
                {"node": 33, "param": "gain", "points": [{"frame": 0, "value": 0.9}, {"frame": 20000, "value": 0.2}]},
                {"node": 12, "param": "thresholdDb", "points": [{"frame": 0, "value": -30.0}, {"frame": 20000, "value": -10.0}]}
            ])))
            .unwrap(),
        _ => {}
    }
    if cb % 7 == 3 {
        control.set_param(43, "gain", 0.1 + 0.05 * (cb % 9) as f64, Some(2.0), None).unwrap();
        control.set_param(61, "bands[1].gainDb", -6.0 + (cb % 5) as f64, None, Some((frame + 61) as f64)).unwrap();
        control.set_param(3, "ceilingDb", -2.0, None, Some((frame + 5) as f64)).unwrap();
    }
}

fn drain_meters(control: &EngineControl, meters: &mut rtrb::Consumer<MeterMsg>, into: &mut Vec<(String, String)>) {
    let names = control.meter_names();
    while let Ok(m) = meters.pop() {
        let Ok(n) = names.lock() else { continue };
        let name = if n.0 == m.generation { n.1.get(m.meter as usize).cloned() } else { None };
        into.push((
            name.unwrap_or_else(|| format!("generation {} meter {}", m.generation, m.meter)),
            format!("{:?}", m.reading),
        ));
    }
}

#[test]
fn every_thread_count_gives_the_bits_of_one_thread() {
    for (block, callbacks) in [(128, 90), (37, 90), (1, 40)] {
        reset_violation_count();
        let (one, parts) = run(1, block, callbacks, WorkerHooks::default());
        assert_eq!(parts, 1, "one thread renders the graph whole");
        assert!(one.out.iter().any(|&b| f32::from_bits(b).abs() > 0.01), "the session is heard");
        assert!(!one.meters.is_empty(), "meters were read");
        for threads in [2, 3, 4, 8] {
            let (many, parts) = run(threads, block, callbacks, WorkerHooks::default());
            assert!(parts >= 2, "{threads} threads split the session");
            assert_eq!(many.out.len(), one.out.len());
            let first = many.out.iter().zip(&one.out).position(|(a, b)| a != b);
            assert_eq!(first, None, "{threads} threads, block {block}: first different sample");
            let mut a = many.meters.clone();
            let mut b = one.meters.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{threads} threads, block {block}: meter readings");
        }
        assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    }
}

#[test]
fn a_master_summed_as_the_parts_finish_gives_the_bits_of_one_thread() {
    // Every track of the same latency: the master's inputs are summed as
    // the parts finish, on whichever thread, into one port of the mix.
    ALIGNED.with(|a| a.set(true));
    for (block, callbacks) in [(128, 90), (37, 90), (1, 40)] {
        reset_violation_count();
        let (one, parts, chained) = run_chained(1, block, callbacks, WorkerHooks::default());
        assert_eq!((parts, chained), (1, false), "one thread renders the graph whole");
        assert!(one.out.iter().any(|&b| f32::from_bits(b).abs() > 0.01), "the session is heard");
        for threads in [2, 3, 4, 8] {
            let (many, parts, chained) = run_chained(threads, block, callbacks, WorkerHooks::default());
            assert!(parts >= 2, "{threads} threads split the session");
            // (Tracks of unequal weight cut into runs in the master's order
            // load 3, 4 or 8 parts less evenly than a balanced share-out,
            // which then renders them and the mix sums after.)
            assert!(chained || threads != 2, "2 threads chain the master's sum");
            let first = many.out.iter().zip(&one.out).position(|(a, b)| a != b);
            assert_eq!(first, None, "{threads} threads, block {block}: first different sample");
            assert_eq!(many.out.len(), one.out.len());
            let (mut a, mut b) = (many.meters.clone(), one.meters.clone());
            a.sort();
            b.sort();
            assert_eq!(a, b, "{threads} threads, block {block}: meter readings");
        }
        assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    }
    ALIGNED.with(|a| a.set(false));
}

#[test]
fn a_session_with_compensation_delays_sums_its_master_after_the_parts() {
    let (_, parts, chained) = run_chained(2, 128, 10, WorkerHooks::default());
    assert!(parts >= 2 && !chained, "inputs of different latencies are summed by the mix");
}

fn no_alloc(f: &mut dyn FnMut()) {
    assert_no_alloc(f)
}

/// 1000 swaps (every third structural) and a storm of parameter changes on
/// a 4-thread engine, the workers' help under `assert_no_alloc` too.
fn storm(core: &mut AudioCore, control: &mut EngineControl, swaps: usize) -> Vec<u32> {
    let mut out = vec![0.0f32; 128 * 2];
    let mut heard = Vec::new();
    for cb in 0..swaps {
        let desc = session(TRACKS, 0.3 + (cb % 5) as f64 * 0.1, cb % 3 == 2);
        control.set_graph(&desc, &[]).unwrap();
        for k in 0..30 {
            let at = if k % 3 == 0 { Some((cb * 128 + k * 7) as f64) } else { None };
            control.set_param(43, "gain", 0.05 * (k % 11) as f64, Some((k % 3) as f64), at).unwrap();
            control.set_param(11, "bands[0].frequency", 100.0 + 20.0 * k as f64, None, None).unwrap();
        }
        let input = device_input(cb, 128);
        assert_no_alloc(|| core.render(&mut out, &input, 2, 128, 2));
        heard.extend(out.iter().map(|x| x.to_bits()));
        control.collect_garbage();
    }
    heard
}

#[test]
fn swaps_and_parameter_storms_on_four_threads_neither_allocate_nor_deadlock() {
    reset_violation_count();
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let hooks = WorkerHooks { wrap: Some(no_alloc), ..WorkerHooks::default() };
    let (mut control, mut core, _m) = engine_pair_threads(settings, 4, hooks);
    let swaps = if cfg!(debug_assertions) { 100 } else { 1000 };
    let heard = storm(&mut core, &mut control, swaps);
    assert!(core.parts() >= 2, "the session was split");
    eprintln!("parts rendered by the workers: {}", core.parts_helped());
    assert_eq!(violation_count(), 0, "the audio thread or a worker allocated or freed");
    assert_eq!(control.shared().dropped_messages.load(Ordering::Relaxed), 0);
    let (mut control1, mut core1, _m1) = engine_pair_threads(settings, 1, WorkerHooks::default());
    assert_eq!(heard, storm(&mut core1, &mut control1, swaps), "the same bits as one thread");
}

#[test]
fn a_stalled_worker_does_not_stall_the_audio_thread() {
    // Each worker sleeps 30 ms every time it wakes, before it looks at the
    // board: the audio thread renders the parts itself meanwhile and
    // finishes every block, with the bits of one thread.
    let hooks = WorkerHooks { stall_before_claim_us: 30_000, ..WorkerHooks::default() };
    let (stalled, parts) = run(2, 128, 60, hooks);
    assert!(parts >= 2);
    let (one, _) = run(1, 128, 60, WorkerHooks::default());
    assert_eq!(stalled.out.len(), one.out.len(), "every block was rendered");
    assert!(stalled.out == one.out, "the same bits as one thread");
}

/// Records track 1's gain (node 23) and the output from frame 3000 to
/// 12000 on an engine of `threads` threads, swapping graphs meanwhile:
/// the two recordings' samples, the most parts seen while the node
/// recording ran and the parts after it ended and a graph was set.
fn recorded(threads: usize) -> (Vec<f32>, Vec<f32>, usize, usize) {
    use ferrite_engine::realtime::{RecordRequest, RecordSource};
    let d = std::env::temp_dir().join(format!("ferrite-rt-threads-{threads}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let (mut control, mut core, _m) = engine_pair_threads(settings, threads, WorkerHooks::default());
    control.set_graph(&session(TRACKS, 0.5, false), &[]).unwrap();
    let request = |name: &str, source| RecordRequest {
        path: d.join(name),
        source,
        bit_depth: ferrite_media::BitDepth::Float32,
        start_frame: Some(3000),
        end_frame: Some(12000),
    };
    let mut out = vec![0.0f32; 256 * 2];
    let mut render = |core: &mut AudioCore, control: &mut EngineControl, until: u64| {
        let mut k = 0;
        let mut parts = 0;
        while control.shared().transport.position() < until {
            let frames = [256usize, 100, 1, 37][k % 4];
            core.render(&mut out[..frames * 2], &device_input(k, frames), 2, frames, 2);
            parts = parts.max(core.parts());
            control.collect_garbage();
            k += 1;
        }
        parts
    };
    render(&mut core, &mut control, 1000);
    let mut node = control.record(&request("node.wav", RecordSource::Node(23))).unwrap();
    let mut output = control.record(&request("out.wav", RecordSource::Output)).unwrap();
    render(&mut core, &mut control, 1300);
    let mut during = render(&mut core, &mut control, 6000);
    control.set_graph(&session(TRACKS, 0.6, false), &[]).unwrap();
    during = during.max(render(&mut core, &mut control, 12500));
    for r in [&mut node, &mut output] {
        let got = r.stop().unwrap();
        assert_eq!((got.frames, got.dropped_frames), (9000, 0));
    }
    control.set_graph(&session(TRACKS, 0.7, false), &[]).unwrap();
    let after = render(&mut core, &mut control, 13000);
    let read = |name: &str| -> Vec<f32> {
        hound::WavReader::open(d.join(name)).unwrap().samples::<f32>().map(Result::unwrap).collect()
    };
    let (n, o) = (read("node.wav"), read("out.wav"));
    std::fs::remove_dir_all(&d).unwrap();
    (n, o, during, after)
}

#[test]
fn a_node_recording_compiles_the_graph_whole_while_it_runs_with_the_bits_of_one_thread() {
    let (node1, out1, _, _) = recorded(1);
    let (node2, out2, during, after) = recorded(2);
    assert_eq!(during, 1, "while a node is recorded the graph renders whole");
    assert_eq!(after, 2, "once it has ended the graph is split again");
    assert_eq!(node2.len(), 9000 * 2);
    assert!(node2.iter().any(|x| x.abs() > 0.01), "the node was recorded");
    assert!(node2 == node1 && out2 == out1, "the recordings of one thread");
}
