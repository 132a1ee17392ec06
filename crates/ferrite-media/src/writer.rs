//! Streaming WAV and FLAC writers that never leave a partial file behind.
//!
//! An [`AudioFileWriter`] writes to a hidden temporary file in the
//! destination's directory (`.{file name}.{pid}-{n}.part`) and renames it over
//! the destination in [`AudioFileWriter::finish`], after flushing and syncing
//! it. Until then the destination is untouched (an earlier file under that
//! name stays whole); a writer dropped without `finish` removes its temporary
//! file. Memory use is constant whatever the length of the file.
//!
//! Formats, chosen by the destination's extension (case-insensitive):
//!
//! - `.wav` via `hound`: 16- and 24-bit PCM, 32-bit IEEE float. At most 4 GiB
//!   of sample data (the RIFF sizes are 32-bit); a write past that is refused.
//! - `.flac` via the pure-Rust `flacenc` crate (0.5): 16- and 24-bit, up to
//!   8 channels and 96 kHz (flacenc's limits). `flacenc` is used through its
//!   frame-level API (`encode_fixed_size_frame`), so frames are encoded and
//!   written one block (4096 frames) at a time; STREAMINFO (total samples,
//!   frame sizes, MD5 of the samples) is written as a placeholder first and
//!   rewritten in place by `finish`. flacenc's Rice parameters stop at 14,
//!   which loud, noisy 24-bit blocks need more than; a block it would code
//!   larger than its PCM is coded verbatim instead. It was chosen because it is maintained,
//!   has no C dependency, exposes that frame-level API and computes the MD5.
//!
//! Quantisation for the integer formats (the same rule as the engine's
//! `write_wav`): `x · 2^(bits-1)`, rounded to nearest (ties away from zero),
//! clipped to `[-2^(bits-1), 2^(bits-1) - 1]`, no dither; NaN becomes 0.
//! Float WAV stores the samples bit for bit.

use crate::error::{MediaError, Result};
use flacenc::bitsink::MemSink;
use flacenc::component::{BitRepr, Stream, StreamInfo};
use flacenc::error::{Verified, Verify};
use flacenc::source::{Context, Fill, FrameBuf};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Sample formats the writers accept: 16- and 24-bit integer, 32-bit float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitDepth {
    /// 16-bit PCM.
    Int16,
    /// 24-bit PCM.
    Int24,
    /// 32-bit IEEE float (WAV only).
    Float32,
}

impl BitDepth {
    /// From a bit count: 16, 24 or 32 (float). Anything else is a `RangeError`.
    ///
    /// ```
    /// use ferrite_media::BitDepth;
    /// assert_eq!(BitDepth::from_bits(24).unwrap(), BitDepth::Int24);
    /// assert!(BitDepth::from_bits(8).is_err());
    /// ```
    pub fn from_bits(bits: u32) -> Result<Self> {
        match bits {
            16 => Ok(Self::Int16),
            24 => Ok(Self::Int24),
            32 => Ok(Self::Float32),
            b => Err(MediaError::range(format!("bitDepth = {b} must be 16, 24 or 32 (float)"))),
        }
    }

    /// The bit count: 16, 24 or 32.
    pub fn bits(self) -> u32 {
        match self {
            Self::Int16 => 16,
            Self::Int24 => 24,
            Self::Float32 => 32,
        }
    }
}

/// The container a writer produces, from the destination's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// RIFF WAVE (`.wav`).
    Wav,
    /// FLAC (`.flac`).
    Flac,
}

impl FileFormat {
    /// The format for `path`'s extension (case-insensitive), or `None`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "wav" => Some(Self::Wav),
            "flac" => Some(Self::Flac),
            _ => None,
        }
    }
}

/// Quantises `x` to a signed integer of `bits` bits: scale by 2^(bits-1),
/// round to nearest, clip to full scale. NaN gives 0.
#[inline]
pub fn quantise(x: f32, bits: u32) -> i32 {
    let scale = (1u64 << (bits - 1)) as f64;
    (f64::from(x) * scale).round().clamp(-scale, scale - 1.0) as i32
}

