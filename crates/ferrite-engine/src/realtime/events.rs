//! The `ferrite-events` thread: what a running engine tells its host. It
//! drains the audio thread's meter readings and merges them over each
//! subscriber's interval, runs the analysers' FFTs, polls the error sources,
//! and calls each subscriber at its own rate. Subscribers are plain closures
//! (the bindings wrap JavaScript callbacks in them); a slow subscriber
//! delays the next delivery, never the audio thread (which only pushes into
//! a queue that drops when full) nor the control side (which shares no lock
//! with this thread).

use super::messages::MeterMsg;
use super::{MeterNames, Shared, SpectrumReaders};
use crate::error::{EngineError, Result};
use crate::meter::MeterReading;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use ferrite_dsp::analyser::SpectrumReader;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Receives every meter's reading for one interval, in meter order.
pub type MeterSink = Box<dyn FnMut(Vec<(String, MeterReading)>) + Send>;
/// Receives every analyser's spectrum, in analyser order.
pub type SpectrumSink = Box<dyn FnMut(Vec<SpectrumFrame>) + Send>;
/// Receives one error message.
pub type ErrorSink = Box<dyn FnMut(&str) + Send>;
/// Appends the errors that arrived since it was last called (a device's
/// stream errors, say); called every tick.
pub type ErrorSource = Box<dyn FnMut(&mut Vec<String>) + Send>;

/// How often the thread wakes.
const TICK: Duration = Duration::from_millis(4);

/// One analyser's newest spectrum, for `onSpectrum`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumFrame {
    /// The analyser's name.
    pub name: String,
    /// `k · sampleRate / fftSize` for every bin.
    pub frequencies: Vec<f32>,
    /// Smoothed magnitudes in dB (a full-scale sine's bin reads 0 dB).
    pub magnitudes_db: Vec<f32>,
    /// The newest `fftSize` samples.
    pub waveform: Vec<f32>,
}

/// Interval readings merged between two deliveries: the interval's peaks,
/// its mean power, and the newest windowed and integrated values.
#[derive(Clone, Copy)]
struct Accumulated {
    peak_db: f64,
    true_peak_db: f64,
    power_sum: f64,
    count: u32,
    last: MeterReading,
}

impl Accumulated {
    fn new(last: MeterReading) -> Self {
        Self { peak_db: f64::NEG_INFINITY, true_peak_db: f64::NEG_INFINITY, power_sum: 0.0, count: 0, last }
    }

    fn add(&mut self, r: &MeterReading) {
        self.peak_db = self.peak_db.max(r.peak_db);
        self.true_peak_db = self.true_peak_db.max(r.true_peak_db);
        self.power_sum += 10f64.powf(r.rms_db / 10.0);
        self.count += 1;
        self.last = *r;
    }

    /// The reading for one delivery; restarts the interval.
    fn take(&mut self) -> MeterReading {
        let rms_db = if self.count == 0 || self.power_sum <= 0.0 {
            f64::NEG_INFINITY
        } else {
            10.0 * (self.power_sum / self.count as f64).log10()
        };
        let r = MeterReading { peak_db: self.peak_db, rms_db, true_peak_db: self.true_peak_db, ..self.last };
        *self = Self::new(self.last);
        r
    }
}

/// When a subscriber is due next.
struct Pace {
    period: Duration,
    next_due: Instant,
}

impl Pace {
    fn new(fps: f64) -> Self {
        let period = Duration::from_secs_f64(1.0 / fps);
        Self { period, next_due: Instant::now() + period }
    }

    /// Whether a delivery is due at `now`; if so, schedules the next.
    fn due(&mut self, now: Instant) -> bool {
        if now < self.next_due {
            return false;
        }
        self.next_due += self.period;
        if self.next_due < now {
            self.next_due = now + self.period;
        }
        true
    }
}

struct MeterSub {
    id: u32,
    sink: MeterSink,
    pace: Pace,
    generation: u64,
    acc: Vec<Accumulated>,
}

