// The Tekton (tekton.dev/v1) Tasks and Pipeline that turn a pushed commit into a Knative
// revision `<app>-<short sha>`: fetch the commit, build and push the image with buildah, apply the
// Configuration and wait for the Revision, and report a GitHub commit status around it all.
//
// Pure module: no Pulumi. The steps' programs live in functions/pipeline/ as plain files, tested
// there for real. The shell steps (fetch-source, build-image) are embedded into the Task `script`
// fields as they are. The Node steps (deploy-revision, commit-status) require functions/shared/,
// so they are shipped with it in one content-addressed ConfigMap (components/shared/inClusterCode.ts),
// mounted read-only into their steps, whose script only runs node on the mounted file. Tekton
// substitutes `$(params.x)` inside scripts, so no script mentions a param: params reach the
// programs only through `env`, which keeps webhook-supplied strings (URLs, SHAs, timestamps) out
// of any code that a shell or Node would parse.
import * as fs from "fs";
import * as path from "path";
import {
  CodeBundle,
  codeBundle,
  CodeConfigMap,
  codeConfigMap,
  codeVolume,
  FUNCTIONS_DIR,
} from "../shared/inClusterCode";
import type { Manifest } from "../shared/manifest";
import {
  GITHUB_TOKEN_SECRET_KEY,
  PIPELINE_PARAMS,
  PIPELINE_RESULTS,
  PIPELINE_WORKSPACES,
  pipelineResourceNames,
} from "../../common/pipelineContract";

export type { Manifest } from "../shared/manifest";

/** Images of the steps. Each must carry a version tag or a digest, never `latest`. */
export interface StepImages {
  /** git and a POSIX sh: fetch-source. */
  readonly git: string;
  /** buildah: build-image. */
  readonly buildah: string;
  /** Node.js >= 20: deploy-revision and commit-status (the scripts use built-ins only). */
  readonly node: string;
}

/**
 * Pinned by version tag. Digests were not added: this project has no registry access to read
 * them, and a digest copied from elsewhere could not be checked. To pin harder, override with
 * `<image>:<tag>@sha256:<digest>` from `crane digest <image>:<tag>` (stack config stepImages).
 * - alpine/git v2.49.1: git 2.49 on Alpine (busybox sh), runs as root.
 * - quay.io/buildah/stable v1.43.1: upstream's Fedora image; sets BUILDAH_ISOLATION=chroot and
 *   ships fuse-overlayfs, unused here (vfs storage).
 * - node 22.18.0-alpine3.22: Node 22 LTS, with the `node` user (uid 1000) the steps run as.
 */
export const DEFAULT_STEP_IMAGES: StepImages = Object.freeze({
  git: "docker.io/alpine/git:v2.49.1",
  buildah: "quay.io/buildah/stable:v1.43.1",
  node: "docker.io/library/node:22.18.0-alpine3.22",
});

export interface BuildPipelineSpec {
  /** Knative Configuration name; revisions are `<app>-<short sha>`. DNS-1035, at most 55. */
  readonly app: string;
  readonly namespace: string;
  /** Where images go, without tag: `<imageRepository>:<full sha>` is pushed. */
  readonly imageRepository: string;
  /**
   * The registry speaks plain HTTP or has a certificate the build cannot verify (a kind local
   * registry): push with TLS verification off. Default false.
   */
  readonly insecureRegistry?: boolean;
  /** Build context, relative to the repository root ("." for the root). */
  readonly contextDir: string;
  /** Dockerfile, relative to contextDir (like `buildah build -f <contextDir>/<dockerfile>`). */
  readonly dockerfile: string;
  readonly images: StepImages;
  /** serviceAccountName of the revisions (the app's own service account). */
  readonly appServiceAccountName: string;
  /**
   * Secret holding a GitHub token under GITHUB_TOKEN_SECRET_KEY. When set, the Pipeline posts
   * commit statuses (pending at the start, the outcome in `finally`); when unset, it has no
   * status tasks at all.
   */
  readonly statusTokenSecretName?: string;
  /** Default https://api.github.com; GitHub Enterprise: https://HOST/api/v3. */
  readonly githubApiUrl?: string;
}

