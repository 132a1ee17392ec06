//! Decoding every container and codec against ffmpeg's reading of the same file.

mod common;
use common::*;
use ferrite_media::{decode_file, probe_file, DecodeOptions, Decoder};

fn decode_all(p: &std::path::Path) -> Vec<Vec<f32>> {
    decode_file(p, DecodeOptions::default()).unwrap().channels
}

#[test]
fn lossless_formats_decode_to_the_pcm_source_bit_for_bit() {
    let wav = fixture("s16.wav", &["-c:a", "pcm_s16le"]);
    let reference = ffmpeg_decode(&wav, 2);
    assert_eq!(reference[0].len(), FRAMES);
    let ours = decode_all(&wav);
    assert_eq!(ours, reference, "16-bit WAV");
    for (name, enc) in [
        ("s16.flac", &["-c:a", "flac", "-sample_fmt", "s16"][..]),
        ("s16.aiff", &["-c:a", "pcm_s16be"][..]),
        ("s16.caf", &["-c:a", "pcm_s16le"][..]),
        ("alac16.m4a", &["-c:a", "alac", "-sample_fmt", "s16p"][..]),
    ] {
        let p = fixture(name, enc);
        let d = decode_all(&p);
        assert_eq!(d.len(), 2, "{name}");
        assert_eq!(d[0].len(), FRAMES, "{name}: frames");
        assert!(d == reference, "{name}: samples differ from the 16-bit source");
    }
}

#[test]
fn every_pcm_width_matches_ffmpeg() {
    for (name, enc, bits) in [
        ("u8.wav", &["-c:a", "pcm_u8"][..], 8),
        ("s24.wav", &["-c:a", "pcm_s24le"][..], 24),
        ("s32.wav", &["-c:a", "pcm_s32le"][..], 32),
        ("f32.wav", &["-c:a", "pcm_f32le"][..], 32),
        ("f64.wav", &["-c:a", "pcm_f64le"][..], 64),
        ("s24.flac", &["-c:a", "flac", "-sample_fmt", "s32"][..], 24),
        ("s24.aiff", &["-c:a", "pcm_s24be"][..], 24),
        ("ext6.wav", &["-af", "pan=5.1|c0=c0|c1=c1|c2=c0|c3=c1|c4=c0|c5=c1", "-c:a", "pcm_s24le"][..], 24),
    ] {
        let p = fixture(name, enc);
        let info = probe_file(&p).unwrap();
        let ch = info.channels;
        let reference = ffmpeg_decode(&p, ch);
        let ours = decode_all(&p);
        assert_eq!(ours.len(), ch, "{name}");
        assert_eq!(ours[0].len(), reference[0].len(), "{name}: frames");
        // 32-bit integers do not fit f32 exactly; both round to nearest.
        let tol = if name == "s32.wav" { 1.0 / (1u64 << 24) as f32 } else { 0.0 };
        for c in 0..ch {
            let worst = ours[c].iter().zip(&reference[c]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst <= tol, "{name} channel {c}: worst difference {worst}");
        }
        assert_eq!(info.bit_depth, Some(bits), "{name}: bit depth");
        if name == "s24.flac" {
            assert_eq!(info.bit_depth, Some(24));
        }
    }
}

#[test]
fn probe_reports_container_codec_and_length() {
    let cases = [
        ("s16.wav", &["-c:a", "pcm_s16le"][..], "wav", "pcm"),
        ("s16.flac", &["-c:a", "flac", "-sample_fmt", "s16"][..], "flac", "flac"),
        ("s16.aiff", &["-c:a", "pcm_s16be"][..], "aiff", "pcm"),
        ("s16.caf", &["-c:a", "pcm_s16le"][..], "caf", "pcm"),
        ("alac16.m4a", &["-c:a", "alac", "-sample_fmt", "s16p"][..], "mp4", "alac"),
        ("lame.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"][..], "mp3", "mp3"),
        ("vorbis.ogg", &["-c:a", "libvorbis", "-q:a", "6"][..], "ogg", "vorbis"),
        ("aac.m4a", &["-c:a", "aac", "-b:a", "192k"][..], "mp4", "aac"),
    ];
    for (name, enc, format, codec) in cases {
        let p = fixture(name, enc);
        let info = probe_file(&p).unwrap();
        assert_eq!((info.format, info.codec.as_str()), (format, codec), "{name}");
        assert_eq!((info.sample_rate, info.channels), (44100, 2), "{name}");
        assert_eq!(info.frames, FRAMES as u64, "{name}: frames (gapless: encoder delay and padding removed)");
    }
}

#[test]
fn lossy_files_are_gapless_and_close_to_the_source() {
    let source = ffmpeg_decode(&fixture("s16.wav", &["-c:a", "pcm_s16le"]), 2);
    for (name, enc, max_db) in [
        ("lame.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"][..], -25.0),
        ("vorbis.ogg", &["-c:a", "libvorbis", "-q:a", "6"][..], -25.0),
        ("aac.m4a", &["-c:a", "aac", "-b:a", "192k"][..], -25.0),
    ] {
        let p = fixture(name, enc);
        let d = decode_all(&p);
        assert_eq!(d[0].len(), FRAMES, "{name}: decoded frames");
        // Aligned with the source sample for sample: any leftover encoder
        // delay would shift it and the error would be near 0 dB.
        for c in 0..2 {
            let e = error_db(&d[c], &source[c]);
            assert!(e < max_db, "{name} channel {c}: error {e:.1} dB against the source");
        }
    }
}

