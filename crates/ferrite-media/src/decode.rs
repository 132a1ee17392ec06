//! Decoding: [`Decoder`] streams a file's frames in order from any position
//! (planar `f32`, the file's own rate and channels); [`decode_file`] reads a
//! slice of a file whole, converted to the channels and rate asked for.
//!
//! Lossy files are read gapless: the encoder's delay and padding are
//! removed (symphonia's gapless mode, from the LAME/Xing tag, the MP4 edit
//! list or iTunSMPB, Vorbis granule positions), so frame `k` of the decoded
//! stream is frame `k` of what was encoded.
//!
//! A damaged packet is skipped (its frames are lost, as every player does);
//! a file that ends early ends the stream at its last whole packet.

use crate::error::{MediaError, Result};
use crate::probe::{open_container, shielded, symphonia_reason, AudioFileInfo, Opened};
use crate::resample::StreamResampler;
use std::path::Path;
use symphonia::core::audio::{AudioBuffer, AudioBufferRef, Signal, SignalSpec};
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatReader, SeekMode, SeekTo};

/// Frames decoded before a seek target in a lossy file.
const LOSSY_PREROLL: u64 = 8192;

/// Consecutive damaged packets after which a file is taken as unreadable.
const MAX_BAD_PACKETS: usize = 64;

/// A sample type [`Decoder`] reads into: `f32` (copied) or `f64` (widened).
trait Widened: Copy + Default {
    fn copy(dst: &mut [Self], src: &[f32]);
}

impl Widened for f32 {
    #[inline]
    fn copy(dst: &mut [f32], src: &[f32]) {
        dst.copy_from_slice(src);
    }
}

impl Widened for f64 {
    #[inline]
    fn copy(dst: &mut [f64], src: &[f32]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = f64::from(s);
        }
    }
}

/// Streams a file's decoded frames.
///
/// ```no_run
/// let mut d = ferrite_media::Decoder::open(std::path::Path::new("in.mp3")).unwrap();
/// let n = d.info().channels;
/// let mut block: Vec<Vec<f32>> = vec![vec![0.0; 4096]; n];
/// loop {
///     let mut views: Vec<&mut [f32]> = block.iter_mut().map(|c| &mut c[..]).collect();
///     let got = d.read(&mut views).unwrap();
///     if got == 0 { break }
///     // ... use block[c][..got]
/// }
/// ```
pub struct Decoder {
    info: AudioFileInfo,
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track_id: u32,
    /// The last packet's frames, converted; `pending_at..pending_len` not yet delivered.
    pending: Option<AudioBuffer<f32>>,
    pending_at: usize,
    pending_len: usize,
    /// Frames of the decoded stream still to drop before delivering (after a seek).
    skip: u64,
    /// After a seek: the frame asked for, until the first packet shows where the reader landed.
    seek_target: Option<u64>,
    /// Stream frame of the next frame `read` delivers.
    position: u64,
    /// Decoded frames before the file's first frame (priming an edit list removes).
    lead: u64,
    ended: bool,
    /// Interleaved PCM read straight from the packets (see [`Pcm`]).
    pcm: Option<(Pcm, SignalSpec)>,
}

/// The PCM layouts read without symphonia's PCM decoder: the packet bytes
/// are interleaved frames, converted to planar f32 in one pass instead of
/// the decoder's generic per-sample path. The values are the decoder's: an integer sample over 2^(bits−1), a float
/// sample as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pcm {
    S16Le,
    S24Le,
    S32Le,
    F32Le,
    S16Be,
    S24Be,
}