/// The most sample bytes a WAV file may hold: its RIFF size field
/// (`file length - 8`, 32-bit) must also cover hound's header, at most 60
/// bytes after the first 8.
const MAX_WAV_DATA_BYTES: u64 = u32::MAX as u64 - 60;

/// The most frames a FLAC STREAMINFO can count (36 bits).
const MAX_FLAC_FRAMES: u64 = (1 << 36) - 1;

/// Bits per channel a FLAC frame may spend beyond its PCM before it is
/// re-coded verbatim (headers, side-channel bit, rounding).
const VERBATIM_OVERHEAD_BITS: usize = 64;

/// Frames per FLAC block.
const FLAC_BLOCK: usize = flacenc::constant::DEFAULT_BLOCK_SIZE;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A streaming WAV or FLAC file writer; see the [module docs](self).
///
/// ```
/// use ferrite_media::{AudioFileWriter, BitDepth, probe_file};
/// let dir = std::env::temp_dir().join(format!("ferrite-writer-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("tone.flac");
/// let mut w = AudioFileWriter::create(&path, 48000, 2, BitDepth::Int24).unwrap();
/// let l: Vec<f32> = (0..4800).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
/// let r: Vec<f32> = l.iter().map(|x| -x).collect();
/// w.write(&[&l, &r]).unwrap();
/// assert!(!path.exists()); // only the temporary file exists until finish
/// assert_eq!(w.finish().unwrap(), 4800);
/// assert_eq!(probe_file(&path).unwrap().frames, 4800);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct AudioFileWriter {
    path: PathBuf,
    temp: PathBuf,
    sample_rate: u32,
    channels: usize,
    depth: BitDepth,
    format: FileFormat,
    frames: u64,
    /// `None` once finished, or after an I/O error (the temporary file is then gone).
    enc: Option<Encoder>,
    /// The first I/O error, returned again by every later call.
    failed: Option<MediaError>,
}

impl std::fmt::Debug for AudioFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioFileWriter")
            .field("path", &self.path)
            .field("temp", &self.temp)
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("depth", &self.depth)
            .field("format", &self.format)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

enum Encoder {
    Wav(WavEnc),
    Flac(Box<FlacEnc>),
}

struct WavEnc {
    w: hound::WavWriter<BufWriter<File>>,
    /// A second handle on the temporary file, for `sync_all` once hound has finalised it.
    sync: File,
}

struct FlacEnc {
    out: BufWriter<File>,
    config: Verified<flacenc::config::Encoder>,
    /// Constant or verbatim subframes only: the fallback for blocks the predictors code badly.
    verbatim: Verified<flacenc::config::Encoder>,
    info: StreamInfo,
    md5: Context,
    fb: FrameBuf,
    /// Interleaved samples of the block being filled: `filled * channels` valid.
    block: Vec<i32>,
    filled: usize,
    frame_number: usize,
    sink: MemSink<u8>,
    min_frame_bytes: usize,
    max_frame_bytes: usize,
}

impl AudioFileWriter {
    /// Starts writing `path` (`.wav` or `.flac`). The directory must exist
    /// and be writable; nothing appears under `path` until [`finish`](Self::finish).
    ///
    /// Errors: an unknown extension, a missing or unwritable directory, a
    /// `path` that is a directory (file errors naming `path`); 0 channels or
    /// a sample rate of 0, FLAC with 32 bits, more than 8 channels or over
    /// 96 kHz (`RangeError`).
    pub fn create(path: &Path, sample_rate: u32, channels: usize, depth: BitDepth) -> Result<Self> {
        let format = FileFormat::from_path(path)
            .ok_or_else(|| MediaError::file(path, "cannot write this format: the extension must be .wav or .flac"))?;
        Self::create_as(path, format, sample_rate, channels, depth)
    }

