//! The offline renderer: the same compiled graph and render core as the
//! real-time engine, driven as fast as possible on the caller's thread (the
//! napi layer runs it on a worker, never on the JavaScript thread).

use crate::compile::RenderSettings;
use crate::desc::GraphDesc;
use crate::error::{EngineError, Result};
use crate::meter::{reading_of, MeterReading};
use crate::nodes::SideBuffers;
use crate::parallel::OfflineGraph;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Most samples (frames × channels) one offline render may produce: 4 GiB of f32.
pub const MAX_RENDER_SAMPLES: u64 = 1 << 30;

/// What to render.
#[derive(Debug, Clone)]
pub struct OfflineRequest {
    /// Frames per second.
    pub sample_rate: f64,
    /// Frames to render.
    pub frames: u64,
    /// Output (and connection) channel count.
    pub channels: usize,
    /// Frames per block; must not change the result.
    pub block_size: usize,
    /// Fed to the graph's `input` node: 1 channel (fed to every channel) or `channels`.
    pub input: Vec<Vec<f32>>,
}

/// What an offline render returns.
#[derive(Debug, Clone)]
pub struct OfflineResult {
    /// `channels` vectors of `frames` samples.
    pub channels: Vec<Vec<f32>>,
    /// Latency reported to the output, in frames.
    pub latency: usize,
    /// One reading per meter node, keyed by name.
    pub meters: Vec<(String, MeterReading)>,
    /// Each analyser's average power spectrum over the render, keyed by name.
    pub spectra: Vec<(String, crate::spectrum::Spectrum)>,
}

/// Renders `desc` offline on one thread. `progress`, when given, receives
/// the frames done so far.
pub fn render_offline(
    desc: &GraphDesc,
    buffers: &SideBuffers,
    req: &OfflineRequest,
    progress: Option<&AtomicU64>,
) -> Result<OfflineResult> {
    render_offline_threads(desc, buffers, req, progress, 1)
}

/// [`render_offline`] on up to `threads` threads (the caller's and the
/// shared pool's, see [`crate::parallel`]): the same samples, bit for bit,
/// for any `threads` (1 to [`crate::parallel::MAX_THREADS`]).
pub fn render_offline_threads(
    desc: &GraphDesc,
    buffers: &SideBuffers,
    req: &OfflineRequest,
    progress: Option<&AtomicU64>,
    threads: usize,
) -> Result<OfflineResult> {
    render_offline_with(desc, buffers, req, progress, None, threads)
}

/// [`render_offline_threads`] that stops when `cancel` is set: it is
/// checked between spans of at most [`PROGRESS_FRAMES`] frames, and a
/// cancelled render returns an error (the napi layer sets it when the
/// JavaScript environment that asked for the render is torn down).
pub fn render_offline_with(
    desc: &GraphDesc,
    buffers: &SideBuffers,
    req: &OfflineRequest,
    progress: Option<&AtomicU64>,
    cancel: Option<&AtomicBool>,
    threads: usize,
) -> Result<OfflineResult> {
    let settings = RenderSettings { sample_rate: req.sample_rate, channels: req.channels, max_block: req.block_size };
    settings.validate()?;
    check_threads("renderOffline", threads)?;
    if req.frames.saturating_mul(req.channels as u64) > MAX_RENDER_SAMPLES {
        return Err(EngineError::range(format!(
            "renderOffline: frames = {} × channels = {} exceeds the limit of {MAX_RENDER_SAMPLES} samples (4 GiB); render in parts",
            req.frames, req.channels
        )));
    }
    let n_in = req.input.len();
    if n_in > 1 && n_in != req.channels {
        return Err(EngineError::range(format!(
            "renderOffline: input has {n_in} channels; it must have 1 or {} (the render's channels)",
            req.channels
        )));
    }
    crate::nodes::check_finite("renderOffline", "input", &req.input, 0)?;
    let mut g = OfflineGraph::compile(desc, settings, buffers, threads)?;
    g.prepare_offline();
    let frames = req.frames as usize;
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(req.channels);
    // Fresh outputs' pages, mapped beside the render (see `populate`).
    let mut fresh: Vec<(usize, usize)> = Vec::new();
    for _ in 0..req.channels {
        if let Some(v) = take_recycled(frames) {
            out.push(v);
            continue;
        }
        let mut v = Vec::new();
        v.try_reserve_exact(frames)
            .map_err(|_| EngineError::range(format!("renderOffline: frames = {frames} does not fit in memory")))?;
        if let Some(pages) = reserved_pages(&mut v) {
            advise_huge(pages);
            fresh.push(pages);
        }
        out.push(v);
    }
    std::thread::scope(|scope| {
        if !fresh.is_empty() {
            let ranges = fresh.clone();
            let spawned =
                std::thread::Builder::new().name("ferrite-map".into()).spawn_scoped(scope, move || populate(&ranges));
            if spawned.is_err() {
                populate(&fresh);
            }
        }
        render_into(&mut g, req, frames, &mut out, progress, cancel)
    })?;
    if let Some(e) = g.stream_failure() {
        return Err(EngineError::other(format!("renderOffline: {e}")));
    }
    let spectra = g.spectra();
    Ok(OfflineResult { channels: out, latency: g.latency(), meters: g.meter_readings(), spectra })
}

