// A real Prometheus (Debian's `prometheus` package) on 127.0.0.1 for tests and benches: data
// backfilled with promtool from OpenMetrics text BEFORE the server starts, a config with no scrape
// targets (the data never changes), a retention long enough for fixed past timestamps, and a stop
// by PID that escalates from SIGTERM to SIGKILL.
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { skipOrFailInCi } from "./skip";

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const BACKFILL_TIMEOUT_MS = 60_000;

/** Absolute path of an executable on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here; next PATH entry
    }
  }
  return undefined;
}

export interface PrometheusBinaries {
  readonly prometheus: string;
  readonly promtool: string;
}

/** The binaries, or a sentence saying which are missing and how to get them. */
export function prometheusBinaries(): PrometheusBinaries | string {
  const prometheus = findExecutable("prometheus");
  const promtool = findExecutable("promtool");
  if (prometheus !== undefined && promtool !== undefined) return { prometheus, promtool };
  const missing = [prometheus ? "" : "prometheus", promtool ? "" : "promtool"].filter(Boolean);
  return (
    `${missing.join(" and ")} not found on PATH: install them with ` +
    `\`apt-get install prometheus\` (Debian's package ships both)`
  );
}

/**
 * For a mocha `before`: the binaries, or skip with the reason. Under CI=true a missing binary is a
 * broken setup (.ci/run installs them), so it fails instead of passing quietly.
 */
export function requirePrometheus(context: Mocha.Context): PrometheusBinaries {
  const found = prometheusBinaries();
  if (typeof found !== "string") return found;
  return skipOrFailInCi(context, found);
}

/** A port that was free a moment ago (Prometheus takes no port 0, so it must be chosen first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("no port from the probe server"));
      });
    });
  });
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Turns OpenMetrics text (see openMetrics below) into TSDB blocks in `dataDir`. */
export async function backfill(
  promtool: string,
  openMetricsText: string,
  dataDir: string,
): Promise<void> {
  const file = path.join(dataDir, "..", `backfill-${process.pid}-${Date.now()}.om`);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, openMetricsText);
  try {
    await run(
      promtool,
      ["tsdb", "create-blocks-from", "openmetrics", file, dataDir],
      BACKFILL_TIMEOUT_MS,
    );
  } finally {
    fs.rmSync(file, { force: true });
  }
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Milliseconds since the epoch. */
  readonly timeMs: number;
}

const escapeLabel = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * OpenMetrics text for promtool: samples in time order, timestamps in seconds, `# EOF` last. No
 * TYPE lines: the TSDB keeps no types, and OpenMetrics would demand `_total` on counter samples,
 * which the OpenCensus-era names do not have.
 */
export function openMetrics(samples: readonly Sample[]): string {
  const lines = [...samples]
    .sort((a, b) => a.timeMs - b.timeMs)
    .map((s) => {
      const labels = Object.entries(s.labels)
        .map(([key, value]) => `${key}="${escapeLabel(value)}"`)
        .join(",");
      return `${s.name}{${labels}} ${s.value} ${s.timeMs / 1000}`;
    });
  return `${lines.join("\n")}\n# EOF\n`;
}

/** A Prometheus process serving `dataDir` read-only in effect (it scrapes nothing). */
export class PrometheusServer {
  private output = "";
  private exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const keep = (chunk: Buffer): void => {
      // The last few KB are what explains a failed start.
      this.output = (this.output + chunk.toString("utf8")).slice(-8_192);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Starts on a free loopback port and waits (bounded) until /-/ready answers 200. `config` is
   * the prometheus.yml text; the default has no scrape_configs: nothing but the backfilled
   * blocks, so every answer is deterministic.
   */
  static async start(
    prometheus: string,
    dataDir: string,
    config = "global:\n  scrape_interval: 15s\n",
  ): Promise<PrometheusServer> {
    const configFile = path.join(dataDir, "..", "prometheus.yml");
    fs.writeFileSync(configFile, config);
    let lastError: Error | undefined;
    // The port is probed free first and could be taken before Prometheus binds it: try again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const child = spawn(
        prometheus,
        [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${dataDir}`,
          `--web.listen-address=127.0.0.1:${port}`,
          // The fixtures sit at a fixed date in the past: a short retention would delete them.
          "--storage.tsdb.retention.time=100y",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const server = new PrometheusServer(child, `http://127.0.0.1:${port}`);
      try {
        await server.waitReady();
        return server;
      } catch (error) {
        await server.stop();
        lastError = error instanceof Error ? error : new Error(String(error));
        if (!/address already in use/i.test(lastError.message)) throw lastError;
      }
    }
    throw lastError ?? new Error("Prometheus did not start");
  }

  private async waitReady(): Promise<void> {
    await this.waitFor(READY_TIMEOUT_MS, "ready", async () => {
      const response = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.text();
      return response.status === 200 ? true : undefined;
    });
  }

  /**
   * Polls `probe` until it returns a value, bounded by `timeoutMs`; fails with Prometheus' last
   * output, also as soon as the process exits.
   */
  async waitFor<T>(
    timeoutMs: number,
    what: string,
    probe: () => Promise<T | undefined>,
  ): Promise<T> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`prometheus exited before ${what}:\n${this.output}`);
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (error) {
        lastError = error; // not listening yet, or not there yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(
      `no ${what} within ${timeoutMs} ms (${String(lastError ?? "no error")}):\n${this.output}`,
    );
  }

  /** SIGTERM by PID, SIGKILL if it has not exited within a bound; resolves once it is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = new Promise<"timeout">((resolve) =>
      setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS).unref(),
    );
    if ((await Promise.race([this.exited, timer])) === "timeout") {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }
}

/** A temporary directory tree for one Prometheus: `<root>/data` for the TSDB. */
export function makeTempRoot(prefix: string): { root: string; dataDir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { root, dataDir: path.join(root, "data") };
}

/** A Prometheus API answer for a stand-in server: an instant query's one sample. */
export function promVector(value: string, at = 0): unknown {
  return {
    status: "success",
    data: { resultType: "vector", result: [{ metric: {}, value: [at, value] }] },
  };
}

/** A Prometheus API answer for a stand-in server: a range query's one series. */
export function promMatrix(values: ReadonlyArray<readonly [number, string]>): unknown {
  return { status: "success", data: { resultType: "matrix", result: [{ metric: {}, values }] } };
}
