//! The noise, analyser and linear-phase EQ nodes through the whole engine:
//! block-size independence, the analyser's offline spectrum and its dB
//! reference, the EQ's latency compensated against a dry path, validation
//! errors naming node and option, and the real-time readers' hand-over.

mod common;

use ferrite_engine::desc::GraphDesc;
use ferrite_engine::realtime::engine_pair;
use ferrite_engine::{render_offline, ErrorKind, OfflineRequest, OfflineResult, RenderSettings};
use serde_json::{json, Value};

fn graph(nodes: Vec<Value>, connections: Value) -> GraphDesc {
    let mut all = vec![json!({"id": 0, "type": "input"}), json!({"id": 1, "type": "output"})];
    all.extend(nodes);
    GraphDesc::from_value(&json!({"version": 1, "nodes": all, "connections": connections})).expect("valid graph")
}

fn render(g: &GraphDesc, frames: u64, block: usize, input: Vec<Vec<f32>>) -> OfflineResult {
    let req = OfflineRequest { sample_rate: 48_000.0, frames, channels: 2, block_size: block, input };
    render_offline(g, &[], &req, None).expect("render")
}

fn error_of(g: &GraphDesc) -> (ErrorKind, String) {
    let req = OfflineRequest { sample_rate: 48_000.0, frames: 16, channels: 2, block_size: 16, input: vec![] };
    let e = render_offline(g, &[], &req, None).expect_err("refused");
    (e.kind, e.to_string())
}

#[test]
fn noise_renders_the_same_bits_at_every_block_size() {
    for color in ["white", "pink", "brown"] {
        let g = graph(
            vec![
                json!({"id": 2, "type": "noise", "params": {"amplitude": 0.5}, "options": {"color": color, "seed": 77}}),
            ],
            json!([[2, 1]]),
        );
        let reference = render(&g, 20_000, 1, vec![]);
        assert_eq!(reference.channels[0], reference.channels[1]);
        assert!(reference.channels[0].iter().any(|&v| v != 0.0));
        for block in [7, 128, 4096] {
            assert_eq!(render(&g, 20_000, block, vec![]).channels, reference.channels, "{color}, block {block}");
        }
    }
}

#[test]
fn noise_options_are_checked() {
    let bad = |opts: Value| error_of(&graph(vec![json!({"id": 2, "type": "noise", "options": opts})], json!([[2, 1]])));
    let (kind, msg) = bad(json!({"color": "blue"}));
    assert_eq!(kind, ErrorKind::Type);
    assert!(msg.contains("noise #2") && msg.contains("blue"), "{msg}");
    let (kind, msg) = bad(json!({"seed": 1.5}));
    assert_eq!(kind, ErrorKind::Range);
    assert!(msg.contains("noise #2") && msg.contains("'seed'"), "{msg}");
}

fn analyser_graph(options: Value) -> GraphDesc {
    graph(vec![json!({"id": 2, "type": "analyser", "options": options})], json!([[0, 2], [2, 1]]))
}

#[test]
fn the_offline_spectrum_reads_a_full_scale_sine_at_0_db() {
    let n = 2048usize;
    let bin = 100;
    let f = bin as f64 * 48_000.0 / n as f64;
    for (amp, want) in [(1.0f64, 0.0f64), (0.1, -20.0)] {
        let x: Vec<f32> =
            (0..48_000).map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / 48_000.0).sin()) as f32).collect();
        let r = render(&analyser_graph(json!({"name": "spec"})), 48_000, 128, vec![x.clone()]);
        // Passes through.
        assert_eq!(r.channels[0], x);
        let (name, s) = &r.spectra[0];
        assert_eq!(name, "spec");
        assert_eq!(s.frequencies.len(), n / 2 + 1);
        assert_eq!(s.frequencies[bin], f as f32);
        assert!((s.magnitudes_db[bin] as f64 - want).abs() < 0.1, "{} dB", s.magnitudes_db[bin]);
    }
}

