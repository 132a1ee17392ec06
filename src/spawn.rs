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

/// The cancel flags of the jobs one environment started, set all at once
/// when the environment is torn down. Jobs that ended are dropped from the
/// list as new ones arrive (it holds weak references only).
#[derive(Default)]
struct EnvJobs {
    flags: Mutex<Vec<Weak<AtomicBool>>>,
    /// Set once the environment is torn down: a job started from a cleanup
    /// hook that runs after ours is cancelled at once.
    torn_down: AtomicBool,
}

impl EnvJobs {
    fn add(&self, flag: &Arc<AtomicBool>) {
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
    }
}

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
    env_jobs(env)?.add(cancel);
    let (deferred, promise) = env.create_deferred::<T::JsValue, Resolver<T::JsValue>>()?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match task.compute() {
            Ok(out) => deferred.resolve(Box::new(move |env| task.resolve(env, out))),
            Err(e) => deferred.reject(e),
        })
        .map_err(|e| napi::Error::from_reason(format!("[ferrite:Error] {name}: cannot start a thread: {e}")))?;
    Ok(promise)
}