impl Pcm {
    fn of(params: &symphonia::core::codecs::CodecParameters) -> Option<Self> {
        use symphonia::core::codecs as c;
        let kind = match params.codec {
            c::CODEC_TYPE_PCM_S16LE => Pcm::S16Le,
            c::CODEC_TYPE_PCM_S24LE => Pcm::S24Le,
            c::CODEC_TYPE_PCM_S32LE => Pcm::S32Le,
            c::CODEC_TYPE_PCM_F32LE => Pcm::F32Le,
            c::CODEC_TYPE_PCM_S16BE => Pcm::S16Be,
            c::CODEC_TYPE_PCM_S24BE => Pcm::S24Be,
            _ => return None,
        };
        // The sample width must be the codec's own (no 20-bit-in-24 packing).
        let bits = params.bits_per_coded_sample.or(params.bits_per_sample)?;
        let want = match kind {
            Pcm::S16Le | Pcm::S16Be => 16,
            Pcm::S24Le | Pcm::S24Be => 24,
            Pcm::S32Le | Pcm::F32Le => 32,
        };
        let channels = params.channels?.count();
        (bits == want && channels > 0 && std::env::var_os("FERRITE_NO_FAST_PCM").is_none()).then_some(kind)
    }

    fn bytes(self) -> usize {
        match self {
            Pcm::S16Le | Pcm::S16Be => 2,
            Pcm::S24Le | Pcm::S24Be => 3,
            Pcm::S32Le | Pcm::F32Le => 4,
        }
    }

    /// Converts `data` (whole interleaved frames of `channels`) into the
    /// first frames of `planes`.
    fn convert(self, data: &[u8], channels: usize, planes: &mut [&mut [f32]]) {
        match self {
            Pcm::S16Le => {
                deinterleave(data, channels, planes, |[a, b]| f32::from(i16::from_le_bytes([a, b])) / 32768.0)
            }
            Pcm::S16Be => {
                deinterleave(data, channels, planes, |[a, b]| f32::from(i16::from_be_bytes([a, b])) / 32768.0)
            }
            Pcm::S24Le => deinterleave(data, channels, planes, |[a, b, c]| {
                (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 / 8_388_608.0
            }),
            Pcm::S24Be => deinterleave(data, channels, planes, |[a, b, c]| {
                (i32::from_be_bytes([a, b, c, 0]) >> 8) as f32 / 8_388_608.0
            }),
            Pcm::S32Le => {
                deinterleave(data, channels, planes, |s| (f64::from(i32::from_le_bytes(s)) / 2_147_483_648.0) as f32)
            }
            Pcm::F32Le => deinterleave(data, channels, planes, f32::from_le_bytes),
        }
    }
}

/// Splits interleaved `B`-byte samples of `channels` channels into
/// `planes`, converting each with `f`. Stereo, the common case, is one
/// pass writing both planes.
#[inline(always)]
fn deinterleave<const B: usize>(data: &[u8], channels: usize, planes: &mut [&mut [f32]], f: impl Fn([u8; B]) -> f32) {
    let sample = |s: &[u8]| s.first_chunk::<B>().map_or(0.0, |b| f(*b));
    if let ([l, r], 2) = (&mut *planes, channels) {
        for ((dl, dr), frame) in l.iter_mut().zip(r.iter_mut()).zip(data.chunks_exact(2 * B)) {
            let (a, b) = frame.split_at(B);
            *dl = sample(a);
            *dr = sample(b);
        }
        return;
    }
    for (c, plane) in planes.iter_mut().enumerate().take(channels) {
        for (d, frame) in plane.iter_mut().zip(data.chunks_exact(B * channels)) {
            *d = sample(frame.get(c * B..).unwrap_or(&[]));
        }
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("info", &self.info).field("position", &self.position).finish()
    }
}

impl Decoder {
    /// Opens `path` and prepares to decode from its first frame.
    pub fn open(path: &Path) -> Result<Self> {
        let Opened { info, reader, track_id, params, lead } = open_container(path)?;
        let pcm = Pcm::of(&params);
        let pcm = pcm.and_then(|kind| Some((kind, SignalSpec::new(params.sample_rate?, params.channels?))));
        let decoder = shielded(path, || {
            symphonia::default::get_codecs()
                .make(&params, &DecoderOptions::default())
                .map_err(|e| MediaError::file(path, format!("cannot decode {} ({})", info.codec, symphonia_reason(&e))))
        })?;
        Ok(Self {
            info,
            reader,
            decoder,
            track_id,
            pending: None,
            pending_at: 0,
            pending_len: 0,
            skip: lead,
            seek_target: None,
            position: 0,
            lead,
            ended: false,
            pcm,
        })
    }

