//! The offline render pool: one per process, started on first use, shared
//! by every render (four renders at once share its threads instead of
//! starting four pools). Its threads, `ferrite-render-N`, one per core
//! but one, wait for a board to help with ([`help`]); the render's own
//! thread works on the same board (it is the core left over), so a render
//! never waits for a pool thread to start (when all are busy with other
//! renders it runs its parts itself).

use super::board::Board;
use crossbeam_channel::{unbounded, Sender};
use crossbeam_utils::Backoff;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

struct Pool {
    tx: Option<Sender<Arc<Board>>>,
    threads: usize,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        // The render's own thread is the last core's worker: one more
        // spinning helper than cores would take turns with it on a core.
        let threads = super::default_threads().saturating_sub(1).max(1);
        let (tx, rx) = unbounded::<Arc<Board>>();
        let mut started = 0;
        for n in 1..=threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("ferrite-render-{n}")).spawn(move || {
                for board in rx.iter() {
                    serve(&board);
                }
            });
            started += usize::from(spawned.is_ok());
        }
        // No thread could start: every render runs on its own thread.
        Pool { tx: (started > 0).then_some(tx), threads: started }
    })
}

/// How long a pool thread keeps watching a board after its last task,
/// for the render's next span: waking a sleeping thread (a futex wake,
/// on a virtual machine an interrupt to an idle vCPU) costs more than a
/// span's parts on two threads gain, so a render in progress keeps its
/// helpers awake; an idle pool costs nothing.
const LINGER: Duration = Duration::from_millis(2);

/// Helps with `board` until it has had nothing to claim for [`LINGER`],
/// then gives up its place among the board's helpers ([`help`]).
fn serve(board: &Board) {
    serve_until_idle(board);
    board.helpers.fetch_sub(1, Ordering::AcqRel);
}

fn serve_until_idle(board: &Board) {
    let mut last = Instant::now();
    let backoff = Backoff::new();
    loop {
        if board.help() > 0 {
            last = Instant::now();
            backoff.reset();
        } else if last.elapsed() > LINGER {
            return;
        } else if backoff.is_completed() {
            std::thread::yield_now();
        } else {
            backoff.snooze();
        }
    }
}

/// How many threads the pool has (starting it).
pub fn pool_threads() -> usize {
    pool().threads
}

/// Asks pool threads to help with `board`'s current tasks until up to `n`
/// are its helpers: those already watching it (lingering from its last
/// span) or asked and on their way count, so a render asks once per
/// helper and not once per span (a request per span would pile up behind
/// the busy threads and keep them spinning on a finished render for
/// [`LINGER`] each). A thread that comes late finds the tasks claimed and
/// watches for the next span.
pub(crate) fn help(board: &Arc<Board>, n: usize) {
    let p = pool();
    let Some(tx) = &p.tx else { return };
    let want = n.min(p.threads);
    let mut have = board.helpers.load(Ordering::Acquire);
    while have < want {
        match board.helpers.compare_exchange_weak(have, have + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                if tx.send(board.clone()).is_err() {
                    board.helpers.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
                have += 1;
            }
            Err(now) => have = now,
        }
    }
}
