// Reads the stack's cluster for the `canary` command: the app's Revisions and its Route, with
// @kubernetes/client-node, through the same kubeconfig and context the stack's provider uses
// (`kubernetes:kubeconfig`, else $KUBECONFIG or ~/.kube/config; `kubernetes:context`, else the
// kubeconfig's current context). It only reads: the stack owns traffic, the pipeline owns
// Revisions.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { KnativeCondition, RevisionMetadata } from "../common/revisionRecord";
import type { TrafficTarget } from "../common/traffic";

/** Where the stack's cluster is, from the stack's `kubernetes:` config. */
export interface ClusterTarget {
  /** `kubernetes:context`; unset: the kubeconfig's current context. */
  readonly context?: string;
  /** `kubernetes:kubeconfig`: a path, or the kubeconfig itself (as the provider takes it). */
  readonly kubeconfig?: string;
  /** The project directory: a relative kubeconfig path is read from there, as the provider does. */
  readonly baseDir?: string;
  /** How long one read may take before the cluster counts as not answering. */
  readonly timeoutMs?: number;
}

/** Default of ClusterTarget.timeoutMs: a cluster that says nothing must not hold a step. */
export const CLUSTER_READ_TIMEOUT_MS = 15_000;

/** The part of a Knative Revision the command shows. */
export interface KnativeRevision {
  readonly metadata: RevisionMetadata & {
    readonly name: string;
    readonly namespace?: string;
    readonly creationTimestamp?: string;
  };
  readonly status?: { readonly conditions?: readonly KnativeCondition[] };
}

/** A Route's traffic target in `status`: Knative resolves `latestRevision` to its name there. */
export type LiveTrafficTarget = TrafficTarget;

/** The part of a Knative Route the command shows. */
export interface KnativeRoute {
  readonly metadata: { readonly name: string; readonly generation?: number };
  readonly spec?: { readonly traffic?: readonly TrafficTarget[] };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly url?: string;
    readonly conditions?: readonly KnativeCondition[];
    readonly traffic?: readonly LiveTrafficTarget[];
  };
}

/** A cluster the command may read, once opened for one stack. */
export interface ClusterReader {
  /** `context kind-canary (https://127.0.0.1:6443)`, for messages. */
  readonly where: string;
  /** The Revisions of the app's Configuration, in any order. */
  listRevisions(namespace: string, app: string): Promise<KnativeRevision[]>;
  /** The Route, or undefined when there is none. */
  readRoute(namespace: string, name: string): Promise<KnativeRoute | undefined>;
  /** A ConfigMap's data (Knative's config-features), or undefined when there is none. */
  readConfigMapData(
    namespace: string,
    name: string,
  ): Promise<Readonly<Record<string, string>> | undefined>;
}

/** The cluster could not be reached or read; the message says which cluster and why. */
export class ClusterReadError extends Error {
  override readonly name = "ClusterReadError";
}

const SERVING = { group: "serving.knative.dev", version: "v1" } as const;

/**
 * What `kubernetes:kubeconfig` names, decided as the provider decides it: a file that exists
 * (`~/` is the home directory, a relative path is read from the project directory), else the
 * kubeconfig's own text; a value that is neither is refused, naming the file looked for.
 */
export function kubeconfigSource(
  value: string,
  baseDir: string,
  home: string,
): { readonly file: string } | { readonly text: string } {
  const trimmed = value.trim();
  if (!isKubeconfigText(value)) {
    const expanded = trimmed.startsWith("~/") ? path.join(home, trimmed.slice(2)) : trimmed;
    const file = path.resolve(baseDir, expanded);
    if (fs.existsSync(file)) return { file };
    throw new ClusterReadError(`kubernetes:kubeconfig names ${file}, which does not exist`);
  }
  return { text: value };
}

/** Does `kubeconfig` (a config value) hold a kubeconfig's text rather than a path to one? */
export function isKubeconfigText(kubeconfig: string): boolean {
  return (
    /\n/.test(kubeconfig.trim()) || /^\s*[{]/.test(kubeconfig) || /apiVersion\s*:/.test(kubeconfig)
  );
}

interface ErrorWithCode {
  readonly code?: unknown;
  readonly body?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
}

/** `404`, `connect ECONNREFUSED 127.0.0.1:6443`, or the API's own Status message. */
export function describeApiFailure(error: unknown): { status?: number; message: string } {
  const value = (error ?? {}) as ErrorWithCode;
  const status = typeof value.code === "number" ? value.code : undefined;
  let message = typeof value.message === "string" ? value.message : String(error);
  const body = value.body;
  const text = typeof body === "string" ? body : undefined;
  if (text !== undefined) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === "string") message = parsed.message;
    } catch {
      // Not a Status object: keep the client's message.
    }
  } else if (typeof body === "object" && body !== null) {
    const said = (body as { message?: unknown }).message;
    if (typeof said === "string") message = said;
  }
  const cause = value.cause as ErrorWithCode | undefined;
  if (status === undefined && typeof cause?.message === "string") {
    message = `${message}: ${cause.message}`;
  }
  return { ...(status !== undefined ? { status } : {}), message: message.split("\n")[0] };
}

/**
 * Where the provider would find a kubeconfig without `kubernetes:kubeconfig`: $KUBECONFIG's
 * files, else ~/.kube/config, else the Pod's own ServiceAccount. Without any, client-node would
 * quietly try http://localhost:8080; this says what is missing instead.
 */
