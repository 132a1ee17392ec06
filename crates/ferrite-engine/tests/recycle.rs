//! The offline renderer's output pool (`offline::recycle_output`): a render
//! writes into a buffer an earlier render's owner gave back, every sample
//! of it (nothing of the earlier contents survives), and the pool keeps to
//! its bounds. One test function: the pool is process-wide, and tests of one
//! binary run in parallel threads.

use ferrite_engine::offline::{recycle_output, recycled_outputs, POOL_MAX_BYTES, POOL_MIN_BYTES};
use ferrite_engine::{render_offline, GraphDesc, OfflineRequest};
use serde_json::json;

/// A constant `value` through a gain of 1 into the output.
fn constant(value: f64) -> GraphDesc {
    GraphDesc::from_value(&json!({
        "version": 1,
        "nodes": [
            {"id": 0, "type": "input"}, {"id": 1, "type": "output"},
            {"id": 2, "type": "constant", "params": {"value": value}},
            {"id": 3, "type": "gain", "params": {"gain": 1}}
        ],
        "connections": [[2, 3], [3, 1]]
    }))
    .expect("valid graph")
}

fn request(frames: u64, channels: usize) -> OfflineRequest {
    OfflineRequest { sample_rate: 48_000.0, frames, channels, block_size: 128, input: vec![] }
}

#[test]
fn renders_write_every_sample_of_recycled_outputs_and_the_pool_keeps_its_bounds() {
    let floats = POOL_MIN_BYTES / 4;
    // A long render (two channels of 3 MiB), then given back.
    let frames = 3 * floats as u64 + 77;
    let first = render_offline(&constant(0.25), &[], &request(frames, 2), None).expect("render");
    assert!(first.channels.iter().all(|c| c.len() == frames as usize && c.iter().all(|&v| v == 0.25)));
    let ptrs: Vec<*const f32> = first.channels.iter().map(|c| c.as_ptr()).collect();
    for c in first.channels {
        recycle_output(c);
    }
    assert_eq!(recycled_outputs().0, 2);

    // The next render of that length, of another signal and one frame
    // shorter, writes into those buffers and holds only its own samples.
    let second = render_offline(&constant(-0.5), &[], &request(frames - 1, 2), None).expect("render");
    assert_eq!(recycled_outputs().0, 0, "both buffers taken");
    for c in &second.channels {
        assert!(ptrs.contains(&c.as_ptr()), "a recycled buffer");
        assert_eq!(c.len(), frames as usize - 1);
        assert!(c.iter().all(|&v| v == -0.5), "no sample of the first render left");
    }
    let kept: Vec<*const f32> = second.channels.iter().map(|c| c.as_ptr()).collect();
    for c in second.channels {
        recycle_output(c);
    }

    // A render less than half as long does not take them (it would pin
    // twice its memory); short renders never use the pool.
    let short = render_offline(&constant(0.125), &[], &request(frames / 3, 1), None).expect("render");
    assert!(!kept.contains(&short.channels[0].as_ptr()));
    assert!(short.channels[0].iter().all(|&v| v == 0.125));
    assert_eq!(recycled_outputs().0, 2);
    let tiny = render_offline(&constant(1.0), &[], &request(1_000, 2), None).expect("render");
    assert_eq!(recycled_outputs().0, 2);
    // Small buffers are not kept.
    for c in tiny.channels {
        recycle_output(c);
    }
    assert_eq!(recycled_outputs().0, 2);

    // Bounded in bytes: buffers of a quarter of the limit fill it, the next is freed.
    let quarter = POOL_MAX_BYTES / 4 / 4;
    for _ in 0..8 {
        recycle_output(Vec::with_capacity(quarter));
    }
    let (n, bytes) = recycled_outputs();
    assert!(bytes <= POOL_MAX_BYTES, "{bytes}");
    assert_eq!(n, 2 + 3, "two 3 MiB buffers and three quarters of 64 MiB");

    // Off: nothing is kept, nothing taken.
    std::env::set_var("FERRITE_OUTPUT_POOL", "0");
    let before = recycled_outputs();
    recycle_output(Vec::with_capacity(floats * 2));
    assert_eq!(recycled_outputs(), before);
    let off = render_offline(&constant(0.75), &[], &request(frames, 2), None).expect("render");
    assert_eq!(recycled_outputs(), before);
    assert!(off.channels.iter().all(|c| !kept.contains(&c.as_ptr()) && c.iter().all(|&v| v == 0.75)));
}
