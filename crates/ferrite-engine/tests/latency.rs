//! Plugin delay compensation through the whole engine: parallel paths of
//! different latency meet aligned, the reported latency is the slowest path's
//! sum, a musical delay is not latency, a meter adds none, and the
//! compensation delays do not depend on how a render is split into blocks.
//!
//! Every expectation is computed here from the limiter's documented latency,
//! `round(lookaheadMs · fs / 1000)` frames, and from the input signal itself.

mod common;

use ferrite_engine::desc::GraphDesc;
use ferrite_engine::realtime::engine_pair;
use ferrite_engine::{compile, render_offline, OfflineRequest, OfflineResult, RenderSettings};
use serde_json::{json, Value};

/// The limiter's latency in frames, as documented (an independent formula).
fn la(ms: f64, sr: f64) -> usize {
    (ms * sr / 1000.0).round() as usize
}

fn desc(v: Value) -> GraphDesc {
    GraphDesc::from_value(&v).expect("valid graph")
}

/// A limiter that never touches a signal below 0 dBFS.
fn limiter(id: u32, lookahead_ms: f64) -> Value {
    json!({"id": id, "type": "limiter", "params": {"ceilingDb": 0, "lookaheadMs": lookahead_ms, "releaseMs": 50}})
}

fn graph(nodes: Vec<Value>, connections: Value) -> GraphDesc {
    let mut all = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    all.extend(nodes);
    desc(json!({"version": 1, "nodes": all, "connections": connections}))
}

fn render(g: &GraphDesc, sr: f64, frames: u64, block: usize, input: &[f32]) -> OfflineResult {
    let req = OfflineRequest { sample_rate: sr, frames, channels: 2, block_size: block, input: vec![input.to_vec()] };
    render_offline(g, &[], &req, None).expect("render")
}

fn impulse(n: usize, at: usize, amp: f32) -> Vec<f32> {
    let mut v = vec![0.0; n];
    v[at] = amp;
    v
}

/// Asserts that both channels hold exactly `amp` at `at` and 0 everywhere else.
fn assert_one_impulse(r: &OfflineResult, at: usize, amp: f32) {
    for (c, ch) in r.channels.iter().enumerate() {
        let hits: Vec<(usize, f32)> = ch.iter().copied().enumerate().filter(|&(_, x)| x != 0.0).collect();
        assert_eq!(hits, vec![(at, amp)], "channel {c}: want one impulse {amp} at frame {at}");
    }
}

/// Deterministic noise in [-amp, amp).
fn noise(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    common::unit_noise(n, seed).into_iter().map(|v| v as f32 * amp).collect()
}

#[test]
fn a_limiter_at_0_dbfs_passes_a_signal_below_the_ceiling_unchanged_but_late() {
    let sr = 48_000.0;
    let g = graph(vec![limiter(2, 5.0)], json!([[0, 2], [2, 1]]));
    let x = noise(4000, 1, 0.99);
    let r = render(&g, sr, 4000, 128, &x);
    let l = la(5.0, sr);
    assert_eq!(r.latency, l);
    for ch in &r.channels {
        assert!(ch[..l].iter().all(|&y| y == 0.0));
        for n in l..4000 {
            assert_eq!(ch[n], x[n - l], "frame {n}");
        }
    }
}

#[test]
fn dry_and_limiter_paths_sum_to_one_aligned_impulse() {
    let sr = 48_000.0;
    let g = graph(vec![limiter(2, 5.0)], json!([[0, 1], [0, 2], [2, 1]]));
    let x = impulse(2000, 100, 1.0);
    let r = render(&g, sr, 2000, 128, &x);
    let l = la(5.0, sr);
    assert_eq!(l, 240);
    assert_eq!(r.latency, l, "reported latency = the lookahead");
    assert_one_impulse(&r, 100 + l, 2.0);
}

#[test]
fn an_impulse_at_frame_zero_arrives_at_the_reported_latency() {
    let sr = 48_000.0;
    let g = graph(vec![limiter(2, 3.0)], json!([[0, 2], [2, 1], [0, 1]]));
    let r = render(&g, sr, 1000, 64, &impulse(1000, 0, 1.0));
    assert_eq!(r.latency, la(3.0, sr));
    assert_one_impulse(&r, r.latency, 2.0);
}

