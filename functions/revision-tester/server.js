#!/usr/bin/env node
// Revision tester: smoke-tests every new Knative Revision once, records `passed` or `failed` on
// it, and reports the result as a GitHub commit status.
//
// An ApiServerSource in Resource mode POSTs a CloudEvent for every Revision add, update and
// delete (type dev.knative.apiserver.resource.{add,update,delete}, subject
// /apis/serving.knative.dev/v1/namespaces/<ns>/revisions/<name>, data: the whole Revision as
// JSON). The event is a hint, never the truth: the tester reads the Revision from the Kubernetes
// API and tests only a revision that the API says is Ready and not yet tested or claimed. A copy
// in an event can only make the tester do less (skip an event that is obviously irrelevant),
// never more.
//
// One test per revision, whatever the number of duplicate events, replicas or restarts:
// 1. claim: a JSON merge patch on the Revision that carries the resourceVersion just read (the
//    API server answers 409 Conflict when anything changed since) and sets the annotation
//    canary-release.dev/smoke-test-claim = {"holder": TESTER_ID, "at": ISO time}. Of two testers
//    that read the same Revision, exactly one claim succeeds; the other stops quietly.
//    In-process, a set of revisions under test drops duplicates before any API request.
// 2. test: a cluster-local Route <revision>-smoke sending 100 % to that revision, a GET of
//    TEST_PATH on its URL once Ready, then the Route is deleted whatever happened.
// 3. record: the label canary-release.dev/smoke-test = passed | failed and the annotation
//    canary-release.dev/smoke-test-result = {status, latencyMs, at, reason, url?}, by a merge
//    patch that also removes the claim (the result supersedes it), written only while the claim
//    on the Revision is still this tester's.
// A claim older than CLAIM_TTL_SECONDS belongs to a tester that died mid-test: the next event or
// resync re-claims it with the same resourceVersion protocol. CLAIM_TTL_SECONDS must exceed the
// longest possible test, so a live test is never re-claimed. Routes left behind by a dead tester
// are deleted at start-up and on every resync (only those whose test is over: the Revision is
// gone, its claim is another one, or the claim expired). To test a revision again, remove the
// label and the result annotation; the update event that follows starts a new test.
//
// Environment:
//   PORT                         port to listen on, 0 = any free port (default 8080); the bound
//                                port is logged as {"msg":"listening","port":N}
//   LISTEN_HOST                  address to bind (default: all interfaces)
//   NAMESPACE                    required: the namespace whose Revisions are tested
//   CONFIGURATION                optional: only Revisions labelled
//                                serving.knative.dev/configuration=<CONFIGURATION>
//   KUBERNETES_API_URL           default https://kubernetes.default.svc (http:// for tests)
//   KUBERNETES_TOKEN_FILE        default /var/run/secrets/kubernetes.io/serviceaccount/token
//   KUBERNETES_CA_FILE           default /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
//                                (not used with an http:// API URL)
//   TEST_PATH                    path requested on the revision (default /)
//   EXPECT_STATUS                HTTP status the revision must answer (default 200)
//   EXPECT_BODY                  optional JavaScript regular expression the body must match
//   TEST_TIMEOUT_SECONDS         limit for the whole test request (default 10)
//   ROUTE_READY_TIMEOUT_SECONDS  limit for the smoke Route to become Ready (default 60)
//   GITHUB_API_URL               default https://api.github.com (GHE: https://HOST/api/v3)
//   GITHUB_TOKEN_FILE            optional: a token allowed to post commit statuses; unset,
//                                missing or empty: no commit status
//   POLL_INTERVAL_MS             Route readiness polling (default 1000)
//   CLAIM_TTL_SECONDS            age after which a claim is presumed dead (default 300); must be
//                                at least ROUTE_READY_TIMEOUT_SECONDS + TEST_TIMEOUT_SECONDS +
//                                6 x REQUEST_TIMEOUT_MS
//   RESYNC_INTERVAL_SECONDS      list Revisions and leftover Routes at start-up and then this
//                                often, to test what no event announced (default 300; 0: never)
//   REQUEST_TIMEOUT_MS           limit for each Kubernetes or GitHub API request (default 10000)
//   MAX_EVENT_BYTES              largest accepted event body (default 1048576)
//   TESTER_ID                    name written in claims (default <hostname>-<6 random hex>)
//   LOG_LEVEL                    debug | info | warn | error (default info)
// Tokens are read from their files for every request (projected tokens rotate) and never logged.
//
// Needs, in NAMESPACE: revisions get, list, patch; routes create, get, list, delete.
//
// Node built-ins only: this file runs as is (`node server.js`) in a stock Node LTS image.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const https = require("https");
const os = require("os");
const { performance } = require("perf_hooks");

/** Same names as REVISION_ANNOTATIONS in components/pipelineContract.ts (a test keeps them equal). */
const REVISION_ANNOTATIONS = Object.freeze({
  commit: "canary-release.dev/commit",
  repository: "canary-release.dev/repository",
  commitTimestamp: "canary-release.dev/commit-timestamp",
});

/** The tester's record on a Revision (the result names match components/revisionGate.ts). */
const SMOKE_TEST_LABEL = "canary-release.dev/smoke-test";
const SMOKE_TEST_RESULT_ANNOTATION = "canary-release.dev/smoke-test-result";
const SMOKE_TEST_CLAIM_ANNOTATION = "canary-release.dev/smoke-test-claim";
/** Marks the tester's own Routes, so start-up clean-up never touches anyone else's. */
const SMOKE_ROUTE_LABEL = "canary-release.dev/smoke-test-route";
const SMOKE_ROUTE_REVISION_LABEL = "canary-release.dev/smoke-test-revision";
const CONFIGURATION_LABEL = "serving.knative.dev/configuration";
const VISIBILITY_LABEL = "networking.knative.dev/visibility";

const EVENT_TYPES = Object.freeze({
  add: "dev.knative.apiserver.resource.add",
  update: "dev.knative.apiserver.resource.update",
  delete: "dev.knative.apiserver.resource.delete",
});
const STATUS_CONTEXT = "canary-release/smoke-test";
const USER_AGENT = "canary-release-revision-tester";
const SERVING_API = "/apis/serving.knative.dev/v1";
const MERGE_PATCH = "application/merge-patch+json";
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_API_RESPONSE_BYTES = 32 * 1024 * 1024;
const MAX_RECORD_ATTEMPTS = 5;
const MAX_LABEL_LENGTH = 63;
const SMOKE_SUFFIX = "-smoke";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const COMMIT_SHA = /^[0-9a-f]{40}$/;
const LOG_LEVELS = Object.freeze({ debug: 10, info: 20, warn: 30, error: 40 });

