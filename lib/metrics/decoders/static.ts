// The static decoder: a lookup table, e.g. TCP state numbers → names.

import { invalidArgument, optionsOf, reading } from '../../errors'
import type { LabelDecoder } from './decoder'

/**
 * `{ table: { 1: 'ESTABLISHED', 2: 'SYN_SENT' }, default?: 'other' }`: a value found in the table
 * becomes its entry; others become `default`, or stay as they are without one.
 */
export function staticTable(options: Record<string, unknown>): LabelDecoder {
  const { table, default: fallback } = optionsOf('static', options, { table: true, default: true }) ?? {}
  const entries = reading('static', 'table', () =>
    table === null || typeof table !== 'object' || Array.isArray(table) ? undefined : Object.entries(table))
  if (entries === undefined || entries.some(([, v]) => typeof v !== 'string')) {
    throw invalidArgument('static', 'table must map values to label strings, e.g. { 1: "ESTABLISHED" }')
  }
  if (fallback !== undefined && typeof fallback !== 'string') throw invalidArgument('static', 'default must be a string')
  const labels = new Map(entries as Array<[string, string]>)
  return (value) => labels.get(String(value)) ?? (fallback as string | undefined) ?? String(value)
}
