// Knative's parts that the local control plane lacks, played against the real API server just
// far enough for the stack's in-cluster code:
// - the ApiServerSource adapter: a list and watch of the app's Revisions, with the source's own
//   ServiceAccount token, each change posted as a binary-mode CloudEvent carrying the object as
//   the API server sent it, `copies` times to every sink (duplicates, as retries and several
//   replicas produce);
// - the Route controller, for the tester's smoke Routes: a Ready condition and a loopback URL of
//   a real target in the Route's status, and the routingState label Knative's labeler writes on
//   the Revision the Route sends traffic to (a second writer of the Revision during a test);
// - the Configuration controller, for the pipeline's deploy step: the Revision named by the
//   template (bring-your-own name), Ready, and the Configuration's status.
// Every loop is a watch that stops when told, or by itself after `maxSeconds`.
import * as crypto from "crypto";
import * as http from "http";
import type { ControlPlane } from "../../toolchain/controlPlane";
import { inform, Kube, KubeObject } from "./kube";
import { writeRevisionStatus } from "./objects";

const SERVING = "/apis/serving.knative.dev/v1";
const MERGE_PATCH = "application/merge-patch+json";

const EVENT_TYPES: Readonly<Record<string, string>> = {
  ADDED: "dev.knative.apiserver.resource.add",
  MODIFIED: "dev.knative.apiserver.resource.update",
  DELETED: "dev.knative.apiserver.resource.delete",
};

/** A loop that stops when told or by itself; `stop` resolves once its work is done. */
export interface Player {
  /** What it did or met, in order. */
  readonly actions: string[];
  /** Resolves once it has listed and is watching: what happens after, it sees. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export interface SourceFigures {
  /** Watch events turned into CloudEvents. */
  readonly changes: number;
  /** HTTP requests posted (changes × sinks × copies). */
  readonly posted: number;
  /** How the sinks answered: "<status> <action>" → count. */
  readonly answers: Record<string, number>;
}

/**
 * The ApiServerSource adapter in Resource mode for the Revisions of `configuration`: a list,
 * then a watch from the list's resourceVersion, as its informer does; the listed Revisions are
 * sent as `add` events. Each change goes to every sink `copies` times, at once, and the next
 * change waits until the sinks have answered them all (an adapter sends in order).
 */
export function playRevisionSource(options: {
  readonly kube: Kube;
  readonly plane: ControlPlane;
  readonly namespace: string;
  readonly configuration: string;
  readonly sinks: readonly string[];
  readonly copies: number;
  readonly maxSeconds?: number;
}): Player & { figures(): SourceFigures } {
  const { kube, plane, namespace, configuration, sinks, copies } = options;
  const actions: string[] = [];
  const answers: Record<string, number> = {};
  let changes = 0;
  let posted = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const collection = `${SERVING}/namespaces/${namespace}/revisions`;
  const selector = `labelSelector=${encodeURIComponent(`serving.knative.dev/configuration=${configuration}`)}`;

  const send = async (type: string, revision: KubeObject): Promise<void> => {
    changes++;
    const body = JSON.stringify(revision);
    const headers = {
      "Content-Type": "application/json",
      "Content-Length": String(Buffer.byteLength(body)),
      "ce-specversion": "1.0",
      "ce-id": crypto.randomUUID(),
      "ce-source": plane.server,
      "ce-type": type,
      "ce-subject": `${collection}/${revision.metadata.name}`,
    };
    const requests: Promise<void>[] = [];
    for (const sink of sinks) {
      for (let copy = 0; copy < copies; copy++) {
        posted++;
        requests.push(
          post(sink, headers, body, agent).then(
            (answer) => {
              answers[answer] = (answers[answer] ?? 0) + 1;
            },
            (error: Error) => {
              answers[`error ${error.message}`] = (answers[`error ${error.message}`] ?? 0) + 1;
            },
          ),
        );
      }
    }
    await Promise.all(requests);
  };

  const informer = inform(
    kube,
    plane,
    `${collection}?${selector}`,
    async (eventType, revision) => {
      const type = EVENT_TYPES[eventType];
      if (type === undefined) return;
      actions.push(`${eventType} ${revision.metadata.name}`);
      // List items carry no apiVersion and kind; the adapter's events do.
      await send(type, { apiVersion: "serving.knative.dev/v1", kind: "Revision", ...revision });
    },
    { onError: (error) => actions.push(`error: ${error.message}`), maxSeconds: options.maxSeconds },
  );

  return {
    actions,
    ready: informer.ready,
    figures: () => ({ changes, posted, answers: { ...answers } }),
    async stop() {
      await informer.stop();
      agent.destroy();
    },
  };
}

function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  agent: http.Agent,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: "POST", headers, agent, timeout: 30_000 },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => {
          let action = "";
          try {
            action = String((JSON.parse(text) as { action?: string }).action ?? "");
          } catch {
            action = "(no JSON)";
          }
          resolve(`${res.statusCode} ${action}`.trim());
        });
      },
    );
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", reject);
    request.end(body);
  });
}

