//! Fixtures made with ffmpeg (installed by scripts/setup.sh and .ci/run),
//! and ffmpeg's own reading of them as the reference.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Frames of the standard fixture: 3 s at 44.1 kHz.
pub const FRAMES: usize = 3 * 44100;

/// The fixture directory, made once per test binary.
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrite-media-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is needed for the media tests (scripts/setup.sh installs it: apt-get install ffmpeg)");
    assert!(out.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The source signal: two different tones and a little noise-like chirp,
/// stereo, 44.1 kHz, made by ffmpeg's expression evaluator.
pub const SOURCE_EXPR: &str =
    "aevalsrc=0.5*sin(2*PI*997*t)+0.1*sin(2*PI*(200*t+1000*t*t))|0.3*sin(2*PI*440*t)-0.2*sin(2*PI*3100*t):s=44100:d=3";

/// A fixture made from the source with `encode` options, named `name`, once.
pub fn fixture(name: &str, encode: &[&str]) -> PathBuf {
    // Tests of one binary run in parallel and may ask for the same fixture.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let p = dir().join(name);
    if !p.exists() {
        let tmp = dir().join(format!("tmp-{name}"));
        let mut args = vec!["-f", "lavfi", "-i", SOURCE_EXPR];
        args.extend_from_slice(encode);
        let t = tmp.to_str().unwrap().to_string();
        args.push(&t);
        ffmpeg(&args);
        std::fs::rename(&tmp, &p).unwrap();
    }
    p
}

/// ffmpeg's decode of `path` as planar f32 (its own reading: the reference).
pub fn ffmpeg_decode(path: &Path, channels: usize) -> Vec<Vec<f32>> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-acodec", "pcm_f32le", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let samples: Vec<f32> = out.stdout.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    (0..channels).map(|c| samples.iter().skip(c).step_by(channels).copied().collect()).collect()
}

/// Root-mean-square of `a - b` over their common length, in dB relative to the RMS of `b`.
pub fn error_db(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (mut e, mut s) = (0.0f64, 0.0f64);
    for i in 0..n {
        let d = f64::from(a[i]) - f64::from(b[i]);
        e += d * d;
        s += f64::from(b[i]) * f64::from(b[i]);
    }
    10.0 * (e / s).log10()
}

/// Least-squares fit of `a·sin(w t) + b·cos(w t) + dc` at a known frequency;
/// returns (amplitude, residual RMS / amplitude RMS in dB).
#[allow(clippy::needless_range_loop)]
pub fn fit_sine(x: &[f64], freq: f64, rate: f64) -> (f64, f64) {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    // Normal equations for [sin, cos, 1].
    let mut m = [[0.0f64; 3]; 3];
    let mut v = [0.0f64; 3];
    for (i, &y) in x.iter().enumerate() {
        let b = [(w * i as f64).sin(), (w * i as f64).cos(), 1.0];
        for r in 0..3 {
            v[r] += b[r] * y;
            for c in 0..3 {
                m[r][c] += b[r] * b[c];
            }
        }
    }
    let coef = solve3(m, v);
    let mut res = 0.0;
    for (i, &y) in x.iter().enumerate() {
        let fit = coef[0] * (w * i as f64).sin() + coef[1] * (w * i as f64).cos() + coef[2];
        res += (y - fit) * (y - fit);
    }
    let amp = (coef[0] * coef[0] + coef[1] * coef[1]).sqrt();
    let res_rms = (res / x.len() as f64).sqrt();
    (amp, 20.0 * (res_rms / (amp / 2f64.sqrt())).log10())
}

#[allow(clippy::needless_range_loop)]
fn solve3(mut m: [[f64; 3]; 3], mut v: [f64; 3]) -> [f64; 3] {
    for col in 0..3 {
        let piv = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs())).unwrap();
        m.swap(col, piv);
        v.swap(col, piv);
        for r in 0..3 {
            if r != col {
                let f = m[r][col] / m[col][col];
                for c in 0..3 {
                    m[r][c] -= f * m[col][c];
                }
                v[r] -= f * v[col];
            }
        }
    }
    [v[0] / m[0][0], v[1] / m[1][1], v[2] / m[2][2]]
}
