//! The sections behind [`super::Biquad`] and [`crate::eq::Eq`]: one biquad
//! with its coefficient cache and per-channel state ([`Section`]), the runs of
//! a series of sections through the cascade kernel (one channel, a stereo
//! pair, or kept between blocks in a [`PairCache`]), and the moves of their
//! state in and out of a [`BiquadBank`]. Every path performs the kernels'
//! arithmetic at the current level, so they give the same bits.

use super::{amplitude, clamp_q, coefficients, design, trig, BiquadType, Coeffs};
use crate::kernels::{simd_level, BiquadBank, BiquadCascade, SimdLevel, MAX_CASCADE_STAGES};
use crate::processor::{Bus, ParamBlock, ProcessContext};

/// Whether the kernels fuse `a·b + c` at `level` (AVX2, AVX-512, NEON).
#[inline]
fn is_fused(level: SimdLevel) -> bool {
    matches!(level, SimdLevel::Avx2 | SimdLevel::Avx512 | SimdLevel::Neon)
}

/// Per-frame coefficients with exactly the arithmetic of the kernels at a
/// level of this flavour (see [`crate::kernels::biquad`]), so that a varying
/// block and a constant block (run by the kernels) continue the same filter
/// bit for bit.
#[inline]
fn varying_kernel_flavour<const FUSED: bool>(coeffs: &[Coeffs], state: &mut [f64; 2], samples: &mut [f64]) {
    for (x, c) in samples.iter_mut().zip(coeffs) {
        *x = crate::kernels::biquad::tdf2_step::<FUSED>(c, state, *x);
    }
}

/// Runs the first `prepared` channels of `io` through `sections` in series
/// with their cached coefficients. A stereo bus (exactly 2 prepared channels)
/// runs both channels in one interleaved pass
/// ([`BiquadCascade::process_pair_at`], the same bits as one channel at a
/// time); any other count runs channel by channel.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn cascade_bus(level: SimdLevel, sections: &mut [Section], prepared: usize, io: &mut Bus<'_>) {
    if prepared == 2 {
        let mut channels = io.channels_mut();
        if let (Some(l), Some(r)) = (channels.next(), channels.next()) {
            cascade_pair(level, sections, l, r);
            return;
        }
    }
    for (c, ch) in io.channels_mut().enumerate().take(prepared) {
        cascade_channel(level, sections, c, ch);
    }
}

/// A cascade of `chunk`'s coefficients with channel `c`'s state.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn load_cascade(chunk: &[Section], c: usize) -> BiquadCascade {
    let mut cascade = BiquadCascade::new(chunk.len());
    for (k, s) in chunk.iter().enumerate() {
        cascade.set_coeffs(k, s.coeffs);
        if let Some(z) = s.states.get(c) {
            cascade.set_state(k, *z);
        }
    }
    cascade
}

/// Moves channel `c`'s state from `cascade` back into `chunk`.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn store_cascade(chunk: &mut [Section], c: usize, cascade: &BiquadCascade) {
    for (k, s) in chunk.iter_mut().enumerate() {
        if let (Some(z), Some(dst)) = (cascade.state(k), s.states.get_mut(c)) {
            *dst = z;
        }
    }
}

/// Runs channels 0 (`l`) and 1 (`r`) through `sections` in series, both in
/// one interleaved stereo wavefront per chunk of up to 8 sections; the state
/// of both channels moves from the sections into the cascades and back.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn cascade_pair(level: SimdLevel, sections: &mut [Section], l: &mut [f64], r: &mut [f64]) {
    for chunk in sections.chunks_mut(MAX_CASCADE_STAGES) {
        let (mut a, mut b) = (load_cascade(chunk, 0), load_cascade(chunk, 1));
        a.process_pair_at(level, l, &mut b, r);
        store_cascade(chunk, 0, &a);
        store_cascade(chunk, 1, &b);
    }
}

/// Runs channel `c` of `data` through `sections` in series with their cached
/// coefficients, as [`BiquadCascade`]s of up to 8 stages; the state moves
/// from the sections into the cascade and back.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn cascade_channel(level: SimdLevel, sections: &mut [Section], c: usize, data: &mut [f64]) {
    for chunk in sections.chunks_mut(MAX_CASCADE_STAGES) {
        let mut cascade = load_cascade(chunk, c);
        cascade.process_at(level, data);
        store_cascade(chunk, c, &cascade);
    }
}

