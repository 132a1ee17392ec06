//! Issue 26, items 4 and 5: files are never lost or torn, headers hold what
//! is written, loudness is refused where BS.1770 is undefined and
//! non-finite input samples are refused everywhere.

use ferrite_engine::error::ErrorKind;
use ferrite_engine::files::{
    analyze_file, normalize_file, render_to_file, FileRenderRequest, NormalizeRequest, RenderInput,
};
use ferrite_engine::wav::{read_wav, write_wav, BitDepth};
use ferrite_engine::{render_offline, GraphDesc, OfflineRequest};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrite-files-hardening-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Files in `d` other than `keep`: a leftover temporary file would show here.
fn others(d: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

fn sine(freq: f64, amp: f64, rate: f64, n: usize) -> Vec<f32> {
    (0..n).map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate).sin()) as f32).collect()
}

/// In a child process whose file size limit is 64 KiB (SIGXFSZ ignored, so
/// the write fails with EFBIG as on a full disk), rewrites `FERRITE_TORN`
/// with 4 MB of audio; the parent checks what is left.
#[test]
fn a_failed_write_leaves_the_original_untouched() {
    if let Ok(target) = std::env::var("FERRITE_TORN") {
        let big = vec![0.25f32; 1 << 20];
        let e = write_wav(Path::new(&target), &[&big, &big], 48000, BitDepth::Int16).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Other, "{e}");
        assert!(e.message.starts_with("writeWav: ") && e.message.contains(&target), "{e}");
        println!("CHILD-REFUSED: {e}");
        return;
    }
    if !cfg!(target_os = "linux") {
        return;
    }
    let d = dir("torn");
    let p = d.join("take.wav");
    let original = sine(440.0, 0.5, 48000.0, 4800);
    write_wav(&p, &[&original], 48000, BitDepth::Int24).unwrap();
    let before = std::fs::read(&p).unwrap();
    assert!(before.len() < 64 * 1024);
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            "trap '' XFSZ; ulimit -f 128; exec \"$0\" --exact a_failed_write_leaves_the_original_untouched --nocapture",
        )
        .arg(&exe)
        .env("FERRITE_TORN", &p)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD-REFUSED"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&p).unwrap(), before, "the original is byte for byte what it was");
    assert_eq!(others(&d, &["take.wav"]), Vec::<String>::new(), "no temporary file is left");
    let back = read_wav(&p).unwrap();
    assert_eq!(back.channels[0].len(), 4800);
    assert!((back.channels[0][100] - original[100]).abs() < 1e-6);
    // A later successful write replaces it whole.
    write_wav(&p, &[&original[..10], &original[..10]], 44100, BitDepth::Float32).unwrap();
    let w = read_wav(&p).unwrap();
    assert_eq!((w.sample_rate, w.channels.len(), w.channels[1].len()), (44100, 2, 10));
    assert_eq!(w.channels[1], original[..10].to_vec());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn what_a_wav_header_cannot_hold_is_refused_before_writing() {
    let d = dir("limits");
    let p = d.join("wide.wav");
    std::fs::write(&p, b"keep me").unwrap();
    let one = [0.5f32; 2];
    // 32768 channels of 16 bits are 65536-byte frames: nBlockAlign is 16-bit.
    for (n, depth, max) in
        [(32768usize, BitDepth::Int16, 32767), (21846, BitDepth::Int24, 21845), (16384, BitDepth::Float32, 16383)]
    {
        let chans: Vec<&[f32]> = vec![&one[..]; n];
        let e = write_wav(&p, &chans, 48000, depth).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Range, "{e}");
        assert!(e.message.contains("wide.wav") && e.message.contains(&format!("{n} channels")), "{e}");
        assert!(e.message.contains(&format!("({max} channels at {} bits)", depth.bits())), "{e}");
    }
    // The byte rate (sampleRate × frame bytes) is 32-bit too.
    let e = write_wav(&p, &[&one, &one, &one], 1 << 30, BitDepth::Int16).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Range);
    assert!(e.message.contains("sampleRate = 1073741824"), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), b"keep me");
    assert_eq!(others(&d, &["wide.wav"]), Vec::<String>::new());

    // The largest frame a header holds is written with a correct header.
    let chans: Vec<&[f32]> = vec![&one[..]; 32767];
    write_wav(&p, &chans, 8000, BitDepth::Int16).unwrap();
    let b = std::fs::read(&p).unwrap();
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    assert_eq!(&b[12..16], b"fmt ");
    assert_eq!(u16_at(22), 32767, "nChannels");
    assert_eq!(u32_at(28), 8000 * 65534, "nAvgBytesPerSec");
    assert_eq!(u16_at(32), 65534, "nBlockAlign");
    assert_eq!(u32_at(4) as usize, b.len() - 8, "RIFF size");
    assert_eq!(u32_at(b.len() - 2 * 65534 - 4) as usize, 2 * 65534, "data size");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn an_unfinished_header_is_an_error_but_an_empty_wav_reads_empty() {
    let d = dir("unfinished");
    let p = d.join("empty.wav");
    write_wav(&p, &[&[][..], &[][..]], 48000, BitDepth::Int16).unwrap();
    let w = read_wav(&p).unwrap();
    assert_eq!((w.sample_rate, w.channels.len(), w.channels[0].len()), (48000, 2, 0));

    // What a writer that never finished leaves: the header's sizes still 0,
    // the samples after it.
    let x = sine(440.0, 0.5, 48000.0, 1000);
    let full = d.join("full.wav");
    write_wav(&full, &[&x], 48000, BitDepth::Int16).unwrap();
    let good = std::fs::read(&full).unwrap();
    assert_eq!(&good[36..40], b"data");
    let mut torn = good.clone();
    torn[4..8].fill(0);
    torn[40..44].fill(0);
    let t = d.join("torn.wav");
    std::fs::write(&t, &torn).unwrap();
    let e = read_wav(&t).unwrap_err();
    assert!(e.message.contains("torn.wav") && e.message.contains("the RIFF size is 0"), "{e}");
    // Only the data size lost.
    torn[4..8].copy_from_slice(&good[4..8]);
    std::fs::write(&t, &torn).unwrap();
    let e = read_wav(&t).unwrap_err();
    assert!(e.message.contains("the data size is 0 but 2000 bytes follow it"), "{e}");
    // An empty data chunk followed by another chunk is a correct empty file.
    let mut list = good[..44].to_vec();
    list[40..44].fill(0);
    list.extend_from_slice(b"LIST\x04\x00\x00\x00INFO");
    let riff = (list.len() - 8) as u32;
    list[4..8].copy_from_slice(&riff.to_le_bytes());
    std::fs::write(&t, &list).unwrap();
    assert_eq!(read_wav(&t).unwrap().channels[0].len(), 0);
    std::fs::remove_dir_all(&d).unwrap();
}

