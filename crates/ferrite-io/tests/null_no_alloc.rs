//! The null backend's audio thread does not allocate once it is running:
//! everything it does between two callbacks (clock, waits, guard, timing,
//! statistics) and the callback path itself is counted by a global allocator
//! that tallies allocations made on the audio thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ferrite_io::{open_null, StreamConfig};

struct CountingAllocator;

thread_local! {
    // Const-initialised and without destructor: reading it never allocates.
    static ON_AUDIO_THREAD: Cell<bool> = const { Cell::new(false) };
}

static AUDIO_THREAD_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn count_if_audio_thread() {
    if ON_AUDIO_THREAD.try_with(Cell::get).unwrap_or(false) {
        AUDIO_THREAD_ALLOCATIONS.fetch_add(1, Relaxed);
    }
}

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_if_audio_thread();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_if_audio_thread();
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_if_audio_thread();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_if_audio_thread();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn the_running_null_backend_does_not_allocate() {
    // Allocation counts seen by the callback at its 10th and 200th call.
    let at_10 = Arc::new(AtomicU64::new(u64::MAX));
    let at_200 = Arc::new(AtomicU64::new(u64::MAX));
    let calls = Arc::new(AtomicU64::new(0));
    let (a10, a200, counter) = (at_10.clone(), at_200.clone(), calls.clone());
    let config = StreamConfig { sample_rate: Some(48_000), buffer_size: Some(64), ..Default::default() };
    let stream = open_null(&config, move |out: &mut [f32], inp: &[f32], _, _| {
        ON_AUDIO_THREAD.with(|flag| flag.set(true));
        for (o, i) in out.iter_mut().zip(inp) {
            *o = *i * 0.5;
        }
        match counter.fetch_add(1, Relaxed) + 1 {
            10 => a10.store(AUDIO_THREAD_ALLOCATIONS.load(Relaxed), Relaxed),
            200 => a200.store(AUDIO_THREAD_ALLOCATIONS.load(Relaxed), Relaxed),
            _ => {}
        }
    })
    .expect("open");
    while calls.load(Relaxed) < 210 {
        thread::sleep(Duration::from_millis(10));
    }
    stream.close();
    let (first, last) = (at_10.load(Relaxed), at_200.load(Relaxed));
    assert_ne!(first, u64::MAX);
    assert_eq!(last, first, "{} allocations on the audio thread over 190 callbacks", last - first);
    // The probe itself works: an allocation on a flagged thread is counted.
    let before = AUDIO_THREAD_ALLOCATIONS.load(Relaxed);
    ON_AUDIO_THREAD.with(|flag| flag.set(true));
    let v = std::hint::black_box(vec![1u8; 16]);
    ON_AUDIO_THREAD.with(|flag| flag.set(false));
    drop(v);
    assert!(AUDIO_THREAD_ALLOCATIONS.load(Relaxed) > before);
}
