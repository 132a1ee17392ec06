//! Validation: random and malformed graphs never panic the parser or the
//! compiler; every refusal is a clean `EngineError` that names what is wrong;
//! cycles are `RangeError`s naming the nodes on them; and a set of fixed
//! mistakes get the error they deserve (an absurd delay is refused before
//! anything is allocated for it).

use ferrite_engine::desc::GraphDesc;
use ferrite_engine::{compile, ErrorKind, RenderSettings};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

// ─────────────── the largest allocation made by this thread ───────────────

struct Biggest;

thread_local! {
    static BIGGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = BIGGEST.try_with(|b| b.set(b.get().max(size)));
}

// SAFETY: forwards every call to `System` unchanged; only records sizes in a
// const-initialized thread-local `Cell` (no allocation, no destructor).
unsafe impl GlobalAlloc for Biggest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Biggest = Biggest;

/// Runs `f` and returns its result with the largest single allocation it made.
fn biggest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    BIGGEST.with(|b| b.set(0));
    let r = f();
    (r, BIGGEST.with(Cell::get))
}

// ──────────────────────────────── helpers ────────────────────────────────

const SETTINGS: RenderSettings = RenderSettings { sample_rate: 48_000.0, channels: 2, max_block: 64 };

/// Parses and compiles; `Ok(latency)` or the error.
fn try_compile(v: &Value, settings: RenderSettings) -> Result<usize, ferrite_engine::EngineError> {
    let d = GraphDesc::from_value(v)?;
    compile(&d, settings, &[]).map(|c| c.graph.latency())
}

fn err(v: &Value) -> ferrite_engine::EngineError {
    match try_compile(v, SETTINGS) {
        Ok(_) => panic!("accepted: {v}"),
        Err(e) => e,
    }
}

fn g(nodes: Value, connections: Value) -> Value {
    json!({"version": 1, "nodes": nodes, "connections": connections})
}

