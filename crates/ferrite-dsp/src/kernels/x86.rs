//! One small vocabulary of vector operations per x86-64 level, with the same
//! names in each module (`sse`, `avx2`, `avx512`), so that every kernel body is
//! written once (in a macro) and instantiated per level.
//!
//! Every function carries the level's `#[target_feature]`, so it inlines into
//! kernels compiled for that level and may only be reached from them.
//! `madd(a, b, c)` is `a·b + c` and `nmadd(a, b, c)` is `c − a·b`: rounded twice
//! on SSE4.2 (no FMA), fused (rounded once) on AVX2+FMA and AVX-512F. The
//! scalar references mirror both flavours (see [`super::scalar_madd`]).
//!
//! # Realtime
//! Register operations only: no allocation, lock or panic.
#![allow(clippy::missing_safety_doc)] // private module; each `unsafe fn` says what it needs.

/// SSE4.2 (and SSE2/SSE3 below it): 2 × f64.
pub(super) mod sse {
    use core::arch::x86_64::*;

    /// The vector type.
    pub type V = __m128d;
    /// Lanes per vector.
    pub const W: usize = 2;
    /// Whether `madd`/`nmadd` are fused.
    pub const FUSED: bool = false;

    /// Loads `W` f64. Safety: `p..p+W` readable.
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub unsafe fn load(p: *const f64) -> V {
        // SAFETY: the caller guarantees `W` readable f64 at `p`; unaligned load.
        unsafe { _mm_loadu_pd(p) }
    }
    /// Stores `W` f64. Safety: `p..p+W` writable.
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub unsafe fn store(p: *mut f64, v: V) {
        // SAFETY: the caller guarantees `W` writable f64 at `p`; unaligned store.
        unsafe { _mm_storeu_pd(p, v) }
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn splat(x: f64) -> V {
        _mm_set1_pd(x)
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn to_array(v: V) -> [f64; W] {
        let mut a = [0.0; W];
        // SAFETY: `a` holds exactly `W` f64.
        unsafe { _mm_storeu_pd(a.as_mut_ptr(), v) };
        a
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn from_array(a: [f64; W]) -> V {
        // SAFETY: `a` holds exactly `W` f64.
        unsafe { _mm_loadu_pd(a.as_ptr()) }
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn add(a: V, b: V) -> V {
        _mm_add_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn mul(a: V, b: V) -> V {
        _mm_mul_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn madd(a: V, b: V, c: V) -> V {
        _mm_add_pd(_mm_mul_pd(a, b), c)
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn nmadd(a: V, b: V, c: V) -> V {
        _mm_sub_pd(c, _mm_mul_pd(a, b))
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn max(a: V, b: V) -> V {
        _mm_max_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn abs(a: V) -> V {
        _mm_andnot_pd(_mm_set1_pd(-0.0), a)
    }
    /// `[prev[W-1], v[0], …, v[W-2]]`: shifts `v` up one lane, carrying in from `prev`.
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn shift_in(v: V, prev: V) -> V {
        _mm_shuffle_pd::<0b01>(prev, v)
    }
    /// Lane mask from the low `W` bits.
    pub type M = V;
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn mask(bits: u32) -> M {
        let lane = |k: u32| if bits & (1 << k) != 0 { -1i64 } else { 0 };
        _mm_castsi128_pd(_mm_set_epi64x(lane(1), lane(0)))
    }
    /// `m ? a : b` per lane.
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn select(m: M, a: V, b: V) -> V {
        _mm_blendv_pd(b, a, m)
    }
    /// Complex product of `[re, im]` pairs: `[xr·hr − xi·hi, xi·hr + xr·hi]`.
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn cmul(x: V, h: V) -> V {
        let xs = _mm_shuffle_pd::<0b01>(x, x);
        let hr = _mm_movedup_pd(h);
        let hi = _mm_unpackhi_pd(h, h);
        _mm_addsub_pd(_mm_mul_pd(x, hr), _mm_mul_pd(xs, hi))
    }
}

/// AVX2 with FMA: 4 × f64.
pub(super) mod avx2 {
    use core::arch::x86_64::*;

    /// The vector type.
    pub type V = __m256d;
    /// Lanes per vector.
    pub const W: usize = 4;
    /// Whether `madd`/`nmadd` are fused.
    pub const FUSED: bool = true;

    /// Loads `W` f64. Safety: `p..p+W` readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn load(p: *const f64) -> V {
        // SAFETY: the caller guarantees `W` readable f64 at `p`; unaligned load.
        unsafe { _mm256_loadu_pd(p) }
    }
    /// Stores `W` f64. Safety: `p..p+W` writable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn store(p: *mut f64, v: V) {
        // SAFETY: the caller guarantees `W` writable f64 at `p`; unaligned store.
        unsafe { _mm256_storeu_pd(p, v) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn splat(x: f64) -> V {
        _mm256_set1_pd(x)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn to_array(v: V) -> [f64; W] {
        let mut a = [0.0; W];
        // SAFETY: `a` holds exactly `W` f64.
        unsafe { _mm256_storeu_pd(a.as_mut_ptr(), v) };
        a
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn from_array(a: [f64; W]) -> V {
        // SAFETY: `a` holds exactly `W` f64.
        unsafe { _mm256_loadu_pd(a.as_ptr()) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn add(a: V, b: V) -> V {
        _mm256_add_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn mul(a: V, b: V) -> V {
        _mm256_mul_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn madd(a: V, b: V, c: V) -> V {
        _mm256_fmadd_pd(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn nmadd(a: V, b: V, c: V) -> V {
        _mm256_fnmadd_pd(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn max(a: V, b: V) -> V {
        _mm256_max_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn abs(a: V) -> V {
        _mm256_andnot_pd(_mm256_set1_pd(-0.0), a)
    }
    /// `[prev[3], v[0], v[1], v[2]]`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn shift_in(v: V, prev: V) -> V {
        // t = [prev2, prev3, v0, v1]
        let t = _mm256_permute2f128_pd::<0x03>(v, prev);
        // [t1, v0, t3, v2] = [prev3, v0, v1, v2]
        _mm256_shuffle_pd::<0b0101>(t, v)
    }
    /// Lane mask from the low `W` bits.
    pub type M = V;
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn mask(bits: u32) -> M {
        let lane = |k: u32| if bits & (1 << k) != 0 { -1i64 } else { 0 };
        _mm256_castsi256_pd(_mm256_set_epi64x(lane(3), lane(2), lane(1), lane(0)))
    }
    /// `m ? a : b` per lane.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn select(m: M, a: V, b: V) -> V {
        _mm256_blendv_pd(b, a, m)
    }
    /// Complex product of `[re, im]` pairs, fused:
    /// `[fma(xr, hr, −xi·hi), fma(xi, hr, xr·hi)]`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn cmul(x: V, h: V) -> V {
        let xs = _mm256_permute_pd::<0b0101>(x);
        let hr = _mm256_movedup_pd(h);
        let hi = _mm256_permute_pd::<0b1111>(h);
        _mm256_fmaddsub_pd(x, hr, _mm256_mul_pd(xs, hi))
    }
}

/// AVX-512F: 8 × f64.
// The AVX-512 intrinsics are stable since Rust 1.89; the workspace builds with
// 1.95 (DESIGN.md) while `rust-version` still says 1.85.
#[allow(clippy::incompatible_msrv)]
pub(super) mod avx512 {
    use core::arch::x86_64::*;

    /// The vector type.
    pub type V = __m512d;
    /// Lanes per vector.
    pub const W: usize = 8;
    /// Whether `madd`/`nmadd` are fused.
    pub const FUSED: bool = true;

    /// Loads `W` f64. Safety: `p..p+W` readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn load(p: *const f64) -> V {
        // SAFETY: the caller guarantees `W` readable f64 at `p`; unaligned load.
        unsafe { _mm512_loadu_pd(p) }
    }
    /// Stores `W` f64. Safety: `p..p+W` writable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn store(p: *mut f64, v: V) {
        // SAFETY: the caller guarantees `W` writable f64 at `p`; unaligned store.
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn splat(x: f64) -> V {
        _mm512_set1_pd(x)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn to_array(v: V) -> [f64; W] {
        let mut a = [0.0; W];
        // SAFETY: `a` holds exactly `W` f64.
        unsafe { _mm512_storeu_pd(a.as_mut_ptr(), v) };
        a
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn from_array(a: [f64; W]) -> V {
        // SAFETY: `a` holds exactly `W` f64.
        unsafe { _mm512_loadu_pd(a.as_ptr()) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn add(a: V, b: V) -> V {
        _mm512_add_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn mul(a: V, b: V) -> V {
        _mm512_mul_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn madd(a: V, b: V, c: V) -> V {
        _mm512_fmadd_pd(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn nmadd(a: V, b: V, c: V) -> V {
        _mm512_fnmadd_pd(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn max(a: V, b: V) -> V {
        _mm512_max_pd(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn abs(a: V) -> V {
        _mm512_abs_pd(a)
    }
    /// `[prev[7], v[0], …, v[6]]`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn shift_in(v: V, prev: V) -> V {
        // alignr over the 16-element concatenation [prev, v], starting at prev[7].
        _mm512_castsi512_pd(_mm512_alignr_epi64::<7>(_mm512_castpd_si512(v), _mm512_castpd_si512(prev)))
    }
    /// Lane mask from the low `W` bits.
    pub type M = __mmask8;
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn mask(bits: u32) -> M {
        (bits & 0xff) as u8
    }
    /// `m ? a : b` per lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn select(m: M, a: V, b: V) -> V {
        _mm512_mask_blend_pd(m, b, a)
    }
    /// Complex product of `[re, im]` pairs, fused (as in `avx2::cmul`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn cmul(x: V, h: V) -> V {
        let xs = _mm512_permute_pd::<0b0101_0101>(x);
        let hr = _mm512_movedup_pd(h);
        let hi = _mm512_permute_pd::<0b1111_1111>(h);
        _mm512_fmaddsub_pd(x, hr, _mm512_mul_pd(xs, hi))
    }
}

/// Test-only portable 8-lane vocabulary with fused `madd` (the AVX-512
/// semantics, written with plain arrays and `mul_add`). Instantiating the
/// kernel bodies with it checks their width-8 logic (blocking, remainders,
/// the single-vector wavefront) on CPUs without AVX-512; the AVX-512
/// intrinsics themselves are only exercised where the CPU has them.
#[cfg(test)]
pub(super) mod emu8 {
    /// The vector type.
    pub type V = [f64; 8];
    /// Lanes per vector.
    pub const W: usize = 8;
    /// Whether `madd`/`nmadd` are fused.
    pub const FUSED: bool = true;

    fn map2(a: V, b: V, f: impl Fn(f64, f64) -> f64) -> V {
        core::array::from_fn(|i| f(a[i], b[i]))
    }
    /// Loads `W` f64. Safety: `p..p+W` readable.
    pub unsafe fn load(p: *const f64) -> V {
        // SAFETY: the caller guarantees `W` readable f64 at `p`.
        unsafe { core::ptr::read_unaligned(p.cast::<V>()) }
    }
    /// Stores `W` f64. Safety: `p..p+W` writable.
    pub unsafe fn store(p: *mut f64, v: V) {
        // SAFETY: the caller guarantees `W` writable f64 at `p`.
        unsafe { core::ptr::write_unaligned(p.cast::<V>(), v) }
    }
    pub fn splat(x: f64) -> V {
        [x; 8]
    }
    pub fn to_array(v: V) -> [f64; W] {
        v
    }
    pub fn from_array(a: [f64; W]) -> V {
        a
    }
    pub fn add(a: V, b: V) -> V {
        map2(a, b, |a, b| a + b)
    }
    pub fn mul(a: V, b: V) -> V {
        map2(a, b, |a, b| a * b)
    }
    pub fn madd(a: V, b: V, c: V) -> V {
        core::array::from_fn(|i| a[i].mul_add(b[i], c[i]))
    }
    pub fn nmadd(a: V, b: V, c: V) -> V {
        core::array::from_fn(|i| (-a[i]).mul_add(b[i], c[i]))
    }
    pub fn max(a: V, b: V) -> V {
        // maxpd: the second operand when either is NaN or both are equal.
        map2(a, b, |a, b| if a > b { a } else { b })
    }
    pub fn abs(a: V) -> V {
        a.map(f64::abs)
    }
    pub fn shift_in(v: V, prev: V) -> V {
        core::array::from_fn(|i| if i == 0 { prev[7] } else { v[i - 1] })
    }
    pub type M = u32;
    pub fn mask(bits: u32) -> M {
        bits & 0xff
    }
    pub fn select(m: M, a: V, b: V) -> V {
        core::array::from_fn(|i| if m & (1 << i) != 0 { a[i] } else { b[i] })
    }
    pub fn cmul(x: V, h: V) -> V {
        core::array::from_fn(|i| {
            let (p, q) = (i & !1, i | 1);
            if i % 2 == 0 {
                x[p].mul_add(h[p], -(x[q] * h[q]))
            } else {
                x[q].mul_add(h[p], x[p] * h[q])
            }
        })
    }
}
