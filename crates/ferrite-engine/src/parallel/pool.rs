//! The offline render pool: one per process, started on first use, shared
//! by every render (four renders at once share its threads instead of
//! starting four pools). Its threads, `ferrite-render-N`, one per core,
//! wait for a board to help with ([`help`]); the render's own thread
//! works on the same board, so a render never waits for a pool thread to
//! start (when all are busy with other renders it runs its parts itself).

use super::board::Board;
use crossbeam_channel::{unbounded, Sender};
use crossbeam_utils::Backoff;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

struct Pool {
    tx: Option<Sender<Arc<Board>>>,
    threads: usize,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let threads = super::default_threads();
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

/// Helps with `board` until it has had nothing to claim for [`LINGER`].
fn serve(board: &Board) {
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

/// Asks up to `n` pool threads to help with `board`'s current tasks (a
/// thread that comes late finds them claimed and goes back to waiting).
pub(crate) fn help(board: &Arc<Board>, n: usize) {
    let p = pool();
    if let Some(tx) = &p.tx {
        for _ in 0..n.min(p.threads) {
            let _ = tx.send(board.clone());
        }
    }
}
