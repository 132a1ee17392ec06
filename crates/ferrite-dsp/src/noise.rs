//! `noise`: seeded white, pink or brown noise.
//!
//! Parameters (in [`ProcessContext::params`] order):
//! - `0 = amplitude`, linear, default 1 (may be automated per frame).
//!
//! Construction-only: the [`Color`] and the `seed` (any `u64`; the API takes
//! whole numbers `0..=2^53`).
//!
//! # Samples
//! Frame `n` of the node's life (counted from its first rendered frame) is
//! `amplitude_n · u_n`, where `u_n` depends only on the colour, the seed and
//! `n`: the white source is a counter-based generator (SplitMix64's output
//! function applied to `seed_key + n·γ`), so the samples are the same
//! whatever the block sizes, the thread count or the machine.
//! Every channel carries the same noise (a mono source): for decorrelated
//! channels use one noise node per channel with different seeds.
//!
//! # Colours
//! - **white**: uniform on `[-1, 1)` (52-bit resolution): flat spectrum,
//!   mean 0, RMS `1/√3`, `|u| ≤ 1`.
//! - **pink**: white through Paul Kellet's refined pink filter (six one-pole
//!   sections and a direct path; his published coefficients), −3.01 dB per
//!   octave within about ±0.05 dB from 10 Hz to 20 kHz at 44.1 kHz (the poles
//!   are fixed in z, so at other rates the band scales with the rate).
//!   Scaled to RMS [`COLORED_RMS`]; `|u| ≤` [`Noise::bound`].
//! - **brown**: white through a leaky integrator `y = ρ·y + w` with
//!   `ρ = exp(−2π·5 Hz / fs)`: −6.02 dB per octave above its 5 Hz corner
//!   (flat below, so it never drifts away). Scaled to RMS [`COLORED_RMS`];
//!   `|u| ≤` [`Noise::bound`].
//!
//! Pink and brown are near Gaussian: with RMS 1/4, a sample beyond ±1 is a
//! 4σ event (about one sample in 16 000); the hard bound is larger.
//!
//! The pink and brown scale factors come from the filters' exact noise gains
//! (`Σ h[n]²` in closed form), computed in [`Noise::new`] and `prepare`.

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameter table of [`Noise`].
pub const PARAMS: &[ParamSpec] = &[ParamSpec::new("amplitude", -1.0e6, 1.0e6)];

/// RMS of pink and brown noise at amplitude 1 (−12.04 dB).
pub const COLORED_RMS: f64 = 0.25;

/// Corner of the brown noise's leaky integrator, Hz.
pub const BROWN_CORNER_HZ: f64 = 5.0;

/// The noise colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Flat spectrum.
    White,
    /// −3.01 dB per octave.
    Pink,
    /// −6.02 dB per octave.
    Brown,
}

impl Color {
    /// Parses the API names `"white"`, `"pink"`, `"brown"`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "white" => Some(Self::White),
            "pink" => Some(Self::Pink),
            "brown" => Some(Self::Brown),
            _ => None,
        }
    }
}

/// Kellet's refined pink filter: poles and input gains of the six one-pole
/// sections, then the direct gain and the one-frame-delayed gain.
const PINK_POLES: [f64; 6] = [0.99886, 0.99332, 0.96900, 0.86650, 0.55000, -0.7616];
const PINK_GAINS: [f64; 6] = [0.0555179, 0.0750759, 0.1538520, 0.3104856, 0.5329522, -0.0168980];
const PINK_DIRECT: f64 = 0.5362;
const PINK_DELAYED: f64 = 0.115926;

/// SplitMix64's increment (the golden ratio in 0.64 fixed point).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijection of `u64` with good avalanche.
#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The white sample of frame `n` for `key` (see [`Noise::key`]): uniform on `[-1, 1)`.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline(always)]
pub fn white_at(key: u64, n: u64) -> f64 {
    // 52 random mantissa bits under the exponent of 1.0: uniform on [1, 2).
    let one_two = f64::from_bits(0x3ff0_0000_0000_0000 | (mix64(key.wrapping_add(n.wrapping_mul(GAMMA))) >> 12));
    2.0 * one_two - 3.0
}

