//! The WAV and FLAC writers and the writer thread, checked against ffmpeg's
//! reading of their files and the crate's own decoder.

mod common;
use common::*;
use ferrite_media::{
    decode_file, probe_file, AudioFileWriter, BitDepth, DecodeOptions, FileSink, MediaError, MediaErrorKind,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory for one test.
fn test_dir(name: &str) -> PathBuf {
    let d = dir().join(format!("writer-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Names in `d` (temporary files included).
fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// `frames` frames of `channels` channels: a different sine per channel plus
/// pseudo-random noise, a stretch past full scale (±1.7), the exact full-scale
/// values and half-step ties.
fn signal(channels: usize, frames: usize) -> Vec<Vec<f32>> {
    let mut seed = 0x2545_f491_u32;
    let mut noise = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    (0..channels)
        .map(|c| {
            (0..frames)
                .map(|i| {
                    let t = i as f32 / 44100.0;
                    let x = 0.6 * (2.0 * std::f32::consts::PI * (220.0 + 110.0 * c as f32) * t).sin() + 0.2 * noise();
                    match i {
                        1000..=1999 => x * 2.5,
                        2000 => 1.0,
                        2001 => -1.0,
                        2002 => 0.5 / 32768.0,
                        2003 => -1.5 / 32768.0,
                        2004 => 0.5 / 8_388_608.0,
                        _ => x,
                    }
                })
                .collect()
        })
        .collect()
}

/// The documented rule, written out here: scale by 2^(bits-1), round to
/// nearest, clip; read back as the integer over 2^(bits-1).
fn expected(x: &[Vec<f32>], depth: BitDepth) -> Vec<Vec<f32>> {
    let bits = match depth {
        BitDepth::Float32 => return x.to_vec(),
        BitDepth::Int16 => 16,
        BitDepth::Int24 => 24,
    };
    let full = 2f64.powi(bits - 1);
    x.iter()
        .map(|ch| ch.iter().map(|&s| ((f64::from(s) * full).round().clamp(-full, full - 1.0) / full) as f32).collect())
        .collect()
}

/// Chunk lengths 1, 37, 4096, 5, ... until `frames`.
fn chunks(frames: usize) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let (mut at, mut k) = (0, 0);
    while at < frames {
        let n = [1, 37, 4096, 5][k % 4].min(frames - at);
        v.push((at, n));
        at += n;
        k += 1;
    }
    v
}

fn write_direct(path: &Path, x: &[Vec<f32>], depth: BitDepth) -> u64 {
    let mut w = AudioFileWriter::create(path, 44100, x.len(), depth).unwrap();
    for (at, n) in chunks(x[0].len()) {
        let s: Vec<&[f32]> = x.iter().map(|ch| &ch[at..at + n]).collect();
        w.write(&s).unwrap();
    }
    w.finish().unwrap()
}

fn bits_equal(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()))
}

const FRAMES: usize = 20_011;

#[test]
fn every_depth_of_wav_and_flac_reads_back_as_the_quantised_input() {
    let d = test_dir("depths");
    for channels in [1, 2, 6] {
        let x = signal(channels, FRAMES);
        for (ext, depth) in [
            ("wav", BitDepth::Int16),
            ("wav", BitDepth::Int24),
            ("wav", BitDepth::Float32),
            ("flac", BitDepth::Int16),
            ("flac", BitDepth::Int24),
        ] {
            let p = d.join(format!("c{channels}-{}.{ext}", depth.bits()));
            assert_eq!(write_direct(&p, &x, depth), FRAMES as u64);
            let want = expected(&x, depth);
            let by_ffmpeg = ffmpeg_decode(&p, channels);
            assert!(bits_equal(&by_ffmpeg, &want), "{}: ffmpeg's reading differs", p.display());
            let ours = decode_file(&p, DecodeOptions::default()).unwrap();
            assert!(bits_equal(&ours.channels, &want), "{}: decode_file differs", p.display());
            if depth != BitDepth::Float32 {
                let full = want.iter().flatten().filter(|s| s.abs() >= 1.0 - 1.0 / 32768.0).count();
                assert!(full > 100 * channels, "{}: the loud stretch clips", p.display());
                assert!(want.iter().flatten().all(|s| (-1.0..1.0).contains(s)));
            } else {
                assert!(ours.channels.iter().flatten().any(|s| s.abs() > 1.0), "float keeps overs");
            }
            assert_eq!(names(&d).iter().filter(|n| n.ends_with(".part")).count(), 0);
        }
    }
}

/// The 16 MD5 bytes of a FLAC file's STREAMINFO (it is the first block).
fn streaminfo(p: &Path) -> Vec<u8> {
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..4], b"fLaC");
    assert_eq!(b[4] & 0x7f, 0, "STREAMINFO first");
    b[8..42].to_vec()
}

