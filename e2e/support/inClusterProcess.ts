// In-cluster code run as local processes with the identity a pod would have: a token of the
// stack's own ServiceAccount from the TokenRequest API (`kubectl create token`), in a file as
// the kubelet projects it, and the API server's CA; and its code as the pod mounts it, from the
// ConfigMap the stack deployed.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { kubectl } from "../../toolchain/controlPlane";
import { KeyToPath, writeConfigMapVolume } from "../../test/support/configMapVolume";
import type { Kube } from "./kube";
import { onLines } from "./lines";
import type { RealTier } from "./realTier";

/** The name RBAC and the audit log give a ServiceAccount. */
export function serviceAccountUser(namespace: string, account: string): string {
  return `system:serviceaccount:${namespace}:${account}`;
}

/** A fresh token of ServiceAccount `namespace/account` (TokenRequest API, valid one hour). */
export function serviceAccountToken(tier: RealTier, namespace: string, account: string): string {
  return kubectl(tier.plane, tier.toolchain, [
    "create",
    "token",
    account,
    "-n",
    namespace,
    "--duration=1h",
  ]).trim();
}

/**
 * The same, written (0600) to a file under the tier's folder, as the kubelet projects it;
 * returns the file's path, for KUBERNETES_TOKEN_FILE.
 */
export function serviceAccountTokenFile(
  tier: RealTier,
  namespace: string,
  account: string,
): string {
  const file = path.join(tier.dir, `token-${namespace}-${account}`);
  fs.writeFileSync(file, serviceAccountToken(tier, namespace, account), { mode: 0o600 });
  return file;
}

/** A Pod's configMap volume source. */
export interface ConfigMapSource {
  readonly name: string;
  readonly items?: KeyToPath[];
}

/**
 * Mounts a configMap volume as the kubelet would: the ConfigMap as the API server holds it,
 * written (its items at their paths) to `root` + `mountPath`; returns that folder. Code then runs
 * from exactly what the stack deployed, laid out as its pod sees it.
 */
export async function mountConfigMap(
  kube: Kube,
  namespace: string,
  source: ConfigMapSource,
  root: string,
  mountPath: string,
): Promise<string> {
  const configMap = (await kube.ok(
    "GET",
    `/api/v1/namespaces/${namespace}/configmaps/${source.name}`,
  )) as { data?: Record<string, string> };
  const dir = path.join(root, mountPath);
  writeConfigMapVolume(configMap.data ?? {}, source.items, dir);
  return dir;
}

/** A long-running process (the revision tester, a Tekton binary) and the lines it logged. */
export interface ScriptProcess {
  readonly pid: number;
  /** Every line of stdout and stderr, parsed when JSON (else {msg: "not JSON", text}), in order. */
  readonly lines: Record<string, unknown>[];
  /** Whether the process has ended (or could not start). */
  hasExited(): boolean;
  /** Resolves to the first line `match` accepts, or rejects after `timeoutMs`. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
  /**
   * `signal` (default SIGTERM, a pod's stop), then SIGKILL after `graceMs` (default 15 s);
   * resolves to the exit code (null when killed by a signal).
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Processes started here and still running: killed if this process ends first (one listener). */
const running = new Set<ChildProcess>();
process.once("exit", () => running.forEach((child) => child.kill("SIGKILL")));

/** Starts `node <script>` with exactly `env` (and PATH). */
export function startScript(script: string, env: Record<string, string>): ScriptProcess {
  return startProcess(process.execPath, [script], env);
}

/** Starts `command` with exactly `env` (and PATH); it is stopped by its PID, never by name. */
export function startProcess(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): ScriptProcess {
  const name = path.basename(command);
  const child: ChildProcess = spawn(command, [...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  running.add(child);
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  const collect = (stream: NodeJS.ReadableStream): void =>
    onLines(stream, (text) => {
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        lines.push({ msg: "not JSON", text });
      }
      waiters.splice(0).forEach((wake) => wake());
    });
  collect(child.stdout as NodeJS.ReadableStream);
  collect(child.stderr as NodeJS.ReadableStream);
  let gone = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      gone = true;
      running.delete(child);
      waiters.splice(0).forEach((wake) => wake());
      resolve(code);
    });
    // Not startable (ENOENT, EACCES): recorded as a line, and the process counts as ended.
    child.on("error", (error) => {
      lines.push({ msg: "cannot start", error: error.message });
      gone = true;
      running.delete(child);
      waiters.splice(0).forEach((wake) => wake());
      resolve(127);
    });
  });
  const kill = (): void => {
    if (!gone) child.kill("SIGKILL");
  };

  return {
    pid,
    lines,
    hasExited: () => gone,
    waitForLine(match, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const look = (): void => {
          clearTimeout(timer);
          const found = lines.find(match);
          if (found !== undefined) return resolve(found);
          const tail = JSON.stringify(lines.slice(-20));
          if (gone) return reject(new Error(`${name} exited; its last lines: ${tail}`));
          if (Date.now() >= deadline) {
            return reject(new Error(`${name}: no such line within ${timeoutMs} ms; last: ${tail}`));
          }
          waiters.push(look);
          timer = setTimeout(look, deadline - Date.now());
        };
        look();
      });
    },
    async stop(signal = "SIGTERM", graceMs = 15_000) {
      if (!gone) child.kill(signal);
      const timer = setTimeout(kill, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
