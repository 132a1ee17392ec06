//! Element-wise and scan kernels at every SIMD level this CPU supports:
//! gain, ramp, mix, pan, peak, sum of squares and the convolver's complex
//! multiply-accumulate, and the oscillator kernels (sine, band-limited saw table
//! read) against a per-frame loop calling `f64::sin`. Throughput is in f64
//! elements (complex bins for cmac, frames for the oscillators).

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrite_dsp::kernels::*;

/// 8 channels × 128 frames: one block of a small bus.
const N: usize = 1024;

fn signal(n: usize, seed: u64) -> Vec<f64> {
    common::xorshift(seed | 1, n)
}

fn bench(c: &mut Criterion) {
    let levels = supported_levels();
    let src = signal(N, 7);
    let gains: Vec<f64> = (0..N).map(|i| 1.0 - i as f64 * 1e-6).collect();

    let mut g = c.benchmark_group("gain");
    g.throughput(Throughput::Elements(N as u64));
    for &l in &levels {
        let mut x = signal(N, 1);
        g.bench_function(BenchmarkId::new("const", l.name()), |b| {
            // Gain 1 keeps the buffer from decaying into denormals.
            b.iter(|| gain_at(l, black_box(&mut x), black_box(1.0)))
        });
        g.bench_function(BenchmarkId::new("varying", l.name()), |b| {
            b.iter(|| gain_varying_at(l, black_box(&mut x), &gains))
        });
        let mut x = signal(N, 1);
        g.bench_function(BenchmarkId::new("ramp", l.name()), |b| {
            b.iter(|| gain_ramp_at(l, black_box(&mut x), black_box(1.0), 0.0))
        });
        let (mut left, mut right) = (signal(N / 2, 2), signal(N / 2, 3));
        g.bench_function(BenchmarkId::new("pan_stereo", l.name()), |b| {
            b.iter(|| pan_stereo_at(l, black_box(&mut left), black_box(&mut right), 1.0, 1.0))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("mix");
    g.throughput(Throughput::Elements(N as u64));
    for &l in &levels {
        let mut dst = signal(N, 4);
        g.bench_function(BenchmarkId::new("mix_into", l.name()), |b| {
            b.iter(|| mix_into_at(l, black_box(&mut dst), &src, black_box(0.0)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Elements(N as u64));
    for &l in &levels {
        g.bench_function(BenchmarkId::new("peak_abs", l.name()), |b| b.iter(|| peak_abs_at(l, black_box(&src))));
        g.bench_function(BenchmarkId::new("sum_squares", l.name()), |b| b.iter(|| sum_squares_at(l, black_box(&src))));
    }
    g.finish();

    // One partition of a 2048-point FFT: 1025 bins (2050 f64).
    let bins = 1025;
    let (x, h) = (signal(2 * bins, 5), signal(2 * bins, 6));
    let mut g = c.benchmark_group("cmac");
    g.throughput(Throughput::Elements(bins as u64));
    for &l in &levels {
        let mut acc = vec![0.0; 2 * bins];
        g.bench_function(BenchmarkId::from_parameter(l.name()), |b| {
            b.iter(|| {
                acc.fill(0.0);
                cmac_at(l, black_box(&mut acc), &x, &h)
            })
        });
    }
    g.finish();
}

/// Oscillator kernels: 128 frames of a 440 Hz sine and of a band-limited saw
/// (two table levels crossfaded), at every level, beside a per-frame
/// `f64::sin` loop (what a naive oscillator does) for scale.
fn bench_osc(c: &mut Criterion) {
    use ferrite_dsp::wavetable::{bank, Shape};
    const FRAMES: usize = 128;
    let inc = 440.0 / 48000.0;
    let step = osc::phase_of_cycles(inc);
    let saw = bank().table(Shape::Saw);
    let Some(mix) = saw.select(inc).and_then(|s| saw.mix(s)) else { return };
    let mut out = vec![0.0; FRAMES];
    let mut g = c.benchmark_group("osc_128");
    g.throughput(Throughput::Elements(FRAMES as u64));
    for l in supported_levels() {
        let mut p = 0u64;
        g.bench_function(BenchmarkId::new("sine", l.name()), |b| {
            b.iter(|| p = osc::sine_at(l, 0.5, p, step, black_box(&mut out)))
        });
        let mut p = 0u64;
        g.bench_function(BenchmarkId::new("saw_table", l.name()), |b| {
            b.iter(|| p = osc::table_at(l, &mix, 0.5, p, step, black_box(&mut out)))
        });
        // One level: the steady state of a held frequency (the oscillator's
        // own crossfaded table).
        let one = osc::TableMix { lo: mix.lo, hi: None };
        let mut p = 0u64;
        g.bench_function(BenchmarkId::new("saw_table_one_level", l.name()), |b| {
            b.iter(|| p = osc::table_at(l, &one, 0.5, p, step, black_box(&mut out)))
        });
    }
    let mut ph = 0.0f64;
    g.bench_function("sine_libm_per_frame", |b| {
        b.iter(|| {
            for y in out.iter_mut() {
                *y = 0.5 * (std::f64::consts::TAU * ph).sin();
                ph += inc;
                if ph >= 1.0 {
                    ph -= 1.0;
                }
            }
            black_box(&mut out);
        })
    });
    g.finish();
}

/// The `meter` processor on a stereo 44.1 kHz block of 4096 frames (what
/// `analyzeFile` feeds it), with and without true peak: the second is the
/// K-weighting, the sub-block sums and the sample tallies alone.
/// Throughput in frames.
fn bench_meter(c: &mut Criterion) {
    use ferrite_dsp::meter::Meter;
    use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
    const FRAMES: usize = 4096;
    let mut g = c.benchmark_group("meter_stereo_4096");
    g.throughput(Throughput::Elements(FRAMES as u64));
    // Quieter than full scale, as programme is, so true peak skips most blocks
    // as it does on real files.
    let mut block: Vec<f64> = signal(2 * FRAMES, 9).iter().map(|v| v * 0.25).collect();
    for (name, true_peak) in [("loudness", false), ("loudness_and_true_peak", true)] {
        let mut m = Meter::new();
        m.prepare(&PrepareContext { sample_rate: 44100.0, max_block: FRAMES, channels: 2 });
        let _tap = (!true_peak).then(|| m.split_true_peak());
        let mut position = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                let ctx = ProcessContext { frames: FRAMES, position, params: &[] };
                m.process(&ctx, &mut Bus::new(black_box(&mut block), 2, FRAMES, FRAMES));
                position += FRAMES as u64;
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_osc, bench_meter);
criterion_main!(benches);
