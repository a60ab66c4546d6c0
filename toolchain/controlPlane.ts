// A local Kubernetes control plane: etcd and kube-apiserver on loopback, nothing else. No
// kubelet, no scheduler, no controllers: objects are stored, validated (schemas, CEL rules,
// admission) and authorized (RBAC) as on any cluster, but nothing reconciles them. Enough for
// `pulumi preview` and `pulumi up` of this stack and for server-side validation, not for pods;
// tests play the controllers by writing `status`.
//
// The processes are started detached, so `npm run cluster:up` can return; their PIDs and the
// binaries they run are written to the state folder, and `cluster:down` stops exactly those.
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { yamlDocumentsUnder } from "../conformance/crdValidator";
import type { Toolchain } from "./toolchain";

/** The kubeconfig context the stacks' e2e copies point at (`kubernetes:context`). */
export const CONTEXT = "canary-local";
/** The cluster's administrator (system:masters): the kubeconfig's user. */
export const ADMIN_USER = "canary-admin";
/**
 * A second administrator, for tests that play controllers: their requests then stay apart
 * from the user's in the audit log.
 */
export const CONTROLLER_USER = "canary-controllers";

export interface ControlPlane {
  /** The state folder: data, certificates, logs, kubeconfig, pids. */
  readonly dir: string;
  readonly kubeconfig: string;
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  readonly adminToken: string;
  /** The token of CONTROLLER_USER. */
  readonly controllerToken: string;
  /** The API server's serving CA (PEM), for clients that verify it. */
  readonly caFile: string;
  /** The ServiceAccount token issuer. */
  readonly serviceAccountIssuer: string;
}

interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  readonly binary: string;
}

/** `count` distinct free loopback ports, all held until every one is chosen. */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

function startDetached(
  name: string,
  binary: string,
  args: string[],
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): RunningProcess {
  const log = fs.openSync(path.join(dir, `${name}.log`), "a");
  const child = spawn(binary, args, { detached: true, stdio: ["ignore", log, log], env });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`${name} did not start (${binary})`);
  child.unref();
  // The binary as the kernel will report it, so the PID can be recognised later.
  return { name, pid: child.pid, binary: realpathOrSelf(binary) };
}

function isRunning(processInfo: RunningProcess): boolean {
  try {
    // Only a process still running our binary: a PID reused by something else is left alone.
    // The binary may have been rebuilt or removed since (the link then ends in " (deleted)").
    const exe = fs.readlinkSync(`/proc/${processInfo.pid}/exe`).replace(/ \(deleted\)$/, "");
    return exe === processInfo.binary || exe === realpathOrSelf(processInfo.binary);
  } catch {
    return false;
  }
}

function realpathOrSelf(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}

