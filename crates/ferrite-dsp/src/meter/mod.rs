//! `meter`: a pass-through tap measuring sample peak, RMS, true peak and
//! loudness (ITU-R BS.1770-4, EBU R128 / Tech 3341 / Tech 3342).
//!
//! Parameters: none ([`PARAMS`] is empty).
//!
//! [`Meter::process`](Processor::process) leaves the bus unchanged. Every
//! measurement runs on the audio thread in bounded memory, allocated in
//! [`Processor::prepare`]; a meter can run for any duration.
//!
//! What is measured (all levels are the maximum over channels):
//! - **sample peak** and **RMS**, both over the whole life since the last
//!   [`Meter::reset`] ("total") and over the interval since the previous
//!   [`Meter::take_interval_reading`] ("interval", for real-time meters that
//!   fall when the signal stops);
//! - **true peak** (BS.1770-4 Annex 2): the peak of the signal oversampled
//!   8× below 96 kHz, 4× below 176.4 kHz, 2× above, total and interval;
//! - **momentary** (400 ms) and **short-term** (3 s) loudness, K-weighted,
//!   updated every 100 ms;
//! - **integrated** loudness (gated: −70 LUFS absolute, −10 LU relative, 400 ms
//!   blocks every 100 ms) and **loudness range** (EBU Tech 3342: 3 s blocks
//!   every 1 s, −70 LUFS absolute and −20 LU relative gates, 10th to 95th
//!   percentile), since the last [`Meter::reset_integration`] or
//!   [`Meter::reset`].
//!
//! Silence reads `-inf` dB / LUFS and a loudness range of 0.
//!
//! Channel weights follow BS.1770 for up to 5.1 (surrounds 1.41, about
//! +1.5 dB; LFE excluded), by channel count:
//!
//! | channels | layout            | weights                         |
//! |----------|-------------------|---------------------------------|
//! | 1–3      | mono, L R, L R C  | all 1.0                         |
//! | 4        | L R Ls Rs         | 1.0 1.0 1.41 1.41               |
//! | 5        | L R C Ls Rs (5.0) | 1.0 1.0 1.0 1.41 1.41           |
//! | 6        | L R C LFE Ls Rs   | 1.0 1.0 1.0 0 1.41 1.41         |
//! | 7+       | 5.1, then more    | as 6; channels past the sixth 1.0 |
//!
//! **Lowest sample rate: [`MIN_SAMPLE_RATE`] (8000 Hz).** The K-weighting
//! shelf of BS.1770 sits at 1681.97 Hz, so below about 3364 Hz it lies above
//! Nyquist and the filter is undefined (a −20 dBFS sine read +2301 LUFS at
//! 2 kHz); just above it the bilinear design is so warped that the readings
//! are not BS.1770 loudness either. 8 kHz (telephone audio) is the lowest
//! rate at which loudness is reported. Near Nyquist the shelf still reads a
//! little low: a −20 dBFS 1 kHz sine (−23.0 LUFS by definition) reads −23.21
//! at 8 kHz, −23.05 at 16 kHz, within 0.01 LU from 44.1 kHz (tested in
//! ferrite-engine's `files_hardening`). Every place a meter is created
//! for a rate (meter nodes, `analyzeFile`, `normalizeFile`) refuses a lower
//! rate with [`check_sample_rate`]'s message.
//!
//! The 100 ms sub-block boundaries are counted in frames since `prepare` (or
//! [`Meter::reset`]), not per `process` call, so readings do not depend on
//! how the render is split into blocks.

#[cfg(test)]
mod ebu_tests;
mod histogram;
mod k_weighting;
mod loudness;
#[cfg(test)]
mod reference_tests;
mod true_peak;

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};
use histogram::LoudnessHistogram;
use loudness::{
    lanes_sum, LoudnessWindows, SubBlockEnd, Tally, MOMENTARY_SUBBLOCKS, SHORT_TERM_SUBBLOCKS, TALLY_LANES,
};
use true_peak::TruePeak;

/// Relative gate of integrated loudness (ITU-R BS.1770-4), LU.
const INTEGRATED_RELATIVE_GATE_LU: f64 = -10.0;
/// Relative gate of loudness range (EBU Tech 3342), LU.
const RANGE_RELATIVE_GATE_LU: f64 = -20.0;
/// Sub-blocks between two short-term blocks of the loudness range (1 s, a
/// 2/3 overlap of the 3 s blocks, as libebur128).
const RANGE_HOP_SUBBLOCKS: u64 = 10;

/// The lowest sample rate a [`Meter`] measures at, Hz (see the [module docs](self)).
pub const MIN_SAMPLE_RATE: f64 = 8000.0;

/// Frames of the 100 ms loudness sub-block a [`Meter`] counts at
/// `sample_rate` (`round(fs / 10)`, at least 1): the boundaries on which a
/// measurement can be cut ([`Meter::start_segment`]).
pub fn subblock_frames(sample_rate: f64) -> usize {
    ((sample_rate / 10.0).round() as usize).max(1)
}

