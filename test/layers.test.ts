// The import graph flows one way (.dependency-cruiser.cjs): common <- config <- components <-
// index; automation -> common and config. dependency-cruiser checks the real tree, and a fixture
// with a deliberate back-edge shows the rules catch one.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const RULES = path.join(ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = path.join(ROOT, "node_modules", ".bin", "depcruise");
/** What the program and its tools are made of (tests may import anything). */
const SCANNED = [
  "index.ts",
  "config.ts",
  "configKeys.ts",
  "common",
  "components",
  "automation",
  "conformance",
  "functions",
];

interface Cruise {
  readonly summary: {
    readonly violations: { rule: { name: string }; from: string; to: string }[];
    readonly totalCruised: number;
  };
  readonly modules: { readonly source: string; readonly coreModule?: boolean }[];
}

function cruise(cwd: string, paths: readonly string[]): Cruise {
  const result = spawnSync(DEPCRUISE, ["--config", RULES, "--output-type", "json", ...paths], {
    cwd,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  if (result.error) throw result.error;
  return JSON.parse(result.stdout) as Cruise;
}

/** The .ts and .js files under `paths`, relative to ROOT. */
function sourceFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (relative: string): void => {
    const full = path.join(ROOT, relative);
    if (fs.statSync(full).isDirectory()) {
      for (const entry of fs.readdirSync(full)) walk(path.join(relative, entry));
    } else if (/\.(ts|js)$/.test(relative) && !/\.(d|test)\.ts$/.test(relative)) {
      files.push(relative);
    }
  };
  paths.forEach(walk);
  return files.sort();
}

describe("the import graph flows one way", function () {
  this.timeout(120_000);

  it("has no back-edge and no cycle in the program and its tools, every source file scanned", () => {
    const result = cruise(ROOT, SCANNED);
    const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
    assert.deepEqual(violations, []);
    const scanned = result.modules
      .filter((m) => !m.coreModule && !m.source.startsWith("node_modules/"))
      .map((m) => m.source)
      .sort();
    assert.deepEqual(scanned, sourceFiles(SCANNED), "every source file, and nothing else");
    assert.ok(scanned.length >= 40, `only ${scanned.length} modules: the scan missed folders`);
  });

  it("reports deliberate back-edges: the leaf importing a component and Pulumi, a feature another", () => {
    const result = cruise(path.join(ROOT, "test", "fixtures", "layers"), ["common", "components"]);
    // Where node_modules lives (a symlink, a parent folder) does not matter: from it on.
    const inNodeModules = (to: string): string =>
      to.replace(/^(\.\.\/)*node_modules\//, "node_modules/");
    assert.deepEqual(
      result.summary.violations
        .map((v) => `${v.rule.name}: ${v.from} -> ${inNodeModules(v.to)}`)
        .sort(),
      [
        "common-is-a-leaf: common/names.ts -> components/route.ts",
        "common-is-a-leaf: common/names.ts -> node_modules/@pulumi/pulumi/index.js",
        "features-meet-in-shared: components/tester/tester.ts -> components/build/pipeline.ts",
      ],
    );
  });
});
