// Canary analysis: one verdict for the candidate revision, from Prometheus, by the metrics of a
// MetricSet (metricSet.ts), each judged against its absolute threshold and/or against the stable
// revision over the same window. Both revisions serve at once during a canary, so a slow day
// slows both and does not fail a good release, while a candidate twice as bad as the stable one
// fails even above an absolute limit.
//
// Comparison rules (Kayenta's idea, with a margin and an answer for "cannot tell"):
// - a proportion (e.g. the success rate): a two-proportion score test of the counts in the
//   window (statistics.ts, Miettinen-Nurminen); a value (e.g. the p99 latency): a Mann-Whitney U
//   test of the per-interval samples of the window (one value per sample interval; samples of
//   too few observations left out), against the stable samples moved by the margin (stable x
//   (1 + margin %) for lower-is-better); a pass must agree with the whole window's values.
// - fail when the candidate is significantly worse than the stable revision by more than the
//   margin (one-sided p < significance); pass when it is significantly NOT worse by that much
//   (the opposite one-sided test, a non-inferiority test); else inconclusive: too little data to
//   tell, which never passes.
// A threshold fails on its own (the value beyond it). The analysis: inconclusive when any number
// cannot be real (the data is broken, not the candidate), else fail when any metric fails, else
// inconclusive when any is, else pass. Every problem with Prometheus is inconclusive; preflight
// (below) finds the ones a rollout can know before it moves any traffic.
import type { AnalysisResult, MetricsScheme, MetricVerdict } from "./analysisTypes";
import {
  builtInMetricSet,
  DETECTED_SCHEMES,
  metricQueries,
  type BuiltInCriteria,
  type Metric,
  type MetricSet,
  type ProportionMetric,
  type ValueMetric,
} from "./metricSet";
import {
  DEFAULT_TIMEOUT_MS,
  instantQuery,
  parsePromDuration,
  prometheusUrlProblem,
  PrometheusError,
  rangeQuery,
  renderQuery,
  type PrometheusTarget,
} from "./prometheusClient";
import {
  mannWhitneyGreater,
  proportionExceedsPValue,
  smallestMannWhitneyPValue,
} from "./statistics";

/** Default significance of each one-sided test (Kayenta's default is a 98 % interval). */
export const DEFAULT_SIGNIFICANCE = 0.01;
export const DEFAULT_SAMPLE_INTERVAL = "30s";
/** Fewest per-interval samples a side for a Mann-Whitney comparison. */
export const MIN_SAMPLES = 3;

