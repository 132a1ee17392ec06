// The reference session of DESIGN.md, shared by the benches that play or
// render it: `tracks` tracks (saw → 8-band EQ → compressor → gain → pan)
// into a master gain → limiter → meter named 'master'.
import { Graph } from '../../index.mjs'

export function referenceSession(tracks = 64) {
  const g = new Graph()
  const master = g.gain({ gain: 0.1 })
  g.chain(master, g.limiter({ ceilingDb: -1 }), g.meter({ name: 'master' }), g.output)
  for (let t = 0; t < tracks; t++) {
    const bands = Array.from({ length: 8 }, (_, b) => ({ type: 'peaking', frequency: 100 * (b + 1) ** 2, q: 1, gainDb: b % 2 ? -3 : 3 }))
    g.chain(
      g.oscillator({ type: 'saw', frequency: 55 + t * 7, amplitude: 0.3 }),
      g.eq({ bands }),
      g.compressor({ thresholdDb: -20 }),
      g.gain({ gain: 0.5 }),
      g.pan({ pan: (t / tracks) * 2 - 1 }),
      master,
    )
  }
  return g
}
