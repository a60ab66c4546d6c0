// Issue 15, the build pipeline's faults: each case reproduces a fault found with hostile input or
// a misbehaving server on loopback, run against the real step programs (processes) with
// stand-in tools and stand-in servers. Each suite prints its figures (cases tried, faults
// survived, bad inputs refused) for the issue's closing note.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PIPELINE_SCRIPTS_DIR } from "./buildPipelineManifests";
import { FakeServer, RecordedRequest, sendJson } from "../../test/support/fakeHttp";
import { RunResult, runProcess } from "../../test/support/processes";

const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";

/** The step programs here meet dripping and 300 MB answers: a longer bound than the default. */
const run = (
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs = 20_000,
): Promise<RunResult> => runProcess(command, args, env, timeoutMs);

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `canary-faults-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The figures a suite reports, printed after it. */
class Tally {
  tried = 0;
  survived = 0;
  refused = 0;
  constructor(private readonly fault: string) {}
  print(): void {
    console.log(
      `      ${this.fault}: ${this.tried} cases tried, ${this.survived} faults survived, ` +
        `${this.refused} bad inputs refused`,
    );
  }
}

// ---- fault 9: symlinks leaving the checkout --------------------------------------------------

describe("issue 15 fault 9: build-image.sh refuses symlinks that leave the checkout", () => {
  const script = path.join(PIPELINE_SCRIPTS_DIR, "build-image.sh");
  const tally = new Tally("fault 9 (symlinks)");
  after(() => tally.print());
  let bin: string;

  before(() => {
    // A stand-in buildah that records that it ran and, for push, writes a digest.
    bin = tempDir("bin");
    fs.writeFileSync(
      path.join(bin, "buildah"),
      [
        "#!/bin/sh",
        'echo "$@" >>"$BUILDAH_LOG"',
        'for arg in "$@"; do',
        '  case "$arg" in --digestfile=*) printf "sha256:%064d" 0 >"${arg#--digestfile=}";; esac',
        "done",
      ].join("\n"),
      { mode: 0o755 },
    );
  });

  /**
   * A checkout with app/Dockerfile, beside it (outside the checkout) a directory holding a
   * stand-in of the mounted registry credentials, as a pod has them.
   */
  function setup(): { root: string; source: string; secrets: string; env: Record<string, string> } {
    const root = tempDir("symlinks");
    const source = path.join(root, "workspace", "source");
    const secrets = path.join(root, "workspace", "dockerconfig");
    fs.mkdirSync(path.join(source, "app"), { recursive: true });
    fs.mkdirSync(secrets, { recursive: true });
    fs.writeFileSync(path.join(source, "app", "Dockerfile"), "FROM scratch\nCOPY . /\n");
    fs.writeFileSync(path.join(secrets, "config.json"), '{"auths":{"r":{"auth":"c2VjcmV0"}}}');
    fs.writeFileSync(path.join(secrets, "Dockerfile"), "FROM scratch\n");
    return {
      root,
      source,
      secrets,
      env: {
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        BUILDAH_LOG: path.join(root, "buildah.log"),
        IMAGE_REPOSITORY: "registry.example.com/team/hello",
        REVISION: SHA,
        SOURCE_DIR: source,
        CONTEXT_DIR: "app",
        DOCKERFILE: "Dockerfile",
        DIGEST_FILE: path.join(root, "digest"),
      },
    };
  }

  it("refuses a context dir or Dockerfile whose real path is outside the checkout, before buildah runs", async () => {
    type Case = {
      readonly what: string;
      readonly links: (s: { source: string; secrets: string }) => void;
      readonly env: Record<string, string>;
      readonly refused: RegExp;
    };
    const cases: Case[] = [
      {
        what: "the context dir is a symlink to the credentials' directory",
        links: ({ source, secrets }) => fs.symlinkSync(secrets, path.join(source, "ctx")),
        env: { CONTEXT_DIR: "ctx" },
        refused: /CONTEXT_DIR 'ctx' resolves to .*dockerconfig, outside the checkout/,
      },
      {
        what: "the context dir is a relative symlink climbing out",
        links: ({ source }) => fs.symlinkSync("../dockerconfig", path.join(source, "ctx")),
        env: { CONTEXT_DIR: "ctx" },
        refused: /CONTEXT_DIR 'ctx' resolves to .*dockerconfig, outside the checkout/,
      },
      {
        what: "a parent of the context dir is a symlink out",
        links: ({ source, secrets }) => {
          fs.mkdirSync(path.join(secrets, "sub"));
          fs.writeFileSync(path.join(secrets, "sub", "Dockerfile"), "FROM scratch\n");
          fs.symlinkSync(secrets, path.join(source, "up"));
        },
        env: { CONTEXT_DIR: "up/sub" },
        refused: /CONTEXT_DIR 'up\/sub' resolves to .*dockerconfig\/sub, outside the checkout/,
      },
      {
        what: "the Dockerfile is a symlink to the credentials",
        links: ({ source, secrets }) => {
          fs.rmSync(path.join(source, "app", "Dockerfile"));
          fs.symlinkSync(path.join(secrets, "config.json"), path.join(source, "app", "Dockerfile"));
        },
        env: {},
        refused: /DOCKERFILE 'Dockerfile' resolves to .*config\.json, outside the checkout/,
      },
      {
        what: "the Dockerfile is a relative symlink climbing out",
        links: ({ source }) => {
          fs.rmSync(path.join(source, "app", "Dockerfile"));
          fs.symlinkSync("../../dockerconfig/Dockerfile", path.join(source, "app", "Dockerfile"));
        },
        env: {},
        refused: /DOCKERFILE 'Dockerfile' resolves to .*dockerconfig\/Dockerfile, outside/,
      },
      {
        what: "the Dockerfile sits in a directory that is a symlink out",
        links: ({ source, secrets }) => fs.symlinkSync(secrets, path.join(source, "app", "d")),
        env: { DOCKERFILE: "d/Dockerfile" },
        refused: /DOCKERFILE 'd\/Dockerfile' resolves to .*dockerconfig\/Dockerfile, outside/,
      },
      {
        what: "the Dockerfile reached through a link to the checkout's parent",
        links: ({ source }) => fs.symlinkSync("..", path.join(source, "parent")),
        env: { CONTEXT_DIR: ".", DOCKERFILE: "parent/dockerconfig/Dockerfile" },
        refused:
          /DOCKERFILE 'parent\/dockerconfig\/Dockerfile' resolves to .*, outside the checkout/,
      },
    ];
    for (const c of cases) {
      const { source, secrets, env } = setup();
      c.links({ source, secrets });
      const result = await run("sh", [script], { ...env, ...c.env });
      tally.tried++;
      assert.equal(result.code, 1, `${c.what}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, c.refused, c.what);
      assert.equal(fs.existsSync(env.BUILDAH_LOG), false, `${c.what}: buildah must not run`);
      tally.survived++;
      tally.refused++;
    }
  });

  it("still builds symlinks that stay inside the checkout, and a checkout reached through a link", async () => {
    const cases: Array<[string, (s: { root: string; source: string }) => Record<string, string>]> =
      [
        [
          "a context dir linked to another directory of the checkout",
          ({ source }) => {
            fs.symlinkSync("app", path.join(source, "ctx"));
            return { CONTEXT_DIR: "ctx" };
          },
        ],
        [
          "a Dockerfile linked to another file of the checkout",
          ({ source }) => {
            fs.writeFileSync(path.join(source, "Containerfile"), "FROM scratch\n");
            fs.rmSync(path.join(source, "app", "Dockerfile"));
            fs.symlinkSync("../Containerfile", path.join(source, "app", "Dockerfile"));
            return {};
          },
        ],
        [
          "the workspace path itself is a symlink (as a volume mount may be)",
          ({ root, source }) => {
            fs.symlinkSync(source, path.join(root, "linked-source"));
            return { SOURCE_DIR: path.join(root, "linked-source") };
          },
        ],
      ];
    for (const [what, prepare] of cases) {
      const { root, source, env } = setup();
      const change = prepare({ root, source });
      const result = await run("sh", [script], { ...env, ...change });
      tally.tried++;
      assert.equal(result.code, 0, `${what}: ${result.stderr}`);
      assert.equal(fs.readFileSync(env.BUILDAH_LOG, "utf8").split("\n").length - 1, 2, what);
    }
  });
});