/** Names of the pipeline tasks (each TaskRun is `<PipelineRun>-<pipeline task>`). */
export const PIPELINE_TASK_NAMES = Object.freeze({
  reportPending: "report-pending",
  fetchSource: "fetch-source",
  buildImage: "build-image",
  deployRevision: "deploy-revision",
  reportResult: "report-result",
} as const);

/** The GitHub commit status context the pipeline posts. */
export const STATUS_CONTEXT = "canary-release/build";

/** How long deploy-revision waits for its Revision to become Ready, by default. */
export const DEFAULT_DEPLOY_TIMEOUT_SECONDS = 600;

/** The programs the steps run, beside the project root. */
export const PIPELINE_SCRIPTS_DIR = path.join(FUNCTIONS_DIR, "pipeline");

/** The Node steps' programs, paths under functions/ and under the mount. */
export const PIPELINE_PROGRAMS = Object.freeze({
  deployRevision: "pipeline/deploy-revision.js",
  commitStatus: "pipeline/commit-status.js",
});

/** The Node steps' programs and functions/shared/, which they require, as functions/ lays them out. */
export const PIPELINE_CODE: CodeBundle = codeBundle([
  PIPELINE_PROGRAMS.deployRevision,
  PIPELINE_PROGRAMS.commitStatus,
  "shared",
]);
/** Where PIPELINE_CODE is mounted in the Node steps; CODE_DIR tells the script. */
export const PIPELINE_CODE_MOUNT = "/code";
const CODE_VOLUME = "code";

/** `<app>-pipeline-<first 10 of the code's sha256>`: new code is a new ConfigMap. */
export function pipelineCodeName(app: string): string {
  return `${app}-pipeline-${PIPELINE_CODE.sha256.slice(0, 10)}`;
}

function readScript(file: string): string {
  return fs.readFileSync(path.join(PIPELINE_SCRIPTS_DIR, file), "utf8");
}

/**
 * A Node step's script: node on the mounted program. The mount is named by the CODE_DIR variable
 * rather than written here, so that a test playing the kubelet can mount it elsewhere.
 */
function nodeScript(program: string): string {
  return [
    "#!/bin/sh",
    `# ${program} and the modules it requires are mounted from the ConfigMap of the pipeline's code.`,
    `exec node "$CODE_DIR/${program}"`,
    "",
  ].join("\n");
}

/** The step scripts, as embedded into the Tasks. */
export const PIPELINE_SCRIPTS = Object.freeze({
  fetchSource: readScript("fetch-source.sh"),
  buildImage: readScript("build-image.sh"),
  deployRevision: nodeScript(PIPELINE_PROGRAMS.deployRevision),
  commitStatus: nodeScript(PIPELINE_PROGRAMS.commitStatus),
});

// ---- security contexts -----------------------------------------------------------------------
// Each manifest gets its own copy (structuredClone): a caller that edits one cannot change the
// constants or another manifest.

/**
 * Steps that need no privilege: Pod Security "restricted" (non-root uid 1000, the `node` user of
 * the Node image, no capabilities, no privilege escalation, the runtime's seccomp profile).
 */
const RESTRICTED_SECURITY_CONTEXT = Object.freeze({
  runAsNonRoot: true,
  runAsUser: 1000,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
});

/**
 * git runs as root (the workspace volume is usually root-owned, and a non-root uid could only
 * write it with an fsGroup the PipelineRun would have to set), but with every capability
 * dropped: "baseline" level.
 */
const GIT_SECURITY_CONTEXT = Object.freeze({
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
});

