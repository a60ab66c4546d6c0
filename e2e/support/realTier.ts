// The real tier's fixture: the toolchain, a local control plane of its own (free ports, a
// temporary state folder), a Pulumi home and file backend of its own, and copies of the project
// that run the stack through the real Pulumi CLI as a user would.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  CONTEXT,
  ControlPlane,
  startControlPlane,
  stopControlPlane,
} from "../../toolchain/controlPlane";
import { pulumiEnvironment } from "../../toolchain/pulumiHome";
import {
  Component,
  CORE_COMPONENTS,
  ensureToolchain,
  Toolchain,
  toolchainProblem,
} from "../../toolchain/toolchain";
import { crdsDirectory } from "../../conformance/stackConformance";
import { skipOrFailInCi } from "../../test/support/skip";
import { Kube } from "./kube";

export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
/** What a copy of the project needs to run the program (node_modules is linked, not copied). */
const PROGRAM_FILES = [
  "index.ts",
  "config.ts",
  "configKeys.ts",
  "common",
  "components",
  "functions",
  "Pulumi.yaml",
  "package.json",
  "tsconfig.json",
];

export interface RealTier {
  readonly toolchain: Toolchain;
  readonly plane: ControlPlane;
  readonly kube: Kube;
  /** PULUMI_HOME, backend, passphrase, … for every CLI call. */
  readonly env: Record<string, string>;
  readonly dir: string;
}

export interface Tools {
  readonly toolchain: Toolchain;
}

/**
 * The toolchain alone, for suites that need no cluster. Skips, saying what is missing, when
 * neither the binaries nor Go are there, except under CI=true.
 */
export function startTools(context: Mocha.Context): Tools {
  const problem = toolchainProblem();
  if (problem !== undefined) skipOrFailInCi(context, problem);
  return { toolchain: ensureToolchain((line) => console.log(`      toolchain: ${line}`)) };
}

/** Why the tier cannot start here (no binaries and no Go, no CRDs), or undefined. */
export function realTierProblem(
  components: readonly Component[] = CORE_COMPONENTS,
): string | undefined {
  const crds = crdsDirectory();
  return (
    toolchainProblem(process.env, components) ??
    (fs.existsSync(crds)
      ? undefined
      : `the upstream CRDs are not at ${crds}: put ../shared/crds beside the project, or set ` +
        "CANARY_CRDS_DIR")
  );
}

/**
 * Starts the tier for a mocha suite (call in `before`, with a generous timeout: a cold machine
 * builds the toolchain here). Skips, saying what is missing, when neither the binaries nor Go
 * are there, except under CI=true.
 */
export async function startRealTier(
  context: Mocha.Context,
  components: readonly Component[] = CORE_COMPONENTS,
): Promise<RealTier> {
  const problem = realTierProblem(components);
  if (problem !== undefined) skipOrFailInCi(context, problem);
  return startTier(components);
}

/** Control planes started here and not stopped yet: the state folders their PIDs are in. */
const runningPlanes = new Set<string>();
function stopPlaneQuietly(dir: string): void {
  runningPlanes.delete(dir);
  try {
    stopControlPlane(dir);
  } catch {
    // Best effort on the way out; the error was already someone else's.
  }
}
// The control planes run detached: stop them however this process ends (one listener each).
process.once("exit", () => runningPlanes.forEach(stopPlaneQuietly));
for (const name of ["SIGINT", "SIGTERM"] as const) {
  process.once(name, () => {
    runningPlanes.forEach(stopPlaneQuietly);
    process.exit(130);
  });
}

/** Starts the tier; throws when it cannot (see realTierProblem). */
export async function startTier(
  components: readonly Component[] = CORE_COMPONENTS,
): Promise<RealTier> {
  const toolchain = ensureToolchain(
    (line) => console.log(`      toolchain: ${line}`),
    process.env,
    components,
  );
  const crds = crdsDirectory();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-e2e-"));
  const plane = await startControlPlane({
    dir: path.join(dir, "cluster"),
    toolchain,
    crdsDir: crds,
    auditPolicyFile: path.join(PROJECT_ROOT, "e2e", "audit-policy.yaml"),
    log: (line) => console.log(`      cluster: ${line}`),
  });
  runningPlanes.add(plane.dir);
  const stop = (): void => stopPlaneQuietly(plane.dir);
  let pulumi: Record<string, string>;
  try {
    pulumi = pulumiEnvironment(path.join(dir, "pulumi"), toolchain);
  } catch (error) {
    stop();
    throw error;
  }
  const env = {
    ...pulumi,
    KUBECONFIG: plane.kubeconfig,
    PATH: [
      path.dirname(toolchain.pulumi),
      path.dirname(toolchain.languageHost),
      path.dirname(toolchain.kubectl),
      process.env.PATH ?? "",
    ].join(path.delimiter),
  };
  return { toolchain, plane, kube: new Kube(plane), env, dir };
}

