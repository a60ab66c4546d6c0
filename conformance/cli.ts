// npm run validate -- [--crds DIR] [--stack NAME]... [--json]
// Checks every custom resource the stack would create, for each Pulumi.<stack>.yaml, against
// the CRD schemas in DIR (default $CANARY_CRDS_DIR or ../shared/crds). Point it at your own
// cluster's CRDs with: kubectl get crd -o yaml > crds/all.yaml && npm run validate -- --crds crds
import { parseArgs } from "util";
import { CrdCatalog } from "./crdValidator";
import { checkStackFiles, crdsDirectory, StackReport } from "./stackConformance";

const USAGE = `usage: npm run validate -- [--crds DIR] [--stack NAME]... [--json]

  --crds DIR     directory (or file) of CRD YAML, e.g. the output of \`kubectl get crd -o yaml\`
                 (default: $CANARY_CRDS_DIR, else ../shared/crds)
  --stack NAME   check only Pulumi.NAME.yaml (repeatable; default: every stack file)
  --json         print the reports as JSON

exit codes: 0 every resource valid, 1 violations or a stack failed to run, 2 bad usage or CRDs`;

export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

function formatReports(reports: readonly StackReport[], crds: string): string {
  const lines: string[] = [`CRDs: ${crds}`];
  for (const stack of reports) {
    lines.push(`\nstack ${stack.stack} (${stack.file})`);
    if (stack.error !== undefined) lines.push(`  program failed: ${stack.error}`);
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
  }
  return lines.join("\n");
}

export async function main(argv: readonly string[]): Promise<number> {
  let values: { crds?: string; stack?: string[]; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        crds: { type: "string" },
        stack: { type: "string", multiple: true },
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

  const crds = values.crds ?? crdsDirectory();
  let catalog: CrdCatalog;
  try {
    catalog = CrdCatalog.fromDirectory(crds);
  } catch (error) {
    console.error(`cannot read CRDs: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_USAGE;
  }

  let reports: StackReport[];
  try {
    reports = await checkStackFiles(catalog, values.stack ?? []);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return EXIT_USAGE;
  }
  console.log(
    values.json ? JSON.stringify({ crds, stacks: reports }, null, 2) : formatReports(reports, crds),
  );

  const failed = reports.some(
    (stack) => stack.error !== undefined || stack.reports.some((r) => r.violations.length > 0),
  );
  if (!values.json) {
    const resources = reports.reduce((sum, stack) => sum + stack.reports.length, 0);
    console.log(
      `\n${failed ? "FAILED" : "passed"}: ${resources} custom resources in ${reports.length} stacks`,
    );
  }
  return failed ? EXIT_INVALID : EXIT_OK;
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
