//! `processor` nodes (DSP on a JavaScript worker), with the worker played by
//! a Rust thread that speaks the same shared-memory protocol: the output is
//! the formula's, late by the reported latency, with a dry path beside it
//! compensated; the audio side never allocates, never waits in real time
//! (a missing worker costs underruns and silence), waits offline, and a
//! graph swap that keeps the node keeps the ring going.

mod common;

use assert_no_alloc::{reset_violation_count, violation_count, AllocDisabler};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

use ferrite_engine::jsproc::{self, memory as m, Layout, Region, Words};
use ferrite_engine::offline::{render_offline, OfflineRequest};
use ferrite_engine::{compile, RenderSettings};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const SR: f64 = 48000.0;
const Q: usize = jsproc::node::BLOCK;

/// A region for a stereo processor with one parameter, registered; and its doorbell.
fn region(k: usize) -> (u64, Arc<Words>, Arc<Words>) {
    let layout = Layout::new(2, Q, k + 2, k, 1);
    let ring = Words::owned(layout.total_words());
    layout.write_header(&ring);
    let door = Words::owned(m::DOOR_WORDS);
    // The test's worker needs the same words: share them through a second
    // `Words` over the same memory, kept alive by the first.
    let ring = Arc::new(ring);
    let door = Arc::new(door);
    let r = Region::new(alias(&ring), alias(&door)).expect("valid region");
    (jsproc::register(r), ring, door)
}

/// Another handle on the same words, keeping `w` alive.
fn alias(w: &Arc<Words>) -> Words {
    let ptr = w.word(0).unwrap() as *const _ as *mut u8;
    // SAFETY: `w`'s memory stays valid while the clone of `w` in `keep` lives.
    unsafe { Words::new(ptr, w.len(), Box::new(w.clone())) }
}

/// The worker: for each published block, output = input × the block's
/// parameter values (a per-frame gain), then stamp, count and wake.
fn spawn_worker(ring: Arc<Words>, door: Arc<Words>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    spawn_worker_stalling(ring, door, stop, false)
}

/// [`spawn_worker`], stalling for up to 3 ms after some blocks when `stalls`.
fn spawn_worker_stalling(
    ring: Arc<Words>,
    door: Arc<Words>,
    stop: Arc<AtomicBool>,
    stalls: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let l = Layout::read(&ring).unwrap();
        let mut next = 0u32;
        let mut seed = 0x2545_F491u32;
        while !stop.load(Ordering::SeqCst) {
            let rung = door.load(m::DOOR_RING, Ordering::SeqCst);
            let published = ring.load(m::PUBLISHED, Ordering::SeqCst);
            if published == next {
                door.store(m::DOOR_SLEEPING, 1, Ordering::SeqCst);
                if ring.load(m::PUBLISHED, Ordering::SeqCst) == next && !stop.load(Ordering::SeqCst) {
                    // Wake up now and then to look at `stop`.
                    let w = door.word(m::DOOR_RING).unwrap();
                    if w.load(Ordering::SeqCst) == rung {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                }
                continue;
            }
            let slot = next as usize % l.slots;
            let base = l.data + slot * l.slot_words;
            for c in 0..l.channels {
                for i in 0..l.block {
                    let x = f32::from_bits(ring.load(base + c * l.block + i, Ordering::Relaxed));
                    let g = f32::from_bits(ring.load(base + 2 * l.channels * l.block + i, Ordering::Relaxed));
                    ring.store(base + (l.channels + c) * l.block + i, (x * g).to_bits(), Ordering::Relaxed);
                }
            }
            ring.store(l.stamps + slot, next.wrapping_add(1), Ordering::SeqCst);
            ring.word(m::DONE).unwrap().fetch_add(1, Ordering::SeqCst);
            if ring.word(m::WAITING).unwrap().swap(0, Ordering::SeqCst) == 1 {
                jsproc::wake(&ring, m::DONE);
            }
            next = next.wrapping_add(1);
            if stalls {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                if seed.is_multiple_of(5) {
                    std::thread::sleep(std::time::Duration::from_micros(u64::from(seed % 3000)));
                }
            }
        }
    })
}

/// input → processor (gain automated from 1 to 0 over the render) → output,
/// and input → output directly (the dry path).
fn graph(token: Option<u64>, k: usize, frames: usize) -> ferrite_engine::GraphDesc {
    let mut options = json!({"module": "test:gain", "latencyBlocks": k,
        "parameters": [{"name": "gain", "default": 1, "min": 0, "max": 2}]});
    match token {
        Some(t) => options["memory"] = json!(t),
        None => options["latencyOnly"] = json!(true),
    }
    common::graph(json!({
        "version": 1,
        "nodes": [{"id": 0, "type": "input"}, {"id": 1, "type": "output"},
                  {"id": 2, "type": "processor", "options": options}],
        "connections": [[0, 2], [2, 1], [0, 1]],
        "automation": [{"node": 2, "param": "gain", "points": [
            {"frame": 0, "value": 1}, {"frame": frames, "value": 0}]}]
    }))
}

