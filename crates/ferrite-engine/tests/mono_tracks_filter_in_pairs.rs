//! Twins (`CompileOptions::twin`): in a stereo render, `eq` nodes of four or
//! more bands and fused biquad chains at the same depth are paired, and while
//! both of a pair run mono blocks on their kept cascades they run them as one
//! stereo wavefront. Every path (paired, one partner alone because the other
//! is automated, has a stereo input or was just touched, the odd one out, a
//! swap) must give the same bits as without twins and as full width.

mod common;

use assert_no_alloc::{violation_count, AllocDisabler};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

use common::osc;
use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::{Compiled, RenderSettings};
use serde_json::json;

const SR: f64 = 48000.0;

fn build_with(desc: &GraphDesc, channels: usize, options: CompileOptions) -> Compiled {
    let settings = RenderSettings { sample_rate: SR, channels, max_block: 128 };
    compile_with(desc, settings, &[], options).expect("compiles")
}

fn build(desc: &GraphDesc, channels: usize, twin: bool) -> Compiled {
    build_with(desc, channels, CompileOptions { twin, ..CompileOptions::default() })
}

/// An `eq` node of `bands` bands (peaking, low shelf and high shelf in turn).
fn eq(id: u32, bands: usize, f0: f64) -> serde_json::Value {
    let kinds = ["peaking", "lowshelf", "highshelf"];
    common::eq_node(id, bands, |b| {
        let g = if b % 2 == 0 { 6.0 } else { -4.0 };
        (kinds[b % 3], f0 * (b as f64 + 1.0).powf(1.6), 0.9 + 0.15 * b as f64, g)
    })
}

/// Tracks of oscillator → filter → compressor → pan into a bus gain:
/// - `eq` 101 and 111 (8 bands; while the test ramps a band of 111, 101
///   waits for it and runs alone);
/// - `eq` 121 and 131 (10 bands: two cascades each);
/// - `eq` 141 and a fused chain of eight `biquad` nodes (tail 188);
/// - `eq` 171, the odd one out at its depth (8 bands: unpaired);
/// - one level deeper (behind a gain), `eq` 161 on a mono input and `eq`
///   151 on a stereo one (a pan first): 161 waits and runs alone at 151's
///   turn.
///
/// With `variant`, the chain and 111 are gone and 171's input is stereo.
fn twin_session_json(variant: bool) -> serde_json::Value {
    let mut nodes = vec![json!({"id": 1, "type": "output"}), json!({"id": 2, "type": "gain", "params": {"gain": 0.3}})];
    let mut conns = vec![json!([2, 1])];
    let comp = |id: u32| {
        json!({"id": id, "type": "compressor",
            "params": {"thresholdDb": -28.0, "ratio": 5.0, "attackMs": 2.0, "releaseMs": 50.0}})
    };
    let track = |nodes: &mut Vec<serde_json::Value>, conns: &mut Vec<serde_json::Value>, t: u32, filter: u32| {
        let (o, c, p) = (filter - 1, filter + 1, filter + 2);
        nodes.push(osc(o, 60.0 + 37.0 * f64::from(t), ["saw", "square", "triangle"][t as usize % 3]));
        nodes.push(comp(c));
        nodes.push(json!({"id": p, "type": "pan", "params": {"pan": -0.8 + 0.2 * f64::from(t)}}));
        conns.extend([json!([o, filter]), json!([filter, c]), json!([c, p]), json!([p, 2])]);
    };
    let chain = |nodes: &mut Vec<serde_json::Value>, conns: &mut Vec<serde_json::Value>| {
        // Eight biquads in series, fused into one chain with tail 188.
        nodes.push(osc(180, 83.0, "saw"));
        nodes.push(json!({"id": 190, "type": "pan", "params": {"pan": 0.4}}));
        let mut prev = 180;
        for b in 0..8u32 {
            let id = 181 + b;
            nodes.push(json!({"id": id, "type": "biquad", "options": {"type": if b == 0 { "highpass" } else { "peaking" }},
                "params": {"frequency": 60.0 * f64::from(b + 1).powf(1.8), "q": 1.3, "gainDb": if b % 2 == 0 { -5.0 } else { 6.0 }}}));
            conns.push(json!([prev, id]));
            prev = id;
        }
        conns.extend([json!([188, 190]), json!([190, 2])]);
    };
    for (t, (id, bands)) in
        [(101u32, 8usize), (111, 8), (121, 10), (131, 10), (141, 8), (171, 8)].into_iter().enumerate()
    {
        if variant && id == 111 {
            continue;
        }
        if !variant && id == 171 {
            chain(&mut nodes, &mut conns);
        }
        nodes.push(eq(id, bands, 70.0 + 15.0 * t as f64));
        track(&mut nodes, &mut conns, t as u32, id);
    }
    // One level deeper: 161 behind a gain (mono), 151 behind a pan (stereo).
    nodes.extend([
        osc(159, 220.0, "saw"),
        json!({"id": 158, "type": "gain", "params": {"gain": 0.9}}),
        eq(161, 8, 110.0),
        osc(149, 330.0, "square"),
        json!({"id": 148, "type": "pan", "params": {"pan": 0.7}}),
        eq(151, 8, 95.0),
    ]);
    conns.extend([
        json!([159, 158]),
        json!([158, 161]),
        json!([161, 2]),
        json!([149, 148]),
        json!([148, 151]),
        json!([151, 2]),
    ]);
    if variant {
        // 171's oscillator through a pan: a stereo input.
        nodes.push(json!({"id": 169, "type": "pan", "params": {"pan": -0.5}}));
        conns.retain(|c| c != &json!([170, 171]));
        conns.extend([json!([170, 169]), json!([169, 171])]);
    }
    json!({"version": 1, "nodes": nodes, "connections": conns})
}