#[test]
fn slices_equal_the_same_frames_of_a_whole_decode() {
    for (name, enc, exact) in [
        ("s16.flac", &["-c:a", "flac", "-sample_fmt", "s16"][..], true),
        ("s16.wav", &["-c:a", "pcm_s16le"][..], true),
        ("vorbis.ogg", &["-c:a", "libvorbis", "-q:a", "6"][..], false),
        ("lame.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"][..], false),
    ] {
        let p = fixture(name, enc);
        let whole = decode_all(&p);
        for (start, len) in [(0u64, 1000u64), (12_345, 20_000), (100_000, 50_000)] {
            let part =
                decode_file(&p, DecodeOptions { start_frame: start, frames: Some(len), ..Default::default() }).unwrap();
            let want_len = len.min(FRAMES as u64 - start) as usize;
            assert_eq!(part.channels[0].len(), want_len, "{name} @{start}");
            let whole_part = &whole[0][start as usize..start as usize + want_len];
            if exact {
                assert_eq!(&part.channels[0][..], whole_part, "{name} @{start}");
            } else {
                let e = error_db(&part.channels[0], whole_part);
                assert!(e < -60.0, "{name} @{start}: slice differs from the whole decode by {e:.1} dB");
            }
        }
    }
}

#[test]
fn a_decoder_streams_and_seeks_to_exact_frames() {
    let p = fixture("s16.flac", &["-c:a", "flac", "-sample_fmt", "s16"]);
    let whole = decode_all(&p);
    let mut d = Decoder::open(&p).unwrap();
    let mut a = vec![0.0f32; 777];
    let mut b = vec![0.0f32; 777];
    for pos in [50_000u64, 3, 131_000, 0] {
        d.seek(pos).unwrap();
        let got = d.read(&mut [&mut a[..], &mut b[..]]).unwrap();
        let want = 777.min(FRAMES - pos as usize);
        assert_eq!(got, want);
        assert_eq!(&a[..got], &whole[0][pos as usize..pos as usize + got]);
        assert_eq!(&b[..got], &whole[1][pos as usize..pos as usize + got]);
    }
    d.seek(FRAMES as u64 + 10).unwrap();
    assert_eq!(d.read(&mut [&mut a[..], &mut b[..]]).unwrap(), 0);
}

#[test]
fn channels_are_converted_as_documented() {
    let p = fixture("s16.wav", &["-c:a", "pcm_s16le"]);
    let st = decode_all(&p);
    let mono = decode_file(&p, DecodeOptions { channels: Some(1), ..Default::default() }).unwrap().channels;
    assert_eq!(mono.len(), 1);
    for i in (0..FRAMES).step_by(997) {
        let want = ((f64::from(st[0][i]) + f64::from(st[1][i])) / 2.0) as f32;
        assert_eq!(mono[0][i], want);
    }
    let four = decode_file(&p, DecodeOptions { channels: Some(4), ..Default::default() }).unwrap().channels;
    assert_eq!(four.len(), 4);
    assert_eq!(four[2], st[0]);
    assert_eq!(four[3], st[1]);
}

#[test]
fn resampled_slices_line_up_with_a_whole_resampled_decode() {
    let p = fixture("s16.flac", &["-c:a", "flac", "-sample_fmt", "s16"]);
    let at48 = |start: u64, frames: Option<u64>| {
        decode_file(&p, DecodeOptions { sample_rate: Some(48000), start_frame: start, frames, ..Default::default() })
            .unwrap()
    };
    let whole = at48(0, None);
    assert_eq!(whole.sample_rate, 48000);
    assert_eq!(whole.channels[0].len(), 144_000, "3 s at 48 kHz");
    for start in [1u64, 20_000, 100_001] {
        let part = at48(start, Some(10_000));
        assert_eq!(part.channels[0].len(), 10_000);
        let e = error_db(&part.channels[1], &whole.channels[1][start as usize..start as usize + 10_000]);
        assert!(e < -120.0, "slice at {start}: {e:.1} dB from the whole decode");
    }
    // The 997 Hz tone in channel 0 lands at the right pitch and time.
    let x: Vec<f64> = whole.channels[0][10_000..60_000].iter().map(|&v| f64::from(v)).collect();
    let src: Vec<f64> =
        (10_000..60_000).map(|k| 0.5 * (2.0 * std::f64::consts::PI * 997.0 * k as f64 / 48000.0).sin()).collect();
    let (amp, _) = fit_sine(&x, 997.0, 48000.0);
    assert!((amp - 0.5).abs() < 0.01, "997 Hz at amplitude {amp}");
    let corr: f64 = x.iter().zip(&src).map(|(a, b)| a * b).sum::<f64>() / src.iter().map(|b| b * b).sum::<f64>();
    assert!((corr - 1.0).abs() < 0.02, "in phase with the source's time axis: {corr}");
}
