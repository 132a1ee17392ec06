//! The events thread: meter readings merged over each subscriber's interval,
//! a new graph's meters starting from silence, errors delivered in order,
//! subscriptions ended, and the audio thread's meter rate following the
//! fastest subscriber.

use ferrite_engine::meter::MeterReading;
use ferrite_engine::realtime::events::{ErrorSource, EventSources, Events};
use ferrite_engine::realtime::{MeterMsg, Shared};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Deliveries = Arc<Mutex<Vec<Vec<(String, MeterReading)>>>>;

fn reading(peak_db: f64, rms_db: f64, integrated: f64) -> MeterReading {
    MeterReading {
        peak_db,
        rms_db,
        true_peak_db: peak_db + 0.5,
        momentary_lufs: rms_db,
        short_term_lufs: rms_db,
        integrated_lufs: integrated,
        loudness_range_lu: 1.0,
    }
}

struct Rig {
    events: Events,
    queue: rtrb::Producer<MeterMsg>,
    names: ferrite_engine::realtime::MeterNames,
    shared: Arc<Shared>,
    errors: Arc<Mutex<Vec<String>>>,
}

fn rig(meters: &[&str]) -> Rig {
    let (queue, consumer) = rtrb::RingBuffer::new(1024);
    let names = Arc::new(Mutex::new((1u64, meters.iter().map(|s| s.to_string()).collect::<Vec<_>>())));
    let shared = Arc::new(Shared::default());
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let pending = errors.clone();
    let source: ErrorSource = Box::new(move |out: &mut Vec<String>| out.append(&mut pending.lock().unwrap()));
    let sources = EventSources {
        meters: consumer,
        names: names.clone(),
        readers: Arc::new(Mutex::new((0, Vec::new()))),
        errors: vec![source],
    };
    let events = Events::start(sources, shared.clone(), 48_000.0).unwrap();
    Rig { events, queue, names, shared, errors }
}

fn collect(rig: &Rig, fps: f64) -> (u32, Deliveries) {
    let got: Deliveries = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let id = rig.events.on_meters(Box::new(move |r| sink.lock().unwrap().push(r)), fps).unwrap();
    (id, got)
}

/// Waits (up to 5 s) until `f` holds.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn readings_between_deliveries_merge_into_one_interval() {
    let mut r = rig(&["master", "vox"]);
    // Pushed before the subscriber exists: not part of its first interval.
    r.queue.push(MeterMsg { generation: 1, meter: 0, reading: reading(0.0, 0.0, -3.0) }).unwrap();
    let (_, got) = collect(&r, 1000.0);
    assert!(eventually(|| !got.lock().unwrap().is_empty()));
    got.lock().unwrap().clear();
    // Three readings for "master" at -6, -12 and -20 dB RMS (powers 0.2512,
    // 0.0631, 0.01), peaks -3, -1, -9; none for "vox".
    for (peak, rms, int) in [(-3.0, -6.0, -20.0), (-1.0, -12.0, -19.0), (-9.0, -20.0, -18.5)] {
        r.queue.push(MeterMsg { generation: 1, meter: 0, reading: reading(peak, rms, int) }).unwrap();
    }
    let merged = |d: &Vec<(String, MeterReading)>| d.first().is_some_and(|(_, m)| m.peak_db > f64::NEG_INFINITY);
    assert!(eventually(|| got.lock().unwrap().iter().any(merged)));
    let deliveries = got.lock().unwrap().clone();
    let d = deliveries.iter().find(|d| merged(d)).unwrap();
    assert_eq!(d.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["master", "vox"]);
    let (m, v) = (&d[0].1, &d[1].1);
    let power = (10f64.powf(-0.6) + 10f64.powf(-1.2) + 10f64.powf(-2.0)) / 3.0;
    // All three land in one interval unless a delivery fell between pushes;
    // either way every delivery's values come from the readings pushed.
    if deliveries.iter().filter(|d| merged(d)).count() == 1 {
        assert_eq!(m.peak_db, -1.0);
        assert_eq!(m.true_peak_db, -0.5);
        assert!((m.rms_db - 10.0 * power.log10()).abs() < 1e-12, "{}", m.rms_db);
        assert_eq!(m.integrated_lufs, -18.5, "the newest integrated value");
    }
    assert_eq!(v.peak_db, f64::NEG_INFINITY, "a meter without readings reads silence");
    assert_eq!(v.rms_db, f64::NEG_INFINITY);
    // The next interval, with nothing new, falls back to silence but keeps
    // the integrated loudness.
    got.lock().unwrap().clear();
    assert!(eventually(|| !got.lock().unwrap().is_empty()));
    let next = got.lock().unwrap()[0].clone();
    assert_eq!(next[0].1.peak_db, f64::NEG_INFINITY);
    assert_eq!(next[0].1.integrated_lufs, -18.5);
    r.events.stop();
}