    /// What the file holds.
    pub fn info(&self) -> &AudioFileInfo {
        &self.info
    }

    /// The stream frame the next [`read`](Self::read) starts at.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Fills `out` (one slice per file channel, all the same length; extra
    /// slices are zeroed, missing ones dropped) with the next frames.
    /// Returns the frames written: the slices' length, or fewer only at the
    /// end of the file (0 once it has ended).
    pub fn read(&mut self, out: &mut [&mut [f32]]) -> Result<usize> {
        self.read_as(out)
    }

    /// [`Self::read`] widened to `f64` on the way (exactly: every `f32` is
    /// an `f64`), for a reader that measures or processes in `f64`: one pass
    /// over the samples fewer than reading `f32` and widening.
    pub fn read_f64(&mut self, out: &mut [&mut [f64]]) -> Result<usize> {
        self.read_as(out)
    }

    fn read_as<T: Widened>(&mut self, out: &mut [&mut [T]]) -> Result<usize> {
        let path = self.info.path.clone();
        let r = shielded(&path, || self.read_unshielded(out));
        if r.is_err() {
            // After a decoder's panic its state is unknown: the stream ends here.
            self.pending = None;
            self.pending_len = 0;
            self.ended = true;
        }
        r
    }

    fn read_unshielded<T: Widened>(&mut self, out: &mut [&mut [T]]) -> Result<usize> {
        let mut want = out.iter().map(|c| c.len()).min().unwrap_or(0);
        if self.lead > 0 || self.info.format == "mp4" {
            // An edit list gives the length; the stream's padding lies past it.
            want = want.min(self.info.frames.saturating_sub(self.position) as usize);
        }
        let mut done = 0;
        while done < want {
            if self.pending_at >= self.pending_len && !self.next_packet()? {
                break;
            }
            let Some(buf) = &self.pending else { break };
            let n = (self.pending_len - self.pending_at).min(want - done);
            let planes = buf.planes();
            let src = planes.planes();
            for (c, dst) in out.iter_mut().enumerate() {
                let dst = &mut dst[done..done + n];
                match src.get(c) {
                    Some(s) => T::copy(dst, &s[self.pending_at..self.pending_at + n]),
                    None => dst.fill(T::default()),
                }
            }
            self.pending_at += n;
            done += n;
        }
        self.position += done as u64;
        Ok(done)
    }

    /// Moves to stream frame `frame` (past the end: the stream is at its end).
    /// The next [`read`](Self::read) starts exactly there.
    pub fn seek(&mut self, frame: u64) -> Result<()> {
        let path = self.info.path.clone();
        shielded(&path, || self.seek_unshielded(frame))
    }

    fn seek_unshielded(&mut self, frame: u64) -> Result<()> {
        self.pending = None;
        self.pending_at = 0;
        self.pending_len = 0;
        self.ended = false;
        self.skip = 0;
        if frame >= self.info.frames && self.info.frames > 0 {
            self.position = frame;
            self.ended = true;
            return Ok(());
        }
        // Lossy decoders need a few packets of history (MP3's bit
        // reservoir, overlapped transforms) before their output is exact:
        // land earlier and decode up to the frame.
        let preroll = match self.info.codec.as_str() {
            "pcm" | "flac" | "alac" => 0,
            _ => LOSSY_PREROLL,
        };
        let ts = frame + self.lead;
        let to = SeekTo::TimeStamp { ts: ts.saturating_sub(preroll), track_id: self.track_id };
        match self.reader.seek(SeekMode::Accurate, to) {
            Ok(_) => {
                self.decoder.reset();
                // The reader lands on a packet at or before the frame asked
                // for; the first packet's timestamp says how far before.
                self.seek_target = Some(ts);
                self.position = frame;
                Ok(())
            }
            Err(e) => Err(MediaError::file(
                &self.info.path,
                format!("cannot seek to frame {frame} ({})", symphonia_reason(&e)),
            )),
        }
    }