#[test]
fn nested_latencies_align() {
    // in → L(1 ms) → L(2.5 ms) → out
    // in → L(0.7 ms)          → out
    // in → L(3 ms)            → out
    // in                      → out
    // in → L(0.3 ms) → gain ← in     (paths of 0.3 ms and 0 meet inside)
    //                  gain → L(1.1 ms) → out
    let sr = 48_000.0;
    let nodes = vec![
        limiter(2, 1.0),
        limiter(3, 2.5),
        limiter(4, 0.7),
        limiter(5, 3.0),
        limiter(6, 0.3),
        json!({"id": 7, "type": "gain"}),
        limiter(8, 1.1),
    ];
    let conns =
        json!([[0, 2], [2, 3], [3, 1], [0, 4], [4, 1], [0, 5], [5, 1], [0, 1], [0, 6], [6, 7], [0, 7], [7, 8], [8, 1]]);
    let g = graph(nodes, conns);
    let want =
        [la(1.0, sr) + la(2.5, sr), la(0.7, sr), la(3.0, sr), 0, la(0.3, sr) + la(1.1, sr)].into_iter().max().unwrap();
    let amp = 0.125f32;
    let r = render(&g, sr, 2000, 128, &impulse(2000, 10, amp));
    assert_eq!(r.latency, want);
    // Six paths reach the output: 1+2.5, 0.7, 3, dry, and (0.3 + dry) through 1.1.
    assert_one_impulse(&r, 10 + want, 6.0 * amp);
}

#[test]
fn latency_is_the_sum_along_the_slowest_path() {
    // Two short limiters in series beside one longer limiter: the series wins
    // although its single lookahead is shorter.
    for sr in [44_100.0, 48_000.0, 96_000.0] {
        let g = graph(
            vec![limiter(2, 0.35), limiter(3, 0.35), limiter(4, 0.6)],
            json!([[0, 2], [2, 3], [3, 1], [0, 4], [4, 1]]),
        );
        let want = (2 * la(0.35, sr)).max(la(0.6, sr));
        let r = render(&g, sr, 600, 128, &impulse(600, 5, 0.25));
        assert_eq!(r.latency, want, "at {sr} Hz");
        assert_one_impulse(&r, 5 + want, 0.5);
        // The compiler reports the same figure the render shows.
        let settings = RenderSettings { sample_rate: sr, channels: 2, max_block: 128 };
        assert_eq!(compile(&g, settings, &[]).unwrap().graph.latency(), want);
    }
    // Each node rounds its own lookahead: at 44.1 kHz two 0.35 ms limiters
    // are 2 × 15 = 30 frames, not round(0.7 ms) = 31.
    assert_eq!(2 * la(0.35, 44_100.0), 30);
    let g = graph(vec![limiter(2, 0.35), limiter(3, 0.35)], json!([[0, 2], [2, 3], [3, 1]]));
    assert_eq!(render(&g, 44_100.0, 64, 64, &[0.0]).latency, 30);
}

#[test]
fn latency_depends_on_the_sample_rate() {
    let g = graph(vec![limiter(2, 5.0)], json!([[0, 2], [2, 1], [0, 1]]));
    let r441 = render(&g, 44_100.0, 1000, 128, &impulse(1000, 0, 1.0));
    let r48 = render(&g, 48_000.0, 1000, 128, &impulse(1000, 0, 1.0));
    assert_eq!(r441.latency, la(5.0, 44_100.0));
    assert_eq!(r441.latency, 221); // 220.5 rounds up
    assert_eq!(r48.latency, 240);
    assert_one_impulse(&r441, 221, 2.0);
    assert_one_impulse(&r48, 240, 2.0);
}

#[test]
fn a_musical_delay_is_not_latency_and_is_not_compensated() {
    let sr = 48_000.0;
    // Dry beside a 100-frame delay: two impulses, no reported latency.
    let g = graph(vec![json!({"id": 2, "type": "delay", "params": {"frames": 100}})], json!([[0, 2], [2, 1], [0, 1]]));
    let r = render(&g, sr, 1000, 128, &impulse(1000, 7, 1.0));
    assert_eq!(r.latency, 0);
    for ch in &r.channels {
        let hits: Vec<(usize, f32)> = ch.iter().copied().enumerate().filter(|&(_, x)| x != 0.0).collect();
        assert_eq!(hits, vec![(7, 1.0), (107, 1.0)]);
    }
    // A delay beside a limiter: the limiter's path sets the latency, and the
    // delay's path is compensated like a dry one (its 100 frames stay musical).
    let g = graph(
        vec![json!({"id": 2, "type": "delay", "params": {"frames": 100}}), limiter(3, 5.0)],
        json!([[0, 2], [2, 1], [0, 3], [3, 1]]),
    );
    let r = render(&g, sr, 1000, 128, &impulse(1000, 7, 1.0));
    let l = la(5.0, sr);
    assert_eq!(r.latency, l);
    for ch in &r.channels {
        let hits: Vec<(usize, f32)> = ch.iter().copied().enumerate().filter(|&(_, x)| x != 0.0).collect();
        assert_eq!(hits, vec![(7 + l, 1.0), (7 + l + 100, 1.0)]);
    }
    // A delay longer than the limiter's lookahead still is no latency.
    let g = graph(
        vec![json!({"id": 2, "type": "delay", "params": {"frames": 500}}), limiter(3, 1.0)],
        json!([[0, 2], [2, 1], [0, 3], [3, 1]]),
    );
    assert_eq!(render(&g, sr, 64, 64, &[0.0]).latency, la(1.0, sr));
}

