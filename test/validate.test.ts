// `npm run validate` anywhere (issue 17, item 5): CRDs from a directory, the pinned release
// manifests (a loopback mirror, then its cache with the mirror stopped) or none
// (--config-only); the traffic each stack would deploy; the step guard against the stack's last
// outputs; and the list of what was not checked instead of a plain `passed`.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { parseConfig } from "../config";
import { verdictLine } from "../conformance/cli";
import {
  cacheFileFor,
  chooseCrdSource,
  crdDocumentsOf,
  defaultCacheDir,
  loadCrds,
  rebaseUrl,
  releaseManifests,
} from "../conformance/crdSources";
import { PROJECT_ROOT } from "../conformance/programRunner";
import {
  describeTraffic,
  judgeStepGuard,
  missingSecretsNotChecked,
  revisionReadsNotChecked,
} from "../conformance/stackChecks";
import type { StackReport } from "../conformance/stackConformance";
import { outputsFiles } from "../conformance/stackOutputs";
import { trafficFor } from "../common/traffic";
import { fakePulumiProject } from "./support/fakePulumiProject";
import { CRDS_DIR, sharedCatalog } from "./support/sharedCrds";
import { BARE_ENV, runCli } from "./support/validateCli";

const ENV = { HOME: "/home/u" };
const exists = (known: string[]) => (file: string) => known.includes(file);

describe("validate: choosing the CRD source", () => {
  it("defaults to CANARY_CRDS_DIR, else ../shared/crds when it is there", () => {
    assert.deepEqual(chooseCrdSource({}, { CANARY_CRDS_DIR: "/c" }, "/shared", exists([])), {
      source: { kind: "directory", dir: "/c" },
    });
    assert.deepEqual(chooseCrdSource({}, ENV, "/shared", exists(["/shared"])), {
      source: { kind: "directory", dir: "/shared" },
    });
  });

  it("without ../shared/crds: an error naming every source and --config-only", () => {
    const chosen = chooseCrdSource({}, ENV, "/x/shared/crds", exists([]));
    assert.ok("problem" in chosen);
    for (const option of [
      "/x/shared/crds",
      "CANARY_CRDS_DIR",
      "--crds DIR",
      "--from-cluster",
      "--from-releases",
      "--releases-base-url",
      "--config-only",
    ]) {
      assert.ok(chosen.problem.includes(option), `${option} in: ${chosen.problem}`);
    }
  });

  it("takes one source; the options of one source only with it", () => {
    const problem = (flags: Parameters<typeof chooseCrdSource>[0]): string => {
      const chosen = chooseCrdSource(flags, ENV, "/shared", exists(["/shared"]));
      assert.ok("problem" in chosen, JSON.stringify(chosen));
      return chosen.problem;
    };
    assert.match(problem({ crds: "d", configOnly: true }), /--crds and --config-only: give only/);
    assert.match(problem({ context: "kind" }), /--context kind: only used with --from-cluster/);
    assert.match(
      problem({ releasesBaseUrl: "http://m" }),
      /--releases-base-url http:\/\/m: only used with --from-releases/,
    );
    assert.match(
      problem({ fromReleases: true, releasesBaseUrl: "ftp://m" }),
      /--releases-base-url ftp:\/\/m: must be an http:\/\/ or https:\/\/ address/,
    );
    assert.match(
      problem({ fromReleases: true, releasesBaseUrl: "mirror" }),
      /--releases-base-url mirror: not a URL/,
    );
  });

  it("--from-releases: the base from the flag, else CANARY_RELEASES_BASE_URL; the XDG cache", () => {
    const env = { ...ENV, CANARY_RELEASES_BASE_URL: "http://env", XDG_CACHE_HOME: "/xdg" };
    assert.deepEqual(chooseCrdSource({ fromReleases: true }, env, "/s", exists([])), {
      source: {
        kind: "releases",
        baseUrl: "http://env",
        cacheDir: "/xdg/canary-release/crds",
      },
    });
    assert.deepEqual(
      chooseCrdSource(
        { fromReleases: true, releasesBaseUrl: "http://flag", cacheDir: "/c" },
        env,
        "/s",
        exists([]),
      ),
      { source: { kind: "releases", baseUrl: "http://flag", cacheDir: "/c" } },
    );
    assert.equal(defaultCacheDir(ENV), "/home/u/.cache/canary-release/crds");
  });

  it("--from-cluster with --context and --kubeconfig", () => {
    assert.deepEqual(
      chooseCrdSource(
        { fromCluster: true, context: "kind-canary", kubeconfig: "/k" },
        ENV,
        "/s",
        exists([]),
      ),
      { source: { kind: "cluster", context: "kind-canary", kubeconfig: "/k" } },
    );
  });
});

