// npm run bench: the program under Pulumi mocks for the prod stack, next to an empty Pulumi
// program measured the same way in the same process, as a table of medians over RUNS runs.
import * as path from "path";
import { performance } from "perf_hooks";
import { everyRevisionPassed, runProgram, RunOptions } from "../conformance/programRunner";
import { PROD_CANARY_IN_PROGRESS, prodStack } from "../test/support/prodStack";

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 3;

interface Measured {
  readonly label: string;
  resources: number;
  readonly millis: number[];
}

async function timeOnce(options: RunOptions): Promise<{ millis: number; resources: number }> {
  const start = performance.now();
  const run = await runProgram(options);
  const millis = performance.now() - start;
  if (run.error !== undefined) throw run.error;
  return { millis, resources: run.resources.length };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 10) {
    throw new Error(
      `BENCH_RUNS must be a whole number of at least 10, got ${process.env.BENCH_RUNS}`,
    );
  }
  // Mid-canary, as the figures were always taken: the gate reads both revisions.
  const { config, secretKeys } = prodStack(PROD_CANARY_IN_PROGRESS);
  const cases: { label: string; options: RunOptions }[] = [
    {
      label: "prod stack (index.ts)",
      options: { config, secretKeys, stack: "prod", cluster: everyRevisionPassed },
    },
    {
      label: "empty Pulumi program",
      options: { config, stack: "prod", program: path.join(__dirname, "emptyProgram.ts") },
    },
  ];
  const measured: Measured[] = cases.map((c) => ({ label: c.label, resources: 0, millis: [] }));

  // Warm-up loads and compiles the modules once; interleaving the cases afterwards spreads any
  // drift of the machine (GC, other load) over both columns alike.
  for (let i = 0; i < WARMUP; i++) for (const c of cases) await timeOnce(c.options);
  for (let i = 0; i < RUNS; i++) {
    for (const [index, c] of cases.entries()) {
      const { millis, resources } = await timeOnce(c.options);
      measured[index].millis.push(millis);
      measured[index].resources = resources;
    }
  }

  const [program, empty] = measured;
  const rows = measured.map((m) => [
    m.label,
    String(m.resources),
    median(m.millis).toFixed(2),
    Math.min(...m.millis).toFixed(2),
    Math.max(...m.millis).toFixed(2),
  ]);
  const header = ["program", "resources", "median ms", "min ms", "max ms"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  console.log(`Program under Pulumi mocks, ${RUNS} runs each after ${WARMUP} warm-up runs`);
  console.log(`(node ${process.version}, ${process.platform}/${process.arch})\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
  const ratio = median(program.millis) / median(empty.millis);
  console.log(`\nratio of medians (prod stack / empty program): ${ratio.toFixed(2)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