/**
 * buildah, not privileged: root inside the container with the runtime's default capabilities
 * plus SETFCAP, and seccomp and AppArmor unconfined. Why each part:
 *
 * - Root without CAP_SYS_ADMIN: buildah then re-executes itself in a new user namespace mapping
 *   the container's IDs onto themselves (containers/storage pkg/unshare
 *   MaybeReexecUsingUserNamespace: "If we have CAP_SYS_ADMIN, then we don't need to create a
 *   new namespace"), and does its mounts there. RUN instructions use BUILDAH_ISOLATION=chroot
 *   (no OCI runtime in the pod), which bind-mounts /dev, /proc and /sys into the rootfs
 *   (buildah chroot/run_linux.go setupChrootBindMounts): no fresh procfs, so procMount
 *   Unmasked and hostUsers are not needed. Storage is vfs (plain copies, no overlay mounts) on
 *   an emptyDir at /var/lib/containers. No setuid helper (newuidmap) runs, so privilege
 *   escalation stays off.
 * - SETFCAP: since Linux 5.12 writing a uid_map that maps uid 0 needs CAP_SETFCAP. containerd
 *   grants it by default but CRI-O does not (OpenShift's buildah Task adds exactly SETFCAP);
 *   SETUID/SETGID, which writing the maps also needs, are in both runtimes' defaults.
 * - seccomp Unconfined: containerd's RuntimeDefault profile allows unshare(2) and clone(2) with
 *   namespace flags only to containers holding CAP_SYS_ADMIN (containerd
 *   contrib/seccomp/seccomp_default.go), so the user namespace above would be refused. (CRI-O's
 *   default, containers/common pkg/seccomp, allows them; a Localhost profile derived from it is
 *   the way to keep a seccomp filter on containerd.)
 * - AppArmor Unconfined: containerd's default profile has `deny mount,` (contrib/apparmor
 *   template.go), which forbids the bind mounts even inside the user namespace; Ubuntu's
 *   unprivileged-user-namespace restriction is also lifted for unconfined processes.
 *
 * Rejected alternatives: `privileged: true` (the tektoncd/catalog buildah Task) gives every
 * capability and the host's devices; adding CAP_SYS_ADMIN instead of seccomp/AppArmor
 * exceptions gives real mount rights over the container. Rootless buildah (uid 1000 with
 * newuidmap) needs allowPrivilegeEscalation and the same seccomp/AppArmor exceptions, and ties
 * the Task to one image's /etc/subuid.
 *
 * Pod Security level: "privileged". Baseline forbids seccompProfile.type and
 * appArmorProfile.type Unconfined (SETFCAP itself is on baseline's allowed list). So the
 * namespace that runs the PipelineRuns must allow `privileged`; to stay at baseline, install a
 * Localhost seccomp profile and a Localhost AppArmor profile that allow unshare and mount, and
 * reference those instead.
 */
export const BUILDAH_SECURITY_CONTEXT = Object.freeze({
  runAsUser: 0,
  allowPrivilegeEscalation: false,
  capabilities: { add: ["SETFCAP"] },
  seccompProfile: { type: "Unconfined" },
  appArmorProfile: { type: "Unconfined" },
});

// ---- manifests -------------------------------------------------------------------------------

type EnvVar =
  | { name: string; value: string }
  | {
      name: string;
      valueFrom: { secretKeyRef: { name: string; key: string; optional: boolean } };
    };

type ParamSpec = { name: string; type: "string"; description: string; default?: string };

const param = (name: string, description: string, defaultValue?: string): ParamSpec =>
  defaultValue === undefined
    ? { name, type: "string", description }
    : { name, type: "string", description, default: defaultValue };

const env = (name: string, value: string): EnvVar => ({ name, value });
const fromParam = (name: string, paramName: string): EnvVar => env(name, `$(params.${paramName})`);

function labels(spec: BuildPipelineSpec): Record<string, string> {
  return {
    "app.kubernetes.io/name": spec.app,
    "app.kubernetes.io/part-of": "canary-release",
    "app.kubernetes.io/component": "build-pipeline",
  };
}

function metadata(spec: BuildPipelineSpec, name: string): Record<string, unknown> {
  return { name, namespace: spec.namespace, labels: labels(spec) };
}

