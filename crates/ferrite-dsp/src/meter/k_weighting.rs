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
        // Direct form I, written out independently.
        let run = |q: &Biquad, x: &[f64]| -> Vec<f64> {
            let mut y = vec![0.0; x.len()];
            for n in 0..x.len() {
                let xm = |d: usize| if n >= d { x[n - d] } else { 0.0 };
                let ym = |y: &[f64], d: usize| if n >= d { y[n - d] } else { 0.0 };
                y[n] = q.b0 * x[n] + q.b1 * xm(1) + q.b2 * xm(2) - q.a1 * ym(&y, 1) - q.a2 * ym(&y, 2);
            }
            y
        };
        let want = run(&k.highpass, &run(&k.shelf, &x));
        let mut st = KState::default();
        for (xi, wi) in x.iter().zip(want.iter()) {
            let got = st.tick(&k, *xi);
            assert!((got - wi).abs() < 1e-12);
        }
    }
}
