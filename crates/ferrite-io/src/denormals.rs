//! Flush-to-zero / denormals-are-zero for the calling thread, scoped.
//!
//! Denormal (subnormal) floats are 10–100× slower on most CPUs, and every
//! decaying filter or reverb tail passes through them. The guard turns on the
//! CPU modes that flush them to zero for as long as it lives, and puts the
//! previous mode back when dropped:
//!
//! * x86-64: MXCSR bits FTZ (15) and DAZ (6), via `stmxcsr` / `ldmxcsr`.
//! * aarch64: FPCR bit FZ (24), via `mrs` / `msr` (FZ covers both directions).
//! * anything else: a no-op guard; [`flush_enabled`] reports `false`.

use std::marker::PhantomData;

/// Turns on flush-to-zero and denormals-are-zero for the current thread while
/// it lives, restoring the previous floating-point mode when dropped.
///
/// Not `Send`: the mode belongs to the thread that created the guard.
///
/// ```
/// use ferrite_io::{flush_enabled, DenormalGuard};
/// let before = flush_enabled();
/// {
///     let _guard = DenormalGuard::new();
///     # #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
///     assert!(flush_enabled());
/// }
/// assert_eq!(flush_enabled(), before);
/// ```
///
/// # Realtime
///
/// `new` and `drop` are two or three register instructions: no allocation,
/// no lock, no system call, no panic.
#[must_use = "the mode is restored as soon as the guard is dropped"]
pub struct DenormalGuard {
    previous: arch::Mode,
    _not_send: PhantomData<*const ()>,
}

impl DenormalGuard {
    /// Saves the current mode and turns flushing on.
    ///
    /// # Realtime
    ///
    /// Safe on the audio thread.
    #[inline]
    pub fn new() -> Self {
        let previous = arch::read();
        arch::write(arch::with_flush(previous));
        Self { previous, _not_send: PhantomData }
    }
}

impl Default for DenormalGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DenormalGuard {
    #[inline]
    fn drop(&mut self) {
        arch::write(self.previous);
    }
}

/// Whether the current thread flushes denormals (FTZ and DAZ on x86-64, FZ on
/// aarch64). Always `false` on other architectures.
///
/// # Realtime
///
/// One register read; safe on the audio thread.
#[inline]
pub fn flush_enabled() -> bool {
    arch::is_flushing(arch::read())
}

/// The raw control register (MXCSR on x86-64, FPCR on aarch64, 0 elsewhere),
/// for tests that check the guard restores it exactly.
#[doc(hidden)]
#[inline]
pub fn control_register() -> u64 {
    #[allow(clippy::useless_conversion)]
    u64::from(arch::read())
}

#[cfg(target_arch = "x86_64")]
mod arch {
    use core::arch::asm;

    pub(super) type Mode = u32;
    const FTZ: u32 = 1 << 15;
    const DAZ: u32 = 1 << 6;

