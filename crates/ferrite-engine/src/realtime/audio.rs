//! [`AudioCore`]: everything the audio thread owns and does in one callback.

use super::messages::{ControlMsg, Garbage, LaneSet, MeterMsg, ParamMsg, Program};
use super::record::{BlockSources, Recorder};
use super::workers::Team;
use super::{Shared, MAX_RECORDINGS, MAX_SCHEDULED};
use crate::meter::{reading_of, reset_integration, restart_interval};
use crate::parallel::RtGraph;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The audio-thread half of an engine. `Send` (it moves to the audio thread
/// once) and driven only through `&mut self`.
pub struct AudioCore {
    program: Option<Box<Program>>,
    programs: triple_buffer::Output<Option<Box<Program>>>,
    lane_sets: triple_buffer::Output<Option<Box<LaneSet>>>,
    pending_lanes: Option<Box<LaneSet>>,
    params: rtrb::Consumer<ControlMsg>,
    scheduled: Vec<ParamMsg>,
    garbage: rtrb::Producer<Garbage>,
    pending_garbage: Option<Garbage>,
    meters: rtrb::Producer<MeterMsg>,
    shared: Arc<Shared>,
    frames_since_meters: u64,
    loop_region: Option<(u64, u64)>,
    fading: Option<Fade>,
    new_recorders: rtrb::Consumer<Box<Recorder>>,
    // Boxed: each arrives allocated by the control side and goes back there to be freed.
    #[allow(clippy::vec_box)]
    recorders: Vec<Box<Recorder>>,
    /// The workers that render a split program's parts with this thread.
    team: Option<Team>,
}

/// The previous program while a structural swap crossfades away from it.
struct Fade {
    program: Box<Program>,
    remaining: u64,
    total: u64,
}

/// Copies the device input into the input node of each of a program's
/// graphs that reads it, for `n` frames from `offset`.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn feed_input(graph: &mut RtGraph, input: &[f32], in_channels: usize, offset: usize, n: usize) {
    graph.each_graph_mut(|g| feed_graph(g, input, in_channels, offset, n));
}

fn feed_graph(graph: &mut crate::render::CompiledGraph, input: &[f32], in_channels: usize, offset: usize, n: usize) {
    if !graph.uses_input() {
        return;
    }
    for c in 0..graph.channels() {
        let dst = graph.input_mut(c);
        for (i, d) in dst.iter_mut().take(n).enumerate() {
            *d = if in_channels == 0 {
                0.0
            } else {
                input.get((offset + i) * in_channels + c % in_channels).map_or(0.0, |&x| f64::from(x))
            };
        }
    }
}

