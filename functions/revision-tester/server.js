#!/usr/bin/env node
// Revision tester: smoke-tests every new Knative Revision once, records `passed` or `failed` on
// it (or `error` when the test could not run: retested at the next resync), and reports the
// result as a GitHub commit status.
//
// An ApiServerSource POSTs a CloudEvent to this server for every Revision change; the tester
// reads the Revision from the Kubernetes API, claims it (one test per revision, whatever the
// duplicates, replicas or restarts), smoke-tests it through a cluster-local Route of its own,
// records the result on the Revision and posts a commit status. One module per concern:
//   config.js        the environment it reads (every variable documented there)
//   cloudEvents.js   the events it accepts, and why an event is only a hint
//   claim.js         the claim protocol: claim, test, record; expired claims
//   smokeTest.js     the smoke Route, the request, the clean-up of leftover Routes
//   commitStatus.js  the GitHub commit status canary-release/smoke-test
//   tester.js        the orchestrator: events, background tests, the periodic re-scan
//   log.js           JSON log lines, tokens redacted
//   server.js        this file: the HTTP server and the process (start-up, signals)
// and ../shared/ for HTTP, the Kubernetes API, Knative names and GitHub, shared with the
// pipeline's steps.
//
// HTTP: POST / a CloudEvent (binary or structured mode): 202 {action: testing | ignored,
// reason}, 4xx with the reason for a malformed one, 502 when the Kubernetes API fails (the sender
// retries); GET /healthz: 200. Connections silent for IDLE_TIMEOUT_SECONDS are closed, and at
// most MAX_CONNECTIONS are open at once.
//
// Needs, in NAMESPACE: revisions get, list, patch; routes create, get, list, delete.
//
// Node built-ins only: `node server.js` runs as is in a stock Node LTS image. The stack ships
// this folder and ../shared/ in one content-addressed ConfigMap, mounted so that the relative
// requires resolve as they do here (components/shared/inClusterCode.ts).
"use strict";

const http = require("http");
const { parseCloudEvent } = require("./cloudEvents");
const { InputError, readConfig } = require("./config");
const { createLogger, Secrets } = require("./log");
const { Tester } = require("./tester");

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
    // The whole request is in: from here the answer waits on the Kubernetes API (each request
    // bounded by REQUEST_TIMEOUT_MS), which is not the client idling.
    req.socket.setTimeout(0);

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
  // A client that never finishes its request must not hold a socket for long. headersTimeout and
  // requestTimeout alone do not do it: Node checks them only every 30 s, and never for a
  // connection that sends nothing at all. server.timeout closes any socket silent for
  // IDLE_TIMEOUT_SECONDS (handle() lifts it once a request is complete); keepAliveTimeout closes
  // an idle kept-alive one sooner.
  server.timeout = config.idleTimeoutMs;
  server.keepAliveTimeout = Math.min(5000, config.idleTimeoutMs);
  server.requestTimeout = 30000;
  server.headersTimeout = 10000;
  // Past this many, new connections are closed at once: the process keeps descriptors for its
  // own API requests and /healthz, whatever idle clients do.
  server.maxConnections = config.maxConnections;
  return server;
}

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
  const secrets = new Secrets();
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

if (require.main === module) {
  main(process.env).catch((error) => {
    process.stderr.write(
      `${JSON.stringify({ level: "error", msg: "cannot start", error: String(error && error.stack) })}\n`,
    );
    process.exit(1);
  });
}
