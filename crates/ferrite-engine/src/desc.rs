//! The serialized graph: the versioned form `Graph.toJSON()` produces and the
//! engine accepts. Parsing checks shapes only; [`crate::compile`] checks meaning.
//!
//! ```json
//! { "format": "ferrite-graph", "version": 1,
//!   "nodes": [ { "id": 0, "type": "input" }, { "id": 1, "type": "output" },
//!              { "id": 2, "type": "oscillator", "params": { "frequency": 440 },
//!                "options": { "type": "sine" } } ],
//!   "connections": [[2, 1]],
//!   "sidechains": [],
//!   "automation": [ { "node": 2, "param": "frequency",
//!                     "points": [ { "frame": 0, "value": 440, "curve": "linear" } ] } ] }
//! ```
//! Numbers that JSON cannot carry travel as the strings `"NaN"`, `"Infinity"`
//! and `"-Infinity"`, so that they are refused with a `RangeError` rather than
//! turned into `null`. Audio buffers travel either inline (arrays of numbers)
//! or as `{ "buffer": k }`, an index into the side list of `Float32Array`s
//! passed with the JSON.

use crate::error::{show, EngineError, Result};
use serde_json::{Map, Value};

/// The only serialized version this engine reads.
pub const FORMAT_VERSION: u64 = 1;

/// One node of the serialized graph.
#[derive(Debug, Clone)]
pub struct NodeDesc {
    /// Identifier, unique within the graph.
    pub id: u32,
    /// Node type (`"oscillator"`, `"biquad"`, ...).
    pub kind: String,
    /// Numeric, automatable parameters by name.
    pub params: Map<String, Value>,
    /// Construction options (waveform, filter type, buffers...).
    pub options: Map<String, Value>,
}

impl NodeDesc {
    /// `type #id`, the way every message names a node.
    pub fn label(&self) -> String {
        format!("{} #{}", self.kind, self.id)
    }
}

/// One automation lane as serialized.
#[derive(Debug, Clone)]
pub struct LaneDesc {
    /// Target node id.
    pub node: u32,
    /// Target parameter name.
    pub param: String,
    /// Breakpoints, in any order (sorted, stably, by frame when compiled).
    pub points: Vec<PointDesc>,
}

/// One automation breakpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointDesc {
    /// Transport frame.
    pub frame: f64,
    /// Value at that frame.
    pub value: f64,
    /// Curve to the next point.
    pub curve: Curve,
}

/// Interpolation from one automation point to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// `v1 + (v2 - v1)·t`
    Linear,
    /// `v1`
    Step,
    /// `v1 + (v2 - v1)·t²`
    Exponential,
    /// `v1 + (v2 - v1)·t²(3 - 2t)`
    SCurve,
}

impl Curve {
    /// Parses the API name (`'linear' | 'step' | 'exponential' | 'scurve'`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "linear" => Curve::Linear,
            "step" => Curve::Step,
            "exponential" => Curve::Exponential,
            "scurve" => Curve::SCurve,
            _ => return None,
        })
    }
}

/// The whole serialized graph.
#[derive(Debug, Clone, Default)]
pub struct GraphDesc {
    /// Nodes in creation order.
    pub nodes: Vec<NodeDesc>,
    /// `(from, to)` node ids.
    pub connections: Vec<(u32, u32)>,
    /// `(key source, compressor)` node ids: the compressor's detector reads
    /// the key source's output instead of its own input.
    pub sidechains: Vec<(u32, u32)>,
    /// Automation lanes.
    pub automation: Vec<LaneDesc>,
    /// The memory budget the host gives this graph's compile (bytes), over
    /// [`crate::compile::CompileOptions::memory_budget`]. Not part of the
    /// document: never read from JSON (a document cannot raise its own
    /// budget); the napi layer sets it from a render's `memoryBudget`.
    pub memory_budget: Option<usize>,
}

/// Reads a JSON number, or one of the strings standing for non-finite numbers.
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// The JavaScript-ish name of a JSON value's type, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn id_of(v: &Value, what: &str) -> Result<u32> {
    match v.as_u64() {
        Some(id) if id <= u32::MAX as u64 => Ok(id as u32),
        _ => Err(EngineError::type_error(format!("{what}: expected a node id (a non-negative integer), got {v}"))),
    }
}

/// A frame position: a finite, non-negative integer.
pub fn frames_value(v: &Value, what: &str) -> Result<f64> {
    let f = number(v).ok_or_else(|| {
        EngineError::type_error(format!("{what}: expected a number of frames, got {} {v}", type_name(v)))
    })?;
    if !f.is_finite() || f < 0.0 || f.fract() != 0.0 || f > 9.007_199_254_740_991e15 {
        return Err(EngineError::range(format!("{what} = {} must be a non-negative whole number of frames", show(f))));
    }
    Ok(f)
}

impl GraphDesc {
    /// Parses the serialized form (a JSON string).
    pub fn parse(json: &str) -> Result<Self> {
        let root: Value =
            serde_json::from_str(json).map_err(|e| EngineError::type_error(format!("graph: not valid JSON ({e})")))?;
        Self::from_value(&root)
    }

