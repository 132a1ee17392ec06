//! `analyzeFile` on several threads: a long file cut in time into segments
//! measured at the same time reads as one meter fed the whole file.

use ferrite_dsp::meter::Meter;
use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
use ferrite_engine::files::{analyze_threads, FileAnalysis};
use ferrite_media::{AudioFileWriter, BitDepth, Decoder};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

const RATE: u32 = 44100;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrite-analyze-segments-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `seconds` of stereo programme: noise under a slow envelope, and a tone
/// stepping through levels every 7 s (a loudness range of several LU),
/// peaks below full scale; deterministic.
fn programme(seconds: f64) -> [Vec<f32>; 2] {
    let n = (seconds * f64::from(RATE)) as usize;
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let steps = [-12.0, -26.0, -16.0, -34.0, -9.0, -20.0, -14.0];
    let mut l = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / f64::from(RATE);
        let a = 10f64.powf(steps[(t / 7.0) as usize % steps.len()] / 20.0);
        let env = 0.05 + 0.3 * (0.5 + 0.5 * (2.0 * std::f64::consts::PI * t / 13.0).sin());
        let tone = (2.0 * std::f64::consts::PI * 997.0 * t).sin();
        l.push((a * tone + env * noise()) as f32 * 0.5);
        r.push((a * (2.0 * std::f64::consts::PI * 1502.0 * t).cos() + env * noise()) as f32 * 0.5);
    }
    [l, r]
}

fn write(path: &Path, x: &[Vec<f32>; 2], depth: BitDepth) {
    let mut w = AudioFileWriter::create(path, RATE, 2, depth).unwrap();
    for (a, b) in x[0].chunks(10_000).zip(x[1].chunks(10_000)) {
        w.write(&[a, b]).unwrap();
    }
    w.finish().unwrap();
}

/// A meter fed the file's decoded samples from the start, in one piece:
/// the reference, independent of how `analyzeFile` cuts and schedules.
fn one_meter(path: &Path) -> (ferrite_dsp::meter::MeterReading, u64) {
    let mut d = Decoder::open(path).unwrap();
    let mut m = Meter::new();
    const B: usize = 4096;
    m.prepare(&PrepareContext { sample_rate: f64::from(RATE), max_block: B, channels: 2 });
    let mut planes = vec![vec![0.0f32; B]; 2];
    let mut bus = vec![0.0f64; 2 * B];
    let mut frames = 0u64;
    loop {
        let mut views: Vec<&mut [f32]> = planes.iter_mut().map(|c| &mut c[..]).collect();
        let got = d.read(&mut views).unwrap();
        if got == 0 {
            break;
        }
        for (dst, src) in bus.chunks_exact_mut(B).zip(&planes) {
            for (a, &b) in dst[..got].iter_mut().zip(&src[..got]) {
                *a = f64::from(b);
            }
        }
        m.process(&ProcessContext { frames: got, position: frames, params: &[] }, &mut Bus::new(&mut bus, 2, B, got));
        frames += got as u64;
    }
    (m.total_reading(), frames)
}

fn analyze(path: &Path, threads: usize) -> (FileAnalysis, Vec<u64>) {
    let mut reported = Vec::new();
    let a = analyze_threads(path, threads, |f| reported.push(f), &AtomicBool::new(false)).unwrap();
    (a, reported)
}

fn assert_reads_as(a: &FileAnalysis, reference: &ferrite_dsp::meter::MeterReading, what: &str) {
    let r = &a.reading;
    assert_eq!(r.peak_db, reference.peak_db, "{what}: sample peak");
    assert_eq!(r.true_peak_db, reference.true_peak_db, "{what}: true peak");
    for (x, y, name) in [
        (r.integrated_lufs, reference.integrated_lufs, "integrated"),
        (r.loudness_range_lu, reference.loudness_range_lu, "loudness range"),
        (r.rms_db, reference.rms_db, "RMS"),
        (r.momentary_lufs, reference.momentary_lufs, "momentary"),
        (r.short_term_lufs, reference.short_term_lufs, "short-term"),
    ] {
        assert!((x - y).abs() <= 1e-9, "{what}: {name} {x} against one meter's {y}");
    }
}

#[test]
fn a_long_file_measured_in_segments_reads_as_one_meter_fed_the_whole_file() {
    let d = dir("formats");
    // 95.3 s: one, two or three segments (at least 30 s each).
    let x = programme(95.3);
    for (name, depth) in [("p16.wav", BitDepth::Int16), ("p24.flac", BitDepth::Int24)] {
        let p = d.join(name);
        write(&p, &x, depth);
        let (reference, frames) = one_meter(&p);
        assert_eq!(frames, x[0].len() as u64);
        assert!(reference.loudness_range_lu > 3.0, "{name}: a programme with a range, {}", reference.loudness_range_lu);
        for threads in [1, 2, 3, 8] {
            let (a, reported) = analyze(&p, threads);
            let what = format!("{name}, {threads} threads");
            assert_eq!(a.info.frames, frames, "{what}");
            assert_reads_as(&a, &reference, &what);
            assert!(reported.windows(2).all(|w| w[0] <= w[1]), "{what}: progress goes forward");
            assert_eq!(reported.last().copied(), Some(frames), "{what}: progress ends at the length");
        }
    }
}

#[test]
fn a_file_shorter_than_its_header_says_is_measured_up_to_where_it_ends() {
    let d = dir("short");
    let x = programme(80.0);
    let p = d.join("whole.wav");
    write(&p, &x, BitDepth::Int16);
    // Cut at 50 s: the header still says 80 s, so the second segment starts
    // near the end of what is there and the third past it.
    let cut = d.join("cut.wav");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&cut, &bytes[..44 + 50 * RATE as usize * 4]).unwrap();
    let (reference, frames) = one_meter(&cut);
    assert_eq!(frames, 50 * u64::from(RATE));
    for threads in [1, 2, 3] {
        let (a, _) = analyze(&cut, threads);
        assert_eq!(a.info.frames, frames, "{threads} threads");
        assert_reads_as(&a, &reference, &format!("cut file, {threads} threads"));
    }
}

#[test]
fn a_cancelled_segmented_analysis_stops_with_an_error() {
    let d = dir("cancel");
    let p = d.join("p.wav");
    write(&p, &programme(70.0), BitDepth::Int16);
    let e = analyze_threads(&p, 2, |_| (), &AtomicBool::new(true)).unwrap_err();
    assert!(e.message.contains("cancelled") && e.message.contains("p.wav"), "{e}");
}
