use super::*;
use crate::kernels::biquad::test_reference::{filter, random_band};
use crate::kernels::testutil::*;

#[test]
fn active_lanes_follow_the_wavefront() {
    // 3 stages, 2 samples: steps 0..4.
    assert_eq!(active_lanes(0, 2, 3), 0b001);
    assert_eq!(active_lanes(1, 2, 3), 0b011);
    assert_eq!(active_lanes(2, 2, 3), 0b110);
    assert_eq!(active_lanes(3, 2, 3), 0b100);
    assert_eq!(active_lanes(20, 100, 8), 0xff);
    assert_eq!(active_lanes(0, 1, 1), 1);
}

#[test]
fn cascade_equals_the_stages_run_in_series_at_every_level() {
    let mut rng = Rng::new(6);
    for_each_test_level(|level| {
        for stages in 0..=MAX {
            for &n in &[0usize, 1, 2, 7, 129, 300] {
                let coeffs: Vec<BiquadCoeffs> = (0..stages).map(|_| random_band(&mut rng)).collect();
                let z0: Vec<[f64; 2]> = (0..stages).map(|_| [rng.signed(), rng.signed()]).collect();
                let mut eq = BiquadCascade::new(stages);
                for (k, (c, z)) in coeffs.iter().zip(&z0).enumerate() {
                    assert!(eq.set_coeffs(k, *c));
                    assert!(eq.set_state(k, *z));
                }
                let x = rng.vec(n);
                // Blocks of 1, 37 and the rest: the split must not matter.
                let mut got = x.clone();
                let (a, rest) = got.split_at_mut(n.min(1));
                let (b, c) = rest.split_at_mut(rest.len().min(37));
                for blk in [a, b, c] {
                    eq.process_at(level, blk);
                }
                let mut want = x.clone();
                for (k, (c, z)) in coeffs.iter().zip(&z0).enumerate() {
                    let mut z = *z;
                    filter(c, &mut z, &mut want, fused(level));
                    assert_eq!(eq.state(k), Some(z), "{level} S={stages} n={n} state {k}");
                }
                assert_bits_eq(&got, &want, &format!("{level} S={stages} n={n}"));
            }
        }
    });
}

#[test]
fn a_pair_equals_two_separate_cascades() {
    let mut rng = Rng::new(8);
    for_each_test_level(|level| {
        for stages in [1usize, 3, 5, 8] {
            for &n in &[1usize, 2, 9, 130] {
                let mk = |rng: &mut Rng| {
                    let mut eq = BiquadCascade::new(stages);
                    for k in 0..stages {
                        eq.set_coeffs(k, random_band(rng));
                        eq.set_state(k, [rng.signed(), rng.signed()]);
                    }
                    eq
                };
                let (mut l, mut r) = (mk(&mut rng), mk(&mut rng));
                let (mut l2, mut r2) = (l, r);
                let (xl, xr) = (rng.vec(n), rng.vec(n));
                let (mut a, mut b) = (xl.clone(), xr.clone());
                l.process_pair_at(level, &mut a, &mut r, &mut b);
                let (mut wa, mut wb) = (xl, xr);
                l2.process_at(level, &mut wa);
                r2.process_at(level, &mut wb);
                assert_bits_eq(&a, &wa, &format!("pair left {level} S={stages} n={n}"));
                assert_bits_eq(&b, &wb, &format!("pair right {level} S={stages} n={n}"));
                assert_eq!((l, r), (l2, r2), "pair state {level} S={stages} n={n}");
            }
        }
        // Mismatched lengths fall back to two passes.
        let (mut l, mut r) = (BiquadCascade::new(2), BiquadCascade::new(2));
        l.set_coeffs(0, BiquadCoeffs { b0: 2.0, ..BiquadCoeffs::IDENTITY });
        let (mut a, mut b) = (vec![1.0; 3], vec![1.0; 5]);
        l.process_pair_at(level, &mut a, &mut r, &mut b);
        assert_eq!((a, b), (vec![2.0; 3], vec![1.0; 5]));
    });
}

