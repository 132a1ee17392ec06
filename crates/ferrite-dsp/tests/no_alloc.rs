//! Every processor runs its audio-thread path (`process` with constant and
//! per-frame parameters, readings, `reset`, `take_state`) without allocating
//! or freeing, checked by `assert_no_alloc` over runs long enough to fill
//! every window, delay line and histogram, with the block sizes the render
//! core uses.

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count, AllocDisabler};
use ferrite_dsp::analyser::Analyser;
use ferrite_dsp::biquad::{Biquad, BiquadType};
use ferrite_dsp::compressor::Compressor;
use ferrite_dsp::constant::Constant;
use ferrite_dsp::convolver::Convolver;
use ferrite_dsp::delay::Delay;
use ferrite_dsp::eq::Eq;
use ferrite_dsp::gain::Gain;
use ferrite_dsp::limiter::Limiter;
use ferrite_dsp::linear_phase_eq::{Band, LinearPhaseEq};
use ferrite_dsp::meter::Meter;
use ferrite_dsp::noise::{Color, Noise};
use ferrite_dsp::oscillator::{Oscillator, Waveform};
use ferrite_dsp::pan::Pan;
use ferrite_dsp::player::Player;
use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};

#[global_allocator]
static A: AllocDisabler = AllocDisabler;

/// Allocations and frees made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> u32 {
    reset_violation_count();
    assert_no_alloc(f);
    violation_count()
}

/// Drives `p` for `blocks` blocks; every third block with per-frame values
/// from `vary(k, frame)` for each parameter k, else the constant `params`.
fn drive(
    name: &str,
    mut p: Box<dyn Processor>,
    mut fresh: Box<dyn Processor>,
    params: &[f64],
    vary: impl Fn(usize, u64) -> f64,
    blocks: u64,
) {
    let ctx = PrepareContext { sample_rate: 48_000.0, max_block: 128, channels: 2 };
    p.prepare(&ctx);
    fresh.prepare(&ctx);
    let mut pb: Vec<ParamBuffer> = params.iter().map(|&v| ParamBuffer::new(v, 128)).collect();
    let mut data = vec![0.0f64; 2 * 128];
    let mut position = 0u64;
    let n = allocations(|| {
        for block in 0..blocks {
            let frames = [128usize, 37, 1, 64][(block % 4) as usize];
            for (i, v) in data.iter_mut().enumerate() {
                *v = 0.8 * ((position as f64 + (i % 128) as f64) * 0.013).sin();
            }
            for (k, b) in pb.iter_mut().enumerate() {
                if block % 3 == 0 {
                    for (i, v) in b.varying_mut(frames).iter_mut().enumerate() {
                        *v = vary(k, position + i as u64);
                    }
                } else {
                    b.set_constant(params[k]);
                }
            }
            let ctx = ProcessContext { frames, position, params: &pb };
            p.process(&ctx, &mut Bus::new(&mut data, 2, 128, frames));
            if let Some(m) = p.as_any_mut().downcast_mut::<Meter>() {
                if block % 50 == 0 {
                    std::hint::black_box(m.take_interval_reading());
                }
                if block == blocks / 2 {
                    m.reset_integration();
                }
                std::hint::black_box(m.total_reading());
            }
            position += frames as u64;
        }
        fresh.take_state(p.as_mut());
        p.reset();
    });
    assert_eq!(n, 0, "{name} allocated or freed {n} times on the audio path");
}