function task(spec: BuildPipelineSpec, name: string, taskSpec: Record<string, unknown>): Manifest {
  return {
    apiVersion: "tekton.dev/v1",
    kind: "Task",
    metadata: metadata(spec, name),
    spec: taskSpec,
  };
}

const P = PIPELINE_PARAMS;
const W = PIPELINE_WORKSPACES;

/** Task params that the Pipeline does not take from the trigger but sets from the spec. */
export const TASK_PARAMS = Object.freeze({
  imageRepository: "image-repository",
  tlsVerify: "tls-verify",
  contextDir: "context-dir",
  dockerfile: "dockerfile",
  app: "app",
  imageDigest: "image-digest",
  serviceAccountName: "service-account-name",
  pipelineRun: "pipeline-run",
  timeoutSeconds: "timeout-seconds",
  state: "state",
  description: "description",
} as const);
const T = TASK_PARAMS;

function fetchSourceTask(spec: BuildPipelineSpec): Manifest {
  return task(spec, pipelineResourceNames(spec.app).tasks.fetchSource, {
    description: "Fetches exactly one commit of the repository into the source workspace.",
    params: [
      param(P.repoUrl, "Clone URL of the repository."),
      param(P.revision, "Full 40-character SHA of the commit to check out."),
    ],
    workspaces: [{ name: W.source, description: "Receives the checked-out commit." }],
    steps: [
      {
        name: "fetch",
        image: spec.images.git,
        env: [
          fromParam("REPO_URL", P.repoUrl),
          fromParam("REVISION", P.revision),
          env("SOURCE_DIR", `$(workspaces.${W.source}.path)`),
          // git refuses every other transport (ext::, file://, ssh) for this fetch.
          env("GIT_ALLOW_PROTOCOL", "https"),
        ],
        securityContext: structuredClone(GIT_SECURITY_CONTEXT),
        script: PIPELINE_SCRIPTS.fetchSource,
      },
    ],
  });
}

const CONTAINER_STORAGE_VOLUME = "container-storage";

function buildImageTask(spec: BuildPipelineSpec): Manifest {
  return task(spec, pipelineResourceNames(spec.app).tasks.buildImage, {
    description:
      "Builds the source with buildah and pushes <image-repository>:<revision>; " +
      "the pushed digest is the image-digest result.",
    params: [
      param(T.imageRepository, "Image repository, without tag: pushes <repository>:<revision>."),
      param(P.revision, "Full commit SHA: the image tag."),
      param(T.contextDir, "Build context, relative to the repository root.", "."),
      param(T.dockerfile, "Dockerfile, relative to the build context.", "Dockerfile"),
      param(
        T.tlsVerify,
        "Verify the registry's TLS certificate when pushing: true or false.",
        "true",
      ),
    ],
    workspaces: [
      { name: W.source, description: "The checked-out commit.", readOnly: true },
      {
        name: W.dockerConfig,
        description:
          "Registry credentials: a docker config JSON as config.json (a " +
          "kubernetes.io/dockerconfigjson Secret with items .dockerconfigjson -> config.json; " +
          "a bare .dockerconfigjson key works too). Unbound: anonymous push.",
        optional: true,
        readOnly: true,
      },
    ],
    results: [
      {
        name: PIPELINE_RESULTS.imageDigest,
        type: "string",
        description: "Digest (sha256:...) of the pushed image.",
      },
    ],
    steps: [
      {
        name: "build-and-push",
        image: spec.images.buildah,
        env: [
          fromParam("IMAGE_REPOSITORY", T.imageRepository),
          fromParam("REVISION", P.revision),
          fromParam("CONTEXT_DIR", T.contextDir),
          fromParam("DOCKERFILE", T.dockerfile),
          fromParam("TLS_VERIFY", T.tlsVerify),
          env("SOURCE_DIR", `$(workspaces.${W.source}.path)`),
          env("DOCKERCONFIG_BOUND", `$(workspaces.${W.dockerConfig}.bound)`),
          env("DOCKERCONFIG_PATH", `$(workspaces.${W.dockerConfig}.path)`),
          env("DIGEST_FILE", `$(results.${PIPELINE_RESULTS.imageDigest}.path)`),
          env("STORAGE_DRIVER", "vfs"),
          env("BUILDAH_ISOLATION", "chroot"),
        ],
        volumeMounts: [{ name: CONTAINER_STORAGE_VOLUME, mountPath: "/var/lib/containers" }],
        securityContext: structuredClone(BUILDAH_SECURITY_CONTEXT),
        script: PIPELINE_SCRIPTS.buildImage,
      },
    ],
    volumes: [{ name: CONTAINER_STORAGE_VOLUME, emptyDir: {} }],
  });
}