// ---- fault 8: `..` as owner or repository ----------------------------------------------------

describe("issue 15 fault 8: commit-status refuses owners and repositories GitHub would not name", () => {
  const script = path.join(PIPELINE_SCRIPTS_DIR, "commit-status.js");
  const TOKEN = "ghs_faultEightToken";
  const tally = new Tally("fault 8 (names)");
  after(() => tally.print());
  let github: FakeServer;
  let apiUrl: string;

  beforeEach(async () => {
    github = new FakeServer((_req, res) => sendJson(res, 201, { id: 1 }));
    apiUrl = await github.start();
  });
  afterEach(() => github.stop());

  const post = (repo: string) =>
    run(process.execPath, [script], {
      GITHUB_API_URL: `${apiUrl}/api/v3`,
      GITHUB_TOKEN: TOKEN,
      REPO_FULL_NAME: repo,
      REVISION: SHA,
      STATE: "success",
      REQUEST_TIMEOUT_MS: "2000",
    });

  it("posts nothing for `..`, `.` or names outside GitHub's rules, and says which part is wrong", async () => {
    const bad: Array<[string, RegExp]> = [
      ["../hello", /owner "\.\." /],
      ["octo/..", /repository "\.\." /],
      ["./hello", /owner "\." /],
      ["octo/.", /repository "\." /],
      ["..%2F../x", /REPO_FULL_NAME must be <owner>\/<repository>/],
      ["-octo/hello", /owner "-octo" .*must not start or end with "-"/],
      ["octo-/hello", /owner "octo-" .*must not start or end with "-"/],
      ["oc_to/hello", /owner "oc_to" .*A-Z, a-z, 0-9 and "-"/],
      ["oc.to/hello", /owner "oc.to" /],
      [`${"o".repeat(40)}/hello`, /owner .*1 to 39 characters/],
      [`octo/${"r".repeat(101)}`, /repository .*1 to 100 characters/],
      ["octo/hel lo", /REPO_FULL_NAME must be <owner>\/<repository>/],
      ["octo/hello/extra", /REPO_FULL_NAME must be <owner>\/<repository>/],
    ];
    for (const [repo, message] of bad) {
      const result = await post(repo);
      tally.tried++;
      assert.equal(result.code, 0, `${repo}: a status is a courtesy, the step still exits 0`);
      assert.match(result.stdout, message, repo);
      assert.doesNotMatch(result.stdout + result.stderr, new RegExp(TOKEN));
      assert.deepEqual(
        github.requests.map((r) => r.url),
        [],
        `${repo}: nothing may be posted (it would go to another API path)`,
      );
      tally.survived++;
      tally.refused++;
    }
  });

  it("still posts for names GitHub allows, at exactly their path", async () => {
    const good = [
      "octo/hello",
      "Octo-Org/my.repo_1",
      "o/.github",
      "a1/..hidden",
      `${"o".repeat(39)}/${"r".repeat(100)}`,
    ];
    for (const repo of good) {
      github.requests.length = 0;
      const result = await post(repo);
      tally.tried++;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(
        github.requests.map((r) => r.path),
        [`/api/v3/repos/${repo}/statuses/${SHA}`],
        `${repo}: ${result.stdout}`,
      );
    }
  });
});

