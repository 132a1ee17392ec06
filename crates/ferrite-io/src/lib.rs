//! ferrite-audio's audio backends: cpal devices, a clock-paced null backend,
//! and audio-thread setup (real-time priority, FTZ/DAZ).
//!
//! This crate knows nothing about the engine: it runs any [`AudioCallback`].
//!
//! * [`open_null`]: a thread paced by the clock, for headless servers and CI.
//! * [`open_device`]: a cpal output stream (plus an optional input stream).
//! * [`list_devices`]: what cpal can see.
//! * [`DenormalGuard`]: scoped FTZ/DAZ, also for the offline renderer.
//! * [`Stats`] / [`StatsSnapshot`]: lock-free telemetry of the callback.
//!
//! Threads: the null backend's audio thread is `ferrite-audio`; cpal names
//! its own (`cpal_alsa_out`, `cpal_alsa_in` on Linux). Device streams also
//! run `ferrite-io-watchdog`, which reports a device that stops calling
//! back. Every audio thread asks for SCHED_FIFO at its first callback (best
//! effort, see [`StatsSnapshot::realtime_priority`]) and runs each callback
//! under a [`DenormalGuard`]. Closing a [`Stream`] stops and joins them all.
//!
//! Testing without a sound card: [`open_null`] everywhere; ALSA's `null`
//! PCM (`alsa:null`, unpaced: smoke tests only); a paced device through
//! jackd's dummy driver with `scripts/jack-dummy.sh` (see `tests/jack_dummy.rs`).
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod callback;
mod config;
mod denormals;
mod device;
mod error;
mod input;
mod null;
mod priority;
mod runner;
mod stats;
mod stream;
mod watchdog;

pub use callback::AudioCallback;
pub use config::{StreamConfig, DEFAULT_BUFFER_SIZE, DEFAULT_CHANNELS, DEFAULT_SAMPLE_RATE};
pub use denormals::{control_register, flush_enabled, DenormalGuard};
pub use device::{list_devices, open_device, DeviceInfo, DEFAULT_DEVICE};
pub use error::{IoError, IoErrorKind};
pub use null::{open_null, NULL_THREAD_NAME};
pub use priority::promote_current_thread;
pub use stats::{Stats, StatsSnapshot};
pub use stream::Stream;
