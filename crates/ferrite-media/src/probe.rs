//! What a file holds, from its headers: container, codec, rate, channels,
//! length. [`probe_file`] reads headers only (for a lossy file without a
//! length in its headers it walks the packets, which decodes nothing).

use crate::error::{MediaError, Result};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use symphonia::core::codecs::{CodecParameters, CodecType, CODEC_TYPE_NULL};
use symphonia::core::formats::{FormatOptions, FormatReader, Track};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// A file's audio stream, as `AudioFileInfo` in the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFileInfo {
    /// The path as given.
    pub path: PathBuf,
    /// Container: `wav`, `aiff`, `flac`, `mp3`, `ogg`, `mp4`, `caf` (or `adts` for raw AAC).
    pub format: &'static str,
    /// Codec: `pcm`, `flac`, `mp3`, `vorbis`, `aac`, `alac`, or symphonia's short name for others.
    pub codec: String,
    /// Frames per second.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: usize,
    /// Frames: exact for PCM and FLAC; for lossy codecs the count after the
    /// encoder's delay and padding are removed (gapless).
    pub frames: u64,
    /// Bits per sample, where the codec has one (PCM, FLAC, ALAC).
    pub bit_depth: Option<u32>,
}

/// Reads a file's headers. Errors name the file and the reason.
///
/// ```no_run
/// let info = ferrite_media::probe_file(std::path::Path::new("take.flac")).unwrap();
/// println!("{} Hz, {} channels, {} frames", info.sample_rate, info.channels, info.frames);
/// ```
pub fn probe_file(path: &Path) -> Result<AudioFileInfo> {
    Ok(open_container(path)?.info)
}

/// Runs `f`, a call into symphonia's parsers and decoders, which can panic
/// on damaged input (an unwrap in a container parser): a panic becomes an
/// error naming the file, as any other damage does, instead of ending the
/// thread (a reader's, or a render's).
pub(crate) fn shielded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no reason given".into());
            Err(MediaError::file(path, format!("the file is damaged: its decoder failed ({why})")))
        }
    }
}

/// An opened container with its chosen track, ready to decode.
pub(crate) struct Opened {
    pub info: AudioFileInfo,
    /// Frames of the decoded stream before the file's first frame (an MP4 edit list's priming).
    pub lead: u64,
    pub reader: Box<dyn FormatReader>,
    pub track_id: u32,
    pub params: CodecParameters,
}

/// The container a file's first bytes announce, or `None`.
pub(crate) fn sniff(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, tag: &[u8]| head.get(i..i + tag.len()) == Some(tag);
    if (at(0, b"RIFF") || at(0, b"RF64") || at(0, b"BW64")) && at(8, b"WAVE") {
        Some("wav")
    } else if at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        Some("aiff")
    } else if at(0, b"fLaC") {
        Some("flac")
    } else if at(0, b"OggS") {
        Some("ogg")
    } else if at(4, b"ftyp") {
        Some("mp4")
    } else if at(0, b"caff") {
        Some("caf")
    } else if at(0, b"ID3") {
        Some("mp3")
    } else if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 {
        // MPEG audio frame sync; layer bits 00 mean an ADTS (AAC) header.
        if head[1] & 0x06 == 0 {
            Some("adts")
        } else {
            Some("mp3")
        }
    } else {
        None
    }
}

/// Refuses what is not a readable regular file (a missing path, a
/// directory, a FIFO that would block forever) and opens it.
pub(crate) fn open_regular(path: &Path) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::file(path, io_reason(&e)))?;
    if meta.is_dir() {
        return Err(MediaError::file(path, "is a directory, not an audio file"));
    }
    if !meta.is_file() {
        return Err(MediaError::file(path, "is not a regular file (a device, FIFO or socket)"));
    }
    if meta.len() == 0 {
        return Err(MediaError::file(path, "the file is empty"));
    }
    File::open(path).map_err(|e| MediaError::file(path, io_reason(&e)))
}

/// A short reason for an I/O error.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

pub(crate) fn open_container(path: &Path) -> Result<Opened> {
    shielded(path, || open_unshielded(path))
}

