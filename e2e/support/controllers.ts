// The controllers a real cluster has and the local control plane lacks, played just far enough
// for what the Kubernetes provider waits for:
// - Tekton Triggers makes a Service `el-<listener>` (port 8080) for each EventListener, and the
//   endpoints controller its Endpoints; Pulumi waits for an Ingress until the Endpoints of
//   every backend exist.
// - An ingress controller writes the Ingress's load-balancer address into its status; Pulumi
//   waits for it.
// - The garbage collector finishes a foreground deletion (Pulumi's default propagation policy):
//   it deletes the object's dependents, then removes the `foregroundDeletion` finalizer. Without
//   it a deleted object would wait for ever; the stack's objects have no dependents here.
// The loop polls every 300 ms and stops when told, or by itself after `maxSeconds`.
import { Kube, KubeObject } from "./kube";

export interface ControllerPlayer {
  /** What it did, in order ("Service hello/el-hello", "Ingress status hello/…"). */
  readonly actions: string[];
  stop(): Promise<void>;
}

const INGRESS_ADDRESS = "127.0.0.1";

/** The collections whose objects the stack deletes (tag Services, on a promote or destroy). */
const COLLECTED = [
  "/api/v1/services",
  "/api/v1/secrets",
  "/api/v1/configmaps",
  "/api/v1/serviceaccounts",
  "/apis/rbac.authorization.k8s.io/v1/roles",
  "/apis/rbac.authorization.k8s.io/v1/rolebindings",
  "/apis/networking.k8s.io/v1/ingresses",
  "/apis/serving.knative.dev/v1/routes",
];

export function playControllers(kube: Kube, maxSeconds = 900): ControllerPlayer {
  const actions: string[] = [];
  let running = true;
  const deadline = Date.now() + maxSeconds * 1000;

  /** Creates a core object unless it exists already. */
  const ensure = async (
    ns: string,
    plural: string,
    name: string,
    object: Record<string, unknown>,
  ): Promise<void> => {
    const base = `/api/v1/namespaces/${ns}/${plural}`;
    if ((await kube.request("GET", `${base}/${name}`)).status !== 404) return;
    await kube.ok("POST", base, object);
    actions.push(`${String(object.kind)} ${ns}/${name}`);
  };

  const once = async (): Promise<void> => {
    const listeners = (await kube.list(
      "/apis/triggers.tekton.dev/v1beta1/eventlisteners",
    )) as KubeObject[];
    for (const listener of listeners) {
      const ns = listener.metadata.namespace ?? "default";
      const name = `el-${listener.metadata.name}`;
      const labels = { eventlistener: listener.metadata.name };
      const metadata = { name, namespace: ns, labels };
      const port = { name: "http-listener", port: 8080 };
      await ensure(ns, "services", name, {
        apiVersion: "v1",
        kind: "Service",
        metadata,
        spec: { selector: labels, ports: [port] },
      });
      await ensure(ns, "endpoints", name, {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata,
        subsets: [{ addresses: [{ ip: "10.0.0.200" }], ports: [port] }],
      });
    }
    const ingresses = (await kube.list("/apis/networking.k8s.io/v1/ingresses")) as KubeObject[];
    for (const ingress of ingresses) {
      const status = ingress.status as { loadBalancer?: { ingress?: unknown[] } } | undefined;
      if ((status?.loadBalancer?.ingress ?? []).length > 0) continue;
      const ns = ingress.metadata.namespace ?? "default";
      await kube.ok(
        "PATCH",
        `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses/${ingress.metadata.name}/status`,
        { status: { loadBalancer: { ingress: [{ ip: INGRESS_ADDRESS }] } } },
        "application/merge-patch+json",
      );
      actions.push(`Ingress status ${ns}/${ingress.metadata.name}`);
    }
  };

  const collect = async (): Promise<void> => {
    for (const collection of COLLECTED) {
      for (const object of (await kube.list(collection)) as KubeObject[]) {
        const meta = object.metadata as { deletionTimestamp?: string; finalizers?: string[] };
        if (meta.deletionTimestamp === undefined) continue;
        if (!(meta.finalizers ?? []).includes("foregroundDeletion")) continue;
        const ns = object.metadata.namespace;
        const [prefix, plural] = [
          collection.slice(0, collection.lastIndexOf("/")),
          collection.slice(collection.lastIndexOf("/") + 1),
        ];
        const at = `${prefix}${ns ? `/namespaces/${ns}` : ""}/${plural}/${object.metadata.name}`;
        await kube.ok(
          "PATCH",
          at,
          {
            metadata: {
              finalizers: (meta.finalizers ?? []).filter((f) => f !== "foregroundDeletion"),
            },
          },
          "application/merge-patch+json",
        );
        actions.push(`finished deleting ${ns ?? ""}/${object.metadata.name} (${plural})`);
      }
    }
  };

  const loop = (async () => {
    while (running && Date.now() < deadline) {
      try {
        await once();
        await collect();
      } catch (error) {
        actions.push(`error: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  })();

  return {
    actions,
    async stop() {
      running = false;
      await loop;
    },
  };
}