    /// Parses an already-decoded JSON value.
    pub fn from_value(root: &Value) -> Result<Self> {
        let obj = root.as_object().ok_or_else(|| EngineError::type_error("graph: expected an object"))?;
        match obj.get("version").and_then(Value::as_u64) {
            Some(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(EngineError::range(format!(
                    "graph: serialized version {v} is not supported (this engine reads version {FORMAT_VERSION})"
                )))
            }
            None => return Err(EngineError::type_error("graph: missing 'version'")),
        }
        let empty = Vec::new();
        let nodes_v = match obj.get("nodes") {
            Some(Value::Array(a)) => a,
            None => &empty,
            Some(v) => {
                return Err(EngineError::type_error(format!("graph: 'nodes' must be an array, got {}", type_name(v))))
            }
        };
        let mut nodes = Vec::with_capacity(nodes_v.len());
        for (i, n) in nodes_v.iter().enumerate() {
            let o =
                n.as_object().ok_or_else(|| EngineError::type_error(format!("graph: nodes[{i}] must be an object")))?;
            let id = id_of(o.get("id").unwrap_or(&Value::Null), &format!("graph: nodes[{i}].id"))?;
            let kind = match o.get("type") {
                Some(Value::String(s)) => s.clone(),
                other => {
                    return Err(EngineError::type_error(format!(
                        "graph: node #{id} has no type (got {})",
                        other.map(type_name).unwrap_or("nothing")
                    )))
                }
            };
            let map_of = |key: &str| -> Result<Map<String, Value>> {
                match o.get(key) {
                    None | Some(Value::Null) => Ok(Map::new()),
                    Some(Value::Object(m)) => Ok(m.clone()),
                    Some(v) => Err(EngineError::type_error(format!(
                        "{kind} #{id}: '{key}' must be an object, got {}",
                        type_name(v)
                    ))),
                }
            };
            nodes.push(NodeDesc { id, params: map_of("params")?, options: map_of("options")?, kind });
        }
        let connections = pairs(obj.get("connections"), "connections", "[from, to]")?;
        let sidechains = pairs(obj.get("sidechains"), "sidechains", "[from, compressor]")?;
        let mut automation = Vec::new();
        match obj.get("automation") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for (i, l) in a.iter().enumerate() {
                    automation.push(parse_lane(l, &format!("automation[{i}]"))?);
                }
            }
            Some(v) => {
                return Err(EngineError::type_error(format!(
                    "graph: 'automation' must be an array, got {}",
                    type_name(v)
                )))
            }
        }
        Ok(Self { nodes, connections, sidechains, automation, memory_budget: None })
    }
}

/// A list of node id pairs (`connections`, `sidechains`); absent or null: none.
fn pairs(v: Option<&Value>, key: &str, shape: &str) -> Result<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for (i, c) in a.iter().enumerate() {
                let pair = c
                    .as_array()
                    .filter(|p| p.len() == 2)
                    .ok_or_else(|| EngineError::type_error(format!("graph: {key}[{i}] must be a {shape} pair")))?;
                let what = format!("graph: {key}[{i}]");
                out.push((id_of(&pair[0], &what)?, id_of(&pair[1], &what)?));
            }
        }
        Some(v) => {
            return Err(EngineError::type_error(format!("graph: '{key}' must be an array, got {}", type_name(v))))
        }
    }
    Ok(out)
}

/// Parses one serialized lane (`{ node, param, points }`).
pub fn parse_lane(l: &Value, what: &str) -> Result<LaneDesc> {
    let o = l.as_object().ok_or_else(|| EngineError::type_error(format!("{what}: a lane must be an object")))?;
    let node = id_of(o.get("node").unwrap_or(&Value::Null), &format!("{what}.node"))?;
    let param = o
        .get("param")
        .and_then(Value::as_str)
        .ok_or_else(|| EngineError::type_error(format!("{what}: 'param' must be a string")))?
        .to_string();
    let pts = o
        .get("points")
        .and_then(Value::as_array)
        .ok_or_else(|| EngineError::type_error(format!("{what}: 'points' must be an array")))?;
    let mut points = Vec::with_capacity(pts.len());
    for (k, p) in pts.iter().enumerate() {
        let po =
            p.as_object().ok_or_else(|| EngineError::type_error(format!("{what}.points[{k}] must be an object")))?;
        let frame = frames_value(
            po.get("frame").unwrap_or(&Value::Null),
            &format!("automation of node #{node} '{param}': points[{k}].frame"),
        )?;
        let vv = po.get("value").unwrap_or(&Value::Null);
        let value = number(vv).ok_or_else(|| {
            EngineError::type_error(format!(
                "automation of node #{node} '{param}': points[{k}].value must be a number, got {}",
                type_name(vv)
            ))
        })?;
        if !value.is_finite() {
            return Err(EngineError::range(format!(
                "automation of node #{node} '{param}': points[{k}].value = {} must be finite",
                show(value)
            )));
        }
        let curve = match po.get("curve") {
            None | Some(Value::Null) => Curve::Linear,
            Some(Value::String(s)) => Curve::parse(s).ok_or_else(|| EngineError::type_error(format!("automation of node #{node} '{param}': points[{k}].curve '{s}' is not one of linear, step, exponential, scurve")))?,
            Some(v) => return Err(EngineError::type_error(format!("automation of node #{node} '{param}': points[{k}].curve must be a string, got {}", type_name(v)))),
        };
        points.push(PointDesc { frame, value, curve });
    }
    Ok(LaneDesc { node, param, points })
}
