//! A writer thread: a producer (an offline render) hands planar chunks to a
//! thread named `ferrite-writer` that writes them with an
//! [`AudioFileWriter`], and gets the emptied buffers back, so a steady
//! stream of chunks allocates nothing new.
//!
//! The chunk queue is bounded: [`FileSink::send`] blocks while it is full
//! (back-pressure; this is for renders that may run at any speed, not for
//! the audio thread). A failure on the thread (an I/O error, a panic) is
//! kept and returned by a later `send` or by [`FileSink::finish`], and the
//! temporary file is removed: the destination never holds a partial file.

use crate::error::{MediaError, Result};
use crate::writer::AudioFileWriter;
use crossbeam_channel::{Receiver, Sender};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

enum Msg {
    /// A chunk and the frames of it to write (a prefix of every channel).
    Chunk(Vec<Vec<f32>>, usize),
    /// Write what is queued, then finish the file.
    Finish,
    /// Makes the thread panic while it holds the writer.
    #[cfg(test)]
    Panic,
}

/// The producer's handle on a writer thread; see the [module docs](self).
///
/// ```
/// use ferrite_media::{AudioFileWriter, BitDepth, FileSink};
/// let dir = std::env::temp_dir().join(format!("ferrite-sink-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("render.wav");
/// let writer = AudioFileWriter::create(&path, 48000, 2, BitDepth::Int16).unwrap();
/// let mut sink = FileSink::spawn(writer, 4).unwrap();
/// for block in 0..10 {
///     let mut chunk = sink.buffer();
///     for ch in chunk.iter_mut() {
///         ch.clear();
///         ch.extend((0..512).map(|i| ((block * 512 + i) as f32 * 0.01).sin() * 0.5));
///     }
///     sink.send(chunk, 512).unwrap();
/// }
/// assert_eq!(sink.finish().unwrap(), 5120);
/// assert!(path.exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct FileSink {
    path: PathBuf,
    channels: usize,
    tx: Option<Sender<Msg>>,
    recycled: Receiver<Vec<Vec<f32>>>,
    /// Set by the thread when it stopped on an error (it no longer reads the queue).
    failed: Arc<AtomicBool>,
    /// Asks the thread to drop the writer at its next message instead of writing.
    abort: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<u64>>>,
    /// The thread's error, once collected; returned by every later call.
    error: Option<MediaError>,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink").field("path", &self.path).field("channels", &self.channels).finish_non_exhaustive()
    }
}

