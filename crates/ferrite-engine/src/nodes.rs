//! The node registry: for each node type, its parameters (names, defaults,
//! ranges), its options, and how to build its processor. Everything a user
//! can get wrong about one node is refused here, naming the node, the
//! parameter and the value.

use crate::desc::{frames_value, number, type_name, NodeDesc};
use crate::error::{show, EngineError, Result};
use ferrite_dsp::{compressor, convolver, delay, eq, limiter, oscillator, player, Processor};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Audio buffers passed beside the JSON (`{ "buffer": k }` refers to entry k).
pub type SideBuffers = [Arc<[Box<[f32]>]>];

/// What is known when nodes are built.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// Render sample rate.
    pub sample_rate: f64,
    /// Render channel count.
    pub channels: usize,
    /// Buffers passed beside the JSON.
    pub buffers: &'a SideBuffers,
}

/// How a parameter's value is checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// `min..=max`.
    Range(f64, f64),
    /// `0 < f < sample_rate / 2`.
    Audible,
    /// `0 <= f < sample_rate / 2`.
    AudibleOrZero,
}

/// One parameter of a built node (control side).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// Name used by `setParam` and `automate`.
    pub name: String,
    /// Initial value.
    pub value: f64,
    /// Accepted values.
    pub limit: Limit,
}

impl ParamInfo {
    /// Checks `v` for parameter `self` of node `label` at `sample_rate`.
    pub fn check(&self, label: &str, v: f64, sample_rate: f64) -> Result<()> {
        let name = &self.name;
        if !v.is_finite() {
            return Err(EngineError::range(format!(
                "{label}: parameter '{name}' = {} must be a finite number",
                show(v)
            )));
        }
        let nyq = sample_rate / 2.0;
        match self.limit {
            Limit::Range(lo, hi) if v < lo || v > hi => Err(EngineError::range(format!(
                "{label}: parameter '{name}' = {} is out of range [{}, {}]",
                show(v),
                show(lo),
                show(hi)
            ))),
            Limit::Audible if v <= 0.0 || v >= nyq => Err(EngineError::range(format!(
                "{label}: parameter '{name}' = {} Hz must be above 0 and below Nyquist ({} Hz at {} Hz)",
                show(v),
                show(nyq),
                show(sample_rate)
            ))),
            Limit::AudibleOrZero if v < 0.0 || v >= nyq => Err(EngineError::range(format!(
                "{label}: parameter '{name}' = {} Hz must be at least 0 and below Nyquist ({} Hz at {} Hz)",
                show(v),
                show(nyq),
                show(sample_rate)
            ))),
            _ => Ok(()),
        }
    }
}

/// The role a node plays in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The render's input.
    Input,
    /// The master output.
    Output,
    /// Produces signal and takes no input.
    Source,
    /// Processes the sum of its inputs.
    Effect,
}

/// A validated node, ready for the compiler.
pub struct BuiltNode {
    /// Node id.
    pub id: u32,
    /// Node type name.
    pub kind: String,
    /// Role in the graph.
    pub role: Role,
    /// Parameters in processor order.
    pub params: Vec<ParamInfo>,
    /// The processor (`None` for input and output).
    pub processor: Option<Box<dyn Processor>>,
    /// For meters: the name readings are keyed by.
    pub meter_name: Option<String>,
}

impl BuiltNode {
    /// `type #id`.
    pub fn label(&self) -> String {
        format!("{} #{}", self.kind, self.id)
    }
}

/// Every node type this engine knows, for messages.
pub const NODE_TYPES: &[&str] = &[
    "input",
    "output",
    "oscillator",
    "constant",
    "player",
    "filePlayer",
    "gain",
    "pan",
    "biquad",
    "eq",
    "delay",
    "compressor",
    "limiter",
    "convolver",
    "meter",
    "noise",
    "analyser",
    "linearPhaseEq",
    "processor",
];

/// Largest memory one delay line may take, over all channels (refused before allocating).
pub const MAX_DELAY_BYTES: u64 = 1 << 30;

