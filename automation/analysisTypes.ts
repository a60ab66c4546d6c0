// The contract between the metric analysis (analysis.ts) and the rollout that acts on it.

/** Which names Knative's queue-proxy exports its request metrics under. */
export type MetricsScheme = "opencensus" | "otel";

export interface AnalysisOptions {
  /** Base URL of the Prometheus HTTP API, e.g. http://prometheus:9090 */
  readonly prometheusUrl: string;
  readonly namespace: string;
  /** The Knative revision under analysis, e.g. hello-5d6e7f8 */
  readonly revision: string;
  /** PromQL range of the analysis window, e.g. "1m", "5m". */
  readonly window: string;
  /** Evaluation time; default now. */
  readonly at?: Date;
  /** Minimum share of non-5xx responses, in percent (e.g. 99). */
  readonly minSuccessRate: number;
  /** Maximum 99th-percentile latency in milliseconds. */
  readonly maxP99Ms: number;
  /** Fewer requests than this in the window: inconclusive. */
  readonly minRequests: number;
  /** Naming scheme; default: detect which one has series for the revision. */
  readonly metrics?: MetricsScheme;
  /**
   * Queries of your own instead of a built-in scheme (e.g. other label names after relabeling,
   * or OTel resource attributes promoted onto the series); not together with `metrics`.
   */
  readonly preset?: MetricsPreset;
  /** Bound of each Prometheus HTTP request, in milliseconds; default 10000. */
  readonly timeoutMs?: number;
}

/**
 * PromQL templates of one naming scheme. Before each query `{namespace}` and `{revision}` become
 * the label values (escaped for a PromQL string) and `{window}` the range, e.g. `5m`. Each query
 * must return at most one sample.
 */
export interface MetricsPreset {
  /** Shown in results and reasons, e.g. "opencensus". */
  readonly name: string;
  /** Number of the revision's request series in the window; no sample or 0: none. */
  readonly seriesQuery: string;
  /** Requests in the window. */
  readonly requestsQuery: string;
  /** 5xx responses in the window; no sample counts as none. */
  readonly serverErrorsQuery: string;
  /** 99th-percentile latency over the window, in the histogram's unit. */
  readonly p99Query: string;
  /** Milliseconds per unit of p99Query's result: 1 for milliseconds, 1000 for seconds. */
  readonly msPerLatencyUnit: number;
}

export interface AnalysisResult {
  readonly verdict: "pass" | "fail" | "inconclusive";
  /** Percent of non-5xx responses in the window. */
  readonly successRate?: number;
  readonly p99Ms?: number;
  readonly requests?: number;
  /** Name of the preset the numbers come from (the detected one by default). */
  readonly preset?: string;
  /** Why: the numbers against the thresholds, or what was missing. */
  readonly reason: string;
}

/**
 * Numbers of a result that cannot be real, each as `name value`: a negative, NaN or infinite
 * request count or p99, a success rate outside 0..100 %. Empty when every number given is
 * plausible. The rollout turns a pass or fail with any of them into inconclusive, whatever
 * analysis produced it (issue 15, fault 6).
 */
export function impossibleValues(result: AnalysisResult): string[] {
  const problems: string[] = [];
  const check = (name: string, value: number | undefined, max: number, rule: string): void => {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > max) {
      problems.push(`${name} ${String(value)} (${rule})`);
    }
  };
  check("requests", result.requests, Infinity, "a count must be finite, 0 or more");
  check("successRate", result.successRate, 100, "a percentage must be from 0 to 100");
  check("p99Ms", result.p99Ms, Infinity, "a latency must be finite, 0 ms or more");
  return problems;
}