fn open_unshielded(path: &Path) -> Result<Opened> {
    let mut file = open_regular(path)?;
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(MediaError::file(path, io_reason(&e))),
        }
    }
    let format = sniff(&head[..got])
        .ok_or_else(|| MediaError::file(path, "not an audio file (no known container signature)"))?;
    if format == "wav" && &head[..4] == b"RIFF" {
        check_riff_sizes(path, &mut file, &head)?;
    }
    let file = open_regular(path)?;
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions { buffer_len: 256 * 1024 });
    let mut hint = Hint::new();
    hint.with_extension(match format {
        "adts" => "aac",
        "mp4" => "m4a",
        f => f,
    });
    let opts = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed =
        symphonia::default::get_probe().format(&hint, mss, &opts, &MetadataOptions::default()).map_err(|e| {
            MediaError::file(path, format!("cannot read the {format} container ({})", symphonia_reason(&e)))
        })?;
    let reader = probed.format;
    let track = pick_track(reader.tracks()).ok_or_else(|| MediaError::file(path, "the file holds no audio track"))?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    let codec = codec_name(params.codec);
    if symphonia::default::get_codecs().get_codec(params.codec).is_none() {
        return Err(MediaError::file(path, format!("unsupported codec ({codec})")));
    }
    let sample_rate = params
        .sample_rate
        .filter(|&r| r > 0)
        .ok_or_else(|| MediaError::file(path, "the audio track has no sample rate"))?;
    let channels = params.channels.map(|c| c.count()).filter(|&c| c > 0).unwrap_or(0);
    let bit_depth = match codec.as_str() {
        "pcm" | "flac" => params.bits_per_sample.or(params.bits_per_coded_sample),
        "alac" => params.bits_per_sample.or_else(|| params.extra_data.as_deref().and_then(alac_bit_depth)),
        _ => None,
    };
    let mut opened = Opened {
        info: AudioFileInfo { path: path.to_path_buf(), format, codec, sample_rate, channels, frames: 0, bit_depth },
        lead: 0,
        reader,
        track_id,
        params,
    };
    opened.info.frames = match (format, opened.params.n_frames) {
        // symphonia counts an AIFF's SSND offset and block-size fields as
        // audio; COMM's numSampleFrames is the file's own count.
        ("aiff", _) => match aiff_frames(path) {
            Some(n) => n,
            None => opened.params.n_frames.unwrap_or(0),
        },
        ("mp4", _) => match crate::mp4::audio_edit(path, sample_rate) {
            Some(edit) => {
                opened.lead = edit.skip;
                edit.frames
            }
            None => match opened.params.n_frames {
                Some(n) => n,
                None => count_frames(path)?,
            },
        },
        (_, Some(n)) => n,
        (_, None) => count_frames(path)?,
    };
    if opened.info.channels == 0 {
        // Some containers (ADTS, a few MP4s) only say in the first packet.
        opened.info.channels = first_packet_channels(path, &opened)?;
    }
    Ok(opened)
}

/// Refuses a RIFF WAVE file whose sizes were never written: a writer that
/// failed before finishing its header (a full disk, a crash) leaves a RIFF
/// size of 0, or a `data` size of 0 with the samples after it. Read as they
/// claim, such files would be a valid empty file and the audio silently
/// lost; they are an error naming the file instead. A correct empty WAV
/// (RIFF size covering the chunks, `data` size 0, nothing or further chunks
/// after it) still reads as 0 frames; a file that merely ends early still
/// reads its intact part; streaming sizes (`0xFFFFFFFF`) are left to the decoder.
fn check_riff_sizes(path: &Path, file: &mut File, head: &[u8; 12]) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let unfinished = |what: String| {
        MediaError::file(
            path,
            format!("{what}: the file's header was never completed (an interrupted or failed write?)"),
        )
    };
    let riff = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if riff < 4 {
        return Err(unfinished(format!("the RIFF size is {riff}")));
    }
    let len = file.metadata().map_err(|e| MediaError::file(path, io_reason(&e)))?.len();
    // Walk the top-level chunks to `data` (a bounded number of them).
    let mut at = 12u64;
    for _ in 0..1024 {
        let mut ck = [0u8; 8];
        if file.seek(SeekFrom::Start(at)).is_err() || file.read_exact(&mut ck).is_err() {
            return Ok(()); // the decoder reports what is missing
        }
        let size = u64::from(u32::from_le_bytes([ck[4], ck[5], ck[6], ck[7]]));
        if &ck[..4] == b"data" {
            let after = len.saturating_sub(at + 8);
            if size == 0 && after > 0 {
                // What follows an empty data chunk must be another chunk.
                let mut next = [0u8; 4];
                let is_chunk = after >= 8
                    && file.read_exact(&mut next).is_ok()
                    && next.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ');
                if !is_chunk {
                    return Err(unfinished(format!("the data size is 0 but {after} bytes follow it")));
                }
            }
            return Ok(());
        }
        at += 8 + size + (size & 1);
    }
    Ok(())
}

