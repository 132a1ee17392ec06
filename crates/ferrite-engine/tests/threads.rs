//! Every core: a graph rendered on 1 to 8 threads gives the same bits, and
//! the split render sums its parts as the whole graph does.

mod common;
use common::*;
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::parallel::{plan_parts, plan_presummed, OfflineGraph, PARTS_PER_THREAD};
use ferrite_engine::{render_offline_threads, ErrorKind, OfflineRequest, RenderSettings};
use serde_json::{json, Value};

/// `tracks` tracks of every kind the render core treats (8- and 2-band
/// `eq`s, compressors, fused biquad chains, a lookahead limiter with
/// latency, meters on some tracks), plus a delay and limiter on the
/// render input, a constant and the input itself, into a master gain,
/// limiter and meter; lanes automate a gain, an `eq` band and a threshold.
fn session(tracks: u32) -> GraphDesc {
    let mut nodes = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    let master = 2;
    nodes.push(json!({"id": master, "type": "gain", "params": {"gain": 0.1}}));
    nodes.push(json!({"id": 3, "type": "limiter", "params": {"ceilingDb": -1.0}}));
    nodes.push(json!({"id": 4, "type": "meter", "options": {"name": "master"}}));
    let mut conns: Vec<Value> = vec![json!([master, 3]), json!([3, 4]), json!([4, 1])];
    let mut next = 10;
    for t in 0..tracks {
        let bands = if t % 3 == 2 { 2 } else { 8 };
        let eq = eq_node(next + 1, bands, |b| {
            let kind = if b == 0 && t % 4 == 1 { "highpass" } else { "peaking" };
            (kind, 100.0 * (b as f64 + 1.0).powi(2), 1.0, if b % 2 == 0 { 3.0 } else { -3.0 })
        });
        let (osc, eqid, comp, gain, pan) = (next, next + 1, next + 2, next + 3, next + 4);
        next += 5;
        let shape = ["saw", "sine", "square", "triangle"][t as usize % 4];
        nodes.push(osc_node(osc, 55.0 + f64::from(t) * 7.0, shape));
        nodes.push(eq);
        nodes.push(json!({"id": gain, "type": "gain", "params": {"gain": 0.5}}));
        nodes
            .push(json!({"id": pan, "type": "pan", "params": {"pan": (f64::from(t) / f64::from(tracks)) * 2.0 - 1.0}}));
        conns.push(json!([osc, eqid]));
        match t % 7 {
            4 => {
                let (b1, b2) = (next, next + 1);
                next += 2;
                nodes.push(json!({"id": b1, "type": "biquad", "params": {"frequency": 300.0, "q": 0.7}, "options": {"type": "lowshelf"}}));
                nodes.push(json!({"id": b2, "type": "biquad", "params": {"frequency": 9000.0}, "options": {"type": "lowpass"}}));
                conns.extend([json!([eqid, b1]), json!([b1, b2]), json!([b2, gain])]);
            }
            3 => {
                nodes.push(json!({"id": comp, "type": "limiter", "params": {"ceilingDb": -9.0}, "options": {"lookaheadMs": 1.5}}));
                conns.extend([json!([eqid, comp]), json!([comp, gain])]);
            }
            _ => {
                nodes.push(json!({"id": comp, "type": "compressor", "params": {"thresholdDb": -20.0}}));
                conns.extend([json!([eqid, comp]), json!([comp, gain])]);
            }
        }
        if t % 5 == 1 {
            let m = next;
            next += 1;
            nodes.push(json!({"id": m, "type": "meter", "options": {"name": format!("track {t}")}}));
            conns.extend([json!([pan, m]), json!([m, master])]);
        } else {
            conns.push(json!([pan, master]));
        }
    }
    nodes.push(json!({"id": 5, "type": "delay", "params": {"frames": 37, "feedback": 0.3, "mix": 0.5}}));
    nodes.push(json!({"id": 6, "type": "limiter", "params": {"ceilingDb": -6.0}, "options": {"lookaheadMs": 2.0}}));
    nodes.push(json!({"id": 7, "type": "constant", "params": {"value": 0.01}}));
    conns.extend([json!([0, 5]), json!([5, 6]), json!([6, master]), json!([7, master]), json!([0, master])]);
    let automation = json!([
        {"node": 13, "param": "gain", "points": [{"frame": 0, "value": 0.5}, {"frame": 3000, "value": 0.1, "curve": "exponential"}, {"frame": 6000, "value": 0.9}]},
        {"node": 11, "param": "bands[2].frequency", "points": [{"frame": 100, "value": 500.0}, {"frame": 5000, "value": 2000.0}]},
        {"node": 12, "param": "thresholdDb", "points": [{"frame": 0, "value": -30.0}, {"frame": 7000, "value": -10.0}]},
        {"node": 2, "param": "gain", "points": [{"frame": 0, "value": 0.1}, {"frame": 4000, "value": 0.12}]}
    ]);
    graph(json!({"version": 1, "nodes": nodes, "connections": conns, "automation": automation}))
}