/// `Err(reason)` when loudness is not defined at `sample_rate` (below
/// [`MIN_SAMPLE_RATE`], or not a finite positive number). The reason names
/// the rate; callers prefix what was being measured.
///
/// ```
/// use ferrite_dsp::meter::check_sample_rate;
/// assert!(check_sample_rate(44100.0).is_ok());
/// assert!(check_sample_rate(2000.0).unwrap_err().contains("2000 Hz"));
/// ```
pub fn check_sample_rate(sample_rate: f64) -> Result<(), String> {
    if sample_rate.is_finite() && sample_rate >= MIN_SAMPLE_RATE {
        Ok(())
    } else {
        Err(format!(
            "loudness (ITU-R BS.1770 K-weighting) is defined from {MIN_SAMPLE_RATE} Hz; the sample rate is {sample_rate} Hz"
        ))
    }
}

/// Parameter table of [`Meter`]: empty.
pub const PARAMS: &[ParamSpec] = &[];

/// One reading of a [`Meter`]. Levels are in dB relative to full scale (1.0),
/// loudness in LUFS, loudness range in LU. Silence reads `f64::NEG_INFINITY`
/// (and a loudness range of 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeterReading {
    /// Largest absolute sample value, in dBFS, over all channels.
    pub peak_db: f64,
    /// RMS of the loudest channel, in dBFS (a full-scale sine reads −3.01).
    pub rms_db: f64,
    /// Largest absolute value of the oversampled signal, in dBTP.
    pub true_peak_db: f64,
    /// K-weighted loudness of the last 400 ms (as of the last 100 ms boundary).
    pub momentary_lufs: f64,
    /// K-weighted loudness of the last 3 s (as of the last 100 ms boundary).
    pub short_term_lufs: f64,
    /// Gated integrated loudness since the integration started.
    pub integrated_lufs: f64,
    /// Loudness range (EBU Tech 3342) since the integration started, in LU.
    pub loudness_range_lu: f64,
}

impl MeterReading {
    /// The reading of a meter that has heard nothing.
    pub const SILENT: MeterReading = MeterReading {
        peak_db: f64::NEG_INFINITY,
        rms_db: f64::NEG_INFINITY,
        true_peak_db: f64::NEG_INFINITY,
        momentary_lufs: f64::NEG_INFINITY,
        short_term_lufs: f64::NEG_INFINITY,
        integrated_lufs: f64::NEG_INFINITY,
        loudness_range_lu: 0.0,
    };
}

/// `20·log10(x)`, `-inf` for 0.
#[inline]
fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Peak, sum of squares and true peak of one channel over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Levels {
    peak: f64,
    /// In lanes, see [`Tally`].
    sum_sq: [f64; TALLY_LANES],
    true_peak: f64,
}

impl Levels {
    const ZERO: Levels = Levels { peak: 0.0, sum_sq: [0.0; TALLY_LANES], true_peak: 0.0 };
}

/// Per-channel levels, total and interval, and the frame counts they cover.
#[derive(Debug, Clone)]
struct LevelState {
    total: Box<[Levels]>,
    interval: Box<[Levels]>,
    total_frames: u64,
    interval_frames: u64,
}

impl LevelState {
    fn new(channels: usize) -> Self {
        Self {
            total: vec![Levels::ZERO; channels].into_boxed_slice(),
            interval: vec![Levels::ZERO; channels].into_boxed_slice(),
            total_frames: 0,
            interval_frames: 0,
        }
    }

    /// Copies `other`'s frame counts and the levels of the channels both have.
    fn take_from(&mut self, other: &LevelState) {
        for (a, b) in self.total.iter_mut().zip(other.total.iter()) {
            *a = *b;
        }
        for (a, b) in self.interval.iter_mut().zip(other.interval.iter()) {
            *a = *b;
        }
        self.total_frames = other.total_frames;
        self.interval_frames = other.interval_frames;
    }

    /// Max over channels of peak, RMS and true peak, in dB.
    fn read(levels: &[Levels], frames: u64) -> (f64, f64, f64) {
        let mut peak = 0.0f64;
        let mut sum_sq = 0.0f64;
        let mut true_peak = 0.0f64;
        for l in levels {
            peak = peak.max(l.peak);
            sum_sq = sum_sq.max(lanes_sum(&l.sum_sq));
            true_peak = true_peak.max(l.true_peak);
        }
        let rms = if frames == 0 { 0.0 } else { (sum_sq / frames as f64).sqrt() };
        (db(peak), db(rms), db(true_peak.max(peak)))
    }
}

/// Everything a meter has measured, moved as a whole across graph swaps.
#[derive(Debug, Clone)]
struct State {
    sample_rate: f64,
    channels: usize,
    /// Always true in the product; loudness-only tests turn it off to stay
    /// fast in unoptimized builds (see `test_support::loudness_meter`).
    measure_true_peak: bool,
    levels: LevelState,
    /// Per channel: the block's peak and running sums while it is measured.
    tallies: Box<[Tally]>,
    /// Run the AVX2 build of [`Tally::add_block`] (decided on the control side).
    wide_tally: bool,
    /// True-peak values up to this need not be measured exactly (see
    /// [`Meter::set_true_peak_floor`]); 0 unless set.
    true_peak_floor: f64,
    windows: LoudnessWindows,
    gating: Gating,
    true_peak: TruePeak,
}

/// Integrated loudness and loudness range since the integration started.
#[derive(Debug, Clone)]
struct Gating {
    /// 400 ms blocks every 100 ms.
    blocks: LoudnessHistogram,
    /// 3 s blocks every 1 s.
    short_term_blocks: LoudnessHistogram,
    /// Whole sub-blocks heard since the integration started.
    subblocks: u64,
    /// The integration started in the middle of a sub-block: that sub-block
    /// holds older audio and does not count.
    skip_partial: bool,
}