/// Two cascades with random bands and random state.
fn random_pair(rng: &mut Rng, stages: usize) -> (BiquadCascade, BiquadCascade) {
    let mut mk = || {
        let mut eq = BiquadCascade::new(stages);
        for k in 0..stages {
            assert!(eq.set_coeffs(k, random_band(rng)));
            assert!(eq.set_state(k, [rng.signed(), rng.signed()]));
        }
        eq
    };
    let l = mk();
    (l, mk())
}

fn state_bits(eq: &BiquadCascade) -> Vec<[u64; 2]> {
    (0..eq.stages()).filter_map(|k| eq.state(k)).map(|z| [z[0].to_bits(), z[1].to_bits()]).collect()
}

#[test]
fn stereo_wavefront_equals_two_serial_calls_bit_for_bit() {
    let mut rng = Rng::new(21);
    for_each_test_level(|level| {
        for stages in 1..=MAX {
            for &n in &[0usize, 1, 5, 7, 8, 9, 128, 1000] {
                // Block patterns: one call, and splits at odd places.
                for blocks in [&[usize::MAX][..], &[1, 37], &[3, 1, 8, 2, 64], &[7, 7, 7]] {
                    let (mut l, mut r) = random_pair(&mut rng, stages);
                    let (mut l2, mut r2) = (l, r);
                    let (xl, xr) = (rng.vec(n), rng.vec(n));
                    let (mut a, mut b) = (xl.clone(), xr.clone());
                    let (mut ra, mut rb) = (&mut a[..], &mut b[..]);
                    for &len in blocks.iter().chain([&usize::MAX]) {
                        let len = len.min(ra.len());
                        let (ha, ta) = ra.split_at_mut(len);
                        let (hb, tb) = rb.split_at_mut(len);
                        l.process_pair_at(level, ha, &mut r, hb);
                        (ra, rb) = (ta, tb);
                    }
                    let (mut wa, mut wb) = (xl, xr);
                    l2.process_at(level, &mut wa);
                    r2.process_at(level, &mut wb);
                    let what = format!("{level} S={stages} n={n} blocks={blocks:?}");
                    assert_bits_eq(&a, &wa, &format!("left {what}"));
                    assert_bits_eq(&b, &wb, &format!("right {what}"));
                    assert_eq!(state_bits(&l), state_bits(&l2), "left state {what}");
                    assert_eq!(state_bits(&r), state_bits(&r2), "right state {what}");
                }
            }
        }
    });
}

#[test]
fn stereo_wavefront_equals_the_serial_tdf2_reference() {
    // Independent of `process_at`: every stage run in series with the
    // test reference, in the level's flavour (plain or fused).
    let mut rng = Rng::new(22);
    for_each_test_level(|level| {
        for stages in 1..=MAX {
            let (mut l, mut r) = random_pair(&mut rng, stages);
            let n = 300;
            let (xl, xr) = (rng.vec(n), rng.vec(n));
            let mut want = [xl.clone(), xr.clone()];
            for (eq, w) in [&l, &r].into_iter().zip(want.iter_mut()) {
                for k in 0..stages {
                    let (Some(c), Some(mut z)) = (eq.coeffs(k), eq.state(k)) else { panic!("stage {k}") };
                    filter(&c, &mut z, w, fused(level));
                }
            }
            let (mut a, mut b) = (xl, xr);
            l.process_pair_at(level, &mut a, &mut r, &mut b);
            assert_bits_eq(&a, &want[0], &format!("left {level} S={stages}"));
            assert_bits_eq(&b, &want[1], &format!("right {level} S={stages}"));
        }
    });
}