/// [`BankFilter::load_bank`] for a series of sections.
pub(crate) fn load_sections(
    sections: &mut [Section],
    fs: f64,
    ctx: &ProcessContext<'_>,
    bank: &mut BiquadBank,
    first_lane: usize,
) -> bool {
    let all_constant = (0..sections.len() * 3).all(|i| ctx.param(i).constant().is_some());
    if !all_constant {
        return false;
    }
    for (band, s) in sections.iter_mut().enumerate() {
        let base = band * 3;
        let params = [ctx.param(base), ctx.param(base + 1), ctx.param(base + 2)];
        let Some(c) = s.constant_coeffs(fs, params) else { return false };
        for (ch, z) in s.states.iter().enumerate() {
            bank.set_coeffs(band, first_lane + ch, c);
            bank.set_state(band, first_lane + ch, *z);
        }
    }
    true
}

/// The two cascades of one chunk of up to 8 sections of a stereo filter,
/// kept between blocks with their coefficients so that a block with
/// unchanged parameters only moves the filter memory in and out (see
/// [`cascade_pair_cached`]).
#[derive(Debug, Clone)]
pub(crate) struct PairCache {
    a: BiquadCascade,
    b: BiquadCascade,
    /// The section keys the cascades' coefficients belong to.
    keys: [Option<[f64; 3]>; MAX_CASCADE_STAGES],
}

impl PairCache {
    /// Channel 0's cascade (the one a mono block runs).
    pub(crate) fn mono_mut(&mut self) -> &mut BiquadCascade {
        &mut self.a
    }

    /// Caches for `sections` sections, one per chunk of 8 (control side).
    pub(crate) fn for_sections(sections: usize) -> Vec<Self> {
        (0..sections.div_ceil(MAX_CASCADE_STAGES))
            .map(|k| {
                let n = (sections - k * MAX_CASCADE_STAGES).min(MAX_CASCADE_STAGES);
                Self { a: BiquadCascade::new(n), b: BiquadCascade::new(n), keys: [None; MAX_CASCADE_STAGES] }
            })
            .collect()
    }
}

/// [`cascade_channels`] for a stereo bus with caches from
/// [`PairCache::for_sections`]: the same coefficients, states and kernel
/// ([`BiquadCascade::process_pair_at`]), so the same bits; returns `false`
/// (nothing done) when a parameter varies or the shapes do not match. A
/// one-channel bus (a mono block) runs channel 0's cascades alone.
///
/// `live`: the caches already hold the current filter memory (the previous
/// block ran here too), so it is not loaded from the sections. The memory
/// stays in the caches afterwards (it is not stored back into the sections;
/// see [`store_pair_caches`]), with non-finite states cleared as
/// [`Section::process`] clears them.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn cascade_pair_cached(
    sections: &mut [Section],
    fs: f64,
    ctx: &ProcessContext<'_>,
    caches: &mut [PairCache],
    io: &mut Bus<'_>,
    live: bool,
) -> bool {
    if caches.len() != sections.len().div_ceil(MAX_CASCADE_STAGES) || sections.iter().any(|s| s.channels() != 2) {
        return false;
    }
    for (band, s) in sections.iter_mut().enumerate() {
        let base = band * 3;
        if s.constant_coeffs(fs, [ctx.param(base), ctx.param(base + 1), ctx.param(base + 2)]).is_none() {
            return false;
        }
    }
    if io.channels() != 1 && io.pair_mut(0, 1).is_none() {
        return false;
    }
    for (chunk, cache) in sections.chunks_mut(MAX_CASCADE_STAGES).zip(caches.iter_mut()) {
        for (k, s) in chunk.iter().enumerate() {
            if cache.keys.get(k).copied().flatten() != s.key {
                cache.a.set_coeffs(k, s.coeffs);
                cache.b.set_coeffs(k, s.coeffs);
                if let Some(key) = cache.keys.get_mut(k) {
                    *key = s.key;
                }
            }
            if !live {
                if let (Some(zl), Some(zr)) = (s.states.first(), s.states.get(1)) {
                    cache.a.set_state(k, *zl);
                    cache.b.set_state(k, *zr);
                }
            }
        }
    }
    run_pair_caches(caches, io)
}

