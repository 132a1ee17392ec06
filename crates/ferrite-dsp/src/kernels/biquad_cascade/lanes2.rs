//! Per level, the two-lane moves of the stereo wavefront (lane pairs are
//! one stage's two channels):
//! `shift2(v, prev) = [prev[W−2], prev[W−1], v[0], …, v[W−3]]` and
//! `enter2(v, a, b) = [a, b, v[0], …, v[W−3]]`.

#[cfg(target_arch = "x86_64")]
pub(super) mod sse {
    use crate::kernels::vocab::sse::*;
    use core::arch::x86_64::*;

    /// One vector is one stage: the shift is the previous vector itself.
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn shift2(_v: V, prev: V) -> V {
        prev
    }
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn enter2(_v: V, a: f64, b: f64) -> V {
        _mm_set_pd(b, a)
    }
    /// Lanes `lane` and `lane + 1` (`lane` is 0 here).
    #[inline]
    #[target_feature(enable = "sse4.2")]
    pub fn pair_at(v: V, _lane: usize) -> [f64; 2] {
        [_mm_cvtsd_f64(v), _mm_cvtsd_f64(_mm_unpackhi_pd(v, v))]
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use crate::kernels::vocab::avx2::*;
    use core::arch::x86_64::*;

    /// `[prev.hi, v.lo]`: one 128-bit lane permute.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn shift2(v: V, prev: V) -> V {
        _mm256_permute2f128_pd::<0x21>(prev, v)
    }
    /// `[(a, b), v.lo]`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn enter2(v: V, a: f64, b: f64) -> V {
        _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(_mm_set_pd(b, a)), _mm256_castpd256_pd128(v))
    }
    /// Lanes `lane` and `lane + 1` (`lane` is 0 or 2), without a trip
    /// through memory.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn pair_at(v: V, lane: usize) -> [f64; 2] {
        let h = if lane >= 2 { _mm256_extractf128_pd::<1>(v) } else { _mm256_castpd256_pd128(v) };
        [_mm_cvtsd_f64(h), _mm_cvtsd_f64(_mm_unpackhi_pd(h, h))]
    }
}

// AVX-512 intrinsics: see the note on `x86::avx512`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::incompatible_msrv)]
pub(super) mod avx512 {
    use crate::kernels::vocab::avx512::*;
    use core::arch::x86_64::*;

    /// `valignq` by 6 over `[prev, v]`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn shift2(v: V, prev: V) -> V {
        _mm512_castsi512_pd(_mm512_alignr_epi64::<6>(_mm512_castpd_si512(v), _mm512_castpd_si512(prev)))
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn enter2(v: V, a: f64, b: f64) -> V {
        shift2(v, _mm512_set_pd(b, a, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
    }
    /// Lanes `lane` and `lane + 1`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn pair_at(v: V, lane: usize) -> [f64; 2] {
        let a = to_array(v);
        [a.get(lane).copied().unwrap_or(0.0), a.get(lane + 1).copied().unwrap_or(0.0)]
    }
}

/// The AVX-512 moves on the emulated 8-lane vocabulary (tests).
#[cfg(all(test, target_arch = "x86_64"))]
pub(super) mod emu8 {
    use crate::kernels::vocab::emu8::*;

    pub fn shift2(v: V, prev: V) -> V {
        core::array::from_fn(|i| if i < 2 { prev[i + 6] } else { v[i - 2] })
    }
    pub fn enter2(v: V, a: f64, b: f64) -> V {
        shift2(v, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, a, b])
    }
    pub fn pair_at(v: V, lane: usize) -> [f64; 2] {
        [v.get(lane).copied().unwrap_or(0.0), v.get(lane + 1).copied().unwrap_or(0.0)]
    }
}

#[cfg(target_arch = "aarch64")]
pub(super) mod neon {
    use crate::kernels::vocab::neon::*;

    /// One vector is one stage: the shift is the previous vector itself.
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn shift2(_v: V, prev: V) -> V {
        prev
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn enter2(_v: V, a: f64, b: f64) -> V {
        from_array([a, b])
    }
    /// Lanes `lane` and `lane + 1` (`lane` is 0 here).
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn pair_at(v: V, _lane: usize) -> [f64; 2] {
        to_array(v)
    }
}
