//! [`Controller`]: the host's handle on a running engine, with the
//! `ferrite-control` thread behind it.
//!
//! A call is checked on the caller's thread, so that a mistake is refused
//! at once by the call itself: `set_graph` validates the graph, builds and
//! prepares its processors and checks its lanes ([`crate::compile::check`]);
//! `set_param`, `set_automation` and `reset_meter` are checked against the
//! newest graph given. The rest goes, in call order, to the control thread,
//! which owns the [`EngineControl`]: it orders the graph, runs the passes,
//! allocates the buffers, builds the plan, waits for file players' first
//! read-ahead, publishes the program, queues parameter changes, and frees
//! what the audio thread hands back. The caller never waits for it, and
//! the control thread shares no lock with the events thread. A failure
//! past the checks (memory for the buffers, say) ends up in [`Controller::errors`].

use super::control::{check_meter, check_param, EngineControl, MeterNames, SpectrumReaders};
use super::record::{RecordRequest, RecordSource, Recording};
use super::Shared;
use crate::compile::{check, compile_lanes, Checked, CompileOptions, GraphInfo, RenderSettings};
use crate::desc::{GraphDesc, LaneDesc};
use crate::error::{EngineError, Result};
use crate::nodes::SideBuffers;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the control thread is asked to do, in call order.
enum Job {
    Graph(Box<Checked>, Box<GraphDesc>, Vec<Arc<[Box<[f32]>]>>),
    Record(Box<RecordRequest>, Sender<Result<Recording>>),
    Automation(Vec<LaneDesc>),
    Param {
        node: u32,
        param: String,
        value: f64,
        ramp_ms: Option<f64>,
        at_frame: Option<f64>,
    },
    ResetMeter(String),
    /// Answers once every earlier job is done.
    Sync(Sender<()>),
}

/// The newest graph given, as far as checking calls goes.
struct Given {
    info: GraphInfo,
    automated: Vec<(usize, usize)>,
    meters: Vec<String>,
}

/// The host's handle on the control side of a running engine.
pub struct Controller {
    settings: RenderSettings,
    options: CompileOptions,
    given: Given,
    jobs: Option<Sender<Job>>,
    errors: Receiver<EngineError>,
    thread: Option<JoinHandle<()>>,
    meter_names: MeterNames,
    spectrum_readers: SpectrumReaders,
    shared: Arc<Shared>,
}

/// How often the control thread frees what the audio thread handed back
/// while no job arrives.
const COLLECT_EVERY: Duration = Duration::from_millis(4);

impl Controller {
    /// Starts the `ferrite-control` thread with `control` (whose settings
    /// are final).
    pub fn start(control: EngineControl) -> Result<Self> {
        let (jobs, rx) = crossbeam_channel::unbounded();
        let (errors_tx, errors) = crossbeam_channel::unbounded();
        let (settings, options) = (control.settings(), control.compile_options());
        let (meter_names, spectrum_readers, shared) =
            (control.meter_names(), control.spectrum_readers(), control.shared().clone());
        let thread = std::thread::Builder::new()
            .name("ferrite-control".into())
            .spawn(move || run(control, rx, errors_tx))
            .map_err(|e| EngineError::other(format!("Engine.open: cannot start the control thread: {e}")))?;
        Ok(Self {
            settings,
            options,
            given: Given { info: GraphInfo::default(), automated: Vec::new(), meters: Vec::new() },
            jobs: Some(jobs),
            errors,
            thread: Some(thread),
            meter_names,
            spectrum_readers,
            shared,
        })
    }

    /// Validates `desc` (refusing it with the compiler's error) and hands
    /// it to the control thread, which compiles and publishes it.
    pub fn set_graph(&mut self, desc: &GraphDesc, buffers: &SideBuffers) -> Result<()> {
        let checked = check(desc, self.settings, buffers, self.options)?;
        self.given =
            Given { info: checked.info.clone(), automated: checked.automated.clone(), meters: checked.meters.clone() };
        self.send(Job::Graph(Box::new(checked), Box::new(desc.clone()), buffers.to_vec()))
    }