/** A wrong setting: the message names the variable, the value and what is valid. */
class InputError extends Error {}
/** The Kubernetes API could not be reached or did not answer in time. */
class ApiUnavailable extends Error {}
/** The revision failed its smoke test; the message is the recorded reason. */
class TestFailure extends Error {}

function check(ok, message) {
  if (!ok) throw new InputError(message);
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isString(value) {
  return typeof value === "string" && value.length > 0;
}

function objectAt(value, ...keys) {
  let current = value;
  for (const key of keys) current = isObject(current) ? current[key] : undefined;
  return isObject(current) ? current : {};
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- configuration ---------------------------------------------------------------------------

/** Everything the tester needs, read and checked from the environment. Throws InputError. */
function readConfig(env) {
  const text = (name) => {
    const value = env[name];
    return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  };
  const number = (name, fallback, min, max, integer) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    check(
      Number.isFinite(value) &&
        value >= min &&
        value <= max &&
        (!integer || Number.isInteger(value)),
      `${name} must be ${integer ? "a whole number" : "a number"} from ${min} to ${max}, ` +
        `got ${JSON.stringify(raw)}`,
    );
    return value;
  };
  const url = (name, fallback) => {
    const value = text(name) ?? fallback;
    let protocol = "";
    try {
      protocol = new URL(value).protocol;
    } catch {
      // reported below
    }
    check(
      protocol === "https:" || protocol === "http:",
      `${name} must be an https:// (or, for tests, http://) URL, got ${JSON.stringify(value)}`,
    );
    return value.replace(/\/+$/, "");
  };
  const label = (name, value) => {
    check(
      value.length <= MAX_LABEL_LENGTH && DNS1123_LABEL.test(value),
      `${name} must be a DNS-1123 label (a-z, 0-9, '-', at most 63 characters), ` +
        `got ${JSON.stringify(value)}`,
    );
    return value;
  };

  const namespace = text("NAMESPACE");
  check(namespace !== undefined, "NAMESPACE is not set: set it to the namespace to watch");
  label("NAMESPACE", namespace);
  const configuration = text("CONFIGURATION");
  if (configuration !== undefined) label("CONFIGURATION", configuration);

  const testPath = text("TEST_PATH") ?? "/";
  check(
    /^\/[^\s]*$/.test(testPath),
    `TEST_PATH must be a path starting with "/" and without spaces, got ${JSON.stringify(testPath)}`,
  );
  const expectBodySource = text("EXPECT_BODY");
  let expectBody;
  if (expectBodySource !== undefined) {
    try {
      expectBody = new RegExp(expectBodySource);
    } catch (error) {
      throw new InputError(
        `EXPECT_BODY must be a JavaScript regular expression, got ` +
          `${JSON.stringify(expectBodySource)}: ${error.message}`,
      );
    }
  }

  const logLevel = text("LOG_LEVEL") ?? "info";
  check(
    Object.prototype.hasOwnProperty.call(LOG_LEVELS, logLevel),
    `LOG_LEVEL must be one of ${Object.keys(LOG_LEVELS).join(", ")}, got ${JSON.stringify(logLevel)}`,
  );
  const testerId =
    text("TESTER_ID") ??
    `${text("HOSTNAME") ?? os.hostname()}-${crypto.randomBytes(3).toString("hex")}`;
  check(
    testerId.length <= 128 && /^[\x21-\x7e]+$/.test(testerId),
    `TESTER_ID must be at most 128 printable characters without spaces, got ${JSON.stringify(testerId)}`,
  );

  const config = {
    port: number("PORT", 8080, 0, 65535, true),
    host: text("LISTEN_HOST"),
    namespace,
    configuration,
    kubernetes: {
      url: url("KUBERNETES_API_URL", "https://kubernetes.default.svc"),
      tokenFile: text("KUBERNETES_TOKEN_FILE") ?? `${SERVICE_ACCOUNT_DIR}/token`,
      caFile: text("KUBERNETES_CA_FILE") ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`,
    },
    testPath,
    expectStatus: number("EXPECT_STATUS", 200, 100, 599, true),
    expectBody,
    testTimeoutMs: number("TEST_TIMEOUT_SECONDS", 10, 0.001, 3600, false) * 1000,
    routeReadyTimeoutMs: number("ROUTE_READY_TIMEOUT_SECONDS", 60, 0.001, 3600, false) * 1000,
    github: {
      url: url("GITHUB_API_URL", "https://api.github.com"),
      tokenFile: text("GITHUB_TOKEN_FILE"),
    },
    pollIntervalMs: number("POLL_INTERVAL_MS", 1000, 1, 60000, false),
    claimTtlMs: number("CLAIM_TTL_SECONDS", 300, 1, 86400, false) * 1000,
    resyncIntervalMs: number("RESYNC_INTERVAL_SECONDS", 300, 0, 86400, false) * 1000,
    requestTimeoutMs: number("REQUEST_TIMEOUT_MS", 10000, 1, 600000, false),
    maxEventBytes: number("MAX_EVENT_BYTES", 1024 * 1024, 256, 64 * 1024 * 1024, true),
    testerId,
    logLevel,
  };
  const longestTestMs = longestTest(config);
  check(
    config.claimTtlMs >= longestTestMs,
    `CLAIM_TTL_SECONDS must be at least ROUTE_READY_TIMEOUT_SECONDS + TEST_TIMEOUT_SECONDS + ` +
      `6 x REQUEST_TIMEOUT_MS (${longestTestMs / 1000} s), so that a live test is never ` +
      `re-claimed; got ${config.claimTtlMs / 1000}`,
  );
  return config;
}

/**
 * The longest a test can hold its claim: the Route wait and the request, plus the API requests
 * that can run past those deadlines (the last poll, the Route delete, reading and patching the
 * result, with room for one retry).
 */
function longestTest(config) {
  return config.routeReadyTimeoutMs + config.testTimeoutMs + 6 * config.requestTimeoutMs;
}

// ---- CloudEvents -----------------------------------------------------------------------------

/**
 * A CloudEvent from an HTTP request, binary or structured content mode:
 * {event: {specversion, id, source, type, subject?, data}} or {error: {status, message}}.
 */
function parseCloudEvent(headers, body) {
  const contentType = String(headers["content-type"] ?? "")
    .split(";")[0]
    .trim()
    .toLowerCase();
  const fail = (status, message) => ({ error: { status, message } });
  const parseJson = (what) => {
    try {
      return { value: JSON.parse(body.toString("utf8")) };
    } catch (error) {
      return fail(400, `${what} is not valid JSON: ${error.message}`);
    }
  };

  let attributes;
  let data;
  if (contentType === "application/cloudevents+json") {
    const parsed = parseJson("the structured CloudEvent");
    if (parsed.error) return parsed;
    if (!isObject(parsed.value)) return fail(400, "a structured CloudEvent must be a JSON object");
    attributes = parsed.value;
    data = attributes.data;
    if (data === undefined && typeof attributes.data_base64 === "string") {
      try {
        data = JSON.parse(Buffer.from(attributes.data_base64, "base64").toString("utf8"));
      } catch (error) {
        return fail(400, `data_base64 is not base64-encoded JSON: ${error.message}`);
      }
    }
  } else if (contentType === "application/json") {
    attributes = {};
    for (const name of ["specversion", "id", "source", "type", "subject"]) {
      const value = headers[`ce-${name}`];
      if (typeof value === "string") attributes[name] = value;
    }
    if (body.length === 0) return fail(400, "the event has no data: expected a Revision as JSON");
    const parsed = parseJson("the event data");
    if (parsed.error) return parsed;
    data = parsed.value;
  } else {
    return fail(
      415,
      `Content-Type must be application/json (binary content mode, with ce-* headers) or ` +
        `application/cloudevents+json (structured content mode), got ` +
        `${JSON.stringify(headers["content-type"] ?? "")}`,
    );
  }

  const binary = contentType === "application/json";
  for (const name of ["specversion", "id", "source", "type"]) {
    if (!isString(attributes[name])) {
      return fail(
        400,
        binary
          ? `missing header ce-${name}: a binary-mode CloudEvent needs ce-specversion, ce-id, ` +
              `ce-source and ce-type`
          : `missing attribute "${name}": a CloudEvent needs specversion, id, source and type`,
      );
    }
  }
  if (attributes.specversion !== "1.0") {
    return fail(400, `specversion must be "1.0", got ${JSON.stringify(attributes.specversion)}`);
  }
  const event = {
    specversion: attributes.specversion,
    id: attributes.id,
    source: attributes.source,
    type: attributes.type,
    data,
  };
  if (isString(attributes.subject)) event.subject = attributes.subject;
  return { event };
}

// ---- decisions -------------------------------------------------------------------------------

function readyCondition(resource) {
  const conditions = objectAt(resource, "status").conditions;
  return Array.isArray(conditions)
    ? conditions.find((condition) => isObject(condition) && condition.type === "Ready")
    : undefined;
}

function describeCondition(condition) {
  if (!condition) return "no Ready condition yet";
  return [`Ready=${condition.status}`, condition.reason, condition.message]
    .filter(isString)
    .join(": ");
}

/** The claim annotation's holder and time; `at` is NaN when the value is not a claim. */
function parseClaim(value) {
  try {
    const claim = JSON.parse(value);
    if (isObject(claim) && isString(claim.at)) {
      return { holder: String(claim.holder), at: Date.parse(claim.at) };
    }
  } catch {
    // not JSON: treated as expired below
  }
  return { holder: "unknown", at: NaN };
}

/**
 * Whether a Revision (as the API or an event shows it) is one to test now:
 * {test: true, expiredClaim?} or {ignore: reason}.
 */
function revisionDecision(revision, config, nowMs) {
  const metadata = objectAt(revision, "metadata");
  const labels = objectAt(metadata, "labels");
  const annotations = objectAt(metadata, "annotations");
  if (metadata.namespace !== config.namespace) {
    return { ignore: `the Revision is in namespace ${JSON.stringify(metadata.namespace)}` };
  }
  if (metadata.deletionTimestamp !== undefined) return { ignore: "the Revision is being deleted" };
  if (config.configuration !== undefined && labels[CONFIGURATION_LABEL] !== config.configuration) {
    return {
      ignore:
        `the Revision belongs to configuration ${JSON.stringify(labels[CONFIGURATION_LABEL])}, ` +
        `not ${config.configuration}`,
    };
  }
  if (labels[SMOKE_TEST_LABEL] !== undefined || annotations[SMOKE_TEST_RESULT_ANNOTATION]) {
    return { ignore: `already tested (${SMOKE_TEST_LABEL}=${labels[SMOKE_TEST_LABEL]})` };
  }
  const ready = readyCondition(revision);
  if (!ready || ready.status !== "True") {
    return { ignore: `the Revision is not Ready (${describeCondition(ready)})` };
  }
  const claimValue = annotations[SMOKE_TEST_CLAIM_ANNOTATION];
  if (claimValue !== undefined) {
    const claim = parseClaim(claimValue);
    if (nowMs - claim.at < config.claimTtlMs) {
      return { ignore: `claimed by ${claim.holder} at ${new Date(claim.at).toISOString()}` };
    }
    return { test: true, expiredClaim: String(claimValue) };
  }
  return { test: true };
}

/**
 * What an event asks for: {name} of a Revision to consider, {ignore: reason}, or
 * {invalid: message} for data that claims to be a Revision of ours but cannot be one.
 */
function eventTarget(event, config, nowMs) {
  if (event.type !== EVENT_TYPES.add && event.type !== EVENT_TYPES.update) {
    return { ignore: `event type ${event.type} is not a Revision add or update` };
  }
  const data = event.data;
  if (!isObject(data) || data.apiVersion !== "serving.knative.dev/v1" || data.kind !== "Revision") {
    return { ignore: "the event data is not a serving.knative.dev/v1 Revision" };
  }
  const metadata = objectAt(data, "metadata");
  if (metadata.namespace !== config.namespace) {
    return {
      ignore: `the Revision is in namespace ${JSON.stringify(metadata.namespace)}, not ${config.namespace}`,
    };
  }
  const name = metadata.name;
  if (typeof name !== "string" || name.length > MAX_LABEL_LENGTH || !DNS1123_LABEL.test(name)) {
    return {
      invalid: `data.metadata.name must be a Revision name (a DNS-1123 label), got ${JSON.stringify(name)}`,
    };
  }
  // The copy may be forged or stale; it is only trusted to skip work.
  const decision = revisionDecision(data, config, nowMs);
  if (decision.ignore !== undefined) return { name, ignore: `per the event: ${decision.ignore}` };
  return { name };
}

// ---- manifests and patches -------------------------------------------------------------------

/** `<revision>-smoke`, shortened with a hash when that would not fit in a DNS label. */
function smokeRouteName(revisionName) {
  const name = `${revisionName}${SMOKE_SUFFIX}`;
  if (name.length <= MAX_LABEL_LENGTH) return name;
  const hash = crypto.createHash("sha256").update(revisionName).digest("hex").slice(0, 8);
  const keep = MAX_LABEL_LENGTH - SMOKE_SUFFIX.length - hash.length - 1;
  return `${revisionName.slice(0, keep).replace(/-+$/, "")}-${hash}${SMOKE_SUFFIX}`;
}

function smokeRouteManifest({ namespace, revisionName, revisionUid, claim }) {
  const metadata = {
    name: smokeRouteName(revisionName),
    namespace,
    labels: {
      // Reachable from inside the cluster only: an untested revision never faces the internet.
      [VISIBILITY_LABEL]: "cluster-local",
      [SMOKE_ROUTE_LABEL]: "true",
      [SMOKE_ROUTE_REVISION_LABEL]: revisionName,
      "app.kubernetes.io/part-of": "canary-release",
    },
    // The claim it serves: start-up clean-up tells a live test's Route from a leftover by it.
    annotations: { [SMOKE_TEST_CLAIM_ANNOTATION]: claim },
  };
  if (isString(revisionUid)) {
    // Garbage-collected with its Revision, should every tester be gone for good.
    metadata.ownerReferences = [
      {
        apiVersion: "serving.knative.dev/v1",
        kind: "Revision",
        name: revisionName,
        uid: revisionUid,
      },
    ];
  }
  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Route",
    metadata,
    spec: { traffic: [{ revisionName, percent: 100 }] },
  };
}

/** The claim: fails with 409 Conflict if the Revision changed since `resourceVersion`. */
function claimPatch(resourceVersion, claim) {
  return { metadata: { resourceVersion, annotations: { [SMOKE_TEST_CLAIM_ANNOTATION]: claim } } };
}

/** The record: result label and annotation; the claim is removed (null deletes in a merge patch). */
function resultPatch(resourceVersion, passed, result) {
  return {
    metadata: {
      resourceVersion,
      labels: { [SMOKE_TEST_LABEL]: passed ? "passed" : "failed" },
      annotations: {
        [SMOKE_TEST_RESULT_ANNOTATION]: JSON.stringify(result),
        [SMOKE_TEST_CLAIM_ANNOTATION]: null,
      },
    },
  };
}

/** `{owner, repo}` from a clone URL (https://HOST/OWNER/REPO(.git) or git@HOST:OWNER/REPO.git). */
function githubRepository(cloneUrl) {
  if (!isString(cloneUrl)) return undefined;
  const match =
    /^(?:https?:\/\/[^/\s]+\/|git@[^:\s]+:)([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(
      cloneUrl.trim(),
    );
  return match ? { owner: match[1], repo: match[2] } : undefined;
}

/** The commit status request for a result: {path, body}, or {skip: reason}. */
function commitStatusRequest(annotations, passed, result) {
  const sha = annotations[REVISION_ANNOTATIONS.commit];
  if (!isString(sha) || !COMMIT_SHA.test(sha)) {
    return {
      skip: `the Revision has no full commit SHA in ${REVISION_ANNOTATIONS.commit} (got ${JSON.stringify(sha)})`,
    };
  }
  const repository = githubRepository(annotations[REVISION_ANNOTATIONS.repository]);
  if (repository === undefined) {
    return {
      skip:
        `${REVISION_ANNOTATIONS.repository} is not a clone URL like ` +
        `https://github.com/OWNER/REPO.git (got ${JSON.stringify(annotations[REVISION_ANNOTATIONS.repository])})`,
    };
  }
  const description = `Smoke test ${passed ? "passed" : "failed"}: ${result.reason}`;
  return {
    path:
      `/repos/${encodeURIComponent(repository.owner)}/${encodeURIComponent(repository.repo)}` +
      `/statuses/${sha}`,
    body: {
      state: passed ? "success" : "failure",
      context: STATUS_CONTEXT,
      // GitHub refuses longer descriptions.
      description: description.length <= 140 ? description : `${description.slice(0, 139)}…`,
    },
  };
}

// ---- HTTP client -----------------------------------------------------------------------------

/**
 * One HTTP exchange: resolves to {status, text} (the body cut at maxBytes), rejects on a network
 * error or when the whole exchange takes longer than timeoutMs (error.code "ETIMEDOUT").
 */
function httpRequest(url, options) {
  const { method = "GET", headers = {}, body, timeoutMs, ca, agent } = options;
  const maxBytes = options.maxBytes ?? MAX_RESPONSE_BYTES;
  return new Promise((resolve, reject) => {
    let target;
    try {
      target = new URL(url);
    } catch {
      reject(new Error(`not a URL: ${JSON.stringify(url)}`));
      return;
    }
    const transport = target.protocol === "https:" ? https : http;
    const requestHeaders = { ...headers };
    const payload = body === undefined ? undefined : Buffer.from(body, "utf8");
    if (payload !== undefined) requestHeaders["Content-Length"] = String(payload.length);
    const requestOptions = { method, headers: requestHeaders };
    if (ca !== undefined) requestOptions.ca = ca;
    if (agent !== undefined) requestOptions.agent = agent;

    let settled = false;
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(value);
    };
    const req = transport.request(target, requestOptions, (res) => {
      const chunks = [];
      let size = 0;
      const done = () =>
        finish(undefined, {
          status: res.statusCode,
          text: Buffer.concat(chunks).toString("utf8"),
        });
      res.on("data", (chunk) => {
        if (settled) return; // cut at maxBytes already, or timed out
        chunks.push(chunk.subarray(0, maxBytes - size));
        size += chunk.length;
        if (size >= maxBytes) {
          done();
          req.destroy();
        }
      });
      res.on("end", done);
      res.on("error", (error) => finish(error));
      res.on("aborted", () => finish(new Error("the connection closed before the body ended")));
    });
    const timer = setTimeout(() => {
      const error = new Error(`no complete answer within ${timeoutMs} ms`);
      error.code = "ETIMEDOUT";
      finish(error);
      req.destroy();
    }, timeoutMs);
    req.on("error", (error) => finish(error));
    req.end(payload);
  });
}

