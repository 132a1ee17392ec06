//! `oscillator`: a sine, saw, square or triangle source; the saw, square and
//! triangle are band-limited (no aliasing), see [`crate::wavetable`].
//!
//! Parameters (in [`ProcessContext::params`] order):
//! - `0 = frequency` in Hz (no default; may be automated per frame). At run
//!   time a frequency at or above Nyquist (`|f| >= fs/2`), or not finite,
//!   renders silence; a negative frequency runs the waveform backwards.
//! - `1 = amplitude`, linear, default 1.
//! - `2 = phase`, a phase offset in radians, default 0 (may be automated; it
//!   is added to the running phase, not accumulated).
//!
//! The waveform is construction-only.
//!
//! Output at frame `n`: `amplitude · wave(φ_n + phase)`, with
//! `φ_n = 2π · Σ_{m<n} f_m/fs` (the running phase is the sum of the previous
//! frames' increments, kept in 0.64 fixed-point cycles, so it wraps exactly
//! and a sine stays within 1e-9 of `sin` over minutes; see
//! [`crate::kernels::osc`]). At frame 0 a sine outputs `amplitude·sin(phase)`.
//!
//! Speed: a block whose frequency and phase offset are constant runs the
//! vector kernels of [`crate::kernels::osc`] (a polynomial sine; a cubic
//! B-spline table read with one 16-byte load per level and frame, eight
//! frames per step on AVX2); other blocks run the same arithmetic frame by
//! frame. A saw, square or triangle whose frequency falls between two table
//! levels reads both and crossfades them; once the same selection has held
//! for [`MIX_AFTER_FRAMES`] frames it reads one table of its own that holds
//! the crossfade (within 4e-7 of the two-level read: a few f32 ulps, the
//! tables' precision), which costs about half as much per frame. Which frames
//! read it follows a per-frame rule, so the samples still do not depend on
//! the block split. That table takes 16 KiB per band-limited oscillator
//! (allocated in `prepare`).
//!
//! Waveform conventions (`wave(φ)`, period 2π, all odd functions, so all start
//! at 0 with phase 0 like `sin`):
//! - sine: `sin φ`;
//! - saw: rises from -1 to +1 over a period: `φ/π` on `(-π, π)`, jumping from
//!   +1 to -1 at `φ = π`; Fourier series `(2/π) Σ (-1)^(k+1) sin(kφ)/k`;
//! - square: +1 on `(0, π)` (the first half period), -1 on `(π, 2π)`;
//!   `(4/π) Σ_{k odd} sin(kφ)/k`;
//! - triangle: 0 at `φ = 0`, +1 at a quarter period, -1 at three quarters;
//!   `(8/π²) Σ_{k odd} (-1)^((k-1)/2) sin(kφ)/k²`.
//!
//! Band-limited saw and square contain only harmonics below Nyquist (the
//! partial Fourier sum), so they ripple and overshoot ±1 near their jumps by up
//! to about 18% (Gibbs); the harmonics themselves have exactly the Fourier
//! amplitudes, except the few nearest Nyquist, which fade in and out smoothly
//! as the frequency moves (at most the top ~16% of the band; see
//! [`crate::wavetable`]).
//!
//! The shared tables are built on the first `prepare` of a saw, square or
//! triangle (once per process); a host can
//! call [`wavetable::bank`] at start-up to take that off graph compilation.

use core::f64::consts::PI;

use crate::kernels::osc::{self, phase_of_cycles, TableLevel, TableMix};
use crate::kernels::simd_level;
use crate::processor::{Bus, ParamBlock, ParamSpec, PrepareContext, ProcessContext, Processor};
use crate::wavetable::{self, Selection, Shape, Table};

/// Parameter table of [`Oscillator`].
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec::new("frequency", 0.0, 1.0e6),
    ParamSpec::new("amplitude", -1.0e6, 1.0e6),
    ParamSpec::new("phase", -1.0e6, 1.0e6),
];

/// `1/(2π)`.
const INV_TAU: f64 = 0.5 / PI;

/// The oscillator's waveform (conventions in the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waveform {
    /// `sin φ`.
    Sine,
    /// Band-limited saw rising from -1 to +1.
    Saw,
    /// Band-limited square, +1 for the first half period.
    Square,
    /// Band-limited triangle, +1 at a quarter period.
    Triangle,
}

impl Waveform {
    /// Parses the API names `"sine"`, `"saw"`, `"square"`, `"triangle"`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sine" => Some(Self::Sine),
            "saw" => Some(Self::Saw),
            "square" => Some(Self::Square),
            "triangle" => Some(Self::Triangle),
            _ => None,
        }
    }

    /// The band-limited table shape, `None` for the sine.
    fn shape(self) -> Option<Shape> {
        match self {
            Self::Sine => None,
            Self::Saw => Some(Shape::Saw),
            Self::Square => Some(Shape::Square),
            Self::Triangle => Some(Shape::Triangle),
        }
    }
}

