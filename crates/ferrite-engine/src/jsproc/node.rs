//! The `processor` node type: options, parameters and its [`JsProcessor`].
//!
//! ```json
//! { "id": 3, "type": "processor", "params": { "rate": 4 },
//!   "options": { "module": "file:///…/tremolo.mjs", "channels": 2, "latencyBlocks": 2,
//!                "parameters": [ { "name": "rate", "default": 5, "min": 0.1, "max": 20 } ],
//!                "memory": 7, "options": { … } } }
//! ```
//! `parameters` is the module's `static parameters`, and `memory` the token
//! of the instance's registered region ([`super::register`]): the
//! TypeScript host adds both when it loads the module for an engine or an
//! offline render. A graph asking only for its latency says
//! `"latencyOnly": true` instead of giving `memory`. `options` is the
//! processor's own (its constructor's first argument); the engine ignores it.

use super::JsProcessor;
use crate::desc::{number, type_name};
use crate::error::{show, EngineError, Result};
use crate::nodes::{pd, BuildContext, Limit, Made, Options, Role};
use serde_json::Value;

/// Frames per block a JavaScript processor's `process` receives.
pub const BLOCK: usize = 128;
/// Default latency, in blocks of [`BLOCK`] frames.
pub const DEFAULT_LATENCY_BLOCKS: usize = 2;
/// Largest latency accepted, in blocks.
pub const MAX_LATENCY_BLOCKS: usize = 64;

/// Builds a `processor` node (control side).
pub(crate) fn make(opts: &mut Options<'_>, label: &str, ctx: &BuildContext<'_>) -> Result<Made> {
    let module = opts.string("module", None)?;
    let channels = opts.number("channels", ctx.channels as f64, 1.0, crate::compile::MAX_CHANNELS as f64)?;
    if channels.fract() != 0.0 || (channels as usize != 1 && channels as usize != ctx.channels) {
        return Err(EngineError::range(format!(
            "{label}: option 'channels' = {} must be 1 or the render's channel count ({})",
            show(channels),
            ctx.channels
        )));
    }
    let channels = channels as usize;
    let k = opts.number("latencyBlocks", DEFAULT_LATENCY_BLOCKS as f64, 1.0, MAX_LATENCY_BLOCKS as f64)?;
    if k.fract() != 0.0 {
        return Err(EngineError::range(format!(
            "{label}: option 'latencyBlocks' = {} must be a whole number",
            show(k)
        )));
    }
    let k = k as usize;
    let _ = opts.get("options");
    let defs = parameters(opts.get("parameters"), label)?;
    let latency_only = opts.boolean("latencyOnly", false)?;
    let processor = match opts.get("memory") {
        Some(v) => {
            let token = number(v).filter(|t| t.fract() == 0.0 && *t >= 0.0).ok_or_else(|| {
                EngineError::type_error(format!("{label}: option 'memory' must be a region token, got {v}"))
            })?;
            let region = super::lookup(token as u64).ok_or_else(|| {
                EngineError::other(format!(
                    "{label}: the shared memory of module '{module}' is no longer registered (its engine or render was closed)"
                ))
            })?;
            let l = region.layout;
            if (l.channels, l.block, l.latency_blocks, l.params) != (channels, BLOCK, k, defs.len()) {
                return Err(EngineError::other(format!(
                    "{label}: the shared memory of module '{module}' has another shape ({} channels, {} parameters, latency {} blocks)",
                    l.channels, l.params, l.latency_blocks
                )));
            }
            JsProcessor::new(region)
        }
        None if latency_only => JsProcessor::detached(channels, BLOCK, k, defs.len()),
        None => {
            return Err(EngineError::type_error(format!(
            "{label}: module '{module}' runs only in an Engine or renderOffline, which load it on their worker thread"
        )))
        }
    };
    Ok((Role::Effect, defs, Some(Box::new(processor))))
}

/// The `parameters` option: `[{ name, default, min, max }]`.
fn parameters(v: Option<&Value>, label: &str) -> Result<Vec<crate::nodes::ParamDef>> {
    let list = match v {
        None => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(v) => {
            return Err(EngineError::type_error(format!(
                "{label}: option 'parameters' must be an array, got {}",
                type_name(v)
            )))
        }
    };
    if list.len() > super::memory::MAX_PARAMS {
        return Err(EngineError::range(format!(
            "{label}: {} parameters is too many (at most {})",
            list.len(),
            super::memory::MAX_PARAMS
        )));
    }
    let mut defs = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let o = p.as_object().ok_or_else(|| {
            EngineError::type_error(format!("{label}: parameters[{i}] must be an object, got {}", type_name(p)))
        })?;
        let name = o
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::type_error(format!("{label}: parameters[{i}].name must be a string")))?;
        let num = |key: &str, default: f64| -> Result<f64> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => number(v).ok_or_else(|| {
                    EngineError::type_error(format!(
                        "{label}: parameter '{name}': '{key}' must be a number, got {}",
                        type_name(v)
                    ))
                }),
            }
        };
        let (min, max) = (num("min", -f64::MAX)?, num("max", f64::MAX)?);
        let default = num("default", 0.0_f64.clamp(min.min(max), max.max(min)))?;
        if min.is_nan() || max.is_nan() || min > max || !default.is_finite() || default < min || default > max {
            return Err(EngineError::range(format!(
                "{label}: parameter '{name}': default {} must lie in [min, max] = [{}, {}]",
                show(default),
                show(min),
                show(max)
            )));
        }
        if defs.iter().any(|d: &crate::nodes::ParamDef| d.name == name) {
            return Err(EngineError::type_error(format!("{label}: parameter '{name}' is declared twice")));
        }
        defs.push(pd(name, default, Limit::Range(min, max)));
    }
    Ok(defs)
}
