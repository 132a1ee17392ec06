//! The latency-bearing and dynamics processors through the whole engine
//! (`render_offline`), against references computed here: the limiter's
//! ceiling, the compressor's static curve, direct convolution.

mod common;

use ferrite_engine::desc::GraphDesc;
use ferrite_engine::{render_offline, OfflineRequest, OfflineResult};
use serde_json::{json, Value};

fn desc(v: Value) -> GraphDesc {
    GraphDesc::from_value(&v).expect("valid graph")
}

/// `source → effect → output`, nodes given as JSON.
fn chain(source: Value, effect: Value) -> GraphDesc {
    desc(json!({"version": 1,
        "nodes": [{"id": 0, "type": "output"}, source, effect],
        "connections": [[2, 3], [3, 0]]}))
}

fn render(g: &GraphDesc, sr: f64, frames: u64, block: usize, input: Vec<Vec<f32>>) -> OfflineResult {
    let req = OfflineRequest { sample_rate: sr, frames, channels: 2, block_size: block, input };
    render_offline(g, &[], &req, None).expect("render")
}

fn noise(n: usize, seed: u64, amp: f64) -> Vec<f32> {
    common::unit_noise(n, seed).into_iter().map(|v| (v * amp) as f32).collect()
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

// ───────────────────────────── limiter ─────────────────────────────

#[test]
fn the_limiter_holds_a_minus_1_dbfs_ceiling_on_a_plus_6_dbfs_sine() {
    let ceiling = 10f64.powf(-1.0 / 20.0);
    let amp = 10f64.powf(6.0 / 20.0);
    for (sr, freq, block) in [(48_000.0, 997.0, 128), (44_100.0, 61.0, 37), (48_000.0, 9_123.0, 1)] {
        let g = chain(
            json!({"id": 2, "type": "oscillator", "params": {"frequency": freq, "amplitude": amp}}),
            json!({"id": 3, "type": "limiter", "params": {"ceilingDb": -1, "lookaheadMs": 5, "releaseMs": 80}}),
        );
        let frames = (sr * 0.5) as usize;
        let r = render(&g, sr, frames as u64, block, vec![]);
        let mut peak = 0.0f64;
        for ch in &r.channels {
            for (n, &y) in ch.iter().enumerate() {
                assert!(f64::from(y).abs() <= ceiling, "{freq} Hz at {sr}: frame {n} = {y} exceeds {ceiling}");
                peak = peak.max(f64::from(y).abs());
            }
        }
        // It limits rather than mutes: once settled, the peak sits at the ceiling.
        assert!(db(peak) > -1.2, "{freq} Hz: peak {} dBFS", db(peak));
        let tail = &r.channels[0][frames / 2..];
        let tail_peak = tail.iter().fold(0.0f64, |m, &y| m.max(f64::from(y).abs()));
        assert!(db(tail_peak) > -1.5, "{freq} Hz: settled peak {} dBFS", db(tail_peak));
    }
}

#[test]
fn the_limiter_holds_its_ceiling_on_bursts_and_steps() {
    // Loud noise bursts after silence, a sudden DC step: the worst transients.
    let sr = 48_000.0;
    let ceiling = 10f64.powf(-1.0 / 20.0);
    let mut x = vec![0.0f32; 24_000];
    for (k, chunk) in x.chunks_mut(3000).enumerate() {
        let amp = [4.0, 0.5, 20.0, 0.0, 1.2, 8.0, 0.9, 3.0][k % 8];
        let burst = noise(1000, k as u64 + 3, amp);
        chunk[..1000].copy_from_slice(&burst);
        if k == 4 {
            chunk[1500..].fill(2.5);
        }
    }
    let g = desc(json!({"version": 1, "nodes": [
        {"id": 0, "type": "input"}, {"id": 1, "type": "output"},
        {"id": 2, "type": "limiter", "params": {"ceilingDb": -1, "lookaheadMs": 2, "releaseMs": 20}}],
        "connections": [[0, 2], [2, 1]]}));
    for block in [128, 37] {
        let r = render(&g, sr, x.len() as u64, block, vec![x.clone()]);
        for ch in &r.channels {
            assert!(ch.iter().all(|&y| f64::from(y).abs() <= ceiling));
        }
    }
}

// ──────────────────────────── compressor ───────────────────────────

/// The documented static curve (threshold `t`, ratio `r`, knee width `w`, dB).
fn curve(x: f64, t: f64, r: f64, w: f64) -> f64 {
    if w > 0.0 && (x - t).abs() <= w / 2.0 {
        x + (1.0 / r - 1.0) * (x - t + w / 2.0).powi(2) / (2.0 * w)
    } else if x > t {
        t + (x - t) / r
    } else {
        x
    }
}

/// Renders a one-second tone of sample peak `10^(level/20)` through a
/// compressor and returns the steady-state gain measured over its last 100 ms.
fn measured_gain_db(level_db: f64, comp: Value, tone: bool) -> f64 {
    let sr = 48_000.0;
    let a = 10f64.powf(level_db / 20.0);
    // The tone: a sampled sinusoid at fs/4 with phase π/4 (`a, a, -a, -a`),
    // whose every sample has the same magnitude, or a DC level.
    let n = 48_000;
    let x: Vec<f32> = (0..n).map(|i| if !tone || (i / 2) % 2 == 0 { a as f32 } else { -(a as f32) }).collect();
    let mut c = comp;
    c["id"] = json!(3);
    c["type"] = json!("compressor");
    let g = desc(json!({"version": 1, "nodes": [
        {"id": 0, "type": "input"}, {"id": 1, "type": "output"}, c],
        "connections": [[0, 3], [3, 1]]}));
    let r = render(&g, sr, n as u64, 128, vec![x.clone()]);
    let tail = n - 4800..n;
    let e_out: f64 = tail.clone().map(|i| f64::from(r.channels[0][i]).powi(2)).sum();
    let e_in: f64 = tail.map(|i| f64::from(x[i]).powi(2)).sum();
    10.0 * (e_out / e_in).log10()
}

#[test]
fn the_compressor_follows_its_static_curve() {
    let settings = [(-24.0, 4.0, 6.0, 0.0), (-12.0, 2.5, 0.0, 0.0), (-30.0, 10.0, 12.0, 3.0), (-6.0, 1.0, 6.0, 0.0)];
    for &(t, r, w, makeup) in &settings {
        let comp = json!({"params": {"thresholdDb": t, "ratio": r, "kneeDb": w, "makeupDb": makeup,
                                     "attackMs": 2, "releaseMs": 20}});
        for level in [-60.0, t - w / 2.0 - 1.0, t - w / 4.0, t, t + w / 3.0, t + w / 2.0 + 0.5, -3.0, 0.0, 6.0] {
            let want = curve(level, t, r, w) - level + makeup;
            for tone in [false, true] {
                let got = measured_gain_db(level, comp.clone(), tone);
                assert!(
                    (got - want).abs() < 1e-4,
                    "T {t} R {r} W {w} makeup {makeup}, input {level} dB ({}): gain {got} dB, curve says {want} dB",
                    if tone { "tone" } else { "dc" }
                );
            }
        }
    }
}

#[test]
fn the_compressor_defaults_are_minus_24_db_4_to_1_6_db_knee() {
    for level in [-40.0, -26.0, -24.0, -22.0, -10.0] {
        let got = measured_gain_db(level, json!({}), true);
        let want = curve(level, -24.0, 4.0, 6.0) - level;
        assert!((got - want).abs() < 1e-4, "input {level} dB: {got} vs {want}");
    }
}

#[test]
fn the_compressor_curve_is_continuous_through_the_knee() {
    // The reference itself: no jump at the knee edges (guards the test formula).
    for &(t, r, w) in &[(-24.0, 4.0, 6.0), (-30.0, 10.0, 12.0)] {
        for edge in [t - w / 2.0, t + w / 2.0] {
            let (lo, hi) = (curve(edge - 1e-9, t, r, w), curve(edge + 1e-9, t, r, w));
            assert!((lo - hi).abs() < 1e-6);
        }
    }
}

// ──────────────────────────── convolver ────────────────────────────

/// Direct convolution in f64: `y[n] = Σ h[k]·x[n-k]`, `n < frames`.
fn convolve(x: &[f32], h: &[f32], frames: usize) -> Vec<f64> {
    (0..frames)
        .map(|n| {
            let lo = n.saturating_sub(x.len().saturating_sub(1));
            (lo..=n.min(h.len() - 1)).map(|k| f64::from(h[k]) * f64::from(x[n - k])).sum()
        })
        .collect()
}

fn convolver_graph(ir: &[Vec<f32>], normalize: bool) -> GraphDesc {
    desc(json!({"version": 1, "nodes": [
        {"id": 0, "type": "input"}, {"id": 1, "type": "output"},
        {"id": 2, "type": "convolver", "options": {"ir": ir, "normalize": normalize}}],
        "connections": [[0, 2], [2, 1]]}))
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len());
    let mut worst = (0.0f64, 0usize);
    for (n, (&g, &w)) in got.iter().zip(want).enumerate() {
        let e = (f64::from(g) - w).abs();
        if e > worst.0 {
            worst = (e, n);
        }
    }
    // f32 output of values up to ~1: a few ulps plus FFT rounding.
    assert!(worst.0 < 1e-6, "{what}: worst error {} at frame {}", worst.0, worst.1);
    assert!(want.iter().any(|w| w.abs() > 0.1), "{what}: the reference is not trivial");
}

