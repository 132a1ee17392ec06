//! Files: `probeFile`, `decodeFile`, `resample`, `analyzeFile`, each run on
//! a worker thread off the JavaScript thread.

use crate::guarded;
use crate::offline::NativeMeterReading;
use ferrite_engine::files::{analyze_file, FileAnalysis};
use ferrite_engine::EngineError;
use ferrite_media::{AudioFileInfo, DecodeOptions, Decoded};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::path::PathBuf;

/// `AudioFileInfo` in the API.
#[napi(object)]
pub struct NativeFileInfo {
    pub path: String,
    pub format: String,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub frames: f64,
    pub bit_depth: Option<u32>,
}

impl From<AudioFileInfo> for NativeFileInfo {
    fn from(i: AudioFileInfo) -> Self {
        Self {
            path: i.path.display().to_string(),
            format: i.format.into(),
            codec: i.codec,
            sample_rate: i.sample_rate,
            channels: i.channels as u32,
            frames: i.frames as f64,
            bit_depth: i.bit_depth,
        }
    }
}

/// What `decodeFile` resolves to.
#[napi(object)]
pub struct NativeDecoded {
    pub sample_rate: u32,
    pub channels: Vec<Float32Array>,
    pub info: NativeFileInfo,
}

/// `FileAnalysis` in the API: a meter reading and the file's info.
#[napi(object)]
pub struct NativeFileAnalysis {
    pub reading: NativeMeterReading,
    pub info: NativeFileInfo,
}

impl From<FileAnalysis> for NativeFileAnalysis {
    fn from(a: FileAnalysis) -> Self {
        Self { reading: a.reading.into(), info: a.info.into() }
    }
}

/// A job run on a named thread off the JavaScript thread.
pub struct FileTask<T: Send + 'static> {
    what: &'static str,
    job: Option<Box<dyn FnOnce() -> std::result::Result<T, EngineError> + Send>>,
}

/// Runs `job` on a thread named `ferrite-file`, inside `guarded`.
fn run_named<T: Send + 'static>(
    what: &'static str,
    job: Box<dyn FnOnce() -> std::result::Result<T, EngineError> + Send>,
) -> napi::Result<T> {
    let worker = std::thread::Builder::new()
        .name("ferrite-file".into())
        .spawn(move || guarded(what, job))
        .map_err(|e| napi::Error::from_reason(format!("[ferrite:Error] {what}: cannot start a thread: {e}")))?;
    worker.join().unwrap_or_else(|_| {
        Err(napi::Error::from_reason(format!("[ferrite:Error] {what}: the worker stopped unexpectedly")))
    })
}

macro_rules! file_task {
    ($out:ty, $js:ty, $conv:expr) => {
        impl Task for FileTask<$out> {
            type Output = $out;
            type JsValue = $js;
            fn compute(&mut self) -> napi::Result<Self::Output> {
                let job = self.job.take().ok_or_else(|| napi::Error::from_reason("[ferrite:Error] task ran twice"))?;
                run_named(self.what, job)
            }
            fn resolve(&mut self, _env: Env, out: Self::Output) -> napi::Result<Self::JsValue> {
                Ok($conv(out))
            }
        }
    };
}

file_task!(AudioFileInfo, NativeFileInfo, NativeFileInfo::from);
file_task!(FileAnalysis, NativeFileAnalysis, NativeFileAnalysis::from);
file_task!(Decoded, NativeDecoded, |d: Decoded| NativeDecoded {
    sample_rate: d.sample_rate,
    channels: d.channels.into_iter().map(Float32Array::new).collect(),
    info: d.info.into(),
});
file_task!(Vec<Vec<f32>>, Vec<Float32Array>, |v: Vec<Vec<f32>>| v.into_iter().map(Float32Array::new).collect());

fn task<T: Send + 'static>(
    what: &'static str,
    job: impl FnOnce() -> std::result::Result<T, EngineError> + Send + 'static,
) -> FileTask<T> {
    FileTask { what, job: Some(Box::new(job)) }
}

/// Checks an optional whole number in `[lo, hi]`.
fn whole(what: &str, name: &str, v: Option<f64>, lo: f64, hi: f64) -> std::result::Result<Option<f64>, EngineError> {
    match v {
        None => Ok(None),
        Some(v) if v.is_finite() && v.fract() == 0.0 && v >= lo && v <= hi => Ok(Some(v)),
        Some(v) => Err(EngineError::range(format!(
            "{what}: {name} = {} must be a whole number in [{lo}, {hi}]",
            ferrite_engine::error::show(v)
        ))),
    }
}

/// Reads a file's headers.
#[napi(ts_return_type = "Promise<NativeFileInfo>")]
pub fn probe_file_native(path: String) -> AsyncTask<FileTask<AudioFileInfo>> {
    AsyncTask::new(task("probeFile", move || Ok(ferrite_media::probe_file(&PathBuf::from(path))?)))
}

/// Decodes a slice of a file, converted and resampled.
#[napi(ts_return_type = "Promise<NativeDecoded>")]
pub fn decode_file_native(
    path: String,
    sample_rate: Option<f64>,
    channels: Option<f64>,
    start_frame: Option<f64>,
    frames: Option<f64>,
) -> napi::Result<AsyncTask<FileTask<Decoded>>> {
    let opts = guarded("decodeFile", || {
        let w = |name, v, lo, hi| whole("decodeFile", name, v, lo, hi);
        Ok(DecodeOptions {
            sample_rate: w("sampleRate", sample_rate, 1.0, ferrite_media::resample::MAX_RATE as f64)?.map(|v| v as u32),
            channels: w("channels", channels, 1.0, 32.0)?.map(|v| v as usize),
            start_frame: w("startFrame", start_frame, 0.0, 9.007_199_254_740_991e15)?.unwrap_or(0.0) as u64,
            frames: w("frames", frames, 0.0, 9.007_199_254_740_991e15)?.map(|v| v as u64),
        })
    })?;
    Ok(AsyncTask::new(task("decodeFile", move || Ok(ferrite_media::decode_file(&PathBuf::from(path), opts)?))))
}

/// Resamples planar channels.
#[napi(ts_return_type = "Promise<Float32Array[]>")]
pub fn resample_native(
    channels: Vec<Float32Array>,
    from: f64,
    to: f64,
) -> napi::Result<AsyncTask<FileTask<Vec<Vec<f32>>>>> {
    let (from, to) = guarded("resample", || {
        let max = ferrite_media::resample::MAX_RATE as f64;
        let from = whole("resample", "from", Some(from), 1.0, max)?.unwrap_or(1.0) as u32;
        let to = whole("resample", "to", Some(to), 1.0, max)?.unwrap_or(1.0) as u32;
        Ok((from, to))
    })?;
    let input: Vec<Vec<f32>> = channels.iter().map(|c| c.to_vec()).collect();
    Ok(AsyncTask::new(task("resample", move || {
        let views: Vec<&[f32]> = input.iter().map(|c| &c[..]).collect();
        Ok(ferrite_media::resample(&views, from, to)?)
    })))
}

/// Streams a file through a meter.
#[napi(ts_return_type = "Promise<NativeFileAnalysis>")]
pub fn analyze_file_native(path: String) -> AsyncTask<FileTask<FileAnalysis>> {
    AsyncTask::new(task("analyzeFile", move || analyze_file(&PathBuf::from(path))))
}
