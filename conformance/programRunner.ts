// Runs the Pulumi program (index.ts) in this process under Pulumi mocks and records every
// resource it registers, with its inputs. Shared by the tests, the benchmark and the
// `npm run validate` command, so all three see the program exactly as `pulumi preview` would
// hand it to the engine, with no engine, CLI or cluster.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { PROJECT } from "../config";

export const PROJECT_ROOT = path.resolve(__dirname, "..");
export const PROGRAM = path.join(PROJECT_ROOT, "index.ts");
const STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference";

/** One resource registration (or read) the program made. */
export interface RecordedResource {
  /** Pulumi type token, e.g. `kubernetes:serving.knative.dev/v1:Route`. */
  readonly type: string;
  readonly name: string;
  /** The URN the mock monitor gave it (parents included), the identity Pulumi diffs by. */
  readonly urn: string;
  readonly inputs: Record<string, unknown>;
  readonly custom: boolean;
  /** Reference of the provider the resource was registered with, if any. */
  readonly provider?: string;
  /** Set for reads (`opts.id`): the id that was read, e.g. `prod/hello-00002`. */
  readonly readId?: string;
  /** The `protect` resource option. */
  readonly protect: boolean;
  /** Dotted paths of inputs that reached the engine as Pulumi secrets (`inputs` shows them plain). */
  readonly secretPaths: readonly string[];
  /**
   * URNs of the resources this one waits for (`dependsOn`, and the resources its input Outputs
   * came from), as the engine receives them: the ordering edges of the deployment.
   */
  readonly dependencies: readonly string[];
  /**
   * The `transforms` resource option: what the engine would run on each child this resource
   * registers. Mocks register no children of a provider's component (such as a
   * `k8s.yaml.v2.ConfigFile`), so tests call these on the children such a component would make.
   */
  readonly transforms: readonly pulumi.ResourceTransform[];
}

export interface ProgramRun {
  readonly resources: readonly RecordedResource[];
  /** The stack outputs (the program's exports), resolved. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** What made the program fail, if it did (bad config, a refused gate, …). */
  readonly error?: Error;
  /** Warnings and errors the program logged through pulumi.log. */
  readonly logs: readonly string[];
}

/**
 * Live objects the program may read. Called with the Pulumi type of the read and its id
 * (`<namespace>/<name>`); returns the object's state, or undefined if it does not exist.
 */
export type ClusterState = (type: string, id: string) => Record<string, unknown> | undefined;

/**
 * A cluster in which every Knative Revision that is read exists, is Ready and passed its smoke
 * test (the revision tester's label).
 */
export const everyRevisionPassed: ClusterState = (type) =>
  type === "kubernetes:serving.knative.dev/v1:Revision"
    ? {
        metadata: { labels: { "canary-release.dev/smoke-test": "passed" } },
        status: { conditions: [{ type: "Ready", status: "True" }] },
      }
    : undefined;

/** A cluster with nothing in it. */
export const emptyCluster: ClusterState = () => undefined;

export interface RunOptions {
  /** Full keys (`canary-release:app`, `kubernetes:context`) to string values, as Pulumi holds them. */
  readonly config: Readonly<Record<string, string>>;
  /** Keys of `config` that are secrets. */
  readonly secretKeys?: readonly string[];
  readonly stack?: string;
  /** true: a `pulumi preview`; false: a `pulumi up`. Default true. */
  readonly preview?: boolean;
  readonly cluster?: ClusterState;
  /** The program to run; default index.ts of this project. */
  readonly program?: string;
  /** The organization Pulumi reports; default `organization`, as for a self-managed backend. */
  readonly organization?: string;
  /**
   * The outputs of this stack's last deployment, which a StackReference to the stack's own full
   * name `<organization>/canary-release/<stack>` reads. Default `{}`: never deployed. A
   * reference to any other stack fails, as to a stack that does not exist.
   */
  readonly deployedOutputs?: Readonly<Record<string, unknown>>;
}

interface PromisingOutput {
  promise(withUnknowns?: boolean): Promise<unknown>;
}

/** The value of an Output (or plain value), including rejections, which `apply` would hide. */
export async function promiseOf<T>(value: pulumi.Input<T>): Promise<T> {
  if (pulumi.Output.isInstance(value)) {
    return (await (value as unknown as PromisingOutput).promise(true)) as T;
  }
  return await value;
}

type RuntimeWithRpcs = typeof pulumi.runtime & { waitForRPCs?: () => Promise<void> };

