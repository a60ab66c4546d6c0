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
