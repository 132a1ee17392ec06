//! Biquad kernels: the SoA bank and the pipelined cascade at every SIMD level
//! this CPU supports, against a serial scalar chain.
//!
//! Throughput is in biquad-samples (one biquad applied to one sample). The
//! filters are all-pass sections (unit magnitude), so repeatedly filtering the
//! same buffer neither blows up nor decays into denormals.
//!
//! After the criterion groups (only when run with `--bench`), one fixed-work
//! pass timed with `Instant` prints `ratio bank/serial = X` and the bank's
//! share of the 5.5 G biquad-samples/s limit quoted in DESIGN.md.

mod common;

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use ferrite_dsp::kernels::{supported_levels, BiquadBank, BiquadCascade, BiquadCoeffs, SimdLevel};

const FRAMES: usize = 128;

/// RBJ all-pass at `f0` Hz, 48 kHz.
fn allpass(f0: f64, q: f64) -> BiquadCoeffs {
    let w = 2.0 * std::f64::consts::PI * f0 / 48000.0;
    let alpha = w.sin() / (2.0 * q);
    let c = w.cos();
    BiquadCoeffs::normalized(1.0 - alpha, -2.0 * c, 1.0 + alpha, 1.0 + alpha, -2.0 * c, 1.0 - alpha)
}

fn band(i: usize) -> BiquadCoeffs {
    allpass(50.0 * 1.37f64.powi((i % 20) as i32), 0.5 + (i % 7) as f64 * 0.3)
}

fn signal(n: usize) -> Vec<f64> {
    common::xorshift(0x2545_F491_4F6C_DD1D, n)
}

fn make_bank(lanes: usize, stages: usize) -> (BiquadBank, Vec<f64>) {
    let mut bank = BiquadBank::new(lanes, stages);
    for l in 0..lanes {
        for s in 0..stages {
            bank.set_coeffs(s, l, band(l * 3 + s));
        }
    }
    let data = signal(bank.stride() * FRAMES);
    (bank, data)
}

fn make_cascade(stages: usize) -> (BiquadCascade, Vec<f64>) {
    let mut eq = BiquadCascade::new(stages);
    for s in 0..stages {
        eq.set_coeffs(s, band(s * 5));
    }
    (eq, signal(FRAMES))
}

fn bench_bank(c: &mut Criterion) {
    for &(lanes, stages) in &[(64usize, 1usize), (1024, 1), (128, 8)] {
        let mut g = c.benchmark_group(format!("bank_{lanes}x{stages}"));
        g.throughput(Throughput::Elements((lanes * stages * FRAMES) as u64));
        for level in supported_levels() {
            let (mut bank, mut data) = make_bank(lanes, stages);
            g.bench_function(BenchmarkId::from_parameter(level.name()), |b| {
                b.iter(|| bank.process_at(level, black_box(&mut data), FRAMES))
            });
        }
        g.finish();
    }
}

