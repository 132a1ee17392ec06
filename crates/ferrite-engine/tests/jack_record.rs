//! Recording the device input on a paced device: jackd's dummy driver behind
//! ALSA's jack plugin (see scripts/jack-dummy.sh), opened in duplex by
//! ferrite-io. The engine plays a sine on each channel; JACK's ports are
//! connected so that the engine's capture ports are fed from its own
//! playback ports (a loopback through the JACK graph). An `'input'`
//! recording of that capture must hold the played sines, continuous, at a
//! fixed latency: a least-squares sine fit (amplitude, frequency, phase) of
//! each channel leaves a residual below -60 dB.
//!
//! The fixed latency needs a synchronous server (scripts/jack-dummy.sh
//! starts jackd with `--sync`) and a device buffer with room for a late
//! thread (see [`PERIOD`]).
//!
//! Runs with FERRITE_JACK_TEST=1 (scripts/test-jack.sh does it all):
//!
//! ```sh
//! eval "$(scripts/jack-dummy.sh)"
//! FERRITE_JACK_TEST=1 cargo test -p ferrite-engine --test jack_record -- --nocapture
//! scripts/jack-dummy-stop.sh
//! ```
//!
//! Without it the test skips; with it, a missing server, tool or port fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrite_engine::desc::GraphDesc;
use ferrite_engine::realtime::{engine_pair, EngineControl, RecordRequest, RecordSource, Recording};
use ferrite_engine::RenderSettings;
use ferrite_io::{open_device, StreamConfig};
use ferrite_media::BitDepth;
use serde_json::json;

const SR: u32 = 48_000;
/// Left plays this (Hz, amplitude), right the other: a swapped or shared
/// channel shows up as a wrong frequency.
const LEFT: (f64, f64) = (997.0, 0.5);
const RIGHT: (f64, f64) = (1_499.0, 0.25);
/// Device buffer (frames). cpal gives ALSA a ring of two of them; at 128
/// frames (5 ms) a capture or playback thread running late on a loaded,
/// non-realtime machine overruns the jack plugin's ring, which loses or
/// repeats a JACK period without reporting an xrun. 1024 frames leave 42 ms.
const PERIOD: u32 = 1_024;
/// Recorded length asked for, in frames (the recording runs until stopped).
const RECORD_FRAMES: u64 = 48_000;
/// Longest the whole test may take before it aborts the process.
const TEST_DEADLINE: Duration = Duration::from_secs(120);
/// Longest any single wait may take.
const WAIT: Duration = Duration::from_secs(10);

fn enabled() -> bool {
    if std::env::var("FERRITE_JACK_TEST").as_deref() == Ok("1") {
        return true;
    }
    eprintln!(
        "skipped: the JACK loopback recording test needs a JACK dummy server; \
         run scripts/test-jack.sh (or scripts/jack-dummy.sh, then FERRITE_JACK_TEST=1)"
    );
    false
}

/// Aborts the whole test process if it is still running after `after`: a
/// wedged server or device must fail CI, not hang it.
fn arm_deadline(after: Duration) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < after {
            if flag.load(Relaxed) {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("jack_record: still running after {after:?}; aborting");
        std::process::abort();
    });
    done
}

/// Runs a JACK command-line tool with a timeout; its stdout, or why not.
fn jack_tool(tool: &str, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {tool} (install jackd2): {e}"))?;
    let deadline = Instant::now() + WAIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                let mut err = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut err);
                }
                return if status.success() {
                    Ok(out)
                } else {
                    Err(format!("{tool} {args:?} failed ({status}): {}", err.trim()))
                };
            }
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{tool} {args:?} did not finish in {WAIT:?}"));
            }
            Err(e) => return Err(format!("{tool}: {e}")),
        }
    }
}

