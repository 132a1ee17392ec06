//! `renderOffline` and `graphLatency`: offline rendering on a worker thread.

use crate::guarded;
use ferrite_engine::nodes::SideBuffers;
use ferrite_engine::{render_offline_with, EngineError, GraphDesc, OfflineRequest, OfflineResult, RenderSettings};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One meter's reading, as `MeterReading` in the API.
#[napi(object)]
pub struct NativeMeterReading {
    pub peak_db: f64,
    pub rms_db: f64,
    pub true_peak_db: f64,
    pub momentary_lufs: f64,
    pub short_term_lufs: f64,
    pub integrated_lufs: f64,
    pub loudness_range_lu: f64,
}

impl From<ferrite_engine::meter::MeterReading> for NativeMeterReading {
    fn from(r: ferrite_engine::meter::MeterReading) -> Self {
        Self {
            peak_db: r.peak_db,
            rms_db: r.rms_db,
            true_peak_db: r.true_peak_db,
            momentary_lufs: r.momentary_lufs,
            short_term_lufs: r.short_term_lufs,
            integrated_lufs: r.integrated_lufs,
            loudness_range_lu: r.loudness_range_lu,
        }
    }
}

/// One analyser's average spectrum, as `Spectrum` in the API.
#[napi(object)]
pub struct NativeSpectrum {
    pub frequencies: Float32Array,
    pub magnitudes_db: Float32Array,
}

/// What `renderOffline` resolves to.
#[napi(object)]
pub struct NativeRenderResult {
    pub channels: Vec<Float32Array>,
    pub latency_frames: u32,
    pub meters: HashMap<String, NativeMeterReading>,
    pub spectra: HashMap<String, NativeSpectrum>,
}

/// Copies JS typed arrays into shared, immutable Rust buffers (on the JS thread).
pub(crate) fn side_buffers(buffers: &[Vec<Float32Array>]) -> Vec<Arc<[Box<[f32]>]>> {
    buffers.iter().map(|chans| chans.iter().map(|c| c.to_vec().into_boxed_slice()).collect::<Vec<_>>().into()).collect()
}

/// The render, run on a named worker thread off the JavaScript thread.
pub struct RenderTask {
    json: String,
    buffers: Vec<Arc<[Box<[f32]>]>>,
    request: OfflineRequest,
    memory_budget: Option<usize>,
    threads: usize,
    /// Set when the environment that started the render is torn down.
    cancel: Arc<AtomicBool>,
}

fn run(
    json: &str,
    buffers: &SideBuffers,
    request: &OfflineRequest,
    memory_budget: Option<usize>,
    threads: usize,
    cancel: &AtomicBool,
) -> std::result::Result<OfflineResult, EngineError> {
    let mut desc = GraphDesc::parse(json)?;
    desc.memory_budget = memory_budget;
    render_offline_with(&desc, buffers, request, None, Some(cancel), threads)
}

/// `threads` as given (a whole number in [1, 64]), or 1 when not given: a
/// split render is opted into until it beats one thread (figures in
/// benches/README.md and the README's Threads section).
pub(crate) fn threads_of(what: &str, threads: Option<f64>) -> std::result::Result<usize, EngineError> {
    let max = ferrite_engine::parallel::MAX_THREADS;
    match threads {
        None => Ok(ferrite_engine::parallel::default_threads()),
        Some(t) if t.is_finite() && t.fract() == 0.0 && (1.0..=max as f64).contains(&t) => Ok(t as usize),
        Some(t) => Err(EngineError::range(format!(
            "{what}: threads = {} must be a whole number in [1, {max}]",
            ferrite_engine::error::show(t)
        ))),
    }
}

/// A `memoryBudget` in bytes (checked by the facade), as the compiler takes it.
pub(crate) fn budget(v: Option<f64>) -> Option<usize> {
    v.filter(|b| b.is_finite() && *b >= 1.0).map(|b| b.min(usize::MAX as f64) as usize)
}

impl Task for RenderTask {
    type Output = OfflineResult;
    type JsValue = NativeRenderResult;

    /// Runs on its own `ferrite-render` thread ([`crate::spawn::off_pool`]).
    fn compute(&mut self) -> napi::Result<Self::Output> {
        let json = std::mem::take(&mut self.json);
        let buffers = std::mem::take(&mut self.buffers);
        guarded("renderOffline", || run(&json, &buffers, &self.request, self.memory_budget, self.threads, &self.cancel))
    }