    /// [`create`](Self::create) in `format` whatever `path`'s extension
    /// (the API's `writeWav` writes WAV under any name).
    ///
    /// A WAV header must hold the frame size and the byte rate: at most
    /// 65535 bytes a frame (`channels × bits / 8`: 32767 channels at 16
    /// bits, 21845 at 24, 16383 at 32) and 2^32 − 1 bytes a second (`sampleRate
    /// × frame bytes`); more is a `RangeError` before anything is written.
    pub fn create_as(
        path: &Path,
        format: FileFormat,
        sample_rate: u32,
        channels: usize,
        depth: BitDepth,
    ) -> Result<Self> {
        if sample_rate == 0 {
            return Err(MediaError::range(format!("{}: sampleRate = 0 must be positive", path.display())));
        }
        if channels == 0 {
            return Err(MediaError::range(format!("{}: 0 channels; need at least 1", path.display())));
        }
        match format {
            FileFormat::Wav if channels > usize::from(u16::MAX) => {
                return Err(MediaError::range(format!(
                    "{}: {channels} channels; WAV holds at most {}",
                    path.display(),
                    u16::MAX
                )))
            }
            FileFormat::Wav if channels * (depth.bits() as usize / 8) > usize::from(u16::MAX) => {
                let bytes = depth.bits() as usize / 8;
                return Err(MediaError::range(format!(
                    "{}: {channels} channels of {} bits make {}-byte frames; a WAV header holds at most {} bytes a frame ({} channels at {} bits)",
                    path.display(),
                    depth.bits(),
                    channels * bytes,
                    u16::MAX,
                    usize::from(u16::MAX) / bytes,
                    depth.bits()
                )));
            }
            FileFormat::Wav
                if u64::from(sample_rate) * (channels * (depth.bits() as usize / 8)) as u64 > u64::from(u32::MAX) =>
            {
                return Err(MediaError::range(format!(
                    "{}: sampleRate = {sample_rate} × {}-byte frames is more than a WAV header's {} bytes a second",
                    path.display(),
                    channels * (depth.bits() as usize / 8),
                    u32::MAX
                )))
            }
            FileFormat::Flac if depth == BitDepth::Float32 => {
                return Err(MediaError::range(format!(
                    "{}: FLAC is 16 or 24 bits; 32-bit float is WAV only",
                    path.display()
                )))
            }
            FileFormat::Flac if channels > flacenc::constant::MAX_CHANNELS => {
                return Err(MediaError::range(format!(
                    "{}: {channels} channels; FLAC holds at most {}",
                    path.display(),
                    flacenc::constant::MAX_CHANNELS
                )))
            }
            FileFormat::Flac if sample_rate > 96_000 => {
                return Err(MediaError::range(format!(
                    "{}: sampleRate = {sample_rate}; FLAC is written up to 96000 Hz (use WAV above that)",
                    path.display()
                )))
            }
            _ => {}
        }
        let name = path.file_name().ok_or_else(|| MediaError::file(path, "not a file name"))?;
        if path.is_dir() {
            return Err(MediaError::file(path, "is a directory"));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.exists() {
            return Err(MediaError::file(path, format!("the directory {} does not exist", dir.display())));
        }
        if !dir.is_dir() {
            return Err(MediaError::file(path, format!("{} is not a directory", dir.display())));
        }
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}-{n}.part", std::process::id()));
        let temp = dir.join(temp_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| MediaError::file(path, format!("cannot create a file in {}: {e}", dir.display())))?;
        let mut w = Self {
            path: path.to_path_buf(),
            temp,
            sample_rate,
            channels,
            depth,
            format,
            frames: 0,
            enc: None,
            failed: None,
        };
        // From here on, an error drops `w`, which removes the temporary file.
        w.enc = Some(match format {
            FileFormat::Wav => w.start_wav(file)?,
            FileFormat::Flac => w.start_flac(file)?,
        });
        Ok(w)
    }

    fn start_wav(&self, file: File) -> Result<Encoder> {
        let sync = file.try_clone().map_err(|e| self.io_error(e))?;
        let spec = hound::WavSpec {
            channels: self.channels as u16,
            sample_rate: self.sample_rate,
            bits_per_sample: self.depth.bits() as u16,
            sample_format: match self.depth {
                BitDepth::Float32 => hound::SampleFormat::Float,
                _ => hound::SampleFormat::Int,
            },
        };
        let w = hound::WavWriter::new(BufWriter::new(file), spec).map_err(|e| self.hound_error(e))?;
        Ok(Encoder::Wav(WavEnc { w, sync }))
    }

