//! Automation lanes: breakpoints evaluated sample-accurately at the transport
//! frame, with a cursor per lane (no search per sample) and a constant fast
//! path where a lane is flat over a block.
//!
//! The value at frame `p` (the same function as the TypeScript `valueAt`):
//! before the first point, the first value; from the last point on, the last
//! value; otherwise, with `p1` the last point whose frame is `<= p` and `p2`
//! the next one, `t = (p - p1.frame) / (p2.frame - p1.frame)` and `p1.curve`
//! decides: linear `v1 + (v2-v1)·t`, step `v1`, exponential `v1 + (v2-v1)·t²`,
//! scurve `v1 + (v2-v1)·t²(3-2t)`. Points at the same frame: the later one
//! (in insertion order) takes effect from that frame.

use crate::desc::{Curve, PointDesc};

/// One breakpoint, frames as integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Transport frame.
    pub frame: u64,
    /// Value from that frame.
    pub value: f64,
    /// Curve towards the next point.
    pub curve: Curve,
}

/// A sorted lane and its evaluation cursor.
#[derive(Debug, Clone)]
pub struct Lane {
    points: Box<[Point]>,
    cursor: usize,
}

#[inline(always)]
fn interpolate(p1: &Point, p2: &Point, p: u64) -> f64 {
    let (v1, v2) = (p1.value, p2.value);
    let t = (p - p1.frame) as f64 / (p2.frame - p1.frame) as f64;
    match p1.curve {
        Curve::Linear => v1 + (v2 - v1) * t,
        Curve::Step => v1,
        Curve::Exponential => v1 + (v2 - v1) * (t * t),
        Curve::SCurve => v1 + (v2 - v1) * (t * t * (3.0 - 2.0 * t)),
    }
}

impl Lane {
    /// Builds a lane from serialized points (control side: sorts, stably, by frame).
    pub fn new(points: &[PointDesc]) -> Self {
        let mut pts: Vec<Point> =
            points.iter().map(|p| Point { frame: p.frame as u64, value: p.value, curve: p.curve }).collect();
        pts.sort_by_key(|p| p.frame);
        Self { points: pts.into_boxed_slice(), cursor: 0 }
    }

    /// The points, sorted.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// Index of the last point whose frame is `<= p`, or `None` before the first.
    fn locate(&self, p: u64) -> Option<usize> {
        let n = self.points.partition_point(|q| q.frame <= p);
        n.checked_sub(1)
    }

    /// The value at frame `p` (a search; for plotting and tests).
    pub fn value_at(&self, p: u64) -> f64 {
        match self.locate(p) {
            None => self.points.first().map_or(0.0, |q| q.value),
            Some(i) => match (self.points.get(i), self.points.get(i + 1)) {
                (Some(p1), Some(p2)) => interpolate(p1, p2, p),
                (Some(p1), None) => p1.value,
                _ => 0.0,
            },
        }
    }

