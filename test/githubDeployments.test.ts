// A GitHub Deployment per canary (issue 18): what each status says (pure), how the config turns
// it on (config.ts), and what the canary command sends, request by request, to a stand-in
// GitHub API on loopback, with the real client, the real command and a stand-in cluster.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { AnalysisResult } from "../automation/analysisTypes";
import { main, type CliDeps } from "../automation/cli";
import {
  analysisFigures,
  DESCRIPTION_LIMIT,
  fitDescription,
  reachableUrl,
  statusForRolloutReport,
} from "../automation/deploymentStatus";
import { EXIT_CHANGED, EXIT_OK, EXIT_ROLLED_BACK } from "../automation/exitCodes";
import {
  CandidateDeployment,
  GithubDeploymentsClient,
  type GithubDeploymentTarget,
} from "../automation/githubDeployments";
import type { RolloutReport } from "../automation/rollout";
import { CONFIG_KEYS as K } from "../automation/stackDriver";
import { openCluster } from "../automation/cluster";
import { ConfigError, parseConfig } from "../config";
import type { TrafficTarget } from "../common/traffic";
import { preflightOk } from "./support/analysisStubs";
import { MemoryStackDriver } from "./support/memoryStackDriver";
import {
  revision,
  servedRoute,
  startStandInCluster,
  type StandInCluster,
} from "./support/standInCluster";
import {
  startStandInGithub,
  type RecordedRequest,
  type StandInGithub,
} from "./support/standInGithub";

const ROOT = path.resolve(__dirname, "..");
const STABLE = "hello-1a2b3c4";
const CANDIDATE = "hello-5d6e7f8";
const STABLE_SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const CANDIDATE_SHA = "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80";
const TOKEN = "ghp_standInToken0123456789abcdef";
const REPO = "/repos/acme/hello";
const LIST = `GET ${REPO}/deployments?sha=${CANDIDATE_SHA}&environment=prod&task=deploy%3Acanary&per_page=100`;
const CANDIDATE_URL = "http://candidate-hello.hello.apps.example.com";
const PRODUCTION_URL = "http://hello.hello.apps.example.com";

/** The build-on-push keys deployments build on, and the deployments' own. */
function deploymentConfig(apiUrl: string): Record<string, string> {
  return {
    "canary-release:github": JSON.stringify({
      owner: "acme",
      repository: "hello",
      registerWebhook: false,
    }),
    "canary-release:image": JSON.stringify({ repository: "registry.example.com/acme/hello" }),
    "canary-release:webhook": JSON.stringify({ host: "hooks.example.com", allowPlainHttp: true }),
    "canary-release:webhookSecret": "w".repeat(32),
    "canary-release:githubDeployments": JSON.stringify({ apiUrl }),
    "canary-release:githubDeploymentsToken": TOKEN,
  };
}
const SECRET_KEYS = ["canary-release:webhookSecret", "canary-release:githubDeploymentsToken"];

const proportion = (candidate: number, stable: number, verdict: "pass" | "fail") => ({
  name: "success-rate",
  type: "proportion" as const,
  verdict,
  candidate,
  stable,
  reason: `${candidate} vs ${stable}`,
});
const latency = (candidate: number, stable: number) => ({
  name: "p99-latency",
  type: "value" as const,
  verdict: "pass" as const,
  candidate,
  stable,
  reason: `${candidate} vs ${stable}`,
});
const PASS: AnalysisResult = {
  verdict: "pass",
  metrics: [proportion(99.8, 99.9, "pass"), latency(120, 110)],
  reason: "every metric passed",
};
const FAIL: AnalysisResult = {
  verdict: "fail",
  metrics: [latency(130, 110), proportion(91.2, 99.9, "fail")],
  reason: "success-rate worse than stable",
};