    fn start_flac(&self, file: File) -> Result<Encoder> {
        let bits = self.depth.bits() as usize;
        let bad = |e: flacenc::error::VerifyError| MediaError::range(format!("{}: {e}", self.path.display()));
        let mut info = StreamInfo::new(self.sample_rate as usize, self.channels, bits).map_err(bad)?;
        info.set_block_sizes(FLAC_BLOCK, FLAC_BLOCK).map_err(bad)?;
        let config = flacenc::config::Encoder::default().into_verified().map_err(|(_, e)| bad(e))?;
        let mut verbatim = flacenc::config::Encoder::default();
        verbatim.subframe_coding.use_fixed = false;
        verbatim.subframe_coding.use_lpc = false;
        let verbatim = verbatim.into_verified().map_err(|(_, e)| bad(e))?;
        let mut enc = FlacEnc {
            out: BufWriter::with_capacity(1 << 16, file),
            config,
            verbatim,
            info,
            md5: Context::new(bits, self.channels),
            fb: FrameBuf::with_size(self.channels, FLAC_BLOCK).map_err(bad)?,
            block: vec![0; FLAC_BLOCK * self.channels],
            filled: 0,
            frame_number: 0,
            sink: MemSink::with_capacity(FLAC_BLOCK * self.channels * bits + 1024),
            min_frame_bytes: 0,
            max_frame_bytes: 0,
        };
        // A placeholder STREAMINFO of the final size; `finish` rewrites it.
        enc.write_header().map_err(|e| self.io_error(e))?;
        Ok(Encoder::Flac(Box::new(enc)))
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file being written (removed or renamed to [`path`](Self::path) in the end).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Frames per second.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Channels per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The sample format.
    pub fn depth(&self) -> BitDepth {
        self.depth
    }

    /// The container.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends one chunk: one slice per channel, all the same length (any
    /// length, including 0).
    ///
    /// Errors: a channel count or length mismatch, or a WAV that would pass
    /// 4 GiB of data (`RangeError`; nothing of the chunk is written and the
    /// writer stays usable); an I/O error (a file error naming the path,
    /// after which the temporary file is removed and every call fails).
    pub fn write(&mut self, planar: &[&[f32]]) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if planar.len() != self.channels {
            return Err(MediaError::range(format!(
                "{}: a chunk of {} channels for a {}-channel file",
                self.path.display(),
                planar.len(),
                self.channels
            )));
        }
        let n = planar[0].len();
        if let Some((c, ch)) = planar.iter().enumerate().find(|(_, ch)| ch.len() != n) {
            return Err(MediaError::range(format!(
                "{}: channel {c} of a chunk has {} frames but channel 0 has {n}",
                self.path.display(),
                ch.len()
            )));
        }
        self.write_frames(planar, n)
    }