    /// Fills `out[i]` with the value at frame `start + i`. Returns `Some(v)`
    /// instead (leaving `out` untouched) when the lane is flat at `v` over the
    /// whole block. Moves the cursor forward; a backward jump (seek, loop)
    /// re-locates it once.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn fill(&mut self, start: u64, out: &mut [f64]) -> Option<f64> {
        let pts = &self.points;
        let (first, last) = match (pts.first(), pts.last()) {
            (Some(f), Some(l)) => (f, l),
            _ => return Some(0.0),
        };
        let end = start + out.len().saturating_sub(1) as u64;
        if end < first.frame {
            return Some(first.value);
        }
        if start >= last.frame {
            return Some(last.value);
        }
        // Re-locate the cursor at `start`: forward steps are cheap, backward jumps search.
        let cur_ok = pts.get(self.cursor).is_some_and(|q| q.frame <= start);
        if !cur_ok {
            self.cursor = self.locate(start).unwrap_or(0);
        }
        while pts.get(self.cursor + 1).is_some_and(|q| q.frame <= start) {
            self.cursor += 1;
        }
        if let (Some(p1), Some(p2)) = (pts.get(self.cursor), pts.get(self.cursor + 1)) {
            if p1.frame <= start && p2.frame > end && (p1.curve == Curve::Step || p1.value == p2.value) {
                return Some(p1.value);
            }
        }
        for (i, o) in out.iter_mut().enumerate() {
            let p = start + i as u64;
            while pts.get(self.cursor + 1).is_some_and(|q| q.frame <= p) {
                self.cursor += 1;
            }
            *o = match (pts.get(self.cursor), pts.get(self.cursor + 1)) {
                (Some(p1), _) if p < p1.frame => p1.value,
                (Some(p1), Some(p2)) => interpolate(p1, p2, p),
                (Some(p1), None) => p1.value,
                _ => 0.0,
            };
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(points: &[(u64, f64, Curve)]) -> Lane {
        let d: Vec<PointDesc> =
            points.iter().map(|&(f, v, c)| PointDesc { frame: f as f64, value: v, curve: c }).collect();
        Lane::new(&d)
    }

    #[test]
    fn curves_follow_their_formulas() {
        for (curve, f) in [
            (Curve::Linear, (|t: f64| t) as fn(f64) -> f64),
            (Curve::Step, |_| 0.0),
            (Curve::Exponential, |t| t * t),
            (Curve::SCurve, |t| t * t * (3.0 - 2.0 * t)),
        ] {
            let l = lane(&[(100, 2.0, curve), (200, 6.0, Curve::Linear)]);
            for p in [0u64, 100, 101, 150, 199, 200, 500] {
                let want = if p <= 100 {
                    2.0
                } else if p >= 200 {
                    6.0
                } else {
                    2.0 + 4.0 * f((p - 100) as f64 / 100.0)
                };
                assert!((l.value_at(p) - want).abs() < 1e-12, "{curve:?} at {p}: {} vs {want}", l.value_at(p));
            }
        }
    }

    #[test]
    fn fill_equals_value_at_for_any_block_split_and_seeks() {
        let mut l = lane(&[
            (10, 0.0, Curve::Linear),
            (50, 1.0, Curve::SCurve),
            (90, -1.0, Curve::Step),
            (120, 3.0, Curve::Exponential),
            (300, 0.5, Curve::Linear),
        ]);
        let reference: Vec<f64> = (0..400).map(|p| l.value_at(p)).collect();
        for block in [1usize, 7, 64, 128] {
            let mut got = Vec::new();
            let mut pos = 0u64;
            let mut buf = vec![0.0; block];
            while pos < 400 {
                let n = block.min(400 - pos as usize);
                match l.fill(pos, &mut buf[..n]) {
                    Some(v) => got.extend(std::iter::repeat_n(v, n)),
                    None => got.extend_from_slice(&buf[..n]),
                }
                pos += n as u64;
            }
            assert_eq!(got, reference, "block {block}");
        }
        // Backward jump (a seek) re-locates the cursor.
        let mut buf = [0.0; 4];
        let _ = l.fill(350, &mut buf);
        let v = l.fill(60, &mut buf).map_or(buf.to_vec(), |c| vec![c; 4]);
        assert_eq!(v, (60..64).map(|p| reference[p]).collect::<Vec<_>>());
    }

    #[test]
    fn a_step_lands_on_its_exact_frame_and_duplicates_take_the_later_point() {
        let l = lane(&[(0, 0.0, Curve::Step), (1000, 1.0, Curve::Step)]);
        assert_eq!(l.value_at(999), 0.0);
        assert_eq!(l.value_at(1000), 1.0);
        let d = lane(&[
            (0, 0.0, Curve::Linear),
            (10, 5.0, Curve::Linear),
            (10, 7.0, Curve::Linear),
            (20, 7.0, Curve::Linear),
        ]);
        assert_eq!(d.value_at(9), 4.5);
        assert_eq!(d.value_at(10), 7.0);
    }
}
