//! The meter does not allocate or free in `process`, `reset`, its readings
//! or `reset_integration` (checked with a counting global allocator, armed
//! per thread around the audio-thread calls), over a run long enough to fill
//! every window and histogram, with every block size the render core may use.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ferrite_dsp::meter::Meter;
use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    let _ = ARMED.try_with(|a| {
        if a.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and frees made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    COUNT.with(|c| c.get())
}

#[test]
fn meter_runs_without_allocating() {
    let channels = 6;
    let max_block = 128;
    let mut m = Meter::new();
    m.prepare(&PrepareContext { sample_rate: 44_100.0, max_block, channels });
    let mut data = vec![0.0f64; channels * max_block];
    let mut position = 0u64;
    let mut checksum = 0.0;
    let n = allocations(|| {
        // About 4.5 s: past the 3 s short-term window and several
        // loudness-range blocks.
        for block in 0..1600u64 {
            let frames = [128usize, 37, 1, 64][(block % 4) as usize];
            for (i, v) in data.iter_mut().enumerate() {
                let t = (position as f64 + (i % max_block) as f64) / 44_100.0;
                *v = 0.5 * (2.0 * std::f64::consts::PI * 997.0 * t).sin() * ((block / 200) % 3) as f64;
            }
            let ctx = ProcessContext { frames, position, params: &[] };
            m.process(&ctx, &mut Bus::new(&mut data, channels, max_block, frames));
            position += frames as u64;
            if block % 50 == 0 {
                let r = m.take_interval_reading();
                checksum += r.peak_db.max(-1000.0);
            }
            if block == 900 {
                m.reset_integration();
            }
        }
        let r = m.total_reading();
        checksum += r.integrated_lufs + r.loudness_range_lu + r.true_peak_db;
        m.reset();
    });
    assert_eq!(n, 0, "the meter allocated or freed {n} times on the audio thread");
    assert!(checksum.is_finite());
}
