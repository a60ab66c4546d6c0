// The revision tester as manifests: its Knative Service, the ApiServerSource that feeds it
// Revision events, the ConfigMap of its code, and the RBAC both need. Pure: no Pulumi.
import {
  CodeBundle,
  codeBundle,
  CodeConfigMap,
  codeConfigMap,
  codeVolume,
} from "../shared/inClusterCode";
import type { AdmissionGuard } from "../shared/admissionGuard";
import type { Manifest } from "../shared/manifest";
import type { PolicyRule } from "../shared/rbac";

/**
 * The tester's code: functions/revision-tester/ and functions/shared/, which its modules
 * require, laid out as in functions/ (components/shared/inClusterCode.ts).
 */
export const TESTER_CODE: CodeBundle = codeBundle(["revision-tester", "shared"]);
/** Where the code is mounted in the tester's container. */
export const TESTER_CODE_MOUNT = "/app";
/** The tester's entry point, under functions/ and under the mount. */
export const TESTER_ENTRY = "revision-tester/server.js";

/** Where the GitHub token (testerGithubToken) is mounted in the tester's container. */
export const GITHUB_TOKEN_MOUNT = "/var/run/secrets/github";

export interface RevisionTesterSpec {
  /** The Configuration whose revisions are tested. */
  readonly app: string;
  /**
   * The namespace, by name. When the stack creates it, order the component after it with its
   * `dependsOn` option (children wait for their parent, and are deleted before it).
   */
  readonly namespace: string;
  /** Node.js LTS image the tester runs on. */
  readonly image: string;
  /** Path requested on each revision. */
  readonly path: string;
  readonly expectStatus: number;
  /** Regular expression the body must match; unset: any body. */
  readonly expectBody?: string;
  readonly timeoutSeconds: number;
  /** Secret with the commit-status token under `tokenSecretKey`; unset: no commit statuses. */
  readonly tokenSecretName?: string;
  readonly tokenSecretKey: string;
}

export function testerNames(app: string): {
  readonly service: string;
  readonly serviceAccount: string;
  readonly source: string;
  readonly sourceServiceAccount: string;
  readonly configMap: string;
} {
  return {
    service: `${app}-tester`,
    serviceAccount: `${app}-tester`,
    source: `${app}-revisions`,
    sourceServiceAccount: `${app}-revision-source`,
    // Content-addressed: new code is a new ConfigMap, so running revisions keep theirs.
    configMap: `${app}-tester-${TESTER_CODE.sha256.slice(0, 10)}`,
  };
}

/** The label the tester puts on its smoke Routes (functions/revision-tester/smokeTest.js). */
export const SMOKE_ROUTE_LABEL = "canary-release.dev/smoke-test-route";

/**
 * The guard on the tester's Routes (components/shared/admissionGuard.ts). RBAC cannot limit a
 * delete to names made at run time (`<revision>-smoke`), nor a create to a label: the tester's
 * ServiceAccount may delete only Routes that carry SMOKE_ROUTE_LABEL (the production Route and
 * every other app's are out of its reach), and create only such Routes, cluster-local.
 */
export function testerRouteGuard(spec: RevisionTesterSpec): AdmissionGuard {
  // The Route as it is (a delete) or as it would be (a create).
  const route = "(request.operation == 'DELETE' ? oldObject : object)";
  const labels = `${route}.metadata.labels`;
  const visibility = "networking.knative.dev/visibility";
  return {
    name: `canary-release-${spec.namespace}-${spec.app}-tester-routes`,
    namespace: spec.namespace,
    serviceAccount: testerNames(spec.app).serviceAccount,
    apiGroup: "serving.knative.dev",
    resource: "routes",
    operations: ["CREATE", "DELETE"],
    expression:
      `has(${route}.metadata.labels) && '${SMOKE_ROUTE_LABEL}' in ${labels} && ` +
      `${labels}['${SMOKE_ROUTE_LABEL}'] == 'true' && (request.operation == 'DELETE' || ` +
      `('${visibility}' in ${labels} && ${labels}['${visibility}'] == 'cluster-local'))`,
    message:
      `the revision tester may create and delete only its smoke Routes ` +
      `(${SMOKE_ROUTE_LABEL}=true, created cluster-local)`,
  };
}

/**
 * What the tester does through the Kubernetes API: read and patch Revisions (claim, result;
 * list: the periodic re-scan that retries a test whose tester died), and create, read and delete
 * its short-lived `<revision>-smoke` Routes (list: the clean-up of leftovers).
 */
export const TESTER_RULES: readonly PolicyRule[] = Object.freeze([
  { apiGroups: ["serving.knative.dev"], resources: ["revisions"], verbs: ["get", "list", "patch"] },
  {
    apiGroups: ["serving.knative.dev"],
    resources: ["routes"],
    verbs: ["get", "list", "create", "delete"],
  },
]);

