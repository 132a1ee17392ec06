//! SIMD kernels: the arithmetic every processor and the render core lean on,
//! with one scalar reference and SSE4.2, AVX2+FMA and AVX-512F paths chosen at
//! run time (see [`simd_level`]; `FERRITE_SIMD` can lower it).
//!
//! Each kernel has a safe entry that uses the global level (for example
//! [`gain()`]) and one that takes a level (`gain_at`); a level the CPU cannot
//! run is lowered to one it can, so the safe entries are always sound.
//!
//! | kernel | what | exact vs scalar |
//! |---|---|---|
//! | [`gain()`], [`gain_varying`], [`gain_ramp`] | `x *= g`, `x *= g[i]`, `x *= from + i·step` | bit-exact |
//! | [`mix_into`], [`mix4_into`], [`pan_stereo`] | `dst += g·src`; four of those in one pass; `l *= gl, r *= gr` | bit-exact |
//! | [`peak_abs`], [`sum_squares`] | meter scans | peak bit-exact; sum ≈ 1e-15 rel. |
//! | [`BiquadBank`] | N independent biquad chains, SoA, frame-major | bit-exact per level flavour |
//! | [`BiquadCascade`] | ≤ 8 series biquads, one signal, wavefront | bit-exact per level flavour |
//! | [`cmac()`] | `acc += x·h` on `[re, im]` spectra | bit-exact per level flavour |
//! | [`osc::sine_at`], [`osc::table_at`] | oscillator sine / band-limited table read on a fixed-point phase | bit-exact |
//!
//! # Exactness
//! Every SIMD path performs, per element, the same operations in the same
//! order as the scalar reference. Where a path uses FMA (AVX2, AVX-512) the
//! fused product-sum is rounded once, so those paths equal a scalar reference
//! written with [`f64::mul_add`] *bit for bit* ("fused flavour"), and differ
//! from the plain scalar path only by rounding (about 1e-16 relative per
//! operation). SSE4.2 has no FMA and equals the plain scalar path bit for bit.
//! Kernels with no product-sum (gain, mix, pan, peak) are bit-exact at every
//! level. Reductions (`sum_squares`) add in a different order per width.
//!
//! # Batching (for the graph compiler)
//! A [`BiquadBank`] lane's output depends only on that lane's input,
//! coefficients and state, and on the level: not on how many lanes share the
//! bank, which lane it is, or what the padding lanes hold; a 1-lane bank, a
//! lane of a 128-lane bank and a [`BiquadCascade`] with the same stages give
//! the same bits at one level (tested). So batching like filters of parallel
//! tracks into one bank keeps every node's output exact, provided that
//! (1) batched and unbatched nodes run at the same level (all through these
//! kernels, with [`simd_level`]), (2) every lane of a bank has the same stage
//! count (pad shorter chains with [`BiquadCoeffs::IDENTITY`] stages: exact up to
//! the sign of a zero), and (3) when a node enters or leaves a batch its state
//! moves with it ([`BiquadBank::state`] / [`BiquadBank::set_state`]). The
//! bank wants frame-major data (`data[t·stride + lane]`); use
//! [`BiquadBank::write_lane`] / [`BiquadBank::read_lane`] to move planar
//! channels in and out.
//!
//! # Realtime
//! No kernel allocates, locks, logs or panics; mismatched slice lengths are
//! handled by processing the common prefix. Only `BiquadBank::new` allocates.
//! The entries without a level call [`simd_level`], whose *first* call reads
//! `FERRITE_SIMD` (an allocation): call it once at start-up, on the control
//! side. The `_at` entries never read the environment.
//!
//! # Platforms
//! x86-64: scalar, SSE4.2, AVX2+FMA, AVX-512F. aarch64: scalar and NEON
//! (fused, 2 lanes); the NEON paths were compile-checked but not run where
//! they were written (no aarch64 machine there); the tests run them on any
//! aarch64 machine. Other targets: scalar. The AVX-512 paths could not be
//! *run* on the machine they were written on (no AVX-512 there): their
//! width-8 logic is tested on a portable emulation of the vocabulary
//! (`x86::emu8`), and the real paths run in the tests on any AVX-512 CPU.

