// The `canary` command for real: status, step, rollback, promote and a metric-gated rollout
// through the Automation API and the real Pulumi CLI, against the local control plane, with the
// rollout's analysis asking a real Prometheus that holds backfilled queue-proxy metrics for the
// Revisions' names (test/support/knativeMetrics.ts). After each command the Route read back from
// the API server, the stack's outputs and its stack file agree.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import {
  analyseCanary,
  EXIT_OK,
  EXIT_REFUSED,
  EXIT_ROLLED_BACK,
  preflightCanary,
} from "../automation";
import { readRolloutRecord } from "../automation/rolloutReport";
import { trafficFor } from "../common/traffic";
import {
  AT,
  NAMESPACES,
  REVISIONS,
  startKnativePrometheus,
  KnativePrometheus,
} from "../test/support/knativeMetrics";
import { freePort, requirePrometheus } from "../test/support/prometheus";
import { ControllerPlayer, playControllers } from "./support/controllers";
import { Kube } from "./support/kube";
import {
  namespaceWithRevisions,
  recordDeploymentsOn,
  routeTraffic,
  runCanary,
  type CanaryRun,
} from "./support/fixtures";
import { RealTier, StackProject, startRealTier, stopRealTier } from "./support/realTier";
import { startStandInGithub, type StandInGithub } from "../test/support/standInGithub";

const NAMESPACE = NAMESPACES.opencensus;
const GITHUB_TOKEN = "ghp_shopStandInToken0123456789";
/** The commit the pipeline would have annotated each Revision with. */
const commitOf = (revision: string): string =>
  crypto.createHash("sha1").update(revision).digest("hex");
const STABLE = REVISIONS.stable;
const STACK = "shop";