    /// [`write`](Self::write) of the first `n` frames of each channel of
    /// `planar`, which has `channels` entries each at least `n` long.
    pub(crate) fn write_frames<S: AsRef<[f32]>>(&mut self, planar: &[S], n: usize) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        debug_assert!(planar.len() == self.channels && planar.iter().all(|ch| ch.as_ref().len() >= n));
        let total = self.frames + n as u64;
        match self.format {
            FileFormat::Wav => {
                let frame_bytes = self.channels as u64 * u64::from(self.depth.bits() / 8);
                if total * frame_bytes > MAX_WAV_DATA_BYTES {
                    return Err(MediaError::range(format!(
                        "{}: a WAV file holds at most 4 GiB of samples ({} frames of {} channels at {} bits); \
                         this write would pass it (use FLAC, fewer channels or split the file)",
                        self.path.display(),
                        MAX_WAV_DATA_BYTES / frame_bytes,
                        self.channels,
                        self.depth.bits()
                    )));
                }
            }
            FileFormat::Flac => {
                if total > MAX_FLAC_FRAMES {
                    return Err(MediaError::range(format!(
                        "{}: a FLAC file counts at most {MAX_FLAC_FRAMES} frames; this write would pass it",
                        self.path.display()
                    )));
                }
            }
        }
        let result = match self.enc.as_mut() {
            Some(Encoder::Wav(e)) => write_wav(&mut e.w, planar, n, self.depth),
            Some(Encoder::Flac(e)) => e.write(planar, n).map_err(WriteError::Io),
            None => Err(WriteError::Io(std::io::Error::other("the writer is finished"))),
        };
        match result {
            Ok(()) => {
                self.frames = total;
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Completes the file: flushes, rewrites the header (WAV sizes, FLAC
    /// STREAMINFO), syncs the data to disk and renames the temporary file
    /// over the destination (atomically replacing an earlier file). Returns
    /// the frames written. On error the temporary file is removed and the
    /// destination is untouched.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let result = match self.enc.take() {
            Some(Encoder::Wav(e)) => {
                let WavEnc { w, sync } = e;
                w.finalize().map_err(WriteError::Hound).and_then(|()| sync.sync_all().map_err(WriteError::Io))
            }
            Some(Encoder::Flac(mut e)) => e.finish().map_err(WriteError::Io),
            None => Err(WriteError::Io(std::io::Error::other("the writer is finished"))),
        };
        if let Err(e) = result {
            return Err(self.fail(e));
        }
        if let Err(e) = std::fs::rename(&self.temp, &self.path) {
            return Err(self.fail(WriteError::Io(e)));
        }
        // The rename is durable once the directory is synced; not every
        // file system allows opening a directory, so this is best effort.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        // Renamed: nothing for Drop to remove.
        self.temp = PathBuf::new();
        Ok(self.frames)
    }

    /// Records `e` as the writer's failure, drops the encoder and removes
    /// the temporary file; returns the error.
    fn fail(&mut self, e: WriteError) -> MediaError {
        let err = match e {
            WriteError::Io(e) => self.io_error(e),
            WriteError::Hound(e) => self.hound_error(e),
        };
        self.enc = None;
        self.remove_temp();
        self.failed = Some(err.clone());
        err
    }

    fn remove_temp(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
            self.temp = PathBuf::new();
        }
    }

    fn io_error(&self, e: std::io::Error) -> MediaError {
        MediaError::file(&self.path, format!("cannot write: {e}"))
    }

    fn hound_error(&self, e: hound::Error) -> MediaError {
        match e {
            hound::Error::IoError(e) => self.io_error(e),
            e => MediaError::file(&self.path, format!("cannot write: {e}")),
        }
    }
}

impl Drop for AudioFileWriter {
    /// An unfinished writer removes its temporary file.
    fn drop(&mut self) {
        // Close the file before unlinking it (hound's own drop may still write its header).
        self.enc = None;
        self.remove_temp();
    }
}

enum WriteError {
    Io(std::io::Error),
    Hound(hound::Error),
}

fn write_wav<S: AsRef<[f32]>>(
    w: &mut hound::WavWriter<BufWriter<File>>,
    planar: &[S],
    n: usize,
    depth: BitDepth,
) -> Result<(), WriteError> {
    let h = WriteError::Hound;
    match depth {
        BitDepth::Float32 => {
            for i in 0..n {
                for ch in planar {
                    w.write_sample(ch.as_ref()[i]).map_err(h)?;
                }
            }
        }
        BitDepth::Int16 => {
            for i in 0..n {
                for ch in planar {
                    w.write_sample(quantise(ch.as_ref()[i], 16) as i16).map_err(h)?;
                }
            }
        }
        BitDepth::Int24 => {
            for i in 0..n {
                for ch in planar {
                    w.write_sample(quantise(ch.as_ref()[i], 24)).map_err(h)?;
                }
            }
        }
    }
    Ok(())
}

/// A flacenc error (its error types are not `Send`) as an I/O error.
fn encoder_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("FLAC encoder: {e}"))
}

impl FlacEnc {
    fn bits(&self) -> u32 {
        self.info.bits_per_sample() as u32
    }

    fn channels(&self) -> usize {
        self.info.channels()
    }

