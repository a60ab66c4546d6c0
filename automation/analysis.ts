// Metric analysis of a canary: one verdict for one Knative revision from Prometheus, from the
// request metrics of its queue-proxy sidecars. Knative exported them under two naming schemes;
// both are presets here, and by default the one with series for the revision is used.
//
// "opencensus" (Knative up to 1.18):
//   revision_app_request_count               counter, no `_total` suffix
//   revision_app_request_latencies_bucket    histogram in milliseconds, `le` bounds 5 .. 100000
//   labels namespace_name, revision_name, response_code ("503"), response_code_class ("5xx"),
//   plus configuration_name, service_name, pod_name, container_name.
//   Sources: knative/serving pkg/queue/metrics/request_metric.go (measures `app_request_count`,
//   `app_request_latencies` in ms, the bucket bounds, tags response_code(_class); resource labels
//   from PodRevisionContext); knative/pkg metrics/prometheus_exporter.go (exporter namespace = the
//   component, "revision"); census-ecosystem/opencensus-go-exporter-prometheus prometheus.go
//   (name = namespace + "_" + view name, counters get no `_total`; resource labels become labels
//   of every series); Knative docs serving/services/service-metrics.
//   Why the app_* pair and not revision_request_count/latencies: in pkg/queue/sharedmain/main.go
//   the app handler wraps only the proxy to the user container (inside the concurrency breaker and
//   the timeout handler), the request_* handler wraps the whole queue-proxy chain. The app view
//   measures the candidate's own code, not the time a request waited in the queue-proxy for a
//   free slot, which depends on autoscaling and on how few pods a small canary share gets; and it
//   is the view Knative carried over to OpenTelemetry (below), so both presets measure the same
//   thing and a verdict does not change meaning across a Knative upgrade. Cost: 503s the breaker
//   sheds before the container are not counted. For the queue-proxy view, pass
//   buildPreset({... requestCounter: "revision_request_count", latencyBuckets:
//   "revision_request_latencies_bucket" ...}) as `preset`.
//
// "otel" (Knative 1.21 .. knative-v1.23.0, OpenTelemetry since 1.19):
//   kn_serving_invocation_duration_seconds_bucket / _count   histogram in SECONDS, bounds
//     0.005 .. 10; its _count is the request counter (there is no separate one)
//   series labels: http_response_status_code ("503"), le, otel_scope_name, otel_scope_version,
//     plus the target labels job and instance
//   revision and namespace: only on `target_info` (k8s_namespace_name, kn_revision_name,
//     kn_configuration_name, kn_service_name, service_name, service_instance_id, ...), joined
//     on (job, instance)
//   Sources: knative/serving pkg/queue/request_metric.go (NewAppRequestMetricsHandler: Float64
//   histogram, unit "s", latencyBounds, attribute semconv http.response.status_code; first named
//   kn.queueproxy.app.duration, renamed kn.serving.invocation.duration in 1.21, serving#16290;
//   sub-second precision fixed in 1.21, serving#16358); pkg/queue/sharedmain/otel.go (namespace
//   and kn.* names are RESOURCE attributes, not attributes of the data points);
//   pkg/metrics/newkey.go (kn.revision.name, k8s.namespace.name...); knative/pkg
//   observability/metrics/prometheus_enabled.go (otelprom.New with only
//   WithTranslationStrategy(UnderscoreEscapingWithSuffixes): dots -> underscores, unit suffix
//   `_seconds`, `_total` on counters, and no WithResourceAsConstantLabels); open-telemetry/
//   opentelemetry-go exporters/prometheus/config.go and testdata/custom_resource.txt (resource
//   attributes go to target_info only; scope labels otel_scope_* on each series); knative/docs
//   docs/versioned/serving/observability/metrics/serving-metrics.md and collecting-metrics.md
//   (recommended path: OTLP push to Prometheus' OTLP receiver, which also keeps resource
//   attributes on target_info, with job = service.name and instance = service.instance.id on both
//   sides, unless promoted; knative-extensions/monitoring promotes k8s.namespace.name but not
//   kn.revision.name). Where a collector or promote_resource_attributes puts k8s_namespace_name
//   and kn_revision_name on the series themselves, use OTEL_RESOURCE_LABELS_PRESET.
//   Knative 1.19 and 1.20 exported the same histogram as kn_queueproxy_app_duration_seconds,
//   with latencies truncated to whole seconds: a p99 from it is meaningless, so no preset.
//   Not used: otelhttp's http_server_request_duration_seconds, whose name and attributes follow
//   the otelhttp release's semantic-convention default rather than Knative's own code.
//
// Verdict rules: `pass` only with at least minRequests requests, a success rate (non-5xx share)
// of at least minSuccessRate and a p99 of at most maxP99Ms. A success rate below the minimum
// fails on its own. Anything missing or unreadable (no series, too few requests, Prometheus
// unreachable or answering an error) is `inconclusive`, never `pass`; so is any value that cannot
// be real (a negative, NaN or infinite count or latency, more 5xx than requests), which makes
// even a failing success rate inconclusive: the data is broken, not the candidate. Bad options are
// programming errors and throw.
import { AnalysisOptions, AnalysisResult, MetricsPreset, MetricsScheme } from "./analysisTypes";
import { isRecord } from "../common/json";