/// Polls `what` every 10 ms until it returns `Some`, for at most `WAIT`.
fn wait_for<T>(mut what: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = what() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Our stream's JACK ports: the ports of `listing` that were not in
/// `before` (taken before the stream opened), playback outputs (`out_NNN`)
/// and capture inputs (`in_NNN`), each sorted by name. The ALSA jack plugin
/// names its clients `<program>.P.<pid>.<n>` / `<program>.C.<pid>.<n>` (JACK
/// may cut that short) or after the PCM's `name` setting: names are only
/// used to leave out another process's clients when they carry a pid.
/// `None` unless exactly one new client has outputs and one has inputs.
fn plugin_ports(listing: &str, before: &str) -> Option<(Vec<String>, Vec<String>)> {
    let pid = std::process::id().to_string();
    let old: Vec<&str> = before.lines().map(str::trim).collect();
    let foreign = |client: &str| {
        let parts: Vec<&str> = client.split('.').collect();
        parts.windows(2).any(|w| {
            (w[0] == "P" || w[0] == "C") && !w[1].is_empty() && w[1].bytes().all(|b| b.is_ascii_digit()) && w[1] != pid
        })
    };
    let pick = |prefix: &str| {
        let mut ports: Vec<String> = listing
            .lines()
            .filter(|l| !l.starts_with(char::is_whitespace))
            .map(str::trim)
            .filter(|p| !old.contains(p))
            .filter(|p| p.rsplit_once(':').is_some_and(|(client, name)| name.starts_with(prefix) && !foreign(client)))
            .map(str::to_owned)
            .collect();
        ports.sort();
        let mut clients: Vec<&str> = ports.iter().filter_map(|p| p.rsplit_once(':').map(|(c, _)| c)).collect();
        clients.dedup();
        (clients.len() == 1).then_some(ports)
    };
    Some((pick("out_")?, pick("in_")?))
}

/// The ports connected to `port` in a `jack_lsp -c` listing (a port's
/// connections follow it, indented).
fn connections(listing: &str, port: &str) -> Vec<String> {
    let mut lines = listing.lines().skip_while(|l| l.trim_end() != port).skip(1);
    let mut found = Vec::new();
    while let Some(line) = lines.next().filter(|l| l.starts_with(char::is_whitespace)) {
        found.push(line.trim().to_owned());
    }
    found
}

/// Left: osc → pan hard left; right: osc → pan hard right.
fn two_sines() -> GraphDesc {
    let osc = |id: u32, (f, a): (f64, f64)| json!({"id": id, "type": "oscillator", "params": {"frequency": f, "amplitude": a}, "options": {"type": "sine"}});
    let pan = |id: u32, p: f64| json!({"id": id, "type": "pan", "params": {"pan": p}});
    GraphDesc::from_value(&json!({"version": 1,
        "nodes": [{"id": 0, "type": "output"}, osc(1, LEFT), pan(2, -1.0), osc(3, RIGHT), pan(4, 1.0)],
        "connections": [[1, 2], [2, 0], [3, 4], [4, 0]]}))
    .expect("valid graph")
}

/// A least-squares fit `x[n] ≈ a·sin(ωn) + b·cos(ωn) + c` at one frequency.
#[derive(Clone, Copy, Debug)]
struct Fit {
    freq: f64,
    amplitude: f64,
    /// Mean square of what the sine does not explain.
    residual: f64,
}

fn fit_at(x: &[f64], freq: f64, rate: f64) -> Fit {
    let w = std::f64::consts::TAU * freq / rate;
    // Normal equations for the basis (sin, cos, 1).
    let mut m = [[0.0f64; 3]; 3];
    let mut v = [0.0f64; 3];
    for (n, &y) in x.iter().enumerate() {
        let (s, c) = (w * n as f64).sin_cos();
        let basis = [s, c, 1.0];
        for i in 0..3 {
            v[i] += basis[i] * y;
            for j in 0..3 {
                m[i][j] += basis[i] * basis[j];
            }
        }
    }
    let k = solve3(m, v);
    let mut residual = 0.0;
    for (n, &y) in x.iter().enumerate() {
        let (s, c) = (w * n as f64).sin_cos();
        let e = y - (k[0] * s + k[1] * c + k[2]);
        residual += e * e;
    }
    Fit { freq, amplitude: k[0].hypot(k[1]), residual: residual / x.len() as f64 }
}

/// Gaussian elimination with partial pivoting (the matrix is well
/// conditioned: many periods of a sine against a constant).
fn solve3(mut m: [[f64; 3]; 3], mut v: [f64; 3]) -> [f64; 3] {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs())).unwrap_or(col);
        m.swap(col, pivot);
        v.swap(col, pivot);
        for row in col + 1..3 {
            let f = m[row][col] / m[col][col];
            let pivot_row = m[col];
            for (dst, src) in m[row].iter_mut().zip(pivot_row).skip(col) {
                *dst -= f * src;
            }
            v[row] -= f * v[col];
        }
    }
    let mut k = [0.0; 3];
    for row in (0..3).rev() {
        let tail: f64 = (row + 1..3).map(|j| m[row][j] * k[j]).sum();
        k[row] = (v[row] - tail) / m[row][row];
    }
    k
}