/**
 * Runs the program once. Runs are sequential: the Pulumi runtime is process-global, so two
 * overlapping runs would mix their registrations.
 */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
  const registered: Omit<RecordedResource, "urn" | "protect" | "dependencies" | "transforms">[] =
    [];
  const cluster = options.cluster ?? emptyCluster;
  const stack = options.stack ?? "test";
  const organization = options.organization ?? "organization";
  const ownStack = `${organization}/${PROJECT}/${stack}`;
  const registrations: Registrations = {
    protected: new Set(),
    secretOutputs: new Map(),
    dependencies: new Map(),
    transforms: new Map(),
  };
  const logs: string[] = [];

  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        const isRead = args.id !== undefined && args.id !== "" && args.custom === true;
        const secretPaths: string[] = [];
        registered.push({
          type: args.type,
          name: args.name,
          inputs: unwrapSecrets(args.inputs, "", secretPaths) as Record<string, unknown>,
          secretPaths,
          custom: args.custom ?? false,
          ...(args.provider ? { provider: args.provider } : {}),
          ...(isRead ? { readId: args.id } : {}),
        });
        if (isRead && args.type === STACK_REFERENCE_TYPE) {
          // The engine's own provider answers these from the backend, not from the cluster.
          if (args.id !== ownStack) throw new Error(`unknown stack "${args.id}"`);
          const outputs = { ...(options.deployedOutputs ?? {}) };
          return { id: args.id, state: { name: args.id, outputs, secretOutputNames: [] } };
        }
        if (isRead) {
          const state = cluster(args.type, args.id as string);
          // The words the Kubernetes provider uses when a read finds nothing (seen in the real
          // tier: "Preview failed: resource 'hello/hello-0000000' does not exist").
          if (state === undefined) throw new Error(`resource '${args.id}' does not exist`);
          return { id: args.id, state: { ...args.inputs, ...state } };
        }
        // Outputs the engine would mark secret (additionalSecretOutputs) stay secret here too.
        const state: Record<string, unknown> = { ...args.inputs, ...computedOutputs(args) };
        for (const name of registrations.secretOutputs.get(`${args.type}::${args.name}`) ?? []) {
          if (state[name] !== undefined) state[name] = pulumi.secret(state[name]);
        }
        return { id: args.custom ? `${args.name}-id` : undefined, state };
      },
      call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
        throw new Error(`the program made an unexpected provider call: ${args.token}`);
      },
    },
    PROJECT,
    stack,
    options.preview ?? true,
    organization,
  );
  pulumi.runtime.setAllConfig({ ...options.config }, [...(options.secretKeys ?? [])]);
  recordRegistrationOptions(registrations);

  const restoreLog = captureLogs(logs);
  const unhandled: Error[] = [];
  const restoreRejections = captureUnhandledRejections(unhandled);
  const outputs: Record<string, unknown> = {};
  let error: Error | undefined;
  try {
    const program = options.program ?? PROGRAM;
    forgetProgram(program);
    const exported = require(program) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exported)) {
      outputs[name] = await promiseOf(value as pulumi.Input<unknown>);
    }
  } catch (caught) {
    error = caught instanceof Error ? caught : new Error(String(caught));
  }
  // Registrations are RPCs to the mock monitor; let them finish before reading the record.
  try {
    await (pulumi.runtime as RuntimeWithRpcs).waitForRPCs?.();
    // Rejections are reported as unhandled one macrotask after they happen.
    await new Promise((resolve) => setImmediate(resolve));
  } catch (caught) {
    error ??= caught instanceof Error ? caught : new Error(String(caught));
  } finally {
    restoreRejections();
    restoreLog();
  }
  // A failed registration (a read that found nothing, a refused gate) surfaces as a rejection
  // nobody awaits; the Pulumi language host reports those as the program's failure, and so
  // does this runner.
  error ??= unhandled[0];

  const urns = urnsByTypeAndName();
  const resources = registered.map((resource) => {
    const key = `${resource.type}::${resource.name}`;
    return {
      ...resource,
      urn: urns.get(key) ?? `unregistered:${key}`,
      protect: registrations.protected.has(key),
      dependencies: registrations.dependencies.get(key) ?? [],
      transforms: registrations.transforms.get(key) ?? [],
    };
  });
  return { resources, outputs, logs, ...(error !== undefined ? { error } : {}) };
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getProtect(): boolean | undefined;
  getAdditionalsecretoutputsList(): string[];
  getDependenciesList(): string[];
  getTransformsList(): { getToken(): string }[];
}

