//! Long jobs off libuv's pool. An `AsyncTask` holds one of libuv's four
//! threads (shared with `fs`, `crypto`, `dns` and `zlib`) for the whole
//! job, so a few renders in flight stalled every file read of the process,
//! and a process that exits waits for the pool. These jobs run on a thread
//! of their own instead and settle their promise through a threadsafe
//! function (napi's deferred).
//!
//! A job belongs to the JavaScript environment that started it (the main
//! thread's, or a `worker_threads` Worker's). When that environment is torn
//! down (`worker.terminate()`, the worker's end, the process's exit) its
//! jobs are cancelled: each job's cancel flag is set by an environment
//! cleanup hook, the job checks it between spans or chunks, stops, removes
//! its temporary file and ends; its promise no longer exists and is never
//! settled (napi's deferred drops the result once its environment is gone).

use napi::bindgen_prelude::*;
use napi::{Env, Task};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The resolver a job's deferred runs on the JavaScript thread.
type Resolver<V> = Box<dyn FnOnce(Env) -> napi::Result<V>>;

/// Something to do when an environment is torn down.
type TeardownHook = Box<dyn FnOnce() + Send>;

/// The cancel flags of the jobs one environment started, set all at once
/// when the environment is torn down. Jobs that ended are dropped from the
/// list as new ones arrive (it holds weak references only).
#[derive(Default)]
struct EnvJobs {
    flags: Mutex<Vec<Weak<AtomicBool>>>,
    /// What else to do at teardown, by key ([`on_teardown`], [`forget_teardown`]).
    hooks: Mutex<Vec<(u64, TeardownHook)>>,
    /// One token per job thread, dropped when the thread ends.
    running: Mutex<Vec<Weak<()>>>,
    /// Set once the environment is torn down: a job started from a cleanup
    /// hook that runs after ours is cancelled at once.
    torn_down: AtomicBool,
}

impl EnvJobs {
    fn add(&self, flag: &Arc<AtomicBool>, alive: &Arc<()>) {
        {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            running.retain(|r| r.strong_count() > 0);
            running.push(Arc::downgrade(alive));
        }
        // A poisoned lock only means a thread panicked holding it; the list is whole.
        let mut flags = self.flags.lock().unwrap_or_else(|e| e.into_inner());
        flags.retain(|f| f.strong_count() > 0);
        flags.push(Arc::downgrade(flag));
        if self.torn_down.load(Ordering::Acquire) {
            flag.store(true, Ordering::Release);
        }
    }

    /// [main-thread] Run by the environment's cleanup hook.
    fn cancel_all(&self) {
        self.torn_down.store(true, Ordering::Release);
        let flags = std::mem::take(&mut *self.flags.lock().unwrap_or_else(|e| e.into_inner()));
        for flag in flags.iter().filter_map(Weak::upgrade) {
            flag.store(true, Ordering::Release);
        }
        let hooks = std::mem::take(&mut *self.hooks.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, hook) in hooks {
            hook();
        }
        // A job may still hold memory of this environment (a JS processor's
        // shared ring), freed with it: wait until the cancelled jobs have
        // ended, which takes one span or chunk; a job stuck in a step that
        // does not check its flag is not waited for past the bound.
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        let until = std::time::Instant::now() + TEARDOWN_WAIT;
        while running.iter().any(|r| r.strong_count() > 0) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// How long a teardown waits at most for its cancelled jobs to end.
const TEARDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The job list of `env`, made (with its cleanup hook) on first use.
fn env_jobs(env: &Env) -> napi::Result<Arc<EnvJobs>> {
    if let Some(jobs) = env.get_instance_data::<Arc<EnvJobs>>()? {
        return Ok(jobs.clone());
    }
    let jobs = Arc::new(EnvJobs::default());
    env.set_instance_data(jobs.clone(), (), |_| {})?;
    env.add_env_cleanup_hook(jobs.clone(), |jobs| jobs.cancel_all())?;
    Ok(jobs)
}

/// Runs `hook` when `env` is torn down, after its jobs are cancelled,
/// unless [`forget_teardown`] is called with the same `key` first.
pub(crate) fn on_teardown(env: &Env, key: u64, hook: impl FnOnce() + Send + 'static) -> napi::Result<()> {
    env_jobs(env)?.hooks.lock().unwrap_or_else(|e| e.into_inner()).push((key, Box::new(hook)));
    Ok(())
}

/// Drops the teardown hooks of `env` registered under `key`.
pub(crate) fn forget_teardown(env: &Env, key: u64) -> napi::Result<()> {
    env_jobs(env)?.hooks.lock().unwrap_or_else(|e| e.into_inner()).retain(|(k, _)| *k != key);
    Ok(())
}

/// Runs `task.compute()` on a new thread named `name` and settles the
/// returned promise on the JavaScript thread: resolved with
/// `task.resolve(env, output)`, or rejected with the error. Nothing of
/// libuv's pool is held while it runs; a process that exits does not wait
/// for it (its promise is never settled then). `cancel`, the flag the task
/// checks as it goes, is set when `env` is torn down (see the module docs).
pub(crate) fn off_pool<'env, T>(
    env: &'env Env,
    name: &str,
    cancel: &Arc<AtomicBool>,
    mut task: T,
) -> napi::Result<Object<'env>>
where
    T: Task + Send + 'static,
    T::Output: Send,
    T::JsValue: ToNapiValue,
{
    let alive = Arc::new(());
    env_jobs(env)?.add(cancel, &alive);
    let (deferred, promise) = env.create_deferred::<T::JsValue, Resolver<T::JsValue>>()?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            match task.compute() {
                Ok(out) => deferred.resolve(Box::new(move |env| task.resolve(env, out))),
                Err(e) => deferred.reject(e),
            }
            // Last: the task and what it held are gone (or queued to a live environment).
            drop(alive);
        })
        .map_err(|e| napi::Error::from_reason(format!("[ferrite:Error] {name}: cannot start a thread: {e}")))?;
    Ok(promise)
}