/** The ConfigMap of the Node steps' code (pipelineCodeName), in the pipeline's namespace. */
export function pipelineCodeManifest(spec: BuildPipelineSpec): CodeConfigMap {
  return codeConfigMap(pipelineCodeName(spec.app), spec.namespace, PIPELINE_CODE);
}

/** What a Node step adds to its Task: the code volume, its mount, and CODE_DIR naming it. */
function nodeStepCode(spec: BuildPipelineSpec): {
  readonly volume: Record<string, unknown>;
  readonly mount: Record<string, unknown>;
  readonly env: EnvVar;
} {
  return {
    volume: codeVolume(CODE_VOLUME, pipelineCodeName(spec.app), PIPELINE_CODE),
    mount: { name: CODE_VOLUME, mountPath: PIPELINE_CODE_MOUNT, readOnly: true },
    env: env("CODE_DIR", PIPELINE_CODE_MOUNT),
  };
}

function deployRevisionTask(spec: BuildPipelineSpec): Manifest {
  const code = nodeStepCode(spec);
  return task(spec, pipelineResourceNames(spec.app).tasks.deployRevision, {
    description:
      "Points the Knative Configuration <app> at the image as revision <app>-<short-sha> and " +
      "waits until the Revision is Ready. Idempotent; deploys in push order (the PipelineRuns' " +
      "creation), never re-pointing to an earlier run's commit.",
    params: [
      param(T.app, "Name of the Knative Configuration."),
      param(P.revision, "Full commit SHA."),
      param(P.shortSha, "First 7 characters of the SHA: the revision is <app>-<short-sha>."),
      param(P.repoUrl, "Clone URL, recorded on the revision."),
      param(P.commitTimestamp, "Commit timestamp (ISO 8601), recorded on the revision."),
      param(T.pipelineRun, "Name of this run's PipelineRun: its creation time orders the deploys."),
      param(T.imageRepository, "Image repository, without tag."),
      param(T.imageDigest, "Digest of the image to run (sha256:...)."),
      param(T.serviceAccountName, "serviceAccountName of the revision."),
      param(
        T.timeoutSeconds,
        "How long to wait for the Revision to become Ready.",
        String(DEFAULT_DEPLOY_TIMEOUT_SECONDS),
      ),
    ],
    results: [
      {
        name: PIPELINE_RESULTS.revisionName,
        type: "string",
        description:
          "The Revision reported on: this commit's, or the one a newer push already " + "deployed.",
      },
    ],
    steps: [
      {
        name: "deploy",
        image: spec.images.node,
        env: [
          fromParam("APP", T.app),
          env("NAMESPACE", "$(context.taskRun.namespace)"),
          fromParam("REVISION", P.revision),
          fromParam("SHORT_SHA", P.shortSha),
          fromParam("REPO_URL", P.repoUrl),
          fromParam("COMMIT_TIMESTAMP", P.commitTimestamp),
          fromParam("PIPELINE_RUN", T.pipelineRun),
          fromParam("IMAGE_REPOSITORY", T.imageRepository),
          fromParam("IMAGE_DIGEST", T.imageDigest),
          fromParam("SERVICE_ACCOUNT_NAME", T.serviceAccountName),
          fromParam("TIMEOUT_SECONDS", T.timeoutSeconds),
          env("RESULT_PATH", `$(results.${PIPELINE_RESULTS.revisionName}.path)`),
          code.env,
        ],
        volumeMounts: [code.mount],
        securityContext: structuredClone(RESTRICTED_SECURITY_CONTEXT),
        script: PIPELINE_SCRIPTS.deployRevision,
      },
    ],
    volumes: [code.volume],
  });
}

