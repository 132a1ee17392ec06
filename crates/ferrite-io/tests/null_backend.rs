//! The null backend: pacing, sizes, statistics, xruns, close.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ferrite_io::{open_null, IoErrorKind, StreamConfig};

fn config(sample_rate: u32, buffer_size: u32, channels: u16) -> StreamConfig {
    StreamConfig {
        sample_rate: Some(sample_rate),
        buffer_size: Some(buffer_size),
        channels: Some(channels),
        ..Default::default()
    }
}

#[test]
fn defaults_are_48k_128_stereo() {
    let stream = open_null(&StreamConfig::default(), |out: &mut [f32], _: &[f32], _, _| out.fill(0.0)).expect("open");
    assert_eq!((stream.sample_rate(), stream.buffer_size(), stream.channels()), (48_000, 128, 2));
    assert_eq!(stream.input_channels(), 0);
    // Budget = 128 / 48000 s.
    let budget = stream.stats().budget_us;
    assert!((budget - 128.0 / 48_000.0 * 1e6).abs() < 0.01, "{budget}");
    stream.close();
}

#[test]
fn callback_receives_configured_sizes_and_zero_input() {
    // Records (frames, channels, output len, input len, input all zero, thread name ok).
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let stream = open_null(&config(44_100, 64, 3), move |out: &mut [f32], inp: &[f32], frames, ch| {
        out.fill(0.25);
        // Test-only bookkeeping; a real callback never locks.
        if let Ok(mut log) = log.try_lock() {
            let on_audio_thread = thread::current().name() == Some("ferrite-audio");
            log.push((frames, ch, out.len(), inp.len(), inp.iter().all(|&x| x == 0.0), on_audio_thread));
        }
    })
    .expect("open");
    thread::sleep(Duration::from_millis(50));
    stream.close();
    let seen = seen.lock().expect("lock");
    assert!(!seen.is_empty());
    for &entry in seen.iter() {
        assert_eq!(entry, (64, 3, 64 * 3, 64 * 3, true, true));
    }
}

