// examples/kind/prometheus.yaml, the Prometheus the kind walkthrough (docs/walkthrough.md) has
// users apply to the kind cluster for `canary rollout`: its objects, its RBAC, its image, and its
// scrape config, checked three ways: by reading it, with the real promtool, and by running the
// real Prometheus with it against a stand-in queue-proxy and asking the canary analysis for a
// verdict.
//
// No cluster here, so the Kubernetes service discovery is replaced by file-based discovery that
// yields the targets the pod role would (one per declared container port, with its
// __meta_kubernetes_* labels); everything after discovery (relabeling, scraping, storage) is
// Prometheus' own code working on the file's own rules.
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { parse, parseAllDocuments, stringify } from "yaml";
import { analyseCanary, preflightCanary } from "../automation/canaryAnalysis";
import {
  knativeObservabilityData,
  QUEUE_PROXY_CONTAINER,
  QUEUE_PROXY_METRICS_PORT,
} from "../components/platform/platformManifests";
import { PROJECT_ROOT } from "../conformance/programRunner";
import { PrometheusBinaries, PrometheusServer, requirePrometheus } from "./support/prometheus";
import { isRecord } from "../common/json";

const MANIFEST = path.join(PROJECT_ROOT, "examples", "kind", "prometheus.yaml");
const NAMESPACE = "prometheus";
const JOB = "queue-proxy";

type Json = Record<string, unknown>;

/** `value` as an object, or a failed assertion naming `what`. */
function record(value: unknown, what: string): Json {
  assert.ok(isRecord(value), `${what} is an object`);
  return value;
}

function list(value: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(value), `${what} is a list`);
  return value;
}

function text(value: unknown, what: string): string {
  assert.equal(typeof value, "string", `${what} is a string`);
  return value as string;
}

function loadManifest(): Json[] {
  const documents = parseAllDocuments(fs.readFileSync(MANIFEST, "utf8"));
  assert.ok(Array.isArray(documents), "the manifest parses as a YAML stream");
  return documents.map((document, index) => {
    assert.deepEqual(document.errors, [], `document ${index} parses`);
    return record(document.toJS(), `document ${index}`);
  });
}

const manifest = loadManifest();

function object(kind: string): Json {
  const found = manifest.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0];
}

const deployment = object("Deployment");
const podSpec = record(
  record(record(deployment.spec, "Deployment spec").template, "pod template").spec,
  "pod spec",
);
const containers = list(podSpec.containers, "containers").map((c, i) =>
  record(c, `container ${i}`),
);
const prometheusContainer = containers[0];

/** prometheus.yml from the ConfigMap, as text and parsed. */
const configText = text(
  record(object("ConfigMap").data, "ConfigMap data")["prometheus.yml"],
  "prometheus.yml",
);
const config = record(parse(configText), "prometheus.yml");

function scrapeJob(cfg: Json): Json {
  const jobs = list(cfg.scrape_configs, "scrape_configs").map((j, i) => record(j, `job ${i}`));
  assert.deepEqual(
    jobs.map((j) => j.job_name),
    [JOB],
    "one scrape job, the queue-proxies",
  );
  return jobs[0];
}

interface RelabelRule {
  readonly source_labels?: readonly string[];
  readonly separator?: string;
  readonly regex?: string;
  readonly target_label?: string;
  readonly replacement?: string;
  readonly action?: string;
}

/**
 * Prometheus' relabeling for the actions this config uses (keep, drop, replace), with its
 * defaults: separator ";", regex "(.*)" anchored at both ends, replacement "$1". Undefined when
 * the target is dropped. Any other action fails, so that the file cannot outgrow this check.
 */