/// A periodic source with a running phase.
///
/// ```
/// use ferrite_dsp::oscillator::{Oscillator, Waveform};
/// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
///
/// let mut osc = Oscillator::new(Waveform::Saw);
/// osc.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 64, channels: 2 });
/// // frequency 440 Hz, amplitude 0.5, phase 0
/// let params = [ParamBuffer::new(440.0, 64), ParamBuffer::new(0.5, 64), ParamBuffer::new(0.0, 64)];
/// let mut data = vec![0.0; 2 * 64];
/// let ctx = ProcessContext { frames: 64, position: 0, params: &params };
/// osc.process(&ctx, &mut Bus::new(&mut data, 2, 64, 64));
/// assert_eq!(data[..64], data[64..]); // the same signal in every channel
/// assert!(data.iter().any(|&v| v > 0.2));
/// ```
#[derive(Debug, Clone)]
pub struct Oscillator {
    waveform: Waveform,
    /// The shared band-limited table (set in `prepare`; `None` for the sine).
    table: Option<&'static Table>,
    /// `1 / sample_rate`, 0 until prepared.
    inv_sr: f64,
    /// Running phase, a fraction of a cycle in 0.64 fixed point (see
    /// [`crate::kernels::osc`]).
    phase: u64,
    /// The table levels chosen for the last constant increment (`inc`, levels):
    /// a constant frequency selects once, not every block.
    cached: (f64, Option<Selection>),
    /// The crossfaded table of a selection held long enough (see [`Mixed`]).
    mixed: Mixed,
    /// Frequency, amplitude and phase offset of the last block, when all
    /// three were constant (for [`Processor::process_unchanged`]).
    held: Option<[f64; 3]>,
}

/// Frames a crossfaded selection (two levels) must have been in use, without
/// a break, before the oscillator reads it from its own one-level table: a
/// read of one level costs about half of a read of two.
pub const MIX_AFTER_FRAMES: u64 = 4096;

/// An oscillator's own crossfaded table ([`Table::fill_mixed`]) and the
/// per-frame rule that decides when it is read: frame `n` reads it when its
/// selection equals the previous [`MIX_AFTER_FRAMES`] frames' (so the same
/// frames read it whatever the block split); it is filled in slices while the
/// count runs (a share of the table per block), and completed at once if a
/// frame needs it earlier.
#[derive(Debug, Clone, Default)]
struct Mixed {
    /// `max_points` f32 (allocated in `prepare`).
    data: Vec<f32>,
    /// The selection of the last frame and how many frames in a row had it.
    sel: Option<Selection>,
    count: u64,
    /// Points of `data` written for `sel`, and how many it needs.
    built: usize,
    points: usize,
}

impl Mixed {
    /// Frame rule: the selection `sel` for the next `n` frames (one
    /// selection for all). Returns how many of them come before the switch
    /// to the mixed table (all `n` when it is not used).
    #[inline]
    fn advance(&mut self, table: &Table, sel: Option<Selection>, n: u64) -> u64 {
        if sel != self.sel {
            self.sel = sel;
            self.count = 0;
            self.built = 0;
            self.points = sel.and_then(|s| table.mixed_points(s)).filter(|&p| p <= self.data.len()).unwrap_or(0);
        }
        if self.points == 0 {
            self.count = self.count.saturating_add(n);
            return n;
        }
        let before = MIX_AFTER_FRAMES.saturating_sub(self.count).min(n);
        self.count = self.count.saturating_add(n);
        before
    }

    /// Fills the table up to the share due after `count` frames (all of it
    /// by half of [`MIX_AFTER_FRAMES`]), or completely with `all`.
    #[inline]
    fn build(&mut self, table: &Table, all: bool) {
        let Some(sel) = self.sel else { return };
        if self.built >= self.points {
            return;
        }
        let due = if all {
            self.points
        } else {
            let share = (self.points as u64).saturating_mul(self.count) / (MIX_AFTER_FRAMES / 2).max(1);
            (share as usize).min(self.points)
        };
        if due > self.built {
            table.fill_mixed(sel, &mut self.data, self.built..due);
            self.built = due;
        }
    }

    /// The mixed table as the kernel reads it (complete).
    #[inline]
    fn kernel(&self) -> Option<TableMix<'_>> {
        let lo = TableLevel::new(self.data.get(..self.points)?)?;
        Some(TableMix { lo, hi: None })
    }

    /// Forgets the selection (the next frames count from zero).
    fn clear(&mut self) {
        self.sel = None;
        self.count = 0;
        self.built = 0;
        self.points = 0;
    }
}

impl Oscillator {
    /// An oscillator of `waveform`, phase 0. The frequency, amplitude and
    /// phase offset arrive as parameters.
    pub fn new(waveform: Waveform) -> Self {
        Self {
            waveform,
            table: None,
            inv_sr: 0.0,
            phase: 0,
            cached: (f64::NAN, None),
            mixed: Mixed::default(),
            held: None,
        }
    }