fn osc_node(id: u32, f: f64, shape: &str) -> Value {
    osc(id, f, shape)
}

/// Renders `frames` of `desc` on `threads` threads in blocks of `block`
/// (with [`input`] as the render input); the f64 output and the number of
/// parts that rendered at the same time.
fn render_threads(
    desc: &GraphDesc,
    channels: usize,
    frames: usize,
    block: usize,
    threads: usize,
) -> (Vec<Vec<f64>>, usize) {
    let settings = RenderSettings { sample_rate: 48000.0, channels, max_block: block };
    // As many parts as the planner gives a graph of many tracks, whatever
    // this one weighs, so that small graphs test splits of every width.
    let parts = if threads == 1 { 1 } else { threads * PARTS_PER_THREAD };
    let mut g = OfflineGraph::compile_parts(desc, settings, &[], parts).expect("compiles");
    (render_graph(&mut g, channels, frames, block), g.parts())
}

/// One thread's stereo render of `desc` (whole), checked to be a real
/// signal (peak above `least`) whose pans make the channels differ.
fn reference(desc: &GraphDesc, frames: usize, block: usize, least: f64) -> Vec<Vec<f64>> {
    let (want, parts) = render_threads(desc, 2, frames, block, 1);
    assert_eq!(parts, 1);
    let peak = want[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(peak > least, "real signal: {peak}");
    assert_ne!(bits(&want[..1]), bits(&want[1..]), "the pans make the channels differ");
    want
}

/// Renders `frames` of a compiled graph in blocks of `block` (with
/// [`input`] as the render input): the f64 output.
fn render_graph(g: &mut OfflineGraph, channels: usize, frames: usize, block: usize) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(frames); channels];
    let fill = |c: usize, at: usize, d: &mut [f64]| {
        for (i, x) in d.iter_mut().enumerate() {
            *x = input(at + i, c);
        }
    };
    let mut sink = |c: usize, _off: usize, n: usize, s: &[f64]| {
        out[c].extend(s.iter().copied().chain(std::iter::repeat(0.0)).take(n));
    };
    // In spans of 5000 frames, as renderToFile renders in chunks.
    let mut pos = 0;
    while pos < frames {
        let n = 5000.min(frames - pos);
        g.render_span(pos, n, block, &fill, &mut sink);
        pos += n;
    }
    out
}

/// `tracks` light tracks into a master gain, meter and the output: sources
/// of every kind the render core sums directly (band-limited and sine
/// oscillators, a constant) through gains, some panned (stereo), two of the
/// gains automated (one in each half), and the render input last.
fn light_tracks(tracks: u32) -> GraphDesc {
    graph(light_tracks_json(tracks))
}

/// [`light_tracks`] as JSON.
fn light_tracks_json(tracks: u32) -> Value {
    let mut nodes = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    nodes.push(json!({"id": 2, "type": "gain", "params": {"gain": 0.5}}));
    nodes.push(json!({"id": 3, "type": "meter", "options": {"name": "master"}}));
    let mut conns = vec![json!([2, 3]), json!([3, 1])];
    for t in 0..tracks {
        let (src, gain, pan) = (100 + 10 * t, 101 + 10 * t, 102 + 10 * t);
        if t % 9 == 4 {
            nodes.push(json!({"id": src, "type": "constant", "params": {"value": 0.02 * f64::from(t % 3)}}));
        } else {
            let shape = ["saw", "sine", "square", "triangle"][t as usize % 4];
            nodes.push(osc(src, 40.0 + f64::from(t) * 13.7, shape));
        }
        nodes.push(json!({"id": gain, "type": "gain", "params": {"gain": 1.0 / f64::from(tracks)}}));
        conns.push(json!([src, gain]));
        if t % 5 == 2 {
            nodes.push(json!({"id": pan, "type": "pan", "params": {"pan": -0.6 + 0.04 * f64::from(t)}}));
            conns.extend([json!([gain, pan]), json!([pan, 2])]);
        } else {
            conns.push(json!([gain, 2]));
        }
    }
    conns.push(json!([0, 2]));
    let last = 101 + 10 * (tracks - 1);
    let automation = json!([
        {"node": 111, "param": "gain", "points": [{"frame": 0, "value": 0.02}, {"frame": 3000, "value": 0.2, "curve": "exponential"}]},
        {"node": last, "param": "gain", "points": [{"frame": 500, "value": 0.1}, {"frame": 6000, "value": 0.01}]}
    ]);
    json!({"version": 1, "nodes": nodes, "connections": conns, "automation": automation})
}

