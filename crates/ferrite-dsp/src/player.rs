//! `player`: plays a sample buffer positioned on the render timeline.
//!
//! No numeric parameters ([`PARAMS`] is empty); the buffer, `looped` and
//! `start_frame` are construction-only.
//!
//! The output is a pure function of the render frame `p = position + i`:
//! - `p < start_frame`: silence;
//! - otherwise buffer index `k = p - start_frame`; past the end (`k >= len`)
//!   silence, or, when looped, `k mod len` (the loop restarts at index 0);
//! - render channel `c` plays buffer channel `c % buffer_channels` (a mono
//!   buffer feeds every channel).
//!
//! `len` is the length of the longest buffer channel; a shorter channel reads
//! as silence past its own end. An empty buffer plays silence. Because nothing
//! depends on history, a seek or a transport loop needs no special handling and
//! any block split gives the same output. The input bus is overwritten.

use std::sync::Arc;

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameter table of [`Player`] (none).
pub const PARAMS: &[ParamSpec] = &[];

/// Plays a shared, immutable multi-channel buffer.
///
/// ```
/// use std::sync::Arc;
/// use ferrite_dsp::player::Player;
/// use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
///
/// let buffer: Arc<[Box<[f32]>]> = vec![vec![0.5f32, -0.5].into_boxed_slice()].into();
/// let mut p = Player::new(buffer, true, 1); // looped, starting at frame 1
/// p.prepare(&PrepareContext { sample_rate: 48000.0, max_block: 5, channels: 2 });
/// let mut data = vec![0.0; 10];
/// let ctx = ProcessContext { frames: 5, position: 0, params: &[] };
/// p.process(&ctx, &mut Bus::new(&mut data, 2, 5, 5));
/// assert_eq!(data[..5], [0.0, 0.5, -0.5, 0.5, -0.5]);
/// assert_eq!(data[..5], data[5..]); // mono buffer feeds both channels
/// ```
#[derive(Debug, Clone)]
pub struct Player {
    channels: Arc<[Box<[f32]>]>,
    len: u64,
    looped: bool,
    start_frame: u64,
}

impl Player {
    /// A player of `channels` (one slice per channel), starting at render
    /// frame `start_frame`, looping the whole buffer when `looped`.
    pub fn new(channels: Arc<[Box<[f32]>]>, looped: bool, start_frame: u64) -> Self {
        let len = channels.iter().map(|c| c.len()).max().unwrap_or(0) as u64;
        Self { channels, len, looped, start_frame }
    }

    /// Buffer index played at render frame `p`, or `None` for silence.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    fn index_at(&self, p: u64) -> Option<u64> {
        if self.len == 0 || p < self.start_frame {
            return None;
        }
        let k = p - self.start_frame;
        if k < self.len {
            Some(k)
        } else if self.looped {
            Some(k % self.len)
        } else {
            None
        }
    }
}

