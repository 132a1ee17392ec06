//! A graph rendered as parts at the same time and a mix after them
//! ([`SplitGraph`]), and what an offline render drives ([`OfflineGraph`]).

use super::board::MAX_TASKS;
use super::board::{Board, Tasks};
use super::split::{self, Split};
use crate::compile::{compile, compile_tapped, compile_with_ports, CompileOptions, Compiled, RenderSettings};
use crate::desc::GraphDesc;
use crate::error::Result;
use crate::meter::MeterReading;
use crate::nodes::SideBuffers;
use crossbeam_utils::{Backoff, CachePadded};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Writes the render input of channel `c` for the frames starting at an
/// absolute frame into the slice (as long as the block). Called from any
/// render thread.
pub type InputFn<'a> = &'a (dyn Fn(usize, usize, &mut [f64]) + Sync);

/// Receives output channel `c`'s block: the span offset where it starts,
/// its length in frames and its samples (fewer when the graph has no
/// output: the rest is silence).
pub type OutputFn<'a> = &'a mut dyn FnMut(usize, usize, usize, &[f64]);

/// Frames a part renders ahead of the mix in an offline render, rounded
/// down to whole blocks (at least one): fewer hand-overs for longer spans,
/// but each block of each port is a buffer of its own until the mix takes
/// it, and more of them than the caches hold cost more than hand-overs.
const SPAN_FRAMES: usize = 1024;

/// Tasks a span is cut into, at least (parts × sub-spans of whole
/// blocks): a thread that finishes its last task of a span waits for the
/// others, so the smaller the tasks, the shorter that wait; cutting the
/// span in time keeps each part's filter banks as wide as they are
/// (cutting the graph into more parts would narrow them).
const SPAN_TASKS: usize = 16;

/// Where a part renders next: `frames` from `pos`, in blocks of `block`.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    pos: usize,
    frames: usize,
    block: usize,
}

/// One part: its graph, its ports' render indices, and the blocks of its
/// last span (one buffer per block and port, block-major, each as long as
/// a node's), with its input.
struct Part {
    compiled: Compiled,
    ports: Vec<usize>,
    out: Box<[Box<[f64]>]>,
    input: Box<[f64]>,
    span: Span,
    cap: usize,
    channels: usize,
}

impl Part {
    /// Renders sub-span `sub` of `subs` of the part's span (whole blocks;
    /// every sub-span but the last has as many), block by block, keeping
    /// its ports' samples.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    fn render(&mut self, sub: usize, subs: usize) {
        let Span { pos, frames, block } = self.span;
        if block == 0 {
            return;
        }
        let per = frames.div_ceil(block).div_ceil(subs.max(1)) * block;
        let (start, end) = ((sub * per).min(frames), ((sub + 1) * per).min(frames));
        let (ch, cap) = (self.channels, self.cap);
        let g = &mut self.compiled.graph;
        let mut off = start;
        while off < end {
            let n = block.min(frames - off);
            if g.uses_input() {
                for c in 0..ch {
                    let (Some(d), Some(s)) =
                        (g.input_mut(c).get_mut(..n), self.input.get(c * cap + off..c * cap + off + n))
                    else {
                        continue;
                    };
                    d.copy_from_slice(s);
                }
            }
            g.render_block((pos + off) as u64, n, &mut self.compiled.lanes);
            let first = off / block * self.ports.len();
            for (&k, b) in self.ports.iter().zip(self.out.iter_mut().skip(first)) {
                g.exchange_slot(k, n, b);
            }
            off += n;
        }
    }
}

/// A part, run by whichever thread claims one of its tasks ([`Tasks`]),
/// and how many of its current span's sub-spans are rendered.
struct PartCell {
    part: UnsafeCell<Part>,
    done: CachePadded<AtomicUsize>,
}

/// The parts of a [`SplitGraph`] as tasks: task `t` is sub-span
/// `t / parts` of part `t % parts`, so a span's first sub-spans are
/// claimed (in index order) before any part's next one.
struct Parts {
    cells: Box<[PartCell]>,
    subs: usize,
}

