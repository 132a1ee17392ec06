//! The contract between the render core and every processor.
//!
//! A processor is prepared once on the control side ([`Processor::prepare`]
//! may allocate), then driven block by block on the audio thread
//! ([`Processor::process`] and [`Processor::reset`] must not allocate, lock or
//! panic). Processing is in place: the render core sums a node's inputs into
//! its [`Bus`], the processor overwrites the bus with its output.

/// Facts a processor needs before it renders: fixed for the life of a prepared graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrepareContext {
    /// Frames per second.
    pub sample_rate: f64,
    /// The largest `frames` any later [`ProcessContext`] will carry.
    pub max_block: usize,
    /// Channels of every bus (the render's channel count).
    pub channels: usize,
}

/// One parameter's values for the current block.
#[derive(Debug, Clone, Copy)]
pub enum ParamBlock<'a> {
    /// The same value for every frame of the block.
    Constant(f64),
    /// One value per frame (automation or a ramp); `len() == frames`.
    Varying(&'a [f64]),
}

impl ParamBlock<'_> {
    /// The value at frame `i` of the block (the last value past the end).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline(always)]
    pub fn at(&self, i: usize) -> f64 {
        match self {
            ParamBlock::Constant(v) => *v,
            ParamBlock::Varying(s) => match s.get(i) {
                Some(v) => *v,
                None => s.last().copied().unwrap_or(0.0),
            },
        }
    }

    /// The value at the first frame of the block.
    #[inline(always)]
    pub fn first(&self) -> f64 {
        self.at(0)
    }

    /// `Some(v)` when the value is the same over the whole block.
    #[inline(always)]
    pub fn constant(&self) -> Option<f64> {
        match self {
            ParamBlock::Constant(v) => Some(*v),
            ParamBlock::Varying(_) => None,
        }
    }
}

/// Storage for one parameter's per-block values, owned by the render core.
///
/// Allocated in `prepare` (control side); filled on the audio thread without
/// allocating. Processors only read it through [`ProcessContext::param`].
#[derive(Debug, Clone)]
pub struct ParamBuffer {
    value: f64,
    varying: bool,
    values: Box<[f64]>,
}

impl ParamBuffer {
    /// A buffer able to hold `max_block` per-frame values, starting constant at `value`.
    pub fn new(value: f64, max_block: usize) -> Self {
        Self { value, varying: false, values: vec![value; max_block.max(1)].into_boxed_slice() }
    }

    /// Makes the whole block constant at `value`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn set_constant(&mut self, value: f64) {
        self.value = value;
        self.varying = false;
    }

    /// Marks the block as varying and returns the per-frame storage to fill
    /// (its first `frames` entries are read). `frames` is clamped to capacity.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn varying_mut(&mut self, frames: usize) -> &mut [f64] {
        self.varying = true;
        let n = frames.min(self.values.len());
        &mut self.values[..n]
    }

    /// The value the block ends on (the constant, or the last varying value
    /// written for a block of `frames`).
    #[inline]
    pub fn last(&self, frames: usize) -> f64 {
        if self.varying {
            let n = frames.min(self.values.len());
            if n == 0 {
                self.value
            } else {
                self.values[n - 1]
            }
        } else {
            self.value
        }
    }

    /// The view a processor reads for a block of `frames`.
    #[inline]
    pub fn block(&self, frames: usize) -> ParamBlock<'_> {
        if self.varying {
            let n = frames.min(self.values.len());
            ParamBlock::Varying(&self.values[..n])
        } else {
            ParamBlock::Constant(self.value)
        }
    }
}

/// What a processor sees for one block.
#[derive(Debug, Clone, Copy)]
pub struct ProcessContext<'a> {
    /// Frames in this block (`1..=max_block`).
    pub frames: usize,
    /// Render frame of the block's first frame, counted from the start of the
    /// render (or engine). Processors that do something every N frames align
    /// it to this, so that output does not depend on the block size.
    pub position: u64,
    /// This node's parameters, in the order its module documents.
    pub params: &'a [ParamBuffer],
}