#[test]
fn convolution_with_a_mono_ir_equals_direct_convolution() {
    let sr = 48_000.0;
    // Short (head only), medium and long IRs: several partition sizes and counts.
    for (len, block) in [(40, 128), (1500, 128), (5000, 37), (777, 1)] {
        let ir = vec![noise(len, len as u64, 1.0 / (len as f64).sqrt())];
        let x = noise(3000, 11, 0.5);
        let frames = x.len() + len + 10;
        let r = render(&convolver_graph(&ir, false), sr, frames as u64, block, vec![x.clone()]);
        assert_eq!(r.latency, 0, "the convolver reports no latency");
        let want = convolve(&x, &ir[0], frames);
        for (c, ch) in r.channels.iter().enumerate() {
            assert_close(ch, &want, &format!("mono IR of {len} taps, channel {c}, block {block}"));
        }
    }
}

#[test]
fn convolution_with_a_stereo_ir_applies_each_channel_to_its_own() {
    let sr = 44_100.0;
    let len = 2300;
    let ir = vec![noise(len, 21, 0.03), noise(len, 22, 0.03)];
    let x = vec![noise(4000, 31, 0.6), noise(4000, 32, 0.6)];
    let frames = 4000 + len;
    for block in [128, 37] {
        let r = render(&convolver_graph(&ir, false), sr, frames as u64, block, x.clone());
        for c in 0..2 {
            let want = convolve(&x[c], &ir[c], frames);
            assert_close(&r.channels[c], &want, &format!("stereo IR, channel {c}, block {block}"));
        }
    }
}

