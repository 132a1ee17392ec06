//! Recording from the audio-thread half driven like a device callback:
//! punch in and out at exact frames, node sources (before a fader, inside a
//! fused chain) against independent references, recordings surviving or
//! losing their source across graph swaps, a vanished directory failing the
//! recording only, and no allocation on the audio thread while recordings
//! start and stop.

mod common;

use assert_no_alloc::{reset_violation_count, violation_count, AllocDisabler};
use common::graph;
use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::realtime::{
    engine_pair, AudioCore, EngineControl, RecordRequest, RecordResult, RecordSource, Recording,
};
use ferrite_engine::RenderSettings;
use ferrite_media::BitDepth;
use serde_json::json;
use std::path::{Path, PathBuf};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

const SR: f64 = 48000.0;

fn settings() -> RenderSettings {
    RenderSettings { sample_rate: SR, channels: 2, max_block: 128 }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrite-record-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn request(path: &Path, source: RecordSource, start: Option<u64>, end: Option<u64>) -> RecordRequest {
    RecordRequest { path: path.to_path_buf(), source, bit_depth: BitDepth::Float32, start_frame: start, end_frame: end }
}

/// Interleaved samples and channel count of a float WAV.
fn read_wav(path: &Path) -> (Vec<f32>, usize) {
    let mut r = hound::WavReader::open(path).unwrap();
    let ch = r.spec().channels as usize;
    (r.samples::<f32>().map(Result::unwrap).collect(), ch)
}

/// Renders callbacks of 256, 100, 1 and 37 frames (block boundaries fall
/// everywhere) until the transport reaches `until`.
fn run_until(core: &mut AudioCore, control: &mut EngineControl, until: u64) {
    let mut out = vec![0.0f32; 256 * 2];
    let mut k = 0;
    while control.shared().transport.position() < until {
        let frames = [256usize, 100, 1, 37][k % 4];
        core.render(&mut out[..frames * 2], &[], 0, frames, 2);
        control.collect_garbage();
        k += 1;
    }
}

/// Stops `rec` the way a running engine does: the request, then the audio
/// thread's next callback ends it (no frame of that callback is recorded).
fn stop(core: &mut AudioCore, rec: &mut Recording) -> Result<RecordResult, ferrite_engine::EngineError> {
    rec.request_stop();
    let mut out = [0.0f32; 2];
    core.render(&mut out, &[], 0, 1, 2);
    rec.stop()
}

/// A constant whose lane makes its value the transport frame, into the output.
fn frame_counter() -> ferrite_engine::GraphDesc {
    graph(json!({"version": 1, "nodes": [
        {"id": 0, "type": "output"}, {"id": 2, "type": "constant", "params": {"value": 0}}],
        "connections": [[2, 0]],
        "automation": [{"node": 2, "param": "value",
                        "points": [{"frame": 0, "value": 0}, {"frame": 1_000_000, "value": 1_000_000}]}]}))
}

#[test]
fn a_punched_recording_holds_exactly_the_frames_from_start_to_end() {
    let d = dir("punch");
    let (mut control, mut core, _m) = engine_pair(settings());
    control.set_graph(&frame_counter(), &[]).unwrap();
    run_until(&mut core, &mut control, 300);
    // Both punch points fall inside blocks and inside callbacks.
    let (start, end) = (1037u64, 9011u64);
    let out_path = d.join("out.wav");
    let node_path = d.join("node.wav");
    let mut rec = control.record(&request(&out_path, RecordSource::Output, Some(start), Some(end))).unwrap();
    let mut node = control.record(&request(&node_path, RecordSource::Node(2), Some(start), Some(end))).unwrap();
    run_until(&mut core, &mut control, end + 500);
    for (r, p) in [(rec.stop().unwrap(), &out_path), (node.stop().unwrap(), &node_path)] {
        assert_eq!(r.frames, end - start);
        assert_eq!(r.dropped_frames, 0);
        let (samples, ch) = read_wav(p);
        assert_eq!(ch, 2);
        assert_eq!(samples.len() as u64, (end - start) * 2);
        for (i, f) in samples.chunks(2).enumerate() {
            let want = (start + i as u64) as f32;
            assert_eq!(f, [want, want], "frame {i} of {}", p.display());
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_node_before_a_fader_records_the_pre_fader_signal() {
    let d = dir("prefader");
    let (mut control, mut core, _m) = engine_pair(settings());
    let desc = |fader: f64| {
        graph(json!({"version": 1, "nodes": [
            {"id": 0, "type": "output"},
            {"id": 2, "type": "oscillator", "params": {"frequency": 997, "amplitude": 0.3}, "options": {"type": "sine"}},
            {"id": 3, "type": "gain", "params": {"gain": fader}}],
            "connections": [[2, 3], [3, 0]]}))
    };
    control.set_graph(&desc(0.25), &[]).unwrap();
    let start = 500u64;
    let end = start + 20_000;
    let path = d.join("osc.wav");
    let mut rec = control.record(&request(&path, RecordSource::Node(2), Some(start), Some(end))).unwrap();
    run_until(&mut core, &mut control, start + 7000);
    // A new graph keeping the oscillator: the recording goes on, the oscillator keeps its phase.
    control.set_graph(&desc(0.1), &[]).unwrap();
    run_until(&mut core, &mut control, end + 100);
    let r = rec.stop().unwrap();
    assert_eq!((r.frames, r.dropped_frames), (end - start, 0));
    let (samples, _) = read_wav(&path);
    let w = 2.0 * std::f64::consts::PI * 997.0 / SR;
    let mut worst = 0.0f64;
    for (i, f) in samples.chunks(2).enumerate() {
        let want = 0.3 * (w * (start + i as u64) as f64).sin();
        for &x in f {
            worst = worst.max((x as f64 - want).abs());
        }
    }
    assert!(worst < 1e-6, "pre-fader samples differ from 0.3·sin by {worst}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// osc → four peaking biquads (one fused chain) → output.
fn chain(taps_to_output: usize) -> ferrite_engine::GraphDesc {
    let mut nodes = vec![
        json!({"id": 0, "type": "output"}),
        json!({"id": 2, "type": "oscillator", "params": {"frequency": 440, "amplitude": 0.3}, "options": {"type": "saw"}}),
    ];
    let mut conns = vec![];
    let mut prev = 2;
    for k in 0..taps_to_output {
        let id = 3 + k as u32;
        nodes.push(json!({"id": id, "type": "biquad",
            "params": {"frequency": 300.0 * (k + 1) as f64, "q": 1.5, "gainDb": 6}, "options": {"type": "peaking"}}));
        conns.push(json!([prev, id]));
        prev = id;
    }
    conns.push(json!([prev, 0]));
    graph(json!({"version": 1, "nodes": nodes, "connections": conns}))
}

#[test]
fn a_node_inside_a_fused_chain_records_what_the_chain_cut_there_outputs() {
    let d = dir("chain");
    let (mut control, mut core, _m) = engine_pair(settings());
    control.set_graph(&chain(4), &[]).unwrap();
    // Node 4 is the second biquad: absorbed into the fused chain unless tapped.
    let (start, end) = (0u64, 12_000u64);
    let path = d.join("mid.wav");
    let mut rec = control.record(&request(&path, RecordSource::Node(4), Some(start), Some(end))).unwrap();
    run_until(&mut core, &mut control, end);
    let r = rec.stop().unwrap();
    assert_eq!(r.frames, end - start);
    // Reference: the graph cut after node 4, compiled without any optimisation.
    let off = CompileOptions {
        batch: false,
        fuse: false,
        fold: false,
        mono: false,
        defer: false,
        twin: false,
        ..CompileOptions::default()
    };
    let mut reference = compile_with(&chain(2), settings(), &[], off).unwrap();
    let want = common::render_blocks(&mut reference, 0, end as usize, 128, &|_, _| 0.0, &mut |_, _| {});
    let (samples, _) = read_wav(&path);
    let mut worst = 0.0f64;
    for (i, f) in samples.chunks(2).enumerate() {
        for (c, &x) in f.iter().enumerate() {
            worst = worst.max((x as f64 - want[c][i]).abs());
        }
    }
    assert!(worst < 1e-6, "the tapped node differs from the cut graph by {worst}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_recording_whose_node_disappears_ends_cleanly_with_what_it_captured() {
    let d = dir("gone");
    let (mut control, mut core, _m) = engine_pair(settings());
    control.set_graph(&frame_counter(), &[]).unwrap();
    let path = d.join("gone.wav");
    let mut rec = control.record(&request(&path, RecordSource::Node(2), Some(0), None)).unwrap();
    run_until(&mut core, &mut control, 4000);
    let cut = control.shared().transport.position();
    control
        .set_graph(&graph(json!({"version": 1, "nodes": [{"id": 0, "type": "output"}], "connections": []})), &[])
        .unwrap();
    run_until(&mut core, &mut control, 8000);
    assert!(
        rec.is_done() || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            rec.is_done()
        }
    );
    assert!(rec.source_gone());
    let r = rec.stop().unwrap();
    assert_eq!(r.frames, cut);
    let (samples, _) = read_wav(&path);
    assert_eq!(samples.len() as u64, cut * 2);
    assert!(samples.chunks(2).enumerate().all(|(i, f)| f == [i as f32, i as f32]));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_path_that_cannot_be_created_is_refused_and_a_vanished_directory_fails_that_recording_only() {
    let d = dir("fail");
    let (mut control, mut core, _m) = engine_pair(settings());
    control.set_graph(&frame_counter(), &[]).unwrap();
    let missing = d.join("no-such-dir").join("x.wav");
    let e = control.record(&request(&missing, RecordSource::Output, None, None)).unwrap_err();
    assert!(e.message.starts_with("record: ") && e.message.contains("no-such-dir"), "{}", e.message);
    let e = control.record(&request(&d.join("x.wav"), RecordSource::Node(77), None, None)).unwrap_err();
    assert_eq!(e.kind, ferrite_engine::ErrorKind::Type);
    let e = control.record(&request(&d.join("x.wav"), RecordSource::Output, Some(10), Some(10))).unwrap_err();
    assert_eq!(e.kind, ferrite_engine::ErrorKind::Range);

    let sub = d.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let mut doomed = control.record(&request(&sub.join("a.wav"), RecordSource::Output, None, None)).unwrap();
    let mut fine = control
        .record(&RecordRequest {
            bit_depth: BitDepth::Int24,
            ..request(&d.join("b.flac"), RecordSource::Output, None, None)
        })
        .unwrap();
    run_until(&mut core, &mut control, 3000);
    std::fs::remove_dir_all(&sub).unwrap();
    run_until(&mut core, &mut control, 6000);
    let at = control.shared().transport.position();
    let e = stop(&mut core, &mut doomed).unwrap_err();
    assert!(e.message.contains("a.wav"), "{}", e.message);
    assert_eq!(stop(&mut core, &mut fine).unwrap().frames, at + 1);
    assert!(d.join("b.flac").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn recordings_start_and_stop_without_allocating_on_the_audio_thread() {
    let d = dir("noalloc");
    let (mut control, mut core, _m) = engine_pair(settings());
    control.set_graph(&chain(3), &[]).unwrap();
    let input = vec![0.25f32; 256 * 2];
    let mut running = Vec::new();
    let mut stopped = Vec::new();
    reset_violation_count();
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 400, |control, cb| {
        if cb % 20 == 0 {
            let source = match cb % 60 {
                0 => RecordSource::Output,
                20 => RecordSource::Input,
                _ => RecordSource::Node(3 + (cb as u32 / 60) % 3),
            };
            let path = d.join(format!("r{cb}.wav"));
            running.push(control.record(&request(&path, source, None, None)).unwrap());
        }
        if cb % 20 == 10 && running.len() > 2 {
            let r = running.remove(0);
            r.request_stop();
            stopped.push(r);
        }
        if cb == 200 {
            // A graph swap keeping every node: the node recordings go on.
            control.set_graph(&chain(3), &[]).unwrap();
        }
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.01);
    for mut r in stopped.into_iter().chain(running) {
        let res = stop(&mut core, &mut r).unwrap();
        assert!(res.frames > 0 && res.dropped_frames == 0, "{}: {res:?}", r.path().display());
    }
    std::fs::remove_dir_all(&d).unwrap();
}
