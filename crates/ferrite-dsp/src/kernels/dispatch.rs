//! Run-time selection of the instruction set the kernels use.
//!
//! The hardware is probed once ([`std::sync::OnceLock`]) with
//! `is_x86_feature_detected!`; the environment variable `FERRITE_SIMD`
//! (`scalar`, `sse4.2`, `avx2`, `avx512`) can only *lower* the level, for
//! tests and A/B runs. An unknown value is ignored.
//!
//! On aarch64 NEON (baseline there) is detected with
//! `is_aarch64_feature_detected!`; `FERRITE_SIMD=scalar` lowers it to scalar
//! (NEON ranks with SSE4.2 for the cap).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// An instruction-set level a kernel can run at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    /// Portable scalar code: the reference every other path is tested against.
    Scalar,
    /// x86-64 SSE4.2 (128-bit, 2 × f64, no FMA).
    Sse42,
    /// x86-64 AVX2 with FMA (256-bit, 4 × f64).
    Avx2,
    /// x86-64 AVX-512F (512-bit, 8 × f64, with FMA).
    Avx512,
    /// aarch64 NEON (128-bit, 2 × f64, with FMA).
    Neon,
}

impl SimdLevel {
    /// The name used by `FERRITE_SIMD` and reported in statistics:
    /// `scalar`, `sse4.2`, `avx2`, `avx512` or `neon`.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Sse42 => "sse4.2",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Neon => "neon",
        }
    }

    /// Vector width in f64 lanes (1 for scalar).
    pub fn width(self) -> usize {
        match self {
            SimdLevel::Scalar => 1,
            SimdLevel::Sse42 | SimdLevel::Neon => 2,
            SimdLevel::Avx2 => 4,
            SimdLevel::Avx512 => 8,
        }
    }

    /// Ordering used by the `FERRITE_SIMD` cap (NEON ranks with SSE4.2).
    fn rank(self) -> u8 {
        match self {
            SimdLevel::Scalar => 0,
            SimdLevel::Sse42 | SimdLevel::Neon => 1,
            SimdLevel::Avx2 => 2,
            SimdLevel::Avx512 => 3,
        }
    }
}

impl core::fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a `FERRITE_SIMD` value (`scalar`, `sse4.2`, `avx2`, `avx512`;
/// surrounding spaces and letter case are ignored). Anything else is `None`.
///
/// ```
/// use ferrite_dsp::kernels::{parse_simd_override, SimdLevel};
/// assert_eq!(parse_simd_override(" AVX2 "), Some(SimdLevel::Avx2));
/// assert_eq!(parse_simd_override("fast"), None);
/// ```
pub fn parse_simd_override(value: &str) -> Option<SimdLevel> {
    let v = value.trim();
    [SimdLevel::Scalar, SimdLevel::Sse42, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(v))
}

/// Applies a cap to a list of supported levels (best last): the best level
/// whose rank does not exceed the cap's. `None` keeps the best.
pub(crate) fn apply_cap(supported: &[SimdLevel], cap: Option<SimdLevel>) -> SimdLevel {
    let best = supported.iter().copied().fold(SimdLevel::Scalar, |acc, l| {
        let allowed = cap.is_none_or(|c| l.rank() <= c.rank());
        if allowed && l.rank() >= acc.rank() {
            l
        } else {
            acc
        }
    });
    best
}

/// Every level this CPU can run, scalar first, best last (ignores `FERRITE_SIMD`).
///
/// Tests iterate over this to check every path against the scalar reference.
pub fn supported_levels() -> Vec<SimdLevel> {
    hardware_levels().to_vec()
}

/// Levels the CPU runs, scalar first, in a fixed array (no allocation, so
/// that a kernel's first call on the audio thread cannot allocate).
#[derive(Clone, Copy)]
struct Levels {
    list: [SimdLevel; 4],
    len: usize,
}

impl Levels {
    fn push(&mut self, l: SimdLevel) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = l;
            self.len += 1;
        }
    }
}

/// Up to 4 levels, scalar first. Probed once.
fn hardware_levels() -> &'static [SimdLevel] {
    static LEVELS: OnceLock<Levels> = OnceLock::new();
    let l = LEVELS.get_or_init(probe);
    l.list.get(..l.len).unwrap_or(&[SimdLevel::Scalar])
}