/// The render loop of [`render_offline_with`]: `frames` of `g` into `out`
/// (one reserved vector per channel), in spans that report progress and
/// check `cancel`.
fn render_into(
    g: &mut OfflineGraph,
    req: &OfflineRequest,
    frames: usize,
    out: &mut [Vec<f32>],
    progress: Option<&AtomicU64>,
    cancel: Option<&AtomicBool>,
) -> Result<()> {
    let n_in = req.input.len();
    let input = |c: usize, at: usize, dst: &mut [f64]| {
        let src = req.input.get(if n_in == 1 { 0 } else { c });
        for (i, d) in dst.iter_mut().enumerate() {
            *d = src.and_then(|s| s.get(at + i)).map_or(0.0, |&x| f64::from(x));
        }
    };
    // Progress is reported every span of this many frames.
    let span = (PROGRESS_FRAMES / req.block_size).max(1) * req.block_size;
    let mut pos = 0usize;
    while pos < frames {
        if cancel.is_some_and(|c| c.load(Ordering::Acquire)) {
            return Err(EngineError::other(format!("renderOffline: cancelled at frame {pos} of {frames}")));
        }
        let n = span.min(frames - pos);
        let mut sink = |c: usize, _off: usize, len: usize, src: &[f64]| {
            let Some(o) = out.get_mut(c) else { return };
            // Converted straight into the reserved space (one vectorized
            // pass); a missing channel is silence.
            let spare = o.spare_capacity_mut();
            let Some(dst) = spare.get_mut(..len) else { return };
            // Plain zips of slices, so that the conversion vectorizes (a
            // chained iterator checks which half it is in per sample).
            let (head, tail) = dst.split_at_mut(src.len().min(len));
            for (d, s) in head.iter_mut().zip(src) {
                d.write(*s as f32);
            }
            for d in tail {
                d.write(0.0);
            }
            // SAFETY: the `len` elements after the current length were
            // reserved (blocks come in order and end at `frames`, the
            // capacity) and have just been written.
            unsafe { o.set_len(o.len() + len) };
        };
        g.render_span(pos, n, req.block_size, &input, &mut sink);
        pos += n;
        if let Some(p) = progress {
            p.store(pos as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Frames between two progress reports of an offline render.
const PROGRESS_FRAMES: usize = 16384;

/// `threads` checked: a whole number from 1 to [`crate::parallel::MAX_THREADS`].
pub fn check_threads(what: &str, threads: usize) -> Result<()> {
    let max = crate::parallel::MAX_THREADS;
    if threads == 0 || threads > max {
        return Err(EngineError::range(format!("{what}: threads = {threads} is out of range [1, {max}]")));
    }
    Ok(())
}

/// Each meter node's reading over the whole render, keyed by its name.
pub fn meter_readings(g: &mut crate::render::CompiledGraph) -> Vec<(String, MeterReading)> {
    g.meters()
        .to_vec()
        .into_iter()
        .filter_map(|(name, idx)| g.processor_mut(idx).and_then(|p| reading_of(p, true)).map(|r| (name, r)))
        .collect()
}

/// Output buffers of finished renders that their owner gave back
/// ([`recycle_output`]), for the next renders to write into.
///
/// A fresh output is fresh memory, which the kernel zeroes page by page
/// before the render writes it: in a 60 s stereo render (23 MB) of one
/// track through an 8-band EQ that zeroing took about a fifth of the time
/// under `perf` (`clear_page_erms`). A server that renders again and again
/// gets its previous outputs back once JavaScript has collected them (the
/// napi layer hands each output to JavaScript as external memory and gives
/// it back here from the finalizer), so its renders write into memory that
/// is already mapped. Bounded: at most [`POOL_MAX_BUFFERS`] buffers and
/// [`POOL_MAX_BYTES`] in all (a buffer that does not fit is freed), and
/// only buffers of at least [`POOL_MIN_BYTES`]. A render takes the smallest
/// buffer that holds its length, and none more than twice as large as
/// needed (so a short render does not pin a long one's memory).
/// `FERRITE_OUTPUT_POOL=0` turns recycling off.
static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// Most buffers [`POOL`] keeps.
pub const POOL_MAX_BUFFERS: usize = 16;
/// Most bytes [`POOL`] keeps (64 MiB: a few 60 s stereo outputs).
pub const POOL_MAX_BYTES: usize = 64 << 20;
/// Smallest buffer [`POOL`] keeps (1 MiB; smaller ones are cheap to map).
pub const POOL_MIN_BYTES: usize = 1 << 20;

fn pool_enabled() -> bool {
    std::env::var("FERRITE_OUTPUT_POOL").map_or(true, |v| v.trim() != "0")
}

fn bytes_of(v: &Vec<f32>) -> usize {
    v.capacity() * core::mem::size_of::<f32>()
}

/// Gives a render's output channel back when its owner is done with it
/// (see [`POOL`]): kept for a later render if it is large enough and the
/// pool has room, else freed. Its contents are never read again.
///
/// The caller must be done with the memory: nothing may read or write it
/// afterwards (the napi layer calls this from the finalizer of the
/// JavaScript array that owned it).
pub fn recycle_output(mut v: Vec<f32>) {
    if bytes_of(&v) < POOL_MIN_BYTES || !pool_enabled() {
        return;
    }
    v.clear();
    // A poisoned lock only means another thread panicked while holding it;
    // the list itself is always whole.
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let held: usize = pool.iter().map(bytes_of).sum();
    if pool.len() < POOL_MAX_BUFFERS && held + bytes_of(&v) <= POOL_MAX_BYTES {
        pool.push(v);
    }
}

/// An empty recycled buffer with room for `frames` samples (at most twice
/// that), the smallest there is; `None` if there is none.
fn take_recycled(frames: usize) -> Option<Vec<f32>> {
    if frames.saturating_mul(core::mem::size_of::<f32>()) < POOL_MIN_BYTES / 2 || !pool_enabled() {
        return None;
    }
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let best = pool
        .iter()
        .enumerate()
        .filter(|(_, v)| v.capacity() >= frames && v.capacity() / 2 <= frames)
        .min_by_key(|(_, v)| v.capacity())
        .map(|(i, _)| i)?;
    Some(pool.swap_remove(best))
}

/// How many buffers and bytes the pool holds (for tests and diagnostics).
pub fn recycled_outputs() -> (usize, usize) {
    let pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    (pool.len(), pool.iter().map(bytes_of).sum())
}

/// The page-aligned part of `v`'s reserved capacity, as `(address,
/// bytes)`, when it is long enough to be worth mapping ahead (1 MiB).
fn reserved_pages(v: &mut Vec<f32>) -> Option<(usize, usize)> {
    const PAGE: usize = 4096;
    let bytes = v.capacity() * core::mem::size_of::<f32>();
    if bytes < 256 * PAGE {
        return None;
    }
    let start = (v.as_mut_ptr() as usize).next_multiple_of(PAGE);
    let end = (v.as_mut_ptr() as usize + bytes) / PAGE * PAGE;
    (end > start).then_some((start, end - start))
}

/// Asks for transparent huge pages over `pages` (`MADV_HUGEPAGE`; where
/// THP is in `madvise` mode, the usual default), before anything touches
/// them: the 2 MB-aligned part of a long output then maps in 2 MB pages,
/// a 60 s stereo render's 23 MB in a dozen faults instead of about 5,600.
/// Changes no byte; an error (no THP, another system) leaves everything
/// as it was.
fn advise_huge(pages: (usize, usize)) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: the range lies inside a vector's own allocation (its
        // reserved capacity, see `reserved_pages`); MADV_HUGEPAGE only marks
        // it as eligible for huge pages and changes no byte.
        let _ = unsafe { libc::madvise(pages.0 as *mut libc::c_void, pages.1, libc::MADV_HUGEPAGE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = pages;
}

/// Bytes mapped per call of [`populate`], taking the channels in turn.
const POPULATE_CHUNK: usize = 2 << 20;

/// Maps `ranges` ahead of the render that writes them (Linux 5.14+
/// `MADV_POPULATE_WRITE`: what a write fault does, without one per page),
/// [`POPULATE_CHUNK`] of each range in turn, so that a render writing all
/// channels from their starts finds its pages mapped. Run on a thread of
/// its own beside the render: the kernel zeroing fresh pages then
/// overlaps the render instead of coming before it. A page the render
/// reaches first faults in as usual; the contents are never touched.
fn populate(ranges: &[(usize, usize)]) {
    #[cfg(target_os = "linux")]
    {
        let mut off = 0;
        while ranges.iter().any(|&(_, len)| off < len) {
            for &(start, len) in ranges.iter().filter(|&&(_, len)| off < len) {
                let n = POPULATE_CHUNK.min(len - off);
                // SAFETY: the chunk lies inside a vector's reserved capacity,
                // which outlives this call (the render joins this thread
                // before it returns or drops the vectors); the call only
                // maps pages, as a write fault would, and changes no byte.
                // An error (an older kernel) leaves everything as it was.
                let _ = unsafe { libc::madvise((start + off) as *mut libc::c_void, n, libc::MADV_POPULATE_WRITE) };
            }
            off += POPULATE_CHUNK;
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = ranges;
}
