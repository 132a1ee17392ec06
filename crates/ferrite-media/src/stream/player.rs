//! `filePlayer`: plays a file streamed by the reader thread (see the
//! [module](super) for what it plays and which jumps are instant).
//!
//! Parameters ([`FILE_PLAYER_PARAMS`]): `gain` (linear, `0..=16`, default 1).

use super::reader::{register, Work};
use super::{
    Header, Layout, Request, Shared, StreamStatus, CHUNK_FRAMES, DISK_UNDERRUNS, HEAD_SECONDS, LOW_WATER_SECONDS,
    READ_AHEAD_SECONDS,
};
use crate::decode::ResampledReader;
use crate::error::{MediaError, Result};
use ferrite_dsp::{Bus, ParamBlock, ParamSpec, PrepareContext, ProcessContext, Processor};
use rtrb::{Consumer, Producer, RingBuffer};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Parameter table of [`FilePlayer`]: `gain`, linear, `0..=16`, default 1.
pub const FILE_PLAYER_PARAMS: &[ParamSpec] = &[ParamSpec::new("gain", 0.0, 16.0)];

/// Most chunk headers one ring keeps (a looped file of a few frames fills
/// its ring up to this many chunks).
const MAX_HEADERS: usize = 1 << 16;

/// Position requests a player may have queued for the reader.
const REQUEST_QUEUE: usize = 16;

/// In blocking mode, how long a player waits for data without the reader
/// making progress before it gives up with an error.
const BLOCKING_TIMEOUT: Duration = Duration::from_secs(30);

/// How a file player is placed on the transport (the API's `filePlayer` options but `gain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlayerOptions {
    /// The file.
    pub path: PathBuf,
    /// Transport frame where the first played frame sounds.
    pub start_frame: u64,
    /// Where in the file playing begins, in frames at the render rate.
    pub offset_frames: u64,
    /// The whole file repeats (the first pass starting at `offset_frames`).
    pub looped: bool,
}

/// The player's side of its stream: everything [`Processor::take_state`] swaps.
struct Stream {
    shared: Arc<Shared>,
    samples: Consumer<f32>,
    headers: Consumer<Header>,
    requests: Producer<Request>,
    reader: Thread,
    /// Epoch of the last request; chunks of other epochs are stale.
    epoch: u32,
    /// Play index the ring delivers next.
    cursor: u64,
    /// Frames left of the chunk being read (it starts at `cursor`).
    chunk_left: u64,
    /// A request that did not fit the queue, to retry.
    pending: Option<Request>,
    /// Transport frame after the last block (`None`: the next block is a jump).
    expected: Option<u64>,
}

/// What the ring holds for the cursor.
enum Fetch {
    Ready,
    Empty,
    /// The next data starts this many frames after the cursor.
    Gap(u64),
}

/// Plays a file streamed from disk.
///
/// Created and dropped on the control side (dropping it frees its rings;
/// the reader then drops its side of the stream). Its `process`, `reset`
/// and `take_state` run on the audio thread.
///
/// ```no_run
/// use ferrite_media::stream::{FilePlayer, FilePlayerOptions};
/// let o = FilePlayerOptions { path: "take.flac".into(), start_frame: 0, offset_frames: 0, looped: false };
/// let p = FilePlayer::open(&o, 48000, 2, 128).unwrap();
/// ```
pub struct FilePlayer {
    options: FilePlayerOptions,
    rate: u32,
    layout: Layout,
    stream: Stream,
    blocking: bool,
    ring_frames: usize,
}

impl std::fmt::Debug for FilePlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilePlayer").field("options", &self.options).field("rate", &self.rate).finish()
    }
}

