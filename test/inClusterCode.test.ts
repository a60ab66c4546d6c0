// How the stack ships in-cluster code (components/shared/inClusterCode.ts): keys, the content hash, the
// bundles of the tester and of the pipeline's Node steps, and that each bundle holds every
// module its programs require and needs no npm package. Then functions/shared/ itself, the
// parts its users' tests (components/tester/revisionTester.test.ts, components/build/buildPipeline.test.ts) do not pin.
import { strict as assert } from "assert";
import { builtinModules } from "module";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PIPELINE_CODE } from "../components/build/buildPipelineManifests";
import {
  CodeBundle,
  codeBundle,
  codeConfigMap,
  codeHash,
  codeKey,
  codeVolume,
  FUNCTIONS_DIR,
} from "../components/shared/inClusterCode";
import { TESTER_CODE } from "../components/tester/revisionTesterManifests";
import { FakeServer, sendJson } from "./support/fakeHttp";

const BUILTINS = new Set(builtinModules);

/** Every `require("...")` of a file's text. */
function requires(text: string): string[] {
  return [...text.matchAll(/\brequire\(\s*"([^"]+)"\s*\)/g)].map((match) => match[1]);
}

describe("in-cluster code: keys, hash and bundles", () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "canary-code-"));
    fs.mkdirSync(path.join(root, "app"));
    fs.mkdirSync(path.join(root, "app", "nested"));
    fs.mkdirSync(path.join(root, "lib"));
    fs.writeFileSync(path.join(root, "app", "main.js"), 'require("../lib/util");\n');
    fs.writeFileSync(path.join(root, "app", "notes.md"), "not code\n");
    fs.writeFileSync(path.join(root, "app", "nested", "deep.js"), "\n");
    fs.writeFileSync(path.join(root, "lib", "util.js"), "module.exports = 1;\n");
    fs.writeFileSync(path.join(root, "lib", "other.js"), "module.exports = 2;\n");
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it("keys a file by its path with '/' written '__', and refuses what would not map back", () => {
    assert.equal(codeKey("revision-tester/server.js"), "revision-tester__server.js");
    assert.equal(codeKey("shared/http.js"), "shared__http.js");
    for (const bad of ["my__lib/x.js", "a/b c.js", "../x.js", `a/${"x".repeat(260)}.js`]) {
      assert.throws(
        () => codeKey(bad),
        (error: Error) => error.message.includes(`functions/${bad} cannot be shipped`),
        bad,
      );
    }
  });

  it("hashes paths and contents, whatever the order, and tells apart any change", () => {
    const files = { "a/x.js": "1", "b/y.js": "2" };
    const hash = codeHash(files);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(codeHash({ "b/y.js": "2", "a/x.js": "1" }), hash, "insertion order");
    const changes: Record<string, string>[] = [
      { "a/x.js": "1", "b/y.js": "3" },
      { "a/x.js": "1", "b/z.js": "2" },
      { "a/x.js": "1" },
      { "a/x.js": "1", "b/y.js": "2", "c.js": "" },
    ];
    for (const changed of changes) {
      assert.notEqual(codeHash(changed), hash, JSON.stringify(changed));
    }
    // A byte moved from a content into the next path is another set of files.
    assert.notEqual(codeHash({ a: "bc", d: "" }), codeHash({ a: "b", cd: "" }));
  });

  it("bundles a folder's .js files (not its sub-folders) and single files, sorted by path", () => {
    const bundle = codeBundle(["app", "lib/util.js"], root);
    assert.deepEqual(bundle.items, [
      { key: "app__main.js", path: "app/main.js" },
      { key: "lib__util.js", path: "lib/util.js" },
    ]);
    assert.deepEqual(bundle.data, {
      "app__main.js": 'require("../lib/util");\n',
      "lib__util.js": "module.exports = 1;\n",
    });
    assert.equal(
      bundle.sha256,
      codeHash({
        "app/main.js": 'require("../lib/util");\n',
        "lib/util.js": "module.exports = 1;\n",
      }),
    );
    assert.throws(() => codeBundle(["nope"], root), /in-cluster code nope does not exist/);
  });

  it("makes an immutable ConfigMap and a volume whose items lay the files out as in functions/", () => {
    const bundle = codeBundle(["app", "lib"], root);
    const configMap = codeConfigMap("shop-code-0123456789", "shop", bundle);
    assert.equal(configMap.immutable, true);
    assert.deepEqual(configMap.metadata, {
      name: "shop-code-0123456789",
      namespace: "shop",
      labels: { "app.kubernetes.io/part-of": "canary-release" },
    });
    assert.deepEqual(Object.keys(configMap.data).sort(), [
      "app__main.js",
      "lib__other.js",
      "lib__util.js",
    ]);
    assert.deepEqual(codeVolume("code", "shop-code-0123456789", bundle), {
      name: "code",
      configMap: {
        name: "shop-code-0123456789",
        items: [
          { key: "app__main.js", path: "app/main.js" },
          { key: "lib__other.js", path: "lib/other.js" },
          { key: "lib__util.js", path: "lib/util.js" },
        ],
      },
    });
  });
});

