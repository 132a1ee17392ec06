//! The batched one-pole recursions of the compressor's gain smoothing: the
//! recursions of many compressors (lanes) side by side, each lane with
//! exactly the arithmetic of [`step`], so a batched compressor gives the bits
//! of one run alone.
//!
//! The recursion is the only serial part of a compressor: its latency per
//! frame, not the arithmetic, bounds it, so independent lanes in one vector
//! overlap. The AVX2 build runs 8 lanes per pass (two vectors, two
//! recursions overlapping), the AVX-512 build 16 (two vectors of 8); both
//! move four frames of four rows per step with a 4×4 transpose in registers
//! ([`transpose4`]) instead of a scalar load and store per lane and frame.
//! Neither build fuses anything, so every lane rounds as the scalar step.

#[cfg(target_arch = "x86_64")]
use super::dispatch::runnable_autovec;
use super::math::NEPER_PER_DB;
use super::SimdLevel;

/// One compressor's smoothing state and constants as a lane of a batch
/// (see [`crate::compressor::Compressor::batch_begin`] and
/// [`crate::compressor::smooth_lanes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SmoothLane {
    /// Smoothed gain reduction in dB before the block; after
    /// [`crate::compressor::smooth_lanes`], after it.
    pub reduction: f64,
    /// Attack coefficient.
    pub attack: f64,
    /// Release coefficient.
    pub release: f64,
    /// Makeup gain in dB.
    pub makeup: f64,
    /// After [`crate::compressor::smooth_lanes`]: whether any frame had a reduction.
    pub any: bool,
}

/// One smoothing step from `reduction` toward `target` with the attack
/// coefficient `att` or the release coefficient `rel` (0 once settled below
/// 1e-12 dB with a target of 0, or when not finite). The coefficients are
/// passed as values, not selected from two fields: a selection by a
/// comparison compiled to a load whose address hangs on the comparison, in
/// the recursion's critical path.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline(always)]
pub(crate) fn step(reduction: f64, target: f64, att: f64, rel: f64) -> f64 {
    let a = if target > reduction { att } else { rel };
    let r = target + a * (reduction - target);
    if !r.is_finite() || (r < 1e-12 && target == 0.0) {
        0.0
    } else {
        r
    }
}

