//! cpal on this machine's ALSA: device listing, the `null` PCM, a missing device.
//! ALSA's null PCM is not paced (it takes audio as fast as it is produced),
//! so these are smoke tests; pacing is checked through JACK in `jack_dummy.rs`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrite_io::{list_devices, open_device, IoErrorKind, Stream, StreamConfig};

fn null_device_id() -> String {
    let devices = list_devices();
    for d in &devices {
        eprintln!("{d:?}");
    }
    devices
        .iter()
        .find(|d| d.id.ends_with(":null") || d.name.to_lowercase().contains("null"))
        .map(|d| d.id.clone())
        .expect("ALSA's null PCM is listed")
}

#[test]
fn stream_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Stream>();
}

#[test]
fn lists_the_null_device_with_output_capabilities() {
    let id = null_device_id();
    let devices = list_devices();
    let null = devices.iter().find(|d| d.id == id).expect("listed");
    assert!(null.output_channels >= 1, "{null:?}");
    assert!(null.sample_rates.contains(&48_000), "{null:?}");
    assert!(null.sample_rates.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    assert!(devices.iter().filter(|d| d.is_default).count() <= 1);
}

#[test]
fn a_stream_on_the_null_device_calls_back() {
    let id = null_device_id();
    let calls = Arc::new(AtomicU64::new(0));
    let sizes_ok = Arc::new(AtomicU64::new(1));
    let (counter, ok) = (calls.clone(), sizes_ok.clone());
    let config = StreamConfig {
        device: Some(id),
        sample_rate: Some(48_000),
        buffer_size: Some(256),
        channels: Some(2),
        ..Default::default()
    };
    let stream = open_device(&config, move |out: &mut [f32], inp: &[f32], frames, ch| {
        if out.len() != frames * ch || inp.len() != frames * ch || ch != 2 || frames == 0 {
            ok.store(0, Relaxed);
        }
        out.fill(0.0);
        counter.fetch_add(1, Relaxed);
    })
    .expect("open the null device");
    assert_eq!((stream.sample_rate(), stream.channels()), (48_000, 2));
    assert!(stream.buffer_size() >= 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while calls.load(Relaxed) < 10 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let stats = stream.stats();
    stream.close();
    assert!(calls.load(Relaxed) >= 10, "callbacks: {}", calls.load(Relaxed));
    assert_eq!(sizes_ok.load(Relaxed), 1, "the callback saw inconsistent sizes");
    assert!(stats.callbacks >= 10);
    assert!(stats.frames_rendered >= stats.callbacks);
    let after = calls.load(Relaxed);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(calls.load(Relaxed), after, "close stopped the stream");
}

#[test]
fn the_null_device_can_be_reopened() {
    let id = null_device_id();
    for _ in 0..2 {
        let config = StreamConfig { device: Some(id.clone()), ..Default::default() };
        let stream = open_device(&config, |out: &mut [f32], _: &[f32], _, _| out.fill(0.0)).expect("open");
        thread::sleep(Duration::from_millis(10));
        stream.close();
    }
}

#[test]
fn a_missing_device_is_not_found_and_the_message_lists_devices() {
    let config = StreamConfig { device: Some("no-such-device".into()), ..Default::default() };
    let err = open_device(&config, |_: &mut [f32], _: &[f32], _, _| {}).expect_err("must fail");
    assert_eq!(err.kind(), IoErrorKind::NotFound);
    let message = err.to_string();
    assert!(message.contains("no-such-device"), "{message}");
    assert!(message.contains("null"), "lists what exists: {message}");

    let config = StreamConfig {
        device: Some(null_device_id()),
        input_device: Some("no-such-input".into()),
        ..Default::default()
    };
    let err = open_device(&config, |_: &mut [f32], _: &[f32], _, _| {}).expect_err("must fail");
    assert_eq!(err.kind(), IoErrorKind::NotFound);
    assert!(err.to_string().contains("no-such-input"), "{err}");
}

#[test]
fn an_impossible_config_is_unsupported_not_a_crash() {
    let config = StreamConfig {
        device: Some(null_device_id()),
        channels: Some(64),
        sample_rate: Some(1_536_000),
        ..Default::default()
    };
    match open_device(&config, |out: &mut [f32], _: &[f32], _, _| out.fill(0.0)) {
        Ok(stream) => stream.close(), // ALSA's null PCM accepts almost anything
        Err(err) => assert_eq!(err.kind(), IoErrorKind::Unsupported, "{err}"),
    }
}

#[test]
fn input_from_the_null_device_reaches_the_callback_as_zeros() {
    let id = null_device_id();
    let calls = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let (counter, wrong) = (calls.clone(), bad.clone());
    let config = StreamConfig {
        device: Some(id.clone()),
        input_device: Some(id),
        channels: Some(2),
        sample_rate: Some(48_000),
        ..Default::default()
    };
    let stream = open_device(&config, move |out: &mut [f32], inp: &[f32], frames, ch| {
        if inp.len() != frames * ch || inp.iter().any(|&x| x != 0.0) {
            wrong.fetch_add(1, Relaxed);
        }
        out.copy_from_slice(inp);
        counter.fetch_add(1, Relaxed);
    })
    .expect("open with input");
    assert!(stream.input_channels() >= 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while calls.load(Relaxed) < 10 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let stats = stream.stats();
    stream.close();
    eprintln!("{stats:?}");
    assert!(calls.load(Relaxed) >= 10);
    assert_eq!(bad.load(Relaxed), 0);
}