describe("validate --from-cluster without kubectl", () => {
  it("is code 2, saying kubectl is not on PATH and how to use --crds instead", async () => {
    const { code, output } = await runCli(["--from-cluster", "--stack", "prod"]);
    assert.equal(code, 2, output);
    assert.match(output, /--from-cluster runs kubectl, which is not on PATH/);
    assert.match(output, /kubectl get crd -o yaml > crds\.yaml\) and pass --crds crds\.yaml/);
  });
});

describe("validate: the pinned release manifests", () => {
  it("are the Platform's pinned URLs of the four releases with CRDs; a mirror keeps the paths", () => {
    const upstream = releaseManifests();
    assert.deepEqual(
      upstream.map((m) => m.release),
      ["servingCore", "eventingCore", "tektonPipeline", "tektonTriggers"],
    );
    assert.ok(upstream.every((m) => m.url === m.pinnedUrl));
    assert.equal(
      rebaseUrl(
        "https://infra.tekton.dev/tekton-releases/pipeline/previous/v1.15.0/release.yaml",
        "http://127.0.0.1:8080/mirror/",
      ),
      "http://127.0.0.1:8080/mirror/tekton-releases/pipeline/previous/v1.15.0/release.yaml",
    );
    const mirrored = releaseManifests("https://mirror.example.com");
    assert.equal(
      mirrored[0].url,
      `https://mirror.example.com${new URL(mirrored[0].pinnedUrl).pathname}`,
    );
    // The cache is keyed by the pinned URL: a mirror fills the entry the upstream host would.
    assert.equal(cacheFileFor("/c", mirrored[0].pinnedUrl), cacheFileFor("/c", upstream[0].url));
  });

  it("keeps only the CustomResourceDefinitions of a multi-document manifest", () => {
    const text = [
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: knative-serving",
      "# a comment-only document\n",
      "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.b",
    ].join("\n---\n");
    assert.deepEqual(
      crdDocumentsOf(text).map((d) => (d.metadata as { name: string }).name),
      ["a.b"],
    );
  });
});

/** The release manifests of ../shared/crds: each release's CRD files, among other documents. */
function mirrorFiles(): Map<string, string> {
  const dirs: Record<string, string> = {
    servingCore: "knative-serving",
    eventingCore: "knative-eventing",
    tektonPipeline: "tekton-pipeline",
    tektonTriggers: "tekton-triggers",
  };
  const files = new Map<string, string>();
  for (const manifest of releaseManifests()) {
    const dir = path.join(CRDS_DIR, dirs[manifest.release]);
    const documents = [
      `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${manifest.release.toLowerCase()}`,
      ...fs
        .readdirSync(dir)
        .filter((file) => file.endsWith(".yaml"))
        .sort()
        .map((file) => fs.readFileSync(path.join(dir, file), "utf8")),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  a: b",
    ];
    files.set(new URL(manifest.pinnedUrl).pathname, documents.join("\n---\n"));
  }
  return files;
}