/** Stops the control plane (by the PIDs it recorded) and removes every file of the tier. */
export function stopRealTier(tier: RealTier | undefined): void {
  if (tier === undefined) return;
  runningPlanes.delete(tier.plane.dir);
  stopControlPlane(tier.plane.dir);
  fs.rmSync(tier.dir, { recursive: true, force: true });
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Process groups of the commands still running, killed if this process ends first. */
const runningGroups = new Set<number>();
function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
process.once("exit", () => runningGroups.forEach(killGroup));

/**
 * Runs a command without blocking the event loop (tests play controllers meanwhile). It runs in
 * a process group of its own, so a timeout stops it with everything it started (the Pulumi CLI's
 * language host and provider plugins), not the CLI alone.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) runningGroups.add(pid);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(
      () => pid !== undefined && killGroup(pid),
      options.timeoutMs ?? 600_000,
    );
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (pid !== undefined) runningGroups.delete(pid);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A temporary copy of the project with one stack, driven through the real Pulumi CLI. */
export class StackProject {
  readonly dir: string;
  readonly stackFile: string;

  private constructor(
    private readonly tier: RealTier,
    readonly stack: string,
    programRoot: string,
  ) {
    this.dir = fs.mkdtempSync(path.join(tier.dir, `project-${stack}-`));
    this.stackFile = path.join(this.dir, `Pulumi.${stack}.yaml`);
    this.copyProgram(programRoot);
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(this.dir, "node_modules"));
  }

  /** The program's files from `programRoot` (a checkout), where it has them. */
  private copyProgram(programRoot: string): void {
    for (const file of PROGRAM_FILES) {
      const from = path.join(programRoot, file);
      if (fs.existsSync(from)) fs.cpSync(from, path.join(this.dir, file), { recursive: true });
    }
  }

  /**
   * Swaps the program for the one in `programRoot`, keeping the stack file and the stack's
   * state: what a user's `git pull` between two `pulumi up`s does.
   */
  replaceProgram(programRoot: string): void {
    for (const file of PROGRAM_FILES) {
      fs.rmSync(path.join(this.dir, file), { recursive: true, force: true });
    }
    this.copyProgram(programRoot);
  }

  /**
   * A new stack named `stack` with `config` (full keys; objects as objects) pointed at the
   * local control plane, and `secrets` set with `pulumi config set --secret`.
   */
  static async create(
    tier: RealTier,
    stack: string,
    config: Readonly<Record<string, unknown>>,
    secrets: Readonly<Record<string, string>> = {},
    programRoot: string = PROJECT_ROOT,
  ): Promise<StackProject> {
    const project = new StackProject(tier, stack, programRoot);
    await project.ok(["stack", "init"]);
    // The stack file as a user writes it; `stack init` put the secrets' salt in it.
    const document = (parseYaml(fs.readFileSync(project.stackFile, "utf8")) ?? {}) as Record<
      string,
      unknown
    >;
    document.config = { ...config, "kubernetes:context": CONTEXT };
    fs.writeFileSync(project.stackFile, stringifyYaml(document));
    for (const [key, value] of Object.entries(secrets)) {
      await project.ok(["config", "set", "--secret", key, value]);
    }
    return project;
  }

  /** The committed stack file's config (without its secure values). */
  static committedConfig(stack: string): Record<string, unknown> {
    const document = parseYaml(
      fs.readFileSync(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), "utf8"),
    ) as { config: Record<string, unknown> };
    return Object.fromEntries(
      Object.entries(document.config).filter(
        ([, value]) => !(typeof value === "object" && value !== null && "secure" in value),
      ),
    );
  }

  pulumi(
    args: readonly string[],
    options: { timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<CommandResult> {
    return runCommand(this.tier.toolchain.pulumi, [...args, "--stack", this.stack], {
      cwd: this.dir,
      env: { ...process.env, ...this.tier.env, ...options.env },
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  }

  /** Like `pulumi`, but a non-zero exit is an error with the CLI's output. */
  async ok(args: readonly string[], env?: Record<string, string>): Promise<string> {
    const result = await this.pulumi(args, env !== undefined ? { env } : {});
    if (result.code !== 0) {
      throw new Error(
        `pulumi ${args.join(" ")} exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
      );
    }
    return result.stdout;
  }

  /** The stack's resources as the engine recorded them (`pulumi stack export`). */
  async resources(): Promise<{ urn: string; type: string; id?: string; outputs?: unknown }[]> {
    const exported = JSON.parse(await this.ok(["stack", "export"])) as {
      deployment: { resources?: { urn: string; type: string; id?: string; outputs?: unknown }[] };
    };
    return exported.deployment.resources ?? [];
  }
}