export interface CanaryAnalysisOptions {
  /** Base URL of the Prometheus HTTP API, e.g. http://prometheus:9090 */
  readonly prometheusUrl: string;
  readonly namespace: string;
  /** The revision under analysis, e.g. hello-5d6e7f8 */
  readonly candidate: string;
  /** The revision it is compared with (serving the rest of the traffic). */
  readonly stable: string;
  /** PromQL range of the analysis window, e.g. "5m". */
  readonly window: string;
  /** Step of the per-interval samples of value comparisons, e.g. "30s"; default 30s. */
  readonly sampleInterval?: string;
  /** Evaluation time (the window's end); default now. */
  readonly at?: Date;
  readonly metricSet: MetricSet;
  /** Default minTotal of proportion metrics: fewer in `total` is inconclusive. */
  readonly minRequests: number;
  /** Significance level of each one-sided test, e.g. 0.01. */
  readonly significance?: number;
  /** Bound of each Prometheus request, in milliseconds; default 10000. */
  readonly timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Options

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function fail(field: string, value: unknown, expected: string): never {
  const shown = value instanceof Date ? String(value) : JSON.stringify(value);
  throw new Error(`canary analysis: ${field} ${expected}, got ${shown ?? String(value)}`);
}

/** Throws a clear Error for options no Prometheus answer could make sense of. */
export function validateCanaryOptions(opts: CanaryAnalysisOptions): void {
  const urlProblem = prometheusUrlProblem(String(opts.prometheusUrl));
  if (urlProblem !== undefined) fail("prometheusUrl", opts.prometheusUrl, urlProblem);
  for (const field of ["namespace", "candidate", "stable"] as const) {
    const value = opts[field];
    if (typeof value !== "string" || value.length > 63 || !DNS_LABEL.test(value)) {
      fail(field, value, "must be a Kubernetes name (lowercase DNS label, at most 63 characters)");
    }
  }
  if (opts.candidate === opts.stable) {
    fail("stable", opts.stable, "must differ from the candidate");
  }
  const windowMs = typeof opts.window === "string" ? parsePromDuration(opts.window) : undefined;
  if (!windowMs) fail("window", opts.window, 'must be a PromQL duration above zero, like "5m"');
  const sample = opts.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL;
  const sampleMs = typeof sample === "string" ? parsePromDuration(sample) : undefined;
  if (!sampleMs || sampleMs > windowMs) {
    fail(
      "sampleInterval",
      sample,
      `must be a PromQL duration above zero, at most the window (${opts.window})`,
    );
  }
  if (opts.at !== undefined && !(opts.at instanceof Date && Number.isFinite(opts.at.getTime()))) {
    fail("at", opts.at, "must be a valid Date when set");
  }
  if (!(Number.isSafeInteger(opts.minRequests) && opts.minRequests >= 1)) {
    fail("minRequests", opts.minRequests, "must be a whole number of at least 1");
  }
  const alpha = opts.significance ?? DEFAULT_SIGNIFICANCE;
  if (!(Number.isFinite(alpha) && alpha > 0 && alpha < 0.5)) {
    fail("significance", alpha, "must be a probability above 0 and below 0.5, e.g. 0.01");
  }
  if (!Array.isArray(opts.metricSet?.metrics) || opts.metricSet.metrics.length === 0) {
    fail("metricSet", opts.metricSet, "must hold at least one metric (see metricSet.ts)");
  }
  if (
    opts.timeoutMs !== undefined &&
    !(Number.isSafeInteger(opts.timeoutMs) && opts.timeoutMs > 0)
  ) {
    fail("timeoutMs", opts.timeoutMs, "must be a whole number of milliseconds above 0");
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** Up to 4 significant digits, no trailing zeros: 99.5, 8000, 76, 0.3333. */
const num = (value: number): string =>
  Number.isFinite(value) ? String(Number(value.toPrecision(4))) : String(value);

/** A p-value as people read it: p = 0.0013, p < 0.0001. */
const pText = (p: number): string => (p < 0.0001 ? "p < 0.0001" : `p = ${num(p)}`);

function withUnit(value: number, metric: Metric): string {
  if (metric.type === "proportion") return `${num(value)} %`;
  return metric.unit !== undefined ? `${num(value)} ${metric.unit}` : num(value);
}

// ---------------------------------------------------------------------------------------------
// One metric

interface Context {
  readonly target: PrometheusTarget;
  readonly opts: CanaryAnalysisOptions;
  readonly at: Date;
  readonly alpha: number;
  readonly windowMs: number;
  readonly sampleMs: number;
}

/** One template's instant value for a revision over the analysis window. */
const query = (ctx: Context, template: string, revision: string) =>
  instantQuery(
    ctx.target,
    renderQuery(template, { namespace: ctx.opts.namespace, revision, window: ctx.opts.window }),
    ctx.at,
  );

/** A metric's verdict plus whether its numbers are broken (which outranks any fail). */
type Judged = MetricVerdict & { readonly broken?: boolean };

function broken(metric: Metric, what: string): Judged {
  return {
    name: metric.name,
    type: metric.type,
    verdict: "inconclusive",
    broken: true,
    reason: `${metric.name}: ${what}: the data cannot be trusted`,
  };
}

/** Whether each side is worse than the other by the margin: the two one-sided p-values. */
interface Tests {
  readonly pWorse: number;
  readonly pNotWorse: number;
}

function comparisonVerdict(
  metric: Metric,
  tests: Tests,
  alpha: number,
  describe: string,
): { verdict: MetricVerdict["verdict"]; reason: string } {
  const margin =
    metric.type === "proportion"
      ? `${num(metric.compare?.margin ?? 0)} points`
      : `${num(metric.compare?.margin ?? 0)} %`;
  if (tests.pWorse < alpha) {
    return {
      verdict: "fail",
      reason: `${describe}: worse than stable by more than ${margin} (${pText(tests.pWorse)} < ${alpha})`,
    };
  }
  if (tests.pNotWorse < alpha) {
    return {
      verdict: "pass",
      reason: `${describe}: not worse than stable by ${margin} (${pText(tests.pNotWorse)} < ${alpha})`,
    };
  }
  return {
    verdict: "inconclusive",
    reason:
      `${describe}: too little evidence either way against a margin of ${margin} ` +
      `(worse: ${pText(tests.pWorse)}, not worse: ${pText(tests.pNotWorse)}, needed < ${alpha}): ` +
      `more traffic, a longer window or a wider margin`,
  };
}

function thresholdFailure(metric: Metric, value: number): string | undefined {
  if (metric.threshold === undefined) return undefined;
  const beyond = metric.direction === "lower" ? value > metric.threshold : value < metric.threshold;
  if (!beyond) return undefined;
  const limit = metric.direction === "lower" ? "maximum" : "minimum";
  return `${metric.name} ${withUnit(value, metric)} is beyond its ${limit} ${withUnit(metric.threshold, metric)}`;
}

function combine(
  metric: Metric,
  numbers: Omit<MetricVerdict, "name" | "type" | "verdict" | "reason">,
  value: number,
  comparison: { verdict: MetricVerdict["verdict"]; reason: string } | undefined,
): Judged {
  const base = { name: metric.name, type: metric.type, ...numbers };
  const over = thresholdFailure(metric, value);
  const limit =
    metric.threshold === undefined
      ? ""
      : ` (${metric.direction === "lower" ? "maximum" : "minimum"} ${withUnit(metric.threshold, metric)})`;
  if (over !== undefined) {
    return {
      ...base,
      verdict: "fail",
      reason: comparison === undefined ? over : `${over}; ${comparison.reason}`,
    };
  }
  if (comparison === undefined) {
    return {
      ...base,
      verdict: "pass",
      reason: `${metric.name} ${withUnit(value, metric)}${limit}`,
    };
  }
  return { ...base, verdict: comparison.verdict, reason: `${comparison.reason}${limit}` };
}

async function judgeProportion(ctx: Context, metric: ProportionMetric): Promise<Judged> {
  const { candidate, stable } = ctx.opts;
  const [cTotal, cEvents, sTotal, sEvents] = await Promise.all([
    query(ctx, metric.total, candidate),
    query(ctx, metric.events, candidate),
    query(ctx, metric.total, stable),
    query(ctx, metric.events, stable),
  ]);
  const minTotal = metric.minTotal ?? ctx.opts.minRequests;
  type Side =
    | { readonly missing: string }
    | { readonly broken: string }
    | { readonly counts: { events: number; total: number }; readonly share: number };
  const side = (revision: string, total?: number, events?: number): Side => {
    if (total === undefined) return { missing: `no series for ${revision} (total)` };
    const count = events ?? 0;
    if (!(Number.isFinite(total) && total >= 0)) {
      return { broken: `total ${num(total)} for ${revision} is not a count` };
    }
    if (!(Number.isFinite(count) && count >= 0 && count <= total)) {
      return { broken: `events ${num(count)} of ${num(total)} for ${revision} is not a share` };
    }
    return { counts: { events: count, total }, share: total > 0 ? (100 * count) / total : NaN };
  };
  const c = side(candidate, cTotal, cEvents);
  const s = side(stable, sTotal, sEvents);
  if ("broken" in c) return broken(metric, c.broken);
  if ("broken" in s) return broken(metric, s.broken);
  const inconclusive = (reason: string, numbers: Partial<MetricVerdict> = {}): Judged => ({
    name: metric.name,
    type: metric.type,
    ...numbers,
    verdict: "inconclusive",
    reason: `${metric.name}: ${reason}`,
  });
  if ("missing" in c)
    return inconclusive(`${c.missing}: no traffic recorded, or the query does not match`);
  const stableNumbers =
    "counts" in s && s.counts.total > 0 ? { stable: s.share, stableTotal: s.counts.total } : {};
  const numbers = { candidateTotal: c.counts.total, ...stableNumbers };
  if (c.counts.total < minTotal) {
    return inconclusive(
      `only ${num(c.counts.total)} in total for ${candidate}, fewer than the ${minTotal} needed for a verdict`,
      numbers,
    );
  }
  const all = { ...numbers, candidate: c.share };
  const describe = `${metric.name} ${withUnit(c.share, metric)}`;
  if (metric.compare === undefined) return combine(metric, all, c.share, undefined);
  if ("missing" in s || s.counts.total < minTotal) {
    const have = "missing" in s ? "no series" : `only ${num(s.counts.total)} in total`;
    const over = thresholdFailure(metric, c.share);
    if (over !== undefined)
      return { name: metric.name, type: metric.type, ...all, verdict: "fail", reason: over };
    return inconclusive(
      `${describe}: the stable revision ${stable} has ${have} (${minTotal} needed to compare)`,
      all,
    );
  }
  const margin = metric.compare.margin / 100;
  // The candidate is worse when share(a) - share(b) > margin: a larger share of events than the
  // stable's when lower is better, a smaller one when higher is better.
  const [a, b] = metric.direction === "lower" ? [c.counts, s.counts] : [s.counts, c.counts];
  const tests = {
    pWorse: proportionExceedsPValue(a, b, margin),
    pNotWorse: proportionExceedsPValue(b, a, -margin),
  };
  const comparison = comparisonVerdict(
    metric,
    tests,
    ctx.alpha,
    `${describe} vs stable ${withUnit(s.share, metric)}`,
  );
  return combine(
    metric,
    { ...all, pWorse: tests.pWorse, pNotWorse: tests.pNotWorse },
    c.share,
    comparison,
  );
}

/**
 * Samples of the window, one per sample interval. Left out: NaN (an interval without data), and
 * with the metric's sampleCount, intervals of fewer than minSampleCount observations (`thin`).
 */
async function samples(
  ctx: Context,
  metric: ValueMetric,
  revision: string,
): Promise<{ values: number[]; thin: number }> {
  const values = { namespace: ctx.opts.namespace, revision, window: `${ctx.sampleMs / 1000}s` };
  const range = {
    start: new Date(ctx.at.getTime() - ctx.windowMs + ctx.sampleMs),
    end: ctx.at,
    stepMs: ctx.sampleMs,
  };
  const [points, counts] = await Promise.all([
    rangeQuery(ctx.target, renderQuery(metric.query, values), range),
    metric.sampleCount === undefined
      ? Promise.resolve(undefined)
      : rangeQuery(ctx.target, renderQuery(metric.sampleCount, values), range),
  ]);
  const countAt = new Map((counts ?? []).map((c) => [c.at.getTime(), c.value]));
  const kept: number[] = [];
  let thin = 0;
  for (const point of points) {
    if (Number.isNaN(point.value)) continue;
    if (counts !== undefined) {
      const count = countAt.get(point.at.getTime());
      if (count === undefined || !(count >= (metric.minSampleCount ?? 1))) {
        thin++;
        continue;
      }
    }
    kept.push(point.value);
  }
  return { values: kept, thin };
}

const plausible = (value: number): boolean => Number.isFinite(value) && value >= 0;

async function judgeValue(ctx: Context, metric: ValueMetric): Promise<Judged> {
  const { candidate, stable } = ctx.opts;
  const comparing = metric.compare !== undefined;
  const none = { values: [], thin: 0 };
  const [cValue, sValue, cSampled, sSampled] = await Promise.all([
    query(ctx, metric.query, candidate),
    query(ctx, metric.query, stable),
    comparing ? samples(ctx, metric, candidate) : Promise.resolve(none),
    comparing ? samples(ctx, metric, stable) : Promise.resolve(none),
  ]);
  const cSamples = cSampled.values;
  const sSamples = sSampled.values;
  const rule = "a value metric must be a finite number, 0 or more";
  for (const [what, value] of [
    [`${candidate}'s value`, cValue],
    [`${stable}'s value`, sValue],
  ] as const) {
    if (value !== undefined && !Number.isNaN(value) && !plausible(value))
      return broken(metric, `${what} is ${num(value)} (${rule})`);
  }
  for (const [revision, list] of [
    [candidate, cSamples],
    [stable, sSamples],
  ] as const) {
    const bad = list.find((v) => !plausible(v));
    if (bad !== undefined)
      return broken(metric, `a sample of ${revision} is ${num(bad)} (${rule})`);
  }
  const numbers = {
    ...(cValue !== undefined && !Number.isNaN(cValue) ? { candidate: cValue } : {}),
    ...(sValue !== undefined && !Number.isNaN(sValue) ? { stable: sValue } : {}),
    ...(comparing ? { samples: { candidate: cSamples.length, stable: sSamples.length } } : {}),
  };
  const inconclusive = (reason: string): Judged => ({
    name: metric.name,
    type: metric.type,
    ...numbers,
    verdict: "inconclusive",
    reason: `${metric.name}: ${reason}`,
  });
  // NaN is a division by nothing (a quantile or a mean of no requests): no value, like no sample.
  if (cValue === undefined || Number.isNaN(cValue)) {
    return inconclusive(
      `no value for ${candidate}${cValue === undefined ? "" : " (NaN: nothing to compute it from)"}: ` +
        `no traffic recorded, or the query does not match`,
    );
  }
  if (metric.compare === undefined) return combine(metric, numbers, cValue, undefined);
  const stableValue = sValue === undefined || Number.isNaN(sValue) ? undefined : sValue;
  const describe = `${metric.name} ${withUnit(cValue, metric)} vs stable ${stableValue === undefined ? "-" : withUnit(stableValue, metric)}`;
  const fewest = Math.min(cSamples.length, sSamples.length);
  if (
    fewest < MIN_SAMPLES ||
    smallestMannWhitneyPValue(cSamples.length, sSamples.length) >= ctx.alpha
  ) {
    const over = thresholdFailure(metric, cValue);
    if (over !== undefined)
      return { name: metric.name, type: metric.type, ...numbers, verdict: "fail", reason: over };
    return inconclusive(
      `${describe}: too few samples to compare (${cSamples.length} of ${candidate}, ` +
        `${sSamples.length} of ${stable}, one per ${ctx.opts.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL} ` +
        `with data` +
        (cSampled.thin + sSampled.thin > 0
          ? `; left out for fewer than ${metric.minSampleCount} observations: ` +
            `${cSampled.thin} of ${candidate}, ${sSampled.thin} of ${stable}`
          : "") +
        `; at least ${MIN_SAMPLES} a side and enough for p < ${ctx.alpha})`,
    );
  }
  const factor =
    metric.direction === "lower"
      ? 1 + metric.compare.margin / 100
      : 1 - metric.compare.margin / 100;
  const moved = sSamples.map((v) => v * factor);
  const tests =
    metric.direction === "lower"
      ? {
          pWorse: mannWhitneyGreater(cSamples, moved).pValue,
          pNotWorse: mannWhitneyGreater(moved, cSamples).pValue,
        }
      : {
          pWorse: mannWhitneyGreater(moved, cSamples).pValue,
          pNotWorse: mannWhitneyGreater(cSamples, moved).pValue,
        };
  let comparison = comparisonVerdict(metric, tests, ctx.alpha, describe);
  // The samples are a sub-interval's view: a few slow requests can sit in few samples, their
  // median unmoved, while the whole window shows the regression. A pass must agree with the
  // window's own values; when it does not, the samples cannot be trusted to pass it.
  const windowWorse =
    stableValue === undefined ||
    (metric.direction === "lower" ? cValue > stableValue * factor : cValue < stableValue * factor);
  if (comparison.verdict === "pass" && windowWorse) {
    comparison = {
      verdict: "inconclusive",
      reason:
        `${describe}: the samples say not worse by ${num(metric.compare.margin)} % ` +
        `(${pText(tests.pNotWorse)}), but over the whole window the candidate is ` +
        (stableValue === undefined
          ? "without a stable value to compare"
          : `beyond stable x ${num(factor)}`) +
        `: no pass on samples that disagree with the window`,
    };
  }
  return combine(
    metric,
    { ...numbers, pWorse: tests.pWorse, pNotWorse: tests.pNotWorse },
    cValue,
    comparison,
  );
}

// ---------------------------------------------------------------------------------------------
// The verdict

function contextOf(opts: CanaryAnalysisOptions): Context {
  return {
    target: { url: opts.prometheusUrl, timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS },
    opts,
    at: opts.at ?? new Date(),
    alpha: opts.significance ?? DEFAULT_SIGNIFICANCE,
    windowMs: parsePromDuration(opts.window) as number,
    sampleMs: parsePromDuration(opts.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL) as number,
  };
}

function scope(ctx: Context): string {
  const { opts } = ctx;
  return (
    `${opts.candidate} against ${opts.stable} in namespace ${opts.namespace}, ` +
    `${opts.window} ending ${ctx.at.toISOString()} (${opts.metricSet.source} metrics)`
  );
}

/**
 * Judges the candidate by every metric of the set. Throws only for invalid options; every
 * problem with Prometheus or the data is `inconclusive`.
 */
export async function analyseCanary(opts: CanaryAnalysisOptions): Promise<AnalysisResult> {
  validateCanaryOptions(opts);
  const ctx = contextOf(opts);
  // Each metric on its own: a query that fails leaves that metric inconclusive, and another
  // metric's clear fail still fails the candidate.
  const judged: Judged[] = await Promise.all(
    opts.metricSet.metrics.map(async (metric): Promise<Judged> => {
      try {
        return await (metric.type === "proportion"
          ? judgeProportion(ctx, metric)
          : judgeValue(ctx, metric));
      } catch (error) {
        if (!(error instanceof PrometheusError)) throw error;
        return {
          name: metric.name,
          type: metric.type,
          verdict: "inconclusive",
          reason: `${metric.name}: no verdict: ${error.message}`,
        };
      }
    }),
  );
  const metrics: MetricVerdict[] = judged.map(({ broken: _broken, ...verdict }) => verdict);
  const reasons = (list: readonly Judged[]) => list.map((m) => m.reason).join("; ");
  const result = (verdict: AnalysisResult["verdict"], lead: string, list: readonly Judged[]) => ({
    verdict,
    stable: opts.stable,
    metrics,
    reason: `${lead} for ${scope(ctx)}: ${reasons(list)}.`,
  });
  const brokenOnes = judged.filter((m) => m.broken === true);
  if (brokenOnes.length > 0) return result("inconclusive", "No verdict", brokenOnes);
  const failed = judged.filter((m) => m.verdict === "fail");
  if (failed.length > 0) return result("fail", "Failed", failed);
  const open = judged.filter((m) => m.verdict === "inconclusive");
  if (open.length > 0) return result("inconclusive", "Inconclusive", open);
  return result("pass", "Passed", judged);
}

// ---------------------------------------------------------------------------------------------
// Preflight

/** What preflight needs: the analysis options without the metric set when it is to be detected. */
export type PreflightOptions = Omit<CanaryAnalysisOptions, "metricSet"> & {
  /** A set (from a file, or built in); or undefined to detect a built-in one by its series. */
  readonly metricSet?: MetricSet;
  /** With `metricSet` undefined: the built-in scheme, or undefined to detect. */
  readonly scheme?: MetricsScheme;
  /** With `metricSet` undefined: what the built-in metrics are judged by. */
  readonly criteria?: BuiltInCriteria;
};

export type PreflightResult =
  | {
      readonly ok: true;
      readonly metricSet: MetricSet;
      readonly checked: readonly string[];
      /** What may be right but deserves a look (e.g. an events query without series). */
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Before any traffic moves: Prometheus answers; every query of the set is one it accepts, for
 * the stable revision and the candidate alike (one series each at most); the stable revision has
 * series for every metric over the window ending `at`, and for a proportion at least its
 * minimum total (the candidate, at 0 % still, may have none); a compared value gets enough
 * samples from the stable's real series (a rate needs two scrapes in each sample interval).
 * Detects the built-in scheme from the stable revision's series when none is given. Never throws
 * for Prometheus; bad options throw as in analyseCanary.
 */
export async function preflightCanary(opts: PreflightOptions): Promise<PreflightResult> {
  const criteria = opts.criteria ?? {};
  const setFor = (scheme: MetricsScheme) => builtInMetricSet(scheme, criteria);
  const first = opts.metricSet ?? setFor(opts.scheme ?? DETECTED_SCHEMES[0]);
  validateCanaryOptions({ ...opts, metricSet: first });
  const ctx = contextOf({ ...opts, metricSet: first });
  try {
    await instantQuery(ctx.target, "vector(1)", ctx.at);
  } catch (error) {
    return { ok: false, problems: [`Prometheus: ${(error as Error).message}`] };
  }
  const where = `in namespace ${opts.namespace} over the ${opts.window} ending ${ctx.at.toISOString()}`;
  let metricSet = first;
  if (opts.metricSet === undefined && opts.scheme === undefined) {
    let counts: Array<number | undefined>;
    try {
      counts = await Promise.all(
        DETECTED_SCHEMES.map((scheme) => {
          const total = setFor(scheme).metrics.find((m) => m.type === "proportion");
          return total === undefined
            ? Promise.resolve(undefined)
            : query(ctx, (total as ProportionMetric).total, opts.stable);
        }),
      );
    } catch (error) {
      return { ok: false, problems: [`Prometheus: ${(error as Error).message}`] };
    }
    const found = DETECTED_SCHEMES.filter((_, i) => (counts[i] ?? 0) > 0);
    if (found.length === 0) {
      return {
        ok: false,
        problems: [
          `the stable revision ${opts.stable} has no request series ${where}, under either of ` +
            `Knative's metric names (opencensus: revision_app_request_count; otel: ` +
            `kn_serving_invocation_duration_seconds joined to target_info). Is Prometheus scraping ` +
            `the queue-proxy, and the stable revision serving? Or give --metrics or --metrics-file.`,
        ],
      };
    }
    if (found.length > 1) {
      return {
        ok: false,
        problems: [
          `the stable revision ${opts.stable} has series under both the opencensus and the otel ` +
            `names (a Knative upgrade in the window?): choose one with --metrics`,
        ],
      };
    }
    metricSet = setFor(found[0]);
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  const checked: string[] = [];
  for (const metric of metricSet.metrics) {
    const before = problems.length;
    for (const { field, template } of metricQueries(metric)) {
      const label = `metric ${metric.name} (${field})`;
      let value: number | undefined;
      try {
        value = await query(ctx, template, opts.stable);
        // The candidate may have no data yet, but a query that breaks for it (two series where
        // the stable has one pod) would break every analysis.
        await query(ctx, template, opts.candidate);
      } catch (error) {
        problems.push(`${label}: ${(error as Error).message}`);
        continue;
      }
      const noSeries = `${label}: the stable revision ${opts.stable} has no series ${where}`;
      if (field === "events") {
        // No events may be true (no 5xx at all), or a matcher that never matches.
        if (value === undefined || value === 0) {
          warnings.push(
            `${label}: no events for the stable revision ${opts.stable} ${where}. Right if it ` +
              `had none; a matcher that never matches (e.g. response_code=~"5xx", which no "503" ` +
              `matches) would count none for the candidate too`,
          );
        }
      } else if (field === "total") {
        const minTotal = (metric as ProportionMetric).minTotal ?? opts.minRequests;
        if (value === undefined || !(value > 0)) {
          problems.push(`${noSeries}${value === 0 ? " (0 in total)" : ""}`);
          continue;
        }
        if (value < minTotal) {
          problems.push(
            `${label}: the stable revision ${opts.stable} has only ${num(value)} ${where}, ` +
              `fewer than the ${minTotal} each analysis needs: every analysis would be inconclusive`,
          );
          continue;
        }
      } else if (value === undefined || Number.isNaN(value)) {
        problems.push(noSeries);
        continue;
      }
      checked.push(`${metric.name} (${field})`);
    }
    if (metric.type === "value" && metric.compare !== undefined && problems.length === before) {
      const planned = Math.floor(ctx.windowMs / ctx.sampleMs);
      let got: { values: number[]; thin: number };
      try {
        got = await samples(ctx, metric, opts.stable);
      } catch (error) {
        problems.push(`metric ${metric.name} (samples): ${(error as Error).message}`);
        continue;
      }
      const n = got.values.length;
      if (n < MIN_SAMPLES || smallestMannWhitneyPValue(n, n) >= ctx.alpha) {
        const interval = opts.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL;
        problems.push(
          `metric ${metric.name} (compare): the stable revision has ${n} usable sample` +
            `${n === 1 ? "" : "s"} of the ${planned} a ${opts.window} window gives at one per ` +
            `${interval}` +
            (got.thin > 0
              ? ` (${got.thin} left out for fewer than ${metric.minSampleCount} observations)`
              : "") +
            `, too few for a Mann-Whitney test to reach p < ${ctx.alpha}. A rate needs two ` +
            `scrapes inside each sample: give --sample-interval at least twice the scrape ` +
            `interval, and a window of enough samples (--window)`,
        );
      }
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, metricSet, checked, warnings };
}