function commitStatusTask(spec: BuildPipelineSpec): Manifest {
  const code = nodeStepCode(spec);
  const token: EnvVar[] =
    spec.statusTokenSecretName === undefined
      ? []
      : [
          {
            name: "GITHUB_TOKEN",
            // optional: a missing Secret means "no statuses", not a stuck pod.
            valueFrom: {
              secretKeyRef: {
                name: spec.statusTokenSecretName,
                key: GITHUB_TOKEN_SECRET_KEY,
                optional: true,
              },
            },
          },
        ];
  return task(spec, pipelineResourceNames(spec.app).tasks.commitStatus, {
    description: `Posts the GitHub commit status ${STATUS_CONTEXT}; never fails the run.`,
    params: [
      param(P.repoFullName, "<owner>/<repository>."),
      param(P.revision, "Full commit SHA."),
      param(
        T.state,
        "pending, success, failure, error, or a Tekton aggregate status " +
          "(Succeeded, Completed, Failed, None).",
      ),
      param(T.description, "Text shown with the status; empty for a default per state.", ""),
    ],
    steps: [
      {
        name: "post",
        image: spec.images.node,
        env: [
          ...token,
          env("GITHUB_API_URL", spec.githubApiUrl ?? "https://api.github.com"),
          env("STATUS_CONTEXT", STATUS_CONTEXT),
          fromParam("REPO_FULL_NAME", P.repoFullName),
          fromParam("REVISION", P.revision),
          fromParam("STATE", T.state),
          fromParam("DESCRIPTION", T.description),
          code.env,
        ],
        volumeMounts: [code.mount],
        securityContext: structuredClone(RESTRICTED_SECURITY_CONTEXT),
        script: PIPELINE_SCRIPTS.commitStatus,
      },
    ],
    volumes: [code.volume],
  });
}

/** The four Tasks: `<app>-fetch-source`, `-build-image`, `-deploy`, `-commit-status`. */
export function taskManifests(spec: BuildPipelineSpec): Manifest[] {
  return [
    fetchSourceTask(spec),
    buildImageTask(spec),
    deployRevisionTask(spec),
    commitStatusTask(spec),
  ];
}

type PipelineParam = (typeof PIPELINE_PARAMS)[keyof typeof PIPELINE_PARAMS];

const PARAM_DESCRIPTIONS: Readonly<Record<PipelineParam, string>> = Object.freeze({
  [P.repoUrl]: "Clone URL of the repository (body.repository.clone_url).",
  [P.repoFullName]: "<owner>/<repository> (body.repository.full_name), for commit statuses.",
  [P.revision]: "Full 40-character SHA of the pushed commit (body.after).",
  [P.shortSha]: "First 7 characters of the SHA: the revision is named <app>-<short-sha>.",
  [P.commitTimestamp]:
    "Commit timestamp, ISO 8601 (body.head_commit.timestamp), recorded on the revision.",
});

const ref = (name: string): string => `$(params.${name})`;
const result = (taskName: string, resultName: string): string =>
  `$(tasks.${taskName}.results.${resultName})`;

function statusTask(
  spec: BuildPipelineSpec,
  name: string,
  state: string,
  description: string,
): Record<string, unknown> {
  return {
    name,
    taskRef: { kind: "Task", name: pipelineResourceNames(spec.app).tasks.commitStatus },
    params: [
      { name: P.repoFullName, value: ref(P.repoFullName) },
      { name: P.revision, value: ref(P.revision) },
      { name: T.state, value: state },
      { name: T.description, value: description },
    ],
  };
}

