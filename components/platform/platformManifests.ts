// What the Platform installs and in which order: pinned release manifest URLs, the patches that
// fit them to a kind cluster, and which consumer waits for what. Pure, so the plan is tested
// without Pulumi.
import { TAG_HEADER_ROUTING_FEATURE } from "../../common/knativeFeatures";
import { createHash } from "crypto";
import { isDnsHostName } from "../../common/dnsNames";
import { PLATFORM_DEFAULT_VERSIONS, type PlatformVersions } from "../../common/platformVersions";

export { PLATFORM_DEFAULT_VERSIONS, type PlatformVersions };

/** Each release manifest the Platform applies, one `k8s.yaml.v2.ConfigFile` each. */
export type PlatformRelease =
  | "servingCore"
  | "kourier"
  | "eventingCore"
  | "tektonPipeline"
  | "tektonTriggers"
  | "tektonInterceptors"
  | "ingressController";

export interface InstallStep {
  readonly release: PlatformRelease;
  /** Pinned release asset; the tag of `versionField` is part of the path. */
  readonly url: string;
  readonly versionField: keyof PlatformVersions;
  /** Releases that must be fully applied (CRDs established, webhooks ready) first. */
  readonly after: readonly PlatformRelease[];
  /**
   * Apply without Pulumi's readiness checks. Set where the release has a Service of type
   * LoadBalancer, which never gets an address on kind: Pulumi would wait for it until the
   * timeout. The Platform's NodePort patch of that Service waits for its pods instead.
   */
  readonly skipAwait: boolean;
}

/**
 * The release manifests in install order, with their dependencies. URL forms, as each project
 * publishes its assets:
 * - Knative: GitHub release assets, https://github.com/knative/<repo>/releases/download/<tag>/<file>
 *   (knative.dev "Installing Knative Serving using YAML files"); Kourier moved to the
 *   knative-extensions organisation, which serves knative-extensions/net-kourier/releases/download/
 *   knative-vX.Y.Z/kourier.yaml.
 * - Tekton: https://infra.tekton.dev/tekton-releases/<project>/previous/<tag>/<file>; Tekton left
 *   storage.googleapis.com for infra.tekton.dev (tektoncd/pipeline#9569 replaced the old URLs in
 *   its docs, 2026-03; the "installation one-liner" of the pipeline v1.5.0 and v1.11.0 release
 *   notes has this form). Triggers publishes release.yaml and interceptors.yaml side by side
 *   under triggers/previous/<tag>/.
 * - Contour: the rendered examples/render/contour.yaml at the release tag, the URL its own
 *   release notes give (raw.githubusercontent.com/projectcontour/contour/<tag>/...).
 */
export function platformInstallPlan(versions: PlatformVersions): readonly InstallStep[] {
  const serving = `https://github.com/knative/serving/releases/download/${versions.knativeServing}`;
  const eventing = `https://github.com/knative/eventing/releases/download/${versions.knativeEventing}`;
  const kourier = `https://github.com/knative-extensions/net-kourier/releases/download/${versions.kourier}`;
  const tekton = "https://infra.tekton.dev/tekton-releases";
  const pipeline = `${tekton}/pipeline/previous/${versions.tektonPipeline}`;
  const triggers = `${tekton}/triggers/previous/${versions.tektonTriggers}`;
  const contour = `https://raw.githubusercontent.com/projectcontour/contour/${versions.ingressController}`;
  const step = (
    release: PlatformRelease,
    url: string,
    versionField: keyof PlatformVersions,
    after: readonly PlatformRelease[],
    skipAwait = false,
  ): InstallStep => ({ release, url, versionField, after, skipAwait });
  // Knative also publishes serving-crds.yaml and eventing-crds.yaml, but each core file already
  // holds the same CRDs: applying both would give every CRD two owners, and removing either
  // would delete the CRDs and with them every Route, Revision and ApiServerSource. A
  // ConfigFile applies a file's CRDs before the custom resources of their kinds (the
  // queue-proxy Image in serving-core, say).
  return [
    step("servingCore", `${serving}/serving-core.yaml`, "knativeServing", []),
    // Kourier puts its controller into the knative-serving namespace that serving-core creates.
    step("kourier", `${kourier}/kourier.yaml`, "kourier", ["servingCore"], true),
    step("eventingCore", `${eventing}/eventing-core.yaml`, "knativeEventing", []),
    step("tektonPipeline", `${pipeline}/release.yaml`, "tektonPipeline", []),
    // Triggers runs in the tekton-pipelines namespace, which only the Pipelines release creates.
    step("tektonTriggers", `${triggers}/release.yaml`, "tektonTriggers", ["tektonPipeline"]),
    // The core ClusterInterceptors are Triggers custom resources, checked by its webhook.
    step("tektonInterceptors", `${triggers}/interceptors.yaml`, "tektonTriggers", [
      "tektonTriggers",
    ]),
    step(
      "ingressController",
      `${contour}/examples/render/contour.yaml`,
      "ingressController",
      [],
      true,
    ),
  ];
}

