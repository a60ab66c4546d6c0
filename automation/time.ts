// Durations as people type them (`2m`, `90s`, `1m30s`) and a sleep that an AbortSignal ends early.

/** Waits `ms`; resolves early (never rejects) when `signal` aborts, so callers check the signal. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses `90s`, `2m`, `1h`, `1m30s`, `500ms` into milliseconds; undefined when it is not one.
 * A bare number is refused: seconds or minutes would both be plausible readings.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+)(ms|s|m|h)/g)) {
    total += Number(match[1]) * UNIT_MS[match[2]];
  }
  return total;
}

/** `120000` -> `2m`, `90000` -> `1m30s`, `500` -> `500ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  let rest = Math.round(ms / 1_000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join("");
}

/** A PromQL range for a window: whole seconds, which every Prometheus version accepts. */
export function promqlDuration(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1_000))}s`;
}
