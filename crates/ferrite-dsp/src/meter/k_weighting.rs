//! The K-weighting pre-filter of ITU-R BS.1770-4 (Annex 1): a high shelf
//! (the acoustic effect of the head) followed by the "RLB" high-pass.
//!
//! BS.1770 publishes the two biquads for 48 kHz only. Here both stages are
//! designed for any sample rate from their analog prototypes with the
//! bilinear transform (frequency pre-warped at the stage's corner), using the
//! prototype parameters that reproduce the published 48 kHz table:
//!
//! - shelf: `H(s) = (Vh·s² + Vb·(ω0/Q)·s + ω0²) / (s² + (ω0/Q)·s + ω0²)` with
//!   `f0 = 1681.97 Hz`, `Q = 0.70718`, `Vh = 10^(3.99984/20)` and
//!   `Vb = Vh^0.49967`;
//! - high-pass: `H(s) = s² / (s² + (ω0/Q)·s + ω0²)` with `f0 = 38.1355 Hz`,
//!   `Q = 0.50033`. The published table keeps the numerator at `[1, -2, 1]`
//!   instead of normalizing it, which gives the stage a +0.04 dB pass-band
//!   gain that the −0.691 dB constant of the loudness formula calibrates
//!   away. That gain depends on the rate, so at other rates the numerator is
//!   scaled to keep the 48 kHz pass-band gain: the curve is the same at every
//!   rate (libebur128 keeps `[1, -2, 1]`; the two differ by < 0.03 dB).

use core::f64::consts::PI;

/// Shelf corner frequency (Hz).
const SHELF_F0: f64 = 1681.974450955533;
/// Shelf high-frequency gain (dB).
const SHELF_GAIN_DB: f64 = 3.999843853973347;
/// Shelf quality factor.
const SHELF_Q: f64 = 0.7071752369554196;
/// Exponent giving the shelf's mid gain `Vb` from `Vh`.
const SHELF_VB_EXP: f64 = 0.4996667741545416;
/// High-pass corner frequency (Hz).
const HIGHPASS_F0: f64 = 38.13547087602444;
/// High-pass quality factor.
const HIGHPASS_Q: f64 = 0.5003270373238773;

/// One biquad, normalized so that `a0 = 1`:
/// `y[n] = b0·x[n] + b1·x[n-1] + b2·x[n-2] - a1·y[n-1] - a2·y[n-2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Biquad {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

/// Coefficients of both K-weighting stages for one sample rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct KWeighting {
    /// Stage 1: the high shelf.
    pub shelf: Biquad,
    /// Stage 2: the RLB high-pass.
    pub highpass: Biquad,
}

impl KWeighting {
    /// Designs both stages for `sample_rate` (Hz, > 0).
    pub fn new(sample_rate: f64) -> Self {
        let k = (PI * SHELF_F0 / sample_rate).tan();
        let vh = 10f64.powf(SHELF_GAIN_DB / 20.0);
        let vb = vh.powf(SHELF_VB_EXP);
        let a0 = 1.0 + k / SHELF_Q + k * k;
        let shelf = Biquad {
            b0: (vh + vb * k / SHELF_Q + k * k) / a0,
            b1: 2.0 * (k * k - vh) / a0,
            b2: (vh - vb * k / SHELF_Q + k * k) / a0,
            a1: 2.0 * (k * k - 1.0) / a0,
            a2: (1.0 - k / SHELF_Q + k * k) / a0,
        };
        let highpass_a0 = |fs: f64| {
            let k = (PI * HIGHPASS_F0 / fs).tan();
            1.0 + k / HIGHPASS_Q + k * k
        };
        let k = (PI * HIGHPASS_F0 / sample_rate).tan();
        let a0 = highpass_a0(sample_rate);
        // Exactly 1 at 48 kHz (the table's [1, -2, 1]); elsewhere the same
        // pass-band gain as the table's filter.
        let g = highpass_a0(48000.0) / a0;
        let highpass = Biquad {
            b0: g,
            b1: -2.0 * g,
            b2: g,
            a1: 2.0 * (k * k - 1.0) / a0,
            a2: (1.0 - k / HIGHPASS_Q + k * k) / a0,
        };
        Self { shelf, highpass }
    }
}