    /// The waveform.
    pub fn waveform(&self) -> Waveform {
        self.waveform
    }

    /// Renders `out.len()` frames.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn render(&mut self, freq: ParamBlock<'_>, amp: ParamBlock<'_>, offset: ParamBlock<'_>, out: &mut [f64]) {
        // Every per-frame value is the same pure function of that frame's
        // parameters and the fixed-point phase, whichever path runs, so the
        // output does not depend on how the render is split into blocks.
        if let (Some(f), Some(o)) = (freq.constant(), offset.constant()) {
            self.render_constant(f * self.inv_sr, phase_of_radians(o), amp, out);
            return;
        }
        let const_sel = freq.constant().map(|f| self.table.and_then(|t| t.select(f * self.inv_sr)));
        let mut p = self.phase;
        for (i, y) in out.iter_mut().enumerate() {
            let inc = freq.at(i) * self.inv_sr;
            let q = p.wrapping_add(phase_of_radians(offset.at(i)));
            *y = match (self.waveform, self.table) {
                (Waveform::Sine, _) if inc.abs() < 0.5 => amp.at(i) * osc::sine_of_phase(q),
                (Waveform::Sine, _) => 0.0,
                (_, Some(t)) => {
                    let sel = if inc.abs() < 0.5 {
                        match const_sel {
                            Some(s) => s,
                            None => t.select(inc),
                        }
                    } else {
                        None
                    };
                    // The same frame rule as the constant path.
                    if self.mixed.advance(t, sel, 1) == 0 {
                        self.mixed.build(t, true);
                        self.mixed.kernel().map_or(0.0, |m| amp.at(i) * m.read(q))
                    } else {
                        sel.and_then(|s| t.mix(s)).map_or(0.0, |m| amp.at(i) * m.read(q))
                    }
                }
                _ => 0.0,
            };
            p = advance(p, inc);
        }
        self.phase = p;
    }

    /// [`Self::render`] for a constant frequency (`inc` cycles per frame) and
    /// phase offset: the vector kernels of [`crate::kernels::osc`]; a varying
    /// amplitude multiplies the unit waveform afterwards (the same product).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn render_constant(&mut self, inc: f64, off: u64, amp: ParamBlock<'_>, out: &mut [f64]) {
        let n = out.len() as u64;
        if !inc.is_finite() {
            // Silence, phase held (no selection: the frame rule starts over).
            self.mixed.clear();
            out.fill(0.0);
            return;
        }
        let step = phase_of_cycles(inc);
        let end = self.phase.wrapping_add(step.wrapping_mul(n));
        let a = amp.constant().unwrap_or(1.0);
        let level = simd_level();
        let start = self.phase.wrapping_add(off);
        let rendered = match (self.waveform, self.table) {
            (Waveform::Sine, _) if inc.abs() < 0.5 => {
                osc::sine_at(level, a, start, step, out);
                true
            }
            (_, Some(t)) => {
                let sel = if inc.abs() < 0.5 { self.select(t, inc) } else { None };
                // Frames before the switch read both levels, the rest the mixed table.
                let before = self.mixed.advance(t, sel, n) as usize;
                let (two, one) = out.split_at_mut(before.min(out.len()));
                let mut ok = true;
                if !two.is_empty() {
                    match sel.and_then(|s| t.mix(s)) {
                        Some(m) => {
                            osc::table_at(level, &m, a, start, step, two);
                        }
                        None => ok = false,
                    }
                }
                if !one.is_empty() {
                    self.mixed.build(t, true);
                    match self.mixed.kernel() {
                        Some(m) => {
                            let at = start.wrapping_add(step.wrapping_mul(before as u64));
                            osc::table_at(level, &m, a, at, step, one);
                        }
                        None => ok = false,
                    }
                }
                self.mixed.build(t, false);
                ok
            }
            _ => false,
        };
        if !rendered {
            out.fill(0.0);
        } else if amp.constant().is_none() {
            for (i, y) in out.iter_mut().enumerate() {
                *y *= amp.at(i);
            }
        }
        self.phase = end;
    }

    /// `t.select(inc)`, remembered for the next call with the same `inc`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    fn select(&mut self, t: &Table, inc: f64) -> Option<Selection> {
        if self.cached.0 != inc {
            self.cached = (inc, t.select(inc));
        }
        self.cached.1
    }

    /// Advances the phase by `frames` frames without output.
    fn advance(&mut self, freq: ParamBlock<'_>, frames: usize) {
        self.mixed.clear();
        for i in 0..frames {
            self.phase = advance(self.phase, freq.at(i) * self.inv_sr);
        }
    }
}

/// A phase offset in radians as a fixed-point phase (not finite: 0).
#[inline(always)]
fn phase_of_radians(radians: f64) -> u64 {
    phase_of_cycles(radians * INV_TAU)
}