function readTokenFile(file, variable) {
  let token;
  try {
    token = fs.readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new ApiUnavailable(`cannot read ${variable} ${file}: ${error.code ?? error.message}`);
  }
  if (token === "") throw new ApiUnavailable(`${variable} ${file} is empty`);
  return token;
}

/** request(method, path, body?, contentType?) -> {status, body}; rejects with ApiUnavailable. */
function kubernetesClient(config, rememberSecret) {
  const base = config.kubernetes.url;
  const secure = base.startsWith("https:");
  return async function request(method, path, body, contentType = "application/json") {
    // Projected service account tokens rotate: read the file for every request.
    const token = readTokenFile(config.kubernetes.tokenFile, "KUBERNETES_TOKEN_FILE");
    rememberSecret(token);
    let ca;
    if (secure) {
      try {
        ca = fs.readFileSync(config.kubernetes.caFile);
      } catch (error) {
        throw new ApiUnavailable(
          `cannot read KUBERNETES_CA_FILE ${config.kubernetes.caFile}: ${error.code ?? error.message}`,
        );
      }
    }
    const headers = {
      Accept: "application/json",
      Authorization: `Bearer ${token}`,
      "User-Agent": USER_AGENT,
    };
    if (body !== undefined) headers["Content-Type"] = contentType;
    let res;
    try {
      res = await httpRequest(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: config.requestTimeoutMs,
        maxBytes: MAX_API_RESPONSE_BYTES,
        ca,
      });
    } catch (error) {
      throw new ApiUnavailable(`${method} ${path}: ${error.message}`);
    }
    let parsed = res.text;
    try {
      parsed = res.text === "" ? undefined : JSON.parse(res.text);
    } catch {
      // Not JSON (a proxy's error page): keep the text for the error message.
    }
    return { status: res.status, body: parsed };
  };
}

