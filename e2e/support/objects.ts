// Objects the tests create as a cluster admin, the pipeline or Knative would.
import { Kube } from "./kube";

const DIGEST = `sha256:${"ab".repeat(32)}`;

/** A namespace, as a cluster admin (or a platform team) makes it before the stack runs. */
export async function createNamespace(kube: Kube, name: string): Promise<void> {
  await kube.ok("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
}

export interface RevisionState {
  /** The revision tester's verdict label; undefined: not tested yet. Default "passed". */
  readonly smokeTest?: string | null;
  /** The Ready condition Knative would write. Default "True". */
  readonly ready?: "True" | "False" | "Unknown";
  readonly reason?: string;
  readonly message?: string;
  /** Annotations the pipeline and the tester write (commit, smoke-test result). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * A Revision as the pipeline and Knative would leave it: created through the API, then its
 * status written through the status subresource, with the revision tester's verdict as a label.
 */
export async function createRevision(
  kube: Kube,
  namespace: string,
  name: string,
  app: string,
  state: RevisionState = {},
): Promise<void> {
  const base = `/apis/serving.knative.dev/v1/namespaces/${namespace}/revisions`;
  const smokeTest = state.smokeTest === undefined ? "passed" : state.smokeTest;
  await kube.ok("POST", base, {
    apiVersion: "serving.knative.dev/v1",
    kind: "Revision",
    metadata: {
      name,
      namespace,
      labels: {
        "serving.knative.dev/configuration": app,
        ...(smokeTest !== null ? { "canary-release.dev/smoke-test": smokeTest } : {}),
      },
      ...(state.annotations !== undefined ? { annotations: state.annotations } : {}),
    },
    spec: { containers: [{ image: `registry.example.com/acme/${app}@${DIGEST}` }] },
  });
  await writeRevisionStatus(kube, namespace, name, state);
}

/** The Ready condition Knative writes on a Revision, through the status subresource. */
export async function writeRevisionStatus(
  kube: Kube,
  namespace: string,
  name: string,
  state: Pick<RevisionState, "ready" | "reason" | "message"> = {},
): Promise<void> {
  await kube.ok(
    "PATCH",
    `/apis/serving.knative.dev/v1/namespaces/${namespace}/revisions/${name}/status`,
    {
      status: {
        observedGeneration: 1,
        conditions: [
          {
            type: "Ready",
            status: state.ready ?? "True",
            lastTransitionTime: new Date().toISOString(),
            ...(state.reason !== undefined ? { reason: state.reason } : {}),
            ...(state.message !== undefined ? { message: state.message } : {}),
          },
        ],
      },
    },
    "application/merge-patch+json",
  );
}

/**
 * What Knative's route controller writes once it serves a Route's spec: status.traffic with
 * each `latestRevision` target resolved to `latest`, observedGeneration, Ready and the URL.
 */
export async function writeRouteStatus(
  kube: Kube,
  namespace: string,
  name: string,
  latest: string,
): Promise<void> {
  const path = `/apis/serving.knative.dev/v1/namespaces/${namespace}/routes/${name}`;
  const route = (await kube.ok("GET", path)) as {
    metadata: { generation?: number };
    spec: { traffic: { latestRevision?: boolean }[] };
  };
  await kube.ok(
    "PATCH",
    `${path}/status`,
    {
      status: {
        observedGeneration: route.metadata.generation ?? 1,
        url: `http://${name}.${namespace}.apps.example.com`,
        conditions: [
          { type: "Ready", status: "True", lastTransitionTime: new Date().toISOString() },
        ],
        traffic: route.spec.traffic.map((target) =>
          target.latestRevision === true ? { ...target, revisionName: latest } : target,
        ),
      },
    },
    "application/merge-patch+json",
  );
}