struct SpectrumSub {
    id: u32,
    sink: SpectrumSink,
    pace: Pace,
    generation: u64,
    smoothed: Vec<Vec<f64>>,
}

#[derive(Default)]
struct Subscriptions {
    next_id: u32,
    meters: Vec<MeterSub>,
    spectra: Vec<SpectrumSub>,
    errors: Vec<(u32, ErrorSink)>,
}

impl Subscriptions {
    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }
}

/// Where the thread reads from.
pub struct EventSources {
    /// The audio thread's meter readings.
    pub meters: rtrb::Consumer<MeterMsg>,
    /// Meter names of the newest program.
    pub names: MeterNames,
    /// Spectrum readers of the newest program.
    pub readers: SpectrumReaders,
    /// Polled for errors every tick.
    pub errors: Vec<ErrorSource>,
}

/// The running `ferrite-events` thread and its subscriptions.
pub struct Events {
    subs: Arc<Mutex<Subscriptions>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    sample_rate: f64,
}

fn fps_checked(what: &str, fps: f64) -> Result<f64> {
    if !fps.is_finite() || !(0.1..=1000.0).contains(&fps) {
        return Err(EngineError::range(format!(
            "{what}: fps = {} is out of range [0.1, 1000]",
            crate::error::show(fps)
        )));
    }
    Ok(fps)
}

impl Events {
    /// Starts the thread. `shared.meter_period` is kept at a quarter of
    /// the fastest meter subscriber's period (0 without one), so that the
    /// audio thread pushes readings only when someone listens.
    pub fn start(sources: EventSources, shared: Arc<Shared>, sample_rate: f64) -> Result<Self> {
        let subs = Arc::new(Mutex::new(Subscriptions::default()));
        let (tx, rx) = crossbeam_channel::bounded(1);
        let thread = {
            let subs = subs.clone();
            std::thread::Builder::new()
                .name("ferrite-events".into())
                .spawn(move || run(rx, sources, subs))
                .map_err(|e| EngineError::other(format!("Engine.open: cannot start the events thread: {e}")))?
        };
        Ok(Self { subs, stop: Some(tx), thread: Some(thread), shared, sample_rate })
    }

    /// Calls `sink` with every meter's reading `fps` times a second; returns
    /// the subscription's id. A `RangeError` for an `fps` outside [0.1, 1000].
    pub fn on_meters(&self, sink: MeterSink, fps: f64) -> Result<u32> {
        let fps = fps_checked("onMeters", fps)?;
        let mut subs = self.lock()?;
        let id = subs.id();
        subs.meters.push(MeterSub { id, sink, pace: Pace::new(fps), generation: u64::MAX, acc: Vec::new() });
        self.update_meter_period(&subs);
        Ok(id)
    }

    /// Ends a meter subscription.
    pub fn off_meters(&self, id: u32) {
        if let Ok(mut subs) = self.lock() {
            subs.meters.retain(|s| s.id != id);
            self.update_meter_period(&subs);
        }
    }

    /// Calls `sink` with every analyser's spectrum `fps` times a second.
    pub fn on_spectrum(&self, sink: SpectrumSink, fps: f64) -> Result<u32> {
        let fps = fps_checked("onSpectrum", fps)?;
        let mut subs = self.lock()?;
        let id = subs.id();
        subs.spectra.push(SpectrumSub { id, sink, pace: Pace::new(fps), generation: u64::MAX, smoothed: Vec::new() });
        Ok(id)
    }

    /// Ends a spectrum subscription.
    pub fn off_spectrum(&self, id: u32) {
        if let Ok(mut subs) = self.lock() {
            subs.spectra.retain(|s| s.id != id);
        }
    }

    /// Calls `sink` with every error from the sources.
    pub fn on_error(&self, sink: ErrorSink) -> Result<u32> {
        let mut subs = self.lock()?;
        let id = subs.id();
        subs.errors.push((id, sink));
        Ok(id)
    }