    fn resolve(&mut self, _env: Env, out: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(NativeRenderResult {
            channels: out.channels.into_iter().map(recyclable).collect(),
            latency_frames: out.latency as u32,
            meters: out.meters.into_iter().map(|(k, v)| (k, v.into())).collect(),
            spectra: out
                .spectra
                .into_iter()
                .map(|(k, s)| {
                    let frequencies = Float32Array::new(s.frequencies);
                    (k, NativeSpectrum { frequencies, magnitudes_db: Float32Array::new(s.magnitudes_db) })
                })
                .collect(),
        })
    }
}

/// A render's output channel as a JavaScript array over the same memory
/// (no copy), given back to the engine's output pool when JavaScript
/// collects the array (`ferrite_engine::offline::recycle_output`), so that
/// later renders write into memory that is already mapped.
fn recyclable(v: Vec<f32>) -> Float32Array {
    let mut v = std::mem::ManuallyDrop::new(v);
    let (ptr, len, cap) = (v.as_mut_ptr(), v.len(), v.capacity());
    let give_back = move |p: *mut f32, _len: usize| {
        // SAFETY: `p`, `len` and `cap` are the parts of the vector taken apart
        // above, handed to JavaScript and now released by it: no one else
        // owns or uses that memory any more.
        ferrite_engine::offline::recycle_output(unsafe { Vec::from_raw_parts(p, len, cap) });
    };
    // SAFETY: `ptr` points to `len` initialized f32 that stay valid until the
    // finalizer (`give_back`) runs; the vector's ownership moves to it.
    unsafe { Float32Array::with_external_data(ptr, len, give_back) }
}

/// Starts an offline render. Arguments are checked for type by the facade;
/// everything else is validated here.
#[allow(clippy::too_many_arguments)]
#[napi(ts_return_type = "Promise<NativeRenderResult>")]
pub fn render_offline_native<'env>(
    env: &'env Env,
    json: String,
    buffers: Vec<Vec<Float32Array>>,
    sample_rate: f64,
    frames: f64,
    channels: f64,
    block_size: f64,
    input: Vec<Float32Array>,
    memory_budget: Option<f64>,
    threads: Option<f64>,
) -> napi::Result<Object<'env>> {
    let (request, threads) = guarded("renderOffline", || {
        let whole = |name: &str, v: f64, lo: f64, hi: f64| {
            if !v.is_finite() || v.fract() != 0.0 || v < lo || v > hi {
                Err(EngineError::range(format!(
                    "renderOffline: {name} = {} must be a whole number in [{lo}, {hi}]",
                    ferrite_engine::error::show(v)
                )))
            } else {
                Ok(v)
            }
        };
        let frames = whole("frames", frames, 0.0, 9.007_199_254_740_991e15)? as u64;
        let channels = whole("channels", channels, 1.0, ferrite_engine::compile::MAX_CHANNELS as f64)? as usize;
        let block_size = whole("blockSize", block_size, 1.0, ferrite_engine::compile::MAX_BLOCK as f64)? as usize;
        RenderSettings { sample_rate, channels, max_block: block_size }.validate()?;
        let threads = threads_of("renderOffline", threads)?;
        let input = input.iter().map(|c| c.to_vec()).collect();
        Ok((OfflineRequest { sample_rate, frames, channels, block_size, input }, threads))
    })?;
    let cancel = Arc::new(AtomicBool::new(false));
    let task = RenderTask {
        json,
        buffers: side_buffers(&buffers),
        request,
        memory_budget: budget(memory_budget),
        threads,
        cancel: cancel.clone(),
    };
    crate::spawn::off_pool(env, "ferrite-render", &cancel, task)
}

/// The latency a graph reports to its output at `sample_rate`, in frames.
#[napi]
pub fn graph_latency_native(
    json: String,
    buffers: Vec<Vec<Float32Array>>,
    sample_rate: f64,
    channels: f64,
) -> napi::Result<u32> {
    let buffers = side_buffers(&buffers);
    guarded("latencyFrames", || {
        let desc = GraphDesc::parse(&json)?;
        let settings = RenderSettings { sample_rate, channels: channels as usize, max_block: 128 };
        Ok(ferrite_engine::compile(&desc, settings, &buffers)?.info.latency as u32)
    })
}