    /// Reopens the file and drops frames up to `target` (for readers whose
    /// seek overshoots), then decodes the next packet.
    fn restart_and_skip(&mut self, target: u64) -> Result<bool> {
        let path = self.info.path.clone();
        let fresh = Self::open(&path)?;
        *self = fresh;
        self.skip = target;
        self.position = target - self.lead;
        self.next_packet()
    }

    /// After a seek, the first packet that gives frames starts at its
    /// timestamp `ts`: one that starts past the target means decoding from
    /// the start instead (the restart's result); otherwise the frames up to
    /// the target are to be skipped.
    fn land(&mut self, ts: u64) -> Option<Result<bool>> {
        let target = self.seek_target.take()?;
        if ts > target {
            return Some(self.restart_and_skip(target));
        }
        self.skip = target - ts;
        None
    }

    /// `pending` holds a packet's `frames`: drops what a seek skips;
    /// `false` when nothing of the packet is left.
    fn filled(&mut self, frames: usize) -> bool {
        self.pending_at = 0;
        self.pending_len = frames;
        if self.skip > 0 {
            let drop = (self.skip.min(frames as u64)) as usize;
            self.skip -= drop as u64;
            self.pending_at = drop;
        }
        self.pending_at < self.pending_len
    }

    /// Decodes the next packet of the track into `pending`. `false` at the end.
    fn next_packet(&mut self) -> Result<bool> {
        let mut bad = 0;
        while !self.ended {
            let packet = match self.reader.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.ended = true;
                    break;
                }
                Err(SymError::ResetRequired) => {
                    self.ended = true;
                    break;
                }
                Err(SymError::DecodeError(_)) => {
                    // A damaged container page: go on from the next one.
                    bad += 1;
                    if bad > MAX_BAD_PACKETS {
                        self.ended = true;
                    }
                    continue;
                }
                Err(e) => {
                    return Err(MediaError::file(&self.info.path, format!("read error ({})", symphonia_reason(&e))))
                }
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            if let Some((pcm, spec)) = self.pcm {
                let channels = spec.channels.count();
                let frames = packet.buf().len() / (pcm.bytes() * channels);
                if frames == 0 {
                    continue;
                }
                if let Some(restarted) = self.land(packet.ts()) {
                    return restarted;
                }
                let fits = self.pending.as_ref().is_some_and(|b| b.capacity() >= frames && *b.spec() == spec);
                if !fits {
                    self.pending = Some(AudioBuffer::new(frames as u64, spec));
                }
                let Some(buf) = self.pending.as_mut() else { continue };
                buf.clear();
                buf.render_reserved(Some(frames));
                pcm.convert(packet.buf(), channels, buf.planes_mut().planes());
                if pcm == Pcm::F32Le {
                    check_finite(&self.info.path, buf, packet.ts().saturating_sub(self.lead))?;
                }
                if self.filled(frames) {
                    return Ok(true);
                }
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                    bad += 1;
                    if bad > MAX_BAD_PACKETS {
                        return Err(MediaError::file(
                            &self.info.path,
                            "too many damaged packets; the file is not readable audio",
                        ));
                    }
                    continue;
                }
                Err(e) => {
                    return Err(MediaError::file(&self.info.path, format!("decode error ({})", symphonia_reason(&e))))
                }
            };
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            // (`land`, written out: `decoded` still borrows the decoder.)
            if let Some(target) = self.seek_target.take() {
                if packet.ts() > target {
                    return self.restart_and_skip(target);
                }
                self.skip = target - packet.ts();
            }
            let spec = *decoded.spec();
            let fits = self.pending.as_ref().is_some_and(|b| b.capacity() >= frames && *b.spec() == spec);
            if !fits {
                self.pending = Some(AudioBuffer::new(decoded.capacity().max(frames) as u64, spec));
            }
            // Only floating-point samples can be NaN or infinite: a file
            // that holds one is damaged and refused, as input samples are
            // everywhere (a NaN would silence every filter after it).
            let float = matches!(decoded, AudioBufferRef::F32(_) | AudioBufferRef::F64(_));
            let Some(buf) = self.pending.as_mut() else { continue };
            decoded.convert(buf);
            if float {
                let at = packet.ts().saturating_sub(self.lead);
                check_finite(&self.info.path, buf, at)?;
            }
            let frames = buf.frames();
            if !self.filled(frames) {
                continue;
            }
            return Ok(true);
        }
        Ok(false)
    }
}