fn bench_cascade(c: &mut Criterion) {
    // One cascade of 4 stages (one vector's worth at AVX2) and of 8.
    for stages in [4, 8] {
        let mut g = c.benchmark_group(format!("cascade_{stages}"));
        g.throughput(Throughput::Elements((stages * FRAMES) as u64));
        for level in supported_levels() {
            let (mut eq, mut data) = make_cascade(stages);
            g.bench_function(BenchmarkId::from_parameter(level.name()), |b| {
                b.iter(|| eq.process_at(level, black_box(&mut data)))
            });
        }
        g.finish();
    }
    let stages = 8;
    // Two channels (a stereo EQ) through two cascades in one interleaved pass.
    let mut g = c.benchmark_group("cascade_8_pair");
    g.throughput(Throughput::Elements((2 * stages * FRAMES) as u64));
    for level in supported_levels() {
        let ((mut l, mut a), (mut r, mut b)) = (make_cascade(stages), make_cascade(stages));
        g.bench_function(BenchmarkId::from_parameter(level.name()), |bch| {
            bch.iter(|| l.process_pair_at(level, black_box(&mut a), &mut r, black_box(&mut b)))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("cascade_8");
    g.throughput(Throughput::Elements((stages * FRAMES) as u64));
    // The baseline: 8 biquads in series, sample by sample, plain scalar code
    // written here (not a kernel).
    let coeffs: Vec<BiquadCoeffs> = (0..stages).map(|s| band(s * 5)).collect();
    let mut z = vec![[0.0f64; 2]; stages];
    let mut data = signal(FRAMES);
    g.bench_function("serial_scalar_chain", |b| b.iter(|| serial_chain(&coeffs, &mut z, black_box(&mut data))));
    g.finish();
}

/// Plain serial TDF-II chain: the baseline the kernels are compared with.
fn serial_chain(coeffs: &[BiquadCoeffs], z: &mut [[f64; 2]], data: &mut [f64]) {
    for v in data.iter_mut() {
        let mut x = *v;
        for (c, z) in coeffs.iter().zip(z.iter_mut()) {
            let y = c.b0 * x + z[0];
            z[0] = c.b1 * x + z[1] - c.a1 * y;
            z[1] = c.b2 * x - c.a2 * y;
            x = y;
        }
        *v = x;
    }
}

/// Biquad-samples per second of `f` (each call does `work` biquad-samples):
/// the best of `ROUNDS` short timed windows, because this machine is shared
/// and a window that lost the CPU says nothing about the kernel.
fn rate(work: usize, calls: usize, mut f: impl FnMut()) -> f64 {
    const ROUNDS: usize = 15;
    for _ in 0..calls {
        f(); // warm-up
    }
    let mut best = 0.0f64;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..calls {
            f();
        }
        best = best.max((work * calls) as f64 / t.elapsed().as_secs_f64());
    }
    best
}

/// One fixed-work pass: bank at the best level vs the serial scalar chain.
fn ratio_report() {
    const LIMIT: f64 = 5.5e9; // DESIGN.md: AVX-512, 64 lanes, on the reference machine
    let best = ferrite_dsp::kernels::simd_level();
    let (mut bank, mut data) = make_bank(64, 1);
    let bank_rate = rate(64 * FRAMES, 500, || bank.process_at(best, black_box(&mut data), FRAMES));
    let (mut big, mut big_data) = make_bank(128, 8);
    let big_rate = rate(128 * 8 * FRAMES, 40, || big.process_at(best, black_box(&mut big_data), FRAMES));
    let (mut eq, mut eq_data) = make_cascade(8);
    let casc_rate = rate(8 * FRAMES, 4_000, || eq.process_at(best, black_box(&mut eq_data)));
    let ((mut l, mut a), (mut r, mut b)) = (make_cascade(8), make_cascade(8));
    let pair_rate = rate(2 * 8 * FRAMES, 2_000, || l.process_pair_at(best, black_box(&mut a), &mut r, &mut b));
    let coeffs: Vec<BiquadCoeffs> = (0..8).map(|s| band(s * 5)).collect();
    let mut z = vec![[0.0f64; 2]; 8];
    let mut s_data = signal(FRAMES);
    let serial_rate = rate(8 * FRAMES, 4_000, || serial_chain(&coeffs, &mut z, black_box(&mut s_data)));
    let g = |r: f64| r / 1e9;
    println!();
    println!("biquad summary (level {best}, G biquad-samples/s, best of 15 windows, one run):");
    println!("  serial scalar chain (8 stages)   {:.3}", g(serial_rate));
    println!("  cascade 8 stages, wavefront      {:.3}", g(casc_rate));
    println!("  cascade 8 stages, stereo pair    {:.3}", g(pair_rate));
    println!("  bank 64 lanes x 1 stage          {:.3}", g(bank_rate));
    println!("  bank 128 lanes x 8 stages        {:.3}", g(big_rate));
    println!("ratio bank/serial = {:.1}", bank_rate / serial_rate);
    println!("ratio cascade/serial = {:.2}", casc_rate / serial_rate);
    println!("ratio cascade pair/serial = {:.2}", pair_rate / serial_rate);
    println!("bank vs 5.5 G limit (DESIGN.md, AVX-512) = {:.0}% (goal >= 40%)", 100.0 * bank_rate / LIMIT);
    if best != SimdLevel::Avx512 {
        println!("  note: this CPU runs {best}, not AVX-512; the 5.5 G limit assumes AVX-512");
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_bank(&mut c);
    bench_cascade(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        ratio_report();
    }
}
