//! [`JsProcessor`]: the `processor` node as the render core drives it.

use super::memory::{self as m, Layout};
use super::Region;
use ferrite_dsp::{Bus, PrepareContext, ProcessContext, Processor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A processor whose DSP runs on a JavaScript worker, `K` blocks behind
/// (see [`super`]). Without a region (a graph asked only for its latency)
/// it reports the same latency and plays silence.
pub struct JsProcessor {
    id: u64,
    region: Option<Arc<Region>>,
    layout: Layout,
    blocking: bool,
}

impl JsProcessor {
    /// A processor on `region` (control side).
    pub fn new(region: Arc<Region>) -> Self {
        let layout = region.layout;
        Self { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), region: Some(region), layout, blocking: false }
    }

    /// A processor with this shape and no worker: it reports the latency
    /// `latency_blocks × block` and plays silence (latency queries).
    pub fn detached(channels: usize, block: usize, latency_blocks: usize, params: usize) -> Self {
        let layout = Layout::new(channels, block, latency_blocks + 1, latency_blocks, params);
        Self { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), region: None, layout, blocking: false }
    }

    /// The region, when this processor may run on it now: the first
    /// processor to run on a region takes it; later ones get it by
    /// `take_state` (the graph swap's hand-over).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn owned_region(&self) -> Option<&Region> {
        let r = self.region.as_deref()?;
        let owner = r.owner.load(Ordering::Relaxed);
        if owner == self.id
            || (owner == 0 && r.owner.compare_exchange(0, self.id, Ordering::Relaxed, Ordering::Relaxed).is_ok())
        {
            Some(r)
        } else {
            None
        }
    }
}

/// Whether block `b`'s output is in its slot.
#[inline(always)]
fn block_ready(r: &Region, b: u64) -> bool {
    let l = &r.layout;
    let slot = (b % l.slots as u64) as usize;
    r.ring.load(l.stamps + slot, Ordering::Acquire) == (b as u32).wrapping_add(1)
}

/// Waits (offline only) until block `b`'s output is there or the worker is gone.
fn wait_for_block(r: &Region, b: u64) -> bool {
    loop {
        let done = r.ring.load(m::DONE, Ordering::SeqCst);
        if block_ready(r, b) {
            return true;
        }
        if r.ring.load(m::STATE, Ordering::SeqCst) == m::STATE_GONE {
            return false;
        }
        r.ring.store(m::WAITING, 1, Ordering::SeqCst);
        if block_ready(r, b) {
            return true;
        }
        super::wait(&r.ring, m::DONE, done);
    }
}

impl Processor for JsProcessor {
    fn prepare(&mut self, _ctx: &PrepareContext) {}