    #[inline]
    pub(super) fn read() -> Mode {
        let mut value: u32 = 0;
        // SAFETY: `stmxcsr` stores the 32-bit MXCSR to the given address, which
        // is a valid, aligned, writable local `u32`. No other state changes.
        unsafe {
            asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags));
        }
        value
    }

    #[inline]
    pub(super) fn write(value: Mode) {
        // SAFETY: `ldmxcsr` loads MXCSR from a valid, aligned local `u32`. The
        // values written are either one read by `read` or one with only the
        // FTZ and DAZ bits added, both valid on every x86-64 CPU (DAZ is
        // supported by all of them), so no reserved bit is set (#GP).
        unsafe {
            asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, preserves_flags, readonly));
        }
    }

    #[inline]
    pub(super) fn with_flush(mode: Mode) -> Mode {
        mode | FTZ | DAZ
    }

    #[inline]
    pub(super) fn is_flushing(mode: Mode) -> bool {
        mode & (FTZ | DAZ) == (FTZ | DAZ)
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    use core::arch::asm;

    pub(super) type Mode = u64;
    const FZ: u64 = 1 << 24;

    #[inline]
    pub(super) fn read() -> Mode {
        let value: u64;
        // SAFETY: reading FPCR is allowed at EL0 and has no side effects.
        unsafe {
            asm!("mrs {}, fpcr", out(reg) value, options(nomem, nostack, preserves_flags));
        }
        value
    }

    #[inline]
    pub(super) fn write(value: Mode) {
        // SAFETY: writing FPCR is allowed at EL0; the value is one read from
        // FPCR, possibly with the architecturally defined FZ bit added.
        unsafe {
            asm!("msr fpcr, {}", in(reg) value, options(nomem, nostack, preserves_flags));
        }
    }

    #[inline]
    pub(super) fn with_flush(mode: Mode) -> Mode {
        mode | FZ
    }

    #[inline]
    pub(super) fn is_flushing(mode: Mode) -> bool {
        mode & FZ == FZ
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod arch {
    pub(super) type Mode = u32;

    #[inline]
    pub(super) fn read() -> Mode {
        0
    }

    #[inline]
    pub(super) fn write(_value: Mode) {}

    #[inline]
    pub(super) fn with_flush(mode: Mode) -> Mode {
        mode
    }

    #[inline]
    pub(super) fn is_flushing(_mode: Mode) -> bool {
        false
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// A one-pole low-pass with no input after an impulse:
    /// y[n] = a·y[n-1] + (1-a)·x[n], x = 0 after n = 0, so y[n] = a^n·y[0].
    fn one_pole_tail(steps: usize) -> f64 {
        let a = black_box(0.9_f64);
        let b = black_box(0.1_f64);
        let mut y = black_box(1.0_f64);
        for _ in 0..steps {
            y = black_box(a * y + b * black_box(0.0));
        }
        y
    }

    // ln(0.9^6800) / ln(10) ≈ -311.1: below f64::MIN_POSITIVE (2.2e-308),
    // above the smallest subnormal (4.9e-324).
    const STEPS: usize = 6800;

    #[test]
    fn tail_is_subnormal_without_the_guard() {
        assert!(!flush_enabled(), "test threads start in the default FP mode");
        let y = one_pole_tail(STEPS);
        assert!(y.is_subnormal(), "{y:e} should be subnormal");
        // Reference in closed form: 0.9^6800 = exp(6800 ln 0.9).
        let expected = (STEPS as f64 * 0.9_f64.ln()).exp();
        assert!(((y - expected) / expected).abs() < 1e-6, "{y:e} vs {expected:e}");
    }

    #[test]
    fn tail_is_exactly_zero_under_the_guard() {
        let _guard = DenormalGuard::new();
        assert!(flush_enabled());
        let y = one_pole_tail(STEPS);
        assert_eq!(y, 0.0);
        assert_eq!(y.to_bits(), 0, "positive zero, not a denormal");
    }

    #[test]
    fn biquad_tail_in_f32_is_exactly_zero_under_the_guard() {
        // Direct form I resonant low-pass (RBJ, f0 = 1 kHz, Q = 0.707, fs = 48 kHz),
        // impulse response decays through the subnormal range.
        let w0 = 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0;
        let alpha = w0.sin() / (2.0 * 0.707);
        let a0 = 1.0 + alpha;
        let b0 = ((1.0 - w0.cos()) / 2.0 / a0) as f32;
        let b1 = ((1.0 - w0.cos()) / a0) as f32;
        let b2 = b0;
        let a1 = (-2.0 * w0.cos() / a0) as f32;
        let a2 = ((1.0 - alpha) / a0) as f32;
        let run = || {
            let (mut x1, mut x2, mut y1, mut y2) = (0.0_f32, 0.0_f32, 0.0_f32, 0.0_f32);
            let mut saw_subnormal = false;
            for n in 0..20_000 {
                let x = black_box(if n == 0 { 1.0_f32 } else { 0.0 });
                let y = black_box(b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2);
                saw_subnormal |= y.is_subnormal();
                (x2, x1, y2, y1) = (x1, x, y1, y);
            }
            (saw_subnormal, y1, y2)
        };
        let (subnormal_without, ..) = run();
        assert!(subnormal_without, "without the guard the tail passes through subnormals");
        let _guard = DenormalGuard::new();
        let (subnormal_with, y1, y2) = run();
        assert!(!subnormal_with);
        assert_eq!((y1, y2), (0.0, 0.0));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn daz_reads_subnormal_inputs_as_zero() {
        let tiny = black_box(1e-310_f64);
        assert!(tiny.is_subnormal());
        assert_eq!(black_box(tiny * black_box(1.0)), tiny);
        let _guard = DenormalGuard::new();
        assert_eq!(black_box(tiny * black_box(1.0)), 0.0);
    }

    #[test]
    fn previous_mode_is_restored_exactly() {
        let before = control_register();
        {
            let _outer = DenormalGuard::new();
            let inside = control_register();
            assert_ne!(inside, before);
            {
                let _inner = DenormalGuard::new();
                assert_eq!(control_register(), inside);
            }
            assert_eq!(control_register(), inside, "inner guard restores the outer mode");
        }
        assert_eq!(control_register(), before);
        assert!(!flush_enabled());
    }
}
