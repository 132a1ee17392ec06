//! Cost of one stereo meter per 128-frame block at 48 kHz, printed as a share
//! of the block's time budget (128 / 48000 s = 2.667 ms).
//!
//! Also: a stereo meter fed 2 s of pink-ish programme noise at 44.1 kHz in
//! 16384-frame blocks (as file analysis feeds it) and in 128-frame blocks,
//! from a reset meter each iteration (so the true peak is found as it rises).
//!
//! Run: `cargo bench -p ferrite-dsp --bench meter -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ferrite_dsp::meter::Meter;
use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};

const FS: f64 = 48_000.0;
const BLOCK: usize = 128;

/// A prepared stereo meter and a block of programme-like signal.
fn setup() -> (Meter, Vec<f64>) {
    let mut m = Meter::new();
    m.prepare(&PrepareContext { sample_rate: FS, max_block: BLOCK, channels: 2 });
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let data = (0..2 * BLOCK)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let n = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            0.5 * (2.0 * std::f64::consts::PI * 997.0 * (i % BLOCK) as f64 / FS).sin() + 0.2 * n
        })
        .collect();
    (m, data)
}

const ANALYSIS_FS: f64 = 44_100.0;

/// Planar stereo pink-ish noise (three one-pole bands of white noise) under a
/// slow, syllable-like envelope, `seconds` long at 44.1 kHz, peaking near -1 dBFS.
fn programme(seconds: f64) -> Vec<f64> {
    let frames = (seconds * ANALYSIS_FS) as usize;
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut white = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut out = vec![0.0; 2 * frames];
    for c in 0..2 {
        let (mut b0, mut b1, mut b2) = (0.0, 0.0, 0.0);
        for n in 0..frames {
            let w = white();
            b0 = 0.997 * b0 + 0.03 * w;
            b1 = 0.96 * b1 + 0.12 * w;
            b2 = 0.6 * b2 + 0.3 * w;
            let t = n as f64 / ANALYSIS_FS;
            let env = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * (1.7 + c as f64 * 0.3) * t).sin().abs();
            out[c * frames + n] = env * (b0 + b1 + b2 + 0.05 * w);
        }
    }
    let peak = out.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    out.iter_mut().for_each(|v| *v *= 0.89 / peak);
    out
}

/// Meters the whole of `signal` (planar stereo) in blocks of `block` frames.
fn analyse(m: &mut Meter, signal: &[f64], scratch: &mut [f64], block: usize) {
    let frames = signal.len() / 2;
    m.reset();
    let mut start = 0;
    while start < frames {
        let n = block.min(frames - start);
        for c in 0..2 {
            scratch[c * block..c * block + n].copy_from_slice(&signal[c * frames + start..c * frames + start + n]);
        }
        let ctx = ProcessContext { frames: n, position: start as u64, params: &[] };
        m.process(&ctx, &mut Bus::new(black_box(&mut *scratch), 2, block, n));
        start += n;
    }
}

fn bench_analysis(c: &mut Criterion) {
    let signal = programme(2.0);
    for block in [16384usize, 128] {
        let mut m = Meter::new();
        m.prepare(&PrepareContext { sample_rate: ANALYSIS_FS, max_block: block, channels: 2 });
        let mut scratch = vec![0.0; 2 * block];
        c.bench_function(&format!("meter stereo 2 s pink noise @44.1k, {block}-frame blocks"), |b| {
            b.iter(|| analyse(&mut m, &signal, &mut scratch, block))
        });
        black_box(m.total_reading());
    }
}

fn bench(c: &mut Criterion) {
    let (mut m, mut data) = setup();
    let mut position = 0u64;
    c.bench_function("meter stereo 128 frames @48k", |b| {
        b.iter(|| {
            let ctx = ProcessContext { frames: BLOCK, position, params: &[] };
            m.process(&ctx, &mut Bus::new(black_box(&mut data), 2, BLOCK, BLOCK));
            position += BLOCK as u64;
        })
    });
    black_box(m.total_reading());

    // The share of the block budget, measured in this run.
    let (mut m, mut data) = setup();
    let blocks = 20_000u64;
    let start = Instant::now();
    for block in 0..blocks {
        let ctx = ProcessContext { frames: BLOCK, position: block * BLOCK as u64, params: &[] };
        m.process(&ctx, &mut Bus::new(black_box(&mut data), 2, BLOCK, BLOCK));
    }
    let per_block = start.elapsed() / blocks as u32;
    let budget = Duration::from_secs_f64(BLOCK as f64 / FS);
    println!(
        "meter: {:.2} us per stereo 128-frame block = {:.2}% of the {:.0} us budget at 48 kHz",
        per_block.as_secs_f64() * 1e6,
        100.0 * per_block.as_secs_f64() / budget.as_secs_f64(),
        budget.as_secs_f64() * 1e6
    );
    black_box(m.total_reading());
}

criterion_group!(benches, bench, bench_analysis);
criterion_main!(benches);
