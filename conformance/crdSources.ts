// Where `npm run validate` gets the CRD schemas it checks the stack's custom resources against:
// a directory (../shared/crds, or `kubectl get crd -o yaml` saved by the user), the cluster of a
// kubeconfig context, or the release manifests the Platform installs, fetched once and cached.
// A fresh clone has no ../shared beside it, so the default must fail with the ways out rather
// than with a bare "directory not found". Decisions are pure functions; the I/O is at the end.
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { CrdCatalog } from "./crdValidator";
import {
  platformInstallPlan,
  PLATFORM_DEFAULT_VERSIONS,
  type PlatformRelease,
  type PlatformVersions,
} from "../components/platform/platformManifests";

export type CrdSource =
  | { readonly kind: "directory"; readonly dir: string }
  | { readonly kind: "cluster"; readonly context?: string; readonly kubeconfig?: string }
  | { readonly kind: "releases"; readonly baseUrl?: string; readonly cacheDir: string }
  | { readonly kind: "none" };

/** The command-line choices that pick a source (conformance/cli.ts). */
export interface CrdSourceFlags {
  readonly crds?: string;
  readonly fromCluster?: boolean;
  readonly context?: string;
  readonly kubeconfig?: string;
  readonly fromReleases?: boolean;
  readonly releasesBaseUrl?: string;
  readonly cacheDir?: string;
  readonly configOnly?: boolean;
}

/** The environment variables a source may come from. */
export interface CrdSourceEnv {
  readonly CANARY_CRDS_DIR?: string;
  readonly CANARY_RELEASES_BASE_URL?: string;
  readonly XDG_CACHE_HOME?: string;
  readonly HOME?: string;
}

export const CRD_SOURCE_CHOICES =
  "--crds DIR (a directory or file of CRD YAML, e.g. `kubectl get crd -o yaml > crds.yaml`), " +
  "--from-cluster [--context NAME] (the CRDs of a cluster you can reach with kubectl), " +
  "--from-releases [--releases-base-url URL] (the pinned release manifests the Platform " +
  "installs, fetched once and cached), or --config-only (no CRDs: the config, traffic and step " +
  "guard only)";

/** `${XDG_CACHE_HOME:-~/.cache}/canary-release/crds`, beside the real tier's toolchain cache. */
export function defaultCacheDir(env: CrdSourceEnv): string {
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), ".cache");
  return path.join(base, "canary-release", "crds");
}

/**
 * The one source the flags ask for, or why they cannot be used together. With none of them,
 * CANARY_CRDS_DIR, else `defaultDir` if it exists; a fresh clone without ../shared gets an
 * error listing every way to give CRDs instead.
 */
export function chooseCrdSource(
  flags: CrdSourceFlags,
  env: CrdSourceEnv,
  defaultDir: string,
  exists: (file: string) => boolean,
): { source: CrdSource } | { problem: string } {
  const chosen = [
    flags.crds !== undefined ? "--crds" : undefined,
    flags.fromCluster === true ? "--from-cluster" : undefined,
    flags.fromReleases === true ? "--from-releases" : undefined,
    flags.configOnly === true ? "--config-only" : undefined,
  ].filter((flag): flag is string => flag !== undefined);
  if (chosen.length > 1) {
    return { problem: `${chosen.join(" and ")}: give only one of them; each is a source of CRDs` };
  }
  if (flags.fromCluster !== true) {
    for (const [flag, value] of [
      ["--context", flags.context],
      ["--kubeconfig", flags.kubeconfig],
    ] as const) {
      if (value !== undefined) {
        return { problem: `${flag} ${value}: only used with --from-cluster; add --from-cluster` };
      }
    }
  }
  if (flags.fromReleases !== true) {
    for (const [flag, value] of [
      ["--releases-base-url", flags.releasesBaseUrl],
      ["--cache-dir", flags.cacheDir],
    ] as const) {
      if (value !== undefined) {
        return { problem: `${flag} ${value}: only used with --from-releases; add --from-releases` };
      }
    }
  }
  if (flags.configOnly === true) return { source: { kind: "none" } };
  if (flags.crds !== undefined) return { source: { kind: "directory", dir: flags.crds } };
  if (flags.fromCluster === true) {
    return {
      source: {
        kind: "cluster",
        ...(flags.context !== undefined ? { context: flags.context } : {}),
        ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
      },
    };
  }
  if (flags.fromReleases === true) {
    const [baseUrl, flag] =
      flags.releasesBaseUrl !== undefined
        ? [flags.releasesBaseUrl, "--releases-base-url"]
        : [env.CANARY_RELEASES_BASE_URL, "CANARY_RELEASES_BASE_URL"];
    if (baseUrl !== undefined) {
      const problem = baseUrlProblem(baseUrl);
      if (problem !== undefined) return { problem: `${flag} ${baseUrl}: ${problem}` };
    }
    return {
      source: {
        kind: "releases",
        cacheDir: flags.cacheDir ?? defaultCacheDir(env),
        ...(baseUrl !== undefined ? { baseUrl } : {}),
      },
    };
  }
  if (env.CANARY_CRDS_DIR !== undefined) {
    return { source: { kind: "directory", dir: env.CANARY_CRDS_DIR } };
  }
  if (exists(defaultDir)) return { source: { kind: "directory", dir: defaultDir } };
  return {
    problem:
      `no CRDs to validate against: the default ${defaultDir} does not exist (it is the ` +
      `upstream CRDs laid beside the project in CI) and CANARY_CRDS_DIR is not set. Give one ` +
      `of: ${CRD_SOURCE_CHOICES}.`,
  };
}

function baseUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "not a URL; give an http:// or https:// address of a mirror, e.g. https://mirror.example.com/releases";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `must be an http:// or https:// address, not ${url.protocol}`;
  }
  if (url.search !== "" || url.hash !== "") return "must have no ?query or #fragment";
  return undefined;
}

/**
 * The releases whose manifests hold the CRDs of the kinds the stack creates: Knative Serving
 * (Route), Eventing (ApiServerSource), Tekton Pipelines (Task, Pipeline) and Triggers
 * (EventListener, TriggerBinding, TriggerTemplate). Kourier and Contour bring none the stack
 * uses (the webhook's Ingress is built in), and interceptors.yaml holds objects, not CRDs.
 */
export const CRD_RELEASES: readonly PlatformRelease[] = Object.freeze([
  "servingCore",
  "eventingCore",
  "tektonPipeline",
  "tektonTriggers",
]);

export interface ReleaseManifest {
  readonly release: PlatformRelease;
  /** The pinned address the Platform installs from: the cache key. */
  readonly pinnedUrl: string;
  /** Where it is fetched from: the pinned address, or the same path under the base URL. */
  readonly url: string;
}

/**
 * A mirror serves the upstream paths under its own base: `https://github.com/knative/serving/…`
 * becomes `<base>/knative/serving/…` and `https://infra.tekton.dev/tekton-releases/…` becomes
 * `<base>/tekton-releases/…`. Only the scheme and host are replaced, so one mirror can hold every
 * project's assets without two of them clashing.
 */
export function rebaseUrl(url: string, baseUrl: string): string {
  const parsed = new URL(url);
  return `${baseUrl.replace(/\/+$/, "")}${parsed.pathname}`;
}

export function releaseManifests(
  baseUrl?: string,
  versions: PlatformVersions = PLATFORM_DEFAULT_VERSIONS,
): ReleaseManifest[] {
  return platformInstallPlan(versions)
    .filter((step) => CRD_RELEASES.includes(step.release))
    .map((step) => ({
      release: step.release,
      pinnedUrl: step.url,
      url: baseUrl === undefined ? step.url : rebaseUrl(step.url, baseUrl),
    }));
}

/**
 * The cache file of a release: named by the pinned URL, which names the exact release, so a
 * mirror and the upstream host fill the same entry, and a new pin never reads an old file.
 */
export function cacheFileFor(cacheDir: string, pinnedUrl: string): string {
  const digest = createHash("sha256").update(pinnedUrl).digest("hex").slice(0, 32);
  return path.join(cacheDir, `${digest}.yaml`);
}

/** The CustomResourceDefinition documents of a multi-document release manifest. */
export function crdDocumentsOf(text: string): Record<string, unknown>[] {
  const crds: Record<string, unknown>[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new Error(`not valid YAML: ${document.errors[0].message.split("\n")[0]}`);
    }
    const value: unknown = document.toJS();
    if (typeof value !== "object" || value === null || Array.isArray(value)) continue;
    const object = value as Record<string, unknown>;
    if (
      object.kind === "CustomResourceDefinition" &&
      typeof object.apiVersion === "string" &&
      object.apiVersion.startsWith("apiextensions.k8s.io/")
    ) {
      crds.push(object);
    }
  }
  return crds;
}

export interface LoadedCrds {
  readonly catalog: CrdCatalog;
  /** Where the CRDs came from, for the report's first line. */
  readonly description: string;
}

/** Reads the CRDs of `source`; throws with a message naming the source and the way out. */
export async function loadCrds(
  source: Exclude<CrdSource, { kind: "none" }>,
  env: NodeJS.ProcessEnv,
): Promise<LoadedCrds> {
  switch (source.kind) {
    case "directory":
      return { catalog: CrdCatalog.fromDirectory(source.dir), description: source.dir };
    case "cluster":
      return await clusterCrds(source, env);
    case "releases":
      return await releaseCrds(source);
  }
}

const KUBECTL_TIMEOUT_MS = 60_000;