impl Processor for Player {
    fn prepare(&mut self, _ctx: &PrepareContext) {}

    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let n_src = self.channels.len();
        for (c, out) in io.channels_mut().enumerate() {
            let src: &[f32] = match c.checked_rem(n_src).and_then(|s| self.channels.get(s)) {
                Some(s) => s,
                None => {
                    out.fill(0.0);
                    continue;
                }
            };
            let mut idx = self.index_at(ctx.position);
            for (i, y) in out.iter_mut().enumerate() {
                if i > 0 {
                    // Advance one frame; recomputing only at the block start
                    // and at boundaries keeps the modulo off the common path.
                    idx = match idx {
                        Some(k) if k + 1 < self.len => Some(k + 1),
                        _ => self.index_at(ctx.position.saturating_add(i as u64)),
                    };
                }
                *y = match idx.and_then(|k| usize::try_from(k).ok()).and_then(|k| src.get(k)) {
                    Some(&s) => f64::from(s),
                    None => 0.0,
                };
            }
        }
    }

    fn reset(&mut self) {}

    /// The player has no running state (its output depends only on the
    /// render frame); returns `true` when `previous` is a [`Player`].
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        previous.as_any_mut().downcast_mut::<Self>().is_some()
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(chans: &[&[f32]]) -> Arc<[Box<[f32]>]> {
        chans.iter().map(|c| c.to_vec().into_boxed_slice()).collect::<Vec<_>>().into()
    }

    /// Renders `frames` frames from `start` in blocks of `block`, returning planar channels.
    fn render(p: &mut Player, channels: usize, start: u64, frames: usize, block: usize) -> Vec<Vec<f64>> {
        p.prepare(&PrepareContext { sample_rate: 48000.0, max_block: block, channels });
        let mut out = vec![Vec::new(); channels];
        let mut done = 0;
        while done < frames {
            let n = block.min(frames - done);
            // Garbage input: a source must overwrite it.
            let mut data = vec![123.0; channels * block];
            let ctx = ProcessContext { frames: n, position: start + done as u64, params: &[] };
            let mut bus = Bus::new(&mut data, channels, block, n);
            p.process(&ctx, &mut bus);
            for (c, o) in out.iter_mut().enumerate() {
                o.extend_from_slice(bus.channel(c));
            }
            done += n;
        }
        out
    }

    /// The documented semantics, written independently of the processor.
    fn expected(buf: &[&[f32]], looped: bool, start: u64, p: u64, c: usize) -> f64 {
        let len = buf.iter().map(|b| b.len()).max().unwrap_or(0) as u64;
        if buf.is_empty() || len == 0 || p < start {
            return 0.0;
        }
        let mut k = p - start;
        if k >= len {
            if !looped {
                return 0.0;
            }
            k %= len;
        }
        let ch = buf[c % buf.len()];
        ch.get(k as usize).map_or(0.0, |&s| s as f64)
    }

    #[test]
    fn start_offset_then_end_is_silence() {
        let b: &[f32] = &[0.5, -0.25, 1.0, 0.125];
        let mut p = Player::new(buffer(&[b]), false, 3);
        let out = render(&mut p, 1, 0, 10, 4);
        assert_eq!(out[0], vec![0.0, 0.0, 0.0, 0.5, -0.25, 1.0, 0.125, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn loop_wraps_modulo_length_from_start_frame() {
        let b: &[f32] = &[1.0, 2.0, 3.0];
        let mut p = Player::new(buffer(&[b]), true, 2);
        let out = render(&mut p, 1, 0, 11, 4);
        assert_eq!(out[0], vec![0.0, 0.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        // A seek deep into the loop: frame 2 + 3*1000 + 1 plays index 1.
        let out = render(&mut p, 1, 3003, 2, 4);
        assert_eq!(out[0], vec![2.0, 3.0]);
    }

    #[test]
    fn mono_buffer_feeds_every_channel_and_stereo_maps_one_to_one() {
        let m: &[f32] = &[0.5, 0.25];
        let mut p = Player::new(buffer(&[m]), false, 0);
        let out = render(&mut p, 2, 0, 3, 3);
        assert_eq!(out, vec![vec![0.5, 0.25, 0.0], vec![0.5, 0.25, 0.0]]);

        let l: &[f32] = &[1.0, 2.0];
        let r: &[f32] = &[-1.0, -2.0];
        let mut p = Player::new(buffer(&[l, r]), false, 0);
        let out = render(&mut p, 2, 0, 2, 2);
        assert_eq!(out, vec![vec![1.0, 2.0], vec![-1.0, -2.0]]);
        // Three render channels from a stereo buffer: channel 2 plays buffer channel 0.
        let out = render(&mut p, 3, 0, 2, 2);
        assert_eq!(out[2], vec![1.0, 2.0]);
    }

    #[test]
    fn empty_buffer_and_no_channels_are_silent() {
        let mut p = Player::new(buffer(&[&[]]), true, 0);
        assert_eq!(render(&mut p, 2, 0, 5, 5), vec![vec![0.0; 5]; 2]);
        let mut p = Player::new(buffer(&[]), true, 0);
        assert_eq!(render(&mut p, 2, 0, 5, 5), vec![vec![0.0; 5]; 2]);
    }

    #[test]
    fn output_matches_formula_for_any_block_split() {
        let l: Vec<f32> = (0..97).map(|i| (i as f32 * 0.37).sin()).collect();
        let r: Vec<f32> = (0..60).map(|i| (i as f32 * 0.11).cos()).collect();
        let chans: [&[f32]; 2] = [&l, &r];
        for looped in [false, true] {
            for block in [1, 37, 64, 128] {
                let mut p = Player::new(buffer(&chans), looped, 50);
                let out = render(&mut p, 2, 7, 700, block);
                for (c, o) in out.iter().enumerate() {
                    for (i, &y) in o.iter().enumerate() {
                        let want = expected(&chans, looped, 50, 7 + i as u64, c);
                        assert_eq!(y, want, "looped {looped} block {block} ch {c} frame {i}");
                    }
                }
            }
        }
    }
}
