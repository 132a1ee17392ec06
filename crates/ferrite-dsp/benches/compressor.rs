//! Cost of one stereo compressor per 128-frame block at 48 kHz.
//!
//! Run: `cargo bench -p ferrite-dsp --bench compressor -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ferrite_dsp::compressor::{smooth_lanes, Compressor, DEFAULTS};
use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};

const FS: f64 = 48_000.0;
const BLOCK: usize = 128;

/// A stereo block: a 997 Hz sine of amplitude `amp` plus a little noise.
fn signal(amp: f64) -> Vec<f64> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..2 * BLOCK)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let n = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            amp * (2.0 * std::f64::consts::PI * 997.0 * (i % BLOCK) as f64 / FS).sin() + 0.02 * amp * n
        })
        .collect()
}

/// CPU time of this thread in seconds (utime + stime from /proc, 10 ms ticks
/// on the usual kernels), or `None` where that file does not exist. Unlike
/// wall time it does not count time the thread spent descheduled on a busy
/// machine.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name in parentheses; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Prints CPU microseconds per block of `step` over about two CPU seconds.
fn cpu_per_block(name: &str, mut step: impl FnMut(u64)) {
    let Some(t0) = thread_cpu_seconds() else { return };
    let mut blocks = 0u64;
    while thread_cpu_seconds().map_or(f64::INFINITY, |t| t - t0) < 2.0 {
        for _ in 0..10_000 {
            step(blocks);
            blocks += 1;
        }
    }
    let t = thread_cpu_seconds().unwrap_or(t0) - t0;
    let us = t * 1e6 / blocks as f64;
    println!("{name}: {us:.3} us CPU per block ({:.2}% of the 2667 us budget)", 100.0 * us / (BLOCK as f64 / FS * 1e6));
}

fn run(c: &mut Criterion, name: &str, amp: f64, params: [f64; 6]) {
    let mut comp = Compressor::new();
    comp.prepare(&PrepareContext { sample_rate: FS, max_block: BLOCK, channels: 2 });
    let pb: Vec<ParamBuffer> = params.iter().map(|&v| ParamBuffer::new(v, BLOCK)).collect();
    let src = signal(amp);
    let mut data = src.clone();
    let mut position = 0u64;
    c.bench_function(name, |b| {
        b.iter(|| {
            // Fresh input each block so the level (not a decaying output) is measured.
            data.copy_from_slice(&src);
            let ctx = ProcessContext { frames: BLOCK, position, params: &pb };
            comp.process(&ctx, &mut Bus::new(black_box(&mut data), 2, BLOCK, BLOCK));
            position += BLOCK as u64;
        })
    });
    cpu_per_block(name, |block| {
        data.copy_from_slice(&src);
        let ctx = ProcessContext { frames: BLOCK, position: block * BLOCK as u64, params: &pb };
        comp.process(&ctx, &mut Bus::new(black_box(&mut data), 2, BLOCK, BLOCK));
    });
    black_box(comp.gain_reduction_db());
}

fn bench(c: &mut Criterion) {
    // Always compressing: -6 dBFS sine against a -40 dB threshold.
    let mut hot = DEFAULTS;
    hot[0] = -40.0;
    run(c, "compressor stereo 128 compressing", 0.5, hot);
    // Mostly below: -30 dBFS peaks against the default -24 dB threshold.
    run(c, "compressor stereo 128 below threshold", 0.03, DEFAULTS);
    // Releasing: loud signal then quiet; here alternate so that release tails run.
    let mut comp = Compressor::new();
    comp.prepare(&PrepareContext { sample_rate: FS, max_block: BLOCK, channels: 2 });
    let pb: Vec<ParamBuffer> = DEFAULTS.iter().map(|&v| ParamBuffer::new(v, BLOCK)).collect();
    let (loud, quiet) = (signal(0.5), signal(0.01));
    let mut data = loud.clone();
    let mut position = 0u64;
    c.bench_function("compressor stereo 128 release tail", |b| {
        b.iter(|| {
            let src = if (position / BLOCK as u64).is_multiple_of(200) { &loud } else { &quiet };
            data.copy_from_slice(src);
            let ctx = ProcessContext { frames: BLOCK, position, params: &pb };
            comp.process(&ctx, &mut Bus::new(black_box(&mut data), 2, BLOCK, BLOCK));
            position += BLOCK as u64;
        })
    });
    cpu_per_block("compressor stereo 128 release tail", |block| {
        let src = if block.is_multiple_of(200) { &loud } else { &quiet };
        data.copy_from_slice(src);
        let ctx = ProcessContext { frames: BLOCK, position: block * BLOCK as u64, params: &pb };
        comp.process(&ctx, &mut Bus::new(black_box(&mut data), 2, BLOCK, BLOCK));
    });
}

