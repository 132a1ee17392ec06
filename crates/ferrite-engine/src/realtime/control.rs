//! [`EngineControl`]: the control-side half of a running engine. Compiles and
//! publishes graphs, queues parameter changes, collects replaced programs.
//! Never waits for the audio thread.

use super::messages::{ControlMsg, Garbage, LaneSet, ParamMsg, Program};
use super::record::{RecordRequest, RecordSource, Recorder, Recording};
use super::{Shared, MAX_RECORDINGS};
use crate::compile::{check, finish_tapped, Checked, CompileOptions, GraphInfo, RenderSettings};
use crate::desc::{GraphDesc, LaneDesc};
use crate::error::{show, EngineError, Result};
use crate::nodes::SideBuffers;
use crate::parallel::{plan_parts, RtGraph, RtLayout};
use ferrite_media::RingFlags;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Meter names of the newest program: `(generation, names in meter order)`.
pub type MeterNames = Arc<Mutex<(u64, Vec<String>)>>;

/// Spectrum readers of the newest program: `(generation, readers)`; the
/// events thread takes the readers out when the generation changes.
pub type SpectrumReaders = Arc<Mutex<(u64, Vec<ferrite_dsp::analyser::SpectrumReader>)>>;

/// A graph description with its side buffers.
type KeptGraph = (GraphDesc, Vec<Arc<[Box<[f32]>]>>);

/// The control half of an engine (not real-time; `Send`).
pub struct EngineControl {
    settings: RenderSettings,
    /// How graphs are compiled (their memory budget included).
    options: CompileOptions,
    programs: triple_buffer::Input<Option<Box<Program>>>,
    lane_sets: triple_buffer::Input<Option<Box<LaneSet>>>,
    params: rtrb::Producer<ControlMsg>,
    garbage: rtrb::Consumer<Garbage>,
    generation: u64,
    info: GraphInfo,
    /// Which graph of the newest program renders which node.
    layout: RtLayout,
    /// How many threads render (a graph is split for them when it gains).
    threads: usize,
    automated: Vec<(usize, usize)>,
    meter_index: Vec<(String, usize)>,
    structure: Option<Structure>,
    meter_names: MeterNames,
    spectrum_readers: SpectrumReaders,
    shared: Arc<Shared>,
    recorders: rtrb::Producer<Box<Recorder>>,
    /// Every recording started and not yet known to have ended, with its node source.
    recordings: Vec<(Option<u32>, Arc<RingFlags>)>,
    /// The newest graph (its automation kept up to date) and its buffers,
    /// recompiled when a node recording adds a tap.
    last: Option<KeptGraph>,
}