#[test]
fn a_normalized_ir_is_scaled_to_unit_mean_channel_energy() {
    let sr = 48_000.0;
    let ir = vec![noise(900, 5, 0.2), noise(900, 6, 0.05)];
    let energy: f64 = ir.iter().flatten().map(|&h| f64::from(h).powi(2)).sum();
    let scale = 1.0 / (energy / 2.0).sqrt();
    let x = vec![noise(2000, 41, 0.5), noise(2000, 42, 0.5)];
    let frames = 2900;
    let r = render(&convolver_graph(&ir, true), sr, frames as u64, 128, x.clone());
    for c in 0..2 {
        let want: Vec<f64> = convolve(&x[c], &ir[c], frames).into_iter().map(|y| y * scale).collect();
        assert_close(&r.channels[c], &want, &format!("normalized stereo IR, channel {c}"));
    }
}

#[test]
fn a_convolver_beside_a_dry_path_stays_aligned() {
    // A unit impulse IR and a dry path: no latency, so one impulse of 2.
    let g = desc(json!({"version": 1, "nodes": [
        {"id": 0, "type": "input"}, {"id": 1, "type": "output"},
        {"id": 2, "type": "convolver", "options": {"ir": [[1.0]], "normalize": false}}],
        "connections": [[0, 2], [2, 1], [0, 1]]}));
    let mut x = vec![0.0f32; 500];
    x[33] = 0.5;
    let r = render(&g, 48_000.0, 500, 64, vec![x]);
    assert_eq!(r.latency, 0);
    for ch in &r.channels {
        let hits: Vec<(usize, f32)> = ch.iter().copied().enumerate().filter(|&(_, y)| y != 0.0).collect();
        assert_eq!(hits, vec![(33, 1.0)]);
    }
}