#[test]
fn flac_streaminfo_is_exact_and_ffmpeg_finds_no_error() {
    let d = test_dir("streaminfo");
    for (channels, depth, codec) in [(2, BitDepth::Int16, "pcm_s16le"), (6, BitDepth::Int24, "pcm_s24le")] {
        let x = signal(channels, FRAMES);
        let p = d.join(format!("s{channels}.flac"));
        write_direct(&p, &x, depth);
        let info = probe_file(&p).unwrap();
        assert_eq!(
            (info.frames, info.sample_rate, info.channels, info.bit_depth),
            (FRAMES as u64, 44100, channels, Some(depth.bits()))
        );
        let out =
            Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&p).args(["-f", "null", "-"]).output().unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        // ffmpeg's MD5 of the decoded samples, little-endian at the file's width, is what STREAMINFO must hold.
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&p)
            .args(["-c:a", codec, "-f", "md5", "-"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let md5 = text.trim().strip_prefix("MD5=").unwrap_or_else(|| panic!("ffmpeg md5: {text}")).to_string();
        let si = streaminfo(&p);
        let hex: String = si[18..34].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, md5, "STREAMINFO MD5");
        let u16be = |i: usize| u32::from(si[i]) << 8 | u32::from(si[i + 1]);
        let u24be = |i: usize| u32::from(si[i]) << 16 | u32::from(si[i + 1]) << 8 | u32::from(si[i + 2]);
        assert_eq!((u16be(0), u16be(2)), (4096, 4096), "block sizes");
        let (min_frame, max_frame) = (u24be(4), u24be(7));
        let len = std::fs::metadata(&p).unwrap().len() as u32;
        assert!(0 < min_frame && min_frame <= max_frame && max_frame < len, "frame sizes {min_frame} {max_frame}");
        let total = (u64::from(si[13] & 0x0f) << 32) | u64::from(u32::from_be_bytes([si[14], si[15], si[16], si[17]]));
        assert_eq!(total, FRAMES as u64);
    }
}

#[test]
fn the_destination_appears_whole_only_on_finish_replacing_an_earlier_file() {
    let d = test_dir("atomic");
    for ext in ["wav", "flac"] {
        let p = d.join(format!("take.{}", ext.to_uppercase()));
        std::fs::write(&p, b"an earlier take").unwrap();
        let x = signal(2, 5000);
        let mut w = AudioFileWriter::create(&p, 44100, 2, BitDepth::Int16).unwrap();
        let temp = w.temp_path().to_path_buf();
        assert_eq!(temp.parent(), Some(d.as_path()));
        let temp_name = temp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(temp_name.starts_with(&format!(".take.{}.", ext.to_uppercase())) && temp_name.ends_with(".part"));
        w.write(&[&x[0], &x[1]]).unwrap();
        assert!(temp.exists());
        assert_eq!(std::fs::read(&p).unwrap(), b"an earlier take", "untouched while writing");
        assert_eq!(w.finish().unwrap(), 5000);
        assert!(!temp.exists());
        assert_eq!(names(&d).iter().filter(|n| n.ends_with(".part")).count(), 0);
        let back = decode_file(&p, DecodeOptions::default()).unwrap();
        assert!(bits_equal(&back.channels, &expected(&x, BitDepth::Int16)));
    }
}