impl FilePlayer {
    /// Opens and probes the file (a file that cannot be read is refused
    /// here, the error naming it), registers the stream with the reader
    /// thread and starts its prefill. `channels` and `max_block` are the
    /// render's (the bus is set up again in `prepare`). Control side.
    pub fn open(o: &FilePlayerOptions, sample_rate: u32, channels: usize, max_block: usize) -> Result<FilePlayer> {
        let _ = (channels, max_block);
        if sample_rate == 0 {
            return Err(MediaError::range(format!(
                "filePlayer: sampleRate = 0 must be positive ({})",
                o.path.display()
            )));
        }
        let src = ResampledReader::open(&o.path, Some(sample_rate))?;
        let ch = src.channels().max(1);
        let len = src.frames();
        let head_max = (HEAD_SECONDS * f64::from(sample_rate)).ceil() as u64;
        let head_len = if len == 0 { 0 } else { head_max.min(len.saturating_sub(o.offset_frames)) };
        let layout = Layout { channels: ch, len, looped: o.looped, offset: o.offset_frames, head_len };
        let ring_frames = ((READ_AHEAD_SECONDS * f64::from(sample_rate)).ceil() as usize).max(CHUNK_FRAMES);
        let low_water = ((LOW_WATER_SECONDS * f64::from(sample_rate)).ceil() as usize).min(ring_frames);
        let (sp, sc) = RingBuffer::<f32>::new(ring_frames * ch);
        // Chunks are at most CHUNK_FRAMES long and end at segment anchors and
        // at the file's end (a short looped file makes short chunks): room for
        // a full ring of them, within a bound.
        let shortest = (len.max(1) as usize).min(CHUNK_FRAMES);
        let (hp, hc) = RingBuffer::<Header>::new((ring_frames / shortest * 2 + 16).min(MAX_HEADERS));
        let (rp, rc) = RingBuffer::<Request>::new(REQUEST_QUEUE);
        let shared = Arc::new(Shared::new(o.path.clone()));
        let head_end = layout.head_end();
        let work = Work {
            shared: shared.clone(),
            src,
            layout,
            samples: sp,
            headers: hp,
            requests: rc,
            ring_frames,
            low_water,
            path: o.path.clone(),
            rate: sample_rate,
            epoch: 0,
            q: head_end,
            at: None,
            head_done: false,
            filling: false,
            stopped: false,
            scratch: vec![vec![0.0; CHUNK_FRAMES]; ch],
        };
        let reader =
            register(work).map_err(|e| MediaError::file(&o.path, format!("cannot start the reader thread ({e})")))?;
        let stream = Stream {
            shared,
            samples: sc,
            headers: hc,
            requests: rp,
            reader,
            epoch: 0,
            cursor: head_end,
            chunk_left: 0,
            pending: None,
            expected: None,
        };
        Ok(FilePlayer { options: o.clone(), rate: sample_rate, layout, stream, blocking: false, ring_frames })
    }

    /// The stream's status (error, prefill, underruns), shared with the engine.
    pub fn status(&self) -> StreamStatus {
        StreamStatus(self.stream.shared.clone())
    }

    /// The options the player was opened with.
    pub fn options(&self) -> &FilePlayerOptions {
        &self.options
    }

    /// The render rate the file is read at.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// The file's length at the render rate.
    pub fn file_frames(&self) -> u64 {
        self.layout.len
    }

    /// The file's channels.
    pub fn file_channels(&self) -> usize {
        self.layout.channels
    }

    /// Frames of the head (from `offset_frames`).
    pub fn head_frames(&self) -> u64 {
        self.layout.head_len
    }

    /// The ring's capacity in frames: fixed at open, whatever the file's length.
    pub fn ring_capacity_frames(&self) -> usize {
        self.stream.samples.buffer().capacity() / self.layout.channels.max(1)
    }

    /// The read-ahead capacity asked for at open (equal to [`ring_capacity_frames`](Self::ring_capacity_frames)).
    pub fn read_ahead_frames(&self) -> usize {
        self.ring_frames
    }

    /// Frames in the ring now (including stale ones not yet discarded).
    pub fn buffered_frames(&self) -> usize {
        self.stream.samples.slots() / self.layout.channels.max(1)
    }

