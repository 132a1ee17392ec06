//! `eq`: a series bank of biquads (band 0 first, then band 1, ...).
//!
//! Parameters are per band, band-major: for band `i`, index `3i + 0` is
//! `bands[i].frequency` (Hz), `3i + 1` is `bands[i].q` and `3i + 2` is
//! `bands[i].gainDb` (see [`param_names`]; ranges and defaults as
//! [`crate::biquad::PARAMS`], see [`band_param_spec`]). The number of bands
//! and each band's type are construction-only.
//!
//! Each band is exactly a [`crate::biquad::Biquad`] (same coefficient
//! rules, same transposed direct form II state, same per-frame coefficient
//! recomputation when a parameter is varying), so an `Eq` gives the same
//! samples as its bands run one after another as separate biquads.

use crate::alloc::{try_filled, AllocError};
use crate::biquad::{
    cascade_channels, cascade_pair_cached, load_sections, pair_caches_in_lockstep, run_pair_caches,
    sanitize_sample_rate, store_pair_caches, store_sections, BankFilter, BiquadType, Coeffs, PairCache, Section,
    PARAMS,
};
use crate::kernels::BiquadBank;
use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Parameters per band (`frequency`, `q`, `gainDb`).
pub const PARAMS_PER_BAND: usize = 3;

/// Names of the parameters of an `Eq` with `bands` bands, in index order:
/// `bands[0].frequency`, `bands[0].q`, `bands[0].gainDb`, `bands[1].frequency`, ...
/// (control side).
///
/// ```
/// assert_eq!(ferrite_dsp::eq::param_names(1), ["bands[0].frequency", "bands[0].q", "bands[0].gainDb"]);
/// ```
pub fn param_names(bands: usize) -> Vec<String> {
    (0..bands).flat_map(|i| PARAMS.iter().map(move |p| format!("bands[{i}].{}", p.name))).collect()
}

/// Range of parameter `index` of an `Eq` (the [`crate::biquad::PARAMS`]
/// entry of `index % 3`; its `name` is the per-band suffix).
pub fn band_param_spec(index: usize) -> &'static ParamSpec {
    &PARAMS[index % PARAMS_PER_BAND]
}

/// A series bank of biquad sections, one per band.
#[derive(Debug, Clone)]
pub struct Eq {
    sections: Vec<Section>,
    sample_rate: f64,
    /// Per-frame coefficients of the band being processed (varying params).
    scratch: Vec<Coeffs>,
    /// Stereo: the cascades of each chunk of 8 bands, kept with their
    /// coefficients between blocks (empty otherwise).
    pairs: Vec<PairCache>,
    /// The filter memory is in `pairs`, not in `sections` (while blocks run
    /// through the cached cascades; see [`Eq::sync`]).
    live: bool,
    /// The last block ran on a one-channel bus (a mono block, see
    /// [`Processor::mono_ready`]): channel 0's filter memory (in `sections`,
    /// or in the caches' first cascades while `live`) stands for every
    /// channel's.
    mono_run: bool,
}

impl Eq {
    /// A bank with one band per entry of `bands`, applied in that order
    /// (control side). Zero bands pass the signal through.
    pub fn new(bands: Vec<BiquadType>) -> Self {
        Self {
            sections: bands.into_iter().map(Section::new).collect(),
            sample_rate: sanitize_sample_rate(0.0),
            scratch: vec![Coeffs::IDENTITY; 128],
            pairs: Vec::new(),
            live: false,
            mono_run: false,
        }
    }

