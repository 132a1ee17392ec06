//! `Engine`: a running real-time engine (device or null backend) and
//! `listDevices`. The engine's threads are ferrite-engine's: calls go to its
//! `Controller` (checked here, done on `ferrite-control`), and its `Events`
//! (`ferrite-events`) call the JavaScript callbacks wrapped here.

use crate::latest::{Latest, Slot};
use crate::offline::{side_buffers, NativeMeterReading};
use crate::{guarded, to_js};
use ferrite_engine::realtime::events::{ErrorSource, EventSources, Events};
use ferrite_engine::realtime::{
    engine_pair_threads, Controller, RecordRequest, RecordSource, Recording, Shared, WorkerHooks,
};
use ferrite_engine::{EngineError, ErrorKind, GraphDesc, RenderSettings};
use ferrite_io::{IoError, IoErrorKind, Stats, Stream, StreamConfig};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Task};
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

type Meters = HashMap<String, NativeMeterReading>;
type Spectra = HashMap<String, NativeSpectrumFrame>;
// Readings are coalesced: a JavaScript thread that was busy gets the newest
// reading once, not the backlog (see `latest`).
type MetersFn = ThreadsafeFunction<Latest<Meters>, (), Latest<Meters>, Status, false>;
type SpectrumFn = ThreadsafeFunction<Latest<Spectra>, (), Latest<Spectra>, Status, false>;
type ErrorFn = ThreadsafeFunction<String, (), String, Status, false, true>;

/// Largest block the engine renders at once, whatever the device buffer.
const MAX_ENGINE_BLOCK: usize = 4096;

fn closed() -> napi::Error {
    to_js(EngineError::other("Engine: the engine is closed"))
}

fn io_error(e: IoError) -> EngineError {
    match e.kind() {
        IoErrorKind::InvalidConfig => EngineError::range(format!("Engine.open: {}", e.message())),
        IoErrorKind::NotFound => EngineError::other(format!("Engine.open: {}", e.message())),
        _ => EngineError::other(format!("Engine.open: {}", e.message())),
    }
}

/// One analyser's spectrum and waveform for `onSpectrum`.
#[napi(object)]
pub struct NativeSpectrumFrame {
    pub frequencies: Float32Array,
    pub magnitudes_db: Float32Array,
    pub waveform: Float32Array,
}

/// A running engine (the facade's `Engine` wraps it).
#[napi]
pub struct NativeEngine {
    /// Taken by JavaScript calls only (the engine's threads do not share it).
    control: Mutex<Controller>,
    shared: Arc<Shared>,
    stream: Option<Stream>,
    stats: Arc<Stats>,
    events: Option<Events>,
    sample_rate: u32,
    buffer_size: u32,
    channels: u32,
    /// The process-wide disk-underrun count when this engine opened.
    disk_underruns_at_open: u64,
    /// Recordings not yet stopped.
    recordings: Recordings,
    /// Id of the next recording.
    next_recording: std::sync::atomic::AtomicU32,
    /// Whether a capture device was opened (the `'input'` record source).
    has_input: bool,
}

/// One recording as the bindings hold it: `stop` and the events thread share it.
struct RecordingEntry {
    recording: Recording,
    /// Its failure was reported through `onError`.
    reported: bool,
}

/// The recordings of one engine, by id.
#[derive(Clone, Default)]
struct Recordings(Arc<Mutex<HashMap<u32, Arc<Mutex<RecordingEntry>>>>>);

impl Recordings {
    fn insert(&self, id: u32, recording: Recording) -> Arc<Mutex<RecordingEntry>> {
        let entry = Arc::new(Mutex::new(RecordingEntry { recording, reported: false }));
        if let Ok(mut t) = self.0.lock() {
            t.insert(id, entry.clone());
        }
        entry
    }

    fn remove(&self, id: u32) {
        if let Ok(mut t) = self.0.lock() {
            t.remove(&id);
        }
    }

