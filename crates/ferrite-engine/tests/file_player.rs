//! `filePlayer` in the engine: offline renders equal the file's decode at
//! the render's rate; in real time the audio thread does not allocate
//! across graph swaps, seeks and loops while it streams.

mod common;

use assert_no_alloc::{violation_count, AllocDisabler};
use common::graph;
use ferrite_engine::realtime::engine_pair;
use ferrite_engine::{render_offline, OfflineRequest, RenderSettings};
use ferrite_media::{decode_file, DecodeOptions};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

/// A 4 s stereo 44.1 kHz FLAC made by ffmpeg (two tones), once per test binary.
fn flac() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ferrite-engine-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tones.flac");
        let ok = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg("aevalsrc=0.5*sin(2*PI*997*t)|0.25*sin(2*PI*440*t):s=44100:d=4")
            .args(["-c:a", "flac"])
            .arg(&p)
            .status()
            .expect("ffmpeg is needed for the file tests (scripts/setup.sh installs it)");
        assert!(ok.success());
        p
    })
    .clone()
}

fn player_graph(path: &std::path::Path, gain: f64, looped: bool) -> ferrite_engine::GraphDesc {
    graph(json!({"version": 1, "nodes": [
        {"id": 0, "type": "output"},
        {"id": 1, "type": "filePlayer", "params": {"gain": gain},
         "options": {"path": path.to_str().unwrap(), "startFrame": 500, "offsetFrames": 2000, "loop": looped}}],
        "connections": [[1, 0]]}))
}

#[test]
fn an_offline_file_player_plays_the_decode_at_the_render_rate() {
    let p = flac();
    let want = decode_file(&p, DecodeOptions { sample_rate: Some(48000), ..Default::default() }).unwrap().channels;
    let frames = 48000 * 5;
    let req = |block| OfflineRequest { sample_rate: 48000.0, frames, channels: 2, block_size: block, input: vec![] };
    let desc = player_graph(&p, 0.5, false);
    let a = render_offline(&desc, &[], &req(128), None).unwrap().channels;
    let b = render_offline(&desc, &[], &req(37), None).unwrap().channels;
    assert_eq!(a, b, "the block size does not change the result");
    for c in 0..2 {
        assert!(a[c][..500].iter().all(|&x| x == 0.0), "silence before startFrame");
        let len = want[c].len() - 2000;
        for i in 0..len {
            let expect = (f64::from(want[c][2000 + i]) * 0.5) as f32;
            assert!(
                (a[c][500 + i] - expect).abs() <= 1e-7,
                "channel {c} frame {}: {} vs {expect}",
                500 + i,
                a[c][500 + i]
            );
        }
        assert!(a[c][500 + len..].iter().all(|&x| x == 0.0), "silence after the end");
    }
    // A missing file is refused by name when the graph is built.
    let bad = player_graph(std::path::Path::new("/nonexistent/take.flac"), 1.0, false);
    let e = render_offline(&bad, &[], &req(128), None).unwrap_err();
    assert!(e.message.contains("filePlayer #1") && e.message.contains("/nonexistent/take.flac"), "{}", e.message);
}

#[test]
fn a_streaming_file_player_does_not_allocate_across_swaps_seeks_and_loops() {
    let p = flac();
    let (mut control, mut core, _meters) =
        engine_pair(RenderSettings { sample_rate: 48000.0, channels: 2, max_block: 256 });
    control.set_graph(&player_graph(&p, 1.0, true), &[]).unwrap();
    let input = vec![0.0f32; 256 * 2];
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 1200, |control, cb| {
        if cb % 100 == 50 {
            // The same player (id 1) in a new graph with another gain: it keeps its stream.
            control.set_graph(&player_graph(&p, 0.5 + (cb % 3) as f64 * 0.2, true), &[]).unwrap();
        }
        if cb % 300 == 299 {
            control.shared().transport.seek(0); // back to the start: served from the preloaded head
        }
        if cb == 700 {
            control.shared().transport.set_loop(1000, Some(40_000));
        }
        control.set_param(1, "gain", 0.3 + 0.1 * (cb % 5) as f64, Some(2.0), None).unwrap();
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.05, "the file was heard ({heard})");
}
