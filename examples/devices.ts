// Lists the audio devices ferrite-audio can open (pass an id to Engine.open
// or to examples/live-eq.ts --device). On Linux without a sound card, ALSA's
// "null" device is still there; Engine.openNull needs no device at all.
//
//   npx tsx examples/devices.ts
import { listDevices } from '../index'

const devices = listDevices()
if (devices.length === 0) console.log('no audio devices (Engine.openNull still works)')
for (const d of devices) {
  console.log(`${d.isDefault ? '* ' : '  '}${d.id}`)
  if (d.name && d.name !== d.id) console.log(`    name:        ${d.name}`)
  console.log(`    channels:    ${d.outputChannels} out, ${d.inputChannels} in`)
  console.log(`    rates:       ${d.sampleRates.length ? d.sampleRates.join(', ') + ' Hz' : 'unknown'}`)
}
console.log(`${devices.length} device${devices.length === 1 ? '' : 's'}${devices.some((d) => d.isDefault) ? ' (* default)' : ''}`)
