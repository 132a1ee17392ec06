//! Property tests (issue 26): arbitrary bytes and mutated valid files never
//! panic, abort or hang the probe and the decoders, and what the writers
//! write reads back as written.
//!
//! The number of cases per property is `FERRITE_FUZZ_CASES` (default 48, a
//! short budget for CI); `scripts/fuzz.sh` runs a longer budget.

mod common;

use common::{dir, fixture};
use ferrite_media::{decode_file, probe_file, AudioFileWriter, BitDepth, DecodeOptions, Decoded};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

fn cases() -> u32 {
    std::env::var("FERRITE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

/// A fresh file name in the fixture directory.
fn scratch(ext: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    dir().join(format!("prop-{}.{ext}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// Longest a probe and a decode of a small file may take before the test
/// calls it a hang (generous: the machine may be loaded).
const HANG: Duration = Duration::from_secs(60);

/// Probes and decodes `bytes` as a file named `*.ext` on another thread;
/// an error is fine, a panic or a hang is not. Returns the decode when it
/// succeeded.
fn survives(bytes: Vec<u8>, ext: &str) -> Result<Option<Decoded>, TestCaseError> {
    let p = scratch(ext);
    std::fs::write(&p, &bytes).unwrap();
    let (tx, rx) = mpsc::channel();
    let path = p.clone();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| {
            let _ = probe_file(&path);
            decode_file(&path, DecodeOptions::default()).ok()
        });
        let _ = tx.send(outcome.map_err(|e| {
            e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        }));
    });
    let got = rx.recv_timeout(HANG);
    let _ = std::fs::remove_file(&p);
    match got {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(msg)) => Err(TestCaseError::fail(format!("panicked on {} bytes as .{ext}: {msg:?}", bytes.len()))),
        Err(_) => Err(TestCaseError::fail(format!("no answer within {HANG:?} on {} bytes as .{ext}", bytes.len()))),
    }
}

/// Headers a decoder recognises, so that random bytes after them reach the
/// container parsers instead of being refused at once.
const PREFIXES: &[&[u8]] = &[
    b"",
    b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x44\xac\x00\x00\x10\xb1\x02\x00\x04\x00\x10\x00data",
    b"RIFF\xff\xff\xff\xffWAVE",
    b"fLaC\x00\x00\x00\x22",
    b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64",
    b"\xff\xfb\x90\x64",
    b"OggS\x00\x02",
    b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom",
    b"FORM\x00\x00\x10\x00AIFFCOMM\x00\x00\x00\x12",
    b"caff\x00\x01\x00\x00desc",
];

const EXTS: &[&str] = &["wav", "flac", "mp3", "ogg", "m4a", "aiff", "caf", "bin"];

/// Valid files of every container, made once by ffmpeg from the common source.
fn valid_files() -> &'static [(PathBuf, &'static str)] {
    static FILES: std::sync::OnceLock<Vec<(PathBuf, &'static str)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let specs: &[(&str, &[&str])] = &[
            ("p-s16.wav", &["-t", "0.25", "-c:a", "pcm_s16le"]),
            ("p-f32.wav", &["-t", "0.25", "-c:a", "pcm_f32le"]),
            ("p-s24.aiff", &["-t", "0.25", "-c:a", "pcm_s24be"]),
            ("p.flac", &["-t", "0.25", "-c:a", "flac"]),
            ("p.mp3", &["-t", "0.25", "-c:a", "libmp3lame", "-b:a", "128k"]),
            ("p.ogg", &["-t", "0.25", "-c:a", "libvorbis"]),
            ("p-aac.m4a", &["-t", "0.25", "-c:a", "aac", "-b:a", "96k"]),
            ("p-alac.m4a", &["-t", "0.25", "-c:a", "alac"]),
            ("p.caf", &["-t", "0.25", "-c:a", "pcm_s16le"]),
        ];
        specs.iter().map(|(name, enc)| (fixture(name, enc), name.rsplit('.').next().unwrap_or("bin"))).collect()
    })
}