describe("in-cluster code: what the stack ships", () => {
  const bundles: Record<string, { bundle: CodeBundle; entries: string[] }> = {
    tester: { bundle: TESTER_CODE, entries: ["revision-tester/server.js"] },
    pipeline: {
      bundle: PIPELINE_CODE,
      entries: ["pipeline/deploy-revision.js", "pipeline/commit-status.js"],
    },
  };

  for (const [name, { bundle, entries }] of Object.entries(bundles)) {
    it(`${name}: every require is a Node built-in or a module in the same ConfigMap`, () => {
      const paths = new Set(bundle.items.map((item) => item.path));
      for (const entry of entries) assert.ok(paths.has(entry), `${entry} is shipped`);
      for (const item of bundle.items) {
        for (const target of requires(bundle.data[item.key])) {
          if (target.startsWith("./") || target.startsWith("../")) {
            const resolved = path.posix.join(path.posix.dirname(item.path), target);
            const file = resolved.endsWith(".js") ? resolved : `${resolved}.js`;
            assert.ok(paths.has(file), `${item.path} requires ${target}: ${file} is not shipped`);
          } else {
            assert.ok(
              BUILTINS.has(target.replace(/^node:/, "")),
              `${item.path} requires ${target}, which is no Node built-in: no npm package runs in the cluster`,
            );
          }
        }
      }
    });
  }

  it("the tester ships its whole folder and the shared modules; the pipeline, its Node programs and the shared modules", () => {
    const folders = (bundle: CodeBundle) =>
      [...new Set(bundle.items.map((item) => path.posix.dirname(item.path)))].sort();
    assert.deepEqual(folders(TESTER_CODE), ["revision-tester", "shared"]);
    assert.deepEqual(folders(PIPELINE_CODE), ["pipeline", "shared"]);
    const shared = (bundle: CodeBundle) =>
      bundle.items.filter((item) => item.path.startsWith("shared/")).map((item) => item.key);
    assert.deepEqual(shared(TESTER_CODE), shared(PIPELINE_CODE), "one shared module for both");
    assert.ok(
      PIPELINE_CODE.items.every((item) => item.path.endsWith(".js")),
      "no shell step in the ConfigMap: those are embedded in their Tasks",
    );
  });
});

// ---- functions/shared, in-process ------------------------------------------------------------

interface HttpAnswerJs {
  readonly status: number;
  readonly text: string;
}
interface SharedHttp {
  httpRequest(
    url: string,
    options: { method?: string; timeoutMs: number; maxBytes?: number },
  ): Promise<HttpAnswerJs>;
  readTokenFile(file: string, setting: string): string;
}
interface SharedKubernetes {
  inClusterApiUrl(env: Record<string, string>): string;
  kubernetesSettings(
    env: Record<string, string>,
    defaultUrl: string,
  ): { url: string; tokenFile: string; caFile: string };
  kubernetesClient(
    settings: { url: string; tokenFile: string; caFile: string },
    options: { requestTimeoutMs: number; userAgent: string; onToken?: (token: string) => void },
  ): (method: string, path: string, body?: unknown, contentType?: string) => Promise<unknown>;
  apiError(what: string, res: { status: number; body: unknown }): string;
  describeCondition(condition: unknown): string;
  readyCondition(resource: unknown): unknown;
  ApiUnavailable: new (message: string) => Error;
}
interface SharedGithub {
  statusDescription(text: string): string;
  statusPath(owner: string, repo: string, sha: string): string;
}

const SHARED_DIR = path.join(FUNCTIONS_DIR, "shared");
const sharedHttp = require(path.join(SHARED_DIR, "http.js")) as SharedHttp;
const sharedKubernetes = require(path.join(SHARED_DIR, "kubernetes.js")) as SharedKubernetes;
const sharedGithub = require(path.join(SHARED_DIR, "github.js")) as SharedGithub;

