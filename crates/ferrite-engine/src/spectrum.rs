//! Analyser nodes as the engine reports them (the DSP lives in
//! `ferrite_dsp::analyser`): offline average spectra, and the readers the
//! events thread takes from a newly compiled graph.

use crate::render::CompiledGraph;
use ferrite_dsp::analyser::{Analyser, SpectrumReader};

/// One analyser's spectrum: `fftSize/2 + 1` bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// Bin `k` is at `k · sampleRate / fftSize` Hz.
    pub frequencies: Vec<f32>,
    /// dB; a full-scale sine centred on a bin reads 0 dB there (see `ferrite_dsp::analyser`).
    pub magnitudes_db: Vec<f32>,
}

/// Each analyser's average power spectrum over the whole offline render,
/// keyed by its name, in render order (control side, after the render).
pub fn spectra(g: &mut CompiledGraph) -> Vec<(String, Spectrum)> {
    let mut out = Vec::new();
    for i in 0..g.nodes().len() {
        let Some(a) = g.processor_mut(i).and_then(|p| p.as_any_mut().downcast_mut::<Analyser>()) else { continue };
        let Some(db) = a.average_spectrum_db() else { continue };
        let (n, fs) = (a.fft_size(), a.sample_rate());
        let frequencies = (0..=n / 2).map(|k| (k as f64 * fs / n as f64) as f32).collect();
        out.push((
            a.name().to_string(),
            Spectrum { frequencies, magnitudes_db: db.iter().map(|&v| v as f32).collect() },
        ));
    }
    out
}

/// Makes every analyser of a newly compiled graph add the frames it drops
/// to `total` (control side, before the graph is published).
pub fn count_drops_into(g: &mut CompiledGraph, total: &std::sync::Arc<std::sync::atomic::AtomicU64>) {
    for i in 0..g.nodes().len() {
        if let Some(a) = g.processor_mut(i).and_then(|p| p.as_any_mut().downcast_mut::<Analyser>()) {
            a.count_drops_into(total.clone());
        }
    }
}

/// Takes the events-side reader of every analyser of a newly compiled
/// graph (control side, before the graph is published).
pub fn take_readers(g: &mut CompiledGraph) -> Vec<SpectrumReader> {
    let mut out = Vec::new();
    for i in 0..g.nodes().len() {
        let Some(a) = g.processor_mut(i).and_then(|p| p.as_any_mut().downcast_mut::<Analyser>()) else { continue };
        if let Some(r) = a.take_reader() {
            out.push(r);
        }
    }
    out
}
