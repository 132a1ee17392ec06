//! `convolver`: zero-latency, uniformly partitioned FFT convolution.
//!
//! No parameters ([`PARAMS`] is empty). Construction-only options: the impulse
//! response `ir` (one `Vec<f32>` per IR channel) and `normalize`.
//!
//! # Channels
//! A mono IR applies to every bus channel; an IR with `n` channels applies IR
//! channel `c % n` to bus channel `c` (the engine accepts only `n == 1` or
//! `n == channels`, so this is channel `c` to channel `c`).
//!
//! # Scheme
//! The IR is cut into partitions of `B` taps ([`Convolver::partition_size`];
//! chosen near `2·√len`, a power of two in `64..=1024`, unless given with
//! [`Convolver::with_partition_size`]).
//! - The first partition (taps `0..B`) runs as a direct-form FIR per frame,
//!   so the output needs no future input: **zero latency**.
//! - Partitions `k >= 1` run as overlap-save in the frequency domain: every `B`
//!   frames the last `2B` input frames are transformed (real FFT of `2B`,
//!   `realfft`) into a frequency-domain delay line, the partition spectra are
//!   multiplied and accumulated against it ([`complex_mac`]), and one inverse
//!   FFT yields the tail's contribution to the next `B` output frames. The
//!   multiply-accumulates of partitions `k >= 2` only need older spectra, so
//!   they are spread evenly over the `B` frames of the current partition: the
//!   cost per audio block stays even when `B` exceeds the block size. At each
//!   boundary: one forward FFT, one spectrum product, one inverse FFT.
//!
//! Cost per frame and channel: about `min(len, B)` multiply-adds for the head,
//! `len / B` complex multiply-adds, and two FFTs of `2B` per `B` frames.
//!
//! Every `B` frames is counted from the render position (`position mod B`
//! when the convolver starts), through an internal frame FIFO, so the output
//! does not depend on how blocks are split.
//!
//! All partitioning and FFT planning happens in [`Convolver::new`] and
//! [`Processor::prepare`]; `process` only uses pre-allocated buffers.
//!
//! # `normalize`
//! When `true`, the IR is scaled by `1 / sqrt(E / n)`, where `E` is the sum of
//! the squares of every tap of every IR channel and `n` the IR's channel count:
//! the mean energy per IR channel becomes 1 (a mono IR gets `Σh² = 1`), so
//! white noise keeps its power. An all-zero IR is left as is. (This is not
//! Web Audio's `ConvolverNode.normalize` rule.)

use crate::alloc::{try_filled, AllocError};
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameter table of [`Convolver`]: none.
pub const PARAMS: &[ParamSpec] = &[];

/// Smallest automatic partition size.
pub const MIN_PARTITION: usize = 64;
/// Largest automatic partition size.
pub const MAX_PARTITION: usize = 1024;

/// `acc[i] += a[i] · b[i]` over complex spectra (the frequency-domain
/// multiply-accumulate, the convolver's inner loop). Stops at the shortest slice.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn complex_mac(acc: &mut [Complex<f64>], a: &[Complex<f64>], b: &[Complex<f64>]) {
    for ((y, x), h) in acc.iter_mut().zip(a).zip(b) {
        y.re += x.re * h.re - x.im * h.im;
        y.im += x.re * h.im + x.im * h.re;
    }
}

/// The automatic partition size for an IR of `len` taps: the power of two
/// nearest `2·√len`, clamped to `MIN_PARTITION..=MAX_PARTITION`.
pub fn auto_partition(len: usize) -> usize {
    let mut b = MIN_PARTITION;
    while b < MAX_PARTITION && (2 * b) * (2 * b) <= 8 * len {
        b *= 2;
    }
    b
}

/// FFT plans and scratch shared by the channels, borrowed per block.
struct FftWork<'a> {
    forward: &'a dyn RealToComplex<f64>,
    inverse: &'a dyn ComplexToReal<f64>,
    time: &'a mut [f64],
    scratch_fwd: &'a mut [Complex<f64>],
    scratch_inv: &'a mut [Complex<f64>],
}