    /// [events thread] The errors of recordings whose writer failed, once
    /// each; never waits for a recording that `stop` is finishing.
    fn failures(&self) -> Vec<String> {
        let entries: Vec<_> = self.0.lock().map(|t| t.values().cloned().collect()).unwrap_or_default();
        let mut out = Vec::new();
        for e in entries {
            let Ok(mut e) = e.try_lock() else { continue };
            if e.reported || !e.recording.is_done() {
                continue;
            }
            e.reported = true;
            // Done: this joins a thread that has ended.
            if let Err(err) = e.recording.stop() {
                out.push(err.message);
            }
        }
        out
    }

    /// Stops every recording and waits until each file is complete.
    fn stop_all(&self) {
        let entries: Vec<_> = self.0.lock().map(|t| t.values().cloned().collect()).unwrap_or_default();
        for e in entries {
            if let Ok(mut e) = e.lock() {
                let _ = e.recording.stop();
            }
        }
    }
}

/// A running recording (the facade's `Recording` wraps it).
#[napi]
pub struct NativeRecording {
    id: u32,
    path: String,
    entry: Arc<Mutex<RecordingEntry>>,
    recordings: Recordings,
}

/// What `Recording.stop` resolves with.
#[napi(object)]
pub struct NativeRecordResult {
    pub frames: f64,
    pub dropped_frames: f64,
}

/// Stops a recording on a worker thread and waits until its file is complete.
pub struct StopTask {
    id: u32,
    entry: Arc<Mutex<RecordingEntry>>,
    recordings: Recordings,
}

impl Task for StopTask {
    type Output = NativeRecordResult;
    type JsValue = NativeRecordResult;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        guarded("Recording.stop", || {
            let mut e = self.entry.lock().map_err(|_| EngineError::other("Recording.stop: internal lock poisoned"))?;
            // The events thread reports failures of recordings still listed only.
            e.reported = true;
            let r = e.recording.stop();
            drop(e);
            self.recordings.remove(self.id);
            let r = r?;
            Ok(NativeRecordResult { frames: r.frames as f64, dropped_frames: r.dropped_frames as f64 })
        })
    }

    fn resolve(&mut self, _env: Env, out: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(out)
    }
}

#[napi]
impl NativeRecording {
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.clone()
    }

    #[napi(ts_return_type = "Promise<NativeRecordResult>")]
    pub fn stop(&self) -> AsyncTask<StopTask> {
        AsyncTask::new(StopTask { id: self.id, entry: self.entry.clone(), recordings: self.recordings.clone() })
    }
}

/// Opens the backend on a worker thread (device enumeration can take a while).
pub struct OpenTask {
    null: bool,
    config: StreamConfig,
    budget: Option<usize>,
    threads: usize,
}

/// An engine error as the facade's error messages tag it.
fn tagged(e: &EngineError) -> String {
    let tag = match e.kind {
        ErrorKind::Type => "TypeError",
        ErrorKind::Range => "RangeError",
        ErrorKind::Other => "Error",
    };
    format!("[ferrite:{tag}] {}", e.message)
}

