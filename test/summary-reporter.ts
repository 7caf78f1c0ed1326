// Ends the run with one plain line, `tests: N passed, N failed, N skipped`, for CI logs.
import type { Reporter } from 'vitest/reporters'

type Task = { type: string; mode?: string; result?: { state?: string }; tasks?: Task[] }

export default class SummaryReporter implements Reporter {
  onFinished(files: Task[] = []): void {
    const counts = { passed: 0, failed: 0, skipped: 0 }
    const visit = (task: Task): void => {
      if (task.tasks) task.tasks.forEach(visit)
      if (task.type !== 'test') return
      if (task.result?.state === 'pass') counts.passed++
      else if (task.result?.state === 'fail') counts.failed++
      else counts.skipped++
    }
    files.forEach(visit)
    process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`)
  }
}