function logTail(dir: string, name: string): string {
  try {
    return fs
      .readFileSync(path.join(dir, `${name}.log`), "utf8")
      .split("\n")
      .slice(-15)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

/** Polls `check` every 200 ms until it is true or `timeoutMs` passes. */
async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  alive: () => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    alive();
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} not ready within ${timeoutMs / 1000} s`);
}

function get(
  url: string,
  options: https.RequestOptions = {},
): Promise<{ status: number; body: string }> {
  const client = url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, { ...options, timeout: 2000 }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", reject);
  });
}

export interface StartOptions {
  readonly dir: string;
  readonly toolchain: Toolchain;
  /** Upstream CRDs to install: every CustomResourceDefinition and ClusterRole found in it. */
  readonly crdsDir: string;
  /** kube-apiserver's audit policy; with it, an audit log at `<dir>/audit.log`. */
  readonly auditPolicyFile?: string;
  readonly log?: (line: string) => void;
}

/** Starts etcd and kube-apiserver, installs the CRDs, and writes the kubeconfig. */
export async function startControlPlane(options: StartOptions): Promise<ControlPlane> {
  const { dir, toolchain } = options;
  const log = options.log ?? (() => undefined);
  if (fs.existsSync(path.join(dir, "pids.json"))) {
    throw new Error(`${dir} holds a control plane already: stop it first (npm run cluster:down)`);
  }
  fs.mkdirSync(dir, { recursive: true });
  const processes: RunningProcess[] = [];
  const savePids = (): void =>
    fs.writeFileSync(path.join(dir, "pids.json"), `${JSON.stringify(processes, null, 2)}\n`);
  const alive = (): void => {
    for (const p of processes) {
      if (!isRunning(p)) throw new Error(`${p.name} exited:\n${logTail(dir, p.name)}`);
    }
  };

  try {
    const [etcdClient, etcdPeer, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    processes.push(
      startDetached(
        "etcd",
        toolchain.etcd,
        [
          "--name=canary-local",
          `--data-dir=${path.join(dir, "etcd")}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=canary-local=${peerUrl}`,
          "--unsafe-no-fsync",
          "--log-level=warn",
        ],
        dir,
      ),
    );
    savePids();
    await waitFor(
      "etcd",
      30_000,
      async () => (await get(`${etcdUrl}/health`)).status === 200,
      alive,
    );
    log(`etcd on ${etcdUrl}`);

    const certs = path.join(dir, "certs");
    fs.mkdirSync(certs, { recursive: true });
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const signingKey = path.join(certs, "service-account.key");
    const verifyKey = path.join(certs, "service-account.pub");
    fs.writeFileSync(signingKey, privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
    });
    fs.writeFileSync(verifyKey, publicKey.export({ type: "spki", format: "pem" }));
    const adminToken = crypto.randomBytes(24).toString("hex");
    const controllerToken = crypto.randomBytes(24).toString("hex");
    const tokens = path.join(certs, "tokens.csv");
    fs.writeFileSync(
      tokens,
      [
        `${adminToken},${ADMIN_USER},${ADMIN_USER},"system:masters"`,
        `${controllerToken},${CONTROLLER_USER},${CONTROLLER_USER},"system:masters"`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const issuer = "https://kubernetes.default.svc.cluster.local";
    const audit =
      options.auditPolicyFile === undefined
        ? []
        : [
            `--audit-policy-file=${options.auditPolicyFile}`,
            `--audit-log-path=${path.join(dir, "audit.log")}`,
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
          ];
    processes.push(
      startDetached(
        "kube-apiserver",
        toolchain.kubeApiserver,
        [
          `--etcd-servers=${etcdUrl}`,
          `--secure-port=${apiPort}`,
          "--bind-address=127.0.0.1",
          "--advertise-address=127.0.0.1",
          "--endpoint-reconciler-type=none",
          `--cert-dir=${certs}`,
          "--service-cluster-ip-range=10.0.0.0/24",
          "--allow-privileged=true",
          // envtest's set: no pods here, so no ServiceAccount token mounting.
          "--disable-admission-plugins=ServiceAccount",
          "--authorization-mode=RBAC",
          `--token-auth-file=${tokens}`,
          `--service-account-issuer=${issuer}`,
          `--service-account-key-file=${verifyKey}`,
          `--service-account-signing-key-file=${signingKey}`,
          ...audit,
        ],
        dir,
      ),
    );
    savePids();
    const server = `https://127.0.0.1:${apiPort}`;
    const auth = { headers: { Authorization: `Bearer ${adminToken}` }, rejectUnauthorized: false };
    await waitFor(
      "kube-apiserver",
      120_000,
      async () => (await get(`${server}/readyz`, auth)).status === 200,
      alive,
    );
    log(`kube-apiserver on ${server}`);

    // The serving certificate kube-apiserver made for itself, with the CA that signed it.
    const caFile = path.join(certs, "apiserver.crt");
    const kubeconfig = path.join(dir, "kubeconfig");
    fs.writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        `current-context: ${CONTEXT}`,
        "clusters:",
        `- name: ${CONTEXT}`,
        "  cluster:",
        `    server: ${server}`,
        `    certificate-authority-data: ${fs.readFileSync(caFile).toString("base64")}`,
        "contexts:",
        `- name: ${CONTEXT}`,
        "  context:",
        `    cluster: ${CONTEXT}`,
        `    user: ${ADMIN_USER}`,
        "users:",
        `- name: ${ADMIN_USER}`,
        "  user:",
        `    token: ${adminToken}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const plane: ControlPlane = {
      dir,
      kubeconfig,
      server,
      adminToken,
      controllerToken,
      caFile,
      serviceAccountIssuer: issuer,
    };
    installCrds(plane, toolchain, options.crdsDir, log);
    return plane;
  } catch (error) {
    stopProcesses(processes);
    fs.rmSync(path.join(dir, "pids.json"), { force: true });
    throw error;
  }
}

/** Runs kubectl against `plane`; throws with its stderr on failure. */
export function kubectl(
  plane: ControlPlane,
  toolchain: Toolchain,
  args: string[],
  input?: string,
): string {
  const result = spawnSync(toolchain.kubectl, ["--kubeconfig", plane.kubeconfig, ...args], {
    encoding: "utf8",
    input,
    timeout: 120_000,
  });
  if (result.status !== 0) {
    throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

/** The CRDs (and ClusterRoles, which the stack's bindings name) of every file under `crdsDir`. */
export function upstreamObjects(crdsDir: string): Record<string, unknown>[] {
  if (!fs.existsSync(crdsDir)) {
    throw new Error(
      `CRD directory ${crdsDir} not found: put the upstream CRDs there (../shared/crds) or set ` +
        "CANARY_CRDS_DIR",
    );
  }
  return yamlDocumentsUnder(crdsDir).filter(
    (object): object is Record<string, unknown> =>
      typeof object === "object" &&
      object !== null &&
      ["CustomResourceDefinition", "ClusterRole"].includes(
        String((object as { kind?: unknown }).kind),
      ),
  );
}

function installCrds(
  plane: ControlPlane,
  toolchain: Toolchain,
  crdsDir: string,
  log: (line: string) => void,
): void {
  const objects = upstreamObjects(crdsDir);
  const list = { apiVersion: "v1", kind: "List", items: objects };
  kubectl(plane, toolchain, ["apply", "--server-side", "-f", "-"], JSON.stringify(list));
  kubectl(plane, toolchain, [
    "wait",
    "--for=condition=Established",
    "crd",
    "--all",
    "--timeout=60s",
  ]);
  const crds = objects.filter((o) => o.kind === "CustomResourceDefinition").length;
  log(`installed ${crds} CRDs from ${crdsDir}, all Established`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // Gone between the check and the signal: nothing left to stop.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** Stops each still-running process; returns the ones that would not stop. */
function stopProcesses(processes: readonly RunningProcess[]): RunningProcess[] {
  const survivors: RunningProcess[] = [];
  // The API server first, so it does not log etcd going away.
  for (const p of [...processes].reverse()) {
    if (!isRunning(p)) continue;
    signal(p.pid, "SIGTERM");
    let deadline = Date.now() + 10_000;
    while (isRunning(p) && Date.now() < deadline) spawnSync("sleep", ["0.1"]);
    if (isRunning(p)) signal(p.pid, "SIGKILL");
    deadline = Date.now() + 5_000;
    while (isRunning(p) && Date.now() < deadline) spawnSync("sleep", ["0.1"]);
    if (isRunning(p)) survivors.push(p);
  }
  return survivors;
}

/**
 * Stops the processes `startControlPlane` started in `dir` (by the PIDs it wrote, and only while
 * they still run its binaries), and removes the state. Returns what it stopped.
 */
export function stopControlPlane(dir: string): string[] {
  const pidsFile = path.join(dir, "pids.json");
  if (!fs.existsSync(pidsFile)) return [];
  const processes = JSON.parse(fs.readFileSync(pidsFile, "utf8")) as RunningProcess[];
  const running = processes.filter(isRunning).map((p) => `${p.name} (pid ${p.pid})`);
  const survivors = stopProcesses(processes);
  if (survivors.length > 0) {
    // Keep pids.json: the next cluster:down tries again.
    throw new Error(
      `${survivors.map((p) => `${p.name} (pid ${p.pid})`).join(", ")} would not stop; ` +
        `${dir} is kept`,
    );
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return running;
}