#[cfg(target_arch = "x86_64")]
fn probe() -> Levels {
    let mut v = Levels { list: [SimdLevel::Scalar; 4], len: 1 };
    if is_x86_feature_detected!("sse4.2") {
        v.push(SimdLevel::Sse42);
    }
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        v.push(SimdLevel::Avx2);
    }
    if is_x86_feature_detected!("avx512f") {
        v.push(SimdLevel::Avx512);
    }
    v
}

#[cfg(target_arch = "aarch64")]
fn probe() -> Levels {
    let mut v = Levels { list: [SimdLevel::Scalar; 4], len: 1 };
    if std::arch::is_aarch64_feature_detected!("neon") {
        v.push(SimdLevel::Neon);
    }
    v
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn probe() -> Levels {
    Levels { list: [SimdLevel::Scalar; 4], len: 1 }
}

/// The best level the hardware supports, ignoring `FERRITE_SIMD`.
#[cfg(test)]
fn hardware_best() -> SimdLevel {
    static BEST: OnceLock<SimdLevel> = OnceLock::new();
    *BEST.get_or_init(|| apply_cap(hardware_levels(), None))
}

/// The level the kernels use by default: the best the CPU supports, lowered
/// by `FERRITE_SIMD` if that is set to a known lower level. Detected once.
///
/// Call it once on the control side (start-up): its first call reads the
/// environment, which allocates. Kernels themselves never call it with an
/// explicit level, and their own hardware check does not allocate.
///
/// # Realtime
/// After the first call this is one atomic load: no allocation, lock or panic.
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = std::env::var("FERRITE_SIMD").ok().as_deref().and_then(parse_simd_override);
        apply_cap(hardware_levels(), cap)
    })
}

/// Whether this CPU runs AVX2 and `FERRITE_SIMD` allows it: for code that
/// has a plain build and an AVX2 build of the same arithmetic (the
/// compressor's block math, the true-peak interpolator). Call it on the
/// control side first: the first call of [`simd_level`] reads the environment.
pub(crate) fn avx2_allowed() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        matches!(simd_level(), SimdLevel::Avx2 | SimdLevel::Avx512) && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The level of code that has a plain build and `#[target_feature]` builds
/// of the same Rust body (the compressor and its block math, see
/// [`runnable_fused`] and [`runnable_autovec`]): [`SimdLevel::Avx512`] where
/// the CPU runs AVX-512F, AVX2 and FMA and `FERRITE_SIMD` allows AVX-512,
/// else [`SimdLevel::Avx2`] where it runs AVX2 and `FERRITE_SIMD` allows it,
/// else [`SimdLevel::Scalar`]. Call it on the control side first (see
/// [`avx2_allowed`]).
pub(crate) fn autovec_level() -> SimdLevel {
    if avx2_allowed() {
        if runnable_fused(simd_level()) == SimdLevel::Avx512 {
            SimdLevel::Avx512
        } else {
            SimdLevel::Avx2
        }
    } else {
        SimdLevel::Scalar
    }
}

/// `level` lowered to a build of code that fuses its multiply-adds
/// explicitly (`f64::mul_add`, the block `ln`/`exp`):
/// [`SimdLevel::Avx512`] when the CPU runs AVX-512F, AVX2 and FMA,
/// [`SimdLevel::Avx2`] when it runs AVX2 and FMA, else
/// [`SimdLevel::Scalar`] (the plain build).
///
/// # Realtime
/// Atomic loads only after start-up.
#[inline]
pub(crate) fn runnable_fused(level: SimdLevel) -> SimdLevel {
    // The kernels' AVX2 level is detected together with FMA.
    let fma = runnable(SimdLevel::Avx2) == SimdLevel::Avx2;
    match runnable(level) {
        SimdLevel::Avx512 if fma => SimdLevel::Avx512,
        SimdLevel::Avx512 | SimdLevel::Avx2 if fma => SimdLevel::Avx2,
        _ => SimdLevel::Scalar,
    }
}

