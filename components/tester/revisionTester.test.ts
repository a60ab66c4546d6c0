// The revision tester (functions/revision-tester/server.js) as a real process on 127.0.0.1,
// against a stateful stand-in Kubernetes API (Knative Revisions and Routes), a stand-in GitHub
// API and a target app behind the smoke Route; plus its pure parts, loaded in-process.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REVISION_ANNOTATIONS } from "../../common/pipelineContract";
import { SMOKE_TEST_LABEL, SMOKE_TEST_RESULT_ANNOTATION } from "../../common/revisionRecord";
import {
  RevisionTesterSpec,
  testerCodeManifest,
  testerServiceManifest,
} from "./revisionTesterManifests";
import { KeyToPath, writeConfigMapVolume } from "../../test/support/configMapVolume";
import { FakeServer, httpCall, HttpAnswer, sendJson } from "../../test/support/fakeHttp";
import {
  CloudEvent,
  Exchange,
  FakeKnativeApi,
  Json,
  postBinary,
  postStructured,
  resourceEvent,
  standInTesterEnv,
  stopAllTesters,
  TargetApp,
  TESTER_SCRIPT,
  TesterProcess,
} from "../../test/support/revisionTesterHarness";
import { isRecord } from "../../common/json";

/** The pure parts of the tester's modules (functions/revision-tester/*.js), loaded in-process. */
interface TesterModules {
  readonly REVISION_ANNOTATIONS: Readonly<Record<string, string>>;
  readonly SMOKE_TEST_LABEL: string;
  readonly SMOKE_TEST_RESULT_ANNOTATION: string;
  readonly SMOKE_TEST_CLAIM_ANNOTATION: string;
  readonly SMOKE_ROUTE_LABEL: string;
  readonly STATUS_CONTEXT: string;
  readonly InputError: new (message: string) => Error;
  readConfig(env: Record<string, string>): unknown;
  parseCloudEvent(
    headers: Record<string, string>,
    body: Buffer,
  ): { event?: Json; error?: { status: number; message: string } };
  smokeRouteName(revisionName: string): string;
  githubRepository(cloneUrl: string): { owner: string; repo: string } | undefined;
  commitStatusRequest(
    annotations: Record<string, string>,
    verdict: "passed" | "failed" | "error",
    result: { reason: string },
  ): { skip?: string; path?: string; body?: Json };
}
const TESTER_DIR = path.dirname(TESTER_SCRIPT);
const load = (file: string): object => require(path.join(TESTER_DIR, file)) as object;
const modules = {
  ...load("config.js"),
  ...load("cloudEvents.js"),
  ...load("claim.js"),
  ...load("smokeTest.js"),
  ...load("commitStatus.js"),
  ...load("../shared/knative.js"),
} as TesterModules;
const CLAIM = modules.SMOKE_TEST_CLAIM_ANNOTATION;

const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const REVISION = "hello-0a1b2c3";
const ROUTE = `${REVISION}-smoke`;
const K8S_TOKEN = "k8s-token-1-Zq8vSECRET";
const K8S_TOKEN_ROTATED = "k8s-token-2-Wp3xSECRET";
const GITHUB_TOKEN = "ghs_statusToken7SECRET";
const SECRETS = [K8S_TOKEN, K8S_TOKEN_ROTATED, GITHUB_TOKEN];
const BUILT_FROM = {
  [REVISION_ANNOTATIONS.commit]: SHA,
  [REVISION_ANNOTATIONS.repository]: "https://github.com/octo/hello.git",
  [REVISION_ANNOTATIONS.commitTimestamp]: "2024-05-01T08:00:00.000Z",
};
const LIST_SMOKE_ROUTES = "GET /routes?labelSelector=canary-release.dev%2Fsmoke-test-route%3Dtrue";
/** The tester as the stack deploys it (only its volume, mount and command are used here). */
const TESTER_SPEC: RevisionTesterSpec = {
  app: "hello",
  namespace: "apps",
  image: "docker.io/library/node:22.18.0-alpine3.22",
  path: "/healthz",
  expectStatus: 200,
  timeoutSeconds: 1,
  tokenSecretKey: "token",
};
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Field access for assertions: fails the test on a missing level. */
function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    assert.ok(isRecord(current), `expected an object before .${key}`);
    current = current[key];
  }
  return current;
}

const json = (text: string): Json => {
  const parsed: unknown = JSON.parse(text);
  assert.ok(isRecord(parsed), `expected a JSON object, got ${text}`);
  return parsed;
};

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "canary-tester-"));
}

// ---- pure parts ------------------------------------------------------------------------------

