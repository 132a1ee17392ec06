//! The offline render pool: one per process, started on first use, shared
//! by every render (four renders at once share its threads instead of
//! starting four pools). Its threads, `ferrite-render-N`, one per core,
//! wait for a board to help with ([`help`]); the render's own thread
//! works on the same board, so a render never waits for a pool thread to
//! start (when all are busy with other renders it runs its parts itself).

use super::board::Board;
use crossbeam_channel::{unbounded, Sender};
use std::sync::{Arc, OnceLock};

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
                    board.help();
                }
            });
            started += usize::from(spawned.is_ok());
        }
        // No thread could start: every render runs on its own thread.
        Pool { tx: (started > 0).then_some(tx), threads: started }
    })
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