/// Largest delay line or lookahead accepted, in seconds of audio (refused before allocating).
pub const MAX_DELAY_SECONDS: f64 = 600.0;

const DB_RANGE: Limit = Limit::Range(-120.0, 120.0);

pub(crate) struct ParamDef {
    pub(crate) name: String,
    default: f64,
    limit: Limit,
}

pub(crate) fn pd(name: &str, default: f64, limit: Limit) -> ParamDef {
    ParamDef { name: name.to_string(), default, limit }
}

/// Reads options with type checks and a record of which keys were used.
pub(crate) struct Options<'a> {
    label: String,
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Options<'a> {
    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&mut self, key: &'static str, default: Option<&'static str>) -> Result<String> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(EngineError::type_error(format!(
                "{}: option '{key}' must be a string, got {} {v}",
                self.label,
                type_name(v)
            ))),
            None => default
                .map(str::to_string)
                .ok_or_else(|| EngineError::type_error(format!("{}: option '{key}' is required", self.label))),
        }
    }

    pub(crate) fn boolean(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.get(key) {
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(EngineError::type_error(format!(
                "{}: option '{key}' must be a boolean, got {} {v}",
                self.label,
                type_name(v)
            ))),
            None => Ok(default),
        }
    }

    pub(crate) fn number(&mut self, key: &'static str, default: f64, lo: f64, hi: f64) -> Result<f64> {
        match self.get(key) {
            Some(v) => {
                let x = number(v).ok_or_else(|| {
                    EngineError::type_error(format!(
                        "{}: option '{key}' must be a number, got {} {v}",
                        self.label,
                        type_name(v)
                    ))
                })?;
                if !x.is_finite() || x < lo || x > hi {
                    return Err(EngineError::range(format!(
                        "{}: option '{key}' = {} is out of range [{}, {}]",
                        self.label,
                        show(x),
                        show(lo),
                        show(hi)
                    )));
                }
                Ok(x)
            }
            None => Ok(default),
        }
    }

    fn finish(self) -> Result<()> {
        for k in self.map.keys() {
            if !self.used.iter().any(|u| u == k) {
                return Err(EngineError::type_error(format!(
                    "{}: unknown option '{k}' (known: {})",
                    self.label,
                    if self.used.is_empty() { "none".to_string() } else { self.used.join(", ") }
                )));
            }
        }
        Ok(())
    }
}

/// Reads an audio buffer option: inline arrays of numbers, or `{ "buffer": k }`.
/// A player's buffer at `from` Hz resampled to the render's `to` Hz
/// (band-limited; control side, never on the audio thread).
fn resampled_buffer(label: &str, chans: &[Box<[f32]>], from: f64, to: f64) -> Result<Arc<[Box<[f32]>]>> {
    if from.fract() != 0.0 || to.fract() != 0.0 {
        return Err(EngineError::range(format!(
            "{label}: option 'sampleRate' = {} and the render's rate {} must be whole numbers of Hz to resample between them",
            show(from),
            show(to)
        )));
    }
    let views: Vec<&[f32]> = chans.iter().map(|c| &c[..]).collect();
    let out = ferrite_media::resample(&views, from as u32, to as u32)
        .map_err(|e| EngineError::range(format!("{label}: {e}")))?;
    Ok(out.into_iter().map(Vec::into_boxed_slice).collect::<Vec<_>>().into())
}