// ---- a stand-in Kubernetes API for deploy-revision -------------------------------------------

type Json = Record<string, unknown>;
const BASE = "/apis/serving.knative.dev/v1/namespaces/apps";
const RUNS = "/apis/tekton.dev/v1/namespaces/apps/pipelineruns";
const DIGEST = `sha256:${"ab".repeat(32)}`;

/** How the stand-in misbehaves on one request. */
type Sabotage = "drip" | "huge" | "notJson";
/** What the stand-in streams for "huge": 300 MB, never all of it in memory. */
const HUGE_BYTES = 300 * 1024 * 1024;

/**
 * The Knative and Tekton objects deploy-revision reads and writes, in memory: the Configuration
 * `hello`, its Revisions (Ready as soon as Knative "creates" them), and PipelineRuns with the
 * creation times a test gives them. One request, by number, can be sabotaged.
 */
class FakeKube {
  configuration: Json | undefined;
  readonly revisions = new Map<string, Json>();
  readonly pipelineRuns = new Map<string, Json>();
  /** Request number (1-based) -> how to misbehave on it. */
  readonly sabotage = new Map<number, Sabotage>();
  /** Bytes of the "huge" answer the client took before it hung up. */
  hugeBytesSent = 0;
  private resourceVersion = 100;
  private count = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly server = new FakeServer((req, res) => this.handle(req, res));

  stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    return this.server.stop();
  }

  /** A PipelineRun as Tekton would hold it, created at `at` (RFC 3339, whole seconds). */
  pipelineRun(name: string, at: string, uid = `uid-${name}`): void {
    this.pipelineRuns.set(name, {
      apiVersion: "tekton.dev/v1",
      kind: "PipelineRun",
      metadata: { name, namespace: "apps", uid, creationTimestamp: at },
    });
  }

  private misbehave(mode: Sabotage, res: import("http").ServerResponse): void {
    if (mode === "notJson") {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end("<html><body>Welcome to the proxy</body></html>");
      return;
    }
    if (mode === "drip") {
      // A byte every 500 ms, for ever: only an overall deadline ends this answer.
      res.writeHead(200, { "Content-Type": "application/json" });
      const timer = setInterval(() => res.write(" "), 500);
      this.timers.add(timer);
      res.on("close", () => clearInterval(timer));
      return;
    }
    // 300 MB of JSON-looking text, written as fast as the client reads it.
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": String(HUGE_BYTES),
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let closed = false;
    res.on("close", () => (closed = true));
    const pump = (): void => {
      while (!closed && this.hugeBytesSent < HUGE_BYTES) {
        this.hugeBytesSent += chunk.length;
        if (!res.write(chunk)) {
          res.once("drain", pump);
          return;
        }
      }
      if (!closed) res.end();
    };
    pump();
  }

  private handle(req: RecordedRequest, res: import("http").ServerResponse): void {
    this.count++;
    // The request takes effect (a write is applied) whatever the answer then looks like.
    const [status, body] = this.decide(req);
    const mode = this.sabotage.get(this.count);
    if (mode !== undefined) this.misbehave(mode, res);
    else sendJson(res, status, body);
  }

  private decide(req: RecordedRequest): [number, unknown] {
    const notFound: [number, unknown] = [404, { kind: "Status", reason: "NotFound" }];
    const run = new RegExp(`^${RUNS}/([a-z0-9-]+)$`).exec(req.path);
    if (req.method === "GET" && run) {
      const stored = this.pipelineRuns.get(run[1]);
      return stored === undefined ? notFound : [200, stored];
    }
    const revision = new RegExp(`^${BASE}/revisions/([a-z0-9-]+)$`).exec(req.path);
    if (req.method === "GET" && revision) {
      const stored = this.revisions.get(revision[1]);
      return stored === undefined ? notFound : [200, stored];
    }
    if (req.method === "GET" && req.path === `${BASE}/configurations/hello`) {
      return this.configuration === undefined ? notFound : [200, this.configuration];
    }
    if (req.method === "POST" && req.path === `${BASE}/configurations`) {
      if (this.configuration !== undefined) return [409, { reason: "AlreadyExists" }];
      this.store(JSON.parse(req.body) as Json);
      return [201, this.configuration];
    }
    if (req.method === "PATCH" && req.path === `${BASE}/configurations/hello`) {
      const patch = JSON.parse(req.body) as Json;
      const current = this.configuration;
      if (current === undefined) return notFound;
      const expected = (current.metadata as Json).resourceVersion;
      const given = (patch.metadata as Json | undefined)?.resourceVersion;
      // A merge patch without resourceVersion is applied unconditioned, as the API server would.
      if (given !== undefined && given !== expected) {
        return [409, { kind: "Status", reason: "Conflict" }];
      }
      this.store(mergePatch(current, patch) as Json);
      return [200, this.configuration];
    }
    return [400, { message: `unexpected ${req.method} ${req.url}` }];
  }

  /** Stores the Configuration and, as Knative would, creates its Revision (Ready at once). */
  store(configuration: Json): void {
    this.resourceVersion++;
    const metadata = { ...(configuration.metadata as Json) };
    metadata.resourceVersion = String(this.resourceVersion);
    this.configuration = { ...configuration, metadata };
    const template = (configuration.spec as Json).template as Json;
    const name = String((template.metadata as Json).name);
    if (!this.revisions.has(name)) {
      this.revisions.set(name, {
        metadata: { name, annotations: (template.metadata as Json).annotations },
        spec: template.spec,
        status: { conditions: [{ type: "Ready", status: "True" }] },
      });
    }
  }

  /** The revision the Configuration templates. */
  templated(): string | undefined {
    const spec = this.configuration?.spec as Json | undefined;
    return ((spec?.template as Json | undefined)?.metadata as Json | undefined)?.name as string;
  }

  /** The PATCHes of the Configuration, parsed. */
  patches(): Json[] {
    return this.server.requests
      .filter((r) => r.method === "PATCH")
      .map((r) => JSON.parse(r.body) as Json);
  }
}