fn input_channels(frames: usize) -> Vec<Vec<f32>> {
    (0..2).map(|c| (0..frames).map(|t| common::input(t, c) as f32).collect()).collect()
}

#[test]
fn offline_output_is_the_formula_late_by_the_reported_latency_beside_a_compensated_dry_path() {
    let (k, frames) = (2usize, 5000usize);
    let latency = k * Q;
    for block in [128usize, 100, 1000] {
        let (token, ring, door) = region(k);
        let stop = Arc::new(AtomicBool::new(false));
        let worker = spawn_worker(ring.clone(), door.clone(), stop.clone());
        let req = OfflineRequest {
            sample_rate: SR,
            frames: frames as u64,
            channels: 2,
            block_size: block,
            input: input_channels(frames),
        };
        let r = render_offline(&graph(Some(token), k, frames), &[], &req, None).expect("renders");
        stop.store(true, Ordering::SeqCst);
        worker.join().unwrap();
        jsproc::unregister(token);
        assert_eq!(r.latency, latency);
        let input = input_channels(frames);
        for (c, (got_c, input_c)) in r.channels.iter().zip(&input).enumerate() {
            for (n, &got) in got_c.iter().enumerate() {
                let want = if n < latency {
                    0.0
                } else {
                    let t = n - latency;
                    let gain = 1.0 - t as f64 / frames as f64;
                    let x = input_c[t];
                    (x * gain as f32) as f64 + x as f64
                };
                let got = got as f64;
                assert!((got - want).abs() < 1e-6, "block {block}, channel {c}, frame {n}: {got} vs {want}");
            }
        }
        assert_eq!(ring.load(m::UNDERRUNS, Ordering::Relaxed), 0);
    }
}

#[test]
fn a_latency_query_needs_no_worker_and_a_render_without_memory_is_refused() {
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let c = compile(&graph(None, 3, 100), settings, &[]).expect("compiles for its latency");
    assert_eq!(c.info.latency, 3 * Q);
    let mut g = graph(None, 3, 100);
    g.nodes[2].options.remove("latencyOnly");
    let e = compile(&g, settings, &[]).err().expect("refused");
    assert!(e.message.contains("processor #2") && e.message.contains("test:gain"), "{}", e.message);
    g.nodes[2].options.insert("memory".into(), json!(987654));
    let e = compile(&g, settings, &[]).err().expect("refused");
    assert!(e.message.contains("no longer registered"), "{}", e.message);
}

#[test]
fn a_missing_worker_costs_underruns_and_silence_never_a_wait() {
    let k = 2;
    let (token, ring, _door) = region(k);
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let mut c = compile(&graph(Some(token), k, 10_000), settings, &[]).expect("compiles");
    let out = common::render(&mut c, 128 * 10, 128, &mut |_, _| {});
    // Blocks 0..K play the ring's initial silence; every later one under-runs.
    assert_eq!(ring.load(m::UNDERRUNS, Ordering::Relaxed), 10 - k as u32);
    for (n, &y) in out[0].iter().enumerate().skip(k * Q) {
        // Only the dry path (compensated by K blocks) is heard.
        assert_eq!(y as f32, common::input(n - k * Q, 0) as f32, "frame {n}");
    }
    jsproc::unregister(token);
}

#[test]
fn the_audio_side_never_allocates_and_a_swap_keeps_the_ring() {
    let k = 2;
    let (token, ring, door) = region(k);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = spawn_worker(ring.clone(), door.clone(), stop.clone());
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 256 };
    let mut a = compile(&graph(Some(token), k, 100_000), settings, &[]).expect("compiles");
    let mut b = compile(&graph(Some(token), k, 100_000), settings, &[]).expect("compiles");
    let mut pos = 0u64;
    reset_violation_count();
    let run = |c: &mut ferrite_engine::Compiled, blocks: usize, pos: &mut u64| {
        for i in 0..blocks {
            let n = [128usize, 100, 256, 1, 37][i % 5];
            for ch in 0..2 {
                for (j, v) in c.graph.input_mut(ch).iter_mut().take(n).enumerate() {
                    *v = common::input(*pos as usize + j, ch);
                }
            }
            assert_no_alloc::assert_no_alloc(|| c.graph.render_block(*pos, n, &mut c.lanes));
            *pos += n as u64;
            // Give the worker time, as a device's period would.
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    };
    run(&mut a, 40, &mut pos);
    assert_no_alloc::assert_no_alloc(|| b.graph.take_state_from(&mut a.graph));
    run(&mut b, 40, &mut pos);
    // The old graph's processor gave the ring away: running it writes nothing.
    let published = ring.load(m::PUBLISHED, Ordering::SeqCst);
    assert_no_alloc::assert_no_alloc(|| a.graph.render_block(pos, 128, &mut a.lanes));
    assert_eq!(ring.load(m::PUBLISHED, Ordering::SeqCst), published);
    assert_eq!(violation_count(), 0, "the audio side allocated or freed");
    // Every block crossed the swap in order (the worker saw a continuous ring).
    assert_eq!(published as u64, pos / Q as u64);
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
    jsproc::unregister(token);
}

