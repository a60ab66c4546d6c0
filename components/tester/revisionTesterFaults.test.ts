// Issue 15: the revision tester under faults and hostile input, each case reproducing a fault
// found on loopback (the real process against stand-ins on 127.0.0.1, or its pure parts). Every
// describe block counts what it tried; the figures are printed at the end for the closing note.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { REVISION_ANNOTATIONS } from "../../common/pipelineContract";
import { SMOKE_TEST_LABEL, SMOKE_TEST_RESULT_ANNOTATION } from "../../common/revisionRecord";
import { FakeServer, httpCall, sendJson, waitFor } from "../../test/support/fakeHttp";
import { TESTER_CODE, testerCodeManifest } from "./revisionTesterManifests";
import {
  FakeKnativeApi,
  Json,
  postBinary,
  resourceEvent,
  standInTesterEnv,
  stopAllTesters,
  TargetApp,
  TESTER_SCRIPT,
  TesterProcess,
} from "../../test/support/revisionTesterHarness";

const TESTER_DIR = path.dirname(TESTER_SCRIPT);
const SHARED_DIR = path.join(TESTER_DIR, "..", "shared");

interface GithubModule {
  githubRepositoryProblem(owner: unknown, repo: unknown): string | undefined;
}
interface CommitStatusModule {
  githubRepository(cloneUrl: string): { owner: string; repo: string } | undefined;
  commitStatusRequest(
    annotations: Record<string, string>,
    verdict: string,
    result: { reason: string },
  ): { skip?: string; path?: string; body?: Json };
}
const github = require(path.join(SHARED_DIR, "github.js")) as GithubModule;
const commitStatus = require(path.join(TESTER_DIR, "commitStatus.js")) as CommitStatusModule;

const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const REVISION = "hello-0a1b2c3";
const BUILT_FROM = {
  [REVISION_ANNOTATIONS.commit]: SHA,
  [REVISION_ANNOTATIONS.repository]: "https://github.com/octo/hello.git",
};

/** What the suite tried, for the closing note of issue 15. */
const figures = {
  casesTried: 0,
  faultsSurvived: 0,
  badInputsRefused: 0,
};

after(() => {
  // Printed for the closing note; not an assertion.
  process.stdout.write(`      revision tester fault figures: ${JSON.stringify(figures)}\n`);
});

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    assert.ok(isRecord(current), `expected an object before .${key}`);
    current = current[key];
  }
  return current;
}

// ---- fault 8: names GitHub does not allow ---------------------------------------------------

describe("revision tester faults: GitHub names (issue 15, fault 8)", () => {
  it("refuses '..' and '.' as owner or repository in clone URLs, as GitHub's rules do", () => {
    const refused = [
      "https://github.com/../hello.git",
      "https://github.com/octo/...git",
      "https://github.com/octo/..",
      "https://github.com/octo/.",
      "https://github.com/./hello",
      "git@github.com:../..git",
      "git@github.com:octo/...git",
      "https://github.com/-octo/hello.git",
      "https://github.com/octo-/hello.git",
      "https://github.com/oc--to/hello.git",
      "https://github.com/oc_to/hello.git",
      `https://github.com/${"o".repeat(40)}/hello.git`,
      `https://github.com/octo/${"r".repeat(101)}.git`,
    ];
    for (const url of refused) {
      figures.casesTried++;
      assert.equal(commitStatus.githubRepository(url), undefined, url);
      const request = commitStatus.commitStatusRequest(
        { ...BUILT_FROM, [REVISION_ANNOTATIONS.repository]: url },
        "passed",
        { reason: "" },
      );
      assert.equal(request.path, undefined, `${url} must not become an API path`);
      assert.match(request.skip ?? "", /GitHub/);
      figures.badInputsRefused++;
    }
    const accepted: Array<[string, string, string]> = [
      ["https://github.com/octo/hello.git", "octo", "hello"],
      ["https://github.com/o-c-t-o/.hello.git", "o-c-t-o", ".hello"],
      ["https://github.com/octo/a..b.git", "octo", "a..b"],
      ["git@github.com:octo/hello_world.js.git", "octo", "hello_world.js"],
      [`https://github.com/${"o".repeat(39)}/${"r".repeat(100)}`, "o".repeat(39), "r".repeat(100)],
    ];
    for (const [url, owner, repo] of accepted) {
      figures.casesTried++;
      assert.deepEqual(commitStatus.githubRepository(url), { owner, repo }, url);
    }
  });

  it("exports githubRepositoryProblem, naming the bad value and what is valid", () => {
    const cases: Array<[unknown, unknown, RegExp | undefined]> = [
      ["octo", "hello", undefined],
      ["..", "hello", /owner "\.\." is not a GitHub account name/],
      ["octo", "..", /repository "\.\." .*"\." and "\.\." are not allowed/],
      ["octo", ".", /repository "\." /],
      ["octo", "", /repository/],
      ["", "hello", /owner/],
      ["a/b", "hello", /owner/],
      ["octo", "a/b", /repository/],
      [undefined, "hello", /owner/],
      ["octo", 5, /repository/],
    ];
    for (const [owner, repo, problem] of cases) {
      figures.casesTried++;
      const found = github.githubRepositoryProblem(owner, repo);
      if (problem === undefined) assert.equal(found, undefined);
      else {
        assert.match(found ?? "", problem, JSON.stringify([owner, repo]));
        figures.badInputsRefused++;
      }
    }
  });
});

