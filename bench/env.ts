/**
 * The environment every benchmark command runs with: a fixed git identity, no prompts and no telemetry,
 * whatever the caller's environment holds.
 */
export const BENCH_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "bench",
  GIT_AUTHOR_EMAIL: "bench@example.invalid",
  GIT_COMMITTER_NAME: "bench",
  GIT_COMMITTER_EMAIL: "bench@example.invalid",
  GIT_TERMINAL_PROMPT: "0",
  DVC_NO_ANALYTICS: "1",
};
