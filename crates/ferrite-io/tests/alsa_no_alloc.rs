//! The cpal output path (our callback wrapper, format conversion, the input
//! ring, statistics) does not allocate per callback, measured on ALSA's null
//! PCM with a global allocator that counts allocations on the audio thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrite_io::{list_devices, open_device, StreamConfig};

struct CountingAllocator;

thread_local! {
    static COUNTED_THREAD: Cell<bool> = const { Cell::new(false) };
}

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn count() {
    if COUNTED_THREAD.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Relaxed);
    }
}

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn the_device_callback_path_does_not_allocate() {
    let id = list_devices().into_iter().find(|d| d.id.ends_with(":null")).map(|d| d.id).expect("ALSA null PCM");
    let marks = Arc::new([AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)]);
    let calls = Arc::new(AtomicU64::new(0));
    let (m, counter) = (marks.clone(), calls.clone());
    let config = StreamConfig {
        device: Some(id.clone()),
        input_device: Some(id),
        sample_rate: Some(48_000),
        buffer_size: Some(128),
        channels: Some(2),
        ..Default::default()
    };
    let stream = open_device(&config, move |out: &mut [f32], inp: &[f32], _, _| {
        COUNTED_THREAD.with(|flag| flag.set(true));
        out.copy_from_slice(inp);
        match counter.fetch_add(1, Relaxed) + 1 {
            10 => m[0].store(ALLOCATIONS.load(Relaxed), Relaxed),
            500 => m[1].store(ALLOCATIONS.load(Relaxed), Relaxed),
            _ => {}
        }
    })
    .expect("open");
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls.load(Relaxed) < 510 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    stream.close();
    let (first, last) = (marks[0].load(Relaxed), marks[1].load(Relaxed));
    assert_ne!(last, u64::MAX, "fewer than 500 callbacks");
    assert_eq!(last, first, "{} allocations in 490 callbacks", last - first);
}