// SAFETY: a part is reached from several threads only through
// `Tasks::run`, whose contract gives each task to one thread at a time;
// a part's later sub-span waits until its earlier one is done (`done`,
// Release after the render, Acquire before the next), so one thread at a
// time renders a part; otherwise through `&mut Parts`. `Part` is `Send`.
unsafe impl Sync for Parts {}

impl Tasks for Parts {
    unsafe fn run(&self, t: usize) {
        let n = self.cells.len();
        let Some(cell) = self.cells.get(t % n.max(1)) else { return };
        let sub = t / n;
        // The part's previous sub-span was claimed before this one (tasks
        // are claimed in index order), so it is running or done: wait for
        // it, never for a thread to start it.
        let backoff = Backoff::new();
        while cell.done.load(Ordering::Acquire) < sub {
            backoff.snooze();
        }
        // SAFETY: sub-span `sub` of this part is ours alone (the contract
        // of `Tasks::run`), its earlier ones are done and its later ones
        // wait for `done`, and the owner does not touch the parts meanwhile.
        unsafe { (*cell.part.get()).render(sub, self.subs) };
        cell.done.store(sub + 1, Ordering::Release);
    }
}

impl Parts {
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Part> {
        self.cells.iter_mut().map(|c| c.part.get_mut())
    }

    fn len(&self) -> usize {
        self.cells.len()
    }

    /// Tasks of one span.
    fn tasks(&self) -> usize {
        self.cells.len() * self.subs
    }
}

/// A port of the mix: part `part`'s port `port` (of `ports`) feeds mix node `node`.
#[derive(Debug, Clone, Copy)]
struct Link {
    part: usize,
    port: usize,
    ports: usize,
    node: usize,
}

/// A graph cut into parts ([`split`]) that render at the same time, and
/// the mix that sums them after: the same samples as the whole graph.
pub struct SplitGraph {
    parts: Parts,
    /// Per part: its ports' blocks of the span the mix renders next
    /// (exchanged with the part's own after each span).
    ready: Vec<Box<[Box<[f64]>]>>,
    mix: Compiled,
    links: Vec<Link>,
    board: Arc<Board>,
    cap: usize,
    channels: usize,
}

impl SplitGraph {
    /// Compiles `split`'s parts and mix for `settings`, each part keeping
    /// `cap` frames of its ports (a whole number of blocks).
    /// `budget`: the whole graph's memory budget, shared equally by the
    /// parts and the mix (a share too small for one of them fails the
    /// split, and the graph is compiled whole against the whole budget).
    fn compile(
        split: &Split,
        settings: RenderSettings,
        buffers: &SideBuffers,
        cap: usize,
        budget: usize,
    ) -> Result<Self> {
        let options = CompileOptions { memory_budget: budget / (split.parts.len() + 1), ..CompileOptions::from_env() };
        let ch = settings.channels;
        let mut parts = Vec::with_capacity(split.parts.len());
        let mut ports = Vec::new();
        let mut counts = Vec::with_capacity(split.parts.len());
        // A part that sums its own components: their latencies, and so the
        // compensation delays of the sums, must be every other input's.
        let mut summed_latencies = Vec::new();
        for (p, pd) in split.parts.iter().enumerate() {
            let compiled = compile_tapped(&pd.desc, settings, buffers, options, &pd.ports)?;
            if let (0, Some(summed)) = (p, &split.presummed) {
                summed_latencies.extend(summed.iter().filter_map(|id| compiled.info.nodes.get(id)).map(|n| n.latency));
            }
            let mut idx = Vec::with_capacity(pd.ports.len());
            for &id in &pd.ports {
                let Some(info) = compiled.info.nodes.get(&id) else { continue };
                ports.push((id, info.latency, p, idx.len()));
                idx.push(info.index);
            }
            counts.push(idx.len());
            let node_len = ch * settings.max_block;
            let out = (0..idx.len() * cap.div_ceil(settings.max_block))
                .map(|_| vec![0.0; node_len].into_boxed_slice())
                .collect();
            let input = vec![0.0; if compiled.graph.uses_input() { ch * cap } else { 0 }].into_boxed_slice();
            let part = Part { compiled, ports: idx, out, input, span: Span::default(), cap, channels: ch };
            parts.push(PartCell { part: UnsafeCell::new(part), done: CachePadded::new(AtomicUsize::new(0)) });
        }
        let with_latency: Vec<(u32, usize)> = ports.iter().map(|&(id, lat, _, _)| (id, lat)).collect();
        if let Some(summed) = &split.presummed {
            let mut all = summed_latencies.iter().chain(with_latency.iter().map(|(_, l)| l));
            let first = all.next().copied();
            if summed_latencies.len() != summed.len() || all.any(|&l| Some(l) != first) {
                return Err(crate::error::EngineError::other("a part summing its own tracks needs one latency"));
            }
        }
        let mix =
            compile_with_ports(&split::mix_desc(&split.mix, &with_latency), settings, buffers, options, &with_latency)?;
        let links = ports
            .iter()
            .filter_map(|&(id, _, part, port)| {
                let ports = *counts.get(part)?;
                Some(Link { part, port, ports, node: mix.info.nodes.get(&id)?.index })
            })
            .collect();
        let ready = parts.iter_mut().map(|c| c.part.get_mut().out.clone()).collect();
        let blocks = cap.div_ceil(settings.max_block);
        // A part that sums its own tracks: one task a span (its sub-spans
        // would only wait for each other).
        let subs = if split.presummed.is_some() {
            1
        } else {
            SPAN_TASKS.div_ceil(parts.len().max(1)).min(blocks).min(MAX_TASKS / parts.len().max(1)).max(1)
        };
        Ok(Self {
            parts: Parts { cells: parts.into_boxed_slice(), subs },
            ready,
            mix,
            links,
            board: Arc::new(Board::new()),
            cap,
            channels: ch,
        })
    }

