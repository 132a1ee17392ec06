//! Files: `probeFile`, `decodeFile`, `resample`, `analyzeFile`, each run on
//! a worker thread off the JavaScript thread.

use crate::guarded;
use crate::offline::NativeMeterReading;
use ferrite_engine::files::{analyze_threads, FileAnalysis};
use ferrite_engine::EngineError;
use ferrite_media::{AudioFileInfo, DecodeOptions, Decoded};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

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

/// A file job's body: given the flag that cancels it (set when the
/// JavaScript environment that started it is torn down).
type Job<T> = Box<dyn FnOnce(&AtomicBool) -> std::result::Result<T, EngineError> + Send>;

/// A job run on a named thread off the JavaScript thread.
pub struct FileTask<T: Send + 'static> {
    what: &'static str,
    cancel: Arc<AtomicBool>,
    job: Option<Job<T>>,
}

macro_rules! file_task {
    ($out:ty, $js:ty, $conv:expr) => {
        impl Task for FileTask<$out> {
            type Output = $out;
            type JsValue = $js;
            fn compute(&mut self) -> napi::Result<Self::Output> {
                // On its own `ferrite-file` thread (`crate::spawn::off_pool`).
                let job = self.job.take().ok_or_else(|| napi::Error::from_reason("[ferrite:Error] task ran twice"))?;
                let cancel = self.cancel.clone();
                guarded(self.what, move || job(&cancel))
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

/// Starts `job` on a `ferrite-file` thread; `cancel` is the flag it is
/// given, also set when `env` is torn down.
fn spawn_job<'env, T: Send + 'static>(
    env: &'env Env,
    what: &'static str,
    cancel: Arc<AtomicBool>,
    job: impl FnOnce(&AtomicBool) -> std::result::Result<T, EngineError> + Send + 'static,
) -> napi::Result<Object<'env>>
where
    FileTask<T>: Task,
    <FileTask<T> as Task>::Output: Send,
    <FileTask<T> as Task>::JsValue: ToNapiValue,
{
    let flag = cancel.clone();
    crate::spawn::off_pool(env, "ferrite-file", &flag, FileTask { what, cancel, job: Some(Box::new(job)) })
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
pub fn probe_file_native<'env>(env: &'env Env, path: String) -> napi::Result<Object<'env>> {
    spawn_job(env, "probeFile", Arc::default(), move |_| Ok(ferrite_media::probe_file(&PathBuf::from(path))?))
}

/// Decodes a slice of a file, converted and resampled.
#[napi(ts_return_type = "Promise<NativeDecoded>")]
pub fn decode_file_native<'env>(
    env: &'env Env,
    path: String,
    sample_rate: Option<f64>,
    channels: Option<f64>,
    start_frame: Option<f64>,
    frames: Option<f64>,
) -> napi::Result<Object<'env>> {
    let opts = guarded("decodeFile", || {
        let w = |name, v, lo, hi| whole("decodeFile", name, v, lo, hi);
        Ok(DecodeOptions {
            sample_rate: w("sampleRate", sample_rate, 1.0, ferrite_media::resample::MAX_RATE as f64)?.map(|v| v as u32),
            channels: w("channels", channels, 1.0, 32.0)?.map(|v| v as usize),
            start_frame: w("startFrame", start_frame, 0.0, 9.007_199_254_740_991e15)?.unwrap_or(0.0) as u64,
            frames: w("frames", frames, 0.0, 9.007_199_254_740_991e15)?.map(|v| v as u64),
        })
    })?;
    spawn_job(env, "decodeFile", Arc::default(), move |_| Ok(ferrite_media::decode_file(&PathBuf::from(path), opts)?))
}

/// Resamples planar channels.
#[napi(ts_return_type = "Promise<Float32Array[]>")]
pub fn resample_native<'env>(
    env: &'env Env,
    channels: Vec<Float32Array>,
    from: f64,
    to: f64,
) -> napi::Result<Object<'env>> {
    let (from, to) = guarded("resample", || {
        let max = ferrite_media::resample::MAX_RATE as f64;
        let from = whole("resample", "from", Some(from), 1.0, max)?.unwrap_or(1.0) as u32;
        let to = whole("resample", "to", Some(to), 1.0, max)?.unwrap_or(1.0) as u32;
        Ok((from, to))
    })?;
    let input: Vec<Vec<f32>> = channels.iter().map(|c| c.to_vec()).collect();
    spawn_job(env, "resample", Arc::default(), move |_| {
        let views: Vec<&[f32]> = input.iter().map(|c| &c[..]).collect();
        Ok(ferrite_media::resample(&views, from, to)?)
    })
}

/// Streams a file through a meter, on `threads` threads (default every core).
#[napi(ts_return_type = "Promise<NativeFileAnalysis>")]
pub fn analyze_file_native<'env>(env: &'env Env, path: String, threads: Option<u32>) -> napi::Result<Object<'env>> {
    let threads = threads.map_or_else(ferrite_engine::parallel::default_threads, |t| t as usize);
    spawn_job(env, "analyzeFile", Arc::default(), move |cancel| {
        analyze_threads(&PathBuf::from(path), threads, |_| (), cancel)
    })
}

