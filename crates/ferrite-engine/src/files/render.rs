//! `renderToFile`: an offline render streamed to a WAV or FLAC file through
//! a writer thread, in constant memory, with its input from a buffer or
//! streamed (and resampled) from a file.

use crate::compile::{compile, RenderSettings};
use crate::desc::GraphDesc;
use crate::error::{EngineError, Result};
use crate::meter::MeterReading;
use crate::nodes::SideBuffers;
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
    /// file block, so that [`Feed::sample`] can serve them.
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

    /// Input sample of render channel `c` at chunk offset `i` (absolute frame `pos`).
    fn sample(&self, c: usize, i: usize, pos: usize) -> f64 {
        match self {
            Feed::None => 0.0,
            Feed::Buffers(b) => {
                let src = b.get(if b.len() == 1 { 0 } else { c });
                src.and_then(|s| s.get(pos)).map_or(0.0, |&x| f64::from(x))
            }
            Feed::File { block, .. } => {
                let n = block.len().max(1);
                block.get(c % n).and_then(|s| s.get(i)).map_or(0.0, |&x| f64::from(x))
            }
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
    let mut compiled = compile(desc, settings, buffers)?;
    super::prepare_offline(&mut compiled.graph);
    let writer = AudioFileWriter::create(&req.path, rate, req.channels, req.depth)?;
    let mut sink = FileSink::spawn(writer, QUEUE)?;
    let g = &mut compiled.graph;
    let total = req.frames as usize;
    let mut pos = 0usize;
    while pos < total {
        if cancel.load(Ordering::Relaxed) {
            sink.abort();
            return Err(EngineError::other(format!("renderToFile: {}: the render was aborted", req.path.display())));
        }
        if let Some(e) = super::stream_failure(g) {
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
        let mut off = 0;
        while off < chunk {
            let n = req.block_size.min(chunk - off);
            if g.uses_input() {
                for c in 0..req.channels {
                    let dst = g.input_mut(c);
                    for (i, d) in dst.iter_mut().take(n).enumerate() {
                        *d = feed.sample(c, off + i, pos + off + i);
                    }
                }
            }
            g.render_block((pos + off) as u64, n, &mut compiled.lanes);
            for (c, o) in out.iter_mut().enumerate() {
                let src = g.output(c, n);
                let dst = &mut o[off..off + n];
                for (d, s) in dst.iter_mut().zip(src.iter().chain(std::iter::repeat(&0.0))) {
                    *d = *s as f32;
                }
            }
            off += n;
        }
        sink.send(out, chunk)?;
        pos += chunk;
        progress.store(pos as u64, Ordering::Relaxed);
    }
    if let Some(e) = super::stream_failure(g) {
        sink.abort();
        return Err(EngineError::other(format!("renderToFile: {e}")));
    }
    let frames = sink.finish()?;
    Ok(FileRenderResult { frames, latency: g.latency(), meters: crate::offline::meter_readings(g) })
}

/// The default bit depth of a file render (24).
pub fn default_depth() -> BitDepth {
    BitDepth::Int24
}

/// `true` when `path`'s extension is one `renderToFile` writes.
pub fn writable(path: &Path) -> bool {
    ferrite_media::FileFormat::from_path(path).is_some()
}
