// examples/hello, the sample application repository: the server in-process and as the process
// its image runs (`node server.js`, SIGTERM included), its Dockerfile, and the real revision
// tester judging it with the tester settings of the defaults and of every committed stack.
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parseConfig, TesterConfig } from "../config";
import { loadStackConfig, stackFiles, withStandInSecrets } from "../conformance/programRunner";
import { RevisionMetadata, smokeTestOf } from "../common/revisionRecord";
import { testerServiceManifest } from "../components/tester/revisionTesterManifests";
import { httpCall, waitFor } from "./support/fakeHttp";
import {
  FakeKnativeApi,
  LogLine,
  postBinary,
  resourceEvent,
  stopAllTesters,
  TesterProcess,
} from "./support/revisionTesterHarness";

const HELLO_DIR = path.join(__dirname, "..", "examples", "hello");
const HELLO_SCRIPT = path.join(HELLO_DIR, "server.js");

type Env = Record<string, string | undefined>;

interface HelloModule {
  readonly DEFAULT_PORT: number;
  createServer(env: Env): http.Server;
  greeting(env: Env): string;
  readPort(env: Env): number;
  shutDown(server: http.Server, log: (message: string) => void, timeoutMs?: number): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hello = require(HELLO_SCRIPT) as HelloModule;

// ---- the example in-process ------------------------------------------------------------------

const listening: http.Server[] = [];

/** The example on 127.0.0.1 at a free port, with exactly `env`; its base URL. */
async function startExample(env: Env): Promise<string> {
  const server = hello.createServer(env);
  listening.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function stopExamples(): Promise<void> {
  const servers = listening.splice(0);
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
}

// ---- the example as a process ----------------------------------------------------------------

/** `node examples/hello/server.js`, as the image's CMD runs it, with exactly the given env. */
class ExampleProcess {
  output = "";
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) =>
      child.on("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  /** The port from the start line; fails if the process exited or never said it. */
  async port(): Promise<number> {
    await waitFor(
      () => /listening on port \d+/.test(this.output) || this.exit !== undefined,
      "the example's start line",
    );
    const match = /listening on port (\d+)/.exec(this.output);
    assert.ok(match !== null, `the example did not start: ${JSON.stringify(this.output)}`);
    return Number(match[1]);
  }

  /** Resolves with the milliseconds until exit; fails after `timeoutMs`. */
  async exitWithin(timeoutMs: number): Promise<number> {
    const started = Date.now();
    await within(this.exited, timeoutMs, "the example to exit");
    return Date.now() - started;
  }
}

/** `promise`, or a failure naming `what` after `timeoutMs`. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const processes: ExampleProcess[] = [];

function runExample(env: Record<string, string>): ExampleProcess {
  const child = spawn(process.execPath, [HELLO_SCRIPT], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const example = new ExampleProcess(child);
  processes.push(example);
  return example;
}

async function killExamples(): Promise<void> {
  for (const example of processes.splice(0)) {
    if (example.exit === undefined) {
      example.child.kill("SIGKILL");
      await example.exited;
    }
  }
}

/** A port nothing listens on right now (the kernel's pick for port 0, released). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Sends a request's head without its final blank line: a request the server is still reading. */
function startRequest(port: number): Promise<{ socket: net.Socket; answer: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write("GET / HTTP/1.1\r\nHost: hello.example.com\r\n");
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
      const answer = new Promise<string>((done) => socket.on("close", () => done(text)));
      resolve({ socket, answer });
    });
    socket.on("error", reject);
  });
}

