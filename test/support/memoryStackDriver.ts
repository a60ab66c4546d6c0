// An in-memory StackDriver that records every config write and update, can be scripted to fail
// them, and (optionally) keeps a Pulumi.<stack>.yaml on disk the way `pulumi config set` does.
import * as fs from "fs";
import { ConcurrentUpdateError } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { trafficFor } from "../../common/traffic";
import type { StackConfig, StackDriver, StackLock, UpOptions, UpSummary } from "../../automation";

export type UpScript = (call: number, config: Readonly<Record<string, string>>) => Error | void;

export interface MemoryStackOptions {
  readonly stackName?: string;
  readonly config?: Readonly<Record<string, string>>;
  /** Keys of `config` that are secrets (as `pulumi config set --secret` marks them). */
  readonly secretKeys?: readonly string[];
  /** The config is what the last update deployed (default); false: never updated, no outputs. */
  readonly deployed?: boolean;
  /** Keep this Pulumi.<stack>.yaml in step with the config, preserving its comments. */
  readonly stackFile?: string;
  /** Decides each `up` (1-based call number): return an Error to make it fail. */
  readonly upScript?: UpScript;
  /** Number of calls (up or config writes) that first fail with ConcurrentUpdateError. */
  readonly conflicts?: number;
  /** Called when an update starts, e.g. to abort a rollout in the middle of one. */
  readonly onUp?: (call: number) => void;
  /** The stack's lock (e.g. fileStackLock beside stackFile); none by default. */
  readonly lock?: StackLock;
}

/** A ConcurrentUpdateError as the Automation API throws it when the stack is locked. */
export function concurrentUpdateError(): Error {
  // The SDK builds these from a CommandResult; its message only needs to read like Pulumi's.
  return new ConcurrentUpdateError(
    "code: 255\n stdout: \n stderr: error: [409] Conflict: Another update is currently in progress.\n",
  );
}

export class MemoryStackDriver implements StackDriver {
  readonly stackName: string;
  readonly lock?: StackLock;
  readonly config: Record<string, string>;
  /** `set key=value`, `rm key`, `up`, `up failed: ...`, `conflict` in order. */
  readonly log: string[] = [];
  /** Config as of the last successful update; undefined: never updated. */
  deployed: Record<string, string> | undefined;
  upCalls = 0;
  private conflictsLeft: number;

  constructor(private readonly options: MemoryStackOptions = {}) {
    this.stackName = options.stackName ?? "prod";
    if (options.lock !== undefined) this.lock = options.lock;
    this.config = { ...(options.config ?? {}) };
    this.deployed = options.deployed === false ? undefined : { ...this.config };
    this.conflictsLeft = options.conflicts ?? 0;
  }

  /** Only the writes and updates, the sequence the tests assert on. */
  get writes(): string[] {
    return this.log.filter((entry) => entry !== "conflict");
  }

  private conflict(): void {
    if (this.conflictsLeft > 0) {
      this.conflictsLeft -= 1;
      this.log.push("conflict");
      throw concurrentUpdateError();
    }
  }

  async getConfig(key: string): Promise<string | undefined> {
    return this.config[key];
  }

  async getAllConfig(): Promise<StackConfig> {
    return {
      values: { ...this.config },
      secretKeys: (this.options.secretKeys ?? []).filter((key) => key in this.config),
    };
  }

  async setConfig(key: string, value: string): Promise<void> {
    this.conflict();
    this.config[key] = value;
    this.log.push(`set ${key}=${value}`);
    this.writeStackFile(key, value);
  }

  async removeConfig(key: string): Promise<void> {
    this.conflict();
    delete this.config[key];
    this.log.push(`rm ${key}`);
    this.writeStackFile(key, undefined);
  }

  async up(options: UpOptions = {}): Promise<UpSummary> {
    this.conflict();
    this.upCalls += 1;
    this.options.onUp?.(this.upCalls);
    const failure = this.options.upScript?.(this.upCalls, this.config);
    if (failure !== undefined) {
      this.log.push(`up failed: ${failure.message}`);
      throw failure;
    }
    options.onOutput?.(`Updating (${this.stackName})\n`);
    this.log.push("up");
    this.deployed = { ...this.config };
    return { result: "succeeded", version: this.upCalls, resourceChanges: { same: 9, update: 1 } };
  }

  async outputs(): Promise<Readonly<Record<string, unknown>>> {
    if (this.deployed === undefined) return {};
    const value = (key: string): string | null => this.deployed?.[`canary-release:${key}`] ?? null;
    const percent = Number(value("canaryPercent") ?? "0");
    const candidate = value("candidateRevision");
    return {
      url: "http://hello.hello.apps.example.com",
      urls: {
        stable: "http://stable-hello.hello.apps.example.com",
        ...(candidate !== null
          ? { candidate: "http://candidate-hello.hello.apps.example.com" }
          : {}),
      },
      stableRevision: value("stableRevision"),
      candidateRevision: candidate,
      canaryPercent: percent,
      // The Route's spec.traffic as the program deploys it.
      traffic: trafficFor({
        app: value("app") ?? "hello",
        ...(value("stableRevision") !== null
          ? { stableRevision: value("stableRevision") as string }
          : {}),
        ...(candidate !== null ? { candidateRevision: candidate } : {}),
        canaryPercent: percent,
      }),
      candidateSmokeTest:
        candidate !== null ? { state: "passed", result: { status: 200, latencyMs: 12 } } : null,
      pipelineName: null,
      webhookUrl: null,
    };
  }

  /** Sets or removes one key of the `config:` map, as `pulumi config set/rm` does. */
  private writeStackFile(key: string, value: string | undefined): void {
    const file = this.options.stackFile;
    if (file === undefined) return;
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    fs.writeFileSync(file, editStackYaml(text, { [key]: value }));
  }
}

/**
 * A Pulumi.<stack>.yaml text with `changes` to its `config:` map (an undefined value removes the
 * key), comments kept, as `pulumi config set/rm` writes them.
 */
export function editStackYaml(
  text: string,
  changes: Readonly<Record<string, string | undefined>>,
): string {
  const document: YAML.Document =
    text.trim() === "" ? new YAML.Document({ config: {} }) : YAML.parseDocument(text);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) {
      document.deleteIn(["config", key]);
    } else {
      const node = document.createNode(value);
      // Config values are strings: Pulumi quotes those that would read as another type.
      if (/^(\d+|true|false)$/.test(value)) node.type = "QUOTE_DOUBLE";
      document.setIn(["config", key], node);
    }
  }
  return document.toString();
}

/** A scripted analysis: answers verdicts in order (an Error is thrown), records each request. */
export function scriptedAnalysis<Request>(
  verdicts: ReadonlyArray<"pass" | "fail" | "inconclusive" | Error>,
): {
  requests: Request[];
  analyse: (
    request: Request,
  ) => Promise<{ verdict: "pass" | "fail" | "inconclusive"; reason: string }>;
} {
  const requests: Request[] = [];
  return {
    requests,
    analyse: async (request) => {
      const next = verdicts[requests.length];
      requests.push(request);
      if (next === undefined)
        throw new Error(`analysis called ${requests.length} times, more than scripted`);
      if (next instanceof Error) throw next;
      return { verdict: next, reason: `scripted ${next}` };
    },
  };
}
