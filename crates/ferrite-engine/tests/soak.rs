//! Soak: an audio thread named `ferrite-audio` renders continuously while the
//! control thread swaps 3000 varied graphs (nodes added and removed, paths
//! re-routed, a limiter switched in and out, a convolver, automation, meters)
//! and storms parameters. The audio side never allocates or frees
//! (`assert_no_alloc`), nothing leaks, resident memory does not grow, and the
//! control side's `collect_garbage` keeps up with the programs handed back.

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count, AllocDisabler};
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::realtime::engine_pair;
use ferrite_engine::RenderSettings;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

const SR: f64 = 48_000.0;
const SWAPS: usize = 3000;
const WARM_UP: usize = 300;

/// Resident set size in bytes, from `/proc/self/statm`.
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("resident pages");
    pages * 4096
}

/// Graph variant `k` (16 shapes): bit 0 a master limiter, bit 1 an
/// oscillator, bit 2 a re-routed delay path beside a limited dry path (so
/// compensation delays are handed over on swaps) and an automated biquad `q`,
/// bit 3 a convolver send with a meter. Nodes 1 (output), 2 (player),
/// 4 (biquad) and 5 (gain) are always there.
fn variant(k: usize) -> GraphDesc {
    let mut nodes = vec![
        json!({"id": 1, "type": "output"}),
        json!({"id": 2, "type": "player", "options": {"channels": {"buffer": 0}, "loop": true}}),
        json!({"id": 4, "type": "biquad", "params": {"frequency": 800 + 100 * k, "q": 1.5}, "options": {"type": "peaking"}}),
        json!({"id": 5, "type": "gain", "params": {"gain": 0.5}}),
    ];
    let mut conns: Vec<Value> = vec![];
    let mut automation: Vec<Value> = vec![];
    let master = if k & 1 != 0 {
        nodes.push(
            json!({"id": 10, "type": "limiter", "params": {"ceilingDb": -1, "lookaheadMs": 1.5 + (k % 3) as f64}}),
        );
        conns.push(json!([10, 1]));
        10
    } else {
        1
    };
    if k & 2 != 0 {
        nodes.push(json!({"id": 3, "type": "oscillator", "params": {"frequency": 220, "amplitude": 0.2}}));
        conns.push(json!([3, 5]));
    }
    if k & 4 != 0 {
        nodes.push(json!({"id": 6, "type": "delay", "params": {"frames": 300, "feedback": 0.3, "mix": 0.5}}));
        // A limiter on the parallel dry path: the other inputs of the gain get compensation delays.
        nodes.push(json!({"id": 12, "type": "limiter", "params": {"ceilingDb": 0, "lookaheadMs": 1}}));
        conns.extend([json!([2, 4]), json!([4, 6]), json!([6, 5]), json!([2, 12]), json!([12, 5])]);
        automation.push(json!({"node": 4, "param": "q", "points": [{"frame": 0, "value": 0.7}, {"frame": 96_000, "value": 4, "curve": "scurve"}]}));
    } else {
        conns.extend([json!([2, 4]), json!([4, 5])]);
    }
    conns.push(json!([5, master]));
    if k & 8 != 0 {
        let ir: Vec<f32> =
            (0..300).map(|i| 0.3 * (-(i as f32) / 60.0).exp() * if i % 2 == 0 { 1.0 } else { -0.5 }).collect();
        nodes.push(json!({"id": 7, "type": "convolver", "options": {"ir": [ir], "normalize": false}}));
        nodes.push(json!({"id": 8, "type": "meter", "options": {"name": "send"}}));
        conns.extend([json!([4, 7]), json!([7, 8]), json!([8, master])]);
    }
    GraphDesc::from_value(&json!({"version": 1, "nodes": nodes, "connections": conns, "automation": automation}))
        .expect("valid variant")
}

/// What the audio thread reports when it stops.
struct AudioReport {
    violations: u32,
    callbacks: u64,
    non_finite: u64,
    peak: f32,
}