/** RFC 7386. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const result: Json =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? { ...(target as Json) }
      : {};
  for (const [key, value] of Object.entries(patch as Json)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

const DEPLOY_SCRIPT = path.join(PIPELINE_SCRIPTS_DIR, "deploy-revision.js");

/** A commit SHA from a 7-character prefix. */
const commit = (prefix: string): string => prefix + "0".repeat(40 - prefix.length);

/** Runs deploy-revision for `sha` as PipelineRun `pipelineRun`, against `kube`. */
function deployStep(
  kube: FakeKube,
  dir: string,
  sha: string,
  pipelineRun: string,
  overrides: Record<string, string> = {},
): Promise<RunResult> {
  return run(process.execPath, [DEPLOY_SCRIPT], {
    APP: "hello",
    NAMESPACE: "apps",
    REVISION: sha,
    SHORT_SHA: sha.slice(0, 7),
    REPO_URL: "https://github.com/octo/hello.git",
    COMMIT_TIMESTAMP: "2024-05-01T10:00:00Z",
    PIPELINE_RUN: pipelineRun,
    IMAGE_REPOSITORY: "registry.example.com/team/hello",
    IMAGE_DIGEST: DIGEST,
    SERVICE_ACCOUNT_NAME: "hello",
    TIMEOUT_SECONDS: "4",
    POLL_INTERVAL_MS: "20",
    REQUEST_TIMEOUT_MS: "1000",
    KUBERNETES_API_URL: kube.server.url,
    KUBERNETES_TOKEN_FILE: path.join(dir, "token"),
    ...overrides,
  });
}

// ---- fault 7: non-JSON answers, dripping and oversized servers -------------------------------

