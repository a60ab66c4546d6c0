// The smoke test of one claimed revision: a cluster-local Route <revision>-smoke sending 100 %
// to that revision, a GET of TEST_PATH on its URL once Ready, then the Route is deleted whatever
// happened. Routes left behind by a dead tester are deleted at start-up and on every resync
// (only those whose test is over: the Revision is gone, its claim is another one, or the claim
// expired).
"use strict";

const crypto = require("crypto");
const { performance } = require("perf_hooks");
const {
  DNS1123_LABEL,
  isObject,
  isString,
  MAX_LABEL_LENGTH,
  objectAt,
  sleep,
} = require("../shared/checks");
const { httpRequest } = require("../shared/http");
const { servingPath } = require("../shared/knative");
const {
  ApiUnavailable,
  apiError,
  describeCondition,
  readyCondition,
} = require("../shared/kubernetes");
const { EXPECT_BODY_MAX_BYTES, matchBody } = require("./bodyMatch");
const { errorCount, parseClaim, retestResync, SMOKE_TEST_CLAIM_ANNOTATION } = require("./claim");
const { USER_AGENT } = require("./config");

/** Marks the tester's own Routes, so start-up clean-up never touches anyone else's. */
const SMOKE_ROUTE_LABEL = "canary-release.dev/smoke-test-route";
const SMOKE_ROUTE_REVISION_LABEL = "canary-release.dev/smoke-test-revision";
const VISIBILITY_LABEL = "networking.knative.dev/visibility";
const SMOKE_SUFFIX = "-smoke";

/** The revision failed its smoke test: the app's own answer (or lack of one) says so. */
class TestFailure extends Error {}

/**
 * The smoke Route was not Ready by the deadline. A verdict on the revision only when the Route
 * had the whole window: see runSmokeTest.
 */
class RouteNotReady extends TestFailure {}

/**
 * The smoke test could not run: the Kubernetes API (or the tester itself) failed, not the app.
 * Never a verdict on the revision: retried inside the claim, then recorded as `error`.
 */
class InfraError extends Error {}

/** The longest pause between two attempts of a test that could not run. */
const MAX_RETRY_BACKOFF_MS = 8000;

const routesPath = (config) => servingPath(config.namespace, "routes");

/** `<revision>-smoke`, shortened with a hash when that would not fit in a DNS label. */
function smokeRouteName(revisionName) {
  const name = `${revisionName}${SMOKE_SUFFIX}`;
  if (name.length <= MAX_LABEL_LENGTH) return name;
  const hash = crypto.createHash("sha256").update(revisionName).digest("hex").slice(0, 8);
  const keep = MAX_LABEL_LENGTH - SMOKE_SUFFIX.length - hash.length - 1;
  return `${revisionName.slice(0, keep).replace(/-+$/, "")}-${hash}${SMOKE_SUFFIX}`;
}

/** The Route that sends 100 % to exactly the claimed revision, marked as the tester's own. */
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

/**
 * {verdict, result}: verdict is passed | failed | error, result the annotation's {status,
 * latencyMs, at, reason, url?}.
 *
 * An infrastructure error (an API failure, a Route name clash, a tester bug) is not the app's
 * answer: the attempt is retried with a doubling backoff (POLL_INTERVAL_MS, 2x, 4x..., at most
 * 8 s) until ROUTE_READY_TIMEOUT_SECONDS after the start, which keeps the whole test within the
 * claim's budget (config.js, CLAIM_TTL_SECONDS); if it persists the verdict is `error`, which the
 * resync retests. Only the app's answer (or its silence) makes `failed`. As all attempts share
 * that one deadline, a Route that is not Ready in time after an earlier attempt's infrastructure
 * error had less than the whole window: that is `error` too, not the revision's failure.
 */
