//! The reader thread: one per process, named `ferrite-reader`, started by
//! the first player and restarted by the next one if it ever stopped. It
//! serves every stream in turn: a stream's position requests first, then
//! its head, then its ring, refilled to full once under the low-water mark.
//! A stream is dropped once its player (the ring's consumer) is gone.

use super::{anchor_frame, next_anchor, push_error, Header, Layout, Request, Shared, CHUNK_FRAMES, READER_POLL};
use crate::decode::ResampledReader;
use crate::error::{MediaError, Result};
use crossbeam_channel::{Receiver, Sender};
use rtrb::{Consumer, Producer};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::Thread;

/// Frames a decoder may end short of the length its headers gave (a lossy
/// file's estimate) before the shortfall counts as a damaged file.
const EARLY_END_SLACK: u64 = 4096;

/// Chunks one stream may write per turn before the reader moves on.
const CHUNKS_PER_TURN: usize = 8;

/// The reader's side of one stream.
pub(crate) struct Work {
    pub shared: Arc<Shared>,
    pub src: ResampledReader,
    pub layout: Layout,
    pub samples: Producer<f32>,
    pub headers: Producer<Header>,
    pub requests: Consumer<Request>,
    /// The ring's capacity and low-water mark, in frames.
    pub ring_frames: usize,
    pub low_water: usize,
    pub path: PathBuf,
    pub rate: u32,
    /// Epoch of the chunks written now.
    pub epoch: u32,
    /// Play index of the next frame written.
    pub q: u64,
    /// The file frame `src` delivers next inside the current segment (`None`: seek first).
    pub at: Option<u64>,
    pub head_done: bool,
    pub filling: bool,
    pub stopped: bool,
    pub scratch: Vec<Vec<f32>>,
}

impl Work {
    /// One turn: returns whether anything was done.
    fn service(&mut self) -> Result<bool> {
        let mut worked = false;
        let mut last = None;
        while let Ok(r) = self.requests.pop() {
            last = Some(r);
        }
        if let Some(r) = last {
            self.epoch = r.epoch;
            self.q = r.q;
            self.at = None;
            self.filling = true;
            worked = true;
        }
        if !self.head_done {
            self.read_head()?;
            self.head_done = true;
            worked = true;
        }
        let ch = self.layout.channels;
        let free = self.samples.slots() / ch;
        let fill = self.ring_frames.saturating_sub(free);
        if fill < self.low_water {
            self.filling = true;
        }
        let mut turns = 0;
        while self.filling && turns < CHUNKS_PER_TURN {
            let free = self.samples.slots() / ch;
            if free == 0 || self.headers.slots() == 0 {
                self.filling = false;
                break;
            }
            let Some(f) = self.layout.file_frame(self.q) else {
                self.filling = false;
                break;
            };
            let seg_end = next_anchor(f, self.layout.head_end()).min(self.layout.len);
            let n = (free.min(CHUNK_FRAMES) as u64).min(seg_end.saturating_sub(f)) as usize;
            if n == 0 {
                self.filling = false;
                break;
            }
            if self.at != Some(f) {
                self.seek_to(f)?;
            }
            self.read_frames(f, n)?;
            self.at = if f + n as u64 >= seg_end { None } else { Some(f + n as u64) };
            let Ok(mut chunk) = self.samples.write_chunk(n * ch) else { break };
            let (a, b) = chunk.as_mut_slices();
            for (j, s) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                *s = self.scratch.get(j % ch).and_then(|c| c.get(j / ch)).copied().unwrap_or(0.0);
            }
            chunk.commit_all();
            let _ = self.headers.push(Header { epoch: self.epoch, q: self.q, frames: n as u64 });
            self.q += n as u64;
            turns += 1;
            worked = true;
        }
        if !self.shared.ready.load(Ordering::Relaxed) && !self.filling {
            self.shared.ready.store(true, Ordering::Release);
        }
        Ok(worked)
    }

    /// Decodes the head from `offset` and publishes it.
    fn read_head(&mut self) -> Result<()> {
        let l = self.layout;
        let ch = l.channels;
        let mut head = vec![0.0f32; l.head_len as usize * ch];
        if l.head_len > 0 {
            if l.offset > 0 {
                self.src.seek(l.offset)?;
            }
            let mut done = 0usize;
            while done < l.head_len as usize {
                let n = (l.head_len as usize - done).min(CHUNK_FRAMES);
                self.read_frames(l.offset + done as u64, n)?;
                for j in 0..n {
                    for c in 0..ch {
                        if let Some(s) = head.get_mut((done + j) * ch + c) {
                            *s = self.scratch.get(c).and_then(|v| v.get(j)).copied().unwrap_or(0.0);
                        }
                    }
                }
                done += n;
            }
        }
        self.at = None;
        let _ = self.shared.head.set(head.into_boxed_slice());
        Ok(())
    }

    /// Positions `src` on file frame `f`: decoded from its segment's anchor.
    fn seek_to(&mut self, f: u64) -> Result<()> {
        let a = anchor_frame(f, self.layout.head_end());
        if a == 0 {
            // A fresh reader, as decode_file reads from the start.
            self.src = ResampledReader::open(&self.path, Some(self.rate))?;
        } else {
            self.src.seek(a)?;
        }
        let mut at = a;
        while at < f {
            let n = (f - at).min(CHUNK_FRAMES as u64) as usize;
            self.read_frames(at, n)?;
            at += n as u64;
        }
        self.at = Some(f);
        Ok(())
    }

    /// Reads `n <= CHUNK_FRAMES` frames from file frame `f` into `scratch`,
    /// zeros past the file's end. A file that ends well before its length
    /// (truncated while streaming) is an error.
    fn read_frames(&mut self, f: u64, n: usize) -> Result<()> {
        let mut done = 0;
        while done < n {
            let mut views: Vec<&mut [f32]> = self.scratch.iter_mut().map(|c| &mut c[done..n]).collect();
            let got = self.src.read(&mut views)?;
            if got == 0 {
                let at = f + done as u64;
                if at.saturating_add(EARLY_END_SLACK) < self.layout.len {
                    return Err(MediaError::file(
                        &self.path,
                        format!(
                            "the file ended at frame {at} of {} (truncated or changed while streaming)",
                            self.layout.len
                        ),
                    ));
                }
                for c in &mut self.scratch {
                    c[done..n].fill(0.0);
                }
                break;
            }
            done += got;
        }
        Ok(())
    }
}

