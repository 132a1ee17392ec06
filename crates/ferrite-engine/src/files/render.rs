//! `renderToFile`: an offline render streamed to a WAV or FLAC file through
//! a writer thread, in constant memory, with its input from a buffer or
//! streamed (and resampled) from a file.

use crate::compile::RenderSettings;
use crate::desc::GraphDesc;
use crate::error::{EngineError, Result};
use crate::meter::MeterReading;
use crate::nodes::SideBuffers;
use crate::parallel::OfflineGraph;
use ferrite_media::{AudioFileWriter, BitDepth, FileSink, ResampledReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Frames per chunk handed to the writer thread.
const CHUNK: usize = 16384;

/// Chunks queued for the writer at most (bounds memory: a few MB).
const QUEUE: usize = 8;

/// What feeds the graph's `input` node.
#[derive(Debug, Clone, Default)]
pub enum RenderInput {
    /// Silence.
    #[default]
    None,
    /// Planar buffers: 1 channel (fed to every channel) or the render's channels.
    Buffers(Vec<Vec<f32>>),
    /// A file, streamed and resampled to the render's rate; render channel
    /// `c` takes file channel `c mod n`, silence after its end.
    File(PathBuf),
}

/// A render to a file.
#[derive(Debug, Clone)]
pub struct FileRenderRequest {
    /// The file to write (`.wav` or `.flac`).
    pub path: PathBuf,
    /// Frames per second.
    pub sample_rate: f64,
    /// Frames to render.
    pub frames: u64,
    /// Output channels.
    pub channels: usize,
    /// Frames per block (does not change the result).
    pub block_size: usize,
    /// Sample format of the file.
    pub depth: BitDepth,
    /// What feeds the graph's input.
    pub input: RenderInput,
    /// Threads that render (1: the render's own; more: with the shared
    /// pool, see [`crate::parallel`]); the samples are the same for any count.
    pub threads: usize,
}

/// What a render to a file returns.
#[derive(Debug, Clone)]
pub struct FileRenderResult {
    /// Frames written.
    pub frames: u64,
    /// Latency reported to the output, in frames.
    pub latency: usize,
    /// One reading per meter node, keyed by name.
    pub meters: Vec<(String, MeterReading)>,
}

/// The input as a source of blocks.
enum Feed {
    None,
    Buffers(Vec<Vec<f32>>),
    /// `read`: frames of the (resampled) file read so far.
    File {
        reader: Box<ResampledReader>,
        block: Vec<Vec<f32>>,
        ended: bool,
        read: u64,
        path: PathBuf,
    },
}

impl Feed {
    fn open(input: &RenderInput, sample_rate: u32, channels: usize) -> Result<Self> {
        Ok(match input {
            RenderInput::None => Feed::None,
            RenderInput::Buffers(b) => {
                if b.len() > 1 && b.len() != channels {
                    return Err(EngineError::range(format!(
                        "renderToFile: input has {} channels; it must have 1 or {channels} (the render's channels)",
                        b.len()
                    )));
                }
                crate::nodes::check_finite("renderToFile", "input", b, 0)?;
                Feed::Buffers(b.clone())
            }
            RenderInput::File(p) => {
                let reader = Box::new(ResampledReader::open(p, Some(sample_rate))?);
                let n = reader.channels();
                Feed::File { reader, block: vec![vec![0.0; CHUNK]; n], ended: false, read: 0, path: p.clone() }
            }
        })
    }

    /// Reads the input for frames `pos..pos + n` (`n <= CHUNK`) into the
    /// file block, so that [`Feed::view`] can serve them.
    fn load(&mut self, n: usize) -> Result<()> {
        if let Feed::File { reader, block, ended, read, path } = self {
            let mut got = 0;
            if !*ended {
                let mut views: Vec<&mut [f32]> = block.iter_mut().map(|c| &mut c[..n]).collect();
                got = reader.read(&mut views)?;
                *ended = got < n;
                // The same rule as buffers: a NaN or infinite sample in the
                // file (a float WAV can hold them) is refused, not rendered.
                let what = format!("input {}", path.display());
                let chans: Vec<&[f32]> = block.iter().map(|c| &c[..got]).collect();
                crate::nodes::check_finite("renderToFile", &what, &chans, *read)?;
                *read += got as u64;
            }
            for c in block.iter_mut() {
                c[got..n].fill(0.0);
            }
        }
        Ok(())
    }

    /// What the render reads its input from for the chunk loaded last,
    /// which starts at frame `pos`.
    fn view(&self, pos: usize) -> FeedView<'_> {
        match self {
            Feed::None => FeedView::None,
            Feed::Buffers(b) => FeedView::Buffers(b),
            Feed::File { block, .. } => FeedView::Chunk(block, pos),
        }
    }
}