/// The running memory of one channel's K-weighting filter (transposed
/// direct form II, two stages).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct KState {
    s: [f64; 4],
}

impl KState {
    /// Filters one sample.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline(always)]
    pub fn tick(&mut self, k: &KWeighting, x: f64) -> f64 {
        let f = &k.shelf;
        let y1 = f.b0 * x + self.s[0];
        self.s[0] = f.b1 * x - f.a1 * y1 + self.s[1];
        self.s[1] = f.b2 * x - f.a2 * y1;
        let f = &k.highpass;
        let y2 = f.b0 * y1 + self.s[2];
        self.s[2] = f.b1 * y1 - f.a1 * y2 + self.s[3];
        self.s[3] = f.b2 * y1 - f.a2 * y2;
        y2
    }

    /// Sets memory too small to matter (below 1e-20, −400 dB) to exactly
    /// zero, so that a filter fed silence settles to true silence instead of
    /// ringing on in denormals.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn flush_tiny(&mut self) {
        if self.s.iter().all(|v| v.abs() < 1e-20) {
            self.s = [0.0; 4];
        }
    }

    /// Clears the filter memory.
    pub fn clear(&mut self) {
        self.s = [0.0; 4];
    }
}

/// Samples per step of [`KStep`].
pub(crate) const STEP: usize = 4;

/// The K-weighting filter (both stages) advanced [`STEP`] samples at a
/// time, as a linear map of its memory and inputs: the outputs are
/// `y[k] = Σᵢ c[i][k]·s[i] + Σⱼ d[j][k]·x[j]` and the memory after the step
/// `s'[i] = Σₘ a[m][i]·s[m] + Σⱼ b[j][i]·x[j]`, where `s` is [`KState`]'s
/// transposed-direct-form memory. One sample at a time the filter is one
/// long chain of dependent multiply-adds per sample; a step's four outputs
/// and four memory values are independent of one another, so they are
/// computed side by side (four lanes) and the chain is one per four samples.
///
/// The columns are the filter's own responses over a step (to each unit
/// memory value with silent input, and to each unit input), so the step is
/// [`KState::tick`] four times, rounded differently.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct KStep {
    /// `c[i][k]`: output `k` from unit memory `i`, input silent.
    pub c: [[f64; STEP]; 4],
    /// `d[j][k]`: output `k` from a unit input at `j` (0 for `k < j`).
    pub d: [[f64; STEP]; STEP],
    /// `a[m][i]`: memory `i` after the step from unit memory `m`.
    pub a: [[f64; 4]; 4],
    /// `b[j][i]`: memory `i` after the step from a unit input at `j`.
    pub b: [[f64; 4]; STEP],
    /// Which build the CPU runs (decided on the control side).
    wide: Wide,
}

/// The builds of [`KStep::run`] and [`KStep::run_pair`]: the same
/// operations in the same order, so the same bits from each vector build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wide {
    /// Plain code.
    Plain,
    /// AVX2 with FMA.
    Avx2,
    /// The AVX2 operations with AVX-512VL's 32 registers (no spills).
    Avx512Vl,
}

impl KStep {
    /// The step of filter `k` (control side: reads the CPU's features).
    pub fn new(k: &KWeighting) -> Self {
        let run = |s: [f64; 4], x: [f64; STEP]| {
            let mut st = KState { s };
            let y = x.map(|v| st.tick(k, v));
            (y, st.s)
        };
        let unit = |i: usize| {
            let mut e = [0.0; 4];
            e[i] = 1.0;
            e
        };
        let (mut c, mut d, mut a, mut b) = ([[0.0; STEP]; 4], [[0.0; STEP]; STEP], [[0.0; 4]; 4], [[0.0; 4]; STEP]);
        for i in 0..4 {
            (c[i], a[i]) = run(unit(i), [0.0; STEP]);
            (d[i], b[i]) = run([0.0; 4], unit(i));
        }
        use crate::kernels::{dispatch::runnable_fused, simd_level, SimdLevel};
        let wide = match runnable_fused(simd_level()) {
            SimdLevel::Scalar => Wide::Plain,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 if std::arch::is_x86_feature_detected!("avx512vl") => Wide::Avx512Vl,
            _ => Wide::Avx2,
        };
        Self { c, d, a, b, wide }
    }

