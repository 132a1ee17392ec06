//! Gain folding (`CompileOptions::fold`): a constant `gain` read by one
//! node is applied by that node while it sums its inputs; the samples must
//! be the same bits as running the gain node.

mod common;

use common::input;
use ferrite_engine::compile::{compile_with, CompileOptions};
use ferrite_engine::desc::GraphDesc;
use ferrite_engine::{Compiled, RenderSettings};
use serde_json::json;

const SR: f64 = 48000.0;

fn bits(x: &[Vec<f64>]) -> Vec<Vec<u64>> {
    x.iter().map(|c| c.iter().map(|v| v.to_bits()).collect()).collect()
}

/// Six oscillators through gains into a bus (one gain at exactly 1, one
/// ramped from block 5, one automated by a lane), the bus through a gain into
/// a pan (read in place: not folded) and a gain on a path that gets a
/// compensation delay (a limiter's lookahead on the other path).
fn fold_session() -> GraphDesc {
    let mut nodes = vec![
        json!({"id": 1, "type": "output"}),
        json!({"id": 2, "type": "gain", "params": {"gain": 0.5}}),
        json!({"id": 3, "type": "gain", "params": {"gain": 0.7}}),
        json!({"id": 4, "type": "pan", "params": {"pan": 0.3}}),
        json!({"id": 5, "type": "oscillator", "params": {"frequency": 220.0}, "options": {"type": "sine"}}),
        json!({"id": 6, "type": "gain", "params": {"gain": 0.9}}),
        json!({"id": 7, "type": "limiter", "params": {"ceilingDb": -3.0, "lookaheadMs": 2.0}}),
    ];
    let mut conns =
        vec![json!([2, 3]), json!([3, 4]), json!([4, 1]), json!([5, 6]), json!([6, 1]), json!([5, 7]), json!([7, 1])];
    for k in 0..6u32 {
        let (osc, g) = (10 + 2 * k, 11 + 2 * k);
        let gain = [0.25, 1.0, 0.4, 0.3, 0.2, 0.15][k as usize];
        nodes.push(json!({"id": osc, "type": "oscillator", "params": {"frequency": 90.0 + 37.0 * k as f64}, "options": {"type": "saw"}}));
        nodes.push(json!({"id": g, "type": "gain", "params": {"gain": gain}}));
        conns.extend([json!([osc, g]), json!([g, 2])]);
    }
    common::graph(json!({"version": 1, "nodes": nodes, "connections": conns,
        "automation": [{"node": 15, "param": "gain", "points": [
            {"frame": 0, "value": 0.1}, {"frame": 2400, "value": 0.6}, {"frame": 4000, "value": 0.6}]}]}))
}

#[test]
fn folded_gains_render_the_same_bits_as_gain_nodes() {
    let desc = fold_session();
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let build = |fold: bool| {
        compile_with(
            &desc,
            settings,
            &[],
            CompileOptions {
                batch: true,
                fuse: true,
                fold,
                mono: true,
                defer: true,
                twin: true,
                ..CompileOptions::default()
            },
        )
        .unwrap()
    };
    // Five track gains fold into the bus; the first is not (the bus renders
    // in place on its buffer), nor the bus gain (the pan reads it in place),
    // nor the gain on the delayed path.
    assert_eq!(build(true).graph.folded_gains(), 5);
    assert_eq!(build(false).graph.folded_gains(), 0);
    let ramp = |c: &mut Compiled, k: usize| {
        if k == 5 {
            let (n, p) = (c.info.nodes[&17].index, c.info.nodes[&17].param_index(17, "gain").unwrap());
            c.graph.param_mut(n, p).unwrap().set(0.9, 300);
        }
    };
    for block in [128usize, 37, 1] {
        let want = common::render_blocks(&mut build(false), 0, 6000, block, &input, &mut |c, k| ramp(c, k));
        let got = common::render_blocks(&mut build(true), 0, 6000, block, &input, &mut |c, k| ramp(c, k));
        assert_eq!(bits(&got), bits(&want), "block {block}");
        let peak = want[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak > 0.05, "{peak}");
    }
}
