//! Issue 26, item 3 (teardown): a cancel flag set while an offline render,
//! an analysis or a normalisation runs stops it at its next span or chunk,
//! with an error and no file left behind.

use ferrite_engine::error::ErrorKind;
use ferrite_engine::files::{analyze_with, normalize_file_with, NormalizeRequest};
use ferrite_engine::wav::{write_wav, BitDepth};
use ferrite_engine::{render_offline_with, GraphDesc, OfflineRequest};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An oscillator into the output.
fn tone() -> GraphDesc {
    GraphDesc::from_value(&json!({"version": 1, "nodes": [
        {"id": 0, "type": "input"}, {"id": 1, "type": "output"},
        {"id": 2, "type": "oscillator", "params": {"frequency": 440.0, "amplitude": 0.3}}],
        "connections": [[2, 1]]}))
    .unwrap()
}

#[test]
fn a_render_cancelled_midway_stops_at_the_next_span_with_an_error() {
    // Ten minutes of audio; the flag is set once a first span is done.
    let req = OfflineRequest { sample_rate: 48000.0, frames: 48000 * 600, channels: 1, block_size: 128, input: vec![] };
    let (progress, cancel) = (AtomicU64::new(0), AtomicBool::new(false));
    let e = std::thread::scope(|s| {
        s.spawn(|| {
            while progress.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
            cancel.store(true, Ordering::Release);
        });
        render_offline_with(&tone(), &[], &req, Some(&progress), Some(&cancel), 1).unwrap_err()
    });
    assert_eq!(e.kind, ErrorKind::Other);
    assert!(e.message.starts_with("renderOffline: cancelled at frame "), "{e}");
    let done = progress.load(Ordering::Relaxed);
    assert!(done > 0 && done < req.frames, "stopped at {done} of {}", req.frames);
    // Not cancelled: the same call renders every frame.
    let short = OfflineRequest { frames: 4800, ..req };
    let r = render_offline_with(&tone(), &[], &short, None, Some(&AtomicBool::new(false)), 1).unwrap();
    assert_eq!(r.channels[0].len(), 4800);
}

#[test]
fn a_cancelled_analysis_or_normalisation_stops_and_leaves_no_file() {
    let d = std::env::temp_dir().join(format!("ferrite-cancel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let input = d.join("in.wav");
    let x: Vec<f32> = (0..96000).map(|i| (0.2 * (i as f64 * 0.05).sin()) as f32).collect();
    write_wav(&input, &[&x], 48000, BitDepth::Int16).unwrap();
    let cancelled = AtomicBool::new(true);
    let e = analyze_with(&input, |_| (), &cancelled).unwrap_err();
    assert!(e.message.contains("in.wav") && e.message.ends_with("cancelled"), "{e}");
    assert!(analyze_with(&input, |_| (), &AtomicBool::new(false)).is_ok());
    let req = NormalizeRequest {
        input: input.clone(),
        output: d.join("out.wav"),
        target_lufs: -20.0,
        true_peak_db: -1.0,
        depth: BitDepth::Int16,
        sample_rate: None,
    };
    let e = normalize_file_with(&req, &cancelled).unwrap_err();
    assert!(e.message.starts_with("analyzeFile: ") && e.message.ends_with("cancelled"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(left, vec!["in.wav".to_string()]);
    std::fs::remove_dir_all(&d).unwrap();
}