impl FileSink {
    /// Starts the `ferrite-writer` thread writing `writer`, with a queue of
    /// `queue_blocks` chunks (at least 1). Fails only if the thread cannot be
    /// started (the writer is then dropped, removing its temporary file).
    pub fn spawn(writer: AudioFileWriter, queue_blocks: usize) -> Result<Self> {
        let queue_blocks = queue_blocks.max(1);
        let path = writer.path().to_path_buf();
        let channels = writer.channels();
        let (tx, rx) = crossbeam_channel::bounded::<Msg>(queue_blocks);
        // Room for every buffer in flight (queued, being written, being filled), so the thread never blocks on it.
        let (back_tx, recycled) = crossbeam_channel::bounded(queue_blocks + 2);
        let failed = Arc::new(AtomicBool::new(false));
        let abort = Arc::new(AtomicBool::new(false));
        let (t_failed, t_abort) = (failed.clone(), abort.clone());
        let thread = std::thread::Builder::new()
            .name("ferrite-writer".into())
            .spawn(move || run(writer, rx, back_tx, t_failed, t_abort))
            .map_err(|e| MediaError::file(&path, format!("cannot start the writer thread: {e}")))?;
        Ok(Self { path, channels, tx: Some(tx), recycled, failed, abort, thread: Some(thread), error: None })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Channels per chunk.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// A buffer to fill: one returned by the thread (its channels keep
    /// their length and capacity) or, if none is waiting, a new one of
    /// `channels` empty vectors.
    pub fn buffer(&self) -> Vec<Vec<f32>> {
        self.recycled.try_recv().unwrap_or_else(|_| vec![Vec::new(); self.channels])
    }

    /// Queues the first `frames` frames of `chunk` (one vector per channel,
    /// each at least `frames` long) for writing; blocks while the queue is
    /// full. Errors: a malformed chunk (`RangeError`, nothing queued), or the
    /// thread's failure (an I/O error naming the file, a panic), after which
    /// the temporary file is gone and every call fails.
    pub fn send(&mut self, chunk: Vec<Vec<f32>>, frames: usize) -> Result<()> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if chunk.len() != self.channels {
            return Err(MediaError::range(format!(
                "{}: a chunk of {} channels for a {}-channel file",
                self.path.display(),
                chunk.len(),
                self.channels
            )));
        }
        if let Some((c, ch)) = chunk.iter().enumerate().find(|(_, ch)| ch.len() < frames) {
            return Err(MediaError::range(format!(
                "{}: channel {c} of a chunk has {} frames, fewer than the {frames} to write",
                self.path.display(),
                ch.len()
            )));
        }
        let sent = match &self.tx {
            Some(tx) if !self.failed.load(Ordering::Acquire) => tx.send(Msg::Chunk(chunk, frames)).is_ok(),
            _ => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.collect())
        }
    }

    /// Writes everything queued, then finishes the file (flush, sync,
    /// rename over the destination); returns the frames written. A failure
    /// on the thread, including a panic, is returned here.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(tx) = self.tx.take() {
            // If the thread stopped, the send fails and join gives its error.
            let _ = tx.send(Msg::Finish);
        }
        self.join()
    }

    /// Stops the thread without writing what is still queued and removes
    /// the temporary file; the destination is left as it was.
    pub fn abort(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.abort.store(true, Ordering::Release);
        self.tx = None;
        let _ = self.join();
    }

    /// Stops the thread (it has failed or is failing) and returns its error.
    fn collect(&mut self) -> MediaError {
        self.tx = None;
        let e = match self.join() {
            Err(e) => e,
            // The thread ended well without being asked to: cannot happen while `tx` was alive.
            Ok(_) => MediaError::file(&self.path, "the writer thread stopped"),
        };
        self.error = Some(e.clone());
        e
    }

    fn join(&mut self) -> Result<u64> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|payload| {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                Err(MediaError::file(&self.path, format!("the writer thread panicked: {what}")))
            }),
            None => Err(self.error.clone().unwrap_or_else(|| MediaError::file(&self.path, "the writer is stopped"))),
        }
    }
}

impl Drop for FileSink {
    /// A sink dropped without `finish` aborts: no file is left.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_now();
        }
    }
}

/// The thread: write chunks until `Finish` (then finish the file) or until
/// the producer is gone or aborts (then drop the writer: no file). A panic
/// unwinds through here dropping the writer, which removes its temporary file.
fn run(
    mut writer: AudioFileWriter,
    rx: Receiver<Msg>,
    back: Sender<Vec<Vec<f32>>>,
    failed: Arc<AtomicBool>,
    abort: Arc<AtomicBool>,
) -> Result<u64> {
    loop {
        let msg = match rx.recv() {
            Ok(m) => m,
            Err(_) => return Err(MediaError::file(writer.path(), "aborted")),
        };
        if abort.load(Ordering::Acquire) {
            return Err(MediaError::file(writer.path(), "aborted"));
        }
        match msg {
            Msg::Chunk(chunk, frames) => {
                if let Err(e) = writer.write_frames(&chunk, frames) {
                    drop(writer);
                    failed.store(true, Ordering::Release);
                    return Err(e);
                }
                let _ = back.try_send(chunk);
            }
            Msg::Finish => return writer.finish(),
            #[cfg(test)]
            Msg::Panic => panic!("test panic on the writer thread"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BitDepth;

    fn no_part_files(dir: &Path) -> bool {
        std::fs::read_dir(dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".part"))
    }

    #[test]
    fn a_panic_on_the_thread_is_an_error_from_finish_and_leaves_no_file() {
        let dir = std::env::temp_dir().join(format!("ferrite-sink-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("panic.flac");
        let mut sink = FileSink::spawn(AudioFileWriter::create(&p, 44100, 1, BitDepth::Int16).unwrap(), 2).unwrap();
        sink.send(vec![vec![0.1; 100]], 100).unwrap();
        sink.tx.as_ref().unwrap().send(Msg::Panic).unwrap();
        let e = sink.finish().unwrap_err();
        assert!(e.message.contains("panicked") && e.message.contains("panic.flac"), "{e}");
        assert!(!p.exists());
        assert!(no_part_files(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