/// Where the frame FIFO stands; the same for every channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    /// Frames of the current partition already taken in (`0..B`).
    phase: usize,
    /// Delay-line slot of the newest input spectrum.
    fdl_pos: usize,
    /// The next FFT partition (`1..parts`) whose product is still to be added
    /// to the accumulator for the next partition's output.
    next_part: usize,
}

impl Cursor {
    const START: Cursor = Cursor { phase: 0, fdl_pos: 0, next_part: 1 };
}

/// Zero-latency partitioned convolution with a fixed IR (see the module documentation).
///
/// ```
/// use ferrite_dsp::convolver::Convolver;
/// use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
///
/// // A two-tap echo: y[n] = x[n] + 0.5·x[n - 300].
/// let mut ir = vec![0.0f32; 301];
/// ir[0] = 1.0;
/// ir[300] = 0.5;
/// let mut conv = Convolver::new(vec![ir], false);
/// conv.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: 128, channels: 2 });
/// assert_eq!(conv.latency(), 0);
/// let mut out = Vec::new();
/// for block in 0..4u64 {
///     let mut audio = [0.0f64; 2 * 128];
///     if block == 0 {
///         audio[0] = 1.0; // impulse on the left channel
///     }
///     let ctx = ProcessContext { frames: 128, position: block * 128, params: &[] };
///     conv.process(&ctx, &mut Bus::new(&mut audio, 2, 128, 128));
///     out.extend_from_slice(&audio[..128]);
/// }
/// assert!((out[0] - 1.0).abs() < 1e-12 && (out[300] - 0.5).abs() < 1e-12);
/// assert!(out[1..300].iter().all(|v| v.abs() < 1e-12));
/// ```
pub struct Convolver {
    /// Partition size `B`.
    b: usize,
    /// IR channels.
    ir_channels: usize,
    /// IR length in taps (after padding channels to the longest).
    ir_len: usize,
    /// FFT partitions after the direct head.
    parts: usize,
    /// Per IR channel: the first `min(len, B)` taps, reversed.
    head: Vec<f64>,
    head_len: usize,
    /// Per IR channel: `parts × (B + 1)` spectra of partitions `1..`, scaled by `1 / 2B`.
    spectra: Vec<Complex<f64>>,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    // Per bus channel state (allocated in `prepare`).
    channels: usize,
    /// `channels × 2B`: the previous and the current partition of input.
    hist: Vec<f64>,
    /// `channels × parts × (B + 1)`: ring of input spectra, newest at `fdl_pos`.
    fdl: Vec<Complex<f64>>,
    /// `channels × B`: the FFT partitions' output for the current partition.
    tail: Vec<f64>,
    /// `channels × (B + 1)`: the next partition's spectrum, accumulated over
    /// the current partition's frames.
    acc: Vec<Complex<f64>>,
    cursor: Cursor,
    started: bool,
    // Scratch.
    time: Vec<f64>,
    scratch_fwd: Vec<Complex<f64>>,
    scratch_inv: Vec<Complex<f64>>,
}

