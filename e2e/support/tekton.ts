// The real Tekton, as local processes against the local control plane: the Pipelines controller
// (v1 objects; the reconciler defaults them, so no webhook is needed), the Triggers core
// interceptors (github and cel, on https://localhost:8443, a port Triggers hard-codes), and the
// EventListener sink of one EventListener, with that EventListener's own ServiceAccount token.
// What a release install would also bring and these need is created here: the system namespace
// with the controller's ConfigMaps (empty: Tekton's defaults), the interceptors' certificate
// Secret, and ClusterInterceptors addressed by URL (no Triggers controller fills their address).
// Every request goes to loopback, but not every listener can be held there: the interceptors
// listen on *:8443 and the sink on *:<port> (both hard-coded in Triggers), and the controller's
// and sink's probe, metrics and profiling servers on all interfaces (free ports are chosen, and
// the controller's second health server always tries :8080; it only logs when that is taken).
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { startProcess, ScriptProcess } from "./inClusterProcess";
import type { Kube } from "./kube";
import type { RealTier } from "./realTier";

export const TEKTON_NAMESPACE = "tekton-pipelines";
const INTERCEPTORS_PORT = 8443;
const CERT_SECRET = "tekton-triggers-core-interceptors-certs";
/** The ConfigMaps the controller's config watcher refuses to start without. */
const CONTROLLER_CONFIGMAPS = [
  "config-defaults",
  "feature-flags",
  "config-observability",
  "config-events",
  "config-tracing",
  "config-spire",
  "config-wait-exponential-backoff",
];
/** The core interceptors the stack's EventListener names. */
const INTERCEPTORS = ["github", "cel"];

export interface Tekton {
  /** The sink's address, where the webhook Ingress would send GitHub's deliveries. */
  readonly sinkUrl: string;
  readonly controller: ScriptProcess;
  readonly interceptors: ScriptProcess;
  readonly sink: ScriptProcess;
  stop(): Promise<void>;
}

/** `count` distinct free ports, all held until every one is chosen. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => net.createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve) =>
            server.listen(0, "127.0.0.1", () =>
              resolve((server.address() as net.AddressInfo).port),
            ),
          ),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  watched?: ScriptProcess,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (watched?.hasExited()) {
      throw new Error(`${what}: the process ended: ${JSON.stringify(watched.lines.slice(-5))}`);
    }
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A kubeconfig of the tier's API server that authenticates with `token`. */
export function kubeconfigWithToken(tier: RealTier, name: string, token: string): string {
  const file = path.join(tier.dir, `kubeconfig-${name}`);
  const ca = fs.readFileSync(tier.plane.caFile).toString("base64");
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        { name: "local", cluster: { server: tier.plane.server, "certificate-authority-data": ca } },
      ],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: "local", user: name } }],
      "current-context": name,
    }),
    { mode: 0o600 },
  );
  return file;
}

/** What a Tekton release install leaves that the three processes need. */
async function installSystemObjects(kube: Kube): Promise<void> {
  await kube.ok("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: TEKTON_NAMESPACE },
  });
  for (const name of CONTROLLER_CONFIGMAPS) {
    await kube.ok("POST", `/api/v1/namespaces/${TEKTON_NAMESPACE}/configmaps`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: TEKTON_NAMESPACE },
    });
  }
  await kube.ok("POST", `/api/v1/namespaces/${TEKTON_NAMESPACE}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: CERT_SECRET, namespace: TEKTON_NAMESPACE },
  });
  for (const name of INTERCEPTORS) {
    await kube.ok("POST", "/apis/triggers.tekton.dev/v1alpha1/clusterinterceptors", {
      apiVersion: "triggers.tekton.dev/v1alpha1",
      kind: "ClusterInterceptor",
      metadata: { name, labels: { "server/type": "https" } },
      // The certificate the interceptors make names the service: `localhost` here.
      spec: { clientConfig: { url: `https://localhost:${INTERCEPTORS_PORT}/${name}` } },
    });
  }
}

/**
 * Starts the three, in the order they need: the interceptors (which write their CA into the
 * ClusterInterceptors), then the controller, then the sink (which refuses to start while an
 * https ClusterInterceptor has no CA). `listener.token` is the EventListener ServiceAccount's,
 * so the sink works with exactly the rights the stack gave it.
 */
