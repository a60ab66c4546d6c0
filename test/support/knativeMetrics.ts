// Deterministic queue-proxy metrics of Knative revisions, under both naming schemes, for a real
// Prometheus: scraped every 15 s over the 10 minutes before AT, a fixed date in the past (a date
// relative to today would change the data from one day to the next). Label sets follow what
// each scheme really exports (see the built-in metrics in automation/metricSet.ts); job and instance are
// what a Prometheus scrape adds.
//
// Every revision gets the same traffic at every scrape, so counters grow linearly and every
// increase()/rate() over the window is exact, whether Prometheus extrapolates to the window's
// edges (3.x, left-open ranges) or finds samples right on them (2.x).
import { backfill, makeTempRoot, openMetrics, PrometheusServer, Sample } from "./prometheus";
import * as fs from "fs";

export const AT = new Date("2024-01-15T12:00:00Z");
export const WINDOW = "5m";
const SCRAPE_MS = 15_000;
const HISTORY_MS = 10 * 60_000;

export const THRESHOLDS = { minSuccessRate: 99, maxP99Ms: 300, minRequests: 100 } as const;

export const NAMESPACES = {
  opencensus: "shop-oc",
  otel: "shop-otel",
  /** OTel names with resource attributes on every series (a collector's choice), no target_info. */
  otelResourceLabels: "shop-otlp",
  /** The same revision name as the healthy one, failing badly: it must never leak in. */
  noise: "other",
} as const;

export const REVISIONS = {
  healthy: "shop-healthy",
  errors: "shop-errors",
  slow: "shop-slow",
  quiet: "shop-quiet",
  /** Stable revisions the candidates above are compared with (canaryAnalysis.ts). */
  stable: "shop-stable",
  /** 1.5 % 5xx: half the error rate of `errors`, and above a 95 % minimum like it. */
  stableSomeErrors: "shop-stable-some-errors",
  /** As slow as `slow`: a slow day for every revision. */
  stableSlow: "shop-stable-slow",
} as const;

type Scenario = keyof typeof REVISIONS;

interface Requests {
  readonly code: number;
  readonly latencyMs: number;
  readonly count: number;
}

/** 200 requests with `errors` 503s (at 3 ms) and the rest at 30, 45 and 70 ms. */
const withErrors = (errors: number): readonly Requests[] => [
  { code: 503, latencyMs: 3, count: errors },
  { code: 200, latencyMs: 30, count: 100 - errors },
  { code: 200, latencyMs: 45, count: 90 },
  { code: 200, latencyMs: 70, count: 10 },
];
const SLOW: readonly Requests[] = [
  { code: 200, latencyMs: 280, count: 180 },
  { code: 200, latencyMs: 380, count: 20 },
];

/** Per pod and per scrape interval. No latency sits on a bucket bound of either scheme. */
const TRAFFIC: Readonly<Record<Scenario, { pods: number; perScrape: readonly Requests[] }>> = {
  healthy: { pods: 2, perScrape: withErrors(1) },
  errors: { pods: 1, perScrape: withErrors(6) },
  slow: { pods: 1, perScrape: SLOW },
  quiet: { pods: 1, perScrape: [{ code: 200, latencyMs: 30, count: 2 }] },
  stable: { pods: 2, perScrape: withErrors(1) },
  stableSomeErrors: { pods: 1, perScrape: withErrors(3) },
  stableSlow: { pods: 1, perScrape: SLOW },
};

const NOISE: readonly Requests[] = [{ code: 503, latencyMs: 9_000, count: 50 }];

/**
 * What the analysis must report over WINDOW at AT. Requests and success rates are exact. The
 * p99 is Prometheus' linear interpolation inside the bucket holding the 99th percentile, so it
 * depends on the scheme's bucket bounds, not only on the traffic:
 * - healthy (2 pods x 200 per scrape; 1 503 at 3 ms, 99 at 30 ms, 90 at 45 ms, 10 at 70 ms):
 *   the true p99 is 70 ms. Rank 0.99 x 200 = 198 of each pod's 200, with 190 at or below 60 ms
 *   and 200 at or below 80 ms: opencensus says 60 + 20 x 8/10 = 76 ms; otel (190 at or below
 *   50 ms, 200 at or below 75 ms) says 50 + 25 x 8/10 = 70 ms.
 * - errors: same shape with 6 503s in 200: success rate 97 %, p99 the same 76 / 70 ms.
 * - slow (180 at 280 ms, 20 at 380 ms; true p99 380 ms): opencensus (180 at or below 300, 200
 *   at or below 400) 350 + 50 x 18/20 = 395 ms; otel (nothing at or below 250 ms, all at or below
 *   500 ms) 250 + 250 x 198/200 = 497.5 ms.
 * - quiet: 2 requests per scrape, 40 in the window.
 * - stable, stableSomeErrors (3 503s in 200: 98.5 %), stableSlow: the stable revisions the
 *   candidates are compared with, shaped like healthy, errors and slow.
 * Mean latencies (from the histograms' _sum / _count, for custom metrics): healthy and stable
 * (3 + 99 x 30 + 90 x 45 + 10 x 70) / 200 = 38.615 ms; slow and stableSlow 290 ms.
 */