impl core::fmt::Debug for Convolver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Convolver")
            .field("partition_size", &self.b)
            .field("ir_channels", &self.ir_channels)
            .field("ir_len", &self.ir_len)
            .field("fft_partitions", &self.parts)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl Convolver {
    /// A convolver for `ir` (one `Vec` per IR channel; shorter channels are
    /// zero-padded to the longest; no channel or no taps means silence), with
    /// an automatic partition size. Partitions the IR and plans the FFTs
    /// (control side).
    pub fn new(ir: Vec<Vec<f32>>, normalize: bool) -> Self {
        let len = ir.iter().map(Vec::len).max().unwrap_or(0);
        Self::with_partition_size(ir, normalize, auto_partition(len))
    }

    /// As [`Convolver::new`] with partition size `partition` (rounded up to a
    /// power of two, at least 2).
    pub fn with_partition_size(ir: Vec<Vec<f32>>, normalize: bool, partition: usize) -> Self {
        let ir: Vec<Vec<f64>> = ir.into_iter().map(|c| c.into_iter().map(f64::from).collect()).collect();
        Self::with_f64_taps(ir, normalize, partition)
    }

    /// As [`Convolver::with_partition_size`] with taps in f64 (kept at full
    /// precision: designed filters such as [`crate::linear_phase_eq`]'s).
    pub fn with_f64_taps(ir: Vec<Vec<f64>>, normalize: bool, partition: usize) -> Self {
        Self::try_with_f64_taps(ir, normalize, partition).unwrap_or_else(|e| e.abort())
    }

    /// As [`Convolver::new`], from borrowed taps, with every buffer sized by
    /// the impulse response reserved fallibly: an impulse response larger
    /// than the machine can hold is an [`AllocError`], not an abort.
    pub fn try_new(ir: &[&[f32]], normalize: bool) -> Result<Self, AllocError> {
        let len = ir.iter().map(|c| c.len()).max().unwrap_or(0).max(1);
        let mut taps = Vec::new();
        taps.try_reserve_exact(ir.len()).map_err(|_| AllocError::of::<Vec<f64>>(ir.len()))?;
        for c in ir {
            let mut v = Vec::new();
            v.try_reserve_exact(len).map_err(|_| AllocError::of::<f64>(len))?;
            v.extend(c.iter().map(|&x| f64::from(x)));
            taps.push(v);
        }
        Self::try_with_f64_taps(taps, normalize, auto_partition(len))
    }

    /// [`Convolver::with_f64_taps`], reserving the padded taps, the head and
    /// the partition spectra fallibly.
    pub fn try_with_f64_taps(mut ir: Vec<Vec<f64>>, normalize: bool, partition: usize) -> Result<Self, AllocError> {
        let b = partition.max(2).next_power_of_two();
        if ir.is_empty() {
            ir.push(Vec::new());
        }
        let len = ir.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for c in &mut ir {
            c.try_reserve_exact(len - c.len()).map_err(|_| AllocError::of::<f64>(len))?;
            c.resize(len, 0.0);
        }
        if normalize {
            let energy: f64 = ir.iter().flatten().map(|v| v * v).sum();
            if energy > 0.0 && energy.is_finite() {
                let scale = 1.0 / (energy / ir.len() as f64).sqrt();
                for v in ir.iter_mut().flatten() {
                    *v *= scale;
                }
            }
        }
        let head_len = len.min(b);
        let parts = len.saturating_sub(b).div_ceil(b);
        let bins = b + 1;
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(2 * b);
        let inverse = planner.plan_fft_inverse(2 * b);

        let mut head = Vec::new();
        let head_taps = ir.len().saturating_mul(head_len);
        head.try_reserve_exact(head_taps).map_err(|_| AllocError::of::<f64>(head_taps))?;
        let mut spectra = try_filled(ir.len().saturating_mul(parts).saturating_mul(bins), Complex::new(0.0, 0.0))?;
        let mut time = vec![0.0; 2 * b];
        let mut scratch = vec![Complex::new(0.0, 0.0); forward.get_scratch_len()];
        let scale = 1.0 / (2 * b) as f64;
        for (c, taps) in ir.iter().enumerate() {
            head.extend(taps[..head_len].iter().rev());
            for p in 0..parts {
                let start = (p + 1) * b;
                let end = (start + b).min(len);
                time.fill(0.0);
                for (t, h) in time.iter_mut().zip(&taps[start..end]) {
                    *t = h * scale;
                }
                let off = (c * parts + p) * bins;
                let out = &mut spectra[off..off + bins];
                if forward.process_with_scratch(&mut time, out, &mut scratch).is_err() {
                    out.fill(Complex::new(0.0, 0.0));
                }
            }
        }
        let scratch_fwd = vec![Complex::new(0.0, 0.0); forward.get_scratch_len()];
        let scratch_inv = vec![Complex::new(0.0, 0.0); inverse.get_scratch_len()];
        Ok(Self {
            b,
            ir_channels: ir.len(),
            ir_len: len,
            parts,
            head,
            head_len,
            spectra,
            forward,
            inverse,
            channels: 0,
            hist: Vec::new(),
            fdl: Vec::new(),
            tail: Vec::new(),
            acc: Vec::new(),
            cursor: Cursor::START,
            started: false,
            time: vec![0.0; 2 * b],
            scratch_fwd,
            scratch_inv,
        })
    }

    /// The partition size `B` in frames.
    pub fn partition_size(&self) -> usize {
        self.b
    }

    /// IR length in taps (channels padded to the longest; at least 1).
    pub fn ir_len(&self) -> usize {
        self.ir_len
    }

    /// Number of IR channels.
    pub fn ir_channels(&self) -> usize {
        self.ir_channels
    }

    /// Runs one bus channel over `x` (in place) from `cur`; returns the cursor after.
    ///
    /// Per frame: the direct head, plus the tail computed at the last
    /// partition boundary. Spread over the frames of partition `m`, the
    /// products `H_p · X_{m-p}` for `p = 1..parts` are accumulated (they only
    /// need spectra that already exist), so the work per frame stays even when
    /// `B` is larger than the audio block. At the boundary: the newest input
    /// spectrum `X_m`, its product with `H_0`, one inverse FFT, and the valid
    /// half becomes the next partition's tail. The summation order is fixed
    /// (`p = 1, 2, …, parts - 1, 0`), so the result does not depend on how
    /// the frames were split into calls.
    #[allow(clippy::too_many_arguments)]
    fn run_channel(
        x: &mut [f64],
        hist: &mut [f64],
        fdl: &mut [Complex<f64>],
        tail: &mut [f64],
        acc: &mut [Complex<f64>],
        head: &[f64],
        spectra: &[Complex<f64>],
        mut cur: Cursor,
        b: usize,
        parts: usize,
        work: &mut FftWork<'_>,
    ) -> Cursor {
        let bins = b + 1;
        let hl = head.len();
        // H_p · X_{m-p} for p in `from..to` (X_{m-1} is the newest stored spectrum).
        let accumulate = |acc: &mut [Complex<f64>], fdl: &[Complex<f64>], fdl_pos: usize, from: usize, to: usize| {
            for p in from..to {
                let slot = (fdl_pos + 1 + parts - p) % parts;
                let xs = fdl.get(slot * bins..(slot + 1) * bins).unwrap_or(&[]);
                let hs = spectra.get(p * bins..(p + 1) * bins).unwrap_or(&[]);
                complex_mac(acc, xs, hs);
            }
        };
        for s in x.iter_mut() {
            let now = b + cur.phase;
            if let Some(h) = hist.get_mut(now) {
                *h = *s;
            }
            // Direct head: Σ_{i < hl} h[i]·x[n - i] over hist[now + 1 - hl ..= now].
            let window = hist.get(now + 1 - hl..now + 1).unwrap_or(&[]);
            let mut y = 0.0;
            for (h, v) in head.iter().zip(window) {
                y += h * v;
            }
            *s = y + tail.get(cur.phase).copied().unwrap_or(0.0);
            cur.phase += 1;
            if parts > 1 {
                // Spread partitions 1..parts evenly over the B frames.
                let due = (1 + (parts - 1) * cur.phase / b).min(parts);
                if due > cur.next_part {
                    accumulate(acc, fdl, cur.fdl_pos, cur.next_part, due);
                    cur.next_part = due;
                }
            }
            if cur.phase < b {
                continue;
            }
            cur.phase = 0;
            if parts > 0 {
                if cur.next_part < parts {
                    accumulate(acc, fdl, cur.fdl_pos, cur.next_part, parts);
                }
                // Spectrum of [previous | current] partition into the delay line
                // (over X_{m-parts}, no longer needed).
                cur.fdl_pos = (cur.fdl_pos + 1) % parts;
                work.time.copy_from_slice(hist);
                let slot = fdl.get_mut(cur.fdl_pos * bins..(cur.fdl_pos + 1) * bins).unwrap_or(&mut []);
                if work.forward.process_with_scratch(work.time, slot, work.scratch_fwd).is_err() {
                    slot.fill(Complex::new(0.0, 0.0));
                }
                complex_mac(acc, slot, spectra.get(..bins).unwrap_or(&[]));
                if work.inverse.process_with_scratch(acc, work.time, work.scratch_inv).is_err() {
                    work.time.fill(0.0);
                }
                acc.fill(Complex::new(0.0, 0.0));
                // Overlap-save: the last B samples are the valid ones.
                if let Some(valid) = work.time.get(b..2 * b) {
                    tail.copy_from_slice(valid);
                }
            }
            cur.next_part = 1;
            hist.copy_within(b..2 * b, 0);
        }
        cur
    }
}

