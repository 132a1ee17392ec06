//! Band-limited sample-rate conversion with rubato, never on the audio thread.
//!
//! The converter is rubato's synchronous FFT resampler (`FftFixedIn`) in
//! `f64`: every rate pair the engine meets is a ratio of whole numbers, for
//! which it computes exactly the band-limited interpolation of a long
//! windowed-sinc filter (Blackman-Harris squared) by overlap-add. Output
//! frame `k` is the input's value at time `k / to`: the converter's own
//! delay is removed, and a stream of `n` input frames gives
//! [`output_frames`]`(n, from, to)` output frames. The quality this gives
//! (level, THD+N, stopband) is measured in this crate's tests and given in
//! the README.

use crate::error::{MediaError, Result};
use rubato::{FftFixedIn, Resampler};

/// Input frames per converter chunk (per call into rubato).
const CHUNK: usize = 4096;

/// Output frames for `n` input frames: `ceil(n · to / from)`.
pub fn output_frames(n: u64, from: u32, to: u32) -> u64 {
    ((n as u128 * to as u128).div_ceil(from as u128)) as u64
}

/// The smallest input and output steps that stay on both rates' grids
/// (`from / gcd`, `to / gcd`).
pub fn grid(from: u32, to: u32) -> (u64, u64) {
    let g = gcd(from as u64, to as u64).max(1);
    (from as u64 / g, to as u64 / g)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Highest rate accepted (768 kHz × 4).
pub const MAX_RATE: u32 = 3_072_000;

fn check_rate(what: &str, r: u32) -> Result<()> {
    if r == 0 || r > MAX_RATE {
        Err(MediaError::range(format!("resample: {what} = {r} must be a rate in [1, {MAX_RATE}] Hz")))
    } else {
        Ok(())
    }
}

/// A streaming converter for `channels` planar channels from `from` to `to` Hz.
///
/// ```
/// use ferrite_media::StreamResampler;
/// let mut rs = StreamResampler::new(44100, 48000, 1).unwrap();
/// let input = vec![0.25f32; 44100];
/// let mut out = vec![Vec::new()];
/// rs.push(&[&input], &mut out);
/// rs.finish(&mut out);
/// assert_eq!(out[0].len(), 48000);
/// assert!((out[0][24000] - 0.25).abs() < 1e-6);
/// ```
pub struct StreamResampler {
    inner: Option<FftFixedIn<f64>>,
    channels: usize,
    from: u32,
    to: u32,
    /// Input collected towards the next chunk.
    staged: Vec<Vec<f64>>,
    /// The converter's output for one chunk.
    produced: Vec<Vec<f64>>,
    /// Output frames still to drop (the converter's delay).
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("channels", &self.channels)
            .finish()
    }
}

impl StreamResampler {
    /// A converter; `from == to` passes samples through unchanged.
    pub fn new(from: u32, to: u32, channels: usize) -> Result<Self> {
        check_rate("from", from)?;
        check_rate("to", to)?;
        let channels = channels.max(1);
        let inner = if from == to {
            None
        } else {
            Some(
                FftFixedIn::<f64>::new(from as usize, to as usize, CHUNK, 1, channels)
                    .map_err(|e| MediaError::range(format!("resample: {from} -> {to} Hz: {e}")))?,
            )
        };
        let delay_left = inner.as_ref().map_or(0, |r| r.output_delay());
        let max_out = inner.as_ref().map_or(0, |r| r.output_frames_max());
        Ok(Self {
            inner,
            channels,
            from,
            to,
            staged: (0..channels).map(|_| Vec::with_capacity(CHUNK)).collect(),
            produced: (0..channels).map(|_| vec![0.0; max_out]).collect(),
            delay_left,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Input rate.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Converts `input` (one slice per channel, equal lengths) and appends
    /// what is ready to `out` (one vector per channel).
    pub fn push(&mut self, input: &[&[f32]], out: &mut [Vec<f32>]) {
        let n = input.iter().map(|c| c.len()).min().unwrap_or(0);
        self.frames_in += n as u64;
        if self.inner.is_none() {
            for (c, o) in out.iter_mut().enumerate().take(self.channels) {
                o.extend_from_slice(input.get(c).map_or(&[][..], |s| &s[..n]));
                self.frames_out += 0;
            }
            self.frames_out += n as u64;
            return;
        }
        let mut at = 0;
        while at < n {
            let room = CHUNK - self.staged[0].len();
            let take = room.min(n - at);
            for (c, st) in self.staged.iter_mut().enumerate() {
                match input.get(c) {
                    Some(s) => st.extend(s[at..at + take].iter().map(|&x| f64::from(x))),
                    None => st.extend(std::iter::repeat_n(0.0, take)),
                }
            }
            at += take;
            if self.staged[0].len() == CHUNK {
                self.run_chunk(out, false);
            }
        }
    }

    /// Flushes: converts what is staged plus the filter's tail, so that the
    /// whole stream has given [`output_frames`] frames. The converter is
    /// then empty and may take a new stream.
    pub fn finish(&mut self, out: &mut [Vec<f32>]) {
        if self.inner.is_none() {
            return;
        }
        let target = output_frames(self.frames_in, self.from, self.to);
        // Feed silence until the delayed output has caught up with the input.
        let mut guard = 0;
        while self.frames_out < target && guard < 64 {
            let fill = CHUNK - self.staged[0].len();
            for st in &mut self.staged {
                st.extend(std::iter::repeat_n(0.0, fill));
            }
            self.run_chunk(out, true);
            guard += 1;
        }
        if let Some(r) = self.inner.as_mut() {
            r.reset();
            self.delay_left = r.output_delay();
        }
        for st in &mut self.staged {
            st.clear();
        }
        self.frames_in = 0;
        self.frames_out = 0;
    }

    fn run_chunk(&mut self, out: &mut [Vec<f32>], flushing: bool) {
        let Some(r) = self.inner.as_mut() else { return };
        let Ok((_, written)) = r.process_into_buffer(&self.staged, &mut self.produced, None) else {
            for st in &mut self.staged {
                st.clear();
            }
            return;
        };
        for st in &mut self.staged {
            st.clear();
        }
        let drop = self.delay_left.min(written);
        self.delay_left -= drop;
        let mut keep = written - drop;
        if flushing {
            let target = output_frames(self.frames_in, self.from, self.to);
            keep = keep.min(target.saturating_sub(self.frames_out) as usize);
        }
        for (o, p) in out.iter_mut().zip(&self.produced) {
            o.extend(p[drop..drop + keep].iter().map(|&x| x as f32));
        }
        self.frames_out += keep as u64;
    }
}

/// Resamples whole planar buffers from `from` to `to` Hz (the API's `resample`).
pub fn resample(channels: &[&[f32]], from: u32, to: u32) -> Result<Vec<Vec<f32>>> {
    let mut rs = StreamResampler::new(from, to, channels.len())?;
    let n = channels.iter().map(|c| c.len()).max().unwrap_or(0) as u64;
    let cap = output_frames(n, from, to) as usize;
    let mut out: Vec<Vec<f32>> = (0..channels.len().max(1)).map(|_| Vec::with_capacity(cap)).collect();
    rs.push(channels, &mut out);
    rs.finish(&mut out);
    out.truncate(channels.len());
    Ok(out)
}