export const EXPECTED = {
  opencensus: {
    healthy: { requests: 8000, successRate: 99.5, p99Ms: 76 },
    errors: { requests: 4000, successRate: 97, p99Ms: 76 },
    slow: { requests: 4000, successRate: 100, p99Ms: 395 },
    quiet: { requests: 40 },
    stable: { requests: 8000, successRate: 99.5, p99Ms: 76 },
    stableSomeErrors: { requests: 4000, successRate: 98.5, p99Ms: 76 },
    stableSlow: { requests: 4000, successRate: 100, p99Ms: 395 },
  },
  otel: {
    healthy: { requests: 8000, successRate: 99.5, p99Ms: 70 },
    errors: { requests: 4000, successRate: 97, p99Ms: 70 },
    slow: { requests: 4000, successRate: 100, p99Ms: 497.5 },
    quiet: { requests: 40 },
    stable: { requests: 8000, successRate: 99.5, p99Ms: 70 },
    stableSomeErrors: { requests: 4000, successRate: 98.5, p99Ms: 70 },
    stableSlow: { requests: 4000, successRate: 100, p99Ms: 497.5 },
  },
} as const;

// OpenCensus: knative/serving pkg/queue/metrics/request_metric.go (milliseconds).
const OPENCENSUS_BOUNDS_MS = [
  5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000,
  2000, 5000, 10000, 20000, 50000, 100000,
];
// OTel: knative/serving pkg/queue/request_metric.go latencyBounds (seconds).
const OTEL_BOUNDS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

type Labels = Readonly<Record<string, string>>;

/** Counter and cumulative bucket increments per scrape for one status code of one pod. */
function perCode(requests: readonly Requests[], boundsMs: readonly number[]) {
  const byCode = new Map<number, { count: number; sumMs: number; buckets: number[] }>();
  for (const r of requests) {
    const entry = byCode.get(r.code) ?? { count: 0, sumMs: 0, buckets: boundsMs.map(() => 0) };
    entry.count += r.count;
    entry.sumMs += r.count * r.latencyMs;
    boundsMs.forEach((bound, i) => {
      if (r.latencyMs <= bound) entry.buckets[i] += r.count;
    });
    byCode.set(r.code, entry);
  }
  return byCode;
}

interface Pod {
  readonly namespace: string;
  readonly revision: string;
  readonly name: string;
  readonly ip: string;
  readonly requests: readonly Requests[];
}

function pods(): Pod[] {
  const all: Pod[] = [];
  let ipSuffix = 10;
  const add = (
    namespace: string,
    revision: string,
    count: number,
    requests: readonly Requests[],
  ) => {
    for (let i = 0; i < count; i++) {
      const name = `${revision}-deployment-5f7c9d${i}-x${i}z`;
      all.push({ namespace, revision, name, ip: `10.244.0.${ipSuffix++}`, requests });
    }
  };
  for (const namespace of [NAMESPACES.opencensus, NAMESPACES.otel]) {
    for (const scenario of Object.keys(REVISIONS) as Scenario[]) {
      add(namespace, REVISIONS[scenario], TRAFFIC[scenario].pods, TRAFFIC[scenario].perScrape);
    }
  }
  add(NAMESPACES.otelResourceLabels, REVISIONS.healthy, 2, TRAFFIC.healthy.perScrape);
  add(NAMESPACES.noise, REVISIONS.healthy, 1, NOISE);
  return all;
}

/** Series of one pod at scrape number `step` (counters = step x per-scrape increments). */
type SeriesAt = (step: number) => Array<{ name: string; labels: Labels; value: number }>;