/// Refuses a decoded packet that holds a NaN or an infinity (a
/// `RangeError` naming the file, channel and frame, `at` being the packet's
/// first frame, as every input sample is checked).
fn check_finite(path: &Path, buf: &AudioBuffer<f32>, at: u64) -> Result<()> {
    for (c, plane) in buf.planes().planes().iter().enumerate() {
        // A branch-free pass first (it vectorizes): the position only when
        // something is not finite.
        const EXP: u32 = 0x7f80_0000;
        if plane.iter().fold(0u32, |a, v| a | u32::from(v.to_bits() & EXP == EXP)) == 0 {
            continue;
        }
        if let Some(i) = plane.iter().position(|v| !v.is_finite()) {
            let v = match plane[i] {
                v if v.is_nan() => "NaN",
                v if v > 0.0 => "Infinity",
                _ => "-Infinity",
            };
            return Err(MediaError::range(format!(
                "{}[{c}][{}] = {v} is not a finite sample",
                path.display(),
                at + i as u64
            )));
        }
    }
    Ok(())
}

/// What [`decode_file`] returns.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The rate of `channels` (the file's, or the one asked for).
    pub sample_rate: u32,
    /// One vector per channel.
    pub channels: Vec<Vec<f32>>,
    /// The file's own description.
    pub info: AudioFileInfo,
}

/// Options of [`decode_file`], as `decodeFile`'s in the API.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Resample to this rate (none: the file's).
    pub sample_rate: Option<u32>,
    /// Convert to this many channels (none: the file's).
    pub channels: Option<usize>,
    /// First frame to return, at the output rate.
    pub start_frame: u64,
    /// Frames to return at most, at the output rate (none: to the end).
    pub frames: Option<u64>,
}

/// Most samples one [`decode_file`] returns (2^31: 8 GiB of f32); longer
/// files are read in slices or streamed.
pub const MAX_DECODE_SAMPLES: u64 = 1 << 31;

/// Frames to decode before a resampled position so that the resampler's
/// filter has settled by then.
const RESAMPLE_LEAD: u64 = 8192;

/// Frames decoded per step.
const STEP: usize = 8192;

/// Reads a file at any rate from any frame: a [`Decoder`] and a
/// [`StreamResampler`], the resampler started on a frame that lies on both
/// rates' grid so that output frame `k` is the file's value at time
/// `k / rate` whatever the position read from. Channels are the file's.
///
/// ```no_run
/// let mut r = ferrite_media::ResampledReader::open(std::path::Path::new("in.mp3"), Some(48000)).unwrap();
/// r.seek(48000).unwrap(); // one second in, at 48 kHz
/// let mut l = vec![0.0f32; 1024];
/// let mut rr = vec![0.0f32; 1024];
/// let got = r.read(&mut [&mut l[..], &mut rr[..]]).unwrap();
/// ```
#[derive(Debug)]
pub struct ResampledReader {
    dec: Decoder,
    rs: Option<StreamResampler>,
    to: u32,
    frames: u64,
    position: u64,
    /// Output not yet delivered: `pending[c][pending_at..]`.
    pending: Vec<Vec<f32>>,
    pending_at: usize,
    /// Output frames still to drop before `position`.
    skip: u64,
    block: Vec<Vec<f32>>,
    ended: bool,
}