/** The message for an unexpected answer, with the API server's own reason and message. */
function apiError(what, res) {
  const body = res.body;
  const detail = isObject(body)
    ? [body.reason, body.message].filter(isString).join(": ")
    : String(body ?? "").slice(0, 300);
  return `${what}: HTTP ${res.status}${detail ? ` ${detail}` : ""}`;
}

// ---- the tester ------------------------------------------------------------------------------

function createLogger(level, secrets) {
  const threshold = LOG_LEVELS[level];
  return function log(lineLevel, msg, fields = {}) {
    if (LOG_LEVELS[lineLevel] < threshold) return;
    let line = JSON.stringify({ time: new Date().toISOString(), level: lineLevel, msg, ...fields });
    // A last line of defence: no message is built from a token, but an API's echo could be.
    for (const secret of secrets) line = line.split(secret).join("[redacted]");
    (lineLevel === "error" ? process.stderr : process.stdout).write(`${line}\n`);
  };
}

class Tester {
  constructor(config, log, secrets) {
    this.config = config;
    this.log = log;
    this.secrets = secrets;
    this.api = kubernetesClient(config, (token) => this.rememberSecret(token));
    /** Revisions this process is reading, claiming or testing: duplicates stop here. */
    this.inFlight = new Set();
    /** Promises of the running tests, awaited on shutdown. */
    this.running = new Set();
    this.resyncing = false;
  }