fn audio_option(label: &str, key: &str, v: Option<&Value>, ctx: &BuildContext<'_>) -> Result<Arc<[Box<[f32]>]>> {
    let v = v.ok_or_else(|| {
        EngineError::type_error(format!("{label}: option '{key}' is required (an array of Float32Array channels)"))
    })?;
    let chans: Arc<[Box<[f32]>]> = match v {
        Value::Object(o) => {
            let k = o.get("buffer").and_then(Value::as_u64).ok_or_else(|| {
                EngineError::type_error(format!("{label}: option '{key}' must be an array of channels"))
            })?;
            ctx.buffers.get(k as usize).cloned().ok_or_else(|| {
                EngineError::type_error(format!("{label}: option '{key}' refers to buffer {k}, which was not passed"))
            })?
        }
        Value::Array(a) => {
            let mut chans = Vec::with_capacity(a.len());
            for (c, ch) in a.iter().enumerate() {
                let samples = ch.as_array().ok_or_else(|| {
                    EngineError::type_error(format!(
                        "{label}: {key}[{c}] must be an array of samples, got {}",
                        type_name(ch)
                    ))
                })?;
                let mut out = Vec::with_capacity(samples.len());
                for (i, s) in samples.iter().enumerate() {
                    let x = number(s).ok_or_else(|| {
                        EngineError::type_error(format!(
                            "{label}: {key}[{c}][{i}] must be a number, got {}",
                            type_name(s)
                        ))
                    })?;
                    out.push(x as f32);
                }
                chans.push(out.into_boxed_slice());
            }
            chans.into()
        }
        other => {
            return Err(EngineError::type_error(format!(
                "{label}: option '{key}' must be an array of Float32Array channels, got {}",
                type_name(other)
            )))
        }
    };
    if chans.is_empty() {
        return Err(EngineError::range(format!("{label}: option '{key}' has no channels")));
    }
    let len = chans[0].len();
    if let Some((c, ch)) = chans.iter().enumerate().find(|(_, ch)| ch.len() != len) {
        return Err(EngineError::range(format!(
            "{label}: {key}[{c}] has {} frames but {key}[0] has {len}; every channel must have the same length",
            ch.len()
        )));
    }
    check_finite(label, key, &chans, 0)?;
    Ok(chans)
}

/// Refuses a NaN or infinite sample in planar `chans` (a `RangeError` naming
/// `{label}: {key}[c][i]`, `i` counted from `offset`): the one rule for
/// audio handed to the engine (`player`'s buffer, offline and file-render
/// inputs), so a bad sample never turns a render's output or meters into
/// NaN or infinity.
pub(crate) fn check_finite<S: AsRef<[f32]>>(label: &str, key: &str, chans: &[S], offset: u64) -> Result<()> {
    if let Some((c, i)) =
        chans.iter().enumerate().find_map(|(c, ch)| ch.as_ref().iter().position(|x| !x.is_finite()).map(|i| (c, i)))
    {
        return Err(EngineError::range(format!(
            "{label}: {key}[{c}][{}] = {} is not a finite sample",
            offset + i as u64,
            show(chans[c].as_ref()[i] as f64)
        )));
    }
    Ok(())
}

fn kind_of(label: &str, s: &str) -> Result<ferrite_dsp::biquad::BiquadType> {
    ferrite_dsp::biquad::BiquadType::parse(s).ok_or_else(|| EngineError::type_error(format!("{label}: unknown biquad type '{s}' (known: lowpass, highpass, bandpass, notch, allpass, peaking, lowshelf, highshelf)")))
}

fn biquad_params(prefix: &str) -> Vec<ParamDef> {
    vec![
        pd(&format!("{prefix}frequency"), f64::NAN, Limit::Audible),
        pd(&format!("{prefix}q"), std::f64::consts::FRAC_1_SQRT_2, Limit::Range(1e-4, 1000.0)),
        pd(&format!("{prefix}gainDb"), 0.0, DB_RANGE),
    ]
}

fn ms_to_frames(ms: f64, sample_rate: f64) -> usize {
    (ms * sample_rate / 1000.0).round() as usize
}

