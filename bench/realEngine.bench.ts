// npm run bench (real engine part): one canary step through the real Pulumi CLI next to
// `kubectl patch` of the same Route on the same local API server, timed over RUNS runs each,
// with the requests each made (from the audit log); then where a preview's time goes. Needs the
// real tier's toolchain (npm run toolchain); without it, says so and measures nothing.
import * as fs from "fs";
import * as path from "path";
import { performance } from "perf_hooks";
import { trafficFor } from "../common/traffic";
import { kubectl } from "../toolchain/controlPlane";
import { AuditLog, countRequests, RequestCounts } from "../e2e/support/audit";
import { playControllers } from "../e2e/support/controllers";
import { Kube } from "../e2e/support/kube";
import {
  committedStack,
  namespaceWithRevisions,
  PROD_CANARY_IN_PROGRESS,
  standInSecrets,
} from "../e2e/support/fixtures";
import {
  realTierProblem,
  RealTier,
  StackProject,
  startTier,
  stopRealTier,
} from "../e2e/support/realTier";

const RUNS = Number(process.env.BENCH_REAL_RUNS ?? 5);
const USER = "canary-admin";
const STABLE = "hello-1a2b3c4";
const CANDIDATE = "hello-5d6e7f8";

interface Sample {
  readonly seconds: number;
  readonly requests: RequestCounts;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function timed(audit: AuditLog, action: () => Promise<unknown>): Promise<Sample> {
  audit.since();
  const start = performance.now();
  await action();
  const seconds = (performance.now() - start) / 1000;
  return { seconds, requests: countRequests(audit.since(), USER) };
}

function tableRow(label: string, samples: readonly Sample[]): string[] {
  const s = samples.map((x) => x.seconds);
  const r = samples[samples.length - 1].requests;
  return [
    label,
    median(s).toFixed(2),
    Math.min(...s).toFixed(2),
    Math.max(...s).toFixed(2),
    `${r.reads}`,
    `${r.writes - r.fixUps}+${r.fixUps}`,
    `${r.dryRuns}`,
  ];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

/** A stack project whose program is `source` instead of index.ts (for the floor figures). */
async function programOnly(tier: RealTier, stack: string, source: string): Promise<StackProject> {
  const project = await StackProject.create(tier, stack, { "canary-release:app": "floor" });
  fs.writeFileSync(path.join(project.dir, "index.ts"), source);
  return project;
}

async function main(): Promise<void> {
  const problem = realTierProblem();
  if (problem !== undefined) {
    console.log(`Real engine benchmark skipped: ${problem}`);
    return;
  }
  if (!Number.isInteger(RUNS) || RUNS < 3) {
    throw new Error(`BENCH_REAL_RUNS must be a whole number of at least 3, got ${RUNS}`);
  }
  const tier = await startTier();
  try {
    await namespaceWithRevisions(tier.kube, "hello", "hello", { [STABLE]: {}, [CANDIDATE]: {} });
    const project = await StackProject.create(
      tier,
      "prod",
      committedStack("prod", PROD_CANARY_IN_PROGRESS),
      standInSecrets("webhookSecret"),
    );
    const controllers = playControllers(new Kube(tier.plane, tier.plane.controllerToken));
    const audit = new AuditLog(`${tier.plane.dir}/audit.log`);
    try {
      await project.ok(["up", "--yes", "--non-interactive"]);
      const percents = (i: number): number => (i % 2 === 0 ? 30 : 20);
      const samples: Record<string, Sample[]> = {};
      const add = (label: string, sample: Sample): void => {
        (samples[label] ??= []).push(sample);
      };
      const checkOff = { PULUMI_NODEJS_TRANSPILE_ONLY: "false" };
      for (let i = 0; i < RUNS; i++) {
        // The step as CI runs it: config set, then `pulumi up --yes` (a preview, then the update).
        await project.ok(["config", "set", "canaryPercent", String(percents(i))]);
        add(
          "pulumi up --yes (project settings)",
          await timed(audit, () => project.ok(["up", "--yes", "--non-interactive"])),
        );
        await project.ok(["config", "set", "canaryPercent", String(percents(i + 1))]);
        add(
          "pulumi up --yes, type-checking TS",
          await timed(audit, () => project.ok(["up", "--yes", "--non-interactive"], checkOff)),
        );
        await project.ok(["config", "set", "canaryPercent", String(percents(i))]);
        add(
          "pulumi up --skip-preview",
          await timed(audit, () =>
            project.ok(["up", "--yes", "--skip-preview", "--non-interactive"]),
          ),
        );
        add(
          "pulumi preview (project settings)",
          await timed(audit, () => project.ok(["preview", "--non-interactive"])),
        );
        add(
          "pulumi preview, type-checking TS",
          await timed(audit, () => project.ok(["preview", "--non-interactive"], checkOff)),
        );
        // The same change of the Route by hand.
        const traffic = trafficFor({
          app: "hello",
          stableRevision: STABLE,
          candidateRevision: CANDIDATE,
          canaryPercent: percents(i + 1),
        });
        add(
          "kubectl patch (merge)",
          await timed(audit, async () =>
            kubectl(tier.plane, tier.toolchain, [
              "patch",
              "route.serving.knative.dev",
              "hello",
              "-n",
              "hello",
              "--type=merge",
              "-p",
              JSON.stringify({ spec: { traffic } }),
            ]),
          ),
        );
        // Back to what the stack says, so the next `pulumi up` has the same change to make.
        await project.ok(["up", "--yes", "--skip-preview", "--non-interactive", "--refresh"]);
      }

      // Where a preview's time goes: the CLI, language host, Node and SDK alone (an empty
      // program); with the Kubernetes provider started; the stack itself.
      const empty = await programOnly(tier, "floor-empty", "export const nothing = null;\n");
      const provider = await programOnly(
        tier,
        "floor-provider",
        [
          'import * as k8s from "@pulumi/kubernetes";',
          'const provider = new k8s.Provider("kubernetes", { context: "canary-local" });',
          'export const configMap = new k8s.core.v1.ConfigMap("probe", { data: { a: "b" } },',
          "  { provider }).metadata.name;",
          "",
        ].join("\n"),
      );
      for (let i = 0; i < RUNS; i++) {
        add(
          "preview: empty TS program",
          await timed(audit, () => empty.ok(["preview", "--non-interactive"])),
        );
        add(
          "preview: + Kubernetes provider",
          await timed(audit, () => provider.ok(["preview", "--non-interactive"])),
        );
      }

      const header = ["what", "median s", "min s", "max s", "reads", "writes", "dry runs"];
      console.log(
        `A canary step (canaryPercent 20 <-> 30, prod stack, ${RUNS} runs each), local ` +
          "kube-apiserver, real Pulumi CLI (file backend). Requests: the last run's, from the " +
          'audit log; writes as "applies+no-op field-manager fix-ups".\n',
      );
      console.log(
        table(
          header,
          Object.entries(samples).map(([l, s]) => tableRow(l, s)),
        ),
      );
      const m = (label: string): number => median(samples[label].map((s) => s.seconds));
      console.log(
        `\nratio of medians, pulumi up --yes / kubectl patch: ` +
          `${(m("pulumi up --yes (project settings)") / m("kubectl patch (merge)")).toFixed(1)} ` +
          `(type-checking: ${(m("pulumi up --yes, type-checking TS") / m("kubectl patch (merge)")).toFixed(1)})`,
      );
      const preview = m("pulumi preview (project settings)");
      const checked = m("pulumi preview, type-checking TS");
      const floor = m("preview: empty TS program");
      const withProvider = m("preview: + Kubernetes provider");
      console.log(
        [
          "\nwhere a preview's time goes (medians; the project transpiles TypeScript without",
          "type-checking it, tsconfig.json ts-node.transpileOnly; npm test type-checks):",
          `  CLI, language host, Node, SDK (empty program)  ${floor.toFixed(2)} s`,
          `  + Kubernetes provider start and one resource   ${(withProvider - floor).toFixed(2)} s`,
          `  + the stack's program                          ${(preview - withProvider).toFixed(2)} s`,
          `  TypeScript type-checking, if it were on        ${(checked - preview).toFixed(2)} s`,
        ].join("\n"),
      );
    } finally {
      await controllers.stop();
    }
  } finally {
    stopRealTier(tier);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