describe("examples/hello: the sample service", () => {
  afterEach(async () => {
    await stopExamples();
    await killExamples();
  });

  it("answers GET / with 200 and `Hello World, this is <TARGET>!`", async () => {
    const url = await startExample({ TARGET: "v2", K_REVISION: "hello-0a1b2c3" });
    const answer = await httpCall(`${url}/`);
    assert.equal(answer.status, 200);
    assert.equal(answer.text, "Hello World, this is v2!\n");
    assert.equal(answer.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(answer.headers["cache-control"], "no-store");
    const withQuery = await httpCall(`${url}/?from=curl`);
    assert.equal(withQuery.status, 200);
    assert.equal(withQuery.text, "Hello World, this is v2!\n");
  });

  it("names its revision (K_REVISION) without TARGET, and itself outside Knative", async () => {
    const inRevision = await startExample({ K_REVISION: "hello-5d6e7f8", TARGET: "" });
    assert.equal((await httpCall(`${inRevision}/`)).text, "Hello World, this is hello-5d6e7f8!\n");
    const outside = await startExample({});
    assert.equal((await httpCall(`${outside}/`)).text, "Hello World, this is hello!\n");
    assert.equal(hello.greeting({ TARGET: "  v3 " }), "Hello World, this is v3!\n");
  });

  it("GREETING replaces Hello World (a way to push a revision that fails its smoke test)", async () => {
    const url = await startExample({ GREETING: "Goodbye World", K_REVISION: "hello-5d6e7f8" });
    const answer = await httpCall(`${url}/`);
    assert.equal(answer.status, 200);
    assert.equal(answer.text, "Goodbye World, this is hello-5d6e7f8!\n");
  });

  it("answers /healthz and HEAD, 404 for other paths, 405 for other methods", async () => {
    const url = await startExample({ TARGET: "v1" });
    const health = await httpCall(`${url}/healthz`);
    assert.deepEqual([health.status, health.text], [200, "ok\n"]);
    const head = await httpCall(`${url}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.text, "");
    assert.equal(head.headers["content-length"], String("Hello World, this is v1!\n".length));
    for (const unknown of ["/hello", "/index.html", "//", "/healthz/"]) {
      const answer = await httpCall(`${url}${unknown}`);
      assert.deepEqual([answer.status, answer.text], [404, "Not Found\n"], unknown);
    }
    const post = await httpCall(`${url}/`, { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET, HEAD");
  });

  it("reads PORT (default 8080) and refuses a bad one naming the variable", () => {
    assert.equal(hello.readPort({}), 8080);
    assert.equal(hello.DEFAULT_PORT, 8080);
    assert.equal(hello.readPort({ PORT: "" }), 8080);
    assert.equal(hello.readPort({ PORT: "9000" }), 9000);
    assert.equal(hello.readPort({ PORT: "0" }), 0);
    for (const bad of ["http", "80.5", "-1", "65536", "8080 8081"]) {
      assert.throws(() => hello.readPort({ PORT: bad }), /PORT must be a whole number/, bad);
    }
  });

  it("runs as `node server.js`: PORT, one start line, and a bad PORT exits 1", async () => {
    const free = await freePort();
    const example = runExample({ PORT: String(free), K_REVISION: "hello-0a1b2c3" });
    assert.equal(await example.port(), free);
    const answer = await httpCall(`http://127.0.0.1:${free}/`);
    assert.deepEqual([answer.status, answer.text], [200, "Hello World, this is hello-0a1b2c3!\n"]);
    assert.equal(
      example.output,
      `hello: listening on port ${free}, answering "Hello World, this is hello-0a1b2c3!"\n`,
    );

    const bad = runExample({ PORT: "http" });
    await bad.exitWithin(5000);
    assert.deepEqual(bad.exit, { code: 1, signal: null });
    assert.match(bad.output, /PORT must be a whole number from 0 to 65535, got "http"/);
  });

  it("on SIGTERM finishes the request in progress, closes idle connections and exits 0", async () => {
    const example = runExample({ PORT: "0", TARGET: "v1" });
    const port = await example.port();
    // An idle kept-alive connection, as a proxy keeps them: it must not hold the process.
    const agent = new http.Agent({ keepAlive: true });
    try {
      const warm = await httpCall(`http://127.0.0.1:${port}/`, { agent });
      assert.equal(warm.status, 200);
      assert.equal(warm.headers.connection, "keep-alive");
      const inFlight = await startRequest(port);
      // The server signals nothing on a partial head: give it time to arrive before the signal.
      await new Promise((resolve) => setTimeout(resolve, 100));

      example.child.kill("SIGTERM");
      await waitFor(
        () => example.output.includes("shutting down") || example.exit !== undefined,
        "the shutdown to begin",
      );
      assert.equal(example.exit, undefined, `it did not wait: ${JSON.stringify(example.exit)}`);
      // New connections are refused once it stopped listening.
      await assert.rejects(httpCall(`http://127.0.0.1:${port}/`), /ECONNREFUSED/);

      inFlight.socket.write("\r\n");
      const answer = await within(inFlight.answer, 2000, "the answer in progress");
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(answer, /\r\nConnection: close\r\n/i);
      assert.ok(answer.endsWith("\r\n\r\nHello World, this is v1!\n"), answer);
      // Well below the 10 s after which open connections are cut: nothing held it.
      const ms = await example.exitWithin(2000);
      assert.deepEqual(example.exit, { code: 0, signal: null }, `exit after ${ms} ms`);
    } finally {
      agent.destroy();
    }
  });

  it("cuts a connection that never finishes its request, once the shutdown grace is over", async () => {
    const url = await startExample({});
    const server = listening[listening.length - 1];
    const hung = await startRequest(Number(new URL(url).port));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const logged: string[] = [];
    const closed = new Promise<void>((resolve) => server.on("close", resolve));
    hello.shutDown(server, (message) => logged.push(message), 200);
    const started = Date.now();
    const answer = await within(hung.answer, 2000, "the hung connection to be cut");
    assert.equal(answer, "", "an unfinished request gets no answer");
    await within(closed, 2000, "the server to close");
    const ms = Date.now() - started;
    assert.ok(ms >= 150 && ms < 2000, `cut after ${ms} ms, expected about 200`);
    assert.deepEqual(logged, ["shutting down", "stopped"]);
  });

  it("its Dockerfile: pinned Node LTS image of the project, non-root, PORT 8080, node server.js", () => {
    const dockerfile = fs.readFileSync(path.join(HELLO_DIR, "Dockerfile"), "utf8");
    const instructions = dockerfile
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    const from = instructions.filter((line) => line.startsWith("FROM "));
    // The one Node image the project pins (the tester's default), so one bump moves both.
    assert.deepEqual(from, [`FROM ${parseConfig({ "canary-release:app": "hello" }).tester.image}`]);
    assert.ok(instructions.includes("ENV PORT=8080"));
    assert.ok(instructions.includes("EXPOSE 8080"));
    const user = instructions.filter((line) => line.startsWith("USER "));
    // Numeric: runAsNonRoot can only verify a numeric user; 1000 is the image's `node`.
    assert.deepEqual(user, ["USER 1000:1000"]);
    assert.equal(instructions[instructions.length - 1], 'CMD ["node", "server.js"]');
    for (const copy of instructions.filter((line) => line.startsWith("COPY "))) {
      const sources = copy.split(/\s+/).slice(1, -1);
      for (const source of sources) {
        assert.ok(fs.existsSync(path.join(HELLO_DIR, source)), `COPY of a missing ${source}`);
      }
    }
    // Only instructions buildah's OCI format keeps.
    for (const line of instructions) {
      assert.match(line, /^(FROM|WORKDIR|COPY|ENV|EXPOSE|USER|CMD) /, line);
    }
    const ignored = fs.readFileSync(path.join(HELLO_DIR, ".dockerignore"), "utf8").split("\n");
    assert.ok(!ignored.some((line) => ["*", "server.js", "*.js"].includes(line.trim())));
    const packageJson = JSON.parse(
      fs.readFileSync(path.join(HELLO_DIR, "package.json"), "utf8"),
    ) as { scripts: Record<string, string> };
    assert.equal(packageJson.scripts.start, "node server.js");
  });
});

// ---- the revision tester judging the example -------------------------------------------------

const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const K8S_TOKEN = "k8s-token-hello-SECRET";

/** The tester settings the stack deploys for `raw` stack config: the Service's container env. */
function testerEnv(raw: Record<string, string>, secretKeys: string[] = []) {
  const config = parseConfig(raw, secretKeys);
  const tester: TesterConfig = config.tester;
  const manifest = testerServiceManifest({
    app: config.app,
    namespace: config.namespace,
    image: tester.image,
    path: tester.path,
    expectStatus: tester.expectStatus,
    ...(tester.expectBody !== undefined ? { expectBody: tester.expectBody } : {}),
    timeoutSeconds: tester.timeoutSeconds,
    tokenSecretKey: "token",
  });
  const spec = manifest.spec as {
    template: { spec: { containers: { env: { name: string; value: string }[] }[] } };
  };
  const env: Record<string, string> = {};
  for (const { name, value } of spec.template.spec.containers[0].env) env[name] = value;
  return { app: config.app, namespace: config.namespace, tester, env };
}

function stackTesterEnv(stack: string) {
  const file = stackFiles()[stack];
  assert.ok(file !== undefined, `no Pulumi.${stack}.yaml`);
  const loaded = withStandInSecrets(loadStackConfig(file));
  return testerEnv(loaded.config, loaded.secretKeys);
}

interface Verdict {
  readonly state: string;
  readonly result: Readonly<Record<string, unknown>> | null;
  readonly log: LogLine;
}

describe("examples/hello under the revision tester (real process, stand-in Kubernetes API)", () => {
  let dir: string;
  const apis: FakeKnativeApi[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-hello-"));
    fs.writeFileSync(path.join(dir, "token"), `${K8S_TOKEN}\n`);
  });

  afterEach(async () => {
    await stopAllTesters();
    await Promise.all(apis.splice(0).map((api) => api.stop()));
    await stopExamples();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * One smoke test of revision `<app>-0a1b2c3`, served by the example with `exampleEnv` (plus the
   * K_REVISION Knative sets), by the tester with the stack's env; what the gate would read.
   */
  async function judge(
    settings: ReturnType<typeof testerEnv>,
    exampleEnv: Env = {},
  ): Promise<Verdict> {
    const revision = `${settings.app}-${SHA.slice(0, 7)}`;
    const api = new FakeKnativeApi(settings.namespace);
    apis.push(api);
    api.validTokens = new Set([K8S_TOKEN]);
    const kubeUrl = await api.start();
    // What the smoke Route reports as its address: the revision's pods, here the example itself.
    api.routeUrl = await startExample({ K_REVISION: revision, ...exampleEnv });
    api.addRevision(revision, { configuration: settings.app });

    const tester = await TesterProcess.start({
      ...settings.env,
      PORT: "0",
      LISTEN_HOST: "127.0.0.1",
      KUBERNETES_API_URL: kubeUrl,
      KUBERNETES_TOKEN_FILE: path.join(dir, "token"),
      ROUTE_READY_TIMEOUT_SECONDS: "5",
      POLL_INTERVAL_MS: "10",
      RESYNC_INTERVAL_SECONDS: "0",
      TESTER_ID: "tester-hello",
    });
    const answer = await postBinary(`${tester.url}/`, resourceEvent("add", api.revision(revision)));
    assert.equal(answer.status, 202, answer.text);
    await tester.waitForLog((l) => l.msg === "smoke test finished", "the end of the test", 10000);
    const log = tester.logs().find((l) => l.msg === "smoke test finished");
    assert.ok(log !== undefined);
    const record = smokeTestOf(api.revision(revision).metadata as RevisionMetadata);
    return { ...record, log };
  }

  function assertPassed(verdict: Verdict, settings: ReturnType<typeof testerEnv>): void {
    assert.equal(verdict.state, "passed", JSON.stringify(verdict.log));
    assert.equal(verdict.result?.status, settings.tester.expectStatus);
    assert.match(String(verdict.result?.reason), new RegExp(`^GET ${settings.tester.path} `));
  }

  it("passes with the tester's defaults (GET /, 200, any body)", async () => {
    const settings = testerEnv({ "canary-release:app": "hello" });
    assert.equal(settings.env.TEST_PATH, "/");
    assert.equal(settings.env.EXPECT_STATUS, "200");
    assert.equal(settings.env.EXPECT_BODY, undefined);
    assertPassed(await judge(settings), settings);
  });

  for (const stack of Object.keys(stackFiles())) {
    it(`passes with the tester settings of Pulumi.${stack}.yaml`, async () => {
      const settings = stackTesterEnv(stack);
      assert.ok(settings.tester.enabled, `the ${stack} stack tests no revision`);
      assertPassed(await judge(settings), settings);
    });
  }

  it("prod's expectBody fails a revision whose greeting is not Hello World", async () => {
    const settings = stackTesterEnv("prod");
    assert.equal(settings.env.EXPECT_BODY, "^Hello World");
    const verdict = await judge(settings, { GREETING: "Goodbye World" });
    assert.equal(verdict.state, "failed", JSON.stringify(verdict.log));
    assert.equal(verdict.result?.status, 200);
    assert.match(String(verdict.result?.reason), /but the body does not match \/\^Hello World\//);
    // The same example with its own greeting passes: only the body made the difference.
    assertPassed(await judge(settings), settings);
  });
});