/// One band of a `linearPhaseEq` (`{ type, frequency, q?, gainDb? }`), checked
/// as `eq` checks its band parameters.
fn linear_phase_band(label: &str, i: usize, b: &Value, sample_rate: f64) -> Result<ferrite_dsp::linear_phase_eq::Band> {
    let obj = b.as_object().ok_or_else(|| {
        EngineError::type_error(format!("{label}: bands[{i}] must be an object, got {}", type_name(b)))
    })?;
    let t = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| EngineError::type_error(format!("{label}: bands[{i}].type must be a biquad type string")))?;
    let kind = kind_of(&format!("{label} bands[{i}]"), t)?;
    for k in obj.keys() {
        if !["type", "frequency", "q", "gainDb"].contains(&k.as_str()) {
            return Err(EngineError::type_error(format!(
                "{label}: bands[{i}]: unknown key '{k}' (known: type, frequency, q, gainDb)"
            )));
        }
    }
    let value = |def: ParamDef| -> Result<f64> {
        let v = match obj.get(def.name.rsplit('.').next().unwrap_or_default()) {
            Some(v) => number(v).ok_or_else(|| {
                EngineError::type_error(format!("{label}: {} must be a number, got {} {v}", def.name, type_name(v)))
            })?,
            None if def.default.is_nan() => {
                return Err(EngineError::type_error(format!("{label}: {} is required", def.name)))
            }
            None => def.default,
        };
        ParamInfo { name: def.name, value: v, limit: def.limit }.check(label, v, sample_rate)?;
        Ok(v)
    };
    let mut defs = biquad_params(&format!("bands[{i}].")).into_iter();
    let mut next = || defs.next().ok_or_else(|| EngineError::other(format!("{label}: internal: band parameters")));
    let frequency = value(next()?)?;
    let q = value(next()?)?;
    let gain_db = value(next()?)?;
    Ok(ferrite_dsp::linear_phase_eq::Band { kind, frequency, q, gain_db })
}

/// Validates one node and builds its processor.
pub fn build(desc: &NodeDesc, ctx: &BuildContext<'_>) -> Result<BuiltNode> {
    use ferrite_dsp::*;
    let label = desc.label();
    let mut opts = Options { label: label.clone(), map: &desc.options, used: Vec::new() };
    let mut meter_name = None;
    let (role, defs, processor): Made = match desc.kind.as_str() {
        "input" => (Role::Input, vec![], None),
        "output" => (Role::Output, vec![], None),
        "oscillator" => make_oscillator(&mut opts, &label)?,
        "constant" => (
            Role::Source,
            vec![pd("value", f64::NAN, Limit::Range(-1e9, 1e9))],
            Some(Box::new(constant::Constant::new())),
        ),
        "player" => make_player(&mut opts, &label, ctx)?,
        "filePlayer" => make_file_player(&mut opts, &label, ctx)?,
        "gain" => (Role::Effect, vec![pd("gain", 1.0, Limit::Range(-1e6, 1e6))], Some(Box::new(gain::Gain::new()))),
        "pan" => (Role::Effect, vec![pd("pan", 0.0, Limit::Range(-1.0, 1.0))], Some(Box::new(pan::Pan::new()))),
        "biquad" => {
            let t = opts.string("type", None)?;
            (Role::Effect, biquad_params(""), Some(Box::new(biquad::Biquad::new(kind_of(&label, &t)?))))
        }
        "eq" => make_eq(&mut opts, &label)?,
        "delay" => make_delay(desc, &mut opts, &label, ctx)?,
        "compressor" => make_compressor(),
        "limiter" => make_limiter(desc, &mut opts, &label)?,
        "convolver" => make_convolver(&mut opts, &label, ctx)?,
        "meter" => {
            meter_name = Some(tap_name(desc, &mut opts, &label)?);
            ferrite_dsp::meter::check_sample_rate(ctx.sample_rate)
                .map_err(|e| EngineError::range(format!("{label}: {e}; a graph with a meter needs at least that")))?;
            (Role::Effect, vec![], Some(Box::new(meter::Meter::new())))
        }
        "analyser" => make_analyser(desc, &mut opts, &label)?,
        "linearPhaseEq" => make_linear_phase_eq(&mut opts, &label, ctx)?,
        "noise" => make_noise(&mut opts, &label)?,
        "processor" => crate::jsproc::node::make(&mut opts, &label, ctx)?,
        other => {
            return Err(EngineError::type_error(format!(
                "node #{}: unknown node type '{other}' (known: {})",
                desc.id,
                NODE_TYPES.join(", ")
            )))
        }
    };
    opts.finish()?;
    let params = params(desc, &label, defs, ctx)?;
    Ok(BuiltNode { id: desc.id, kind: desc.kind.clone(), role, params, processor, meter_name })
}