describe("what a canary's GitHub deployment says (automation/deploymentStatus.ts)", () => {
  it("fits a description in GitHub's 140 characters, whole parts first, cutting only a lone part", () => {
    assert.equal(fitDescription(["20 %", "", "passed"]), "20 % · passed");
    const long = fitDescription(["20 %", "a".repeat(120), "b".repeat(30)]);
    assert.equal(long, `20 % · ${"a".repeat(120)}`);
    const lone = fitDescription(["x".repeat(200)]);
    assert.equal(lone.length, DESCRIPTION_LIMIT);
    assert.ok(lone.endsWith("…"));
  });

  it("gives the key figures, failing metrics first, with their units", () => {
    assert.deepEqual(analysisFigures(FAIL, { "p99-latency": "ms" }), [
      "success-rate 91.2 % vs stable 99.9 %",
      "p99-latency 130 ms vs stable 110 ms",
    ]);
    assert.deepEqual(
      analysisFigures({ verdict: "inconclusive", metrics: [], reason: "no data" }),
      [],
    );
  });

  it("links only URLs a person can open: not cluster-local ones", () => {
    assert.equal(reachableUrl(CANDIDATE_URL), CANDIDATE_URL);
    assert.equal(reachableUrl("http://candidate-hello.hello.svc.cluster.local"), undefined);
    assert.equal(reachableUrl("not a url"), undefined);
    assert.equal(reachableUrl(null), undefined);
  });

  it("ends a rollout as success (promoted) or failure (rolled back); a stopped one is still in progress", () => {
    const base: RolloutReport = {
      status: "completed",
      stack: "prod",
      candidate: CANDIDATE,
      stable: STABLE,
      steps: [10, 50],
      startPercent: 0,
      deployedPercent: 0,
      promoted: true,
      analyses: [{ percent: 50, attempt: 1, at: "2026-03-01T12:00:00Z", result: PASS }],
      updates: [],
    };
    const urls = { candidate: CANDIDATE_URL, production: PRODUCTION_URL };
    assert.deepEqual(statusForRolloutReport(base, urls, {}, "https://ci/r.html"), {
      state: "success",
      description:
        "100 % · promoted to stable · success-rate 99.8 % vs stable 99.9 % · p99-latency 120 vs stable 110",
      logUrl: "https://ci/r.html",
      environmentUrl: PRODUCTION_URL,
    });
    assert.equal(
      statusForRolloutReport({ ...base, promoted: false, deployedPercent: 50 }, urls)?.state,
      "in_progress",
    );
    assert.deepEqual(
      statusForRolloutReport(
        {
          ...base,
          status: "rolled-back",
          promoted: false,
          analyses: [{ percent: 50, attempt: 1, at: "", result: FAIL }],
        },
        urls,
        { "p99-latency": "ms" },
      ),
      {
        state: "failure",
        description:
          "0 % · rolled back at 50 % · success-rate 91.2 % vs stable 99.9 % · p99-latency 130 ms vs stable 110 ms",
      },
    );
    const failed = statusForRolloutReport(
      {
        ...base,
        status: "failed",
        promoted: false,
        deployedPercent: 10,
        reason: "the update to canaryPercent 50 (step 2/2) failed",
      },
      urls,
    );
    // The candidate keeps its 10 %: the canary goes on by hand, it is not over.
    assert.deepEqual(failed, {
      state: "in_progress",
      description: "10 % · rollout stopped: the update to canaryPercent 50 (step 2/2) failed",
      environmentUrl: CANDIDATE_URL,
    });
    // Stopped because another command changed the stack: that command said what it did.
    assert.equal(
      statusForRolloutReport(
        { ...base, status: "failed", promoted: false, failureExitCode: EXIT_CHANGED },
        urls,
      ),
      undefined,
    );
    const interrupted = { ...base, status: "interrupted" as const, promoted: false };
    assert.equal(statusForRolloutReport(interrupted, urls), undefined, "before any update");
    assert.equal(
      statusForRolloutReport({ ...interrupted, deployedPercent: 10, updates: ["10"] }, urls)
        ?.description,
      "10 % · rollout interrupted, traffic left as is",
    );
  });
});