impl ResampledReader {
    /// Opens `path` to read at `rate` (none: the file's own).
    pub fn open(path: &Path, rate: Option<u32>) -> Result<Self> {
        let dec = Decoder::open(path)?;
        let from = dec.info().sample_rate;
        let to = rate.unwrap_or(from);
        let n = dec.info().channels.max(1);
        let rs = if to == from { None } else { Some(StreamResampler::new(from, to, n)?) };
        let frames =
            if to == from { dec.info().frames } else { crate::resample::output_frames(dec.info().frames, from, to) };
        Ok(Self {
            dec,
            rs,
            to,
            frames,
            position: 0,
            pending: vec![Vec::new(); n],
            pending_at: 0,
            skip: 0,
            block: vec![vec![0.0; STEP]; n],
            ended: false,
        })
    }

    /// What the file holds (at its own rate).
    pub fn info(&self) -> &AudioFileInfo {
        self.dec.info()
    }

    /// The rate frames are read at.
    pub fn sample_rate(&self) -> u32 {
        self.to
    }

    /// The file's length at [`sample_rate`](Self::sample_rate).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The file's channel count.
    pub fn channels(&self) -> usize {
        self.pending.len()
    }

    /// The frame the next [`read`](Self::read) starts at.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Moves to `frame` (at the read rate); the next read starts exactly there.
    pub fn seek(&mut self, frame: u64) -> Result<()> {
        self.position = frame;
        let Some(rs) = self.rs.as_mut() else { return self.dec.seek(frame) };
        let (from, to) = (rs.from_rate(), rs.to_rate());
        let (step_in, step_out) = crate::resample::grid(from, to);
        let want_in = (frame as u128 * from as u128 / to as u128) as u64;
        let k = want_in.saturating_sub(RESAMPLE_LEAD) / step_in;
        let (in0, out0) = (k * step_in, k * step_out);
        self.dec.seek(in0)?;
        *rs = StreamResampler::new(from, to, self.pending.len())?;
        for p in &mut self.pending {
            p.clear();
        }
        self.pending_at = 0;
        self.skip = frame.saturating_sub(out0);
        self.ended = false;
        Ok(())
    }

    /// Fills `out` (one slice per file channel, equal lengths; extra slices
    /// are zeroed) with the next frames. Returns the frames written: the
    /// slices' length, fewer only at the end of the file.
    pub fn read(&mut self, out: &mut [&mut [f32]]) -> Result<usize> {
        if self.rs.is_none() {
            let n = self.dec.read(out)?;
            self.position += n as u64;
            return Ok(n);
        }
        let want = out.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut done = 0;
        while done < want {
            let avail = self.pending[0].len() - self.pending_at;
            if avail > 0 {
                let drop = (self.skip.min(avail as u64)) as usize;
                self.skip -= drop as u64;
                self.pending_at += drop;
                let n = (avail - drop).min(want - done);
                for (c, dst) in out.iter_mut().enumerate() {
                    match self.pending.get(c) {
                        Some(p) => dst[done..done + n].copy_from_slice(&p[self.pending_at..self.pending_at + n]),
                        None => dst[done..done + n].fill(0.0),
                    }
                }
                self.pending_at += n;
                done += n;
                continue;
            }
            if self.ended {
                break;
            }
            for p in &mut self.pending {
                p.clear();
            }
            self.pending_at = 0;
            let mut views: Vec<&mut [f32]> = self.block.iter_mut().map(|c| &mut c[..]).collect();
            let got = self.dec.read(&mut views)?;
            let Some(rs) = self.rs.as_mut() else { break };
            if got == 0 {
                rs.finish(&mut self.pending);
                self.ended = true;
            } else {
                let ins: Vec<&[f32]> = self.block.iter().map(|c| &c[..got]).collect();
                rs.push(&ins, &mut self.pending);
            }
        }
        self.position += done as u64;
        Ok(done)
    }
}