    /// Brings the filter memory back into the sections if the cached
    /// cascades hold it (before any other path reads or writes it).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn sync(&mut self) {
        if self.live {
            store_pair_caches(&mut self.sections, &self.pairs);
            self.live = false;
        }
    }

    /// Gives every channel channel 0's filter memory after mono blocks
    /// (before a wider block, a bank or another processor reads it); the
    /// memory is then in `sections`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn spread_mono(&mut self) {
        if self.mono_run {
            self.sync();
            for s in &mut self.sections {
                s.spread_channel_0();
            }
            self.mono_run = false;
        }
    }

    /// The band types, in processing order.
    pub fn bands(&self) -> impl Iterator<Item = BiquadType> + '_ {
        self.sections.iter().map(Section::kind)
    }

    /// Number of bands.
    pub fn len(&self) -> usize {
        self.sections.len()
    }

    /// Whether the bank has no band.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// While the filter memory is in the kept stereo cascades from mono
    /// blocks: the cascade (stages `8·chunk ..`) a mono block with
    /// unchanged parameters runs on channel 0 ([`Processor::process_unchanged`]
    /// on a one-channel bus runs these in order, each alone, and clears
    /// their non-finite states). `None` past the last chunk or in any other
    /// state. The render core runs two such EQs' cascades as one stereo
    /// wavefront ([`BiquadCascade::process_pair_at`], the same bits).
    ///
    /// [`BiquadCascade::process_pair_at`]: crate::kernels::BiquadCascade::process_pair_at
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn mono_cascade_mut(&mut self, chunk: usize) -> Option<&mut crate::kernels::BiquadCascade> {
        if !(self.live && self.mono_run) {
            return None;
        }
        self.pairs.get_mut(chunk).map(PairCache::mono_mut)
    }
}

impl Processor for Eq {
    fn memory_bytes(&self, ctx: &PrepareContext) -> usize {
        ctx.max_block.max(1) * size_of::<Coeffs>()
    }

    /// Sizes per-band, per-channel state and the per-frame coefficient
    /// buffer. Filter memory already present (from
    /// [`Processor::take_state`]) is kept; [`Processor::reset`] clears it.
    fn prepare(&mut self, ctx: &PrepareContext) {
        if let Err(e) = self.try_prepare(ctx) {
            e.abort()
        }
    }

    /// Allocates the block-long coefficient scratch row fallibly.
    fn try_prepare(&mut self, ctx: &PrepareContext) -> Result<(), AllocError> {
        self.scratch = try_filled(ctx.max_block.max(1), Coeffs::IDENTITY)?;
        self.sync();
        self.spread_mono();
        self.sample_rate = sanitize_sample_rate(ctx.sample_rate);
        for s in &mut self.sections {
            s.prepare(ctx.channels);
        }
        self.pairs = if ctx.channels == 2 { PairCache::for_sections(self.sections.len()) } else { Vec::new() };
        Ok(())
    }