#[test]
fn no_processor_allocates_on_the_audio_path() {
    let ramp = |k: usize, f: u64| 0.5 + 0.1 * k as f64 + (f % 100) as f64 * 0.001;
    drive("gain", Box::new(Gain::new()), Box::new(Gain::new()), &[0.5], ramp, 400);
    drive("pan", Box::new(Pan::new()), Box::new(Pan::new()), &[0.2], ramp, 400);
    drive("constant", Box::new(Constant::new()), Box::new(Constant::new()), &[0.1], ramp, 400);
    for w in [Waveform::Sine, Waveform::Saw, Waveform::Square, Waveform::Triangle] {
        let f = |_: usize, fr: u64| 100.0 + (fr % 1000) as f64;
        drive("oscillator", Box::new(Oscillator::new(w)), Box::new(Oscillator::new(w)), &[440.0, 1.0, 0.0], f, 400);
    }
    let buf: std::sync::Arc<[Box<[f32]>]> = vec![vec![0.25f32; 3000].into_boxed_slice()].into();
    drive("player", Box::new(Player::new(buf.clone(), true, 10)), Box::new(Player::new(buf, true, 10)), &[], ramp, 400);
    let fq = |k: usize, fr: u64| if k.is_multiple_of(3) { 200.0 + (fr % 5000) as f64 } else { 1.0 };
    let peaking = || Box::new(Biquad::new(BiquadType::Peaking));
    drive("biquad", peaking(), peaking(), &[1000.0, 1.0, 3.0], fq, 400);
    let bands = vec![BiquadType::Lowshelf, BiquadType::Peaking, BiquadType::Highshelf, BiquadType::Lowpass];
    let eq_params: Vec<f64> = (0..4).flat_map(|b| [300.0 * (b + 1) as f64, 0.7, 2.0]).collect();
    drive("eq", Box::new(Eq::new(bands.clone())), Box::new(Eq::new(bands)), &eq_params, fq, 400);
    let d = |k: usize, fr: u64| if k == 0 { 100.0 + (fr % 50) as f64 * 0.5 } else { 0.3 };
    drive("delay", Box::new(Delay::new(4800)), Box::new(Delay::new(4800)), &[1200.0, 0.5, 0.5], d, 400);
    let comp = |k: usize, _: u64| [-20.0, 4.0, 5.0, 50.0, 6.0, 0.0][k];
    let comp_params = [-24.0, 4.0, 10.0, 100.0, 6.0, 0.0];
    drive("compressor", Box::new(Compressor::new()), Box::new(Compressor::new()), &comp_params, comp, 400);
    let lim = |k: usize, _: u64| [-3.0, 50.0][k];
    drive("limiter", Box::new(Limiter::new(5.0)), Box::new(Limiter::new(5.0)), &[-1.0, 100.0], lim, 400);
    let ir: Vec<Vec<f32>> = vec![(0..3000).map(|i| (i as f32 * 0.37).sin() / (1.0 + i as f32)).collect(); 2];
    drive("convolver", Box::new(Convolver::new(ir.clone(), true)), Box::new(Convolver::new(ir, true)), &[], ramp, 400);
    // About 4.5 s at 48 kHz: past the 3 s short-term window and several loudness-range blocks.
    drive("meter", Box::new(Meter::new()), Box::new(Meter::new()), &[], ramp, 2400);
    for color in [Color::White, Color::Pink, Color::Brown] {
        drive("noise", Box::new(Noise::new(color, 9)), Box::new(Noise::new(color, 9)), &[0.5], ramp, 400);
    }
    let band = |g: f64| vec![Band { kind: BiquadType::Peaking, frequency: 1000.0, q: 1.0, gain_db: g }];
    let (a, b) = (LinearPhaseEq::new(band(6.0), 4095), LinearPhaseEq::new(band(-3.0), 4095));
    drive("linearPhaseEq", Box::new(a), Box::new(b), &[], ramp, 400);
    // Real time: nobody drains the ring here, so it fills and drops (counted).
    let an = || Box::new(Analyser::new("a".into(), 2048, 0.8));
    drive("analyser", an(), an(), &[], ramp, 2400);
    // Offline: the segment FFTs run in process.
    let offline = || {
        let mut a = Analyser::new("a".into(), 1024, 0.8);
        a.set_blocking(true);
        Box::new(a)
    };
    drive("analyser offline", offline(), offline(), &[], ramp, 400);
}

#[test]
fn the_checker_sees_allocations() {
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);
}