export async function startTekton(
  tier: RealTier,
  listener: { readonly namespace: string; readonly name: string; readonly token: string },
): Promise<Tekton> {
  if (!(await portIsFree(INTERCEPTORS_PORT))) {
    throw new Error(
      `port ${INTERCEPTORS_PORT} is in use: Tekton Triggers' core interceptors always listen ` +
        "there; stop whatever holds it (`ss -ltnp 'sport = :8443'`) and run the tests again",
    );
  }
  const { toolchain } = tier;
  const binaries = toolchain.tekton;
  if (binaries === undefined) {
    throw new Error("the tier was started without Tekton: startRealTier(this, COMPONENTS)");
  }
  await installSystemObjects(tier.kube);
  const started: ScriptProcess[] = [];
  const stopAll = async (): Promise<void> => {
    // The sink never handles SIGTERM (its server ignores the context): it gets SIGKILL.
    await Promise.all(
      started.reverse().map((p) => (p === sink ? p.stop("SIGKILL") : p.stop("SIGTERM", 10_000))),
    );
  };
  let sink: ScriptProcess | undefined;
  try {
    const interceptors = startProcess(
      binaries.interceptors,
      ["-kubeconfig", tier.plane.kubeconfig],
      {
        SYSTEM_NAMESPACE: TEKTON_NAMESPACE,
        INTERCEPTOR_TLS_SVC_NAME: "localhost",
        INTERCEPTOR_TLS_SECRET_NAME: CERT_SECRET,
      },
    );
    started.push(interceptors);
    for (const name of INTERCEPTORS) {
      await until(
        `ClusterInterceptor ${name} gets its caBundle`,
        60_000,
        async () => {
          const object = (await tier.kube.ok(
            "GET",
            `/apis/triggers.tekton.dev/v1alpha1/clusterinterceptors/${name}`,
          )) as { spec: { clientConfig: { caBundle?: string } } };
          return object.spec.clientConfig.caBundle ? true : undefined;
        },
        interceptors,
      );
    }

    const [probesPort, metricsPort, profilingPort, sinkPort, sinkMetrics, sinkProfiling] =
      await freePorts(6);
    const images = (v: string) => [
      "-entrypoint-image",
      `ghcr.io/tektoncd/pipeline/entrypoint:${v}`,
      "-nop-image",
      `ghcr.io/tektoncd/pipeline/nop:${v}`,
      "-sidecarlogresults-image",
      `ghcr.io/tektoncd/pipeline/sidecarlogresults:${v}`,
      "-workingdirinit-image",
      `ghcr.io/tektoncd/pipeline/workingdirinit:${v}`,
      "-shell-image",
      "cgr.dev/chainguard/busybox:latest",
      "-shell-image-win",
      "mcr.microsoft.com/powershell:nanoserver",
    ];
    const controller = startProcess(
      binaries.controller,
      [
        "-kubeconfig",
        tier.plane.kubeconfig,
        "-disable-ha",
        ...images(`v${toolchain.versions.tekton.pipeline}`),
      ],
      {
        SYSTEM_NAMESPACE: TEKTON_NAMESPACE,
        METRICS_DOMAIN: "tekton.dev/pipeline",
        KUBERNETES_MIN_VERSION: "v1.28.0",
        PROBES_PORT: String(probesPort),
        METRICS_PROMETHEUS_PORT: String(metricsPort),
        PROFILING_PORT: String(profilingPort),
      },
    );
    started.push(controller);

    sink = startProcess(
      binaries.eventListenerSink,
      [
        "-kubeconfig",
        kubeconfigWithToken(tier, `${listener.namespace}-${listener.name}`, listener.token),
        "-el-name",
        listener.name,
        "-el-namespace",
        listener.namespace,
        "-port",
        String(sinkPort),
      ],
      {
        SYSTEM_NAMESPACE: TEKTON_NAMESPACE,
        NAMESPACE: listener.namespace,
        METRICS_PROMETHEUS_PORT: String(sinkMetrics),
        PROFILING_PORT: String(sinkProfiling),
      },
    );
    started.push(sink);
    const sinkUrl = `http://127.0.0.1:${sinkPort}`;
    const liveSink = sink;
    await until(
      "the EventListener sink answers /live",
      60_000,
      async () => {
        try {
          const response = await fetch(`${sinkUrl}/live`, { signal: AbortSignal.timeout(5000) });
          return response.ok ? true : undefined;
        } catch {
          return undefined;
        }
      },
      liveSink,
    );
    return { sinkUrl, controller, interceptors, sink, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