/// Fits amplitude, phase and frequency: a scan within ±`span` Hz of
/// `near`, then a golden-section search around the best scan point.
fn fit_sine(x: &[f64], near: f64, span: f64, rate: f64) -> Fit {
    let step = 0.25 * rate / x.len() as f64; // a quarter of the window's resolution
    let mut best = fit_at(x, near, rate);
    let mut f = near - span;
    while f <= near + span {
        let fit = fit_at(x, f, rate);
        if fit.residual < best.residual {
            best = fit;
        }
        f += step;
    }
    let (mut lo, mut hi) = (best.freq - step, best.freq + step);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (hi - g * (hi - lo), lo + g * (hi - lo));
    let (mut fa, mut fb) = (fit_at(x, a, rate), fit_at(x, b, rate));
    for _ in 0..60 {
        if fa.residual < fb.residual {
            hi = b;
            (b, fb) = (a, fa);
            a = hi - g * (hi - lo);
            fa = fit_at(x, a, rate);
        } else {
            lo = a;
            (a, fa) = (b, fb);
            b = lo + g * (hi - lo);
            fb = fit_at(x, b, rate);
        }
    }
    [best, fa, fb].into_iter().min_by(|p, q| p.residual.total_cmp(&q.residual)).unwrap_or(best)
}

/// Where `x` leaves the sine recurrence `x[n] = 2·cos ω·x[n-1] - x[n-2]`
/// of `freq` (a gap, a repeat or a jump): the first few frame indices.
fn discontinuities(x: &[f64], freq: f64, rate: f64) -> Vec<usize> {
    let k = 2.0 * (std::f64::consts::TAU * freq / rate).cos();
    (2..x.len()).filter(|&n| (x[n] - (k * x[n - 1] - x[n - 2])).abs() > 1e-3).take(8).collect()
}

/// Channels of a float WAV, as f64.
fn read_channels(path: &Path) -> Vec<Vec<f64>> {
    let mut reader = hound::WavReader::open(path).expect("open the recording");
    let channels = reader.spec().channels as usize;
    let samples: Vec<f32> = reader.samples::<f32>().map(|s| s.expect("a sample")).collect();
    (0..channels).map(|c| samples.iter().skip(c).step_by(channels).map(|&s| f64::from(s)).collect()).collect()
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrite-jack-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a temporary directory");
    d
}

/// What the test thread sees of the audio thread.
#[derive(Default)]
struct Monitor {
    /// Frames rendered so far.
    frames: AtomicU64,
    /// Frames since the input last had a block without signal.
    live_input_frames: AtomicU64,
}