    /// Frames ready to play from the ring's cursor (the next frame it
    /// delivers): stale chunks are dropped first. Not counting the head.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn buffered_ahead(&mut self) -> u64 {
        let ch = self.layout.channels;
        let _ = self.stream.fetch(ch);
        let epoch = self.stream.epoch;
        let n = self.stream.headers.slots();
        let queued = match self.stream.headers.read_chunk(n) {
            Ok(c) => {
                let (a, b) = c.as_slices();
                a.iter().chain(b.iter()).filter(|h| h.epoch == epoch).map(|h| h.frames).sum()
            }
            Err(_) => 0,
        };
        self.stream.chunk_left + queued
    }

    /// Whether the prefill is done (see [`StreamStatus::ready`]).
    pub fn ready(&self) -> bool {
        self.stream.shared.ready.load(Ordering::Acquire)
    }

    /// Whether `other` streams the same file with the same options at the same rate.
    fn same_stream(&self, other: &FilePlayer) -> bool {
        self.options == other.options && self.rate == other.rate && self.layout == other.layout
    }
}

impl Stream {
    /// Drops `frames` frames of samples.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn discard(&mut self, frames: u64, ch: usize) {
        let n = usize::try_from(frames).unwrap_or(usize::MAX).saturating_mul(ch).min(self.samples.slots());
        if let Ok(c) = self.samples.read_chunk(n) {
            c.commit_all();
        }
    }

    /// Makes `chunk_left > 0` for the cursor if the ring holds it, dropping stale chunks.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn fetch(&mut self, ch: usize) -> Fetch {
        if self.chunk_left > 0 {
            return Fetch::Ready;
        }
        loop {
            let h = match self.headers.peek() {
                Ok(h) => *h,
                Err(_) => return Fetch::Empty,
            };
            let end = h.q.saturating_add(h.frames);
            if h.epoch != self.epoch || end <= self.cursor {
                let _ = self.headers.pop();
                self.discard(h.frames, ch);
                continue;
            }
            if h.q > self.cursor {
                return Fetch::Gap(h.q - self.cursor);
            }
            let _ = self.headers.pop();
            let skip = self.cursor - h.q;
            self.discard(skip, ch);
            self.chunk_left = h.frames - skip;
            return Fetch::Ready;
        }
    }

    /// Moves the cursor forwards to `q`, skipping ring data.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn skip_to(&mut self, q: u64, ch: usize) {
        let d = q.saturating_sub(self.cursor);
        if d < self.chunk_left {
            self.discard(d, ch);
            self.chunk_left -= d;
        } else {
            self.discard(self.chunk_left, ch);
            self.chunk_left = 0;
        }
        self.cursor = q;
    }

    /// Whether the ring holds play index `q` (ahead of the cursor) in the current epoch.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn holds(&mut self, q: u64) -> bool {
        if q < self.cursor {
            return false;
        }
        if q < self.cursor.saturating_add(self.chunk_left) {
            return true;
        }
        let n = self.headers.slots();
        let Ok(c) = self.headers.read_chunk(n) else { return false };
        let (a, b) = c.as_slices();
        // Chunks of one epoch are contiguous: the last one of this epoch bounds the read-ahead.
        let end = a
            .iter()
            .chain(b.iter())
            .filter(|h| h.epoch == self.epoch)
            .map(|h| h.q.saturating_add(h.frames))
            .next_back();
        // Dropping the chunk without committing leaves the headers in place.
        end.is_some_and(|e| q < e)
    }

    /// Asks the reader to continue from play index `q`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic; a full queue is counted and retried later.
    fn request(&mut self, q: u64, ch: usize) {
        self.epoch = self.epoch.wrapping_add(1);
        self.discard(self.chunk_left, ch);
        self.chunk_left = 0;
        self.cursor = q;
        let r = Request { epoch: self.epoch, q };
        self.pending = None;
        if self.requests.push(r).is_err() {
            self.shared.request_drops.fetch_add(1, Ordering::Relaxed);
            self.pending = Some(r);
        }
        // Stale chunks free their space at once, so the reader can refill.
        let _ = self.fetch(ch);
    }
}