#[test]
fn light_tracks_split_as_a_part_that_sums_its_own_and_give_the_same_bits() {
    let desc = light_tracks(40);
    // Too light for parts of their own (a port each), enough for two halves.
    assert_eq!(plan_parts(&desc, 2), 1);
    assert!(plan_presummed(&desc));
    assert!(!plan_presummed(&light_tracks(12)), "too few tracks");
    for block in [128usize, 37, 1] {
        let settings = RenderSettings { sample_rate: 48000.0, channels: 2, max_block: block };
        let frames = if block == 1 { 2500 } else { 9000 };
        let want = reference(&desc, frames, block, 0.02);
        // What two threads compile: one part, the mix carrying the rest.
        let mut g = OfflineGraph::compile(&desc, settings, &[], 2).expect("compiles");
        assert!(matches!(g, OfflineGraph::Split(_)), "block {block}: split");
        assert_eq!(g.parts(), 1);
        assert_eq!(bits(&render_graph(&mut g, 2, frames, block)), bits(&want), "block {block}");
        // One thread keeps it whole.
        assert!(matches!(OfflineGraph::compile(&desc, settings, &[], 1).unwrap(), OfflineGraph::One(_)));
    }
    // Meters read the same.
    let req = OfflineRequest { sample_rate: 48000.0, frames: 24000, channels: 2, block_size: 128, input: vec![] };
    let one = render_offline_threads(&desc, &[], &req, None, 1).unwrap();
    let two = render_offline_threads(&desc, &[], &req, None, 2).unwrap();
    assert_eq!(format!("{:?}", one.meters), format!("{:?}", two.meters));
    let b = |x: &[Vec<f32>]| x.iter().map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>()).collect::<Vec<_>>();
    assert_eq!(b(&one.channels), b(&two.channels));
}

#[test]
fn a_first_half_of_unequal_latencies_is_not_summed_in_its_part() {
    // A lookahead limiter on track 1: its sum in the whole graph delays
    // the other tracks to meet it, which a part's own sum could not know.
    let mut v = light_tracks_json(40);
    v["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": 9000, "type": "limiter", "params": {"ceilingDb": -12.0}, "options": {"lookaheadMs": 1.0}}));
    let conns = v["connections"].as_array_mut().unwrap();
    // In the place of track 1's edge into the master.
    let at = conns.iter().position(|e| *e == json!([111, 2])).unwrap();
    conns[at] = json!([9000, 2]);
    conns.push(json!([111, 9000]));
    let desc = graph(v);
    let settings = RenderSettings { sample_rate: 48000.0, channels: 2, max_block: 128 };
    assert!(plan_presummed(&desc));
    assert!(OfflineGraph::presummed(&desc, settings, &[]).is_none(), "refused: the latencies differ");
    let (want, _) = render_threads(&desc, 2, 9000, 128, 1);
    let mut g = OfflineGraph::compile(&desc, settings, &[], 2).expect("compiles");
    assert!(matches!(g, OfflineGraph::One(_)), "whole");
    assert_eq!(bits(&render_graph(&mut g, 2, 9000, 128)), bits(&want));
    assert!(want[0].iter().any(|v| v.abs() > 0.01));
}

#[test]
fn every_thread_count_and_block_size_renders_the_same_bits() {
    let desc = session(24);
    for block in [128usize, 37, 1] {
        let frames = if block == 1 { 2500 } else { 9000 };
        let want = reference(&desc, frames, block, 0.05);
        for threads in 2..=8 {
            let (got, parts) = render_threads(&desc, 2, frames, block, threads);
            assert!(parts >= 2, "{threads} threads: the graph was split ({parts} parts)");
            assert_eq!(bits(&got), bits(&want), "{threads} threads, block {block}");
        }
    }
}

