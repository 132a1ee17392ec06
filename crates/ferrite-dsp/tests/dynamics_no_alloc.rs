//! The limiter, compressor and convolver do not allocate or free in `process`,
//! `reset` or `take_state` (checked with a counting global allocator, armed
//! per thread around the audio-thread calls).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ferrite_dsp::compressor::Compressor;
use ferrite_dsp::convolver::Convolver;
use ferrite_dsp::limiter::Limiter;
use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};

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

fn drive(p: &mut dyn Processor, fresh: &mut dyn Processor, params: &mut [ParamBuffer]) {
    let ctx = PrepareContext { sample_rate: 48_000.0, max_block: 128, channels: 2 };
    p.prepare(&ctx);
    fresh.prepare(&ctx);
    let mut data = vec![0.0f64; 2 * 128];
    let n = allocations(|| {
        for block in 0..200u64 {
            for (i, v) in data.iter_mut().enumerate() {
                *v = 3.0 * ((block as f64 * 128.0 + i as f64) * 0.01).sin();
            }
            let frames = [128usize, 37, 1, 64][(block % 4) as usize];
            if block % 3 == 0 {
                for (k, pb) in params.iter_mut().enumerate() {
                    for (i, v) in pb.varying_mut(frames).iter_mut().enumerate() {
                        *v = -(k as f64) - (i as f64) * 0.01;
                    }
                }
            } else {
                for pb in params.iter_mut() {
                    pb.set_constant(-3.0);
                }
            }
            let ctx = ProcessContext { frames, position: block * 128, params };
            p.process(&ctx, &mut Bus::new(&mut data, 2, 128, frames));
        }
        p.reset();
        assert!(fresh.take_state(p));
    });
    assert_eq!(n, 0, "allocations or frees on the audio path");
}

#[test]
fn limiter_does_not_allocate() {
    let mut params = vec![ParamBuffer::new(-1.0, 128), ParamBuffer::new(50.0, 128)];
    drive(&mut Limiter::new(5.0), &mut Limiter::new(5.0), &mut params);
}

#[test]
fn compressor_does_not_allocate() {
    let mut params: Vec<ParamBuffer> = (0..6).map(|_| ParamBuffer::new(1.0, 128)).collect();
    drive(&mut Compressor::new(), &mut Compressor::new(), &mut params);
}

#[test]
fn convolver_does_not_allocate() {
    let ir: Vec<Vec<f32>> = vec![(0..3000).map(|i| (i as f32 * 0.37).sin() / (1.0 + i as f32)).collect(); 2];
    drive(&mut Convolver::new(ir.clone(), true), &mut Convolver::new(ir, true), &mut []);
}

#[test]
fn the_counter_sees_allocations() {
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);
}
