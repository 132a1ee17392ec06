//! `writeWav` / `readWav`.

use crate::guarded;
use ferrite_engine::wav::{read_wav, write_wav, BitDepth};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::path::Path;

/// A decoded WAV file.
#[napi(object)]
pub struct NativeWav {
    pub sample_rate: u32,
    pub channels: Vec<Float32Array>,
}

/// Writes planar channels to a WAV file (16/24-bit PCM or 32-bit float).
#[napi]
pub fn write_wav_native(
    path: String,
    channels: Vec<Float32Array>,
    sample_rate: f64,
    bit_depth: f64,
) -> napi::Result<()> {
    guarded("writeWav", || {
        // An f64, not a u32: napi would take 2**32 + 16 modulo 2**32 as 16.
        let depth = [16u32, 24, 32]
            .into_iter()
            .find(|&b| f64::from(b) == bit_depth)
            .map(BitDepth::from_bits)
            .unwrap_or_else(|| {
                Err(ferrite_media::MediaError::range(format!(
                    "bitDepth = {} must be 16, 24 or 32 (float)",
                    ferrite_engine::error::show(bit_depth)
                )))
            })
            .map_err(|e| ferrite_engine::EngineError::range(format!("writeWav: {}", e.message)))?;
        if !sample_rate.is_finite() || sample_rate.fract() != 0.0 || !(1.0..=4_294_967_295.0).contains(&sample_rate) {
            return Err(ferrite_engine::EngineError::range(format!(
                "writeWav: sampleRate = {} must be a positive whole number",
                ferrite_engine::error::show(sample_rate)
            )));
        }
        let chans: Vec<&[f32]> = channels.iter().map(|c| &c[..]).collect();
        write_wav(Path::new(&path), &chans, sample_rate as u32, depth)
    })
}

/// Reads a WAV file into planar f32 channels.
#[napi]
pub fn read_wav_native(path: String) -> napi::Result<NativeWav> {
    let w = guarded("readWav", || read_wav(Path::new(&path)))?;
    Ok(NativeWav { sample_rate: w.sample_rate, channels: w.channels.into_iter().map(Float32Array::new).collect() })
}
