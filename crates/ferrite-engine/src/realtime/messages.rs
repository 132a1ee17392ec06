//! What crosses between the control side and the audio thread.

use crate::compile::CompiledLanes;
use crate::meter::MeterReading;
use crate::parallel::RtGraph;

/// A compiled graph with its lanes, as published to the audio thread.
pub struct Program {
    /// Increases with every `set_graph`.
    pub generation: u64,
    /// The graph (whole, or parts and a mix), with its automation lanes.
    pub graph: RtGraph,
    /// Frames to crossfade from the previous program (0: a plain swap).
    pub crossfade_frames: u64,
    /// Ids of the nodes compiled as recording taps (see [`crate::compile::compile_tapped`]).
    pub taps: Vec<u32>,
}

/// A replacement set of automation lanes for the running graph.
pub struct LaneSet {
    /// Generation of the program the targets refer to.
    pub generation: u64,
    /// Per graph of the program (the mix first, then each part): its lanes
    /// and their local `(node index, param index)` targets.
    pub per: Vec<CompiledLanes>,
}

/// What the audio thread hands back to the control side to be dropped there.
pub enum Garbage {
    /// A replaced program.
    Program(Box<Program>),
    /// A replaced (or stale) lane set.
    Lanes(Box<LaneSet>),
    /// A recorder that has ended.
    Recorder(Box<super::Recorder>),
}

/// A parameter change for the audio thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamMsg {
    /// Program generation the indices refer to.
    pub generation: u64,
    /// Node index in render order.
    pub node: u32,
    /// Parameter index.
    pub param: u32,
    /// Target value.
    pub value: f64,
    /// Linear ramp length in frames (0: a step).
    pub ramp_frames: u64,
    /// Transport frame at which the change starts (`None`: the next block).
    pub at_frame: Option<u64>,
}

/// A command for the audio thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ControlMsg {
    /// Set a parameter (now, or at a frame).
    Param(ParamMsg),
    /// Start a meter's integrated loudness and loudness range anew.
    ResetMeter {
        /// Program generation the index refers to.
        generation: u64,
        /// Node index of the meter.
        node: u32,
    },
}

impl ControlMsg {
    /// Generation of the program the message refers to.
    pub fn generation(&self) -> u64 {
        match self {
            ControlMsg::Param(m) => m.generation,
            ControlMsg::ResetMeter { generation, .. } => *generation,
        }
    }
}

/// One meter's interval reading, from the audio thread to the events thread.
#[derive(Debug, Clone, Copy)]
pub struct MeterMsg {
    /// Program generation (meter names are per generation).
    pub generation: u64,
    /// Meter number in the program's meter list.
    pub meter: u32,
    /// The reading.
    pub reading: MeterReading,
}