impl<'a> ProcessContext<'a> {
    /// Parameter `i` for this block; `Constant(0.0)` if the render core gave fewer.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline(always)]
    pub fn param(&self, i: usize) -> ParamBlock<'a> {
        match self.params.get(i) {
            Some(p) => p.block(self.frames),
            None => ParamBlock::Constant(0.0),
        }
    }
}

/// Planar multi-channel audio for one block, processed in place.
///
/// Channel `c` occupies `data[c * stride .. c * stride + frames]`.
#[derive(Debug)]
pub struct Bus<'a> {
    data: &'a mut [f64],
    channels: usize,
    stride: usize,
    frames: usize,
}

impl<'a> Bus<'a> {
    /// Wraps planar storage. Channels or frames that do not fit `data` are
    /// dropped (clamped), never a panic.
    pub fn new(data: &'a mut [f64], channels: usize, stride: usize, frames: usize) -> Self {
        let stride = stride.max(frames);
        let channels = data.len().checked_div(stride).map_or(0, |fit| channels.min(fit));
        Self { data, channels, stride, frames }
    }

    /// Number of channels.
    #[inline(always)]
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames in the block.
    #[inline(always)]
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Channel `c` (an empty slice when out of range).
    #[inline(always)]
    pub fn channel(&self, c: usize) -> &[f64] {
        if c < self.channels {
            &self.data[c * self.stride..c * self.stride + self.frames]
        } else {
            &[]
        }
    }

    /// Channel `c`, mutable (an empty slice when out of range).
    #[inline(always)]
    pub fn channel_mut(&mut self, c: usize) -> &mut [f64] {
        if c < self.channels {
            &mut self.data[c * self.stride..c * self.stride + self.frames]
        } else {
            &mut []
        }
    }

    /// Two distinct channels at once (`a != b`), for stereo processors.
    #[inline]
    pub fn pair_mut(&mut self, a: usize, b: usize) -> Option<(&mut [f64], &mut [f64])> {
        if a == b || a >= self.channels || b >= self.channels {
            return None;
        }
        let (lo, hi, swap) = if a < b { (a, b, false) } else { (b, a, true) };
        let (head, tail) = self.data.split_at_mut(hi * self.stride);
        let x = &mut head[lo * self.stride..lo * self.stride + self.frames];
        let y = &mut tail[..self.frames];
        Some(if swap { (y, x) } else { (x, y) })
    }

    /// Iterates over every channel mutably.
    pub fn channels_mut(&mut self) -> impl Iterator<Item = &mut [f64]> + '_ {
        let frames = self.frames;
        let n = self.channels;
        self.data.chunks_mut(self.stride.max(1)).take(n).map(move |c| &mut c[..frames])
    }

    /// Sets every sample to zero.
    pub fn fill_zero(&mut self) {
        for c in self.channels_mut() {
            c.fill(0.0);
        }
    }

    /// Writes `signal` into every channel (sources do this).
    pub fn fill_from_mono(&mut self, signal: &[f64]) {
        for c in self.channels_mut() {
            let n = c.len().min(signal.len());
            c[..n].copy_from_slice(&signal[..n]);
        }
    }
}

/// Describes one parameter of a processor (control side).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name as used in `setParam` and `automate` (for example `"frequency"`).
    pub name: &'static str,
    /// Smallest accepted value (inclusive).
    pub min: f64,
    /// Largest accepted value (inclusive).
    pub max: f64,
}

impl ParamSpec {
    /// A parameter accepting `min..=max`.
    pub const fn new(name: &'static str, min: f64, max: f64) -> Self {
        Self { name, min, max }
    }
}

