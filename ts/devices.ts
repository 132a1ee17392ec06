// Audio devices: listDevices.
import * as native from '../load-binding'
import { callNative } from './errors'

/** One audio device. */
export interface DeviceInfo {
  /** Identifier to pass as `device` (for example `alsa:null`). */
  id: string
  /** Human-readable name. */
  name: string
  /** Whether this is the system's default output. */
  isDefault: boolean
  /** Most output channels the device offers (0: input only). */
  outputChannels: number
  /** Most input channels the device offers (0: output only). */
  inputChannels: number
  /** Common sample rates the device supports. */
  sampleRates: number[]
}

/** The audio devices that can be opened (ALSA's `null` device is one, even without a sound card). */
export function listDevices(): DeviceInfo[] {
  return callNative(() => native.listDevicesNative())
}
