//! The audio thread's workers (`ferrite-audio-N`): threads started with
//! the engine that help the audio thread render a split graph's parts.
//!
//! Each block the audio thread publishes the parts on the team's
//! [`Board`] (lock-free), wakes parked workers (one futex wake, only when
//! one sleeps), renders parts itself until none is unclaimed and then
//! waits only for the parts a worker claimed and is rendering: it never
//! waits for a worker to wake up or start. A worker that comes late finds
//! nothing to claim.
//!
//! Between blocks a worker watches the board for [`SPIN`] after its last
//! part (spinning, then yielding its core to any other runnable thread),
//! so that at the usual buffer sizes the next block finds it awake; after
//! that it parks on a futex until the audio thread publishes again. An
//! engine with more threads than the machine has cores does not watch:
//! its real-time workers spinning on every core would leave no time to
//! the threads of ordinary priority (the control side, JavaScript), so
//! they park after their last part and the audio thread wakes them. Each
//! worker runs with real-time priority where the system allows it and
//! flushes denormals, as the audio thread does.

use crate::parallel::{Board, MAX_THREADS};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a worker keeps watching the board after its last part before
/// it parks: longer than a block period at the usual buffer sizes (128
/// frames at 48 kHz is 2.67 ms), so that while a split graph plays the
/// workers stay awake between callbacks and none has to be woken by a
/// system call; a stopped engine, or one playing a whole graph, publishes
/// nothing and its workers park after this long.
pub const SPIN: Duration = Duration::from_millis(4);

/// Test hooks for the workers (not part of the API).
#[doc(hidden)]
#[derive(Clone, Copy, Default)]
pub struct WorkerHooks {
    /// Runs each worker's help on the board (tests wrap it in
    /// `assert_no_alloc`).
    pub wrap: Option<fn(&mut dyn FnMut())>,
    /// Microseconds a worker sleeps after it wakes, before it looks at the
    /// board (a worker descheduled at the worst moment).
    pub stall_before_claim_us: u64,
}

/// What the audio thread and its workers share.
struct Common {
    board: Board,
    /// Futex word: bumped at every publication.
    epoch: AtomicU32,
    sleepers: AtomicU32,
    stop: AtomicBool,
    /// Parts the workers rendered (for tests and statistics).
    helped: AtomicU64,
    hooks: WorkerHooks,
    /// How long a worker watches the board: [`SPIN`], or zero when the
    /// team and the audio thread outnumber the cores.
    spin: Duration,
}

/// The workers of one engine: started by [`Team::start`], stopped and
/// joined on drop.
pub struct Team {
    common: Arc<Common>,
    handles: Vec<JoinHandle<()>>,
}

impl Team {
    /// Starts `workers` threads (`ferrite-audio-1` ...), as many as the
    /// system lets start; `None` when `workers` is 0 or none started.
    pub fn start(workers: usize, hooks: WorkerHooks) -> Option<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let common = Arc::new(Common {
            spin: if workers < cores { SPIN } else { Duration::ZERO },
            board: Board::new(),
            epoch: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            helped: AtomicU64::new(0),
            hooks,
        });
        let mut handles = Vec::with_capacity(workers);
        for n in 1..=workers.min(MAX_THREADS - 1) {
            let c = common.clone();
            if let Ok(h) = std::thread::Builder::new().name(format!("ferrite-audio-{n}")).spawn(move || serve(&c)) {
                handles.push(h);
            }
        }
        (!handles.is_empty()).then_some(Self { common, handles })
    }

    /// How many workers run.
    pub fn workers(&self) -> usize {
        self.handles.len()
    }

    /// How many parts the workers (not the audio thread) have rendered.
    pub fn helped(&self) -> u64 {
        self.common.helped.load(Ordering::Relaxed)
    }

    /// [audio thread] Publishes `count` tasks, wakes parked workers, works
    /// on the tasks (task 0 always on the audio thread, see
    /// [`crate::parallel::Board::run_owner_first`]) and returns when all
    /// are done.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic; waits only for tasks a worker has
    /// claimed, never for a worker to start. Makes one system call (a
    /// futex wake) only when a worker is parked.
    pub(crate) fn run<T: crate::parallel::Tasks>(&self, tasks: &T, count: usize) {
        let c = &*self.common;
        let wake = || {
            c.epoch.fetch_add(1, Ordering::SeqCst);
            if c.sleepers.load(Ordering::SeqCst) > 0 {
                atomic_wait::wake_all(&c.epoch);
            }
        };
        c.board.run_owner_first(tasks, count, wake);
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.common.stop.store(true, Ordering::SeqCst);
        self.common.epoch.fetch_add(1, Ordering::SeqCst);
        atomic_wait::wake_all(&self.common.epoch);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// A worker's life: set up as an audio thread, then help, spin, park.
fn serve(c: &Common) {
    let _ = ferrite_io::promote_current_thread();
    let _denormals = ferrite_io::DenormalGuard::new();
    let help = || {
        let ran = c.board.help();
        if ran > 0 {
            c.helped.fetch_add(ran as u64, Ordering::Relaxed);
        }
        ran
    };
    let help_once = || -> usize {
        match c.hooks.wrap {
            Some(wrap) => {
                let mut ran = 0;
                wrap(&mut || ran = help());
                ran
            }
            None => help(),
        }
    };
    let mut seen = c.epoch.load(Ordering::Acquire);
    while !c.stop.load(Ordering::Acquire) {
        // Watch the board for `spin` after the last part.
        let mut last = Instant::now();
        let mut spins = 0u32;
        loop {
            let now = c.epoch.load(Ordering::Acquire);
            if now != seen {
                seen = now;
                if c.hooks.stall_before_claim_us > 0 {
                    std::thread::sleep(Duration::from_micros(c.hooks.stall_before_claim_us));
                }
            }
            if help_once() > 0 {
                last = Instant::now();
                spins = 0;
                continue;
            }
            if c.stop.load(Ordering::Acquire) || last.elapsed() > c.spin {
                break;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // Park until the next publication (a publication between the
        // sleeper count and the wait changes the word: no wake is lost).
        c.sleepers.fetch_add(1, Ordering::SeqCst);
        let now = c.epoch.load(Ordering::SeqCst);
        if now == seen && !c.stop.load(Ordering::SeqCst) {
            atomic_wait::wait(&c.epoch, now);
        }
        c.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}
