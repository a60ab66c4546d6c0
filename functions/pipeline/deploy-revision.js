#!/usr/bin/env node
// Tekton Task deploy-revision: points the Knative Configuration <app> at this commit's image, as
// the bring-your-own revision <app>-<short sha>, then waits until that Revision is Ready.
//
// The pipeline owns revisions, so this step writes the Configuration's template and nothing else
// (Pulumi owns the Route). It talks to the Kubernetes API directly, with the pod's service
// account, and needs only: configurations get/create/patch, revisions get, pipelineruns get.
//
// Rules it keeps:
// - Idempotent: when Revision <app>-<short sha> already exists (a redelivered webhook, a rerun,
//   a rollback), the Configuration is pointed at it with that Revision's own image, never the
//   rebuild's (a rebuild may give another digest, and Knative rejects a known revision name with
//   a different template); when the Configuration already templates it, nothing is written.
// - Ordered by push: deploys follow the order the pushes were made in, not commit dates (a
//   commit dated in the future would otherwise freeze every later deploy). The order key is this
//   run's PipelineRun, read from the API: its creationTimestamp, then its name for runs created
//   in the same second (a deterministic tie-break). The key of the run that last pointed the
//   Configuration is kept on it (annotation DEPLOY_ORDER_ANNOTATION); a run whose key is older
//   never re-points it, and says so. A force-push back to an earlier commit is a newer run, so it
//   deploys; so does a rerun or a redelivery of an old push, which is the newest request made.
//   The commit timestamp is recorded on the revision for information only.
// - Concurrent runs: each write carries the resourceVersion it decided on, so a run that lost a
//   race gets 409 Conflict, reads again and decides again.
//
// Inputs, all from the environment (the Task maps its params to env):
//   APP, NAMESPACE, REVISION (full SHA), SHORT_SHA, REPO_URL, COMMIT_TIMESTAMP (ISO 8601),
//   PIPELINE_RUN (the name of this run's PipelineRun: the deploy order),
//   IMAGE_REPOSITORY, IMAGE_DIGEST (sha256:...), SERVICE_ACCOUNT_NAME,
//   RESULT_PATH (optional: where the revision name is written, the Task result),
//   TIMEOUT_SECONDS (default 600), POLL_INTERVAL_MS (default 2000),
//   KUBERNETES_API_URL (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT;
//   http:// is accepted for tests), KUBERNETES_TOKEN_FILE, KUBERNETES_CA_FILE (defaults: the
//   service account's files; the token is read again for every request, as it rotates).
//
// Node built-ins only: the step runs this file as `node pipeline/deploy-revision.js` from the
// ConfigMap that ships it with functions/shared/ (components/shared/inClusterCode.ts), in a stock Node
// image. components/build/buildPipelineManifests.ts requires it too, for buildConfiguration.
"use strict";

const fs = require("fs");
const {
  check,
  COMMIT_SHA,
  DNS1123_LABEL,
  InputError,
  isObject,
  isString,
  objectAt,
  sleep,
} = require("../shared/checks");
const { REVISION_ANNOTATIONS, servingPath } = require("../shared/knative");
const {
  MERGE_PATCH,
  apiError,
  describeCondition,
  inClusterApiUrl,
  kubernetesClient,
  kubernetesSettings,
  readyCondition,
} = require("../shared/kubernetes");

/** Recorded in managedFields, so `kubectl get -o yaml --show-managed-fields` shows who wrote. */
const FIELD_MANAGER = "canary-release-pipeline";
const USER_AGENT = "canary-release-pipeline";
const MAX_APPLY_ATTEMPTS = 5;
/** On the Configuration: the deploy order key of the run that last pointed it (deployOrderKey). */
const DEPLOY_ORDER_ANNOTATION = "canary-release.dev/deploy-order";
const TEKTON_API = "/apis/tekton.dev/v1";

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const IMAGE_BY_DIGEST = /^[^\s@]+@sha256:[0-9a-f]{64}$/;
// RFC 3339, the form GitHub uses for head_commit.timestamp; an offset is required so that two
// timestamps always compare as instants.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Normalizes a commit timestamp to UTC (`2024-05-01T08:00:00.000Z`): annotations then compare as
 * instants whatever offset GitHub reported.
 */
function normalizeTimestamp(field, value) {
  check(
    isString(value) && TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value)),
    `${field} must be an ISO 8601 timestamp with an offset, like 2024-05-01T10:00:00+02:00, ` +
      `got ${JSON.stringify(value)}`,
  );
  return new Date(value).toISOString();
}

