//! A writer thread fed from a lock-free ring: a real-time producer (the audio
//! thread of a recording) pushes interleaved frames into an
//! [`rtrb::RingBuffer`] without ever waiting; a thread named
//! `ferrite-writer` drains it into an [`AudioFileWriter`] (which writes
//! under a temporary name and renames when complete).
//!
//! The producer, the sink's thread and the owner share [`RingFlags`]: the
//! producer says when it has pushed its last frame, the owner asks to stop,
//! the thread says when it failed (so that the producer stops pushing). The
//! thread finishes the file once the producer is done and the ring is empty;
//! after a stop request it waits [`RingSink::STOP_GRACE`] for the producer
//! (a producer that no longer runs, such as a closed device, cannot answer)
//! and then finishes with what it has.

use crate::error::{MediaError, Result};
use crate::writer::AudioFileWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Flags shared by a ring's producer, its [`RingSink`] and their owner.
#[derive(Debug, Default)]
pub struct RingFlags {
    producer_done: AtomicBool,
    stop_requested: AtomicBool,
    failed: AtomicBool,
}

impl RingFlags {
    /// New flags, all clear.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// [producer] No more frames will be pushed (call after the last push).
    ///
    /// # Realtime
    /// An atomic store: does not allocate, lock or panic.
    pub fn set_producer_done(&self) {
        self.producer_done.store(true, Ordering::Release);
    }

    /// [any] Whether the producer is done.
    pub fn producer_done(&self) -> bool {
        self.producer_done.load(Ordering::Acquire)
    }

    /// [owner] Asks the producer to stop and the sink to finish.
    pub fn request_stop(&self) {
        self.stop_requested.store(true, Ordering::Release);
    }

    /// [any, realtime] Whether a stop was requested.
    pub fn stop_requested(&self) -> bool {
        self.stop_requested.load(Ordering::Acquire)
    }

    /// [any, realtime] Whether the sink failed (it no longer drains the ring).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
}

/// The owner's handle on a ring-fed writer thread; see the [module docs](self).
///
/// ```
/// use ferrite_media::{AudioFileWriter, BitDepth, RingFlags, RingSink};
/// let dir = std::env::temp_dir().join(format!("ferrite-ring-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("take.wav");
/// let (mut tx, rx) = rtrb::RingBuffer::<f32>::new(48000 * 2);
/// let flags = RingFlags::new();
/// let writer = AudioFileWriter::create(&path, 48000, 2, BitDepth::Float32).unwrap();
/// let mut sink = RingSink::spawn(writer, rx, flags.clone()).unwrap();
/// for i in 0..1000 {
///     tx.push(i as f32 / 1000.0).unwrap(); // left
///     tx.push(0.0).unwrap(); // right
/// }
/// flags.set_producer_done();
/// assert_eq!(sink.wait().unwrap(), 1000);
/// assert!(path.exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct RingSink {
    path: PathBuf,
    flags: Arc<RingFlags>,
    thread: Option<JoinHandle<Result<u64>>>,
    result: Option<Result<u64>>,
}

impl std::fmt::Debug for RingSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingSink").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Frames written per call to the writer.
const CHUNK_FRAMES: usize = 4096;

impl RingSink {
    /// How often the thread looks at an empty ring.
    pub const POLL: Duration = Duration::from_millis(5);
    /// How long the thread waits for the producer after a stop request.
    pub const STOP_GRACE: Duration = Duration::from_secs(2);

    /// Starts the `ferrite-writer` thread draining `ring` (interleaved
    /// frames of `writer.channels()` samples) into `writer`. Fails only if
    /// the thread cannot be started (the writer is dropped, removing its
    /// temporary file).
    pub fn spawn(writer: AudioFileWriter, ring: rtrb::Consumer<f32>, flags: Arc<RingFlags>) -> Result<Self> {
        let path = writer.path().to_path_buf();
        let t_flags = flags.clone();
        let thread = std::thread::Builder::new()
            .name("ferrite-writer".into())
            .spawn(move || run(writer, ring, &t_flags))
            .map_err(|e| MediaError::file(&path, format!("cannot start the writer thread: {e}")))?;
        Ok(Self { path, flags, thread: Some(thread), result: None })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shared flags.
    pub fn flags(&self) -> &Arc<RingFlags> {
        &self.flags
    }

    /// Whether the thread has ended (the file is complete, or it failed).
    pub fn is_done(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the thread (without asking it to stop) and returns the
    /// frames written, or its error (an I/O error naming the file, a
    /// panic); later calls return the same.
    pub fn wait(&mut self) -> Result<u64> {
        if let Some(t) = self.thread.take() {
            let path = self.path.clone();
            self.result = Some(t.join().unwrap_or_else(|payload| {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                Err(MediaError::file(&path, format!("the writer thread panicked: {what}")))
            }));
        }
        self.result.clone().unwrap_or_else(|| Err(MediaError::file(&self.path, "the writer is stopped")))
    }

    /// Asks the producer to stop, then [`wait`](Self::wait)s until every
    /// frame it pushed is on disk.
    pub fn stop(&mut self) -> Result<u64> {
        self.flags.request_stop();
        self.wait()
    }
}

impl Drop for RingSink {
    /// A sink dropped without `stop` stops and finishes its file.
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

/// The thread: drain the ring until the producer is done (or does not answer
/// a stop request), then finish the file. A write error removes the
/// temporary file and sets `failed`.
fn run(mut writer: AudioFileWriter, mut ring: rtrb::Consumer<f32>, flags: &RingFlags) -> Result<u64> {
    let channels = writer.channels().max(1);
    let mut planar: Vec<Vec<f32>> = vec![Vec::with_capacity(CHUNK_FRAMES); channels];
    let mut stop_seen: Option<Instant> = None;
    loop {
        // Read the flag before draining: everything pushed before it was set is then drained below.
        let done = flags.producer_done();
        loop {
            let frames = (ring.slots() / channels).min(CHUNK_FRAMES);
            if frames == 0 {
                break;
            }
            let Ok(chunk) = ring.read_chunk(frames * channels) else { break };
            let (a, b) = chunk.as_slices();
            for ch in planar.iter_mut() {
                ch.clear();
            }
            for (k, &x) in a.iter().chain(b).enumerate() {
                if let Some(ch) = planar.get_mut(k % channels) {
                    ch.push(x);
                }
            }
            chunk.commit_all();
            if let Err(e) = writer.write_frames(&planar, frames) {
                flags.failed.store(true, Ordering::Release);
                return Err(e);
            }
        }
        if done {
            break;
        }
        if flags.stop_requested() && stop_seen.get_or_insert_with(Instant::now).elapsed() > RingSink::STOP_GRACE {
            break;
        }
        std::thread::sleep(RingSink::POLL);
    }
    writer.finish().inspect_err(|_| flags.failed.store(true, Ordering::Release))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BitDepth;

    #[test]
    fn a_stop_without_an_answering_producer_finishes_after_the_grace() {
        let dir = std::env::temp_dir().join(format!("ferrite-ring-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("silent.flac");
        let (mut tx, rx) = rtrb::RingBuffer::<f32>::new(1000);
        for i in 0..100 {
            tx.push(i as f32 / 200.0).unwrap();
        }
        let mut sink =
            RingSink::spawn(AudioFileWriter::create(&p, 44100, 1, BitDepth::Int16).unwrap(), rx, RingFlags::new())
                .unwrap();
        assert_eq!(sink.stop().unwrap(), 100);
        assert!(p.exists());
        drop(tx);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