/// Progress and cancellation shared between JavaScript and a running file job.
#[napi]
pub struct RenderControl {
    progress: Arc<std::sync::atomic::AtomicU64>,
    cancel: Arc<AtomicBool>,
}

#[napi]
impl RenderControl {
    /// A fresh control: no progress, not cancelled.
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self { progress: Default::default(), cancel: Default::default() }
    }

    /// Frames done so far.
    #[napi]
    pub fn progress(&self) -> f64 {
        self.progress.load(std::sync::atomic::Ordering::Relaxed) as f64
    }

    /// Asks the job to stop; it rejects and leaves no partial file.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What `renderToFile` resolves to.
#[napi(object)]
pub struct NativeFileRenderResult {
    pub frames: f64,
    pub latency_frames: u32,
    pub meters: std::collections::HashMap<String, NativeMeterReading>,
}

file_task!(
    ferrite_engine::files::FileRenderResult,
    NativeFileRenderResult,
    |r: ferrite_engine::files::FileRenderResult| {
        NativeFileRenderResult {
            frames: r.frames as f64,
            latency_frames: r.latency as u32,
            meters: r.meters.into_iter().map(|(k, v)| (k, v.into())).collect(),
        }
    }
);

/// Renders a graph to a WAV or FLAC file, streamed through a writer thread.
#[allow(clippy::too_many_arguments)]
#[napi(ts_return_type = "Promise<NativeFileRenderResult>")]
pub fn render_to_file_native<'env>(
    env: &'env Env,
    json: String,
    buffers: Vec<Vec<Float32Array>>,
    path: String,
    sample_rate: f64,
    frames: f64,
    channels: f64,
    block_size: f64,
    bit_depth: f64,
    input: Vec<Float32Array>,
    input_path: Option<String>,
    control: &RenderControl,
    memory_budget: Option<f64>,
    threads: Option<f64>,
) -> napi::Result<Object<'env>> {
    use ferrite_engine::files::{render_to_file, FileRenderRequest, RenderInput};
    let req = guarded("renderToFile", || {
        let w = |name, v, lo, hi| whole("renderToFile", name, Some(v), lo, hi).map(|v| v.unwrap_or(0.0));
        let frames = w("frames", frames, 0.0, 9.007_199_254_740_991e15)? as u64;
        let channels = w("channels", channels, 1.0, ferrite_engine::compile::MAX_CHANNELS as f64)? as usize;
        let block_size = w("blockSize", block_size, 1.0, ferrite_engine::compile::MAX_BLOCK as f64)? as usize;
        let bits = w("bitDepth", bit_depth, 16.0, 32.0)? as u32;
        let depth = ferrite_media::BitDepth::from_bits(bits)?;
        let input = match input_path {
            Some(p) => RenderInput::File(PathBuf::from(p)),
            None if input.is_empty() => RenderInput::None,
            None => RenderInput::Buffers(input.iter().map(|c| c.to_vec()).collect()),
        };
        let threads = crate::offline::threads_of("renderToFile", threads)?;
        Ok(FileRenderRequest {
            path: PathBuf::from(&path),
            sample_rate,
            frames,
            channels,
            block_size,
            depth,
            input,
            threads,
        })
    })?;
    let side = crate::offline::side_buffers(&buffers);
    let progress = control.progress.clone();
    spawn_job(env, "renderToFile", control.cancel.clone(), move |cancel| {
        let mut desc = ferrite_engine::GraphDesc::parse(&json)?;
        desc.memory_budget = crate::offline::budget(memory_budget);
        render_to_file(&desc, &side, &req, &progress, cancel)
    })
}

/// What `normalizeFile` resolves to.
#[napi(object)]
pub struct NativeNormalizeResult {
    pub before: NativeFileAnalysis,
    pub after: NativeFileAnalysis,
    pub gain_db: f64,
    pub limited: bool,
}

file_task!(
    ferrite_engine::files::NormalizeResult,
    NativeNormalizeResult,
    |r: ferrite_engine::files::NormalizeResult| {
        NativeNormalizeResult { before: r.before.into(), after: r.after.into(), gain_db: r.gain_db, limited: r.limited }
    }
);

/// Normalises a file's integrated loudness under a true-peak ceiling.
#[napi(ts_return_type = "Promise<NativeNormalizeResult>")]
pub fn normalize_file_native<'env>(
    env: &'env Env,
    input: String,
    output: String,
    target_lufs: f64,
    true_peak_db: f64,
    bit_depth: f64,
    sample_rate: Option<f64>,
) -> napi::Result<Object<'env>> {
    let req = guarded("normalizeFile", || {
        let bits = whole("normalizeFile", "bitDepth", Some(bit_depth), 16.0, 32.0)?.unwrap_or(24.0) as u32;
        let rate = whole("normalizeFile", "sampleRate", sample_rate, 1.0, ferrite_media::resample::MAX_RATE as f64)?;
        Ok(ferrite_engine::files::NormalizeRequest {
            input: PathBuf::from(&input),
            output: PathBuf::from(&output),
            target_lufs,
            true_peak_db,
            depth: ferrite_media::BitDepth::from_bits(bits)?,
            sample_rate: rate.map(|r| r as u32),
        })
    })?;
    spawn_job(env, "normalizeFile", Arc::default(), move |cancel| {
        ferrite_engine::files::normalize_file_with(&req, cancel)
    })
}