#[test]
fn dropping_or_aborting_leaves_neither_the_file_nor_a_temporary() {
    let d = test_dir("drop");
    let x = signal(2, 3000);
    for ext in ["wav", "flac"] {
        let p = d.join(format!("dropped.{ext}"));
        let mut w = AudioFileWriter::create(&p, 48000, 2, BitDepth::Int24).unwrap();
        w.write(&[&x[0], &x[1]]).unwrap();
        drop(w);

        let p = d.join(format!("aborted.{ext}"));
        let mut sink = FileSink::spawn(AudioFileWriter::create(&p, 48000, 2, BitDepth::Int24).unwrap(), 2).unwrap();
        for _ in 0..5 {
            sink.send(x.clone(), 3000).unwrap();
        }
        sink.abort();

        let p = d.join(format!("sink-dropped.{ext}"));
        let mut sink = FileSink::spawn(AudioFileWriter::create(&p, 48000, 2, BitDepth::Int24).unwrap(), 2).unwrap();
        sink.send(x.clone(), 3000).unwrap();
        drop(sink);
    }
    assert_eq!(names(&d), Vec::<String>::new());
    // An earlier file under the name survives an abort.
    let p = d.join("kept.wav");
    std::fs::write(&p, b"keep me").unwrap();
    let mut w = AudioFileWriter::create(&p, 48000, 1, BitDepth::Float32).unwrap();
    w.write(&[&x[0]]).unwrap();
    drop(w);
    assert_eq!(names(&d), vec!["kept.wav".to_string()]);
    assert_eq!(std::fs::read(&p).unwrap(), b"keep me");
}

fn create_err(p: &Path, channels: usize, depth: BitDepth) -> MediaError {
    AudioFileWriter::create(p, 44100, channels, depth).unwrap_err()
}

#[test]
fn create_refuses_a_missing_directory_a_bad_extension_and_32_bit_flac() {
    let d = test_dir("refused");
    let p = d.join("no-such-dir").join("out.wav");
    let e = create_err(&p, 2, BitDepth::Int16);
    assert_eq!(e.kind, MediaErrorKind::File);
    assert!(e.message.contains(&p.display().to_string()) && e.message.contains("does not exist"), "{e}");

    let p = d.join("out.mp3");
    let e = create_err(&p, 2, BitDepth::Int16);
    assert!(e.message.contains(&p.display().to_string()) && e.message.contains(".wav or .flac"), "{e}");
    let e = create_err(&d.join("no-extension"), 2, BitDepth::Int16);
    assert!(e.message.contains("no-extension") && e.message.contains(".wav or .flac"), "{e}");

    let e = create_err(&d.join("out.flac"), 2, BitDepth::Float32);
    assert_eq!(e.kind, MediaErrorKind::Range);
    assert!(e.message.contains("out.flac") && e.message.contains("float") && e.message.contains("WAV only"), "{e}");

    assert_eq!(create_err(&d.join("out.wav"), 0, BitDepth::Int16).kind, MediaErrorKind::Range);
    assert_eq!(create_err(&d.join("out.flac"), 9, BitDepth::Int16).kind, MediaErrorKind::Range);
    assert_eq!(create_err(&d, 2, BitDepth::Int16).kind, MediaErrorKind::File);
    assert_eq!(BitDepth::from_bits(8).unwrap_err().kind, MediaErrorKind::Range);
    assert_eq!(BitDepth::from_bits(32).unwrap(), BitDepth::Float32);

    // A file as the directory: not writable.
    std::fs::write(d.join("plain"), b"").unwrap();
    let p = d.join("plain").join("out.wav");
    assert!(create_err(&p, 2, BitDepth::Int16).message.contains(&p.display().to_string()));
    assert_eq!(names(&d), vec!["plain".to_string()]);
}