/// The one-pole recursions of a batch: lane `m`'s targets are row `m` of
/// `targets` (rows of `stride`, `frames` long); its gain exponents
/// `(makeup - r)·ln10/20` go to row `m` of `exps`; `lanes[m]` carries the
/// state in and out. Per lane, exactly the arithmetic of a compressor's own
/// `process`. At `level` ([`runnable_autovec`]) AVX-512 runs 16 lanes at a
/// time, then AVX2 8 lanes at a time; the rest, lane by lane.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn smooth_lanes_at(
    level: SimdLevel,
    lanes: &mut [SmoothLane],
    targets: &[f64],
    exps: &mut [f64],
    stride: usize,
    frames: usize,
) {
    let mut m = 0;
    #[cfg(target_arch = "x86_64")]
    let build = runnable_autovec(level);
    #[cfg(target_arch = "x86_64")]
    if build == SimdLevel::Avx512 && frames <= stride {
        while m + 16 <= lanes.len() {
            let rows = m * stride..(m + 15) * stride + frames;
            if let (Some(l), Some(t), Some(e)) =
                (lanes.get_mut(m..m + 16), targets.get(rows.clone()), exps.get_mut(rows))
            {
                // SAFETY: the CPU supports AVX-512F and AVX2 (`runnable_autovec`
                // returned AVX-512); the slices hold 16 rows of `stride >= frames`
                // (the last one `frames` long).
                unsafe { smooth_avx512(l, t, e, stride, frames) };
            }
            m += 16;
        }
    }
    #[cfg(target_arch = "x86_64")]
    if build != SimdLevel::Scalar && frames <= stride {
        // 8 lanes (two vectors) per pass: four vectors (16 lanes) spill registers.
        while m + 8 <= lanes.len() {
            let rows = m * stride..(m + 7) * stride + frames;
            if let (Some(l), Some(t), Some(e)) =
                (lanes.get_mut(m..m + 8), targets.get(rows.clone()), exps.get_mut(rows))
            {
                // SAFETY: the CPU supports AVX2 (`runnable_autovec` returned AVX2
                // or AVX-512); the slices hold 8 rows of `stride >= frames` (the
                // last one `frames` long).
                unsafe { smooth_avx2::<2>(l, t, e, stride, frames) };
            }
            m += 8;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    for (k, lane) in lanes.iter_mut().enumerate().skip(m) {
        let (Some(t), Some(e)) =
            (targets.get(k * stride..k * stride + frames), exps.get_mut(k * stride..k * stride + frames))
        else {
            continue;
        };
        let mut r = lane.reduction;
        for (g, &target) in e.iter_mut().zip(t) {
            r = step(r, target, lane.attack, lane.release);
            lane.any |= r != 0.0;
            *g = (lane.makeup - r) * NEPER_PER_DB;
        }
        lane.reduction = r;
    }
}

/// Rows `a..a+4` × frames `t..t+4` <-> frames × lanes, in registers (its
/// own inverse): the loads and stores of [`smooth_avx2`] and [`smooth_avx512`].
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn transpose4(x: [core::arch::x86_64::__m256d; 4]) -> [core::arch::x86_64::__m256d; 4] {
    use core::arch::x86_64::*;
    let t0 = _mm256_unpacklo_pd(x[0], x[1]);
    let t1 = _mm256_unpackhi_pd(x[0], x[1]);
    let t2 = _mm256_unpacklo_pd(x[2], x[3]);
    let t3 = _mm256_unpackhi_pd(x[2], x[3]);
    [
        _mm256_permute2f128_pd::<0x20>(t0, t2),
        _mm256_permute2f128_pd::<0x20>(t1, t3),
        _mm256_permute2f128_pd::<0x31>(t0, t2),
        _mm256_permute2f128_pd::<0x31>(t1, t3),
    ]
}

/// `4·V` lanes of [`smooth_lanes_at`] with AVX2 (`V` vectors of 4 lanes).
/// Safety: the CPU supports AVX2; `targets` and `exps` hold rows `0..4·V` of
/// `stride` with `frames <= stride`, the last row at least `frames` long
/// (the caller's slicing); `lanes` holds `4·V` lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn smooth_avx2<const V: usize>(
    lanes: &mut [SmoothLane],
    targets: &[f64],
    exps: &mut [f64],
    stride: usize,
    frames: usize,
) {
    use core::arch::x86_64::*;
    let w = 4 * V;
    if lanes.len() < w
        || frames > stride
        || targets.len() < (w - 1) * stride + frames
        || exps.len() < (w - 1) * stride + frames
    {
        return;
    }
    let get = |f: fn(&SmoothLane) -> f64| -> [__m256d; V] {
        core::array::from_fn(|j| {
            let v = |k: usize| lanes.get(4 * j + k).map_or(0.0, f);
            _mm256_setr_pd(v(0), v(1), v(2), v(3))
        })
    };
    let mut r = get(|l| l.reduction);
    let att = get(|l| l.attack);
    let rel = get(|l| l.release);
    let mk = get(|l| l.makeup);
    let mut any = [_mm256_setzero_pd(); V];
    let (zero, inf, tiny, npd) =
        (_mm256_setzero_pd(), _mm256_set1_pd(f64::INFINITY), _mm256_set1_pd(1e-12), _mm256_set1_pd(NEPER_PER_DB));
    let abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
    // `step`, lane-wise, with the same operations; returns the
    // exponent `(makeup - r)·ln10/20`.
    let mut step = |j: usize, target: __m256d| -> __m256d {
        let a = _mm256_blendv_pd(rel[j], att[j], _mm256_cmp_pd::<_CMP_GT_OQ>(target, r[j]));
        let v = _mm256_add_pd(target, _mm256_mul_pd(a, _mm256_sub_pd(r[j], target)));
        let finite = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_and_pd(v, abs_mask), inf);
        let settled = _mm256_and_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(v, tiny), _mm256_cmp_pd::<_CMP_EQ_OQ>(target, zero));
        let v = _mm256_and_pd(v, _mm256_andnot_pd(settled, finite));
        r[j] = v;
        any[j] = _mm256_or_pd(any[j], _mm256_cmp_pd::<_CMP_NEQ_OQ>(v, zero));
        _mm256_mul_pd(_mm256_sub_pd(mk[j], v), npd)
    };
    let tp = targets.as_ptr();
    let ep = exps.as_mut_ptr();
    let body = frames / 4 * 4;
    for t in (0..body).step_by(4) {
        let mut out = [[zero; 4]; V];
        // Frames t..t+4 of lanes 4j..4j+4, as one vector per frame.
        let tv: [[__m256d; 4]; V] = core::array::from_fn(|j| {
            transpose4(core::array::from_fn(|k| {
                // SAFETY: rows 0..w at frames t..t+4 <= frames are inside both slices (checked above).
                unsafe { _mm256_loadu_pd(tp.add((4 * j + k) * stride + t)) }
            }))
        });
        for i in 0..4 {
            for j in 0..V {
                out[j][i] = step(j, tv[j][i]);
            }
        }
        for (j, o) in out.into_iter().enumerate() {
            for (k, row) in transpose4(o).into_iter().enumerate() {
                // SAFETY: as for the loads.
                unsafe { _mm256_storeu_pd(ep.add((4 * j + k) * stride + t), row) };
            }
        }
    }
    for t in body..frames {
        for j in 0..V {
            let row = |k: usize| (4 * j + k) * stride + t;
            // SAFETY: rows 0..w at frame t < frames are inside both slices (checked above).
            let target = unsafe { _mm256_setr_pd(*tp.add(row(0)), *tp.add(row(1)), *tp.add(row(2)), *tp.add(row(3))) };
            let mut o = [0.0; 4];
            // SAFETY: `o` holds 4 f64.
            unsafe { _mm256_storeu_pd(o.as_mut_ptr(), step(j, target)) };
            for (k, v) in o.into_iter().enumerate() {
                // SAFETY: as for the loads.
                unsafe { *ep.add(row(k)) = v };
            }
        }
    }
    for j in 0..V {
        let (mut rr, mut aa) = ([0.0; 4], [0.0; 4]);
        // SAFETY: 4 f64 each.
        unsafe {
            _mm256_storeu_pd(rr.as_mut_ptr(), r[j]);
            _mm256_storeu_pd(aa.as_mut_ptr(), any[j]);
        }
        for k in 0..4 {
            if let Some(l) = lanes.get_mut(4 * j + k) {
                l.reduction = rr[k];
                l.any |= aa[k].to_bits() != 0;
            }
        }
    }
}