/// `Σ h[n]²` of Kellet's pink filter (closed form over its one-pole sections).
fn pink_noise_gain() -> f64 {
    let mut s = 0.0;
    for (gi, pi) in PINK_GAINS.iter().zip(PINK_POLES) {
        for (gj, pj) in PINK_GAINS.iter().zip(PINK_POLES) {
            s += gi * gj / (1.0 - pi * pj);
        }
    }
    let g0: f64 = PINK_GAINS.iter().sum();
    let g1: f64 = PINK_GAINS.iter().zip(PINK_POLES).map(|(g, p)| g * p).sum();
    s + 2.0 * PINK_DIRECT * g0 + PINK_DIRECT * PINK_DIRECT + 2.0 * PINK_DELAYED * g1 + PINK_DELAYED * PINK_DELAYED
}

/// `Σ |h[n]|` of Kellet's pink filter (an upper bound of it: the sections'
/// sums plus the direct paths), the filter's largest output for `|w| ≤ 1`.
fn pink_abs_sum() -> f64 {
    PINK_GAINS.iter().zip(PINK_POLES).map(|(g, p)| g.abs() / (1.0 - p.abs())).sum::<f64>()
        + PINK_DIRECT.abs()
        + PINK_DELAYED.abs()
}

/// Seeded noise (see the module documentation).
///
/// ```
/// use ferrite_dsp::noise::{Color, Noise};
/// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
///
/// let mut noise = Noise::new(Color::Pink, 42);
/// noise.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 64, channels: 2 });
/// let params = [ParamBuffer::new(0.5, 64)];
/// let mut data = vec![0.0; 2 * 64];
/// let ctx = ProcessContext { frames: 64, position: 0, params: &params };
/// noise.process(&ctx, &mut Bus::new(&mut data, 2, 64, 64));
/// assert_eq!(data[..64], data[64..]); // the same noise in every channel
/// assert!(data.iter().all(|v| v.abs() <= 0.5 * noise.bound()));
/// ```
#[derive(Debug, Clone)]
pub struct Noise {
    color: Color,
    seed: u64,
    /// The generator's key (the seed, mixed).
    key: u64,
    /// Frames rendered so far (the next frame's `n`).
    frame: u64,
    /// Pink: the six sections (lanes 0..6 of 8) and the delayed white
    /// sample, after the last computed chunk.
    pink: [f64; L],
    pink_prev: f64,
    /// Brown: the integrator after the last computed chunk, and its leak.
    brown: f64,
    rho: f64,
    /// Output scale of the colour (1 for white).
    scale: f64,
    /// White samples from the AVX-512 build (set in `prepare`).
    wide: bool,
    /// Which build of the chunk filters runs (set in `prepare`).
    kernel: Kernel,
    /// The colour's chunk coefficients (see [`Chunks`]).
    chunks: Box<Chunks>,
    /// A chunk computed whole for a block that ends inside it: its output
    /// and `index + 1` (0: none). The filter state is past it.
    cache: [f64; L],
    cached: u64,
    /// The largest `|u|` the colour can produce.
    bound: f64,
}

/// Frames per chunk of the pink and brown filters. A chunk is frames
/// `L·m .. L·m + L` of the node's life, whatever the blocks.
const L: usize = 8;

/// The pink and brown filters as block recursions over chunks of [`L`]
/// frames (control side: computed once per rate). For a one-pole section
/// `y = p·y + g·x`, the chunk's outputs are `y_k = p^(k+1)·y + Σ_{j≤k}
/// p^(k−j)·g·x_j`: the part that depends on the input is a triangular
/// Toeplitz product, independent of the state, and the state enters once.
/// The loop-carried dependency is one multiply-add per chunk instead of one
/// per frame. Every term is a fused multiply-add in a fixed order, so every
/// build (AVX-512, AVX2, plain) gives the same bits.
#[derive(Debug, Clone)]
struct Chunks {
    /// Output from the chunk's white samples: column `j`, lane `k`.
    t: [[f64; L]; L],
    /// Pink: output from section `s`'s state, lane `k` (`scale·p_s^(k+1)`).
    /// Brown: row 0 is `ρ^(k+1)` (unscaled; the output is scaled after).
    a: [[f64; L]; 6],
    /// Pink: the delayed white sample's weight on frame 0.
    e0: f64,
    /// Pink: each section's new state from the chunk's white samples:
    /// column `j`, lane `s` (`p_s^(7−j)·g_s`).
    g: [[f64; L]; L],
    /// Pink: `p_s^8`.
    p8: [f64; L],
}