#[test]
fn paces_callbacks_at_sample_rate_over_buffer_size() {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let stream = open_null(&config(48_000, 128, 2), move |out: &mut [f32], _: &[f32], _, _| {
        out.fill(0.0);
        counter.fetch_add(1, Relaxed);
    })
    .expect("open");
    thread::sleep(Duration::from_millis(50)); // let it start
    let (c0, t0) = (calls.load(Relaxed), Instant::now());
    thread::sleep(Duration::from_secs(1));
    let (c1, t1) = (calls.load(Relaxed), Instant::now());
    let stats = stream.stats();
    stream.close();

    // Functional check, not a performance one: 48000/128 = 375 per second, ±20 %.
    let rate = (c1 - c0) as f64 / (t1 - t0).as_secs_f64();
    assert!((300.0..=450.0).contains(&rate), "{rate} callbacks/s, expected about 375");
    assert_eq!(stats.frames_rendered, stats.callbacks * 128);
    assert!(stats.callbacks >= c1);
    assert!(stats.max_us >= stats.p99_us && stats.p99_us >= stats.p50_us);
    assert!(stats.denormals_flushed || !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")));
}

#[test]
fn stats_count_callbacks_and_frames_exactly() {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let stream = open_null(&config(48_000, 256, 1), move |out: &mut [f32], _: &[f32], _, _| {
        out.fill(0.0);
        counter.fetch_add(1, Relaxed);
    })
    .expect("open");
    thread::sleep(Duration::from_millis(100));
    let stats = stream.stats_handle();
    stream.close();
    // After close the thread is joined: the counters are final and agree.
    let s = stats.snapshot();
    assert!(s.callbacks > 0);
    assert_eq!(s.callbacks, calls.load(Relaxed));
    assert_eq!(s.frames_rendered, s.callbacks * 256);
}

#[test]
fn a_slow_block_counts_as_an_xrun() {
    // 480 frames at 48 kHz = 10 ms budget; block 5 sleeps 40 ms.
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let stream = open_null(&config(48_000, 480, 2), move |out: &mut [f32], _: &[f32], _, _| {
        out.fill(0.0);
        if counter.fetch_add(1, Relaxed) == 5 {
            thread::sleep(Duration::from_millis(40));
        }
    })
    .expect("open");
    while calls.load(Relaxed) < 10 {
        thread::sleep(Duration::from_millis(5));
    }
    let s = stream.stats();
    stream.close();
    assert!(s.overrun_callbacks >= 1, "{s:?}");
    assert!(s.xruns >= 1, "{s:?}");
    assert!(s.max_us >= 40_000.0, "{s:?}");
    // The lateness it caused is the same glitch: not counted again.
    assert!(s.xruns >= s.overrun_callbacks);
}

#[test]
fn no_burst_after_a_stall() {
    // After a 100 ms stall at a 10 ms period, the clock resynchronises: the
    // next 20 ms hold about 2 callbacks, not the 10 missed ones.
    let stamps = Arc::new(Mutex::new(Vec::with_capacity(1000)));
    let log = stamps.clone();
    let n = Arc::new(AtomicU64::new(0));
    let count = n.clone();
    let stream = open_null(&config(48_000, 480, 2), move |out: &mut [f32], _: &[f32], _, _| {
        out.fill(0.0);
        let i = count.fetch_add(1, Relaxed);
        if let Ok(mut log) = log.try_lock() {
            log.push(Instant::now());
        }
        if i == 3 {
            thread::sleep(Duration::from_millis(100));
        }
    })
    .expect("open");
    while n.load(Relaxed) < 12 {
        thread::sleep(Duration::from_millis(5));
    }
    stream.close();
    let stamps = stamps.lock().expect("lock");
    // Callback 4 follows the stall; callbacks 5..=8 must not all come within a millisecond.
    let burst = stamps[8].duration_since(stamps[4]);
    assert!(burst >= Duration::from_millis(20), "{burst:?}: caught up in a burst");
}

#[test]
fn close_joins_and_disconnects_errors() {
    let running = Arc::new(AtomicBool::new(false));
    let flag = running.clone();
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(false, Relaxed);
        }
    }
    let guard = SetOnDrop(running.clone());
    let stream = open_null(&config(48_000, 48_000, 2), move |out: &mut [f32], _: &[f32], _, _| {
        let _keep = &guard;
        out.fill(0.0);
        flag.store(true, Relaxed);
    })
    .expect("open");
    let errors = stream.errors();
    while !running.load(Relaxed) {
        thread::sleep(Duration::from_millis(1));
    }
    // A one-second period: close wakes the thread instead of waiting for
    // the next deadline.
    let t = Instant::now();
    stream.close();
    assert!(t.elapsed() < Duration::from_millis(900), "close took {:?}", t.elapsed());
    // The callback (and what it owns) was dropped by the joined thread.
    assert!(!running.load(Relaxed));
    assert!(errors.recv_timeout(Duration::from_secs(1)).is_err());
    assert!(errors.is_empty());
}

#[test]
fn drop_also_stops_the_thread() {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let stream = open_null(&config(48_000, 64, 2), move |out: &mut [f32], _: &[f32], _, _| {
        out.fill(0.0);
        counter.fetch_add(1, Relaxed);
    })
    .expect("open");
    thread::sleep(Duration::from_millis(20));
    drop(stream);
    let after = calls.load(Relaxed);
    thread::sleep(Duration::from_millis(30));
    assert_eq!(calls.load(Relaxed), after);
}

#[test]
fn invalid_configs_are_rejected() {
    for bad in [config(0, 128, 2), config(48_000, 0, 2), config(48_000, 128, 0)] {
        let err = open_null(&bad, |_: &mut [f32], _: &[f32], _, _| {}).expect_err("must fail");
        assert_eq!(err.kind(), IoErrorKind::InvalidConfig, "{err}");
    }
}
