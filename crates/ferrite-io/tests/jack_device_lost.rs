//! A device that goes away: the JACK server behind cpal's `default` device
//! is stopped under a running stream. The error must reach `errors()`, the
//! stream must close without hanging, and a new stream must open once the
//! server is back.
//!
//! Destructive (it stops and restarts the server started by
//! scripts/jack-dummy.sh), so it runs only with FERRITE_JACK_LOST_TEST=1,
//! after `eval "$(scripts/jack-dummy.sh)"`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrite_io::{open_device, IoErrorKind, Stream, StreamConfig};

fn script(name: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "..", "scripts", name].iter().collect();
    let status = Command::new("bash").arg(&path).stdout(std::process::Stdio::null()).status().expect("run script");
    assert!(status.success(), "{} failed", path.display());
}

fn open_counting() -> (Stream, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let stream = open_device(&StreamConfig::default(), move |out: &mut [f32], _: &[f32], _, _| {
        out.fill(0.0);
        counter.fetch_add(1, Relaxed);
    })
    .expect("open the default device");
    (stream, calls)
}

fn wait_for_calls(calls: &AtomicU64, n: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while calls.load(Relaxed) < n && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    calls.load(Relaxed) >= n
}

#[test]
fn a_lost_server_is_reported_and_the_device_can_be_reopened() {
    if std::env::var("FERRITE_JACK_LOST_TEST").as_deref() != Ok("1") {
        eprintln!("skipped: set FERRITE_JACK_LOST_TEST=1 after scripts/jack-dummy.sh");
        return;
    }
    let (stream, calls) = open_counting();
    let errors = stream.errors();
    assert!(wait_for_calls(&calls, 20), "callbacks before the loss");

    script("jack-dummy-stop.sh");
    let error = errors.recv_timeout(Duration::from_secs(10)).expect("the loss is reported");
    eprintln!("reported: {error}");
    assert_eq!(error.kind(), IoErrorKind::DeviceUnavailable, "{error}");
    stream.close(); // must not hang

    script("jack-dummy.sh");
    let (stream, calls) = open_counting();
    assert!(wait_for_calls(&calls, 20), "callbacks after reopening");
    stream.close();
}
