//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use ferrite_engine::desc::GraphDesc;
use ferrite_engine::Compiled;
use serde_json::json;

/// A deterministic noise buffer in [-1, 1).
pub fn noise(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f64 / 4294967296.0 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// `n` samples in [-1, 1) of a xorshift64 sequence (13, 7, 17) seeded from
/// `seed`: deterministic test signals.
pub fn unit_noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// An oscillator node of amplitude 0.3 (`shape`: its `type` option).
pub fn osc(id: u32, f: f64, shape: &str) -> serde_json::Value {
    json!({"id": id, "type": "oscillator", "params": {"frequency": f, "amplitude": 0.3}, "options": {"type": shape}})
}

/// An `eq` node of `bands` bands; `band(b)` gives band `b`'s type,
/// frequency, q and gain in dB.
pub fn eq_node(id: u32, bands: usize, band: impl Fn(usize) -> (&'static str, f64, f64, f64)) -> serde_json::Value {
    let mut params = serde_json::Map::new();
    let mut kinds = Vec::new();
    for b in 0..bands {
        let (kind, f, q, g) = band(b);
        params.insert(format!("bands[{b}].frequency"), json!(f));
        params.insert(format!("bands[{b}].q"), json!(q));
        params.insert(format!("bands[{b}].gainDb"), json!(g));
        kinds.push(json!({"type": kind}));
    }
    json!({"id": id, "type": "eq", "params": params, "options": {"bands": kinds}})
}

/// Renders 2000 frames of `a` in blocks of `block`, swaps to `b` taking
/// `a`'s state, renders 3000 more; returns the whole output.
pub fn render_across_swap(mut a: Compiled, mut b: Compiled, block: usize) -> Vec<Vec<f64>> {
    let mut out = render_blocks(&mut a, 0, 2000, block, &input, &mut |_, _| {});
    b.graph.take_state_from(&mut a.graph);
    let rest = render_blocks(&mut b, 2000, 3000, block, &input, &mut |_, _| {});
    for (o, r) in out.iter_mut().zip(rest) {
        o.extend(r);
    }
    out
}

/// Parses a graph from a `serde_json::json!` value.
pub fn graph(v: serde_json::Value) -> GraphDesc {
    GraphDesc::from_value(&v).expect("valid graph")
}

/// A player of `buffer 0` through a biquad, a delay with feedback and a gain into the output.
pub fn mix_graph(gain: f64) -> GraphDesc {
    graph(json!({
        "version": 1,
        "nodes": [
            {"id": 0, "type": "input"}, {"id": 1, "type": "output"},
            {"id": 2, "type": "player", "options": {"channels": {"buffer": 0}, "loop": true}},
            {"id": 3, "type": "biquad", "params": {"frequency": 1500, "q": 2, "gainDb": 6}, "options": {"type": "peaking"}},
            {"id": 4, "type": "delay", "params": {"frames": 300, "feedback": 0.4, "mix": 0.5}},
            {"id": 5, "type": "gain", "params": {"gain": gain}},
            {"id": 6, "type": "constant", "params": {"value": 0.01}}
        ],
        "connections": [[2, 3], [3, 4], [4, 5], [5, 1], [6, 5], [0, 5]]
    }))
}

/// Renders frames `start..start + frames` of a compiled graph in blocks of
/// `block` (the last one shorter), writing `input(frame, channel)` into the
/// render input first; `at_block(graph, block index)` runs before each block.
/// Returns the planar output.
pub fn render_blocks(
    c: &mut Compiled,
    start: usize,
    frames: usize,
    block: usize,
    input: &dyn Fn(usize, usize) -> f64,
    at_block: &mut dyn FnMut(&mut Compiled, usize),
) -> Vec<Vec<f64>> {
    let channels = c.graph.channels();
    let mut out: Vec<Vec<f64>> = (0..channels).map(|_| Vec::with_capacity(frames)).collect();
    let (mut pos, mut k) = (start, 0);
    while pos < start + frames {
        let n = block.min(start + frames - pos);
        at_block(c, k);
        for ch in 0..channels {
            for (i, v) in c.graph.input_mut(ch).iter_mut().take(n).enumerate() {
                *v = input(pos + i, ch);
            }
        }
        c.graph.render_block(pos as u64, n, &mut c.lanes);
        for (ch, o) in out.iter_mut().enumerate() {
            o.extend_from_slice(c.graph.output(ch, n));
        }
        pos += n;
        k += 1;
    }
    out
}

/// A deterministic render input: a tone plus a sawtooth-like pattern, per
/// frame `t` and channel `c`, about ±0.5.
pub fn input(t: usize, c: usize) -> f64 {
    let x = (t as f64 * 0.031 + c as f64).sin() * 0.4;
    x + 0.3 * ((t * 7919 + c * 31) % 1000) as f64 / 1000.0 - 0.15
}

/// [`render_blocks`] from frame 0 with [`input`].
pub fn render(
    c: &mut Compiled,
    frames: usize,
    block: usize,
    at_block: &mut dyn FnMut(&mut Compiled, usize),
) -> Vec<Vec<f64>> {
    render_blocks(c, 0, frames, block, &input, at_block)
}

/// Runs `callbacks` stereo device callbacks on `core`, each inside
/// `assert_no_alloc`, at the sizes devices deliver (256, 100, 1 and 37
/// frames in turn; `input` holds at least 256 interleaved stereo frames).
/// Before each callback `each(control, cb)` sends that callback's control
/// traffic; after it the control side collects garbage. Resets the violation
/// count first (the caller asserts it) and returns the loudest output sample.
pub fn callbacks_without_allocating(
    control: &mut ferrite_engine::realtime::EngineControl,
    core: &mut ferrite_engine::realtime::AudioCore,
    input: &[f32],
    callbacks: usize,
    mut each: impl FnMut(&mut ferrite_engine::realtime::EngineControl, usize),
) -> f32 {
    let mut out = vec![0.0f32; 256 * 2];
    assert_no_alloc::reset_violation_count();
    let mut heard = 0.0f32;
    for cb in 0..callbacks {
        each(control, cb);
        let frames = [256usize, 100, 1, 37][cb % 4];
        assert_no_alloc::assert_no_alloc(|| core.render(&mut out[..frames * 2], &input[..frames * 2], 2, frames, 2));
        heard = heard.max(out[..frames * 2].iter().fold(0.0f32, |m, x| m.max(x.abs())));
        control.collect_garbage();
    }
    heard
}

/// Bit patterns of rendered channels, for exact comparisons.
pub fn bits(x: &[Vec<f64>]) -> Vec<Vec<u64>> {
    x.iter().map(|c| c.iter().map(|v| v.to_bits()).collect()).collect()
}

/// Renders 6000 frames of a graph built by `build(channels, on)` with a
/// compiler option off and on, at 2 and 3 channels and blocks of 128, 37
/// and 1, with gain node `ramped` ramped to 0.05 over 500 frames from block
/// 7, and asserts the same bits. The graph must pan (its channels differ)
/// and carry real signal (peak above 0.1).
pub fn assert_option_keeps_bits(build: &dyn Fn(usize, bool) -> Compiled, ramped: u32) {
    let ramp = |c: &mut Compiled, k: usize| {
        if k == 7 {
            let (n, p) = (c.info.nodes[&ramped].index, c.info.nodes[&ramped].param_index(ramped, "gain").unwrap());
            c.graph.param_mut(n, p).unwrap().set(0.05, 500);
        }
    };
    for channels in [2usize, 3] {
        for block in [128usize, 37, 1] {
            let want = render_blocks(&mut build(channels, false), 0, 6000, block, &input, &mut |c, k| ramp(c, k));
            let got = render_blocks(&mut build(channels, true), 0, 6000, block, &input, &mut |c, k| ramp(c, k));
            assert_eq!(bits(&got), bits(&want), "{channels} channels, block {block}");
            assert_ne!(bits(&want[..1]), bits(&want[1..2]), "the pan makes the channels differ");
            let peak = want[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(peak > 0.1, "{peak}");
        }
    }
}