/// Whether `msg` names `label` (`"gain #1"` but not as a prefix of `"gain #12"`).
fn names(msg: &str, label: &str) -> bool {
    msg.match_indices(label).any(|(i, _)| !msg[i + label.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The node ids a cycle message names, in order (`gain #3 → pan #4 → gain #3`).
fn cycle_ids(msg: &str) -> Vec<u32> {
    let tail = msg.rsplit("cycle:").next().unwrap_or("");
    tail.split('→')
        .filter_map(|part| {
            let digits: String = part.split('#').nth(1)?.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

// ─────────────────────────────── strategies ───────────────────────────────

/// Every node type the engine knows (the generators draw from it).
const TYPES: &[&str] = ferrite_engine::nodes::NODE_TYPES;

const UNKNOWN_TYPES: &[&str] = &["", "Gain", "limiter ", "reverb", "#3", "null"];

const PARAM_NAMES: &[&str] = &[
    "frequency",
    "amplitude",
    "phase",
    "value",
    "gain",
    "pan",
    "q",
    "gainDb",
    "frames",
    "feedback",
    "mix",
    "thresholdDb",
    "ratio",
    "attackMs",
    "releaseMs",
    "kneeDb",
    "makeupDb",
    "ceilingDb",
    "lookaheadMs",
    "bands[0].frequency",
    "bands[1].gainDb",
    "bogus",
    "",
];

const OPTION_NAMES: &[&str] =
    &["type", "bands", "ir", "normalize", "channels", "loop", "startFrame", "name", "maxFrames", "lookaheadMs", "what"];

/// Any number a user could send, including the non-finite strings.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (-2.0f64..2.0).prop_map(|x| json!(x)),
        4 => (-1000.0f64..30_000.0).prop_map(|x| json!(x)),
        2 => (0u32..5000).prop_map(|x| json!(x)),
        1 => Just(json!("NaN")),
        1 => Just(json!("Infinity")),
        1 => Just(json!("-Infinity")),
        1 => prop::sample::select(vec![1e300, -1e300, 1e12, 3.4e38, -1e9, 1e9, 5e-324, -0.0, 24_000.0, 23_999.0])
            .prop_map(|x| json!(x)),
    ]
}

/// Any JSON value of small size.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        "[a-z#]{0,6}".prop_map(Value::String),
        prop::sample::select(vec!["sine", "square", "lowpass", "peaking", "bogus", "NaN"]).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A plausible option value for `key`, or junk.
fn option_value(key: &'static str) -> BoxedStrategy<Value> {
    let plausible: BoxedStrategy<Value> = match key {
        "type" => prop::sample::select(vec!["sine", "saw", "square", "triangle", "lowpass", "highshelf", "notch", "x"])
            .prop_map(|s| json!(s))
            .boxed(),
        "ir" | "channels" => {
            prop::collection::vec(prop::collection::vec(-1.0f32..1.0, 0..20), 0..4).prop_map(|c| json!(c)).boxed()
        }
        "bands" => prop::collection::vec(
            (prop::sample::select(vec!["peaking", "lowpass", "x"]), number(), number())
                .prop_map(|(t, f, gdb)| json!({"type": t, "frequency": f, "gainDb": gdb})),
            0..4,
        )
        .prop_map(Value::Array)
        .boxed(),
        "normalize" | "loop" => any::<bool>().prop_map(Value::Bool).boxed(),
        "name" => "[a-z]{0,4}".prop_map(Value::String).boxed(),
        _ => number().boxed(),
    };
    prop_oneof![4 => plausible, 1 => junk()].boxed()
}

/// Parameter and option names that belong to node type `t`.
fn own_keys(t: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match t {
        "oscillator" => (&["frequency", "amplitude", "phase"], &["type"]),
        "constant" => (&["value"], &[]),
        "player" => (&[], &["channels", "loop", "startFrame"]),
        "gain" => (&["gain"], &[]),
        "pan" => (&["pan"], &[]),
        "biquad" => (&["frequency", "q", "gainDb"], &["type"]),
        "eq" => (&["bands[0].frequency", "bands[1].gainDb", "bands[0].q"], &["bands"]),
        "delay" => (&["frames", "feedback", "mix"], &["maxFrames"]),
        "compressor" => (&["thresholdDb", "ratio", "attackMs", "releaseMs", "kneeDb", "makeupDb"], &[]),
        "limiter" => (&["ceilingDb", "lookaheadMs", "releaseMs"], &["lookaheadMs"]),
        "convolver" => (&[], &["ir", "normalize"]),
        "meter" => (&[], &["name"]),
        _ => (&[], &[]),
    }
}

fn key(own: &'static [&'static str], all: &'static [&'static str]) -> BoxedStrategy<&'static str> {
    if own.is_empty() {
        prop::sample::select(all).boxed()
    } else {
        prop_oneof![6 => prop::sample::select(own), 1 => prop::sample::select(all)].boxed()
    }
}

fn node(ids: u32) -> impl Strategy<Value = Value> {
    prop_oneof![40 => prop::sample::select(TYPES), 1 => prop::sample::select(UNKNOWN_TYPES)]
        .prop_flat_map(move |t| {
            let (own_p, own_o) = own_keys(t);
            let params =
                prop::collection::vec((key(own_p, PARAM_NAMES), prop_oneof![12 => number(), 1 => junk()]), 0..4);
            let options =
                prop::collection::vec(key(own_o, OPTION_NAMES).prop_flat_map(|k| (Just(k), option_value(k))), 0..3);
            (0..ids, Just(t), params, options, 0u8..250)
        })
        .prop_map(|(id, t, params, options, shape)| {
            let p: Map<String, Value> = params.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let o: Map<String, Value> = options.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            match shape {
                // Mostly well-shaped nodes, sometimes a malformed one.
                0 => json!({"type": t}),
                1 => json!({"id": -1, "type": t}),
                2 => json!({"id": id, "type": 7}),
                3 => json!({"id": id, "type": t, "params": [1, 2]}),
                4 => json!([id, t]),
                _ => json!({"id": id, "type": t, "params": p, "options": o}),
            }
        })
}

fn connection(ids: u32) -> impl Strategy<Value = Value> {
    prop_oneof![
        300 => (0..ids + 1, 0..ids + 1).prop_map(|(a, b)| json!([a, b])),
        2 => (0..ids).prop_map(|a| json!([a, a])),
        1 => junk(),
        1 => Just(json!([1, -2])),
        1 => Just(json!([1, 2, 3])),
        1 => Just(json!([4_294_967_296u64, 1])),
    ]
}

fn lane(ids: u32) -> impl Strategy<Value = Value> {
    let frame = prop_oneof![30 => (0u32..100_000).prop_map(|f| json!(f)), 1 => number()];
    let value = prop_oneof![30 => (-1.0f64..1.0).prop_map(|v| json!(v)), 1 => number()];
    let curve = prop::sample::select(vec!["linear", "step", "exponential", "scurve", "linear", "cubic"]);
    let point = (frame, value, curve).prop_map(|(f, v, c)| json!({"frame": f, "value": v, "curve": c}));
    (0..ids + 1, prop::sample::select(PARAM_NAMES), prop::collection::vec(prop_oneof![30 => point, 1 => junk()], 0..5))
        .prop_map(|(n, p, pts)| json!({"node": n, "param": p, "points": pts}))
}

/// A random graph: mostly well-formed JSON, with random meaning.
fn random_graph() -> impl Strategy<Value = Value> {
    let ids = 10u32;
    (
        prop::collection::vec(node(ids), 0..10),
        prop::collection::vec(connection(ids), 0..14),
        prop::collection::vec(lane(ids), 0..3),
        0u8..60,
    )
        .prop_map(|(nodes, conns, lanes, shape)| match shape {
            0 => json!({"nodes": nodes}),
            1 => json!({"version": 2, "nodes": nodes}),
            2 => json!({"version": 1, "nodes": {"0": nodes}}),
            3 => json!({"version": 1, "nodes": nodes, "connections": {"a": 1}}),
            4 => json!([nodes]),
            _ => json!({"version": 1, "nodes": nodes, "connections": conns, "automation": lanes}),
        })
}

/// A random graph that is well-formed and often valid: known types, sane
/// parameters, random connections (cycles included).
fn plausible_graph() -> impl Strategy<Value = Value> {
    let kinds = vec!["oscillator", "constant", "gain", "pan", "biquad", "delay", "compressor", "limiter", "meter"];
    let n = prop::collection::vec((prop::sample::select(kinds), 0.0f64..1.0, 0.0f64..1.0), 1..8);
    (n, prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u8..12), 0..16), any::<bool>()).prop_map(|(ns, conns, inp)| {
        let mut nodes = vec![json!({"id": 0, "type": "output"})];
        if inp {
            nodes.push(json!({"id": 1, "type": "input"}));
        }
        for (k, (t, a, b)) in ns.into_iter().enumerate() {
            let id = k as u32 + 2;
            nodes.push(match t {
                "oscillator" => json!({"id": id, "type": t, "params": {"frequency": 20.0 + a * 20_000.0, "amplitude": b}}),
                "constant" => json!({"id": id, "type": t, "params": {"value": a - 0.5}}),
                "gain" => json!({"id": id, "type": t, "params": {"gain": a * 2.0}}),
                "pan" => json!({"id": id, "type": t, "params": {"pan": a * 2.0 - 1.0}}),
                "biquad" => json!({"id": id, "type": t, "params": {"frequency": 30.0 + a * 20_000.0, "q": 0.1 + b * 10.0}, "options": {"type": "peaking"}}),
                "delay" => json!({"id": id, "type": t, "params": {"frames": (a * 500.0).floor(), "feedback": b * 0.9}}),
                "compressor" => json!({"id": id, "type": t, "params": {"thresholdDb": -a * 60.0, "ratio": 1.0 + b * 20.0}}),
                "limiter" => json!({"id": id, "type": t, "params": {"lookaheadMs": a * 3.0, "ceilingDb": -b * 12.0}}),
                _ => json!({"id": id, "type": t}),
            });
        }
        // Connections between existing nodes, mostly away from the sources.
        let ids: Vec<(u64, &str)> =
            nodes.iter().filter_map(|n| Some((n["id"].as_u64()?, n["type"].as_str()?))).collect();
        let conns: Vec<Value> = conns
            .iter()
            .map(|(a, b, k)| (a.get(&ids), b.get(&ids), k))
            .filter(|((_, from), (_, to), &k)| {
                k == 0 || (*from != "output" && !matches!(*to, "input" | "oscillator" | "constant"))
            })
            .map(|(a, b, _)| json!([a.0, b.0]))
            .collect();
        json!({"version": 1, "nodes": nodes, "connections": conns})
    })
}