struct Handle {
    tx: Sender<Work>,
    thread: Thread,
}

static READER: Mutex<Option<Handle>> = Mutex::new(None);

/// Hands `work` to the reader thread (started if needed); returns the
/// reader's thread handle, for blocking players to wake it. Control side.
pub(crate) fn register(work: Work) -> std::io::Result<Thread> {
    let mut g = READER.lock().unwrap_or_else(|e| e.into_inner());
    let mut work = work;
    if let Some(h) = g.as_ref() {
        match h.tx.send(work) {
            Ok(()) => return Ok(h.thread.clone()),
            Err(e) => work = e.0,
        }
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    let join = std::thread::Builder::new().name("ferrite-reader".into()).spawn(move || run(rx))?;
    let thread = join.thread().clone();
    // A fresh channel's receiver is alive until the thread ends.
    let _ = tx.send(work);
    *g = Some(Handle { tx, thread: thread.clone() });
    Ok(thread)
}

/// Reports the reader stopping if it ever unwinds.
struct DeathReport;

impl Drop for DeathReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            push_error("ferrite-reader: the reader thread stopped; file players play silence".into());
        }
    }
}

fn run(rx: Receiver<Work>) {
    let _report = DeathReport;
    let mut streams: Vec<Work> = Vec::new();
    loop {
        loop {
            match rx.try_recv() {
                Ok(w) => streams.push(w),
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    if streams.is_empty() {
                        return;
                    }
                    break;
                }
            }
        }
        streams.retain(|s| !s.samples.is_abandoned());
        let mut worked = false;
        for s in &mut streams {
            if s.stopped {
                continue;
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.service()));
            match r {
                Ok(Ok(w)) => worked |= w,
                Ok(Err(e)) => {
                    s.stopped = true;
                    s.shared.fail(format!("{} (while streaming)", e.message));
                }
                Err(_) => {
                    s.stopped = true;
                    s.shared.fail(format!("{}: the decoder failed (while streaming)", s.path.display()));
                }
            }
        }
        if !worked {
            std::thread::park_timeout(READER_POLL);
        }
    }
}
