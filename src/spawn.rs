//! Long jobs off libuv's pool. An `AsyncTask` holds one of libuv's four
//! threads (shared with `fs`, `crypto`, `dns` and `zlib`) for the whole
//! job, so a few renders in flight stalled every file read of the process,
//! and a process that exits waits for the pool. These jobs run on a thread
//! of their own instead and settle their promise through a threadsafe
//! function (napi's deferred).

use napi::bindgen_prelude::*;
use napi::{Env, Task};

/// The resolver a job's deferred runs on the JavaScript thread.
type Resolver<V> = Box<dyn FnOnce(Env) -> napi::Result<V>>;

/// Runs `task.compute()` on a new thread named `name` and settles the
/// returned promise on the JavaScript thread: resolved with
/// `task.resolve(env, output)`, or rejected with the error. Nothing of
/// libuv's pool is held while it runs; a process that exits does not wait
/// for it (its promise is never settled then).
pub(crate) fn off_pool<'env, T>(env: &'env Env, name: &str, mut task: T) -> napi::Result<Object<'env>>
where
    T: Task + Send + 'static,
    T::Output: Send,
    T::JsValue: ToNapiValue,
{
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