impl Convolver {
    /// Bytes [`Processor::prepare`] allocates for `channels` channels of a
    /// convolver with partition size `b` and `parts` tail partitions: the
    /// input history, the frequency-domain delay line, the tail and the
    /// accumulator.
    fn prepared_bytes(b: usize, parts: usize, channels: usize) -> usize {
        let complex = size_of::<Complex<f64>>();
        let per_channel = 3 * b * size_of::<f64>() + (parts + 1) * (b + 1) * complex;
        channels.saturating_mul(per_channel)
    }
}

impl Processor for Convolver {
    fn memory_bytes(&self, ctx: &PrepareContext) -> usize {
        Self::prepared_bytes(self.b, self.parts, ctx.channels)
    }

    fn prepare(&mut self, ctx: &PrepareContext) {
        if let Err(e) = self.try_prepare(ctx) {
            e.abort()
        }
    }

    /// Allocates the input history and the frequency-domain delay line
    /// (channels × partitions × bins) fallibly.
    fn try_prepare(&mut self, ctx: &PrepareContext) -> Result<(), AllocError> {
        let (b, c) = (self.b, ctx.channels);
        let zero = Complex::new(0.0, 0.0);
        self.hist = try_filled(c.saturating_mul(2).saturating_mul(b), 0.0)?;
        self.fdl = try_filled(c.saturating_mul(self.parts).saturating_mul(b + 1), zero)?;
        self.tail = try_filled(c.saturating_mul(b), 0.0)?;
        self.acc = try_filled(c.saturating_mul(b + 1), zero)?;
        self.channels = c;
        self.reset();
        Ok(())
    }