/// Runs a stereo bus through `caches` as they are (coefficients and filter
/// memory kept by [`cascade_pair_cached`] for the same parameters): the
/// same bits as [`cascade_pair_cached`] would give: on a one-channel bus
/// (a mono block) channel 0's cascades alone, each a single cascade (the
/// same bits as in the pair). `false` (nothing done) for an empty bus.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn run_pair_caches(caches: &mut [PairCache], io: &mut Bus<'_>) -> bool {
    let level = simd_level();
    if io.channels() == 1 {
        let x = io.channel_mut(0);
        for cache in caches.iter_mut() {
            cache.a.process_at(level, x);
            cache.a.clear_non_finite_states();
        }
        return true;
    }
    let Some((l, r)) = io.pair_mut(0, 1) else { return false };
    for cache in caches.iter_mut() {
        cache.a.process_pair_at(level, l, &mut cache.b, r);
        cache.a.clear_non_finite_states();
        cache.b.clear_non_finite_states();
    }
    true
}

/// Whether both channels' filter memory in `caches` is the same, bit for bit.
pub(crate) fn pair_caches_in_lockstep(caches: &[PairCache]) -> bool {
    caches.iter().all(|c| c.a.same_state(&c.b))
}

/// Stores the filter memory held by `caches` (after [`cascade_pair_cached`])
/// back into `sections`.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn store_pair_caches(sections: &mut [Section], caches: &[PairCache]) {
    for (chunk, cache) in sections.chunks_mut(MAX_CASCADE_STAGES).zip(caches) {
        store_cascade(chunk, 0, &cache.a);
        store_cascade(chunk, 1, &cache.b);
    }
}

/// When every parameter of `sections` is constant over the block: runs
/// every prepared channel of `io` through all of them with the cascade
/// kernel and returns `true`; else returns `false` and does nothing.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn cascade_channels(sections: &mut [Section], fs: f64, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) -> bool {
    let all_constant = (0..sections.len() * 3).all(|i| ctx.param(i).constant().is_some());
    if !all_constant {
        return false;
    }
    for (band, s) in sections.iter_mut().enumerate() {
        let base = band * 3;
        if s.constant_coeffs(fs, [ctx.param(base), ctx.param(base + 1), ctx.param(base + 2)]).is_none() {
            return false;
        }
    }
    let prepared = sections.first().map_or(0, Section::channels);
    cascade_bus(simd_level(), sections, prepared, io);
    for s in sections.iter_mut() {
        s.clear_non_finite();
    }
    true
}

/// [`BankFilter::store_bank`] for a series of sections.
pub(crate) fn store_sections(sections: &mut [Section], bank: &BiquadBank, first_lane: usize) {
    for (band, s) in sections.iter_mut().enumerate() {
        for (ch, z) in s.states.iter_mut().enumerate() {
            if let Some(v) = bank.state(band, first_lane + ch) {
                *z = v;
            }
        }
        s.clear_non_finite();
    }
}

/// One biquad section with its coefficient cache and per-channel state;
/// shared by [`Biquad`] and [`crate::eq::Eq`].
#[derive(Debug, Clone)]
pub(crate) struct Section {
    kind: BiquadType,
    /// Parameter values (as received) the cached coefficients belong to.
    key: Option<[f64; 3]>,
    coeffs: Coeffs,
    /// `[s1, s2]` per channel.
    pub(super) states: Vec<[f64; 2]>,
}

impl Section {
    pub(crate) fn new(kind: BiquadType) -> Self {
        Self { kind, key: None, coeffs: Coeffs::IDENTITY, states: Vec::new() }
    }

    pub(crate) fn kind(&self) -> BiquadType {
        self.kind
    }

    /// Prepared channel count.
    pub(crate) fn channels(&self) -> usize {
        self.states.len()
    }

    /// Control side: one state per channel; keeps state already present
    /// (for example taken from a previous processor) for channels kept.
    pub(crate) fn prepare(&mut self, channels: usize) {
        self.states.resize(channels, [0.0; 2]);
        self.key = None;
    }

    pub(crate) fn reset(&mut self) {
        self.states.fill([0.0; 2]);
    }

    /// Whether every channel's filter memory is channel 0's, bit for bit
    /// (then channels given the same signal give the same samples).
    pub(crate) fn in_lockstep(&self) -> bool {
        let bits = |z: &[f64; 2]| [z[0].to_bits(), z[1].to_bits()];
        let first = self.states.first().map(bits);
        self.states.iter().all(|z| Some(bits(z)) == first)
    }

