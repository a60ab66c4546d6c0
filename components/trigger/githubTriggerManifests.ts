// The Tekton Triggers objects that turn a GitHub push into a PipelineRun, as plain manifests
// (no Pulumi here: githubTrigger.ts wraps them in resources, the tests replay real GitHub
// deliveries through them with test/support/triggersEmulator.ts).
//
// One EventListener with one trigger:
//   github interceptor  -> checks the HMAC signature (X-Hub-Signature-256) and the event type
//   cel interceptor     -> lets through only a push of a commit to <owner>/<repository> <branch>,
//                          and adds `extensions.short_sha`
//   TriggerBinding      -> event fields -> params named exactly as the Pipeline's params
//   TriggerTemplate     -> one PipelineRun of the Pipeline with those params
//
// Syntax: Tekton Triggers v0.37 (triggers.tekton.dev/v1beta1), docs/eventlisteners.md and
// docs/interceptors.md; interceptor params are a list of {name, value} (v1beta1 TriggerInterceptor).
import {
  PIPELINE_PARAMS,
  PIPELINE_WORKSPACES,
  REVISION_ANNOTATIONS,
} from "../../common/pipelineContract";
import type { AdmissionGuard } from "../shared/admissionGuard";

export interface GitHubTriggerSpec {
  /** Base name: EventListener `<name>`, binding `<name>-push`, template `<name>-build`. */
  readonly name: string;
  readonly namespace: string;
  /** GitHub owner (user or organisation). */
  readonly owner: string;
  /** Repository name only, without the owner. */
  readonly repository: string;
  /** Branch name, e.g. "main" (not "refs/heads/main"). */
  readonly branch: string;
  /** Secret holding the webhook secret that GitHub signs deliveries with. */
  readonly webhookSecretName: string;
  /** Key of the webhook secret in that Secret. */
  readonly webhookSecretKey: string;
  /** Service account of the EventListener (needs the Triggers roles). */
  readonly serviceAccountName: string;
  /** Service account the PipelineRun's TaskRuns run as (`taskRunTemplate.serviceAccountName`). */
  readonly pipelineRunServiceAccountName: string;
  /** The Pipeline to run: the app's (pipelineResourceNames(app).pipeline). */
  readonly pipelineName: string;
  /**
   * A kubernetes.io/dockerconfigjson Secret (key `.dockerconfigjson`) with the registry
   * credentials, bound to the `dockerconfig` workspace as the file `config.json`. Default: none,
   * the optional workspace is left unbound (anonymous registry, e.g. a kind local registry).
   */
  readonly dockerConfigSecretName?: string;
  /** Size of the per-run source volume (`volumeClaimTemplate`). Default "1Gi". */
  readonly workspaceStorage?: string;
  /** `timeouts.pipeline` of each PipelineRun, a Go duration ("0" = none). Default "30m". */
  readonly pipelineRunTimeout?: string;
}

export const TRIGGERS_API_VERSION = "triggers.tekton.dev/v1beta1";
/** Name of the one trigger of the EventListener (also the `triggers.tekton.dev/trigger` label). */
export const TRIGGER_NAME = "github-push";
/** The CEL overlay key: the binding reads it as `$(extensions.short_sha)`. */
export const SHORT_SHA_EXTENSION = "short_sha";
/** Key of the docker config in a kubernetes.io/dockerconfigjson Secret. */
export const DOCKER_CONFIG_SECRET_KEY = ".dockerconfigjson";
/** File name the build tools read the docker config from, in the `dockerconfig` workspace. */
export const DOCKER_CONFIG_FILE = "config.json";
export const DEFAULT_WORKSPACE_STORAGE = "1Gi";
/**
 * Tekton deletes the claims a PipelineRun's volumeClaimTemplates made when the run completes
 * only if the run carries this annotation set to "true" (pipeline
 * pkg/reconciler/pipelinerun/affinity_assistant.go AutoCleanupPVCAnnotation, coschedule
 * "workspaces", the default); in the other coschedule modes the claims go anyway.
 */
export const AUTO_CLEANUP_PVC_ANNOTATION = "tekton.dev/auto-cleanup-pvc";
export const DEFAULT_PIPELINE_RUN_TIMEOUT = "30m";

export type CelOverlay = { key: string; expression: string };
export type SecretRef = { secretName: string; secretKey: string };
export type InterceptorParam =
  | { name: "secretRef"; value: SecretRef }
  | { name: "eventTypes"; value: string[] }
  | { name: "filter"; value: string }
  | { name: "overlays"; value: CelOverlay[] };