#[test]
fn malformed_chunks_are_errors_not_panics() {
    let d = test_dir("malformed");
    let p = d.join("m.flac");
    let mut w = AudioFileWriter::create(&p, 44100, 2, BitDepth::Int16).unwrap();
    let a = [0.0f32; 10];
    assert_eq!(w.write(&[&a]).unwrap_err().kind, MediaErrorKind::Range);
    assert_eq!(w.write(&[&a, &a[..9]]).unwrap_err().kind, MediaErrorKind::Range);
    w.write(&[&a, &a]).unwrap();
    w.write(&[&a[..0], &a[..0]]).unwrap();
    assert_eq!(w.finish().unwrap(), 10);
    assert_eq!(probe_file(&p).unwrap().frames, 10);

    let mut sink = FileSink::spawn(AudioFileWriter::create(&p, 44100, 2, BitDepth::Int16).unwrap(), 1).unwrap();
    assert_eq!(sink.send(vec![vec![0.0; 4]], 4).unwrap_err().kind, MediaErrorKind::Range);
    assert_eq!(sink.send(vec![vec![0.0; 4], vec![0.0; 3]], 4).unwrap_err().kind, MediaErrorKind::Range);
    sink.send(vec![vec![0.0; 4], vec![0.0; 3]], 3).unwrap();
    assert_eq!(sink.finish().unwrap(), 3);
}

#[test]
fn the_thread_writes_the_same_file_as_the_direct_writer() {
    let d = test_dir("thread");
    for (ext, depth, channels) in [
        ("wav", BitDepth::Int16, 2),
        ("wav", BitDepth::Float32, 6),
        ("flac", BitDepth::Int24, 2),
        ("flac", BitDepth::Int16, 1),
    ] {
        let x = signal(channels, FRAMES);
        let direct = d.join(format!("direct-{channels}-{}.{ext}", depth.bits()));
        write_direct(&direct, &x, depth);
        let threaded = d.join(format!("thread-{channels}-{}.{ext}", depth.bits()));
        let mut sink = FileSink::spawn(AudioFileWriter::create(&threaded, 44100, channels, depth).unwrap(), 3).unwrap();
        for (at, n) in chunks(FRAMES) {
            let mut buf = sink.buffer();
            assert_eq!(buf.len(), channels);
            for (b, ch) in buf.iter_mut().zip(&x) {
                // Longer than `n`: only the first `n` frames are written.
                b.clear();
                b.extend_from_slice(&ch[at..at + n]);
                b.extend_from_slice(&[9.0; 3]);
            }
            sink.send(buf, n).unwrap();
        }
        assert_eq!(sink.finish().unwrap(), FRAMES as u64);
        assert!(std::fs::read(&direct).unwrap() == std::fs::read(&threaded).unwrap(), "{ext} {}", depth.bits());
    }
    assert_eq!(names(&d).iter().filter(|n| n.ends_with(".part")).count(), 0);
}

/// Set in the child process of the next test: the directory to write in.
const CHILD_ENV: &str = "FERRITE_WRITER_FSIZE_CHILD";