    /// Copies the block into the ring and plays the block `K` blocks back.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic; never waits unless the render is
    /// offline ([`Processor::set_blocking`]). Its one system call is the
    /// futex wake of a sleeping worker, which does not block.
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let Some(r) = self.owned_region() else {
            io.fill_zero();
            return;
        };
        let l = self.layout;
        let (q, n_slots, k) = (l.block as u64, l.slots as u64, l.latency_blocks as u64);
        let bus_ch = io.channels();
        let relaxed = Ordering::Relaxed;
        let mut frames = r.frames.load(relaxed);
        let mut done = 0usize;
        while done < ctx.frames {
            let off = (frames % q) as usize;
            let block = frames / q;
            let n = (ctx.frames - done).min(l.block - off);
            let slot = (block % n_slots) as usize;
            let base = l.data + slot * l.slot_words;
            // Input: the bus channels (a one-channel processor gets their mean).
            if off == 0 {
                r.ring.store_f64(l.pos + 2 * slot, (ctx.position + done as u64) as f64);
            }
            for c in 0..l.channels {
                let dst = r.ring.slice(base + c * l.block + off, n);
                if l.channels == 1 && bus_ch > 1 {
                    let scale = 1.0 / bus_ch as f64;
                    for (i, d) in dst.iter().enumerate() {
                        let mut s = 0.0;
                        for bc in 0..bus_ch {
                            s += io.channel(bc).get(done + i).copied().unwrap_or(0.0);
                        }
                        d.store(((s * scale) as f32).to_bits(), relaxed);
                    }
                } else {
                    let src = io.channel(c);
                    for (i, d) in dst.iter().enumerate() {
                        d.store((src.get(done + i).copied().unwrap_or(0.0) as f32).to_bits(), relaxed);
                    }
                }
            }
            // Parameters: every frame's value, and whether the block is constant.
            let pbase = base + 2 * l.channels * l.block;
            for p in 0..l.params {
                let pb = ctx.param(p);
                let dst = r.ring.slice(pbase + p * l.block + off, n);
                for (i, d) in dst.iter().enumerate() {
                    d.store((pb.at(done + i) as f32).to_bits(), relaxed);
                }
                let flag = l.flags + slot * l.params + p;
                let constant = match pb.constant() {
                    Some(_) if off == 0 => true,
                    Some(v) => {
                        r.ring.load(flag, relaxed) == 1
                            && r.ring.load(pbase + p * l.block, relaxed) == (v as f32).to_bits()
                    }
                    None => false,
                };
                r.ring.store(flag, u32::from(constant), relaxed);
            }
            // Output: block `block - K`, decided once per block.
            let out_ok = if block >= k {
                let b = block - k;
                if r.checked.load(relaxed) != b + 1 {
                    let mut ready = block_ready(r, b);
                    if !ready && self.blocking {
                        ready = wait_for_block(r, b);
                    }
                    if !ready {
                        r.ring.word(m::UNDERRUNS).map(|w| w.fetch_add(1, relaxed));
                    }
                    r.ready.store(ready, relaxed);
                    r.checked.store(b + 1, relaxed);
                }
                r.ready.load(relaxed).then_some((b % n_slots) as usize)
            } else {
                None
            };
            match out_ok {
                Some(os) => {
                    let obase = l.data + os * l.slot_words + l.channels * l.block;
                    for c in 0..bus_ch {
                        let pc = if l.channels == 1 { 0 } else { c };
                        let src = r.ring.slice(obase + pc * l.block + off, n);
                        let Some(dst) = io.channel_mut(c).get_mut(done..done + n) else { continue };
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d = f64::from(f32::from_bits(s.load(relaxed)));
                        }
                    }
                }
                None => {
                    for c in 0..bus_ch {
                        if let Some(dst) = io.channel_mut(c).get_mut(done..done + n) {
                            dst.fill(0.0);
                        }
                    }
                }
            }
            frames += n as u64;
            done += n;
            if off + n == l.block {
                // Block complete: hand it over and ring the doorbell.
                r.ring.store(m::PUBLISHED, (block as u32).wrapping_add(1), Ordering::SeqCst);
                if let Some(ring) = r.door.word(m::DOOR_RING) {
                    ring.fetch_add(1, Ordering::SeqCst);
                    if r.door.word(m::DOOR_SLEEPING).is_some_and(|s| s.swap(0, Ordering::SeqCst) == 1) {
                        atomic_wait::wake_all(ring);
                    }
                }
            }
        }
        r.frames.store(frames, relaxed);
    }

    /// Nothing to clear here: the worker's instance keeps its own state.
    fn reset(&mut self) {}

    fn latency(&self) -> usize {
        self.layout.latency_blocks * self.layout.block
    }

    /// Takes over the region from the same instance's processor in the
    /// previous graph: from now on this one writes the ring, the other plays
    /// silence. Runs on the audio thread (a swap of ids: no allocation).
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        let Some(prev) = previous.as_any_mut().downcast_mut::<JsProcessor>() else { return false };
        let (Some(a), Some(b)) = (self.region.as_ref(), prev.region.as_ref()) else { return false };
        if !Arc::ptr_eq(a, b) {
            return false;
        }
        let _ = a.owner.compare_exchange(prev.id, self.id, Ordering::Relaxed, Ordering::Relaxed);
        true
    }

    fn set_blocking(&mut self, blocking: bool) {
        self.blocking = blocking;
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}