/**
 * The deploy order key of a PipelineRun: `<creationTimestamp, UTC> <name>`. Runs compare by
 * creation time, then (created in the same second, the API's precision) by name, so that every
 * run decides the same way. Throws naming what is missing.
 */
function deployOrderKey(pipelineRun) {
  const metadata = objectAt(pipelineRun, "metadata");
  const { name, creationTimestamp } = metadata;
  check(
    isString(name) && DNS1123_SUBDOMAIN.test(name),
    `the PipelineRun has no valid metadata.name, got ${JSON.stringify(name)}`,
  );
  const at = normalizeTimestamp(
    `PipelineRun ${name} metadata.creationTimestamp`,
    creationTimestamp,
  );
  return `${at} ${name}`;
}

/** The parts of a key made by deployOrderKey, or undefined when `key` is not one. */
function parseDeployOrder(key) {
  if (!isString(key)) return undefined;
  const [at, name, ...rest] = key.split(" ");
  const time = Date.parse(at);
  if (rest.length > 0 || !isString(name) || !TIMESTAMP.test(at) || Number.isNaN(time)) {
    return undefined;
  }
  return { time, name };
}

/** < 0 when key `a` comes before `b`, 0 when they are the same run, > 0 after. */
function compareDeployOrder(a, b) {
  const x = parseDeployOrder(a);
  const y = parseDeployOrder(b);
  if (x === undefined || y === undefined) throw new Error(`not deploy order keys: ${a}, ${b}`);
  if (x.time !== y.time) return x.time - y.time;
  return x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
}

/**
 * The Knative Configuration the deploy step applies. The one definition of it: the TypeScript
 * configurationManifest (components/build/buildPipelineManifests.ts) calls this function.
 *
 * input: {app, namespace?, revisionName, image (repo@sha256:digest), commit, repositoryUrl,
 *         commitTimestamp, serviceAccountName, deployOrder? (deployOrderKey)}
 */
function buildConfiguration(input) {
  const { app, namespace, revisionName, image, commit, repositoryUrl, serviceAccountName } = input;
  check(
    isString(app) && app.length <= 63 && DNS1035_LABEL.test(app),
    `app must be a DNS-1035 label (a-z, 0-9, '-', starting with a letter, at most 63 ` +
      `characters), got ${JSON.stringify(app)}`,
  );
  check(
    namespace === undefined ||
      (isString(namespace) && namespace.length <= 63 && DNS1123_LABEL.test(namespace)),
    `namespace must be a DNS-1123 label, got ${JSON.stringify(namespace)}`,
  );
  check(
    isString(revisionName) &&
      revisionName.startsWith(`${app}-`) &&
      revisionName.length <= 63 &&
      DNS1123_LABEL.test(revisionName),
    // Knative rejects a bring-your-own revision name that does not start with "<app>-".
    `revisionName must be "${app}-<suffix>", a DNS-1123 label of at most 63 characters, ` +
      `got ${JSON.stringify(revisionName)}`,
  );
  check(
    isString(image) && IMAGE_BY_DIGEST.test(image),
    `image must be pinned by digest (<repository>@sha256:<64 hex digits>), got ${JSON.stringify(image)}`,
  );
  check(
    isString(commit) && COMMIT_SHA.test(commit),
    `commit must be a full 40-character lowercase hex SHA, got ${JSON.stringify(commit)}`,
  );
  check(
    isString(repositoryUrl) && !/\s/.test(repositoryUrl),
    `repositoryUrl must be the repository's clone URL, got ${JSON.stringify(repositoryUrl)}`,
  );
  const commitTimestamp = normalizeTimestamp("commitTimestamp", input.commitTimestamp);
  check(
    isString(serviceAccountName) &&
      serviceAccountName.length <= 253 &&
      DNS1123_SUBDOMAIN.test(serviceAccountName),
    `serviceAccountName must be a DNS-1123 subdomain, got ${JSON.stringify(serviceAccountName)}`,
  );

  const labels = { "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "canary-release" };
  const metadata = { name: app };
  if (namespace !== undefined) metadata.namespace = namespace;
  metadata.labels = labels;
  if (input.deployOrder !== undefined) {
    check(
      parseDeployOrder(input.deployOrder) !== undefined,
      `deployOrder must be "<RFC 3339 time> <PipelineRun name>", got ${JSON.stringify(input.deployOrder)}`,
    );
    metadata.annotations = { [DEPLOY_ORDER_ANNOTATION]: input.deployOrder };
  }
  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Configuration",
    metadata,
    spec: {
      template: {
        metadata: {
          name: revisionName,
          labels: { ...labels },
          annotations: {
            [REVISION_ANNOTATIONS.commit]: commit,
            [REVISION_ANNOTATIONS.repository]: repositoryUrl,
            [REVISION_ANNOTATIONS.commitTimestamp]: commitTimestamp,
          },
        },
        spec: {
          serviceAccountName,
          containers: [{ image }],
        },
      },
    },
  };
}