    /// Gives every channel channel 0's filter memory (after blocks that
    /// ran on channel 0 alone, standing for every channel).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub(crate) fn spread_channel_0(&mut self) {
        if let Some((first, rest)) = self.states.split_first_mut() {
            rest.fill(*first);
        }
    }

    /// Control side: copies `other`'s filter memory (all of it when `self`
    /// has not been prepared yet, else the channels both have).
    pub(crate) fn copy_state_from(&mut self, other: &Section) {
        if self.states.is_empty() {
            self.states.clone_from(&other.states);
        } else {
            for (d, s) in self.states.iter_mut().zip(&other.states) {
                *d = *s;
            }
        }
    }

    /// Filters every channel of `io` for one block.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic. `scratch` must be non-empty for
    /// varying parameters (an empty one leaves the block unfiltered).
    pub(crate) fn process(&mut self, fs: f64, params: [ParamBlock<'_>; 3], scratch: &mut [Coeffs], io: &mut Bus<'_>) {
        let [f, q, g] = params;
        match (f.constant(), q.constant(), g.constant()) {
            (Some(f), Some(q), Some(g)) => {
                let key = [f, q, g];
                if self.key != Some(key) {
                    self.coeffs = coefficients(self.kind, f, q, g, fs);
                    self.key = Some(key);
                }
                let prepared = self.states.len();
                cascade_bus(simd_level(), core::slice::from_mut(self), prepared, io);
            }
            _ => self.process_varying(fs, f, q, g, scratch, io),
        }
        self.clear_non_finite();
    }

    /// A non-finite input would latch NaN into the state forever: clear it.
    pub(super) fn clear_non_finite(&mut self) {
        for st in self.states.iter_mut() {
            if !(st[0].is_finite() && st[1].is_finite()) {
                *st = [0.0; 2];
            }
        }
    }

    /// The cached coefficients for constant parameters (recomputed when a
    /// value changed); `None` when a parameter varies over the block.
    pub(super) fn constant_coeffs(&mut self, fs: f64, params: [ParamBlock<'_>; 3]) -> Option<Coeffs> {
        let [f, q, g] = params;
        let key = [f.constant()?, q.constant()?, g.constant()?];
        if self.key != Some(key) {
            self.coeffs = coefficients(self.kind, key[0], key[1], key[2], fs);
            self.key = Some(key);
        }
        Some(self.coeffs)
    }

    fn process_varying(
        &mut self,
        fs: f64,
        f: ParamBlock<'_>,
        q: ParamBlock<'_>,
        g: ParamBlock<'_>,
        scratch: &mut [Coeffs],
        io: &mut Bus<'_>,
    ) {
        let kind = self.kind;
        // Parts of the design whose parameter is constant are computed once;
        // this gives bit-identical coefficients to computing them per frame.
        let f_const = f.constant().map(|f| trig(f, fs));
        let q_const = q.constant().map(clamp_q);
        let a_const = if kind.uses_gain() { g.constant().map(amplitude) } else { Some(1.0) };
        let frames = io.frames();
        let chunk = scratch.len();
        if chunk == 0 {
            return;
        }
        let mut start = 0;
        while start < frames {
            let n = chunk.min(frames - start);
            let Some(coeffs) = scratch.get_mut(..n) else {
                return;
            };
            for (i, c) in coeffs.iter_mut().enumerate() {
                let frame = start + i;
                let (s, cs) = match f_const {
                    Some(v) => v,
                    None => trig(f.at(frame), fs),
                };
                let qv = match q_const {
                    Some(v) => v,
                    None => clamp_q(q.at(frame)),
                };
                let a = match a_const {
                    Some(v) => v,
                    None => amplitude(g.at(frame)),
                };
                *c = design(kind, s, cs, qv, a);
            }
            let fused = is_fused(simd_level());
            for (ch, st) in io.channels_mut().zip(self.states.iter_mut()) {
                if let Some(x) = ch.get_mut(start..start + n) {
                    if fused {
                        varying_kernel_flavour::<true>(coeffs, st, x);
                    } else {
                        varying_kernel_flavour::<false>(coeffs, st, x);
                    }
                }
            }
            start += n;
        }
        // The constant cache no longer matches the last frame's values.
        self.key = None;
    }
}