    fn write<S: AsRef<[f32]>>(&mut self, planar: &[S], n: usize) -> std::io::Result<()> {
        let (bits, channels) = (self.bits(), self.channels());
        let mut i = 0;
        while i < n {
            let take = (FLAC_BLOCK - self.filled).min(n - i);
            for (c, ch) in planar.iter().enumerate() {
                for (k, &x) in ch.as_ref()[i..i + take].iter().enumerate() {
                    self.block[(self.filled + k) * channels + c] = quantise(x, bits);
                }
            }
            self.filled += take;
            i += take;
            if self.filled == FLAC_BLOCK {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    /// Encodes and writes the `filled` frames of `block` as one FLAC frame.
    fn flush_block(&mut self) -> std::io::Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let samples = &self.block[..self.filled * self.channels()];
        self.fb.fill_interleaved(samples).map_err(encoder_error)?;
        self.md5.fill_interleaved(samples).map_err(encoder_error)?;
        let mut frame = flacenc::encode_fixed_size_frame(&self.config, &self.fb, self.frame_number, &self.info)
            .map_err(encoder_error)?;
        // flacenc's Rice parameters stop at 14, so loud noisy 24-bit blocks
        // can code far larger than their samples; such a block is coded
        // verbatim instead (a frame is then never much larger than its PCM).
        let pcm_bits = samples.len() * self.info.bits_per_sample();
        if frame.count_bits() > pcm_bits + VERBATIM_OVERHEAD_BITS * self.channels() {
            frame = flacenc::encode_fixed_size_frame(&self.verbatim, &self.fb, self.frame_number, &self.info)
                .map_err(encoder_error)?;
        }
        self.sink.clear();
        frame.write(&mut self.sink).map_err(encoder_error)?;
        let bytes = self.sink.as_slice();
        self.out.write_all(bytes)?;
        let len = bytes.len();
        if self.frame_number == 0 {
            (self.min_frame_bytes, self.max_frame_bytes) = (len, len);
        } else {
            self.min_frame_bytes = self.min_frame_bytes.min(len);
            self.max_frame_bytes = self.max_frame_bytes.max(len);
        }
        self.frame_number += 1;
        self.filled = 0;
        Ok(())
    }

    /// `fLaC` and the STREAMINFO block (the only metadata block), from `info`.
    fn write_header(&mut self) -> std::io::Result<()> {
        let stream = Stream::with_stream_info(self.info.clone());
        self.sink.clear();
        stream.write(&mut self.sink).map_err(encoder_error)?;
        self.out.write_all(self.sink.as_slice())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.flush_block()?;
        self.info.set_total_samples(self.md5.total_samples());
        self.info.set_md5_digest(&self.md5.md5_digest());
        self.info.set_frame_sizes(self.min_frame_bytes, self.max_frame_bytes).map_err(encoder_error)?;
        self.out.seek(SeekFrom::Start(0))?;
        self.write_header()?;
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantisation_rounds_and_clips() {
        assert_eq!(quantise(0.5 / 32768.0, 16), 1);
        assert_eq!(quantise(-0.5 / 32768.0, 16), -1);
        assert_eq!(quantise(1.0, 16), 32767);
        assert_eq!(quantise(-1.0, 16), -32768);
        assert_eq!(quantise(-2.0, 24), -8_388_608);
        assert_eq!(quantise(f32::NAN, 24), 0);
        assert_eq!(quantise(f32::INFINITY, 24), 8_388_607);
    }

    #[test]
    fn a_wav_past_4_gib_is_refused_before_writing() {
        let dir = std::env::temp_dir().join(format!("ferrite-writer-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("big.wav");
        let mut w = AudioFileWriter::create(&p, 48000, 2, BitDepth::Float32).unwrap();
        let x = [0.25f32; 16];
        w.write(&[&x, &x]).unwrap();
        // As if the file already held all but 1 frame of the limit (hound's own
        // counter is not consulted: the check is on our frame count).
        let limit = MAX_WAV_DATA_BYTES / 8;
        w.frames = limit - 1;
        let e = w.write(&[&x[..2], &x[..2]]).unwrap_err();
        assert_eq!(e.kind, crate::MediaErrorKind::Range);
        assert!(e.message.contains("4 GiB") && e.message.contains("big.wav"), "{e}");
        w.write(&[&x[..1], &x[..1]]).unwrap();
        assert_eq!(w.frames(), limit);
        drop(w);
        assert!(!p.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
