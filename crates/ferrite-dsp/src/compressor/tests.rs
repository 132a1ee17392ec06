use super::*;
use crate::processor::ParamBuffer;

const FS: f64 = 48_000.0;

/// The static curve written out independently of the implementation.
fn reference_curve(x: f64, t: f64, r: f64, w: f64) -> f64 {
    if w == 0.0 {
        return if x <= t { x } else { t + (x - t) / r };
    }
    if x < t - w / 2.0 {
        x
    } else if x > t + w / 2.0 {
        t + (x - t) / r
    } else {
        x + (1.0 / r - 1.0) * (x - t + w / 2.0).powi(2) / (2.0 * w)
    }
}

fn db(lin: f64) -> f64 {
    20.0 * lin.log10()
}

fn prepared(channels: usize, max_block: usize) -> Compressor {
    let mut c = Compressor::new();
    c.prepare(&PrepareContext { sample_rate: FS, max_block, channels });
    c
}

/// Runs over planar `input` in blocks; `params(frame)` gives the six
/// parameters per frame (sent as varying buffers when `varying`).
fn run(
    comp: &mut Compressor,
    input: &[Vec<f64>],
    block: usize,
    varying: bool,
    params: &dyn Fn(usize) -> [f64; 6],
) -> Vec<Vec<f64>> {
    run_keyed(comp, input, None, block, varying, params)
}

/// [`run`], with the detector on planar `key` (through `process_keyed`) when given.
fn run_keyed(
    comp: &mut Compressor,
    input: &[Vec<f64>],
    key: Option<&[Vec<f64>]>,
    block: usize,
    varying: bool,
    params: &dyn Fn(usize) -> [f64; 6],
) -> Vec<Vec<f64>> {
    let kch = key.map_or(0, <[Vec<f64>]>::len);
    let mut kbuf = vec![0.0; kch * block];
    let ch = input.len();
    let n = input[0].len();
    let mut out = vec![vec![0.0; n]; ch];
    let mut pb: Vec<ParamBuffer> = (0..6).map(|_| ParamBuffer::new(0.0, block)).collect();
    let mut buf = vec![0.0; ch * block];
    let mut start = 0;
    while start < n {
        let f = block.min(n - start);
        for c in 0..ch {
            buf[c * block..c * block + f].copy_from_slice(&input[c][start..start + f]);
        }
        for (k, p) in pb.iter_mut().enumerate() {
            if varying {
                for (i, v) in p.varying_mut(f).iter_mut().enumerate() {
                    *v = params(start + i)[k];
                }
            } else {
                p.set_constant(params(start)[k]);
            }
        }
        let ctx = ProcessContext { frames: f, position: start as u64, params: &pb };
        match key {
            Some(key) => {
                for (c, k) in key.iter().enumerate() {
                    kbuf[c * block..c * block + f].copy_from_slice(&k[start..start + f]);
                }
                let key = Bus::new(&mut kbuf, kch, block, f);
                comp.process_keyed(&ctx, &mut Bus::new(&mut buf, ch, block, f), &key);
            }
            None => comp.process(&ctx, &mut Bus::new(&mut buf, ch, block, f)),
        }
        for c in 0..ch {
            out[c][start..start + f].copy_from_slice(&buf[c * block..c * block + f]);
        }
        start += f;
    }
    out
}

#[test]
fn static_curve_matches_the_formula_at_steady_state() {
    // (threshold, ratio, knee, makeup)
    let settings = [
        (-24.0, 4.0, 6.0, 0.0),
        (-24.0, 4.0, 0.0, 0.0),
        (-10.0, 20.0, 12.0, 3.0),
        (-30.0, 1.0, 6.0, 0.0),
        (-6.0, 2.5, 24.0, -2.0),
    ];
    for &(t, r, w, m) in &settings {
        let mut level = -60.0;
        while level <= 6.0 {
            let a = 10f64.powf(level / 20.0);
            // DC of one polarity on L, the other on R (linked detection sees |a|).
            let input = [vec![a; 2_400], vec![-a; 2_400]];
            let mut comp = prepared(2, 128);
            let out = run(&mut comp, &input, 128, false, &|_| [t, r, 1.0, 1.0, w, m]);
            let expect = reference_curve(level, t, r, w) - level + m;
            for o in &out {
                let got = db(o[2_399].abs() / a);
                assert!(
                    (got - expect).abs() < 1e-9,
                    "T {t} R {r} W {w} at {level} dB: gain {got} dB, expected {expect}"
                );
            }
            level += 0.25;
        }
    }
    // Points inside the knee really are on the quadratic (not on either line).
    let inside = reference_curve(-24.0, -24.0, 4.0, 6.0);
    assert!((inside - (-24.0 - 0.75 * 9.0 / 12.0)).abs() < 1e-12);
}