    /// How many parts render at the same time.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// Renders `frames` from `pos` in blocks of `block`: the parts span by
    /// span (`wake(n)` asks for `n` helpers on the board), the mix block by
    /// block one span behind them, while they render the next (so the mix,
    /// which runs on this thread alone, overlaps the parts). Control side
    /// or offline worker.
    fn render_span(
        &mut self,
        pos: usize,
        frames: usize,
        block: usize,
        input: InputFn<'_>,
        out: OutputFn<'_>,
        wake: &dyn Fn(&Arc<Board>, usize),
    ) {
        let cap = self.cap;
        let tasks = self.parts.tasks();
        // This thread mixes first, then takes what is left: a lone part
        // (one that sums its own tracks) goes to a helper.
        let helpers = if self.parts.len() == 1 { tasks } else { tasks - 1 };
        let spans = frames.div_ceil(cap);
        let span_at = |k: usize| (pos + k * cap, cap.min(frames - k * cap));
        // Span k's parts render while span k - 1 is mixed.
        for k in 0..=spans {
            let next = (k < spans).then(|| span_at(k));
            if let Some((at, len)) = next {
                self.prepare_parts(at, len, block, input);
            }
            let mixed = k.checked_sub(1).map(span_at);
            let Self { parts, ready, mix, links, board, channels, .. } = self;
            let mut mix_span = || {
                if let Some((at, len)) = mixed {
                    mix_blocks(mix, links, ready, *channels, (at, len, at - pos), block, input, out);
                }
            };
            if next.is_some() {
                board.run_with(&*parts, tasks, || wake(board, helpers), mix_span);
                for (part, r) in parts.iter_mut().zip(ready.iter_mut()) {
                    std::mem::swap(&mut part.out, r);
                }
            } else {
                mix_span();
            }
        }
    }

    /// Sets every part's next span and copies its input.
    fn prepare_parts(&mut self, at: usize, len: usize, block: usize, input: InputFn<'_>) {
        let (ch, cap) = (self.channels, self.cap);
        for cell in self.parts.cells.iter_mut() {
            *cell.done.get_mut() = 0;
            let part = cell.part.get_mut();
            part.span = Span { pos: at, frames: len, block };
            if !part.input.is_empty() {
                for c in 0..ch {
                    if let Some(d) = part.input.get_mut(c * cap..c * cap + len) {
                        input(c, at, d);
                    }
                }
            }
        }
    }