function openCensusSeries(pod: Pod): SeriesAt {
  const base: Labels = {
    job: "knative-queue-proxy",
    instance: `${pod.ip}:9091`,
    namespace_name: pod.namespace,
    configuration_name: "shop",
    service_name: "shop",
    revision_name: pod.revision,
    pod_name: pod.name,
    container_name: "queue-proxy",
  };
  const codes = perCode(pod.requests, OPENCENSUS_BOUNDS_MS);
  return (step) =>
    [...codes].flatMap(([code, c]) => {
      const labels = {
        ...base,
        response_code: String(code),
        response_code_class: `${Math.floor(code / 100)}xx`,
      };
      return [
        { name: "revision_app_request_count", labels, value: step * c.count },
        ...OPENCENSUS_BOUNDS_MS.map((bound, i) => ({
          name: "revision_app_request_latencies_bucket",
          labels: { ...labels, le: String(bound) },
          value: step * c.buckets[i],
        })),
        {
          name: "revision_app_request_latencies_bucket",
          labels: { ...labels, le: "+Inf" },
          value: step * c.count,
        },
        { name: "revision_app_request_latencies_sum", labels, value: step * c.sumMs },
      ];
    });
}

function otelSeries(pod: Pod, resourceLabelsOnSeries: boolean): SeriesAt {
  const resource: Labels = {
    k8s_namespace_name: pod.namespace,
    kn_configuration_name: "shop",
    kn_revision_name: pod.revision,
    kn_service_name: "shop",
    service_instance_id: pod.name,
    service_name: "shop",
    service_version: "knative-v1.23.0",
    telemetry_sdk_language: "go",
    telemetry_sdk_name: "opentelemetry",
  };
  // Scraped from the pod (job/instance by the scrape config), or pushed over OTLP (job =
  // service.name, instance = service.instance.id) with the resource copied onto the series.
  const target: Labels = resourceLabelsOnSeries
    ? { job: "shop", instance: pod.name, ...resource }
    : { job: "knative-queue-proxy", instance: `${pod.ip}:9091` };
  const scope = { otel_scope_name: "knative.dev/serving/pkg/queue" };
  const codes = perCode(
    pod.requests,
    OTEL_BOUNDS_S.map((s) => s * 1000),
  );
  return (step) => [
    ...(resourceLabelsOnSeries
      ? []
      : [{ name: "target_info", labels: { ...target, ...resource }, value: 1 }]),
    ...[...codes].flatMap(([code, c]) => {
      const labels = { ...target, ...scope, http_response_status_code: String(code) };
      return [
        { name: "kn_serving_invocation_duration_seconds_count", labels, value: step * c.count },
        ...OTEL_BOUNDS_S.map((bound, i) => ({
          name: "kn_serving_invocation_duration_seconds_bucket",
          labels: { ...labels, le: String(bound) },
          value: step * c.buckets[i],
        })),
        {
          name: "kn_serving_invocation_duration_seconds_bucket",
          labels: { ...labels, le: "+Inf" },
          value: step * c.count,
        },
        {
          name: "kn_serving_invocation_duration_seconds_sum",
          labels,
          value: (step * c.sumMs) / 1000,
        },
      ];
    }),
  ];
}

/** All samples: OpenCensus names in shop-oc and other, OTel names in shop-otel, shop-otlp, other. */
export function knativeSamples(): Sample[] {
  const series: SeriesAt[] = [];
  for (const pod of pods()) {
    if (pod.namespace === NAMESPACES.opencensus) series.push(openCensusSeries(pod));
    if (pod.namespace === NAMESPACES.otel) series.push(otelSeries(pod, false));
    if (pod.namespace === NAMESPACES.otelResourceLabels) series.push(otelSeries(pod, true));
    if (pod.namespace === NAMESPACES.noise) {
      series.push(openCensusSeries(pod), otelSeries(pod, false));
    }
  }
  const samples: Sample[] = [];
  const steps = HISTORY_MS / SCRAPE_MS;
  for (let step = 0; step <= steps; step++) {
    const timeMs = AT.getTime() - HISTORY_MS + step * SCRAPE_MS;
    for (const at of series) {
      for (const s of at(step)) samples.push({ ...s, timeMs });
    }
  }
  return samples;
}

export interface KnativePrometheus {
  readonly server: PrometheusServer;
  readonly url: string;
  /** Stops Prometheus (by PID) and removes its directory. */
  close(): Promise<void>;
}

/** Backfills the samples into a new TSDB, then starts Prometheus on it. */
export async function startKnativePrometheus(
  binaries: { readonly prometheus: string; readonly promtool: string },
  tempPrefix = "canary-prometheus-",
): Promise<KnativePrometheus> {
  const { root, dataDir } = makeTempRoot(tempPrefix);
  try {
    await backfill(binaries.promtool, openMetrics(knativeSamples()), dataDir);
    const server = await PrometheusServer.start(binaries.prometheus, dataDir);
    return {
      server,
      url: server.url,
      close: async () => {
        try {
          await server.stop();
        } finally {
          fs.rmSync(root, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
