//! The vector vocabulary of `x86.rs` for aarch64 NEON (2 × f64, fused
//! multiply-add), so that the same kernel bodies run on ARM.
//!
//! These paths were compile-checked (`cargo check --target
//! aarch64-unknown-linux-gnu`) but not run where they were written (no
//! aarch64 machine or emulator there): the equivalence tests cover them on
//! any aarch64 machine, where [`super::supported_levels`] includes `Neon`.
//!
//! # Realtime
//! Register operations only: no allocation, lock or panic.

/// NEON: 2 × f64.
pub(super) mod neon {
    use core::arch::aarch64::*;

    /// The vector type.
    pub type V = float64x2_t;
    /// Lanes per vector.
    pub const W: usize = 2;
    /// Whether `madd`/`nmadd` are fused.
    pub const FUSED: bool = true;

    /// Loads `W` f64. Safety: `p..p+W` readable.
    #[inline]
    #[target_feature(enable = "neon")]
    pub unsafe fn load(p: *const f64) -> V {
        // SAFETY: the caller guarantees `W` readable f64 at `p`; no alignment needed.
        unsafe { vld1q_f64(p) }
    }
    /// Stores `W` f64. Safety: `p..p+W` writable.
    #[inline]
    #[target_feature(enable = "neon")]
    pub unsafe fn store(p: *mut f64, v: V) {
        // SAFETY: the caller guarantees `W` writable f64 at `p`; no alignment needed.
        unsafe { vst1q_f64(p, v) }
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn splat(x: f64) -> V {
        vdupq_n_f64(x)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn to_array(v: V) -> [f64; W] {
        let mut a = [0.0; W];
        // SAFETY: `a` holds exactly `W` f64.
        unsafe { vst1q_f64(a.as_mut_ptr(), v) };
        a
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn from_array(a: [f64; W]) -> V {
        // SAFETY: `a` holds exactly `W` f64.
        unsafe { vld1q_f64(a.as_ptr()) }
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn add(a: V, b: V) -> V {
        vaddq_f64(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn mul(a: V, b: V) -> V {
        vmulq_f64(a, b)
    }
    /// `a·b + c`, fused (`vfmaq_f64(c, a, b) = c + a·b`).
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn madd(a: V, b: V, c: V) -> V {
        vfmaq_f64(c, a, b)
    }
    /// `c − a·b`, fused (`vfmsq_f64(c, a, b) = c − a·b`).
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn nmadd(a: V, b: V, c: V) -> V {
        vfmsq_f64(c, a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn max(a: V, b: V) -> V {
        vmaxq_f64(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn abs(a: V) -> V {
        vabsq_f64(a)
    }
    /// `[prev[1], v[0]]`.
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn shift_in(v: V, prev: V) -> V {
        vextq_f64::<1>(prev, v)
    }
    /// Lane mask from the low `W` bits.
    pub type M = uint64x2_t;
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn mask(bits: u32) -> M {
        let lane = |k: u32| if bits & (1 << k) != 0 { u64::MAX } else { 0 };
        let a = [lane(0), lane(1)];
        // SAFETY: `a` holds exactly 2 u64.
        unsafe { vld1q_u64(a.as_ptr()) }
    }
    /// `m ? a : b` per lane.
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn select(m: M, a: V, b: V) -> V {
        vbslq_f64(m, a, b)
    }
    /// Complex product of `[re, im]` pairs, fused:
    /// `[fma(xr, hr, −xi·hi), fma(xi, hr, xr·hi)]` (the sign flip is exact).
    #[inline]
    #[target_feature(enable = "neon")]
    pub fn cmul(x: V, h: V) -> V {
        let xs = vextq_f64::<1>(x, x);
        let hr = vdupq_laneq_f64::<0>(h);
        let hi = vdupq_laneq_f64::<1>(h);
        let p = vmulq_f64(vmulq_f64(xs, hi), from_array([-1.0, 1.0]));
        vfmaq_f64(p, x, hr)
    }
}