  rememberSecret(token) {
    if (this.secrets.has(token)) return;
    this.secrets.add(token);
    // Rotated tokens accumulate; the newest few are enough to redact.
    if (this.secrets.size > 16) this.secrets.delete(this.secrets.values().next().value);
  }

  revisionPath(name) {
    return `${SERVING_API}/namespaces/${this.config.namespace}/revisions/${name}`;
  }

  routesPath() {
    return `${SERVING_API}/namespaces/${this.config.namespace}/routes`;
  }

  /** The answer to one CloudEvent: {status, body}. */
  async handleEvent(event) {
    const target = eventTarget(event, this.config, Date.now());
    if (target.invalid !== undefined) {
      this.log("warn", "refused an event", { eventId: event.id, reason: target.invalid });
      return { status: 400, body: { error: target.invalid } };
    }
    if (target.ignore !== undefined) {
      return this.ignored(target.name, target.ignore, event.id);
    }
    return this.consider(target.name, event.id);
  }

  ignored(revision, reason, eventId) {
    this.log("debug", "ignored", { revision, reason, eventId });
    return {
      status: 202,
      body: { action: "ignored", reason, ...(revision !== undefined ? { revision } : {}) },
    };
  }

  /**
   * Reads the Revision, claims it when it is to be tested, and starts the test in the
   * background. Resolves to the answer for the event; API failures answer 502 so that the
   * sender may retry.
   */
  async consider(name, eventId) {
    if (this.inFlight.has(name)) {
      return this.ignored(
        name,
        "a duplicate: this tester is already handling the Revision",
        eventId,
      );
    }
    this.inFlight.add(name);
    let started = false;
    try {
      const read = await this.api("GET", this.revisionPath(name));
      if (read.status === 404) {
        return this.ignored(name, "the Kubernetes API has no such Revision", eventId);
      }
      if (read.status !== 200) {
        const message = apiError(`reading Revision ${this.config.namespace}/${name}`, read);
        this.log("error", "cannot read the Revision", { revision: name, error: message });
        return { status: 502, body: { error: message } };
      }
      const decision = revisionDecision(read.body, this.config, Date.now());
      if (decision.ignore !== undefined) return this.ignored(name, decision.ignore, eventId);
      if (decision.expiredClaim !== undefined) {
        this.log("warn", "re-claiming a Revision whose claim expired: its tester died mid-test", {
          revision: name,
          expiredClaim: decision.expiredClaim,
        });
      }

      const claim = JSON.stringify({ holder: this.config.testerId, at: new Date().toISOString() });
      const resourceVersion = objectAt(read.body, "metadata").resourceVersion;
      const claimed = await this.api(
        "PATCH",
        this.revisionPath(name),
        claimPatch(resourceVersion, claim),
        MERGE_PATCH,
      );
      if (claimed.status === 409) {
        return this.ignored(name, "another tester claimed it first (409 Conflict)", eventId);
      }
      if (claimed.status === 404) {
        return this.ignored(name, "the Revision was deleted before the claim", eventId);
      }
      if (claimed.status !== 200) {
        const message = apiError(`claiming Revision ${this.config.namespace}/${name}`, claimed);
        this.log("error", "cannot claim the Revision", { revision: name, error: message });
        return { status: 502, body: { error: message } };
      }
      started = true;
      this.log("info", "claimed; smoke test starting", { revision: name, eventId });
      const run = this.runTest(name, claim, isObject(claimed.body) ? claimed.body : read.body)
        .catch((error) => {
          this.log("error", "unexpected error in a smoke test", {
            revision: name,
            error: String(error && error.stack ? error.stack : error),
          });
        })
        .finally(() => {
          this.inFlight.delete(name);
          this.running.delete(run);
        });
      this.running.add(run);
      return { status: 202, body: { action: "testing", revision: name } };
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      this.log("error", "the Kubernetes API is unavailable", {
        revision: name,
        error: error.message,
      });
      return { status: 502, body: { error: error.message } };
    } finally {
      if (!started) this.inFlight.delete(name);
    }
  }