fn meter_graph() -> GraphDesc {
    GraphDesc::from_value(&json!({"version": 1, "nodes": [
        {"id": 0, "type": "input"}, {"id": 1, "type": "output"},
        {"id": 2, "type": "meter", "options": {"name": "m"}}],
        "connections": [[0, 2], [2, 1]]}))
    .unwrap()
}

fn req(rate: f64, input: Vec<Vec<f32>>) -> OfflineRequest {
    OfflineRequest { sample_rate: rate, frames: input[0].len() as u64, channels: 1, block_size: 128, input }
}

#[test]
fn loudness_is_refused_below_8000_hz_and_right_from_there() {
    for rate in [1000.0, 2000.0, 3000.0, 7999.0] {
        let x = sine(100.0, 0.1, rate, rate as usize * 4);
        let e = render_offline(&meter_graph(), &[], &req(rate, vec![x]), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Range, "{e}");
        assert!(e.message.contains(&format!("the sample rate is {rate} Hz")) && e.message.contains("8000 Hz"), "{e}");
    }
    // A −20 dBFS 1 kHz sine is −23.0 LUFS (BS.1770: mean square −23.01 dB,
    // −0.691 offset, K-weighting +0.69 dB at 1 kHz). The bilinear design of
    // the shelf reads low near Nyquist, by the documented amounts.
    let amp = 10f64.powf(-20.0 / 20.0);
    for (rate, tol) in [(8000.0, 0.25), (16000.0, 0.06), (32000.0, 0.015), (44100.0, 0.01), (48000.0, 0.01)] {
        let x = sine(1000.0, amp, rate, rate as usize * 5);
        let r = render_offline(&meter_graph(), &[], &req(rate, vec![x]), None).unwrap();
        let lufs = r.meters[0].1.integrated_lufs;
        assert!((lufs - -23.0).abs() < tol, "{rate} Hz: {lufs} LUFS");
    }
    // Files: analyzeFile and normalizeFile refuse a 4 kHz file, naming it.
    let d = dir("loudness");
    let p = d.join("phone.wav");
    write_wav(&p, &[&sine(440.0, 0.1, 4000.0, 8000)], 4000, BitDepth::Int16).unwrap();
    let e = analyze_file(&p).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Range);
    assert!(e.message.contains("phone.wav") && e.message.contains("the sample rate is 4000 Hz"), "{e}");
    let nreq = |sample_rate| NormalizeRequest {
        input: p.clone(),
        output: d.join("out.wav"),
        target_lufs: -16.0,
        true_peak_db: -1.0,
        depth: BitDepth::Int16,
        sample_rate,
    };
    let e = normalize_file(&nreq(None)).unwrap_err();
    assert!(e.message.starts_with("normalizeFile: ") && e.message.contains("4000 Hz"), "{e}");
    let ok = d.join("ok.wav");
    write_wav(&ok, &[&sine(440.0, 0.1, 48000.0, 48000)], 48000, BitDepth::Int16).unwrap();
    let e = normalize_file(&NormalizeRequest { input: ok, ..nreq(Some(3000)) }).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Range);
    assert!(e.message.contains("sampleRate = 3000") && e.message.contains("the sample rate is 3000 Hz"), "{e}");
    assert!(!d.join("out.wav").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn non_finite_input_samples_are_refused_like_a_players() {
    let graph = GraphDesc::from_value(&json!({"version": 1, "nodes": [
        {"id": 0, "type": "input"}, {"id": 1, "type": "output"}], "connections": [[0, 1]]}))
    .unwrap();
    for (bad, shown) in [(f32::NAN, "NaN"), (f32::INFINITY, "Infinity"), (f32::NEG_INFINITY, "-Infinity")] {
        let mut x = vec![0.1f32; 300];
        x[257] = bad;
        let e =
            render_offline(&graph, &[], &OfflineRequest { channels: 2, ..req(48000.0, vec![vec![0.0; 300], x]) }, None)
                .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Range, "{e}");
        assert_eq!(e.message, format!("renderOffline: input[1][257] = {shown} is not a finite sample"));
    }
    // The same rule as a player's buffer, for a file streamed into a file
    // render (the CLI's --input) and for buffers fed to one.
    let d = dir("input");
    let inp = d.join("inf.wav");
    let mut x = sine(440.0, 0.5, 48000.0, 40000);
    x[30000] = f32::INFINITY;
    write_wav(&inp, &[&x], 48000, BitDepth::Float32).unwrap();
    let out = d.join("out.wav");
    let r = FileRenderRequest {
        path: out.clone(),
        sample_rate: 48000.0,
        frames: 48000,
        channels: 1,
        block_size: 128,
        depth: BitDepth::Int16,
        input: RenderInput::File(inp.clone()),
        threads: 1,
    };
    let e = render_to_file(&graph, &[], &r, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Range, "{e}");
    assert!(e.message.contains("inf.wav") && e.message.contains("[0][30000] = Infinity"), "{e}");
    assert!(!out.exists());
    assert_eq!(others(&d, &["inf.wav"]), Vec::<String>::new());
    let r = FileRenderRequest { input: RenderInput::Buffers(vec![x]), ..r };
    let e = render_to_file(&graph, &[], &r, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap_err();
    assert_eq!(e.message, "renderToFile: input[0][30000] = Infinity is not a finite sample");
    std::fs::remove_dir_all(&d).unwrap();
}
