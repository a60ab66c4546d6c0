// npm run validate -- [CRD source] [--stack NAME]... [--outputs [STACK=]FILE]... [--json]
// Runs the program under mocks for each Pulumi.<stack>.yaml, as `pulumi preview` would, and for
// each stack: checks every custom resource it would create against the CRD schemas and the
// upstream admission rules, prints the traffic it would deploy, and evaluates the step guard
// against the stack's last outputs. CRDs come from one source: --crds DIR, --from-cluster (the
// kubeconfig's cluster, through kubectl), --from-releases (the pinned release manifests, fetched
// once and cached), or none with --config-only; by default $CANARY_CRDS_DIR or ../shared/crds.
// Whatever it could not check (the candidate gate without a cluster, the guard without outputs,
// credentials set per machine) is listed under "not checked", never counted as passed.
import * as fs from "fs";
import { parseArgs } from "util";
import { CRD_SOURCE_CHOICES, chooseCrdSource, loadCrds, LoadedCrds } from "./crdSources";
import { PROJECT_ROOT, stackFiles } from "./programRunner";
import { describeTraffic, OutputsRead } from "./stackChecks";
import { checkStackFiles, DEFAULT_CRDS_DIR, StackReport } from "./stackConformance";
import { outputsFiles, readBackendOutputs, readOutputsFile } from "./stackOutputs";

export const USAGE = `usage: npm run validate -- [CRD source] [--stack NAME]... [--outputs [STACK=]FILE]... [--json]

CRD source (one; default: $CANARY_CRDS_DIR, else ../shared/crds):
  --crds DIR                directory (or file) of CRD YAML, e.g. the output of
                            \`kubectl get crd -o yaml\`
  --from-cluster            the CRDs of a cluster, read with \`kubectl get crd -o yaml\`
    --context NAME          kubeconfig context (default: the current one)
    --kubeconfig FILE       kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  --from-releases           the CRDs of the pinned release manifests the Platform installs
                            (components/platform/platformManifests.ts), fetched once and cached
    --releases-base-url URL a mirror serving the same paths, in place of https://github.com and
                            https://infra.tekton.dev (default: $CANARY_RELEASES_BASE_URL)
    --cache-dir DIR         default: \${XDG_CACHE_HOME:-~/.cache}/canary-release/crds
  --config-only             no CRDs: the config, the upstream admission rules, the traffic and
                            the step guard only

  --stack NAME              check only Pulumi.NAME.yaml (repeatable; default: every stack file)
  --outputs [STACK=]FILE    the stack's last outputs (\`pulumi stack output --json > FILE\`), for
                            the step guard (repeatable; default: asks \`pulumi stack output\`)
  --json                    print the reports as JSON

exit codes: 0 no violation (what was not checked is listed), 1 violations, a refused step or a
stack failed to run, 2 bad usage or CRDs`;

export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

interface Flags {
  crds?: string;
  "from-cluster"?: boolean;
  context?: string;
  kubeconfig?: string;
  "from-releases"?: boolean;
  "releases-base-url"?: string;
  "cache-dir"?: string;
  "config-only"?: boolean;
  stack?: string[];
  outputs?: string[];
  json?: boolean;
  help?: boolean;
}

function stackFailed(stack: StackReport): boolean {
  return (
    stack.error !== undefined ||
    stack.stepGuard?.status === "failed" ||
    stack.reports.some((r) => r.violations.length > 0)
  );
}

function formatReports(reports: readonly StackReport[], crds: string): string {
  const lines: string[] = [`CRDs: ${crds}`];
  for (const stack of reports) {
    lines.push(`\nstack ${stack.stack} (${stack.file})`);
    if (stack.error !== undefined) lines.push(`  program failed: ${stack.error}`);
    if (stack.traffic !== undefined) {
      lines.push("  traffic it would deploy:");
      for (const line of describeTraffic(stack.traffic)) lines.push(`    ${line}`);
    }
    if (stack.reports.length === 0) lines.push("  no custom resources");
    for (const report of stack.reports) {
      const verdict = report.violations.length === 0 ? "ok     " : "INVALID";
      lines.push(`  ${verdict} ${report.resource}`);
      for (const violation of report.violations) {
        lines.push(
          `          ${violation.path === "" ? "(root)" : violation.path}: ${violation.message}`,
        );
      }
    }
    const guard = stack.stepGuard;
    if (guard !== undefined && guard.status !== "not checked") {
      const label = { off: "", passed: "ok      ", failed: "FAILED  " }[guard.status];
      lines.push(`  ${label}${guard.detail}`);
      if (guard.status === "passed" && guard.warning !== undefined) {
        lines.push(`          warning: ${guard.warning}`);
      }
    }
    for (const warning of stack.warnings) lines.push(`  program ${warning}`);
    if (stack.notChecked.length > 0) {
      lines.push("  not checked:");
      for (const item of stack.notChecked) lines.push(`    - ${item.what}: ${item.why}`);
    }
  }
  return lines.join("\n");
}