/** What the ApiServerSource's adapter needs to watch Revisions. */
export const SOURCE_RULES: readonly PolicyRule[] = Object.freeze([
  { apiGroups: ["serving.knative.dev"], resources: ["revisions"], verbs: ["get", "list", "watch"] },
]);

/**
 * How old a claim must be before another tester presumes its holder dead: longer than the
 * longest test as the tester counts it (config.js longestTest, with its defaults: Route wait
 * 60 s, the test itself, the EXPECT_BODY match of up to 1 s, ten API requests of up to 10 s each
 * including the claim's re-reads after a lost answer, and seven poll intervals of 1 s between
 * those re-reads), with a minute to spare, and never below the tester's own default of 300 s.
 */
export function claimTtlSeconds(testTimeoutSeconds: number): number {
  return Math.max(300, 60 + testTimeoutSeconds + 1 + 10 * 10 + 7 * 1 + 60);
}

/** The tester's Knative Service: cluster-local, always one pod, code from the ConfigMap. */
export function testerServiceManifest(spec: RevisionTesterSpec): Manifest {
  const names = testerNames(spec.app);
  const env: { name: string; value: string }[] = [
    { name: "NAMESPACE", value: spec.namespace },
    { name: "CONFIGURATION", value: spec.app },
    { name: "TEST_PATH", value: spec.path },
    { name: "EXPECT_STATUS", value: String(spec.expectStatus) },
    ...(spec.expectBody !== undefined ? [{ name: "EXPECT_BODY", value: spec.expectBody }] : []),
    { name: "TEST_TIMEOUT_SECONDS", value: String(spec.timeoutSeconds) },
    { name: "CLAIM_TTL_SECONDS", value: String(claimTtlSeconds(spec.timeoutSeconds)) },
    ...(spec.tokenSecretName !== undefined
      ? [{ name: "GITHUB_TOKEN_FILE", value: `${GITHUB_TOKEN_MOUNT}/${spec.tokenSecretKey}` }]
      : []),
  ];
  const volumes: Record<string, unknown>[] = [
    codeVolume("code", names.configMap, TESTER_CODE),
    ...(spec.tokenSecretName !== undefined
      ? [{ name: "github-token", secret: { secretName: spec.tokenSecretName } }]
      : []),
  ];
  const volumeMounts: Record<string, unknown>[] = [
    { name: "code", mountPath: TESTER_CODE_MOUNT, readOnly: true },
    ...(spec.tokenSecretName !== undefined
      ? [{ name: "github-token", mountPath: GITHUB_TOKEN_MOUNT, readOnly: true }]
      : []),
  ];
  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    metadata: {
      name: names.service,
      namespace: spec.namespace,
      labels: {
        // Only the ApiServerSource calls it: no route from outside the cluster.
        "networking.knative.dev/visibility": "cluster-local",
        "app.kubernetes.io/name": names.service,
        "app.kubernetes.io/part-of": "canary-release",
      },
    },
    spec: {
      template: {
        metadata: {
          annotations: {
            // A test runs after the event is acknowledged: scale-to-zero must not cut it off.
            "autoscaling.knative.dev/min-scale": "1",
            // New code rolls a new revision (the ConfigMap name changes with it as well).
            "canary-release.dev/code-sha256": TESTER_CODE.sha256,
          },
        },
        spec: {
          serviceAccountName: names.serviceAccount,
          containers: [
            {
              name: "tester",
              image: spec.image,
              command: ["node", `${TESTER_CODE_MOUNT}/${TESTER_ENTRY}`],
              env,
              volumeMounts,
              readinessProbe: { httpGet: { path: "/healthz" } },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 1000,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
            },
          ],
          volumes,
        },
      },
    },
  };
}

/** The ConfigMap of the tester's code, named after its content (testerNames().configMap). */
export function testerCodeManifest(spec: RevisionTesterSpec): CodeConfigMap {
  return codeConfigMap(testerNames(spec.app).configMap, spec.namespace, TESTER_CODE);
}

/** Revision events of the app's Configuration, whole objects, sent to the tester. */
export function revisionSourceManifest(spec: RevisionTesterSpec): Manifest {
  const names = testerNames(spec.app);
  return {
    apiVersion: "sources.knative.dev/v1",
    kind: "ApiServerSource",
    metadata: { name: names.source, namespace: spec.namespace },
    spec: {
      mode: "Resource",
      serviceAccountName: names.sourceServiceAccount,
      resources: [
        {
          apiVersion: "serving.knative.dev/v1",
          kind: "Revision",
          selector: { matchLabels: { "serving.knative.dev/configuration": spec.app } },
        },
      ],
      sink: { ref: { apiVersion: "serving.knative.dev/v1", kind: "Service", name: names.service } },
    },
  };
}