describe("revision tester: its pure parts", () => {
  it("uses the annotation and label names of the pipeline contract and the candidate gate", () => {
    assert.deepEqual({ ...modules.REVISION_ANNOTATIONS }, { ...REVISION_ANNOTATIONS });
    assert.equal(modules.SMOKE_TEST_LABEL, SMOKE_TEST_LABEL);
    assert.equal(modules.SMOKE_TEST_RESULT_ANNOTATION, SMOKE_TEST_RESULT_ANNOTATION);
    assert.equal(modules.STATUS_CONTEXT, "canary-release/smoke-test");
  });

  it("reads both CloudEvents content modes and refuses malformed ones with the reason", () => {
    const data = Buffer.from(JSON.stringify({ kind: "Revision" }));
    const binary = {
      "content-type": "application/json; charset=utf-8",
      "ce-specversion": "1.0",
      "ce-id": "1",
      "ce-source": "https://10.96.0.1:443",
      "ce-type": "dev.knative.apiserver.resource.add",
      "ce-subject": "/apis/serving.knative.dev/v1/namespaces/apps/revisions/x",
    };
    assert.deepEqual(modules.parseCloudEvent(binary, data).event, {
      specversion: "1.0",
      id: "1",
      source: "https://10.96.0.1:443",
      type: "dev.knative.apiserver.resource.add",
      subject: "/apis/serving.knative.dev/v1/namespaces/apps/revisions/x",
      data: { kind: "Revision" },
    });
    const structured = Buffer.from(
      JSON.stringify({
        specversion: "1.0",
        id: "2",
        source: "s",
        type: "t",
        data_base64: data.toString("base64"),
      }),
    );
    assert.deepEqual(
      modules.parseCloudEvent({ "content-type": "application/cloudevents+json" }, structured).event,
      { specversion: "1.0", id: "2", source: "s", type: "t", data: { kind: "Revision" } },
    );
    const refused: Array<[Record<string, string>, string, number, RegExp]> = [
      [{ ...binary, "ce-type": "" }, "{}", 400, /missing header ce-type/],
      [{ ...binary, "ce-specversion": "0.3" }, "{}", 400, /specversion must be "1.0"/],
      [binary, "{", 400, /the event data is not valid JSON/],
      [binary, "", 400, /the event has no data/],
      [{ "content-type": "text/plain" }, "{}", 415, /Content-Type must be application\/json/],
      [{}, "{}", 415, /got ""/],
      [{ "content-type": "application/cloudevents+json" }, "[]", 400, /must be a JSON object/],
      [
        { "content-type": "application/cloudevents+json" },
        "{}",
        400,
        /missing attribute "specversion"/,
      ],
      [
        { "content-type": "application/cloudevents-batch+json" },
        "[]",
        415,
        /structured content mode/,
      ],
    ];
    for (const [headers, body, status, message] of refused) {
      const parsed = modules.parseCloudEvent(headers, Buffer.from(body));
      assert.equal(parsed.error?.status, status, JSON.stringify([headers, body]));
      assert.match(parsed.error?.message ?? "", message);
    }
  });

  it("names the smoke Route <revision>-smoke, hashed down to 63 characters when longer", () => {
    assert.equal(modules.smokeRouteName(REVISION), ROUTE);
    const long = `${"a".repeat(50)}-0a1b2c3`;
    const name = modules.smokeRouteName(long);
    assert.equal(name.length, 63);
    assert.match(name, /^a+-[0-9a-f]{8}-smoke$/);
    assert.equal(modules.smokeRouteName(long), name, "stable across calls and restarts");
    assert.notEqual(modules.smokeRouteName(`${long.slice(0, -1)}4`), name);
  });

  it("finds owner and repository in GitHub and GitHub Enterprise clone URLs", () => {
    for (const url of [
      "https://github.com/octo/hello.git",
      "https://github.com/octo/hello",
      "https://ghe.example.com/octo/hello.git",
      "git@ghe.example.com:octo/hello.git",
    ]) {
      assert.deepEqual(modules.githubRepository(url), { owner: "octo", repo: "hello" }, url);
    }
    for (const url of ["", "octo/hello", "https://github.com/octo", "file:///octo/hello.git"]) {
      assert.equal(modules.githubRepository(url), undefined, url);
    }
  });

  it("posts a commit status only for a full SHA, with a description GitHub accepts", () => {
    const long = modules.commitStatusRequest(BUILT_FROM, "failed", { reason: "x".repeat(300) });
    assert.equal(long.path, `/repos/octo/hello/statuses/${SHA}`);
    const description = String(at(long.body, "description"));
    assert.equal(description.length, 140);
    assert.ok(description.startsWith("Smoke test failed: xxx") && description.endsWith("…"));
    const short = { ...BUILT_FROM, [REVISION_ANNOTATIONS.commit]: SHA.slice(0, 7) };
    assert.match(
      modules.commitStatusRequest(short, "passed", { reason: "" }).skip ?? "",
      /full commit SHA/,
    );
    const noRepo = { ...BUILT_FROM, [REVISION_ANNOTATIONS.repository]: "somewhere" };
    assert.match(
      modules.commitStatusRequest(noRepo, "passed", { reason: "" }).skip ?? "",
      /names no GitHub repository: not a clone URL/,
    );
  });

  it("retests an `error` result at the resync only after 1, 2, 4 ... (at most 32) intervals", () => {
    const claim = require(path.join(TESTER_DIR, "claim.js")) as {
      revisionDecision(
        revision: unknown,
        config: unknown,
        nowMs: number,
        options?: { retestErrors?: boolean },
      ): { test?: boolean; ignore?: string };
    };
    const interval = 300000;
    const config = { namespace: "apps", claimTtlMs: 300000, resyncIntervalMs: interval };
    const at = Date.parse("2030-01-01T00:00:00Z");
    const revision = (result: Record<string, unknown> | undefined) => ({
      metadata: {
        namespace: "apps",
        labels: { "canary-release.dev/smoke-test": "error" },
        annotations:
          result === undefined
            ? {}
            : {
                "canary-release.dev/smoke-test-result": JSON.stringify({
                  at: new Date(at).toISOString(),
                  ...result,
                }),
              },
      },
      status: { conditions: [{ type: "Ready", status: "True" }] },
    });
    const due = (result: Record<string, unknown> | undefined, afterIntervals: number) =>
      claim.revisionDecision(revision(result), config, at + afterIntervals * interval, {
        retestErrors: true,
      });
    // The k-th resync after the result comes (k-1, k] intervals later: (k-1) intervals is due.
    const cases: Array<[Record<string, unknown> | undefined, number, boolean]> = [
      [undefined, 0, true], // no readable result: retested as before
      [{}, 0, true], // a result from before the count: the first error
      [{ errors: 1 }, 0, true],
      [{ errors: 2 }, 0.9, false],
      [{ errors: 2 }, 1, true],
      [{ errors: 3 }, 2.9, false],
      [{ errors: 3 }, 3, true],
      [{ errors: 6 }, 30.9, false],
      [{ errors: 6 }, 31, true],
      [{ errors: 60 }, 31, true], // capped at 32 resyncs
      [{ errors: "x" }, 0, true], // not a count: the first error
    ];
    for (const [result, afterIntervals, test] of cases) {
      const decision = due(result, afterIntervals);
      assert.equal(
        decision.test === true,
        test,
        JSON.stringify([result, afterIntervals, decision]),
      );
    }
    assert.match(
      due({ errors: 3 }, 1).ignore ?? "",
      /the last 3 tests could not run: retested at a resync from 2030-01-01T00:15:00.000Z/,
    );
    // Events never retest an `error` result, whatever the count.
    assert.match(
      claim.revisionDecision(revision({ errors: 1 }), config, at + 10 * interval).ignore ?? "",
      /error.*a resync retests it/,
    );
  });

  it("refuses a bad environment with a message naming the variable", () => {
    const good = { NAMESPACE: "apps" };
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /NAMESPACE is not set/],
      [{ NAMESPACE: "Apps" }, /NAMESPACE must be a DNS-1123 label/],
      [{ ...good, CONFIGURATION: "a_b" }, /CONFIGURATION must be a DNS-1123 label/],
      [{ ...good, PORT: "80.5" }, /PORT must be a whole number from 0 to 65535, got "80.5"/],
      [{ ...good, EXPECT_STATUS: "99" }, /EXPECT_STATUS must be a whole number from 100 to 599/],
      [{ ...good, EXPECT_BODY: "(" }, /EXPECT_BODY must be a JavaScript regular expression/],
      [{ ...good, TEST_PATH: "healthz" }, /TEST_PATH must be a path starting with "\/"/],
      [{ ...good, TEST_TIMEOUT_SECONDS: "0" }, /TEST_TIMEOUT_SECONDS must be a number from/],
      [{ ...good, KUBERNETES_API_URL: "kubernetes" }, /KUBERNETES_API_URL must be an https:\/\//],
      [{ ...good, GITHUB_API_URL: "ftp://x" }, /GITHUB_API_URL must be an https:\/\//],
      [{ ...good, LOG_LEVEL: "verbose" }, /LOG_LEVEL must be one of debug, info, warn, error/],
      [{ ...good, RESYNC_INTERVAL_SECONDS: "-1" }, /RESYNC_INTERVAL_SECONDS must be a number/],
      [
        { ...good, CLAIM_TTL_SECONDS: "100" },
        /CLAIM_TTL_SECONDS must be at least .* \(178 s\).*got 100/,
      ],
      [
        // The claim's re-read after a lost answer (claim.js confirmClaim) counts: 60 + 10 + 1 +
        // 10 x 1 s of requests + 7 x 0.1 s of polling.
        { ...good, REQUEST_TIMEOUT_MS: "1000", POLL_INTERVAL_MS: "100", CLAIM_TTL_SECONDS: "81" },
        /CLAIM_TTL_SECONDS must be at least .*10 x REQUEST_TIMEOUT_MS \+ 7 x POLL_INTERVAL_MS \(81.7 s\).*got 81/,
      ],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => modules.readConfig(env),
        (error: unknown) => error instanceof modules.InputError && message.test(error.message),
        JSON.stringify(env),
      );
    }
    assert.doesNotThrow(() => modules.readConfig({ ...good, CLAIM_TTL_SECONDS: "178" }));
  });
});