    /// Filters `x` (a whole number of steps) through `st`, adding each
    /// output's square to lane `k mod 4` of `sq` (`k`: the output's index).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn run(&self, st: &mut KState, sq: &mut [f64; STEP], x: &[f64]) {
        #[cfg(target_arch = "x86_64")]
        match self.wide {
            // SAFETY: `wide` names a build only when the CPU runs its features.
            Wide::Avx512Vl => return unsafe { x86::run_vl(self, st, sq, x) },
            // SAFETY: as above.
            Wide::Avx2 => return unsafe { x86::run(self, st, sq, x) },
            Wide::Plain => {}
        }
        for x in x.chunks_exact(STEP) {
            self.step::<false>(st, sq, x);
        }
    }

    /// [`Self::run`] of two channels side by side (`x0`, `x1`: the same
    /// length, a whole number of steps); each channel's bits are those of
    /// `run`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn run_pair(&self, st: [&mut KState; 2], sq: [&mut [f64; STEP]; 2], x0: &[f64], x1: &[f64]) {
        #[cfg(target_arch = "x86_64")]
        match self.wide {
            // SAFETY: as in `run`.
            Wide::Avx512Vl => return unsafe { x86::run_pair_vl(self, st, sq, x0, x1) },
            // SAFETY: as in `run`.
            Wide::Avx2 => return unsafe { x86::run_pair(self, st, sq, x0, x1) },
            Wide::Plain => {}
        }
        let ([s0, s1], [q0, q1]) = (st, sq);
        self.run(s0, q0, x0);
        self.run(s1, q1, x1);
    }

    /// One step in plain code: multiply-adds fused when `FUSED`, in the
    /// vector build's order, lane by lane (the tests' mirror of it).
    #[inline(always)]
    pub(crate) fn step<const FUSED: bool>(&self, st: &mut KState, sq: &mut [f64; STEP], x: &[f64]) {
        use crate::kernels::scalar_madd as madd;
        let [x0, x1, x2, x3] = [0, 1, 2, 3].map(|j| x.get(j).copied().unwrap_or(0.0));
        let s = st.s;
        let lane = |m: &[[f64; 4]; 4], n: &[[f64; 4]; 4], k: usize| {
            let mut p = n[0][k] * x0;
            p = madd::<FUSED>(n[1][k], x1, p);
            p = madd::<FUSED>(n[2][k], x2, p);
            p = madd::<FUSED>(n[3][k], x3, p);
            let u = madd::<FUSED>(m[0][k], s[0], p);
            let v = m[1][k] * s[1];
            let u = madd::<FUSED>(m[2][k], s[2], u);
            let v = madd::<FUSED>(m[3][k], s[3], v);
            u + v
        };
        for (k, q) in sq.iter_mut().enumerate() {
            let y = lane(&self.c, &self.d, k);
            *q = madd::<FUSED>(y, y, *q);
        }
        st.s = [0, 1, 2, 3].map(|i| lane(&self.a, &self.b, i));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{KState, KStep, STEP};
    use core::arch::x86_64::*;

    /// The step's matrices as vectors (column `i` of each: one `__m256d`).
    struct Cols {
        c: [__m256d; 4],
        d: [__m256d; 4],
        a: [__m256d; 4],
        b: [__m256d; 4],
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn cols(m: &KStep) -> Cols {
        let v = |r: &[f64; 4]| {
            // SAFETY: `r` holds four f64.
            unsafe { _mm256_loadu_pd(r.as_ptr()) }
        };
        Cols { c: m.c.each_ref().map(v), d: m.d.each_ref().map(v), a: m.a.each_ref().map(v), b: m.b.each_ref().map(v) }
    }

    /// Lane `k` of `Σ m[i]·s[i] + Σ n[j]·x[j]` in [`KStep::step`]'s order.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn lanes(m: &[__m256d; 4], n: &[__m256d; 4], s: &[__m256d; 4], x: &[__m256d; 4]) -> __m256d {
        let mut p = _mm256_mul_pd(n[0], x[0]);
        p = _mm256_fmadd_pd(n[1], x[1], p);
        p = _mm256_fmadd_pd(n[2], x[2], p);
        p = _mm256_fmadd_pd(n[3], x[3], p);
        let u = _mm256_fmadd_pd(m[0], s[0], p);
        let v = _mm256_mul_pd(m[1], s[1]);
        let u = _mm256_fmadd_pd(m[2], s[2], u);
        let v = _mm256_fmadd_pd(m[3], s[3], v);
        _mm256_add_pd(u, v)
    }

    /// Each lane of `s` broadcast to a vector.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn spread(s: __m256d) -> [__m256d; 4] {
        [
            _mm256_permute4x64_pd::<0x00>(s),
            _mm256_permute4x64_pd::<0x55>(s),
            _mm256_permute4x64_pd::<0xAA>(s),
            _mm256_permute4x64_pd::<0xFF>(s),
        ]
    }

    /// The four inputs of a step, each broadcast. `x` holds at least four f64.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn inputs(x: &[f64]) -> [__m256d; 4] {
        let at = |j: usize| _mm256_set1_pd(x.get(j).copied().unwrap_or(0.0));
        [at(0), at(1), at(2), at(3)]
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn load(v: &[f64; 4]) -> __m256d {
        // SAFETY: `v` holds four f64.
        unsafe { _mm256_loadu_pd(v.as_ptr()) }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn store(v: __m256d, to: &mut [f64; 4]) {
        // SAFETY: `to` holds four f64.
        unsafe { _mm256_storeu_pd(to.as_mut_ptr(), v) }
    }

    /// [`KStep::run`]'s loop, inlined into each entry below.
    #[inline(always)]
    unsafe fn run_loop(m: &KStep, st: &mut KState, sq: &mut [f64; STEP], x: &[f64]) {
        // SAFETY: the caller's contract: the CPU runs AVX2 and FMA.
        unsafe {
            let k = cols(m);
            let (mut s, mut q) = (load(&st.s), load(sq));
            for x in x.chunks_exact(STEP) {
                let (sv, xv) = (spread(s), inputs(x));
                let y = lanes(&k.c, &k.d, &sv, &xv);
                q = _mm256_fmadd_pd(y, y, q);
                s = lanes(&k.a, &k.b, &sv, &xv);
            }
            store(s, &mut st.s);
            store(q, sq);
        }
    }

    /// [`KStep::run_pair`]'s loop: two independent chains in one loop.
    #[inline(always)]
    unsafe fn pair_loop(m: &KStep, st: [&mut KState; 2], sq: [&mut [f64; STEP]; 2], x0: &[f64], x1: &[f64]) {
        // SAFETY: the caller's contract: the CPU runs AVX2 and FMA.
        unsafe {
            let k = cols(m);
            let ([st0, st1], [sq0, sq1]) = (st, sq);
            let (mut s0, mut q0, mut s1, mut q1) = (load(&st0.s), load(sq0), load(&st1.s), load(sq1));
            for (a, b) in x0.chunks_exact(STEP).zip(x1.chunks_exact(STEP)) {
                let (sv0, xv0, sv1, xv1) = (spread(s0), inputs(a), spread(s1), inputs(b));
                let y0 = lanes(&k.c, &k.d, &sv0, &xv0);
                let y1 = lanes(&k.c, &k.d, &sv1, &xv1);
                q0 = _mm256_fmadd_pd(y0, y0, q0);
                q1 = _mm256_fmadd_pd(y1, y1, q1);
                s0 = lanes(&k.a, &k.b, &sv0, &xv0);
                s1 = lanes(&k.a, &k.b, &sv1, &xv1);
            }
            store(s0, &mut st0.s);
            store(q0, sq0);
            store(s1, &mut st1.s);
            store(q1, sq1);
        }
    }

    /// [`KStep::run`]. Safety: the CPU runs AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run(m: &KStep, st: &mut KState, sq: &mut [f64; STEP], x: &[f64]) {
        // SAFETY: the caller's contract.
        unsafe { run_loop(m, st, sq, x) }
    }

    /// [`KStep::run_pair`]. Safety: the CPU runs AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run_pair(m: &KStep, st: [&mut KState; 2], sq: [&mut [f64; STEP]; 2], x0: &[f64], x1: &[f64]) {
        // SAFETY: the caller's contract.
        unsafe { pair_loop(m, st, sq, x0, x1) }
    }

    /// [`run`] with AVX-512VL's 32 vector registers: the same 256-bit
    /// operations (the same bits), the step's sixteen columns and its
    /// chains held in registers instead of spilled. Safety: the CPU runs
    /// AVX2, FMA, AVX-512F and AVX-512VL.
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    pub(super) unsafe fn run_vl(m: &KStep, st: &mut KState, sq: &mut [f64; STEP], x: &[f64]) {
        // SAFETY: the caller's contract.
        unsafe { run_loop(m, st, sq, x) }
    }

    /// [`run_pair`] with AVX-512VL's registers (see [`run_vl`]). Safety: as
    /// [`run_vl`].
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    pub(super) unsafe fn run_pair_vl(
        m: &KStep,
        st: [&mut KState; 2],
        sq: [&mut [f64; STEP]; 2],
        x0: &[f64],
        x1: &[f64],
    ) {
        // SAFETY: the caller's contract.
        unsafe { pair_loop(m, st, sq, x0, x1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|H(e^{jω})|` in dB of one biquad at `f` Hz.
    fn biquad_db(q: &Biquad, f: f64, fs: f64) -> f64 {
        let w = 2.0 * PI * f / fs;
        let (c1, s1, c2, s2) = (w.cos(), w.sin(), (2.0 * w).cos(), (2.0 * w).sin());
        let nr = q.b0 + q.b1 * c1 + q.b2 * c2;
        let ni = -(q.b1 * s1 + q.b2 * s2);
        let dr = 1.0 + q.a1 * c1 + q.a2 * c2;
        let di = -(q.a1 * s1 + q.a2 * s2);
        10.0 * ((nr * nr + ni * ni) / (dr * dr + di * di)).log10()
    }

    fn k_db(k: &KWeighting, f: f64, fs: f64) -> f64 {
        biquad_db(&k.shelf, f, fs) + biquad_db(&k.highpass, f, fs)
    }

    #[test]
    fn coefficients_at_48k_match_the_bs1770_table() {
        // ITU-R BS.1770-4, Annex 1, Tables 1 and 2.
        let k = KWeighting::new(48000.0);
        let table_shelf = [1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585];
        let table_hp = [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621];
        let got_shelf = [k.shelf.b0, k.shelf.b1, k.shelf.b2, k.shelf.a1, k.shelf.a2];
        let got_hp = [k.highpass.b0, k.highpass.b1, k.highpass.b2, k.highpass.a1, k.highpass.a2];
        for (g, t) in got_shelf.iter().zip(table_shelf.iter()).chain(got_hp.iter().zip(table_hp.iter())) {
            assert!((g - t).abs() < 1e-8, "coefficient {g} vs table {t}");
        }
    }

    #[test]
    fn response_is_rate_independent_below_nyquist() {
        // The same analog curve at every rate: compare 44.1k and 96k against the
        // 48 kHz table filter (bilinear warping is negligible far below Nyquist).
        let reference = KWeighting::new(48000.0);
        for fs in [44100.0, 96000.0, 192000.0] {
            let k = KWeighting::new(fs);
            for f in [20.0, 38.0, 100.0, 500.0, 1000.0, 1682.0, 4000.0, 8000.0] {
                let d = k_db(&k, f, fs) - k_db(&reference, f, 48000.0);
                assert!(d.abs() < 0.01, "fs {fs} f {f}: {d} dB");
            }
        }
        // Landmarks of the curve: about +0.7 dB at 1 kHz, about +4 dB at 10 kHz,
        // strongly attenuated at 10 Hz.
        let at_1k = k_db(&reference, 1000.0, 48000.0);
        assert!((at_1k - 0.691).abs() < 0.01, "{at_1k}");
        let at_10k = k_db(&reference, 10000.0, 48000.0);
        assert!((at_10k - 4.0).abs() < 0.1, "{at_10k}");
        assert!(k_db(&reference, 10.0, 48000.0) < -20.0);
    }

    #[test]
    fn tick_is_the_cascade_of_the_two_difference_equations() {
        let k = KWeighting::new(44100.0);
        let x: Vec<f64> = (0..200).map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0).collect();
        let want = reference(&k, &x);
        let mut st = KState::default();
        for (xi, wi) in x.iter().zip(want.iter()) {
            let got = st.tick(&k, *xi);
            assert!((got - wi).abs() < 1e-12);
        }
    }

    /// Direct form I of the cascade, written out independently (f64).
    fn reference(k: &KWeighting, x: &[f64]) -> Vec<f64> {
        let run = |q: &Biquad, x: &[f64]| -> Vec<f64> {
            let mut y = vec![0.0; x.len()];
            for n in 0..x.len() {
                let xm = |d: usize| if n >= d { x[n - d] } else { 0.0 };
                let ym = |y: &[f64], d: usize| if n >= d { y[n - d] } else { 0.0 };
                y[n] = q.b0 * x[n] + q.b1 * xm(1) + q.b2 * xm(2) - q.a1 * ym(&y, 1) - q.a2 * ym(&y, 2);
            }
            y
        };
        run(&k.highpass, &run(&k.shelf, x))
    }

    fn programme(n: usize, seed: u64) -> Vec<f64> {
        let mut r = seed | 1;
        (0..n)
            .map(|i| {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                let noise = (r >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
                0.5 * (i as f64 * 0.013).sin() + 0.2 * noise
            })
            .collect()
    }

    #[test]
    fn steps_filter_as_the_difference_equations_do() {
        // The four-sample step against direct form I, sample by sample
        // through the memory it leaves: the sums of squares per lane, and
        // then one tick from the memory.
        for fs in [44100.0, 48000.0, 96000.0] {
            let k = KWeighting::new(fs);
            let step = KStep::new(&k);
            let x = programme(4 * 5000 + 1, 3);
            let want = reference(&k, &x);
            let (mut st, mut sq) = (KState::default(), [0.0; STEP]);
            step.run(&mut st, &mut sq, &x[..x.len() - 1]);
            let mut want_sq = [0.0; STEP];
            for (n, y) in want[..x.len() - 1].iter().enumerate() {
                want_sq[n % STEP] += y * y;
            }
            for (g, w) in sq.iter().zip(want_sq) {
                assert!((g - w).abs() <= 1e-11 * w, "{fs}: lane sum {g} vs {w}");
            }
            let (Some(&last), Some(&want_last)) = (x.last(), want.last()) else { unreachable!() };
            let got_last = st.tick(&k, last);
            assert!((got_last - want_last).abs() < 1e-12, "{fs}: next output {got_last} vs {want_last}");
        }
    }

    #[test]
    fn vector_and_plain_steps_give_the_same_bits() {
        // The AVX2/FMA build against the plain step with fused multiply-adds
        // (where the CPU has them), one channel and a pair; the plain
        // unfused step within rounding of both.
        let k = KWeighting::new(44100.0);
        let detected = KStep::new(&k);
        let (a, b) = (programme(4096, 5), programme(4096, 9));
        let mut plain = (KState::default(), [0.0; STEP]);
        for c in a.chunks_exact(STEP) {
            detected.step::<false>(&mut plain.0, &mut plain.1, c);
        }
        let mut fused = (KState::default(), [0.0; STEP]);
        for c in a.chunks_exact(STEP) {
            detected.step::<true>(&mut fused.0, &mut fused.1, c);
        }
        // Every build this CPU runs, down from the one it was given.
        let builds: &[Wide] = match detected.wide {
            Wide::Avx512Vl => &[Wide::Avx512Vl, Wide::Avx2, Wide::Plain],
            Wide::Avx2 => &[Wide::Avx2, Wide::Plain],
            Wide::Plain => &[Wide::Plain],
        };
        let mut one = (KState::default(), [0.0; STEP]);
        for &wide in builds {
            let step = KStep { wide, ..detected };
            one = (KState::default(), [0.0; STEP]);
            step.run(&mut one.0, &mut one.1, &a);
            let (mut pair_a, mut pair_b) = ((KState::default(), [0.0; STEP]), (KState::default(), [0.0; STEP]));
            step.run_pair([&mut pair_a.0, &mut pair_b.0], [&mut pair_a.1, &mut pair_b.1], &a, &b);
            let mut alone_b = (KState::default(), [0.0; STEP]);
            step.run(&mut alone_b.0, &mut alone_b.1, &b);
            assert_eq!(one, pair_a, "{wide:?}");
            assert_eq!(alone_b, pair_b, "{wide:?}");
            assert_eq!(one, if wide == Wide::Plain { plain } else { fused }, "{wide:?}");
        }
        for (g, w) in one.1.iter().zip(plain.1) {
            assert!((g - w).abs() <= 1e-12 * w, "{g} vs {w}");
        }
    }
}