  /** Test, record, report. Never rejects for a failure of the revision or of an API. */
  async runTest(name, claim, revision) {
    const { passed, result } = await this.smokeTest(name, claim, revision);
    const recorded = await this.record(name, claim, passed, result);
    // Only the holder of the claim reports, so GitHub gets one status per revision as well.
    if (recorded) await this.postCommitStatus(name, revision, passed, result);
    this.log(passed ? "info" : "warn", "smoke test finished", {
      revision: name,
      outcome: passed ? "passed" : "failed",
      recorded,
      status: result.status,
      latencyMs: result.latencyMs,
      reason: result.reason,
    });
  }

  /** {passed, result}: result is the annotation's {status, latencyMs, at, reason, url?}. */
  async smokeTest(name, claim, revision) {
    const routeName = smokeRouteName(name);
    const deadline = Date.now() + this.config.routeReadyTimeoutMs;
    let uid;
    let outcome;
    try {
      uid = await this.createRoute(routeName, name, claim, revision, deadline);
      const base = await this.waitForRoute(routeName, deadline);
      outcome = await probe(base, this.config);
    } catch (error) {
      const known = error instanceof TestFailure || error instanceof ApiUnavailable;
      if (!known) {
        this.log("error", "unexpected error in a smoke test", {
          revision: name,
          error: String(error && error.stack ? error.stack : error),
        });
      }
      outcome = {
        passed: false,
        status: null,
        latencyMs: null,
        reason: known ? error.message : `tester error: ${error.message}`,
      };
    } finally {
      if (uid !== undefined) await this.deleteRoute(routeName, uid, "the test is over");
    }
    const result = {
      status: outcome.status,
      latencyMs: outcome.latencyMs,
      at: new Date().toISOString(),
      reason: outcome.reason,
    };
    if (outcome.url !== undefined) result.url = outcome.url;
    return { passed: outcome.passed, result };
  }

  /** Creates the smoke Route; resolves to its uid. Throws TestFailure or ApiUnavailable. */
  async createRoute(routeName, revisionName, claim, revision, deadline) {
    const manifest = smokeRouteManifest({
      namespace: this.config.namespace,
      revisionName,
      revisionUid: objectAt(revision, "metadata").uid,
      claim,
    });
    for (;;) {
      const created = await this.api("POST", this.routesPath(), manifest);
      if (created.status === 200 || created.status === 201) {
        this.log("debug", "created the smoke Route", { revision: revisionName, route: routeName });
        return objectAt(created.body, "metadata").uid;
      }
      if (created.status !== 409) {
        throw new TestFailure(apiError(`creating Route ${routeName}`, created));
      }
      // We hold the claim, so a smoke Route of that name is a dead tester's leftover.
      const existing = await this.api("GET", `${this.routesPath()}/${routeName}`);
      if (existing.status === 200) {
        if (objectAt(existing.body, "metadata", "labels")[SMOKE_ROUTE_LABEL] !== "true") {
          throw new TestFailure(
            `Route ${routeName} already exists and is not a smoke-test Route (no label ` +
              `${SMOKE_ROUTE_LABEL}=true): not replacing it`,
          );
        }
        await this.deleteRoute(
          routeName,
          objectAt(existing.body, "metadata").uid,
          "a leftover of an earlier test of this revision",
        );
      }
      if (Date.now() >= deadline) {
        throw new TestFailure(
          `Route ${routeName} could not be created within ` +
            `${this.config.routeReadyTimeoutMs / 1000} s: a Route of that name kept existing`,
        );
      }
      await sleep(this.config.pollIntervalMs);
    }
  }

  /** Resolves to the Route's URL once it is Ready; throws TestFailure at the deadline. */
  async waitForRoute(routeName, deadline) {
    let last = "not read yet";
    for (;;) {
      let res;
      try {
        res = await this.api("GET", `${this.routesPath()}/${routeName}`);
      } catch (error) {
        if (!(error instanceof ApiUnavailable)) throw error;
        last = error.message; // a blip of the API server: retry until the deadline
      }
      if (res !== undefined && res.status === 200) {
        const ready = readyCondition(res.body);
        const status = objectAt(res.body, "status");
        // address.url is the in-cluster address; url is what a cluster-local Route shows too.
        const url = objectAt(status, "address").url ?? status.url;
        if (ready !== undefined && ready.status === "True" && isString(url)) return url;
        last = describeCondition(ready) + (ready && ready.status === "True" ? ", no URL yet" : "");
      } else if (res !== undefined) {
        last = apiError(`reading Route ${routeName}`, res);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new TestFailure(
          `Route ${routeName} was not Ready within ${this.config.routeReadyTimeoutMs / 1000} s ` +
            `(last seen: ${last})`,
        );
      }
      await sleep(Math.min(this.config.pollIntervalMs, remaining));
    }
  }

