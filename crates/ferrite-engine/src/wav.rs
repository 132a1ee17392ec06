//! WAV files in and out for the API's `writeWav` and `readWav`, both
//! through ferrite-media (its [`AudioFileWriter`] and decoder), so there is
//! one WAV writer and one reader.

use crate::error::{EngineError, Result};
use ferrite_media::{AudioFileWriter, FileFormat};
use std::path::Path;

/// Sample formats `writeWav` accepts: the media writers' (16/24-bit PCM, 32-bit float).
pub use ferrite_media::BitDepth;

/// Writes planar `channels` at `sample_rate` as a WAV file (whatever the
/// extension). Integer formats scale by 2^(bits-1), round to nearest (no
/// dither) and clip to full scale.
///
/// The file is written under a temporary name beside `path`, flushed,
/// synced and renamed over `path` only when complete: on any failure (a
/// full disk, say) an earlier file under that name is left untouched and no
/// partial file remains. What a WAV header cannot represent (more than
/// 65535 bytes a frame, e.g. 32768 channels at 16 bits; 4 GiB of samples) is
/// a `RangeError` before anything is written.
pub fn write_wav(path: &Path, channels: &[&[f32]], sample_rate: u32, depth: BitDepth) -> Result<()> {
    if channels.is_empty() {
        return Err(EngineError::range("writeWav: 0 channels; need at least 1"));
    }
    let frames = channels[0].len();
    if let Some((c, ch)) = channels.iter().enumerate().find(|(_, ch)| ch.len() != frames) {
        return Err(EngineError::range(format!(
            "writeWav: channel {c} has {} frames but channel 0 has {frames}",
            ch.len()
        )));
    }
    if sample_rate == 0 {
        return Err(EngineError::range("writeWav: sampleRate = 0 must be positive"));
    }
    let media = |e: ferrite_media::MediaError| {
        let mut e = EngineError::from(e);
        e.message = format!("writeWav: {}", e.message);
        e
    };
    let mut w = AudioFileWriter::create_as(path, FileFormat::Wav, sample_rate, channels.len(), depth).map_err(media)?;
    w.write(channels).map_err(media)?;
    w.finish().map_err(media)?;
    Ok(())
}

/// A decoded WAV file, planar.
#[derive(Debug, Clone, PartialEq)]
pub struct WavData {
    /// Frames per second.
    pub sample_rate: u32,
    /// One vector per channel.
    pub channels: Vec<Vec<f32>>,
}

/// Reads a WAV file (any PCM width or float; other formats ferrite-media
/// decodes are read too) into f32 channels. The length a header claims is
/// not trusted for memory (see `ferrite_media::decode_file`), so a short
/// file that claims gigabytes is read as what it holds.
pub fn read_wav(path: &Path) -> Result<WavData> {
    let d = ferrite_media::decode_file(path, ferrite_media::DecodeOptions::default())
        .map_err(|e| EngineError::other(format!("readWav: cannot read {}", e.message)))?;
    Ok(WavData { sample_rate: d.sample_rate, channels: d.channels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_depth_within_its_quantisation() {
        let dir = std::env::temp_dir().join(format!("ferrite-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let l: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.9).collect();
        let r: Vec<f32> = l.iter().map(|x| -x).collect();
        for (bits, tol) in [(16, 0.5 / 32768.0), (24, 0.5 / 8_388_608.0), (32, 0.0)] {
            let p = dir.join(format!("t{bits}.wav"));
            write_wav(&p, &[&l, &r], 44100, BitDepth::from_bits(bits).unwrap()).unwrap();
            let w = read_wav(&p).unwrap();
            assert_eq!(w.sample_rate, 44100);
            assert_eq!(w.channels.len(), 2);
            for (a, b) in w.channels[1].iter().zip(&r) {
                assert!((a - b).abs() <= tol as f32, "{bits}: {a} vs {b}");
            }
        }
        assert!(read_wav(&dir.join("missing.wav")).unwrap_err().message.contains("missing.wav"));
        assert_eq!(EngineError::from(BitDepth::from_bits(8).unwrap_err()).kind, crate::error::ErrorKind::Range);
    }
}
