//! A paced device: cpal's `default` ALSA device routed to jackd's dummy
//! driver (see scripts/jack-dummy.sh). Runs only with FERRITE_JACK_TEST=1:
//!
//! ```sh
//! eval "$(scripts/jack-dummy.sh)"
//! FERRITE_JACK_TEST=1 cargo test -p ferrite-io --test jack_dummy -- --nocapture
//! scripts/jack-dummy-stop.sh
//! ```

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrite_io::{list_devices, open_device, StreamConfig};

fn enabled() -> bool {
    if std::env::var("FERRITE_JACK_TEST").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipped: set FERRITE_JACK_TEST=1 and run scripts/jack-dummy.sh first");
    false
}

/// One test, run in sequence: a second JACK client opening or closing
/// while the first one is being measured makes the server skip cycles.
#[test]
fn default_device_through_jack() {
    if !enabled() {
        return;
    }
    paced_at_48000_over_128();
    with_input();
}

fn paced_at_48000_over_128() {
    let devices = list_devices();
    eprintln!("devices: {devices:#?}");
    assert!(devices.iter().any(|d| d.is_default), "the default device is listed once JACK is its backend");

    let calls = Arc::new(AtomicU64::new(0));
    let frames_seen = Arc::new(AtomicU64::new(0));
    let (counter, frames_total) = (calls.clone(), frames_seen.clone());
    let config =
        StreamConfig { sample_rate: Some(48_000), buffer_size: Some(128), channels: Some(2), ..Default::default() };
    let stream = open_device(&config, move |out: &mut [f32], _: &[f32], frames, _| {
        out.fill(0.0);
        counter.fetch_add(1, Relaxed);
        frames_total.fetch_add(frames as u64, Relaxed);
    })
    .expect("open the default device through JACK");
    eprintln!("granted: {} Hz, {} frames, {} channels", stream.sample_rate(), stream.buffer_size(), stream.channels());
    assert_eq!(stream.sample_rate(), 48_000);

    // Warm up, then measure over two seconds.
    thread::sleep(Duration::from_millis(500));
    let before = stream.stats();
    let (c0, f0, t0) = (calls.load(Relaxed), frames_seen.load(Relaxed), Instant::now());
    thread::sleep(Duration::from_secs(2));
    let (c1, f1, t1) = (calls.load(Relaxed), frames_seen.load(Relaxed), Instant::now());
    let after = stream.stats();
    let errors: Vec<String> = stream.errors().try_iter().map(|e| e.to_string()).collect();
    stream.close();
    eprintln!("stats: {after:?}");

    let seconds = (t1 - t0).as_secs_f64();
    // Frames per second is the device clock: 48000, ±20 %.
    let frame_rate = (f1 - f0) as f64 / seconds;
    assert!((38_400.0..=57_600.0).contains(&frame_rate), "{frame_rate} frames/s, expected about 48000");
    // Callbacks per second: 48000/128 = 375 when the granted size is 128.
    let buffer = after.frames_rendered.checked_div(after.callbacks).unwrap_or(0);
    let rate = (c1 - c0) as f64 / seconds;
    let expected = 48_000.0 / buffer.max(1) as f64;
    assert!(
        (rate - expected).abs() <= expected * 0.2,
        "{rate} callbacks/s with {buffer}-frame buffers, expected about {expected}"
    );
    assert_eq!(after.xruns - before.xruns, 0, "xruns while measuring: {after:?}");
    assert!(errors.is_empty(), "stream errors: {errors:?}");
}

fn with_input() {
    let calls = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let (counter, wrong) = (calls.clone(), bad.clone());
    let config = StreamConfig {
        sample_rate: Some(48_000),
        buffer_size: Some(128),
        channels: Some(2),
        want_input: true,
        ..Default::default()
    };
    let stream = open_device(&config, move |out: &mut [f32], inp: &[f32], frames, ch| {
        // The dummy driver captures silence.
        if inp.len() != frames * ch || inp.iter().any(|&x| x != 0.0) {
            wrong.fetch_add(1, Relaxed);
        }
        out.copy_from_slice(inp);
        counter.fetch_add(1, Relaxed);
    })
    .expect("open the default device with input");
    assert_eq!(stream.input_channels(), 2);
    let deadline = Instant::now() + Duration::from_secs(5);
    while calls.load(Relaxed) < 100 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    stream.close();
    assert!(calls.load(Relaxed) >= 100);
    assert_eq!(bad.load(Relaxed), 0);
}