export type TriggerInterceptor = {
  ref: { name: string; kind: "ClusterInterceptor" };
  params: InterceptorParam[];
};
export type EventListenerTrigger = {
  name: string;
  interceptors: TriggerInterceptor[];
  bindings: { ref: string; kind: "TriggerBinding" }[];
  template: { ref: string };
};
export type EventListenerManifest = {
  apiVersion: typeof TRIGGERS_API_VERSION;
  kind: "EventListener";
  metadata: { name: string; namespace: string };
  spec: { serviceAccountName: string; triggers: EventListenerTrigger[] };
};
export type TriggerBindingManifest = {
  apiVersion: typeof TRIGGERS_API_VERSION;
  kind: "TriggerBinding";
  metadata: { name: string; namespace: string };
  spec: { params: { name: string; value: string }[] };
};
export type PipelineRunWorkspace =
  | {
      name: string;
      volumeClaimTemplate: {
        spec: { accessModes: string[]; resources: { requests: { storage: string } } };
      };
    }
  | { name: string; secret: { secretName: string; items: { key: string; path: string }[] } };
export type PipelineRunManifest = {
  apiVersion: "tekton.dev/v1";
  kind: "PipelineRun";
  metadata: {
    generateName: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: {
    pipelineRef: { name: string };
    params: { name: string; value: string }[];
    workspaces: PipelineRunWorkspace[];
    taskRunTemplate: { serviceAccountName: string };
    timeouts: { pipeline: string };
  };
};
export type TriggerTemplateManifest = {
  apiVersion: typeof TRIGGERS_API_VERSION;
  kind: "TriggerTemplate";
  metadata: { name: string; namespace: string };
  spec: {
    params: { name: string; description: string }[];
    resourcetemplates: PipelineRunManifest[];
  };
};

type PipelineParamKey = keyof typeof PIPELINE_PARAMS;

// Where each Pipeline param comes from in a push delivery. Keyed by the contract's keys, so a
// param added to the Pipeline contract is a compile error here until the trigger supplies it.
const PARAM_SOURCES: Readonly<Record<PipelineParamKey, { value: string; description: string }>> = {
  repoUrl: {
    value: "$(body.repository.clone_url)",
    description: "Clone URL of the repository that was pushed to.",
  },
  repoFullName: {
    value: "$(body.repository.full_name)",
    description: "<owner>/<repository> as GitHub spells it, for commit statuses.",
  },
  revision: {
    value: "$(body.after)",
    description: "Full SHA of the commit that was pushed (the new head of the branch).",
  },
  shortSha: {
    value: `$(extensions.${SHORT_SHA_EXTENSION})`,
    description: "First 7 characters of the SHA; the revision is named <app>-<short-sha>.",
  },
  commitTimestamp: {
    value: "$(body.head_commit.timestamp)",
    description: "Timestamp of the head commit (ISO 8601).",
  },
};

const PARAM_KEYS = Object.keys(PIPELINE_PARAMS) as PipelineParamKey[];

/** `$(tt.params.<name>)`: how a TriggerTemplate refers to its param. */
export function templateParamRef(name: string): string {
  return `$(tt.params.${name})`;
}

/**
 * A CEL string literal holding exactly `value`. Everything outside printable ASCII, plus `"` and
 * `\`, is escaped (`\u` with 4 hex digits, `\U` with 8: code points in CEL strings), so the
 * literal means the same to cel-go and to @bufbuild/cel whatever the branch name contains.
 */
export function celStringLiteral(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) as number;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (code >= 0x20 && code < 0x7f) out += char;
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += `\\U${code.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

// What CEL's lowerAscii() does: only A-Z change, so both sides are lowered the same way.
function lowerAscii(value: string): string {
  return value.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * The CEL filter of the trigger: true only for a push of a commit (not a deletion, so
 * `head_commit` is set) to exactly `refs/heads/<branch>` of `<owner>/<repository>`.
 *
 * The repository is compared case-insensitively: GitHub owner and repository names are
 * case-insensitive (and ASCII only), and `full_name` carries GitHub's spelling, which need not be
 * the one in the stack config. The branch is compared exactly: git refs are case-sensitive.
 * Only standard CEL plus `lowerAscii()` of the strings extension, which both Tekton's cel-go
 * (ext.Strings) and @bufbuild/cel provide.
 */
export function celFilter(owner: string, repository: string, branch: string): string {
  return [
    `body.ref == ${celStringLiteral(`refs/heads/${branch}`)}`,
    `body.repository.full_name.lowerAscii() == ${celStringLiteral(lowerAscii(`${owner}/${repository}`))}`,
    "!body.deleted",
    "body.head_commit != null",
  ].join(" && ");
}

/** The CEL overlays: `short_sha` (substring, not Tekton's own truncate(), so both CELs run it). */
export function celOverlays(): CelOverlay[] {
  return [{ key: SHORT_SHA_EXTENSION, expression: "body.after.substring(0, 7)" }];
}

export function eventListenerName(spec: GitHubTriggerSpec): string {
  return spec.name;
}
export function triggerBindingName(spec: GitHubTriggerSpec): string {
  return `${spec.name}-push`;
}
export function triggerTemplateName(spec: GitHubTriggerSpec): string {
  return `${spec.name}-build`;
}

export function eventListenerManifest(spec: GitHubTriggerSpec): EventListenerManifest {
  return {
    apiVersion: TRIGGERS_API_VERSION,
    kind: "EventListener",
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
    },
    spec: {
      serviceAccountName: spec.serviceAccountName,
      triggers: [
        {
          name: TRIGGER_NAME,
          interceptors: [
            {
              ref: { name: "github", kind: "ClusterInterceptor" },
              params: [
                {
                  name: "secretRef",
                  value: {
                    secretName: spec.webhookSecretName,
                    secretKey: spec.webhookSecretKey,
                  },
                },
                { name: "eventTypes", value: ["push"] },
              ],
            },
            {
              ref: { name: "cel", kind: "ClusterInterceptor" },
              params: [
                { name: "filter", value: celFilter(spec.owner, spec.repository, spec.branch) },
                { name: "overlays", value: celOverlays() },
              ],
            },
          ],
          bindings: [{ ref: triggerBindingName(spec), kind: "TriggerBinding" }],
          template: { ref: triggerTemplateName(spec) },
        },
      ],
    },
  };
}

export function triggerBindingManifest(spec: GitHubTriggerSpec): TriggerBindingManifest {
  return {
    apiVersion: TRIGGERS_API_VERSION,
    kind: "TriggerBinding",
    metadata: {
      name: triggerBindingName({ ...spec, name: spec.name }),
      namespace: spec.namespace,
    },
    spec: {
      params: PARAM_KEYS.map((key) => ({
        name: PIPELINE_PARAMS[key],
        value: PARAM_SOURCES[key].value,
      })),
    },
  };
}

// Kubernetes resource.Quantity, the forms a storage request is written in.
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/;
// Go time.ParseDuration, which Tekton uses for timeouts; "0" disables the timeout.
const GO_DURATION = /^(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+)$/;

export function pipelineRunTemplate(spec: GitHubTriggerSpec): PipelineRunManifest {
  const storage = spec.workspaceStorage ?? DEFAULT_WORKSPACE_STORAGE;
  if (!QUANTITY.test(storage)) {
    throw new Error(
      `GitHubTriggerSpec.workspaceStorage ${JSON.stringify(storage)} is not a Kubernetes ` +
        `quantity: use e.g. "1Gi" or "500Mi"`,
    );
  }
  const timeout = spec.pipelineRunTimeout ?? DEFAULT_PIPELINE_RUN_TIMEOUT;
  if (!GO_DURATION.test(timeout)) {
    throw new Error(
      `GitHubTriggerSpec.pipelineRunTimeout ${JSON.stringify(timeout)} is not a duration: ` +
        `use e.g. "30m", "1h30m", or "0" for no timeout`,
    );
  }
  // Anonymous registries leave the optional workspace unbound. Binding anything, even an empty
  // emptyDir, makes Tekton set $(workspaces.dockerconfig.bound) to "true" (pipeline
  // pkg/reconciler/taskrun/resources/apply.go), and build-image.sh then looks for credentials.
  const dockerConfig: PipelineRunWorkspace[] =
    spec.dockerConfigSecretName === undefined
      ? []
      : [
          {
            name: PIPELINE_WORKSPACES.dockerConfig,
            secret: {
              secretName: spec.dockerConfigSecretName,
              items: [{ key: DOCKER_CONFIG_SECRET_KEY, path: DOCKER_CONFIG_FILE }],
            },
          },
        ];
  return {
    apiVersion: "tekton.dev/v1",
    kind: "PipelineRun",
    metadata: {
      generateName: `${triggerTemplateName(spec)}-`,
      // The full SHA (40 hex characters) is a valid label value: runs of a commit can be
      // selected with -l; the same key holds the same SHA on the revision it deploys.
      labels: { [REVISION_ANNOTATIONS.commit]: templateParamRef(PIPELINE_PARAMS.revision) },
      // "owner/repo" contains "/", which no label value may: an annotation.
      annotations: {
        [REVISION_ANNOTATIONS.repository]: templateParamRef(PIPELINE_PARAMS.repoFullName),
        // Under Tekton's default coschedule mode ("workspaces"), a claim made from the
        // volumeClaimTemplate below outlives its PipelineRun unless the run asks for cleanup.
        [AUTO_CLEANUP_PVC_ANNOTATION]: "true",
      },
    },
    spec: {
      pipelineRef: { name: spec.pipelineName },
      params: PARAM_KEYS.map((key) => ({
        name: PIPELINE_PARAMS[key],
        value: templateParamRef(PIPELINE_PARAMS[key]),
      })),
      workspaces: [
        {
          name: PIPELINE_WORKSPACES.source,
          volumeClaimTemplate: {
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage } } },
          },
        },
        ...dockerConfig,
      ],
      taskRunTemplate: {
        serviceAccountName: spec.pipelineRunServiceAccountName,
      },
      timeouts: { pipeline: timeout },
    },
  };
}

export function triggerTemplateManifest(spec: GitHubTriggerSpec): TriggerTemplateManifest {
  return {
    apiVersion: TRIGGERS_API_VERSION,
    kind: "TriggerTemplate",
    metadata: {
      name: triggerTemplateName({ ...spec, name: spec.name }),
      namespace: spec.namespace,
    },
    spec: {
      // No defaults: every value comes from the event, and a missing one must stop the run.
      params: PARAM_KEYS.map((key) => ({
        name: PIPELINE_PARAMS[key],
        description: PARAM_SOURCES[key].description,
      })),
      resourcetemplates: [pipelineRunTemplate(spec)],
    },
  };
}

/** The three manifests of the trigger, in the order they are applied. */
export function githubTriggerManifests(spec: GitHubTriggerSpec): {
  eventListener: EventListenerManifest;
  binding: TriggerBindingManifest;
  template: TriggerTemplateManifest;
} {
  return {
    binding: triggerBindingManifest(spec),
    template: triggerTemplateManifest(spec),
    eventListener: eventListenerManifest(spec),
  };
}

/**
 * The guard on the PipelineRuns the EventListener creates (components/shared/admissionGuard.ts).
 * RBAC's `create pipelineruns` would let a compromised sink start any pipeline, inline
 * (`pipelineSpec`) or fetched by a resolver, as any ServiceAccount of the namespace (the
 * tester's, which may patch Revisions, included): it may create only runs of the app's own
 * Pipeline, by name, whose TaskRuns all run as the pipeline's ServiceAccount.
 */
export function listenerRunGuard(spec: GitHubTriggerSpec): AdmissionGuard {
  const account = spec.pipelineRunServiceAccountName;
  const run = "object.spec";
  return {
    name: `canary-release-${spec.namespace}-${spec.name}-eventlistener-runs`,
    namespace: spec.namespace,
    serviceAccount: spec.serviceAccountName,
    apiGroup: "tekton.dev",
    resource: "pipelineruns",
    operations: ["CREATE"],
    expression:
      `has(${run}.pipelineRef) && !has(${run}.pipelineRef.resolver) && ` +
      `${run}.pipelineRef.name == '${spec.pipelineName}' && !has(${run}.pipelineSpec) && ` +
      `has(${run}.taskRunTemplate) && has(${run}.taskRunTemplate.serviceAccountName) && ` +
      `${run}.taskRunTemplate.serviceAccountName == '${account}' && ` +
      `(!has(${run}.taskRunSpecs) || ${run}.taskRunSpecs.all(t, ` +
      `!has(t.serviceAccountName) || t.serviceAccountName == '${account}'))`,
    message:
      `the EventListener may create only PipelineRuns of the Pipeline ${spec.pipelineName}, ` +
      `every TaskRun as ${account}`,
  };
}