    /// Ends an error subscription.
    pub fn off_error(&self, id: u32) {
        if let Ok(mut subs) = self.lock() {
            subs.errors.retain(|(i, _)| *i != id);
        }
    }

    /// Stops the thread and drops every subscriber (so that the callbacks
    /// they hold are released).
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Ok(mut subs) = self.subs.lock() {
            *subs = Subscriptions::default();
        }
        self.shared.meter_period.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Subscriptions>> {
        self.subs.lock().map_err(|_| EngineError::other("Engine: the events thread failed"))
    }

    fn update_meter_period(&self, subs: &Subscriptions) {
        let period = subs
            .meters
            .iter()
            .map(|s| s.pace.period)
            .min()
            .map_or(0, |p| ((p.as_secs_f64() * self.sample_rate) / 4.0).max(1.0) as u64);
        self.shared.meter_period.store(period, Ordering::Relaxed);
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The thread's loop: every tick until stopped.
fn run(stop: Receiver<()>, mut src: EventSources, subs: Arc<Mutex<Subscriptions>>) {
    let mut analysers: (u64, Vec<SpectrumReader>) = (0, Vec::new());
    let mut errors = Vec::new();
    // The meter names of the newest program, copied when its generation changes.
    let (mut generation, mut names) = (0u64, Vec::<String>::new());
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(TICK) {
        if let Ok(n) = src.names.lock() {
            if n.0 != generation {
                (generation, names) = (n.0, n.1.clone());
            }
        }
        if let Ok(mut r) = src.readers.lock() {
            if r.0 != analysers.0 {
                analysers = (r.0, std::mem::take(&mut r.1));
            }
        }
        // Every ring is drained whether anyone listens or not, so none fills.
        for a in analysers.1.iter_mut() {
            a.drain();
        }
        errors.clear();
        for source in src.errors.iter_mut() {
            source(&mut errors);
        }
        let Ok(mut subs) = subs.lock() else { break };
        merge_meters(&mut subs.meters, &mut src.meters, generation, names.len());
        let now = Instant::now();
        for s in subs.meters.iter_mut() {
            if !s.pace.due(now) {
                continue;
            }
            (s.sink)(names.iter().cloned().zip(s.acc.iter_mut().map(Accumulated::take)).collect());
        }
        for s in subs.spectra.iter_mut() {
            if !s.pace.due(now) {
                continue;
            }
            if s.generation != analysers.0 {
                s.generation = analysers.0;
                s.smoothed = vec![Vec::new(); analysers.1.len()];
            }
            (s.sink)(spectra(&mut analysers.1, &mut s.smoothed));
        }
        for e in &errors {
            for (_, sink) in subs.errors.iter_mut() {
                sink(e);
            }
        }
    }
}

/// Adds the queued readings of the current generation to every meter
/// subscriber's intervals (a new generation starts them from silence).
fn merge_meters(subs: &mut [MeterSub], queue: &mut rtrb::Consumer<MeterMsg>, generation: u64, meters: usize) {
    for s in subs.iter_mut().filter(|s| s.generation != generation) {
        s.generation = generation;
        s.acc = vec![Accumulated::new(MeterReading::SILENT); meters];
    }
    while let Ok(m) = queue.pop() {
        if m.generation != generation {
            continue;
        }
        for s in subs.iter_mut() {
            if let Some(a) = s.acc.get_mut(m.meter as usize) {
                a.add(&m.reading);
            }
        }
    }
}

/// Every analyser's newest spectrum, smoothed with this subscriber's history.
fn spectra(analysers: &mut [SpectrumReader], smoothed: &mut [Vec<f64>]) -> Vec<SpectrumFrame> {
    analysers
        .iter_mut()
        .zip(smoothed.iter_mut())
        .map(|(a, sm)| SpectrumFrame {
            name: a.name().to_string(),
            frequencies: a.frequencies(),
            magnitudes_db: a.analyse(sm),
            waveform: a.waveform().to_vec(),
        })
        .collect()
}