    /// Runs every prepared channel through band 0, then band 1, ... A
    /// one-channel bus on an EQ prepared for more is a mono block (see
    /// [`Processor::mono_ready`]): channel 0 alone.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        if io.channels() == 1 && self.sections.first().is_some_and(|s| s.channels() > 1) {
            self.mono_run = true;
        } else {
            self.spread_mono();
        }
        // All bands constant: each channel through the pipelined cascade
        // kernel (8 bands per cascade); stereo through cascades kept with
        // their coefficients from block to block.
        // The filter memory stays in the cached cascades from block to block
        // while this path runs; any other path takes it back first.
        if !self.pairs.is_empty()
            && cascade_pair_cached(&mut self.sections, self.sample_rate, ctx, &mut self.pairs, io, self.live)
        {
            self.live = true;
            return;
        }
        self.sync();
        if cascade_channels(&mut self.sections, self.sample_rate, ctx, io) {
            return;
        }
        for (band, section) in self.sections.iter_mut().enumerate() {
            let base = band * PARAMS_PER_BAND;
            let params = [ctx.param(base), ctx.param(base + 1), ctx.param(base + 2)];
            section.process(self.sample_rate, params, &mut self.scratch, io);
        }
    }

    /// Parameters unchanged since a block that ran on the kept stereo
    /// cascades: those cascades again, without looking at the parameters.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn process_unchanged(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        // The same width as that block (else `process` spreads or marks
        // the mono memory first).
        if self.live && (io.channels() == 1) == self.mono_run && run_pair_caches(&mut self.pairs, io) {
            return;
        }
        self.process(ctx, io);
    }

    /// Clears the filter memory of every band.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn reset(&mut self) {
        self.live = false;
        self.mono_run = false;
        for s in &mut self.sections {
            s.reset();
        }
    }

    /// Takes the filter memory of a previous [`struct@Eq`], band `i` from band `i`
    /// (for the bands both have; a changed band type acts like a parameter jump).
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        match previous.as_any_mut().downcast_mut::<Eq>() {
            Some(prev) => {
                prev.sync();
                prev.spread_mono();
                self.sync();
                self.spread_mono();
                for (d, s) in self.sections.iter_mut().zip(&prev.sections) {
                    d.copy_state_from(s);
                }
                true
            }
            None => false,
        }
    }

    /// One filter per channel, alike: while every channel's memory is the
    /// same (always, after mono blocks), a mono block stays mono.
    fn mono_ready(&self) -> bool {
        self.mono_run
            || if self.live {
                pair_caches_in_lockstep(&self.pairs)
            } else {
                self.sections.iter().all(Section::in_lockstep)
            }
    }

    fn special(&mut self) -> crate::Special<'_> {
        crate::Special::Eq(self)
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

impl BankFilter for Eq {
    fn bank_stages(&self) -> usize {
        self.sections.len()
    }

    fn bank_channels(&self) -> usize {
        self.sections.first().map_or(0, Section::channels)
    }

    fn load_bank(&mut self, ctx: &ProcessContext<'_>, bank: &mut BiquadBank, first_lane: usize) -> bool {
        self.sync();
        self.spread_mono();
        load_sections(&mut self.sections, self.sample_rate, ctx, bank, first_lane)
    }