/// Writes silence to frames `i .. i + n` of every channel.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn silence(io: &mut Bus<'_>, i: usize, n: usize) {
    for out in io.channels_mut() {
        if let Some(s) = out.get_mut(i..i.saturating_add(n).min(out.len())) {
            s.fill(0.0);
        }
    }
}

/// Writes interleaved `src` (file channels `ch`) times the gain to frames `i .. i + n`.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn write_frames(io: &mut Bus<'_>, i: usize, n: usize, a: &[f32], b: &[f32], ch: usize, gain: &ParamBlock<'_>) {
    for (c, out) in io.channels_mut().enumerate() {
        let fc = c.checked_rem(ch).unwrap_or(0);
        for j in 0..n {
            let idx = j * ch + fc;
            let s = match a.get(idx) {
                Some(&s) => s,
                None => idx.checked_sub(a.len()).and_then(|k| b.get(k)).copied().unwrap_or(0.0),
            };
            if let Some(y) = out.get_mut(i + j) {
                *y = f64::from(s) * gain.at(i + j);
            }
        }
    }
}

impl FilePlayer {
    /// Counts `n` frames played as silence for lack of data.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn underrun(&self, n: usize) {
        let n = n as u64;
        DISK_UNDERRUNS.fetch_add(n, Ordering::Relaxed);
        self.stream.shared.underruns.fetch_add(n, Ordering::Relaxed);
    }

    /// A block that does not follow the previous one: points the ring at
    /// the first play index the block (or, before the start, the player)
    /// reads from the ring.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn jump(&mut self, p: u64) {
        let l = self.layout;
        let q = match p.checked_sub(self.options.start_frame) {
            Some(k) => l.offset.saturating_add(k),
            None => l.offset,
        };
        let target = if q >= l.offset && q < l.head_end() { l.head_end() } else { q };
        if l.file_frame(target).is_none() || target == self.stream.cursor {
            return;
        }
        let ch = l.channels;
        if self.stream.holds(target) {
            self.stream.skip_to(target, ch);
        } else {
            self.stream.request(target, ch);
        }
    }

    /// Blocking mode: waits until `ready()` holds or the stream cannot deliver;
    /// `false` when it gave up (the stream is then failed).
    fn wait(&mut self, mut ready: impl FnMut(&mut Self) -> bool) -> bool {
        let mut since = Instant::now();
        let mut last_slots = self.stream.samples.slots();
        let mut spins = 0u32;
        loop {
            if ready(self) {
                return true;
            }
            if self.stream.shared.is_failed() {
                return false;
            }
            if self.stream.samples.is_abandoned() && self.stream.samples.slots() == 0 {
                self.stream.shared.fail(format!(
                    "{}: the reader thread stopped before delivering the file",
                    self.options.path.display()
                ));
                return false;
            }
            if let Some(r) = self.stream.pending {
                if self.stream.requests.push(r).is_ok() {
                    self.stream.pending = None;
                }
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
                continue;
            }
            self.stream.reader.unpark();
            std::thread::sleep(Duration::from_micros(100));
            let slots = self.stream.samples.slots();
            if slots != last_slots || self.stream.shared.head.get().is_some() {
                last_slots = slots;
                if slots != 0 {
                    since = Instant::now();
                }
            }
            if since.elapsed() > BLOCKING_TIMEOUT {
                self.stream.shared.fail(format!(
                    "{}: no data from the reader thread for {} s",
                    self.options.path.display(),
                    BLOCKING_TIMEOUT.as_secs()
                ));
                return false;
            }
        }
    }
}

impl Processor for FilePlayer {
    fn prepare(&mut self, _ctx: &PrepareContext) {}

