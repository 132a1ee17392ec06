//! The MP4 edit list of the audio track: how many priming frames an AAC
//! encoder put before the audio and how long the audio really is. symphonia
//! 0.5's MP4 reader does not apply edit lists, so without this an AAC file
//! would start with its encoder delay (1024 frames, usually 2112 for
//! Apple's encoder) and end with padding.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The audio track's edit: frames to drop at the start, and frames to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edit {
    pub skip: u64,
    pub frames: u64,
}

/// Largest `moov` box read (headers only; real ones are kilobytes to a few MB).
const MAX_MOOV: u64 = 64 << 20;

/// The first sound track's single edit, in frames at `sample_rate`, or
/// `None` where there is no usable edit list.
pub(crate) fn audio_edit(path: &Path, sample_rate: u32) -> Option<Edit> {
    let mut f = crate::probe::open_regular(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut at = 0u64;
    let moov = loop {
        if at + 8 > len {
            return None;
        }
        f.seek(SeekFrom::Start(at)).ok()?;
        let (kind, size, head) = box_header(&mut f, len - at)?;
        if &kind == b"moov" {
            if size > MAX_MOOV {
                return None;
            }
            let mut body = vec![0u8; (size - head) as usize];
            f.read_exact(&mut body).ok()?;
            break body;
        }
        at += size;
    };
    let movie_scale = children(&moov).find(|(k, _)| k == b"mvhd").and_then(|(_, b)| timescale(b))?;
    for (kind, trak) in children(&moov) {
        if &kind != b"trak" {
            continue;
        }
        let Some((_, mdia)) = children(trak).find(|(k, _)| k == b"mdia") else { continue };
        let is_sound = children(mdia).any(|(k, b)| &k == b"hdlr" && b.get(8..12) == Some(b"soun"));
        if !is_sound {
            continue;
        }
        let media_scale = children(mdia).find(|(k, _)| k == b"mdhd").and_then(|(_, b)| timescale(b))?;
        let (_, edts) = children(trak).find(|(k, _)| k == b"edts")?;
        let (_, elst) = children(edts).find(|(k, _)| k == b"elst")?;
        let (duration, media_time) = single_edit(elst)?;
        if media_time < 0 || movie_scale == 0 || media_scale == 0 {
            return None;
        }
        let rate = u128::from(sample_rate);
        let skip = (media_time as u128 * rate / u128::from(media_scale)) as u64;
        let frames = (u128::from(duration) * rate).div_ceil(u128::from(movie_scale)) as u64;
        return Some(Edit { skip, frames });
    }
    None
}

/// (type, total size, header size) of the box at the reader's position.
fn box_header(f: &mut impl Read, room: u64) -> Option<([u8; 4], u64, u64)> {
    let mut h = [0u8; 8];
    f.read_exact(&mut h).ok()?;
    let kind = [h[4], h[5], h[6], h[7]];
    let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
    let (size, head) = match size32 {
        0 => (room, 8),
        1 => {
            let mut l = [0u8; 8];
            f.read_exact(&mut l).ok()?;
            (u64::from_be_bytes(l), 16)
        }
        s => (s, 8),
    };
    (size >= head && size <= room).then_some((kind, size, head))
}

/// The boxes inside `body`, as (type, contents).
fn children(body: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let h = body.get(at..at + 8)?;
        let size = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = [h[4], h[5], h[6], h[7]];
        let (size, head) = if size == 1 {
            let l = body.get(at + 8..at + 16)?;
            (u64::from_be_bytes(l.try_into().ok()?) as usize, 16)
        } else if size == 0 {
            (body.len() - at, 8)
        } else {
            (size, 8)
        };
        if size < head {
            return None;
        }
        let contents = body.get(at + head..at + size)?;
        at += size;
        Some((kind, contents))
    })
}

/// The timescale of an `mvhd` or `mdhd` box.
fn timescale(b: &[u8]) -> Option<u32> {
    let off = if *b.first()? == 1 { 20 } else { 12 };
    Some(u32::from_be_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// (segment duration, media time) of an edit list with one media edit
/// (an empty edit before it, a common way to delay a track, is not
/// supported and gives `None`).
fn single_edit(b: &[u8]) -> Option<(u64, i64)> {
    let v1 = *b.first()? == 1;
    let count = u32::from_be_bytes(b.get(4..8)?.try_into().ok()?);
    if count != 1 {
        return None;
    }
    let e = b.get(8..)?;
    if v1 {
        Some((u64::from_be_bytes(e.get(0..8)?.try_into().ok()?), i64::from_be_bytes(e.get(8..16)?.try_into().ok()?)))
    } else {
        Some((
            u64::from(u32::from_be_bytes(e.get(0..4)?.try_into().ok()?)),
            i64::from(i32::from_be_bytes(e.get(4..8)?.try_into().ok()?)),
        ))
    }
}