describe("issue 15 fault 7: deploy-revision and commit-status bound every request", function () {
  // Dozens of real processes against dripping and 300 MB answers: ~14 s on a loaded 2-core
  // machine, so more than mocha's default. A bound for liveness, not a speed goal.
  this.timeout(90_000);
  const tally = new Tally("fault 7 (deadline, cap, non-JSON)");
  after(() => tally.print());
  let kube: FakeKube;
  let dir: string;

  beforeEach(async () => {
    kube = new FakeKube();
    await kube.server.start();
    dir = tempDir("deploy");
    fs.writeFileSync(path.join(dir, "token"), "token-1\n");
  });
  afterEach(() => kube.stop());

  /** A Configuration on an older commit, its Revision Ready, and this run's PipelineRun. */
  function deployed(): void {
    kube.store({
      apiVersion: "serving.knative.dev/v1",
      kind: "Configuration",
      metadata: { name: "hello", namespace: "apps" },
      spec: {
        template: {
          metadata: { name: "hello-1111111", annotations: {} },
          spec: { containers: [{ image: `registry.example.com/team/hello@${DIGEST}` }] },
        },
      },
    });
  }

  it("never writes the Configuration unconditioned when its read is a 200 that is not a Configuration", async () => {
    const answers: Array<[string, (res: import("http").ServerResponse) => void]> = [
      ["an HTML page", (res) => kube["misbehave"]("notJson", res)],
      ["JSON null", (res) => sendJson(res, 200, null)],
      ["a JSON array", (res) => sendJson(res, 200, [])],
      ["an object without metadata.resourceVersion", (res) => sendJson(res, 200, { spec: {} })],
    ];
    for (const [what, answer] of answers) {
      await kube.stop();
      kube = new FakeKube();
      deployed();
      kube.pipelineRun("hello-build-deploy-a", "2024-05-01T10:00:00Z");
      const real = kube["handle"].bind(kube);
      kube["handle"] = (req: RecordedRequest, res: import("http").ServerResponse) =>
        req.method === "GET" && req.path === `${BASE}/configurations/hello`
          ? answer(res)
          : real(req, res);
      await kube.server.start();
      const result = await deployStep(kube, dir, commit("2222222"), "hello-build-deploy-a");
      tally.tried++;
      assert.equal(result.code, 1, `${what}: ${result.stdout}${result.stderr}`);
      assert.match(
        result.stderr,
        // Either deploy-revision's own words, or the shared client's when the body is not JSON
        // at all (functions/shared/kubernetes.js): both refuse before any write.
        /reading Configuration apps\/hello: HTTP 200 .*not writing without the resourceVersion precondition|GET \/apis\/serving\.knative\.dev\/v1\/namespaces\/apps\/configurations\/hello: HTTP 200 with a body that is not JSON/,
        what,
      );
      assert.deepEqual(kube.patches(), [], `${what}: no PATCH at all`);
      assert.equal(kube.templated(), "hello-1111111", what);
      tally.survived++;
      tally.refused++;
    }
  });

  it("ends every request of deploy-revision at its deadline and cap: dripping, oversized, non-JSON", async () => {
    // Each request of a create and of a re-point, in turn, answered by a misbehaving server.
    for (const scenario of ["create", "re-point"] as const) {
      const fresh = async (): Promise<void> => {
        await kube.stop();
        kube = new FakeKube();
        if (scenario === "re-point") deployed();
        kube.pipelineRun("hello-build-deploy-a", "2024-05-01T10:00:00Z");
      };
      // The undisturbed run: how many requests there are to sabotage.
      await fresh();
      await kube.server.start();
      const clean = await deployStep(kube, dir, commit("2222222"), "hello-build-deploy-a");
      assert.equal(clean.code, 0, clean.stderr);
      const requests = kube.server.requests.length;
      for (const mode of ["drip", "huge", "notJson"] as const) {
        for (let n = 1; n <= requests; n++) {
          await fresh();
          kube.sabotage.set(n, mode);
          await kube.server.start();
          const result = await deployStep(kube, dir, commit("2222222"), "hello-build-deploy-a");
          const what = `${scenario}, request ${n} of ${requests} ${mode}`;
          tally.tried++;
          assert.ok(result.ms < 8000, `${what}: ran ${result.ms} ms`);
          if (mode === "huge") {
            // Read at most the client's cap (32 MiB) plus what the sockets buffer.
            assert.ok(
              kube.hugeBytesSent < 48 * 1024 * 1024,
              `${what}: read ${kube.hugeBytesSent} bytes`,
            );
          }
          for (const patch of kube.patches()) {
            assert.equal(
              typeof (patch.metadata as Json).resourceVersion,
              "string",
              `${what}: every PATCH carries its precondition`,
            );
          }
          if (result.code === 0) {
            // A sabotaged poll is retried: the deploy then completes.
            assert.equal(kube.templated(), "hello-2222222", `${what}: ${result.stdout}`);
          } else {
            assert.equal(result.code, 1, `${what}: ${result.stderr}`);
            assert.match(
              result.stderr,
              /no complete answer within 1000 ms|HTTP 200 but the answer is not (JSON|a JSON object)|HTTP 200 with a body that is not JSON/,
              `${what}: ${result.stderr}`,
            );
          }
          tally.survived++;
        }
      }
    }
  });

  it("ends commit-status's post at its deadline and cap: dripping and oversized", async () => {
    const script = path.join(PIPELINE_SCRIPTS_DIR, "commit-status.js");
    for (const mode of ["drip", "huge"] as const) {
      await kube.stop();
      kube = new FakeKube();
      kube.sabotage.set(1, mode);
      await kube.server.start();
      const result = await run(process.execPath, [script], {
        GITHUB_API_URL: kube.server.url,
        GITHUB_TOKEN: "ghs_faultSeven",
        REPO_FULL_NAME: "octo/hello",
        REVISION: SHA,
        STATE: "success",
        REQUEST_TIMEOUT_MS: "1000",
      });
      tally.tried++;
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.ms < 5000, `${mode}: ran ${result.ms} ms`);
      if (mode === "drip") assert.match(result.stdout, /no complete answer within 1000 ms/);
      else assert.ok(kube.hugeBytesSent < 16 * 1024 * 1024, `read ${kube.hugeBytesSent} bytes`);
      assert.doesNotMatch(result.stdout + result.stderr, /ghs_faultSeven/);
      tally.survived++;
    }
  });
});