describe("functions/shared (in-process, stand-ins on 127.0.0.1)", () => {
  let server: FakeServer;
  let url: string;
  let dir: string;
  beforeEach(async () => {
    server = new FakeServer((req, res) => {
      if (req.path === "/big") {
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end("x".repeat(100_000));
      } else if (req.path === "/slow") {
        setTimeout(() => sendJson(res, 200, {}), 2000);
      } else {
        sendJson(res, 404, {
          kind: "Status",
          reason: "NotFound",
          message: `${req.path} not found`,
        });
      }
    });
    url = await server.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-shared-"));
  });
  afterEach(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("httpRequest cuts an answer at maxBytes and gives up after timeoutMs with ETIMEDOUT", async () => {
    const big = await sharedHttp.httpRequest(`${url}/big`, { timeoutMs: 2000, maxBytes: 1000 });
    assert.equal(big.status, 200);
    assert.equal(big.text.length, 1000);
    const started = Date.now();
    await assert.rejects(
      sharedHttp.httpRequest(`${url}/slow`, { timeoutMs: 100 }),
      (error: Error & { code?: string }) =>
        error.code === "ETIMEDOUT" && /no complete answer within 100 ms/.test(error.message),
    );
    assert.ok(Date.now() - started < 1000);
  });

  it("readTokenFile names the setting and the file, never the token", () => {
    const file = path.join(dir, "token");
    fs.writeFileSync(file, "  s3cret-token\n");
    assert.equal(sharedHttp.readTokenFile(file, "GITHUB_TOKEN_FILE"), "s3cret-token");
    fs.writeFileSync(file, "\n");
    assert.throws(
      () => sharedHttp.readTokenFile(file, "GITHUB_TOKEN_FILE"),
      new RegExp(`^Error: GITHUB_TOKEN_FILE ${file} is empty$`),
    );
    assert.throws(
      () => sharedHttp.readTokenFile(path.join(dir, "missing"), "KUBERNETES_TOKEN_FILE"),
      /cannot read KUBERNETES_TOKEN_FILE .*missing: ENOENT/,
    );
  });

  it("the Kubernetes settings: defaults, blank as unset, a bad URL named", () => {
    assert.deepEqual(
      sharedKubernetes.kubernetesSettings({ KUBERNETES_API_URL: " " }, "https://k/"),
      {
        url: "https://k",
        tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        caFile: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
      },
    );
    assert.throws(
      () => sharedKubernetes.kubernetesSettings({ KUBERNETES_API_URL: "k8s:443" }, "https://k"),
      /KUBERNETES_API_URL must be an https:\/\/ \(or, for tests, http:\/\/\) URL, got "k8s:443"/,
    );
    assert.equal(sharedKubernetes.inClusterApiUrl({}), "https://kubernetes.default.svc");
    assert.equal(
      sharedKubernetes.inClusterApiUrl({ KUBERNETES_SERVICE_HOST: "fd00::1" }),
      "https://[fd00::1]:443",
    );
  });

  it("the Kubernetes client: the token re-read per request, the API's reason in errors, ApiUnavailable", async () => {
    const tokenFile = path.join(dir, "token");
    fs.writeFileSync(tokenFile, "token-1\n");
    const seen: string[] = [];
    const request = sharedKubernetes.kubernetesClient(
      { url, tokenFile, caFile: path.join(dir, "no-ca") },
      { requestTimeoutMs: 1000, userAgent: "test-agent", onToken: (token) => seen.push(token) },
    );
    const answer = (await request("GET", "/api/v1/x")) as { status: number; body: unknown };
    fs.writeFileSync(tokenFile, "token-2\n");
    await request("PATCH", "/api/v1/x", { a: null }, "application/merge-patch+json");
    assert.deepEqual(seen, ["token-1", "token-2"]);
    assert.deepEqual(
      server.requests.map((r) => [r.method, r.headers.authorization, r.headers["content-type"]]),
      [
        ["GET", "Bearer token-1", undefined],
        ["PATCH", "Bearer token-2", "application/merge-patch+json"],
      ],
    );
    assert.equal(server.requests[0].headers["user-agent"], "test-agent");
    assert.equal(server.requests[1].body, '{"a":null}');
    assert.equal(
      sharedKubernetes.apiError("reading x", answer),
      "reading x: HTTP 404 NotFound: /api/v1/x not found",
    );
    fs.rmSync(tokenFile);
    await assert.rejects(
      request("GET", "/api/v1/x"),
      (error: Error) =>
        error instanceof sharedKubernetes.ApiUnavailable &&
        /cannot read KUBERNETES_TOKEN_FILE/.test(error.message),
    );
  });

  it("Ready conditions, and GitHub's description limit", () => {
    const ready = {
      type: "Ready",
      status: "False",
      reason: "ContainerMissing",
      message: "no image",
    };
    assert.equal(
      sharedKubernetes.readyCondition({ status: { conditions: [{ type: "Active" }, ready] } }),
      ready,
    );
    assert.equal(
      sharedKubernetes.describeCondition(ready),
      "Ready=False: ContainerMissing: no image",
    );
    assert.equal(sharedKubernetes.describeCondition(undefined), "no Ready condition yet");
    assert.equal(sharedGithub.statusDescription("short"), "short");
    const long = sharedGithub.statusDescription("y".repeat(200));
    assert.equal(long.length, 140);
    assert.ok(long.endsWith("…"));
    assert.equal(sharedGithub.statusPath("o w", "r", "abc"), "/repos/o%20w/r/statuses/abc");
  });
});
