//! Automation evaluation per 128-frame block: a cursor per lane, a constant
//! fast path where the lane is flat.
//!
//! `cargo bench --bench automation`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrite_engine::automation::Lane;
use ferrite_engine::desc::{Curve, PointDesc};
use std::hint::black_box;

fn lane(curve: Curve, points: usize, spacing: f64) -> Lane {
    let pts: Vec<PointDesc> =
        (0..points).map(|i| PointDesc { frame: i as f64 * spacing, value: (i % 7) as f64 * 0.1, curve }).collect();
    Lane::new(&pts)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("automation_block_128");
    group.throughput(Throughput::Elements(128));
    for (name, curve, spacing) in [
        ("linear_points_every_1000_frames", Curve::Linear, 1000.0),
        ("scurve_points_every_1000_frames", Curve::SCurve, 1000.0),
        ("linear_points_every_16_frames", Curve::Linear, 16.0),
        ("step_flat_fast_path", Curve::Step, 100_000.0),
    ] {
        let mut l = lane(curve, 10_000, spacing);
        let mut buf = [0.0f64; 128];
        let mut pos = 0u64;
        let end = (10_000.0 * spacing) as u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                let r = l.fill(pos, &mut buf);
                pos = (pos + 128) % end;
                black_box((r, buf[127]))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