/// `p^n` by repeated multiplication (the same on every machine).
fn pow(p: f64, n: usize) -> f64 {
    (0..n).fold(1.0, |a, _| a * p)
}

impl Chunks {
    fn pink(scale: f64) -> Self {
        let h = |m: usize| -> f64 { PINK_GAINS.iter().zip(PINK_POLES).map(|(g, p)| g * pow(p, m)).sum() };
        let mut t = [[0.0; L]; L];
        for (j, col) in t.iter_mut().enumerate() {
            for (k, v) in col.iter_mut().enumerate().skip(j) {
                let d = k - j;
                let direct = if d == 0 {
                    PINK_DIRECT
                } else if d == 1 {
                    PINK_DELAYED
                } else {
                    0.0
                };
                *v = scale * (h(d) + direct);
            }
        }
        let mut a = [[0.0; L]; 6];
        let mut g = [[0.0; L]; L];
        let mut p8 = [0.0; L];
        for (s, (&p, &gain)) in PINK_POLES.iter().zip(PINK_GAINS.iter()).enumerate() {
            for (k, v) in a[s].iter_mut().enumerate() {
                *v = scale * pow(p, k + 1);
            }
            for (j, col) in g.iter_mut().enumerate() {
                col[s] = pow(p, L - 1 - j) * gain;
            }
            p8[s] = pow(p, L);
        }
        Self { t, a, e0: scale * PINK_DELAYED, g, p8 }
    }

    fn brown(rho: f64) -> Self {
        let mut t = [[0.0; L]; L];
        for (j, col) in t.iter_mut().enumerate() {
            for (k, v) in col.iter_mut().enumerate().skip(j) {
                *v = pow(rho, k - j);
            }
        }
        let mut a = [[0.0; L]; 6];
        for (k, v) in a[0].iter_mut().enumerate() {
            *v = pow(rho, k + 1);
        }
        Self { t, a, e0: 0.0, g: [[0.0; L]; L], p8: [0.0; L] }
    }
}

/// The builds of the chunk filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Plain,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// `acc[k] += a[k]·x` for every lane, fused.
#[inline(always)]
fn fma_lanes(a: &[f64; L], x: f64, acc: &mut [f64; L]) {
    for (d, c) in acc.iter_mut().zip(a) {
        *d = c.mul_add(x, *d);
    }
}

/// Pink noise over whole chunks of `data` (white samples in, coloured out),
/// from and into the state `b` (sections) and `prev` (the last white sample).
#[inline(always)]
fn pink_chunks(c: &Chunks, b: &mut [f64; L], prev: &mut f64, data: &mut [f64]) {
    for chunk in data.chunks_exact_mut(L) {
        let mut x = [0.0; L];
        x.copy_from_slice(chunk);
        let (mut lo, mut hi, mut st) = ([0.0; L], [0.0; L], [0.0; L]);
        for j in 0..L / 2 {
            fma_lanes(&c.t[j], x[j], &mut lo);
            fma_lanes(&c.t[j + L / 2], x[j + L / 2], &mut hi);
        }
        st[0] = c.e0 * *prev;
        for (a, &bs) in c.a.iter().zip(b.iter()) {
            fma_lanes(a, bs, &mut st);
        }
        let mut next = [0.0; L];
        for (g, &xj) in c.g.iter().zip(&x) {
            fma_lanes(g, xj, &mut next);
        }
        for ((bs, &p8), n) in b.iter_mut().zip(&c.p8).zip(&next) {
            *bs = p8.mul_add(*bs, *n);
        }
        for (((y, l), h), s) in chunk.iter_mut().zip(&lo).zip(&hi).zip(&st) {
            *y = (l + h) + s;
        }
        *prev = x[L - 1];
    }
}