function relabel(
  labels: Readonly<Record<string, string>>,
  rules: readonly RelabelRule[],
): Record<string, string> | undefined {
  const result = { ...labels };
  for (const rule of rules) {
    const action = rule.action ?? "replace";
    const regex = new RegExp(`^(?:${rule.regex ?? "(.*)"})$`);
    const value = (rule.source_labels ?? [])
      .map((name) => result[name] ?? "")
      .join(rule.separator ?? ";");
    if (action === "keep") {
      if (!regex.test(value)) return undefined;
    } else if (action === "drop") {
      if (regex.test(value)) return undefined;
    } else if (action === "replace") {
      if (!regex.test(value)) continue;
      assert.ok(rule.target_label, "a replace rule names its target_label");
      const replaced = value.replace(
        regex,
        (rule.replacement ?? "$1").replace(/\$\{(\d+)\}/g, "$$$1"),
      );
      if (replaced === "") delete result[rule.target_label];
      else result[rule.target_label] = replaced;
    } else {
      assert.fail(`relabel action ${action} is not simulated here: extend relabel()`);
    }
  }
  // Prometheus drops the labels starting with __ after relabeling.
  return Object.fromEntries(Object.entries(result).filter(([name]) => !name.startsWith("__")));
}

interface Candidate {
  readonly what: string;
  readonly container: string;
  readonly port: number;
  readonly phase: string;
}

const POD = "hello-abc1234-deployment-5d9f7c6b8-x2x4q";
const APP_NAMESPACE = "hello-dev";

/** The targets the pod role yields for a revision's pod, plus look-alikes the job must skip. */
const CANDIDATES: readonly Candidate[] = [
  {
    what: "request metrics",
    container: QUEUE_PROXY_CONTAINER,
    port: QUEUE_PROXY_METRICS_PORT,
    phase: "Running",
  },
  {
    what: "the queue-proxy's serving port",
    container: QUEUE_PROXY_CONTAINER,
    port: 8012,
    phase: "Running",
  },
  {
    what: "the queue-proxy's admin port",
    container: QUEUE_PROXY_CONTAINER,
    port: 8022,
    phase: "Running",
  },
  {
    what: "the autoscaler's stats",
    container: QUEUE_PROXY_CONTAINER,
    port: 9090,
    phase: "Running",
  },
  { what: "the user's container", container: "user-container", port: 8080, phase: "Running" },
  {
    what: "a user's port like Knative's",
    container: "user-container",
    port: QUEUE_PROXY_METRICS_PORT,
    phase: "Running",
  },
  {
    what: "a pod not running yet",
    container: QUEUE_PROXY_CONTAINER,
    port: QUEUE_PROXY_METRICS_PORT,
    phase: "Pending",
  },
];

/** What Kubernetes SD of role pod gives each candidate, before relabeling. */
function discovered(candidate: Candidate, address: string): Record<string, string> {
  return { __address__: address, ...metaLabels(candidate) };
}

function metaLabels(candidate: Candidate): Record<string, string> {
  return {
    __meta_kubernetes_namespace: APP_NAMESPACE,
    __meta_kubernetes_pod_name: POD,
    __meta_kubernetes_pod_phase: candidate.phase,
    __meta_kubernetes_pod_container_name: candidate.container,
    __meta_kubernetes_pod_container_port_number: String(candidate.port),
    __meta_kubernetes_pod_container_port_protocol: "TCP",
    __meta_kubernetes_pod_label_serving_knative_dev_revision: "hello-abc1234",
  };
}