/// Checks an outcome: a compiled graph (rendered a little), or a clean error.
fn check_outcome(v: &Value) -> Result<(), TestCaseError> {
    let parsed = GraphDesc::from_value(v);
    let d = match parsed {
        Err(e) => {
            prop_assert!(!e.message.trim().is_empty(), "empty parse error for {}", v);
            prop_assert!(
                e.message.contains("graph") || e.message.contains('#') || e.message.contains("automation"),
                "parse error names nothing: {:?} for {}",
                e.message,
                v
            );
            return Ok(());
        }
        Ok(d) => d,
    };
    match compile(&d, SETTINGS, &[]) {
        Ok(mut c) => {
            // A compiled graph renders without panicking.
            let mut pos = 0u64;
            for n in [64usize, 1, 37] {
                c.graph.render_block(pos, n, &mut c.lanes);
                pos += n as u64;
            }
            prop_assert!(c.graph.latency() <= 10 * 48_000, "latency {}", c.graph.latency());
        }
        Err(e) => {
            prop_assert!(!e.message.trim().is_empty(), "empty compile error for {}", v);
            // With valid settings every compile-time refusal is about a node.
            prop_assert!(e.message.contains('#'), "compile error names no node: {:?} for {}", e.message, v);
            if e.message.contains("cycle") {
                prop_assert_eq!(e.kind, ErrorKind::Range, "{}", e.message);
                // The nodes named really form a cycle of this graph's connections.
                let ids = cycle_ids(&e.message);
                prop_assert!(!ids.is_empty(), "{}", e.message);
                let edge = |a: u32, b: u32| d.connections.contains(&(a, b));
                if ids.len() == 1 {
                    prop_assert!(edge(ids[0], ids[0]), "{}", e.message);
                } else {
                    prop_assert_eq!(ids.first(), ids.last(), "{}", e.message);
                    for w in ids.windows(2) {
                        prop_assert!(edge(w[0], w[1]), "{}: no connection {} → {}", e.message, w[0], w[1]);
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("FERRITE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(600), ..ProptestConfig::default() })]

    #[test]
    fn random_and_malformed_graphs_compile_or_fail_cleanly(v in random_graph()) {
        check_outcome(&v)?;
    }

    #[test]
    fn plausible_graphs_compile_or_fail_cleanly(v in plausible_graph()) {
        check_outcome(&v)?;
    }

    /// Plausible graphs under random valid settings render, or fail cleanly.
    #[test]
    fn plausible_graphs_under_random_settings(
        v in plausible_graph(),
        sr in prop::sample::select(vec![8_000.0, 22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0]),
        channels in 1usize..5,
        max_block in prop::sample::select(vec![1usize, 2, 37, 64, 128, 1024]),
    ) {
        let d = GraphDesc::from_value(&v).expect("well-formed");
        let settings = RenderSettings { sample_rate: sr, channels, max_block };
        match compile(&d, settings, &[]) {
            Ok(mut c) => {
                let mut pos = 0u64;
                for n in [max_block, 1, max_block / 2 + 1] {
                    c.graph.render_block(pos, n, &mut c.lanes);
                    for ch in 0..channels {
                        prop_assert_eq!(c.graph.output(ch, n).len(), n, "an output channel is missing");
                    }
                    pos += n as u64;
                }
            }
            Err(e) => prop_assert!(e.message.contains('#'), "{}", e.message),
        }
    }

    /// Bad render settings are refused by name, whatever the graph.
    #[test]
    fn bad_settings_are_refused_by_name(
        sr in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(0.0), Just(-48_000.0), Just(999.0), Just(2e6), 1_000.0f64..1_536_000.0],
        channels in 0usize..40,
        max_block in 0usize..20_000,
    ) {
        let v = g(json!([{"id": 0, "type": "output"}, {"id": 2, "type": "gain"}]), json!([[2, 0]]));
        let settings = RenderSettings { sample_rate: sr, channels, max_block };
        let valid = sr.is_finite() && (1_000.0..=1_536_000.0).contains(&sr)
            && (1..=32).contains(&channels) && (1..=16_384).contains(&max_block);
        match try_compile(&v, settings) {
            Ok(_) => prop_assert!(valid, "accepted {:?}", settings),
            Err(e) => {
                prop_assert!(!valid, "refused {:?}: {}", settings, e.message);
                prop_assert_eq!(e.kind, ErrorKind::Range);
                prop_assert!(["sampleRate", "channels", "blockSize"].iter().any(|n| e.message.contains(n)), "{}", e.message);
            }
        }
    }

    #[test]
    fn random_json_text_never_panics_the_parser(s in ".{0,60}") {
        if let Err(e) = GraphDesc::parse(&s) {
            prop_assert!(!e.message.is_empty());
        }
    }

    /// A ring of gains (the only cycle) hung between a source and the output,
    /// with acyclic extras: a RangeError naming exactly the ring's nodes.
    #[test]
    fn a_cycle_is_a_range_error_naming_its_nodes(
        ring in 1usize..6,
        extras in prop::collection::vec(0usize..6, 0..5),
        first in 10u32..90,
    ) {
        let ring_ids: Vec<u32> = (0..ring as u32).map(|k| first + k).collect();
        let mut nodes = vec![json!({"id": 0, "type": "output"}), json!({"id": 1, "type": "oscillator", "params": {"frequency": 100}})];
        let mut conns = vec![json!([1, ring_ids[0]]), json!([ring_ids[ring - 1], 0])];
        for (k, &id) in ring_ids.iter().enumerate() {
            nodes.push(json!({"id": id, "type": "gain"}));
            conns.push(json!([id, ring_ids[(k + 1) % ring]]));
        }
        // Extras hang off the ring towards the output (no new cycle).
        for (k, &at) in extras.iter().enumerate() {
            let id = 200 + k as u32;
            nodes.push(json!({"id": id, "type": "limiter"}));
            conns.push(json!([ring_ids[at % ring], id]));
            conns.push(json!([id, 0]));
        }
        let e = err(&json!({"version": 1, "nodes": nodes, "connections": conns}));
        prop_assert_eq!(e.kind, ErrorKind::Range, "{}", e.message);
        prop_assert!(e.message.contains("cycle"), "{}", e.message);
        for id in &ring_ids {
            prop_assert!(names(&e.message, &format!("gain #{id}")), "{} does not name gain #{}", e.message, id);
        }
        prop_assert!(!e.message.contains("oscillator #1") && !e.message.contains("limiter #"), "{}", e.message);
        prop_assert!(!names(&e.message, "output #0"), "{}", e.message);
    }
}

// ─────────────────────────────── fixed cases ───────────────────────────────

#[test]
fn a_self_loop_is_a_range_error_naming_the_node() {
    let e = err(&g(json!([{"id": 0, "type": "output"}, {"id": 5, "type": "gain"}]), json!([[5, 5], [5, 0]])));
    assert_eq!(e.kind, ErrorKind::Range);
    assert!(e.message.contains("cycle") && names(&e.message, "gain #5"), "{}", e.message);
}

#[test]
fn a_two_node_cycle_names_both() {
    let e = err(&g(
        json!([{"id": 0, "type": "output"}, {"id": 3, "type": "delay", "params": {"frames": 10}}, {"id": 4, "type": "biquad", "params": {"frequency": 500}, "options": {"type": "lowpass"}}]),
        json!([[3, 4], [4, 3], [4, 0]]),
    ));
    assert_eq!(e.kind, ErrorKind::Range);
    assert!(names(&e.message, "delay #3") && names(&e.message, "biquad #4"), "{}", e.message);
}

#[test]
fn duplicate_ids_are_refused_by_id() {
    let e =
        err(&g(json!([{"id": 0, "type": "output"}, {"id": 7, "type": "gain"}, {"id": 7, "type": "pan"}]), json!([])));
    assert_eq!(e.kind, ErrorKind::Type);
    assert!(names(&e.message, "#7"), "{}", e.message);
    let e = err(&g(json!([{"id": 0, "type": "output"}, {"id": 1, "type": "output"}]), json!([])));
    assert!(e.message.contains("#0") && e.message.contains("#1"), "{}", e.message);
}

#[test]
fn a_connection_into_a_source_or_out_of_the_output_is_refused() {
    let nodes = json!([{"id": 0, "type": "output"}, {"id": 1, "type": "input"},
        {"id": 2, "type": "oscillator", "params": {"frequency": 100}}, {"id": 3, "type": "gain"}]);
    let e = err(&g(nodes.clone(), json!([[3, 2]])));
    assert_eq!(e.kind, ErrorKind::Type);
    assert!(names(&e.message, "oscillator #2"), "{}", e.message);
    let e = err(&g(nodes.clone(), json!([[3, 1]])));
    assert!(names(&e.message, "input #1"), "{}", e.message);
    let e = err(&g(nodes.clone(), json!([[0, 3]])));
    assert!(names(&e.message, "output #0"), "{}", e.message);
    let e = err(&g(nodes, json!([[3, 99]])));
    assert_eq!(e.kind, ErrorKind::Type);
    assert!(names(&e.message, "#99"), "{}", e.message);
}

#[test]
fn an_ir_with_the_wrong_channel_count_is_refused() {
    let conv = |ir: Value| {
        g(json!([{"id": 0, "type": "output"}, {"id": 4, "type": "convolver", "options": {"ir": ir}}]), json!([[4, 0]]))
    };
    let e = err(&conv(json!([[1.0], [0.5], [0.25]])));
    assert_eq!(e.kind, ErrorKind::Range);
    assert!(names(&e.message, "convolver #4") && e.message.contains('3'), "{}", e.message);
    // Channels of different lengths, an empty IR, no channels, a non-finite tap.
    for ir in [json!([[1.0, 0.5], [1.0]]), json!([[]]), json!([]), json!([[1.0, "NaN"]])] {
        let e = err(&conv(ir.clone()));
        assert_eq!(e.kind, ErrorKind::Range, "{ir}: {}", e.message);
        assert!(names(&e.message, "convolver #4"), "{}", e.message);
    }
    // 1 and `channels` IR channels are fine.
    assert!(try_compile(&conv(json!([[1.0]])), SETTINGS).is_ok());
    assert!(try_compile(&conv(json!([[1.0], [0.5]])), SETTINGS).is_ok());
    let mono = RenderSettings { channels: 1, ..SETTINGS };
    assert!(try_compile(&conv(json!([[1.0], [0.5]])), mono).is_err());
}

#[test]
fn a_frequency_at_nyquist_is_refused() {
    let osc = |f: f64| {
        g(
            json!([{"id": 0, "type": "output"}, {"id": 2, "type": "oscillator", "params": {"frequency": f}}]),
            json!([[2, 0]]),
        )
    };
    let bq = |f: f64| {
        g(
            json!([{"id": 0, "type": "output"}, {"id": 1, "type": "input"},
        {"id": 3, "type": "biquad", "params": {"frequency": f}, "options": {"type": "lowpass"}}]),
            json!([[1, 3], [3, 0]]),
        )
    };
    for graph in [osc(24_000.0), bq(24_000.0), osc(30_000.0), bq(0.0)] {
        let e = err(&graph);
        assert_eq!(e.kind, ErrorKind::Range, "{}", e.message);
        assert!(e.message.contains("frequency") && e.message.contains('#'), "{}", e.message);
    }
    assert!(err(&osc(24_000.0)).message.contains("Nyquist"));
    assert!(try_compile(&osc(23_999.0), SETTINGS).is_ok());
    assert!(try_compile(&bq(23_999.0), SETTINGS).is_ok());
    // Nyquist moves with the sample rate.
    let at = |sr: f64| RenderSettings { sample_rate: sr, ..SETTINGS };
    assert!(try_compile(&osc(22_050.0), at(44_100.0)).is_err());
    assert!(try_compile(&osc(22_050.0), at(48_000.0)).is_ok());
    // An eq band too.
    let eq = g(
        json!([{"id": 0, "type": "output"}, {"id": 1, "type": "input"},
        {"id": 5, "type": "eq", "options": {"bands": [{"type": "peaking"}, {"type": "highshelf"}]},
         "params": {"bands[0].frequency": 1000, "bands[1].frequency": 24_000}}]),
        json!([[1, 5], [5, 0]]),
    );
    let e = err(&eq);
    assert!(e.message.contains("bands[1].frequency") && names(&e.message, "eq #5"), "{}", e.message);
}

#[test]
fn an_absurd_delay_is_refused_before_allocating() {
    let delay = |params: Value, options: Value| {
        g(
            json!([{"id": 0, "type": "output"}, {"id": 1, "type": "input"},
            {"id": 6, "type": "delay", "params": params, "options": options}]),
            json!([[1, 6], [6, 0]]),
        )
    };
    let absurd = [
        delay(json!({"frames": 1e12}), json!({})),
        delay(json!({"frames": 9.007_199_254_740_991e15}), json!({})),
        delay(json!({"frames": 1e300}), json!({})),
        delay(json!({"frames": 10}), json!({"maxFrames": 1e15})),
        delay(json!({"frames": 600.0 * 48_000.0 + 1.0}), json!({})),
        g(
            json!([{"id": 0, "type": "output"}, {"id": 9, "type": "limiter", "params": {"lookaheadMs": 1e9}}]),
            json!([[9, 0]]),
        ),
    ];
    for v in &absurd {
        let (r, biggest) = biggest_allocation(|| try_compile(v, SETTINGS));
        let e = r.expect_err("refused");
        assert_eq!(e.kind, ErrorKind::Range, "{}", e.message);
        assert!(e.message.contains('#'), "{}", e.message);
        assert!(biggest < 1 << 20, "{}: allocated {biggest} bytes before refusing", e.message);
    }
    // Negative and fractional frames, and strings, are refused too.
    for frames in [json!(-1), json!(10.5), json!("NaN"), json!("ten")] {
        let e = err(&delay(json!({"frames": frames}), json!({})));
        assert!(names(&e.message, "delay #6"), "{}", e.message);
    }
    // A long but reasonable delay compiles (and allocates about what it needs).
    let (r, biggest) = biggest_allocation(|| try_compile(&delay(json!({"frames": 48_000}), json!({})), SETTINGS));
    assert!(r.is_ok());
    assert!(biggest >= 48_000 * 8, "allocated {biggest}");
}

#[test]
fn bad_params_and_options_are_refused_by_name() {
    let one = |node: Value| g(json!([{"id": 0, "type": "output"}, node]), json!([]));
    let cases = [
        (json!({"id": 2, "type": "gain", "params": {"gain": "NaN"}}), ErrorKind::Range, "gain"),
        (json!({"id": 2, "type": "gain", "params": {"gain": "loud"}}), ErrorKind::Type, "gain"),
        (json!({"id": 2, "type": "gain", "params": {"gian": 1}}), ErrorKind::Type, "gian"),
        (json!({"id": 2, "type": "pan", "params": {"pan": 1.5}}), ErrorKind::Range, "pan"),
        (json!({"id": 2, "type": "limiter", "params": {"ceilingDb": 3}}), ErrorKind::Range, "ceilingDb"),
        (json!({"id": 2, "type": "limiter", "params": {"lookaheadMs": -1}}), ErrorKind::Range, "lookaheadMs"),
        (json!({"id": 2, "type": "compressor", "params": {"ratio": 0.5}}), ErrorKind::Range, "ratio"),
        (json!({"id": 2, "type": "compressor", "params": {"attackMs": "-Infinity"}}), ErrorKind::Range, "attackMs"),
        (
            json!({"id": 2, "type": "convolver", "options": {"ir": [[1.0]], "normalize": "yes"}}),
            ErrorKind::Type,
            "normalize",
        ),
        (json!({"id": 2, "type": "convolver"}), ErrorKind::Type, "ir"),
        (
            json!({"id": 2, "type": "oscillator", "params": {"frequency": 100}, "options": {"type": "noise"}}),
            ErrorKind::Type,
            "noise",
        ),
        (json!({"id": 2, "type": "reverb"}), ErrorKind::Type, "reverb"),
    ];
    for (node, kind, what) in cases {
        let e = err(&one(node.clone()));
        assert_eq!(e.kind, kind, "{node}: {}", e.message);
        assert!(e.message.contains("#2") && e.message.contains(what), "{node}: {}", e.message);
    }
}

#[test]
fn bad_automation_is_refused_by_name() {
    let with = |lane: Value| {
        json!({"version": 1, "nodes": [{"id": 0, "type": "output"}, {"id": 2, "type": "gain"}],
               "connections": [[2, 0]], "automation": [lane]})
    };
    let cases = [
        json!({"node": 9, "param": "gain", "points": []}),
        json!({"node": 2, "param": "gian", "points": []}),
        json!({"node": 2, "param": "gain", "points": [{"frame": -1, "value": 1}]}),
        json!({"node": 2, "param": "gain", "points": [{"frame": 0, "value": "NaN"}]}),
        json!({"node": 2, "param": "gain", "points": [{"frame": 0, "value": 1e9}]}),
        json!({"node": 2, "param": "gain", "points": [{"frame": 0, "value": 1, "curve": "cubic"}]}),
    ];
    for lane in cases {
        let e = err(&with(lane.clone()));
        assert!(e.message.contains('#'), "{lane}: {}", e.message);
    }
    let two = json!({"version": 1, "nodes": [{"id": 0, "type": "output"}, {"id": 2, "type": "gain"}],
        "connections": [[2, 0]], "automation": [
            {"node": 2, "param": "gain", "points": [{"frame": 0, "value": 1}]},
            {"node": 2, "param": "gain", "points": [{"frame": 0, "value": 2}]}]});
    assert!(names(&err(&two).message, "gain #2"));
}

#[test]
fn a_delay_line_too_large_for_memory_is_refused_by_bytes() {
    let desc = ferrite_engine::desc::GraphDesc::from_value(&serde_json::json!({"version": 1, "nodes": [
        {"id": 0, "type": "output"}, {"id": 1, "type": "delay", "params": {"frames": 115_000_000}}],
        "connections": [[1, 0]]}))
    .unwrap();
    let settings = ferrite_engine::RenderSettings { sample_rate: 192_000.0, channels: 32, max_block: 128 };
    let e = ferrite_engine::compile(&desc, settings, &[]).err().expect("refused");
    assert_eq!(e.kind, ferrite_engine::ErrorKind::Range);
    assert!(e.message.contains("delay #1") && e.message.contains("GiB"), "{}", e.message);
}