/**
 * The Pulumi type of a CRD. The Platform keeps every CRD its releases bring when the Platform
 * (or a release) is removed: deleting a CRD deletes every object of its kind, the Routes,
 * Revisions and ApiServerSources of every app on the cluster included.
 */
export const CUSTOM_RESOURCE_DEFINITION_TYPE =
  "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition";

/** Where the released objects the Platform patches live. */
export const KNATIVE_SERVING_NAMESPACE = "knative-serving";
export const KOURIER_SERVICE = { namespace: "kourier-system", name: "kourier" } as const;
export const CONTOUR_NAMESPACE = "projectcontour";
export const CONTOUR_ENVOY_SERVICE = { namespace: CONTOUR_NAMESPACE, name: "envoy" } as const;
export const CONTOUR_CONFIG_MAP = { namespace: CONTOUR_NAMESPACE, name: "contour" } as const;
export const CONTOUR_DEPLOYMENT = { namespace: CONTOUR_NAMESPACE, name: "contour" } as const;

/**
 * Contour, run without `--ingress-class-name` as its release does, serves Ingresses of this
 * class and Ingresses without any class; it needs no IngressClass object.
 */
export const CONTOUR_INGRESS_CLASS = "contour";

/** Knative's name for Kourier in config-network `ingress-class`. */
export const KOURIER_INGRESS_CLASS = "kourier.ingress.networking.knative.dev";

export function knativeNetworkData(): Record<string, string> {
  return { "ingress-class": KOURIER_INGRESS_CLASS };
}

/** config-features: routing by the `Knative-Serving-Tag` header on (see common/knativeFeatures.ts). */
export function knativeFeaturesData(): Record<string, string> {
  return { [TAG_HEADER_ROUTING_FEATURE]: "Enabled" };
}

/** config-domain: an empty value makes `domain` the default domain of every Route. */
export function knativeDomainData(domain: string): Record<string, string> {
  return { [domain]: "" };
}

/** The sidecar Knative puts beside every revision's container; it serves the request metrics. */
export const QUEUE_PROXY_CONTAINER = "queue-proxy";

/**
 * Where the queue-proxy serves its request metrics to Prometheus (path /metrics) once
 * `request-metrics-protocol` is `prometheus` and no `request-metrics-endpoint` is set:
 * knative/serving pkg/networking/constants.go `UserQueueMetricsPort = 9091`, the listen address
 * pkg/queue/sharedmain/otel.go gives the exporter, which the revision's pod declares as the
 * queue-proxy's container port `http-usermetric` (pkg/reconciler/revision/resources/queue.go).
 * examples/kind/prometheus.yaml scrapes exactly this port; a test keeps both equal.
 */
export const QUEUE_PROXY_METRICS_PORT = 9091;

/**
 * config-observability: the queue-proxy's request metrics, off by default since Knative moved to
 * OpenTelemetry (1.19), served for Prometheus to scrape on QUEUE_PROXY_METRICS_PORT. The keys are
 * those of knative/serving pkg/observability/config.go (the request metrics take the metrics
 * keys with the prefix `request-`) and knative/pkg observability/metrics/config.go
 * (`<prefix>metrics-protocol`: none, the default, prometheus, grpc or http/protobuf), unchanged
 * from 1.19 to knative-v1.23.0, whose config-observability has them only in `_example`: adding
 * the key takes no field from the release. Knative's own control-plane metrics
 * (`metrics-protocol`) stay off; the canary analysis reads only the queue-proxy's.
 */
export function knativeObservabilityData(): Record<string, string> {
  return { "request-metrics-protocol": "prometheus" };
}

/** Kubernetes' default --service-node-port-range, which kind keeps. */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

/**
 * Node ports the kind cluster maps to the host (examples/kind/cluster.yaml): Kourier's HTTP port
 * behind the host's port 80, so Knative URLs need no port; Contour's Envoy HTTP port behind the
 * host's port 8080, where a tunnel forwards GitHub's webhook deliveries.
 */
export const PLATFORM_DEFAULT_NODE_PORTS = Object.freeze({
  kourierHttp: 31080,
  ingressHttp: 31081,
});

/** The address Contour writes into Ingress status: the host end of the kind port mapping. */
export const DEFAULT_INGRESS_STATUS_ADDRESS = "127.0.0.1";

/**
 * The ServiceSpec of a NodePort patch: the HTTP port (80 in both releases) gets a fixed node
 * port; HTTPS keeps the one Kubernetes allocated. Service ports merge by port and protocol.
 */
