//! The resampler's quality, measured: level, THD+N against a fitted sine,
//! stopband, and length and alignment.

mod common;
use common::fit_sine;
use ferrite_media::resample;
use std::f64::consts::PI;

fn tone(freq: f64, rate: f64, frames: usize, amp: f64) -> Vec<f32> {
    (0..frames).map(|i| (amp * (2.0 * PI * freq * i as f64 / rate).sin()) as f32).collect()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn a_997_hz_tone_from_44100_to_48000_keeps_its_level_and_purity() {
    // An f32 source carries its own quantisation noise (about -150 dB
    // re full scale); the tone sits at -1 dBFS.
    let amp = 10f64.powf(-1.0 / 20.0);
    let x = tone(997.0, 44100.0, 44100 * 2, amp);
    let y = resample(&[&x], 44100, 48000).unwrap();
    assert_eq!(y[0].len(), 96000);
    // Away from the edges, where the filter sees the whole tone.
    let mid: Vec<f64> = y[0][4800..96000 - 4800].iter().map(|&v| f64::from(v)).collect();
    let (a, thdn_db) = fit_sine(&mid, 997.0, 48000.0);
    let level_db = 20.0 * (a / amp).log10();
    eprintln!("44.1 -> 48 kHz: level {level_db:+.5} dB, THD+N {thdn_db:.1} dB");
    assert!(level_db.abs() < 0.01, "level changed by {level_db} dB");
    assert!(thdn_db <= -120.0, "THD+N {thdn_db:.1} dB");
    // The phase is right too: output frame k is the input at time k / 48000.
    let (a0, _) = fit_sine(&mid, 997.0, 48000.0);
    let w = 2.0 * PI * 997.0 / 48000.0;
    let expect: Vec<f64> = (4800..96000 - 4800).map(|k| amp * (w * k as f64).sin()).collect();
    let err = mid.iter().zip(&expect).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / mid.len() as f64;
    let err_db = 10.0 * (err / (a0 * a0 / 2.0)).log10();
    assert!(err_db < -110.0, "not aligned with the input's time axis: error {err_db:.1} dB");
}

#[test]
fn content_above_the_new_nyquist_is_removed_not_folded() {
    // 48 kHz -> 44.1 kHz: a full-scale 23 kHz tone lies above 22.05 kHz.
    let x = tone(23_000.0, 48000.0, 48000, 1.0);
    let y = resample(&[&x], 48000, 44100).unwrap();
    let mid = &y[0][4410..44100 - 4410];
    let level = 20.0 * (rms(mid) / (1.0 / 2f64.sqrt())).log10();
    eprintln!("23 kHz at 48 -> 44.1 kHz: {level:.1} dB");
    assert!(level <= -100.0, "23 kHz came through at {level:.1} dB");
    // ... while 20 kHz, inside the new band, passes at its level.
    let x = tone(20_000.0, 48000.0, 48000, 0.5);
    let y = resample(&[&x], 48000, 44100).unwrap();
    let mid = &y[0][4410..44100 - 4410];
    let level = 20.0 * (rms(mid) / (0.5 / 2f64.sqrt())).log10();
    assert!(level.abs() < 0.05, "20 kHz passband level {level:.3} dB");
}

#[test]
fn lengths_follow_the_ratio_and_channels_stay_apart() {
    for (from, to, n) in
        [(44100u32, 48000u32, 1000usize), (48000, 44100, 12_345), (22050, 96000, 777), (96000, 8000, 5000)]
    {
        let l = tone(300.0, from as f64, n, 0.5);
        let r = vec![0.0f32; n];
        let y = resample(&[&l, &r], from, to).unwrap();
        let want = (n as u64 * to as u64).div_ceil(from as u64) as usize;
        assert_eq!(y.len(), 2);
        assert_eq!(y[0].len(), want, "{from} -> {to}");
        assert_eq!(y[1].len(), want);
        assert!(y[1].iter().all(|&v| v == 0.0), "silence stays silence");
    }
    let same = resample(&[&[0.1f32, 0.2, 0.3][..]], 48000, 48000).unwrap();
    assert_eq!(same[0], vec![0.1, 0.2, 0.3]);
    assert!(resample(&[&[0.0f32][..]], 0, 48000).is_err());
}