async function runSmokeTest(context, name, claim, revision) {
  const { config, log } = context;
  const deadline = Date.now() + config.routeReadyTimeoutMs;
  let outcome;
  // The first infrastructure error of this test, if any: it shortened the Route's window.
  let earlierError;
  for (let attempt = 1; ; attempt++) {
    outcome = await attemptSmokeTest(context, name, claim, revision, deadline);
    if (outcome.routeNotReady && earlierError !== undefined) {
      outcome = {
        ...outcome,
        verdict: "error",
        reason: `${outcome.reason}, after API errors had taken part of that time (${earlierError})`,
      };
      break;
    }
    if (outcome.verdict === "error" && earlierError === undefined) earlierError = outcome.reason;
    // A pattern that ran out of time would only do so again: not retried here (the resync does).
    if (outcome.verdict !== "error" || outcome.retry === false) break;
    const backoffMs = Math.min(config.pollIntervalMs * 2 ** (attempt - 1), MAX_RETRY_BACKOFF_MS);
    if (Date.now() + backoffMs >= deadline) break;
    log("warn", "the smoke test could not run: retrying", {
      revision: name,
      attempt,
      backoffMs,
      reason: outcome.reason,
    });
    await sleep(backoffMs);
  }
  const result = {
    status: outcome.status,
    latencyMs: outcome.latencyMs,
    at: new Date().toISOString(),
    reason: outcome.reason,
  };
  if (outcome.url !== undefined) result.url = outcome.url;
  if (outcome.verdict === "error") {
    // Counted in a row, so that the resync backs off (claim.js revisionDecision).
    result.errors = errorCount(revision) + 1;
    const resync = retestResync(result.errors);
    const when = resync === 1 ? "the next resync" : `the ${ordinal(resync)} resync from now`;
    result.reason = `the smoke test could not run (retried at ${when}): ${outcome.reason}`;
  }
  return { verdict: outcome.verdict, result };
}

/** 2nd, 4th, 8th, 16th, 32nd: the resyncs retestResync names. */
function ordinal(n) {
  return `${n}${n % 10 === 2 && n % 100 !== 12 ? "nd" : "th"}`;
}

/** One try: the Route, the request, the Route deleted. Resolves to {verdict, status, ...}. */
async function attemptSmokeTest(context, name, claim, revision, deadline) {
  const { config, log } = context;
  const routeName = smokeRouteName(name);
  let uid;
  try {
    uid = await createRoute(context, routeName, name, claim, revision, deadline);
    const base = await waitForRoute(context, routeName, deadline);
    return await probe(base, config);
  } catch (error) {
    if (error instanceof TestFailure) {
      return {
        verdict: "failed",
        routeNotReady: error instanceof RouteNotReady,
        status: null,
        latencyMs: null,
        reason: error.message,
      };
    }
    const known = error instanceof InfraError || error instanceof ApiUnavailable;
    if (!known) {
      log("error", "unexpected error in a smoke test", {
        revision: name,
        error: String(error && error.stack ? error.stack : error),
      });
    }
    return {
      verdict: "error",
      status: null,
      latencyMs: null,
      reason: known ? error.message : `tester error: ${error.message}`,
    };
  } finally {
    if (uid !== undefined) await deleteRoute(context, routeName, uid, "the test is over");
  }
}

/** Creates the smoke Route; resolves to its uid. Throws InfraError or ApiUnavailable. */
async function createRoute(context, routeName, revisionName, claim, revision, deadline) {
  const { api, config, log } = context;
  const manifest = smokeRouteManifest({
    namespace: config.namespace,
    revisionName,
    revisionUid: objectAt(revision, "metadata").uid,
    claim,
  });
  for (;;) {
    const created = await api("POST", routesPath(config), manifest);
    if (created.status === 200 || created.status === 201) {
      log("debug", "created the smoke Route", { revision: revisionName, route: routeName });
      return objectAt(created.body, "metadata").uid;
    }
    if (created.status !== 409) {
      throw new InfraError(apiError(`creating Route ${routeName}`, created));
    }
    // We hold the claim, so a smoke Route of that name is ours (an earlier try whose answer was
    // lost) or a dead tester's leftover.
    const existing = await api("GET", `${routesPath(config)}/${routeName}`);
    if (existing.status === 200) {
      const existingMetadata = objectAt(existing.body, "metadata");
      if (
        objectAt(existingMetadata, "annotations")[SMOKE_TEST_CLAIM_ANNOTATION] === claim &&
        isString(existingMetadata.uid)
      ) {
        log("debug", "the smoke Route exists already for this claim: using it", {
          revision: revisionName,
          route: routeName,
        });
        return existingMetadata.uid;
      }
      if (objectAt(existingMetadata, "labels")[SMOKE_ROUTE_LABEL] !== "true") {
        throw new InfraError(
          `Route ${routeName} already exists and is not a smoke-test Route (no label ` +
            `${SMOKE_ROUTE_LABEL}=true): not replacing it`,
        );
      }
      await deleteRoute(
        context,
        routeName,
        objectAt(existing.body, "metadata").uid,
        "a leftover of an earlier test of this revision",
      );
    }
    if (Date.now() >= deadline) {
      throw new InfraError(
        `Route ${routeName} could not be created within ` +
          `${config.routeReadyTimeoutMs / 1000} s: a Route of that name kept existing`,
      );
    }
    await sleep(config.pollIntervalMs);
  }
}

