/** Bounded parallelism for transfers (used by backends and by src/transfer). */

/**
 * Runs `tasks` with at most `jobs` in flight; the first failure stops new tasks from starting and is
 * rethrown once the running ones settle.
 *
 * @example
 * await runPool(files.map((f) => () => upload(f)), 8);
 */
export async function runPool(tasks: ReadonlyArray<() => Promise<void>>, jobs: number): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < tasks.length) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tasks.length)) }, worker));
  if (failure) throw failure.err;
}
