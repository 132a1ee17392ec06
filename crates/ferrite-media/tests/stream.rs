//! The file player against `decode_file` at the render rate: blocking
//! (offline) renders bit for bit for any block size, placement, loop and
//! gain; jumps; the real-time path without allocating; constant memory for
//! a long file; a file that breaks mid-stream; the reader thread's name.

mod common;
use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count, AllocDisabler};
use common::{dir, ffmpeg, fixture};
use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
use ferrite_media::stream::{anchor_frame, READ_AHEAD_SECONDS, SEEK_ANCHOR_FRAMES};
use ferrite_media::{decode_file, disk_underruns, take_stream_errors, DecodeOptions, FilePlayer, FilePlayerOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

const RATE: u32 = 48000;

fn flac44() -> PathBuf {
    fixture("s44.flac", &["-c:a", "flac"])
}

fn mp3() -> PathBuf {
    fixture("lame.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"])
}

fn mono_flac() -> PathBuf {
    fixture("mono44.flac", &["-ac", "1", "-c:a", "flac"])
}

/// Ten minutes of a 44.1 kHz FLAC (a few MB), made once.
fn long_flac() -> PathBuf {
    static LONG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LONG.get_or_init(|| {
        let p = dir().join("long.flac");
        let t = p.to_str().unwrap().to_string();
        ffmpeg(&["-f", "lavfi", "-i", "sine=f=441:r=44100:d=600", "-c:a", "flac", &t]);
        p
    })
    .clone()
}

fn opts(path: &Path, start: u64, offset: u64, looped: bool) -> FilePlayerOptions {
    FilePlayerOptions { path: path.to_path_buf(), start_frame: start, offset_frames: offset, looped }
}

/// What the player must play, from the module's documented semantics and
/// `decode_file` (the head from `offset`, every other frame from its anchor).
struct Reference {
    path: PathBuf,
    o: FilePlayerOptions,
    len: u64,
    head_len: u64,
    head: Vec<Vec<f32>>,
    segments: HashMap<u64, Vec<Vec<f32>>>,
}

impl Reference {
    fn new(p: &FilePlayer) -> Self {
        let o = p.options().clone();
        let head_len = p.head_frames();
        let head = decode(&o.path, o.offset_frames, head_len);
        Self { path: o.path.clone(), len: p.file_frames(), head_len, head, segments: HashMap::new(), o }
    }

    fn at(&mut self, p: u64, c: usize) -> f64 {
        if p < self.o.start_frame || self.len == 0 {
            return 0.0;
        }
        let q = self.o.offset_frames + (p - self.o.start_frame);
        let f = if q < self.len {
            q
        } else if self.o.looped {
            q % self.len
        } else {
            return 0.0;
        };
        let head_end = self.o.offset_frames + self.head_len;
        if q >= self.o.offset_frames && q < head_end {
            let ch = &self.head[c % self.head.len()];
            return ch.get((q - self.o.offset_frames) as usize).map_or(0.0, |&s| f64::from(s));
        }
        let a = anchor_frame(f, head_end);
        let path = self.path.clone();
        let seg = self.segments.entry(a).or_insert_with(|| decode(&path, a, SEEK_ANCHOR_FRAMES));
        let ch = &seg[c % seg.len()];
        ch.get((f - a) as usize).map_or(0.0, |&s| f64::from(s))
    }
}

fn decode(path: &Path, start: u64, frames: u64) -> Vec<Vec<f32>> {
    let o = DecodeOptions { sample_rate: Some(RATE), start_frame: start, frames: Some(frames), ..Default::default() };
    decode_file(path, o).unwrap().channels
}

/// Renders `frames` frames from transport frame `start` in blocks of
/// `block`; `gain(p)` gives the gain at frame `p` (`None`: constant 1).
fn render(
    p: &mut FilePlayer,
    channels: usize,
    start: u64,
    frames: usize,
    block: usize,
    gain: Option<&dyn Fn(u64) -> f64>,
) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0.0; frames]; channels];
    let mut data = vec![0.0; channels * block];
    let mut pb = vec![ParamBuffer::new(1.0, block)];
    render_into(p, channels, start, block, gain, &mut out, &mut data, &mut pb);
    out
}