/// Brown noise over whole chunks of `data`, from and into the integrator `z`.
#[inline(always)]
fn brown_chunks(c: &Chunks, scale: f64, z: &mut f64, data: &mut [f64]) {
    for chunk in data.chunks_exact_mut(L) {
        let mut x = [0.0; L];
        x.copy_from_slice(chunk);
        let (mut lo, mut hi) = ([0.0; L], [0.0; L]);
        for j in 0..L / 2 {
            fma_lanes(&c.t[j], x[j], &mut lo);
            fma_lanes(&c.t[j + L / 2], x[j + L / 2], &mut hi);
        }
        let z0 = *z;
        let mut last = z0;
        for (((y, a), l), h) in chunk.iter_mut().zip(&c.a[0]).zip(&lo).zip(&hi) {
            last = a.mul_add(z0, l + h);
            *y = scale * last;
        }
        *z = last;
    }
}

/// [`pink_chunks`] / [`brown_chunks`] compiled for AVX2 with FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn colour_avx2(n: &mut Noise, data: &mut [f64]) {
    n.colour_chunks_inline(data);
}

/// [`pink_chunks`] / [`brown_chunks`] compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn colour_avx512(n: &mut Noise, data: &mut [f64]) {
    n.colour_chunks_inline(data);
}

impl Noise {
    /// Noise of `color` from `seed` (control side).
    pub fn new(color: Color, seed: u64) -> Self {
        let mut n = Self {
            color,
            seed,
            key: mix64(seed ^ 0x6a09_e667_f3bc_c908),
            frame: 0,
            pink: [0.0; L],
            pink_prev: 0.0,
            brown: 0.0,
            rho: 0.0,
            scale: 1.0,
            bound: 1.0,
            wide: false,
            kernel: Kernel::Plain,
            chunks: Box::new(Chunks::brown(0.0)),
            cache: [0.0; L],
            cached: 0,
        };
        n.set_rate(48_000.0);
        n
    }

    /// The colour.
    pub fn color(&self) -> Color {
        self.color
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The generator's key for `seed`'s white samples ([`white_at`]).
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The largest `|u|` (the output at amplitude 1) this colour can
    /// produce at the prepared rate: 1 for white, the scaled filter's
    /// `Σ|h|` for pink and brown.
    pub fn bound(&self) -> f64 {
        self.bound
    }

    /// Scale, leak and bound for `sample_rate` (control side).
    fn set_rate(&mut self, sample_rate: f64) {
        let fs = if sample_rate.is_finite() && sample_rate > 0.0 { sample_rate } else { 48_000.0 };
        let white_var = 1.0 / 3.0;
        self.rho = (-2.0 * core::f64::consts::PI * BROWN_CORNER_HZ / fs).exp();
        (self.scale, self.bound) = match self.color {
            Color::White => (1.0, 1.0),
            Color::Pink => {
                let s = COLORED_RMS / (white_var * pink_noise_gain()).sqrt();
                (s, s * pink_abs_sum())
            }
            Color::Brown => {
                let s = COLORED_RMS / (white_var / (1.0 - self.rho * self.rho)).sqrt();
                (s, s / (1.0 - self.rho))
            }
        };
        *self.chunks = match self.color {
            Color::Pink => Chunks::pink(self.scale),
            _ => Chunks::brown(self.rho),
        };
        self.cached = 0;
    }

    /// Renders the unit noise (amplitude 1) of the next `out.len()` frames:
    /// the white samples first (a pass of independent hashes), then, for
    /// pink and brown, the colour's filter over them in chunks of [`L`]
    /// frames aligned to the node's life. A chunk the block only starts or
    /// ends in is computed whole (its white samples are a function of the
    /// frame) and kept, so the samples never depend on the block sizes.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    fn render_unit(&mut self, out: &mut [f64]) {
        if self.color == Color::White {
            fill_white(self.wide, self.key, self.frame, out);
            self.frame = self.frame.wrapping_add(out.len() as u64);
            return;
        }
        let mut i = 0;
        while i < out.len() {
            let (chunk, at) = (self.frame / L as u64, (self.frame % L as u64) as usize);
            let left = out.len() - i;
            let n = if at == 0 && left >= L {
                let whole = left - left % L;
                let Some(dst) = out.get_mut(i..i + whole) else { return };
                fill_white(self.wide, self.key, self.frame, dst);
                self.colour_chunks(dst);
                whole
            } else {
                if self.cached != chunk.wrapping_add(1) {
                    let mut w = [0.0; L];
                    fill_white(self.wide, self.key, chunk.wrapping_mul(L as u64), &mut w);
                    self.colour_chunks(&mut w);
                    (self.cache, self.cached) = (w, chunk.wrapping_add(1));
                }
                let n = (L - at).min(left);
                if let (Some(dst), Some(src)) = (out.get_mut(i..i + n), self.cache.get(at..at + n)) {
                    dst.copy_from_slice(src);
                }
                n
            };
            i += n;
            self.frame = self.frame.wrapping_add(n as u64);
        }
    }

