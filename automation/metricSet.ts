// The metrics a canary analysis judges: named PromQL templates, each with its direction and a
// threshold, a comparison with the stable revision, or both. The shape of Flagger's
// MetricTemplate and Argo Rollouts' AnalysisTemplate, read from a YAML file (`--metrics-file`)
// and checked when loaded; the built-in Knative metrics are sets of the same form.
//
// A metrics file:
//
//   metrics:
//     - name: success-rate              # lowercase letters, digits and dashes; unique
//       type: proportion                # a share of events: events / total, in percent
//       events: sum(increase(my_requests_total{namespace="{namespace}",revision="{revision}",code!~"5.."}[{window}]))
//       total: sum(increase(my_requests_total{namespace="{namespace}",revision="{revision}"}[{window}]))
//       direction: higher               # higher (or lower) is better
//       threshold: 99                   # fail below 99 % (above, for lower)
//       compare:
//         margin: 0.5                   # fail when significantly worse than stable by > 0.5 points
//     - name: p99-latency
//       type: value                     # one number per window
//       query: histogram_quantile(0.99, sum by (le) (rate(my_latency_ms_bucket{namespace="{namespace}",revision="{revision}"}[{window}])))
//       unit: ms
//       sampleCount: sum(increase(my_latency_ms_count{namespace="{namespace}",revision="{revision}"}[{window}]))
//       minSampleCount: 100             # compare only samples of 100 requests or more
//       direction: lower
//       compare:
//         margin: 20                    # fail when significantly above stable x 1.2
//
// Before each query {namespace} and {revision} become label values (escaped for a PromQL string)
// and {window} a PromQL range. A proportion's `events` query with no sample counts 0 events (no
// 5xx series: no 5xx); its `total` must answer, and at least minTotal (default: the command's
// --min-requests) for a verdict. The statistics of each comparison are in canaryAnalysis.ts.
import { parseDocument } from "yaml";
import { closestName } from "../common/suggest";
import { isRecord } from "../common/json";
import type { MetricsScheme } from "./analysisTypes";
import { readTextOrWhy } from "./project";

export type Direction = "lower" | "higher";

export interface Comparison {
  /**
   * How much worse than the stable revision is still acceptable: for a proportion, percentage
   * points of the share; for a value, percent of the stable value.
   */
  readonly margin: number;
}

interface MetricBase {
  readonly name: string;
  readonly direction: Direction;
  /** Absolute limit: fail beyond it (above for lower-is-better, below for higher-is-better). */
  readonly threshold?: number;
  readonly compare?: Comparison;
}

export interface ProportionMetric extends MetricBase {
  readonly type: "proportion";
  readonly events: string;
  readonly total: string;
  /** Fewer than this in `total`: inconclusive. Default: the command's --min-requests. */
  readonly minTotal?: number;
}

export interface ValueMetric extends MetricBase {
  readonly type: "value";
  readonly query: string;
  /** Shown after the numbers, e.g. "ms". */
  readonly unit?: string;
  /**
   * How many observations stand behind each per-interval sample (e.g. the requests of a p99),
   * with {window} the sample interval: samples with fewer than minSampleCount are left out of a
   * comparison. Without it, a candidate with a small share of the traffic gets p99s of a few
   * requests each, which sit below the stable's (the largest of 7 requests is no p99) and would
   * hide a regression.
   */
  readonly sampleCount?: string;
  readonly minSampleCount?: number;
}

export type Metric = ProportionMetric | ValueMetric;

export interface MetricSet {
  /** Where it came from, for messages: a file's path, or "built-in opencensus". */
  readonly source: string;
  readonly metrics: readonly Metric[];
}

export const PLACEHOLDERS = ["namespace", "revision", "window"] as const;

/** Every PromQL template of a metric, with the field it is in. */
export function metricQueries(metric: Metric): Array<{ field: string; template: string }> {
  return metric.type === "proportion"
    ? [
        { field: "events", template: metric.events },
        { field: "total", template: metric.total },
      ]
    : [{ field: "query", template: metric.query }];
}