/// `level` (one of [`autovec_level`]'s) lowered to a build of plain code
/// compiled for a wider target: [`SimdLevel::Avx512`] as in
/// [`runnable_fused`] (built with AVX-512F, AVX2 and FMA), else
/// [`SimdLevel::Avx2`] for an AVX2 or AVX-512 `level` where
/// [`avx2_allowed`] (built with AVX2 only), else [`SimdLevel::Scalar`].
///
/// # Realtime
/// Atomic loads only after start-up.
#[inline]
pub(crate) fn runnable_autovec(level: SimdLevel) -> SimdLevel {
    match runnable_fused(level) {
        SimdLevel::Avx512 => SimdLevel::Avx512,
        _ if matches!(level, SimdLevel::Avx2 | SimdLevel::Avx512) && avx2_allowed() => SimdLevel::Avx2,
        _ => SimdLevel::Scalar,
    }
}

/// Lowers `level` to one this CPU can run (a level the hardware lacks would
/// be undefined behaviour). Kernels call this on every passed-in level.
///
/// # Realtime
/// Atomic loads only after start-up.
#[inline]
pub(crate) fn runnable(level: SimdLevel) -> SimdLevel {
    // Fast path: one relaxed load of the bit set of supported levels (0
    // until the first slow call probes; probing is idempotent, so a race
    // only probes twice).
    if RUNNABLE.load(Ordering::Relaxed) & level_bit(level) != 0 {
        return level;
    }
    runnable_slow(level)
}

/// Bit set of the levels the CPU runs (see [`level_bit`]); 0 until probed.
static RUNNABLE: AtomicU8 = AtomicU8::new(0);

/// `level`'s bit in [`RUNNABLE`].
#[inline]
fn level_bit(level: SimdLevel) -> u8 {
    match level {
        SimdLevel::Scalar => 1,
        SimdLevel::Sse42 => 2,
        SimdLevel::Avx2 => 4,
        SimdLevel::Avx512 => 8,
        SimdLevel::Neon => 16,
    }
}

/// [`runnable`] on a level the CPU lacks, or before the bit set is filled.
#[cold]
fn runnable_slow(level: SimdLevel) -> SimdLevel {
    let levels = hardware_levels();
    RUNNABLE.store(levels.iter().fold(0, |m, &l| m | level_bit(l)), Ordering::Relaxed);
    if levels.contains(&level) {
        level
    } else {
        apply_cap(levels, Some(level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_the_four_names_only() {
        assert_eq!(parse_simd_override("scalar"), Some(SimdLevel::Scalar));
        assert_eq!(parse_simd_override("sse4.2"), Some(SimdLevel::Sse42));
        assert_eq!(parse_simd_override("avx2"), Some(SimdLevel::Avx2));
        assert_eq!(parse_simd_override("avx512"), Some(SimdLevel::Avx512));
        assert_eq!(parse_simd_override("  Avx512\n"), Some(SimdLevel::Avx512));
        assert_eq!(parse_simd_override(""), None);
        assert_eq!(parse_simd_override("sse42"), None);
        assert_eq!(parse_simd_override("avx"), None);
        assert_eq!(parse_simd_override("neon"), None);
    }

    #[test]
    fn cap_only_lowers() {
        use SimdLevel::*;
        let all = [Scalar, Sse42, Avx2, Avx512];
        assert_eq!(apply_cap(&all, None), Avx512);
        assert_eq!(apply_cap(&all, Some(Avx2)), Avx2);
        assert_eq!(apply_cap(&all, Some(Sse42)), Sse42);
        assert_eq!(apply_cap(&all, Some(Scalar)), Scalar);
        let no512 = [Scalar, Sse42, Avx2];
        assert_eq!(apply_cap(&no512, Some(Avx512)), Avx2, "a cap never raises");
        assert_eq!(apply_cap(&[Scalar], Some(Avx2)), Scalar);
    }

    #[test]
    fn names_round_trip_and_detection_is_consistent() {
        for l in supported_levels() {
            if l != SimdLevel::Neon {
                assert_eq!(parse_simd_override(l.name()), Some(l));
            }
            assert_eq!(runnable(l), l);
        }
        assert_eq!(supported_levels().first(), Some(&SimdLevel::Scalar));
        assert!(supported_levels().contains(&simd_level()));
        // A level the CPU lacks is lowered, never run.
        let best = hardware_best();
        assert!(runnable(SimdLevel::Avx512).rank() <= best.rank());
        assert!(runnable(SimdLevel::Neon).rank() <= 1);
    }
}