#[test]
fn a_meter_tap_adds_no_latency() {
    let sr = 48_000.0;
    let g = graph(vec![json!({"id": 2, "type": "meter", "options": {"name": "m"}})], json!([[0, 2], [2, 1], [0, 1]]));
    let r = render(&g, sr, 500, 128, &impulse(500, 3, 0.5));
    assert_eq!(r.latency, 0);
    assert_one_impulse(&r, 3, 1.0);
    // A meter after a limiter beside a dry path: the limiter's latency only.
    let g = graph(
        vec![limiter(2, 2.0), json!({"id": 3, "type": "meter", "options": {"name": "m"}})],
        json!([[0, 2], [2, 3], [3, 1], [0, 1]]),
    );
    let r = render(&g, sr, 500, 128, &impulse(500, 3, 0.5));
    assert_eq!(r.latency, la(2.0, sr));
    assert_one_impulse(&r, 3 + la(2.0, sr), 1.0);
    assert_eq!(r.meters.len(), 1);
}

#[test]
fn compensation_does_not_depend_on_the_block_size() {
    let sr = 48_000.0;
    let nodes = vec![
        limiter(2, 1.0),
        limiter(3, 0.5),
        json!({"id": 4, "type": "gain", "params": {"gain": 0.5}}),
        limiter(5, 0.2),
    ];
    // in → L(1) → out; in → L(0.5) → gain → out; in → out; in → L(0.2) → gain
    let conns = json!([[0, 2], [2, 1], [0, 3], [3, 4], [4, 1], [0, 1], [0, 5], [5, 4]]);
    let g = graph(nodes, conns);
    let n = 5000;
    let x = noise(n, 7, 0.2);
    let runs: Vec<OfflineResult> = [1usize, 37, 128, 64].iter().map(|&b| render(&g, sr, n as u64, b, &x)).collect();
    for r in &runs[1..] {
        assert_eq!(r.channels, runs[0].channels, "block size changed the output");
    }
    // And the output is what alignment predicts: (1 + 0.5·2 + 1)·x delayed by L(1 ms).
    let l = la(1.0, sr);
    assert_eq!(runs[0].latency, l);
    for ch in &runs[0].channels {
        for k in 0..n {
            let want = if k >= l { 3.0 * f64::from(x[k - l]) } else { 0.0 };
            assert!((f64::from(ch[k]) - want).abs() <= 1e-6, "frame {k}: {} vs {want}", ch[k]);
        }
    }
}

#[test]
fn a_sub_frame_lookahead_is_aligned_with_what_is_reported() {
    // 0.005 ms is a quarter of a frame at 48 kHz: whatever the limiter
    // reports, the paths must meet aligned at that frame.
    let sr = 48_000.0;
    let g = graph(vec![limiter(2, 0.005)], json!([[0, 2], [2, 1], [0, 1]]));
    let r = render(&g, sr, 300, 128, &impulse(300, 20, 1.0));
    assert!(r.latency <= 1, "latency {}", r.latency);
    assert_one_impulse(&r, 20 + r.latency, 2.0);
}