/// Decodes a slice of a file, converted to the channels and rate asked for.
///
/// Channels: a mono file feeds every channel; to one channel, the mean of
/// the file's; 5.1 (6 channels, SMPTE order L R C LFE Ls Rs) to stereo by
/// ITU-R BS.775 (C and the surrounds at -3 dB, no LFE); otherwise channel
/// `c` takes file channel `c` (`c mod n` when asking for more).
///
/// ```no_run
/// use ferrite_media::{decode_file, DecodeOptions};
/// let d = decode_file(std::path::Path::new("a.flac"), DecodeOptions { sample_rate: Some(48000), ..Default::default() }).unwrap();
/// assert_eq!(d.sample_rate, 48000);
/// ```
pub fn decode_file(path: &Path, o: DecodeOptions) -> Result<Decoded> {
    if o.sample_rate == Some(0) {
        return Err(MediaError::range(format!("decodeFile: sampleRate = 0 must be positive ({})", path.display())));
    }
    let mut r = ResampledReader::open(path, o.sample_rate)?;
    let info = r.info().clone();
    let n_file = r.channels();
    let n_out = o.channels.unwrap_or(n_file).max(1);
    let start = o.start_frame.min(r.frames());
    let len = o.frames.unwrap_or(u64::MAX).min(r.frames() - start);
    if len.saturating_mul(n_out.max(n_file) as u64) > MAX_DECODE_SAMPLES {
        return Err(MediaError::range(format!(
            "decodeFile: {len} frames × {n_out} channels of {} exceed the limit of {MAX_DECODE_SAMPLES} samples; decode it in slices (startFrame, frames)",
            path.display()
        )));
    }
    // The length a header claims is not trusted for memory: reserve at most
    // a few seconds up front and grow with what is really decoded.
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(n_file);
    for _ in 0..n_file {
        let mut c = Vec::new();
        c.try_reserve_exact((len as usize).min(1 << 20)).map_err(|_| {
            MediaError::range(format!("decodeFile: {len} frames of {} do not fit in memory", path.display()))
        })?;
        out.push(c);
    }
    if start > 0 {
        r.seek(start)?;
    }
    let mut block: Vec<Vec<f32>> = vec![vec![0.0; 1 << 16]; n_file];
    let mut done = 0usize;
    while done < len as usize {
        let n = (len as usize - done).min(1 << 16);
        let mut views: Vec<&mut [f32]> = block.iter_mut().map(|c| &mut c[..n]).collect();
        let got = r.read(&mut views)?;
        for (o, b) in out.iter_mut().zip(&block) {
            o.try_reserve(got)
                .map_err(|_| MediaError::range(format!("decodeFile: {} does not fit in memory", path.display())))?;
            o.extend_from_slice(&b[..got]);
        }
        done += got;
        if got < n {
            break;
        }
    }
    let sample_rate = r.sample_rate();
    Ok(Decoded { sample_rate, channels: convert_channels(out, n_out), info })
}

/// Converts planar channels to `n` channels (the rules of [`decode_file`]).
pub fn convert_channels(mut chans: Vec<Vec<f32>>, n: usize) -> Vec<Vec<f32>> {
    let m = chans.len();
    if m == n || m == 0 {
        return chans;
    }
    if m == 1 {
        let mono = chans.pop().unwrap_or_default();
        return vec![mono; n];
    }
    let frames = chans.iter().map(|c| c.len()).max().unwrap_or(0);
    let at = |c: &Vec<f32>, i: usize| f64::from(c.get(i).copied().unwrap_or(0.0));
    if n == 1 {
        let inv = 1.0 / m as f64;
        let mono = (0..frames).map(|i| (chans.iter().map(|c| at(c, i)).sum::<f64>() * inv) as f32).collect();
        return vec![mono];
    }
    if m == 6 && n == 2 {
        let g = std::f64::consts::FRAC_1_SQRT_2;
        let (l, r, c, ls, rs) = (&chans[0], &chans[1], &chans[2], &chans[4], &chans[5]);
        let left = (0..frames).map(|i| (at(l, i) + g * at(c, i) + g * at(ls, i)) as f32).collect();
        let right = (0..frames).map(|i| (at(r, i) + g * at(c, i) + g * at(rs, i)) as f32).collect();
        return vec![left, right];
    }
    if n < m {
        chans.truncate(n);
        return chans;
    }
    (0..n).map(|c| chans[c % m].clone()).collect()
}