    fn graphs(&mut self) -> impl Iterator<Item = &mut Compiled> {
        self.parts.iter_mut().map(|p| &mut p.compiled).chain(std::iter::once(&mut self.mix))
    }
}

/// Renders the mix over one span (`at`, `len`, and `off`, where the span
/// starts in the caller's output), block by block, each port's buffer
/// exchanged with the part's block in `ready`.
#[allow(clippy::too_many_arguments)]
fn mix_blocks(
    mix: &mut Compiled,
    links: &[Link],
    ready: &mut [Box<[Box<[f64]>]>],
    ch: usize,
    (at, len, span_off): (usize, usize, usize),
    block: usize,
    input: InputFn<'_>,
    out: OutputFn<'_>,
) {
    let g = &mut mix.graph;
    let mut off = 0;
    while off < len {
        let n = block.min(len - off);
        if g.uses_input() {
            for c in 0..ch {
                if let Some(d) = g.input_mut(c).get_mut(..n) {
                    input(c, at + off, d);
                }
            }
        }
        for l in links {
            let Some(blocks) = ready.get_mut(l.part) else { continue };
            if let Some(b) = blocks.get_mut(off / block * l.ports + l.port) {
                g.exchange_slot(l.node, n, b);
            }
        }
        g.render_block((at + off) as u64, n, &mut mix.lanes);
        for c in 0..ch {
            out(c, span_off + off, n, g.output(c, n));
        }
        off += n;
    }
}

/// A graph compiled for an offline render: whole on the render's thread,
/// or split to render on the shared pool ([`super::pool`]).
pub enum OfflineGraph {
    /// Rendered by one thread (as `threads: 1`).
    One(Box<Compiled>),
    /// Rendered as parts at the same time.
    Split(Box<SplitGraph>),
}

/// Whether `desc` is well formed enough for its parts to report the same
/// errors as the whole graph (unique ids, one input and one output at
/// most, every connection, sidechain and lane naming a node): otherwise it
/// is compiled whole, which reports the error.
fn plain(desc: &GraphDesc) -> bool {
    let mut ids: Vec<u32> = desc.nodes.iter().map(|n| n.id).collect();
    ids.sort_unstable();
    let unique = ids.windows(2).all(|w| w[0] != w[1]);
    let known = |id: u32| ids.binary_search(&id).is_ok();
    let count = |kind: &str| desc.nodes.iter().filter(|n| n.kind == kind).count();
    unique
        && count("input") <= 1
        && count("output") <= 1
        && desc.connections.iter().chain(desc.sidechains.iter()).all(|&(a, b)| known(a) && known(b))
        && desc.automation.iter().all(|l| known(l.node))
}

impl OfflineGraph {
    /// Compiles `desc` for `settings` to render on up to `threads` threads:
    /// split when it has independent parts worth the hand-overs
    /// ([`super::plan_parts`]), else whole. Control side (or a render worker).
    pub fn compile(desc: &GraphDesc, settings: RenderSettings, buffers: &SideBuffers, threads: usize) -> Result<Self> {
        let parts = super::plan_parts(desc, threads);
        if parts == 1 && threads >= 2 && super::plan_presummed(desc) {
            if let Some(g) = Self::presummed(desc, settings, buffers) {
                return Ok(g);
            }
        }
        Self::compile_parts(desc, settings, buffers, parts)
    }

    /// `desc` as two parts, the first summing its own tracks
    /// ([`split::presum_first`]), or `None` when it has no such split or
    /// a part does not compile (then it compiles as the planner says).
    pub fn presummed(desc: &GraphDesc, settings: RenderSettings, buffers: &SideBuffers) -> Option<Self> {
        settings.validate().ok()?;
        if !plain(desc) {
            return None;
        }
        Self::from_split(desc, &split::presum_first(desc)?, settings, buffers)
    }

