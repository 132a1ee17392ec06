//! [`EngineControl`]: the control-side half of a running engine. Compiles and
//! publishes graphs, queues parameter changes, collects replaced programs.
//! Never waits for the audio thread.

use super::messages::{ControlMsg, Garbage, LaneSet, ParamMsg, Program};
use super::Shared;
use crate::compile::{check, compile_lanes, finish, Checked, CompileOptions, GraphInfo, RenderSettings};
use crate::desc::{GraphDesc, LaneDesc};
use crate::error::{show, EngineError, Result};
use crate::nodes::SideBuffers;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Meter names of the newest program: `(generation, names in meter order)`.
pub type MeterNames = Arc<Mutex<(u64, Vec<String>)>>;

/// Spectrum readers of the newest program: `(generation, readers)`; the
/// events thread takes the readers out when the generation changes.
pub type SpectrumReaders = Arc<Mutex<(u64, Vec<ferrite_dsp::analyser::SpectrumReader>)>>;

/// The control half of an engine (not real-time; `Send`).
pub struct EngineControl {
    settings: RenderSettings,
    programs: triple_buffer::Input<Option<Box<Program>>>,
    lane_sets: triple_buffer::Input<Option<Box<LaneSet>>>,
    params: rtrb::Producer<ControlMsg>,
    garbage: rtrb::Consumer<Garbage>,
    generation: u64,
    info: GraphInfo,
    automated: Vec<(usize, usize)>,
    meter_index: Vec<(String, usize)>,
    structure: Option<Structure>,
    meter_names: MeterNames,
    spectrum_readers: SpectrumReaders,
    shared: Arc<Shared>,
}

impl EngineControl {
    pub(crate) fn new(
        settings: RenderSettings,
        programs: triple_buffer::Input<Option<Box<Program>>>,
        lane_sets: triple_buffer::Input<Option<Box<LaneSet>>>,
        params: rtrb::Producer<ControlMsg>,
        garbage: rtrb::Consumer<Garbage>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            settings,
            programs,
            lane_sets,
            params,
            garbage,
            generation: 0,
            info: GraphInfo::default(),
            automated: Vec::new(),
            meter_index: Vec::new(),
            structure: None,
            meter_names: Arc::new(Mutex::new((0, Vec::new()))),
            spectrum_readers: Arc::new(Mutex::new((0, Vec::new()))),
            shared,
        }
    }

    /// The settings graphs are compiled for.
    pub fn settings(&self) -> RenderSettings {
        self.settings
    }

    /// Changes the settings for later graphs (when a device is reopened).
    pub fn set_settings(&mut self, settings: RenderSettings) {
        self.settings = settings;
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
        let checked = check(desc, self.settings, buffers, CompileOptions::from_env())?;
        self.publish(checked, Structure::of(desc))
    }

    /// The second half of [`Self::set_graph`]: compiles a checked graph
    /// (`structure`: its nodes and connections) and publishes it.
    pub fn publish(&mut self, checked: Checked, structure: Structure) -> Result<()> {
        self.collect_garbage();
        let mut compiled = finish(checked)?;
        // New file players start playing with their first read-ahead in the ring.
        crate::files::wait_for_prefill(&mut compiled.graph, crate::files::PREFILL_WAIT);
        self.generation += 1;
        // Removing a node or a connection would click: crossfade from the
        // previous graph. Adding nodes and connections, or changing values, swaps directly.
        let crossfade_frames = match &self.structure {
            Some(prev) if !prev.is_kept_by(&structure) => {
                (CROSSFADE_MS * self.settings.sample_rate / 1000.0).round() as u64
            }
            _ => 0,
        };
        self.structure = Some(structure);
        let names: Vec<String> = compiled.graph.meters().iter().map(|(n, _)| n.clone()).collect();
        let readers = crate::spectrum::take_readers(&mut compiled.graph);
        self.info = compiled.info;
        self.automated = compiled.lane_targets.clone();
        self.meter_index = compiled.graph.meters().to_vec();
        self.programs.write(Some(Box::new(Program {
            generation: self.generation,
            graph: compiled.graph,
            lanes: compiled.lanes,
            lane_targets: compiled.lane_targets,
            crossfade_frames,
        })));
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
        let (lanes, targets) = compile_lanes(lanes, &self.info, self.settings.sample_rate)?;
        self.automated = targets.clone();
        self.lane_sets.write(Some(Box::new(LaneSet { generation: self.generation, lanes, targets })));
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

/// Which nodes and connections a graph has, to tell structural swaps apart.
pub struct Structure {
    nodes: std::collections::HashSet<(u32, String)>,
    connections: std::collections::HashSet<(u32, u32)>,
}

impl Structure {
    /// The nodes and connections of `desc`.
    pub fn of(desc: &GraphDesc) -> Self {
        Self {
            nodes: desc.nodes.iter().map(|n| (n.id, n.kind.clone())).collect(),
            connections: desc.connections.iter().copied().collect(),
        }
    }

    /// Whether `next` keeps every node and connection of `self`.
    fn is_kept_by(&self, next: &Structure) -> bool {
        self.nodes.is_subset(&next.nodes) && self.connections.is_subset(&next.connections)
    }
}

/// Default `setParam` ramp when neither `rampMs` nor `atFrame` is given.
pub const DEFAULT_RAMP_MS: f64 = 5.0;