pub mod biquad;
pub mod biquad_bank;
pub mod biquad_cascade;
pub mod cmac;
pub mod dispatch;
pub mod gain;
pub(crate) mod math;
pub mod mix;
pub mod osc;
pub mod scan;
pub(crate) mod smooth;

#[cfg(target_arch = "aarch64")]
mod arm;
#[cfg(target_arch = "x86_64")]
mod x86;

/// The per-level vector vocabularies, under one path for the kernel macros.
mod vocab {
    #[cfg(target_arch = "aarch64")]
    pub(super) use super::arm::neon;
    #[cfg(all(test, target_arch = "x86_64"))]
    pub(super) use super::x86::emu8;
    #[cfg(target_arch = "x86_64")]
    pub(super) use super::x86::{avx2, avx512, sse};
}

pub use biquad::BiquadCoeffs;
pub use biquad_bank::BiquadBank;
pub use biquad_cascade::{BiquadCascade, MAX_CASCADE_STAGES};
pub use cmac::{cmac, cmac_at};
pub(crate) use dispatch::avx2_allowed;
pub use dispatch::{parse_simd_override, simd_level, supported_levels, SimdLevel};
pub use gain::{gain, gain_at, gain_ramp, gain_ramp_at, gain_varying, gain_varying_at};
pub use mix::{mix4_into, mix4_into_at, mix_into, mix_into_at, pan_stereo, pan_stereo_at};
pub use scan::{peak_abs, peak_abs_at, sum_squares, sum_squares_at};

/// `x.floor()`, the same value for every `x` (signed zeros and NaN included),
/// without the out-of-line software `floor` that baseline x86-64 (no SSE4.1
/// `roundsd`) calls: a truncating conversion and a compare.
///
/// ```
/// # use ferrite_dsp::kernels::floor;
/// assert_eq!(floor(-2.5), -3.0);
/// assert!(floor(-0.0).is_sign_negative());
/// ```
#[inline(always)]
pub fn floor(x: f64) -> f64 {
    // From 2^52 up every f64 is an integer; infinities and NaN stay as they are.
    if x.is_nan() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    // Truncation toward zero, exact below 2^52.
    let t = x as i64 as f64;
    if t > x {
        t - 1.0
    } else {
        // Here `x` is an integer or positive; `-0.0` truncates to `+0.0`, so
        // the sign is copied back (it changes nothing else).
        t.copysign(x)
    }
}

/// Asks the CPU to bring the cache line at `p` closer (a hint: it never
/// faults, whatever `p` is, and changes no result).
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline(always)]
pub fn prefetch<T: ?Sized>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE is part of x86-64, and a prefetch reads nothing
        // architecturally (any address is allowed).
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// `a·b + c`, fused (one rounding) when `FUSED`, else rounded twice. The
/// scalar mirror of the vector `madd`.
#[inline(always)]
pub(crate) fn scalar_madd<const FUSED: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `c − a·b`, fused when `FUSED`. The scalar mirror of the vector `nmadd`.
#[inline(always)]
pub(crate) fn scalar_nmadd<const FUSED: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FUSED {
        (-a).mul_add(b, c)
    } else {
        c - a * b
    }
}

/// Instantiates a kernel-body macro once per SIMD level of the target, each
/// in a module named like the level's vocabulary (`x86.rs`, `neon.rs`).
macro_rules! for_each_simd_level {
    ($body:ident) => {
        #[cfg(target_arch = "x86_64")]
        $body!(sse, "sse4.2");
        #[cfg(target_arch = "x86_64")]
        $body!(avx2, "avx2,fma");
        #[cfg(target_arch = "x86_64")]
        $body!(avx512, "avx512f");
        // Test-only: the bodies at width 8 on a portable vocabulary (x86.rs).
        #[cfg(all(test, target_arch = "x86_64"))]
        $body!(emu8, "sse4.2");
        #[cfg(target_arch = "aarch64")]
        $body!(neon, "neon");
    };
}
pub(crate) use for_each_simd_level;

