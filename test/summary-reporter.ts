// Ends the run with one plain line, `tests: N passed, N failed, N skipped`, for CI logs, after a line
// for each test skipped with a reason (the kernel and the feature it lacks).
import type { Reporter } from 'vitest/reporters'

type Task = { type: string; name: string; mode?: string; result?: { state?: string; note?: string }; tasks?: Task[] }

export default class SummaryReporter implements Reporter {
  onFinished(files: Task[] = []): void {
    const counts = { passed: 0, failed: 0, skipped: 0 }
    const reasons: string[] = []
    const visit = (task: Task, names: string[]): void => {
      const path = task.type === 'test' || task.type === 'suite' ? [...names, task.name] : names
      if (task.tasks) task.tasks.forEach((child) => visit(child, path))
      if (task.type !== 'test') return
      if (task.result?.state === 'pass') counts.passed++
      else if (task.result?.state === 'fail') counts.failed++
      else {
        counts.skipped++
        if (task.result?.note) reasons.push(`skipped: ${path.join(' > ')}: ${task.result.note}`)
      }
    }
    files.forEach((file) => visit(file, []))
    process.stdout.write(`\n${reasons.map((line) => `${line}\n`).join('')}tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`)
  }
}