/// A node's role, parameter definitions and processor.
pub(crate) type Made = (Role, Vec<ParamDef>, Option<Box<dyn Processor>>);

/// The node's parameters: each given value checked, defaults for the rest;
/// a required one missing or an unknown one given is refused.
fn params(desc: &NodeDesc, label: &str, defs: Vec<ParamDef>, ctx: &BuildContext<'_>) -> Result<Vec<ParamInfo>> {
    let mut params = Vec::with_capacity(defs.len());
    for d in defs {
        let info = ParamInfo { name: d.name, value: d.default, limit: d.limit };
        let value = match desc.params.get(&info.name) {
            Some(v) => number(v).ok_or_else(|| {
                EngineError::type_error(format!(
                    "{label}: parameter '{}' must be a number, got {} {v}",
                    info.name,
                    type_name(v)
                ))
            })?,
            None if d.default.is_nan() => {
                return Err(EngineError::type_error(format!("{label}: parameter '{}' is required", info.name)))
            }
            None => d.default,
        };
        info.check(label, value, ctx.sample_rate)?;
        params.push(ParamInfo { value, ..info });
    }
    for k in desc.params.keys() {
        let limiter_option = desc.kind == "limiter" && k == "lookaheadMs";
        if !limiter_option && !params.iter().any(|p| &p.name == k) {
            let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            return Err(EngineError::type_error(format!(
                "{label}: unknown parameter '{k}' (known: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
    }
    Ok(params)
}

/// `oscillator`: a band-limited waveform.
fn make_oscillator(opts: &mut Options<'_>, label: &str) -> Result<Made> {
    let w = opts.string("type", Some("sine"))?;
    let wave = match w.as_str() {
        "sine" => oscillator::Waveform::Sine,
        "saw" => oscillator::Waveform::Saw,
        "square" => oscillator::Waveform::Square,
        "triangle" => oscillator::Waveform::Triangle,
        _ => {
            return Err(EngineError::type_error(format!(
                "{label}: unknown oscillator type '{w}' (known: sine, saw, square, triangle)"
            )))
        }
    };
    let defs = vec![
        pd("frequency", f64::NAN, Limit::AudibleOrZero),
        pd("amplitude", 1.0, Limit::Range(-1e6, 1e6)),
        pd("phase", 0.0, Limit::Range(-1e6, 1e6)),
    ];
    Ok((Role::Source, defs, Some(Box::new(oscillator::Oscillator::new(wave)))))
}

/// `player`: plays a buffer passed beside the graph.
fn make_player(opts: &mut Options<'_>, label: &str, ctx: &BuildContext<'_>) -> Result<Made> {
    let mut chans = audio_option(label, "channels", opts.get("channels"), ctx)?;
    let rate = opts.number("sampleRate", ctx.sample_rate, 1.0, ferrite_media::resample::MAX_RATE as f64)?;
    if rate != ctx.sample_rate {
        chans = resampled_buffer(label, &chans, rate, ctx.sample_rate)?;
    }
    let looped = opts.boolean("loop", false)?;
    let start = match opts.get("startFrame") {
        Some(v) => frames_value(v, &format!("{label}: option 'startFrame'"))? as u64,
        None => 0,
    };
    if looped && chans[0].is_empty() {
        return Err(EngineError::range(format!("{label}: a looped player needs a buffer with at least one frame")));
    }
    Ok((Role::Source, vec![], Some(Box::new(player::Player::new(chans, looped, start)))))
}

/// `filePlayer`: streams a file from disk.
fn make_file_player(opts: &mut Options<'_>, label: &str, ctx: &BuildContext<'_>) -> Result<Made> {
    let path = opts.string("path", None)?;
    if path.is_empty() {
        return Err(EngineError::type_error(format!("{label}: option 'path' must be a non-empty string")));
    }
    let frame_opt = |opts: &mut Options<'_>, key: &'static str| -> Result<u64> {
        match opts.get(key) {
            Some(v) => Ok(frames_value(v, &format!("{label}: option '{key}'"))? as u64),
            None => Ok(0),
        }
    };
    let start_frame = frame_opt(opts, "startFrame")?;
    let offset_frames = frame_opt(opts, "offsetFrames")?;
    let looped = opts.boolean("loop", false)?;
    if ctx.sample_rate.fract() != 0.0 {
        return Err(EngineError::range(format!(
            "{label}: the render's sample rate {} must be a whole number of Hz to stream a file",
            show(ctx.sample_rate)
        )));
    }
    let o = ferrite_media::FilePlayerOptions { path: path.into(), start_frame, offset_frames, looped };
    let player = ferrite_media::FilePlayer::open(&o, ctx.sample_rate as u32, ctx.channels, 0)
        .map_err(|e| EngineError::other(format!("{label}: {}", e.message)))?;
    Ok((Role::Source, vec![pd("gain", 1.0, Limit::Range(0.0, 16.0))], Some(Box::new(player))))
}

/// The `bands` option of `eq` and `linearPhaseEq`: an array of at most 64.
fn bands_option<'a>(opts: &mut Options<'a>, label: &str) -> Result<&'a Vec<Value>> {
    let bands = match opts.get("bands") {
        Some(Value::Array(a)) => a,
        Some(v) => {
            return Err(EngineError::type_error(format!(
                "{label}: option 'bands' must be an array, got {}",
                type_name(v)
            )))
        }
        None => return Err(EngineError::type_error(format!("{label}: option 'bands' is required"))),
    };
    if bands.len() > 64 {
        return Err(EngineError::range(format!("{label}: {} bands is too many (at most 64)", bands.len())));
    }
    Ok(bands)
}

/// `eq`: a series bank of RBJ bands.
fn make_eq(opts: &mut Options<'_>, label: &str) -> Result<Made> {
    let bands = bands_option(opts, label)?;
    let mut kinds = Vec::with_capacity(bands.len());
    let mut defs = Vec::new();
    for (i, b) in bands.iter().enumerate() {
        let t = b
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::type_error(format!("{label}: bands[{i}].type must be a biquad type string")))?;
        kinds.push(kind_of(&format!("{label} bands[{i}]"), t)?);
        defs.extend(biquad_params(&format!("bands[{i}].")));
    }
    Ok((Role::Effect, defs, Some(Box::new(eq::Eq::new(kinds)))))
}

/// `delay`: a musical delay line (not compensated).
fn make_delay(desc: &NodeDesc, opts: &mut Options<'_>, label: &str, ctx: &BuildContext<'_>) -> Result<Made> {
    let max_allowed = (MAX_DELAY_SECONDS * ctx.sample_rate).floor();
    let frames = match desc.params.get("frames") {
        Some(v) => frames_value(v, &format!("{label}: parameter 'frames'"))?,
        None => return Err(EngineError::type_error(format!("{label}: parameter 'frames' is required"))),
    };
    let max = opts.number("maxFrames", frames, 0.0, max_allowed)?;
    if frames > max_allowed {
        return Err(EngineError::range(format!(
            "{label}: parameter 'frames' = {} exceeds the longest delay ({} frames, {MAX_DELAY_SECONDS} s)",
            show(frames),
            show(max_allowed)
        )));
    }
    let max = max.max(frames);
    let bytes = (max + 1.0) * ctx.channels as f64 * 8.0;
    if bytes > MAX_DELAY_BYTES as f64 {
        return Err(EngineError::range(format!(
            "{label}: a {}-frame delay line for {} channels needs {:.1} GiB; the limit is {} GiB",
            show(max),
            ctx.channels,
            bytes / (1u64 << 30) as f64,
            MAX_DELAY_BYTES >> 30
        )));
    }
    let defs = vec![
        pd("frames", frames, Limit::Range(0.0, max)),
        pd("feedback", 0.0, Limit::Range(-0.999, 0.999)),
        pd("mix", 1.0, Limit::Range(0.0, 1.0)),
    ];
    Ok((Role::Effect, defs, Some(Box::new(delay::Delay::new(max as usize)))))
}

/// `limiter`: a look-ahead limiter (reports its lookahead as latency).
fn make_limiter(desc: &NodeDesc, opts: &mut Options<'_>, label: &str) -> Result<Made> {
    let lookahead = match desc.params.get("lookaheadMs").or_else(|| desc.options.get("lookaheadMs")) {
        Some(v) => {
            let x = number(v).ok_or_else(|| {
                EngineError::type_error(format!("{label}: 'lookaheadMs' must be a number, got {}", type_name(v)))
            })?;
            if !x.is_finite() || !(0.0..=1000.0).contains(&x) {
                return Err(EngineError::range(format!(
                    "{label}: 'lookaheadMs' = {} is out of range [0, 1000]",
                    show(x)
                )));
            }
            x
        }
        None => 5.0,
    };
    opts.used.push("lookaheadMs");
    let defs =
        vec![pd("ceilingDb", -1.0, Limit::Range(-60.0, 0.0)), pd("releaseMs", 100.0, Limit::Range(0.1, 10_000.0))];
    Ok((Role::Effect, defs, Some(Box::new(limiter::Limiter::new(lookahead)))))
}

/// `convolver`: an FFT convolution with an impulse response.
fn make_convolver(opts: &mut Options<'_>, label: &str, ctx: &BuildContext<'_>) -> Result<Made> {
    let ir = audio_option(label, "ir", opts.get("ir"), ctx)?;
    let normalize = opts.boolean("normalize", true)?;
    if ir.len() != 1 && ir.len() != ctx.channels {
        return Err(EngineError::range(format!(
            "{label}: the impulse response has {} channels; it must have 1 or the render's {} channels",
            ir.len(),
            ctx.channels
        )));
    }
    if ir[0].is_empty() {
        return Err(EngineError::range(format!("{label}: the impulse response is empty")));
    }
    if ir[0].len() as f64 > MAX_DELAY_SECONDS * ctx.sample_rate {
        return Err(EngineError::range(format!(
            "{label}: the impulse response has {} frames, more than {MAX_DELAY_SECONDS} s",
            ir[0].len()
        )));
    }
    let taps: Vec<&[f32]> = ir.iter().map(|c| &c[..]).collect();
    let conv = convolver::Convolver::try_new(&taps, normalize)
        .map_err(|e| EngineError::range(format!("{label}: {e} for the impulse response")))?;
    Ok((Role::Effect, vec![], Some(Box::new(conv))))
}

/// `compressor`: a feed-forward compressor.
fn make_compressor() -> Made {
    let defs = vec![
        pd("thresholdDb", -24.0, Limit::Range(-120.0, 0.0)),
        pd("ratio", 4.0, Limit::Range(1.0, 1000.0)),
        pd("attackMs", 10.0, Limit::Range(0.0, 10_000.0)),
        pd("releaseMs", 100.0, Limit::Range(0.0, 10_000.0)),
        pd("kneeDb", 6.0, Limit::Range(0.0, 48.0)),
        pd("makeupDb", 0.0, Limit::Range(-60.0, 60.0)),
    ];
    (Role::Effect, defs, Some(Box::new(compressor::Compressor::new())))
}

/// A tap's name (`meter`, `analyser`): its id when not given.
fn tap_name(desc: &NodeDesc, opts: &mut Options<'_>, label: &str) -> Result<String> {
    let name = match opts.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(EngineError::type_error(format!(
                "{label}: option 'name' must be a string, got {}",
                type_name(v)
            )))
        }
        None => desc.id.to_string(),
    };
    Ok(name)
}