/** `kubectl get crd -o yaml` of the current context (or `--context`), as the user runs it. */
async function clusterCrds(
  source: Extract<CrdSource, { kind: "cluster" }>,
  env: NodeJS.ProcessEnv,
): Promise<LoadedCrds> {
  const args = [
    ...(source.kubeconfig !== undefined ? ["--kubeconfig", source.kubeconfig] : []),
    ...(source.context !== undefined ? ["--context", source.context] : []),
    "get",
    "crd",
    "-o",
    "yaml",
  ];
  const where =
    source.context !== undefined ? `context ${source.context}` : "the kubeconfig's current context";
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      "kubectl",
      args,
      { env, timeout: KUBECTL_TIMEOUT_MS, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) return resolve(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        reject(
          new Error(
            code === "ENOENT"
              ? `--from-cluster runs kubectl, which is not on PATH: install it, or save the CRDs ` +
                  `where kubectl works (kubectl get crd -o yaml > crds.yaml) and pass --crds crds.yaml`
              : `--from-cluster: \`kubectl ${args.join(" ")}\` failed for ${where}: ` +
                  `${(stderr || error.message).trim()}. Check --context (kubectl config ` +
                  `get-contexts) or --kubeconfig.`,
          ),
        );
      },
    );
  });
  const docs = parseAllDocuments(output).map((document) => document.toJS() as unknown);
  const description = `cluster (${where})`;
  try {
    return { catalog: CrdCatalog.fromDocuments(docs, description), description };
  } catch (error) {
    throw new Error(
      `--from-cluster: ${error instanceof Error ? error.message : String(error)}: is Knative ` +
        `and Tekton installed there? Use --context NAME for another cluster.`,
    );
  }
}

const FETCH_TIMEOUT_MS = 120_000;

/** The CRDs of the pinned releases: from the cache, else fetched and cached. */
async function releaseCrds(source: Extract<CrdSource, { kind: "releases" }>): Promise<LoadedCrds> {
  const docs: unknown[] = [];
  let fetched = 0;
  for (const manifest of releaseManifests(source.baseUrl)) {
    const file = cacheFileFor(source.cacheDir, manifest.pinnedUrl);
    if (fs.existsSync(file)) {
      docs.push(...parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS()));
      continue;
    }
    const crds = crdDocumentsOfRelease(manifest, await fetchText(manifest, source.baseUrl));
    writeCache(file, manifest, crds);
    docs.push(...crds);
    fetched++;
  }
  const from = source.baseUrl ?? "the upstream release hosts";
  const description =
    `release manifests of ${CRD_RELEASES.join(", ")} (${from}; ` +
    `${fetched === 0 ? "all from the cache" : `${fetched} fetched`}, cache ${source.cacheDir})`;
  return { catalog: CrdCatalog.fromDocuments(docs, description), description };
}

function crdDocumentsOfRelease(manifest: ReleaseManifest, text: string): Record<string, unknown>[] {
  let crds: Record<string, unknown>[];
  try {
    crds = crdDocumentsOf(text);
  } catch (error) {
    throw new Error(
      `${manifest.url}: ${error instanceof Error ? error.message : String(error)}; is the base ` +
        `URL a mirror of the release assets?`,
    );
  }
  if (crds.length === 0) {
    throw new Error(
      `${manifest.url} holds no CustomResourceDefinition (the ${manifest.release} release ` +
        `manifest has them): is the base URL a mirror of the release assets?`,
    );
  }
  return crds;
}

async function fetchText(manifest: ReleaseManifest, baseUrl: string | undefined): Promise<string> {
  const fix =
    baseUrl === undefined
      ? "without internet, set --releases-base-url (or CANARY_RELEASES_BASE_URL) to a mirror " +
        "that serves the same paths, or use --crds DIR, --from-cluster or --config-only"
      : `check --releases-base-url ${baseUrl}: it must serve ${new URL(manifest.pinnedUrl).pathname}; ` +
        `or use --crds DIR, --from-cluster or --config-only`;
  let response: Response;
  try {
    response = await fetch(manifest.url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    throw new Error(
      `cannot fetch the ${manifest.release} release manifest ${manifest.url} (not in the ` +
        `cache): ${cause instanceof Error ? cause.message : String(cause)}; ${fix}`,
    );
  }
  if (!response.ok) {
    throw new Error(
      `cannot fetch the ${manifest.release} release manifest ${manifest.url} (not in the ` +
        `cache): HTTP ${response.status} ${response.statusText}; ${fix}`,
    );
  }
  return await response.text();
}

/** Written whole or not at all (a temporary file renamed), so a cut download never poisons it. */
function writeCache(
  file: string,
  manifest: ReleaseManifest,
  crds: Record<string, unknown>[],
): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const header =
    `# The CustomResourceDefinitions of ${manifest.pinnedUrl}, fetched from ${manifest.url}\n` +
    `# by npm run validate -- --from-releases. Delete this file to fetch it again.\n`;
  const body = crds.map((crd) => JSON.stringify(crd)).join("\n---\n");
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${header}${body}\n`);
  fs.renameSync(temporary, file);
}