#[test]
fn the_device_input_is_recorded_through_a_jack_loopback() {
    if !enabled() {
        return;
    }
    let deadline = arm_deadline(TEST_DEADLINE);
    let before = match jack_tool("jack_lsp", &[]) {
        Ok(listing) => listing,
        Err(e) => panic!("FERRITE_JACK_TEST=1 but no JACK server answers (start it with scripts/jack-dummy.sh): {e}"),
    };

    let settings = RenderSettings { sample_rate: f64::from(SR), channels: 2, max_block: 128 };
    let (mut control, mut core, _meters) = engine_pair(settings);
    let monitor = Arc::new(Monitor::default());
    let seen = monitor.clone();
    let callback = move |out: &mut [f32], input: &[f32], frames: usize, channels: usize| {
        core.render(out, input, channels, frames, channels);
        seen.frames.fetch_add(frames as u64, Relaxed);
        // Both sines peak above a quarter of their amplitude in any 64 frames.
        let live = input.len() == frames * channels
            && (0..channels).all(|c| input.iter().skip(c).step_by(channels).any(|x| x.abs() > 0.05));
        if live {
            seen.live_input_frames.fetch_add(frames as u64, Relaxed);
        } else {
            seen.live_input_frames.store(0, Relaxed);
        }
    };
    let config = StreamConfig {
        sample_rate: Some(SR),
        buffer_size: Some(PERIOD),
        channels: Some(2),
        want_input: true,
        ..Default::default()
    };
    let stream = open_device(&config, callback).expect("open the default device (JACK) in duplex");
    eprintln!(
        "granted: {} Hz, {} frames, {} out / {} in channels",
        stream.sample_rate(),
        stream.buffer_size(),
        stream.channels(),
        stream.input_channels()
    );
    assert_eq!((stream.sample_rate(), stream.channels()), (SR, 2));
    assert!(stream.input_channels() >= 2, "the JACK capture has {} channels", stream.input_channels());
    control.set_settings(RenderSettings {
        sample_rate: f64::from(stream.sample_rate()),
        channels: 2,
        // As the addon does (src/engine.rs).
        max_block: (stream.buffer_size() as usize).clamp(1, 4096),
    });
    control.set_graph(&two_sines(), &[]).expect("the graph compiles");

    // The loopback: our playback port k feeds our capture port k.
    let ports = wait_for(|| {
        let (outs, ins) = plugin_ports(&jack_tool("jack_lsp", &[]).ok()?, &before)?;
        (outs.len() >= 2 && ins.len() >= 2).then_some((outs, ins))
    });
    let listing = jack_tool("jack_lsp", &["-c"]).unwrap_or_else(|e| e);
    let Some((outs, ins)) = ports else {
        panic!("no single new playback and capture client with 2 ports each appeared; JACK has:\n{listing}");
    };
    for (from, to) in outs.iter().zip(&ins).take(2) {
        // Only our playback feeds our capture: whatever the ALSA
        // configuration wired in (the dummy's silent system:capture_*) goes.
        for other in connections(&listing, to) {
            if let Err(e) = jack_tool("jack_disconnect", &[&other, to]) {
                panic!("{e}; JACK has:\n{listing}");
            }
        }
        if let Err(e) = jack_tool("jack_connect", &[from, to]) {
            panic!("{e}; JACK has:\n{listing}");
        }
        eprintln!("connected {from} -> {to}");
    }

    // Wait until the capture has carried both sines for half a second.
    let live = wait_for(|| {
        control.collect_garbage();
        (monitor.live_input_frames.load(Relaxed) >= u64::from(SR) / 2).then_some(())
    });
    if live.is_none() {
        let errors: Vec<String> = stream.errors().try_iter().map(|e| e.to_string()).collect();
        panic!(
            "the loopback carries no signal ({} frames rendered; stream errors: {errors:?}); JACK has:\n{}",
            monitor.frames.load(Relaxed),
            jack_tool("jack_lsp", &["-c"]).unwrap_or_else(|e| e)
        );
    }

    let dir = temp_dir();
    let path = dir.join("input.wav");
    let request = RecordRequest {
        path: path.clone(),
        source: RecordSource::Input,
        bit_depth: BitDepth::Float32,
        start_frame: None,
        end_frame: None,
    };
    let mut recording = control.record(&request).expect("start the input recording");
    let from = monitor.frames.load(Relaxed);
    let enough = wait_for(|| {
        control.collect_garbage();
        (monitor.frames.load(Relaxed) >= from + RECORD_FRAMES).then_some(())
    });
    assert!(enough.is_some(), "the device stopped calling back while recording");
    let result = stop(&mut recording, &mut control);
    let stats = stream.stats();
    let errors: Vec<String> = stream.errors().try_iter().map(|e| e.to_string()).collect();
    stream.close();
    eprintln!("recorded: {result:?}; stats: {stats:?}");
    assert!(errors.is_empty(), "stream errors: {errors:?}");

    let channels = read_channels(&path);
    assert_eq!(channels.len(), 2, "the recording's channels");
    let frames = channels[0].len() as u64;
    assert_eq!(result.frames, frames, "the frames reported are the file's");
    assert_eq!(result.dropped_frames, 0, "frames dropped from the recording ring");
    assert!(frames >= RECORD_FRAMES, "only {frames} frames recorded");

    for (c, (want_freq, want_amp)) in [LEFT, RIGHT].into_iter().enumerate() {
        let fit = fit_sine(&channels[c], want_freq, 5.0, f64::from(SR));
        let rms = fit.amplitude / 2f64.sqrt();
        let db = 10.0 * (fit.residual / (rms * rms)).log10();
        eprintln!(
            "channel {c}: {:.6} Hz, amplitude {:.6}, residual {db:.1} dB over {frames} frames",
            fit.freq, fit.amplitude
        );
        assert!((fit.freq - want_freq).abs() < 1e-3, "channel {c}: {} Hz, played {want_freq} Hz", fit.freq);
        assert!((fit.amplitude - want_amp).abs() < 1e-3 * want_amp, "channel {c}: amplitude {}", fit.amplitude);
        assert!(
            db < -60.0,
            "channel {c}: residual {db:.1} dB against the fitted sine; it breaks at frames {:?} (kept: {})",
            discontinuities(&channels[c], want_freq, f64::from(SR)),
            path.display()
        );
    }
    std::fs::remove_dir_all(&dir).expect("remove the temporary directory");
    deadline.store(true, Relaxed);
}

/// Stops a recording on a running stream: the request, then (once the audio
/// thread has ended it and the writer is done, within `WAIT`) its result.
fn stop(recording: &mut Recording, control: &mut EngineControl) -> ferrite_engine::realtime::RecordResult {
    recording.request_stop();
    let done = wait_for(|| {
        control.collect_garbage();
        recording.is_done().then_some(())
    });
    assert!(done.is_some(), "the recording did not end within {WAIT:?} of stop");
    recording.stop().expect("the recording's file is complete")
}