    /// Checks lanes against the newest graph and hands them over.
    pub fn set_automation(&mut self, lanes: &[LaneDesc]) -> Result<()> {
        let (_, automated) = compile_lanes(lanes, &self.given.info, self.settings.sample_rate)?;
        self.given.automated = automated;
        self.send(Job::Automation(lanes.to_vec()))
    }

    /// Checks a parameter change against the newest graph and hands it over
    /// (see [`EngineControl::set_param`]).
    pub fn set_param(
        &mut self,
        node: u32,
        param: &str,
        value: f64,
        ramp_ms: Option<f64>,
        at_frame: Option<f64>,
    ) -> Result<()> {
        let g = &self.given;
        check_param(&g.info, &g.automated, node, param, value, ramp_ms, at_frame, self.settings.sample_rate)?;
        self.send(Job::Param { node, param: param.to_string(), value, ramp_ms, at_frame })
    }

    /// Checks a meter name against the newest graph and hands the reset over.
    pub fn reset_meter(&mut self, name: &str) -> Result<()> {
        check_meter(self.given.meters.iter().map(String::as_str), name)?;
        self.send(Job::ResetMeter(name.to_string()))
    }

    /// Starts a recording (see [`EngineControl::record`]): a node source is
    /// checked against the newest graph given; then waits for the control
    /// thread, which does every earlier call first, creates the file and,
    /// for a node source, compiles the graph again with the node as a tap.
    pub fn record(&self, req: RecordRequest) -> Result<Recording> {
        if let RecordSource::Node(id) = req.source {
            self.given.info.node(id).map_err(|e| EngineError::type_error(format!("record: source: {}", e.message)))?;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.send(Job::Record(Box::new(req), tx))?;
        rx.recv().map_err(|_| EngineError::other("Engine: the engine is closed"))?
    }

    /// Latency of the newest graph given, in frames.
    pub fn latency(&self) -> usize {
        self.given.info.latency
    }

    /// The settings graphs are compiled for.
    pub fn settings(&self) -> RenderSettings {
        self.settings
    }

    /// The shared atomics.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Meter names of the newest program, for the events thread.
    pub fn meter_names(&self) -> MeterNames {
        self.meter_names.clone()
    }

    /// Spectrum readers of the newest program, for the events thread.
    pub fn spectrum_readers(&self) -> SpectrumReaders {
        self.spectrum_readers.clone()
    }

    /// Failures of calls that passed their checks (for `onError`).
    pub fn errors(&self) -> Receiver<EngineError> {
        self.errors.clone()
    }

    /// Waits until the control thread has done every call made so far (the
    /// newest graph is published). For tests and `close`.
    pub fn sync(&self) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self.send(Job::Sync(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Finishes every call made so far and stops the control thread.
    pub fn stop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .as_ref()
            .and_then(|j| j.send(job).ok())
            .ok_or_else(|| EngineError::other("Engine: the engine is closed"))
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The control thread: jobs in order, garbage in between.
fn run(mut control: EngineControl, jobs: Receiver<Job>, errors: Sender<EngineError>) {
    loop {
        let job = match jobs.recv_timeout(COLLECT_EVERY) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                control.collect_garbage();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let done = match job {
            Job::Graph(checked, desc, buffers) => control.publish(*checked, *desc, buffers),
            Job::Record(req, reply) => {
                let _ = reply.send(control.record(&req));
                Ok(())
            }
            Job::Automation(lanes) => control.set_automation(&lanes),
            Job::Param { node, param, value, ramp_ms, at_frame } => {
                control.set_param(node, &param, value, ramp_ms, at_frame)
            }
            Job::ResetMeter(name) => control.reset_meter(&name),
            Job::Sync(tx) => {
                let _ = tx.send(());
                Ok(())
            }
        };
        if let Err(e) = done {
            let _ = errors.send(e);
        }
        control.collect_garbage();
    }
    control.collect_garbage();
}