/// The first track with a known codec.
fn pick_track(tracks: &[Track]) -> Option<&Track> {
    tracks.iter().find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
}

/// The API's codec name.
pub(crate) fn codec_name(codec: CodecType) -> String {
    let short = symphonia::default::get_codecs().get_codec(codec).map(|d| d.short_name).unwrap_or("unknown");
    if short.starts_with("pcm") {
        "pcm".into()
    } else {
        short.into()
    }
}

/// A short reason for a symphonia error.
pub(crate) fn symphonia_reason(e: &symphonia::core::errors::Error) -> String {
    use symphonia::core::errors::Error as E;
    match e {
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => "the file ends early".into(),
        E::IoError(io) => io_reason(io),
        E::DecodeError(m) => format!("malformed data: {m}"),
        E::SeekError(_) => "cannot seek".into(),
        E::Unsupported(m) => format!("unsupported: {m}"),
        E::LimitError(m) => format!("too large: {m}"),
        E::ResetRequired => "the stream changed format".into(),
    }
}

/// Counts frames by walking the packets (no decoding), for containers that
/// do not state the length: the sum of the packets' durations, which with
/// gapless reading excludes encoder delay and padding.
fn count_frames(path: &Path) -> Result<u64> {
    let file = open_regular(path)?;
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions { buffer_len: 256 * 1024 });
    let opts = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed = symphonia::default::get_probe()
        .format(&Hint::new(), mss, &opts, &MetadataOptions::default())
        .map_err(|e| MediaError::file(path, symphonia_reason(&e)))?;
    let mut reader = probed.format;
    let Some(id) = pick_track(reader.tracks()).map(|t| t.id) else { return Ok(0) };
    let mut frames = 0u64;
    loop {
        match reader.next_packet() {
            Ok(p) if p.track_id() == id => frames += p.dur,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(frames)
}

/// Decodes packets from a fresh reader until one gives its channel count.
fn first_packet_channels(path: &Path, opened: &Opened) -> Result<usize> {
    let file = open_regular(path)?;
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions { buffer_len: 64 * 1024 });
    let probed = symphonia::default::get_probe()
        .format(&Hint::new(), mss, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| MediaError::file(path, symphonia_reason(&e)))?;
    let mut reader = probed.format;
    let mut decoder = symphonia::default::get_codecs()
        .make(&opened.params, &Default::default())
        .map_err(|e| MediaError::file(path, symphonia_reason(&e)))?;
    for _ in 0..64 {
        let Ok(packet) = reader.next_packet() else { break };
        if packet.track_id() != opened.track_id {
            continue;
        }
        if let Ok(buf) = decoder.decode(&packet) {
            return Ok(buf.spec().channels.count());
        }
    }
    Err(MediaError::file(path, "cannot tell how many channels the audio track has"))
}

/// `numSampleFrames` of an AIFF file's COMM chunk.
fn aiff_frames(path: &Path) -> Option<u64> {
    let mut f = open_regular(path).ok()?;
    let mut head = [0u8; 12];
    f.read_exact(&mut head).ok()?;
    loop {
        let mut ck = [0u8; 8];
        f.read_exact(&mut ck).ok()?;
        let size = u32::from_be_bytes([ck[4], ck[5], ck[6], ck[7]]) as u64;
        if &ck[..4] == b"COMM" {
            let mut comm = [0u8; 6];
            f.read_exact(&mut comm).ok()?;
            return Some(u64::from(u32::from_be_bytes([comm[2], comm[3], comm[4], comm[5]])));
        }
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Current((size + (size & 1)) as i64)).ok()?;
    }
}

/// `bitDepth` of an ALAC magic cookie (ALACSpecificConfig, optionally inside
/// its own `alac` atom): frameLength (4 bytes), compatibleVersion (1), bitDepth (1).
fn alac_bit_depth(cookie: &[u8]) -> Option<u32> {
    let body = if cookie.get(4..8) == Some(b"alac") { cookie.get(12..)? } else { cookie };
    body.get(5).map(|&b| u32::from(b)).filter(|&b| b > 0)
}