describe("githubDeployments and its token in the stack config (config.ts)", () => {
  const BASE = { "canary-release:app": "hello" };
  const judge = (config: Record<string, string>, secrets = SECRET_KEYS) =>
    parseConfig({ ...BASE, ...config }, [...secrets, "github:token"]);
  const problems = (config: Record<string, string>, secrets = SECRET_KEYS): string => {
    try {
      judge(config, secrets);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
    assert.fail("the config was accepted");
  };

  it("is on with its token, in the repository of `github`, the environment left to the stack's name", () => {
    const config = judge(deploymentConfig("https://api.github.com"));
    assert.deepEqual(config.githubDeployments, {
      apiUrl: "https://api.github.com",
      tokenKey: "canary-release:githubDeploymentsToken",
    });
    const named = judge({
      ...deploymentConfig("https://ghe.example.com/api/v3/"),
      "canary-release:githubDeployments": JSON.stringify({ environment: "production" }),
    });
    assert.equal(named.githubDeployments?.environment, "production");
    assert.equal(named.githubDeployments?.apiUrl, "https://api.github.com");
    assert.equal(judge({}).githubDeployments, undefined);
  });

  it("uses github:token only when told to, and never two tokens", () => {
    const { "canary-release:githubDeploymentsToken": _token, ...withoutToken } =
      deploymentConfig("https://api.github.com");
    const optIn = judge({
      ...withoutToken,
      "canary-release:githubDeployments": JSON.stringify({ useGithubToken: true }),
      "github:token": "ghp_webhooks",
    });
    assert.equal(optIn.githubDeployments?.tokenKey, "github:token");
    assert.match(
      problems({
        ...deploymentConfig("https://api.github.com"),
        "canary-release:githubDeployments": JSON.stringify({ useGithubToken: true }),
        "github:token": "ghp_webhooks",
      }),
      /githubDeployments\.useGithubToken = "true": one token records the deployments/,
    );
    assert.match(
      problems({
        ...withoutToken,
        "canary-release:githubDeployments": JSON.stringify({ useGithubToken: true }),
      }),
      /there is no github:token to use/,
    );
  });

  it("refuses settings that would record nothing, a token without a repository, plain http and a plain token", () => {
    const { "canary-release:githubDeploymentsToken": _token, ...withoutToken } =
      deploymentConfig("https://api.github.com");
    assert.match(
      problems(withoutToken),
      /canary-release:githubDeployments: records nothing without a token: `pulumi config set --secret githubDeploymentsToken/,
    );
    assert.match(
      problems({ "canary-release:githubDeploymentsToken": TOKEN }),
      /canary-release:githubDeploymentsToken: deployments are recorded in the application repository: set canary-release:github/,
    );
    assert.match(
      problems(deploymentConfig("http://github.example.com")),
      /githubDeployments\.apiUrl = "http:\/\/github\.example\.com": must be the GitHub REST API's root URL.*plain http only to a loopback address/,
    );
    const plain = problems(deploymentConfig("https://api.github.com"), [
      "canary-release:webhookSecret",
    ]);
    assert.match(plain, /githubDeploymentsToken: is a credential and must be a secret/);
    assert.ok(!plain.includes(TOKEN), "the token is never quoted");
    const twoLines = problems({
      ...deploymentConfig("https://api.github.com"),
      "canary-release:githubDeploymentsToken": "ghp_SECRETPART\nsecond",
    });
    assert.match(twoLines, /githubDeploymentsToken: must be a GitHub token: one line/);
    assert.ok(!twoLines.includes("SECRETPART"), "the token is never quoted");
  });
});

describe("canary commands record the canary as a GitHub Deployment (stand-in GitHub API on loopback)", () => {
  let project: string;
  let cluster: StandInCluster;
  let github: StandInGithub;

  beforeEach(async () => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), "canary-deployments-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.prod.yaml"), path.join(project, "Pulumi.prod.yaml"));
    cluster = await startStandInCluster("hello");
    cluster.revisions.push(
      revision("hello", "hello", STABLE, {
        commit: STABLE_SHA,
        createdAt: "2026-02-25T12:00:00Z",
        smokeTest: "passed",
      }),
      revision("hello", "hello", CANDIDATE, {
        commit: CANDIDATE_SHA,
        createdAt: "2026-03-01T10:00:00Z",
        smokeTest: "passed",
      }),
    );
    github = await startStandInGithub({ owner: "acme", repository: "hello", token: TOKEN });
  });
  afterEach(async () => {
    await Promise.all([cluster.close(), github.close()]);
    fs.rmSync(project, { recursive: true, force: true });
  });

  /** The Route as Knative serves what `driver` deployed (the drift check compares it). */
  async function serveDeployed(driver: MemoryStackDriver): Promise<void> {
    cluster.route = servedRoute("hello", (await driver.outputs()).traffic as TrafficTarget[]);
  }

  /** A deployed stack on the stand-in cluster, recording deployments unless told not to. */
  async function onCluster(
    config: Record<string, string>,
    deployments = true,
  ): Promise<MemoryStackDriver> {
    const driver = new MemoryStackDriver({
      config: {
        "canary-release:app": "hello",
        [K.namespace]: "hello",
        [K.stableRevision]: STABLE,
        "kubernetes:kubeconfig": cluster.kubeconfig,
        "kubernetes:context": "stand-in",
        ...(deployments ? deploymentConfig(github.url) : {}),
        ...config,
      },
      secretKeys: SECRET_KEYS,
    });
    await serveDeployed(driver);
    return driver;
  }

  async function canary(
    driver: MemoryStackDriver,
    argv: string[],
    options: {
      analyses?: AnalysisResult[];
      githubTimeoutMs?: number;
      beforeAnalysis?: () => Promise<void>;
    } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    let now = Date.parse("2026-03-01T12:00:00Z");
    const analyses = [...(options.analyses ?? [])];
    const deps: CliDeps = {
      cwd: project,
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      openStack: async () => driver,
      openCluster: (target) => openCluster({ baseDir: project, ...target }),
      analyse: async () => {
        await options.beforeAnalysis?.();
        const next = analyses.shift();
        if (next === undefined) throw new Error("more analyses than scripted");
        return next;
      },
      preflight: preflightOk,
      sleep: async (ms) => {
        now += ms;
      },
      now: () => new Date(now),
      ...(options.githubTimeoutMs !== undefined
        ? { githubTimeoutMs: options.githubTimeoutMs }
        : {}),
    };
    const code = await main(argv, deps);
    await serveDeployed(driver);
    // The token goes to GitHub only, never to the terminal.
    assert.ok(!stdout.includes(TOKEN) && !stderr.includes(TOKEN), "the token was printed");
    return { code, stdout, stderr };
  }

  /** The requests as `METHOD path` lines, each POST followed by its body. */
  const sent = (requests: readonly RecordedRequest[] = github.requests): unknown[] =>
    requests.flatMap((r) =>
      r.body === undefined ? [`${r.method} ${r.path}`] : [`${r.method} ${r.path}`, r.body],
    );

  const CREATE = {
    ref: CANDIDATE_SHA,
    task: "deploy:canary",
    auto_merge: false,
    required_contexts: [],
    environment: "prod",
    description: `canary of ${CANDIDATE} (stack prod)`,
    transient_environment: false,
    payload: { stack: "prod", revision: CANDIDATE, app: "hello", namespace: "hello" },
  };
  const ROLLOUT_10_50 = [
    ...["rollout", "--stack", "prod", "--steps", "10,50", "--interval", "1m", "--promote"],
    ...["--prometheus", "http://prometheus:9090"],
  ];
  const STATUSES = `POST ${REPO}/deployments/1000/statuses`;
  /** Not found: created, then its first status. */
  const CREATED_THEN = [LIST, `POST ${REPO}/deployments`, CREATE, STATUSES];
  /** Before each later status of a long run: is the deployment still going? */
  const STILL_GOING = `GET ${REPO}/deployments/1000/statuses?per_page=1`;
  /** Another process finds the deployment again: it is this stack's, and still going. */
  const FOUND_AGAIN = [LIST, STILL_GOING];
  /** A status as the command posts it, linking the candidate unless `extra` says otherwise. */
  const statusBody = (
    state: string,
    description: string,
    extra: object = { environment_url: CANDIDATE_URL },
  ) => ({ state, description, environment: "prod", ...extra });

  it("start, step and promote: one deployment, a status each, success making the old one inactive", async () => {
    // The stable revision's own deployment, successful, from before.
    github.deployments.push({
      id: 900,
      sha: STABLE_SHA,
      ref: STABLE_SHA,
      task: "deploy:canary",
      environment: "prod",
      payload: { stack: "prod", revision: STABLE },
      description: null,
      transient_environment: false,
      production_environment: false,
      statuses: [{ id: 901, state: "success" }],
    });
    const driver = await onCluster({});

    const started = await canary(driver, ["start", CANDIDATE, "--stack", "prod"]);
    assert.equal(started.code, EXIT_OK, started.stderr);
    assert.match(
      started.stdout,
      /GitHub deployment 1000 of hello-5d6e7f8 \(created\): in_progress "0 % · candidate started, no traffic yet"/,
    );
    const stepped = await canary(driver, ["step", "20", "--stack", "prod", "--json"]);
    assert.equal(stepped.code, EXIT_OK, stepped.stderr);
    assert.deepEqual(JSON.parse(stepped.stdout).githubDeployments, {
      posted: [
        {
          revision: CANDIDATE,
          ok: true,
          deploymentId: 1000,
          created: false,
          state: "in_progress",
          description: "20 % · canary step from 0 %",
          environmentUrl: CANDIDATE_URL,
        },
      ],
      notRecorded: [],
    });
    const promoted = await canary(driver, ["promote", "--stack", "prod"]);
    assert.equal(promoted.code, EXIT_OK, promoted.stderr);

    assert.deepEqual(sent(), [
      ...CREATED_THEN,
      statusBody("in_progress", "0 % · candidate started, no traffic yet"),
      ...FOUND_AGAIN,
      STATUSES,
      statusBody("in_progress", "20 % · canary step from 0 %"),
      ...FOUND_AGAIN,
      STATUSES,
      statusBody("success", "100 % · promoted to stable from 20 %", {
        environment_url: PRODUCTION_URL,
        auto_inactive: true,
      }),
    ]);
    assert.ok(github.requests.every((r) => r.authorization === `Bearer ${TOKEN}`));
    // GitHub, not the command, made the stable's old deployment inactive.
    assert.deepEqual(
      github.deployments.find((d) => d.id === 900)?.statuses.map((s) => s.state),
      ["success", "inactive"],
    );
  });

  it("a rollout that promotes: a status per step and per analysis with its figures, then success linking the report", async () => {
    const driver = await onCluster({ [K.candidateRevision]: CANDIDATE });
    const reports = path.join(project, "reports");
    const run = await canary(
      driver,
      [
        ...ROLLOUT_10_50,
        "--report",
        reports,
        "--report-url",
        "https://ci.example.com/canary/reports",
      ],
      { analyses: [PASS, PASS] },
    );
    assert.equal(run.code, EXIT_OK, run.stderr);
    const figures = "success-rate 99.8 % vs stable 99.9 % · p99-latency 120 ms vs stable 110 ms";
    const page = fs.readdirSync(reports).find((name) => name.endsWith(".html"));
    assert.equal(page, "rollout-prod-20260301T120200Z.html");
    assert.deepEqual(sent(), [
      ...CREATED_THEN,
      statusBody("in_progress", "10 % · deployed, analysis to come"),
      STILL_GOING,
      STATUSES,
      statusBody("in_progress", `10 % · passed · ${figures}`),
      STILL_GOING,
      STATUSES,
      statusBody("in_progress", "50 % · deployed, analysis to come"),
      STILL_GOING,
      STATUSES,
      statusBody("in_progress", `50 % · passed · ${figures}`),
      STILL_GOING,
      STATUSES,
      statusBody("success", `100 % · promoted to stable · ${figures}`, {
        environment_url: PRODUCTION_URL,
        log_url: `https://ci.example.com/canary/reports/${page}`,
        auto_inactive: true,
      }),
    ]);
  });

  it("a rollout that rolls back: failure with the failing figures once traffic is back at 0 %", async () => {
    const driver = await onCluster({ [K.candidateRevision]: CANDIDATE });
    const run = await canary(driver, ROLLOUT_10_50, { analyses: [PASS, FAIL] });
    assert.equal(run.code, EXIT_ROLLED_BACK, run.stderr);
    assert.equal(driver.config[K.canaryPercent], "0");
    assert.deepEqual(sent(), [
      ...CREATED_THEN,
      statusBody("in_progress", "10 % · deployed, analysis to come"),
      STILL_GOING,
      STATUSES,
      statusBody(
        "in_progress",
        "10 % · passed · success-rate 99.8 % vs stable 99.9 % · p99-latency 120 ms vs stable 110 ms",
      ),
      STILL_GOING,
      STATUSES,
      statusBody("in_progress", "50 % · deployed, analysis to come"),
      STILL_GOING,
      STATUSES,
      statusBody(
        "failure",
        "0 % · rolled back at 50 % · success-rate 91.2 % vs stable 99.9 % · p99-latency 130 ms vs stable 110 ms",
        {},
      ),
    ]);
  });

  it("GitHub down or silent changes no traffic: each post is said on stderr, and the next command catches up", async () => {
    const driver = await onCluster({ [K.candidateRevision]: CANDIDATE });
    github.fault = 503;
    const down = await canary(driver, ["step", "10", "--stack", "prod"]);
    assert.equal(down.code, EXIT_OK, down.stderr);
    assert.equal(driver.config[K.canaryPercent], "10");
    assert.match(
      down.stderr,
      /error: the GitHub deployment of hello-5d6e7f8 was not recorded \(traffic is not affected\): GET \/repos\/acme\/hello\/deployments: HTTP 503 stand-in fault 503/,
    );

    github.fault = "hang";
    const silent = await canary(driver, ["step", "20", "--stack", "prod", "--json"], {
      githubTimeoutMs: 200,
    });
    assert.equal(silent.code, EXIT_OK, silent.stderr);
    const result = JSON.parse(silent.stdout);
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.githubDeployments.posted.map((p: { ok: boolean; error: string }) => [p.ok, p.error]),
      [[false, `GET ${REPO}/deployments: no answer from ${github.url} within 0.2 s`]],
    );
    assert.equal(driver.config[K.canaryPercent], "20");

    github.fault = undefined;
    github.requests.length = 0;
    const back = await canary(driver, ["step", "30", "--stack", "prod"]);
    assert.equal(back.code, EXIT_OK, back.stderr);
    assert.deepEqual(sent(), [
      ...CREATED_THEN,
      statusBody("in_progress", "30 % · canary step from 20 %"),
    ]);
  });

  it("GitHub refusing the token is said with what to check; a second rollback posts nothing; a Revision without a commit is said", async () => {
    const driver = await onCluster({ [K.candidateRevision]: CANDIDATE });
    github.fault = 403;
    const refused = await canary(driver, ["step", "10", "--stack", "prod"]);
    assert.equal(refused.code, EXIT_OK);
    assert.match(
      refused.stderr,
      /HTTP 403 stand-in fault 403 \(the token may not write deployments of acme\/hello: fine-grained tokens need the repository's Deployments read and write/,
    );
    github.fault = undefined;
    github.requests.length = 0;
    assert.equal((await canary(driver, ["step", "20", "--stack", "prod"])).code, EXIT_OK);
    assert.equal((await canary(driver, ["rollback", "--stack", "prod"])).code, EXIT_OK);
    // Again from 0 %: no traffic moved, nothing to say, no deployment holding only a failure.
    assert.equal((await canary(driver, ["rollback", "--stack", "prod"])).code, EXIT_OK);
    cluster.revisions.push(
      revision("hello", "hello", "hello-7777777", { createdAt: "2026-03-01T11:00:00Z" }),
    );
    const started = await canary(driver, ["start", "hello-7777777", "--stack", "prod"]);
    assert.equal(started.code, EXIT_OK, started.stderr);
    assert.match(
      started.stderr,
      /the GitHub deployment of hello-7777777 was not recorded \(traffic is not affected\): Revision hello-7777777 has no canary-release\.dev\/commit annotation/,
    );
    assert.deepEqual(sent(), [
      ...CREATED_THEN,
      statusBody("in_progress", "20 % · canary step from 10 %"),
      ...FOUND_AGAIN,
      STATUSES,
      statusBody("failure", "0 % · rolled back from 20 %", {}),
      // The candidate start replaced: its deployment ended with the rollback, nothing to mark.
      ...FOUND_AGAIN,
    ]);
    assert.equal(github.deployments.length, 1);
  });

  it("start marks the candidate it replaces inactive while that one's deployment is still going", async () => {
    const NEWER = "hello-9f0e1d2";
    const NEWER_SHA = "9f0e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6";
    cluster.revisions.push(
      revision("hello", "hello", NEWER, {
        commit: NEWER_SHA,
        createdAt: "2026-03-01T11:30:00Z",
        smokeTest: "passed",
      }),
    );
    const driver = await onCluster({});
    assert.equal((await canary(driver, ["start", CANDIDATE, "--stack", "prod"])).code, EXIT_OK);
    github.requests.length = 0;
    const replaced = await canary(driver, ["start", NEWER, "--stack", "prod"]);
    assert.equal(replaced.code, EXIT_OK, replaced.stderr);
    assert.deepEqual(sent(), [
      `GET ${REPO}/deployments?sha=${NEWER_SHA}&environment=prod&task=deploy%3Acanary&per_page=100`,
      `POST ${REPO}/deployments`,
      {
        ...CREATE,
        ref: NEWER_SHA,
        description: `canary of ${NEWER} (stack prod)`,
        payload: { ...CREATE.payload, revision: NEWER },
      },
      `POST ${REPO}/deployments/1002/statuses`,
      statusBody("in_progress", "0 % · candidate started, no traffic yet"),
      ...FOUND_AGAIN,
      STATUSES,
      statusBody("inactive", `replaced by ${NEWER} before promotion`, {}),
    ]);
  });

  it("a rollback by hand during a rollout ends the deployment; the rollout posts nothing over it", async () => {
    const driver = await onCluster({ [K.candidateRevision]: CANDIDATE });
    let byHand: { code: number; stdout: string } | undefined;
    const run = await canary(driver, ROLLOUT_10_50, {
      analyses: [PASS, PASS],
      beforeAnalysis: async () => {
        if (byHand !== undefined) return;
        // The rollout's first status is out before anyone looks (minutes pass in a real one).
        for (let i = 0; i < 200 && github.deployments[0]?.statuses.length !== 1; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        byHand = await canary(driver, ["rollback", "--stack", "prod"]);
      },
    });
    assert.equal(byHand?.code, EXIT_OK);
    assert.equal(run.code, EXIT_CHANGED, run.stderr);
    assert.match(
      run.stdout,
      /GitHub deployment 1000 of hello-5d6e7f8: in_progress "10 % · passed · .*" not posted: another command ended deployment 1000 \(failure\) meanwhile/,
    );
    assert.deepEqual(
      github.deployments.map((d) =>
        d.statuses.map((status) => `${status.state} ${status.description}`),
      ),
      [["in_progress 10 % · deployed, analysis to come", "failure 0 % · rolled back from 10 %"]],
    );
  });

  it("without githubDeployments, nothing is sent and --json says null", async () => {
    const driver = await onCluster({ [K.candidateRevision]: CANDIDATE }, false);
    const run = await canary(driver, ["step", "10", "--stack", "prod", "--json"]);
    assert.equal(run.code, EXIT_OK, run.stderr);
    assert.equal(JSON.parse(run.stdout).githubDeployments, null);
    assert.deepEqual(github.requests, []);
  });
});