/** Resource options the mocks do not see, keyed by `<type>::<name>`. */
interface Registrations {
  readonly protected: Set<string>;
  readonly secretOutputs: Map<string, string[]>;
  readonly dependencies: Map<string, string[]>;
  readonly transforms: Map<string, pulumi.ResourceTransform[]>;
}

/**
 * Outputs a provider computes, which the mocks must make up: deterministic, so two runs of the
 * same config register the same inputs.
 */
function computedOutputs(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  const metadata = args.inputs.metadata as Record<string, unknown> | undefined;
  if (args.custom === true && args.type.startsWith("kubernetes:") && metadata !== undefined) {
    // The API server gives every object a uid; owner references name their owner by it.
    return { metadata: { ...metadata, uid: mockUid(args.type, args.name) } };
  }
  return {};
}

/** The uid the mocks give the Kubernetes object registered as `type` named `name`. */
export function mockUid(type: string, name: string): string {
  return `mock-uid:${type}:${name}`;
}
interface MonitorLike {
  registerResource(request: RegisterRequest, callback: unknown): Promise<void>;
  getRegisteredResources?: () => Map<string, unknown>;
}

/**
 * `protect`, `additionalSecretOutputs` and the dependencies are resource options, not inputs, so
 * the mocks never see them: read them from the registration requests instead.
 */
function recordRegistrationOptions(into: Registrations): void {
  const transforms = acceptTransforms();
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) => {
    const key = `${request.getType()}::${request.getName()}`;
    if (request.getProtect() === true) into.protected.add(key);
    into.secretOutputs.set(key, request.getAdditionalsecretoutputsList());
    into.dependencies.set(key, [...request.getDependenciesList()].sort());
    const registered = request.getTransformsList().map((callback) => {
      const transform = transforms.get(callback.getToken());
      if (transform === undefined) throw new Error(`${key}: a transform that was never registered`);
      return transform;
    });
    into.transforms.set(key, registered);
    return register(request, callback);
  };
}

interface RuntimeStore {
  supportsTransforms: boolean;
  callbacks?: {
    registerTransform(transform: pulumi.ResourceTransform): Promise<unknown>;
    awaitStackRegistrations(): Promise<void>;
    shutdown(): void;
  };
}

/**
 * The SDK's mock monitor refuses the `transforms` option, since nothing could run them: the
 * engine calls them back over gRPC for each child. Here the runner takes the engine's part of
 * the exchange: it accepts each transform, hands the SDK a callback token as the engine's
 * callback server would, and keeps the function by token so that the registration it arrives
 * with can be recorded. The transforms are never run during the program, as no mocked
 * component has children they would apply to.
 */
function acceptTransforms(): Map<string, pulumi.ResourceTransform> {
  // The SDK's process-wide runtime state; no public API sets these two fields.
  const state = require("@pulumi/pulumi/runtime/state") as { getStore(): RuntimeStore };
  const callbackProto = require("@pulumi/pulumi/proto/callback_pb") as {
    Callback: new () => { setTarget(target: string): void; setToken(token: string): void };
  };
  const byToken = new Map<string, pulumi.ResourceTransform>();
  const store = state.getStore();
  store.supportsTransforms = true;
  store.callbacks = {
    async registerTransform(transform) {
      const token = `mock-transform-${byToken.size}`;
      byToken.set(token, transform);
      const callback = new callbackProto.Callback();
      callback.setTarget("mock-engine");
      callback.setToken(token);
      return callback;
    },
    // No stack transforms are registered, and there is no server to stop.
    async awaitStackRegistrations() {},
    shutdown() {},
  };
  return byToken;
}

const SECRET_SIGNATURE_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";

/** Replaces Pulumi's serialized secrets by their values, noting where each one was. */
function unwrapSecrets(value: unknown, at: string, secretPaths: string[]): unknown {
  if (Array.isArray(value)) {
    return value.map((item, i) => unwrapSecrets(item, `${at}[${i}]`, secretPaths));
  }
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  if (record[SECRET_SIGNATURE_KEY] === SECRET_SIGNATURE) {
    secretPaths.push(at);
    return unwrapSecrets(record.value, at, []);
  }
  const plain: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(record)) {
    plain[name] = unwrapSecrets(item, at === "" ? name : `${at}.${name}`, secretPaths);
  }
  return plain;
}

