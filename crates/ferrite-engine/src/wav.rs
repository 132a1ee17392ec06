//! WAV files in and out for the API's `writeWav` (via `hound`) and `readWav` (via ferrite-media).

use crate::error::{EngineError, Result};
use std::path::Path;

/// Sample formats `writeWav` accepts: the media writers' (16/24-bit PCM, 32-bit float).
pub use ferrite_media::BitDepth;

/// Writes planar `channels` at `sample_rate`. Integer formats scale by
/// 2^(bits-1), round to nearest (no dither) and clip to full scale.
pub fn write_wav(path: &Path, channels: &[&[f32]], sample_rate: u32, depth: BitDepth) -> Result<()> {
    if channels.is_empty() || channels.len() > u16::MAX as usize {
        return Err(EngineError::range(format!("writeWav: {} channels; need at least 1", channels.len())));
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
    let (bits, format) = match depth {
        BitDepth::Int16 => (16, hound::SampleFormat::Int),
        BitDepth::Int24 => (24, hound::SampleFormat::Int),
        BitDepth::Float32 => (32, hound::SampleFormat::Float),
    };
    let spec =
        hound::WavSpec { channels: channels.len() as u16, sample_rate, bits_per_sample: bits, sample_format: format };
    let err = |e: hound::Error| EngineError::other(format!("writeWav: cannot write '{}': {e}", path.display()));
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    for i in 0..frames {
        for ch in channels {
            let x = ch[i];
            match depth {
                BitDepth::Float32 => w.write_sample(x).map_err(err)?,
                BitDepth::Int16 => {
                    w.write_sample((f64::from(x) * 32768.0).round().clamp(-32768.0, 32767.0) as i16).map_err(err)?
                }
                BitDepth::Int24 => w
                    .write_sample((f64::from(x) * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32)
                    .map_err(err)?,
            }
        }
    }
    w.finalize().map_err(err)
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
