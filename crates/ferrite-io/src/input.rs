//! Captured audio from an input stream to the output callback, through an
//! `rtrb` ring: the input callback pushes, the output callback pops.

use rtrb::{Consumer, Producer, RingBuffer};

/// Ring capacity in frames: room for a device whose input periods are large
/// or whose clock runs ahead of the output's for a while.
const RING_FRAMES: usize = 16_384;

/// Creates the ring for `channels` captured channels, holding at least
/// `RING_FRAMES` or 8 output buffers of `buffer_frames`.
pub(crate) fn input_ring(channels: usize, buffer_frames: usize) -> (Producer<f32>, Consumer<f32>) {
    let frames = RING_FRAMES.max(buffer_frames.saturating_mul(8));
    RingBuffer::new(frames.saturating_mul(channels.max(1)))
}

/// The input callback's side: converts and pushes whole frames.
pub(crate) struct InputPush {
    producer: Producer<f32>,
    channels: usize,
}

impl InputPush {
    pub(crate) fn new(producer: Producer<f32>, channels: usize) -> Self {
        Self { producer, channels: channels.max(1) }
    }

    /// Pushes as many whole frames of `data` as fit; the rest is dropped
    /// (the output side is not keeping up).
    ///
    /// # Realtime
    ///
    /// No allocation, lock or panic.
    pub(crate) fn push<T>(&mut self, data: &[T])
    where
        T: Copy,
        f32: cpal::FromSample<T>,
    {
        let frames = (self.producer.slots() / self.channels).min(data.len() / self.channels);
        if let Ok(chunk) = self.producer.write_chunk_uninit(frames * self.channels) {
            chunk.fill_from_iter(data.iter().map(|&sample| <f32 as cpal::FromSample<T>>::from_sample_(sample)));
        }
    }
}

/// The output callback's side: pops whole frames and lays them out with the
/// output's channel count.
pub(crate) struct InputFeed {
    consumer: Consumer<f32>,
    channels: usize,
    /// Captured frames as they came, before channel mapping.
    raw: Vec<f32>,
    /// Most frames kept waiting in the ring before older ones are skipped:
    /// bounds the input latency when the input clock runs ahead.
    max_backlog: usize,
}

impl InputFeed {
    /// `max_frames` is the largest block the output callback renders.
    pub(crate) fn new(consumer: Consumer<f32>, channels: usize, max_frames: usize) -> Self {
        let channels = channels.max(1);
        let max_frames = max_frames.max(1);
        Self { consumer, channels, raw: vec![0.0; max_frames * channels], max_backlog: max_frames * 4 }
    }

    /// Fills `input` (`frames` frames of `out_channels`) from the ring.
    /// Captured channel `c % captured` goes to output channel `c`; frames the
    /// ring does not have yet are zeros.
    ///
    /// # Realtime
    ///
    /// No allocation, lock or panic.
    pub(crate) fn read_into(&mut self, input: &mut [f32], frames: usize, out_channels: usize) {
        let channels = self.channels;
        let mut available = self.consumer.slots() / channels;
        if available > frames + self.max_backlog {
            // Skip the oldest frames so latency stays bounded.
            let skip = available - frames - self.max_backlog;
            if let Ok(chunk) = self.consumer.read_chunk(skip * channels) {
                chunk.commit_all();
                available -= skip;
            }
        }
        let take = available.min(frames).min(self.raw.len() / channels);
        let mut got = 0;
        if let Ok(chunk) = self.consumer.read_chunk(take * channels) {
            let (first, second) = chunk.as_slices();
            for (dst, &src) in self.raw.iter_mut().zip(first.iter().chain(second)) {
                *dst = src;
            }
            chunk.commit_all();
            got = take;
        }
        if out_channels == 0 {
            return;
        }
        for (index, out_frame) in input.chunks_exact_mut(out_channels).enumerate() {
            let captured = self.raw.get(index * channels..(index + 1) * channels).filter(|_| index < got);
            match captured {
                Some(frame) => {
                    for (c, sample) in out_frame.iter_mut().enumerate() {
                        *sample = frame.get(c % channels).copied().unwrap_or(0.0);
                    }
                }
                None => out_frame.fill(0.0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_capture_is_repeated_across_stereo_and_missing_frames_are_zero() {
        let (producer, consumer) = input_ring(1, 4);
        let mut push = InputPush::new(producer, 1);
        let mut feed = InputFeed::new(consumer, 1, 4);
        push.push(&[0.5f32, -0.25, 0.125]);
        let mut input = [9.0f32; 8];
        feed.read_into(&mut input, 4, 2);
        assert_eq!(input, [0.5, 0.5, -0.25, -0.25, 0.125, 0.125, 0.0, 0.0]);
    }

    #[test]
    fn extra_captured_channels_are_dropped_and_i16_is_scaled() {
        let (producer, consumer) = input_ring(3, 2);
        let mut push = InputPush::new(producer, 3);
        let mut feed = InputFeed::new(consumer, 3, 2);
        push.push(&[16_384i16, -16_384, 1, 8_192, 0, 1]);
        let mut input = [9.0f32; 4];
        feed.read_into(&mut input, 2, 2);
        // i16 → f32 divides by 32768.
        assert_eq!(input, [0.5, -0.5, 0.25, 0.0]);
    }

    #[test]
    fn backlog_is_bounded_by_skipping_the_oldest_frames() {
        let (producer, consumer) = input_ring(1, 2);
        let mut push = InputPush::new(producer, 1);
        let mut feed = InputFeed::new(consumer, 1, 2); // backlog limit: 8 frames
        let samples: Vec<f32> = (0..20).map(|i| i as f32).collect();
        push.push(&samples);
        let mut input = [0.0f32; 2];
        feed.read_into(&mut input, 2, 1);
        // 20 waiting, keep 2 + 8 = 10: frames 10 and 11 are read next.
        assert_eq!(input, [10.0, 11.0]);
    }
}