fn open(
    null: bool,
    config: &StreamConfig,
    budget: Option<usize>,
    threads: usize,
) -> std::result::Result<NativeEngine, EngineError> {
    // The render settings depend on what the device grants, so the pair is
    // made with a provisional rate and updated before the first graph.
    let provisional = RenderSettings {
        sample_rate: config.sample_rate.unwrap_or(48_000) as f64,
        channels: config.channels.unwrap_or(2) as usize,
        max_block: 128,
    };
    let (mut control, mut core, meters) = engine_pair_threads(provisional, threads, WorkerHooks::default());
    let callback = move |out: &mut [f32], input: &[f32], frames: usize, channels: usize| {
        core.render(out, input, channels, frames, channels);
    };
    let stream = if null { ferrite_io::open_null(config, callback) } else { ferrite_io::open_device(config, callback) }
        .map_err(io_error)?;
    let settings = RenderSettings {
        sample_rate: stream.sample_rate() as f64,
        channels: stream.channels() as usize,
        max_block: (stream.buffer_size() as usize).clamp(1, MAX_ENGINE_BLOCK),
    };
    control.set_settings(settings);
    if let Some(memory_budget) = budget {
        control.set_compile_options(ferrite_engine::CompileOptions { memory_budget, ..control.compile_options() });
    }
    let controller = Controller::start(control)?;
    let recordings = Recordings::default();
    let failed = recordings.clone();
    let shared = controller.shared().clone();
    let io_errors = stream.errors();
    let control_errors = controller.errors();
    let errors: Vec<ErrorSource> = vec![
        Box::new(move |out: &mut Vec<String>| {
            out.extend(io_errors.try_iter().map(|e: IoError| format!("[ferrite:Error] Engine: {}", e.message())))
        }),
        // A file player whose stream failed plays silence; say why.
        Box::new(|out: &mut Vec<String>| {
            out.extend(
                ferrite_media::take_stream_errors()
                    .into_iter()
                    .map(|e| format!("[ferrite:Error] Engine: filePlayer: {e}")),
            )
        }),
        Box::new(move |out: &mut Vec<String>| out.extend(control_errors.try_iter().map(|e| tagged(&e)))),
        // A recording whose writer failed has ended: say why (its `stop` rejects with the same).
        Box::new(move |out: &mut Vec<String>| {
            out.extend(failed.failures().into_iter().map(|m| format!("[ferrite:Error] Engine: {m}")))
        }),
    ];
    let sources =
        EventSources { meters, names: controller.meter_names(), readers: controller.spectrum_readers(), errors };
    let events = Events::start(sources, shared.clone(), settings.sample_rate)?;
    Ok(NativeEngine {
        stats: stream.stats_handle(),
        sample_rate: stream.sample_rate(),
        buffer_size: stream.buffer_size(),
        channels: stream.channels() as u32,
        stream: Some(stream),
        control: Mutex::new(controller),
        shared,
        events: Some(events),
        disk_underruns_at_open: ferrite_media::disk_underruns(),
        recordings,
        next_recording: std::sync::atomic::AtomicU32::new(1),
        has_input: config.want_input,
    })
}

impl Task for OpenTask {
    type Output = NativeEngine;
    type JsValue = NativeEngine;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        guarded("Engine.open", || open(self.null, &self.config, self.budget, self.threads))
    }

    fn resolve(&mut self, _env: Env, out: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(out)
    }
}

fn opt_u32(name: &str, v: Option<f64>, lo: f64, hi: f64) -> std::result::Result<Option<u32>, EngineError> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && x.fract() == 0.0 && x >= lo && x <= hi => Ok(Some(x as u32)),
        Some(x) => Err(EngineError::range(format!(
            "Engine.open: {name} = {} must be a whole number in [{lo}, {hi}]",
            ferrite_engine::error::show(x)
        ))),
    }
}

/// Opens an engine: `null` for the clock-paced backend, else a cpal device.
#[napi(ts_return_type = "Promise<NativeEngine>")]
#[allow(clippy::too_many_arguments)]
pub fn open_engine_native(
    null_backend: bool,
    sample_rate: Option<f64>,
    buffer_size: Option<f64>,
    channels: Option<f64>,
    device: Option<String>,
    input_device: Option<String>,
    memory_budget: Option<f64>,
    threads: Option<f64>,
) -> napi::Result<AsyncTask<OpenTask>> {
    let (config, threads) = guarded("Engine.open", || {
        let threads = match threads {
            None => ferrite_engine::realtime::default_threads(),
            Some(_) => crate::offline::threads_of("Engine.open", threads)?,
        };
        let config = StreamConfig {
            sample_rate: opt_u32("sampleRate", sample_rate, 8000.0, 384_000.0)?,
            buffer_size: opt_u32("bufferSize", buffer_size, 16.0, 8192.0)?,
            channels: opt_u32("channels", channels, 1.0, 32.0)?.map(|c| c as u16),
            device,
            want_input: input_device.is_some(),
            input_device,
        };
        Ok((config, threads))
    })?;
    let budget = crate::offline::budget(memory_budget);
    Ok(AsyncTask::new(OpenTask { null: null_backend, config, budget, threads }))
}

