//! The scalar reference: the stages run in series, one sample at a time,
//! with the plain TDF-II step.

use super::*;

pub(super) fn process(p: &mut Planes, stages: usize, data: &mut [f64]) {
    let mut c = [BiquadCoeffs::IDENTITY; MAX];
    let mut z = [[0.0; 2]; MAX];
    for k in 0..stages.min(MAX) {
        c[k] = BiquadCoeffs { b0: p.b0[k], b1: p.b1[k], b2: p.b2[k], a1: p.a1[k], a2: p.a2[k] };
        z[k] = [p.z1[k], p.z2[k]];
    }
    let (c, z) = (&c[..stages.min(MAX)], &mut z[..stages.min(MAX)]);
    for v in data.iter_mut() {
        let mut x = *v;
        for (c, z) in c.iter().zip(z.iter_mut()) {
            x = tdf2_step::<false>(c, z, x);
        }
        *v = x;
    }
    for (k, z) in z.iter().enumerate() {
        p.z1[k] = z[0];
        p.z2[k] = z[1];
    }
}
