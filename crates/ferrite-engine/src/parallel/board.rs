//! The hand-over of a block's tasks to other threads, without a lock
//! ([thread-safe]).
//!
//! One atomic word holds the generation (48 bits), the task count and the
//! next unclaimed task (8 bits each). The owner publishes a block's tasks
//! by writing where they are and then the word `(generation + 1, count,
//! 0)`; a helper (or the owner itself) claims task `i` by moving the word
//! from `(g, count, i)` to `(g, count, i + 1)` with a compare-and-swap, so
//! whoever gets there first runs it and each task runs exactly once. The
//! owner never waits for a helper to start: it claims and runs tasks
//! itself until none is left, then waits only for the tasks other threads
//! claimed and are running (the `done` count). A helper reads where the
//! tasks are only after a successful claim, which the owner cannot see
//! closed (`done == count`) before the helper is finished with it.

use crossbeam_utils::{Backoff, CachePadded};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Most tasks one block can have.
pub const MAX_TASKS: usize = 255;

/// Tasks that threads run by index, each index once per publication.
pub(crate) trait Tasks: Sync {
    /// Runs task `i`.
    ///
    /// # Safety
    /// Between two publications of the same tasks, each `i < count` is
    /// passed to exactly one call, and the owner touches none of what the
    /// tasks touch until every call has returned: so an implementation may
    /// take exclusive access to the state of task `i`.
    unsafe fn run(&self, i: usize);
}

/// Where the current tasks are: the tasks and their type's `run`.
#[derive(Clone, Copy)]
struct Job {
    data: *const (),
    run: unsafe fn(*const (), usize),
}

/// `T::run` on a type-erased pointer.
///
/// # Safety
/// `data` points to a live `T`; as [`Tasks::run`].
unsafe fn run_erased<T: Tasks>(data: *const (), i: usize) {
    // SAFETY: the caller passes the pointer [`Board::run`] made from a `&T`
    // that outlives the publication, and honours `run`'s contract.
    unsafe { (*data.cast::<T>()).run(i) }
}

fn noop(_: *const (), _: usize) {}

const COUNT_SHIFT: u32 = 8;
const GEN_SHIFT: u32 = 16;

fn unpack(w: u64) -> (u64, usize, usize) {
    (w >> GEN_SHIFT, ((w >> COUNT_SHIFT) & 0xff) as usize, (w & 0xff) as usize)
}

/// A board on which one owner publishes tasks for helpers.
pub struct Board {
    word: CachePadded<AtomicU64>,
    done: CachePadded<AtomicUsize>,
    job: UnsafeCell<Job>,
    /// Offline pool threads asked to help with this board and not yet
    /// gone (kept by [`super::pool`]; the board itself does not read it).
    pub(crate) helpers: CachePadded<AtomicUsize>,
}

// SAFETY: `job` is written only by the owner in `run` while no task of the
// board is claimable (every task of the previous publication is claimed
// and done) and read by a helper only after it claimed a task of the
// current publication, which the owner does not end (and so does not
// write `job`) until that task is done; the Release store of the word
// after the write and the Acquire loads before the read order the two.
unsafe impl Sync for Board {}
// SAFETY: the raw pointer in `job` is only dereferenced under the
// protocol above, from whichever thread claims a task.
unsafe impl Send for Board {}

impl Default for Board {
    fn default() -> Self {
        Self::new()
    }
}

