// The string decoder: char arrays as text (the default for `char[N]` fields).

import type { LabelDecoder } from './decoder'
import { bytesOf } from './decoder'

/** `char comm[16]` → `bash`: up to the first NUL. Other values as their decimal text. */
export function string(): LabelDecoder {
  return (value) => {
    if (typeof value === 'string') return value
    const bytes = bytesOf(value)
    if (bytes !== undefined) {
      const end = bytes.indexOf(0)
      return Buffer.from(bytes.buffer, bytes.byteOffset, end < 0 ? bytes.length : end).toString('utf8')
    }
    return String(value)
  }
}