#[test]
fn analyser_options_are_checked() {
    for size in [16, 1000, 65536] {
        let (kind, msg) = error_of(&analyser_graph(json!({"fftSize": size})));
        assert_eq!(kind, ErrorKind::Range);
        assert!(msg.contains("analyser #2") && msg.contains("'fftSize'"), "{msg}");
    }
    let (kind, msg) = error_of(&analyser_graph(json!({"smoothing": 1.5})));
    assert_eq!(kind, ErrorKind::Range);
    assert!(msg.contains("analyser #2") && msg.contains("'smoothing'"), "{msg}");
    let r = render(&analyser_graph(json!({})), 100, 64, vec![]);
    assert_eq!(r.spectra[0].0, "2");
    assert_eq!(r.spectra[0].1.magnitudes_db.len(), 1025);
}

fn lpeq(id: u32, length: Option<usize>, gain_db: f64) -> Value {
    let mut o = json!({"bands": [{"type": "peaking", "frequency": 1000, "q": 1, "gainDb": gain_db}]});
    if let Some(l) = length {
        o["length"] = json!(l);
    }
    json!({"id": id, "type": "linearPhaseEq", "options": o})
}

#[test]
fn a_dry_path_beside_the_linear_phase_eq_arrives_aligned() {
    // input -> lpeq (0 dB) -> output, and input -> output directly: the dry
    // path is delayed by the EQ's latency, so the sum is twice the input, delayed.
    let g = graph(vec![lpeq(2, None, 0.0)], json!([[0, 2], [2, 1], [0, 1]]));
    let x = common::unit_noise(10_000, 3).into_iter().map(|v| 0.25 * v as f32).collect::<Vec<f32>>();
    let r = render(&g, 10_000, 128, vec![x.clone()]);
    assert_eq!(r.latency, 2047);
    for (i, y) in r.channels[0].iter().enumerate() {
        let want = if i >= 2047 { 2.0 * x[i - 2047] } else { 0.0 };
        assert!((y - want).abs() < 1e-5, "frame {i}: {y} vs {want}");
    }
}

#[test]
fn linear_phase_eq_length_is_checked() {
    for length in [4096usize, 13, 65537] {
        let (kind, msg) = error_of(&graph(vec![lpeq(2, Some(length), 3.0)], json!([[0, 2], [2, 1]])));
        assert_eq!(kind, ErrorKind::Range);
        assert!(msg.contains("linearPhaseEq #2") && msg.contains("'length'"), "{msg}");
    }
    let bad_band = graph(
        vec![
            json!({"id": 2, "type": "linearPhaseEq", "options": {"bands": [{"type": "peaking", "frequency": 30000}]}}),
        ],
        json!([[0, 2], [2, 1]]),
    );
    let (kind, msg) = error_of(&bad_band);
    assert_eq!(kind, ErrorKind::Range);
    assert!(msg.contains("linearPhaseEq #2") && msg.contains("bands[0].frequency"), "{msg}");
}

#[test]
fn the_events_side_gets_each_analysers_reader_with_the_audio() {
    let (mut control, mut core, _meters) =
        engine_pair(RenderSettings { sample_rate: 48_000.0, channels: 2, max_block: 128 });
    let g = graph(
        vec![
            json!({"id": 2, "type": "oscillator", "params": {"frequency": 375.0, "amplitude": 0.5}}),
            json!({"id": 3, "type": "analyser", "options": {"name": "a", "fftSize": 1024, "smoothing": 0}}),
        ],
        json!([[2, 3], [3, 1]]),
    );
    control.set_graph(&g, &[]).unwrap();
    let readers = control.spectrum_readers();
    let mut out = vec![0.0f32; 128 * 2];
    for _ in 0..16 {
        core.render(&mut out, &[], 0, 128, 2);
    }
    let (generation, mut rs) = {
        let mut guard = readers.lock().unwrap();
        (guard.0, std::mem::take(&mut guard.1))
    };
    assert_eq!(generation, 1);
    assert_eq!(rs.len(), 1);
    let r = &mut rs[0];
    assert_eq!(r.name(), "a");
    r.drain();
    // 375 Hz is bin 8 of 1024 points at 48 kHz: amplitude 0.5 reads -6.02 dB.
    let db = r.analyse(&mut Vec::new());
    assert!((db[8] as f64 + 6.02).abs() < 0.05, "{}", db[8]);
    let wave = r.waveform();
    let phase = |i: usize| 0.5 * (2.0 * std::f64::consts::PI * 375.0 * (16 * 128 - 1024 + i) as f64 / 48_000.0).sin();
    assert!(wave.iter().enumerate().all(|(i, w)| (*w as f64 - phase(i)).abs() < 1e-5));
}