    fn store_bank(&mut self, bank: &BiquadBank, first_lane: usize) {
        self.live = false;
        store_sections(&mut self.sections, bank, first_lane)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biquad::tests::{noise, ref_coeffs, ref_df1, render};
    use crate::biquad::Biquad;
    use crate::gain::Gain;

    const FS: f64 = 48_000.0;

    /// Eight bands, one of each type, with their constant parameters.
    fn bank() -> Vec<(BiquadType, [f64; 3])> {
        vec![
            (BiquadType::Highpass, [40.0, 0.7, 0.0]),
            (BiquadType::Lowshelf, [120.0, 0.8, 4.0]),
            (BiquadType::Peaking, [400.0, 1.2, -6.0]),
            (BiquadType::Notch, [1000.0, 8.0, 0.0]),
            (BiquadType::Peaking, [2500.0, 3.0, 9.0]),
            (BiquadType::Allpass, [5000.0, 0.5, 0.0]),
            (BiquadType::Highshelf, [9000.0, 0.7, -3.0]),
            (BiquadType::Lowpass, [16000.0, 0.9, 0.0]),
        ]
    }

    fn eq_for(bands: &[(BiquadType, [f64; 3])], max_block: usize, channels: usize) -> Eq {
        let mut eq = Eq::new(bands.iter().map(|b| b.0).collect());
        eq.prepare(&PrepareContext { sample_rate: FS, max_block, channels });
        eq
    }

    /// Band-major parameter value `i` at frame `t`; varying when `sweep`.
    fn param(bands: &[(BiquadType, [f64; 3])], i: usize, t: usize, sweep: bool) -> f64 {
        let v = bands[i / 3].1[i % 3];
        if !sweep {
            return v;
        }
        match i % 3 {
            0 => v * (1.0 + 0.5 * (t as f64 * 0.003).sin()),
            1 => v * (1.0 + 0.3 * (t as f64 * 0.001).cos()),
            _ => v + 3.0 * (t as f64 * 0.002).sin(),
        }
    }

    #[test]
    fn names_follow_band_major_order() {
        assert_eq!(
            param_names(2),
            [
                "bands[0].frequency",
                "bands[0].q",
                "bands[0].gainDb",
                "bands[1].frequency",
                "bands[1].q",
                "bands[1].gainDb"
            ]
        );
        assert!(param_names(0).is_empty());
        assert_eq!(band_param_spec(4).name, "q");
        assert_eq!(band_param_spec(8).name, "gainDb");
        let eq = Eq::new(vec![BiquadType::Notch, BiquadType::Peaking]);
        assert_eq!(eq.bands().collect::<Vec<_>>(), [BiquadType::Notch, BiquadType::Peaking]);
        assert_eq!(eq.len(), 2);
    }

    #[test]
    fn equals_separate_biquads_in_series() {
        let bands = bank();
        let (channels, frames) = (2, 2000);
        let mut input = noise(frames, 11);
        input.extend(noise(frames, 12));
        for sweep in [false, true] {
            let mut got = input.clone();
            let mut eq = eq_for(&bands, 64, channels);
            render(&mut eq, &mut got, channels, frames, 64, 3 * bands.len(), sweep, &|i, t| param(&bands, i, t, sweep));

            let mut want = input.clone();
            for (b, (kind, _)) in bands.iter().enumerate() {
                let mut bq = Biquad::new(*kind);
                bq.prepare(&PrepareContext { sample_rate: FS, max_block: 64, channels });
                render(&mut bq, &mut want, channels, frames, 64, 3, sweep, &|i, t| param(&bands, 3 * b + i, t, sweep));
            }
            assert_eq!(got, want, "sweep={sweep}");
        }
    }

    #[test]
    fn impulse_response_matches_df1_cascade() {
        let n = 4096;
        let mut impulse = vec![0.0; n];
        impulse[0] = 1.0;
        for fs in [44_100.0, 48_000.0, 96_000.0] {
            let bands = bank();
            let mut want = impulse.clone();
            for (kind, [f, q, g]) in &bands {
                want = ref_df1(ref_coeffs(*kind, *f, *q, *g, fs), &want);
            }
            let mut eq = Eq::new(bands.iter().map(|b| b.0).collect());
            eq.prepare(&PrepareContext { sample_rate: fs, max_block: 128, channels: 1 });
            let mut got = impulse.clone();
            render(&mut eq, &mut got, 1, n, 128, 24, false, &|i, t| param(&bands, i, t, false));
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (t, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-12 * scale, "fs={fs} n={t}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn block_size_invariant() {
        let bands = bank();
        let (channels, frames) = (2, 1500);
        let mut input = noise(frames, 13);
        input.extend(noise(frames, 14));
        for sweep in [false, true] {
            let run = |block: usize| {
                let mut eq = eq_for(&bands, block, channels);
                let mut d = input.clone();
                render(&mut eq, &mut d, channels, frames, block, 24, sweep, &|i, t| param(&bands, i, t, sweep));
                d
            };
            let reference = run(128);
            for block in [1, 37, 64] {
                assert_eq!(run(block), reference, "sweep={sweep} block={block}");
            }
        }
    }

    #[test]
    fn take_state_keeps_filter_memory_across_a_swap() {
        let bands = bank();
        let (channels, frames, split) = (2, 800, 333);
        let mut input = noise(frames, 15);
        input.extend(noise(frames, 16));
        let p = |i: usize, t: usize| param(&bands, i, t, false);
        let mut whole = input.clone();
        render(&mut eq_for(&bands, 64, channels), &mut whole, channels, frames, 64, 24, false, &p);

        let mut first = eq_for(&bands, 64, channels);
        let mut a: Vec<f64> = (0..channels).flat_map(|c| input[c * frames..c * frames + split].to_vec()).collect();
        render(&mut first, &mut a, channels, split, 64, 24, false, &p);
        let rest = frames - split;
        let tail = || -> Vec<f64> {
            (0..channels).flat_map(|c| input[c * frames + split..(c + 1) * frames].to_vec()).collect()
        };
        let mut second = eq_for(&bands, 64, channels);
        assert!(second.take_state(&mut first));
        let mut b = tail();
        render(&mut second, &mut b, channels, rest, 64, 24, false, &p);
        for c in 0..channels {
            assert_eq!(&b[c * rest..(c + 1) * rest], &whole[c * frames + split..(c + 1) * frames]);
        }

        // Without the take the continuation differs; reset clears the memory.
        let mut fresh = eq_for(&bands, 64, channels);
        let mut b2 = tail();
        render(&mut fresh, &mut b2, channels, rest, 64, 24, false, &p);
        assert_ne!(b2, b);
        second.reset();
        let mut b3 = tail();
        render(&mut second, &mut b3, channels, rest, 64, 24, false, &p);
        assert_eq!(b3, b2);

        assert!(!second.take_state(&mut Gain::new()));
        assert!(!second.take_state(&mut Biquad::new(BiquadType::Lowpass)));
    }

    #[test]
    fn mono_cascades_are_what_an_unchanged_mono_block_runs() {
        // 10 bands (two cascades), stereo-prepared, fed mono blocks: once the
        // memory is in the kept cascades, running them by hand equals
        // `process_unchanged` on a one-channel bus, bit for bit.
        use crate::processor::ParamBuffer;
        let bands: Vec<(BiquadType, [f64; 3])> = bank().into_iter().chain(bank().into_iter().take(2)).collect();
        let block = 64;
        let params: Vec<ParamBuffer> =
            bands.iter().flat_map(|(_, p)| p.iter().map(|&v| ParamBuffer::new(v, block))).collect();
        let ctx = ProcessContext { frames: block, position: 0, params: &params };
        let (mut by_hand, mut own) = (eq_for(&bands, block, 2), eq_for(&bands, block, 2));
        assert!(by_hand.mono_cascade_mut(0).is_none(), "nothing kept yet");
        let x = noise(block * 6, 21);
        let mut stereo = vec![0.1; 2 * block];
        own.process(&ctx, &mut Bus::new(&mut stereo, 2, block, block));
        assert!(own.mono_cascade_mut(0).is_none(), "stereo memory");
        own.reset();
        for (k, chunk) in x.chunks(block).enumerate() {
            let (mut a, mut b) = (chunk.to_vec(), chunk.to_vec());
            if k == 0 {
                by_hand.process(&ctx, &mut Bus::new(&mut a, 1, block, block));
            } else {
                let level = crate::kernels::simd_level();
                let mut chunks = 0;
                while let Some(c) = by_hand.mono_cascade_mut(chunks) {
                    c.process_at(level, &mut a);
                    c.clear_non_finite_states();
                    chunks += 1;
                }
                assert_eq!(chunks, 2);
            }
            if k == 0 {
                own.process(&ctx, &mut Bus::new(&mut b, 1, block, block));
            } else {
                own.process_unchanged(&ctx, &mut Bus::new(&mut b, 1, block, block));
            }
            assert_eq!(
                a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            assert_ne!(a, chunk);
        }
    }

    #[test]
    fn empty_bank_passes_through() {
        let input = noise(100, 17);
        let mut eq = Eq::new(Vec::new());
        eq.prepare(&PrepareContext { sample_rate: FS, max_block: 32, channels: 1 });
        let mut d = input.clone();
        render(&mut eq, &mut d, 1, 100, 32, 0, false, &|_, _| 0.0);
        assert_eq!(d, input);
        assert!(eq.is_empty());
    }

    #[test]
    fn stereo_blocks_on_kept_cascades_equal_each_channel_alone() {
        // 10 bands (two chunks), stereo, parameters changing between blocks
        // (constant, then a new constant, then a varying block, then back),
        // a hand-over to new EQs, a NaN input and a reset while the stereo
        // memory lives in the kept cascades: the stereo path against two mono
        // EQs, bit for bit.
        use crate::processor::ParamBuffer;
        let bands: Vec<(BiquadType, [f64; 3])> = bank().into_iter().chain(bank().into_iter().take(2)).collect();
        let types: Vec<BiquadType> = bands.iter().map(|b| b.0).collect();
        let block = 64;
        let mut stereo = Eq::new(types.clone());
        stereo.prepare(&PrepareContext { sample_rate: FS, max_block: block, channels: 2 });
        let mut mono = [Eq::new(types.clone()), Eq::new(types)];
        for m in &mut mono {
            m.prepare(&PrepareContext { sample_rate: FS, max_block: block, channels: 1 });
        }
        let (xl, xr) = (noise(block * 40, 3), noise(block * 40, 4));
        let mut params: Vec<ParamBuffer> =
            bands.iter().flat_map(|(_, p)| p.iter().map(|&v| ParamBuffer::new(v, block))).collect();
        for k in 0..40 {
            let scale = match k / 10 {
                0 => 1.0,
                1 => 1.3,
                _ => 0.8,
            };
            for (i, p) in params.iter_mut().enumerate() {
                let base = bands[i / 3].1[i % 3];
                let v = if i % 3 == 0 { base * scale } else { base };
                if k == 25 && i == 4 {
                    p.varying_mut(block).iter_mut().enumerate().for_each(|(t, x)| *x = v * (1.0 + t as f64 * 0.01));
                } else {
                    p.set_constant(v);
                }
            }
            if k == 32 {
                let types: Vec<BiquadType> = bands.iter().map(|b| b.0).collect();
                let mut next = Eq::new(types.clone());
                assert!(next.take_state(&mut stereo));
                next.prepare(&PrepareContext { sample_rate: FS, max_block: block, channels: 2 });
                stereo = next;
                for m in &mut mono {
                    let mut next = Eq::new(types.clone());
                    assert!(next.take_state(m));
                    next.prepare(&PrepareContext { sample_rate: FS, max_block: block, channels: 1 });
                    *m = next;
                }
            }
            if k == 37 {
                stereo.reset();
                mono.iter_mut().for_each(Processor::reset);
            }
            let ctx = ProcessContext { frames: block, position: (k * block) as u64, params: &params };
            let nan_at = |c: usize, i: usize| k == 35 && c == 0 && i == 7;
            let mut buf: Vec<f64> =
                xl[k * block..(k + 1) * block].iter().chain(&xr[k * block..(k + 1) * block]).copied().collect();
            if k == 35 {
                buf[7] = f64::NAN;
            }
            // Parameters as in the previous block: the host may say so.
            let unchanged = k % 10 != 0 && k != 25 && k != 26 && k != 32;
            if unchanged {
                stereo.process_unchanged(&ctx, &mut Bus::new(&mut buf, 2, block, block));
            } else {
                stereo.process(&ctx, &mut Bus::new(&mut buf, 2, block, block));
            }
            for (c, m) in mono.iter_mut().enumerate() {
                let x = if c == 0 { &xl } else { &xr };
                let mut one = x[k * block..(k + 1) * block].to_vec();
                one.iter_mut().enumerate().filter(|(i, _)| nan_at(c, *i)).for_each(|(_, v)| *v = f64::NAN);
                m.process(&ctx, &mut Bus::new(&mut one, 1, block, block));
                let got: Vec<u64> = buf[c * block..(c + 1) * block].iter().map(|v| v.to_bits()).collect();
                let want: Vec<u64> = one.iter().map(|v| v.to_bits()).collect();
                assert_eq!(got, want, "block {k} channel {c}");
                if k == 36 {
                    assert!(buf.iter().all(|v| v.is_finite()), "recovered after the NaN");
                }
            }
        }
    }
}