#[test]
fn block_size_does_not_change_the_split_render() {
    let desc = session(12);
    let (want, _) = render_threads(&desc, 2, 6000, 128, 1);
    for (block, threads) in [(37, 3), (1, 2), (128, 5)] {
        let (got, parts) = render_threads(&desc, 2, 6000, block, threads);
        assert!(parts >= 2);
        assert_eq!(bits(&got), bits(&want), "{threads} threads, block {block}");
    }
}

#[test]
fn the_split_render_sums_the_tracks_in_edge_order() {
    // Each track (an oscillator through an `eq` and a pan) rendered alone,
    // summed here in connection order and scaled by the master gain, is
    // the reference: the split render must give exactly those bits.
    let tracks = 9u32;
    let track = |t: u32, id: u32| -> Vec<Value> {
        let eq = eq_node(id + 1, 4, |b| ("peaking", 200.0 * (b as f64 + 1.0), 1.0, 4.0 - b as f64 * 2.0));
        vec![
            osc(id, 110.0 + f64::from(t) * 13.0, ["saw", "sine", "square"][t as usize % 3]),
            eq,
            json!({"id": id + 2, "type": "pan", "params": {"pan": f64::from(t) / 4.0 - 1.0}}),
        ]
    };
    let mut nodes =
        vec![json!({"id": 1, "type": "output"}), json!({"id": 2, "type": "gain", "params": {"gain": 0.25}})];
    let mut conns = vec![json!([2, 1])];
    // Connected to the master in reverse track order.
    for t in (0..tracks).rev() {
        let id = 10 + 10 * t;
        nodes.extend(track(t, id));
        conns.extend([json!([id, id + 1]), json!([id + 1, id + 2]), json!([id + 2, 2])]);
    }
    let whole = graph(json!({"version": 1, "nodes": nodes, "connections": conns}));
    let (got, parts) = render_threads(&whole, 2, 4000, 128, 4);
    assert!(parts >= 2);
    let mut want = vec![vec![0.0f64; 4000]; 2];
    for (k, t) in (0..tracks).rev().enumerate() {
        let id = 10 + 10 * t;
        let mut n = vec![json!({"id": 1, "type": "output"})];
        n.extend(track(t, id));
        let alone =
            graph(json!({"version": 1, "nodes": n, "connections": [[id, id + 1], [id + 1, id + 2], [id + 2, 1]]}));
        let (out, _) = render_threads(&alone, 2, 4000, 128, 1);
        for (w, o) in want.iter_mut().zip(&out) {
            for (a, b) in w.iter_mut().zip(o) {
                *a = if k == 0 { *b } else { *a + *b };
            }
        }
    }
    for w in want.iter_mut() {
        for a in w.iter_mut() {
            *a *= 0.25;
        }
    }
    assert_eq!(bits(&got), bits(&want));
}

#[test]
fn meters_and_latency_are_the_same_on_every_thread_count() {
    // Big enough for the planner to split it (render_offline_threads plans).
    let desc = session(40);
    assert!(plan_parts(&desc, 2) >= 2);
    let req = OfflineRequest { sample_rate: 48000.0, frames: 24000, channels: 2, block_size: 128, input: vec![] };
    let one = render_offline_threads(&desc, &[], &req, None, 1).unwrap();
    assert!(one.latency > 0, "the lookahead limiters add latency");
    let mut want: Vec<_> = one.meters.iter().map(|(n, r)| (n.clone(), format!("{r:?}"))).collect();
    want.sort();
    assert_eq!(want.len(), 9, "master and eight track meters: {want:?}");
    for threads in [2, 3, 8] {
        let r = render_offline_threads(&desc, &[], &req, None, threads).unwrap();
        assert_eq!(r.latency, one.latency);
        let mut got: Vec<_> = r.meters.iter().map(|(n, r)| (n.clone(), format!("{r:?}"))).collect();
        got.sort();
        assert_eq!(got, want, "{threads} threads");
        let b =
            |x: &[Vec<f32>]| x.iter().map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>()).collect::<Vec<_>>();
        assert_eq!(b(&r.channels), b(&one.channels), "{threads} threads");
    }
}

#[test]
fn small_graphs_stay_on_one_thread() {
    let desc = graph(json!({"version": 1,
        "nodes": [{"id": 1, "type": "output"}, osc(2, 100.0, "saw"), osc(3, 200.0, "sine")],
        "connections": [[2, 1], [3, 1]]}));
    assert_eq!(plan_parts(&desc, 8), 1);
    let settings = RenderSettings { sample_rate: 48000.0, channels: 2, max_block: 128 };
    assert_eq!(OfflineGraph::compile(&desc, settings, &[], 8).unwrap().parts(), 1);
    assert_eq!(OfflineGraph::compile(&session(40), settings, &[], 2).unwrap().parts(), plan_parts(&session(40), 2));
    assert_eq!(plan_parts(&session(8), 8), 1, "eight tracks: less than two parts' work");
    assert!(plan_parts(&session(40), 2) >= 2);
    assert_eq!(plan_parts(&session(40), 1), 1);
}

