#!/usr/bin/env node
// hello: the sample service of the canary demo. Every revision answers
//   GET /  ->  200 "Hello World, this is <TARGET>!"
// and, with no TARGET, <TARGET> is the revision's own name (Knative sets K_REVISION in every
// revision's container), so curl shows which revision of a traffic split answered.
//
// Environment:
//   PORT      port to listen on (Knative sets it; default 8080; 0: any free port)
//   TARGET    who is greeting (default: K_REVISION, outside Knative "hello")
//   GREETING  replaces "Hello World": a revision whose greeting does not start with
//             "Hello World" fails the smoke test of the production stack (tester.expectBody)
// Empty values count as unset: a Kubernetes `env` entry with no value sets the variable to "".
//
// Node built-ins only, so the image needs no `npm install`.
"use strict";

const http = require("http");

const DEFAULT_PORT = 8080;
/** Longer than any answer of this app, shorter than Knative's grace period (revision timeout). */
const SHUTDOWN_TIMEOUT_MS = 10000;

function setting(env, name) {
  const value = env[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** The body of GET /, newline included. */
function greeting(env) {
  const words = setting(env, "GREETING") ?? "Hello World";
  const target = setting(env, "TARGET") ?? setting(env, "K_REVISION") ?? "hello";
  return `${words}, this is ${target}!\n`;
}

/** PORT as a number; throws with a message naming the variable. */
function readPort(env) {
  const raw = setting(env, "PORT");
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new Error(`PORT must be a whole number from 0 to 65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

/** The HTTP server, not yet listening: tests listen on 127.0.0.1:0 themselves. */
function createServer(env = process.env) {
  const pages = new Map([
    ["/", greeting(env)],
    // For a readinessProbe or a tester pointed at it; Knative's default TCP probe needs nothing.
    ["/healthz", "ok\n"],
  ]);
  const server = http.createServer((req, res) => {
    const page = pages.get((req.url ?? "/").split("?")[0]);
    const allowed = req.method === "GET" || req.method === "HEAD";
    const [status, body] =
      page === undefined
        ? [404, "Not Found\n"]
        : allowed
          ? [200, page]
          : [405, "Method Not Allowed\n"];
    res.writeHead(status, {
      "Content-Type": "text/plain; charset=utf-8",
      "Content-Length": String(Buffer.byteLength(body)),
      // A canary split is watched by repeating one request: no cache may answer for a revision.
      "Cache-Control": "no-store",
      ...(status === 405 ? { Allow: "GET, HEAD" } : {}),
      // Shutting down: a kept-alive connection would hold the process until its client leaves.
      ...(server.listening ? {} : { Connection: "close" }),
    });
    // Node leaves the body out of an answer to HEAD by itself.
    res.end(body);
  });
  return server;
}

/**
 * Stops accepting connections, lets answers in progress finish, then lets the process end (exit
 * code 0). close() also closes idle kept-alive connections (Node >= 19). Knative sends SIGTERM on
 * scale-down only after the queue-proxy drained the pod, so nothing new arrives; a connection
 * still open after `timeoutMs` (a client that never finishes its request) is cut.
 */
function shutDown(server, log, timeoutMs = SHUTDOWN_TIMEOUT_MS) {
  log("shutting down");
  server.close(() => log("stopped"));
  setTimeout(() => server.closeAllConnections(), timeoutMs).unref();
}

function main(env) {
  const log = (message) => console.log(`hello: ${message}`);
  let port;
  try {
    port = readPort(env);
  } catch (error) {
    console.error(`hello: ${error.message}`);
    process.exitCode = 1;
    return;
  }
  const server = createServer(env);
  server.on("error", (error) => {
    console.error(`hello: cannot listen on port ${port}: ${error.message}`);
    process.exitCode = 1;
  });
  server.listen(port, () => {
    const answer = JSON.stringify(greeting(env).trimEnd());
    log(`listening on port ${server.address().port}, answering ${answer}`);
  });
  // once: a second signal (Ctrl-C twice) ends the process without waiting.
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => shutDown(server, log));
  }
}

if (require.main === module) main(process.env);

module.exports = { createServer, greeting, readPort, shutDown, DEFAULT_PORT };