#[test]
fn a_new_generation_drops_old_readings_and_renames_the_meters() {
    let mut r = rig(&["a"]);
    let (_, got) = collect(&r, 1000.0);
    *r.names.lock().unwrap() = (2, vec!["b".into(), "c".into()]);
    // A reading of the old generation arrives late: ignored.
    r.queue.push(MeterMsg { generation: 1, meter: 0, reading: reading(-1.0, -1.0, -1.0) }).unwrap();
    r.queue.push(MeterMsg { generation: 2, meter: 1, reading: reading(-7.0, -8.0, -9.0) }).unwrap();
    let has = |g: &Deliveries| g.lock().unwrap().iter().any(|d| d.len() == 2 && d[1].1.peak_db == -7.0);
    assert!(eventually(|| has(&got)));
    for d in got.lock().unwrap().iter().filter(|d| d.len() == 2) {
        assert_eq!(d[0].0, "b");
        assert_eq!(d[1].0, "c");
        assert_eq!(d[0].1.peak_db, f64::NEG_INFINITY, "meter b had no reading of its generation");
    }
    r.events.stop();
}

#[test]
fn errors_reach_every_error_subscriber_in_order() {
    let r = rig(&[]);
    let got = Arc::new(Mutex::new(Vec::<(u8, String)>::new()));
    for who in [1u8, 2] {
        let sink = got.clone();
        r.events.on_error(Box::new(move |e| sink.lock().unwrap().push((who, e.to_string())))).unwrap();
    }
    r.errors.lock().unwrap().extend(["first".to_string(), "second".to_string()]);
    assert!(eventually(|| got.lock().unwrap().len() == 4));
    let got = got.lock().unwrap().clone();
    let of = |w: u8| got.iter().filter(|(x, _)| *x == w).map(|(_, e)| e.as_str()).collect::<Vec<_>>();
    assert_eq!(of(1), ["first", "second"]);
    assert_eq!(of(2), ["first", "second"]);
}

#[test]
fn the_audio_thread_meters_at_the_fastest_subscribers_rate() {
    let r = rig(&["m"]);
    assert_eq!(r.shared.meter_period.load(Ordering::Relaxed), 0, "no subscriber: no readings pushed");
    let (slow, _) = collect(&r, 10.0);
    // A quarter of 100 ms at 48 kHz.
    assert_eq!(r.shared.meter_period.load(Ordering::Relaxed), 1200);
    let (fast, got) = collect(&r, 50.0);
    assert_eq!(r.shared.meter_period.load(Ordering::Relaxed), 240);
    r.events.off_meters(fast);
    assert_eq!(r.shared.meter_period.load(Ordering::Relaxed), 1200);
    // An ended subscription gets nothing more.
    std::thread::sleep(Duration::from_millis(30));
    let n = got.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(got.lock().unwrap().len(), n);
    r.events.off_meters(slow);
    assert_eq!(r.shared.meter_period.load(Ordering::Relaxed), 0);
    assert!(r.events.on_meters(Box::new(|_| {}), 0.0).unwrap_err().message.contains("fps = 0"));
}
