//! The offline renderer: the same compiled graph and render core as the
//! real-time engine, driven as fast as possible on the caller's thread (the
//! napi layer runs it on a worker, never on the JavaScript thread).

use crate::compile::{compile, RenderSettings};
use crate::desc::GraphDesc;
use crate::error::{EngineError, Result};
use crate::meter::{reading_of, MeterReading};
use crate::nodes::SideBuffers;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

/// Renders `desc` offline. `progress`, when given, receives the frames done so far.
pub fn render_offline(
    desc: &GraphDesc,
    buffers: &SideBuffers,
    req: &OfflineRequest,
    progress: Option<&AtomicU64>,
) -> Result<OfflineResult> {
    let settings = RenderSettings { sample_rate: req.sample_rate, channels: req.channels, max_block: req.block_size };
    settings.validate()?;
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
    let mut compiled = compile(desc, settings, buffers)?;
    let frames = req.frames as usize;
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(req.channels);
    for _ in 0..req.channels {
        let mut v = Vec::new();
        v.try_reserve_exact(frames)
            .map_err(|_| EngineError::range(format!("renderOffline: frames = {frames} does not fit in memory")))?;
        prefault(&mut v);
        out.push(v);
    }
    let g = &mut compiled.graph;
    let mut pos = 0usize;
    while pos < frames {
        let n = req.block_size.min(frames - pos);
        if g.uses_input() {
            for c in 0..req.channels {
                let src = req.input.get(if n_in == 1 { 0 } else { c });
                let dst = g.input_mut(c);
                for (i, d) in dst.iter_mut().take(n).enumerate() {
                    *d = src.and_then(|s| s.get(pos + i)).map_or(0.0, |&x| f64::from(x));
                }
            }
        }
        g.render_block(pos as u64, n, &mut compiled.lanes);
        for (c, o) in out.iter_mut().enumerate() {
            let src = g.output(c, n);
            // Converted straight into the reserved space (one vectorized pass);
            // a missing channel is silence.
            let spare = o.spare_capacity_mut();
            let Some(dst) = spare.get_mut(..n) else { continue };
            let m = src.len().min(n);
            for (d, s) in dst.iter_mut().zip(src.get(..m).unwrap_or(&[])) {
                d.write(*s as f32);
            }
            for d in dst.iter_mut().skip(m) {
                d.write(0.0);
            }
            // SAFETY: the `n` elements after the current length were reserved
            // (capacity `frames >= pos + n`) and have just been written.
            unsafe { o.set_len(o.len() + n) };
        }
        pos += n;
        if let Some(p) = progress {
            p.store(pos as u64, Ordering::Relaxed);
        }
    }
    let meters = g
        .meters()
        .to_vec()
        .into_iter()
        .filter_map(|(name, idx)| g.processor_mut(idx).and_then(|p| reading_of(p, true)).map(|r| (name, r)))
        .collect();
    Ok(OfflineResult { channels: out, latency: g.latency(), meters })
}

/// Maps the reserved pages of a long output in one call (Linux 5.14+
/// `MADV_POPULATE_WRITE`) instead of one page fault per 4 KiB while the
/// render writes it: about 8% of a 60 s one-track render went to fault
/// handling. Before that it asks for transparent huge pages
/// (`MADV_HUGEPAGE`; where THP is in `madvise` mode, the usual default), so
/// the 2 MB-aligned part of the output maps in 2 MB pages: a 60 s stereo
/// render's 23 MB in a dozen pages instead of about 5,600, which took an
/// empty 60 s render from 12.3 to 7.7 ms and the 1-track EQ from 36.5 to
/// 32.5 ms (medians of alternating runs). The contents are not touched;
/// elsewhere, or when the kernel refuses, the pages fault in as usual.
fn prefault(v: &mut Vec<f32>) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let bytes = v.capacity() * core::mem::size_of::<f32>();
        if bytes < 256 * PAGE {
            return;
        }
        let start = (v.as_mut_ptr() as usize).next_multiple_of(PAGE);
        let end = (v.as_mut_ptr() as usize + bytes) / PAGE * PAGE;
        if end > start {
            let (addr, len) = (start as *mut libc::c_void, end - start);
            // SAFETY: [start, end) lies inside the vector's own allocation
            // (its reserved capacity); MADV_HUGEPAGE only marks that range
            // as eligible for huge pages and changes no byte. An error (no
            // THP) leaves everything as it was.
            let _ = unsafe { libc::madvise(addr, len, libc::MADV_HUGEPAGE) };
            // SAFETY: the same range; MADV_POPULATE_WRITE only maps those
            // pages, as a write fault would, and changes no byte. An error
            // (an older kernel) leaves everything as it was.
            let _ = unsafe { libc::madvise(addr, len, libc::MADV_POPULATE_WRITE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}
