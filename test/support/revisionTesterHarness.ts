// What the revision tester (functions/revision-tester/server.js) talks to, as stand-ins on
// 127.0.0.1: a stateful slice of the Kubernetes API with Knative Revisions and Routes, a target
// app behind the smoke Route, and the tester itself as a real child process.
import { ChildProcess, spawn } from "child_process";
import { randomUUID } from "crypto";
import * as http from "http";
import * as path from "path";
import { performance } from "perf_hooks";
import { FakeServer, httpCall, HttpAnswer, RecordedRequest, sendJson, waitFor } from "./fakeHttp";
import { isRecord } from "../../common/json";

export type Json = Record<string, unknown>;

export const TESTER_SCRIPT = path.join(
  __dirname,
  "..",
  "..",
  "functions",
  "revision-tester",
  "server.js",
);

const SERVING = "serving.knative.dev/v1";

function record(value: unknown): Json {
  return isRecord(value) ? value : {};
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const result: Json = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/** Equality-only label selectors (`a=b,c=d`), the kind the tester sends. */
function matchesSelector(object: Json, selector: string | null): boolean {
  if (selector === null || selector === "") return true;
  const labels = record(record(object.metadata).labels);
  return selector.split(",").every((term) => {
    const [key, value] = term.split("=");
    return labels[key] === value;
  });
}

function status(reason: string, message: string, code: number): Json {
  return { apiVersion: "v1", kind: "Status", status: "Failure", reason, message, code };
}

/** One request to the fake API and what it answered. */
export interface Exchange {
  readonly method: string;
  /** Path below /apis/serving.knative.dev/v1/namespaces/<ns>, with the query. */
  readonly call: string;
  readonly request: RecordedRequest;
  readonly status: number;
  readonly response: unknown;
  /** performance.now() when answered: benches time the tester by its requests. */
  readonly answeredAt: number;
}

/**
 * A fault the fake API injects into matching requests (issue 15):
 * - "500": answers 500 without acting (or with `body`, text or JSON, e.g. echoing the request);
 * - "hang": never answers and does nothing (the client's deadline ends the exchange);
 * - "lose-answer": acts (a PATCH is applied) but never answers, as when a reply is lost;
 * - "not-json": acts, then answers 200 with an HTML page instead of JSON.
 */
export interface ApiFault {
  readonly method: string;
  /** Matched against the path below the namespace, with the query. */
  readonly call: RegExp;
  readonly fault: "500" | "hang" | "lose-answer" | "not-json";
  /** How many matching requests get the fault. */
  times: number;
  readonly body?: (req: RecordedRequest) => unknown;
}

export interface RevisionSeed {
  readonly ready?: boolean;
  readonly configuration?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/**
 * The Kubernetes API for Knative Revisions and Routes in one namespace, holding them in memory
 * and behaving like the real one where the tester depends on it: bearer tokens, resourceVersion
 * bumped on every write and checked on merge patches (409), Routes becoming Ready after some
 * reads, DeleteOptions uid preconditions, label selectors, and Knative marking a Revision
 * `routingState: active` when a Route starts sending it traffic (a write the tester must survive).
 */
export class FakeKnativeApi {
  readonly server = new FakeServer((req, res) => this.handle(req, res));
  readonly exchanges: Exchange[] = [];
  readonly revisions = new Map<string, Json>();
  readonly routes = new Map<string, Json>();
  validTokens = new Set<string>();
  /** Reads of a Route before it reports Ready; undefined: never Ready. */
  routeReadyAfterGets: number | undefined = 1;
  /** What a Ready Route reports in status.address.url (and, without an address, status.url). */
  routeUrl = "http://127.0.0.1:9";
  /** Whether a Ready Route reports status.address (cluster-local Routes do). */
  routeAddress = true;
  /** This many Revision reads are answered 500. */
  failRevisionGets = 0;
  /** Revision reads are held until this many are waiting, then all answered: forces a race. */
  revisionGetBarrier = 0;
  /** Faults injected into matching requests, in order (see ApiFault). */
  faults: ApiFault[] = [];
  /** Called after a Route is stored. */
  onRouteCreated: (route: Json) => void = () => undefined;
  private resourceVersion = 1000;
  private uids = 0;
  private readonly routeGets = new Map<string, number>();
  private heldGets: Array<() => void> = [];
  readonly base: string;

  constructor(readonly namespace: string) {
    this.base = `/apis/${SERVING}/namespaces/${namespace}`;
  }

  start(): Promise<string> {
    return this.server.start();
  }

  stop(): Promise<void> {
    for (const release of this.heldGets) release();
    this.heldGets = [];
    return this.server.stop();
  }

  private nextVersion(): string {
    this.resourceVersion++;
    return String(this.resourceVersion);
  }

  /** Stores a Revision of configuration `hello` (by default), Ready unless told otherwise. */
  addRevision(name: string, seed: RevisionSeed = {}): Json {
    const revision: Json = {
      apiVersion: SERVING,
      kind: "Revision",
      metadata: {
        name,
        namespace: this.namespace,
        uid: `uid-revision-${++this.uids}`,
        resourceVersion: this.nextVersion(),
        generation: 1,
        labels: {
          "serving.knative.dev/configuration": seed.configuration ?? "hello",
          "serving.knative.dev/configurationGeneration": "1",
          ...seed.labels,
        },
        annotations: { ...seed.annotations },
      },
      spec: {
        containers: [{ image: "registry.example.com/team/hello@sha256:" + "ab".repeat(32) }],
      },
      status: {
        conditions:
          seed.ready === false
            ? [{ type: "Ready", status: "Unknown", reason: "Deploying" }]
            : [{ type: "Ready", status: "True" }],
      },
    };
    this.revisions.set(name, revision);
    return clone(revision);
  }

  /** Stores a Route as if created earlier (a leftover, or a live test's). */
  addRoute(route: Json): Json {
    const metadata = record(route.metadata);
    const stored: Json = {
      apiVersion: SERVING,
      kind: "Route",
      ...route,
      metadata: {
        ...metadata,
        namespace: this.namespace,
        uid: `uid-route-${++this.uids}`,
        resourceVersion: this.nextVersion(),
      },
    };
    this.routes.set(String(metadata.name), stored);
    return clone(stored);
  }

  revision(name: string): Json {
    const found = this.revisions.get(name);
    if (found === undefined) throw new Error(`no Revision ${name} in the fake API`);
    return clone(found);
  }

  /** The calls as "METHOD /path?query", the namespace prefix removed. */
  calls(): string[] {
    return this.exchanges.map((e) => `${e.method} ${e.call}`);
  }

  /** The exchanges of one method on one path (below the namespace), query ignored. */
  exchangesOf(method: string, call: string): Exchange[] {
    return this.exchanges.filter((e) => e.method === method && e.call.split("?")[0] === call);
  }

  private handle(req: RecordedRequest, res: http.ServerResponse): void | Promise<void> {
    const call = req.url.startsWith(this.base) ? req.url.slice(this.base.length) : req.url;
    const fault = this.faults.find(
      (f) => f.times > 0 && f.method === req.method && f.call.test(call),
    );
    if (fault !== undefined) fault.times--;
    const record = (code: number, body: unknown): void => {
      this.exchanges.push({
        method: req.method,
        call,
        request: req,
        status: code,
        response: body,
        answeredAt: performance.now(),
      });
    };
    const answer = (code: number, body: unknown): void => {
      if (fault?.fault === "lose-answer") {
        record(0, body); // acted on, answer never sent: stop() cuts the connection
        return;
      }
      if (fault?.fault === "not-json" && code === 200) {
        record(200, "<html>not JSON</html>");
        res.writeHead(200, { "Content-Type": "text/html" });
        res.end("<html><body>An HTML page from a proxy, status 200</body></html>");
        return;
      }
      record(code, body);
      sendJson(res, code, body);
    };
    if (fault?.fault === "hang") {
      record(0, undefined);
      return;
    }
    if (fault?.fault === "500") {
      const body = fault.body?.(req) ?? status("InternalError", "injected fault", 500);
      record(500, body);
      if (typeof body === "string") {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(body);
      } else sendJson(res, 500, body);
      return;
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (token === undefined || !this.validTokens.has(token)) {
      return answer(401, status("Unauthorized", "Unauthorized", 401));
    }
    if (!req.url.startsWith(this.base)) {
      return answer(404, status("NotFound", `no such path ${req.url}`, 404));
    }
    const rest = req.path.slice(this.base.length);
    const selector = req.query.get("labelSelector");

    const revisionMatch = /^\/revisions\/([^/]+)$/.exec(rest);
    if (revisionMatch !== null && req.method === "GET") {
      return this.getRevision(revisionMatch[1], answer);
    }
    if (revisionMatch !== null && req.method === "PATCH") {
      return this.patchRevision(revisionMatch[1], req, answer);
    }
    if (rest === "/revisions" && req.method === "GET") {
      const items = [...this.revisions.values()].filter((r) => matchesSelector(r, selector));
      return answer(200, this.list("RevisionList", items));
    }
    if (rest === "/routes" && req.method === "GET") {
      const items = [...this.routes.values()].filter((r) => matchesSelector(r, selector));
      return answer(200, this.list("RouteList", items));
    }
    if (rest === "/routes" && req.method === "POST") return this.createRoute(req, answer);
    const routeMatch = /^\/routes\/([^/]+)$/.exec(rest);
    if (routeMatch !== null && req.method === "GET") return this.getRoute(routeMatch[1], answer);
    if (routeMatch !== null && req.method === "DELETE") {
      return this.deleteRoute(routeMatch[1], req, answer);
    }
    answer(405, status("MethodNotAllowed", `unexpected ${req.method} ${req.url}`, 405));
  }

  private list(kind: string, items: Json[]): Json {
    return {
      apiVersion: SERVING,
      kind,
      // List items carry no apiVersion/kind in the real API either.
      metadata: { resourceVersion: String(this.resourceVersion) },
      items: items.map((item) => {
        const copy = clone(item);
        delete copy.apiVersion;
        delete copy.kind;
        return copy;
      }),
    };
  }

  private async getRevision(name: string, answer: (code: number, body: unknown) => void) {
    if (this.revisionGetBarrier > 0) {
      const waiting = new Promise<void>((resolve) => this.heldGets.push(resolve));
      if (this.heldGets.length >= this.revisionGetBarrier) {
        this.revisionGetBarrier = 0;
        for (const release of this.heldGets) release();
        this.heldGets = [];
      }
      await waiting;
    }
    if (this.failRevisionGets > 0) {
      this.failRevisionGets--;
      return answer(500, status("InternalError", "etcdserver: request timed out", 500));
    }
    const revision = this.revisions.get(name);
    if (revision === undefined) {
      return answer(
        404,
        status("NotFound", `revisions.serving.knative.dev "${name}" not found`, 404),
      );
    }
    answer(200, clone(revision));
  }

  private patchRevision(
    name: string,
    req: RecordedRequest,
    answer: (code: number, body: unknown) => void,
  ): void {
    if (req.headers["content-type"] !== "application/merge-patch+json") {
      return answer(
        415,
        status("UnsupportedMediaType", `unexpected ${req.headers["content-type"]}`, 415),
      );
    }
    const current = this.revisions.get(name);
    if (current === undefined) {
      return answer(
        404,
        status("NotFound", `revisions.serving.knative.dev "${name}" not found`, 404),
      );
    }
    const patch = record(JSON.parse(req.body) as unknown);
    const extra = Object.keys(patch).filter((key) => key !== "metadata");
    if (extra.length > 0) {
      return answer(
        422,
        status("Invalid", `the tester may patch metadata only, not ${extra}`, 422),
      );
    }
    const metadata = record(patch.metadata);
    const wanted = metadata.resourceVersion;
    const currentMetadata = record(current.metadata);
    if (wanted !== undefined && wanted !== currentMetadata.resourceVersion) {
      return answer(
        409,
        status(
          "Conflict",
          `Operation cannot be fulfilled on revisions.serving.knative.dev "${name}": the object ` +
            `has been modified; please apply your changes to the latest version and try again`,
          409,
        ),
      );
    }
    const { resourceVersion: _ignored, ...changes } = metadata;
    const updated = applyMergePatch(current, { metadata: changes }) as Json;
    record(updated.metadata).resourceVersion = this.nextVersion();
    this.revisions.set(name, updated);
    answer(200, clone(updated));
  }

  private createRoute(req: RecordedRequest, answer: (code: number, body: unknown) => void): void {
    const route = record(JSON.parse(req.body) as unknown);
    const metadata = record(route.metadata);
    const name = String(metadata.name);
    if (metadata.namespace !== this.namespace) {
      return answer(400, status("BadRequest", `namespace ${String(metadata.namespace)}`, 400));
    }
    if (this.routes.has(name)) {
      return answer(
        409,
        status("AlreadyExists", `routes.serving.knative.dev "${name}" already exists`, 409),
      );
    }
    const stored: Json = {
      ...route,
      metadata: {
        ...metadata,
        uid: `uid-route-${++this.uids}`,
        resourceVersion: this.nextVersion(),
        generation: 1,
      },
      status: {
        conditions: [{ type: "Ready", status: "Unknown", reason: "IngressNotConfigured" }],
      },
    };
    this.routes.set(name, stored);
    // Knative's labeler marks every Revision a Route sends traffic to.
    const traffic = record(route.spec).traffic;
    for (const target of Array.isArray(traffic) ? traffic : []) {
      const revision = this.revisions.get(String(record(target).revisionName));
      if (revision === undefined) continue;
      const revisionMetadata = record(revision.metadata);
      revisionMetadata.labels = {
        ...record(revisionMetadata.labels),
        "serving.knative.dev/routingState": "active",
      };
      revisionMetadata.resourceVersion = this.nextVersion();
    }
    answer(201, clone(stored));
    this.onRouteCreated(clone(stored));
  }

  private getRoute(name: string, answer: (code: number, body: unknown) => void): void {
    const route = this.routes.get(name);
    if (route === undefined) {
      return answer(404, status("NotFound", `routes.serving.knative.dev "${name}" not found`, 404));
    }
    // Counted per object: a Route created again under the same name starts over.
    const uid = String(record(route.metadata).uid);
    const gets = (this.routeGets.get(uid) ?? 0) + 1;
    this.routeGets.set(uid, gets);
    if (this.routeReadyAfterGets !== undefined && gets >= this.routeReadyAfterGets) {
      route.status = {
        conditions: [{ type: "Ready", status: "True" }],
        url: this.routeAddress
          ? `http://${name}.${this.namespace}.svc.cluster.local`
          : this.routeUrl,
        ...(this.routeAddress ? { address: { url: this.routeUrl } } : {}),
      };
    }
    answer(200, clone(route));
  }

  private deleteRoute(
    name: string,
    req: RecordedRequest,
    answer: (code: number, body: unknown) => void,
  ): void {
    const route = this.routes.get(name);
    if (route === undefined) {
      return answer(404, status("NotFound", `routes.serving.knative.dev "${name}" not found`, 404));
    }
    const options = req.body === "" ? {} : record(JSON.parse(req.body) as unknown);
    const uid = record(options.preconditions).uid;
    if (uid !== undefined && uid !== record(route.metadata).uid) {
      return answer(
        409,
        status("Conflict", `Precondition failed: UID in precondition: ${String(uid)}`, 409),
      );
    }
    this.routes.delete(name);
    answer(200, { apiVersion: "v1", kind: "Status", status: "Success" });
  }
}

export type TargetMode = "pass" | "fail" | "mismatch" | "hang";

/** The revision's app behind the smoke Route. */
export class TargetApp {
  mode: TargetMode = "pass";
  /** The body of a 200 answer in mode "pass", when set. */
  body: string | undefined;
  /** Answers wait for this promise: a test decides when the revision's answer comes. */
  gate: Promise<void> = Promise.resolve();
  readonly server = new FakeServer(async (_req, res) => {
    if (this.mode === "hang") return; // never answers; stop() cuts the connection
    await this.gate;
    const [code, body] =
      this.mode === "fail"
        ? [500, "internal error"]
        : this.mode === "mismatch"
          ? [200, "a different app"]
          : [200, this.body ?? "ok: hello from the candidate"];
    res.writeHead(code, { "Content-Type": "text/plain" });
    res.end(body);
  });
}

// ---- the tester process ----------------------------------------------------------------------

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

const started = new Set<TesterProcess>();

/** functions/revision-tester/server.js as a child process, with exactly the given environment. */
export class TesterProcess {
  stdout = "";
  stderr = "";
  exitCode: number | null = null;
  private readonly exited: Promise<void>;
  port = 0;

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      child.on("exit", (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
  }

  /**
   * Starts the tester (`script`, by default the repository's) and waits for its "listening" line
   * (after its start-up clean-up).
   */
  static async start(env: Record<string, string>, script = TESTER_SCRIPT): Promise<TesterProcess> {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tester = new TesterProcess(child);
    started.add(tester);
    await waitFor(
      () => tester.logs().some((l) => l.msg === "listening") || tester.exitCode !== null,
      "the tester to listen",
    );
    const listening = tester.logs().find((l) => l.msg === "listening");
    if (listening === undefined) {
      throw new Error(`the tester exited with ${tester.exitCode}: ${tester.stderr}`);
    }
    tester.port = Number(listening.port);
    return tester;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Every log line, parsed; a line that is not JSON fails the test that reads it. */
  logs(): LogLine[] {
    return this.output
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          throw new Error(`the tester logged a line that is not JSON: ${line}`);
        }
      });
  }

  async waitForLog(predicate: (line: LogLine) => boolean, what: string, timeoutMs = 5000) {
    await waitFor(() => this.logs().some(predicate), `${what} in the tester's log`, timeoutMs);
  }

  /** How many "smoke test finished" lines were logged. */
  finishedTests(): number {
    return this.logs().filter((l) => l.msg === "smoke test finished").length;
  }

  /** SIGTERM, then SIGKILL after 2 s; resolves once the process is gone. */
  async stop(): Promise<void> {
    started.delete(this);
    if (this.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 2000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

/** Stops every tester still running (for afterEach). */
export async function stopAllTesters(): Promise<void> {
  await Promise.all([...started].map((tester) => tester.stop()));
}

// ---- CloudEvents as the ApiServerSource adapter sends them -----------------------------------

export interface CloudEvent {
  readonly specversion: string;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly datacontenttype?: string;
  readonly data: unknown;
  /** Extensions the adapter copies from the object, so Triggers can filter on them. */
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
}

/**
 * An event as knative/eventing's apiserver adapter (Resource mode) makes it: type
 * dev.knative.apiserver.resource.<action>, source the API server's URL, subject the object's
 * self link, data the whole object, extensions kind/name/namespace.
 */
export function resourceEvent(action: "add" | "update" | "delete", object: Json): CloudEvent {
  const metadata = record(object.metadata);
  const name = String(metadata.name);
  const namespace = String(metadata.namespace);
  const kind = String(object.kind);
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: "https://10.96.0.1:443",
    type: `dev.knative.apiserver.resource.${action}`,
    subject: `/apis/${String(object.apiVersion)}/namespaces/${namespace}/${kind.toLowerCase()}s/${name}`,
    datacontenttype: "application/json",
    data: object,
    kind,
    name,
    namespace,
  };
}

/** POSTs the event in binary content mode: attributes as ce-* headers, data as the body. */
export function postBinary(url: string, event: CloudEvent, agent?: http.Agent) {
  const headers: http.OutgoingHttpHeaders = { "content-type": "application/json" };
  for (const [key, value] of Object.entries(event)) {
    if (key !== "data" && key !== "datacontenttype" && typeof value === "string") {
      headers[`ce-${key}`] = value;
    }
  }
  return httpCall(url, { method: "POST", headers, body: JSON.stringify(event.data), agent });
}

/** POSTs the event in structured content mode: one application/cloudevents+json document. */
export function postStructured(url: string, event: CloudEvent): Promise<HttpAnswer> {
  return httpCall(url, {
    method: "POST",
    headers: { "content-type": "application/cloudevents+json; charset=utf-8" },
    body: JSON.stringify(event),
  });
}

/**
 * What every stand-in test gives the tester: loopback on any port, namespace `apps`, the
 * Configuration `hello`, the stand-in API and its token file, GET /healthz, fast polling, no
 * periodic resync, debug logs. Each test adds what it is about.
 */
export function standInTesterEnv(
  kubernetesApiUrl: string,
  kubernetesTokenFile: string,
): Record<string, string> {
  return {
    PORT: "0",
    LISTEN_HOST: "127.0.0.1",
    NAMESPACE: "apps",
    CONFIGURATION: "hello",
    KUBERNETES_API_URL: kubernetesApiUrl,
    KUBERNETES_TOKEN_FILE: kubernetesTokenFile,
    TEST_PATH: "/healthz",
    POLL_INTERVAL_MS: "10",
    RESYNC_INTERVAL_SECONDS: "0",
    LOG_LEVEL: "debug",
  };
}