/// Runs `$path::$f(args)` in the module of the runnable level, or `$scalar`.
macro_rules! dispatch_level {
    ($level:expr, $scalar:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $crate::kernels::dispatch::runnable($level) {
            #[cfg(all(test, target_arch = "x86_64"))]
            // SAFETY: the emulated vocabulary needs no CPU feature beyond the baseline.
            _ if $crate::kernels::testutil::emu8_on() => unsafe { emu8::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `runnable` returned AVX-512F, so the CPU supports it.
            $crate::kernels::SimdLevel::Avx512 => unsafe { avx512::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `runnable` returned AVX2, detected together with FMA.
            $crate::kernels::SimdLevel::Avx2 => unsafe { avx2::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `runnable` returned SSE4.2, so the CPU supports it.
            $crate::kernels::SimdLevel::Sse42 => unsafe { sse::$f($($arg),*) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: `runnable` returned NEON, detected on this CPU.
            $crate::kernels::SimdLevel::Neon => unsafe { neon::$f($($arg),*) },
            _ => $scalar,
        }
    };
}
pub(crate) use dispatch_level;

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the kernel tests: a tiny deterministic PRNG and
    //! the lengths that exercise every remainder path.

    /// Lengths covering empty, shorter than any vector, and odd remainders.
    pub const LENGTHS: &[usize] = &[0, 1, 2, 3, 7, 8, 9, 16, 17, 31, 129];

    /// `n` samples in [-1, 1) of a xorshift64 sequence (13, 7, 17) from
    /// state `state` (non-zero): the processors' test signals.
    pub fn xorshift(state: u64, n: usize) -> Vec<f64> {
        let mut s = state;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    /// xorshift64*: deterministic, good enough for test signals.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        /// Uniform in [-1, 1).
        pub fn signed(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
        pub fn vec(&mut self, n: usize) -> Vec<f64> {
            (0..n).map(|_| self.signed()).collect()
        }
    }

    /// Bitwise equality of two f64 slices, with the first differing index.
    pub fn assert_bits_eq(got: &[f64], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "{what}: index {i}: {g} vs {w}");
        }
    }

    /// `|got − want| ≤ rel · max(|want|, floor)` element-wise.
    pub fn assert_close(got: &[f64], want: &[f64], rel: f64, floor: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let tol = rel * w.abs().max(floor);
            assert!((g - w).abs() <= tol, "{what}: index {i}: {g} vs {w}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    thread_local! {
        static EMU8: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    }

    /// Whether kernels on this test thread run the emulated width-8 bodies.
    #[cfg(target_arch = "x86_64")]
    pub fn emu8_on() -> bool {
        EMU8.with(|c| c.get())
    }

    /// Calls `f` with every level this CPU supports, then (x86-64) once more
    /// with `Avx512` while the kernels run their bodies on the emulated
    /// 8-lane vocabulary (`x86::emu8`, AVX-512 semantics), so the width-8
    /// logic is tested on CPUs without AVX-512 too.
    pub fn for_each_test_level(mut f: impl FnMut(crate::kernels::SimdLevel)) {
        for level in crate::kernels::supported_levels() {
            f(level);
        }
        #[cfg(target_arch = "x86_64")]
        {
            EMU8.with(|c| c.set(true));
            f(crate::kernels::SimdLevel::Avx512);
            EMU8.with(|c| c.set(false));
        }
    }

    /// Whether a level's `madd` is fused.
    pub fn fused(level: crate::kernels::SimdLevel) -> bool {
        use crate::kernels::SimdLevel::*;
        matches!(level, Avx2 | Avx512 | Neon)
    }
}

#[cfg(test)]
mod floor_tests {
    use super::floor;

    #[test]
    fn floor_is_std_floor_bit_for_bit() {
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.5,
            -2.5,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            0.999_999_999_999_999_9,
            -0.999_999_999_999_999_9,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            -4_503_599_627_370_497.0,
            9.3e18,
            -9.3e18,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // A spread over every magnitude, both signs, and points next to integers.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = f64::from_bits(s);
            if x.is_finite() {
                xs.push(x);
            }
            let k = (s % 2001) as f64 - 1000.0;
            xs.extend([k, k + f64::EPSILON * k.abs().max(1.0), k - f64::EPSILON * k.abs().max(1.0)]);
        }
        for x in xs {
            assert_eq!(floor(x).to_bits(), x.floor().to_bits(), "floor({x:e})");
        }
        assert!(floor(f64::NAN).is_nan());
    }
}