// ---------------------------------------------------------------------------------------------
// Checking a set, from a file or built in

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const TOP_FIELDS = ["metrics"];
const COMMON_FIELDS = ["name", "type", "direction", "threshold", "compare"];
const FIELDS: Readonly<Record<Metric["type"], readonly string[]>> = {
  proportion: [...COMMON_FIELDS, "events", "total", "minTotal"],
  value: [...COMMON_FIELDS, "query", "unit", "sampleCount", "minSampleCount"],
};

/** A metrics file, or a set, that cannot be used: every problem, each naming metric and field. */
export class MetricSetError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`metrics ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "MetricSetError";
  }
}

function unknownFields(
  object: Record<string, unknown>,
  known: readonly string[],
  where: string,
): string[] {
  return Object.keys(object)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const hint = closestName(key, known);
      return (
        `${where}: unknown field ${JSON.stringify(key)}` +
        (hint !== undefined ? ` (did you mean ${hint}?)` : ` (known: ${known.join(", ")})`)
      );
    });
}

function templateProblems(template: unknown, where: string, needsWindow: boolean): string[] {
  if (typeof template !== "string" || template.trim() === "") {
    return [`${where} must be a PromQL template (a non-empty string), got ${shown(template)}`];
  }
  const problems: string[] = [];
  const unknown = [...template.matchAll(/\{([A-Za-z_]+)\}/g)]
    .map((match) => match[1])
    .filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    problems.push(
      `${where} has the unknown placeholder${unknown.length > 1 ? "s" : ""} ` +
        `${unknown.map((u) => `{${u}}`).join(", ")} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")})`,
    );
  }
  // Without {revision} the candidate and the stable revision would get the same answer.
  if (!template.includes("{revision}")) {
    problems.push(`${where} must select the revision with {revision}`);
  }
  if (needsWindow && !template.includes("{window}")) {
    problems.push(`${where} must count over the analysis window with [{window}]`);
  }
  return problems;
}

function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  // YAML's .nan and .inf: JSON would show them as null.
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value);
}

function numberProblem(
  value: unknown,
  where: string,
  min: number,
  max: number,
  what: string,
): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max
    ? undefined
    : `${where} must be ${what}, got ${shown(value)}`;
}

