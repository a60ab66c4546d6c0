// The revision tester's settings, all from the environment:
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
//   EXPECT_BODY                  optional JavaScript regular expression the body (its first
//                                64 KiB) must match; matched in a worker thread
//   EXPECT_BODY_TIMEOUT_SECONDS  limit for that match (default 1): a pattern that runs longer
//                                makes an `error` result, not `failed`
//   TEST_TIMEOUT_SECONDS         limit for the whole test request (default 10)
//   ROUTE_READY_TIMEOUT_SECONDS  limit for the smoke Route to become Ready (default 60); a test
//                                that could not run (an API error) is retried until then, so
//                                the retries fit the CLAIM_TTL_SECONDS budget below
//   GITHUB_API_URL               default https://api.github.com (GHE: https://HOST/api/v3)
//   GITHUB_TOKEN_FILE            optional: a token allowed to post commit statuses; unset,
//                                missing or empty: no commit status
//   POLL_INTERVAL_MS             Route readiness polling (default 1000)
//   CLAIM_TTL_SECONDS            age after which a claim is presumed dead (default 300); must be
//                                at least ROUTE_READY_TIMEOUT_SECONDS + TEST_TIMEOUT_SECONDS +
//                                EXPECT_BODY_TIMEOUT_SECONDS + 10 x REQUEST_TIMEOUT_MS +
//                                7 x POLL_INTERVAL_MS (see longestTest below)
//   RESYNC_INTERVAL_SECONDS      list Revisions and leftover Routes at start-up and then this
//                                often, to test what no event announced and retest `error`
//                                results (default 300; 0: never); after n `error`s in a row
//                                (the result's `errors`), the 2^(n-1)-th resync retests: 1st,
//                                2nd, 4th ... at most the 32nd (claim.js)
//   REQUEST_TIMEOUT_MS           limit for each Kubernetes or GitHub API request (default 10000)
//   MAX_EVENT_BYTES              largest accepted event body (default 1048576)
//   IDLE_TIMEOUT_SECONDS         a connection that sends nothing (or stalls mid-request) for
//                                this long is closed (default 30, 0.1 to 3600); while an event is
//                                being handled the answer waits on the Kubernetes API instead,
//                                bounded by REQUEST_TIMEOUT_MS per request
//   MAX_CONNECTIONS              open connections at most (default 256, 1 to 65535): more are
//                                closed at once, so idle clients cannot exhaust the process's
//                                file descriptors; keep it well below `ulimit -n`
//   TESTER_ID                    name written in claims (default <hostname>-<6 random hex>)
//   LOG_LEVEL                    debug | info | warn | error (default info)
// Tokens are read from their files for every request (projected tokens rotate) and never logged.
"use strict";

const crypto = require("crypto");
const os = require("os");
const { baseUrl, check, DNS1123_LABEL, InputError, MAX_LABEL_LENGTH } = require("../shared/checks");
const { DEFAULT_GITHUB_API_URL } = require("../shared/github");
const { kubernetesSettings } = require("../shared/kubernetes");

/** Sent with every request the tester makes: the APIs' logs and the revision's say who asked. */
const USER_AGENT = "canary-release-revision-tester";
const LOG_LEVELS = Object.freeze({ debug: 10, info: 20, warn: 30, error: 40 });

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
    kubernetes: kubernetesSettings(env, "https://kubernetes.default.svc"),
    testPath,
    expectStatus: number("EXPECT_STATUS", 200, 100, 599, true),
    expectBody,
    testTimeoutMs: number("TEST_TIMEOUT_SECONDS", 10, 0.001, 3600, false) * 1000,
    expectBodyTimeoutMs: number("EXPECT_BODY_TIMEOUT_SECONDS", 1, 0.01, 60, false) * 1000,
    routeReadyTimeoutMs: number("ROUTE_READY_TIMEOUT_SECONDS", 60, 0.001, 3600, false) * 1000,
    github: {
      url: baseUrl("GITHUB_API_URL", text("GITHUB_API_URL") ?? DEFAULT_GITHUB_API_URL),
      tokenFile: text("GITHUB_TOKEN_FILE"),
    },
    pollIntervalMs: number("POLL_INTERVAL_MS", 1000, 1, 60000, false),
    claimTtlMs: number("CLAIM_TTL_SECONDS", 300, 1, 86400, false) * 1000,
    resyncIntervalMs: number("RESYNC_INTERVAL_SECONDS", 300, 0, 86400, false) * 1000,
    requestTimeoutMs: number("REQUEST_TIMEOUT_MS", 10000, 1, 600000, false),
    maxEventBytes: number("MAX_EVENT_BYTES", 1024 * 1024, 256, 64 * 1024 * 1024, true),
    idleTimeoutMs: number("IDLE_TIMEOUT_SECONDS", 30, 0.1, 3600, false) * 1000,
    maxConnections: number("MAX_CONNECTIONS", 256, 1, 65535, true),
    testerId,
    logLevel,
  };
  const longestTestMs = longestTest(config);
  check(
    config.claimTtlMs >= longestTestMs,
    `CLAIM_TTL_SECONDS must be at least ROUTE_READY_TIMEOUT_SECONDS + TEST_TIMEOUT_SECONDS + ` +
      `EXPECT_BODY_TIMEOUT_SECONDS + 10 x REQUEST_TIMEOUT_MS + 7 x POLL_INTERVAL_MS ` +
      `(${longestTestMs / 1000} s), so that a live test is never re-claimed; ` +
      `got ${config.claimTtlMs / 1000}`,
  );
  return config;
}

/**
 * The longest a test can hold its claim, counted from the claim's `at`: the Route wait, the
 * request and the EXPECT_BODY match, plus the API requests that can run past those deadlines
 * (the last poll, the Route delete, reading and patching the result, with room for one retry:
 * 6 requests), plus the claim's own confirmation when its answer is lost (claim.js
 * confirmClaim: the PATCH and 3 re-reads, 4 requests, after pauses of 1 + 2 + 4 poll intervals),
 * which runs after `at` and before the test starts.
 */
function longestTest(config) {
  return (
    config.routeReadyTimeoutMs +
    config.testTimeoutMs +
    config.expectBodyTimeoutMs +
    (6 + 4) * config.requestTimeoutMs +
    7 * config.pollIntervalMs
  );
}

module.exports = { USER_AGENT, LOG_LEVELS, InputError, readConfig, longestTest };