#[test]
fn stereo_eq_matches_a_direct_form_one_rbj_reference() {
    // An 8-band stereo EQ of RBJ peaking bands, against a direct-form-I
    // recursion written here (mathematically equal, rounded differently).
    fn rbj_peaking(fs: f64, f0: f64, q: f64, db: f64) -> [f64; 6] {
        let a = 10f64.powf(db / 40.0);
        let w = 2.0 * std::f64::consts::PI * f0 / fs;
        let alpha = w.sin() / (2.0 * q);
        [1.0 + alpha * a, -2.0 * w.cos(), 1.0 - alpha * a, 1.0 + alpha / a, -2.0 * w.cos(), 1.0 - alpha / a]
    }
    fn df1(c: [f64; 6], x: &[f64]) -> Vec<f64> {
        let [b0, b1, b2, a0, a1, a2] = c;
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&x0| {
                let y0 = (b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
                (x2, x1, y2, y1) = (x1, x0, y1, y0);
                y0
            })
            .collect()
    }
    let bands = |ch: usize| -> Vec<[f64; 6]> {
        (0..MAX)
            .map(|k| {
                rbj_peaking(
                    48000.0,
                    60.0 * 2.2f64.powi(k as i32) * (1.0 + 0.1 * ch as f64),
                    0.5 + 0.4 * k as f64,
                    12.0 - 3.5 * k as f64,
                )
            })
            .collect()
    };
    let mut rng = Rng::new(23);
    let n = 2000;
    let x = [rng.vec(n), rng.vec(n)];
    for_each_test_level(|level| {
        let (mut l, mut r) = (BiquadCascade::new(MAX), BiquadCascade::new(MAX));
        let mut want = x.clone();
        for (ch, (eq, w)) in [&mut l, &mut r].into_iter().zip(want.iter_mut()).enumerate() {
            for (k, c) in bands(ch).into_iter().enumerate() {
                let [b0, b1, b2, a0, a1, a2] = c;
                assert!(eq.set_coeffs(k, BiquadCoeffs::normalized(b0, b1, b2, a0, a1, a2)));
                *w = df1(c, w);
            }
        }
        let (mut a, mut b) = (x[0].clone(), x[1].clone());
        // In blocks of 128, as the engine runs it.
        for (ha, hb) in a.chunks_mut(128).zip(b.chunks_mut(128)) {
            l.process_pair_at(level, ha, &mut r, hb);
        }
        let scale = want.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.5, "the reference is not trivial");
        for (got, want) in [&a, &b].into_iter().zip(&want) {
            assert_close(got, want, 1e-9, scale, &format!("{level}"));
        }
    });
}

#[test]
fn stereo_wavefront_survives_non_finite_input() {
    let mut rng = Rng::new(24);
    for_each_test_level(|level| {
        for stages in [1usize, 4, 8] {
            let (mut l, mut r) = random_pair(&mut rng, stages);
            let (mut l2, mut r2) = (l, r);
            let mut a = rng.vec(40);
            let mut b = rng.vec(40);
            a[3] = f64::NAN;
            a[10] = f64::INFINITY;
            b[20] = f64::NEG_INFINITY;
            let (mut wa, mut wb) = (a.clone(), b.clone());
            l.process_pair_at(level, &mut a, &mut r, &mut b);
            l2.process_at(level, &mut wa);
            r2.process_at(level, &mut wb);
            // Same samples as two serial calls, non-finite ones included.
            for (got, want) in [(&a, &wa), (&b, &wb)] {
                for (g, w) in got.iter().zip(want.iter()) {
                    assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "{level} S={stages}");
                }
            }
            assert!(a[..3].iter().all(|v| v.is_finite()), "samples before the NaN are untouched by it");
        }
    });
}

#[test]
fn api_ranges_and_clamping() {
    let mut eq = BiquadCascade::new(20);
    assert_eq!(eq.stages(), MAX_CASCADE_STAGES);
    assert!(!eq.set_coeffs(8, BiquadCoeffs::IDENTITY));
    assert!(!eq.set_state(8, [1.0, 1.0]));
    assert_eq!(eq.coeffs(8), None);
    assert_eq!(eq.state(8), None);
    assert_eq!(eq.coeffs(7), Some(BiquadCoeffs::IDENTITY));
    eq.set_state(3, [1.0, 2.0]);
    eq.reset();
    assert_eq!(eq.state(3), Some([0.0, 0.0]));
    let mut x = [1.0, -1.0];
    BiquadCascade::new(0).process(&mut x);
    assert_eq!(x, [1.0, -1.0]);
}