/// 16 lanes of [`smooth_lanes_at`] with AVX-512: two vectors of 8 lanes, each
/// lane exactly [`step`]'s operations (the selections by
/// comparison masks). Frames move four at a time: the 4×4 transposes of
/// [`smooth_avx2`] ([`transpose4`]) for lanes 0–3 and 4–7 of a vector, joined into one
/// 8-lane vector per frame (and split again for the stores).
/// Safety: the CPU supports AVX-512F and AVX2; `targets` and `exps` hold rows
/// `0..16` of `stride` with `frames <= stride`, the last row at least
/// `frames` long (the caller's slicing); `lanes` holds 16 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn smooth_avx512(lanes: &mut [SmoothLane], targets: &[f64], exps: &mut [f64], stride: usize, frames: usize) {
    use core::arch::x86_64::*;
    const V: usize = 2;
    let w = 8 * V;
    if lanes.len() < w
        || frames > stride
        || targets.len() < (w - 1) * stride + frames
        || exps.len() < (w - 1) * stride + frames
    {
        return;
    }
    let get = |f: fn(&SmoothLane) -> f64| -> [__m512d; V] {
        core::array::from_fn(|j| {
            let v: [f64; 8] = core::array::from_fn(|k| lanes.get(8 * j + k).map_or(0.0, f));
            // SAFETY: `v` holds 8 f64.
            unsafe { _mm512_loadu_pd(v.as_ptr()) }
        })
    };
    let mut r = get(|l| l.reduction);
    let att = get(|l| l.attack);
    let rel = get(|l| l.release);
    let mk = get(|l| l.makeup);
    let mut any: [__mmask8; V] = [0; V];
    let (zero, inf, tiny, npd) =
        (_mm512_setzero_pd(), _mm512_set1_pd(f64::INFINITY), _mm512_set1_pd(1e-12), _mm512_set1_pd(NEPER_PER_DB));
    // `step`, lane-wise, with the same operations; returns the
    // exponent `(makeup - r)·ln10/20`.
    let mut step = |j: usize, target: __m512d| -> __m512d {
        let a = _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(target, r[j]), rel[j], att[j]);
        let v = _mm512_add_pd(target, _mm512_mul_pd(a, _mm512_sub_pd(r[j], target)));
        let finite = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(v), inf);
        let settled = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, tiny) & _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(target, zero);
        let v = _mm512_maskz_mov_pd(finite & !settled, v);
        r[j] = v;
        any[j] |= _mm512_cmp_pd_mask::<_CMP_NEQ_OQ>(v, zero);
        _mm512_mul_pd(_mm512_sub_pd(mk[j], v), npd)
    };
    let tp = targets.as_ptr();
    let ep = exps.as_mut_ptr();
    let body = frames / 4 * 4;
    for t in (0..body).step_by(4) {
        // Frames t..t+4 of lanes 8j..8j+8, as one vector per frame.
        let tv: [[__m512d; 4]; V] = core::array::from_fn(|j| {
            let quarter = |q: usize| {
                transpose4(core::array::from_fn(|k| {
                    // SAFETY: rows 0..w at frames t..t+4 <= frames are inside both slices (checked above).
                    unsafe { _mm256_loadu_pd(tp.add((8 * j + 4 * q + k) * stride + t)) }
                }))
            };
            let (lo, hi) = (quarter(0), quarter(1));
            core::array::from_fn(|i| _mm512_insertf64x4::<1>(_mm512_castpd256_pd512(lo[i]), hi[i]))
        });
        let mut out = [[zero; 4]; V];
        for i in 0..4 {
            for j in 0..V {
                out[j][i] = step(j, tv[j][i]);
            }
        }
        for (j, o) in out.into_iter().enumerate() {
            let lo = transpose4(core::array::from_fn(|i| _mm512_castpd512_pd256(o[i])));
            let hi = transpose4(core::array::from_fn(|i| _mm512_extractf64x4_pd::<1>(o[i])));
            for (q, half) in [lo, hi].into_iter().enumerate() {
                for (k, row) in half.into_iter().enumerate() {
                    // SAFETY: as for the loads.
                    unsafe { _mm256_storeu_pd(ep.add((8 * j + 4 * q + k) * stride + t), row) };
                }
            }
        }
    }
    for t in body..frames {
        for j in 0..V {
            let row = |k: usize| (8 * j + k) * stride + t;
            // SAFETY: rows 0..w at frame t < frames are inside both slices (checked above).
            let tv: [f64; 8] = core::array::from_fn(|k| unsafe { *tp.add(row(k)) });
            // SAFETY: `tv` holds 8 f64.
            let target = unsafe { _mm512_loadu_pd(tv.as_ptr()) };
            let mut o = [0.0; 8];
            // SAFETY: `o` holds 8 f64.
            unsafe { _mm512_storeu_pd(o.as_mut_ptr(), step(j, target)) };
            for (k, v) in o.into_iter().enumerate() {
                // SAFETY: as for the loads.
                unsafe { *ep.add(row(k)) = v };
            }
        }
    }
    for j in 0..V {
        let mut rr = [0.0; 8];
        // SAFETY: 8 f64.
        unsafe { _mm512_storeu_pd(rr.as_mut_ptr(), r[j]) };
        for (k, &v) in rr.iter().enumerate() {
            if let Some(l) = lanes.get_mut(8 * j + k) {
                l.reduction = v;
                l.any |= (any[j] >> k) & 1 != 0;
            }
        }
    }
}