// ---- the real process against stand-ins ----------------------------------------------------

const K8S_TOKEN = "k8s-token-1-Zq8vSECRET";
const GITHUB_TOKEN = "ghs_statusToken7SECRET";
const CLAIM = "canary-release.dev/smoke-test-claim";
const ROUTE_POST = /^\/routes$/;

describe("revision tester faults (real process, stand-in APIs on 127.0.0.1)", () => {
  let kube: FakeKnativeApi;
  let githubApi: FakeServer;
  let target: TargetApp;
  let dir: string;
  let baseEnv: Record<string, string>;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-tester-faults-"));
    fs.writeFileSync(path.join(dir, "token"), `${K8S_TOKEN}\n`);
    fs.writeFileSync(path.join(dir, "github-token"), `${GITHUB_TOKEN}\n`);
    kube = new FakeKnativeApi("apps");
    kube.validTokens = new Set([K8S_TOKEN]);
    kube.routeReadyAfterGets = 2;
    githubApi = new FakeServer((_req, res) => sendJson(res, 201, { id: 1 }));
    target = new TargetApp();
    const [kubeUrl, githubUrl, targetUrl] = await Promise.all([
      kube.start(),
      githubApi.start(),
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
      ROUTE_READY_TIMEOUT_SECONDS: "3",
      REQUEST_TIMEOUT_MS: "500",
      CLAIM_TTL_SECONDS: "30",
      TESTER_ID: "tester-a",
    };
  });

  afterEach(async () => {
    await stopAllTesters();
    await Promise.all([kube.stop(), githubApi.stop(), target.server.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function start(overrides: Record<string, string> = {}): Promise<TesterProcess> {
    return TesterProcess.start({ ...baseEnv, ...overrides });
  }

  const verdictOf = (name: string) =>
    at(kube.revision(name), "metadata", "labels", SMOKE_TEST_LABEL);
  const resultOf = (name: string): Json =>
    JSON.parse(
      String(at(kube.revision(name), "metadata", "annotations", SMOKE_TEST_RESULT_ANNOTATION)),
    ) as Json;
  const statesPosted = () => githubApi.requests.map((r) => (JSON.parse(r.body) as Json).state);

  async function testRevision(tester: TesterProcess, finished = 1): Promise<void> {
    const answer = await postBinary(
      `${tester.url}/`,
      resourceEvent("add", kube.revision(REVISION)),
    );
    assert.equal(answer.status, 202, answer.text);
    await tester.waitForLog(() => tester.finishedTests() >= finished, "the end of the test", 15000);
  }

  // ---- fault 1: an infrastructure error is not a verdict ----

  for (const [what, fault] of [
    ["answers the smoke Route's POST with one 500", "500"],
    ["lets the smoke Route's POST time out once", "hang"],
  ] as const) {
    it(`passes a good revision when the API ${what}: retried inside the claim (fault 1)`, async () => {
      figures.casesTried++;
      kube.addRevision(REVISION, { annotations: BUILT_FROM });
      kube.faults.push({ method: "POST", call: ROUTE_POST, fault, times: 1 });
      const tester = await start();
      await testRevision(tester);
      assert.equal(verdictOf(REVISION), "passed", JSON.stringify(resultOf(REVISION)));
      assert.deepEqual(statesPosted(), ["success"]);
      assert.equal(kube.exchangesOf("POST", "/routes").length, 2, "one retry");
      assert.equal(kube.routes.size, 0, "no smoke Route left behind");
      figures.faultsSurvived++;
    });
  }

  it("records `error`, not `failed`, when the API keeps failing, and the resync retests it (fault 1)", async () => {
    figures.casesTried++;
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    kube.faults.push({ method: "POST", call: ROUTE_POST, fault: "500", times: 1000 });
    const tester = await start({ ROUTE_READY_TIMEOUT_SECONDS: "1" });
    await testRevision(tester);
    assert.equal(verdictOf(REVISION), "error");
    const result = resultOf(REVISION);
    assert.match(String(result.reason), /could not run.*creating Route .*HTTP 500/);
    assert.equal(result.status, null);
    assert.equal(target.server.requests.length, 0, "the app was never asked");
    assert.ok(!statesPosted().includes("failure"), "no GitHub failure for an infrastructure error");
    assert.deepEqual(statesPosted(), ["error"]);
    assert.ok(kube.exchangesOf("POST", "/routes").length >= 2, "retried before giving up");

    // An event about the `error` revision does not retest at once (no hot loop on a broken API)...
    const again = await postBinary(
      `${tester.url}/`,
      resourceEvent("update", kube.revision(REVISION)),
    );
    assert.match(String((JSON.parse(again.text) as Json).reason), /error.*resync/);
    await tester.stop();

    // ...the resync does, once the API is well again, and its verdict replaces `error`.
    kube.faults = [];
    const resynced = await start({ RESYNC_INTERVAL_SECONDS: "60" });
    await resynced.waitForLog(() => resynced.finishedTests() === 1, "the retest", 15000);
    assert.equal(verdictOf(REVISION), "passed");
    assert.match(String(resultOf(REVISION).reason), /answered HTTP 200/);
    assert.equal(at(kube.revision(REVISION), "metadata", "annotations", CLAIM), undefined);
    assert.deepEqual(statesPosted(), ["error", "success"]);
    figures.faultsSurvived++;
  });

  it("backs off retesting an `error` result: after 1, 2, 4 ... resyncs, counted in the result (fault 1)", async () => {
    figures.casesTried += 2;
    const errorResult = (errors: number, agoMs: number) => ({
      labels: { [SMOKE_TEST_LABEL]: "error" },
      annotations: {
        ...BUILT_FROM,
        [SMOKE_TEST_RESULT_ANNOTATION]: JSON.stringify({
          status: null,
          latencyMs: null,
          at: new Date(Date.now() - agoMs).toISOString(),
          reason: "the smoke test could not run (retested at a later resync): injected",
          errors,
        }),
      },
    });
    // Two errors in a row: the next retest waits for the second resync after the last one, i.e.
    // at least one full interval (60 s here).
    kube.addRevision(REVISION, errorResult(2, 61000));
    kube.addRevision("hello-1111111", errorResult(2, 30000));
    kube.faults.push({ method: "POST", call: ROUTE_POST, fault: "500", times: 1000 });
    const tester = await start({
      ROUTE_READY_TIMEOUT_SECONDS: "0.3",
      RESYNC_INTERVAL_SECONDS: "60",
    });
    await tester.waitForLog(() => tester.finishedTests() === 1, "the retest", 15000);
    assert.equal(verdictOf(REVISION), "error");
    const result = resultOf(REVISION);
    assert.equal(result.errors, 3, "the third test in a row that could not run");
    assert.match(String(result.reason), /could not run \(retried at the 4th resync from now\)/);
    // The other one is not due yet: no smoke Route was even tried for it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(tester.finishedTests(), 1);
    assert.ok(
      !kube.exchangesOf("POST", "/routes").some((e) => e.request.body.includes("hello-1111111")),
      "the revision whose retest is not due was left alone",
    );
    figures.faultsSurvived++;
  });

  it("still fails a revision on the app's own answer, after an infrastructure retry (fault 1)", async () => {
    figures.casesTried++;
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    kube.faults.push({ method: "POST", call: ROUTE_POST, fault: "500", times: 1 });
    target.mode = "fail";
    const tester = await start();
    await testRevision(tester);
    assert.equal(verdictOf(REVISION), "failed");
    assert.match(String(resultOf(REVISION).reason), /answered HTTP 500/);
    assert.deepEqual(statesPosted(), ["failure"]);
  });

  it("records `error`, not `failed`, when API errors took most of the window and the Route is then Ready too late (fault 1)", async () => {
    figures.casesTried++;
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    // ROUTE_READY_TIMEOUT_SECONDS 3, POLL_INTERVAL_MS 10: eight failed POSTs and their backoffs
    // (10, 20, ... 1280 ms) take about 2.55 s; the ninth creates the Route with 0.45 s left.
    kube.faults.push({ method: "POST", call: ROUTE_POST, fault: "500", times: 8 });
    kube.routeReadyAfterGets = undefined; // a normal Route, but not Ready in what is left
    const tester = await start();
    await testRevision(tester);
    const posts = kube.exchangesOf("POST", "/routes");
    assert.deepEqual(
      posts.map((e) => e.status),
      [500, 500, 500, 500, 500, 500, 500, 500, 201],
      "the API recovered within the window and the Route was created",
    );
    assert.equal(verdictOf(REVISION), "error", JSON.stringify(resultOf(REVISION)));
    assert.match(
      String(resultOf(REVISION).reason),
      /could not run.*was not Ready within 3 s.*after API errors/,
    );
    assert.deepEqual(statesPosted(), ["error"], "no GitHub failure for a shortened wait");
    assert.equal(target.server.requests.length, 0, "the app was never asked");
    figures.faultsSurvived++;
  });
});

describe("revision tester faults: lost answers (issue 15, fault 5)", () => {
  // Reuses the stand-ins of the block above through a small local setup.
  let kube: FakeKnativeApi;
  let target: TargetApp;
  let dir: string;
  let env: Record<string, string>;
  const PATCH_REVISION = new RegExp(`^/revisions/${REVISION}$`);

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-tester-faults-"));
    fs.writeFileSync(path.join(dir, "token"), `${K8S_TOKEN}\n`);
    kube = new FakeKnativeApi("apps");
    kube.validTokens = new Set([K8S_TOKEN]);
    target = new TargetApp();
    const [kubeUrl, targetUrl] = await Promise.all([kube.start(), target.server.start()]);
    kube.routeUrl = targetUrl;
    env = {
      ...standInTesterEnv(kubeUrl, path.join(dir, "token")),
      TEST_TIMEOUT_SECONDS: "1",
      ROUTE_READY_TIMEOUT_SECONDS: "3",
      REQUEST_TIMEOUT_MS: "500",
      CLAIM_TTL_SECONDS: "30",
      TESTER_ID: "tester-a",
    };
  });

  afterEach(async () => {
    await stopAllTesters();
    await Promise.all([kube.stop(), target.server.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Claim patches only: the result patch removes the claim and sets the label. */
  const claimPatches = () =>
    kube
      .exchangesOf("PATCH", `/revisions/${REVISION}`)
      .filter((e) => e.request.body.includes(CLAIM) && !e.request.body.includes(`"labels"`));
  const send = (tester: TesterProcess) =>
    postBinary(`${tester.url}/`, resourceEvent("add", kube.revision(REVISION)));
  const verdictOf = () => at(kube.revision(REVISION), "metadata", "labels", SMOKE_TEST_LABEL);

  for (const fault of ["lose-answer", "not-json"] as const) {
    it(`tests at once when the claim was applied but its answer was ${fault === "lose-answer" ? "lost" : "not JSON"} (fault 5)`, async () => {
      figures.casesTried++;
      kube.addRevision(REVISION);
      kube.faults.push({ method: "PATCH", call: PATCH_REVISION, fault, times: 1 });
      const tester = await TesterProcess.start(env);
      const answer = await send(tester);
      assert.equal(answer.status, 202, answer.text);
      assert.deepEqual(JSON.parse(answer.text), { action: "testing", revision: REVISION });
      await tester.waitForLog(() => tester.finishedTests() === 1, "the end of the test");
      assert.equal(verdictOf(), "passed");
      assert.equal(claimPatches().length, 1, "the claim was made once, and re-read, not repeated");
      assert.ok(
        tester.logs().some((l) => /claim .*applied/.test(l.msg)),
        "the re-read is logged",
      );
      figures.faultsSurvived++;
    });
  }

  it("answers 502, not 202, when re-claiming an expired claim whose PATCH was lost and not applied (fault 5)", async () => {
    figures.casesTried++;
    const dead = JSON.stringify({ holder: "tester-dead", at: "2020-01-01T00:00:00.000Z" });
    kube.addRevision(REVISION, { annotations: { [CLAIM]: dead } });
    // The re-claim's PATCH is neither applied nor answered: the re-read still shows the dead
    // tester's expired claim, which is no live tester's.
    kube.faults.push({ method: "PATCH", call: PATCH_REVISION, fault: "hang", times: 1 });
    const tester = await TesterProcess.start(env);
    const first = await send(tester);
    assert.equal(first.status, 502, `the sender must retry: ${first.text}`);
    assert.match(String((JSON.parse(first.text) as Json).error), /not applied/);
    assert.equal(at(kube.revision(REVISION), "metadata", "annotations", CLAIM), dead);
    const retried = await send(tester);
    assert.equal((JSON.parse(retried.text) as Json).action, "testing", retried.text);
    await tester.waitForLog(() => tester.finishedTests() === 1, "the end of the test");
    assert.equal(verdictOf(), "passed");
    figures.faultsSurvived++;
  });

  it("counts a result as recorded when its patch was applied but the answer lost (fault 5)", async () => {
    figures.casesTried++;
    kube.addRevision(REVISION);
    kube.onRouteCreated = () => {
      // The claim is made by now: the next PATCH is the result's.
      kube.faults.push({ method: "PATCH", call: PATCH_REVISION, fault: "lose-answer", times: 1 });
    };
    const tester = await TesterProcess.start(env);
    await send(tester);
    await tester.waitForLog(() => tester.finishedTests() === 1, "the end of the test", 10000);
    assert.equal(verdictOf(), "passed");
    const finished = tester.logs().find((l) => l.msg === "smoke test finished");
    assert.equal(finished?.recorded, true, "recorded, so the commit status is posted");
    assert.ok(!tester.logs().some((l) => /taken over/.test(l.msg)));
    figures.faultsSurvived++;
  });

  it("does not drop the event when a Revision read answers 200 with a body that is not JSON (fault 5)", async () => {
    figures.casesTried++;
    kube.addRevision(REVISION);
    kube.faults.push({ method: "GET", call: PATCH_REVISION, fault: "not-json", times: 1 });
    const tester = await TesterProcess.start(env);
    const first = await send(tester);
    assert.equal(first.status, 502, `a transient error, so the sender retries: ${first.text}`);
    assert.match(String((JSON.parse(first.text) as Json).error), /not JSON/);
    const retried = await send(tester);
    assert.equal((JSON.parse(retried.text) as Json).action, "testing");
    await tester.waitForLog(() => tester.finishedTests() === 1, "the end of the test");
    assert.equal(verdictOf(), "passed");
    figures.faultsSurvived++;
  });
});

describe("revision tester faults: idle connections (issue 15, fault 4)", () => {
  let kube: FakeKnativeApi;
  let dir: string;
  let sockets: net.Socket[] = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-tester-faults-"));
    fs.writeFileSync(path.join(dir, "token"), `${K8S_TOKEN}\n`);
    kube = new FakeKnativeApi("apps");
    kube.validTokens = new Set([K8S_TOKEN]);
    await kube.start();
  });

  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets = [];
    await stopAllTesters();
    await kube.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Opens `count` connections that send nothing (or only `prefix`); records when each closes. */
  async function idleSockets(port: number, count: number, prefix = "") {
    const closed: boolean[] = [];
    const opened = await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          new Promise<net.Socket>((resolve, reject) => {
            closed[i] = false;
            const socket = net.connect(port, "127.0.0.1", () => {
              if (prefix !== "") socket.write(prefix);
              resolve(socket);
            });
            socket.on("error", () => undefined); // a reset by the server is what we expect
            socket.on("close", () => (closed[i] = true));
            socket.once("error", reject);
          }),
      ),
    );
    sockets.push(...opened);
    return closed;
  }

  function startTester(idleTimeoutSeconds: string, maxConnections: string) {
    return TesterProcess.start({
      PORT: "0",
      LISTEN_HOST: "127.0.0.1",
      NAMESPACE: "apps",
      KUBERNETES_API_URL: kube.server.url,
      KUBERNETES_TOKEN_FILE: path.join(dir, "token"),
      RESYNC_INTERVAL_SECONDS: "0",
      IDLE_TIMEOUT_SECONDS: idleTimeoutSeconds,
      MAX_CONNECTIONS: maxConnections,
    });
  }

  it("closes connections that send nothing or stall, and answers /healthz meanwhile (fault 4)", async () => {
    const tester = await startTester("1", "40");
    figures.casesTried += 2;
    // 30 silent and 9 stalled mid-request: 39 of 40 connections held open by clients.
    const silent = await idleSockets(tester.port, 30);
    const stalled = await idleSockets(tester.port, 9, "POST / HTTP/1.1\r\nHost: x\r\n");
    const health = await httpCall(`${tester.url}/healthz`, { timeoutMs: 2000 });
    assert.equal(health.status, 200, "/healthz answers while the idle sockets are open");
    await waitFor(
      () => [...silent, ...stalled].every((closed) => closed),
      "the tester to close every idle connection",
      8000,
    );
    figures.faultsSurvived += 2;
    assert.equal(tester.exitCode, null);
  });

  it("closes connections past MAX_CONNECTIONS at once, long before the idle timeout (fault 4)", async () => {
    // IDLE_TIMEOUT_SECONDS 30: within this test only the bound can close a silent connection,
    // so a tester without server.maxConnections fails here.
    const tester = await startTester("30", "40");
    figures.casesTried++;
    // 39 held open: the 40th slot is /healthz's.
    const held = await idleSockets(tester.port, 39);
    const health = await httpCall(`${tester.url}/healthz`, { timeoutMs: 2000 });
    assert.equal(health.status, 200, "/healthz answers with 39 idle connections open");
    // The 40th fills the bound (opened alone, so the kernel's accept order cannot swap it with
    // the extra ones); the next 10 are past it.
    held.push(...(await idleSockets(tester.port, 1)));
    const opened = Date.now();
    const beyond = await idleSockets(tester.port, 10);
    await waitFor(
      () => beyond.every((closed) => closed),
      "the 10 connections past MAX_CONNECTIONS to be closed",
      2000,
    );
    assert.ok(Date.now() - opened < 2000, "closed at once, not by the 30 s idle timeout");
    figures.badInputsRefused += 10;
    // The ones within the bound are left alone: the bound refuses newcomers, it cuts no one.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      held.filter((closed) => closed),
      [],
      "no connection within the bound was closed",
    );
    // One client leaves: its slot serves /healthz again (the server sees the close shortly).
    sockets[0].destroy();
    const freed = Date.now() + 3000;
    let answered: number | undefined;
    while (answered !== 200 && Date.now() < freed) {
      answered = await httpCall(`${tester.url}/healthz`, { timeoutMs: 500 }).then(
        (answer) => answer.status,
        () => undefined, // closed at once: the server has not seen the slot free yet
      );
    }
    assert.equal(answered, 200, "/healthz answers once a slot is free");
    figures.faultsSurvived++;
    assert.equal(tester.exitCode, null);
  });

  it("refuses a bad IDLE_TIMEOUT_SECONDS or MAX_CONNECTIONS, naming it (fault 4)", () => {
    const config = require(path.join(TESTER_DIR, "config.js")) as {
      readConfig(env: Record<string, string>): { idleTimeoutMs: number; maxConnections: number };
    };
    const good = { NAMESPACE: "apps" };
    assert.deepEqual(
      [config.readConfig(good).idleTimeoutMs, config.readConfig(good).maxConnections],
      [30000, 256],
    );
    for (const [env, message] of [
      [
        { IDLE_TIMEOUT_SECONDS: "0" },
        /IDLE_TIMEOUT_SECONDS must be a number from 0.1 to 3600, got "0"/,
      ],
      [{ MAX_CONNECTIONS: "0" }, /MAX_CONNECTIONS must be a whole number from 1 to 65535, got "0"/],
      [{ MAX_CONNECTIONS: "1.5" }, /MAX_CONNECTIONS must be a whole number/],
    ] as const) {
      figures.casesTried++;
      assert.throws(() => config.readConfig({ ...good, ...env }), message);
      figures.badInputsRefused++;
    }
  });
});