describe("one candidate's deployment across processes (automation/githubDeployments.ts)", () => {
  let github: StandInGithub;
  beforeEach(async () => {
    github = await startStandInGithub({ owner: "acme", repository: "hello", token: TOKEN });
  });
  afterEach(() => github.close());

  it("continues a deployment still going, and starts a new one after it ended", async () => {
    const target: GithubDeploymentTarget = {
      apiUrl: github.url,
      owner: "acme",
      repository: "hello",
      environment: "prod",
      token: TOKEN,
      stack: "prod",
    };
    const candidate = {
      revision: CANDIDATE,
      commit: CANDIDATE_SHA,
      app: "hello",
      namespace: "hello",
    };
    const client = new GithubDeploymentsClient(target);
    const first = new CandidateDeployment(client, candidate);
    await first.record({ state: "in_progress", description: "10 %" });
    const second = new CandidateDeployment(client, candidate);
    const ended = await second.record({ state: "failure", description: "0 % · rolled back" });
    assert.equal(ended?.ok && ended.deploymentId, 1000);
    const third = new CandidateDeployment(client, candidate);
    const again = await third.record({ state: "in_progress", description: "10 %" });
    assert.ok(again?.ok && again.created && again.deploymentId !== 1000);
    // The same stack however `--stack` was typed: its deployment is continued.
    const qualified = new CandidateDeployment(
      new GithubDeploymentsClient({ ...target, stack: "org/canary-release/prod" }),
      candidate,
    );
    const same = await qualified.record({ state: "in_progress", description: "5 %" });
    assert.ok(same?.ok && !same.created && same.deploymentId === again.deploymentId);
    // The same commit in another namespace (another stack's app) is not ours to continue.
    const elsewhere = new CandidateDeployment(client, { ...candidate, namespace: "staging" });
    const other = await elsewhere.record({ state: "in_progress", description: "5 %" });
    assert.ok(other?.ok && other.created);
    // A replaced candidate's deployment is only continued, never created.
    const courtesy = new CandidateDeployment(
      client,
      { ...candidate, revision: "hello-0000000" },
      false,
    );
    assert.equal(await courtesy.record({ state: "inactive", description: "replaced" }), undefined);
  });

  it("never sends, nor shows, a token that cannot be a header value", async () => {
    const token = "ghp_SECRETPART\nsecond";
    const client = new GithubDeploymentsClient({
      apiUrl: github.url,
      owner: "acme",
      repository: "hello",
      environment: "prod",
      token,
      stack: "prod",
    });
    const deployment = new CandidateDeployment(client, {
      revision: CANDIDATE,
      commit: CANDIDATE_SHA,
      app: "hello",
      namespace: "hello",
    });
    const outcome = await deployment.record({ state: "in_progress", description: "10 %" });
    assert.ok(outcome !== undefined && !outcome.ok);
    assert.equal(
      outcome.error,
      "GET /repos/acme/hello/deployments: not sent: the token is not one line of visible characters (its value is not shown)",
    );
    assert.ok(!outcome.error.includes("SECRETPART"));
    assert.deepEqual(github.requests, []);
  });
});