function positiveNumber(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  check(
    Number.isFinite(value) && value > 0,
    `${name} must be a positive number, got ${JSON.stringify(raw)}`,
  );
  return value;
}

/** Everything the step needs, read and checked from the environment. Throws InputError. */
function readDeployConfig(env) {
  const required = (name) => {
    const value = env[name];
    check(isString(value), `${name} is not set`);
    return value.trim();
  };
  const app = required("APP");
  const namespace = required("NAMESPACE");
  const commit = required("REVISION");
  check(
    COMMIT_SHA.test(commit),
    `REVISION must be a full 40-character lowercase hex SHA, got ${JSON.stringify(commit)}`,
  );
  const shortSha = required("SHORT_SHA");
  check(
    shortSha === commit.slice(0, 7),
    `SHORT_SHA must be the first 7 characters of REVISION (${commit.slice(0, 7)}), ` +
      `got ${JSON.stringify(shortSha)}`,
  );
  const digest = required("IMAGE_DIGEST");
  check(
    DIGEST.test(digest),
    `IMAGE_DIGEST must be sha256:<64 hex digits>, got ${JSON.stringify(digest)}`,
  );
  const repository = required("IMAGE_REPOSITORY");
  const pipelineRun = required("PIPELINE_RUN");
  check(
    pipelineRun.length <= 253 && DNS1123_SUBDOMAIN.test(pipelineRun),
    `PIPELINE_RUN must be the name of this run's PipelineRun (a DNS-1123 subdomain), ` +
      `got ${JSON.stringify(pipelineRun)}`,
  );
  const configurationInput = {
    app,
    namespace,
    revisionName: `${app}-${shortSha}`,
    image: `${repository}@${digest}`,
    commit,
    repositoryUrl: required("REPO_URL"),
    commitTimestamp: required("COMMIT_TIMESTAMP"),
    serviceAccountName: required("SERVICE_ACCOUNT_NAME"),
  };
  const manifest = buildConfiguration(configurationInput);
  return {
    manifest,
    configurationInput,
    pipelineRun,
    app,
    namespace,
    commit,
    revisionName: manifest.spec.template.metadata.name,
    commitTimestamp:
      manifest.spec.template.metadata.annotations[REVISION_ANNOTATIONS.commitTimestamp],
    resultPath: isString(env.RESULT_PATH) ? env.RESULT_PATH : undefined,
    timeoutMs: positiveNumber(env, "TIMEOUT_SECONDS", 600) * 1000,
    pollIntervalMs: positiveNumber(env, "POLL_INTERVAL_MS", 2000),
    kubernetes: kubernetesSettings(env, inClusterApiUrl(env)),
    requestTimeoutMs: positiveNumber(env, "REQUEST_TIMEOUT_MS", 30000),
  };
}

/**
 * Why a 200 answer's body is not the object asked for, or undefined when it is a JSON object.
 * The client keeps a body that does not parse as text: a proxy's page, or one cut at its size cap.
 */
function notAnObject(body) {
  if (typeof body === "string") return `the answer is not JSON (${body.length} characters)`;
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return `the answer is not a JSON object (${body === null ? "null" : typeof body})`;
  }
  return undefined;
}

function templateOf(configuration) {
  const template = (configuration.spec && configuration.spec.template) || {};
  const metadata = template.metadata || {};
  return { name: metadata.name, annotations: metadata.annotations || {} };
}

/**
 * Applies the Configuration unless a rule says not to. Returns {action, revisionName}, where
 * revisionName is the Revision to report on: this commit's, or (action "older") the newer one
 * the Configuration already carries.
 */