    /// # Realtime
    /// Does not allocate, lock or panic: the FFTs use pre-allocated scratch.
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let b = self.b;
        if !self.started {
            self.started = true;
            self.cursor.phase = (ctx.position % b as u64) as usize;
        }
        let frames = ctx.frames.min(io.frames());
        let bins = b + 1;
        let parts = self.parts;
        let hl = self.head_len;
        let n_ir = self.ir_channels.max(1);
        let mut work = FftWork {
            forward: self.forward.as_ref(),
            inverse: self.inverse.as_ref(),
            time: &mut self.time,
            scratch_fwd: &mut self.scratch_fwd,
            scratch_inv: &mut self.scratch_inv,
        };
        let mut after = self.cursor;
        for c in 0..io.channels() {
            let x = io.channel_mut(c);
            let x = x.get_mut(..frames).unwrap_or(&mut []);
            if c >= self.channels {
                x.fill(0.0);
                continue;
            }
            let ic = c % n_ir;
            let fdl_len = parts * bins;
            let (Some(hist), Some(fdl), Some(tail), Some(acc), Some(head), Some(spectra)) = (
                self.hist.get_mut(c * 2 * b..(c + 1) * 2 * b),
                self.fdl.get_mut(c * fdl_len..(c + 1) * fdl_len),
                self.tail.get_mut(c * b..(c + 1) * b),
                self.acc.get_mut(c * bins..(c + 1) * bins),
                self.head.get(ic * hl..(ic + 1) * hl),
                self.spectra.get(ic * fdl_len..(ic + 1) * fdl_len),
            ) else {
                x.fill(0.0);
                continue;
            };
            after = Self::run_channel(x, hist, fdl, tail, acc, head, spectra, self.cursor, b, parts, &mut work);
        }
        // Every channel advanced alike.
        self.cursor = after;
    }

    /// # Realtime
    /// Does not allocate, lock or panic.
    fn reset(&mut self) {
        self.hist.fill(0.0);
        self.fdl.fill(Complex::new(0.0, 0.0));
        self.tail.fill(0.0);
        self.acc.fill(Complex::new(0.0, 0.0));
        self.cursor = Cursor::START;
        self.started = false;
    }

    fn latency(&self) -> usize {
        0
    }

    /// Takes the input history of another prepared `Convolver` with the same
    /// partition size and channel count: the raw history, the partition phase
    /// and the newest `min(parts)` input spectra (input spectra do not depend
    /// on the IR, so this holds even when the IR changed; a longer new IR
    /// misses only the input older than the old IR's length). The pending
    /// tail output is kept when both have FFT partitions; the partly
    /// accumulated next tail is recomputed with this IR at the next partition
    /// boundary.
    ///
    /// # Realtime
    /// Copies into pre-allocated buffers: does not allocate or free.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let Some(prev) = previous.as_any_mut().downcast_mut::<Convolver>() else {
            return false;
        };
        if prev.b != self.b || prev.channels != self.channels || prev.hist.len() != self.hist.len() {
            return false;
        }
        self.hist.copy_from_slice(&prev.hist);
        self.cursor = Cursor { phase: prev.cursor.phase, fdl_pos: 0, next_part: 1 };
        self.started = prev.started;
        let bins = self.b + 1;
        self.fdl.fill(Complex::new(0.0, 0.0));
        self.acc.fill(Complex::new(0.0, 0.0));
        let keep = self.parts.min(prev.parts);
        for c in 0..self.channels {
            for j in 0..keep {
                let dst = (self.parts - j) % self.parts;
                let src = (prev.cursor.fdl_pos + prev.parts - j) % prev.parts;
                let d = (c * self.parts + dst) * bins;
                let s = (c * prev.parts + src) * bins;
                if let (Some(d), Some(s)) = (self.fdl.get_mut(d..d + bins), prev.fdl.get(s..s + bins)) {
                    d.copy_from_slice(s);
                }
            }
        }
        if self.parts > 0 && prev.parts > 0 && self.tail.len() == prev.tail.len() {
            self.tail.copy_from_slice(&prev.tail);
        } else {
            self.tail.fill(0.0);
        }
        true
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::ParamBuffer;

    fn noise(seed: u64, n: usize) -> Vec<f64> {
        crate::kernels::testutil::xorshift(seed.max(1), n)
    }

    fn ir_noise(seed: u64, n: usize) -> Vec<f32> {
        // A decaying noise tail, like a room.
        noise(seed, n)
            .iter()
            .enumerate()
            .map(|(i, v)| (v * (-(i as f64) / (n as f64 / 3.0 + 1.0)).exp()) as f32)
            .collect()
    }

    /// Direct convolution in f64 of `x` with the f32 IR `h` (converted to f64).
    fn direct(x: &[f64], h: &[f32], scale: f64) -> Vec<f64> {
        let h: Vec<f64> = h.iter().map(|&v| v as f64 * scale).collect();
        (0..x.len()).map(|n| (0..h.len().min(n + 1)).map(|i| h[i] * x[n - i]).sum()).collect()
    }

    fn run(conv: &mut Convolver, input: &[Vec<f64>], block: usize, start_pos: u64) -> Vec<Vec<f64>> {
        let ch = input.len();
        let n = input[0].len();
        let mut out = vec![vec![0.0; n]; ch];
        let params: [ParamBuffer; 0] = [];
        let mut buf = vec![0.0; ch * block];
        let mut start = 0;
        while start < n {
            let f = block.min(n - start);
            for c in 0..ch {
                buf[c * block..c * block + f].copy_from_slice(&input[c][start..start + f]);
            }
            let ctx = ProcessContext { frames: f, position: start_pos + start as u64, params: &params };
            conv.process(&ctx, &mut Bus::new(&mut buf, ch, block, f));
            for c in 0..ch {
                out[c][start..start + f].copy_from_slice(&buf[c * block..c * block + f]);
            }
            start += f;
        }
        out
    }

    fn prepared(ir: Vec<Vec<f32>>, normalize: bool, channels: usize, block: usize) -> Convolver {
        let mut c = Convolver::new(ir, normalize);
        c.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: block, channels });
        c
    }

    fn assert_close(got: &[f64], want: &[f64], what: &str) {
        let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak > 0.0, "{what}: silent reference");
        let err = got.iter().zip(want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(err <= 1e-9 * peak, "{what}: max error {err} vs peak {peak}");
    }

    #[test]
    fn matches_direct_convolution_mono_and_stereo_irs() {
        for (k, &len) in [1usize, 37, 128, 1000, 5000].iter().enumerate() {
            let n = len + 1_500;
            let x = [noise(100 + k as u64, n), noise(200 + k as u64, n)];
            // Mono IR on a stereo bus: the same IR on both channels.
            let h = ir_noise(300 + k as u64, len);
            let mut conv = prepared(vec![h.clone()], false, 2, 128);
            assert_eq!(conv.latency(), 0);
            let out = run(&mut conv, &x, 128, 0);
            for c in 0..2 {
                assert_close(&out[c], &direct(&x[c], &h, 1.0), &format!("mono IR len {len} ch {c}"));
            }
            // Stereo IR: channel c to channel c.
            let h2 = [ir_noise(400 + k as u64, len), ir_noise(500 + k as u64, len)];
            let mut conv = prepared(h2.to_vec(), false, 2, 64);
            let out = run(&mut conv, &x, 64, 0);
            for c in 0..2 {
                assert_close(&out[c], &direct(&x[c], &h2[c], 1.0), &format!("stereo IR len {len} ch {c}"));
            }
        }
    }

    #[test]
    fn partition_sizes_and_start_positions_do_not_change_the_result() {
        let len = 1_000;
        let h = ir_noise(7, len);
        let x = noise(8, 3_000);
        let want = direct(&x, &h, 1.0);
        for b in [2usize, 16, 64, 256, 1024, 2048] {
            for pos in [0u64, 1, 1_000_003] {
                let mut conv = Convolver::with_partition_size(vec![h.clone()], false, b);
                conv.prepare(&PrepareContext { sample_rate: 44_100.0, max_block: 37, channels: 1 });
                let out = run(&mut conv, std::slice::from_ref(&x), 37, pos);
                assert_close(&out[0], &want, &format!("B {b} start {pos}"));
            }
        }
    }

    #[test]
    fn ir_channels_wrap_around_the_bus() {
        // Two IR channels on a three-channel bus: bus channel 2 uses IR channel 0.
        let h = vec![ir_noise(1, 300), ir_noise(2, 200)];
        let x = [noise(3, 800), noise(4, 800), noise(5, 800)];
        let out = run(&mut prepared(h.clone(), false, 3, 128), &x, 128, 0);
        assert_close(&out[0], &direct(&x[0], &h[0], 1.0), "ch 0");
        assert_close(&out[1], &direct(&x[1], &h[1], 1.0), "ch 1 (shorter IR channel padded)");
        assert_close(&out[2], &direct(&x[2], &h[0], 1.0), "ch 2");
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let h = vec![ir_noise(11, 2_345), ir_noise(12, 2_345)];
        let x = [noise(13, 6_000), noise(14, 6_000)];
        let reference = run(&mut prepared(h.clone(), false, 2, 1), &x, 1, 0);
        for block in [37, 64, 128] {
            let out = run(&mut prepared(h.clone(), false, 2, block), &x, block, 0);
            assert_eq!(out, reference, "block {block}");
        }
    }

    #[test]
    fn impulse_response_comes_out_at_frame_zero() {
        let h = ir_noise(21, 700);
        let mut x = vec![0.0; 1_000];
        x[0] = 1.0;
        let out = run(&mut prepared(vec![h.clone()], false, 1, 128), &[x], 128, 0);
        for (i, y) in out[0].iter().enumerate() {
            let want = h.get(i).map_or(0.0, |&v| v as f64);
            assert!((y - want).abs() <= 1e-12, "frame {i}: {y} vs {want}");
        }
    }

    #[test]
    fn normalize_gives_unit_energy_per_channel() {
        // Mono: Σh² becomes 1.
        let h = ir_noise(31, 900);
        let e: f64 = h.iter().map(|&v| (v as f64).powi(2)).sum();
        let x = noise(32, 2_000);
        let out = run(&mut prepared(vec![h.clone()], true, 1, 128), std::slice::from_ref(&x), 128, 0);
        assert_close(&out[0], &direct(&x, &h, 1.0 / e.sqrt()), "normalized mono");
        // Stereo: the total energy over both channels becomes 2 (one unit per channel).
        let h2 = vec![ir_noise(33, 500), h.iter().map(|v| v * 3.0).collect::<Vec<f32>>()];
        let e2: f64 = h2.iter().flatten().map(|&v| (v as f64).powi(2)).sum();
        let s = 1.0 / (e2 / 2.0).sqrt();
        let xs = [noise(34, 1_500), noise(35, 1_500)];
        let out = run(&mut prepared(h2.clone(), true, 2, 64), &xs, 64, 0);
        assert_close(&out[0], &direct(&xs[0], &h2[0], s), "normalized L");
        assert_close(&out[1], &direct(&xs[1], &h2[1], s), "normalized R");
        let energy: f64 = h2.iter().flatten().map(|&v| (v as f64 * s).powi(2)).sum();
        assert!((energy - 2.0).abs() < 1e-12);
        // An all-zero IR stays silent instead of dividing by zero.
        let out = run(&mut prepared(vec![vec![0.0; 10]], true, 1, 16), &[vec![1.0; 40]], 16, 0);
        assert!(out[0].iter().all(|v| *v == 0.0));
    }

    #[test]
    fn take_state_continues_and_reset_starts_over() {
        let h = ir_noise(41, 3_000);
        let x = noise(42, 5_000);
        let whole = run(&mut prepared(vec![h.clone()], false, 1, 64), std::slice::from_ref(&x), 64, 0);
        let mut first = prepared(vec![h.clone()], false, 1, 64);
        let head = run(&mut first, &[x[..1_234].to_vec()], 64, 0);
        let mut second = prepared(vec![h.clone()], false, 1, 64);
        assert!(second.take_state(&mut first));
        let mut tail = run(&mut second, &[x[1_234..].to_vec()], 64, 1_234);
        let mut joined = head[0].clone();
        joined.append(&mut tail[0]);
        assert_close(&joined, &whole[0], "take_state");
        assert_eq!(joined, whole[0]);
        second.reset();
        assert_eq!(run(&mut second, std::slice::from_ref(&x), 64, 0), whole);
        // A different partition size: nothing taken.
        let mut other = Convolver::with_partition_size(vec![h], false, 512);
        other.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: 64, channels: 1 });
        assert!(!other.take_state(&mut second));
    }

    #[test]
    fn take_state_with_a_new_ir_keeps_the_input_history() {
        // After the swap, from the next partition boundary on, the output is the
        // new IR convolved with the whole input, including input from before the swap.
        let (old, new) = (ir_noise(51, 3_000), ir_noise(52, 3_000));
        let x = noise(53, 6_000);
        let mut first = prepared(vec![old], false, 1, 64);
        let b = first.partition_size();
        assert_eq!(b, 128);
        let swap = 1_234;
        let _ = run(&mut first, &[x[..swap].to_vec()], 64, 0);
        let mut second = prepared(vec![new.clone()], false, 1, 64);
        assert!(second.take_state(&mut first));
        let out = run(&mut second, &[x[swap..].to_vec()], 64, swap as u64);
        let want = direct(&x, &new, 1.0);
        let boundary = swap.div_ceil(b) * b;
        assert_close(&out[0][boundary - swap..], &want[boundary..], "new IR after the boundary");
    }

    #[test]
    fn complex_mac_multiplies_and_accumulates() {
        let mut acc = vec![Complex::new(1.0, -1.0); 3];
        let a = [Complex::new(1.0, 2.0), Complex::new(0.0, 1.0), Complex::new(-3.0, 0.5)];
        let b = [Complex::new(3.0, -1.0), Complex::new(0.0, 1.0), Complex::new(2.0, 2.0)];
        complex_mac(&mut acc, &a, &b);
        for i in 0..3 {
            assert_eq!(acc[i], Complex::new(1.0, -1.0) + a[i] * b[i]);
        }
    }
}