/// As [`render`], into preallocated storage (no allocation).
#[allow(clippy::too_many_arguments)]
fn render_into(
    p: &mut FilePlayer,
    channels: usize,
    start: u64,
    block: usize,
    gain: Option<&dyn Fn(u64) -> f64>,
    out: &mut [Vec<f64>],
    data: &mut [f64],
    pb: &mut [ParamBuffer],
) {
    let frames = out[0].len();
    let mut done = 0;
    while done < frames {
        let n = block.min(frames - done);
        let pos = start + done as u64;
        data.fill(123.0);
        match gain {
            Some(g) => {
                for (i, v) in pb[0].varying_mut(n).iter_mut().enumerate() {
                    *v = g(pos + i as u64);
                }
            }
            None => pb[0].set_constant(1.0),
        }
        let ctx = ProcessContext { frames: n, position: pos, params: pb };
        let mut bus = Bus::new(data, channels, block, n);
        p.process(&ctx, &mut bus);
        for (c, o) in out.iter_mut().enumerate() {
            o[done..done + n].copy_from_slice(bus.channel(c));
        }
        done += n;
    }
}

fn check(r: &mut Reference, out: &[Vec<f64>], start: u64, gain: Option<&dyn Fn(u64) -> f64>, what: &str) {
    for (c, o) in out.iter().enumerate() {
        for (i, &y) in o.iter().enumerate() {
            let p = start + i as u64;
            let g = gain.map_or(1.0, |g| g(p));
            let want = r.at(p, c) * g;
            assert!(y == want, "{what}: channel {c} frame {p}: got {y}, want {want}");
        }
    }
}

fn open(o: &FilePlayerOptions, channels: usize, block: usize, blocking: bool) -> FilePlayer {
    let mut p = FilePlayer::open(o, RATE, channels, block).unwrap();
    p.prepare(&PrepareContext { sample_rate: f64::from(RATE), max_block: block, channels });
    p.set_blocking(blocking);
    p
}