#[test]
fn the_real_time_engine_reports_and_compensates_the_same_latency() {
    let sr = 48_000.0;
    let g = graph(
        vec![
            limiter(2, 1.0),
            limiter(3, 1.5),
            json!({"id": 4, "type": "player", "options": {"channels": [[0.0, 0.0, 0.5]]}}),
        ],
        json!([[4, 2], [2, 3], [3, 1], [4, 1]]),
    );
    let (mut control, mut core, _m) = engine_pair(RenderSettings { sample_rate: sr, channels: 2, max_block: 128 });
    control.set_graph(&g, &[]).unwrap();
    let want = la(1.0, sr) + la(1.5, sr);
    assert_eq!(control.latency(), want);
    let mut got = Vec::new();
    let mut out = vec![0.0f32; 2 * 100];
    for _ in 0..5 {
        core.render(&mut out, &[], 0, 100, 2);
        got.extend(out.chunks(2).map(|f| f[0]));
    }
    let hits: Vec<(usize, f32)> = got.iter().copied().enumerate().filter(|&(_, x)| x != 0.0).collect();
    assert_eq!(hits, vec![(2 + want, 1.0)]);
}

#[test]
fn compensation_delays_keep_their_state_across_a_swap() {
    // An impulse is inside both the dry path's compensation delay and the
    // limiter's lookahead when the same graph is published again: the
    // persistent nodes and the unchanged path keep their state, so it still
    // arrives as one impulse of 2.
    let sr = 48_000.0;
    let mut buf = vec![0.0f64; 1000];
    buf[100] = 1.0;
    let g = graph(
        vec![limiter(2, 5.0), json!({"id": 4, "type": "player", "options": {"channels": [buf]}})],
        json!([[4, 2], [2, 1], [4, 1]]),
    );
    let l = la(5.0, sr);
    let (mut control, mut core, _m) = engine_pair(RenderSettings { sample_rate: sr, channels: 2, max_block: 128 });
    control.set_graph(&g, &[]).unwrap();
    let mut got = Vec::new();
    let mut out = vec![0.0f32; 2 * 100];
    for block in 0..8 {
        if block == 2 {
            // Frame 200: the impulse (frame 100) is on its way through both paths.
            control.set_graph(&g, &[]).unwrap();
        }
        core.render(&mut out, &[], 0, 100, 2);
        got.extend(out.chunks(2).map(|f| f[0]));
    }
    let hits: Vec<(usize, f32)> = got.iter().copied().enumerate().filter(|&(_, x)| x != 0.0).collect();
    assert_eq!(hits, vec![(100 + l, 2.0)], "the swap lost what was inside a compensation delay");
}

#[test]
fn republishing_the_same_graph_changes_no_sample() {
    // Every persistent node and every unchanged compensation delay keeps its
    // state, so swapping in the same graph again and again is inaudible: the
    // real-time output equals an offline render without swaps.
    let sr = 48_000.0;
    let ir: Vec<f32> = noise(700, 3, 0.05);
    let g = graph(
        vec![
            json!({"id": 2, "type": "player", "options": {"channels": {"buffer": 0}, "loop": true}}),
            json!({"id": 3, "type": "convolver", "options": {"ir": [ir], "normalize": false}}),
            limiter(4, 2.0),
            json!({"id": 5, "type": "biquad", "params": {"frequency": 900, "q": 3}, "options": {"type": "peaking"}}),
            json!({"id": 6, "type": "delay", "params": {"frames": 333, "feedback": 0.4, "mix": 0.5}}),
            json!({"id": 7, "type": "oscillator", "params": {"frequency": 330, "amplitude": 0.1}}),
            limiter(8, 0.7),
        ],
        json!([[2, 3], [3, 1], [2, 4], [4, 5], [5, 1], [2, 6], [6, 8], [8, 1], [7, 1]]),
    );
    let buffers = vec![std::sync::Arc::<[Box<[f32]>]>::from(vec![noise(3000, 9, 0.3).into_boxed_slice()])];
    let frames = 6000usize;
    let req = OfflineRequest { sample_rate: sr, frames: frames as u64, channels: 2, block_size: 128, input: vec![] };
    let want = render_offline(&g, &buffers, &req, None).unwrap();
    let (mut control, mut core, _m) = engine_pair(RenderSettings { sample_rate: sr, channels: 2, max_block: 128 });
    control.set_graph(&g, &buffers).unwrap();
    let mut got = Vec::new();
    let mut pos = 0;
    for (k, &n) in [100usize, 37, 128, 1, 250].iter().cycle().enumerate() {
        if pos >= frames {
            break;
        }
        if k % 3 == 2 {
            control.set_graph(&g, &buffers).unwrap();
        }
        let n = n.min(frames - pos);
        let mut out = vec![0.0f32; 2 * n];
        core.render(&mut out, &[], 0, n, 2);
        got.extend(out.chunks(2).map(|f| f[0]));
        pos += n;
        control.collect_garbage();
    }
    let first_diff = got.iter().zip(&want.channels[0]).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "a swap changed the output");
}
