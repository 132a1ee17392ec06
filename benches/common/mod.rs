//! Helpers shared by the criterion benches.

/// `n` samples in [-1, 1) of a xorshift64 sequence (13, 7, 17) from the
/// non-zero state `state`: deterministic bench input.
pub fn xorshift(state: u64, n: usize) -> Vec<f64> {
    let mut s = state;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}