/// The input of one chunk, readable from any render thread.
enum FeedView<'a> {
    None,
    Buffers(&'a [Vec<f32>]),
    /// The file's chunk and the frame it starts at.
    Chunk(&'a [Vec<f32>], usize),
}

impl FeedView<'_> {
    /// Render channel `c`'s input from absolute frame `at` into `dst`.
    fn fill(&self, c: usize, at: usize, dst: &mut [f64]) {
        let (src, from) = match *self {
            FeedView::None => (None, 0),
            FeedView::Buffers(b) => (b.get(if b.len() == 1 { 0 } else { c }), at),
            FeedView::Chunk(block, pos) => (block.get(c % block.len().max(1)), at.saturating_sub(pos)),
        };
        for (i, d) in dst.iter_mut().enumerate() {
            *d = src.and_then(|s| s.get(from + i)).map_or(0.0, |&x| f64::from(x));
        }
    }
}

/// Renders `desc` into `req.path`, written under a temporary name and
/// renamed when complete. `progress` receives the frames done; setting
/// `cancel` stops the render, removes the partial file and returns an error.
pub fn render_to_file(
    desc: &GraphDesc,
    buffers: &SideBuffers,
    req: &FileRenderRequest,
    progress: &AtomicU64,
    cancel: &AtomicBool,
) -> Result<FileRenderResult> {
    let settings = RenderSettings { sample_rate: req.sample_rate, channels: req.channels, max_block: req.block_size };
    settings.validate()?;
    if req.sample_rate.fract() != 0.0 {
        return Err(EngineError::range(format!(
            "renderToFile: sampleRate = {} must be a whole number of Hz to be written to a file",
            req.sample_rate
        )));
    }
    let rate = req.sample_rate as u32;
    let mut feed = Feed::open(&req.input, rate, req.channels)?;
    crate::offline::check_threads("renderToFile", req.threads)?;
    let mut g = OfflineGraph::compile(desc, settings, buffers, req.threads)?;
    g.prepare_offline();
    let writer = AudioFileWriter::create(&req.path, rate, req.channels, req.depth).map_err(named)?;
    let mut sink = FileSink::spawn(writer, QUEUE).map_err(named)?;
    let total = req.frames as usize;
    let mut pos = 0usize;
    while pos < total {
        if cancel.load(Ordering::Relaxed) {
            sink.abort();
            return Err(EngineError::other(format!("renderToFile: {}: the render was aborted", req.path.display())));
        }
        if let Some(e) = g.stream_failure() {
            sink.abort();
            return Err(EngineError::other(format!("renderToFile: {e}")));
        }
        let chunk = CHUNK.min(total - pos);
        feed.load(chunk)?;
        let mut out = sink.buffer();
        out.resize_with(req.channels, Vec::new);
        for c in out.iter_mut() {
            c.resize(chunk.max(c.len()), 0.0);
        }
        let view = feed.view(pos);
        let input = |c: usize, at: usize, dst: &mut [f64]| view.fill(c, at, dst);
        let mut write = |c: usize, off: usize, n: usize, src: &[f64]| {
            let Some(dst) = out.get_mut(c).and_then(|o| o.get_mut(off..off + n)) else { return };
            // Plain zips of slices, so that the conversion vectorizes.
            let (head, tail) = dst.split_at_mut(src.len().min(n));
            for (d, s) in head.iter_mut().zip(src) {
                *d = *s as f32;
            }
            tail.fill(0.0);
        };
        g.render_span(pos, chunk, req.block_size, &input, &mut write);
        sink.send(out, chunk).map_err(named)?;
        pos += chunk;
        progress.store(pos as u64, Ordering::Relaxed);
    }
    if let Some(e) = g.stream_failure() {
        sink.abort();
        return Err(EngineError::other(format!("renderToFile: {e}")));
    }
    let frames = sink.finish().map_err(named)?;
    Ok(FileRenderResult { frames, latency: g.latency(), meters: g.meter_readings() })
}

/// A writer's error (which names the file) as `renderToFile`'s.
fn named(e: ferrite_media::MediaError) -> EngineError {
    let e = EngineError::from(e);
    EngineError { message: format!("renderToFile: {}", e.message), ..e }
}

/// The default bit depth of a file render (24).
pub fn default_depth() -> BitDepth {
    BitDepth::Int24
}

/// `true` when `path`'s extension is one `renderToFile` writes.
pub fn writable(path: &Path) -> bool {
    ferrite_media::FileFormat::from_path(path).is_some()
}
