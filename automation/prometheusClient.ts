// The Prometheus HTTP API as the canary analysis asks it: instant and range queries of rendered
// templates, each bounded in time, every failure a PrometheusError whose message says what went
// wrong (unreachable, not Prometheus, a refused query, an answer of the wrong shape).
import { isRecord } from "../common/json";

export const DEFAULT_TIMEOUT_MS = 10_000;

/** Prometheus could not be asked, or answered with an error: no verdict can come of it. */
export class PrometheusError extends Error {
  constructor(
    message: string,
    /** Prometheus' own errorType (e.g. bad_data for a query it cannot parse), when it gave one. */
    readonly errorType?: string,
  ) {
    super(message);
    this.name = "PrometheusError";
  }
}

export interface PrometheusTarget {
  /** Base URL of the Prometheus HTTP API, e.g. http://prometheus:9090 */
  readonly url: string;
  /** Bound of each request, in milliseconds. */
  readonly timeoutMs: number;
}

/** The values a template's placeholders take. */
export interface TemplateValues {
  readonly namespace: string;
  readonly revision: string;
  readonly window: string;
}

/** PromQL string-literal escaping; the validated names never need it, custom templates might. */
const promString = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"');

export function renderQuery(template: string, values: TemplateValues): string {
  return template
    .replaceAll("{namespace}", promString(values.namespace))
    .replaceAll("{revision}", promString(values.revision))
    .replaceAll("{window}", values.window);
}

// Prometheus durations: units from largest to smallest, each at most once (1h30m, not 30m1h).
const DURATION_UNITS = ["y", "w", "d", "h", "m", "s", "ms"] as const;
const UNIT_MS: Readonly<Record<(typeof DURATION_UNITS)[number], number>> = {
  y: 365 * 86_400_000,
  w: 7 * 86_400_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
};

/** Milliseconds of a PromQL duration (`5m`, `1h30m`), or undefined when it is not one. */
export function parsePromDuration(text: string): number | undefined {
  if (!/^(\d+(ms|y|w|d|h|m|s))+$/.test(text)) return undefined;
  let total = 0;
  let lastUnit = -1;
  for (const [, digits, unit] of text.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) {
    const index = DURATION_UNITS.indexOf(unit as (typeof DURATION_UNITS)[number]);
    if (index <= lastUnit) return undefined;
    lastUnit = index;
    total += Number(digits) * UNIT_MS[DURATION_UNITS[index]];
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Why a Prometheus base URL cannot be used, or undefined when it can. */
export function prometheusUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an http(s) URL like http://prometheus:9090";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return "must be an http(s) URL like http://prometheus:9090";
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    return "must have no query, fragment or credentials";
  }
  return undefined;
}

/** Prometheus writes special floats as NaN, +Inf and -Inf, which Number() does not all read. */
function sampleValue(text: unknown): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const value = typeof text === "string" && text.trim() !== "" ? Number(text) : NaN;
  if (Number.isNaN(value)) throw new PrometheusError(`sample value ${JSON.stringify(text)}`);
  return value;
}

function endpoint(target: PrometheusTarget, path: string): URL {
  const base = target.url.endsWith("/") ? target.url : `${target.url}/`;
  return new URL(path, base);
}

/** POSTs a form to the API and returns its `data`, or throws a PrometheusError saying why not. */
async function call(
  target: PrometheusTarget,
  path: string,
  form: Record<string, string>,
): Promise<Record<string, unknown>> {
  const url = endpoint(target, path);
  let status: number;
  let text: string;
  try {
    // POST: the joined queries can outgrow a comfortable URL; the API takes both.
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams(form),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    const cause = error instanceof Error && isRecord(error.cause) ? error.cause : undefined;
    const detail =
      error instanceof Error && error.name === "TimeoutError"
        ? `no answer within ${target.timeoutMs} ms`
        : [error instanceof Error ? error.message : String(error), cause?.code, cause?.message]
            .filter((part) => typeof part === "string" && part !== "")
            .join(": ");
    throw new PrometheusError(`Prometheus at ${url.origin} could not be reached (${detail})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const start = text.slice(0, 120).replace(/\s+/g, " ");
    throw new PrometheusError(
      `${url.href} answered HTTP ${status} with no JSON (is this the Prometheus base URL?): ${start}`,
    );
  }
  if (!isRecord(json) || json.status !== "success" || status < 200 || status > 299) {
    const kind = isRecord(json) && typeof json.errorType === "string" ? json.errorType : undefined;
    const why = isRecord(json) && typeof json.error === "string" ? `: ${json.error}` : "";
    throw new PrometheusError(
      `Prometheus answered HTTP ${status}${kind !== undefined ? ` ${kind}` : ""}${why} (query ${form.query})`,
      kind,
    );
  }
  if (!isRecord(json.data))
    throw new PrometheusError(`Prometheus answered no data for ${form.query}`);
  return json.data;
}

/** The single value of an instant query at `at`: undefined when it returned no sample. */
export async function instantQuery(
  target: PrometheusTarget,
  query: string,
  at: Date,
): Promise<number | undefined> {
  const data = await call(target, "api/v1/query", { query, time: String(at.getTime() / 1000) });
  if (data.resultType === "scalar" && Array.isArray(data.result)) {
    return sampleValue(data.result[1]);
  }
  if (data.resultType !== "vector" || !Array.isArray(data.result)) {
    throw new PrometheusError(`Prometheus answered a ${String(data.resultType)} for ${query}`);
  }
  if (data.result.length === 0) return undefined;
  if (data.result.length > 1) {
    throw new PrometheusError(`${query} returned ${data.result.length} series instead of one`);
  }
  const sample: unknown = data.result[0];
  if (!isRecord(sample) || !Array.isArray(sample.value)) {
    throw new PrometheusError(`Prometheus answered a malformed sample for ${query}`);
  }
  return sampleValue(sample.value[1]);
}

/** Values of a range query of one series, at start, start + step, ... end; none when empty. */
export async function rangeQuery(
  target: PrometheusTarget,
  query: string,
  range: { readonly start: Date; readonly end: Date; readonly stepMs: number },
): Promise<Array<{ readonly at: Date; readonly value: number }>> {
  const data = await call(target, "api/v1/query_range", {
    query,
    start: String(range.start.getTime() / 1000),
    end: String(range.end.getTime() / 1000),
    step: String(range.stepMs / 1000),
  });
  if (data.resultType !== "matrix" || !Array.isArray(data.result)) {
    throw new PrometheusError(
      `Prometheus answered a ${String(data.resultType)} for the range of ${query}`,
    );
  }
  if (data.result.length === 0) return [];
  if (data.result.length > 1) {
    throw new PrometheusError(`${query} returned ${data.result.length} series instead of one`);
  }
  const series: unknown = data.result[0];
  if (!isRecord(series) || !Array.isArray(series.values)) {
    throw new PrometheusError(`Prometheus answered a malformed series for ${query}`);
  }
  return series.values.map((point: unknown) => {
    if (!Array.isArray(point) || typeof point[0] !== "number") {
      throw new PrometheusError(`Prometheus answered a malformed point for ${query}`);
    }
    return { at: new Date(point[0] * 1000), value: sampleValue(point[1]) };
  });
}