/// A processor the render core's strategies know by kind, as
/// [`Processor::special`] gives it: what they do with it beyond `process`
/// (see `ferrite_engine`'s `render::ops`).
pub enum Special<'a> {
    /// Nothing beyond `process`.
    None,
    /// A `biquad`: lanes of a filter bank, a stage of a fused chain.
    Biquad(&'a mut crate::biquad::Biquad),
    /// An `eq`: lanes of a filter bank; mono blocks on kept cascades, two
    /// at a time as twins.
    Eq(&'a mut crate::eq::Eq),
    /// A `compressor`: its one-pole recursions run side by side with others'.
    Compressor(&'a mut crate::compressor::Compressor),
}

impl<'a> Special<'a> {
    /// The processor as a [`crate::biquad::BankFilter`] if its
    /// constant-parameter blocks can run as lanes of a
    /// [`crate::kernels::BiquadBank`].
    pub fn bank_filter(self) -> Option<&'a mut dyn crate::biquad::BankFilter> {
        match self {
            Special::Biquad(b) => Some(b),
            Special::Eq(e) => Some(e),
            _ => None,
        }
    }
}

/// A node's DSP, driven by the render core.
///
/// The render core owns one per node. It calls `prepare` on the control side,
/// then `process` once per block on the audio thread.
///
/// # Render hints
/// Besides the core (`prepare`, `memory_bytes`, `process`, `reset`,
/// `latency`, `take_state`), a processor may tell the render core what it can do
/// safely; every hint has a default that is always correct, and the render
/// core gives the same bits whichever hints a processor gives:
/// - [`Processor::process_unchanged`]: a block whose parameters did not change;
/// - [`Processor::mono_source`], [`Processor::channel_symmetric`],
///   [`Processor::mono_ready`]: mono blocks (channel 0 standing for all);
/// - [`Processor::overwrites_output`]: no need to zero its buffer;
/// - [`Processor::set_blocking`]: an offline render waits for streamed data;
/// - [`Processor::special`]: the kinds the render core's strategies know.
pub trait Processor: Send {
    /// Allocates every buffer and state for `ctx` (control side; may allocate).
    fn prepare(&mut self, ctx: &PrepareContext);

    /// [`Processor::prepare`], with the allocations whose size comes from
    /// input (lengths, block size, channels) made fallibly
    /// ([`crate::alloc`]): memory that cannot be had is an error, and the
    /// processor is left unprepared (the engine then drops it). The engine
    /// compiles graphs through this. Default: `prepare`, for processors
    /// that hold only small state. Control side.
    fn try_prepare(&mut self, ctx: &PrepareContext) -> Result<(), crate::alloc::AllocError> {
        self.prepare(ctx);
        Ok(())
    }

    /// About how many bytes [`Processor::prepare`] will allocate for `ctx`
    /// (an upper estimate, control side). A compiled graph's memory budget
    /// adds these up before any node is prepared, so that a graph too large
    /// for memory is refused with an error instead of aborting the process.
    /// Default 0: state of a few hundred bytes.
    fn memory_bytes(&self, ctx: &PrepareContext) -> usize {
        let _ = ctx;
        0
    }

    /// Renders one block in place: `io` holds the summed input on entry and
    /// must hold the output on return.
    ///
    /// # Realtime
    /// Must not allocate, free, lock, log or panic.
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>);

    /// Returns to the freshly prepared state (clears filter memory, delay
    /// lines, phase...). Must not allocate.
    fn reset(&mut self);

    /// Latency this processor adds, in frames, at the prepared sample rate.
    fn latency(&self) -> usize {
        0
    }

    /// Moves the running state (filter memory, delay lines, phase, envelopes)
    /// of `previous` into `self` when the two are the same kind of processor,
    /// so that a node surviving a graph swap keeps sounding continuous.
    /// Returns `false` when nothing was taken. Runs on the control side.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let _ = previous;
        false
    }

    /// [`Processor::process`] for a block whose parameters the host knows
    /// to be unchanged: each is constant over the block and holds the same
    /// value as in the previous block given to this processor, which had the
    /// same channels. A processor may skip work that depends only on the
    /// parameters (checking them, recomputing coefficients); the output must
    /// be exactly that of `process`. Default: `process`.
    ///
    /// # Realtime
    /// As `process`.
    fn process_unchanged(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        self.process(ctx, io);
    }

    /// Whether the processor is a generator whose channels all carry the same
    /// signal, and that, given a one-channel bus, writes that channel exactly
    /// as it would write channel 0 of a wider one. The render core may then
    /// run it on channel 0 only and let its readers take channel 0 for every
    /// channel (see `ferrite_engine`'s mono sources). Default `false`.
    fn mono_source(&self) -> bool {
        false
    }

    /// Whether the processor treats every channel alike and keeps no state
    /// per channel: given a one-channel bus it writes channel 0 exactly as
    /// it would write each channel of a wider bus whose channels all hold
    /// that signal. The render core may then run it on channel 0 only of a
    /// mono block and keep the block mono (see `ferrite_engine`'s mono
    /// sources). Default `false`.
    fn channel_symmetric(&self) -> bool {
        false
    }

    /// Whether the render core may run the processor, for the coming block,
    /// on channel 0 only of a mono block and keep the block mono: it then
    /// writes channel 0 exactly as it would write each channel of a wider
    /// bus whose channels all hold that signal. A processor that keeps state
    /// per channel says so only while every channel's state equals channel
    /// 0's; after a block on a one-channel bus it holds channel 0's state
    /// alone, and must give every other channel that state before it runs
    /// on (or hands its state to, see [`Processor::take_state`]) a wider
    /// bus. Default: [`Processor::channel_symmetric`].
    fn mono_ready(&self) -> bool {
        self.channel_symmetric()
    }

    /// Whether `process` writes every sample of every channel of the block
    /// without reading the bus (a generator): the render core then skips
    /// zeroing the buffer of such a node when it has no input. Default `false`.
    fn overwrites_output(&self) -> bool {
        false
    }

    /// An offline render calls this with `true` before rendering: a
    /// processor fed by another thread (a file streamed by a reader thread)
    /// then waits for its data instead of playing silence. Runs on the
    /// control side. Default: nothing.
    fn set_blocking(&mut self, blocking: bool) {
        let _ = blocking;
    }

    /// `self` by kind, for the render core's strategies (filter banks,
    /// fused chains, twins, compressor groups). Default [`Special::None`].
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn special(&mut self) -> Special<'_> {
        Special::None
    }

    /// `self` as `Any`, for [`Processor::take_state`] downcasts.
    fn as_any_mut(&mut self) -> &mut dyn core::any::Any;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_channels_are_disjoint_and_clamped() {
        let mut data = vec![0.0; 2 * 8];
        let mut bus = Bus::new(&mut data, 2, 8, 5);
        bus.channel_mut(0).fill(1.0);
        bus.channel_mut(1).fill(2.0);
        assert_eq!(bus.channel(0), &[1.0; 5]);
        assert_eq!(bus.channel(1), &[2.0; 5]);
        assert!(bus.channel(2).is_empty());
        let (l, r) = bus.pair_mut(1, 0).unwrap();
        assert_eq!(l[0], 2.0);
        assert_eq!(r[0], 1.0);
        assert_eq!(&data[5..8], &[0.0; 3]);
        let mut short = vec![0.0; 3];
        assert_eq!(Bus::new(&mut short, 4, 2, 2).channels(), 1);
    }

    #[test]
    fn param_buffer_reports_constant_and_varying_blocks() {
        let mut p = ParamBuffer::new(0.5, 4);
        assert_eq!(p.block(4).constant(), Some(0.5));
        p.varying_mut(3).copy_from_slice(&[1.0, 2.0, 3.0]);
        let b = p.block(3);
        assert_eq!(b.constant(), None);
        assert_eq!((b.at(0), b.at(2), b.at(9)), (1.0, 3.0, 3.0));
        assert_eq!(p.last(3), 3.0);
        p.set_constant(7.0);
        assert_eq!(p.block(3).at(1), 7.0);
    }
}