export function nodePortServiceSpec(nodePort: number): {
  type: "NodePort";
  ports: { port: number; protocol: "TCP"; nodePort: number }[];
} {
  return { type: "NodePort", ports: [{ port: 80, protocol: "TCP", nodePort }] };
}

/**
 * Contour's configuration file with one change from the release's (whose settings are all
 * Contour's defaults): the Ingress status address. Contour otherwise copies the Envoy
 * Service's load-balancer address, which a NodePort Service never has, and Pulumi waits for
 * an Ingress until its status has an address.
 */
export function contourConfigFile(ingressStatusAddress: string): string {
  return [
    "# Written by the canary-release Platform: Contour's defaults, plus the address to report",
    "# in Ingress status, since the Envoy Service is a NodePort Service without one.",
    `ingress-status-address: ${ingressStatusAddress}`,
    "",
  ].join("\n");
}

/** Contour reads its file once at start; a changed checksum in the pod template restarts it. */
export function contourConfigChecksum(configFile: string): string {
  return createHash("sha256").update(configFile).digest("hex").slice(0, 16);
}

/** Annotations of Platform-owned metadata. */
export const AMENDS_RELEASE_ANNOTATION = "canary-release.dev/amends-release";
export const CONFIG_CHECKSUM_ANNOTATION = "canary-release.dev/contour-config-checksum";

export interface PlatformSettings {
  readonly versions: PlatformVersions;
  readonly domain: string;
  readonly kourierNodePort: number;
  readonly ingressNodePort: number;
  readonly ingressStatusAddress: string;
}

/**
 * Every problem of the Platform's own arguments (node ports, status address: set in code, not
 * config), each naming what to set and to what. The versions and the domain are config, judged
 * once by config.ts before anything is registered.
 */
export function platformArgumentProblems(settings: PlatformSettings): string[] {
  const problems: string[] = [];
  const ports: [string, number][] = [
    ["kourierNodePort", settings.kourierNodePort],
    ["ingressNodePort", settings.ingressNodePort],
  ];
  for (const [name, port] of ports) {
    if (!Number.isInteger(port) || port < NODE_PORT_RANGE.min || port > NODE_PORT_RANGE.max) {
      problems.push(
        `${name} = ${port}: must be a whole number from ${NODE_PORT_RANGE.min} to ` +
          `${NODE_PORT_RANGE.max} (Kubernetes' node port range)`,
      );
    }
  }
  if (settings.kourierNodePort === settings.ingressNodePort) {
    problems.push(
      `kourierNodePort and ingressNodePort are both ${settings.kourierNodePort}: they must differ`,
    );
  }
  if (!isAddress(settings.ingressStatusAddress)) {
    problems.push(
      `ingressStatusAddress = ${JSON.stringify(settings.ingressStatusAddress)}: must be an IPv4 ` +
        `address or a DNS name`,
    );
  }
  return problems;
}

/** An IPv4 address, or a DNS name that does not merely look like a bad address (300.0.0.1). */
function isAddress(value: string): boolean {
  const parts = value.split(".");
  if (!parts.every((part) => /^\d+$/.test(part))) return isDnsHostName(value);
  return (
    parts.length === 4 &&
    parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)
  );
}

/** What a consumer of the platform can wait for. */
export type PlatformCapability = "serving" | "eventing" | "tekton" | "triggers" | "ingress";

/** The stack's components that create objects the platform's releases define or serve. */
export type PlatformConsumer = "canaryRoute" | "buildPipeline" | "githubTrigger" | "revisionTester";

/**
 * Which capabilities each component must wait for before it creates anything:
 * - canaryRoute: a Knative Route (Serving's CRDs and webhook; Kourier and its config to serve it);
 * - buildPipeline: Tekton Tasks and a Pipeline (Pipelines' CRDs and webhook), and its deploy step
 *   applies Knative Configurations;
 * - githubTrigger: Triggers objects that name the core ClusterInterceptors, and an Ingress
 *   (Contour reporting Ingress status, for which Pulumi waits);
 * - revisionTester: a Knative Service (Serving) and an ApiServerSource (Eventing).
 */
export const PLATFORM_CONSUMER_NEEDS: Readonly<
  Record<PlatformConsumer, readonly PlatformCapability[]>
> = Object.freeze({
  canaryRoute: ["serving"],
  buildPipeline: ["tekton", "serving"],
  githubTrigger: ["triggers", "ingress"],
  revisionTester: ["serving", "eventing"],
});

export const PLATFORM_CONSUMERS: readonly PlatformConsumer[] = Object.freeze(
  Object.keys(PLATFORM_CONSUMER_NEEDS) as PlatformConsumer[],
);
