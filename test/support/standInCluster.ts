// A stand-in Kubernetes API on loopback that serves Knative Revisions and Routes the way the
// API server does (lists with a label selector, 404 Status objects), for the real
// @kubernetes/client-node behind `canary revisions`, `start` and `status`. The real API server
// is used by the real tier (e2e/canaryLoop.e2e.ts); this one gives faults on demand.
import * as http from "http";
import type { AddressInfo } from "net";
import {
  ClusterReadError,
  type KnativeRevision,
  type KnativeRoute,
} from "../../automation/cluster";
import type { OpenCluster } from "../../automation/clusterStatus";
import type { TrafficTarget } from "../../common/traffic";

/** For tests whose command must not read a cluster. */
export const noCluster: OpenCluster = async () => {
  throw new ClusterReadError("this test reads no cluster");
};

export interface StandInCluster {
  readonly url: string;
  /** A kubeconfig (its text) with one context, `stand-in`, whose server is this one. */
  readonly kubeconfig: string;
  readonly revisions: KnativeRevision[];
  route: KnativeRoute | undefined;
  /** ConfigMaps' data by `namespace/name` (Knative's config-features). */
  readonly configMaps: Record<string, Record<string, string>>;
  /** Answer every request with this status (e.g. 403, 500) until cleared. */
  failWith: number | undefined;
  /** `GET /apis/...?labelSelector=...`, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

function status(code: number, message: string): string {
  return JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message, code });
}

export async function startStandInCluster(namespace: string): Promise<StandInCluster> {
  const state = {
    revisions: [] as KnativeRevision[],
    route: undefined as KnativeRoute | undefined,
    configMaps: {} as Record<string, Record<string, string>>,
    failWith: undefined as number | undefined,
    requests: [] as string[],
  };
  const base = `/apis/serving.knative.dev/v1/namespaces/${namespace}`;
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://stand-in");
    state.requests.push(`${request.method} ${url.pathname}${url.search}`);
    const send = (code: number, body: string): void => {
      response.writeHead(code, { "content-type": "application/json" });
      response.end(body);
    };
    if (state.failWith !== undefined) {
      send(state.failWith, status(state.failWith, `stand-in refuses with ${state.failWith}`));
      return;
    }
    if (request.method !== "GET") {
      send(405, status(405, "the stand-in only reads"));
      return;
    }
    const configMap = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/]+)$/.exec(url.pathname);
    if (configMap !== null) {
      const data = state.configMaps[`${configMap[1]}/${configMap[2]}`];
      if (data === undefined) {
        send(404, status(404, `configmaps "${configMap[2]}" not found`));
      } else {
        send(
          200,
          JSON.stringify({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: configMap[2], namespace: configMap[1] },
            data,
          }),
        );
      }
      return;
    }
    if (url.pathname === `${base}/revisions`) {
      const selector = url.searchParams.get("labelSelector") ?? "";
      const [key, value] = selector.split("=");
      const items = state.revisions.filter(
        (revision) => selector === "" || revision.metadata.labels?.[key] === value,
      );
      send(
        200,
        JSON.stringify({ apiVersion: "serving.knative.dev/v1", kind: "RevisionList", items }),
      );
      return;
    }
    if (url.pathname === `${base}/routes`) {
      const items = state.route === undefined ? [] : [state.route];
      send(200, JSON.stringify({ apiVersion: "serving.knative.dev/v1", kind: "RouteList", items }));
      return;
    }
    const route = /^.*\/routes\/([^/]+)$/.exec(url.pathname);
    if (url.pathname.startsWith(base) && route !== null) {
      if (state.route?.metadata.name === route[1]) send(200, JSON.stringify(state.route));
      else send(404, status(404, `routes.serving.knative.dev "${route[1]}" not found`));
      return;
    }
    send(404, status(404, "the server could not find the requested resource"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: stand-in",
    // client-node speaks plain HTTP only when told not to verify TLS.
    `    cluster: {server: "${url}", insecure-skip-tls-verify: true}`,
    "users:",
    "  - name: stand-in",
    "    user: {token: stand-in-token}",
    "contexts:",
    "  - name: stand-in",
    "    context: {cluster: stand-in, user: stand-in}",
    "current-context: stand-in",
    "",
  ].join("\n");
  return Object.assign(state, {
    url,
    kubeconfig,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as StandInCluster;
}

/** A Revision of `app` as the pipeline makes it and the tester marks it. */
export function revision(
  app: string,
  namespace: string,
  name: string,
  options: {
    readonly commit?: string;
    readonly createdAt: string;
    readonly ready?: boolean;
    readonly smokeTest?: "passed" | "failed" | "error";
    readonly result?: Record<string, unknown>;
  },
): KnativeRevision {
  return {
    metadata: {
      name,
      creationTimestamp: options.createdAt,
      labels: {
        "serving.knative.dev/configuration": app,
        ...(options.smokeTest !== undefined
          ? { "canary-release.dev/smoke-test": options.smokeTest }
          : {}),
      },
      annotations: {
        ...(options.commit !== undefined ? { "canary-release.dev/commit": options.commit } : {}),
        ...(options.result !== undefined
          ? { "canary-release.dev/smoke-test-result": JSON.stringify(options.result) }
          : {}),
      },
      namespace,
    },
    status: {
      conditions: [
        options.ready === false
          ? {
              type: "Ready",
              status: "False",
              reason: "ContainerMissing",
              message: "image not found",
            }
          : { type: "Ready", status: "True" },
      ],
    },
  };
}

/**
 * The Route `app` as Knative serves `traffic` once it has caught up: Ready for the spec's
 * generation, the `latestRevision` target resolved to `latest` (when given).
 */
export function servedRoute(
  app: string,
  traffic: readonly TrafficTarget[],
  latest?: string,
): KnativeRoute {
  return {
    metadata: { name: app, generation: 1 },
    spec: { traffic: [...traffic] },
    status: {
      observedGeneration: 1,
      conditions: [{ type: "Ready", status: "True" }],
      traffic: traffic.map((target) =>
        target.latestRevision === true && latest !== undefined
          ? { ...target, revisionName: latest }
          : target,
      ),
    },
  };
}
