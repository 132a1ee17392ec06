//! What a caller asks of a stream.

/// Sample rate used when none is requested (Hz).
pub const DEFAULT_SAMPLE_RATE: u32 = 48_000;
/// Buffer size used when none is requested (frames per callback).
pub const DEFAULT_BUFFER_SIZE: u32 = 128;
/// Output channel count used when none is requested.
pub const DEFAULT_CHANNELS: u16 = 2;

/// What to open. `None` means "the default": for the null backend
/// [`DEFAULT_SAMPLE_RATE`], [`DEFAULT_BUFFER_SIZE`], [`DEFAULT_CHANNELS`]; for
/// a device, the device's default sample rate and channel count and
/// [`DEFAULT_BUFFER_SIZE`] when the device supports a fixed size. What was
/// actually granted is reported by the [`Stream`](crate::Stream).
///
/// ```
/// let config = ferrite_io::StreamConfig { buffer_size: Some(256), ..Default::default() };
/// assert_eq!(config.sample_rate, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamConfig {
    /// Requested sample rate in Hz.
    pub sample_rate: Option<u32>,
    /// Requested frames per callback.
    pub buffer_size: Option<u32>,
    /// Requested output channel count.
    pub channels: Option<u16>,
    /// Output device, by the `id` or `name` that [`list_devices`](crate::list_devices)
    /// reports, or `"default"`. `None` is the default output device.
    pub device: Option<String>,
    /// Input (capture) device, same matching as `device`. Giving one opens an
    /// input stream.
    pub input_device: Option<String>,
    /// Open an input stream on the default input device when `input_device`
    /// is `None` (the graph reads the `input` node).
    pub want_input: bool,
}

/// A validated null-backend configuration: every field has a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub sample_rate: u32,
    pub buffer_size: u32,
    pub channels: u16,
}

impl StreamConfig {
    /// Fills the defaults and rejects zero values.
    pub(crate) fn resolve_null(&self) -> Result<Resolved, crate::IoError> {
        let resolved = Resolved {
            sample_rate: self.sample_rate.unwrap_or(DEFAULT_SAMPLE_RATE),
            buffer_size: self.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE),
            channels: self.channels.unwrap_or(DEFAULT_CHANNELS),
        };
        validate(Some(resolved.sample_rate), Some(resolved.buffer_size), Some(resolved.channels))?;
        Ok(resolved)
    }
}

/// Rejects zero and absurd values with a message naming the field.
pub(crate) fn validate(
    sample_rate: Option<u32>,
    buffer_size: Option<u32>,
    channels: Option<u16>,
) -> Result<(), crate::IoError> {
    let bad = |what: String| Err(crate::IoError::new(crate::IoErrorKind::InvalidConfig, what));
    if let Some(sr) = sample_rate {
        if !(1_000..=1_536_000).contains(&sr) {
            return bad(format!("sampleRate {sr} is out of range (1000..=1536000 Hz)"));
        }
    }
    if let Some(bs) = buffer_size {
        if !(1..=65_536).contains(&bs) {
            return bad(format!("bufferSize {bs} is out of range (1..=65536 frames)"));
        }
    }
    if let Some(ch) = channels {
        if !(1..=64).contains(&ch) {
            return bad(format!("channels {ch} is out of range (1..=64)"));
        }
    }
    Ok(())
}