impl Gating {
    fn new() -> Self {
        Self {
            blocks: LoudnessHistogram::new(),
            short_term_blocks: LoudnessHistogram::new(),
            subblocks: 0,
            skip_partial: false,
        }
    }

    /// Restarts the integration; `mid_subblock` tells whether the current
    /// sub-block already holds audio.
    fn restart(&mut self, mid_subblock: bool) {
        self.blocks.clear();
        self.short_term_blocks.clear();
        self.subblocks = 0;
        self.skip_partial = mid_subblock;
    }

    /// A 100 ms boundary: adds the 400 ms block (and every 1 s the 3 s block)
    /// once the window holds only audio heard since the integration started.
    fn on_subblock(&mut self, end: SubBlockEnd) {
        if self.skip_partial {
            self.skip_partial = false;
            return;
        }
        self.subblocks = self.subblocks.saturating_add(1);
        if self.subblocks >= MOMENTARY_SUBBLOCKS as u64 {
            self.blocks.add(end.momentary);
        }
        let st = SHORT_TERM_SUBBLOCKS as u64;
        if self.subblocks >= st && (self.subblocks - st).is_multiple_of(RANGE_HOP_SUBBLOCKS) {
            self.short_term_blocks.add(end.short_term);
        }
    }
}

/// A meter's true-peak measurement running apart from the meter (see
/// [`Meter::split_true_peak`]): the same oversampling filter, fed the same
/// blocks, so the reading is the one the meter would have made.
#[derive(Debug, Clone)]
pub struct TruePeakTap {
    tp: TruePeak,
    /// Per channel: the largest oversampled value so far.
    max: Vec<f64>,
}

impl TruePeakTap {
    /// Feeds one block: `channels[c]` is channel `c`'s samples, every
    /// channel the same length.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn process(&mut self, channels: &[&[f64]]) {
        let frames = channels.first().map_or(0, |c| c.len());
        // What is read is the largest over the channels: a channel's values
        // that cannot beat it need not be interpolated (that channel's own
        // maximum may then read low; the largest is exact).
        let mut known = self.max.iter().fold(0.0f64, |a, &b| a.max(b));
        for (c, (x, m)) in channels.iter().zip(self.max.iter_mut()).enumerate() {
            *m = m.max(self.tp.channel_block(c, x, known));
            known = known.max(*m);
        }
        self.tp.advance(frames);
    }
}

/// The `meter` processor: a pass-through tap that measures peak, RMS, true
/// peak and loudness. See the [module documentation](self) for what it
/// measures and how.
///
/// Reading it ([`Meter::total_reading`], [`Meter::take_interval_reading`])
/// and resetting it are cheap and allocation-free, so the render core can do
/// both on the audio thread between blocks.
///
/// # Example
/// ```
/// use ferrite_dsp::meter::Meter;
/// use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
///
/// let (fs, n) = (48_000.0, 480);
/// let mut meter = Meter::new();
/// meter.prepare(&PrepareContext { sample_rate: fs, max_block: n, channels: 2 });
/// // Two seconds of a 1 kHz stereo sine at -23 dBFS, in blocks of 10 ms.
/// let amplitude = 10f64.powf(-23.0 / 20.0);
/// let mut block = vec![0.0; 2 * n];
/// for b in 0..200u64 {
///     for (i, v) in block.iter_mut().enumerate() {
///         let t = (b * n as u64 + (i % n) as u64) as f64 / fs;
///         *v = amplitude * (2.0 * std::f64::consts::PI * 1000.0 * t).sin();
///     }
///     let ctx = ProcessContext { frames: n, position: b * n as u64, params: &[] };
///     meter.process(&ctx, &mut Bus::new(&mut block, 2, n, n));
/// }
/// let r = meter.total_reading();
/// assert!((r.integrated_lufs - -23.0).abs() < 0.1);
/// assert!((r.momentary_lufs - -23.0).abs() < 0.1);
/// assert!((r.peak_db - -23.0).abs() < 0.01);
/// ```
#[derive(Debug, Default)]
pub struct Meter {
    state: Option<Box<State>>,
}

impl Meter {
    /// A meter; it measures nothing until prepared.
    pub fn new() -> Self {
        Self { state: None }
    }

    /// Hands the true-peak measurement to a [`TruePeakTap`], which the
    /// caller feeds the same blocks (on another thread: `analyzeFile`
    /// measures it on the thread that decodes). The meter stops measuring
    /// true peak; [`Meter::total_reading_with`] reads both as one meter.
    /// Call it after `prepare` (control side).
    pub fn split_true_peak(&mut self) -> Option<TruePeakTap> {
        let s = self.state.as_deref_mut()?;
        s.measure_true_peak = false;
        Some(TruePeakTap { tp: TruePeak::new(s.sample_rate, s.channels), max: vec![0.0; s.channels] })
    }

    /// [`Meter::total_reading`] with the true peak `tap` measured: the
    /// reading this meter would give had it measured true peak itself.
    pub fn total_reading_with(&self, tap: &TruePeakTap) -> MeterReading {
        let mut r = self.total_reading();
        let tp = tap.max.iter().fold(0.0f64, |a, &b| a.max(b));
        // The meter reads max(true peak, sample peak) in dB; `db` is monotonic.
        r.true_peak_db = r.true_peak_db.max(db(tp));
        r
    }