export const DEFAULT_TIMEOUT_MS = 10_000;

/** How a label-based scheme names its series; see buildPreset. */
export interface PresetParts {
  readonly name: string;
  /** A request counter, or a latency histogram's `_count`. */
  readonly requestCounter: string;
  /** The latency histogram's `_bucket` series (with `le`). */
  readonly latencyBuckets: string;
  /** 1 when the histogram is in milliseconds, 1000 in seconds. */
  readonly msPerLatencyUnit: number;
  /** Matchers that pick the revision, with {namespace} and {revision} placeholders. */
  readonly revisionMatchers: string;
  /** Matcher of 5xx responses on requestCounter, e.g. response_code_class="5xx". */
  readonly serverErrorMatcher: string;
  /**
   * When the revision labels are not on the series but on an info metric (value 1) of the same
   * target: revisionMatchers apply to `metric`, joined to the series on `joinOn`.
   */
  readonly revisionInfo?: { readonly metric: string; readonly joinOn: readonly string[] };
}

function selector(metric: string, matchers: readonly string[]): string {
  const present = matchers.filter((m) => m !== "");
  return present.length === 0 ? metric : `${metric}{${present.join(",")}}`;
}

/** The four queries of a scheme whose revision is told by labels (on its series or an info metric). */
export function buildPreset(parts: PresetParts): MetricsPreset {
  const info = parts.revisionInfo;
  // One sample per series of the revision: `fn(metric{...}[window])`, filtered by the join when
  // the revision labels live on the info metric. last_over_time keeps pods that were scraped
  // during the window but are gone at its end (scale to zero), as the range functions do.
  const perSeries = (fn: string, metric: string, extra: string): string => {
    const own = info === undefined ? [parts.revisionMatchers, extra] : [extra];
    const series = `${fn}(${selector(metric, own)}[{window}])`;
    if (info === undefined) return series;
    const on = info.joinOn.join(", ");
    const revision = selector(info.metric, [parts.revisionMatchers]);
    // group by: one 1 per target even when the info metric changed labels in the window.
    return `${series} * on (${on}) group_left () group by (${on}) (last_over_time(${revision}[{window}]))`;
  };
  return {
    name: parts.name,
    seriesQuery: `count(${perSeries("last_over_time", parts.requestCounter, "")})`,
    requestsQuery: `sum(${perSeries("increase", parts.requestCounter, "")})`,
    serverErrorsQuery: `sum(${perSeries("increase", parts.requestCounter, parts.serverErrorMatcher)})`,
    p99Query: `histogram_quantile(0.99, sum by (le) (${perSeries("rate", parts.latencyBuckets, "")}))`,
    msPerLatencyUnit: parts.msPerLatencyUnit,
  };
}

export const OPENCENSUS_PRESET: MetricsPreset = buildPreset({
  name: "opencensus",
  requestCounter: "revision_app_request_count",
  latencyBuckets: "revision_app_request_latencies_bucket",
  msPerLatencyUnit: 1,
  revisionMatchers: 'namespace_name="{namespace}",revision_name="{revision}"',
  serverErrorMatcher: 'response_code_class="5xx"',
});

const OTEL_PARTS: PresetParts = {
  name: "otel",
  requestCounter: "kn_serving_invocation_duration_seconds_count",
  latencyBuckets: "kn_serving_invocation_duration_seconds_bucket",
  msPerLatencyUnit: 1000,
  revisionMatchers: 'k8s_namespace_name="{namespace}",kn_revision_name="{revision}"',
  serverErrorMatcher: 'http_response_status_code=~"5.."',
  revisionInfo: { metric: "target_info", joinOn: ["job", "instance"] },
};

/** Knative's OTel names as its own Prometheus exporter (or Prometheus' OTLP receiver) gives them. */
export const OTEL_PRESET: MetricsPreset = buildPreset(OTEL_PARTS);