/// A real I/O error: the test binary runs itself with a file-size limit
/// (`ulimit -f`, SIGXFSZ ignored, so writes past it fail with EFBIG) and
/// writes past it, directly and through the thread.
#[test]
fn a_real_write_error_is_reported_and_leaves_no_file() {
    if let Ok(d) = std::env::var(CHILD_ENV) {
        let d = PathBuf::from(d);
        let x = signal(2, 4096);
        for ext in ["wav", "flac"] {
            let p = d.join(format!("direct.{ext}"));
            let mut w = AudioFileWriter::create(&p, 44100, 2, BitDepth::Int24).unwrap();
            let mut result = Ok(());
            for _ in 0..200 {
                result = w.write(&[&x[0], &x[1]]);
                if result.is_err() {
                    break;
                }
            }
            let e = match result {
                Err(e) => e,
                Ok(()) => w.finish().unwrap_err(),
            };
            assert_eq!(e.kind, MediaErrorKind::File);
            assert!(e.message.contains(&p.display().to_string()), "{e}");
            println!("direct {ext}: {e}");

            let p = d.join(format!("thread.{ext}"));
            let mut sink = FileSink::spawn(AudioFileWriter::create(&p, 44100, 2, BitDepth::Int24).unwrap(), 2).unwrap();
            let mut sent = 0;
            while sent < 200 && sink.send(x.clone(), 4096).is_ok() {
                sent += 1;
            }
            assert!(sent < 200, "a failed write is reported by send before 200 blocks");
            let e = sink.finish().unwrap_err();
            assert!(e.message.contains(&p.display().to_string()), "{e}");
            println!("thread {ext}: {e}");
        }
        assert_eq!(names(&d), Vec::<String>::new());
        println!("child-ok");
        return;
    }
    let d = test_dir("fsize");
    let exe = std::env::current_exe().unwrap();
    // dash's `ulimit -f` counts 512-byte blocks: 256 KiB.
    let out = Command::new("sh")
        .args(["-c", "trap '' XFSZ; ulimit -f 512 && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args(["--exact", "a_real_write_error_is_reported_and_leaves_no_file", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &d)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("child-ok"),
        "child: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("File too large"), "{stdout}");
}

/// Peak resident memory of this process, from /proc (Linux), in bytes.
fn peak_rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// 30 minutes of 48 kHz stereo through the thread into FLAC and WAV: the
/// peak memory stays far under the file's size (nothing holds the file).
/// Slow (about a minute), so run on demand:
/// `cargo test --release -p ferrite-media --test writer -- --ignored`.
#[test]
#[ignore]
fn thirty_minutes_of_stereo_stays_small_in_memory() {
    let d = test_dir("long");
    let block = 4800;
    let blocks = 30 * 60 * 48000 / block;
    for (ext, depth) in [("flac", BitDepth::Int24), ("wav", BitDepth::Int24)] {
        let p = d.join(format!("long.{ext}"));
        let mut sink = FileSink::spawn(AudioFileWriter::create(&p, 48000, 2, depth).unwrap(), 8).unwrap();
        for b in 0..blocks {
            let mut buf = sink.buffer();
            for (c, ch) in buf.iter_mut().enumerate() {
                ch.resize(block, 0.0);
                for (i, s) in ch.iter_mut().enumerate() {
                    let t = (b * block + i) as f32 / 48000.0;
                    *s = 0.5 * (2.0 * std::f32::consts::PI * (440.0 + 110.0 * c as f32) * t).sin();
                }
            }
            sink.send(buf, block).unwrap();
        }
        assert_eq!(sink.finish().unwrap(), (blocks * block) as u64);
        let len = std::fs::metadata(&p).unwrap().len();
        let peak = peak_rss();
        println!("{ext}: {len} bytes, peak RSS {} MB", peak >> 20);
        assert!(peak < 100 << 20, "peak RSS {peak}");
        std::fs::remove_file(&p).unwrap();
    }
}

#[test]
fn an_empty_file_is_a_valid_file() {
    let d = test_dir("empty");
    for ext in ["wav", "flac"] {
        let p = d.join(format!("empty.{ext}"));
        assert_eq!(AudioFileWriter::create(&p, 48000, 2, BitDepth::Int16).unwrap().finish().unwrap(), 0);
        if ext == "wav" {
            // symphonia refuses a FLAC stream with no frame ("ends early"), so only ffmpeg reads that one.
            let info = probe_file(&p).unwrap();
            assert_eq!((info.frames, info.channels, info.sample_rate), (0, 2, 48000), "{ext}");
        } else {
            let si = streaminfo(&p);
            assert_eq!(std::fs::metadata(&p).unwrap().len(), 42, "fLaC and STREAMINFO only");
            assert_eq!(&si[10..18], &[0x0b, 0xb8, 0x02, 0xf0, 0, 0, 0, 0], "48000 Hz, 2 channels, 16 bits, 0 frames");
        }
        let out =
            Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&p).args(["-f", "null", "-"]).output().unwrap();
        assert!(out.status.success(), "{ext}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