/** Resolves to the Route's URL once it is Ready; throws RouteNotReady at the deadline. */
async function waitForRoute(context, routeName, deadline) {
  const { api, config } = context;
  let last = "not read yet";
  // Whether the last read was an API failure rather than the Route's own status: at the deadline
  // that is an infrastructure error, not the revision's.
  let lastWasApiFailure = false;
  for (;;) {
    let res;
    try {
      res = await api("GET", `${routesPath(config)}/${routeName}`);
      lastWasApiFailure = res.status !== 200;
    } catch (error) {
      if (!(error instanceof ApiUnavailable)) throw error;
      last = error.message; // a blip of the API server: retry until the deadline
      lastWasApiFailure = true;
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
      throw new (lastWasApiFailure ? InfraError : RouteNotReady)(
        `Route ${routeName} was not Ready within ${config.routeReadyTimeoutMs / 1000} s ` +
          `(last seen: ${last})`,
      );
    }
    await sleep(Math.min(config.pollIntervalMs, remaining));
  }
}

/**
 * Deletes a smoke Route, only if it still is the one with `uid` (a tester that re-claimed the
 * revision may have replaced it). Never throws: a Route left behind is cleaned up later.
 */
async function deleteRoute(context, routeName, uid, why) {
  const { api, config, log } = context;
  const body = { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background" };
  if (isString(uid)) body.preconditions = { uid };
  try {
    const res = await api("DELETE", `${routesPath(config)}/${routeName}`, body);
    if (res.status === 200 || res.status === 202 || res.status === 404) {
      log("debug", "deleted the smoke Route", { route: routeName, why });
    } else if (res.status === 409) {
      log("info", "the smoke Route was replaced by another test: left alone", {
        route: routeName,
      });
    } else {
      log("error", "cannot delete the smoke Route", {
        route: routeName,
        error: apiError(`deleting Route ${routeName}`, res),
      });
    }
  } catch (error) {
    if (!(error instanceof ApiUnavailable)) throw error;
    log("error", "cannot delete the smoke Route", {
      route: routeName,
      error: error.message,
    });
  }
}

/**
 * Deletes smoke Routes whose test is over: their Revision is gone, carries another claim (or
 * none), or their claim expired. A live test's Route, maybe another replica's, stays.
 */
async function cleanupRoutes(context) {
  const { api, config, log } = context;
  const selector = encodeURIComponent(`${SMOKE_ROUTE_LABEL}=true`);
  try {
    const list = await api("GET", `${routesPath(config)}?labelSelector=${selector}`);
    if (list.status !== 200) {
      log("error", "cannot list smoke Routes", { error: apiError("listing Routes", list) });
      return;
    }
    const items = Array.isArray(objectAt(list.body).items) ? list.body.items : [];
    for (const route of items) {
      const metadata = objectAt(route, "metadata");
      if (!isString(metadata.name)) continue;
      const reason = await leftoverReason(context, route);
      if (reason === undefined) {
        log("debug", "smoke Route in use by a live test: kept", { route: metadata.name });
        continue;
      }
      log("info", "deleting a leftover smoke Route", { route: metadata.name, reason });
      await deleteRoute(context, metadata.name, metadata.uid, reason);
    }
  } catch (error) {
    if (!(error instanceof ApiUnavailable)) throw error;
    log("error", "cannot clean up smoke Routes", { error: error.message });
  }
}

/** Why a smoke Route is left over (its test is over), or undefined while its test may run. */
async function leftoverReason(context, route) {
  const { api, config } = context;
  const metadata = objectAt(route, "metadata");
  const traffic = objectAt(route, "spec").traffic;
  const revisionName =
    objectAt(metadata, "labels")[SMOKE_ROUTE_REVISION_LABEL] ??
    (Array.isArray(traffic) && isObject(traffic[0]) ? traffic[0].revisionName : undefined);
  if (!isString(revisionName) || !DNS1123_LABEL.test(revisionName)) {
    return "it names no revision";
  }
  const read = await api("GET", servingPath(config.namespace, "revisions", revisionName));
  if (read.status === 404) return `its revision ${revisionName} is gone`;
  if (read.status !== 200) return undefined; // cannot tell: keep it until the next clean-up
  const claim = objectAt(read.body, "metadata", "annotations")[SMOKE_TEST_CLAIM_ANNOTATION];
  if (
    claim === undefined ||
    claim !== objectAt(metadata, "annotations")[SMOKE_TEST_CLAIM_ANNOTATION]
  ) {
    return `the test of ${revisionName} it served is over`;
  }
  if (Date.now() - parseClaim(claim).at >= config.claimTtlMs) {
    return `the claim on ${revisionName} expired`;
  }
  return undefined;
}

/**
 * GETs TEST_PATH on the revision's URL: {verdict, status, latencyMs, reason, url}. The app's
 * answer, or its silence, is the verdict: passed or failed. Only the request to the app is
 * caught as `failed`; anything else that throws is the tester's fault, and attemptSmokeTest
 * records it as `error`. match: bodyMatch.js matchBody (tests inject another).
 */
async function probe(baseUrl, config, match = matchBody) {
  const url = `${baseUrl.replace(/\/+$/, "")}${config.testPath}`;
  const what = `GET ${config.testPath}`;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let res;
  try {
    res = await httpRequest(url, {
      headers: { Accept: "*/*", "User-Agent": USER_AGENT },
      timeoutMs: config.testTimeoutMs,
      // A fresh connection, as a first client of the revision would have.
      agent: false,
      // All that EXPECT_BODY sees: a larger body is not read further.
      maxBytes: EXPECT_BODY_MAX_BYTES,
    });
  } catch (error) {
    const latencyMs = elapsed();
    const reason =
      error.code === "ETIMEDOUT"
        ? `${what} gave no complete answer within ${config.testTimeoutMs / 1000} s`
        : `${what} failed after ${latencyMs} ms: ${error.message}`;
    return { verdict: "failed", status: null, latencyMs, reason, url };
  }
  const latencyMs = elapsed();
  const answered = `${what} answered HTTP ${res.status} in ${latencyMs} ms`;
  const measured = { status: res.status, latencyMs, url };
  if (res.status !== config.expectStatus) {
    return {
      verdict: "failed",
      ...measured,
      reason: `${answered}, expected HTTP ${config.expectStatus}`,
    };
  }
  if (config.expectBody !== undefined) {
    // Off the main thread, with a deadline (bodyMatch.js): a costly pattern cannot block
    // /healthz or the other tests.
    const outcome = await match(config.expectBody, res.text, config.expectBodyTimeoutMs);
    const within = `(in its first ${EXPECT_BODY_MAX_BYTES} bytes)`;
    if (outcome.timedOut) {
      return {
        verdict: "error",
        retry: false,
        ...measured,
        reason:
          `${answered} but EXPECT_BODY ${config.expectBody} did not finish within ` +
          `${config.expectBodyTimeoutMs / 1000} s on the body ${within}: a pattern that ` +
          `backtracks this much cannot judge the revision; simplify tester.expectBody`,
      };
    }
    if (outcome.error !== undefined) {
      return {
        verdict: "error",
        retry: false,
        ...measured,
        reason: `${answered} but EXPECT_BODY could not be evaluated: ${outcome.error}`,
      };
    }
    if (!outcome.matched) {
      return {
        verdict: "failed",
        ...measured,
        reason: `${answered} but the body does not match ${config.expectBody} ${within}`,
      };
    }
  }
  return { verdict: "passed", ...measured, reason: answered };
}

module.exports = {
  SMOKE_ROUTE_LABEL,
  SMOKE_ROUTE_REVISION_LABEL,
  smokeRouteName,
  smokeRouteManifest,
  runSmokeTest,
  cleanupRoutes,
  probe,
};