#[test]
fn three_thousand_swaps_on_a_rendering_engine() {
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let (mut control, mut core, mut meters) = engine_pair(settings);
    control.shared().meter_period.store(1024, Ordering::Relaxed);
    let loop_buf: Vec<f32> = (0..4800).map(|i| (i as f32 * 0.013).sin() * 0.5).collect();
    let buffer: Arc<[Box<[f32]>]> = vec![loop_buf.into_boxed_slice()].into();
    let buffers = vec![buffer.clone()];
    let variants: Vec<GraphDesc> = (0..16).map(variant).collect();
    control.set_graph(&variants[0], &buffers).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let audio = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("ferrite-audio".into())
            .spawn(move || {
                // Odd sizes, as devices deliver them; every buffer is allocated here, before the loop.
                let sizes = [128usize, 100, 1, 37, 256, 64];
                let mut out = vec![0.0f32; 256 * 2];
                reset_violation_count();
                let mut report = AudioReport { violations: 0, callbacks: 0, non_finite: 0, peak: 0.0 };
                while !stop.load(Ordering::Acquire) {
                    let frames = sizes[(report.callbacks % sizes.len() as u64) as usize];
                    let buf = &mut out[..frames * 2];
                    assert_no_alloc(|| core.render(buf, &[], 0, frames, 2));
                    for &x in buf.iter() {
                        if x.is_finite() {
                            report.peak = report.peak.max(x.abs());
                        } else {
                            report.non_finite += 1;
                        }
                    }
                    report.callbacks += 1;
                    // Leave the CPU to the control side now and then, like a device would.
                    if report.callbacks.is_multiple_of(8) {
                        std::thread::yield_now();
                    }
                }
                report.violations = violation_count();
                (report, core)
            })
            .expect("spawn the audio thread")
    };

    let shared = control.shared().clone();
    let mut taken = 0usize;
    let mut garbage_wait = Duration::ZERO;
    let mut rss_before = 0;
    for swap in 0..WARM_UP + SWAPS {
        if swap == WARM_UP {
            control.collect_garbage();
            rss_before = resident_bytes();
        }
        let k = (swap * 7 + swap / 16) % 16;
        control.set_graph(&variants[k], &buffers).unwrap();
        // A parameter storm on the new graph: ramps, steps and changes at frames.
        let pos = shared.transport.position() as f64;
        for j in 0..12 {
            let v = 0.1 + 0.05 * ((swap + j) % 13) as f64;
            control.set_param(5, "gain", v, Some((j % 3) as f64), None).unwrap();
            control.set_param(4, "frequency", 300.0 + 40.0 * j as f64, None, Some(pos + 64.0 * j as f64)).unwrap();
            if k & 1 != 0 {
                control.set_param(10, "ceilingDb", -1.0 - (j % 4) as f64, Some(1.0), None).unwrap();
            }
            if k & 2 != 0 {
                control.set_param(3, "frequency", 110.0 * (1 + j % 5) as f64, None, None).unwrap();
            }
        }
        while meters.pop().is_ok() {}
        // Every third swap waits for the audio thread to take it (the others
        // may be overtaken: latest wins).
        if swap % 3 == 0 {
            let gen = swap as u64 + 2;
            let t0 = Instant::now();
            while shared.generation.load(Ordering::Acquire) < gen {
                assert!(t0.elapsed() < Duration::from_secs(20), "the audio thread stopped taking graphs");
                std::thread::yield_now();
            }
            garbage_wait += t0.elapsed();
            taken += 1;
        }
        control.collect_garbage();
    }
    // Let the audio thread take the last graph, then collect what it handed back.
    let last = (WARM_UP + SWAPS) as u64 + 1;
    let t0 = Instant::now();
    while shared.generation.load(Ordering::Acquire) < last {
        assert!(t0.elapsed() < Duration::from_secs(20), "the last graph was never taken");
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Release);
    let (report, core) = audio.join().expect("the audio thread panicked");
    control.collect_garbage();
    let rss_after = resident_bytes();

    assert_eq!(report.violations, 0, "the audio thread allocated or freed");
    assert_eq!(report.non_finite, 0, "non-finite output samples");
    assert!(report.peak > 0.01, "the engine produced sound (peak {})", report.peak);
    assert!(report.callbacks > taken as u64, "{} callbacks", report.callbacks);
    assert_eq!(shared.leaked_programs.load(Ordering::Relaxed), 0, "programs were leaked instead of handed back");
    assert_eq!(shared.dropped_messages.load(Ordering::Relaxed), 0, "control messages were dropped");
    // Every replaced program came back and was dropped. Left holding the
    // player's buffer: our two handles, the running program (in the audio
    // core), at most one program the core could not hand back yet, and at most
    // two overtaken programs in the triple buffer's spare slots. A leak or a
    // collector that falls behind would leave hundreds.
    let holders = Arc::strong_count(&buffer);
    assert!(holders <= 6, "{holders} holders of the player buffer: programs were not collected");
    drop(core);
    control.collect_garbage();
    let growth = rss_after as i64 - rss_before as i64;
    assert!(
        growth < 8 << 20,
        "resident memory grew by {} KiB over {SWAPS} swaps ({} → {} KiB)",
        growth / 1024,
        rss_before / 1024,
        rss_after / 1024
    );
    eprintln!(
        "soak: {} callbacks, {taken} swaps waited for ({:?}), resident {} → {} KiB, {holders} buffer holders",
        report.callbacks,
        garbage_wait,
        rss_before / 1024,
        rss_after / 1024
    );
}