    /// Peak, RMS and true peak over the whole life since the last
    /// [`Meter::reset`]; loudness fields as of now.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn total_reading(&self) -> MeterReading {
        let Some(s) = self.state.as_deref() else {
            return MeterReading::SILENT;
        };
        let (peak_db, rms_db, true_peak_db) = LevelState::read(&s.levels.total, s.levels.total_frames);
        Self::with_loudness(s, peak_db, rms_db, true_peak_db)
    }

    /// Peak, RMS and true peak since the previous call (or since prepare or
    /// reset), then restarts those interval accumulators; loudness fields as
    /// of now. An interval without frames reads `-inf`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn take_interval_reading(&mut self) -> MeterReading {
        let Some(s) = self.state.as_deref() else {
            return MeterReading::SILENT;
        };
        let (peak_db, rms_db, true_peak_db) = LevelState::read(&s.levels.interval, s.levels.interval_frames);
        let reading = Self::with_loudness(s, peak_db, rms_db, true_peak_db);
        self.restart_interval();
        reading
    }

    /// Restarts the interval accumulators as [`Self::take_interval_reading`]
    /// does, without computing a reading (the gated loudness scans the
    /// histograms): for an engine whose meters nobody reads.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn restart_interval(&mut self) {
        if let Some(s) = self.state.as_deref_mut() {
            s.levels.interval.iter_mut().for_each(|l| *l = Levels::ZERO);
            s.levels.interval_frames = 0;
        }
    }

    fn with_loudness(s: &State, peak_db: f64, rms_db: f64, true_peak_db: f64) -> MeterReading {
        MeterReading {
            peak_db,
            rms_db,
            true_peak_db,
            momentary_lufs: s.windows.momentary_lufs(),
            short_term_lufs: s.windows.short_term_lufs(),
            integrated_lufs: s.gating.blocks.gated_mean_lufs(INTEGRATED_RELATIVE_GATE_LU),
            loudness_range_lu: s.gating.short_term_blocks.range_lu(RANGE_RELATIVE_GATE_LU),
        }
    }

    /// Starts the next segment of a measurement cut in time (`analyzeFile`
    /// measures a long file's segments on several threads and joins them
    /// with [`Meter::append`]): forgets the levels and the gated blocks
    /// measured so far, keeps the filters' memory, the loudness windows and
    /// the true-peak history (what the audio before the segment leaves in
    /// them), and counts the integration as if `subblocks` whole 100 ms
    /// sub-blocks had been integrated before. Feed the meter some seconds of
    /// the audio before the segment first (the 3 s window, and the filters'
    /// memory to settle), then call this on a 100 ms boundary: the meter
    /// then measures what a meter fed from the start measures from there.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn start_segment(&mut self, subblocks: u64) {
        if let Some(s) = self.state.as_deref_mut() {
            s.levels.total.iter_mut().for_each(|l| *l = Levels::ZERO);
            s.levels.interval.iter_mut().for_each(|l| *l = Levels::ZERO);
            s.levels.total_frames = 0;
            s.levels.interval_frames = 0;
            s.gating.restart(false);
            s.gating.subblocks = subblocks;
        }
    }

    /// Lets the true peak skip what cannot matter to a reading taken with
    /// another measurement: values up to `floor` (linear) need not be
    /// interpolated, so a channel's true peak may read low when it is not
    /// above `floor`. The caller guarantees that what it finally reads
    /// (joined with [`Meter::append`], or compared) holds a true peak of at
    /// least `floor`: `analyzeFile` shares the largest true peak its
    /// segments have measured so far. Then the joined reading is exact, bit
    /// for bit. The interval reading is affected too: not for meters that
    /// are read in real time.
    pub fn set_true_peak_floor(&mut self, floor: f64) {
        if let Some(s) = self.state.as_deref_mut() {
            s.true_peak_floor = if floor.is_finite() && floor > 0.0 { floor } else { 0.0 };
        }
    }

    /// The largest true peak measured since the last reset, linear, over
    /// the channels (the sample peak when larger; 0 for silence).
    pub fn true_peak_linear(&self) -> f64 {
        self.state.as_deref().map_or(0.0, |s| s.levels.total.iter().fold(0.0f64, |m, l| m.max(l.true_peak).max(l.peak)))
    }

    /// Joins `next`, the measurement of the segment that follows this
    /// meter's (see [`Meter::start_segment`]), to this one: peaks are the
    /// larger, sums of squares, frames and gated blocks add up, and the
    /// momentary and short-term windows are `next`'s (the later). Meters of
    /// another rate or channel count, or unprepared, are ignored.
    pub fn append(&mut self, next: &Meter) {
        let (Some(s), Some(n)) = (self.state.as_deref_mut(), next.state.as_deref()) else {
            return;
        };
        if s.sample_rate != n.sample_rate || s.channels != n.channels {
            return;
        }
        for (a, b) in s.levels.total.iter_mut().zip(n.levels.total.iter()) {
            a.peak = a.peak.max(b.peak);
            a.sum_sq.iter_mut().zip(b.sum_sq).for_each(|(a, b)| *a += b);
            a.true_peak = a.true_peak.max(b.true_peak);
        }
        for (a, b) in s.levels.interval.iter_mut().zip(n.levels.interval.iter()) {
            a.peak = a.peak.max(b.peak);
            a.sum_sq.iter_mut().zip(b.sum_sq).for_each(|(a, b)| *a += b);
            a.true_peak = a.true_peak.max(b.true_peak);
        }
        s.levels.total_frames = s.levels.total_frames.saturating_add(n.levels.total_frames);
        s.levels.interval_frames = s.levels.interval_frames.saturating_add(n.levels.interval_frames);
        s.gating.blocks.merge(&n.gating.blocks);
        s.gating.short_term_blocks.merge(&n.gating.short_term_blocks);
        s.gating.subblocks = n.gating.subblocks;
        s.gating.skip_partial = n.gating.skip_partial;
        s.windows.take_from(&n.windows);
        s.true_peak.take_from(&n.true_peak);
    }

    /// Starts integrated loudness and loudness range anew (momentary,
    /// short-term, peaks and RMS go on). The first gating block is the 400 ms
    /// ending 4 whole sub-blocks later (the sub-block in progress, which holds
    /// older audio, does not count).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn reset_integration(&mut self) {
        if let Some(s) = self.state.as_deref_mut() {
            let mid = s.windows.mid_subblock();
            s.gating.restart(mid);
        }
    }
}