// ---- the real process ------------------------------------------------------------------------

describe("revision tester (real process, stand-in APIs on 127.0.0.1)", () => {
  let kube: FakeKnativeApi;
  let github: FakeServer;
  let githubAnswer: number;
  let target: TargetApp;
  let dir: string;
  let baseEnv: Record<string, string>;

  beforeEach(async () => {
    dir = tempDir();
    fs.writeFileSync(path.join(dir, "token"), `${K8S_TOKEN}\n`);
    fs.writeFileSync(path.join(dir, "github-token"), `${GITHUB_TOKEN}\n`);
    kube = new FakeKnativeApi("apps");
    kube.validTokens = new Set([K8S_TOKEN]);
    kube.routeReadyAfterGets = 2;
    githubAnswer = 201;
    github = new FakeServer((_req, res) => sendJson(res, githubAnswer, { id: 1 }));
    target = new TargetApp();
    const [kubeUrl, githubUrl, targetUrl] = await Promise.all([
      kube.start(),
      github.start(),
      target.server.start(),
    ]);
    kube.routeUrl = targetUrl;
    baseEnv = {
      ...standInTesterEnv(kubeUrl, path.join(dir, "token")),
      GITHUB_API_URL: githubUrl,
      GITHUB_TOKEN_FILE: path.join(dir, "github-token"),
      EXPECT_STATUS: "200",
      EXPECT_BODY: "^ok",
      TEST_TIMEOUT_SECONDS: "1",
      ROUTE_READY_TIMEOUT_SECONDS: "1",
      REQUEST_TIMEOUT_MS: "1000",
      CLAIM_TTL_SECONDS: "30",
      TESTER_ID: "tester-a",
    };
  });

  afterEach(async () => {
    await stopAllTesters();
    await Promise.all([kube.stop(), github.stop(), target.server.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(overrides: Record<string, string | undefined> = {}, script?: string) {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...baseEnv, ...overrides })) {
      if (value !== undefined) env[key] = value;
    }
    return TesterProcess.start(env, script);
  }

  /** JSON log lines only, no token anywhere, and the process still serving. */
  async function assertHealthy(...testers: TesterProcess[]): Promise<void> {
    for (const tester of testers) {
      for (const line of tester.logs()) {
        assert.ok(["debug", "info", "warn", "error"].includes(line.level), JSON.stringify(line));
      }
      for (const secret of SECRETS) {
        assert.ok(!tester.output.includes(secret), `the tester logged the token ${secret}`);
      }
      assert.equal(tester.exitCode, null, "the tester exited");
      const health = await httpCall(`${tester.url}/healthz`);
      assert.equal(health.status, 200);
    }
  }

  const answerOf = (answer: HttpAnswer): Json => json(answer.text);
  const send = (tester: TesterProcess, event: CloudEvent) => postBinary(`${tester.url}/`, event);
  const readyEvent = (action: "add" | "update" = "add") =>
    resourceEvent(action, kube.revision(REVISION));

  function claimPatches(): Exchange[] {
    return kube.exchanges.filter(
      (e) =>
        e.method === "PATCH" &&
        typeof at(json(e.request.body), "metadata", "annotations", CLAIM) === "string",
    );
  }
  function resultPatches(): Exchange[] {
    return kube.exchanges.filter(
      (e) => e.method === "PATCH" && isRecord(at(json(e.request.body), "metadata", "labels")),
    );
  }
  const routeCreates = () => kube.exchangesOf("POST", "/routes");
  const resultOf = (name: string): Json =>
    json(String(at(kube.revision(name), "metadata", "annotations", SMOKE_TEST_RESULT_ANNOTATION)));
  const verdictOf = (name: string) =>
    at(kube.revision(name), "metadata", "labels", SMOKE_TEST_LABEL);

  /** Runs one test to its end and returns the tester (for the failure scenarios). */
  async function testOnce(overrides: Record<string, string> = {}): Promise<TesterProcess> {
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    const tester = await start(overrides);
    const answer = await send(tester, readyEvent());
    assert.equal(answer.status, 202, answer.text);
    assert.deepEqual(answerOf(answer), { action: "testing", revision: REVISION });
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");
    assert.equal(kube.routes.size, 0, "the smoke Route must be deleted whatever the outcome");
    assert.equal(kube.exchangesOf("DELETE", `/routes/${ROUTE}`).length, 1);
    return tester;
  }

  it("passes a healthy revision: claim, Route, request, Route deleted, result, commit status", async () => {
    const seeded = kube.addRevision(REVISION, { annotations: BUILT_FROM });
    const before = Date.now();
    const tester = await start();
    const answer = await send(tester, readyEvent());
    assert.equal(answer.status, 202, answer.text);
    assert.deepEqual(answerOf(answer), { action: "testing", revision: REVISION });
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");

    assert.deepEqual(kube.calls(), [
      LIST_SMOKE_ROUTES,
      `GET /revisions/${REVISION}`,
      `PATCH /revisions/${REVISION}`,
      "POST /routes",
      `GET /routes/${ROUTE}`,
      `GET /routes/${ROUTE}`,
      `DELETE /routes/${ROUTE}`,
      `GET /revisions/${REVISION}`,
      `PATCH /revisions/${REVISION}`,
    ]);
    for (const exchange of kube.exchanges) {
      assert.equal(exchange.request.headers.authorization, `Bearer ${K8S_TOKEN}`);
      assert.equal(exchange.status < 300, true, `${exchange.method} ${exchange.call}`);
    }

    // The claim: conditioned on the resourceVersion just read.
    const [claim] = claimPatches();
    assert.equal(claim.request.headers["content-type"], "application/merge-patch+json");
    const claimValue = String(at(json(claim.request.body), "metadata", "annotations", CLAIM));
    assert.deepEqual(json(claim.request.body), {
      metadata: {
        resourceVersion: at(seeded, "metadata", "resourceVersion"),
        annotations: { [CLAIM]: claimValue },
      },
    });
    const parsedClaim = json(claimValue);
    assert.deepEqual(Object.keys(parsedClaim), ["holder", "at"]);
    assert.equal(parsedClaim.holder, "tester-a");
    assert.match(String(parsedClaim.at), ISO_TIME);
    assert.ok(Date.parse(String(parsedClaim.at)) >= before - 1000);

    // The Route: cluster-local, ours, all traffic to exactly this revision.
    const [create] = routeCreates();
    assert.deepEqual(json(create.request.body), {
      apiVersion: "serving.knative.dev/v1",
      kind: "Route",
      metadata: {
        name: ROUTE,
        namespace: "apps",
        labels: {
          "networking.knative.dev/visibility": "cluster-local",
          "canary-release.dev/smoke-test-route": "true",
          "canary-release.dev/smoke-test-revision": REVISION,
          "app.kubernetes.io/part-of": "canary-release",
        },
        annotations: { [CLAIM]: claimValue },
        ownerReferences: [
          {
            apiVersion: "serving.knative.dev/v1",
            kind: "Revision",
            name: REVISION,
            uid: at(seeded, "metadata", "uid"),
          },
        ],
      },
      spec: { traffic: [{ revisionName: REVISION, percent: 100 }] },
    });
    const [deletion] = kube.exchangesOf("DELETE", `/routes/${ROUTE}`);
    assert.deepEqual(json(deletion.request.body), {
      apiVersion: "v1",
      kind: "DeleteOptions",
      propagationPolicy: "Background",
      preconditions: { uid: at(create.response, "metadata", "uid") },
    });
    assert.equal(kube.routes.size, 0);

    // One request to the revision, at the address the Route reported.
    assert.equal(target.server.requests.length, 1);
    assert.equal(target.server.requests[0].url, "/healthz");
    assert.equal(target.server.requests[0].headers["user-agent"], "canary-release-revision-tester");

    // The result: on the resourceVersion read after Knative's own update, the claim removed.
    const [result] = resultPatches();
    const readBefore = kube.exchanges[kube.exchanges.indexOf(result) - 1];
    assert.notEqual(
      at(readBefore.response, "metadata", "resourceVersion"),
      at(claim.response, "metadata", "resourceVersion"),
      "Knative marked the revision routed in between",
    );
    const resultValue = String(
      at(json(result.request.body), "metadata", "annotations", SMOKE_TEST_RESULT_ANNOTATION),
    );
    assert.deepEqual(json(result.request.body), {
      metadata: {
        resourceVersion: at(readBefore.response, "metadata", "resourceVersion"),
        labels: { [SMOKE_TEST_LABEL]: "passed" },
        annotations: { [SMOKE_TEST_RESULT_ANNOTATION]: resultValue, [CLAIM]: null },
      },
    });
    const recorded = json(resultValue);
    assert.deepEqual(Object.keys(recorded), ["status", "latencyMs", "at", "reason", "url"]);
    assert.equal(recorded.status, 200);
    assert.ok(typeof recorded.latencyMs === "number" && recorded.latencyMs >= 0);
    assert.match(String(recorded.at), ISO_TIME);
    assert.match(String(recorded.reason), /^GET \/healthz answered HTTP 200 in \d+ ms$/);
    assert.equal(recorded.url, `${target.server.url}/healthz`);
    const annotations = at(kube.revision(REVISION), "metadata", "annotations");
    assert.equal(verdictOf(REVISION), "passed");
    assert.ok(isRecord(annotations) && !(CLAIM in annotations), "the claim is removed");

    // The commit status.
    assert.equal(github.requests.length, 1);
    const [status] = github.requests;
    assert.equal(status.method, "POST");
    assert.equal(status.url, `/repos/octo/hello/statuses/${SHA}`);
    assert.equal(status.headers.authorization, `Bearer ${GITHUB_TOKEN}`);
    assert.equal(status.headers.accept, "application/vnd.github+json");
    assert.equal(status.headers["content-type"], "application/json");
    assert.deepEqual(json(status.body), {
      state: "success",
      context: "canary-release/smoke-test",
      description: `Smoke test passed: ${String(recorded.reason)}`,
    });

    await assertHealthy(tester);
    await tester.stop();
    assert.equal(tester.exitCode, 0, "SIGTERM is a clean exit");
  });

  it("runs from its ConfigMap, mounted as the Knative Service mounts it: a healthy revision passes", async () => {
    // The files as the pod sees them: the volume's items under the mount, nothing else.
    const manifest = testerServiceManifest(TESTER_SPEC);
    const podSpec = at(manifest, "spec", "template", "spec");
    const volume = (at(podSpec, "volumes") as Json[])[0];
    const mount = (at(podSpec, "containers") as Json[])[0];
    const mountPath = String((at(mount, "volumeMounts") as Json[])[0].mountPath);
    const root = path.join(dir, "pod");
    writeConfigMapVolume(
      testerCodeManifest(TESTER_SPEC).data,
      at(volume, "configMap", "items") as KeyToPath[],
      path.join(root, mountPath),
    );
    const [command, entry] = at(mount, "command") as string[];
    assert.equal(command, "node");
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    const tester = await start({}, path.join(root, entry));
    const answer = await send(tester, readyEvent());
    assert.equal(answer.status, 202, answer.text);
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");
    assert.equal(verdictOf(REVISION), "passed");
    assert.equal(github.requests.length, 1, "the commit status");
    await assertHealthy(tester);
  });

  it("fails a revision that answers 500", async () => {
    target.mode = "fail";
    const tester = await testOnce();
    assert.equal(verdictOf(REVISION), "failed");
    const result = resultOf(REVISION);
    assert.equal(result.status, 500);
    assert.match(
      String(result.reason),
      /^GET \/healthz answered HTTP 500 in \d+ ms, expected HTTP 200$/,
    );
    assert.equal(github.requests.length, 1);
    assert.equal(at(json(github.requests[0].body), "state"), "failure");
    assert.match(
      String(at(json(github.requests[0].body), "description")),
      /^Smoke test failed: GET \/healthz answered HTTP 500 in \d+ ms, expected HTTP 200$/,
    );
    await assertHealthy(tester);
  });

  it("fails a revision whose body does not match EXPECT_BODY", async () => {
    target.mode = "mismatch";
    const tester = await testOnce();
    assert.equal(verdictOf(REVISION), "failed");
    const result = resultOf(REVISION);
    assert.equal(result.status, 200);
    assert.match(
      String(result.reason),
      /answered HTTP 200 in \d+ ms but the body does not match \/\^ok\//,
    );
    assert.equal(at(json(github.requests[0].body), "state"), "failure");
    await assertHealthy(tester);
  });

  it("fails a revision that does not answer within TEST_TIMEOUT_SECONDS", async () => {
    target.mode = "hang";
    const tester = await testOnce({ TEST_TIMEOUT_SECONDS: "0.3" });
    assert.equal(verdictOf(REVISION), "failed");
    const result = resultOf(REVISION);
    assert.equal(result.status, null);
    assert.ok(Number(result.latencyMs) >= 290 && Number(result.latencyMs) < 2000);
    assert.equal(result.reason, "GET /healthz gave no complete answer within 0.3 s");
    assert.equal(target.server.requests.length, 1);
    await assertHealthy(tester);
  });

  it("fails a revision whose smoke Route never becomes Ready, and never requests it", async () => {
    kube.routeReadyAfterGets = undefined;
    const tester = await testOnce({ ROUTE_READY_TIMEOUT_SECONDS: "0.3" });
    assert.equal(verdictOf(REVISION), "failed");
    const result = resultOf(REVISION);
    assert.deepEqual(
      { ...result, at: "" },
      {
        status: null,
        latencyMs: null,
        at: "",
        reason:
          `Route ${ROUTE} was not Ready within 0.3 s ` +
          "(last seen: Ready=Unknown: IngressNotConfigured)",
      },
    );
    assert.equal(target.server.requests.length, 0);
    const polls = kube.exchangesOf("GET", `/routes/${ROUTE}`).length;
    assert.ok(polls >= 3 && polls <= 40, `polled ${polls} times`);
    assert.equal(at(json(github.requests[0].body), "state"), "failure");
    await assertHealthy(tester);
  });

  it("uses status.url when the Route reports no status.address", async () => {
    kube.routeAddress = false;
    const tester = await testOnce();
    assert.equal(verdictOf(REVISION), "passed");
    assert.equal(resultOf(REVISION).url, `${target.server.url}/healthz`);
    await assertHealthy(tester);
  });

  it("works in structured content mode too", async () => {
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    const tester = await start();
    const answer = await postStructured(`${tester.url}/`, readyEvent("update"));
    assert.equal(answer.status, 202, answer.text);
    assert.equal(answerOf(answer).action, "testing");
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");
    assert.equal(verdictOf(REVISION), "passed");
    await assertHealthy(tester);
  });

  it("reads the token file again for every request, so a rotated token is used", async () => {
    kube.onRouteCreated = () => {
      fs.writeFileSync(path.join(dir, "token"), `${K8S_TOKEN_ROTATED}\n`);
      kube.validTokens = new Set([K8S_TOKEN_ROTATED]); // the old one is refused from now on
    };
    const tester = await testOnce();
    assert.equal(verdictOf(REVISION), "passed");
    const tokens = kube.exchanges.map((e) => e.request.headers.authorization);
    const created = kube.calls().indexOf("POST /routes");
    assert.deepEqual(tokens.slice(0, created + 1), Array(created + 1).fill(`Bearer ${K8S_TOKEN}`));
    assert.deepEqual(
      tokens.slice(created + 1),
      Array(tokens.length - created - 1).fill(`Bearer ${K8S_TOKEN_ROTATED}`),
    );
    assert.ok(kube.exchanges.every((e) => e.status !== 401));
    await assertHealthy(tester);
  });

  it("tests once when 200 duplicate events arrive at once: one claim, one Route, one result", async () => {
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    let release = () => {};
    target.gate = new Promise((resolve) => (release = resolve)); // the test runs until released
    const tester = await start();
    const events = Array.from({ length: 200 }, (_, i) =>
      readyEvent(i % 2 === 0 ? "add" : "update"),
    );
    const answers = await Promise.all(events.map((event) => send(tester, event)));
    release();
    assert.ok(answers.every((a) => a.status === 202));
    const bodies = answers.map(answerOf);
    assert.equal(bodies.filter((b) => b.action === "testing").length, 1);
    assert.deepEqual(
      new Set(bodies.filter((b) => b.action === "ignored").map((b) => b.reason)),
      new Set(["a duplicate: this tester is already handling the Revision"]),
    );
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");
    // The duplicates never reached the API: one read to decide, one to record.
    assert.equal(kube.exchangesOf("GET", `/revisions/${REVISION}`).length, 2);
    assert.equal(claimPatches().length, 1);
    assert.equal(resultPatches().length, 1);
    assert.equal(routeCreates().length, 1);
    assert.equal(target.server.requests.length, 1);
    assert.equal(github.requests.length, 1);
    assert.equal(tester.finishedTests(), 1);
    await assertHealthy(tester);
  });

  it("tests once across two tester processes that race for the same revision", async () => {
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    const [a, b] = await Promise.all([start(), start({ TESTER_ID: "tester-b" })]);
    kube.revisionGetBarrier = 2; // both read the same resourceVersion before either claims
    const event = readyEvent();
    const answers = (await Promise.all([send(a, event), send(b, event)])).map(answerOf);
    assert.deepEqual(answers.map((x) => x.action).sort(), ["ignored", "testing"]);
    assert.equal(
      answers.find((x) => x.action === "ignored")?.reason,
      "another tester claimed it first (409 Conflict)",
    );
    assert.deepEqual(
      claimPatches().map((e) => e.status),
      [200, 409],
    );
    const [first, second] = claimPatches().map((e) =>
      at(json(e.request.body), "metadata", "resourceVersion"),
    );
    assert.equal(first, second);
    const winner = answers[0].action === "testing" ? a : b;
    await winner.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");

    // More copies of the event, to both, during and after: nothing more happens.
    const late = await Promise.all(
      Array.from({ length: 10 }, (_, i) => send(i % 2 === 0 ? a : b, event)),
    );
    assert.ok(late.every((x) => x.status === 202 && answerOf(x).action === "ignored"));
    assert.equal(claimPatches().length, 2);
    assert.equal(routeCreates().length, 1);
    assert.equal(resultPatches().length, 1);
    assert.equal(target.server.requests.length, 1);
    assert.equal(github.requests.length, 1);
    assert.equal(a.finishedTests() + b.finishedTests(), 1);
    await assertHealthy(a, b);
  });

  it("trusts the API, not the event: a forged or stale Ready copy tests nothing", async () => {
    const stored = kube.addRevision("hello-1111111", { ready: false, annotations: BUILT_FROM });
    const tester = await start();
    // Copies that say Ready: one of a Revision that is not, one of a Revision that does not exist.
    const forgedReady: Json = {
      ...stored,
      status: { conditions: [{ type: "Ready", status: "True" }] },
    };
    const missing = {
      ...forgedReady,
      metadata: { ...(forgedReady.metadata as Json), name: "hello-2222222" },
    };
    const stale = await send(tester, resourceEvent("update", forgedReady));
    const forged = await send(tester, resourceEvent("add", missing));
    assert.deepEqual(answerOf(stale), {
      action: "ignored",
      revision: "hello-1111111",
      reason: "the Revision is not Ready (Ready=Unknown: Deploying)",
    });
    assert.deepEqual(answerOf(forged), {
      action: "ignored",
      revision: "hello-2222222",
      reason: "the Kubernetes API has no such Revision",
    });
    assert.deepEqual(kube.calls(), [
      LIST_SMOKE_ROUTES,
      "GET /revisions/hello-1111111",
      "GET /revisions/hello-2222222",
    ]);
    assert.equal(github.requests.length, 0);
    assert.equal(target.server.requests.length, 0);
    await assertHealthy(tester);
  });

  it("ignores what is not a Ready Revision of ours with 202, and refuses malformed requests with 4xx", async () => {
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    const tester = await start({ MAX_EVENT_BYTES: "4096" });
    const url = `${tester.url}/`;
    const revision = kube.revision(REVISION);
    const metadata = revision.metadata as Json;
    const notReady = kube.addRevision("hello-3333333", { ready: false });
    const tested = {
      ...revision,
      metadata: {
        ...metadata,
        labels: { ...(metadata.labels as Json), [SMOKE_TEST_LABEL]: "passed" },
      },
    };
    const otherApp = {
      ...revision,
      metadata: {
        ...metadata,
        labels: { ...(metadata.labels as Json), "serving.knative.dev/configuration": "other" },
      },
    };
    const route = {
      apiVersion: "serving.knative.dev/v1",
      kind: "Route",
      metadata: { name: "x", namespace: "apps" },
    };
    const ignored: Array<[CloudEvent, RegExp]> = [
      [
        resourceEvent("delete", revision),
        /event type dev.knative.apiserver.resource.delete is not/,
      ],
      [
        { ...resourceEvent("add", revision), type: "dev.knative.apiserver.ref.add" },
        /is not a Revision add/,
      ],
      [resourceEvent("add", route), /not a serving.knative.dev\/v1 Revision/],
      [
        resourceEvent("add", { ...revision, metadata: { ...metadata, namespace: "prod" } }),
        /in namespace "prod"/,
      ],
      [resourceEvent("update", notReady), /per the event: the Revision is not Ready/],
      [resourceEvent("update", tested), /per the event: already tested/],
      [resourceEvent("update", otherApp), /belongs to configuration "other"/],
    ];
    for (const [event, reason] of ignored) {
      const answer = await send(tester, event);
      assert.equal(answer.status, 202, answer.text);
      assert.equal(answerOf(answer).action, "ignored");
      assert.match(String(answerOf(answer).reason), reason);
    }

    const headers = {
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-id": "1",
      "ce-source": "s",
      "ce-type": "dev.knative.apiserver.resource.add",
    };
    const { "ce-type": _type, ...withoutType } = headers;
    const refused: Array<[Parameters<typeof httpCall>[1], number, RegExp]> = [
      [{ method: "POST", headers, body: "{not json" }, 400, /not valid JSON/],
      [{ method: "POST", headers: withoutType, body: "{}" }, 400, /missing header ce-type/],
      [
        { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: "{" },
        400,
        /not valid JSON/,
      ],
      [
        { method: "POST", headers: { ...headers, "content-type": "text/plain" }, body: "{}" },
        415,
        /Content-Type must be/,
      ],
      [
        {
          method: "POST",
          headers,
          body: JSON.stringify({ ...revision, padding: "x".repeat(5000) }),
        },
        413,
        /larger than MAX_EVENT_BYTES \(4096 bytes\)/,
      ],
      [
        {
          method: "POST",
          headers,
          body: JSON.stringify({ ...revision, metadata: { ...metadata, name: "../../secrets/x" } }),
        },
        400,
        /data.metadata.name must be a Revision name/,
      ],
      [{ method: "GET" }, 405, /method GET not allowed/],
      [{ method: "PUT", headers, body: "{}" }, 405, /method PUT not allowed/],
    ];
    for (const [options, status, message] of refused) {
      const answer = await httpCall(url, options);
      assert.equal(
        answer.status,
        status,
        `${JSON.stringify(options).slice(0, 200)}: ${answer.text}`,
      );
      assert.match(String(answerOf(answer).error), message);
    }
    const wrongPath = await postBinary(`${tester.url}/events`, resourceEvent("add", revision));
    assert.equal(wrongPath.status, 404);
    assert.match(String(answerOf(wrongPath).error), /no such path "\/events"/);

    assert.deepEqual(kube.calls(), [LIST_SMOKE_ROUTES], "nothing reached the Kubernetes API");
    assert.equal(target.server.requests.length + github.requests.length, 0);
    await assertHealthy(tester);
  });

  it("answers 502 when the Kubernetes API fails, so the event can be retried", async () => {
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    kube.failRevisionGets = 1;
    const tester = await start();
    const failed = await send(tester, readyEvent());
    assert.equal(failed.status, 502);
    assert.match(
      String(answerOf(failed).error),
      /HTTP 500 InternalError: etcdserver: request timed out/,
    );
    const retried = await send(tester, readyEvent());
    assert.equal(answerOf(retried).action, "testing");
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");
    assert.equal(verdictOf(REVISION), "passed");
    await assertHealthy(tester);
  });

  it("leaves a live claim alone and re-claims an expired one, replacing its leftover Route", async () => {
    const fresh = JSON.stringify({ holder: "tester-z", at: new Date().toISOString() });
    const expired = JSON.stringify({
      holder: "tester-dead",
      at: new Date(Date.now() - 3600e3).toISOString(),
    });
    kube.addRevision("hello-4444444", { annotations: { [CLAIM]: fresh } });
    kube.addRevision(REVISION, { annotations: { ...BUILT_FROM, [CLAIM]: expired } });
    const tester = await start();
    // The dead tester's Route, which start-up clean-up did not see.
    const leftover = kube.addRoute({
      metadata: {
        name: ROUTE,
        labels: { "canary-release.dev/smoke-test-route": "true" },
        annotations: { [CLAIM]: expired },
      },
      spec: { traffic: [{ revisionName: REVISION, percent: 100 }] },
    });

    const live = await send(tester, resourceEvent("update", kube.revision("hello-4444444")));
    assert.match(String(answerOf(live).reason), /^per the event: claimed by tester-z at /);
    const stale = await send(tester, readyEvent("update"));
    assert.equal(answerOf(stale).action, "testing");
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");

    assert.deepEqual(kube.calls().slice(1, 9), [
      `GET /revisions/${REVISION}`,
      `PATCH /revisions/${REVISION}`,
      "POST /routes",
      `GET /routes/${ROUTE}`,
      `DELETE /routes/${ROUTE}`,
      "POST /routes",
      `GET /routes/${ROUTE}`,
      `GET /routes/${ROUTE}`,
    ]);
    assert.deepEqual(
      routeCreates().map((e) => e.status),
      [409, 201],
    );
    const [replaced] = kube.exchangesOf("DELETE", `/routes/${ROUTE}`);
    assert.deepEqual(at(json(replaced.request.body), "preconditions"), {
      uid: at(leftover, "metadata", "uid"),
    });
    assert.equal(claimPatches().length, 1);
    assert.equal(verdictOf(REVISION), "passed");
    assert.equal(at(kube.revision("hello-4444444"), "metadata", "annotations", CLAIM), fresh);
    assert.ok(
      tester.logs().some((l) => l.msg.startsWith("re-claiming") && l.expiredClaim === expired),
    );
    await assertHealthy(tester);
  });

  it("does not record or report when its claim was taken over during the test", async () => {
    const other = JSON.stringify({ holder: "tester-b", at: new Date().toISOString() });
    kube.onRouteCreated = () => {
      // As if this tester had stalled past the TTL and tester-b had re-claimed the revision.
      const revision = kube.revisions.get(REVISION);
      const metadata = revision?.metadata as Json;
      metadata.annotations = { ...(metadata.annotations as Json), [CLAIM]: other };
    };
    const tester = await testOnce();
    assert.equal(resultPatches().length, 0);
    assert.equal(github.requests.length, 0);
    assert.equal(at(kube.revision(REVISION), "metadata", "annotations", CLAIM), other);
    assert.ok(
      tester.logs().some((l) => l.msg === "the claim was taken over: this tester does not record"),
    );
    assert.ok(tester.logs().some((l) => l.msg === "smoke test finished" && l.recorded === false));
    await assertHealthy(tester);
  });

  it("deletes at start-up only the smoke Routes whose test is over", async () => {
    const live = JSON.stringify({ holder: "tester-z", at: new Date().toISOString() });
    const old = JSON.stringify({
      holder: "tester-dead",
      at: new Date(Date.now() - 3600e3).toISOString(),
    });
    kube.addRevision("hello-5555555", { labels: { [SMOKE_TEST_LABEL]: "passed" } });
    kube.addRevision("hello-6666666", { annotations: { [CLAIM]: live } });
    kube.addRevision("hello-7777777", { annotations: { [CLAIM]: old } });
    const smoke = (revision: string, claim: string) =>
      kube.addRoute({
        metadata: {
          name: `${revision}-smoke`,
          labels: {
            "canary-release.dev/smoke-test-route": "true",
            "canary-release.dev/smoke-test-revision": revision,
          },
          annotations: { [CLAIM]: claim },
        },
        spec: { traffic: [{ revisionName: revision, percent: 100 }] },
      });
    const over = smoke("hello-5555555", old); // its revision has a result
    smoke("hello-6666666", live); // another replica is testing right now
    const expired = smoke("hello-7777777", old); // its tester died
    const gone = smoke("hello-8888888", old); // its revision was deleted
    kube.addRoute({
      metadata: { name: "hello" },
      spec: { traffic: [{ revisionName: "hello-5555555", percent: 100 }] },
    });

    const tester = await start();
    const deleted = kube.exchanges.filter((e) => e.method === "DELETE");
    assert.deepEqual(
      deleted.map((e) => [e.call, at(json(e.request.body), "preconditions", "uid")]),
      [
        ["/routes/hello-5555555-smoke", at(over, "metadata", "uid")],
        ["/routes/hello-7777777-smoke", at(expired, "metadata", "uid")],
        ["/routes/hello-8888888-smoke", at(gone, "metadata", "uid")],
      ],
    );
    assert.equal(kube.calls()[0], LIST_SMOKE_ROUTES);
    assert.deepEqual([...kube.routes.keys()].sort(), ["hello", "hello-6666666-smoke"]);
    assert.equal(claimPatches().length, 0, "start-up clean-up claims nothing");
    await assertHealthy(tester);
  });

  it("resyncs at start-up: tests Ready revisions no event announced, and only those", async () => {
    const old = JSON.stringify({
      holder: "tester-dead",
      at: new Date(Date.now() - 3600e3).toISOString(),
    });
    kube.addRevision("hello-aaaaaaa", { annotations: BUILT_FROM });
    kube.addRevision("hello-bbbbbbb", { annotations: { [CLAIM]: old } });
    kube.addRevision("hello-ccccccc", { labels: { [SMOKE_TEST_LABEL]: "failed" } });
    kube.addRevision("hello-ddddddd", { ready: false });
    kube.addRevision("other-eeeeeee", { configuration: "other" });
    const tester = await start({ RESYNC_INTERVAL_SECONDS: "60" });
    await tester.waitForLog(() => tester.finishedTests() === 2, "two finished tests");
    assert.equal(
      kube.calls()[1],
      "GET /revisions?limit=100&labelSelector=serving.knative.dev%2Fconfiguration%3Dhello",
    );
    assert.equal(verdictOf("hello-aaaaaaa"), "passed");
    assert.equal(verdictOf("hello-bbbbbbb"), "passed");
    assert.equal(verdictOf("hello-ccccccc"), "failed");
    assert.deepEqual(
      routeCreates()
        .map((e) => at(json(e.request.body), "metadata", "name"))
        .sort(),
      ["hello-aaaaaaa-smoke", "hello-bbbbbbb-smoke"],
    );
    assert.equal(kube.exchangesOf("GET", "/revisions/hello-ddddddd").length, 0);
    await assertHealthy(tester);
  });

  it("posts the commit status under a GitHub Enterprise API path", async () => {
    const tester = await testOnce({ GITHUB_API_URL: `${github.url}/api/v3/` });
    assert.equal(github.requests.length, 1);
    assert.equal(github.requests[0].url, `/api/v3/repos/octo/hello/statuses/${SHA}`);
    await assertHealthy(tester);
  });

  it("makes no GitHub request without a readable token file, or without commit annotations", async () => {
    for (const overrides of [
      { GITHUB_TOKEN_FILE: undefined },
      { GITHUB_TOKEN_FILE: path.join(dir, "missing") },
    ]) {
      kube.revisions.clear();
      kube.addRevision(REVISION, { annotations: BUILT_FROM });
      const tester = await start(overrides);
      assert.equal(answerOf(await send(tester, readyEvent())).action, "testing");
      await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");
      assert.equal(verdictOf(REVISION), "passed");
      if (overrides.GITHUB_TOKEN_FILE !== undefined) {
        assert.ok(
          tester
            .logs()
            .some(
              (l) =>
                l.msg === "no commit status" &&
                /cannot read GITHUB_TOKEN_FILE .*missing: ENOENT/.test(String(l.reason)),
            ),
        );
      }
      await assertHealthy(tester);
      await tester.stop();
    }
    kube.revisions.clear();
    kube.addRevision(REVISION); // not built by the pipeline: no commit to report on
    const tester = await start();
    await send(tester, readyEvent());
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test");
    assert.ok(
      tester
        .logs()
        .some((l) => l.msg === "no commit status" && /full commit SHA/.test(String(l.reason))),
    );
    assert.equal(github.requests.length, 0);
    await assertHealthy(tester);
  });

  it("logs a refused commit status without failing, and never logs a token", async () => {
    githubAnswer = 500;
    const tester = await testOnce();
    assert.equal(verdictOf(REVISION), "passed");
    assert.equal(github.requests.length, 1);
    assert.ok(
      tester.logs().some((l) => l.msg === "GitHub refused the commit status" && l.status === 500),
    );
    const secretsSeen = SECRETS.filter((secret) => tester.output.includes(secret));
    assert.deepEqual(secretsSeen, []);
    await assertHealthy(tester);
  });

  it("exits 2 at start-up on a bad environment, naming the variable", async () => {
    const env = { ...baseEnv, ROUTE_READY_TIMEOUT_SECONDS: "soon" };
    await assert.rejects(
      TesterProcess.start(env),
      /exited with 2: .*ROUTE_READY_TIMEOUT_SECONDS must be a number from 0.001 to 3600, got \\"soon\\"/,
    );
  });
});
