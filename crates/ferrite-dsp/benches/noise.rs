//! Cost per sample of a noise source against an oscillator, one channel,
//! 128-frame blocks at 48 kHz (the render core runs mono sources on one channel).
//!
//! Run: `cargo bench -p ferrite-dsp --bench noise -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrite_dsp::noise::{Color, Noise};
use ferrite_dsp::oscillator::{Oscillator, Waveform};
use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};

const FS: f64 = 48_000.0;
const BLOCK: usize = 128;

fn run(c: &mut Criterion, name: &str, mut p: Box<dyn Processor>, params: &[f64]) {
    p.prepare(&PrepareContext { sample_rate: FS, max_block: BLOCK, channels: 1 });
    let pb: Vec<ParamBuffer> = params.iter().map(|&v| ParamBuffer::new(v, BLOCK)).collect();
    let mut buf = vec![0.0f64; BLOCK];
    let mut position = 0u64;
    let mut g = c.benchmark_group("source");
    g.throughput(Throughput::Elements(BLOCK as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            let ctx = ProcessContext { frames: BLOCK, position, params: &pb };
            p.process(&ctx, &mut Bus::new(&mut buf, 1, BLOCK, BLOCK));
            position += BLOCK as u64;
            black_box(&buf);
        })
    });
    g.finish();
}

fn sources(c: &mut Criterion) {
    run(c, "oscillator sine", Box::new(Oscillator::new(Waveform::Sine)), &[440.0, 0.5, 0.0]);
    run(c, "oscillator saw", Box::new(Oscillator::new(Waveform::Saw)), &[440.0, 0.5, 0.0]);
    run(c, "noise white", Box::new(Noise::new(Color::White, 1)), &[0.5]);
    run(c, "noise pink", Box::new(Noise::new(Color::Pink, 1)), &[0.5]);
    run(c, "noise brown", Box::new(Noise::new(Color::Brown, 1)), &[0.5]);
}

criterion_group!(benches, sources);
criterion_main!(benches);