    /// `split` of `desc` compiled, its parts keeping a span of ports and
    /// sharing the graph's memory budget; `None` when a part fails to
    /// compile (a node refused: the whole graph then reports it).
    fn from_split(desc: &GraphDesc, split: &Split, settings: RenderSettings, buffers: &SideBuffers) -> Option<Self> {
        let cap = (SPAN_FRAMES / settings.max_block).max(1) * settings.max_block;
        let budget = desc.memory_budget.unwrap_or(crate::compile::budget::DEFAULT_MEMORY_BUDGET);
        SplitGraph::compile(split, settings, buffers, cap, budget).ok().map(|g| Self::Split(Box::new(g)))
    }

    /// Compiles `desc` cut into up to `parts` parts whatever its weight
    /// (1: whole), as [`OfflineGraph::compile`] does with the planner's
    /// count: for tests and benchmarks of splits the planner would not make.
    pub fn compile_parts(
        desc: &GraphDesc,
        settings: RenderSettings,
        buffers: &SideBuffers,
        parts: usize,
    ) -> Result<Self> {
        settings.validate()?;
        let parts = parts.min(MAX_TASKS);
        if parts >= 2 && plain(desc) {
            if let Some(split) = split::split(desc, parts, split::Assign::Balanced) {
                if let Some(g) = Self::from_split(desc, &split, settings, buffers) {
                    return Ok(g);
                }
            }
        }
        Ok(Self::One(Box::new(compile(desc, settings, buffers)?)))
    }

    /// How many parts render at the same time (1: whole).
    pub fn parts(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Split(s) => s.parts(),
        }
    }

    /// Renders `frames` from `pos` in blocks of `block` (`<=` the compiled
    /// maximum): the same blocks, and so the same samples, whichever way
    /// the graph was compiled.
    pub fn render_span(&mut self, pos: usize, frames: usize, block: usize, input: InputFn<'_>, out: OutputFn<'_>) {
        match self {
            Self::One(c) => {
                let g = &mut c.graph;
                let block = block.clamp(1, g.max_block());
                let mut off = 0;
                while off < frames {
                    let n = block.min(frames - off);
                    if g.uses_input() {
                        for ch in 0..g.channels() {
                            if let Some(d) = g.input_mut(ch).get_mut(..n) {
                                input(ch, pos + off, d);
                            }
                        }
                    }
                    g.render_block((pos + off) as u64, n, &mut c.lanes);
                    for ch in 0..g.channels() {
                        out(ch, off, n, g.output(ch, n));
                    }
                    off += n;
                }
            }
            Self::Split(s) => {
                let block = block.clamp(1, s.mix.graph.max_block());
                s.render_span(pos, frames, block, input, out, &|board, n| super::pool::help(board, n));
            }
        }
    }

    /// Latency reported to the output, in frames.
    pub fn latency(&self) -> usize {
        match self {
            Self::One(c) => c.graph.latency(),
            Self::Split(s) => s.mix.graph.latency(),
        }
    }

    fn each(&mut self, mut f: impl FnMut(&mut Compiled)) {
        match self {
            Self::One(c) => f(c),
            Self::Split(s) => s.graphs().for_each(f),
        }
    }

    /// Lets file players wait for their data (see [`crate::files::prepare_offline`]).
    pub fn prepare_offline(&mut self) {
        self.each(|c| crate::files::prepare_offline(&mut c.graph));
    }

    /// The first stream error of the graph's file players, if any.
    pub fn stream_failure(&mut self) -> Option<String> {
        let mut e = None;
        self.each(|c| {
            if e.is_none() {
                e = crate::files::stream_failure(&mut c.graph);
            }
        });
        e
    }

    /// Each meter's reading over the render, keyed by name.
    pub fn meter_readings(&mut self) -> Vec<(String, MeterReading)> {
        let mut out = Vec::new();
        self.each(|c| out.extend(crate::offline::meter_readings(&mut c.graph)));
        out
    }

    /// Each analyser's average spectrum over the render, keyed by name.
    pub fn spectra(&mut self) -> Vec<(String, crate::spectrum::Spectrum)> {
        let mut out = Vec::new();
        self.each(|c| out.extend(crate::spectrum::spectra(&mut c.graph)));
        out
    }
}