fn twin_session(variant: bool) -> GraphDesc {
    common::graph(twin_session_json(variant))
}

/// Sets parameter `name` of node `id` to `value` over `frames`.
fn set(c: &mut Compiled, id: u32, name: &str, value: f64, frames: u64) {
    let (n, p) = (c.info.nodes[&id].index, c.info.nodes[&id].param_index(id, name).unwrap());
    c.graph.param_mut(n, p).unwrap().set(value, frames);
}

#[test]
fn twins_render_the_same_bits_as_filters_alone_and_full_width() {
    let desc = twin_session(false);
    // Bus gain 2 ramps from block 7 on; 3 channels: no twins.
    common::assert_option_keeps_bits(&|channels, on| build(&desc, channels, on), 2);
    // Against twins off and against full width (no mono blocks, hence no
    // twins): a band of 111 ramped from block 20 over 1500 frames, and a
    // band of 131 set now and then (that pair splits for a block).
    let touch = |c: &mut Compiled, k: usize| {
        if k == 20 {
            set(c, 111, "bands[3].gainDb", -8.0, 1500);
        }
        if k % 9 == 4 {
            set(c, 131, "bands[7].q", 1.0 + 0.1 * (k % 4) as f64, 0);
        }
    };
    let full = CompileOptions { mono: false, ..CompileOptions::default() };
    let render = |c: &mut Compiled, block: usize| {
        common::render_blocks(c, 0, 6000, block, &common::input, &mut |c, k| touch(c, k))
    };
    for block in [128usize, 37, 1] {
        let got = render(&mut build(&desc, 2, true), block);
        assert_eq!(common::bits(&got), common::bits(&render(&mut build(&desc, 2, false), block)), "block {block}");
        assert_eq!(common::bits(&got), common::bits(&render(&mut build_with(&desc, 2, full), block)), "block {block}");
    }
    // 101+111, 121+131, 141+the chain's tail 188, 161+151; not 171.
    let mut c = build(&desc, 2, true);
    assert_eq!(c.graph.twin_pairs(), 4);
    assert_eq!(build(&desc, 2, false).graph.twin_pairs(), 0);
    assert_eq!(build(&desc, 3, true).graph.twin_pairs(), 0);
    assert_eq!(build_with(&desc, 2, full).graph.twin_pairs(), 0);
    // Three pairs run together (161 alone: 151's input is stereo).
    common::render(&mut c, 1024, 128, &mut |_, _| {});
    assert_eq!(c.graph.twinned(), [101, 111, 141, 188, 121, 131]);
    // While 111's band ramps, 101 runs alone; a block after 131 is touched,
    // 121 does.
    set(&mut c, 111, "bands[3].gainDb", -8.0, 1500);
    set(&mut c, 131, "bands[7].q", 2.0, 0);
    common::render_blocks(&mut c, 1024, 128, 128, &common::input, &mut |_, _| {});
    assert_eq!(c.graph.twinned(), [141, 188]);
    common::render_blocks(&mut c, 1152, 128, 128, &common::input, &mut |_, _| {});
    assert_eq!(c.graph.twinned(), [141, 188, 121, 131]);
}

/// Renders `first` (twins on or off), swaps to `second` taking its state at
/// frame 2000 (mid-automation), renders to 5000.
fn swap_render(first: &GraphDesc, second: &GraphDesc, on: bool, block: usize) -> Vec<Vec<f64>> {
    common::render_across_swap(build(first, 2, on), build(second, 2, on), block)
}

/// A swap re-pairs the twins (101 with 121's depth-mate changes when 111
/// goes, 171 gets a stereo input): the filter memory each twin kept in its
/// cascades goes to the new graph as without twins.
#[test]
fn a_swap_re_pairs_twins_with_their_memory() {
    let (a, b) = (twin_session(false), twin_session(true));
    assert_eq!(build(&b, 2, true).graph.twin_pairs(), 3);
    for block in [128usize, 37] {
        for (first, second) in [(&a, &b), (&b, &a)] {
            let want = swap_render(first, second, false, block);
            let got = swap_render(first, second, true, block);
            assert_eq!(common::bits(&got), common::bits(&want), "block {block}");
        }
    }
}

/// Swaps between the two sessions under a storm of band parameters on
/// twins: no allocation on the audio side.
#[test]
fn twins_render_without_allocating() {
    let graphs = [twin_session(false), twin_session(true)];
    let (mut control, mut core, _meters) =
        ferrite_engine::realtime::engine_pair(RenderSettings { sample_rate: SR, channels: 2, max_block: 256 });
    let input = vec![0.1f32; 256 * 2];
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 240, |control, cb| {
        if cb % 16 == 0 {
            control.set_graph(&graphs[(cb / 16) % 2], &[]).unwrap();
        }
        let k = f64::from(u32::try_from(cb % 5).unwrap());
        if cb % 3 == 0 {
            let _ = control.set_param(121, "bands[9].gainDb", k - 2.0, Some(0.002), None);
            let _ = control.set_param(183, "gainDb", k, None, None);
            let _ = control.set_param(161, "bands[0].frequency", 100.0 + 20.0 * k, None, None);
        }
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.05, "{heard}");
}