describe("revision tester faults: secrets in logs (issue 15, fault 11)", () => {
  // Tokens with the characters JSON escapes: a redaction made on the escaped line misses them.
  const QUOTED_K8S_TOKEN = 'Qz7"w\\k8s-SECRET-token-quoted';
  const QUOTED_GITHUB_TOKEN = 'Gh9"p\\github-SECRET-token-quoted';
  let kube: FakeKnativeApi;
  let githubApi: FakeServer;
  let target: TargetApp;
  let dir: string;

  /** An answer that echoes the request's token so that it straddles the 300-character cut. */
  const echo = (authorization: string | undefined) => {
    const token = String(authorization).replace(/^Bearer /, "");
    return `${"x".repeat(300 - 6)}${token} and more`;
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-tester-faults-"));
    fs.writeFileSync(path.join(dir, "token"), `${QUOTED_K8S_TOKEN}\n`);
    fs.writeFileSync(path.join(dir, "github-token"), `${QUOTED_GITHUB_TOKEN}\n`);
    kube = new FakeKnativeApi("apps");
    kube.validTokens = new Set([QUOTED_K8S_TOKEN]);
    githubApi = new FakeServer((req, res) => {
      // GitHub's JSON error, echoing the token (escaped in JSON), then the same as plain text.
      if (githubApi.requests.length === 1) {
        sendJson(res, 422, { message: `bad credentials ${req.headers.authorization}` });
      } else {
        res.writeHead(422, { "Content-Type": "text/plain" });
        res.end(echo(req.headers.authorization));
      }
    });
    target = new TargetApp();
    const [, , targetUrl] = await Promise.all([
      kube.start(),
      githubApi.start(),
      target.server.start(),
    ]);
    kube.routeUrl = targetUrl;
  });

  afterEach(async () => {
    await stopAllTesters();
    await Promise.all([kube.stop(), githubApi.stop(), target.server.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Every form of every 8-character piece of `secret`, raw and JSON-escaped. */
  function leaks(text: string, secret: string): string[] {
    const found: string[] = [];
    for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) {
      for (let i = 0; i + 8 <= form.length; i++) {
        if (text.includes(form.slice(i, i + 8))) found.push(form.slice(i, i + 8));
      }
    }
    return found;
  }

  it("redacts tokens with quote and backslash, and a token cut at 300 characters (fault 11)", async () => {
    kube.addRevision(REVISION, { annotations: BUILT_FROM });
    kube.addRevision("hello-1111111", { annotations: BUILT_FROM });
    const revisionCall = (name: string) => new RegExp(`^/revisions/${name}$`);
    // The API echoes the token: in a JSON Status (escaped), and in text across the cut.
    kube.faults.push(
      {
        method: "GET",
        call: revisionCall("hello-1111111"),
        fault: "500",
        times: 1,
        body: (req) => ({
          kind: "Status",
          reason: "InternalError",
          message: `token ${String(req.headers.authorization)}`,
        }),
      },
      {
        method: "GET",
        call: revisionCall("hello-1111111"),
        fault: "500",
        times: 1,
        body: (req) => echo(req.headers.authorization),
      },
    );
    const tester = await TesterProcess.start({
      PORT: "0",
      LISTEN_HOST: "127.0.0.1",
      NAMESPACE: "apps",
      CONFIGURATION: "hello",
      KUBERNETES_API_URL: kube.server.url,
      KUBERNETES_TOKEN_FILE: path.join(dir, "token"),
      GITHUB_API_URL: githubApi.url,
      GITHUB_TOKEN_FILE: path.join(dir, "github-token"),
      TEST_PATH: "/healthz",
      POLL_INTERVAL_MS: "10",
      RESYNC_INTERVAL_SECONDS: "0",
      LOG_LEVEL: "debug",
    });
    const answers: string[] = [];
    for (let i = 0; i < 2; i++) {
      figures.casesTried++;
      const answer = await postBinary(
        `${tester.url}/`,
        resourceEvent("add", kube.revision("hello-1111111")),
      );
      assert.equal(answer.status, 502);
      answers.push(answer.text);
    }
    for (let i = 1; i <= 2; i++) {
      figures.casesTried++;
      const name = i === 1 ? REVISION : "hello-1111111";
      await postBinary(`${tester.url}/`, resourceEvent("add", kube.revision(name)));
      await tester.waitForLog(() => tester.finishedTests() === i, "the end of a test");
    }
    await tester.waitForLog(
      (l) => l.msg === "GitHub refused the commit status",
      "the refused status",
    );
    await waitFor(
      () => tester.logs().filter((l) => l.msg === "GitHub refused the commit status").length === 2,
      "both refused statuses logged",
    );
    assert.equal(githubApi.requests.length, 2);
    const everything = [tester.output, ...answers].join("\n");
    assert.deepEqual(leaks(everything, QUOTED_K8S_TOKEN), []);
    assert.deepEqual(leaks(everything, QUOTED_GITHUB_TOKEN), []);
    assert.ok(everything.includes("[redacted]"), "the echoes were logged, redacted");
    figures.faultsSurvived += 4;
  });
});

describe("revision tester faults: EXPECT_BODY (issue 15, fault 12)", () => {
  let kube: FakeKnativeApi;
  let target: TargetApp;
  let dir: string;
  let env: Record<string, string>;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-tester-faults-"));
    fs.writeFileSync(path.join(dir, "token"), `${K8S_TOKEN}\n`);
    kube = new FakeKnativeApi("apps");
    kube.validTokens = new Set([K8S_TOKEN]);
    target = new TargetApp();
    const [kubeUrl, targetUrl] = await Promise.all([kube.start(), target.server.start()]);
    kube.routeUrl = targetUrl;
    env = {
      ...standInTesterEnv(kubeUrl, path.join(dir, "token")),
      TEST_TIMEOUT_SECONDS: "5",
      EXPECT_BODY_TIMEOUT_SECONDS: "1",
    };
    kube.addRevision(REVISION);
  });

  afterEach(async () => {
    await stopAllTesters();
    await Promise.all([kube.stop(), target.server.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const verdictOf = () => at(kube.revision(REVISION), "metadata", "labels", SMOKE_TEST_LABEL);
  const reasonOf = () =>
    String(
      (
        JSON.parse(
          String(
            at(kube.revision(REVISION), "metadata", "annotations", SMOKE_TEST_RESULT_ANNOTATION),
          ),
        ) as Json
      ).reason,
    );

  it("answers /healthz while a catastrophic EXPECT_BODY runs, and records `error` at its deadline (fault 12)", async () => {
    figures.casesTried++;
    target.body = `${"a".repeat(40)}!`; // ^(a+)+$ backtracks 2^40 times on this
    const tester = await TesterProcess.start({ ...env, EXPECT_BODY: "^(a+)+$" });
    await postBinary(`${tester.url}/`, resourceEvent("add", kube.revision(REVISION)));
    await waitFor(() => target.server.requests.length === 1, "the smoke request");
    await new Promise((resolve) => setTimeout(resolve, 100)); // the match is running now
    const health = await httpCall(`${tester.url}/healthz`, { timeoutMs: 2000 });
    assert.equal(health.status, 200, "/healthz answers within 2 s while the pattern runs");
    await tester.waitForLog(() => tester.finishedTests() === 1, "the end of the test", 15000);
    assert.equal(verdictOf(), "error", "a match out of time is no verdict on the revision");
    assert.match(reasonOf(), /EXPECT_BODY \/\^\(a\+\)\+\$\/ did not finish within 1 s/);
    figures.faultsSurvived++;
  });

  it("matches EXPECT_BODY on the first 64 KiB of the body only (fault 12)", async () => {
    figures.casesTried += 2;
    target.body = `ok${"x".repeat(200 * 1024)}TAIL`;
    const tester = await TesterProcess.start({ ...env, EXPECT_BODY: "TAIL$" });
    await postBinary(`${tester.url}/`, resourceEvent("add", kube.revision(REVISION)));
    await tester.waitForLog(() => tester.finishedTests() === 1, "the end of the test", 15000);
    assert.equal(verdictOf(), "failed");
    assert.match(reasonOf(), /does not match \/TAIL\$\/ \(in its first 65536 bytes\)/);
    figures.badInputsRefused++;
  });

  interface Outcome {
    verdict: string;
    reason: string;
  }
  type Match = (regex: RegExp, body: string, timeoutMs: number) => Promise<unknown>;
  const bodyMatch = require(path.join(TESTER_DIR, "bodyMatch.js")) as {
    matchBody(
      regex: RegExp,
      body: string,
      timeoutMs: number,
      createWorker?: (file: string, options: unknown) => unknown,
    ): Promise<{ matched?: boolean; timedOut?: boolean; error?: string }>;
  };
  const smokeTest = require(path.join(TESTER_DIR, "smokeTest.js")) as {
    probe(baseUrl: string, config: Json, match?: Match): Promise<Outcome>;
  };
  const cannotStart = () => {
    // What `new Worker` throws when the process may start no more threads.
    throw Object.assign(new Error("Resource temporarily unavailable"), { code: "EAGAIN" });
  };
  const probeConfig = () => ({
    testPath: "/healthz",
    expectStatus: 200,
    expectBody: /^ok/,
    testTimeoutMs: 5000,
    expectBodyTimeoutMs: 1000,
  });

  it("resolves to {error} when the match's worker cannot be created, and never rejects (fault 12)", async () => {
    figures.casesTried++;
    const outcome = await bodyMatch.matchBody(/^ok/, "ok", 1000, cannotStart);
    assert.deepEqual(outcome, {
      error: "cannot start the match's worker thread: Resource temporarily unavailable",
    });
    // The real worker still matches.
    assert.deepEqual(await bodyMatch.matchBody(/^ok/, "ok", 5000), { matched: true });
    figures.faultsSurvived++;
  });

  it("records `error`, not `failed`, when the match's worker cannot be created (fault 12)", async () => {
    figures.casesTried++;
    const outcome = await smokeTest.probe(target.server.url, probeConfig(), (regex, body, ms) =>
      bodyMatch.matchBody(regex, body, ms, cannotStart),
    );
    assert.equal(outcome.verdict, "error", outcome.reason);
    assert.match(outcome.reason, /EXPECT_BODY could not be evaluated: cannot start the match's/);
    figures.faultsSurvived++;
  });

  it("turns only the app's HTTP failure into `failed`: a tester bug after it is no verdict (fault 12)", async () => {
    figures.casesTried++;
    const bug = () => Promise.reject(new TypeError("a bug in the tester"));
    // probe rejects; attemptSmokeTest records an unexpected error as `error` (tester error).
    await assert.rejects(smokeTest.probe(target.server.url, probeConfig(), bug), /a bug/);
    // The app's own silence is still the app's failure.
    target.mode = "hang";
    const silent = await smokeTest.probe(target.server.url, {
      ...probeConfig(),
      testTimeoutMs: 200,
    });
    assert.equal(silent.verdict, "failed");
    assert.match(silent.reason, /no complete answer within 0.2 s/);
    figures.faultsSurvived++;
  });

  it("ships the match's worker in the tester's code ConfigMap (fault 12)", () => {
    figures.casesTried++;
    const shipped = TESTER_CODE.items.map((item) => item.path);
    assert.ok(shipped.includes("revision-tester/bodyMatch.js"), shipped.join(", "));
    const data = testerCodeManifest({
      app: "hello",
      namespace: "apps",
      image: "docker.io/library/node:22.18.0-alpine3.22",
      path: "/healthz",
      expectStatus: 200,
      timeoutSeconds: 1,
      tokenSecretKey: "token",
    }).data;
    assert.equal(
      data["revision-tester__bodyMatch.js"],
      fs.readFileSync(path.join(TESTER_DIR, "bodyMatch.js"), "utf8"),
    );
  });
});