/// The running phase after a frame of increment `inc` cycles (held when
/// `inc` is not finite).
#[inline(always)]
fn advance(p: u64, inc: f64) -> u64 {
    if inc.is_finite() {
        p.wrapping_add(phase_of_cycles(inc))
    } else {
        p
    }
}

impl Oscillator {
    /// [`Processor::process`] on given parameter blocks.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn process_with(&mut self, freq: ParamBlock<'_>, amp: ParamBlock<'_>, offset: ParamBlock<'_>, io: &mut Bus<'_>) {
        if io.channels() == 0 {
            self.advance(freq, io.frames());
            return;
        }
        self.render(freq, amp, offset, io.channel_mut(0));
        for c in 1..io.channels() {
            if let Some((src, dst)) = io.pair_mut(0, c) {
                if dst.len() == src.len() {
                    dst.copy_from_slice(src);
                }
            }
        }
    }
}

impl Processor for Oscillator {
    fn prepare(&mut self, ctx: &PrepareContext) {
        // The level is read (and cached) here, on the control side.
        let _ = simd_level();
        self.inv_sr = if ctx.sample_rate.is_finite() && ctx.sample_rate > 0.0 { 1.0 / ctx.sample_rate } else { 0.0 };
        self.table = self.waveform.shape().map(|s| wavetable::bank().table(s));
        self.cached = (f64::NAN, None);
        let points = self.table.map_or(0, Table::max_points);
        if self.mixed.data.len() != points {
            self.mixed = Mixed { data: vec![0.0; points], ..Mixed::default() };
        }
    }

    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let (freq, amp, offset) = (ctx.param(0), ctx.param(1), ctx.param(2));
        self.held = match (freq.constant(), amp.constant(), offset.constant()) {
            (Some(f), Some(a), Some(o)) => Some([f, a, o]),
            _ => None,
        };
        self.process_with(freq, amp, offset, io);
    }

    /// Parameters as in the previous block: its constants, without reading
    /// the parameter buffers.
    fn process_unchanged(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        match self.held {
            Some([f, a, o]) => {
                self.process_with(ParamBlock::Constant(f), ParamBlock::Constant(a), ParamBlock::Constant(o), io)
            }
            None => self.process(ctx, io),
        }
    }

    fn reset(&mut self) {
        self.phase = 0;
        self.mixed.clear();
    }

    /// Takes the running phase of a previous [`Oscillator`] (of any waveform).
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        match previous.as_any_mut().downcast_mut::<Self>() {
            Some(prev) => {
                self.phase = prev.phase;
                // The mixed table too (same waveform and table size): a swap
                // of buffers, no allocation; the previous one keeps ours.
                if prev.waveform == self.waveform && prev.mixed.data.len() == self.mixed.data.len() {
                    core::mem::swap(&mut self.mixed, &mut prev.mixed);
                } else {
                    self.mixed.clear();
                }
                true
            }
            None => false,
        }
    }

    /// Every channel of the block is written (a generator).
    fn overwrites_output(&self) -> bool {
        true
    }

    /// Every channel is channel 0: a one-channel bus gets channel 0 only.
    fn mono_source(&self) -> bool {
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

    const SR: f64 = 48000.0;

    /// Per-frame parameter values for a render.
    #[derive(Clone)]
    enum P {
        Const(f64),
        Frames(Vec<f64>),
    }

    fn prepared(w: Waveform, block: usize, channels: usize) -> Oscillator {
        let mut o = Oscillator::new(w);
        o.prepare(&PrepareContext { sample_rate: SR, max_block: block, channels });
        o
    }

    /// Renders `frames` frames in blocks of `block` on `channels` channels;
    /// checks every channel carries the same signal and returns it.
    fn render(o: &mut Oscillator, params: &[P; 3], frames: usize, block: usize, channels: usize) -> Vec<f64> {
        let mut bufs: Vec<ParamBuffer> = params.iter().map(|_| ParamBuffer::new(0.0, block)).collect();
        let mut out = Vec::with_capacity(frames);
        let mut pos = 0;
        while pos < frames {
            let n = block.min(frames - pos);
            for (b, p) in bufs.iter_mut().zip(params) {
                match p {
                    P::Const(v) => b.set_constant(*v),
                    P::Frames(v) => b.varying_mut(n).copy_from_slice(&v[pos..pos + n]),
                }
            }
            let mut data = vec![99.0; channels.max(1) * block];
            let ctx = ProcessContext { frames: n, position: pos as u64, params: &bufs };
            let mut bus = Bus::new(&mut data, channels, block, n);
            o.process(&ctx, &mut bus);
            for c in 1..channels {
                assert_eq!(bus.channel(c), bus.channel(0));
            }
            out.extend_from_slice(bus.channel(0));
            pos += n;
        }
        out
    }

    fn constant(f: f64, a: f64, ph: f64) -> [P; 3] {
        [P::Const(f), P::Const(a), P::Const(ph)]
    }

    #[test]
    fn sine_matches_sin_with_phase_offset_over_ten_seconds() {
        let (f, a, ph) = (440.0, 0.8, 0.7);
        let frames = 10 * SR as usize + 1000;
        let y = render(&mut prepared(Waveform::Sine, 128, 2), &constant(f, a, ph), frames, 128, 2);
        assert!((y[0] - a * ph.sin()).abs() < 1e-15);
        let mut worst: f64 = 0.0;
        for (n, &v) in y.iter().enumerate() {
            let want = a * (2.0 * PI * f * n as f64 / SR + ph).sin();
            worst = worst.max((v - want).abs());
        }
        assert!(worst < 1e-9, "max error {worst}");
    }

    #[test]
    fn sine_rms_is_amplitude_over_root_two() {
        for (a, ph) in [(0.5, 0.0), (1.3, 2.0)] {
            // 1000 Hz at 48 kHz: 1000 whole periods in one second.
            let y = render(&mut prepared(Waveform::Sine, 64, 1), &constant(1000.0, a, ph), SR as usize, 64, 1);
            let rms = (y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64).sqrt();
            assert!((rms - a / 2f64.sqrt()).abs() < 1e-9, "rms {rms}");
        }
    }

    #[test]
    fn automated_frequency_and_phase_accumulate_per_frame() {
        let n = 20000;
        let freq: Vec<f64> = (0..n).map(|i| 200.0 + 3000.0 * (i as f64 / n as f64).powi(2)).collect();
        let offs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.001).sin()).collect();
        let params = [P::Frames(freq.clone()), P::Const(1.0), P::Frames(offs.clone())];
        let y = render(&mut prepared(Waveform::Sine, 128, 1), &params, n, 128, 1);
        let mut phi = 0.0;
        for i in 0..n {
            let want = (phi + offs[i]).sin();
            assert!((y[i] - want).abs() < 1e-9, "frame {i}");
            phi += 2.0 * PI * freq[i] / SR;
        }
    }

    /// Splits the energy of `x` (exactly `p` periods of a waveform) into DC,
    /// harmonics (DFT bins `h·p`) and everything else; also returns each
    /// harmonic's sine coefficient `-2·Im(X)/M` and cosine coefficient `2·Re(X)/M`.
    struct Split {
        total: f64,
        non_harmonic: f64,
        sin_coef: Vec<f64>,
        cos_coef: Vec<f64>,
    }

    fn split(x: &[f64], p: usize) -> Split {
        let m = x.len();
        let total: f64 = x.iter().map(|v| v * v).sum();
        let mean = x.iter().sum::<f64>() / m as f64;
        let mut harmonic = m as f64 * mean * mean;
        let (mut sin_coef, mut cos_coef) = (vec![0.0], vec![0.0]);
        let mut h = 1;
        while h * p < m / 2 {
            let k = h * p;
            let (mut re, mut im) = (0.0, 0.0);
            for (n, &v) in x.iter().enumerate() {
                let ang = 2.0 * PI * ((k * n) % m) as f64 / m as f64;
                re += v * ang.cos();
                im -= v * ang.sin();
            }
            harmonic += 2.0 * (re * re + im * im) / m as f64;
            sin_coef.push(-2.0 * im / m as f64);
            cos_coef.push(2.0 * re / m as f64);
            h += 1;
        }
        Split { total, non_harmonic: total - harmonic, sin_coef, cos_coef }
    }

    #[test]
    fn low_notes_alias_below_80_db_too() {
        // The levels with hundreds of harmonics, where the tables' images
        // are strongest (linear interpolation on 16 points per harmonic gave
        // -78.5 dB at 110 Hz and -76.0 dB at 221 Hz for the saw). As above:
        // M frames hold p periods, aliases land between the harmonic bins.
        // Measured after the switch to the oscillator's own mixed table.
        let m = 32768;
        let skip = 2 * MIX_AFTER_FRAMES as usize;
        for p in [39usize, 75, 151] {
            let f = p as f64 * SR / m as f64; // 57.1, 109.9, 221.2 Hz
            for w in [Waveform::Saw, Waveform::Square, Waveform::Triangle] {
                let y = render(&mut prepared(w, 128, 1), &constant(f, 1.0, 0.0), skip + m, 128, 1);
                let s = split(&y[skip..], p);
                let alias_db = 10.0 * (s.non_harmonic.max(1e-30) / s.total).log10();
                println!("{w:?} at {f:.1} Hz: aliasing {alias_db:.1} dB");
                assert!(alias_db < -80.0, "{w:?} at {f} Hz: aliasing {alias_db} dB");
            }
        }
    }

    #[test]
    fn band_limited_waves_have_no_aliasing_and_fourier_amplitudes() {
        // M frames hold exactly p periods (p odd, coprime with M): a component
        // aliased around fs lands between the harmonic bins, where it is counted.
        let m = 4096;
        for p in [85usize, 427] {
            let f = p as f64 * SR / m as f64; // 996.09 Hz, 5003.9 Hz
            let inc = p as f64 / m as f64;

            // The threshold can fail: a naive saw (2·frac(φ/2π + 1/2) - 1) aliases.
            let naive: Vec<f64> = (0..m)
                .map(|n| {
                    let q = n as f64 * inc + 0.5;
                    2.0 * (q - q.floor()) - 1.0
                })
                .collect();
            let s = split(&naive, p);
            let naive_db = 10.0 * (s.non_harmonic / s.total).log10();
            assert!(naive_db > -60.0, "naive saw at {f} Hz: {naive_db} dB");

            for (w, shape) in
                [(Waveform::Saw, Shape::Saw), (Waveform::Square, Shape::Square), (Waveform::Triangle, Shape::Triangle)]
            {
                let y = render(&mut prepared(w, 128, 1), &constant(f, 1.0, 0.0), m, 128, 1);
                let s = split(&y, p);
                let alias_db = 10.0 * (s.non_harmonic.max(1e-30) / s.total).log10();
                assert!(alias_db < -80.0, "{w:?} at {f} Hz: aliasing {alias_db} dB (naive saw {naive_db} dB)");
                for h in 1..s.sin_coef.len() {
                    let want = shape.coefficient(h as u32);
                    let (b, c) = (s.sin_coef[h], s.cos_coef[h]);
                    // sin phase: no cosine part.
                    assert!(c.abs() < 1e-6, "{w:?} {f} Hz harmonic {h}: cos {c}");
                    if (h + 1) as f64 * f <= 0.8 * SR / 2.0 {
                        // Full-amplitude band: the Fourier series, sign included
                        // (the spline's pass-band droop is compensated exactly; 2e-4 is loose).
                        assert!(
                            (b - want).abs() < 2e-4 * want.abs() + 1e-7,
                            "{w:?} {f} Hz harmonic {h}: {b} vs {want}"
                        );
                    } else {
                        // Near Nyquist: faded, never boosted nor inverted
                        // (a harmonic faded out entirely measures as the f32
                        // tables' rounding noise, below 1e-8, of either sign).
                        assert!(
                            (b * want >= 0.0 || b.abs() < 1e-8) && b.abs() <= want.abs() * (1.0 + 2e-4) + 1e-7,
                            "{w:?} {f} Hz h {h}: {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn waveform_conventions_at_low_frequency() {
        // 12 Hz: 4000 frames per period, quarter period = 1000 frames.
        let at = |w: Waveform, n: usize| render(&mut prepared(w, 128, 1), &constant(12.0, 1.0, 0.0), n + 1, 128, 1)[n];
        for w in [Waveform::Saw, Waveform::Square, Waveform::Triangle] {
            assert!(at(w, 0).abs() < 1e-6, "{w:?} starts at 0");
        }
        let close = |a: f64, b: f64| (a - b).abs() < 1e-2;
        assert!(close(at(Waveform::Saw, 1000), 0.5) && close(at(Waveform::Saw, 3000), -0.5));
        assert!(close(at(Waveform::Saw, 1960), 0.98));
        assert!(close(at(Waveform::Square, 1000), 1.0) && close(at(Waveform::Square, 3000), -1.0));
        assert!(close(at(Waveform::Triangle, 1000), 1.0) && close(at(Waveform::Triangle, 3000), -1.0));
        assert!(close(at(Waveform::Triangle, 500), 0.5));
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let n = 3000;
        // A sweep from 20 Hz past Nyquist (30 kHz) and down to a negative frequency.
        let freq: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64;
                if t < 0.7 {
                    20.0 * (1500f64).powf(t / 0.7)
                } else {
                    30000.0 - 40000.0 * (t - 0.7) / 0.3
                }
            })
            .collect();
        let amp: Vec<f64> = (0..n).map(|i| 0.5 + 0.5 * (i as f64 * 0.01).cos()).collect();
        let offs: Vec<f64> = (0..n).map(|i| 3.0 * (i as f64 * 0.002).sin()).collect();
        let params = [P::Frames(freq), P::Frames(amp), P::Frames(offs)];
        for w in [Waveform::Sine, Waveform::Saw, Waveform::Square, Waveform::Triangle] {
            let reference = render(&mut prepared(w, 1, 2), &params, n, 1, 2);
            assert!(reference.iter().all(|v| v.is_finite()));
            assert!(reference.iter().any(|v| v.abs() > 0.1));
            for block in [37, 64, 128] {
                let y = render(&mut prepared(w, block, 2), &params, n, block, 2);
                assert_eq!(y, reference, "{w:?} block {block}");
            }
        }
    }

    /// Renders `freq` (per frame; amplitude 0.8, no offset) in blocks of
    /// `block`, handing a block's frequency as constant when all its frames
    /// are equal (the constant path) and per frame otherwise.
    fn render_held(o: &mut Oscillator, freq: &[f64], block: usize) -> Vec<f64> {
        let mut bufs: Vec<ParamBuffer> = (0..3).map(|_| ParamBuffer::new(0.0, block)).collect();
        bufs[1].set_constant(0.8);
        let mut out = Vec::with_capacity(freq.len());
        let mut pos = 0;
        while pos < freq.len() {
            let n = block.min(freq.len() - pos);
            let f = &freq[pos..pos + n];
            if f.iter().all(|&v| v == f[0]) {
                bufs[0].set_constant(f[0]);
            } else {
                bufs[0].varying_mut(n).copy_from_slice(f);
            }
            let mut data = vec![0.0; block];
            let ctx = ProcessContext { frames: n, position: pos as u64, params: &bufs };
            o.process(&ctx, &mut Bus::new(&mut data, 1, block, n));
            out.extend_from_slice(&data[..n]);
            pos += n;
        }
        out
    }

    #[test]
    fn held_selections_read_the_mixed_table_from_the_same_frame_for_any_split() {
        // Held, jumped, held again, then a glide: the frames that read the
        // oscillator's own crossfaded table are the same for every block
        // split and path, and the waveform matches the two-level read to f32
        // precision (computed here from the table's levels, frame by frame).
        let hold = MIX_AFTER_FRAMES as usize;
        let n = 3 * hold + 2000;
        let freq: Vec<f64> = (0..n)
            .map(|i| match i {
                i if i < hold + 900 => 110.0,
                i if i < 2 * hold + 1500 => 173.3,
                i if i < 3 * hold + 1000 => 110.0,
                i => 110.0 + (i - 3 * hold - 1000) as f64 * 0.01,
            })
            .collect();
        for w in [Waveform::Saw, Waveform::Square, Waveform::Triangle] {
            let reference = render_held(&mut prepared(w, 1, 1), &freq, 1);
            for block in [37, 128, 4096, 5000] {
                let y = render_held(&mut prepared(w, block, 1), &freq, block);
                assert!(y.iter().map(|v| v.to_bits()).eq(reference.iter().map(|v| v.to_bits())), "{w:?} block {block}");
            }
            let t = wavetable::bank().table(w.shape().unwrap());
            let mut p = 0u64;
            let mut worst = 0.0f64;
            let mut mixed_frames = 0;
            for (i, (&f, &y)) in freq.iter().zip(&reference).enumerate() {
                let inc = f / SR;
                let sel = t.select(inc).unwrap();
                let want = 0.8 * t.mix(sel).unwrap().read(p);
                worst = worst.max((y - want).abs());
                // Frames that read the mixed table: the held stretches past
                // their first MIX_AFTER_FRAMES (900 and 600 frames).
                let mixed = (hold..hold + 900).contains(&i) || (2 * hold + 900..2 * hold + 1500).contains(&i);
                mixed_frames += usize::from(mixed && y != want);
                // A few f32 ulps: each read evaluates its spline in f32.
                assert!((y - want).abs() < 4e-7, "{w:?} frame {i}: {y} vs {want}");
                p = p.wrapping_add(phase_of_cycles(inc));
            }
            // Those frames read the mixed table: most differ from the
            // two-level read in the last bits.
            assert!(mixed_frames > 1200, "{w:?}: {mixed_frames} of 1500 frames differ from the two-level read");
            println!("{w:?}: largest difference to the two-level read {worst:e}");
        }
    }

    #[test]
    fn process_unchanged_gives_the_bits_of_process() {
        // Blocks whose parameters equal the previous block's may come through
        // `process_unchanged`; a changed block (k % 7 == 0) through `process`.
        for w in [Waveform::Sine, Waveform::Saw] {
            let (mut a, mut b) = (prepared(w, 64, 2), prepared(w, 64, 2));
            for k in 0..200u64 {
                let f = 100.0 + (k / 7) as f64 * 31.0;
                let params = [ParamBuffer::new(f, 64), ParamBuffer::new(0.6, 64), ParamBuffer::new(0.2, 64)];
                let ctx = ProcessContext { frames: 64, position: k * 64, params: &params };
                let (mut x, mut y) = (vec![0.0; 128], vec![0.0; 128]);
                a.process(&ctx, &mut Bus::new(&mut x, 2, 64, 64));
                if k % 7 == 0 {
                    b.process(&ctx, &mut Bus::new(&mut y, 2, 64, 64));
                } else {
                    b.process_unchanged(&ctx, &mut Bus::new(&mut y, 2, 64, 64));
                }
                assert!(x.iter().map(|v| v.to_bits()).eq(y.iter().map(|v| v.to_bits())), "{w:?} block {k}");
            }
        }
    }

    #[test]
    fn a_swap_carries_the_mixed_table() {
        let hold = MIX_AFTER_FRAMES as usize;
        let freq = vec![97.0; 3 * hold];
        let whole = render_held(&mut prepared(Waveform::Saw, 128, 1), &freq, 128);
        let mut first = prepared(Waveform::Saw, 128, 1);
        let mut a = render_held(&mut first, &freq[..2 * hold], 128);
        let mut second = prepared(Waveform::Saw, 128, 1);
        assert!(second.take_state(&mut first));
        a.extend(render_held(&mut second, &freq[2 * hold..], 128));
        assert!(a.iter().map(|v| v.to_bits()).eq(whole.iter().map(|v| v.to_bits())));
    }

    #[test]
    fn constant_and_varying_blocks_of_equal_values_render_identically() {
        // The engine hands a parameter as constant or per-frame depending on
        // automation and block boundaries; the samples must not depend on it.
        let n = 1000;
        for w in [Waveform::Sine, Waveform::Saw, Waveform::Square, Waveform::Triangle] {
            for (f, a, ph) in [(1234.5, 0.7, 1.1), (17.0, 1.0, -40.0), (9000.0, 0.3, 0.0)] {
                let c = render(&mut prepared(w, 64, 1), &constant(f, a, ph), n, 64, 1);
                let v = [P::Frames(vec![f; n]), P::Frames(vec![a; n]), P::Frames(vec![ph; n])];
                let v = render(&mut prepared(w, 64, 1), &v, n, 64, 1);
                assert_eq!(c, v, "{w:?} {f} Hz");
            }
        }
    }

    #[test]
    fn nyquist_and_beyond_are_silent_and_never_panic() {
        for w in [Waveform::Sine, Waveform::Saw, Waveform::Square, Waveform::Triangle] {
            for f in [24000.0, 30000.0, 1.0e6, -24000.0, f64::NAN, f64::INFINITY] {
                let y = render(&mut prepared(w, 64, 2), &constant(f, 1.0, 0.3), 200, 64, 2);
                assert!(y.iter().all(|&v| v == 0.0), "{w:?} at {f} Hz");
            }
            // Just below Nyquist: a (non-silent) fundamental only.
            let y = render(&mut prepared(w, 64, 1), &constant(23000.0, 1.0, 0.3), 200, 64, 1);
            assert!(y.iter().all(|v| v.is_finite()) && y.iter().any(|v| v.abs() > 0.01));
        }
    }

    #[test]
    fn negative_frequency_runs_backwards() {
        let y = render(&mut prepared(Waveform::Sine, 64, 1), &constant(-300.0, 1.0, 0.4), 5000, 64, 1);
        for (n, v) in y.iter().enumerate() {
            assert!((v - (-2.0 * PI * 300.0 * n as f64 / SR + 0.4).sin()).abs() < 1e-9);
        }
        // Odd waveforms: wave(-φ) = -wave(φ).
        for w in [Waveform::Saw, Waveform::Square, Waveform::Triangle] {
            let fwd = render(&mut prepared(w, 64, 1), &constant(700.0, 1.0, 0.0), 3000, 64, 1);
            let back = render(&mut prepared(w, 64, 1), &constant(-700.0, 1.0, 0.0), 3000, 64, 1);
            for (a, b) in fwd.iter().zip(&back) {
                assert!((a + b).abs() < 1e-6, "{w:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn take_state_keeps_the_phase_and_reset_clears_it() {
        let params = constant(440.0, 1.0, 0.25);
        let mut first = prepared(Waveform::Sine, 128, 1);
        let a = render(&mut first, &params, 1000, 128, 1);
        let mut second = prepared(Waveform::Sine, 64, 1);
        assert!(second.take_state(&mut first));
        let b = render(&mut second, &params, 1000, 64, 1);
        for (n, v) in a.iter().chain(&b).enumerate() {
            assert!((v - (2.0 * PI * 440.0 * n as f64 / SR + 0.25).sin()).abs() < 1e-9, "frame {n}");
        }
        // A fresh instance restarts at phase 0, which differs at frame 1000.
        let fresh = render(&mut prepared(Waveform::Sine, 64, 1), &params, 1, 64, 1);
        assert!((fresh[0] - b[0]).abs() > 0.1);
        assert!(!second.take_state(&mut crate::gain::Gain::new()));
        second.reset();
        let r = render(&mut second, &params, 1, 64, 1);
        assert!((r[0] - 0.25f64.sin()).abs() < 1e-15);
    }

    #[test]
    fn oscillators_share_one_table_bank() {
        let mut a = Oscillator::new(Waveform::Saw);
        let mut b = Oscillator::new(Waveform::Saw);
        a.prepare(&PrepareContext { sample_rate: 44100.0, max_block: 64, channels: 2 });
        b.prepare(&PrepareContext { sample_rate: 96000.0, max_block: 64, channels: 2 });
        assert!(core::ptr::eq(a.table.unwrap(), b.table.unwrap()));
        assert!(Oscillator::new(Waveform::Sine).table.is_none());
        assert_eq!(Waveform::from_name("triangle"), Some(Waveform::Triangle));
        assert_eq!(Waveform::from_name("noise"), None);
    }
}