/// Buffer reuse in place (a node taking its first input's slot when that
/// input has no other later reader): fan-outs, joins and the render input
/// still see the right samples. Every path is a product of gains, so the
/// output is known exactly.
#[test]
fn in_place_buffers_keep_fan_outs_and_joins_exact() {
    // input ─┬→ g10(×2) ─┬→ g11(×3) → out
    //        │           └→ g12(×10) ─→ out
    //        └───────────────────────→ g13(×-1, joins input + g12) → out
    let g = desc(json!({"version": 1,
        "nodes": [{"id": 0, "type": "output"}, {"id": 1, "type": "input"},
            {"id": 10, "type": "gain", "params": {"gain": 2.0}},
            {"id": 11, "type": "gain", "params": {"gain": 3.0}},
            {"id": 12, "type": "gain", "params": {"gain": 10.0}},
            {"id": 13, "type": "gain", "params": {"gain": -1.0}}],
        "connections": [[1, 10], [10, 11], [11, 0], [10, 12], [12, 0], [1, 13], [12, 13], [13, 0]]}));
    let x = noise(1000, 5, 0.1);
    let r = render(&g, 48000.0, 1000, 64, vec![x.clone()]);
    for c in 0..2 {
        for (t, (&y, &v)) in r.channels[c].iter().zip(&x).enumerate() {
            let v = f64::from(v);
            // 6v + 20v - (v + 20v) = 5v
            let want = 6.0 * v + 20.0 * v - (v + 20.0 * v);
            assert!((f64::from(y) - want).abs() <= 1e-6, "channel {c} frame {t}: {y} vs {want}");
        }
    }
}

// ───────────────────────────── mixing ─────────────────────────────

#[test]
fn nine_sources_into_one_node_sum_to_the_sum_of_sines() {
    // Nine sine oscillators straight into the output: the first input is
    // copied, the next eight summed four at a time. Reference: the sum of the
    // sines computed here in f64.
    let fs = 48_000.0;
    let tones: Vec<(f64, f64)> = (0..9).map(|k| (110.0 * (k as f64 + 1.0) + 7.0, 0.05 + 0.01 * k as f64)).collect();
    let mut nodes = vec![json!({"id": 0, "type": "output"})];
    let mut conns = Vec::new();
    for (k, &(f, a)) in tones.iter().enumerate() {
        let id = 10 + k as u32;
        nodes.push(json!({"id": id, "type": "oscillator", "params": {"frequency": f, "amplitude": a}}));
        conns.push(json!([id, 0]));
    }
    let g = desc(json!({"version": 1, "nodes": nodes, "connections": conns}));
    for block in [128usize, 37] {
        let frames = 4_000usize;
        let r = render(&g, fs, frames as u64, block, vec![]);
        for ch in &r.channels {
            for (n, &y) in ch.iter().enumerate() {
                let want: f64 =
                    tones.iter().map(|&(f, a)| a * (2.0 * std::f64::consts::PI * f * n as f64 / fs).sin()).sum();
                assert!((f64::from(y) - want).abs() < 1e-6, "block {block} frame {n}: {y} vs {want}");
            }
        }
    }
}