    /// The colour's filter over whole chunks of `data`, in place, on the
    /// build chosen in `prepare`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    fn colour_chunks(&mut self, data: &mut [f64]) {
        match self.kernel {
            Kernel::Plain => self.colour_chunks_inline(data),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `kernel` is Avx2 only where the CPU has AVX2 and FMA (`Noise::prepare`).
            Kernel::Avx2 => unsafe { colour_avx2(self, data) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `kernel` is Avx512 only where the CPU has AVX-512F and FMA (`Noise::prepare`).
            Kernel::Avx512 => unsafe { colour_avx512(self, data) },
        }
    }

    #[inline(always)]
    fn colour_chunks_inline(&mut self, data: &mut [f64]) {
        match self.color {
            Color::White => {}
            Color::Pink => pink_chunks(&self.chunks, &mut self.pink, &mut self.pink_prev, data),
            Color::Brown => brown_chunks(&self.chunks, self.scale, &mut self.brown, data),
        }
    }
}

/// [`white_at`] of frames `start ..` into `out`: the hash's input steps by
/// the golden gamma (`start·γ + i·γ` in wrapping arithmetic, exactly what
/// `white_at` computes), so frames are independent and the loop pipelines;
/// `wide`: the AVX-512 build (with 64-bit vector multiplies, AVX-512DQ).
/// Integer arithmetic and an exact conversion: the same bits on every build.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
fn fill_white(wide: bool, key: u64, start: u64, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is set only where the CPU has AVX-512F and AVX-512DQ (`Noise::prepare`).
        unsafe { fill_white_avx512(key, start, out) };
        return;
    }
    let _ = wide;
    fill_white_plain(key, start, out);
}

#[inline(always)]
fn fill_white_plain(key: u64, start: u64, out: &mut [f64]) {
    let base = key.wrapping_add(start.wrapping_mul(GAMMA));
    for (i, y) in out.iter_mut().enumerate() {
        let z = base.wrapping_add((i as u64).wrapping_mul(GAMMA));
        *y = 2.0 * f64::from_bits(0x3ff0_0000_0000_0000 | (mix64(z) >> 12)) - 3.0;
    }
}

/// [`fill_white_plain`] compiled for AVX-512F and AVX-512DQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn fill_white_avx512(key: u64, start: u64, out: &mut [f64]) {
    fill_white_plain(key, start, out);
}

impl Processor for Noise {
    fn prepare(&mut self, ctx: &PrepareContext) {
        self.set_rate(ctx.sample_rate);
        #[cfg(target_arch = "x86_64")]
        {
            use crate::kernels::SimdLevel;
            let level = crate::kernels::simd_level();
            self.wide = level == SimdLevel::Avx512 && std::arch::is_x86_feature_detected!("avx512dq");
            let fma = std::arch::is_x86_feature_detected!("fma");
            self.kernel = match level {
                SimdLevel::Avx512 if fma => Kernel::Avx512,
                SimdLevel::Avx2 if fma => Kernel::Avx2,
                _ => Kernel::Plain,
            };
        }
    }