  /**
   * Deletes a smoke Route, only if it still is the one with `uid` (a tester that re-claimed the
   * revision may have replaced it). Never throws: a Route left behind is cleaned up later.
   */
  async deleteRoute(routeName, uid, why) {
    const body = { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background" };
    if (isString(uid)) body.preconditions = { uid };
    try {
      const res = await this.api("DELETE", `${this.routesPath()}/${routeName}`, body);
      if (res.status === 200 || res.status === 202 || res.status === 404) {
        this.log("debug", "deleted the smoke Route", { route: routeName, why });
      } else if (res.status === 409) {
        this.log("info", "the smoke Route was replaced by another test: left alone", {
          route: routeName,
        });
      } else {
        this.log("error", "cannot delete the smoke Route", {
          route: routeName,
          error: apiError(`deleting Route ${routeName}`, res),
        });
      }
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      this.log("error", "cannot delete the smoke Route", {
        route: routeName,
        error: error.message,
      });
    }
  }

  /**
   * Writes the result on the Revision while the claim there is still ours; resolves to whether
   * it did. Reads first, as Knative itself updates the Revision while its Route exists.
   */
  async record(name, claim, passed, result) {
    for (let attempt = 1; attempt <= MAX_RECORD_ATTEMPTS; attempt++) {
      try {
        const current = await this.api("GET", this.revisionPath(name));
        if (current.status === 404) {
          this.log("warn", "the Revision was deleted during its test: no result recorded", {
            revision: name,
          });
          return false;
        }
        if (current.status === 200) {
          const metadata = objectAt(current.body, "metadata");
          const holder = objectAt(metadata, "annotations")[SMOKE_TEST_CLAIM_ANNOTATION];
          if (holder !== claim) {
            this.log("warn", "the claim was taken over: this tester does not record", {
              revision: name,
              claim: holder ?? null,
            });
            return false;
          }
          const patched = await this.api(
            "PATCH",
            this.revisionPath(name),
            resultPatch(metadata.resourceVersion, passed, result),
            MERGE_PATCH,
          );
          if (patched.status === 200) return true;
          if (patched.status !== 409) {
            this.log("error", "cannot record the result", {
              revision: name,
              error: apiError(`patching Revision ${name}`, patched),
            });
          }
        } else {
          this.log("error", "cannot read the Revision to record the result", {
            revision: name,
            error: apiError(`reading Revision ${name}`, current),
          });
        }
      } catch (error) {
        if (!(error instanceof ApiUnavailable)) throw error;
        this.log("error", "cannot record the result", { revision: name, error: error.message });
      }
      if (attempt < MAX_RECORD_ATTEMPTS) await sleep(this.config.pollIntervalMs);
    }
    this.log(
      "error",
      "gave up recording the result: the claim expires and the revision is re-tested",
      {
        revision: name,
      },
    );
    return false;
  }

  /** A courtesy: every problem is logged, none is fatal. */
  async postCommitStatus(name, revision, passed, result) {
    const tokenFile = this.config.github.tokenFile;
    if (tokenFile === undefined) return;
    const request = commitStatusRequest(
      objectAt(revision, "metadata", "annotations"),
      passed,
      result,
    );
    if (request.skip !== undefined) {
      this.log("info", "no commit status", { revision: name, reason: request.skip });
      return;
    }
    let token;
    try {
      token = readTokenFile(tokenFile, "GITHUB_TOKEN_FILE");
    } catch (error) {
      this.log("warn", "no commit status", { revision: name, reason: error.message });
      return;
    }
    this.rememberSecret(token);
    try {
      const res = await httpRequest(`${this.config.github.url}${request.path}`, {
        method: "POST",
        headers: {
          Accept: "application/vnd.github+json",
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          "User-Agent": USER_AGENT,
          "X-GitHub-Api-Version": "2022-11-28",
        },
        body: JSON.stringify(request.body),
        timeoutMs: this.config.requestTimeoutMs,
      });
      if (res.status >= 200 && res.status < 300) {
        this.log("info", "commit status posted", { revision: name, state: request.body.state });
      } else {
        this.log("warn", "GitHub refused the commit status", {
          revision: name,
          status: res.status,
          body: res.text.slice(0, 300),
        });
      }
    } catch (error) {
      this.log("warn", "could not post the commit status", {
        revision: name,
        error: error.message,
      });
    }
  }

  /**
   * Deletes smoke Routes whose test is over: their Revision is gone, carries another claim (or
   * none), or their claim expired. A live test's Route, maybe another replica's, stays.
   */
  async cleanupRoutes() {
    const selector = encodeURIComponent(`${SMOKE_ROUTE_LABEL}=true`);
    try {
      const list = await this.api("GET", `${this.routesPath()}?labelSelector=${selector}`);
      if (list.status !== 200) {
        this.log("error", "cannot list smoke Routes", { error: apiError("listing Routes", list) });
        return;
      }
      const items = Array.isArray(objectAt(list.body).items) ? list.body.items : [];
      for (const route of items) {
        const metadata = objectAt(route, "metadata");
        if (!isString(metadata.name)) continue;
        const reason = await this.leftoverReason(route);
        if (reason === undefined) {
          this.log("debug", "smoke Route in use by a live test: kept", { route: metadata.name });
          continue;
        }
        this.log("info", "deleting a leftover smoke Route", { route: metadata.name, reason });
        await this.deleteRoute(metadata.name, metadata.uid, reason);
      }
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      this.log("error", "cannot clean up smoke Routes", { error: error.message });
    }
  }

  async leftoverReason(route) {
    const metadata = objectAt(route, "metadata");
    const traffic = objectAt(route, "spec").traffic;
    const revisionName =
      objectAt(metadata, "labels")[SMOKE_ROUTE_REVISION_LABEL] ??
      (Array.isArray(traffic) && isObject(traffic[0]) ? traffic[0].revisionName : undefined);
    if (!isString(revisionName) || !DNS1123_LABEL.test(revisionName)) {
      return "it names no revision";
    }
    const read = await this.api("GET", this.revisionPath(revisionName));
    if (read.status === 404) return `its revision ${revisionName} is gone`;
    if (read.status !== 200) return undefined; // cannot tell: keep it until the next clean-up
    const claim = objectAt(read.body, "metadata", "annotations")[SMOKE_TEST_CLAIM_ANNOTATION];
    if (
      claim === undefined ||
      claim !== objectAt(metadata, "annotations")[SMOKE_TEST_CLAIM_ANNOTATION]
    ) {
      return `the test of ${revisionName} it served is over`;
    }
    if (Date.now() - parseClaim(claim).at >= this.config.claimTtlMs) {
      return `the claim on ${revisionName} expired`;
    }
    return undefined;
  }

  /** Considers every Revision that is Ready and untested (or whose claim expired). */
  async scanRevisions() {
    const selector =
      this.config.configuration === undefined
        ? ""
        : `&labelSelector=${encodeURIComponent(`${CONFIGURATION_LABEL}=${this.config.configuration}`)}`;
    let continueToken;
    try {
      do {
        const page =
          continueToken === undefined ? "" : `&continue=${encodeURIComponent(continueToken)}`;
        const list = await this.api(
          "GET",
          `${SERVING_API}/namespaces/${this.config.namespace}/revisions?limit=100${selector}${page}`,
        );
        if (list.status !== 200) {
          this.log("error", "cannot list Revisions", {
            error: apiError("listing Revisions", list),
          });
          return;
        }
        const items = Array.isArray(objectAt(list.body).items) ? list.body.items : [];
        for (const revision of items) {
          const name = objectAt(revision, "metadata").name;
          if (!isString(name) || !DNS1123_LABEL.test(name)) continue;
          // List items carry no apiVersion/kind: decide on what they do carry.
          if (revisionDecision(revision, this.config, Date.now()).test) {
            await this.consider(name, "resync");
          }
        }
        continueToken = objectAt(list.body, "metadata").continue;
      } while (isString(continueToken));
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      this.log("error", "cannot list Revisions", { error: error.message });
    }
  }

  async resync(withRoutes) {
    if (this.resyncing) return;
    this.resyncing = true;
    try {
      if (withRoutes) await this.cleanupRoutes();
      await this.scanRevisions();
    } finally {
      this.resyncing = false;
    }
  }
}

/**
 * GETs TEST_PATH on the revision's URL: {passed, status, latencyMs, reason, url}. Never throws.
 */
async function probe(baseUrl, config) {
  const url = `${baseUrl.replace(/\/+$/, "")}${config.testPath}`;
  const what = `GET ${config.testPath}`;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await httpRequest(url, {
      headers: { Accept: "*/*", "User-Agent": USER_AGENT },
      timeoutMs: config.testTimeoutMs,
      // A fresh connection, as a first client of the revision would have.
      agent: false,
    });
    const latencyMs = elapsed();
    const answered = `${what} answered HTTP ${res.status} in ${latencyMs} ms`;
    const measured = { status: res.status, latencyMs, url };
    if (res.status !== config.expectStatus) {
      return {
        passed: false,
        ...measured,
        reason: `${answered}, expected HTTP ${config.expectStatus}`,
      };
    }
    if (config.expectBody !== undefined && !config.expectBody.test(res.text)) {
      return {
        passed: false,
        ...measured,
        reason: `${answered} but the body does not match ${config.expectBody}`,
      };
    }
    return { passed: true, ...measured, reason: answered };
  } catch (error) {
    const latencyMs = elapsed();
    const reason =
      error.code === "ETIMEDOUT"
        ? `${what} gave no complete answer within ${config.testTimeoutMs / 1000} s`
        : `${what} failed after ${latencyMs} ms: ${error.message}`;
    return { passed: false, status: null, latencyMs, reason, url };
  }
}