/** The Pipeline `<app>-build-deploy`: fetch -> build -> deploy, with commit statuses around them. */
export function pipelineManifest(spec: BuildPipelineSpec): Manifest {
  const N = PIPELINE_TASK_NAMES;
  const names = pipelineResourceNames(spec.app);
  const reportsStatus = spec.statusTokenSecretName !== undefined;
  const tasks: Record<string, unknown>[] = [
    // Runs beside the fetch: a slow GitHub must not delay the build.
    ...(reportsStatus ? [statusTask(spec, N.reportPending, "pending", "")] : []),
    {
      name: N.fetchSource,
      taskRef: { kind: "Task", name: names.tasks.fetchSource },
      params: [
        { name: P.repoUrl, value: ref(P.repoUrl) },
        { name: P.revision, value: ref(P.revision) },
      ],
      workspaces: [{ name: W.source, workspace: W.source }],
    },
    {
      name: N.buildImage,
      runAfter: [N.fetchSource],
      taskRef: { kind: "Task", name: names.tasks.buildImage },
      params: [
        { name: T.imageRepository, value: spec.imageRepository },
        { name: P.revision, value: ref(P.revision) },
        { name: T.contextDir, value: spec.contextDir },
        { name: T.dockerfile, value: spec.dockerfile },
        { name: T.tlsVerify, value: String(!(spec.insecureRegistry ?? false)) },
      ],
      workspaces: [
        { name: W.source, workspace: W.source },
        { name: W.dockerConfig, workspace: W.dockerConfig },
      ],
    },
    {
      name: N.deployRevision,
      runAfter: [N.buildImage],
      taskRef: { kind: "Task", name: names.tasks.deployRevision },
      params: [
        { name: T.app, value: spec.app },
        { name: P.revision, value: ref(P.revision) },
        { name: P.shortSha, value: ref(P.shortSha) },
        { name: P.repoUrl, value: ref(P.repoUrl) },
        { name: P.commitTimestamp, value: ref(P.commitTimestamp) },
        { name: T.imageRepository, value: spec.imageRepository },
        { name: T.imageDigest, value: result(N.buildImage, PIPELINE_RESULTS.imageDigest) },
        { name: T.serviceAccountName, value: spec.appServiceAccountName },
        // Deploys follow push order: the deploy step reads this PipelineRun's creation time.
        { name: T.pipelineRun, value: "$(context.pipelineRun.name)" },
      ],
    },
  ];
  const pipelineSpec: Record<string, unknown> = {
    description:
      `Builds a pushed commit of ${spec.app} and deploys it as the Knative revision ` +
      `${spec.app}-<short-sha>.`,
    params: Object.values(P).map((name) => param(name, PARAM_DESCRIPTIONS[name])),
    workspaces: [
      { name: W.source, description: "Scratch space for the checked-out commit." },
      {
        name: W.dockerConfig,
        description: "Registry credentials (config.json); unbound for an anonymous registry.",
        optional: true,
      },
    ],
    results: [
      {
        name: PIPELINE_RESULTS.imageDigest,
        type: "string",
        description: "Digest of the pushed image.",
        value: result(N.buildImage, PIPELINE_RESULTS.imageDigest),
      },
      {
        name: PIPELINE_RESULTS.revisionName,
        type: "string",
        description: "The Knative Revision of this commit (or the newer one already deployed).",
        value: result(N.deployRevision, PIPELINE_RESULTS.revisionName),
      },
    ],
    tasks,
  };
  if (reportsStatus) {
    // $(tasks.status): Succeeded, Completed, Failed or None; commit-status maps it to GitHub's.
    pipelineSpec.finally = [statusTask(spec, N.reportResult, "$(tasks.status)", "")];
  }
  return {
    apiVersion: "tekton.dev/v1",
    kind: "Pipeline",
    metadata: metadata(spec, names.pipeline),
    spec: pipelineSpec,
  };
}