/// Engine statistics, as `EngineStats` in the API.
#[napi(object)]
pub struct NativeEngineStats {
    pub callbacks: f64,
    pub frames_rendered: f64,
    pub xruns: f64,
    pub overrun_callbacks: f64,
    pub late_wakeups: f64,
    pub backend_xruns: f64,
    pub budget_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub dropped_messages: f64,
    pub realtime_priority: bool,
    pub denormals_flushed: bool,
    pub simd: String,
    pub disk_underruns: f64,
    pub record_dropped_frames: f64,
    pub threads: f64,
    pub analyser_dropped_frames: f64,
}

#[napi]
impl NativeEngine {
    fn control(&self) -> napi::Result<std::sync::MutexGuard<'_, Controller>> {
        if self.stream.is_none() {
            return Err(closed());
        }
        self.control.lock().map_err(|_| to_js(EngineError::other("Engine: internal lock poisoned")))
    }

    #[napi(getter)]
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    #[napi(getter)]
    pub fn buffer_size(&self) -> u32 {
        self.buffer_size
    }

    #[napi(getter)]
    pub fn channels(&self) -> u32 {
        self.channels
    }

    #[napi(getter)]
    pub fn position(&self) -> f64 {
        self.shared.transport.position() as f64
    }

    #[napi(getter)]
    pub fn latency_frames(&self) -> u32 {
        self.control.lock().map(|c| c.latency() as u32).unwrap_or(0)
    }

    #[napi]
    pub fn set_graph(&self, json: String, buffers: Vec<Vec<Float32Array>>) -> napi::Result<()> {
        let buffers = side_buffers(&buffers);
        let mut c = self.control()?;
        guarded("setGraph", || c.set_graph(&GraphDesc::parse(&json)?, &buffers))
    }

    #[napi]
    pub fn set_automation(&self, json: String) -> napi::Result<()> {
        let mut c = self.control()?;
        guarded("setAutomation", || {
            let v: serde_json::Value = serde_json::from_str(&json)
                .map_err(|e| EngineError::type_error(format!("setAutomation: not valid JSON ({e})")))?;
            let arr =
                v.as_array().ok_or_else(|| EngineError::type_error("setAutomation: expected an array of lanes"))?;
            let lanes = arr
                .iter()
                .enumerate()
                .map(|(i, l)| ferrite_engine::desc::parse_lane(l, &format!("setAutomation: lanes[{i}]")))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            c.set_automation(&lanes)
        })
    }

    #[napi]
    pub fn set_param(
        &self,
        node: f64,
        param: String,
        value: f64,
        ramp_ms: Option<f64>,
        at_frame: Option<f64>,
    ) -> napi::Result<()> {
        let mut c = self.control()?;
        guarded("setParam", || {
            if !node.is_finite() || node < 0.0 || node.fract() != 0.0 || node > u32::MAX as f64 {
                return Err(EngineError::type_error(format!(
                    "setParam: node #{} is not a node id",
                    ferrite_engine::error::show(node)
                )));
            }
            c.set_param(node as u32, &param, value, ramp_ms, at_frame)
        })
    }

    #[napi]
    pub fn play(&self) -> napi::Result<()> {
        drop(self.control()?);
        self.shared.transport.play();
        Ok(())
    }

    #[napi]
    pub fn stop(&self) -> napi::Result<()> {
        drop(self.control()?);
        self.shared.transport.stop();
        Ok(())
    }

    #[napi]
    pub fn seek(&self, frame: f64) -> napi::Result<()> {
        drop(self.control()?);
        guarded("seek", || {
            let f = ferrite_engine::desc::frames_value(&serde_json_number(frame), "seek: frame")?;
            self.shared.transport.seek(f as u64);
            Ok(())
        })
    }

    #[napi]
    pub fn set_loop(&self, start: f64, end: Option<f64>) -> napi::Result<()> {
        drop(self.control()?);
        guarded("setLoop", || {
            let s = ferrite_engine::desc::frames_value(&serde_json_number(start), "setLoop: start")? as u64;
            let e = match end {
                Some(e) => Some(ferrite_engine::desc::frames_value(&serde_json_number(e), "setLoop: end")? as u64),
                None => None,
            };
            if let Some(e) = e {
                if e <= s {
                    return Err(EngineError::range(format!("setLoop: end = {e} must be after start = {s}")));
                }
            }
            self.shared.transport.set_loop(s, e);
            Ok(())
        })
    }

    #[napi(ts_args_type = "callback: (meters: Record<string, NativeMeterReading>) => void, fps: number")]
    pub fn on_meters(&self, callback: MetersFn, fps: f64) -> napi::Result<u32> {
        let events = self.events()?;
        let slot = Arc::new(Slot::default());
        let sink = Box::new(move |readings: Vec<(String, ferrite_engine::meter::MeterReading)>| {
            let payload: Meters = readings.into_iter().map(|(name, r)| (name, NativeMeterReading::from(r))).collect();
            if slot.put(payload)
                && callback.call(Latest(slot.clone()), ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok
            {
                slot.unqueue();
            }
        });
        events.on_meters(sink, fps).map_err(to_js)
    }

    #[napi]
    pub fn off_meters(&self, id: u32) {
        if let Some(e) = self.events.as_ref() {
            e.off_meters(id);
        }
    }

    #[napi(ts_args_type = "callback: (spectra: Record<string, NativeSpectrumFrame>) => void, fps: number")]
    pub fn on_spectrum(&self, callback: SpectrumFn, fps: f64) -> napi::Result<u32> {
        let events = self.events()?;
        let slot = Arc::new(Slot::default());
        let sink = Box::new(move |frames: Vec<ferrite_engine::realtime::events::SpectrumFrame>| {
            let payload: Spectra = frames
                .into_iter()
                .map(|f| {
                    let frame = NativeSpectrumFrame {
                        frequencies: Float32Array::new(f.frequencies),
                        magnitudes_db: Float32Array::new(f.magnitudes_db),
                        waveform: Float32Array::new(f.waveform),
                    };
                    (f.name, frame)
                })
                .collect();
            if slot.put(payload)
                && callback.call(Latest(slot.clone()), ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok
            {
                slot.unqueue();
            }
        });
        events.on_spectrum(sink, fps).map_err(to_js)
    }

    #[napi]
    pub fn off_spectrum(&self, id: u32) {
        if let Some(e) = self.events.as_ref() {
            e.off_spectrum(id);
        }
    }

    #[napi(ts_args_type = "callback: (message: string) => void")]
    pub fn on_error(&self, callback: ErrorFn) -> napi::Result<u32> {
        let events = self.events()?;
        let sink = Box::new(move |message: &str| {
            callback.call(message.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
        });
        events.on_error(sink).map_err(to_js)
    }

    #[napi]
    pub fn off_error(&self, id: u32) {
        if let Some(e) = self.events.as_ref() {
            e.off_error(id);
        }
    }

    fn events(&self) -> napi::Result<&Events> {
        match (&self.stream, &self.events) {
            (Some(_), Some(e)) => Ok(e),
            _ => Err(closed()),
        }
    }

    #[napi]
    pub fn reset_meter(&self, name: String) -> napi::Result<()> {
        let mut c = self.control()?;
        guarded("resetMeter", || c.reset_meter(&name))
    }

    #[napi]
    pub fn stats(&self) -> NativeEngineStats {
        let s = self.stats.snapshot();
        NativeEngineStats {
            callbacks: s.callbacks as f64,
            frames_rendered: s.frames_rendered as f64,
            xruns: s.xruns as f64,
            overrun_callbacks: s.overrun_callbacks as f64,
            late_wakeups: s.late_wakeups as f64,
            backend_xruns: s.backend_xruns as f64,
            budget_us: s.budget_us,
            p50_us: s.p50_us,
            p99_us: s.p99_us,
            max_us: s.max_us,
            dropped_messages: (s.dropped_messages + self.shared.dropped_messages.load(Ordering::Relaxed)) as f64,
            realtime_priority: s.realtime_priority,
            denormals_flushed: s.denormals_flushed,
            simd: crate::simd_name(),
            disk_underruns: ferrite_media::disk_underruns().saturating_sub(self.disk_underruns_at_open) as f64,
            record_dropped_frames: self.shared.record_dropped_frames.load(Ordering::Relaxed) as f64,
            threads: self.shared.threads.load(Ordering::Relaxed) as f64,
            analyser_dropped_frames: self.shared.analyser_dropped_frames.load(Ordering::Relaxed) as f64,
        }
    }

    /// Starts a recording (options validated by the facade; checked again here).
    #[napi]
    pub fn record(
        &self,
        path: String,
        source: String,
        node: Option<u32>,
        bit_depth: Option<u32>,
        start_frame: Option<f64>,
        end_frame: Option<f64>,
    ) -> napi::Result<NativeRecording> {
        let c = self.control()?;
        let recording = guarded("record", || {
            let source = match (source.as_str(), node) {
                ("node", Some(id)) => RecordSource::Node(id),
                ("output", _) => RecordSource::Output,
                ("input", _) if self.has_input => RecordSource::Input,
                ("input", _) => return Err(EngineError::other(
                    "record: source 'input' needs a capture device (open the engine with Engine.open({ inputDevice }))",
                )),
                (s, _) => {
                    return Err(EngineError::type_error(format!(
                        "record: source '{s}' is not 'output', 'input' or a node"
                    )))
                }
            };
            let frame = |name: &str, v: Option<f64>| -> std::result::Result<Option<u64>, EngineError> {
                v.map(|v| {
                    ferrite_engine::desc::frames_value(&serde_json_number(v), &format!("record: {name}"))
                        .map(|f| f as u64)
                })
                .transpose()
            };
            let bit_depth = ferrite_media::BitDepth::from_bits(bit_depth.unwrap_or(24))
                .map_err(|e| EngineError::range(format!("record: {}", e.message)))?;
            let req = RecordRequest {
                path: std::path::PathBuf::from(&path),
                source,
                bit_depth,
                start_frame: frame("startFrame", start_frame)?,
                end_frame: frame("endFrame", end_frame)?,
            };
            c.record(req)
        })?;
        drop(c);
        let id = self.next_recording.fetch_add(1, Ordering::Relaxed);
        let entry = self.recordings.insert(id, recording);
        Ok(NativeRecording { id, path, entry, recordings: self.recordings.clone() })
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.stream.is_none()
    }

    /// Finishes the calls in flight, stops the stream and the engine's
    /// threads, and releases every callback, so that the process can exit.
    #[napi]
    pub fn close(&mut self) {
        if let Ok(c) = self.control.lock() {
            c.sync();
        }
        // Every recording first, while the audio thread still runs to end them.
        self.recordings.stop_all();
        if let Some(s) = self.stream.take() {
            s.close();
        }
        if let Some(mut ev) = self.events.take() {
            ev.stop();
        }
        if let Ok(mut c) = self.control.lock() {
            c.stop();
        }
    }
}

impl Drop for NativeEngine {
    fn drop(&mut self) {
        self.close();
    }
}

fn serde_json_number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(ferrite_engine::error::show(v)))
}

/// One audio device, as `listDevices()` reports it.
#[napi(object)]
pub struct NativeDevice {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub output_channels: u32,
    pub input_channels: u32,
    pub sample_rates: Vec<u32>,
}

/// The devices cpal can open.
#[napi]
pub fn list_devices_native() -> napi::Result<Vec<NativeDevice>> {
    guarded("listDevices", || {
        Ok(ferrite_io::list_devices()
            .into_iter()
            .map(|d| NativeDevice {
                id: d.id,
                name: d.name,
                is_default: d.is_default,
                output_channels: d.output_channels as u32,
                input_channels: d.input_channels as u32,
                sample_rates: d.sample_rates,
            })
            .collect())
    })
}
