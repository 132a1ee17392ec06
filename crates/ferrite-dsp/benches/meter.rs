//! Cost of one stereo meter per 128-frame block at 48 kHz, printed as a share
//! of the block's time budget (128 / 48000 s = 2.667 ms).
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

criterion_group!(benches, bench);
criterion_main!(benches);
