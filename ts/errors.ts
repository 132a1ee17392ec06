// Native errors: the native side tags its messages (`[ferrite:RangeError] ...`);
// these helpers call into it and rethrow them as the class they stand for.

/** @internal The tag native error messages start with: the class, then the message. */
export const TAG = /^\[ferrite:(TypeError|RangeError|Error)\] ([\s\S]*)$/

/** Rethrows a native error as the `TypeError` / `RangeError` / `Error` it stands for. */
function rethrow(e: unknown): never {
  if (e instanceof Error) {
    const m = TAG.exec(e.message)
    if (m) {
      const Class = m[1] === 'TypeError' ? TypeError : m[1] === 'RangeError' ? RangeError : Error
      throw new Class(m[2])
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