/** The last line: never a plain `passed` when something was only assumed. */
export function verdictLine(reports: readonly StackReport[], configOnly: boolean): string {
  const failed = reports.filter(stackFailed).length;
  const unchecked = reports.reduce((sum, stack) => sum + stack.notChecked.length, 0);
  const resources = reports.reduce((sum, stack) => sum + stack.reports.length, 0);
  const stacks = `${reports.length} ${reports.length === 1 ? "stack" : "stacks"}`;
  const what = configOnly ? `config of ${stacks}` : `${resources} custom resources in ${stacks}`;
  const notChecked = `${unchecked} ${unchecked === 1 ? "thing" : "things"} not checked`;
  if (failed > 0) {
    return `FAILED (${failed} of ${stacks}${unchecked > 0 ? `; ${notChecked}` : ""}): ${what}`;
  }
  return unchecked > 0 ? `passed (with ${notChecked}, listed above): ${what}` : `passed: ${what}`;
}

/**
 * `env` is where the defaults and the PATH of kubectl and pulumi come from; `root` the directory
 * of the stack files (tests pass fixtures; the program is always this project's index.ts).
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  root: string = PROJECT_ROOT,
): Promise<number> {
  let values: Flags;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        crds: { type: "string" },
        "from-cluster": { type: "boolean" },
        context: { type: "string" },
        kubeconfig: { type: "string" },
        "from-releases": { type: "boolean" },
        "releases-base-url": { type: "string" },
        "cache-dir": { type: "string" },
        "config-only": { type: "boolean" },
        stack: { type: "string", multiple: true },
        outputs: { type: "string", multiple: true },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }

  const chosen = chooseCrdSource(
    {
      crds: values.crds,
      fromCluster: values["from-cluster"],
      context: values.context,
      kubeconfig: values.kubeconfig,
      fromReleases: values["from-releases"],
      releasesBaseUrl: values["releases-base-url"],
      cacheDir: values["cache-dir"],
      configOnly: values["config-only"],
    },
    env,
    DEFAULT_CRDS_DIR,
    fs.existsSync,
  );
  if ("problem" in chosen) {
    console.error(`${chosen.problem}\n(npm run validate -- --help lists every option)`);
    return EXIT_USAGE;
  }

  const only = values.stack ?? [];
  const selected = only.length > 0 ? only : Object.keys(stackFiles(root));
  const files = outputsFiles(values.outputs ?? [], selected);
  if ("problem" in files) {
    console.error(files.problem);
    return EXIT_USAGE;
  }
  // A file the user named must be readable: a typo would otherwise only show as `not checked`.
  const given = new Map<string, OutputsRead>();
  for (const [stack, file] of files.files) {
    const read = readOutputsFile(file);
    if ("unavailable" in read) {
      console.error(`${read.unavailable}\n(save it with \`pulumi stack output --json > FILE\`)`);
      return EXIT_USAGE;
    }
    given.set(stack, read);
  }

  let crds: LoadedCrds | undefined;
  if (chosen.source.kind !== "none") {
    try {
      crds = await loadCrds(chosen.source, env);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`cannot read CRDs: ${message}\nOther sources: ${CRD_SOURCE_CHOICES}.`);
      return EXIT_USAGE;
    }
  }

  let reports: StackReport[];
  try {
    reports = await checkStackFiles(crds?.catalog, only, root, {
      outputsFor: async (stack) => given.get(stack) ?? (await readBackendOutputs(stack, root, env)),
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return EXIT_USAGE;
  }
  const configOnly = crds === undefined;
  const source = crds?.description ?? "none (--config-only: schemas not checked)";
  const verdict = verdictLine(reports, configOnly);
  console.log(
    values.json
      ? JSON.stringify({ crds: source, stacks: reports, verdict }, null, 2)
      : `${formatReports(reports, source)}\n\n${verdict}`,
  );
  return reports.some(stackFailed) ? EXIT_INVALID : EXIT_OK;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(EXIT_USAGE);
    },
  );
}