impl Board {
    /// An empty board.
    pub fn new() -> Self {
        let job = Job { data: std::ptr::null(), run: noop };
        Self {
            word: CachePadded::new(AtomicU64::new(0)),
            done: CachePadded::new(AtomicUsize::new(0)),
            job: job.into(),
            helpers: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// The current generation (changes with each publication).
    pub fn generation(&self) -> u64 {
        unpack(self.word.load(Ordering::Acquire)).0
    }

    /// Whether a task of the current publication is still unclaimed.
    pub fn open(&self) -> bool {
        let (_, count, next) = unpack(self.word.load(Ordering::Acquire));
        next < count
    }

    /// [owner] Publishes `count` tasks (at most [`MAX_TASKS`]; fewer are
    /// run as they are, more are not published), calls `wake` (to rouse
    /// sleeping helpers), runs tasks until none is unclaimed and returns
    /// once every task has finished. Only one thread may be the owner of
    /// a board at a time (the `&mut` of whoever holds it; the board is
    /// shared with helpers through an `Arc`).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic; waits only for tasks that other
    /// threads are running, never for a thread to start one.
    #[cfg(test)]
    pub(crate) fn run<T: Tasks>(&self, tasks: &T, count: usize, wake: impl FnOnce()) {
        self.run_with(tasks, count, wake, || {});
    }

    /// [`Board::run`], with `meanwhile` run by the owner after publishing
    /// and before it works on the tasks (the mix of the previous span
    /// while helpers start on this one's parts).
    ///
    /// # Realtime
    /// As [`Board::run`], plus whatever `meanwhile` does.
    pub(crate) fn run_with<T: Tasks>(&self, tasks: &T, count: usize, wake: impl FnOnce(), meanwhile: impl FnOnce()) {
        let count = count.min(MAX_TASKS);
        if count == 0 {
            meanwhile();
            return;
        }
        let (generation, _, _) = unpack(self.word.load(Ordering::Relaxed));
        // SAFETY: see `impl Sync`: every task of the previous publication is
        // claimed and done (the previous `run` returned only then), so no
        // helper reads `job` now.
        unsafe { *self.job.get() = Job { data: (tasks as *const T).cast(), run: run_erased::<T> } };
        self.done.store(0, Ordering::Relaxed);
        let next_gen = (generation + 1) & ((1 << 48) - 1);
        self.word.store(next_gen << GEN_SHIFT | (count as u64) << COUNT_SHIFT, Ordering::Release);
        wake();
        meanwhile();
        self.help();
        let backoff = Backoff::new();
        while self.done.load(Ordering::Acquire) < count {
            backoff.snooze();
        }
    }

    /// [owner] [`Board::run`] with task 0 kept for the owner: it is
    /// published as already claimed, so helpers start at task 1 and the
    /// owner renders task 0 every time, on its own core, with its caches
    /// warm from the last block (in real time a block's part 0 never moves
    /// between the audio thread and a worker; with one worker, part 1 stays
    /// on the worker unless it is late). Then the owner helps with the
    /// rest and waits as `run` does.
    ///
    /// # Realtime
    /// As [`Board::run`].
    pub(crate) fn run_owner_first<T: Tasks>(&self, tasks: &T, count: usize, wake: impl FnOnce()) {
        let count = count.min(MAX_TASKS);
        if count == 0 {
            return;
        }
        let (generation, _, _) = unpack(self.word.load(Ordering::Relaxed));
        // SAFETY: as in `run_with`: the previous publication is done.
        unsafe { *self.job.get() = Job { data: (tasks as *const T).cast(), run: run_erased::<T> } };
        self.done.store(0, Ordering::Relaxed);
        let next_gen = (generation + 1) & ((1 << 48) - 1);
        self.word.store(next_gen << GEN_SHIFT | (count as u64) << COUNT_SHIFT | 1, Ordering::Release);
        wake();
        // SAFETY: task 0 was published as claimed, so it is ours alone; the
        // publication stays open until it is counted done below.
        unsafe { tasks.run(0) };
        self.done.fetch_add(1, Ordering::Release);
        self.help();
        let backoff = Backoff::new();
        while self.done.load(Ordering::Acquire) < count {
            backoff.snooze();
        }
    }

    /// [helper, or the owner] Claims and runs tasks of the current
    /// publication until none is unclaimed; returns how many it ran.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn help(&self) -> usize {
        let mut ran = 0;
        loop {
            let w = self.word.load(Ordering::Acquire);
            let (_, count, next) = unpack(w);
            if next >= count {
                return ran;
            }
            if self.word.compare_exchange_weak(w, w + 1, Ordering::AcqRel, Ordering::Relaxed).is_err() {
                continue;
            }
            // SAFETY: task `next` of the current publication is ours alone
            // (the compare-and-swap moved the word past it), and the owner
            // neither ends this publication nor writes `job` until it is
            // done (see `impl Sync`).
            unsafe {
                let job = *self.job.get();
                (job.run)(job.data, next);
            }
            self.done.fetch_add(1, Ordering::Release);
            ran += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    struct Counts(Vec<AtomicU32>);

    impl Tasks for Counts {
        unsafe fn run(&self, i: usize) {
            self.0[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `n` threads helping on `board` until `stop`; each returns how many tasks it ran.
    fn spawn_helpers(
        board: &Arc<Board>,
        stop: &Arc<std::sync::atomic::AtomicBool>,
        n: usize,
    ) -> Vec<std::thread::JoinHandle<usize>> {
        (0..n)
            .map(|_| {
                let (b, s) = (board.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut ran = 0;
                    while !s.load(Ordering::Relaxed) {
                        ran += b.help();
                        std::hint::spin_loop();
                    }
                    ran
                })
            })
            .collect()
    }

    /// Records which thread ran each task.
    struct Owners(Vec<std::sync::Mutex<Option<std::thread::ThreadId>>>);

    impl Tasks for Owners {
        unsafe fn run(&self, i: usize) {
            *self.0[i].lock().unwrap() = Some(std::thread::current().id());
        }
    }

    #[test]
    fn owner_first_keeps_task_0_on_the_owner_and_runs_every_task_once() {
        let board = Arc::new(Board::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let helpers = spawn_helpers(&board, &stop, 2);
        let me = std::thread::current().id();
        let rounds = if cfg!(miri) { 10 } else { 2000 };
        let counts = Counts((0..5).map(|_| AtomicU32::new(0)).collect());
        for r in 0..rounds {
            let owners = Owners((0..5).map(|_| std::sync::Mutex::new(None)).collect());
            board.run_owner_first(&owners, 5, || {});
            assert_eq!(*owners.0[0].lock().unwrap(), Some(me), "round {r}: task 0 ran on the owner");
            assert!(owners.0.iter().all(|o| o.lock().unwrap().is_some()), "round {r}: every task ran");
            board.run_owner_first(&counts, 5, || {});
            assert!(counts.0.iter().all(|c| c.load(Ordering::Relaxed) == r + 1), "round {r}: each task once");
        }
        stop.store(true, Ordering::Relaxed);
        helpers.into_iter().for_each(|h| {
            h.join().unwrap();
        });
    }

    #[test]
    fn every_task_runs_exactly_once_per_publication_whoever_runs_it() {
        let board = Arc::new(Board::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let helpers = spawn_helpers(&board, &stop, 3);
        let counts = Counts((0..7).map(|_| AtomicU32::new(0)).collect());
        let rounds = if cfg!(miri) { 10 } else { 2000 };
        for r in 0..rounds {
            board.run(&counts, 7, || {});
            assert!(counts.0.iter().all(|c| c.load(Ordering::Relaxed) == r + 1));
        }
        stop.store(true, Ordering::Relaxed);
        let by_helpers: usize = helpers.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(by_helpers <= 7 * rounds as usize);
    }
}