// ---- fault 3: deploys follow push order, not commit dates ------------------------------------

describe("issue 15 fault 3: deploy-revision deploys in push order (the PipelineRuns'), not by commit date", () => {
  const tally = new Tally("fault 3 (push order)");
  after(() => tally.print());
  let kube: FakeKube;
  let dir: string;

  beforeEach(async () => {
    kube = new FakeKube();
    await kube.server.start();
    dir = tempDir("order");
    fs.writeFileSync(path.join(dir, "token"), "token-1\n");
  });
  afterEach(() => kube.stop());

  /** Runs the step for `sha` as PipelineRun `run`, its commit dated `committed`. */
  const step = (sha: string, run: string, committed: string, digest = DIGEST) =>
    deployStep(kube, dir, sha, run, { COMMIT_TIMESTAMP: committed, IMAGE_DIGEST: digest });
  const A = commit("aaaaaaa");
  const B = commit("bbbbbbb");
  const C = commit("ccccccc");

  it("keeps deploying after a commit dated in the future, each later push winning", async () => {
    kube.pipelineRun("hello-build-deploy-1", "2024-05-01T10:00:00Z");
    kube.pipelineRun("hello-build-deploy-2", "2024-05-01T10:05:00Z");
    kube.pipelineRun("hello-build-deploy-3", "2024-05-01T10:10:00Z");
    const future = await step(A, "hello-build-deploy-1", "2099-01-01T00:00:00Z");
    assert.equal(future.code, 0, future.stderr);
    assert.equal(kube.templated(), "hello-aaaaaaa");
    for (const [sha, run, name] of [
      [B, "hello-build-deploy-2", "hello-bbbbbbb"],
      [C, "hello-build-deploy-3", "hello-ccccccc"],
    ]) {
      const later = await step(sha, run, "2024-05-01T09:00:00Z");
      tally.tried++;
      assert.equal(later.code, 0, later.stderr);
      assert.equal(kube.templated(), name, `${run}: ${later.stdout}`);
      tally.survived++;
    }
    // The commit date is still recorded, for information.
    const template = (kube.configuration?.spec as Json).template as Json;
    const annotations = (template.metadata as Json).annotations as Json;
    assert.equal(annotations["canary-release.dev/commit-timestamp"], "2024-05-01T09:00:00.000Z");
  });

  it("deploys a rollback by force-push to an older commit, with that Revision's own image", async () => {
    kube.pipelineRun("hello-build-deploy-1", "2024-05-01T10:00:00Z");
    kube.pipelineRun("hello-build-deploy-2", "2024-05-01T10:05:00Z");
    kube.pipelineRun("hello-build-deploy-3", "2024-05-01T10:10:00Z");
    assert.equal((await step(A, "hello-build-deploy-1", "2024-05-01T09:00:00Z")).code, 0);
    assert.equal((await step(B, "hello-build-deploy-2", "2024-05-01T09:30:00Z")).code, 0);
    assert.equal(kube.templated(), "hello-bbbbbbb");
    // git push --force origin A:main: A is built again (another digest), in a newer run.
    const rebuilt = `sha256:${"cd".repeat(32)}`;
    const rollback = await step(A, "hello-build-deploy-3", "2024-05-01T09:00:00Z", rebuilt);
    tally.tried++;
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.equal(kube.templated(), "hello-aaaaaaa", rollback.stdout);
    const template = (kube.configuration?.spec as Json).template as Json;
    assert.deepEqual((template.spec as Json).containers, [
      { image: `registry.example.com/team/hello@${DIGEST}` },
    ]);
    tally.survived++;
  });

  it("never re-points to a run created before the one deployed, whichever finishes last", async () => {
    kube.pipelineRun("hello-build-deploy-1", "2024-05-01T10:00:00Z");
    kube.pipelineRun("hello-build-deploy-2", "2024-05-01T10:05:00Z");
    assert.equal((await step(B, "hello-build-deploy-2", "2024-05-01T09:00:00Z")).code, 0);
    // The earlier push's build was slower: its deploy comes second, with a newer commit date.
    const late = await step(A, "hello-build-deploy-1", "2024-05-01T11:00:00Z");
    tally.tried++;
    assert.equal(late.code, 0, late.stderr);
    assert.equal(kube.templated(), "hello-bbbbbbb");
    assert.match(late.stdout, /a newer push is deployed, not re-pointing/);
    assert.equal(kube.patches().length, 0);
    tally.survived++;
  });

  it("breaks ties of runs created in the same second by PipelineRun name, in either finishing order", async () => {
    for (const first of ["a", "b"]) {
      await kube.stop();
      kube = new FakeKube();
      await kube.server.start();
      kube.pipelineRun("hello-build-deploy-a", "2024-05-01T10:00:00Z");
      kube.pipelineRun("hello-build-deploy-b", "2024-05-01T10:00:00Z");
      const sha = { a: A, b: B };
      const second = first === "a" ? "b" : "a";
      for (const name of [first, second]) {
        const result = await step(
          sha[name as "a"],
          `hello-build-deploy-${name}`,
          "2024-05-01T09:00:00Z",
        );
        assert.equal(result.code, 0, result.stderr);
      }
      tally.tried++;
      assert.equal(kube.templated(), "hello-bbbbbbb", `${first} finished first`);
      tally.survived++;
    }
  });

  it("re-points a Configuration that carries no deploy order yet (written before push order)", async () => {
    kube.store({
      apiVersion: "serving.knative.dev/v1",
      kind: "Configuration",
      metadata: { name: "hello", namespace: "apps" },
      spec: {
        template: {
          metadata: {
            name: "hello-1111111",
            annotations: { "canary-release.dev/commit-timestamp": "2099-01-01T00:00:00.000Z" },
          },
          spec: { containers: [{ image: `registry.example.com/team/hello@${DIGEST}` }] },
        },
      },
    });
    kube.pipelineRun("hello-build-deploy-1", "2024-05-01T10:00:00Z");
    const result = await step(A, "hello-build-deploy-1", "2024-05-01T09:00:00Z");
    tally.tried++;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(kube.templated(), "hello-aaaaaaa");
    const metadata = kube.configuration?.metadata as Json;
    assert.deepEqual(metadata.annotations, {
      "canary-release.dev/deploy-order": "2024-05-01T10:00:00.000Z hello-build-deploy-1",
    });
    tally.survived++;
  });

  it("fails without writing when its PipelineRun cannot be read, and refuses a bad PIPELINE_RUN", async () => {
    const missing = await step(A, "hello-build-deploy-9", "2024-05-01T09:00:00Z");
    tally.tried++;
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /reading PipelineRun apps\/hello-build-deploy-9 \(PIPELINE_RUN\), this run's deploy order: HTTP 404/,
    );
    assert.equal(kube.configuration, undefined);
    tally.survived++;
    for (const bad of ["", "../x", "Run_1", "a/b"]) {
      const result = await deployStep(kube, dir, A, bad);
      tally.tried++;
      assert.equal(result.code, 2, bad);
      assert.match(result.stderr, bad === "" ? /PIPELINE_RUN is not set/ : /PIPELINE_RUN must be/);
      tally.refused++;
    }
    assert.deepEqual(kube.server.requests.length, 1, "only the missing run's read");
  });
});