impl AudioCore {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        programs: triple_buffer::Output<Option<Box<Program>>>,
        lane_sets: triple_buffer::Output<Option<Box<LaneSet>>>,
        params: rtrb::Consumer<ControlMsg>,
        garbage: rtrb::Producer<Garbage>,
        meters: rtrb::Producer<MeterMsg>,
        new_recorders: rtrb::Consumer<Box<Recorder>>,
        shared: Arc<Shared>,
        team: Option<Team>,
    ) -> Self {
        Self {
            program: None,
            programs,
            lane_sets,
            pending_lanes: None,
            params,
            scheduled: Vec::with_capacity(MAX_SCHEDULED),
            garbage,
            pending_garbage: None,
            meters,
            shared,
            frames_since_meters: 0,
            loop_region: None,
            fading: None,
            new_recorders,
            recorders: Vec::with_capacity(MAX_RECORDINGS),
            team,
        }
    }

    /// How many threads render: this one and its workers.
    pub fn threads(&self) -> usize {
        1 + self.team.as_ref().map_or(0, Team::workers)
    }

    /// How many parts the running program renders at the same time (1:
    /// whole, or no program yet).
    pub fn parts(&self) -> usize {
        self.program.as_ref().map_or(1, |p| p.graph.parts())
    }

    /// Whether the running program sums its mix node's inputs while the
    /// parts render (as they finish, on any thread) instead of after them.
    pub fn chained_sum(&self) -> bool {
        self.program.as_ref().is_some_and(|p| p.graph.chained_sum())
    }

    /// How many split-program parts the workers (not the audio thread)
    /// have rendered so far.
    pub fn parts_helped(&self) -> u64 {
        self.team.as_ref().map_or(0, Team::helped)
    }

    /// The shared atomics.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Renders one device buffer: `output` is interleaved, `frames × channels`;
    /// `input` is interleaved with `in_channels` channels (may be empty).
    ///
    /// # Realtime
    /// Does not allocate, free, lock, log or panic.
    pub fn render(&mut self, output: &mut [f32], input: &[f32], in_channels: usize, frames: usize, channels: usize) {
        self.take_new_program();
        self.take_new_lanes();
        self.drain_params();
        self.take_new_recorders();
        let transport = &self.shared.transport;
        if let Some(region) = transport.loop_region() {
            self.loop_region = region;
        }
        let mut pos = transport.position();
        if let Some(seek) = transport.take_seek() {
            pos = seek;
        }
        let playing = transport.playing();
        let (Some(prog), true) = (self.program.as_mut(), playing) else {
            output.fill(0.0);
            self.retire_recorders();
            return;
        };
        let graph = &mut prog.graph;
        let gch = graph.channels();
        let mb = graph.max_block().max(1);
        let frames = frames.min(output.len() / channels.max(1));
        let mut done = 0usize;
        while done < frames {
            // Changes due now take effect before this frame renders.
            let gen = prog.generation;
            let mut k = 0;
            while k < self.scheduled.len() {
                match self.scheduled.get(k).copied() {
                    Some(m) if m.generation != gen => {
                        self.scheduled.swap_remove(k);
                    }
                    Some(m) if m.at_frame.unwrap_or(0) <= pos => {
                        if let Some(c) = graph.param_mut(m.node as usize, m.param as usize) {
                            c.set(m.value, m.ramp_frames);
                        }
                        self.scheduled.swap_remove(k);
                    }
                    _ => k += 1,
                }
            }
            // The sub-block ends at the buffer's end, the block size, the loop end or the next scheduled change.
            let mut n = (frames - done).min(mb) as u64;
            if let Some((_, end)) = self.loop_region {
                if pos < end {
                    n = n.min(end - pos);
                }
            }
            for m in self.scheduled.iter() {
                if let Some(at) = m.at_frame {
                    if at > pos && at - pos < n {
                        n = at - pos;
                    }
                }
            }
            let n = n.max(1) as usize;
            feed_input(graph, input, in_channels, done, n);
            graph.render_block(pos, n, self.team.as_ref());
            // A structural swap crossfades from the previous graph, which keeps
            // rendering (from its own state) until the fade ends.
            let fade = match self.fading.as_mut() {
                Some(f) => {
                    feed_input(&mut f.program.graph, input, in_channels, done, n);
                    f.program.graph.render_block(pos, n, self.team.as_ref());
                    Some(f)
                }
                None => None,
            };
            let old = fade.as_ref().map(|f| (&f.program.graph, f.remaining, f.total));
            let out = output.get_mut(done * channels..(done + n) * channels).unwrap_or(&mut []);
            for c in 0..channels {
                let src = graph.output(c % gch.max(1), n);
                let frames_out = out.chunks_exact_mut(channels.max(1)).map(|o| o.get_mut(c));
                match old {
                    None => {
                        for (o, &x) in frames_out.zip(src) {
                            if let Some(o) = o {
                                *o = x as f32;
                            }
                        }
                    }
                    // While a swap crossfades: an equal-gain linear fade from the old graph to the new.
                    Some((prev, remaining, total)) => {
                        let prev = prev.output(c % gch.max(1), n);
                        for (i, ((o, &x), &p)) in frames_out.zip(src).zip(prev).enumerate() {
                            let t = ((total - remaining + i as u64) as f64 / total as f64).min(1.0);
                            if let Some(o) = o {
                                *o = (x * t + p * (1.0 - t)) as f32;
                            }
                        }
                    }
                }
            }
            if !self.recorders.is_empty() {
                let sources = BlockSources {
                    graph: graph.mix(),
                    input: input.get(done * in_channels..(done + n) * in_channels).unwrap_or(&[]),
                    in_channels,
                    output: output.get(done * channels..(done + n) * channels).unwrap_or(&[]),
                    out_channels: channels,
                };
                for r in self.recorders.iter_mut() {
                    r.capture(pos, n, &sources, &self.shared);
                }
            }
            if let Some(f) = self.fading.as_mut() {
                f.remaining = f.remaining.saturating_sub(n as u64);
            }
            done += n;
            pos += n as u64;
            if let Some((start, end)) = self.loop_region {
                if pos == end {
                    pos = start;
                }
            }
        }
        if let Some(rest) = output.get_mut(frames * channels..) {
            rest.fill(0.0);
        }
        self.shared.transport.set_position(pos);
        if self.fading.as_ref().is_some_and(|f| f.remaining == 0) {
            if let Some(f) = self.fading.take() {
                self.discard(Garbage::Program(f.program));
            }
        }
        self.push_meters(frames as u64);
        self.retire_recorders();
    }

    /// Takes recorders the control side started, binds every recorder to the
    /// running program and ends those asked to stop.
    ///
    /// # Realtime
    /// Does not allocate (the list has room for `MAX_RECORDINGS`), lock or panic.
    fn take_new_recorders(&mut self) {
        while let Ok(r) = self.new_recorders.pop() {
            if self.recorders.len() < self.recorders.capacity() {
                self.recorders.push(r);
            } else {
                // The control side starts at most MAX_RECORDINGS: cannot happen.
                let mut r = r;
                r.retire();
                self.discard(Garbage::Recorder(r));
            }
        }
        let (generation, graph, taps) = match self.program.as_ref() {
            Some(p) => (p.generation, p.graph.mix(), &p.taps[..]),
            None => return,
        };
        for r in self.recorders.iter_mut() {
            r.bind(generation, graph, taps);
            r.poll();
        }
    }

    /// Hands recorders that have ended back to the control side, after
    /// telling their writers that no more frames come.
    ///
    /// # Realtime
    /// Does not allocate, free, lock or panic.
    fn retire_recorders(&mut self) {
        for r in self.recorders.iter_mut() {
            r.poll();
        }
        let mut k = 0;
        while k < self.recorders.len() {
            if self.recorders.get(k).is_some_and(|r| r.finished()) {
                let mut r = self.recorders.swap_remove(k);
                r.retire();
                self.discard(Garbage::Recorder(r));
            } else {
                k += 1;
            }
        }
    }

    /// Takes the newest published program, if any, handing state over from the current one.
    fn take_new_program(&mut self) {
        if !self.programs.update() {
            return;
        }
        let Some(mut new) = self.programs.output_buffer_mut().take() else { return };
        if let Some(old) = self.program.as_mut() {
            new.graph.take_state_from(&mut old.graph);
        }
        self.shared.generation.store(new.generation, Ordering::Release);
        let fade = new.crossfade_frames;
        if let Some(old) = self.program.replace(new) {
            if fade > 0 {
                if let Some(previous) = self.fading.replace(Fade { program: old, remaining: fade, total: fade }) {
                    self.discard(Garbage::Program(previous.program));
                }
            } else {
                self.discard(Garbage::Program(old));
            }
        }
    }

    /// Takes the newest published lane set: it replaces the running graph's
    /// lanes when it was made for that graph, waits when its graph is not yet
    /// taken, and goes back to the control side when it is stale.
    fn take_new_lanes(&mut self) {
        if self.lane_sets.update() {
            if let Some(set) = self.lane_sets.output_buffer_mut().take() {
                if let Some(older) = self.pending_lanes.replace(set) {
                    self.discard(Garbage::Lanes(older));
                }
            }
        }
        let gen = self.program.as_ref().map_or(0, |p| p.generation);
        match self.pending_lanes.as_ref().map(|s| s.generation) {
            Some(g) if g == gen => {
                if let (Some(mut set), Some(prog)) = (self.pending_lanes.take(), self.program.as_mut()) {
                    prog.graph.swap_lanes(&mut set.per);
                    self.discard(Garbage::Lanes(set));
                }
            }
            Some(g) if g < gen => {
                if let Some(set) = self.pending_lanes.take() {
                    self.discard(Garbage::Lanes(set));
                }
            }
            _ => {}
        }
    }

    /// Hands a replaced program back to the control side; never frees here.
    fn discard(&mut self, old: Garbage) {
        if let Some(p) = self.pending_garbage.take() {
            if let Err(rtrb::PushError::Full(p)) = self.garbage.push(p) {
                self.pending_garbage = Some(p);
            }
        }
        match self.garbage.push(old) {
            Ok(()) => {}
            Err(rtrb::PushError::Full(old)) => {
                if self.pending_garbage.is_none() {
                    self.pending_garbage = Some(old);
                } else {
                    // The control side has stopped collecting: leaking is
                    // better than freeing on the audio thread.
                    std::mem::forget(old);
                    self.shared.leaked_programs.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn drain_params(&mut self) {
        let gen = self.program.as_ref().map_or(0, |p| p.generation);
        while let Ok(&m) = self.params.peek() {
            if m.generation() > gen {
                // Its graph is published but not yet taken: wait for it.
                break;
            }
            let _ = self.params.pop();
            if m.generation() < gen {
                continue;
            }
            let m = match m {
                ControlMsg::Param(p) => p,
                ControlMsg::ResetMeter { node, .. } => {
                    if let Some(p) = self.program.as_mut().and_then(|p| p.graph.processor_mut(node as usize)) {
                        reset_integration(p);
                    }
                    continue;
                }
            };
            if m.at_frame.is_some() {
                if self.scheduled.len() < self.scheduled.capacity() {
                    self.scheduled.push(m);
                } else {
                    self.shared.dropped_messages.fetch_add(1, Ordering::Relaxed);
                }
            } else if let Some(c) =
                self.program.as_mut().and_then(|p| p.graph.param_mut(m.node as usize, m.param as usize))
            {
                c.set(m.value, m.ramp_frames);
            }
        }
    }

    fn push_meters(&mut self, frames: u64) {
        let period = self.shared.meter_period.load(Ordering::Relaxed);
        self.frames_since_meters += frames;
        if period == 0 {
            // Nobody listens: restart the meters' intervals so that a new
            // subscriber's first reading covers only its own interval.
            self.frames_since_meters = 0;
            if let Some(prog) = self.program.as_mut() {
                for k in 0..prog.graph.meters().len() {
                    let Some(idx) = prog.graph.meters().get(k).map(|m| m.1) else { continue };
                    if let Some(p) = prog.graph.processor_mut(idx) {
                        restart_interval(p);
                    }
                }
            }
            return;
        }
        if self.frames_since_meters < period {
            return;
        }
        self.frames_since_meters = 0;
        let Some(prog) = self.program.as_mut() else { return };
        let generation = prog.generation;
        let graph = &mut prog.graph;
        for k in 0..graph.meters().len() {
            let Some(idx) = graph.meters().get(k).map(|m| m.1) else { continue };
            let Some(reading) = graph.processor_mut(idx).and_then(|p| reading_of(p, false)) else { continue };
            if self.meters.push(MeterMsg { generation, meter: k as u32, reading }).is_err() {
                self.shared.dropped_messages.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
