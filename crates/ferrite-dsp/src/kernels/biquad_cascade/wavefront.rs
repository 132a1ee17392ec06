//! The wavefront kernels, one body instantiated per SIMD level on that
//! level's vocabulary (`crate::kernels::vocab`): one cascade (`process`) and
//! two cascades as one stereo wavefront (`process_stereo`). Every lane
//! performs exactly the serial TDF-II step of its stage, fused at the fused
//! levels, so the result is the stages run in series, bit for bit.

use crate::kernels::for_each_simd_level;

macro_rules! simd_cascade {
    ($lv:ident, $feat:literal) => {
        pub(super) mod $lv {
            use crate::kernels::biquad_cascade::lanes2::$lv::{enter2, pair_at, shift2};
            use crate::kernels::biquad_cascade::{active_lanes, interleave, pair_bits, Planes, MAX, PAIR_LANES};
            use crate::kernels::vocab::$lv::*;

            /// One cascade. Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub(in crate::kernels::biquad_cascade) unsafe fn process(p: &mut Planes, stages: usize, data: &mut [f64]) {
                // SAFETY: same features.
                unsafe { process_n::<1>([p], stages, [data]) }
            }

            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            unsafe fn process_n<const C: usize>(p: [&mut Planes; C], stages: usize, data: [&mut [f64]; C]) {
                // Vectors needed for `stages` lanes.
                match stages.div_ceil(W) {
                    // SAFETY: same features; `NV·W <= MAX` is checked inside.
                    1 => unsafe { run::<1, C>(p, stages, data) },
                    // SAFETY: as above.
                    2 => unsafe { run::<2, C>(p, stages, data) },
                    // SAFETY: as above.
                    3 => unsafe { run::<3, C>(p, stages, data) },
                    // SAFETY: as above.
                    4 => unsafe { run::<4, C>(p, stages, data) },
                    _ => {}
                }
            }

            /// `NV` vectors from an 8-slot plane (`NV·W <= MAX`).
            #[inline]
            #[target_feature(enable = $feat)]
            fn get<const NV: usize>(plane: &[f64; MAX]) -> [V; NV] {
                let mut v = [splat(0.0); NV];
                for (j, v) in v.iter_mut().enumerate() {
                    let mut a = [0.0; W];
                    if let Some(src) = plane.get(j * W..j * W + W) {
                        a.copy_from_slice(src);
                    }
                    *v = from_array(a);
                }
                v
            }

            #[inline]
            #[target_feature(enable = $feat)]
            fn put<const NV: usize>(plane: &mut [f64; MAX], v: [V; NV]) {
                for (j, v) in v.into_iter().enumerate() {
                    if let Some(dst) = plane.get_mut(j * W..j * W + W) {
                        dst.copy_from_slice(&to_array(v));
                    }
                }
            }

            /// Coefficient vectors of `C` cascades.
            struct Coefs<const NV: usize, const C: usize> {
                b0: [[V; NV]; C],
                b1: [[V; NV]; C],
                b2: [[V; NV]; C],
                a1: [[V; NV]; C],
                a2: [[V; NV]; C],
            }

            /// State vectors and the previous step's outputs of `C` cascades.
            struct State<const NV: usize, const C: usize> {
                z1: [[V; NV]; C],
                z2: [[V; NV]; C],
                y: [[V; NV]; C],
            }

            /// One wavefront step of `C` cascades; `MASKED` during fill and drain.
            #[inline]
            #[target_feature(enable = $feat)]
            fn step_n<const NV: usize, const C: usize, const MASKED: bool>(
                k: &Coefs<NV, C>,
                st: &mut State<NV, C>,
                data: &mut [&mut [f64]; C],
                step: usize,
                n: usize,
                stages: usize,
            ) {
                let last = stages - 1;
                let (out_v, out_l) = (last / W, last % W);
                let bits = if MASKED { active_lanes(step, n, stages) } else { 0 };
                for c in 0..C {
                    let xin = data[c].get(step).copied().unwrap_or(0.0);
                    // Lane k's input is lane k−1's previous output; lane 0 takes x.
                    let mut xv = [splat(0.0); NV];
                    let mut carry = splat(xin);
                    for (xv, y) in xv.iter_mut().zip(&st.y[c]) {
                        *xv = shift_in(*y, carry);
                        carry = *y;
                    }
                    for j in 0..NV {
                        let x = xv[j];
                        let (z1, z2) = (st.z1[c][j], st.z2[c][j]);
                        let yj = madd(k.b0[c][j], x, z1);
                        let z1n = nmadd(k.a1[c][j], yj, madd(k.b1[c][j], x, z2));
                        let z2n = nmadd(k.a2[c][j], yj, mul(k.b2[c][j], x));
                        st.y[c][j] = yj;
                        if MASKED {
                            let m = mask(bits >> (j * W));
                            st.z1[c][j] = select(m, z1n, z1);
                            st.z2[c][j] = select(m, z2n, z2);
                        } else {
                            st.z1[c][j] = z1n;
                            st.z2[c][j] = z2n;
                        }
                    }
                    if step >= last {
                        if let Some(d) = data[c].get_mut(step - last) {
                            // The last stage's lane, kept in registers (not
                            // a store of the vector and a load of one lane,
                            // which would add a trip through memory to every
                            // step).
                            for (j, y) in st.y[c].iter().enumerate() {
                                if j == out_v {
                                    let [lo, hi] = pair_at(*y, out_l & !1);
                                    *d = if out_l & 1 == 0 { lo } else { hi };
                                }
                            }
                        }
                    }
                }
            }

            /// The wavefront over `NV` vectors (lanes `0..NV·W`, stages
            /// `0..stages`) for `C` independent cascades advanced in lock-step,
            /// so that their recursions overlap in the pipeline. All `data`
            /// slices must have the same length (else nothing is done).
            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            unsafe fn run<const NV: usize, const C: usize>(
                mut p: [&mut Planes; C],
                stages: usize,
                mut data: [&mut [f64]; C],
            ) {
                if NV == 0 || NV * W > MAX || stages == 0 || stages > NV * W {
                    return;
                }
                let n = data.first().map_or(0, |d| d.len());
                if data.iter().any(|d| d.len() != n) {
                    return;
                }
                let mut b0 = [[splat(0.0); NV]; C];
                let (mut b1, mut b2, mut a1, mut a2) = (b0, b0, b0, b0);
                let (mut z1, mut z2) = (b0, b0);
                for (c, p) in p.iter().enumerate() {
                    b0[c] = get::<NV>(&p.b0);
                    b1[c] = get::<NV>(&p.b1);
                    b2[c] = get::<NV>(&p.b2);
                    a1[c] = get::<NV>(&p.a1);
                    a2[c] = get::<NV>(&p.a2);
                    z1[c] = get::<NV>(&p.z1);
                    z2[c] = get::<NV>(&p.z2);
                }
                let k = Coefs { b0, b1, b2, a1, a2 };
                let mut st = State { z1, z2, y: [[splat(0.0); NV]; C] };
                let last = stages - 1;
                // Fill: lanes start one by one; steady: every stage lane busy;
                // drain: lanes finish one by one. Only fill and drain need masks.
                let fill_end = last.min(n + last);
                for step in 0..fill_end {
                    step_n::<NV, C, true>(&k, &mut st, &mut data, step, n, stages);
                }
                for step in fill_end..n.max(fill_end) {
                    step_n::<NV, C, false>(&k, &mut st, &mut data, step, n, stages);
                }
                for step in n.max(fill_end)..n + last {
                    step_n::<NV, C, true>(&k, &mut st, &mut data, step, n, stages);
                }
                let State { z1, z2, .. } = st;
                for (c, p) in p.iter_mut().enumerate() {
                    put::<NV>(&mut p.z1, z1[c]);
                    put::<NV>(&mut p.z2, z2[c]);
                }
            }

            /// Two cascades of equal stage count over equal lengths, as one
            /// wavefront over (stage, channel) lanes (see `process_pair`).
            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub(in crate::kernels::biquad_cascade) unsafe fn process_stereo(
                p: [&mut Planes; 2],
                stages: usize,
                data: [&mut [f64]; 2],
            ) {
                // Stages per pass: up to 4 vectors, whose 12 state vectors fit
                // in the 16 registers (8 stages on AVX2 / AVX-512, 4 on SSE4.2;
                // more would spill the recursion to memory). Passes run one
                // after the other over the whole block, which is exactly the
                // stages in series, because each pass is complete.
                let per_pass = (2 * W).min(MAX);
                let [pa, pb] = p;
                let [a, b] = data;
                let mut first = 0;
                while first < stages.min(MAX) {
                    let count = (stages - first).min(per_pass);
                    let (p, data) = ([&mut *pa, &mut *pb], [&mut *a, &mut *b]);
                    // Vectors needed for `2·count` lanes (at most 4).
                    match (2 * count).div_ceil(W) {
                        // SAFETY: same features; `NV·W <= PAIR_LANES` is checked inside.
                        1 => unsafe { run2::<1>(p, first, count, data) },
                        // SAFETY: as above.
                        2 => unsafe { run2::<2>(p, first, count, data) },
                        // SAFETY: as above.
                        3 => unsafe { run2::<3>(p, first, count, data) },
                        // SAFETY: as above.
                        4 => unsafe { run2::<4>(p, first, count, data) },
                        _ => return,
                    }
                    first += count;
                }
            }

            /// `NV` vectors from a 16-slot interleaved plane (`NV·W <= PAIR_LANES`).
            #[inline]
            #[target_feature(enable = $feat)]
            fn get2<const NV: usize>(plane: &[f64; PAIR_LANES]) -> [V; NV] {
                let mut v = [splat(0.0); NV];
                for (j, v) in v.iter_mut().enumerate() {
                    let mut a = [0.0; W];
                    if let Some(src) = plane.get(j * W..j * W + W) {
                        a.copy_from_slice(src);
                    }
                    *v = from_array(a);
                }
                v
            }

            /// Coefficient vectors of the interleaved lanes.
            struct Coefs2<const NV: usize> {
                b0: [V; NV],
                b1: [V; NV],
                b2: [V; NV],
                a1: [V; NV],
                a2: [V; NV],
            }

            /// State vectors and the previous step's outputs.
            struct State2<const NV: usize> {
                z1: [V; NV],
                z2: [V; NV],
                y: [V; NV],
            }

            /// Stages per vector of the stereo wavefront.
            const HALF: usize = W / 2;
            /// Lane masks of one vector: entry `i` enables the (stage, channel)
            /// lanes of the stages set in `i`.
            const MASKS: usize = 1 << HALF;

            /// One stereo wavefront step; `MASKED` during fill and drain.
            /// `out` is the lane of the last stage's first channel in the
            /// last vector.
            #[inline]
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            fn step2<const NV: usize, const MASKED: bool>(
                k: &Coefs2<NV>,
                st: &mut State2<NV>,
                a: &mut [f64],
                b: &mut [f64],
                step: usize,
                n: usize,
                stages: usize,
                out: usize,
                masks: &[M; MASKS],
            ) {
                let last = stages - 1;
                // The coefficients stay in memory (as FMA memory operands): with
                // them hoisted into registers the state spills instead, and the
                // recursion then waits on store-to-load forwarding every step.
                let k = core::hint::black_box(k);
                let bits = if MASKED { active_lanes(step, n, stages) } else { 0 };
                let xa = a.get(step).copied().unwrap_or(0.0);
                let xb = b.get(step).copied().unwrap_or(0.0);
                // Lane pair k takes lane pair k−1's previous outputs; pair 0 takes x.
                let mut xv = [splat(0.0); NV];
                for j in 0..NV {
                    xv[j] = match j.checked_sub(1) {
                        None => enter2(st.y[0], xa, xb),
                        Some(i) => shift2(st.y[j], st.y[i]),
                    };
                }
                for j in 0..NV {
                    let x = xv[j];
                    let (z1, z2) = (st.z1[j], st.z2[j]);
                    let yj = madd(k.b0[j], x, z1);
                    let z1n = nmadd(k.a1[j], yj, madd(k.b1[j], x, z2));
                    let z2n = nmadd(k.a2[j], yj, mul(k.b2[j], x));
                    st.y[j] = yj;
                    if MASKED {
                        // Vector j holds stages j·W/2 .. (j+1)·W/2.
                        let idx = (bits >> (j * HALF)) as usize & (MASKS - 1);
                        let m = masks.get(idx).copied().unwrap_or(masks[0]);
                        st.z1[j] = select(m, z1n, z1);
                        st.z2[j] = select(m, z2n, z2);
                    } else {
                        st.z1[j] = z1n;
                        st.z2[j] = z2n;
                    }
                }
                if step >= last {
                    // The last stage is in the last vector (`NV` is the fewest
                    // vectors for `2·stages` lanes); a constant index keeps `y`
                    // in registers.
                    if let Some(y) = st.y.last() {
                        let [ya, yb] = pair_at(*y, out);
                        if let (Some(da), Some(db)) = (a.get_mut(step - last), b.get_mut(step - last)) {
                            (*da, *db) = (ya, yb);
                        }
                    }
                }
            }

            /// The stereo wavefront over `NV` vectors: lanes `2k + c` for
            /// stage `first + k` (`k < stages`) of cascade `c`. Both slices
            /// must have the same length (else nothing is done).
            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            unsafe fn run2<const NV: usize>(p: [&mut Planes; 2], first: usize, stages: usize, data: [&mut [f64]; 2]) {
                if NV == 0 || NV * W > PAIR_LANES || stages == 0 || 2 * stages > NV * W || first + stages > MAX {
                    return;
                }
                let ([pa, pb], [a, b]) = (p, data);
                let n = a.len();
                if b.len() != n {
                    return;
                }
                let k = Coefs2 {
                    b0: get2::<NV>(&interleave(&pa.b0, &pb.b0, first)),
                    b1: get2::<NV>(&interleave(&pa.b1, &pb.b1, first)),
                    b2: get2::<NV>(&interleave(&pa.b2, &pb.b2, first)),
                    a1: get2::<NV>(&interleave(&pa.a1, &pb.a1, first)),
                    a2: get2::<NV>(&interleave(&pa.a2, &pb.a2, first)),
                };
                let mut st = State2 {
                    z1: get2::<NV>(&interleave(&pa.z1, &pb.z1, first)),
                    z2: get2::<NV>(&interleave(&pa.z2, &pb.z2, first)),
                    y: [splat(0.0); NV],
                };
                let last = stages - 1;
                // 2·stages > (NV − 1)·W, so the last stage is in vector NV − 1.
                let out = 2 * last - (NV - 1) * W;
                let mut masks = [mask(0); MASKS];
                for (i, m) in masks.iter_mut().enumerate() {
                    *m = mask(pair_bits(i as u32));
                }
                // Fill: lanes start one by one; steady: every stage lane busy;
                // drain: lanes finish one by one. Only fill and drain need
                // masks. One call site per kind, so that both inline and the
                // state stays in registers.
                let fill_end = last.min(n + last);
                let mut step = 0;
                while step < n + last {
                    if step == fill_end && fill_end < n {
                        // Steady state, two steps per iteration (the unrolled
                        // body keeps the state in place instead of rotating
                        // registers), then one odd step.
                        let mut s = fill_end;
                        while s + 1 < n {
                            step2::<NV, false>(&k, &mut st, a, b, s, n, stages, out, &masks);
                            step2::<NV, false>(&k, &mut st, a, b, s + 1, n, stages, out, &masks);
                            s += 2;
                        }
                        if s < n {
                            step2::<NV, false>(&k, &mut st, a, b, s, n, stages, out, &masks);
                        }
                        step = n;
                        continue;
                    }
                    step2::<NV, true>(&k, &mut st, a, b, step, n, stages, out, &masks);
                    step += 1;
                }
                // Only the cascades' own stages take state back.
                let mut z1 = [0.0; PAIR_LANES];
                let mut z2 = [0.0; PAIR_LANES];
                for (j, (v1, v2)) in st.z1.iter().zip(&st.z2).enumerate() {
                    if let Some(d) = z1.get_mut(j * W..j * W + W) {
                        d.copy_from_slice(&to_array(*v1));
                    }
                    if let Some(d) = z2.get_mut(j * W..j * W + W) {
                        d.copy_from_slice(&to_array(*v2));
                    }
                }
                for (s, (p1, p2)) in z1.chunks_exact(2).zip(z2.chunks_exact(2)).take(stages).enumerate() {
                    if let ([a1, b1], [a2, b2]) = (p1, p2) {
                        if let (Some(x), Some(y)) = (pa.z1.get_mut(first + s), pb.z1.get_mut(first + s)) {
                            (*x, *y) = (*a1, *b1);
                        }
                        if let (Some(x), Some(y)) = (pa.z2.get_mut(first + s), pb.z2.get_mut(first + s)) {
                            (*x, *y) = (*a2, *b2);
                        }
                    }
                }
            }
        }
    };
}
for_each_simd_level!(simd_cascade);