/// One change to a valid file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Byte `at` (a fraction of the length) XOR `mask`.
    Flip { at: f64, mask: u8 },
    /// A 32-bit value at `at` replaced by `value` (little endian), as a
    /// hostile size field would be.
    Word { at: f64, value: u32 },
    /// Cut at a fraction of the length.
    Truncate { at: f64 },
    /// `len` bytes at `at` duplicated in place.
    Repeat { at: f64, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let frac = 0.0..1.0f64;
    prop_oneof![
        (frac.clone(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (frac.clone(), prop_oneof![Just(0u32), Just(u32::MAX), Just(0x7fff_ffff), Just(0x8000_0000), any::<u32>()])
            .prop_map(|(at, value)| Mutation::Word { at, value }),
        frac.clone().prop_map(|at| Mutation::Truncate { at }),
        (frac, 1..512usize).prop_map(|(at, len)| Mutation::Repeat { at, len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let pos = |at: f64, n: usize| ((at * n as f64) as usize).min(n.saturating_sub(1));
    match *m {
        Mutation::Flip { at, mask } => {
            let i = pos(at, bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b ^= mask;
            }
        }
        Mutation::Word { at, value } => {
            let i = pos(at, bytes.len().saturating_sub(3));
            if let Some(w) = bytes.get_mut(i..i + 4) {
                w.copy_from_slice(&value.to_le_bytes());
            }
        }
        Mutation::Truncate { at } => bytes.truncate(pos(at, bytes.len())),
        Mutation::Repeat { at, len } => {
            let i = pos(at, bytes.len());
            let end = (i + len).min(bytes.len());
            let copy = bytes[i..end].to_vec();
            bytes.splice(i..i, copy);
        }
    }
}

/// What reading back `x` written at `depth` must give: the nearest step of
/// a `bits`-bit integer (x·2^(bits−1), rounded, clamped to the integer's
/// range), divided back; float is exact.
fn quantised(x: f32, depth: BitDepth) -> f64 {
    let bits = match depth {
        BitDepth::Int16 => 16,
        BitDepth::Int24 => 24,
        BitDepth::Float32 => return f64::from(x),
    };
    let full = f64::from(1u32 << (bits - 1));
    (f64::from(x) * full).round().clamp(-full, full - 1.0) / full
}

fn signal() -> impl Strategy<Value = Vec<Vec<f32>>> {
    (1..=8usize, 0..700usize).prop_flat_map(|(ch, n)| {
        proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![8 => -1.0f32..1.0, 1 => Just(1.0f32), 1 => Just(-1.0f32), 1 => -4.0f32..4.0],
                n,
            ),
            ch,
        )
    })
}

fn write(path: &Path, x: &[Vec<f32>], rate: u32, depth: BitDepth) -> ferrite_media::Result<u64> {
    let mut w = AudioFileWriter::create(path, rate, x.len(), depth)?;
    // In two uneven pieces: the writer's buffering must not matter.
    let cut = x[0].len() / 3;
    let first: Vec<&[f32]> = x.iter().map(|c| &c[..cut]).collect();
    let rest: Vec<&[f32]> = x.iter().map(|c| &c[cut..]).collect();
    w.write(&first)?;
    w.write(&rest)?;
    w.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_or_hang(
        prefix in proptest::sample::select(PREFIXES),
        tail in proptest::collection::vec(any::<u8>(), 0..3000),
        ext in proptest::sample::select(EXTS),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend(tail);
        survives(bytes, ext)?;
    }

    #[test]
    fn mutated_valid_files_never_panic_or_hang(
        which in 0..9usize,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let (path, ext) = &valid_files()[which];
        let mut bytes = std::fs::read(path).unwrap();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Some(d) = survives(bytes, ext)? {
            // Whatever decodes is bounded: finite samples, as many frames
            // per channel, no more channels than a file can declare.
            prop_assert!(!d.channels.is_empty() && d.channels.len() <= 32, "{} channels", d.channels.len());
            let n = d.channels[0].len();
            prop_assert!(d.channels.iter().all(|c| c.len() == n));
            prop_assert!(d.channels.iter().flatten().all(|v| v.is_finite()), "non-finite sample");
        }
    }

    #[test]
    fn written_files_read_back_as_written(
        x in signal(),
        rate in proptest::sample::select(&[8000u32, 22050, 44100, 48000, 96000][..]),
        depth in proptest::sample::select(&[BitDepth::Int16, BitDepth::Int24, BitDepth::Float32][..]),
        flac in any::<bool>(),
    ) {
        let flac = flac && depth != BitDepth::Float32;
        let p = scratch(if flac { "flac" } else { "wav" });
        let frames = write(&p, &x, rate, depth).unwrap();
        prop_assert_eq!(frames, x[0].len() as u64);
        let d = decode_file(&p, DecodeOptions::default());
        let _ = std::fs::remove_file(&p);
        if x[0].is_empty() {
            // An empty file is written; reading it may say it is empty.
            if let Ok(d) = d {
                prop_assert!(d.channels.iter().all(Vec::is_empty));
            }
            return Ok(());
        }
        let d = d.unwrap();
        prop_assert_eq!(d.sample_rate, rate);
        prop_assert_eq!(d.channels.len(), x.len());
        for (c, (got, want)) in d.channels.iter().zip(&x).enumerate() {
            prop_assert_eq!(got.len(), want.len(), "channel {}", c);
            for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
                let r = quantised(w, depth);
                prop_assert!((f64::from(g) - r).abs() <= 1e-7, "channel {} frame {}: {} written, {} read, {} expected", c, i, w, g, r);
            }
        }
    }
}