/** OTel names with the resource attributes copied onto every series (not a default: opt in). */
export const OTEL_RESOURCE_LABELS_PRESET: MetricsPreset = buildPreset({
  ...OTEL_PARTS,
  name: "otel-resource-labels",
  revisionInfo: undefined,
});

export const PRESETS: Readonly<Record<MetricsScheme, MetricsPreset>> = {
  opencensus: OPENCENSUS_PRESET,
  otel: OTEL_PRESET,
};

const SCHEMES = Object.keys(PRESETS) as MetricsScheme[];

// ---------------------------------------------------------------------------------------------
// Options

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
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

function fail(field: string, value: unknown, expected: string): never {
  const shown = value instanceof Date ? String(value) : JSON.stringify(value);
  throw new Error(`analyseCandidate: ${field} ${expected}, got ${shown ?? String(value)}`);
}

function checkPreset(preset: MetricsPreset): void {
  if (typeof preset !== "object" || preset === null) fail("preset", preset, "must be an object");
  if (typeof preset.name !== "string" || preset.name.trim() === "") {
    fail("preset.name", preset.name, "must be a non-empty string");
  }
  for (const key of ["seriesQuery", "requestsQuery", "serverErrorsQuery", "p99Query"] as const) {
    if (typeof preset[key] !== "string" || preset[key].trim() === "") {
      fail(`preset.${key}`, preset[key], "must be a non-empty PromQL string");
    }
  }
  if (!(Number.isFinite(preset.msPerLatencyUnit) && preset.msPerLatencyUnit > 0)) {
    fail("preset.msPerLatencyUnit", preset.msPerLatencyUnit, "must be a number above 0");
  }
}

/** Throws a clear Error for options that no Prometheus answer could make sense of. */
export function validateAnalysisOptions(opts: AnalysisOptions): void {
  if (typeof opts !== "object" || opts === null) fail("options", opts, "must be an object");
  let url: URL | undefined;
  try {
    url = new URL(opts.prometheusUrl);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    fail("prometheusUrl", opts.prometheusUrl, "must be an http(s) URL like http://prometheus:9090");
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    fail("prometheusUrl", opts.prometheusUrl, "must have no query, fragment or credentials");
  }
  for (const field of ["namespace", "revision"] as const) {
    const value = opts[field];
    if (typeof value !== "string" || value.length > 63 || !DNS_LABEL.test(value)) {
      fail(field, value, "must be a Kubernetes name (lowercase DNS label, at most 63 characters)");
    }
  }
  if (typeof opts.window !== "string" || !parsePromDuration(opts.window)) {
    fail("window", opts.window, 'must be a PromQL duration above zero, like "5m" or "1h30m"');
  }
  if (opts.at !== undefined && !(opts.at instanceof Date && Number.isFinite(opts.at.getTime()))) {
    fail("at", opts.at, "must be a valid Date when set");
  }
  const rate = opts.minSuccessRate;
  if (!(Number.isFinite(rate) && rate >= 0 && rate <= 100)) {
    fail("minSuccessRate", rate, "must be a percentage from 0 to 100");
  }
  if (!(Number.isFinite(opts.maxP99Ms) && opts.maxP99Ms > 0)) {
    fail("maxP99Ms", opts.maxP99Ms, "must be a number of milliseconds above 0");
  }
  if (!(Number.isSafeInteger(opts.minRequests) && opts.minRequests >= 1)) {
    fail("minRequests", opts.minRequests, "must be a whole number of at least 1");
  }
  if (opts.metrics !== undefined && !SCHEMES.includes(opts.metrics)) {
    fail("metrics", opts.metrics, `must be one of ${SCHEMES.join(", ")} (or unset to detect)`);
  }
  if (opts.preset !== undefined) {
    if (opts.metrics !== undefined) {
      fail("metrics", opts.metrics, "must be unset when preset is given (the preset decides)");
    }
    checkPreset(opts.preset);
  }
  if (
    opts.timeoutMs !== undefined &&
    !(Number.isSafeInteger(opts.timeoutMs) && opts.timeoutMs > 0)
  ) {
    fail("timeoutMs", opts.timeoutMs, "must be a whole number of milliseconds above 0");
  }
}

// ---------------------------------------------------------------------------------------------
// Prometheus HTTP API

/** Prometheus could not be asked, or answered with an error: the verdict is inconclusive. */
class PrometheusError extends Error {}

interface QueryContext {
  readonly endpoint: URL;
  readonly at: Date;
  readonly timeoutMs: number;
  readonly namespace: string;
  readonly revision: string;
  readonly window: string;
}

/** PromQL string-literal escaping; the validated names never need it, custom templates might. */
const promString = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"');