impl EngineControl {
    pub(crate) fn new(
        settings: RenderSettings,
        programs: triple_buffer::Input<Option<Box<Program>>>,
        lane_sets: triple_buffer::Input<Option<Box<LaneSet>>>,
        params: rtrb::Producer<ControlMsg>,
        garbage: rtrb::Consumer<Garbage>,
        recorders: rtrb::Producer<Box<Recorder>>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            settings,
            options: CompileOptions::from_env(),
            programs,
            lane_sets,
            params,
            garbage,
            generation: 0,
            info: GraphInfo::default(),
            layout: RtLayout::default(),
            threads: 1,
            automated: Vec::new(),
            meter_index: Vec::new(),
            structure: None,
            meter_names: Arc::new(Mutex::new((0, Vec::new()))),
            spectrum_readers: Arc::new(Mutex::new((0, Vec::new()))),
            shared,
            recorders,
            recordings: Vec::new(),
            last: None,
        }
    }

    /// The settings graphs are compiled for.
    pub fn settings(&self) -> RenderSettings {
        self.settings
    }

    /// How graphs are compiled.
    pub fn compile_options(&self) -> CompileOptions {
        self.options
    }

    /// Changes how later graphs are compiled (the memory budget: see
    /// [`crate::compile::budget`]).
    pub fn set_compile_options(&mut self, options: CompileOptions) {
        self.options = options;
    }

    /// Changes the settings for later graphs (when a device is reopened).
    pub fn set_settings(&mut self, settings: RenderSettings) {
        self.settings = settings;
    }

    /// Sets how many threads render the graphs published from now on.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// How many threads render the graphs published.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The shared atomics (transport, counters).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Meter names, for the events thread.
    pub fn meter_names(&self) -> MeterNames {
        self.meter_names.clone()
    }

    /// Analysers' spectrum readers, for the events thread.
    pub fn spectrum_readers(&self) -> SpectrumReaders {
        self.spectrum_readers.clone()
    }

    /// Latency of the newest graph, in frames.
    pub fn latency(&self) -> usize {
        self.info.latency
    }

    /// Compiles `desc` and publishes it; the audio thread takes it at its next
    /// callback (latest wins) and hands over the state of surviving nodes.
    pub fn set_graph(&mut self, desc: &GraphDesc, buffers: &SideBuffers) -> Result<()> {
        self.collect_garbage();
        let checked = check(desc, self.settings, buffers, self.options)?;
        self.publish(checked, desc.clone(), buffers.to_vec())
    }

    /// The second half of [`Self::set_graph`]: compiles a checked graph (with
    /// the taps of running node recordings) and publishes it. `desc` and
    /// `buffers` are kept, to compile the graph again when a node recording
    /// adds a tap.
    pub fn publish(&mut self, checked: Checked, desc: GraphDesc, buffers: Vec<Arc<[Box<[f32]>]>>) -> Result<()> {
        self.publish_checked(checked, &desc, &buffers)?;
        self.last = Some((desc, buffers));
        Ok(())
    }

    /// Compiles `checked` (which is `desc` with `buffers`) with the running
    /// node recordings' taps and publishes it: cut into parts for the
    /// threads when it gains from it ([`plan_parts`]) and no node
    /// recording runs (a tap is read from one graph: while a node is
    /// recorded the graph is compiled whole), else whole.
    fn publish_checked(&mut self, checked: Checked, desc: &GraphDesc, buffers: &SideBuffers) -> Result<()> {
        let structure = Structure::of(desc);
        self.collect_garbage();
        self.recordings.retain(|(_, flags)| !flags.producer_done());
        let mut taps: Vec<u32> = self.recordings.iter().filter_map(|(node, _)| *node).collect();
        taps.sort_unstable();
        taps.dedup();
        // One part per thread: a part's filter banks are wider than with
        // more parts, and a block is too short for a thread that finishes
        // early to gain from taking another part.
        let parts = if taps.is_empty() && plan_parts(desc, self.threads) >= 2 { self.threads } else { 1 };
        let split = (parts >= 2).then(|| RtGraph::split(desc, self.settings, buffers, self.options, parts)).flatten();
        let (mut graph, layout) = match split {
            Some(s) => s,
            None => RtGraph::whole(finish_tapped(checked, &taps)?),
        };
        let global = layout.compile_lanes(&desc.automation, self.settings.sample_rate)?.global;
        // New file players start playing with their first read-ahead in the ring.
        let until = std::time::Instant::now() + crate::files::PREFILL_WAIT;
        graph.each_graph_mut(|g| {
            crate::files::wait_for_prefill(g, until.saturating_duration_since(std::time::Instant::now()))
        });
        self.generation += 1;
        // Removing a node, a connection or a sidechain would click: crossfade from the
        // previous graph. Adding nodes and connections, or changing values, swaps directly.
        let crossfade_frames = match &self.structure {
            Some(prev) if !prev.is_kept_by(&structure) => {
                (CROSSFADE_MS * self.settings.sample_rate / 1000.0).round() as u64
            }
            _ => 0,
        };
        self.structure = Some(structure);
        let names: Vec<String> = graph.meters().iter().map(|(n, _)| n.clone()).collect();
        let mut readers = Vec::new();
        graph.each_graph_mut(|g| readers.extend(crate::spectrum::take_readers(g)));
        graph.each_graph_mut(|g| crate::spectrum::count_drops_into(g, &self.shared.analyser_dropped_frames));
        self.info = layout.info.clone();
        self.layout = layout;
        self.automated = global;
        self.meter_index = graph.meters().to_vec();
        self.programs.write(Some(Box::new(Program { generation: self.generation, graph, crossfade_frames, taps })));
        if let Ok(mut m) = self.meter_names.lock() {
            *m = (self.generation, names);
        }
        if let Ok(mut r) = self.spectrum_readers.lock() {
            *r = (self.generation, readers);
        }
        Ok(())
    }

    /// Replaces the automation lanes of the newest graph while it plays,
    /// without recompiling it. Lanes name nodes by id and parameters by name;
    /// parameters without a lane keep the last value their old lane gave.
    pub fn set_automation(&mut self, lanes: &[LaneDesc]) -> Result<()> {
        self.collect_garbage();
        let split = self.layout.compile_lanes(lanes, self.settings.sample_rate)?;
        if let Some((desc, _)) = self.last.as_mut() {
            desc.automation = lanes.to_vec();
        }
        self.automated = split.global;
        self.lane_sets.write(Some(Box::new(LaneSet { generation: self.generation, per: split.per })));
        Ok(())
    }

    /// Queues a parameter change. `ramp_ms`: linear ramp length (default 0 when
    /// `at_frame` is given, else a 5 ms de-zipper ramp). Refuses unknown nodes
    /// and parameters, bad values, and parameters driven by a lane. A full
    /// queue drops the change and counts it; it never blocks.
    pub fn set_param(
        &mut self,
        node: u32,
        param: &str,
        value: f64,
        ramp_ms: Option<f64>,
        at_frame: Option<f64>,
    ) -> Result<()> {
        let (index, p, ramp_ms, at_frame) =
            check_param(&self.info, &self.automated, node, param, value, ramp_ms, at_frame, self.settings.sample_rate)?;
        let msg = ParamMsg {
            generation: self.generation,
            node: index as u32,
            param: p as u32,
            value,
            ramp_frames: (ramp_ms * self.settings.sample_rate / 1000.0).round() as u64,
            at_frame,
        };
        self.send(ControlMsg::Param(msg));
        Ok(())
    }

    /// Starts meter `name`'s integrated loudness and loudness range anew.
    pub fn reset_meter(&mut self, name: &str) -> Result<()> {
        check_meter(self.meter_index.iter().map(|(n, _)| n.as_str()), name)?;
        let index = self.meter_index.iter().find(|(n, _)| n == name).map_or(0, |(_, i)| *i);
        self.send(ControlMsg::ResetMeter { generation: self.generation, node: index as u32 });
        Ok(())
    }

    /// Starts a recording: creates its file (under a temporary name), its
    /// ring and its writer thread, and hands its audio-thread half over,
    /// which captures from the next callback (or `start_frame`). A node
    /// source must be in the current graph; the graph is then recompiled
    /// with the node as a tap and swapped in (state kept), and later graphs
    /// keep the tap while the recording runs.
    ///
    /// Errors: an unknown node (`TypeError`), `end_frame` not after
    /// `start_frame`, too many recordings, a bad bit depth for the format
    /// (`RangeError`), a path that cannot be created (`Error` naming it).
    pub fn record(&mut self, req: &RecordRequest) -> Result<Recording> {
        self.collect_garbage();
        self.recordings.retain(|(_, flags)| !flags.producer_done());
        if self.recordings.len() >= MAX_RECORDINGS {
            return Err(EngineError::range(format!("record: {MAX_RECORDINGS} recordings are running; stop one first")));
        }
        let node = match req.source {
            RecordSource::Node(id) => {
                self.info.node(id).map_err(|e| EngineError::type_error(format!("record: source: {}", e.message)))?;
                Some(id)
            }
            _ => None,
        };
        let s = self.settings;
        // A node source reads the program with its tap: the next generation.
        let generation = self.generation + u64::from(node.is_some());
        let (recording, recorder) = Recording::start(req, s.sample_rate, s.channels, s.max_block, generation)?;
        self.recordings.push((node, recording.flags().clone()));
        if node.is_some() {
            if let Some((desc, buffers)) = self.last.take() {
                let published = check(&desc, self.settings, &buffers, self.options)
                    .and_then(|checked| self.publish_checked(checked, &desc, &buffers));
                self.last = Some((desc, buffers));
                if let Err(e) = published {
                    self.recordings.pop();
                    return Err(e);
                }
            }
        }
        if self.recorders.push(recorder).is_err() {
            self.recordings.pop();
            return Err(EngineError::other("record: the audio thread is not taking recordings"));
        }
        Ok(recording)
    }

    fn send(&mut self, msg: ControlMsg) {
        if self.params.push(msg).is_err() {
            self.shared.dropped_messages.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops the programs the audio thread has handed back.
    pub fn collect_garbage(&mut self) {
        while let Ok(p) = self.garbage.pop() {
            drop(p);
        }
    }
}

/// Checks a `setParam` against a graph's `info` and lanes (`automated`):
/// returns the node's index, the parameter's, the ramp in ms and the frame.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_param(
    info: &GraphInfo,
    automated: &[(usize, usize)],
    node: u32,
    param: &str,
    value: f64,
    ramp_ms: Option<f64>,
    at_frame: Option<f64>,
    sample_rate: f64,
) -> Result<(usize, usize, f64, Option<u64>)> {
    let n = info.node(node)?;
    let p = n.param_index(node, param)?;
    let label = n.label(node);
    n.params[p].check(&label, value, sample_rate)?;
    if automated.contains(&(n.index, p)) {
        return Err(EngineError::range(format!(
            "{label}: parameter '{param}' is driven by an automation lane; setParam would be overridden (remove the lane first)"
        )));
    }
    let ramp_ms = match ramp_ms {
        Some(r) if !r.is_finite() || !(0.0..=600_000.0).contains(&r) => {
            return Err(EngineError::range(format!(
                "setParam {label} '{param}': rampMs = {} must be in [0, 600000]",
                show(r)
            )))
        }
        Some(r) => r,
        None if at_frame.is_some() => 0.0,
        None => DEFAULT_RAMP_MS,
    };
    let at_frame = match at_frame {
        Some(f) if !f.is_finite() || f < 0.0 || f.fract() != 0.0 => {
            return Err(EngineError::range(format!(
                "setParam {label} '{param}': atFrame = {} must be a non-negative whole frame",
                show(f)
            )))
        }
        Some(f) => Some(f as u64),
        None => None,
    };
    Ok((n.index, p, ramp_ms, at_frame))
}