#[test]
fn target_follows_the_curve_at_and_around_the_knee() {
    // The per-frame target (multiplications by cached constants) against
    // the curve's formula, at the threshold exactly (`t = x`, where a hard
    // knee reaches the inside case), at the knee edges and around them;
    // with no knee, a subnormal knee (treated as none) and soft knees.
    let mut comp = prepared(1, 4);
    let mut checked = 0;
    for w in [0.0, 1e-310, 0.5, 6.0, 60.0] {
        for ratio in [1.0, 4.0, 1000.0] {
            // (x from -26 to -7 dB: every threshold below stays inside its range.)
            for lnp in [-3.0, -1.234_567, -0.8] {
                let x = DB_PER_NEPER * lnp;
                for t in [x, x - 1e-9, x + 1e-9, x - w / 2.0, x + w / 2.0, x - w / 4.0, x - 10.0, x + 10.0] {
                    let params: Vec<ParamBuffer> =
                        [t, ratio, 10.0, 100.0, w, 0.0].iter().map(|&v| ParamBuffer::new(v, 4)).collect();
                    comp.gc.update(&ProcessContext { frames: 4, position: 0, params: &params }, 0);
                    // (The peak only gates: far above the knee start here.)
                    let got = comp.gc.target(f64::MAX, lnp);
                    let want = (x - reference_curve(x, t, ratio, w)).max(0.0);
                    assert!(
                        got.is_finite() && (got - want).abs() < 1e-12,
                        "W {w} R {ratio} T {t} x {x}: {got} vs {want}"
                    );
                    if t == x && w == 0.0 {
                        assert_eq!(got, 0.0);
                    }
                    // At or below the knee start the target is 0 whatever the log holds.
                    assert_eq!(comp.gc.target(0.0, f64::NAN), 0.0);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 5 * 3 * 3 * 8);
}

#[test]
fn attack_and_release_follow_their_time_constants() {
    let (t, r, attack, release) = (-40.0, 4.0, 10.0, 100.0);
    let (lo, hi) = (10f64.powf(-60.0 / 20.0), 10f64.powf(-20.0 / 20.0));
    let step = reference_curve(-20.0, t, r, 0.0) - -20.0; // -15 dB
    let (n_on, n_off, n) = (1_000usize, 30_000usize, 60_000usize);
    let x: Vec<f64> = (0..n).map(|i| if (n_on..n_off).contains(&i) { hi } else { lo }).collect();
    let mut comp = prepared(1, 64);
    let out = run(&mut comp, std::slice::from_ref(&x), 64, false, &|_| [t, r, attack, release, 0.0, 0.0]);
    let gain_db = |i: usize| db(out[0][i] / x[i]);
    let aa = (-1.0 / (attack / 1000.0 * FS)).exp();
    let ar = (-1.0 / (release / 1000.0 * FS)).exp();
    for k in [1usize, 10, 100, 480, 1_000, 5_000] {
        // Frame n_on + k - 1 has had k smoothing steps toward the step.
        let expect = step * (1.0 - aa.powi(k as i32));
        assert!((gain_db(n_on + k - 1) - expect).abs() < 1e-9, "attack k {k}");
    }
    // After τ the reduction covers 1 - 1/e of the step.
    let at_tau = gain_db(n_on + 480 - 1) / step;
    assert!((at_tau - (1.0 - (-1.0f64).exp())).abs() < 1e-9, "{at_tau}");
    let settled = step * (1.0 - aa.powi((n_off - n_on) as i32));
    for k in [1usize, 100, 4_800, 10_000] {
        let expect = settled * ar.powi(k as i32);
        assert!((gain_db(n_off + k - 1) - expect).abs() < 1e-9, "release k {k}");
    }
    let at_tau = gain_db(n_off + 4_800 - 1) / settled;
    assert!((at_tau - (-1.0f64).exp()).abs() < 1e-9, "{at_tau}");
}

#[test]
fn makeup_gain_applies_below_threshold() {
    let x: Vec<f64> = (0..500).map(|i| 0.01 * (i as f64 * 0.1).sin()).collect();
    let out =
        run(&mut prepared(1, 128), std::slice::from_ref(&x), 128, false, &|_| [-10.0, 4.0, 10.0, 100.0, 6.0, 6.0]);
    let g = 10f64.powf(6.0 / 20.0);
    for (y, x) in out[0].iter().zip(&x) {
        assert!((y - x * g).abs() <= 1e-15, "{y} vs {}", x * g);
    }
}

#[test]
fn detection_is_linked_across_channels() {
    let n = 4_800;
    let loud = vec![0.5; n];
    let quiet = vec![0.01; n];
    let out = run(&mut prepared(2, 64), &[loud.clone(), quiet.clone()], 64, false, &|_| DEFAULTS);
    for i in 0..n {
        assert!((out[0][i] / loud[i] - out[1][i] / quiet[i]).abs() < 1e-12);
    }
    assert!(out[1][n - 1] / quiet[n - 1] < 0.3);
}

fn noise(seed: u64, n: usize) -> Vec<f64> {
    crate::kernels::testutil::xorshift(seed.max(1), n)
}

#[test]
fn output_does_not_depend_on_block_size() {
    let n = 5_000;
    let a = noise(1, n);
    let b: Vec<f64> = noise(2, n).iter().map(|v| 0.2 * v).collect();
    let params = |i: usize| {
        let s = i as f64;
        [-30.0 + 10.0 * (s / 400.0).sin(), 3.0 + (s / 300.0).cos(), 5.0, 50.0 + 40.0 * (s / 1000.0).sin(), 6.0, 2.0]
    };
    let reference = run(&mut prepared(2, 1), &[a.clone(), b.clone()], 1, true, &params);
    for block in [37, 64, 128] {
        let out = run(&mut prepared(2, block), &[a.clone(), b.clone()], block, true, &params);
        assert_eq!(out, reference, "block {block}");
    }
}

#[test]
fn plain_and_avx2_builds_agree_within_1e_12() {
    // The AVX2 build fuses the multiply-adds of `ln` and `exp` (see
    // `fused_block_math_is_within_one_ulp_of_plain`), so its samples may
    // differ from the plain build's in the last bits, never by more.
    let n = 6_000;
    let x = [noise(41, n), noise(42, n).iter().map(|v| 0.3 * v).collect::<Vec<f64>>()];
    let params = |i: usize| {
        let s = i as f64;
        [-30.0 + 10.0 * (s / 400.0).sin(), 3.0, 5.0, 50.0, 6.0, 2.0 + (s / 700.0).sin()]
    };
    for varying in [false, true] {
        let mut plain = prepared(2, 128);
        plain.set_level(SimdLevel::Scalar);
        let a = run(&mut plain, &x, 128, varying, &params);
        let b = run(&mut prepared(2, 128), &x, 128, varying, &params);
        let mut compressed = 0;
        for (ca, cb) in a.iter().zip(&b) {
            for (k, (&u, &v)) in ca.iter().zip(cb).enumerate() {
                assert!((u - v).abs() <= 1e-12 * u.abs().max(v.abs()), "varying {varying} frame {k}: {u} vs {v}");
            }
        }
        for (u, v) in a[0].iter().zip(&x[0]) {
            compressed += usize::from(u.abs() < 0.9 * v.abs());
        }
        // The comparison covers compressed frames, not just the makeup gain.
        assert!(compressed > n / 10, "varying {varying}: {compressed} compressed frames");
    }
}

#[test]
fn constant_and_varying_parameter_blocks_agree() {
    let x = [noise(21, 3_000), noise(22, 3_000)];
    let p = |_: usize| [-20.0, 3.0, 2.0, 40.0, 4.0, 1.5];
    let constant = run(&mut prepared(2, 64), &x, 64, false, &p);
    let varying = run(&mut prepared(2, 64), &x, 64, true, &p);
    assert_eq!(constant, varying);
}

#[test]
fn wild_per_frame_automation_stays_finite_and_bounded() {
    let n = 20_000;
    let x: Vec<f64> = noise(3, n).iter().map(|v| 4.0 * v).collect();
    let r = noise(4, 6 * n);
    // Every parameter jumps anywhere in (and beyond) its range each frame.
    let params = |i: usize| {
        let mut p = [0.0; 6];
        for (k, v) in p.iter_mut().enumerate() {
            let spec = &PARAMS[k];
            let u = r[6 * i + k] * 0.6 + 0.5; // slightly past both ends
            *v = spec.min + (spec.max - spec.min) * u;
        }
        p
    };
    let out = run(&mut prepared(1, 128), std::slice::from_ref(&x), 128, true, &params);
    let max_makeup = 10f64.powf(60.0 / 20.0);
    for (y, x) in out[0].iter().zip(&x) {
        assert!(y.is_finite());
        assert!(y.abs() <= x.abs() * max_makeup * (1.0 + 1e-12));
    }
    // Non-finite parameter values fall back to defaults instead of poisoning the state.
    let out = run(&mut prepared(1, 16), &[vec![0.5; 64]], 16, true, &|_| {
        [f64::NAN, f64::INFINITY, f64::NAN, -1.0, f64::NAN, f64::NAN]
    });
    assert!(out[0].iter().all(|v| v.is_finite()));
}

#[test]
fn take_state_continues_and_reset_starts_over() {
    let n = 3_000;
    let x: Vec<f64> = noise(9, n);
    let p = |_: usize| DEFAULTS;
    let whole = run(&mut prepared(1, 64), std::slice::from_ref(&x), 64, false, &p);
    let mut first = prepared(1, 64);
    let head = run(&mut first, &[x[..1_000].to_vec()], 64, false, &p);
    let mut second = prepared(1, 64);
    assert!(second.take_state(&mut first));
    assert!(second.gain_reduction_db() > 0.0);
    let mut tail = run(&mut second, &[x[1_000..].to_vec()], 64, false, &p);
    let mut joined = head[0].clone();
    joined.append(&mut tail[0]);
    assert_eq!(joined, whole[0]);
    assert_eq!(second.latency(), 0);
    second.reset();
    assert_eq!(run(&mut second, std::slice::from_ref(&x), 64, false, &p), whole);
}

/// The builds this machine runs (and `FERRITE_SIMD` allows).
fn builds() -> Vec<SimdLevel> {
    let widest = autovec_level().width();
    [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512].into_iter().filter(|l| l.width() <= widest).collect()
}

#[test]
fn the_vector_builds_give_the_same_bits() {
    // AVX2 and AVX-512 code generation of the same operations (`ln`/`exp`
    // fused in both): the same samples and state, bit for bit, with
    // constant and with automated parameters, whole blocks and a tail.
    let vector: Vec<SimdLevel> = builds().into_iter().filter(|&b| b != SimdLevel::Scalar).collect();
    if vector.len() < 2 {
        println!("skipped: this machine runs {:?} only", builds());
        return;
    }
    let n = 5_000;
    let x = [noise(51, n), noise(52, n).iter().map(|v| 0.3 * v).collect::<Vec<f64>>()];
    let params = |i: usize| {
        let s = i as f64;
        [-30.0 + 10.0 * (s / 400.0).sin(), 3.0, 5.0, 50.0, 6.0, 2.0 + (s / 700.0).sin()]
    };
    for varying in [false, true] {
        for block in [128, 37] {
            let outs: Vec<(Vec<Vec<u64>>, u64)> = vector
                .iter()
                .map(|&b| {
                    let mut c = prepared(2, block);
                    c.set_level(b);
                    let out = run(&mut c, &x, block, varying, &params);
                    (out.iter().map(|ch| ch.iter().map(|v| v.to_bits()).collect()).collect(), c.gc.reduction.to_bits())
                })
                .collect();
            for (b, o) in vector.iter().zip(&outs).skip(1) {
                assert!(o == &outs[0], "{b:?} against {:?}: varying {varying} block {block}", vector[0]);
            }
        }
    }
    // The batched recursions: 16-lane AVX-512 passes against 8-lane AVX2
    // passes, with targets that jump, settle to 0, and are not finite.
    let (lanes_n, stride, frames) = (37, 40, 39);
    let mut rng = noise(53, lanes_n * stride).into_iter();
    let targets: Vec<f64> = (0..lanes_n * stride)
        .map(|i| match (i % 97, rng.next().unwrap_or(0.0)) {
            (5, _) => f64::NAN,
            (9, _) => f64::INFINITY,
            (_, v) if (i / stride) % 5 == 0 && i % stride > 10 => 0.0 * v,
            (_, v) => 20.0 * v.abs(),
        })
        .collect();
    let lanes0: Vec<SmoothLane> = (0..lanes_n)
        .map(|m| SmoothLane {
            reduction: if m % 5 == 0 { 1e-11 } else { m as f64 * 0.7 },
            attack: 0.9 + m as f64 * 1e-3,
            release: 0.99 - m as f64 * 1e-3,
            makeup: m as f64 - 10.0,
            any: false,
        })
        .collect();
    let results: Vec<(Vec<SmoothLane>, Vec<u64>)> = vector
        .iter()
        .map(|&b| {
            let mut lanes = lanes0.clone();
            let mut exps = vec![0.0; lanes_n * stride];
            smooth::smooth_lanes_at(b, &mut lanes, &targets, &mut exps, stride, frames);
            (lanes, exps.iter().map(|v| v.to_bits()).collect())
        })
        .collect();
    for (b, r) in vector.iter().zip(&results).skip(1) {
        assert!(r.1 == results[0].1, "{b:?}: exponents");
        for (m, (u, v)) in r.0.iter().zip(&results[0].0).enumerate() {
            assert_eq!((u.reduction.to_bits(), u.any), (v.reduction.to_bits(), v.any), "{b:?}: lane {m}");
        }
    }
    // Lanes that settled to exactly 0 and lanes still reducing.
    let ends: Vec<f64> = results[0].0.iter().map(|l| l.reduction).collect();
    assert!(ends.contains(&0.0) && ends.iter().any(|&r| r > 1.0), "{ends:?}");
}

#[test]
fn follows_a_per_frame_reference_with_std_ln_and_exp() {
    // The algorithm of the module documentation, frame by frame, with
    // f64::ln / f64::exp, linked over two channels, with automation.
    let n = 20_000;
    let a: Vec<f64> = noise(31, n).iter().enumerate().map(|(i, v)| v * (1.0 + (i as f64 / 900.0).sin())).collect();
    let b: Vec<f64> = noise(32, n).iter().map(|v| 0.3 * v).collect();
    let params = |i: usize| {
        let s = i as f64;
        [
            -30.0 + 12.0 * (s / 700.0).sin(),
            4.0 + 2.0 * (s / 500.0).cos(),
            3.0,
            80.0,
            3.0 + 3.0 * (s / 900.0).sin(),
            1.0 + (s / 1300.0).sin(),
        ]
    };
    let out = run(&mut prepared(2, 128), &[a.clone(), b.clone()], 128, true, &params);
    let mut g = 0.0f64;
    let mut compressed = 0;
    let mut worst = 0.0f64;
    for i in 0..n {
        let [t, r, att, rel, w, m] = params(i);
        let pk = a[i].abs().max(b[i].abs());
        let x = 20.0 * pk.log10();
        let target = if pk > 0.0 { (x - reference_curve(x, t, r, w)).max(0.0) } else { 0.0 };
        let ms = if target > g { att } else { rel };
        let coef = (-1.0 / (ms / 1000.0 * FS)).exp();
        g = target + coef * (g - target);
        let want = m - g;
        compressed += usize::from(g > 1.0);
        for (o, v) in [(&out[0], &a), (&out[1], &b)] {
            if v[i] != 0.0 {
                let got = db(o[i] / v[i]);
                worst = worst.max((got - want).abs());
                assert!((got - want).abs() < 1e-9, "frame {i}: {got} dB, reference {want} dB");
            }
        }
    }
    assert!(compressed > n / 4, "{compressed}");
    println!("largest gain difference to the reference: {worst:e} dB");
}

/// Compressor `m`'s settings in the batch tests.
fn settings(m: usize) -> [f64; 6] {
    let m = m as f64;
    [-30.0 + 2.0 * m, 2.0 + m, 1.0 + m * 3.0, 20.0 + m * 40.0, [0.0, 6.0, 12.0][m as usize % 3], m - 5.0]
}

/// `n` compressors, each with its own settings and signal (bursts above
/// and below the knee, silence: a release back to exactly 0, and a
/// non-finite sample), batched and alone, in blocks of `block`.
fn batch_matches_alone(n: usize, block: usize) {
    let frames = block * 40;
    let signal = |m: usize, c: usize, t: usize| -> f64 {
        if t == 1000 + 37 * m && m == 3 {
            return f64::NAN;
        }
        let env = if (t / (300 + 50 * m)) % 3 == 2 { 0.0 } else { 0.05 + 0.9 * ((t / 200) % 4) as f64 / 3.0 };
        env * ((t as f64) * (0.01 + 0.003 * m as f64) + c as f64).sin()
    };
    let mut alone: Vec<Compressor> = (0..n).map(|_| prepared(2, block)).collect();
    let mut batched: Vec<Compressor> = (0..n).map(|_| prepared(2, block)).collect();
    let params: Vec<Vec<ParamBuffer>> =
        (0..n).map(|m| settings(m).iter().map(|&v| ParamBuffer::new(v, block)).collect()).collect();
    let mut a_buf = vec![vec![0.0; 2 * block]; n];
    let mut b_buf = vec![vec![0.0; 2 * block]; n];
    let mut targets = vec![0.0; n * block];
    let mut exps = vec![0.0; n * block];
    let mut reduced = 0;
    for start in (0..frames).step_by(block) {
        let mut lanes = Vec::new();
        for m in 0..n {
            for c in 0..2 {
                for i in 0..block {
                    a_buf[m][c * block + i] = signal(m, c, start + i);
                }
            }
            b_buf[m].copy_from_slice(&a_buf[m]);
            let ctx = ProcessContext { frames: block, position: start as u64, params: &params[m] };
            alone[m].process(&ctx, &mut Bus::new(&mut a_buf[m], 2, block, block));
            let lane = batched[m]
                .batch_begin(&ctx, &Bus::new(&mut b_buf[m], 2, block, block), &mut targets[m * block..(m + 1) * block])
                .unwrap();
            lanes.push(lane);
        }
        smooth_lanes(&mut lanes, &targets, &mut exps, block, block);
        for m in 0..n {
            batched[m].batch_finish(
                &mut Bus::new(&mut b_buf[m], 2, block, block),
                &mut exps[m * block..(m + 1) * block],
                &lanes[m],
            );
            let (a, b): (Vec<u64>, Vec<u64>) =
                (a_buf[m].iter().map(|v| v.to_bits()).collect(), b_buf[m].iter().map(|v| v.to_bits()).collect());
            assert_eq!(a, b, "{n} compressors: compressor {m} block at {start}");
            assert_eq!(alone[m].gain_reduction_db().to_bits(), batched[m].gain_reduction_db().to_bits());
            reduced += usize::from(alone[m].gain_reduction_db() > 1.0);
        }
    }
    // The batch did compress (and released: some blocks have no reduction).
    assert!(reduced > 2 * n && reduced < n * frames / block, "{n} compressors: {reduced}");
}

#[test]
fn a_batch_of_compressors_gives_the_bits_of_each_alone() {
    // 11 compressors: one 8-lane vector pass and 3 scalar lanes; 29:
    // three 8-lane passes and 5 scalar lanes, in blocks of 37 (four-frame
    // steps and a tail of 1); 4: scalar only.
    for (n, block) in [(11, 64), (29, 37), (4, 128)] {
        batch_matches_alone(n, block);
    }
    // Automated parameters are not batched.
    let block = 64;
    let mut batched = prepared(2, block);
    let mut b_buf = vec![0.0; 2 * block];
    let mut pb: Vec<ParamBuffer> = settings(0).iter().map(|&v| ParamBuffer::new(v, block)).collect();
    pb[0].varying_mut(block).fill(-20.0);
    let ctx = ProcessContext { frames: block, position: 0, params: &pb };
    let mut row = [7.0; 64];
    assert!(batched.batch_begin(&ctx, &Bus::new(&mut b_buf, 2, block, block), &mut row).is_none());
    assert_eq!(row, [7.0; 64], "a block that is not batched leaves its row alone");
}

#[test]
fn keyed_by_its_own_input_gives_the_bits_of_process() {
    // A key holding the programme's own samples: the same samples and the
    // same state as the plain compressor, in every build, with constant and
    // automated parameters, block sizes that split chunks and a tail.
    let n = 4_000;
    let x = [noise(61, n), noise(62, n).iter().map(|v| 0.4 * v).collect::<Vec<f64>>()];
    let params = |i: usize| {
        let s = i as f64;
        [-30.0 + 10.0 * (s / 400.0).sin(), 3.0, 2.0, 60.0 + 30.0 * (s / 900.0).cos(), 6.0, 1.0]
    };
    for level in builds() {
        for varying in [false, true] {
            for block in [1, 37, 128] {
                let mut plain = prepared(2, block);
                plain.set_level(level);
                let mut keyed = prepared(2, block);
                keyed.set_level(level);
                let a = run(&mut plain, &x, block, varying, &params);
                let b = run_keyed(&mut keyed, &x, Some(&x), block, varying, &params);
                assert_eq!(a, b, "{level:?} varying {varying} block {block}");
                assert_eq!(plain.gain_reduction_db().to_bits(), keyed.gain_reduction_db().to_bits());
            }
        }
    }
}

#[test]
fn a_mono_key_acts_as_identical_channels() {
    // Linked detection of two identical channels is that channel's peak.
    let n = 3_000;
    let x = [noise(71, n), noise(72, n)];
    let k = noise(73, n);
    let p = |_: usize| [-20.0, 4.0, 1.0, 30.0, 6.0, 0.0];
    let mono = run_keyed(&mut prepared(2, 64), &x, Some(std::slice::from_ref(&k)), 64, false, &p);
    let wide = run_keyed(&mut prepared(2, 64), &x, Some(&[k.clone(), k.clone()]), 64, false, &p);
    assert_eq!(mono, wide);
}

#[test]
fn ducks_the_programme_by_the_static_curve_of_the_key() {
    // Music (a sine) keyed by a voice (a gated tone). With attack and
    // release at 0 the smoothed reduction is each frame's target, so the
    // programme's gain is `curve(x) - x` of the key's level `x` frame by
    // frame (computed here in f64 from the key), and exactly 1 where the
    // key is silent.
    let fs = FS;
    let n = 9_600;
    let music: Vec<f64> = (0..n).map(|i| 0.3 * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / fs).sin()).collect();
    let voice: Vec<f64> = (0..n)
        .map(|i| {
            let on = (2_000..6_000).contains(&i);
            if on {
                0.8 * (2.0 * std::f64::consts::PI * 1_000.0 * i as f64 / fs).sin()
            } else {
                0.0
            }
        })
        .collect();
    let (t, r, w) = (-30.0, 8.0, 6.0);
    let p = |_: usize| [t, r, 0.0, 0.0, w, 0.0];
    for block in [64, 128] {
        let out = run_keyed(
            &mut prepared(1, block),
            std::slice::from_ref(&music),
            Some(std::slice::from_ref(&voice)),
            block,
            false,
            &p,
        );
        let (mut ducked, mut deepest) = (0, 0.0f64);
        for i in 0..n {
            if voice[i] == 0.0 {
                assert_eq!(out[0][i].to_bits(), music[i].to_bits(), "frame {i}: key silent, gain 1");
                continue;
            }
            if music[i].abs() < 1e-3 {
                continue;
            }
            let x = db(voice[i].abs());
            let want = reference_curve(x, t, r, w) - x;
            let got = db(out[0][i] / music[i]);
            assert!((got - want).abs() < 1e-9, "frame {i}: gain {got} dB, curve says {want}");
            ducked += usize::from(want < -10.0);
            deepest = deepest.min(got);
        }
        // The voice is loud: the music goes down by more than 10 dB most of the time.
        assert!(ducked > 2_000, "{ducked} frames ducked by more than 10 dB");
        assert!(deepest < -20.0, "deepest {deepest} dB");
    }
}