export function defaultKubeconfigSource(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): string {
  const listed = (env.KUBECONFIG ?? "").split(path.delimiter).filter((file) => file !== "");
  if (listed.some((file) => fs.existsSync(file)))
    return `$KUBECONFIG (${listed.join(path.delimiter)})`;
  const file = path.join(home, ".kube", "config");
  if (listed.length === 0 && fs.existsSync(file)) return file;
  if (env.KUBERNETES_SERVICE_HOST !== undefined) return "the Pod's ServiceAccount (in-cluster)";
  throw new ClusterReadError(
    listed.length > 0
      ? `$KUBECONFIG names ${listed.join(path.delimiter)}, which does not exist`
      : `no kubeconfig: ${file} does not exist and $KUBECONFIG is not set; set ` +
          "kubernetes:kubeconfig in the stack (a path, or the kubeconfig itself as a secret)",
  );
}

/**
 * Opens the stack's cluster with @kubernetes/client-node. A context the kubeconfig does not
 * have is refused here, naming the config key, before any request.
 */
export async function openCluster(target: ClusterTarget): Promise<ClusterReader> {
  // Loaded on first use: the other commands never pay for it.
  const k8s = await import("@kubernetes/client-node");
  const config = new k8s.KubeConfig();
  let source: string;
  try {
    if (target.kubeconfig !== undefined && target.kubeconfig.trim() !== "") {
      const found = kubeconfigSource(
        target.kubeconfig,
        target.baseDir ?? process.cwd(),
        os.homedir(),
      );
      if ("text" in found) {
        config.loadFromString(found.text);
        source = "kubernetes:kubeconfig (the kubeconfig itself)";
      } else {
        config.loadFromFile(found.file);
        source = found.file;
      }
    } else {
      source = defaultKubeconfigSource(process.env, os.homedir());
      config.loadFromDefault();
    }
  } catch (error) {
    if (error instanceof ClusterReadError) throw error;
    throw new ClusterReadError(`cannot load the kubeconfig: ${describeApiFailure(error).message}`);
  }
  if (target.context !== undefined) {
    const names = config.getContexts().map((context) => context.name);
    if (!names.includes(target.context)) {
      throw new ClusterReadError(
        `kubernetes:context is ${JSON.stringify(target.context)}, which ${source} does not have` +
          (names.length > 0 ? ` (its contexts: ${names.join(", ")})` : " (it has no contexts)"),
      );
    }
    config.setCurrentContext(target.context);
  }
  const cluster = config.getCurrentCluster();
  if (cluster === null) {
    throw new ClusterReadError(
      `no cluster to read: ${source} has no current context; set kubernetes:context`,
    );
  }
  const where = `context ${config.getCurrentContext()} (${cluster.server})`;
  const timeoutMs = target.timeoutMs ?? CLUSTER_READ_TIMEOUT_MS;
  // client-node sets no deadline of its own: a server that accepts and never answers would
  // hold `status` and every step's drift check for ever.
  const answered = <T>(read: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new ClusterReadError(
              `no answer from ${where} within ${timeoutMs / 1000} s; is the cluster reachable?`,
            ),
          ),
        timeoutMs,
      );
      read.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  const api = config.makeApiClient(k8s.CustomObjectsApi);
  const core = config.makeApiClient(k8s.CoreV1Api);
  const failed = (what: string, error: unknown): ClusterReadError => {
    const { status, message } = describeApiFailure(error);
    const hint =
      status === 404
        ? `; is Knative Serving installed there? (${SERVING.group}/${SERVING.version} not served)`
        : status === 401 || status === 403
          ? "; the kubeconfig's user may not read it"
          : "";
    return new ClusterReadError(
      `cannot read ${what} from ${where}: ${status !== undefined ? `${status} ` : ""}${message}${hint}`,
    );
  };
  return {
    where,
    async listRevisions(namespace, app) {
      try {
        const list = (await answered(
          api.listNamespacedCustomObject({
            ...SERVING,
            namespace,
            plural: "revisions",
            labelSelector: `serving.knative.dev/configuration=${app}`,
          }),
        )) as { items?: KnativeRevision[] };
        return list.items ?? [];
      } catch (error) {
        throw failed(`the revisions of ${namespace}/${app}`, error);
      }
    },
    async readRoute(namespace, name) {
      try {
        return (await answered(
          api.getNamespacedCustomObject({ ...SERVING, namespace, plural: "routes", name }),
        )) as KnativeRoute;
      } catch (error) {
        // A Route that is not there (yet) is an answer; a cluster without Knative is not.
        if (describeApiFailure(error).status === 404 && (await routesServed(namespace))) {
          return undefined;
        }
        throw failed(`route ${namespace}/${name}`, error);
      }
    },
    async readConfigMapData(namespace, name) {
      try {
        const map = await answered(core.readNamespacedConfigMap({ namespace, name }));
        return map.data ?? {};
      } catch (error) {
        if (describeApiFailure(error).status === 404) return undefined;
        throw failed(`configmap ${namespace}/${name}`, error);
      }
    },
  };

  async function routesServed(namespace: string): Promise<boolean> {
    try {
      await answered(
        api.listNamespacedCustomObject({ ...SERVING, namespace, plural: "routes", limit: 1 }),
      );
      return true;
    } catch {
      return false;
    }
  }
}