describe("the canary command for real (Automation API, real CLI, real API server, real Prometheus)", function () {
  let tier: RealTier | undefined;
  let prometheus: KnativePrometheus | undefined;
  let project: StackProject;
  let savedPath: string | undefined;
  let controllers: ControllerPlayer | undefined;
  let github: StandInGithub | undefined;

  before(async function () {
    this.timeout(90 * 60 * 1000);
    const binaries = requirePrometheus(this);
    tier = await startRealTier(this);
    prometheus = await startKnativePrometheus(binaries, "canary-e2e-prometheus-");
    await namespaceWithRevisions(
      tier.kube,
      NAMESPACE,
      "shop",
      Object.fromEntries(
        Object.values(REVISIONS).map((revision) => [
          revision,
          { annotations: { "canary-release.dev/commit": commitOf(revision) } },
        ]),
      ),
    );
    project = await StackProject.create(tier, STACK, {
      "canary-release:app": "shop",
      "canary-release:namespace": NAMESPACE,
      "canary-release:domain": "apps.example.com",
      "canary-release:stableRevision": STABLE,
    });
    // The Automation API runs the `pulumi` it finds on PATH.
    savedPath = process.env.PATH;
    process.env.PATH = tier.env.PATH;
    // For the whole suite: the canary command's updates delete tag Services too.
    controllers = playControllers(new Kube(tier.plane, tier.plane.controllerToken), 3600);
    await project.ok(["up", "--yes", "--non-interactive"]);
  });
  after(async () => {
    await controllers?.stop();
    if (savedPath !== undefined) process.env.PATH = savedPath;
    await prometheus?.close();
    await github?.close();
    stopRealTier(tier);
  });

  /** `canary <args>` with the real analysis against the backfilled Prometheus. */
  async function canary(args: string[]): Promise<CanaryRun> {
    if (tier === undefined) throw new Error("no tier");
    return runCanary(tier, project, STACK, args, {
      analyse: analyseCanary,
      preflight: preflightCanary,
      // The metrics were recorded at AT: the analysis looks there, and waits take no time.
      now: () => AT,
    });
  }

  /** The stack file's traffic keys, and the deployed outputs: they must agree. */
  async function fileAndDeployed(): Promise<{ file: unknown; deployed: unknown }> {
    const config = (
      parseYaml(fs.readFileSync(path.join(project.dir, `Pulumi.${STACK}.yaml`), "utf8")) as {
        config: Record<string, unknown>;
      }
    ).config;
    const outputs = JSON.parse(await project.ok(["stack", "output", "--json"])) as Record<
      string,
      unknown
    >;
    return {
      file: {
        stableRevision: config["canary-release:stableRevision"] ?? null,
        candidateRevision: config["canary-release:candidateRevision"] ?? null,
        canaryPercent: Number(config["canary-release:canaryPercent"] ?? 0),
      },
      deployed: {
        stableRevision: outputs.stableRevision,
        candidateRevision: outputs.candidateRevision,
        canaryPercent: outputs.canaryPercent,
      },
    };
  }

  async function expectDeployed(plan: {
    stableRevision: string;
    candidateRevision?: string;
    canaryPercent: number;
  }): Promise<void> {
    if (tier === undefined) throw new Error("no tier");
    assert.deepEqual(
      routeTraffic(tier, NAMESPACE, "shop"),
      trafficFor({ app: "shop", ...plan }),
      "the Route read back",
    );
    const { file, deployed } = await fileAndDeployed();
    assert.deepEqual(deployed, file, "the stack file is what is deployed");
  }

  it("status, step, rollback and promote move the Route, and the stack file follows", async () => {
    const candidate = REVISIONS.healthy;
    await project.ok(["config", "set", "candidateRevision", candidate]);
    await project.ok(["up", "--yes", "--non-interactive"]);
    const status = await canary(["status", "--json"]);
    assert.equal(status.code, EXIT_OK, status.stderr);
    const shown = JSON.parse(status.stdout) as { deployed: { candidateRevision: string } };
    assert.equal(shown.deployed.candidateRevision, candidate);

    const step = await canary(["step", "20"]);
    assert.equal(step.code, EXIT_OK, step.stderr);
    await expectDeployed({
      stableRevision: STABLE,
      candidateRevision: candidate,
      canaryPercent: 20,
    });

    const rollback = await canary(["rollback"]);
    assert.equal(rollback.code, EXIT_OK, rollback.stderr);
    await expectDeployed({
      stableRevision: STABLE,
      candidateRevision: candidate,
      canaryPercent: 0,
    });

    assert.equal((await canary(["step", "100"])).code, EXIT_OK);
    const promote = await canary(["promote"]);
    assert.equal(promote.code, EXIT_OK, promote.stderr);
    await expectDeployed({ stableRevision: candidate, canaryPercent: 0 });
    // Back to the stable the rollouts start from.
    await project.ok(["config", "set", "stableRevision", STABLE]);
    await project.ok(["up", "--yes", "--non-interactive"]);
  });

  const rolloutFlags = (): string[] => [
    "--steps",
    "20,50",
    "--interval",
    "1m",
    "--window",
    "5m",
    "--prometheus",
    prometheus?.url ?? "",
    "--min-success-rate",
    "99",
    "--max-p99-ms",
    "300",
  ];

  it("rollout: a mistyped Prometheus URL is refused before any traffic moves", async () => {
    await project.ok(["config", "set", "candidateRevision", REVISIONS.healthy]);
    await project.ok(["config", "set", "canaryPercent", "0"]);
    await project.ok(["up", "--yes", "--non-interactive"]);
    const flags = rolloutFlags();
    flags[flags.indexOf("--prometheus") + 1] = `http://127.0.0.1:${await freePort()}`;
    const run = await canary(["rollout", ...flags]);
    assert.equal(run.code, EXIT_REFUSED, `${run.stdout}\n${run.stderr}`);
    assert.match(
      run.stderr,
      /the analysis cannot run, so no traffic was moved: preflight [\s\S]* could not be reached/,
    );
    await expectDeployed({
      stableRevision: STABLE,
      candidateRevision: REVISIONS.healthy,
      canaryPercent: 0,
    });
  });

  /** The requests as `METHOD path [state "description"]` lines, printed for the closing note. */
  function requestLines(github: StandInGithub, title: string): string[] {
    const lines = github.requests.map(
      (r) =>
        `${r.method} ${r.path.replace(/\?.*/, "")}` +
        (typeof r.body?.state === "string"
          ? ` ${r.body.state} "${String(r.body.description)}"`
          : ""),
    );
    console.log(`\n      ${title}:\n${lines.map((line) => `        ${line}`).join("\n")}`);
    assert.ok(github.requests.every((r) => r.authorization === `Bearer ${GITHUB_TOKEN}`));
    // The latencies come from the backfilled histograms' buckets: compared as N.
    return lines.map((line) => line.replace(/ [\d.]+ ms/g, " N ms"));
  }

  it("rollout: a healthy candidate passes every analysis and is promoted", async () => {
    github = await startStandInGithub({ owner: "acme", repository: "shop", token: GITHUB_TOKEN });
    // The token is a real secret, decrypted by the real CLI for the command.
    await recordDeploymentsOn(project, "shop", github.url, GITHUB_TOKEN);
    await project.ok(["config", "set", "candidateRevision", REVISIONS.healthy]);
    await project.ok(["config", "set", "canaryPercent", "0"]);
    await project.ok(["up", "--yes", "--non-interactive"]);
    const reports = path.join(project.dir, "reports");
    const run = await canary([
      "rollout",
      ...rolloutFlags(),
      "--promote",
      "--report",
      reports,
      "--report-url",
      "https://ci.example.com/reports",
    ]);
    assert.equal(run.code, EXIT_OK, `${run.stdout}\n${run.stderr}`);
    const [page] = fs.readdirSync(reports).filter((name) => name.endsWith(".html"));
    const statuses = `/repos/acme/shop/deployments/${github.deployments[0]?.id}/statuses`;
    const figures = "success-rate 99.5 % vs stable 99.5 % · p99-latency N ms vs stable N ms";
    assert.deepEqual(requestLines(github, "GitHub requests of the rollout that promotes"), [
      "GET /repos/acme/shop/deployments",
      "POST /repos/acme/shop/deployments",
      `POST ${statuses} in_progress "20 % · deployed, analysis to come"`,
      `GET ${statuses}`,
      `POST ${statuses} in_progress "20 % · passed · ${figures}"`,
      `GET ${statuses}`,
      `POST ${statuses} in_progress "50 % · deployed, analysis to come"`,
      `GET ${statuses}`,
      `POST ${statuses} in_progress "50 % · passed · ${figures}"`,
      `GET ${statuses}`,
      `POST ${statuses} success "100 % · promoted to stable · ${figures}"`,
    ]);
    const last = github.requests[github.requests.length - 1].body;
    assert.equal(last?.log_url, `https://ci.example.com/reports/${page}`);
    // The commit the Revision in the API server carries.
    assert.equal(github.deployments[0]?.ref, commitOf(REVISIONS.healthy));
    assert.match(run.stdout, /preflight: Prometheus answers; built-in opencensus metrics/);
    assert.match(run.stdout, /rollout completed: shop-healthy promoted to stable/);
    // The record holds each analysis with both revisions' numbers from the real Prometheus.
    const [json] = fs.readdirSync(reports).filter((name) => name.endsWith(".json"));
    const record = readRolloutRecord(path.join(reports, json));
    assert.deepEqual(
      record.analyses.map((a) => [a.percent, a.result.verdict]),
      [
        [20, "pass"],
        [50, "pass"],
      ],
    );
    const success = record.analyses[0].result.metrics?.find((m) => m.name === "success-rate");
    for (const value of [success?.candidate, success?.stable]) {
      assert.ok(value !== undefined && Math.abs(value - 99.5) < 1e-6, JSON.stringify(success));
    }
    await expectDeployed({ stableRevision: REVISIONS.healthy, canaryPercent: 0 });
  });

  it("rollout: a candidate that fails its analysis is rolled back to 0 %", async () => {
    await project.ok(["config", "set", "candidateRevision", REVISIONS.errors]);
    await project.ok(["up", "--yes", "--non-interactive"]);
    if (github === undefined) throw new Error("the promoting rollout set up the stand-in GitHub");
    github.requests.length = 0;
    const run = await canary(["rollout", ...rolloutFlags()]);
    assert.equal(run.code, EXIT_ROLLED_BACK, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /rolled back: analysis failed at 20 %/);
    const created = github.deployments[github.deployments.length - 1];
    const statuses = `/repos/acme/shop/deployments/${created?.id}/statuses`;
    const lines = requestLines(github, "GitHub requests of the rollout that rolls back");
    assert.deepEqual(lines.slice(0, 3), [
      "GET /repos/acme/shop/deployments",
      "POST /repos/acme/shop/deployments",
      `POST ${statuses} in_progress "20 % · deployed, analysis to come"`,
    ]);
    assert.equal(lines[3], `GET ${statuses}`);
    assert.match(
      lines[4],
      new RegExp(`^POST ${statuses} failure "0 % · rolled back at 20 % · success-rate \\d`),
    );
    assert.equal(lines.length, 5);
    assert.equal(created?.ref, commitOf(REVISIONS.errors));
    // The promoted deployment stays the environment's success; this one failed.
    assert.deepEqual(
      github.deployments.map((d) => d.statuses[d.statuses.length - 1]?.state),
      ["success", "failure"],
    );
    await expectDeployed({
      stableRevision: REVISIONS.healthy,
      candidateRevision: REVISIONS.errors,
      canaryPercent: 0,
    });
  });
});