#[test]
fn a_bad_graph_reports_the_same_error_on_every_thread_count() {
    let mut v = session(16);
    v.nodes.iter_mut().find(|n| n.id == 21).unwrap().params.insert("nope".into(), json!(1));
    let req = OfflineRequest { sample_rate: 48000.0, frames: 1000, channels: 2, block_size: 128, input: vec![] };
    let one = render_offline_threads(&v, &[], &req, None, 1).expect_err("refused");
    let four = render_offline_threads(&v, &[], &req, None, 4).expect_err("refused");
    assert_eq!(four.message, one.message);
    assert!(one.message.contains("unknown parameter 'nope'"), "{one}");
    let mut dup = session(16);
    dup.nodes.push(dup.nodes[5].clone());
    let e = render_offline_threads(&dup, &[], &req, None, 4).expect_err("refused");
    assert!(e.message.contains("two nodes have id"), "{e}");
    for bad in [0usize, 65] {
        let e = render_offline_threads(&session(4), &[], &req, None, bad).expect_err("refused");
        assert_eq!(e.kind, ErrorKind::Range);
        assert_eq!(e.message, format!("renderOffline: threads = {bad} is out of range [1, 64]"));
    }
}

#[test]
fn concurrent_renders_share_one_pool_of_named_threads() {
    let desc = std::sync::Arc::new(session(40));
    let want = render_threads(&desc, 2, 6000, 128, 1).0;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let d = desc.clone();
            std::thread::spawn(move || render_threads(&d, 2, 6000, 128, 2).0)
        })
        .collect();
    for r in runs {
        assert_eq!(bits(&r.join().unwrap()), bits(&want));
    }
    let names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| s.starts_with("ferrite-render-"))
                .collect()
        })
        .unwrap_or_default();
    if cfg!(target_os = "linux") {
        assert_eq!(names.len(), ferrite_engine::parallel::pool::pool_threads(), "{names:?}");
        // One per core but one: the render's own thread works too.
        assert_eq!(names.len(), ferrite_engine::parallel::default_threads().saturating_sub(1).max(1));
    }
}

#[test]
fn the_planner_splits_heavy_tracks_and_keeps_cheap_sources_whole() {
    // n tracks of `osc → [8-band eq] → gain → output`.
    let tracks = |n: u32, with_eq: bool| {
        let mut nodes = vec![json!({"id": 1, "type": "output"})];
        let mut conns = Vec::new();
        for t in 0..n {
            let id = 10 + 10 * t;
            nodes.push(osc(id, 55.0 + f64::from(t) * 11.0, "saw"));
            nodes.push(json!({"id": id + 2, "type": "gain", "params": {"gain": 1.0 / 64.0}}));
            if with_eq {
                nodes.push(eq_node(id + 1, 8, |b| ("peaking", 60.0 * (b as f64 + 1.0).powi(2), 1.0, 3.0)));
                conns.extend([json!([id, id + 1]), json!([id + 1, id + 2])]);
            } else {
                conns.push(json!([id, id + 2]));
            }
            conns.push(json!([id + 2, 1]));
        }
        graph(json!({"version": 1, "nodes": nodes, "connections": conns}))
    };
    // 64 oscillators with their gains: each would hand the mix a port of
    // its own for almost no work, so no parts of their own; two halves, the
    // first summing its own tracks, the second rendered with the mix.
    assert_eq!(plan_parts(&tracks(64, false), 8), 1);
    assert!(plan_presummed(&tracks(64, false)));
    assert!(plan_presummed(&tracks(16, false)));
    assert!(!plan_presummed(&tracks(15, false)), "less than two parts' components");
    // 16 EQ tracks: two parts of eight on two threads (no narrower parts
    // on more threads), eight tracks stay whole.
    assert_eq!(plan_parts(&tracks(16, true), 2), 2);
    assert_eq!(plan_parts(&tracks(16, true), 8), 2);
    assert_eq!(plan_parts(&tracks(8, true), 8), 1);
    // 64 of them: eight parts, however many threads.
    assert_eq!(plan_parts(&tracks(64, true), 2), 8);
    assert_eq!(plan_parts(&tracks(64, true), 16), 8);
}