describe("Prometheus for the kind cluster (examples/kind/prometheus.yaml)", () => {
  describe("objects", () => {
    it("holds a namespace, a service account, pod-reading RBAC, the config, the server and its Service", () => {
      assert.deepEqual(manifest.map((o) => `${o.apiVersion} ${o.kind}`).sort(), [
        "apps/v1 Deployment",
        "rbac.authorization.k8s.io/v1 ClusterRole",
        "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
        "v1 ConfigMap",
        "v1 Namespace",
        "v1 Service",
        "v1 ServiceAccount",
      ]);
      assert.equal(record(object("Namespace").metadata, "Namespace metadata").name, NAMESPACE);
      for (const o of manifest) {
        const metadata = record(o.metadata, `${String(o.kind)} metadata`);
        const clusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(
          String(o.kind),
        );
        assert.equal(metadata.namespace, clusterScoped ? undefined : NAMESPACE, String(o.kind));
      }
    });

    it("may only get, list and watch pods, and grants that to its own service account alone", () => {
      const role = object("ClusterRole");
      const grants = list(role.rules, "ClusterRole rules").flatMap((r, i) => {
        const rule = record(r, `rule ${i}`);
        assert.equal(rule.resourceNames, undefined);
        assert.equal(rule.nonResourceURLs, undefined);
        const groups = list(rule.apiGroups, "apiGroups");
        const resources = list(rule.resources, "resources");
        const verbs = list(rule.verbs, "verbs");
        return groups.flatMap((g) =>
          resources.flatMap((r) => verbs.map((v) => `${String(g)}/${String(r)}:${String(v)}`)),
        );
      });
      assert.deepEqual(grants.sort(), ["/pods:get", "/pods:list", "/pods:watch"]);

      const binding = object("ClusterRoleBinding");
      assert.deepEqual(binding.roleRef, {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: record(role.metadata, "ClusterRole metadata").name,
      });
      const account = record(object("ServiceAccount").metadata, "ServiceAccount metadata");
      assert.deepEqual(binding.subjects, [
        { kind: "ServiceAccount", name: account.name, namespace: NAMESPACE },
      ]);
      assert.equal(podSpec.serviceAccountName, account.name);
    });

    it("runs a Prometheus image pinned to an exact release", () => {
      assert.equal(containers.length, 1);
      const image = text(prometheusContainer.image, "image");
      assert.match(
        image,
        /^(quay\.io\/prometheus\/prometheus|docker\.io\/prom\/prometheus):v3\.\d+\.\d+$/,
        "an exact v3.x.y tag of the official image",
      );
    });

    it("keeps 6 hours in an emptyDir, as non-root (nobody) with small requests", () => {
      const args = list(prometheusContainer.args, "args").map((a) => text(a, "arg"));
      assert.ok(args.includes("--storage.tsdb.retention.time=6h"), args.join(" "));
      const volumes = list(podSpec.volumes, "volumes").map((v, i) => record(v, `volume ${i}`));
      const mounts = list(prometheusContainer.volumeMounts, "volumeMounts").map((m, i) =>
        record(m, `mount ${i}`),
      );
      const volumeAt = (mountPath: string): Json => {
        const mount = mounts.find((m) => m.mountPath === mountPath);
        assert.ok(mount, `a volume is mounted at ${mountPath}`);
        const volume = volumes.find((v) => v.name === mount.name);
        assert.ok(volume, `volume ${String(mount.name)} exists`);
        return volume;
      };
      const storage = args.find((a) => a.startsWith("--storage.tsdb.path="))?.split("=")[1];
      assert.ok(storage, "--storage.tsdb.path is set");
      assert.ok(isRecord(volumeAt(storage).emptyDir), "the TSDB lives in an emptyDir");
      const configFile = args.find((a) => a.startsWith("--config.file="))?.split("=")[1];
      assert.ok(configFile, "--config.file is set");
      assert.deepEqual(volumeAt(path.posix.dirname(configFile)).configMap, {
        name: record(object("ConfigMap").metadata, "ConfigMap metadata").name,
      });
      assert.equal(path.posix.basename(configFile), "prometheus.yml");

      const security = record(podSpec.securityContext, "pod securityContext");
      assert.equal(security.runAsNonRoot, true);
      assert.equal(security.runAsUser, 65534);
      const containerSecurity = record(prometheusContainer.securityContext, "securityContext");
      assert.equal(containerSecurity.allowPrivilegeEscalation, false);
      assert.equal(containerSecurity.privileged, undefined);

      const requests = record(
        record(prometheusContainer.resources, "resources").requests,
        "resource requests",
      );
      assert.match(text(requests.cpu, "cpu request"), /^\d+m$/);
      assert.ok(parseInt(String(requests.cpu), 10) <= 200, `cpu request ${String(requests.cpu)}`);
      assert.match(text(requests.memory, "memory request"), /^\d+Mi$/);
      assert.ok(parseInt(String(requests.memory), 10) <= 256, `memory ${String(requests.memory)}`);
    });

    it("is reached through a ClusterIP Service on 9090, for kubectl port-forward", () => {
      const service = object("Service");
      const spec = record(service.spec, "Service spec");
      assert.equal(record(service.metadata, "Service metadata").name, "prometheus");
      assert.equal(spec.type, "ClusterIP");
      const ports = list(spec.ports, "Service ports").map((p, i) => record(p, `port ${i}`));
      assert.equal(ports.length, 1);
      assert.equal(ports[0].port, 9090);
      const containerPort = list(prometheusContainer.ports, "container ports")
        .map((p, i) => record(p, `container port ${i}`))
        .find((p) => p.name === ports[0].targetPort || p.containerPort === ports[0].targetPort);
      assert.ok(containerPort, "the Service targets the container's port");
      assert.equal(containerPort.containerPort, 9090);
      const podLabels = record(
        record(record(deployment.spec, "spec").template, "template").metadata,
        "template metadata",
      ).labels;
      for (const [key, value] of Object.entries(record(spec.selector, "selector"))) {
        assert.equal(record(podLabels, "pod labels")[key], value, `pod label ${key}`);
      }
    });
  });

  describe("scrape config", () => {
    const job = scrapeJob(config);
    const rules = list(job.relabel_configs, "relabel_configs") as RelabelRule[];

    it("discovers pods through the Kubernetes API", () => {
      assert.deepEqual(job.kubernetes_sd_configs, [{ role: "pod" }]);
      assert.equal(Object.keys(job).filter((key) => key.endsWith("_sd_configs")).length, 1);
      assert.equal(job.static_configs, undefined);
    });

    it(`keeps only ${QUEUE_PROXY_CONTAINER}:${QUEUE_PROXY_METRICS_PORT}, the port the Platform turns on`, () => {
      // The Platform sets no endpoint, so the queue-proxy serves on its default port.
      assert.deepEqual(Object.keys(knativeObservabilityData()), ["request-metrics-protocol"]);
      const kept = CANDIDATES.filter(
        (c) => relabel({ job: JOB, ...discovered(c, "10.244.0.7:1") }, rules) !== undefined,
      ).map((c) => c.what);
      assert.deepEqual(kept, ["request metrics"]);
    });

    it("leaves job and instance as the scrape sets them, adding namespace and pod", () => {
      // The analysis joins the request histogram to target_info on (job, instance).
      assert.notEqual(job.honor_labels, true);
      const address = `10.244.0.7:${QUEUE_PROXY_METRICS_PORT}`;
      const labels = relabel({ job: JOB, ...discovered(CANDIDATES[0], address) }, rules);
      // Prometheus sets instance from __address__ after relabeling, unless a rule set it.
      assert.deepEqual(labels, { job: JOB, namespace: APP_NAMESPACE, pod: POD });
      for (const rule of rules) {
        assert.ok(
          !["job", "instance", "__address__"].includes(rule.target_label ?? ""),
          `no rule rewrites ${String(rule.target_label)}`,
        );
      }
    });

    it("scrapes often enough for a 1-minute window to hold a dozen samples", () => {
      const global = record(config.global, "global");
      const interval = text(job.scrape_interval ?? global.scrape_interval, "scrape_interval");
      const seconds = /^(\d+)s$/.exec(interval);
      assert.ok(seconds, `scrape_interval ${interval} is in seconds`);
      assert.ok(Number(seconds[1]) <= 5, `scrape_interval ${interval}`);
    });
  });

  describe("with the real promtool and Prometheus", function () {
    this.timeout(60_000);
    let binaries: PrometheusBinaries;
    let root: string;

    before(function () {
      binaries = requirePrometheus(this);
      root = fs.mkdtempSync(path.join(os.tmpdir(), "canary-kind-prometheus-"));
    });

    after(() => {
      if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    /** prometheus.yml with file-based discovery of `targetsFile` in place of the pod role. */
    function withFileDiscovery(targetsFile: string, scrapeInterval?: string): string {
      const copy = structuredClone(config);
      const copiedJob = scrapeJob(copy);
      delete copiedJob.kubernetes_sd_configs;
      copiedJob.file_sd_configs = [{ files: [targetsFile] }];
      if (scrapeInterval !== undefined) {
        const global = record(copy.global, "global");
        global.scrape_interval = scrapeInterval;
        global.scrape_timeout = scrapeInterval;
      }
      return stringify(copy);
    }

    it("promtool accepts prometheus.yml (discovery swapped where promtool lacks Kubernetes)", async () => {
      const dir = fs.mkdtempSync(path.join(root, "check-"));
      const asIs = path.join(dir, "prometheus.yml");
      fs.writeFileSync(asIs, configText);
      const kubernetes = await promtool(binaries.promtool, ["check", "config", asIs]);
      if (kubernetes.ok) return;
      // Debian's package is built without Kubernetes discovery ("Kubernetes support has been
      // completely removed", its NEWS.Debian): it stops at the SD block and checks nothing after
      // it. Then everything else is checked with file-based discovery in its place.
      assert.match(kubernetes.output, /field kubernetes_sd_configs not found/, kubernetes.output);
      console.log(
        "    note: this promtool has no Kubernetes discovery (Debian's build); the rest of " +
          "prometheus.yml is checked with file-based discovery in its place",
      );
      const substituted = path.join(dir, "prometheus-file-sd.yml");
      fs.writeFileSync(substituted, withFileDiscovery(path.join(dir, "targets.json")));
      const check = await promtool(binaries.promtool, ["check", "config", substituted]);
      assert.ok(check.ok, check.output);
      assert.match(check.output, /SUCCESS/);
      // The swap must not hide a typo: promtool does refuse a bad rule in this same setup.
      const broken = withFileDiscovery(path.join(dir, "targets.json")).replace(
        "action: keep",
        "action: keepp",
      );
      fs.writeFileSync(substituted, broken);
      assert.equal((await promtool(binaries.promtool, ["check", "config", substituted])).ok, false);
    });

    it("scrapes a queue-proxy, and only it, so that the canary analysis gives a verdict", async () => {
      const queueProxy = await StandInQueueProxy.start("hello-abc1234", APP_NAMESPACE, POD);
      let prometheus: PrometheusServer | undefined;
      try {
        const dir = fs.mkdtempSync(path.join(root, "run-"));
        // The kept target is the stand-in; the others point at loopback addresses where nothing
        // listens, so a target kept by mistake shows up in the target list (and is never a
        // host outside this machine).
        const targets = CANDIDATES.map((candidate, index) => ({
          targets: [index === 0 ? queueProxy.address : `127.0.0.${index + 1}:${queueProxy.port}`],
          labels: metaLabels(candidate),
        }));
        const targetsFile = path.join(dir, "targets.json");
        fs.writeFileSync(targetsFile, JSON.stringify(targets));
        // A 1 s interval only to make the test quick; the rules are the file's.
        prometheus = await PrometheusServer.start(
          binaries.prometheus,
          path.join(dir, "data"),
          withFileDiscovery(targetsFile, "1s"),
        );

        const active = await waitForTargets(prometheus);
        assert.deepEqual(active, [
          { instance: queueProxy.address, job: JOB, namespace: APP_NAMESPACE, pod: POD },
        ]);
        await waitForSamples(prometheus, "kn_serving_invocation_duration_seconds_count", 6);

        // One revision only: as the stable one, preflight finds its series under the otel names
        // (target_info joined), which the rest of the scrape config must keep.
        const criteria = { minSuccessRate: 98, maxP99Ms: 100 };
        const common = {
          prometheusUrl: prometheus.url,
          namespace: APP_NAMESPACE,
          window: "10s",
          sampleInterval: "5s",
          minRequests: 10,
        };
        const preflight = await preflightCanary({
          ...common,
          candidate: "hello-0000000",
          stable: "hello-abc1234",
          criteria,
        });
        assert.ok(preflight.ok, JSON.stringify(preflight));
        assert.equal(preflight.metricSet.source, "built-in otel");
        // As the candidate, judged by the absolute thresholds (nothing to compare with).
        const result = await analyseCanary({
          ...common,
          candidate: "hello-abc1234",
          stable: "hello-0000000",
          metricSet: preflight.metricSet,
        });
        assert.equal(result.verdict, "pass", result.reason);
        const success = result.metrics?.find((m) => m.name === "success-rate");
        assert.ok(success?.candidate !== undefined && Math.abs(success.candidate - 99) < 1e-6);
        // Every request took 30 ms: the p99 lies in the (25 ms, 50 ms] bucket.
        const p99 = result.metrics?.find((m) => m.name === "p99-latency")?.candidate;
        assert.ok(p99 !== undefined && p99 > 25 && p99 <= 50, String(p99));
      } finally {
        await prometheus?.stop();
        await queueProxy.close();
      }
    });
  });
});

async function promtool(
  file: string,
  args: readonly string[],
): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}` });
    });
  });
}

/**
 * What the queue-proxy's OpenTelemetry Prometheus exporter serves on its metrics port (knative/pkg
 * observability/metrics: UnderscoreEscapingWithSuffixes, no resource attributes on the series):
 * the request histogram kn.serving.invocation.duration in seconds with http.response.status_code,
 * and target_info with the resource attributes. Each scrape adds 99 requests answered 200 and one
 * 503, all in 30 ms.
 */
class StandInQueueProxy {
  private scrapes = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly revision: string,
    private readonly namespace: string,
    private readonly pod: string,
  ) {}

  static async start(revision: string, namespace: string, pod: string): Promise<StandInQueueProxy> {
    const server = http.createServer();
    const proxy = new StandInQueueProxy(server, revision, namespace, pod);
    server.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (request.url !== "/metrics") {
        response.writeHead(404).end();
        return;
      }
      proxy.scrapes += 1;
      response.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
      response.end(proxy.exposition());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private exposition(): string {
    const bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    const scope = 'otel_scope_name="knative.dev/serving/pkg/queue",otel_scope_version=""';
    const lines = [
      "# HELP kn_serving_invocation_duration_seconds The duration of the task execution",
      "# TYPE kn_serving_invocation_duration_seconds histogram",
    ];
    for (const [code, perScrape] of [
      ["200", 99],
      ["503", 1],
    ] as const) {
      const count = perScrape * this.scrapes;
      const labels = `http_response_status_code="${code}",${scope}`;
      for (const bound of bounds) {
        const inBucket = bound >= 0.03 ? count : 0;
        lines.push(
          `kn_serving_invocation_duration_seconds_bucket{${labels},le="${bound}"} ${inBucket}`,
        );
      }
      lines.push(`kn_serving_invocation_duration_seconds_bucket{${labels},le="+Inf"} ${count}`);
      lines.push(`kn_serving_invocation_duration_seconds_sum{${labels}} ${count * 0.03}`);
      lines.push(`kn_serving_invocation_duration_seconds_count{${labels}} ${count}`);
    }
    lines.push(
      "# HELP target_info Target metadata",
      "# TYPE target_info gauge",
      `target_info{k8s_container_name="queue-proxy",k8s_namespace_name="${this.namespace}",` +
        `k8s_pod_name="${this.pod}",kn_configuration_name="hello",` +
        `kn_revision_name="${this.revision}",service_instance_id="${this.pod}",` +
        `service_name="hello",service_version="test",telemetry_sdk_language="go",` +
        `telemetry_sdk_name="opentelemetry"} 1`,
    );
    return `${lines.join("\n")}\n`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// The scrape manager applies discovered targets every 5 s; then a few 1 s scrapes.
const DATA_TIMEOUT_MS = 30_000;

async function api(prometheus: PrometheusServer, pathAndQuery: string): Promise<Json> {
  const response = await fetch(`${prometheus.url}${pathAndQuery}`, {
    signal: AbortSignal.timeout(2_000),
  });
  const body = record(await response.json(), "API answer");
  assert.equal(body.status, "success", JSON.stringify(body));
  return record(body.data, "API data");
}

/** Labels of the active targets once every one has been scraped at least once. */
function waitForTargets(prometheus: PrometheusServer): Promise<Json[]> {
  return prometheus.waitFor(DATA_TIMEOUT_MS, "targets scraped", async () => {
    const data = await api(prometheus, "/api/v1/targets?state=active");
    const active = list(data.activeTargets, "activeTargets").map((t, i) =>
      record(t, `target ${i}`),
    );
    if (active.length === 0 || active.some((t) => t.health === "unknown")) return undefined;
    return active.map((t) => record(t.labels, "target labels"));
  });
}

/** Waits until `metric` has at least `samples` samples in the last minute. */
async function waitForSamples(
  prometheus: PrometheusServer,
  metric: string,
  samples: number,
): Promise<void> {
  await prometheus.waitFor(DATA_TIMEOUT_MS, `${samples} samples of ${metric}`, async () => {
    const query = encodeURIComponent(`min(count_over_time(${metric}[1m]))`);
    const data = await api(prometheus, `/api/v1/query?query=${query}`);
    const value = list(data.result, "result")[0];
    if (!isRecord(value)) return undefined;
    return Number(list(value.value, "value")[1]) >= samples ? true : undefined;
  });
}