/** Problems of one metric (from YAML, so every field is still unknown), each naming the field. */
function metricProblems(raw: unknown, index: number): string[] {
  if (!isRecord(raw)) return [`metrics[${index}] must be a mapping, got ${shown(raw)}`];
  const label =
    typeof raw.name === "string" && raw.name !== ""
      ? `metric ${JSON.stringify(raw.name)}`
      : `metrics[${index}]`;
  const at = (field: string): string => `${label}: ${field}`;
  const problems: string[] = [];
  if (typeof raw.name !== "string" || !NAME.test(raw.name) || raw.name.length > 63) {
    problems.push(
      `${at("name")} must be lowercase letters, digits and dashes (at most 63), got ${shown(raw.name)}`,
    );
  }
  if (raw.type !== "proportion" && raw.type !== "value") {
    problems.push(`${at("type")} must be proportion or value, got ${shown(raw.type)}`);
    return problems;
  }
  const type = raw.type;
  problems.push(...unknownFields(raw, FIELDS[type], label));
  if (raw.direction !== "lower" && raw.direction !== "higher") {
    problems.push(
      `${at("direction")} must be lower or higher (which is better), got ${shown(raw.direction)}`,
    );
  }
  if (type === "proportion") {
    problems.push(...templateProblems(raw.events, at("events"), true));
    problems.push(...templateProblems(raw.total, at("total"), true));
    const threshold = numberProblem(raw.threshold, at("threshold"), 0, 100, "a percent, 0 to 100");
    if (threshold !== undefined) problems.push(threshold);
    if (
      raw.minTotal !== undefined &&
      !(Number.isSafeInteger(raw.minTotal) && (raw.minTotal as number) >= 1)
    ) {
      problems.push(
        `${at("minTotal")} must be a whole number of at least 1, got ${shown(raw.minTotal)}`,
      );
    }
  } else {
    // Compared, each sample must cover its own interval: [{window}] becomes the sample interval.
    problems.push(...templateProblems(raw.query, at("query"), raw.compare !== undefined));
    const threshold = numberProblem(
      raw.threshold,
      at("threshold"),
      0,
      Infinity,
      "a number, 0 or more (a value metric's values are)",
    );
    if (threshold !== undefined) problems.push(threshold);
    if (raw.unit !== undefined && (typeof raw.unit !== "string" || raw.unit.length > 16)) {
      problems.push(`${at("unit")} must be a short text such as ms, got ${shown(raw.unit)}`);
    }
    if (raw.sampleCount !== undefined) {
      problems.push(...templateProblems(raw.sampleCount, at("sampleCount"), true));
    }
    if (
      raw.minSampleCount !== undefined &&
      !(Number.isSafeInteger(raw.minSampleCount) && (raw.minSampleCount as number) >= 1)
    ) {
      problems.push(
        `${at("minSampleCount")} must be a whole number of at least 1, got ${shown(raw.minSampleCount)}`,
      );
    }
    if ((raw.sampleCount === undefined) !== (raw.minSampleCount === undefined)) {
      problems.push(`${label}: sampleCount and minSampleCount go together: give both or neither`);
    }
  }
  if (raw.compare !== undefined) {
    if (!isRecord(raw.compare)) {
      problems.push(`${at("compare")} must be a mapping with margin, got ${shown(raw.compare)}`);
    } else {
      problems.push(...unknownFields(raw.compare, ["margin"], `${label}: compare`));
      // Higher is better: the stable value moved down by the margin must stay above 0.
      const max = type === "proportion" ? 100 : raw.direction === "higher" ? 99.999 : Infinity;
      const what =
        type === "proportion"
          ? "percentage points of the share, 0 to 100"
          : raw.direction === "higher"
            ? "a percent of the stable value, 0 or more and below 100 (higher is better)"
            : "a percent of the stable value, 0 or more";
      const margin =
        raw.compare.margin === undefined
          ? `${at("compare.margin")} must be set: ${what}`
          : numberProblem(raw.compare.margin, at("compare.margin"), 0, max, what);
      if (margin !== undefined) problems.push(margin);
    }
  }
  if (raw.threshold === undefined && raw.compare === undefined) {
    problems.push(`${label}: give a threshold, a compare (with the stable revision), or both`);
  }
  return problems;
}

/** Checks a set read from YAML (or JSON) and returns it typed; throws MetricSetError. */
export function parseMetricSet(raw: unknown, source: string): MetricSet {
  if (!isRecord(raw)) {
    throw new MetricSetError(source, [`must be a mapping with a metrics list, got ${shown(raw)}`]);
  }
  const problems = unknownFields(raw, TOP_FIELDS, "top level");
  if (!Array.isArray(raw.metrics) || raw.metrics.length === 0) {
    problems.push(`metrics must be a list of at least one metric, got ${shown(raw.metrics)}`);
    throw new MetricSetError(source, problems);
  }
  const list: unknown[] = raw.metrics;
  list.forEach((metric, index) => problems.push(...metricProblems(metric, index)));
  const names = list.map((m) => (isRecord(m) ? m.name : undefined));
  names.forEach((name, index) => {
    if (typeof name === "string" && names.indexOf(name) !== index) {
      problems.push(
        `metric ${JSON.stringify(name)}: name used twice (metrics[${names.indexOf(name)}] and metrics[${index}])`,
      );
    }
  });
  if (problems.length > 0) throw new MetricSetError(source, problems);
  return { source, metrics: list as Metric[] };
}