/** URNs the mock monitor assigned, keyed by `<type>::<name>` (unique within one stack). */
function urnsByTypeAndName(): Map<string, string> {
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  const byKey = new Map<string, string>();
  for (const urn of monitor.getRegisteredResources?.().keys() ?? []) {
    const nameAt = urn.lastIndexOf("::");
    const qualifiedType = urn.slice(urn.lastIndexOf("::", nameAt - 1) + 2, nameAt);
    const type = qualifiedType.slice(qualifiedType.lastIndexOf("$") + 1);
    byKey.set(`${type}::${urn.slice(nameAt + 2)}`, urn);
  }
  return byKey;
}

/**
 * Makes the next require of the program run it afresh, with the config now set. Only the entry
 * file is reloaded: the modules it imports hold no state (they read config only when index.ts
 * calls them), and keeping them loaded keeps their classes identical for `instanceof` in tests.
 */
function forgetProgram(program: string): void {
  delete require.cache[require.resolve(program)];
}

/** Collects unhandled promise rejections of one run instead of letting them crash the process. */
function captureUnhandledRejections(into: Error[]): () => void {
  const previous = process.listeners("unhandledRejection");
  process.removeAllListeners("unhandledRejection");
  const collect = (reason: unknown): void => {
    into.push(reason instanceof Error ? reason : new Error(String(reason)));
  };
  process.on("unhandledRejection", collect);
  return () => {
    process.removeListener("unhandledRejection", collect);
    for (const listener of previous) process.on("unhandledRejection", listener);
  };
}

/** Records pulumi.log warnings and errors of one run instead of printing them. */
function captureLogs(into: string[]): () => void {
  const log = pulumi.log as unknown as Record<"warn" | "error", (message: string) => Promise<void>>;
  const original = { warn: log.warn, error: log.error };
  log.warn = async (message: string) => void into.push(`warning: ${message}`);
  log.error = async (message: string) => void into.push(`error: ${message}`);
  return () => {
    log.warn = original.warn;
    log.error = original.error;
  };
}

/**
 * Stack config of a committed `Pulumi.<stack>.yaml`, as the Pulumi CLI would hand it to the
 * program: full keys to strings, objects as JSON. Secrets cannot be decrypted here: pass
 * stand-ins in `secrets` (key → value, or a function of the key); a secure value without one
 * is an error.
 */
export function loadStackConfig(
  stackFile: string,
  secrets: Readonly<Record<string, string>> | ((key: string) => string) = {},
): { config: Record<string, string>; secretKeys: string[] } {
  const document = parseYaml(fs.readFileSync(stackFile, "utf8")) as {
    config?: Record<string, unknown>;
  } | null;
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(document?.config ?? {})) {
    if (isSecure(value)) {
      const standIn = typeof secrets === "function" ? secrets(key) : secrets[key];
      if (standIn === undefined) {
        throw new Error(`${stackFile}: ${key} is a secret; pass a stand-in value for it`);
      }
      config[key] = standIn;
      secretKeys.push(key);
    } else {
      config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return { config, secretKeys };
}

/**
 * Stand-ins for the credentials a stack file never holds (they are set per machine with
 * `pulumi config set --secret`), so that a committed stack file runs under mocks as it would
 * once its owner set them.
 */
export const STAND_IN_SECRETS: Readonly<Record<string, string>> = Object.freeze({
  "github:token": "stand-in-github-token",
  "canary-release:webhookSecret": "stand-in-webhook-secret-0123456789",
  "canary-release:registryCredentials": JSON.stringify({
    auths: { "registry.example.com": { auth: Buffer.from("user:password").toString("base64") } },
  }),
  "canary-release:testerGithubToken": "stand-in-status-token",
});

/** The stack config with a stand-in secret for every credential it does not set itself. */
export function withStandInSecrets(loaded: {
  config: Record<string, string>;
  secretKeys: string[];
}): { config: Record<string, string>; secretKeys: string[] } {
  const config = { ...loaded.config };
  const secretKeys = [...loaded.secretKeys];
  for (const [key, value] of Object.entries(STAND_IN_SECRETS)) {
    if (key in config) continue;
    config[key] = value;
    secretKeys.push(key);
  }
  return { config, secretKeys };
}

function isSecure(value: unknown): boolean {
  return typeof value === "object" && value !== null && "secure" in value;
}

/** The committed stack files, by stack name (`dev` for Pulumi.dev.yaml). */
export function stackFiles(root: string = PROJECT_ROOT): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of fs.readdirSync(root).sort()) {
    const match = /^Pulumi\.(.+)\.yaml$/.exec(entry);
    if (match) files[match[1]] = path.join(root, entry);
  }
  return files;
}