describe("validate --from-releases against a loopback mirror", function () {
  this.timeout(120000);
  let tmp: string;
  let server: http.Server;
  let base: string;
  const requests: string[] = [];

  before(async function () {
    sharedCatalog(this);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "validate-releases-"));
    const files = mirrorFiles();
    server = http.createServer((request, response) => {
      const url = request.url ?? "";
      requests.push(url);
      const body = files.get(url);
      if (body === undefined) response.writeHead(404).end("not found");
      else response.writeHead(200, { "Content-Type": "text/yaml" }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    if (server.listening) await new Promise((resolve) => server.close(resolve));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("fetches the four manifests once, caches their CRDs, and validates from the cache with the server stopped", async function () {
    const cache = path.join(tmp, "cache");
    const args = ["--from-releases", "--releases-base-url", base, "--cache-dir", cache];
    const first = await runCli([...args, "--stack", "prod"]);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /4 fetched/);
    assert.match(first.output, /ok +serving.knative.dev\/v1 Route hello\/hello/);
    assert.equal(requests.length, 4);
    assert.equal(fs.readdirSync(cache).length, 4);

    // Exactly the CRDs of ../shared/crds, as the platform's releases hold them.
    const loaded = await loadCrds({ kind: "releases", baseUrl: base, cacheDir: cache }, BARE_ENV);
    assert.deepEqual(loaded.catalog.kinds(), sharedCatalog(this).kinds());

    await new Promise((resolve) => server.close(resolve));
    const again = await runCli([...args, "--stack", "prod"]);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /all from the cache/);
    assert.equal(requests.length, 4, "nothing fetched the second time");
  });

  it("without a cache: an unreachable base URL fails with code 2, naming the URL and the way out", async () => {
    const cache = path.join(tmp, "empty-cache");
    // The server is stopped by now (tests run in order): its port refuses connections.
    const { code, output } = await runCli([
      "--from-releases",
      "--releases-base-url",
      base,
      "--cache-dir",
      cache,
      "--stack",
      "prod",
    ]);
    assert.equal(code, 2, output);
    assert.match(
      output,
      new RegExp(
        `cannot fetch the servingCore release manifest ${base}/knative/serving/releases/` +
          `download/knative-v1\\.23\\.0/serving-core\\.yaml \\(not in the cache\\)`,
      ),
    );
    assert.match(output, /check --releases-base-url/);
    assert.match(output, /--config-only/);
    assert.ok(!fs.existsSync(cache) || fs.readdirSync(cache).length === 0, "nothing cached");
  });
});

describe("validate --from-releases: a mirror that does not serve the releases", function () {
  this.timeout(60000);
  let server: http.Server;
  let base: string;

  before(async () => {
    server = http.createServer((request, response) => {
      if ((request.url ?? "").startsWith("/html/")) {
        response.writeHead(200, { "Content-Type": "text/html" }).end("<html>sign in</html>");
      } else {
        response.writeHead(404, "Not Found").end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => void (await new Promise((resolve) => server.close(resolve))));

  for (const [name, at, expected] of [
    ["an HTTP 404", "", /HTTP 404 Not Found; check --releases-base-url/],
    ["a page with no CRD (a login page)", "/html", /holds no CustomResourceDefinition/],
  ] as const) {
    it(`${name}: code 2, nothing cached`, async () => {
      const cache = fs.mkdtempSync(path.join(os.tmpdir(), "validate-cache-"));
      try {
        const { code, output } = await runCli([
          "--from-releases",
          "--releases-base-url",
          `${base}${at}`,
          "--cache-dir",
          cache,
        ]);
        assert.equal(code, 2, output);
        assert.match(output, expected);
        assert.deepEqual(fs.readdirSync(cache), []);
      } finally {
        fs.rmSync(cache, { recursive: true, force: true });
      }
    });
  }
});

/** A prod stack that promotes: 100 % to the candidate, with the guard at 50 points a step. */
const PROMOTE_PROD = `config:
  kubernetes:context: prod
  canary-release:app: hello
  canary-release:namespace: hello
  canary-release:stableRevision: hello-1a2b3c4
  canary-release:candidateRevision: hello-5d6e7f8
  canary-release:canaryPercent: "100"
  canary-release:maxStepPercent: "50"
`;

/** The outputs of the last deployment, at 20 %. */
const AT_20 = {
  canaryPercent: 20,
  traffic: trafficFor({
    app: "hello",
    stableRevision: "hello-1a2b3c4",
    candidateRevision: "hello-5d6e7f8",
    canaryPercent: 20,
  }),
};

describe("validate: traffic, the step guard and what was not checked", function () {
  this.timeout(120000);
  let tmp: string;
  let stacks: string;
  let outputs: string;

  before(function () {
    sharedCatalog(this);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "validate-guard-"));
    stacks = path.join(tmp, "stacks");
    fs.mkdirSync(stacks);
    fs.writeFileSync(path.join(stacks, "Pulumi.prod.yaml"), PROMOTE_PROD);
    outputs = path.join(tmp, "prod-outputs.json");
    fs.writeFileSync(outputs, JSON.stringify(AT_20));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("a step from 20 to 100 with maxStepPercent 50 fails, naming the keys, the values and the steps that are valid", async () => {
    const { code, output } = await runCli(
      ["--crds", CRDS_DIR, "--outputs", outputs],
      BARE_ENV,
      stacks,
    );
    assert.equal(code, 1, output);
    assert.match(
      output,
      /FAILED {2}step guard \(canary-release:maxStepPercent = 50\), against --outputs .*prod-outputs\.json: hello-5d6e7f8 would go from 20 % to 100 % of the traffic \(\+80\)/,
    );
    assert.match(output, /20 % -> 70 % -> 100 %/);
    assert.match(output, /canary-release:allowLargeStep true/);
    assert.match(output, /\nFAILED \(1 of 1 stack; \d+ things? not checked\)/);
  });

  it("reads the outputs from the Pulumi CLI when it is on PATH", async () => {
    const fake = fakePulumiProject(PROMOTE_PROD, AT_20);
    try {
      const { code, output } = await runCli(["--crds", CRDS_DIR], fake.env, stacks);
      assert.equal(code, 1, output);
      assert.match(output, /against the last deployment of stack prod: hello-5d6e7f8 would go/);
    } finally {
      fake.remove();
    }
  });

  it("without outputs: the guard is listed as not checked, and the verdict says so", async () => {
    const { code, output } = await runCli(["--crds", CRDS_DIR], BARE_ENV, stacks);
    assert.equal(code, 0, output);
    assert.match(
      output,
      /not checked:\n {4}- step guard \(canary-release:maxStepPercent = 50\): no outputs of stack prod \(the Pulumi CLI is not on PATH;/,
    );
    assert.match(
      output,
      / {4}- candidate gate \(canary-release:verifyCandidate\): candidate revision hello\/hello-5d6e7f8 exists, is Ready and passed its smoke test: validate reads no cluster/,
    );
    assert.match(output, / {4}- stable revision read .*hello\/hello-1a2b3c4 is Ready/);
    assert.match(output, /\npassed \(with 3 things not checked, listed above\): \d+ custom/);
    assert.doesNotMatch(output, /\npassed:/);
  });

  it("prints the traffic the stack would deploy, and --json holds it all", async () => {
    const text = await runCli(["--crds", CRDS_DIR], BARE_ENV, stacks);
    assert.match(
      text.output,
      /traffic it would deploy:\n {4}hello-1a2b3c4 +0 % {2}tag stable\n {4}hello-5d6e7f8 +100 % {2}tag candidate\n {4}the latest revision of hello +0 % {2}tag latest\n/,
    );
    const json = await runCli(
      ["--crds", CRDS_DIR, "--outputs", `prod=${outputs}`, "--json"],
      BARE_ENV,
      stacks,
    );
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.output) as {
      crds: string;
      verdict: string;
      stacks: StackReport[];
    };
    const [prod] = parsed.stacks;
    assert.equal(parsed.crds, CRDS_DIR);
    assert.deepEqual(
      prod.traffic?.map((t) => [t.revisionName ?? t.configurationName, t.percent]),
      [
        ["hello-1a2b3c4", 0],
        ["hello-5d6e7f8", 100],
        ["hello", 0],
      ],
    );
    assert.equal(prod.stepGuard?.status, "failed");
    assert.equal(prod.notChecked.length, 2);
    assert.match(parsed.verdict, /^FAILED/);
  });

  it("--outputs: which stack's, and a file that cannot be read, are usage errors", async () => {
    assert.deepEqual(outputsFiles(["f.json"], ["prod"]), { files: new Map([["prod", "f.json"]]) });
    const twoStacks = outputsFiles(["f.json"], ["dev", "prod"]);
    assert.ok("problem" in twoStacks && /give --outputs STACK=FILE/.test(twoStacks.problem));
    const unknown = outputsFiles(["staging=f.json"], ["dev", "prod"]);
    assert.ok("problem" in unknown && /no stack staging is checked/.test(unknown.problem));
    const missing = await runCli(
      ["--crds", CRDS_DIR, "--outputs", path.join(tmp, "nope.json")],
      BARE_ENV,
      stacks,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.output, /--outputs .*nope\.json: ENOENT/);
  });
});

describe("validate: the judgements, one by one", () => {
  const next = trafficFor({
    app: "hello",
    stableRevision: "hello-1a2b3c4",
    candidateRevision: "hello-5d6e7f8",
    canaryPercent: 50,
  });
  const settings = { maxStepPercent: 50, allowLargeStep: false };

  it("the step guard: off at 100, passed within the limit, passed for a stack never deployed", () => {
    assert.equal(
      judgeStepGuard("prod", { ...settings, maxStepPercent: 100 }, next, { unavailable: "x" })
        .status,
      "off",
    );
    const within = judgeStepGuard("prod", settings, next, { outputs: AT_20, from: "f" });
    assert.equal(within.status, "passed", within.detail);
    const first = judgeStepGuard("prod", settings, next, { outputs: {}, from: "f" });
    assert.equal(first.status, "passed");
    assert.match(first.detail, /never deployed/);
    const overridden = judgeStepGuard("prod", { maxStepPercent: 10, allowLargeStep: true }, next, {
      outputs: AT_20,
      from: "f",
    });
    assert.equal(overridden.status, "passed");
    assert.ok(overridden.status === "passed" && overridden.warning !== undefined);
  });

  it("render mode: both revision reads are skipped and listed with why", () => {
    const config = parseConfig({
      "canary-release:app": "hello",
      "canary-release:stableRevision": "hello-1a2b3c4",
      "canary-release:candidateRevision": "hello-5d6e7f8",
      "canary-release:canaryPercent": "20",
      "canary-release:render": '{"directory":"out"}',
    });
    const items = revisionReadsNotChecked(config);
    assert.equal(items.length, 2);
    for (const item of items) assert.match(item.why, /render mode has no cluster/);
    assert.deepEqual(
      revisionReadsNotChecked(
        parseConfig({
          "canary-release:app": "hello",
          "canary-release:stableRevision": "hello-1a2b3c4",
          "canary-release:verifyCandidate": "false",
        }),
      ),
      [],
      "verifyCandidate false: nothing is read, so nothing is assumed",
    );
  });

  it("a missing credential is listed only when `pulumi up` would need it", () => {
    const problems = [
      { key: "github:token", message: "required with github" },
      { key: "canary-release:domain", message: "bad" },
    ];
    assert.deepEqual(
      missingSecretsNotChecked("Pulumi.dev.yaml", problems, [
        "github:token",
        "canary-release:testerGithubToken",
      ]).map((item) => item.what),
      ["github:token: not set in Pulumi.dev.yaml"],
    );
  });

  it("the traffic, one line per target with its tag; the verdict never a plain passed", () => {
    assert.deepEqual(describeTraffic(next), [
      "hello-1a2b3c4                  50 %  tag stable",
      "hello-5d6e7f8                  50 %  tag candidate",
      "the latest revision of hello    0 %  tag latest",
    ]);
    const report = (notChecked: number): StackReport => ({
      stack: "s",
      file: "f",
      reports: [],
      notChecked: Array.from({ length: notChecked }, () => ({ what: "w", why: "y" })),
      warnings: [],
    });
    assert.equal(verdictLine([report(0)], false), "passed: 0 custom resources in 1 stack");
    assert.equal(
      verdictLine([report(1), report(2)], true),
      "passed (with 3 things not checked, listed above): config of 2 stacks",
    );
  });
});

/**
 * A fresh clone: the project's files in a directory of their own, with no ../shared beside it,
 * node_modules linked.
 */
function freshClone(): { dir: string; remove: () => void } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "validate-clone-"));
  const dir = path.join(tmp, "canary-release");
  const tracked = spawnSync(
    "git",
    ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    { cwd: PROJECT_ROOT, encoding: "utf8" },
  );
  assert.equal(tracked.status, 0, tracked.stderr);
  for (const file of tracked.stdout.split("\0").filter((f) => f !== "")) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(PROJECT_ROOT, file), path.join(dir, file));
  }
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return { dir, remove: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

describe("validate in a fresh clone without ../shared", function () {
  this.timeout(180000);
  let clone: { dir: string; remove: () => void };
  const env: NodeJS.ProcessEnv = { ...BARE_ENV };
  delete env.CANARY_CRDS_DIR;
  delete env.CANARY_RELEASES_BASE_URL;

  const validate = (args: string[]): { code: number | null; output: string } => {
    const result = spawnSync(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "conformance/cli.ts", ...args],
      { cwd: clone.dir, env, encoding: "utf8" },
    );
    return { code: result.status, output: `${result.stdout}${result.stderr}` };
  };

  before(() => {
    clone = freshClone();
  });
  after(() => clone.remove());

  it("with no option: code 2 and the ways to give CRDs, --config-only among them", () => {
    const { code, output } = validate([]);
    assert.equal(code, 2, output);
    assert.match(
      output,
      new RegExp(`no CRDs to validate against: the default .*${path.sep}shared${path.sep}crds`),
    );
    for (const option of ["--crds DIR", "--from-cluster", "--from-releases", "--config-only"]) {
      assert.ok(output.includes(option), `${option} in: ${output}`);
    }
    assert.doesNotMatch(output, /CRD directory not found/);
  });

  it("--config-only: runs every stack, prints its traffic, and lists the schemas as not checked", () => {
    const { code, output } = validate(["--config-only", "--stack", "dev"]);
    assert.equal(code, 0, output);
    assert.match(output, /CRDs: none \(--config-only/);
    assert.match(output, /traffic it would deploy:\n {4}the latest revision of hello +100 %/);
    assert.match(output, /custom resources against the schemas of their CRDs: --config-only/);
    assert.match(
      output,
      /\npassed \(with \d+ things not checked, listed above\): config of 1 stack/,
    );
  });
});