/** Reads and checks a metrics file; every problem (YAML syntax included) in one MetricSetError. */
export function loadMetricsFile(file: string): MetricSet {
  const read = readTextOrWhy(file);
  if ("why" in read) throw new MetricSetError(file, [read.why]);
  const document = parseDocument(read.text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new MetricSetError(
      file,
      document.errors.map((error) => `YAML: ${error.message.split("\n")[0]}`),
    );
  }
  return parseMetricSet(document.toJS(), file);
}

// ---------------------------------------------------------------------------------------------
// The built-in Knative metrics, in the same form
//
// Knative's queue-proxy request metrics, under the two naming schemes Knative exported them in;
// a built-in set for each, detected by default from the stable revision's series.
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
//   is the view Knative carried over to OpenTelemetry (below), so both sets measure the same
//   thing and a verdict does not change meaning across a Knative upgrade. Cost: 503s the breaker
//   sheds before the container are not counted. For the queue-proxy view, write a metrics file
//   with revision_request_count and revision_request_latencies_bucket instead.
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
//   and kn_revision_name on the series themselves, use `--metrics otel-resource-labels`.
//   Knative 1.19 and 1.20 exported the same histogram as kn_queueproxy_app_duration_seconds,
//   with latencies truncated to whole seconds: a p99 from it is meaningless, so no built-in set.
//   Not used: otelhttp's http_server_request_duration_seconds, whose name and attributes follow
//   the otelhttp release's semantic-convention default rather than Knative's own code.
//

/** How one of Knative's naming schemes names its request metrics (see analysis.ts's header). */
export interface KnativeNames {
  /** A request counter, or a latency histogram's `_count`. */
  readonly requestCounter: string;
  /** The latency histogram's `_bucket` series (with `le`). */
  readonly latencyBuckets: string;
  /** 1 when the histogram is in milliseconds, 1000 in seconds. */
  readonly msPerLatencyUnit: number;
  /** Matchers that pick the revision, with {namespace} and {revision} placeholders. */
  readonly revisionMatchers: string;
  /** Matcher of the responses that are not 5xx, e.g. response_code_class!="5xx". */
  readonly successMatcher: string;
  /**
   * When the revision labels are not on the series but on an info metric (value 1) of the same
   * target: revisionMatchers apply to `metric`, joined to the series on `joinOn`.
   */
  readonly revisionInfo?: { readonly metric: string; readonly joinOn: readonly string[] };
}

/** What the command's flags decide about the built-in metrics. */
export interface BuiltInCriteria {
  /** --min-success-rate: fail below this share of non-5xx responses, in percent. */
  readonly minSuccessRate?: number;
  /** --max-p99-ms */
  readonly maxP99Ms?: number;
  /** --success-margin, percentage points; undefined: no comparison of the success rate. */
  readonly successMargin?: number;
  /** --latency-margin, percent of the stable p99; undefined: no comparison of the p99. */
  readonly latencyMargin?: number;
}

function selector(metric: string, matchers: readonly string[]): string {
  const present = matchers.filter((m) => m !== "");
  return present.length === 0 ? metric : `${metric}{${present.join(",")}}`;
}

/** Requests a per-interval p99 sample needs to be compared: 1 / (1 - 0.99). */
export const P99_MIN_SAMPLE_COUNT = 100;

