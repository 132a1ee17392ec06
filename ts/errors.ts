// Native errors: the native side tags its messages (`[ferrite:RangeError] ...`);
// these helpers call into it and rethrow them as the class they stand for.

/** @internal The tag native error messages start with: the class, then the message. */
export const TAG = /^\[ferrite:(TypeError|RangeError|Error)\] ([\s\S]*)$/

/**
 * @internal Numbers the native side printed in full (`1e300` as 301 digits,
 * `1e-300` as 300 zeros) in the compact form JavaScript prints them in.
 */
export function compactNumbers(message: string): string {
  return message.replace(/\d{22,}(?:\.\d+)?|\b0\.0{20,}\d+/g, (m) => String(Number(m)))
}

/** Rethrows a native error as the `TypeError` / `RangeError` / `Error` it stands for. */
function rethrow(e: unknown): never {
  if (e instanceof Error) {
    const m = TAG.exec(e.message)
    if (m) {
      const Class = m[1] === 'TypeError' ? TypeError : m[1] === 'RangeError' ? RangeError : Error
      throw new Class(compactNumbers(m[2]))
    }
  }
  throw e
}

/** @internal Calls the native side; its tagged errors are rethrown as `TypeError` / `RangeError` / `Error`. */
export function callNative<T>(f: () => T): T {
  try {
    return f()
  } catch (e) {
    rethrow(e)
  }
}

/** @internal {@link callNative} for the native side's promises. */
export async function callNativeAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (e) {
    rethrow(e)
  }
}