    /// Writes the noise into every channel.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let frames = ctx.frames.min(io.frames());
        if io.channels() == 0 {
            // Nothing to write, but time passes: the same frames as with channels.
            let mut sink = [0.0; 64];
            let mut left = frames;
            while left > 0 {
                let n = left.min(sink.len());
                self.render_unit(&mut sink[..n]);
                left -= n;
            }
            return;
        }
        let amp = ctx.param(0);
        {
            let first = io.channel_mut(0);
            let first = first.get_mut(..frames).unwrap_or(&mut []);
            self.render_unit(first);
            match amp.constant() {
                Some(1.0) => {}
                Some(a) => first.iter_mut().for_each(|y| *y *= a),
                None => first.iter_mut().enumerate().for_each(|(i, y)| *y *= amp.at(i)),
            }
        }
        for c in 1..io.channels() {
            if let Some((src, dst)) = io.pair_mut(0, c) {
                dst.copy_from_slice(src);
            }
        }
    }

    fn reset(&mut self) {
        self.frame = 0;
        self.pink = [0.0; L];
        self.pink_prev = 0.0;
        self.brown = 0.0;
        self.cached = 0;
    }

    /// Continues the sequence of another `Noise` of the same colour and seed.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let Some(prev) = previous.as_any_mut().downcast_mut::<Noise>() else { return false };
        if prev.color != self.color || prev.seed != self.seed {
            return false;
        }
        self.frame = prev.frame;
        self.pink = prev.pink;
        self.pink_prev = prev.pink_prev;
        self.brown = prev.brown;
        // The chunk in progress (its coefficients are the same for the same
        // colour at the same rate; at another rate it is recomputed).
        (self.cache, self.cached) = if prev.rho == self.rho { (prev.cache, prev.cached) } else { ([0.0; L], 0) };
        true
    }

    fn mono_source(&self) -> bool {
        true
    }

    fn overwrites_output(&self) -> bool {
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
    use realfft::RealFftPlanner;

    const FS: f64 = 48_000.0;

    /// Renders `n` frames of mono noise in blocks of `block` at amplitude `amp`.
    fn render(color: Color, seed: u64, n: usize, block: usize, amp: f64) -> Vec<f64> {
        let mut p = Noise::new(color, seed);
        p.prepare(&PrepareContext { sample_rate: FS, max_block: block, channels: 1 });
        let params = [ParamBuffer::new(amp, block)];
        let mut out = Vec::with_capacity(n);
        let mut buf = vec![0.0; block];
        while out.len() < n {
            let f = block.min(n - out.len());
            let ctx = ProcessContext { frames: f, position: out.len() as u64, params: &params };
            p.process(&ctx, &mut Bus::new(&mut buf, 1, block, f));
            out.extend_from_slice(&buf[..f]);
        }
        out
    }

    /// Welch average power spectrum (Hann window, 50% overlap) in f64, `size` bins.
    fn welch(x: &[f64], size: usize) -> Vec<f64> {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(size);
        let win: Vec<f64> =
            (0..size).map(|i| 0.5 - 0.5 * (2.0 * core::f64::consts::PI * i as f64 / size as f64).cos()).collect();
        let mut acc = vec![0.0; size / 2 + 1];
        let mut spec = fft.make_output_vec();
        let mut segs = 0;
        let mut start = 0;
        while start + size <= x.len() {
            let mut buf: Vec<f64> = x[start..start + size].iter().zip(&win).map(|(a, w)| a * w).collect();
            fft.process(&mut buf, &mut spec).unwrap();
            for (a, c) in acc.iter_mut().zip(&spec) {
                *a += c.norm_sqr();
            }
            segs += 1;
            start += size / 2;
        }
        acc.iter().map(|a| a / segs as f64).collect()
    }

    /// Least-squares slope (dB per octave) and the largest deviation from
    /// the fitted line of the spectrum averaged in third-octave bands over `lo..hi` Hz.
    fn slope(power: &[f64], size: usize, lo: f64, hi: f64) -> (f64, f64) {
        let df = FS / size as f64;
        let mut pts = Vec::new();
        let mut f = lo;
        while f * 2f64.powf(1.0 / 3.0) <= hi * 1.0001 {
            let f2 = f * 2f64.powf(1.0 / 3.0);
            let (a, b) = ((f / df).ceil() as usize, (f2 / df).floor() as usize);
            let mean = power[a..=b].iter().sum::<f64>() / (b - a + 1) as f64;
            // The band's power per bin against the log of its centre.
            pts.push(((f * f2).sqrt().log2(), 10.0 * mean.log10()));
            f = f2;
        }
        let n = pts.len() as f64;
        let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let (mx, my) = (sx / n, sy / n);
        let sxy: f64 = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
        let sxx: f64 = pts.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
        let k = sxy / sxx;
        let dev = pts.iter().map(|(x, y)| (y - (my + k * (x - mx))).abs()).fold(0.0, f64::max);
        (k, dev)
    }

    fn seconds(s: f64) -> usize {
        if cfg!(debug_assertions) {
            (s * FS / 8.0) as usize
        } else {
            (s * FS) as usize
        }
    }

    #[test]
    fn colours_have_their_spectral_slopes() {
        let size = 8192;
        let n = seconds(60.0);
        for (color, want, tol) in [(Color::White, 0.0, 0.1), (Color::Pink, -3.0103, 0.1), (Color::Brown, -6.0206, 0.2)]
        {
            let x = render(color, 7, n, 4096, 1.0);
            let p = welch(&x, size);
            let (k, dev) = slope(&p, size, 125.0, 8000.0);
            assert!((k - want).abs() < tol, "{color:?}: slope {k:.3} dB/oct, want {want:.3}");
            assert!(dev < 0.5, "{color:?}: third-octave bands {dev:.2} dB off the line");
            let (k, _) = slope(&p, size, 50.0, 10_000.0);
            assert!((k - want).abs() < 2.0 * tol, "{color:?}: slope {k:.3} dB/oct over 50 Hz..10 kHz");
        }
    }

    #[test]
    fn mean_rms_and_bounds() {
        let n = seconds(20.0);
        for (color, rms_want) in [(Color::White, 1.0 / 3f64.sqrt()), (Color::Pink, 0.25), (Color::Brown, 0.25)] {
            let x = render(color, 99, n, 128, 1.0);
            let mean = x.iter().sum::<f64>() / n as f64;
            let rms = (x.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
            let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let bound = Noise::new(color, 0).bound();
            // Brown noise's samples are correlated over ~1/(2π·5 Hz): its mean wanders more.
            let mean_tol = if color == Color::Brown { 0.05 } else { 0.01 };
            assert!(mean.abs() < mean_tol, "{color:?}: mean {mean}");
            assert!((rms / rms_want - 1.0).abs() < 0.1, "{color:?}: rms {rms} vs {rms_want}");
            assert!(peak <= bound, "{color:?}: peak {peak} over the bound {bound}");
            if color == Color::White {
                assert!(peak > 0.999 && x.iter().all(|&v| (-1.0..1.0).contains(&v)));
            }
        }
    }

    #[test]
    fn chunked_pink_and_brown_equal_the_per_sample_recursions() {
        // The filters written out sample by sample in plain f64 (Kellet's
        // sections and direct paths; the leaky integrator), over the same
        // white samples.
        let n = seconds(4.0);
        for color in [Color::Pink, Color::Brown] {
            let got = render(color, 2024, n, 37, 1.0);
            let noise = Noise::new(color, 2024);
            let key = noise.key();
            let mut want = Vec::with_capacity(n);
            let (mut b, mut prev, mut z) = ([0.0f64; 6], 0.0f64, 0.0f64);
            let rho = (-2.0 * core::f64::consts::PI * BROWN_CORNER_HZ / FS).exp();
            let scale = match color {
                Color::Pink => COLORED_RMS / (pink_noise_gain() / 3.0).sqrt(),
                _ => COLORED_RMS / ((1.0 / 3.0) / (1.0 - rho * rho)).sqrt(),
            };
            for i in 0..n {
                let w = white_at(key, i as u64);
                want.push(match color {
                    Color::Pink => {
                        for s in 0..6 {
                            b[s] = PINK_POLES[s] * b[s] + PINK_GAINS[s] * w;
                        }
                        let y = scale * (b.iter().sum::<f64>() + PINK_DIRECT * w + PINK_DELAYED * prev);
                        prev = w;
                        y
                    }
                    _ => {
                        z = rho * z + w;
                        scale * z
                    }
                });
            }
            let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f64, f64::max);
            assert!(worst < 1e-11, "{color:?}: worst difference {worst:e} over {n} frames");
        }
    }

    #[test]
    fn every_build_gives_the_same_bits() {
        for color in [Color::Pink, Color::Brown] {
            let run = |kernel: Option<Kernel>| {
                let mut p = Noise::new(color, 77);
                p.prepare(&PrepareContext { sample_rate: FS, max_block: 64, channels: 1 });
                if let Some(k) = kernel {
                    p.kernel = k;
                }
                let mut out = vec![0.0; 5000];
                for c in out.chunks_mut(64) {
                    p.render_unit(c);
                }
                out
            };
            assert_eq!(run(Some(Kernel::Plain)), run(None), "{color:?}: the plain build and {:?}", {
                let mut p = Noise::new(color, 77);
                p.prepare(&PrepareContext { sample_rate: FS, max_block: 64, channels: 1 });
                p.kernel
            });
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_samples_for_every_block_size() {
        for color in [Color::White, Color::Pink, Color::Brown] {
            let reference = render(color, 12345, 20_000, 1, 0.7);
            for block in [3, 7, 8, 37, 128, 4096] {
                assert_eq!(render(color, 12345, 20_000, block, 0.7), reference, "{color:?} block {block}");
            }
            assert_ne!(render(color, 12346, 20_000, 128, 0.7), reference, "{color:?}: another seed");
        }
    }

    #[test]
    fn white_samples_are_the_counter_function() {
        let x = render(Color::White, 5, 300, 64, 1.0);
        let key = Noise::new(Color::White, 5).key();
        for (i, v) in x.iter().enumerate() {
            assert_eq!(*v, white_at(key, i as u64));
        }
    }

    #[test]
    fn amplitude_scales_per_frame_and_take_state_continues() {
        let mut p = Noise::new(Color::Pink, 3);
        p.prepare(&PrepareContext { sample_rate: FS, max_block: 16, channels: 2 });
        let mut amp = ParamBuffer::new(1.0, 16);
        let ramp: Vec<f64> = (0..16).map(|i| i as f64 / 16.0).collect();
        amp.varying_mut(16).copy_from_slice(&ramp);
        let mut data = vec![0.0; 32];
        p.process(&ProcessContext { frames: 16, position: 0, params: &[amp] }, &mut Bus::new(&mut data, 2, 16, 16));
        let unit = render(Color::Pink, 3, 32, 16, 1.0);
        for i in 0..16 {
            assert_eq!(data[i], unit[i] * ramp[i]);
            assert_eq!(data[16 + i], data[i]);
        }
        let mut next = Noise::new(Color::Pink, 3);
        next.prepare(&PrepareContext { sample_rate: FS, max_block: 16, channels: 2 });
        assert!(next.take_state(&mut p));
        let one = [ParamBuffer::new(1.0, 16)];
        next.process(&ProcessContext { frames: 16, position: 16, params: &one }, &mut Bus::new(&mut data, 2, 16, 16));
        assert_eq!(&data[..16], &unit[16..]);
        assert!(!Noise::new(Color::Pink, 4).take_state(&mut next));
        next.reset();
        next.process(&ProcessContext { frames: 16, position: 0, params: &one }, &mut Bus::new(&mut data, 2, 16, 16));
        assert_eq!(&data[..16], &unit[..16]);
    }
}