/// Frames of lookahead a limiter with `ms` milliseconds reports at `sample_rate`.
pub fn lookahead_frames(ms: f64, sample_rate: f64) -> usize {
    ms_to_frames(ms, sample_rate)
}

/// `analyser`: a pass-through spectrum tap.
fn make_analyser(desc: &NodeDesc, opts: &mut Options<'_>, label: &str) -> Result<Made> {
    use ferrite_dsp::analyser;
    let name = tap_name(desc, opts, label)?;
    let size = opts.number("fftSize", analyser::DEFAULT_FFT_SIZE as f64, f64::NEG_INFINITY, f64::INFINITY)?;
    if size.fract() != 0.0 || !analyser::valid_fft_size(size as usize) {
        return Err(EngineError::range(format!(
            "{label}: option 'fftSize' = {} must be a power of two in [{}, {}]",
            show(size),
            analyser::MIN_FFT_SIZE,
            analyser::MAX_FFT_SIZE
        )));
    }
    let smoothing = opts.number("smoothing", analyser::DEFAULT_SMOOTHING, 0.0, 1.0)?;
    // Test hook: `FERRITE_TEST_ANALYSER_SLACK=N` shrinks the ring to the FFT
    // plus N frames, so that tests can make it overflow.
    let slack = std::env::var("FERRITE_TEST_ANALYSER_SLACK")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(analyser::RING_SLACK);
    let a = analyser::Analyser::with_slack(name, size as usize, smoothing, slack);
    Ok((Role::Effect, vec![], Some(Box::new(a))))
}

