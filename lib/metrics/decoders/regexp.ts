// The regexp decoder: keeps only the entries whose label matches, optionally rewriting it.

import { invalidArgument, optionsOf } from '../../errors'
import type { LabelDecoder } from './decoder'

/**
 * `{ match: '^(nginx|node)$' }` keeps entries whose label matches and drops the rest;
 * `{ match: '^kworker/.*', replace: 'kworker' }` also rewrites the matching labels ($1… allowed).
 */
export function regexp(options: Record<string, unknown>): LabelDecoder {
  const { match, replace } = optionsOf('regexp', options, { match: true, replace: true }) ?? {}
  if (typeof match !== 'string') throw invalidArgument('regexp', 'match must be a regular expression string')
  if (replace !== undefined && typeof replace !== 'string') throw invalidArgument('regexp', 'replace must be a string')
  let pattern: RegExp
  try {
    pattern = new RegExp(match)
  } catch (error) {
    throw invalidArgument('regexp', `match: ${(error as Error).message}`)
  }
  return (value) => {
    const text = String(value)
    if (!pattern.test(text)) return null
    return replace === undefined ? text : text.replace(pattern, replace)
  }
}