/** The success rate and the p99 latency of a Knative scheme, judged as the criteria say. */
export function knativeMetricSet(
  source: string,
  names: KnativeNames,
  criteria: BuiltInCriteria,
): MetricSet {
  const info = names.revisionInfo;
  // One sample per series of the revision: `fn(metric{...}[window])`, filtered by the join when
  // the revision labels live on the info metric. last_over_time keeps pods that were scraped
  // during the window but are gone at its end (scale to zero), as the range functions do.
  const perSeries = (fn: string, metric: string, extra: string): string => {
    const own = info === undefined ? [names.revisionMatchers, extra] : [extra];
    const series = `${fn}(${selector(metric, own)}[{window}])`;
    if (info === undefined) return series;
    const on = info.joinOn.join(", ");
    const revision = selector(info.metric, [names.revisionMatchers]);
    // group by: one 1 per target even when the info metric changed labels in the window.
    return `${series} * on (${on}) group_left () group by (${on}) (last_over_time(${revision}[{window}]))`;
  };
  const p99 = `histogram_quantile(0.99, sum by (le) (${perSeries("rate", names.latencyBuckets, "")}))`;
  const judged = (threshold: number | undefined, margin: number | undefined) => ({
    ...(threshold !== undefined ? { threshold } : {}),
    ...(margin !== undefined ? { compare: { margin } } : {}),
  });
  const metrics: Metric[] = [
    {
      name: "success-rate",
      type: "proportion",
      events: `sum(${perSeries("increase", names.requestCounter, names.successMatcher)})`,
      total: `sum(${perSeries("increase", names.requestCounter, "")})`,
      direction: "higher",
      ...judged(criteria.minSuccessRate, criteria.successMargin),
    },
    {
      name: "p99-latency",
      type: "value",
      query: names.msPerLatencyUnit === 1 ? p99 : `${p99} * ${names.msPerLatencyUnit}`,
      unit: "ms",
      // A p99 needs 100 requests at least: of fewer, it is their largest, or less.
      sampleCount: `sum(${perSeries("increase", names.requestCounter, "")})`,
      minSampleCount: P99_MIN_SAMPLE_COUNT,
      direction: "lower",
      ...judged(criteria.maxP99Ms, criteria.latencyMargin),
    },
  ];
  // A metric with neither a threshold nor a comparison would judge nothing yet show "pass".
  const judging = metrics.filter((m) => m.threshold !== undefined || m.compare !== undefined);
  if (judging.length === 0) {
    throw new Error(`${source} metrics: give a threshold or a margin for at least one metric`);
  }
  return { source, metrics: judging };
}

export const OPENCENSUS_NAMES: KnativeNames = {
  requestCounter: "revision_app_request_count",
  latencyBuckets: "revision_app_request_latencies_bucket",
  msPerLatencyUnit: 1,
  revisionMatchers: 'namespace_name="{namespace}",revision_name="{revision}"',
  successMatcher: 'response_code_class!="5xx"',
};

export const OTEL_NAMES: KnativeNames = {
  requestCounter: "kn_serving_invocation_duration_seconds_count",
  latencyBuckets: "kn_serving_invocation_duration_seconds_bucket",
  msPerLatencyUnit: 1000,
  revisionMatchers: 'k8s_namespace_name="{namespace}",kn_revision_name="{revision}"',
  successMatcher: 'http_response_status_code!~"5.."',
  revisionInfo: { metric: "target_info", joinOn: ["job", "instance"] },
};

/** OTel names with the resource attributes copied onto every series (a collector's choice). */
export const OTEL_RESOURCE_LABELS_NAMES: KnativeNames = { ...OTEL_NAMES, revisionInfo: undefined };

export const BUILT_IN_NAMES: Readonly<Record<MetricsScheme, KnativeNames>> = {
  opencensus: OPENCENSUS_NAMES,
  otel: OTEL_NAMES,
  "otel-resource-labels": OTEL_RESOURCE_LABELS_NAMES,
};

/** The schemes detected from series when none is chosen (resource labels: opt in). */
export const DETECTED_SCHEMES: readonly MetricsScheme[] = ["opencensus", "otel"];

export function builtInMetricSet(scheme: MetricsScheme, criteria: BuiltInCriteria): MetricSet {
  return knativeMetricSet(`built-in ${scheme}`, BUILT_IN_NAMES[scheme], criteria);
}