export function renderQuery(
  template: string,
  values: { readonly namespace: string; readonly revision: string; readonly window: string },
): string {
  return template
    .replaceAll("{namespace}", promString(values.namespace))
    .replaceAll("{revision}", promString(values.revision))
    .replaceAll("{window}", values.window);
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

/** Single value of an instant query: undefined when it returned no sample. */
async function queryValue(ctx: QueryContext, template: string): Promise<number | undefined> {
  const query = renderQuery(template, ctx);
  const body = new URLSearchParams({ query, time: (ctx.at.getTime() / 1000).toString() });
  let status: number;
  let text: string;
  try {
    // POST: the joined queries can outgrow a comfortable URL; the API takes both.
    const response = await fetch(ctx.endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body,
      signal: AbortSignal.timeout(ctx.timeoutMs),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    const cause = error instanceof Error && isRecord(error.cause) ? error.cause : undefined;
    const detail =
      error instanceof Error && error.name === "TimeoutError"
        ? `no answer within ${ctx.timeoutMs} ms`
        : [error instanceof Error ? error.message : String(error), cause?.code, cause?.message]
            .filter((part) => typeof part === "string" && part !== "")
            .join(": ");
    throw new PrometheusError(
      `Prometheus at ${ctx.endpoint.origin} could not be reached (${detail})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const start = text.slice(0, 120).replace(/\s+/g, " ");
    throw new PrometheusError(
      `${ctx.endpoint.href} answered HTTP ${status} with no JSON: ${start}`,
    );
  }
  if (!isRecord(json) || json.status !== "success" || status < 200 || status > 299) {
    const kind = isRecord(json) && typeof json.errorType === "string" ? ` ${json.errorType}` : "";
    const why = isRecord(json) && typeof json.error === "string" ? `: ${json.error}` : "";
    throw new PrometheusError(`Prometheus answered HTTP ${status}${kind}${why} (query ${query})`);
  }
  const data = json.data;
  if (!isRecord(data)) throw new PrometheusError(`Prometheus answered no data for ${query}`);
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

// ---------------------------------------------------------------------------------------------
// Verdict

/** Up to 6 significant digits, no trailing zeros: 99.5, 8000, 76, 0.333333. */
const num = (value: number): string => String(Number(value.toPrecision(6)));

function describeScope(opts: AnalysisOptions, at: Date, preset?: string): string {
  const metrics = preset === undefined ? "" : ` (${preset} metrics)`;
  return `revision ${opts.revision} in namespace ${opts.namespace}, ${opts.window} ending ${at.toISOString()}${metrics}`;
}

async function detectPreset(
  ctx: QueryContext,
  opts: AnalysisOptions,
): Promise<MetricsPreset | AnalysisResult> {
  const counts = await Promise.all(SCHEMES.map((s) => queryValue(ctx, PRESETS[s].seriesQuery)));
  const found = SCHEMES.filter((_, i) => (counts[i] ?? 0) > 0);
  if (found.length === 1) return PRESETS[found[0]];
  const scope = describeScope(opts, ctx.at);
  if (found.length === 0) {
    return {
      verdict: "inconclusive",
      reason:
        `No request metrics for ${scope}: neither the opencensus names ` +
        `(revision_app_request_count) nor the otel names ` +
        `(kn_serving_invocation_duration_seconds joined to target_info) have series. ` +
        `Is traffic reaching the revision and Prometheus scraping its queue-proxy?`,
    };
  }
  // A queue-proxy rollout (Knative upgrade) can leave the window split between both schemes;
  // either one alone would undercount, so no verdict until the window holds one scheme.
  return {
    verdict: "inconclusive",
    reason:
      `Both the opencensus and the otel request metrics have series for ${scope}; ` +
      `either alone would miss requests. Set metrics to choose one, or wait a full window.`,
  };
}

/**
 * Decides whether the candidate revision is healthy enough from its queue-proxy metrics.
 * Throws only for invalid options; every problem with Prometheus or the data is `inconclusive`.
 */
export async function analyseCandidate(opts: AnalysisOptions): Promise<AnalysisResult> {
  validateAnalysisOptions(opts);
  const at = opts.at ?? new Date();
  const base = opts.prometheusUrl.endsWith("/") ? opts.prometheusUrl : `${opts.prometheusUrl}/`;
  const ctx: QueryContext = {
    endpoint: new URL("api/v1/query", base),
    at,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    namespace: opts.namespace,
    revision: opts.revision,
    window: opts.window,
  };
  try {
    let preset = opts.preset ?? (opts.metrics === undefined ? undefined : PRESETS[opts.metrics]);
    if (preset === undefined) {
      const detected = await detectPreset(ctx, opts);
      if ("verdict" in detected) return detected;
      preset = detected;
    }
    return await decide(ctx, opts, preset);
  } catch (error) {
    if (!(error instanceof PrometheusError)) throw error;
    return {
      verdict: "inconclusive",
      reason: `No verdict for ${describeScope(opts, at)}: ${error.message}.`,
    };
  }
}

async function decide(
  ctx: QueryContext,
  opts: AnalysisOptions,
  preset: MetricsPreset,
): Promise<AnalysisResult> {
  const [requests, serverErrors, p99] = await Promise.all([
    queryValue(ctx, preset.requestsQuery),
    queryValue(ctx, preset.serverErrorsQuery),
    queryValue(ctx, preset.p99Query),
  ]);
  const scope = describeScope(opts, ctx.at, preset.name);
  const inconclusive = (reason: string, numbers: Partial<AnalysisResult> = {}): AnalysisResult => ({
    verdict: "inconclusive",
    preset: preset.name,
    ...numbers,
    reason,
  });

  if (requests === undefined) {
    return inconclusive(
      `No request series for ${scope}: no traffic recorded, or the names do not match.`,
    );
  }
  if (!Number.isFinite(requests) || requests < 0) {
    return inconclusive(
      `The request count for ${scope} is ${num(requests)}, not a count (it must be a finite ` +
        `number, 0 or more).`,
    );
  }
  if (requests < opts.minRequests) {
    return inconclusive(
      `Only ${num(requests)} requests for ${scope}, fewer than the ${opts.minRequests} ` +
        `needed (minRequests) for a verdict.`,
      { requests },
    );
  }
  // No 5xx series: the revision never answered 5xx (OpenCensus and OTel create a series on the
  // first observation of a label value).
  const errors = serverErrors ?? 0;
  if (!Number.isFinite(errors) || errors < 0 || errors > requests) {
    return inconclusive(
      `The 5xx count for ${scope} is ${num(errors)} out of ${num(requests)} requests: unusable ` +
        `(it must be a finite number from 0 to the request count, so the error rate is 0..1).`,
      { requests },
    );
  }
  const successRate = (100 * (requests - errors)) / requests;
  const p99Ms = p99 === undefined ? undefined : p99 * preset.msPerLatencyUnit;
  const numbers = { requests, successRate, ...(p99Ms !== undefined && { p99Ms }) };

  const traffic = `${num(requests)} requests (minimum ${opts.minRequests})`;
  const success = `success rate ${num(successRate)}% (minimum ${num(opts.minSuccessRate)}%)`;
  const latency =
    p99Ms === undefined
      ? "no p99 latency (no histogram series)"
      : Number.isFinite(p99Ms)
        ? `p99 latency ${num(p99Ms)} ms (maximum ${num(opts.maxP99Ms)} ms)`
        : `p99 latency ${num(p99Ms)} (maximum ${num(opts.maxP99Ms)} ms)`;
  const summary = `${traffic}, ${success}, ${latency}`;

  // A latency below 0 (or NaN, or infinite) cannot be real: the data or the query is broken, so
  // none of the numbers beside it are trusted either, not even a success rate that would fail.
  // (A negative p99 used to pass: it is below every maximum. Issue 15, fault 6.) 0 ms is real:
  // histogram_quantile interpolates from 0 inside the lowest bucket.
  if (p99Ms !== undefined && !(Number.isFinite(p99Ms) && p99Ms >= 0)) {
    return inconclusive(
      `The p99 latency for ${scope} is ${num(p99Ms)}${Number.isFinite(p99Ms) ? " ms" : ""}, ` +
        `not a latency (it must be a finite number of milliseconds, 0 or more): the metrics ` +
        `cannot be trusted; ${summary}.`,
      numbers,
    );
  }
  // Too many 5xx is evidence enough, even without latency data.
  if (successRate < opts.minSuccessRate) {
    return {
      verdict: "fail",
      preset: preset.name,
      ...numbers,
      reason: `Failed for ${scope}: success rate below the minimum; ${summary}.`,
    };
  }
  if (p99Ms === undefined) {
    return inconclusive(`No usable p99 latency for ${scope}; ${summary}.`, numbers);
  }
  if (p99Ms > opts.maxP99Ms) {
    return {
      verdict: "fail",
      preset: preset.name,
      ...numbers,
      reason: `Failed for ${scope}: p99 latency above the maximum; ${summary}.`,
    };
  }
  return {
    verdict: "pass",
    preset: preset.name,
    ...numbers,
    reason: `Passed for ${scope}: ${summary}.`,
  };
}