async function applyConfiguration(request, config, log) {
  const { manifest, app, namespace, revisionName, deployOrder } = config;
  const collection = servingPath(namespace, "configurations");
  const path = `${collection}/${app}`;
  const query = `?fieldManager=${FIELD_MANAGER}`;

  for (let attempt = 1; attempt <= MAX_APPLY_ATTEMPTS; attempt++) {
    const current = await request("GET", path);
    if (current.status === 404) {
      const created = await request("POST", `${collection}${query}`, manifest, "application/json");
      if (created.status === 200 || created.status === 201) {
        log(`created Configuration ${app} with revision ${revisionName}`);
        return { action: "created", revisionName };
      }
      if (created.status === 409) continue; // another run created it first: decide again
      throw new Error(apiError(`creating Configuration ${namespace}/${app}`, created));
    }
    if (current.status !== 200)
      throw new Error(apiError(`reading Configuration ${namespace}/${app}`, current));
    // The write below is conditioned on the resourceVersion read here; without one it would
    // overwrite whatever the Configuration holds. So an answer that is not a Configuration with
    // a resourceVersion is an error, never a reason to write unconditioned.
    const resourceVersion = objectAt(current.body, "metadata").resourceVersion;
    const unreadable =
      notAnObject(current.body) ??
      (isString(resourceVersion) ? undefined : "the answer has no metadata.resourceVersion");
    if (unreadable !== undefined) {
      throw new Error(
        `reading Configuration ${namespace}/${app}: HTTP 200 but ${unreadable}: ` +
          `not writing without the resourceVersion precondition`,
      );
    }

    const deployed = templateOf(current.body);
    if (deployed.name === revisionName) {
      log(`Configuration ${app} already templates revision ${revisionName}: not re-applying it`);
      return { action: "unchanged", revisionName };
    }
    // A Configuration without a (readable) key predates push ordering: this run re-points it.
    const deployedOrder = objectAt(current.body, "metadata", "annotations")[
      DEPLOY_ORDER_ANNOTATION
    ];
    if (
      parseDeployOrder(deployedOrder) !== undefined &&
      compareDeployOrder(deployedOrder, deployOrder) > 0
    ) {
      log(
        `this run (${deployOrder}) was created before the run (${deployedOrder}) that pointed ` +
          `Configuration ${app} at revision ${deployed.name}: a newer push is deployed, not ` +
          `re-pointing the Configuration to this one`,
      );
      return { action: "older", revisionName: isString(deployed.name) ? deployed.name : "" };
    }
    const patch = {
      metadata: {
        // A precondition: the patch fails with 409 if the Configuration changed since the read.
        resourceVersion,
        labels: manifest.metadata.labels,
        annotations: manifest.metadata.annotations,
      },
      spec: { template: manifest.spec.template },
    };
    const patched = await request("PATCH", `${path}${query}`, patch, MERGE_PATCH);
    if (patched.status === 200) {
      log(
        `Configuration ${app} now templates revision ${revisionName}` +
          (deployed.name ? ` (was ${deployed.name})` : ""),
      );
      return { action: "patched", revisionName };
    }
    if (patched.status === 409) continue; // changed under us: read again and decide again
    throw new Error(apiError(`patching Configuration ${namespace}/${app}`, patched));
  }
  throw new Error(
    `Configuration ${namespace}/${app} kept changing under this run ` +
      `(${MAX_APPLY_ATTEMPTS} conflicts in a row): giving up; rerun the pipeline`,
  );
}

/** Polls the Revision until Ready=True (resolves) or Ready=False / the deadline (rejects). */
async function waitForRevision(request, config, revisionName, deadline, log) {
  const path = servingPath(config.namespace, "revisions", revisionName);
  let last = "not created yet";
  for (;;) {
    let res;
    try {
      res = await request("GET", path);
    } catch (error) {
      // A blip of the API server is no reason to fail a build: retry until the deadline.
      last = `API error: ${error.message}`;
    }
    if (res && res.status === 200) {
      const ready = readyCondition(res.body);
      if (ready && ready.status === "True") {
        log(`Revision ${revisionName} is Ready`);
        return;
      }
      if (ready && ready.status === "False") {
        throw new Error(
          `Revision ${revisionName} failed: ${ready.reason || "no reason"}: ` +
            `${ready.message || "no message"}`,
        );
      }
      last = describeCondition(ready);
    } else if (res && res.status !== 404) {
      last = apiError(`reading Revision ${revisionName}`, res);
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new Error(
        `Revision ${revisionName} is not Ready after ${config.timeoutMs / 1000} s ` +
          `(last seen: ${last})`,
      );
    }
    await sleep(Math.min(config.pollIntervalMs, remaining));
  }
}