// ---- HTTP server -----------------------------------------------------------------------------

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** The request body, or undefined once it exceeds `max` bytes (the rest is discarded). */
function readBody(req, max) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= max ? Buffer.concat(chunks) : undefined));
    req.on("error", reject);
  });
}

function createServer(tester, config, log) {
  async function handle(req, res) {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/healthz") {
      if (req.method === "GET" || req.method === "HEAD") {
        return sendJson(res, 200, { status: "ok" });
      }
      req.resume();
      return sendJson(res, 405, { error: "use GET /healthz" }, { Allow: "GET, HEAD" });
    }
    if (path !== "/") {
      req.resume();
      return sendJson(res, 404, {
        error: `no such path ${JSON.stringify(path)}: POST CloudEvents to /, or GET /healthz`,
      });
    }
    if (req.method !== "POST") {
      req.resume();
      return sendJson(
        res,
        405,
        { error: `method ${req.method} not allowed: POST CloudEvents to /` },
        { Allow: "POST" },
      );
    }
    const tooLarge = {
      error: `the event is larger than MAX_EVENT_BYTES (${config.maxEventBytes} bytes)`,
    };
    if (Number(req.headers["content-length"] ?? 0) > config.maxEventBytes) {
      req.resume();
      return sendJson(res, 413, tooLarge, { Connection: "close" });
    }
    const body = await readBody(req, config.maxEventBytes);
    if (body === undefined) return sendJson(res, 413, tooLarge, { Connection: "close" });

    const parsed = parseCloudEvent(req.headers, body);
    if (parsed.error !== undefined) {
      log("warn", "refused a request", {
        status: parsed.error.status,
        reason: parsed.error.message,
      });
      return sendJson(res, parsed.error.status, { error: parsed.error.message });
    }
    const answer = await tester.handleEvent(parsed.event);
    return sendJson(res, answer.status, answer.body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error) => {
      log("error", "unexpected error while handling a request", {
        error: String(error && error.stack ? error.stack : error),
      });
      if (!res.headersSent) sendJson(res, 500, { error: "internal error: see the tester's log" });
      else res.destroy();
    });
  });
  // A client that never finishes its request must not hold a socket for long.
  server.requestTimeout = 30000;
  server.headersTimeout = 10000;
  return server;
}

// ---- main ------------------------------------------------------------------------------------

async function main(env) {
  let config;
  try {
    config = readConfig(env);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: "error", msg: error.message })}\n`,
    );
    process.exitCode = 2;
    return;
  }
  const secrets = new Set();
  const log = createLogger(config.logLevel, secrets);
  process.on("unhandledRejection", (reason) => {
    log("error", "unhandled rejection", {
      error: String(reason && reason.stack ? reason.stack : reason),
    });
  });

  const tester = new Tester(config, log, secrets);
  log("info", "starting", {
    testerId: config.testerId,
    namespace: config.namespace,
    configuration: config.configuration ?? null,
    kubernetesApi: config.kubernetes.url,
    testPath: config.testPath,
    expectStatus: config.expectStatus,
    expectBody: config.expectBody === undefined ? null : String(config.expectBody),
    commitStatuses: config.github.tokenFile !== undefined,
  });
  // Before serving: leftovers of a previous run must not collide with new tests.
  await tester.cleanupRoutes();

  const server = createServer(tester, config, log);
  server.on("error", (error) => {
    log("error", "cannot listen", { port: config.port, error: error.message });
    process.exit(1);
  });
  await new Promise((resolve) => server.listen(config.port, config.host, resolve));
  log("info", "listening", { port: server.address().port });

  let timer;
  if (config.resyncIntervalMs > 0) {
    const resync = (withRoutes) =>
      tester.resync(withRoutes).catch((error) => {
        log("error", "resync failed", {
          error: String(error && error.stack ? error.stack : error),
        });
      });
    resync(false); // start-up: the Routes were just cleaned up
    timer = setInterval(() => resync(true), config.resyncIntervalMs);
  }

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    log("info", "stopping: finishing the running tests", { signal, running: tester.running.size });
    clearInterval(timer);
    server.close();
    server.closeIdleConnections();
    // Running tests are bounded by their own timeouts; their claims would expire otherwise.
    Promise.allSettled([...tester.running]).then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

module.exports = {
  REVISION_ANNOTATIONS,
  SMOKE_TEST_LABEL,
  SMOKE_TEST_RESULT_ANNOTATION,
  SMOKE_TEST_CLAIM_ANNOTATION,
  SMOKE_ROUTE_LABEL,
  SMOKE_ROUTE_REVISION_LABEL,
  EVENT_TYPES,
  STATUS_CONTEXT,
  InputError,
  readConfig,
  parseCloudEvent,
  eventTarget,
  revisionDecision,
  smokeRouteName,
  smokeRouteManifest,
  claimPatch,
  resultPatch,
  githubRepository,
  commitStatusRequest,
};

if (require.main === module) {
  main(process.env).catch((error) => {
    process.stderr.write(
      `${JSON.stringify({ level: "error", msg: "cannot start", error: String(error && error.stack) })}\n`,
    );
    process.exit(1);
  });
}
