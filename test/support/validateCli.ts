// Runs `npm run validate` (conformance/cli.ts) in this process and captures what it prints.
import * as os from "os";
import * as path from "path";
import { main as validateCli } from "../../conformance/cli";

/**
 * A PATH without `pulumi` or `kubectl`: the CLI's runs do not depend on what the machine running
 * the tests has installed or is logged in to.
 */
export const BARE_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: path.join(os.tmpdir(), "canary-validate-no-tools-on-this-path"),
};

/** Captures console output of the CLI so a test can read it (and the run stays quiet). */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = BARE_ENV,
  root?: string,
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const original = { log: console.log, error: console.error };
  console.log = (...parts: unknown[]) => void lines.push(parts.join(" "));
  console.error = console.log;
  try {
    const code = await validateCli(args, env, root);
    return { code, output: lines.join("\n") };
  } finally {
    console.log = original.log;
    console.error = original.error;
  }
}