/** The whole step. Resolves to the name of the Revision reported on; rejects on failure. */
/** This run's deploy order key, from its PipelineRun as the API server holds it. */
async function readDeployOrder(request, config) {
  const { namespace, pipelineRun } = config;
  const what = `reading PipelineRun ${namespace}/${pipelineRun} (PIPELINE_RUN), this run's deploy order`;
  const res = await request(
    "GET",
    `${TEKTON_API}/namespaces/${namespace}/pipelineruns/${pipelineRun}`,
  );
  if (res.status !== 200) throw new Error(apiError(what, res));
  const unreadable = notAnObject(res.body);
  if (unreadable !== undefined) throw new Error(`${what}: HTTP 200 but ${unreadable}`);
  return deployOrderKey(res.body);
}

/**
 * The whole step. Resolves to the name of the Revision reported on; rejects on failure.
 * config.deployOrder, when given, is used instead of reading the PipelineRun (tests build ties).
 */
async function deploy(request, config, log) {
  const deadline = Date.now() + config.timeoutMs;
  const { namespace, revisionName, commit } = config;
  const deployOrder = config.deployOrder ?? (await readDeployOrder(request, config));
  const existing = await request("GET", servingPath(namespace, "revisions", revisionName));
  if (existing.status === 200) {
    const unreadable = notAnObject(existing.body);
    if (unreadable !== undefined) {
      throw new Error(`reading Revision ${namespace}/${revisionName}: HTTP 200 but ${unreadable}`);
    }
    const metadata = objectAt(existing.body, "metadata");
    const builtFrom = (metadata.annotations || {})[REVISION_ANNOTATIONS.commit];
    if (builtFrom !== commit) {
      throw new Error(
        `Revision ${revisionName} already exists but was built from commit ` +
          `${builtFrom === undefined ? "(no commit annotation)" : builtFrom}, not ${commit}: ` +
          `two commits share the prefix ${revisionName.slice(-7)}; delete that Revision or ` +
          `push another commit`,
      );
    }
    // Point the Configuration at the Revision as it is: its image, not this run's rebuild.
    const containers = objectAt(existing.body, "spec").containers;
    const container = Array.isArray(containers) ? containers[0] : undefined;
    const image = isObject(container) ? container.image : undefined;
    check(
      isString(image) && IMAGE_BY_DIGEST.test(image),
      `Revision ${revisionName} has no image pinned by digest (spec.containers[0].image is ` +
        `${JSON.stringify(image)}): cannot point the Configuration at it again`,
    );
    log(
      `Revision ${revisionName} already exists for commit ${commit} (a redelivered webhook, a ` +
        `rerun or a rollback): pointing the Configuration at it with its own image ${image}`,
    );
    const manifest = buildConfiguration({ ...config.configurationInput, image, deployOrder });
    const applied = await applyConfiguration(request, { ...config, manifest, deployOrder }, log);
    if (applied.action === "older") return applied.revisionName;
    await waitForRevision(request, config, applied.revisionName, deadline, log);
    return applied.revisionName;
  }
  if (existing.status !== 404) {
    throw new Error(apiError(`reading Revision ${namespace}/${revisionName}`, existing));
  }
  const manifest = buildConfiguration({ ...config.configurationInput, deployOrder });
  const applied = await applyConfiguration(request, { ...config, manifest, deployOrder }, log);
  if (applied.action === "older") return applied.revisionName;
  await waitForRevision(request, config, applied.revisionName, deadline, log);
  return applied.revisionName;
}

async function main(env) {
  const log = (message) => console.log(`deploy-revision: ${message}`);
  let config;
  try {
    config = readDeployConfig(env);
  } catch (error) {
    console.error(`deploy-revision: ${error.message}`);
    return 2;
  }
  try {
    const request = kubernetesClient(config.kubernetes, {
      requestTimeoutMs: config.requestTimeoutMs,
      userAgent: USER_AGENT,
    });
    const revisionName = await deploy(request, config, log);
    if (config.resultPath !== undefined) fs.writeFileSync(config.resultPath, revisionName);
    return 0;
  } catch (error) {
    console.error(`deploy-revision: ${error.message}`);
    return 1;
  }
}

module.exports = {
  REVISION_ANNOTATIONS,
  FIELD_MANAGER,
  DEPLOY_ORDER_ANNOTATION,
  InputError,
  buildConfiguration,
  deployOrderKey,
  compareDeployOrder,
  readDeployConfig,
  deploy,
};

if (require.main === module) {
  main(process.env).then((code) => {
    process.exitCode = code;
  });
}