/// `linearPhaseEq`: an FIR with the magnitude of RBJ bands and no phase shift.
fn make_linear_phase_eq(opts: &mut Options<'_>, label: &str, ctx: &BuildContext<'_>) -> Result<Made> {
    use ferrite_dsp::linear_phase_eq;
    let bands = bands_option(opts, label)?;
    let mut parsed = Vec::with_capacity(bands.len());
    for (i, b) in bands.iter().enumerate() {
        parsed.push(linear_phase_band(label, i, b, ctx.sample_rate)?);
    }
    let (lo, hi) = (linear_phase_eq::MIN_LENGTH, linear_phase_eq::MAX_LENGTH);
    let length = opts.number("length", linear_phase_eq::DEFAULT_LENGTH as f64, f64::NEG_INFINITY, f64::INFINITY)?;
    if length.fract() != 0.0 || length < lo as f64 || length > hi as f64 || (length as usize).is_multiple_of(2) {
        return Err(EngineError::range(format!(
            "{label}: option 'length' = {} must be an odd whole number in [{lo}, {hi}]",
            show(length)
        )));
    }
    Ok((Role::Effect, vec![], Some(Box::new(linear_phase_eq::LinearPhaseEq::new(parsed, length as usize)))))
}

/// `noise`: seeded white, pink or brown noise.
fn make_noise(opts: &mut Options<'_>, label: &str) -> Result<Made> {
    let c = opts.string("color", Some("white"))?;
    let color = ferrite_dsp::noise::Color::from_name(&c).ok_or_else(|| {
        EngineError::type_error(format!("{label}: unknown noise color '{c}' (known: white, pink, brown)"))
    })?;
    let seed = opts.number("seed", 0.0, 0.0, 9_007_199_254_740_991.0)?;
    if seed.fract() != 0.0 {
        return Err(EngineError::range(format!("{label}: option 'seed' = {} must be a whole number", show(seed))));
    }
    let defs = vec![pd("amplitude", 1.0, Limit::Range(-1e6, 1e6))];
    Ok((Role::Source, defs, Some(Box::new(ferrite_dsp::noise::Noise::new(color, seed as u64)))))
}