impl Processor for Meter {
    fn prepare(&mut self, ctx: &PrepareContext) {
        let sample_rate = if ctx.sample_rate.is_finite() && ctx.sample_rate > 0.0 { ctx.sample_rate } else { 48000.0 };
        self.state = Some(Box::new(State {
            sample_rate,
            channels: ctx.channels,
            measure_true_peak: true,
            levels: LevelState::new(ctx.channels),
            tallies: vec![Tally::default(); ctx.channels].into_boxed_slice(),
            wide_tally: crate::kernels::avx2_allowed(),
            true_peak_floor: 0.0,
            windows: LoudnessWindows::new(sample_rate, ctx.channels),
            gating: Gating::new(),
            true_peak: TruePeak::new(sample_rate, ctx.channels),
        }));
    }

    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let Some(s) = self.state.as_deref_mut() else {
            return;
        };
        let frames = ctx.frames.min(io.frames());
        let channels = io.channels().min(s.channels);

        // Loudness, sample peak and sums of squares in one pass over the
        // block, cut in pieces that end on 100 ms boundaries; pairs of
        // channels side by side.
        let (wide, lane0) = (s.wide_tally, (s.levels.total_frames % TALLY_LANES as u64) as usize);
        for (c, ((t, total), interval)) in
            s.tallies.iter_mut().zip(s.levels.total.iter()).zip(s.levels.interval.iter()).enumerate().take(channels)
        {
            *t = Tally { peak: 0.0, total: total.sum_sq, interval: interval.sum_sq };
            let x = io.channel(c);
            t.add_block(x.get(..frames).unwrap_or(x), lane0, wide);
        }
        let mut off = 0;
        while off < frames {
            let n = s.windows.room().min(frames - off);
            let mut c = 0;
            while c + 1 < channels {
                let pieces = (io.channel(c).get(off..off + n), io.channel(c + 1).get(off..off + n));
                if let (Some(p0), Some(p1)) = pieces {
                    s.windows.feed_pair(c, p0, p1);
                }
                c += 2;
            }
            if c < channels {
                if let Some(piece) = io.channel(c).get(off..off + n) {
                    s.windows.feed(c, piece);
                }
            }
            off += n;
            if let Some(end) = s.windows.advance(n) {
                s.gating.on_subblock(end);
            }
        }
        for c in 0..channels {
            let x = io.channel(c);
            let x = x.get(..frames).unwrap_or(x);
            let t = s.tallies.get(c).copied().unwrap_or_default();
            // The interval maximum is never above the total one: interpolate
            // whenever the block could beat the interval's.
            let known = s.levels.interval.get(c).map_or(0.0, |l| l.true_peak).max(s.true_peak_floor);
            let tp = if s.measure_true_peak { s.true_peak.channel_block(c, x, known) } else { 0.0 };
            if let Some(l) = s.levels.total.get_mut(c) {
                l.peak = l.peak.max(t.peak);
                l.sum_sq = t.total;
                l.true_peak = l.true_peak.max(tp);
            }
            if let Some(l) = s.levels.interval.get_mut(c) {
                l.peak = l.peak.max(t.peak);
                l.sum_sq = t.interval;
                l.true_peak = l.true_peak.max(tp);
            }
        }
        s.true_peak.advance(frames);
        s.levels.total_frames = s.levels.total_frames.saturating_add(frames as u64);
        s.levels.interval_frames = s.levels.interval_frames.saturating_add(frames as u64);
    }

    fn reset(&mut self) {
        if let Some(s) = self.state.as_deref_mut() {
            s.levels.total.iter_mut().for_each(|l| *l = Levels::ZERO);
            s.levels.interval.iter_mut().for_each(|l| *l = Levels::ZERO);
            s.levels.total_frames = 0;
            s.levels.interval_frames = 0;
            s.windows.clear();
            s.gating.restart(false);
            s.true_peak.clear();
        }
    }

    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let Some(prev) = previous.as_any_mut().downcast_mut::<Meter>() else {
            return false;
        };
        let (Some(mine), Some(old)) = (self.state.as_deref_mut(), prev.state.as_deref_mut()) else {
            return false;
        };
        if mine.sample_rate != old.sample_rate {
            return false;
        }
        if mine.channels == old.channels {
            core::mem::swap(&mut self.state, &mut prev.state);
            return true;
        }
        // Another channel count: keep the loudness history and integration,
        // and the levels of the channels both have.
        mine.levels.take_from(&old.levels);
        mine.windows.take_from(&old.windows);
        mine.true_peak.take_from(&old.true_peak);
        core::mem::swap(&mut mine.gating, &mut old.gating);
        true
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Signal generators and a driver shared by the meter's tests.
    use super::*;

    /// Feeds planar `signal` (one Vec per channel) through `meter` in blocks of `block`.
    pub fn run(meter: &mut Meter, signal: &[Vec<f64>], block: usize, position: &mut u64) {
        let channels = signal.len();
        let len = signal.first().map_or(0, |c| c.len());
        let mut buf = vec![0.0; channels * block];
        let mut start = 0;
        while start < len {
            let n = block.min(len - start);
            for (c, ch) in signal.iter().enumerate() {
                buf[c * block..c * block + n].copy_from_slice(&ch[start..start + n]);
            }
            let ctx = ProcessContext { frames: n, position: *position, params: &[] };
            let mut bus = Bus::new(&mut buf, channels, block, n);
            meter.process(&ctx, &mut bus);
            for (c, ch) in signal.iter().enumerate() {
                assert_eq!(&buf[c * block..c * block + n], &ch[start..start + n], "meter changed the signal");
            }
            *position += n as u64;
            start += n;
        }
    }

    /// A prepared meter.
    pub fn meter(sample_rate: f64, channels: usize) -> Meter {
        let mut m = Meter::new();
        m.prepare(&PrepareContext { sample_rate, max_block: 4096, channels });
        m
    }

    /// A prepared meter that skips true peak (its reading falls back to the
    /// sample peak): for the long loudness-only tests, which would otherwise
    /// spend most of their time oversampling in unoptimized test builds.
    pub fn loudness_meter(sample_rate: f64, channels: usize) -> Meter {
        let mut m = meter(sample_rate, channels);
        if let Some(s) = m.state.as_deref_mut() {
            s.measure_true_peak = false;
        }
        m
    }

    /// A phase-continuous sine of `freq` Hz whose amplitude (dBFS peak) steps
    /// through `segments` of (dBFS, seconds).
    pub fn tone_segments(freq: f64, sample_rate: f64, segments: &[(f64, f64)]) -> Vec<f64> {
        let mut out = Vec::new();
        for &(level_db, seconds) in segments {
            let a = 10f64.powf(level_db / 20.0);
            let n = (seconds * sample_rate).round() as usize;
            for _ in 0..n {
                let i = out.len() as f64;
                out.push(a * (2.0 * core::f64::consts::PI * freq * i / sample_rate).sin());
            }
        }
        out
    }

    /// Deterministic uniform noise in [-1, 1) (xorshift64*).
    pub fn noise(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.max(1);
        (0..len)
            .map(|_| {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
                (r >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use core::f64::consts::PI;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn sine_peak_and_rms_are_analytic() {
        let fs = 48000.0;
        let a = 0.5;
        // 1 kHz at 48 kHz: exactly 48 samples a period, the peak is sampled.
        let x: Vec<f64> = (0..48000).map(|i| a * (2.0 * PI * 1000.0 * i as f64 / fs).sin()).collect();
        let mut m = meter(fs, 2);
        run(&mut m, &[x.clone(), x.iter().map(|v| v * 0.5).collect()], 128, &mut 0);
        let r = m.total_reading();
        assert!(close(r.peak_db, 20.0 * a.log10(), 1e-9), "{}", r.peak_db);
        assert!(close(r.rms_db, 20.0 * (a / 2f64.sqrt()).log10(), 1e-6), "{}", r.rms_db);
    }

    #[test]
    fn interval_readings_fall_to_minus_infinity_after_silence() {
        let fs = 48000.0;
        let mut m = meter(fs, 2);
        let tone = tone_segments(1000.0, fs, &[(-6.0, 1.0)]);
        run(&mut m, &[tone.clone(), tone], 64, &mut 0);
        let first = m.take_interval_reading();
        assert!(close(first.peak_db, -6.0, 0.01));
        let silence = vec![0.0; 4800 * 40];
        run(&mut m, &[silence.clone(), silence.clone()], 64, &mut 0);
        // The true-peak interpolator delays by 16 frames: the tone's last
        // inter-sample values land in this interval.
        let tail = m.take_interval_reading();
        assert_eq!(tail.peak_db, f64::NEG_INFINITY);
        assert!(tail.true_peak_db < -6.0 + 0.5);
        run(&mut m, &[silence[..64].to_vec(), silence[..64].to_vec()], 64, &mut 0);
        let second = m.take_interval_reading();
        assert_eq!(second.peak_db, f64::NEG_INFINITY);
        assert_eq!(second.rms_db, f64::NEG_INFINITY);
        assert_eq!(second.true_peak_db, f64::NEG_INFINITY);
        // 4 s of silence: both loudness windows are silent again.
        assert_eq!(second.momentary_lufs, f64::NEG_INFINITY);
        assert_eq!(second.short_term_lufs, f64::NEG_INFINITY);
        // The total still remembers the tone.
        assert!(close(m.total_reading().peak_db, -6.0, 0.01));
        // An interval with no frames at all is silent too.
        assert_eq!(m.take_interval_reading().peak_db, f64::NEG_INFINITY);
    }

    #[test]
    fn a_restarted_interval_covers_only_what_follows_and_keeps_the_total() {
        let fs = 48000.0;
        let mut m = meter(fs, 2);
        let loud = tone_segments(1000.0, fs, &[(-6.0, 0.5)]);
        run(&mut m, &[loud.clone(), loud], 64, &mut 0);
        m.restart_interval();
        let quiet = tone_segments(1000.0, fs, &[(-20.0, 0.5)]);
        run(&mut m, &[quiet.clone(), quiet], 64, &mut 0);
        let r = m.take_interval_reading();
        // The -20 dBFS tone's peak; -3.01 dB RMS below it for a sine.
        assert!(close(r.peak_db, -20.0, 0.01), "{}", r.peak_db);
        assert!(close(r.rms_db, -20.0 - 10.0 * 2f64.log10(), 0.05), "{}", r.rms_db);
        assert!(close(m.total_reading().peak_db, -6.0, 0.01));
    }

    #[test]
    fn segments_measured_apart_and_appended_read_as_one_meter() {
        let fs = 44100.0;
        let hop = 4410;
        // 40 s of noise and a tone stepping through levels (a loudness range).
        let levels = [
            (-10.0, 5.0),
            (-25.0, 5.0),
            (-15.0, 5.0),
            (-30.0, 5.0),
            (-12.0, 5.0),
            (-20.0, 5.0),
            (-8.0, 5.0),
            (-18.0, 5.03),
        ];
        let t = tone_segments(997.0, fs, &levels);
        let n = noise(t.len(), 5);
        let sig = vec![t.iter().zip(&n).map(|(a, b)| a + 0.5 * a.abs().sqrt() * b).collect::<Vec<_>>(), t.clone()];
        let len = t.len();
        let mut whole = meter(fs, 2);
        run(&mut whole, &sig, 1000, &mut 0);
        let w = whole.total_reading();
        assert!(w.loudness_range_lu > 5.0, "{}", w.loudness_range_lu);
        let slice = |a: usize, z: usize| sig.iter().map(|c| c[a..z].to_vec()).collect::<Vec<_>>();
        for cuts in [vec![100 * hop], vec![20 * hop, 210 * hop, 333 * hop]] {
            let mut bounds = vec![0];
            bounds.extend(&cuts);
            bounds.push(len);
            let mut joined = meter(fs, 2);
            for k in 0..bounds.len() - 1 {
                let (b, e) = (bounds[k], bounds[k + 1]);
                // 3.5 s of the audio before the segment, then the segment.
                let warm = b.saturating_sub(35 * hop);
                let mut m = meter(fs, 2);
                run(&mut m, &slice(warm, b), 777, &mut 0);
                m.start_segment((b / hop) as u64);
                run(&mut m, &slice(b, e), 777, &mut 0);
                if k == 0 {
                    joined = m;
                } else {
                    joined.append(&m);
                }
            }
            let r = joined.total_reading();
            assert_eq!(r.peak_db, w.peak_db, "{cuts:?}");
            assert_eq!(r.true_peak_db, w.true_peak_db, "{cuts:?}");
            for (a, b, what) in [
                (r.integrated_lufs, w.integrated_lufs, "integrated"),
                (r.loudness_range_lu, w.loudness_range_lu, "range"),
                (r.rms_db, w.rms_db, "rms"),
                (r.momentary_lufs, w.momentary_lufs, "momentary"),
                (r.short_term_lufs, w.short_term_lufs, "short-term"),
            ] {
                assert!(close(a, b, 1e-9), "{cuts:?} {what}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn a_true_peak_floor_from_the_other_channels_keeps_the_largest_exact() {
        let fs = 44100.0;
        // Channel 1 quieter than channel 0 but with its own inter-sample
        // peaks (a tone near fs/4 and noise): skipping what cannot beat
        // channel 0 changes channel 1's reading only.
        let a = tone_segments(11025.0 * 0.97, fs, &[(-3.0, 2.0), (-9.0, 2.0)]);
        let b: Vec<f64> = noise(a.len(), 9).iter().zip(&a).map(|(n, t)| 0.4 * n + 0.5 * t).collect();
        let mut plain = meter(fs, 2);
        run(&mut plain, &[a.clone(), b.clone()], 4096, &mut 0);
        let mut floored = meter(fs, 2);
        let mut pos = 0;
        for (x0, x1) in a.chunks(4096).zip(b.chunks(4096)) {
            floored.set_true_peak_floor(floored.true_peak_linear());
            run(&mut floored, &[x0.to_vec(), x1.to_vec()], 4096, &mut pos);
        }
        assert_eq!(floored.total_reading(), plain.total_reading());
        assert!(
            plain.total_reading().true_peak_db > plain.total_reading().peak_db + 0.1,
            "the tone's inter-sample peaks"
        );
        // The floor is only a hint from elsewhere: a floor above everything
        // the meter hears leaves its own true peak at most the sample peak.
        let mut hinted = meter(fs, 2);
        hinted.set_true_peak_floor(10.0);
        run(&mut hinted, &[a.clone(), b.clone()], 4096, &mut 0);
        assert_eq!(hinted.total_reading().true_peak_db, plain.total_reading().peak_db);
    }

    #[test]
    fn unprepared_and_fresh_meters_read_silence() {
        let m = Meter::new();
        assert_eq!(m.total_reading(), MeterReading::SILENT);
        let m = meter(44100.0, 2);
        assert_eq!(m.total_reading(), MeterReading::SILENT);
        assert!(PARAMS.is_empty());
    }

    #[test]
    fn readings_do_not_depend_on_the_block_size() {
        let fs = 44100.0;
        let len = (fs * 4.3) as usize;
        let n = noise(len, 7);
        let t = tone_segments(3000.0, fs, &[(-10.0, 2.0), (-30.0, 1.0), (-3.0, 1.3)]);
        let sig = [n.iter().zip(t.iter()).map(|(a, b)| 0.3 * a + b).collect::<Vec<_>>(), t];
        // Stereo (channels filtered as a pair) and three channels (a pair and
        // one alone); blocks that cut the filter's four-sample steps and the
        // 100 ms sub-blocks everywhere, and one that holds several.
        for channels in [2, 3] {
            let sig: Vec<Vec<f64>> =
                (0..channels).map(|c| sig[c % 2].iter().map(|v| v * (1.0 - 0.1 * c as f64)).collect()).collect();
            let mut readings = Vec::new();
            for block in [1, 3, 37, 128, 4096] {
                let mut m = meter(fs, channels);
                run(&mut m, &sig, block, &mut 0);
                readings.push((block, m.total_reading()));
            }
            for (block, r) in &readings {
                assert_eq!(*r, readings[0].1, "{channels} channels, block {block} against 1");
            }
        }
    }

    #[test]
    fn a_stereo_sine_at_minus_23_dbfs_reads_minus_23_lufs_momentary_and_short_term() {
        // EBU Tech 3341 cases 1 and 2 (momentary and short-term parts).
        for fs in [44100.0, 48000.0] {
            for level in [-23.0, -33.0] {
                let x = tone_segments(1000.0, fs, &[(level, 20.0)]);
                let mut m = loudness_meter(fs, 2);
                run(&mut m, &[x.clone(), x], 256, &mut 0);
                let r = m.total_reading();
                assert!(close(r.momentary_lufs, level, 0.1), "{fs} {level}: M {}", r.momentary_lufs);
                assert!(close(r.short_term_lufs, level, 0.1), "{fs} {level}: S {}", r.short_term_lufs);
            }
        }
    }

    #[test]
    fn mono_counts_one_channel_and_stereo_two() {
        let fs = 48000.0;
        let x = tone_segments(1000.0, fs, &[(-20.0, 1.0)]);
        let mut mono = loudness_meter(fs, 1);
        run(&mut mono, core::slice::from_ref(&x), 128, &mut 0);
        let mut stereo = loudness_meter(fs, 2);
        run(&mut stereo, &[x.clone(), x], 128, &mut 0);
        let d = stereo.total_reading().momentary_lufs - mono.total_reading().momentary_lufs;
        assert!(close(d, 10.0 * 2f64.log10(), 1e-9), "{d}");
    }

    #[test]
    fn five_one_weights_exclude_the_lfe_and_boost_the_surrounds() {
        let fs = 48000.0;
        let x = tone_segments(1000.0, fs, &[(-20.0, 1.0)]);
        let silent = vec![0.0; x.len()];
        let momentary_with = |active: usize| {
            let mut sig = vec![silent.clone(); 6];
            sig[active] = x.clone();
            let mut m = loudness_meter(fs, 6);
            run(&mut m, &sig, 128, &mut 0);
            m.total_reading().momentary_lufs
        };
        let front = momentary_with(0);
        assert!(close(momentary_with(1), front, 1e-9));
        assert!(close(momentary_with(2), front, 1e-9));
        assert_eq!(momentary_with(3), f64::NEG_INFINITY, "LFE must not count");
        assert!(close(momentary_with(4) - front, 10.0 * 1.41f64.log10(), 1e-9));
        assert!(close(momentary_with(5) - front, 10.0 * 1.41f64.log10(), 1e-9));
    }

    #[test]
    fn process_never_grows_memory() {
        // Structural check: every buffer is a boxed slice or array sized in
        // prepare; a long run leaves their lengths and addresses unchanged.
        let fs = 48000.0;
        let mut m = meter(fs, 2);
        let snapshot = |m: &Meter| {
            let s = m.state.as_deref().unwrap();
            (s.levels.total.as_ptr(), s.levels.total.len(), s as *const State)
        };
        let before = snapshot(&m);
        let x = noise(48000 * 5, 3);
        run(&mut m, &[x.clone(), x], 128, &mut 0);
        let _ = m.take_interval_reading();
        m.reset();
        assert_eq!(before, snapshot(&m));
    }

    #[test]
    fn take_state_keeps_the_measurement() {
        let fs = 48000.0;
        let x = tone_segments(1000.0, fs, &[(-12.0, 1.0)]);
        let mut old = meter(fs, 2);
        run(&mut old, &[x.clone(), x], 128, &mut 0);
        let before = old.total_reading();
        let mut new = meter(fs, 2);
        assert!(new.take_state(&mut old));
        assert_eq!(new.total_reading(), before);
        let mut other_rate = meter(44100.0, 2);
        assert!(!other_rate.take_state(&mut new));
        // Another channel count keeps loudness and the shared channels' levels.
        let mut mono = meter(fs, 1);
        assert!(mono.take_state(&mut new));
        let after = mono.total_reading();
        assert_eq!(after.integrated_lufs, before.integrated_lufs);
        assert_eq!(after.loudness_range_lu, before.loudness_range_lu);
        assert_eq!(after.momentary_lufs, before.momentary_lufs);
        assert_eq!(after.peak_db, before.peak_db);
    }
}