#[test]
fn the_audio_thread_never_allocates_with_a_processor_under_swaps_crossfades_and_parameter_storms() {
    let k = 2;
    let (token, ring, door) = region(k);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = spawn_worker(ring.clone(), door.clone(), stop.clone());
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 256 };
    let (mut control, mut core, _meters) = ferrite_engine::realtime::engine_pair(settings);
    // Swaps alternate between the graph and the graph plus a node: every
    // other one removes a node, so it crossfades with the previous graph.
    let swap = |extra: bool| {
        let mut g = graph(Some(token), k, 10);
        g.automation.clear();
        if extra {
            let mut more =
                common::graph(json!({"version": 1, "nodes": [common::osc(9, 220.0, "sine")], "connections": [[9, 1]]}));
            g.nodes.append(&mut more.nodes);
            g.connections.append(&mut more.connections);
        }
        g
    };
    let input: Vec<f32> = (0..256 * 2).map(|i| common::input(i / 2, i % 2) as f32).collect();
    let heard = common::callbacks_without_allocating(&mut control, &mut core, &input, 400, |control, cb| {
        if cb % 20 == 0 {
            control.set_graph(&swap(cb % 40 == 0), &[]).unwrap();
        }
        for j in 0..5 {
            let at = if j % 2 == 0 { Some((cb * 200 + j * 7) as f64) } else { None };
            control.set_param(2, "gain", 0.5 + 0.1 * j as f64, Some((j % 3) as f64), at).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_micros(300));
    });
    assert_eq!(violation_count(), 0, "the audio thread allocated or freed");
    assert!(heard > 0.01, "{heard}");
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
    jsproc::unregister(token);
}

#[test]
fn a_late_worker_costs_whole_blocks_of_silence_each_counted_never_a_torn_or_misplaced_block() {
    let k = 2;
    let (token, ring, door) = region(k);
    let stop = Arc::new(AtomicBool::new(false));
    // A worker that now and then stalls for several blocks' worth of time.
    let worker = spawn_worker_stalling(ring.clone(), door.clone(), stop.clone(), true);
    let settings = RenderSettings { sample_rate: SR, channels: 2, max_block: 128 };
    let mut g = graph(Some(token), k, 10);
    g.automation.clear();
    // Only the processor: no dry path, so a silent block is all zeros.
    g.connections.retain(|&c| c != (0, 1));
    let mut c = compile(&g, settings, &[]).expect("compiles");
    // An input that is never zero, so silence is told apart from signal.
    let input = |t: usize, ch: usize| 0.5 + 0.25 * common::input(t, ch);
    let blocks = 600;
    let mut out: Vec<Vec<f64>> = vec![Vec::new(), Vec::new()];
    let mut pause = 0x1234_5678u32;
    for b in 0..blocks {
        let part = common::render_blocks(&mut c, b * Q, Q, Q, &input, &mut |_, _| {});
        for (o, p) in out.iter_mut().zip(part) {
            o.extend(p);
        }
        // Uneven "device periods": sometimes shorter than the worker needs.
        pause = pause.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        std::thread::sleep(std::time::Duration::from_micros((pause >> 22) as u64 % 1500));
    }
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
    let mut silent = 0;
    for b in k..blocks {
        let block: Vec<(f64, f64)> = (0..Q).map(|i| (out[0][b * Q + i], out[1][b * Q + i])).collect();
        if block.iter().all(|&(l, r)| l == 0.0 && r == 0.0) {
            silent += 1;
            continue;
        }
        for (i, &(l, r)) in block.iter().enumerate() {
            let t = (b - k) * Q + i;
            assert_eq!(l as f32, input(t, 0) as f32, "block {b} frame {i}: a whole, in-place block or silence");
            assert_eq!(r as f32, input(t, 1) as f32, "block {b} frame {i}");
        }
    }
    let underruns = ring.load(m::UNDERRUNS, Ordering::Relaxed);
    assert_eq!(underruns as usize, silent, "every silent block is counted, and only those");
    assert!(silent > 0 && silent < blocks - k, "{silent} of {blocks} blocks silent: both cases happened");
    jsproc::unregister(token);
}