/// Checks `resetMeter`'s name against a graph's meter names.
pub(crate) fn check_meter<'a>(names: impl Iterator<Item = &'a str> + Clone, name: &str) -> Result<()> {
    if names.clone().any(|n| n == name) {
        return Ok(());
    }
    let known: Vec<&str> = names.collect();
    Err(EngineError::type_error(format!(
        "resetMeter: no meter named '{name}' in the current graph (meters: {})",
        if known.is_empty() { "none".into() } else { known.join(", ") }
    )))
}

/// Length of the crossfade of a structural swap.
pub const CROSSFADE_MS: f64 = 10.0;

/// Which nodes, connections and sidechains a graph has, to tell structural
/// swaps apart.
pub struct Structure {
    nodes: std::collections::HashSet<(u32, String)>,
    connections: std::collections::HashSet<(u32, u32)>,
    sidechains: std::collections::HashSet<(u32, u32)>,
}

impl Structure {
    /// The nodes and connections of `desc`.
    pub fn of(desc: &GraphDesc) -> Self {
        Self {
            nodes: desc.nodes.iter().map(|n| (n.id, n.kind.clone())).collect(),
            connections: desc.connections.iter().copied().collect(),
            sidechains: desc.sidechains.iter().copied().collect(),
        }
    }

    /// Whether `next` keeps every node, connection and sidechain of `self`.
    fn is_kept_by(&self, next: &Structure) -> bool {
        self.nodes.is_subset(&next.nodes)
            && self.connections.is_subset(&next.connections)
            && self.sidechains.is_subset(&next.sidechains)
    }
}

/// Default `setParam` ramp when neither `rampMs` nor `atFrame` is given.
pub const DEFAULT_RAMP_MS: f64 = 5.0;
