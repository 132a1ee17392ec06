//! Fallible allocation for `prepare`: buffers whose size comes from the
//! user (a delay's length, an impulse response, a block size, a channel
//! count) are reserved with [`Vec::try_reserve_exact`], so that a request
//! larger than the machine can give is an [`AllocError`] the engine reports
//! naming the node, not an aborted process.
//!
//! ```
//! use ferrite_dsp::alloc::{try_filled, try_zeroed};
//! let line: Box<[f64]> = try_zeroed(1024).unwrap();
//! assert_eq!(line.len(), 1024);
//! assert!(try_filled(usize::MAX / 8, 1.0f64).is_err());
//! ```

use core::fmt;

/// An allocation of `bytes` bytes that the allocator refused (or that
/// overflows the address space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError {
    /// The bytes asked for (saturated at `usize::MAX`).
    pub bytes: usize,
}

impl AllocError {
    /// The error for `n` elements of `T`.
    pub fn of<T>(n: usize) -> Self {
        Self { bytes: n.saturating_mul(core::mem::size_of::<T>()) }
    }

    /// Ends the process as a failed `vec![..]` would
    /// ([`std::alloc::handle_alloc_error`]): for callers of the infallible
    /// [`crate::Processor::prepare`]; the engine uses
    /// [`crate::Processor::try_prepare`] and reports the error instead.
    pub fn abort(self) -> ! {
        let layout = std::alloc::Layout::from_size_align(self.bytes.min(isize::MAX as usize), 8)
            .unwrap_or(std::alloc::Layout::new::<u64>());
        std::alloc::handle_alloc_error(layout)
    }
}

impl fmt::Display for AllocError {
    /// `cannot allocate 64.0 GiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes as f64;
        let (v, unit) = if b >= 1024.0 * 1024.0 * 1024.0 {
            (b / (1024.0 * 1024.0 * 1024.0), "GiB")
        } else if b >= 1024.0 * 1024.0 {
            (b / (1024.0 * 1024.0), "MiB")
        } else if b >= 1024.0 {
            (b / 1024.0, "KiB")
        } else {
            return write!(f, "cannot allocate {} bytes", self.bytes);
        };
        write!(f, "cannot allocate {v:.1} {unit}")
    }
}

impl std::error::Error for AllocError {}

/// A vector of `n` copies of `value`, or an error if the memory cannot be had.
pub fn try_filled<T: Clone>(n: usize, value: T) -> Result<Vec<T>, AllocError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| AllocError::of::<T>(n))?;
    v.resize(n, value);
    Ok(v)
}

/// Types for which all-zero bytes are a valid value (zero).
///
/// # Safety
/// An implementor must be valid when every byte of it is zero.
pub unsafe trait Zeroable: Copy {}

// SAFETY: all-zero bytes are 0 / 0.0 for each of these.
unsafe impl Zeroable for f32 {}
// SAFETY: as above.
unsafe impl Zeroable for f64 {}
// SAFETY: as above.
unsafe impl Zeroable for u8 {}
// SAFETY: as above.
unsafe impl Zeroable for u32 {}
// SAFETY: as above.
unsafe impl Zeroable for u64 {}
// SAFETY: as above.
unsafe impl Zeroable for usize {}

/// `n` zeros in a boxed slice, or an error if the memory cannot be had.
/// Zeroed by the allocator (`calloc`), so a large line costs address space
/// and is mapped page by page as it is first written, as `vec![0.0; n]`.
pub fn try_zeroed<T: Zeroable>(n: usize) -> Result<Box<[T]>, AllocError> {
    let err = AllocError::of::<T>(n);
    let layout = std::alloc::Layout::array::<T>(n).map_err(|_| err)?;
    if layout.size() == 0 {
        return Ok(Vec::new().into_boxed_slice());
    }
    // SAFETY: the layout's size is not zero.
    let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if p.is_null() {
        return Err(err);
    }
    // SAFETY: `p` comes from the global allocator with the layout of
    // `[T; n]`, and its `n` zeroed elements are valid `T` (`Zeroable`); the
    // box takes ownership and frees it with the same layout.
    Ok(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, n)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_the_allocator_cannot_give_is_an_error_naming_the_bytes() {
        // More than the address space: refused before the allocator is asked.
        let e = try_zeroed::<f64>(usize::MAX / 4).unwrap_err();
        assert_eq!(e.bytes, usize::MAX);
        // 2^62 bytes fit in a usize but in no machine's memory.
        let e = try_filled(1usize << 59, 0.0f64).unwrap_err();
        assert_eq!(e.bytes, 1usize << 62);
        assert_eq!(e.to_string(), format!("cannot allocate {:.1} GiB", (1u64 << 32) as f64));
        assert_eq!(AllocError::of::<f32>(16 << 30).to_string(), "cannot allocate 64.0 GiB");
        assert_eq!(AllocError::of::<u8>(1536).to_string(), "cannot allocate 1.5 KiB");
        assert_eq!(AllocError::of::<u8>(100).to_string(), "cannot allocate 100 bytes");
    }

    #[test]
    fn what_fits_is_filled() {
        let v = try_filled(1000, 1.5f64).unwrap();
        assert_eq!(v.len(), 1000);
        assert_eq!(v.capacity(), 1000);
        assert!(v.iter().all(|&x| x == 1.5));
        let z: Box<[f32]> = try_zeroed(4097).unwrap();
        assert_eq!(z.len(), 4097);
        assert!(z.iter().all(|&x| x == 0.0));
        assert_eq!(try_zeroed::<f64>(0).unwrap().len(), 0);
        // 2^62 bytes of zeros: refused by the allocator, an error.
        assert_eq!(try_zeroed::<f64>(1 << 59).unwrap_err().bytes, 1 << 62);
    }
}
