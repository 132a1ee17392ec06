//! AVX2 (and AVX-512), one cascade: the wavefront over two vectors that
//! hold the even and the odd stages, `[s0, s2, s4, s6]` and `[s1, s3, s5,
//! s7]`, instead of `[s0..s3]` and `[s4..s7]`. An odd stage takes the even
//! vector's previous outputs lane for lane (no move at all), and an even
//! stage the odd vector's shifted up one lane with the new sample in lane 0
//! (one lane permute and one shuffle). The loop-carried path through the two
//! vectors thus has one shift in two steps instead of one per step.
//! Every lane performs exactly the steps it performs in the generic kernel
//! (same inputs, same operations, same masks in fill and drain), so the bits
//! are the same.

use super::{active_lanes, Planes, MAX};
use crate::kernels::vocab::avx2::{madd, mul, nmadd, select, shift_in, splat, V};
use crate::kernels::{dispatch::runnable, SimdLevel};
use core::arch::x86_64::*;

/// Whether a cascade at `level` runs this kernel: at AVX2, and at
/// AVX-512 too, instead of the one-vector wavefront (8 stages in one
/// `zmm`, a lane shift on the loop-carried path of every step). The bits
/// are the same (every build fuses the step at AVX2 and AVX-512). Not when
/// the tests emulate the 8-lane vocabulary.
#[inline(always)]
pub(super) fn chosen(level: SimdLevel) -> bool {
    matches!(runnable(level), SimdLevel::Avx2 | SimdLevel::Avx512)
        && runnable(SimdLevel::Avx2) == SimdLevel::Avx2
        && !super::emulated()
}

/// `[even, odd]` vectors of a plane.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn split(p: &[f64; MAX]) -> [V; 2] {
    let [a0, a1, a2, a3, a4, a5, a6, a7] = *p;
    [_mm256_setr_pd(a0, a2, a4, a6), _mm256_setr_pd(a1, a3, a5, a7)]
}

/// The plane of `[even, odd]` vectors.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn join(v: [V; 2]) -> [f64; MAX] {
    let (mut e, mut o) = ([0.0; 4], [0.0; 4]);
    // SAFETY: 4 f64 each.
    unsafe {
        _mm256_storeu_pd(e.as_mut_ptr(), v[0]);
        _mm256_storeu_pd(o.as_mut_ptr(), v[1]);
    }
    [e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3]]
}

/// Lane masks of the even and the odd vector from per-stage bits.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn masks(bits: u32) -> [V; 2] {
    let lane = |k: u32| if bits & (1 << k) != 0 { -1i64 } else { 0 };
    [
        _mm256_castsi256_pd(_mm256_setr_epi64x(lane(0), lane(2), lane(4), lane(6))),
        _mm256_castsi256_pd(_mm256_setr_epi64x(lane(1), lane(3), lane(5), lane(7))),
    ]
}

/// Lane `l` (0..4) of `v`, in registers.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lane(v: V, l: usize) -> f64 {
    let h = if l >= 2 { _mm256_extractf128_pd::<1>(v) } else { _mm256_castpd256_pd128(v) };
    _mm_cvtsd_f64(if l & 1 == 0 { h } else { _mm_unpackhi_pd(h, h) })
}

struct Coefs {
    b0: [V; 2],
    b1: [V; 2],
    b2: [V; 2],
    a1: [V; 2],
    a2: [V; 2],
}

/// One wavefront step; `MASKED` during fill and drain (`bits`: the
/// stages with a sample, see [`active_lanes`]).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn step<const MASKED: bool>(k: &Coefs, z1: &mut [V; 2], z2: &mut [V; 2], y: &mut [V; 2], xin: f64, bits: u32) {
    let x = [shift_in(y[1], splat(xin)), y[0]];
    let m = if MASKED { masks(bits) } else { [splat(0.0); 2] };
    for j in 0..2 {
        let yj = madd(k.b0[j], x[j], z1[j]);
        let z1n = nmadd(k.a1[j], yj, madd(k.b1[j], x[j], z2[j]));
        let z2n = nmadd(k.a2[j], yj, mul(k.b2[j], x[j]));
        y[j] = yj;
        if MASKED {
            z1[j] = select(m[j], z1n, z1[j]);
            z2[j] = select(m[j], z2n, z2[j]);
        } else {
            z1[j] = z1n;
            z2[j] = z2n;
        }
    }
}

/// Safety: the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn process(p: &mut Planes, stages: usize, data: &mut [f64]) {
    if !(1..=MAX).contains(&stages) {
        return;
    }
    let k = Coefs { b0: split(&p.b0), b1: split(&p.b1), b2: split(&p.b2), a1: split(&p.a1), a2: split(&p.a2) };
    let (mut z1, mut z2, mut y) = (split(&p.z1), split(&p.z2), [splat(0.0); 2]);
    let n = data.len();
    let last = stages - 1;
    let (out_v, out_l) = (last % 2, last / 2);
    let fill_end = last.min(n + last);
    let drain_start = n.max(fill_end);
    for t in 0..n + last {
        let xin = data.get(t).copied().unwrap_or(0.0);
        if t < fill_end || t >= drain_start {
            step::<true>(&k, &mut z1, &mut z2, &mut y, xin, active_lanes(t, n, stages));
        } else {
            step::<false>(&k, &mut z1, &mut z2, &mut y, xin, 0);
        }
        if t >= last {
            if let Some(d) = data.get_mut(t - last) {
                *d = lane(if out_v == 0 { y[0] } else { y[1] }, out_l);
            }
        }
    }
    p.z1 = join(z1);
    p.z2 = join(z2);
}
