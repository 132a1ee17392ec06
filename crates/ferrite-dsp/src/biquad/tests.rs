use super::*;
use crate::gain::Gain;
use crate::processor::ParamBuffer;

// ---------- Independent references, written out from the cookbook ----------

/// Cookbook coefficients `[b0, b1, b2, a1, a2]` (normalized by a0), written
/// out directly from the RBJ formulas for valid inputs.
pub(crate) fn ref_coeffs(kind: BiquadType, f0: f64, q: f64, gain_db: f64, fs: f64) -> [f64; 5] {
    let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
    let cw = w0.cos();
    let sw = w0.sin();
    let alpha = sw / (2.0 * q);
    let big_a = 10f64.powf(gain_db / 40.0);
    let sa = big_a.sqrt();
    let (b0, b1, b2, a0, a1, a2) = match kind {
        BiquadType::Lowpass => ((1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
        BiquadType::Highpass => ((1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
        BiquadType::Bandpass => (alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
        BiquadType::Notch => (1.0, -2.0 * cw, 1.0, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
        BiquadType::Allpass => (1.0 - alpha, -2.0 * cw, 1.0 + alpha, 1.0 + alpha, -2.0 * cw, 1.0 - alpha),
        BiquadType::Peaking => {
            (1.0 + alpha * big_a, -2.0 * cw, 1.0 - alpha * big_a, 1.0 + alpha / big_a, -2.0 * cw, 1.0 - alpha / big_a)
        }
        BiquadType::Lowshelf => (
            big_a * ((big_a + 1.0) - (big_a - 1.0) * cw + 2.0 * sa * alpha),
            2.0 * big_a * ((big_a - 1.0) - (big_a + 1.0) * cw),
            big_a * ((big_a + 1.0) - (big_a - 1.0) * cw - 2.0 * sa * alpha),
            (big_a + 1.0) + (big_a - 1.0) * cw + 2.0 * sa * alpha,
            -2.0 * ((big_a - 1.0) + (big_a + 1.0) * cw),
            (big_a + 1.0) + (big_a - 1.0) * cw - 2.0 * sa * alpha,
        ),
        BiquadType::Highshelf => (
            big_a * ((big_a + 1.0) + (big_a - 1.0) * cw + 2.0 * sa * alpha),
            -2.0 * big_a * ((big_a - 1.0) + (big_a + 1.0) * cw),
            big_a * ((big_a + 1.0) + (big_a - 1.0) * cw - 2.0 * sa * alpha),
            (big_a + 1.0) - (big_a - 1.0) * cw + 2.0 * sa * alpha,
            2.0 * ((big_a - 1.0) - (big_a + 1.0) * cw),
            (big_a + 1.0) - (big_a - 1.0) * cw - 2.0 * sa * alpha,
        ),
    };
    [b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0]
}

/// Direct form I difference equation over `x` with coefficients `c`.
pub(crate) fn ref_df1(c: [f64; 5], x: &[f64]) -> Vec<f64> {
    let [b0, b1, b2, a1, a2] = c;
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    x.iter()
        .map(|&xn| {
            let y = b0 * xn + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
            x2 = x1;
            x1 = xn;
            y2 = y1;
            y1 = y;
            y
        })
        .collect()
}

/// `|H(e^{jw})|` of `c`, evaluated as a complex ratio.
fn ref_mag(c: [f64; 5], w: f64) -> f64 {
    let [b0, b1, b2, a1, a2] = c;
    let (re_n, im_n) = (b0 + b1 * w.cos() + b2 * (2.0 * w).cos(), -(b1 * w.sin() + b2 * (2.0 * w).sin()));
    let (re_d, im_d) = (1.0 + a1 * w.cos() + a2 * (2.0 * w).cos(), -(a1 * w.sin() + a2 * (2.0 * w).sin()));
    (re_n.hypot(im_n)) / (re_d.hypot(im_d))
}

/// `|DTFT of h at w|`.
fn dtft_mag(h: &[f64], w: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (n, &v) in h.iter().enumerate() {
        re += v * (w * n as f64).cos();
        im -= v * (w * n as f64).sin();
    }
    re.hypot(im)
}

/// Deterministic noise in [-1, 1) (xorshift).
pub(crate) fn noise(n: usize, seed: u64) -> Vec<f64> {
    crate::kernels::testutil::xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, n)
}

fn as_array(c: &Coeffs) -> [f64; 5] {
    [c.b0, c.b1, c.b2, c.a1, c.a2]
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
}

const RATES: [f64; 3] = [44_100.0, 48_000.0, 96_000.0];
const QS: [f64; 8] = [0.1, 0.3, 0.5, FRAC_1_SQRT_2, 1.0, 2.5, 8.0, 20.0];
const GAINS: [f64; 7] = [-24.0, -12.0, -3.0, 0.0, 3.0, 12.0, 24.0];

/// 24 log-spaced frequencies from 20 Hz to 0.45·fs.
fn freqs(fs: f64) -> Vec<f64> {
    let (lo, hi) = (20.0f64, 0.45 * fs);
    (0..24).map(|i| lo * (hi / lo).powf(i as f64 / 23.0)).collect()
}

/// Runs `p` over planar `data` (`channels` × `frames`) in blocks of
/// `block`, with params from `param_at(index, frame)` (varying when
/// `varying`, else the value at the block's first frame).
#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    p: &mut dyn Processor,
    data: &mut [f64],
    channels: usize,
    frames: usize,
    block: usize,
    n_params: usize,
    varying: bool,
    param_at: &dyn Fn(usize, usize) -> f64,
) {
    let mut params: Vec<ParamBuffer> = (0..n_params).map(|i| ParamBuffer::new(param_at(i, 0), block)).collect();
    let mut chans: Vec<Vec<f64>> = (0..channels).map(|c| data[c * frames..(c + 1) * frames].to_vec()).collect();
    let mut buf = vec![0.0; channels * block];
    let mut pos = 0;
    while pos < frames {
        let n = block.min(frames - pos);
        for (i, pb) in params.iter_mut().enumerate() {
            if varying {
                for (k, v) in pb.varying_mut(n).iter_mut().enumerate() {
                    *v = param_at(i, pos + k);
                }
            } else {
                pb.set_constant(param_at(i, pos));
            }
        }
        for c in 0..channels {
            buf[c * block..c * block + n].copy_from_slice(&chans[c][pos..pos + n]);
        }
        let ctx = ProcessContext { frames: n, position: pos as u64, params: &params };
        p.process(&ctx, &mut Bus::new(&mut buf, channels, block, n));
        for c in 0..channels {
            chans[c][pos..pos + n].copy_from_slice(&buf[c * block..c * block + n]);
        }
        pos += n;
    }
    for c in 0..channels {
        data[c * frames..(c + 1) * frames].copy_from_slice(&chans[c]);
    }
}

fn prepared(kind: BiquadType, fs: f64, max_block: usize, channels: usize) -> Biquad {
    let mut b = Biquad::new(kind);
    b.prepare(&PrepareContext { sample_rate: fs, max_block, channels });
    b
}

// ---------- Tests ----------

#[test]
fn type_names_round_trip() {
    for k in BiquadType::ALL {
        assert_eq!(BiquadType::parse(k.name()), Some(k));
    }
    assert_eq!(BiquadType::parse("lowpass"), Some(BiquadType::Lowpass));
    assert_eq!(BiquadType::parse("highshelf"), Some(BiquadType::Highshelf));
    assert_eq!(BiquadType::parse("low-pass"), None);
    assert_eq!(BiquadType::parse(""), None);
    assert_eq!(PARAMS.iter().map(|p| p.name).collect::<Vec<_>>(), ["frequency", "q", "gainDb"]);
}

#[test]
fn coefficients_match_cookbook_over_sweep() {
    let mut checked = 0;
    for fs in RATES {
        for f in freqs(fs) {
            for q in QS {
                for g in GAINS {
                    for k in BiquadType::ALL {
                        let got = as_array(&coefficients(k, f, q, g, fs));
                        let want = ref_coeffs(k, f, q, g, fs);
                        for (a, b) in got.iter().zip(&want) {
                            assert!(rel_close(*a, *b, 1e-12), "{k:?} f={f} q={q} g={g} fs={fs}: {got:?} vs {want:?}");
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 24 * 8 * 7 * 8);
}

#[test]
fn impulse_response_matches_df1_reference() {
    let n = 512;
    let mut impulse = vec![0.0; n];
    impulse[0] = 1.0;
    for fs in RATES {
        for f in freqs(fs).into_iter().step_by(3) {
            for q in [0.1, FRAC_1_SQRT_2, 3.0, 20.0] {
                for g in [-24.0, 0.0, 9.0, 24.0] {
                    for k in BiquadType::ALL {
                        let want = ref_df1(ref_coeffs(k, f, q, g, fs), &impulse);
                        let mut bq = prepared(k, fs, 64, 1);
                        let mut got = impulse.clone();
                        render(&mut bq, &mut got, 1, n, 64, 3, false, &|i, _| [f, q, g][i]);
                        // Rounding errors are amplified by the filter's
                        // recursion about as much as the impulse response
                        // sums up (L1 norm): near-DC resonances with a high q
                        // are ill-conditioned, and the fused (FMA) kernels
                        // and this unfused reference round differently.
                        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                        let l1: f64 = want.iter().map(|v| v.abs()).sum();
                        for (t, (a, b)) in got.iter().zip(&want).enumerate() {
                            assert!(
                                (a - b).abs() <= 1e-13 * (scale + l1),
                                "{k:?} f={f} q={q} g={g} fs={fs} n={t}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn magnitude_matches_analytic_values() {
    for fs in RATES {
        for f0 in freqs(fs) {
            let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
            for q in QS {
                let c = |k, g| as_array(&coefficients(k, f0, q, g, fs));
                // Lowpass and highpass: |H(w0)| = q (-3.01 dB at q = 1/√2).
                assert!(rel_close(ref_mag(c(BiquadType::Lowpass, 0.0), w0), q, 1e-9));
                assert!(rel_close(ref_mag(c(BiquadType::Highpass, 0.0), w0), q, 1e-9));
                // Bandpass: 0 dB at the peak.
                assert!(rel_close(ref_mag(c(BiquadType::Bandpass, 0.0), w0), 1.0, 1e-9));
                // Notch: zero at f0.
                assert!(ref_mag(c(BiquadType::Notch, 0.0), w0) < 1e-8);
                for g in GAINS {
                    let a = 10f64.powf(g / 40.0);
                    assert!(rel_close(ref_mag(c(BiquadType::Peaking, g), w0), a * a, 1e-9));
                    assert!(rel_close(ref_mag(c(BiquadType::Lowshelf, g), 0.0), a * a, 1e-9));
                    assert!(rel_close(ref_mag(c(BiquadType::Lowshelf, g), std::f64::consts::PI), 1.0, 1e-9));
                    // Shelf midpoint: |H(w0)| = A. Looser tolerance: at 20 Hz / 96 kHz the
                    // (1 − cos w0) terms cancel to ~1e-9 relative in f64.
                    let m = ref_mag(c(BiquadType::Lowshelf, g), w0);
                    assert!(rel_close(m, a, 1e-7), "fs={fs} f0={f0} q={q} g={g}: {m} vs {a}");
                    assert!(rel_close(ref_mag(c(BiquadType::Highshelf, g), 0.0), 1.0, 1e-9));
                    assert!(rel_close(ref_mag(c(BiquadType::Highshelf, g), std::f64::consts::PI), a * a, 1e-9));
                    assert!(rel_close(ref_mag(c(BiquadType::Highshelf, g), w0), a, 1e-7));
                }
                for i in 1..16 {
                    let w = std::f64::consts::PI * i as f64 / 16.0;
                    assert!(rel_close(ref_mag(c(BiquadType::Allpass, 0.0), w), 1.0, 1e-9));
                }
            }
        }
    }
    let lp = coefficients(BiquadType::Lowpass, 1000.0, DEFAULT_Q, 0.0, 48_000.0);
    let db = 20.0 * ref_mag(as_array(&lp), 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0).log10();
    assert!((db - (-3.0103)).abs() < 1e-4, "{db}");
}

#[test]
fn processor_frequency_response_matches_analytic_values() {
    // Measure the processor itself: DTFT of its (decayed) impulse response.
    let fs = 48_000.0;
    let n = 1 << 14;
    let mut impulse = vec![0.0; n];
    impulse[0] = 1.0;
    let ir = |k: BiquadType, f0: f64, q: f64, g: f64| {
        let mut bq = prepared(k, fs, 128, 1);
        let mut h = impulse.clone();
        render(&mut bq, &mut h, 1, n, 128, 3, false, &|i, _| [f0, q, g][i]);
        h
    };
    for f0 in [200.0, 1000.0, 6000.0] {
        let w0 = 2.0 * std::f64::consts::PI * f0 / fs;
        for g in [-12.0, 6.0, 18.0] {
            let m = dtft_mag(&ir(BiquadType::Peaking, f0, 2.0, g), w0);
            assert!((20.0 * m.log10() - g).abs() < 1e-6, "peaking {f0} {g}: {m}");
        }
        let m = dtft_mag(&ir(BiquadType::Lowpass, f0, DEFAULT_Q, 0.0), w0);
        assert!((20.0 * m.log10() + 3.010_299_956_6).abs() < 1e-6, "lowpass {f0}: {m}");
        let m = dtft_mag(&ir(BiquadType::Bandpass, f0, 1.5, 0.0), w0);
        assert!((m - 1.0).abs() < 1e-7, "bandpass {f0}: {m}");
        let m = dtft_mag(&ir(BiquadType::Notch, f0, 1.0, 0.0), w0);
        assert!(m < 1e-7, "notch {f0}: {m}");
        let h = ir(BiquadType::Allpass, f0, 0.9, 0.0);
        for i in 1..12 {
            let m = dtft_mag(&h, std::f64::consts::PI * i as f64 / 12.0);
            assert!((m - 1.0).abs() < 1e-7, "allpass {f0}: {m}");
        }
    }
}

#[test]
fn constant_params_are_block_size_invariant() {
    let (channels, frames) = (2, 1000);
    let mut input = noise(frames, 1);
    input.extend(noise(frames, 2));
    for k in BiquadType::ALL {
        let run = |block: usize| {
            let mut bq = prepared(k, 44_100.0, block, channels);
            let mut d = input.clone();
            render(&mut bq, &mut d, channels, frames, block, 3, false, &|i, _| [3000.0, 2.0, 6.0][i]);
            d
        };
        let reference = run(128);
        for block in [1, 37, 64] {
            assert_eq!(run(block), reference, "{k:?} block {block}");
        }
        // Channels are filtered independently with the same coefficients.
        let c = ref_coeffs(k, 3000.0, 2.0, 6.0, 44_100.0);
        let want1 = ref_df1(c, &input[frames..]);
        for (a, b) in reference[frames..].iter().zip(&want1) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}

fn sweep_at(frame: usize) -> f64 {
    200.0 * 40f64.powf(frame as f64 / 4799.0)
}

#[test]
fn varying_params_are_block_size_invariant_and_per_frame() {
    let (channels, frames, fs) = (2, 4800, 48_000.0);
    let mut input = noise(frames, 3);
    input.extend(noise(frames, 4));
    let params = |i: usize, t: usize| match i {
        0 => sweep_at(t),
        1 => 0.5 + (t % 700) as f64 / 100.0,
        _ => -12.0 + 24.0 * (t as f64 / frames as f64),
    };
    for k in BiquadType::ALL {
        let run = |block: usize| {
            let mut bq = prepared(k, fs, block, channels);
            let mut d = input.clone();
            render(&mut bq, &mut d, channels, frames, block, 3, true, &params);
            d
        };
        let reference = run(128);
        for block in [1, 37, 64] {
            assert_eq!(run(block), reference, "{k:?} block {block}");
        }
        // Test-side transposed DF2 with per-frame reference coefficients.
        for c in 0..channels {
            let (mut s1, mut s2) = (0.0, 0.0);
            for t in 0..frames {
                let [b0, b1, b2, a1, a2] = ref_coeffs(k, params(0, t), params(1, t), params(2, t), fs);
                let x = input[c * frames + t];
                let y = b0 * x + s1;
                s1 = b1 * x - a1 * y + s2;
                s2 = b2 * x - a2 * y;
                let got = reference[c * frames + t];
                assert!((got - y).abs() <= 1e-10 * (1.0 + y.abs()), "{k:?} t={t}: {got} vs {y}");
            }
        }
    }
}

#[test]
fn mixed_constant_and_varying_blocks_agree() {
    // A varying block holding constant values equals a constant block.
    let (frames, fs) = (300, 96_000.0);
    let input = noise(frames, 5);
    for k in BiquadType::ALL {
        let run = |varying: bool| {
            let mut bq = prepared(k, fs, 50, 1);
            let mut d = input.clone();
            render(&mut bq, &mut d, 1, frames, 50, 3, varying, &|i, _| [700.0, 0.8, -5.0][i]);
            d
        };
        assert_eq!(run(true), run(false), "{k:?}");
    }
}

#[test]
fn automated_sweep_stays_finite_and_bounded() {
    let (frames, fs) = (48_000, 48_000.0);
    let sweep = |t: usize| 200.0 * 40f64.powf(t as f64 / (frames - 1) as f64);
    let input = noise(frames, 6);
    for k in BiquadType::ALL {
        for q in [DEFAULT_Q, 10.0] {
            let mut bq = prepared(k, fs, 128, 1);
            let mut d = input.clone();
            render(&mut bq, &mut d, 1, frames, 128, 3, true, &|i, t| [sweep(t), q, 24.0][i]);
            let peak = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(d.iter().all(|v| v.is_finite()), "{k:?} q={q}");
            // Worst steady-state gain is q·A² (≤ 10·15.85); allow slack for the sweep.
            assert!(peak < 1000.0, "{k:?} q={q}: peak {peak}");
        }
    }
}

#[test]
fn odd_inputs_give_finite_stable_coefficients() {
    let odd = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0, 1e300, -1e300, 1e-300];
    for k in BiquadType::ALL {
        for &f in &odd {
            for &q in &odd {
                for &g in &odd {
                    for fs in [48_000.0, 0.0, f64::NAN, -1.0, f64::INFINITY] {
                        let c = coefficients(k, f, q, g, fs);
                        let a = as_array(&c);
                        assert!(a.iter().all(|v| v.is_finite()), "{k:?} {f} {q} {g} {fs}: {c:?}");
                        // Stability triangle.
                        assert!(c.a2.abs() < 1.0 && c.a1.abs() < 1.0 + c.a2, "{k:?} {f} {q} {g} {fs}: {c:?}");
                    }
                }
            }
        }
        let mut bq = prepared(k, 48_000.0, 16, 1);
        let mut d = vec![1.0; 64];
        d[3] = f64::NAN;
        render(&mut bq, &mut d, 1, 64, 16, 3, false, &|i, _| [f64::NAN, 0.0, 1e9][i]);
        // The NaN block is lost, but the state recovers for the next ones.
        assert!(d[16..].iter().all(|v| v.is_finite()), "{k:?}");
    }
}

#[test]
fn take_state_keeps_filter_memory_across_a_swap() {
    let (channels, frames, split) = (2, 600, 250);
    let mut input = noise(frames, 7);
    input.extend(noise(frames, 8));
    let params = |i: usize, _| [1500.0, 4.0, 10.0][i];
    for k in BiquadType::ALL {
        let mut whole = input.clone();
        render(&mut prepared(k, 48_000.0, 64, channels), &mut whole, channels, frames, 64, 3, false, &params);

        let mut first = prepared(k, 48_000.0, 64, channels);
        let mut a: Vec<f64> = (0..channels).flat_map(|c| input[c * frames..c * frames + split].to_vec()).collect();
        render(&mut first, &mut a, channels, split, 64, 3, false, &params);
        let mut second = Biquad::new(k);
        assert!(second.take_state(&mut first));
        second.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: 64, channels });
        let rest = frames - split;
        let mut b: Vec<f64> =
            (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect();
        render(&mut second, &mut b, channels, rest, 64, 3, false, &params);
        for c in 0..channels {
            assert_eq!(&a[c * split..(c + 1) * split], &whole[c * frames..c * frames + split]);
            assert_eq!(&b[c * rest..(c + 1) * rest], &whole[c * frames + split..(c + 1) * frames], "{k:?}");
        }

        // Prepared before the take: same result.
        let mut third = prepared(k, 48_000.0, 64, channels);
        assert!(third.take_state(&mut first));
        let mut b2: Vec<f64> =
            (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect();
        render(&mut third, &mut b2, channels, rest, 64, 3, false, &params);
        assert_eq!(b2, b);

        // Without the take, the start differs (the test can fail).
        let mut fresh = prepared(k, 48_000.0, 64, channels);
        let mut b3: Vec<f64> =
            (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect();
        render(&mut fresh, &mut b3, channels, rest, 64, 3, false, &params);
        assert_ne!(b3, b);

        // Reset clears the memory.
        third.reset();
        let mut b4: Vec<f64> =
            (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect();
        render(&mut third, &mut b4, channels, rest, 64, 3, false, &params);
        assert_eq!(b4, b3);
    }
    assert!(!Biquad::new(BiquadType::Lowpass).take_state(&mut Gain::new()));
}

#[test]
fn scalar_kernels_agree() {
    let c = coefficients(BiquadType::Peaking, 2500.0, 1.3, 7.0, 48_000.0);
    let x = noise(200, 9);
    let (mut a, mut b) = (x.clone(), x.clone());
    let (mut sa, mut sb) = ([0.0; 2], [0.0; 2]);
    process_block_scalar(&c, &mut sa, &mut a);
    process_block_varying_scalar(&[c; 200], &mut sb, &mut b);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let want = ref_df1(as_array(&c), &x);
    for (g, w) in a.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12);
    }
}
