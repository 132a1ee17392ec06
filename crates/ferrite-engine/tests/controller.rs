//! The controller and its `ferrite-control` thread: a bad call is refused by
//! the call itself; good calls take effect on the audio thread in call
//! order; nothing is dropped or freed on the audio thread.

mod common;
use common::graph;
use ferrite_engine::realtime::{engine_pair, Controller};
use ferrite_engine::RenderSettings;
use serde_json::json;

fn settings() -> RenderSettings {
    RenderSettings { sample_rate: 48_000.0, channels: 2, max_block: 64 }
}

/// A constant `value` through a gain (id 3) to the output.
fn constant(value: f64) -> ferrite_engine::GraphDesc {
    graph(json!({
        "version": 1,
        "nodes": [
            {"id": 1, "type": "output"},
            {"id": 2, "type": "constant", "params": {"value": value}},
            {"id": 3, "type": "gain", "params": {"gain": 1.0}},
            {"id": 4, "type": "meter", "options": {"name": "m"}}
        ],
        "connections": [[2, 3], [3, 4], [4, 1]]
    }))
}

/// One callback of `frames` frames; the first sample of the left channel.
fn first_sample(core: &mut ferrite_engine::realtime::AudioCore, frames: usize) -> f32 {
    let mut out = vec![0.0f32; frames * 2];
    core.render(&mut out, &[], 0, frames, 2);
    out[0]
}

#[test]
fn bad_calls_are_refused_by_the_call_and_change_nothing() {
    let (control, mut core, _meters) = engine_pair(settings());
    core.shared().transport.play();
    let mut c = Controller::start(control).unwrap();
    c.set_graph(&constant(0.25), &[]).unwrap();
    let e = c
        .set_graph(&graph(json!({"version": 1, "nodes": [{"id": 1, "type": "output"}, {"id": 2, "type": "gain"}], "connections": [[2, 2]]})), &[])
        .unwrap_err();
    assert!(e.message.contains("cycle"), "{}", e.message);
    let e = c.set_graph(&graph(json!({"version": 1, "nodes": [{"id": 2, "type": "nope"}]})), &[]).unwrap_err();
    assert!(e.message.contains("unknown node type 'nope'"), "{}", e.message);
    let e = c.set_param(3, "gain", f64::NAN, None, None).unwrap_err();
    assert!(e.message.contains("gain #3") && e.message.contains("finite"), "{}", e.message);
    let e = c.set_param(9, "gain", 1.0, None, None).unwrap_err();
    assert!(e.message.contains("#9"), "{}", e.message);
    let e = c.set_param(3, "gain", 1.0, Some(-1.0), None).unwrap_err();
    assert!(e.message.contains("rampMs"), "{}", e.message);
    assert!(c.reset_meter("nope").unwrap_err().message.contains("no meter named 'nope'"));
    c.reset_meter("m").unwrap();
    c.sync();
    // The good graph plays; nothing failed on the control thread.
    assert_eq!(first_sample(&mut core, 64), 0.25);
    assert!(c.errors().try_recv().is_err());
    c.stop();
}

#[test]
fn calls_take_effect_in_call_order() {
    let (control, mut core, _meters) = engine_pair(settings());
    core.shared().transport.play();
    let mut c = Controller::start(control).unwrap();
    assert_eq!(c.latency(), 0);
    // A parameter change right after its graph, then a second graph and a
    // change of the node it keeps: each refers to the graph given before it.
    c.set_graph(&constant(0.5), &[]).unwrap();
    c.set_param(3, "gain", 0.5, Some(0.0), None).unwrap();
    c.set_graph(&constant(0.5), &[]).unwrap();
    c.set_param(3, "gain", 2.0, Some(0.0), None).unwrap();
    c.sync();
    assert_eq!(first_sample(&mut core, 64), 1.0);
    // The latency of a graph is known as soon as it is given.
    let limited = graph(json!({
        "version": 1,
        "nodes": [{"id": 1, "type": "output"}, {"id": 2, "type": "constant", "params": {"value": 0.1}},
                  {"id": 5, "type": "limiter", "options": {"lookaheadMs": 2.0}}],
        "connections": [[2, 5], [5, 1]]
    }));
    c.set_graph(&limited, &[]).unwrap();
    assert_eq!(c.latency(), 96);
    // The new graph has no node 3 any more: refused at once.
    assert!(c.set_param(3, "gain", 1.0, None, None).is_err());
    c.stop();
}

#[test]
fn the_audio_thread_neither_allocates_nor_frees_while_graphs_swap() {
    let (control, mut core, _meters) = engine_pair(settings());
    core.shared().transport.play();
    let mut c = Controller::start(control).unwrap();
    let mut out = vec![0.0f32; 128];
    assert_no_alloc::reset_violation_count();
    for k in 0..200 {
        c.set_graph(&constant(0.01 * f64::from(k % 7)), &[]).unwrap();
        c.set_param(3, "gain", 0.5, None, None).unwrap();
        assert_no_alloc::assert_no_alloc(|| core.render(&mut out, &[], 0, 64, 2));
        if k % 10 == 0 {
            c.sync();
        }
    }
    c.sync();
    for _ in 0..4 {
        assert_no_alloc::assert_no_alloc(|| core.render(&mut out, &[], 0, 64, 2));
    }
    assert_eq!(assert_no_alloc::violation_count(), 0);
    // The last graph plays: 0.01 · (199 mod 7) through a gain ramping to 0.5.
    assert!(out.iter().all(|x| x.is_finite()));
    c.stop();
}

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;