    /// # Realtime
    /// Does not allocate, lock, make a syscall or panic (in blocking mode,
    /// which only an offline render sets, it waits for the reader).
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let frames = ctx.frames.min(io.frames());
        let p0 = ctx.position;
        let l = self.layout;
        let ch = l.channels;
        if let Some(r) = self.stream.pending {
            if self.stream.requests.push(r).is_ok() {
                self.stream.pending = None;
            }
        }
        if self.stream.expected != Some(p0) {
            self.jump(p0);
        }
        self.stream.expected = p0.checked_add(frames as u64);
        let gain = ctx.param(0);
        let mut i = 0usize;
        while i < frames {
            let left = frames - i;
            let p = p0.saturating_add(i as u64);
            if self.stream.shared.is_failed() {
                silence(io, i, left);
                break;
            }
            let Some(k) = p.checked_sub(self.options.start_frame) else {
                let n = (self.options.start_frame - p).min(left as u64) as usize;
                silence(io, i, n);
                i += n;
                continue;
            };
            let q = l.offset.saturating_add(k);
            if l.file_frame(q).is_none() {
                silence(io, i, left);
                break;
            }
            // Frames to the file's end (a run never crosses it unless looped).
            let to_end = if l.looped { left as u64 } else { l.len - q };
            let run = (left as u64).min(to_end) as usize;
            if q < l.head_end() {
                let n = run.min((l.head_end() - q) as usize);
                if self.stream.shared.head.get().is_none() && self.blocking {
                    self.wait(|s| s.stream.shared.head.get().is_some());
                }
                match self.stream.shared.head.get() {
                    Some(h) => {
                        let at = ((q - l.offset) as usize).saturating_mul(ch);
                        let src = h.get(at..).unwrap_or(&[]);
                        write_frames(io, i, n, src, &[], ch, &gain);
                    }
                    None => {
                        silence(io, i, n);
                        if !self.blocking {
                            self.underrun(n);
                        }
                    }
                }
                i += n;
                continue;
            }
            if q != self.stream.cursor {
                if q > self.stream.cursor && self.stream.holds(q) {
                    self.stream.skip_to(q, ch);
                } else {
                    self.stream.request(q, ch);
                }
            }
            let mut got = self.stream.fetch(ch);
            if matches!(got, Fetch::Empty) && self.blocking {
                let ok = self.wait(|s| !matches!(s.stream.fetch(ch), Fetch::Empty));
                got = if ok { self.stream.fetch(ch) } else { Fetch::Empty };
            }
            match got {
                Fetch::Ready => {
                    let n = (run as u64).min(self.stream.chunk_left) as usize;
                    let Ok(c) = self.stream.samples.read_chunk(n * ch) else {
                        // Samples always precede their header; keep going as an underrun.
                        silence(io, i, n);
                        self.stream.skip_to(q.saturating_add(n as u64), ch);
                        i += n.max(1);
                        continue;
                    };
                    let (a, b) = c.as_slices();
                    write_frames(io, i, n, a, b, ch, &gain);
                    c.commit_all();
                    self.stream.chunk_left -= n as u64;
                    self.stream.cursor = q.saturating_add(n as u64);
                    i += n;
                }
                Fetch::Empty | Fetch::Gap(_) => {
                    let n = match got {
                        Fetch::Gap(g) => (run as u64).min(g) as usize,
                        _ => run,
                    }
                    .max(1);
                    silence(io, i, n);
                    if !self.stream.shared.is_failed() {
                        self.underrun(n);
                    }
                    self.stream.skip_to(q.saturating_add(n as u64), ch);
                    i += n;
                }
            }
        }
    }

    /// Forgets the transport position, so that the next block is taken as a jump.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn reset(&mut self) {
        self.stream.expected = None;
    }

    /// When `previous` is a [`FilePlayer`] of the same file, options and
    /// rate, swaps the two streams: this player continues the running one,
    /// and `previous` takes this one's fresh stream (dropped with it later,
    /// on the control side).
    ///
    /// # Realtime
    /// Called on the audio thread: only swaps, never allocates or frees.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let Some(prev) = previous.as_any_mut().downcast_mut::<FilePlayer>() else { return false };
        if !self.same_stream(prev) {
            return false;
        }
        std::mem::swap(&mut self.stream, &mut prev.stream);
        true
    }

    fn set_blocking(&mut self, blocking: bool) {
        self.blocking = blocking;
    }

    /// # Realtime
    /// Does not allocate, lock or panic.
    fn overwrites_output(&self) -> bool {
        true
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}
