// What a verifier log's last complaint usually means, and what to change in the program.

/** A complaint of the verifier, and the hint for it. */
const REASONS: ReadonlyArray<[RegExp, string]> = [
  [/invalid mem access '\w*or_null\w*'/,
    'the program uses a pointer that may be NULL (a map lookup, a ringbuf reserve): check it (if (!p) return 0;) before using it'],
  [/invalid mem access 'scalar'|invalid mem access 'inv'/,
    'the program dereferences a number, not a pointer the verifier knows: read kernel memory with BPF_CORE_READ() or bpf_probe_read_kernel()'],
  [/invalid access to (map value|packet|memory)|min value is negative|unbounded memory access|max value is outside of the allowed memory range|min value is outside of the allowed memory range|invalid variable-offset|value is outside of the allowed memory range|out of bounds/,
    'an access may go out of bounds: check the index or offset against the size (if (i < N) / if (data + len > data_end) return …) right before the access, with unsigned types'],
  [/math between .* pointer and register with unbounded/,
    'pointer arithmetic with a value the verifier cannot bound: clamp it first (if (off > MAX) return 0;) or mask it (off &= MAX)'],
  [/invalid (indirect )?read from stack/,
    'the program reads stack memory it has not written: initialize the variable or struct (= {} or __builtin_memset) before passing it on'],
  [/R\d+ !read_ok/, 'the program reads a register that holds no value there (an uninitialized variable, or a missing return value)'],
  [/back-edge from insn|infinite loop detected|loop is not bounded|unbounded loop/,
    'the verifier cannot prove a loop ends: give it a constant bound (for (int i = 0; i < 64; i++)), or use bpf_loop() or bpf_for()'],
  [/BPF program is too large|The sequence of \d+ jumps is too complex|too many states|processed \d+ insns \(limit \d+\)/,
    'the program is too complex for the verifier: split it with tail calls or subprograms, lower loop bounds, or use bpf_loop()'],
  [/combined stack size|stack size \d+\. Too large|invalid write to stack .* off=-?\d+/,
    'the program uses more than the 512 bytes of stack BPF has: keep big structs in a per-CPU array map instead'],
  [/unknown func|program of this type cannot use helper|helper call is not allowed|calling kernel function .* is not allowed|cannot call .* from/,
    'that helper or kfunc is not available to this program type on this kernel (see bpfkit doctor, or features.helper(programType, name))'],
  [/cannot call GPL-restricted function/, 'that helper needs a GPL-compatible license: char LICENSE[] SEC("license") = "GPL";'],
  [/Unreleased reference/,
    'a reference taken by the program is not released on every path: submit or discard each ringbuf reservation, release each acquired kernel object'],
  [/At program exit the register R0|R0 !read_ok/, 'the program returns a value this program type does not allow (or none): check what it returns on every path'],
  [/misaligned (packet|stack|value|access)/, 'an unaligned access: read through a struct field or copy with __builtin_memcpy instead of casting'],
  [/invalid bpf_context access/,
    'the program reads a context field this program type does not have, or at the wrong size: check the SEC() name and the context struct'],
  [/R\d+ type=\S+ expected=/, 'a helper got an argument of the wrong kind (a scalar for a pointer, a stack pointer for a map value…): check its arguments'],
  [/dereference of modified ctx ptr/, 'the program reads the context through a moved pointer: read ctx fields directly (ctx->field), not through ctx + offset'],
  [/attach to unsupported member|Invalid btf_id|attach_btf_id .* is not a function|is not a global function/,
    'the attach target in the SEC() name does not exist in this kernel (see /sys/kernel/btf/vmlinux), or has another type'],
]

/** Lines that close a log without saying what went wrong. */
const SUMMARY = /^(processed \d+ insns|verification time|stack depth|max_states_per_insn|peak_states|mark_read|-- END)/

/** The hint for a verifier log: what its last complaint usually means, or undefined. */
export function verifierHint(log: string): string | undefined {
  const lines = log.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !SUMMARY.test(line))
  for (let i = lines.length - 1; i >= Math.max(0, lines.length - 8); i--) {
    const line = lines[i] as string
    for (const [pattern, hint] of REASONS) if (pattern.test(line)) return hint
  }
  return undefined
}