fn wait_ready(p: &mut FilePlayer, ahead: u64) {
    let t = Instant::now();
    while !(p.ready() && p.buffered_ahead() >= ahead) {
        assert!(t.elapsed() < Duration::from_secs(20), "the prefill did not complete");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn blocking_render_equals_the_decode_for_any_block_size_placement_and_loop() {
    for path in [flac44(), mp3()] {
        for (start, offset, looped) in [(0, 0, false), (5000, 0, false), (300, 20_000, false), (1000, 30_000, true)] {
            for block in [128usize, 37, 1] {
                let o = opts(&path, start, offset, looped);
                let mut p = open(&o, 2, block, true);
                let mut r = Reference::new(&p);
                let len = p.file_frames();
                // Past the end: silence, or (looped) more than one wrap.
                let frames = if block == 1 { 60_000 } else { (start + len - offset + 2 * len / 3) as usize };
                let first = if block == 1 { start + len - offset - 30_000 } else { 0 };
                let out = render(&mut p, 2, first, frames, block, None);
                let what = format!("{} start {start} offset {offset} loop {looped} block {block}", path.display());
                check(&mut r, &out, first, None, &what);
                assert!(out[0].iter().any(|&y| y != 0.0), "{what}: silent");
                assert!(p.status().error().is_none(), "{what}: {:?}", p.status().error());
                assert_eq!(p.status().underruns(), 0, "{what}");
            }
        }
    }
}

#[test]
fn a_mono_file_feeds_every_channel_and_a_gain_ramp_multiplies_each_frame() {
    let o = opts(&mono_flac(), 700, 0, false);
    let mut p = open(&o, 2, 128, true);
    assert_eq!(p.file_channels(), 1);
    let mut r = Reference::new(&p);
    let g = |f: u64| 0.25 + (f % 1000) as f64 / 500.0;
    let frames = (p.file_frames() + 2000) as usize;
    let out = render(&mut p, 2, 0, frames, 128, Some(&g));
    assert_eq!(out[0], out[1]);
    check(&mut r, &out, 0, Some(&g), "mono with a ramp");
    assert!(out[0].iter().any(|&y| y != 0.0));
}

#[test]
fn blocking_jumps_backwards_and_forwards_stay_exact() {
    for looped in [false, true] {
        let o = opts(&flac44(), 2000, 1000, looped);
        let mut p = open(&o, 2, 128, true);
        let mut r = Reference::new(&p);
        let len = p.file_frames();
        for (at, n) in [
            (0u64, 9000usize),
            (100_000, 7000),
            (10, 4000),
            (70_000, 12_000),
            (len - 3000, 9000),
            (40_000, 300),
            (3, 100),
            (10 * len + 777, 5000),
            (2000, 80_000),
        ] {
            let out = render(&mut p, 2, at, n, 128, None);
            check(&mut r, &out, at, None, &format!("loop {looped} jump to {at}"));
        }
        assert!(p.status().error().is_none());
    }
}

#[test]
fn real_time_play_jumps_loops_and_state_hand_over_do_not_allocate() {
    let path = flac44();
    let o = opts(&path, 0, 0, true);
    let mut p = open(&o, 2, 128, false);
    let mut p2 = open(&o, 2, 128, false);
    let mut r = Reference::new(&p);
    let len = p.file_frames();
    let head = p.head_frames();
    let ring = p.ring_capacity_frames() as u64;
    wait_ready(&mut p, ring - 8192);
    wait_ready(&mut p2, ring - 8192);

    let mut pb = vec![ParamBuffer::new(1.0, 128)];
    let mut data = vec![0.0; 2 * 128];
    let mut run = |p: &mut FilePlayer, start: u64, n: usize| -> (Vec<Vec<f64>>, u32) {
        let mut out = vec![vec![0.0; n]; 2];
        reset_violation_count();
        assert_no_alloc(|| render_into(p, 2, start, 128, None, &mut out, &mut data, &mut pb));
        (out, violation_count())
    };
    let mut allocs = 0;
    // Normal play across the head's end into the ring.
    let (out, a) = run(&mut p, 0, head as usize + 20_000);
    allocs += a;
    check(&mut r, &out, 0, None, "play");
    // A seek forwards inside the read-ahead, across the loop's wrap.
    let (out, a) = run(&mut p, len - 10_000, 30_000);
    allocs += a;
    check(&mut r, &out, len - 10_000, None, "seek forwards and loop wrap");
    // Back to the start: served from the head.
    let (out, a) = run(&mut p, 0, 5000);
    allocs += a;
    check(&mut r, &out, 0, None, "jump back to the start");
    assert_eq!(p.status().underruns(), 0, "underruns before the far jump");
    wait_ready(&mut p, ring - 2 * 8192);
    let (out, a) = run(&mut p, 5000, head as usize);
    allocs += a;
    check(&mut r, &out, 5000, None, "after the head");
    // A graph swap: p2 takes p's running stream and continues it.
    let mut took = false;
    reset_violation_count();
    assert_no_alloc(|| took = p2.take_state(&mut p));
    allocs += violation_count();
    assert!(took);
    let at = 5000 + head;
    let (out, a) = run(&mut p2, at, 10_000);
    allocs += a;
    check(&mut r, &out, at, None, "after take_state");
    assert_eq!(p2.status().underruns(), 0, "underruns before the far jump");
    // A far jump: silence until the reader has caught up, counted.
    let before = disk_underruns();
    let far = 7 * len + 50_000;
    let (out, a) = run(&mut p2, far, 256);
    allocs += a;
    assert!(out.iter().all(|c| c.iter().all(|&y| y == 0.0)), "the far jump played before its data");
    assert!(p2.status().underruns() >= 256);
    assert!(disk_underruns() >= before + 256);
    let t = Instant::now();
    wait_ready(&mut p2, 50_000);
    eprintln!("after a far jump the reader delivered 50000 frames in {:?}", t.elapsed());
    let (out, a) = run(&mut p2, far + 256, 20_000);
    allocs += a;
    check(&mut r, &out, far + 256, None, "after the reader caught up");
    assert_eq!(allocs, 0, "the audio path allocated or freed {allocs} times");
    assert!(p.status().error().is_none() && p2.status().error().is_none());
}

#[test]
fn a_ten_minute_file_streams_with_a_fixed_ring() {
    let path = long_flac();
    let o = opts(&path, 0, 0, false);
    let mut p = open(&o, 2, 1024, true);
    let want = (READ_AHEAD_SECONDS * f64::from(RATE)).ceil() as usize;
    assert_eq!(p.file_frames(), 600 * u64::from(RATE));
    assert_eq!(p.ring_capacity_frames(), want);
    let mut r = Reference::new(&p);
    for (at, n) in [(0u64, 20 * RATE as usize), (540 * u64::from(RATE), 5 * RATE as usize)] {
        let out = render(&mut p, 2, at, n, 1024, None);
        check(&mut r, &out, at, None, "long file");
        assert_eq!(p.ring_capacity_frames(), want);
        assert!(p.buffered_frames() <= want);
    }
}

#[test]
fn a_file_truncated_while_streaming_stops_its_player_with_an_error() {
    let copy = dir().join("truncated-copy.flac");
    std::fs::copy(long_flac(), &copy).unwrap();
    let o = opts(&copy, 0, 0, false);
    let mut p = open(&o, 2, 128, false);
    let ring = p.ring_capacity_frames() as u64;
    wait_ready(&mut p, ring - 8192);
    std::fs::OpenOptions::new().write(true).open(&copy).unwrap().set_len(4000).unwrap();
    // Far past what is read ahead: the reader has to read the file again.
    let at = 300 * u64::from(RATE);
    let t = Instant::now();
    let mut k = 0;
    while p.status().error().is_none() {
        assert!(t.elapsed() < Duration::from_secs(20), "no error recorded");
        render(&mut p, 2, at + k * 128, 128, 128, None);
        k += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    let e = p.status().error().unwrap();
    eprintln!("recorded: {e}");
    assert!(e.contains("truncated-copy.flac"), "{e}");
    let out = render(&mut p, 2, at + k * 128, 4096, 128, None);
    assert!(out.iter().all(|c| c.iter().all(|&y| y == 0.0)));
    assert!(take_stream_errors().iter().any(|m| m.contains("truncated-copy.flac")));
}

#[test]
fn a_file_that_is_not_audio_is_refused_naming_it() {
    let bad = dir().join("not-audio.flac");
    std::fs::write(&bad, b"this is not a flac file at all").unwrap();
    let e = FilePlayer::open(&opts(&bad, 0, 0, false), RATE, 2, 128).unwrap_err();
    assert!(e.message.contains("not-audio.flac"), "{e}");
}

#[test]
fn the_reader_thread_is_named() {
    let _p = open(&opts(&flac44(), 0, 0, false), 2, 128, false);
    let names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "ferrite-reader"), "{names:?}");
}

#[test]
fn segments_differ_from_the_whole_decode_by_float_rounding_only() {
    for path in [flac44(), mp3()] {
        let mut p = open(&opts(&path, 0, 0, false), 2, 128, true);
        let whole =
            decode_file(&path, DecodeOptions { sample_rate: Some(RATE), ..Default::default() }).unwrap().channels;
        let out = render(&mut p, 2, 0, whole[0].len(), 128, None);
        for c in 0..2 {
            let (mut e, mut s, mut max) = (0.0f64, 0.0f64, 0.0f64);
            for (&y, &w) in out[c].iter().zip(&whole[c]) {
                let d = y - f64::from(w);
                e += d * d;
                s += f64::from(w) * f64::from(w);
                max = max.max(d.abs());
            }
            let db = 10.0 * (e / s).log10();
            eprintln!("{} channel {c}: {db:.1} dB, largest difference {max:e}", path.display());
            assert!(db < -140.0 && max < 1e-6, "{}: {db:.1} dB, largest difference {max}", path.display());
        }
    }
}

#[test]
fn a_short_loop_wraps_seamlessly_many_times_and_an_offset_past_the_end_wraps_too() {
    // 0.1 s: a wrap every 4800 frames, each one a re-read of the file.
    let short = dir().join("short.wav");
    {
        static MADE: std::sync::Once = std::sync::Once::new();
        MADE.call_once(|| {
            let t = short.to_str().unwrap().to_string();
            ffmpeg(&["-f", "lavfi", "-i", common::SOURCE_EXPR, "-t", "0.1", "-c:a", "pcm_f32le", &t]);
        });
    }
    for (offset, block) in [(0u64, 37usize), (1000, 128), (200_000, 64)] {
        let o = opts(&short, 100, offset, true);
        let mut p = open(&o, 2, block, true);
        assert_eq!(p.file_frames(), 4800);
        let mut r = Reference::new(&p);
        let out = render(&mut p, 2, 0, 100_000, block, None);
        check(&mut r, &out, 0, None, &format!("short loop offset {offset} block {block}"));
        assert!(out[1].iter().any(|&y| y != 0.0));
    }
    // In real time: once prefilled, the ring holds many wraps and plays them without a gap.
    let mut p = open(&opts(&short, 0, 0, true), 2, 128, false);
    let mut r = Reference::new(&p);
    wait_ready(&mut p, 100_000);
    let out = render(&mut p, 2, 0, 100_000, 128, None);
    check(&mut r, &out, 0, None, "short loop in real time");
    assert_eq!(p.status().underruns(), 0);
}