/// Automated threshold (a slow ramp, one value per frame): the per-frame
/// parameter path.
fn bench_automated(c: &mut Criterion) {
    let mut comp = Compressor::new();
    comp.prepare(&PrepareContext { sample_rate: FS, max_block: BLOCK, channels: 2 });
    let mut pb: Vec<ParamBuffer> = DEFAULTS.iter().map(|&v| ParamBuffer::new(v, BLOCK)).collect();
    for (i, v) in pb[0].varying_mut(BLOCK).iter_mut().enumerate() {
        *v = -40.0 + 0.01 * i as f64;
    }
    let src = signal(0.5);
    let mut data = src.clone();
    let mut position = 0u64;
    c.bench_function("compressor stereo 128 automated threshold", |b| {
        b.iter(|| {
            data.copy_from_slice(&src);
            let ctx = ProcessContext { frames: BLOCK, position, params: &pb };
            comp.process(&ctx, &mut Bus::new(black_box(&mut data), 2, BLOCK, BLOCK));
            position += BLOCK as u64;
        })
    });
}

/// 8 stereo compressors run as a batch (batch_begin, smooth_lanes,
/// batch_finish), all compressing; the time is for the 8.
fn bench_batch(c: &mut Criterion) {
    const M: usize = 8;
    let mut comps: Vec<Compressor> = (0..M)
        .map(|_| {
            let mut comp = Compressor::new();
            comp.prepare(&PrepareContext { sample_rate: FS, max_block: BLOCK, channels: 2 });
            comp
        })
        .collect();
    let pbs: Vec<Vec<ParamBuffer>> = (0..M)
        .map(|m| {
            let mut p = DEFAULTS;
            p[0] = -40.0 + m as f64;
            p.iter().map(|&v| ParamBuffer::new(v, BLOCK)).collect()
        })
        .collect();
    let src: Vec<Vec<f64>> = (0..M).map(|m| signal(0.3 + 0.05 * m as f64)).collect();
    let mut data = src.clone();
    let mut targets = vec![0.0; M * BLOCK];
    let mut exps = vec![0.0; M * BLOCK];
    let mut lanes = Vec::with_capacity(M);
    let mut position = 0u64;
    c.bench_function("compressor 8x stereo 128 batched, compressing", |b| {
        b.iter(|| {
            lanes.clear();
            for m in 0..M {
                data[m].copy_from_slice(&src[m]);
                let ctx = ProcessContext { frames: BLOCK, position, params: &pbs[m] };
                let bus = Bus::new(black_box(&mut data[m]), 2, BLOCK, BLOCK);
                if let Some(lane) = comps[m].batch_begin(&ctx, &bus, &mut targets[m * BLOCK..(m + 1) * BLOCK]) {
                    lanes.push(lane);
                }
            }
            smooth_lanes(&mut lanes, &targets, &mut exps, BLOCK, BLOCK);
            for (m, lane) in lanes.iter().enumerate() {
                let mut bus = Bus::new(black_box(&mut data[m]), 2, BLOCK, BLOCK);
                comps[m].batch_finish(&mut bus, &mut exps[m * BLOCK..(m + 1) * BLOCK], lane);
            }
            position += BLOCK as u64;
        })
    });
}

criterion_group!(benches, bench, bench_automated, bench_batch);
criterion_main!(benches);