/**
 * Knative's Route controller for the tester's smoke Routes (label
 * canary-release.dev/smoke-test-route=true): on each new one, the Route's status Ready with
 * `targetFor(revision)` as its URL and address, and the routingState label on the Revision.
 * `created` counts the smoke Routes made for each Revision.
 */
export function playSmokeRoutes(options: {
  readonly kube: Kube;
  readonly plane: ControlPlane;
  readonly namespace: string;
  readonly targetFor: (revision: string) => string;
  readonly maxSeconds?: number;
}): Player & { readonly created: Map<string, number> } {
  const { kube, plane, namespace, targetFor } = options;
  const actions: string[] = [];
  const created = new Map<string, number>();
  const routes = `${SERVING}/namespaces/${namespace}/routes`;
  const selector = `labelSelector=${encodeURIComponent("canary-release.dev/smoke-test-route=true")}`;
  const reconcile = async (route: KubeObject): Promise<void> => {
    const traffic = (route.spec as { traffic?: { revisionName?: string }[] }).traffic ?? [];
    const revision = traffic[0]?.revisionName;
    if (revision === undefined) return;
    created.set(revision, (created.get(revision) ?? 0) + 1);
    const url = targetFor(revision);
    const status = await kube.request(
      "PATCH",
      `${routes}/${route.metadata.name}/status`,
      {
        status: {
          observedGeneration: 1,
          url,
          address: { url },
          traffic: [{ revisionName: revision, percent: 100 }],
          conditions: [
            { type: "AllTrafficAssigned", status: "True" },
            { type: "IngressReady", status: "True" },
            { type: "Ready", status: "True", lastTransitionTime: new Date().toISOString() },
          ],
        },
      },
      MERGE_PATCH,
    );
    actions.push(`Route ${route.metadata.name} status: ${status.status}`);
    const labelled = await kube.request(
      "PATCH",
      `${SERVING}/namespaces/${namespace}/revisions/${revision}`,
      {
        metadata: {
          labels: { "serving.knative.dev/routingState": "active" },
          annotations: { "serving.knative.dev/routingStateModified": new Date().toISOString() },
        },
      },
      MERGE_PATCH,
    );
    actions.push(`Revision ${revision} routingState: ${labelled.status}`);
  };

  const informer = inform(
    kube,
    plane,
    `${routes}?${selector}`,
    (type, route) => (type === "ADDED" ? reconcile(route) : undefined),
    { onError: (error) => actions.push(`error: ${error.message}`), maxSeconds: options.maxSeconds },
  );

  return { actions, ready: informer.ready, created, stop: () => informer.stop() };
}

/**
 * Knative's Configuration controller: for each Configuration in `namespace` whose template names
 * a Revision that does not exist yet, that Revision (the template's name, labels, annotations
 * and spec, owned by the Configuration), its Ready status, and the Configuration's status.
 */
export function playConfigurations(options: {
  readonly kube: Kube;
  readonly plane: ControlPlane;
  readonly namespace: string;
  readonly maxSeconds?: number;
}): Player & { readonly revisions: string[] } {
  const { kube, plane, namespace } = options;
  const actions: string[] = [];
  const revisions: string[] = [];
  const configurations = `${SERVING}/namespaces/${namespace}/configurations`;
  const revisionsPath = `${SERVING}/namespaces/${namespace}/revisions`;
  type Template = {
    metadata?: {
      name?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    };
    spec?: Record<string, unknown>;
  };
  const reconcile = async (configuration: KubeObject): Promise<void> => {
    const template = ((configuration.spec as { template?: Template }).template ?? {}) as Template;
    const name = template.metadata?.name;
    if (name === undefined) return;
    if ((await kube.request("GET", `${revisionsPath}/${name}`)).status !== 404) return;
    const owner = configuration.metadata as { name: string; uid: string };
    await kube.ok("POST", revisionsPath, {
      apiVersion: "serving.knative.dev/v1",
      kind: "Revision",
      metadata: {
        name,
        namespace,
        labels: {
          ...template.metadata?.labels,
          "serving.knative.dev/configuration": owner.name,
        },
        annotations: template.metadata?.annotations ?? {},
        ownerReferences: [
          {
            apiVersion: "serving.knative.dev/v1",
            kind: "Configuration",
            name: owner.name,
            uid: owner.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: template.spec ?? {},
    });
    await writeRevisionStatus(kube, namespace, name);
    const ready = { type: "Ready", status: "True", lastTransitionTime: new Date().toISOString() };
    await kube.ok(
      "PATCH",
      `${configurations}/${owner.name}/status`,
      {
        status: {
          latestCreatedRevisionName: name,
          latestReadyRevisionName: name,
          conditions: [ready],
        },
      },
      MERGE_PATCH,
    );
    revisions.push(name);
    actions.push(`Revision ${name} created and Ready`);
  };

  const informer = inform(
    kube,
    plane,
    configurations,
    (type, configuration) =>
      type === "ADDED" || type === "MODIFIED" ? reconcile(configuration) : undefined,
    { onError: (error) => actions.push(`error: ${error.message}`), maxSeconds: options.maxSeconds },
  );

  return { actions, ready: informer.ready, revisions, stop: () => informer.stop() };
}
