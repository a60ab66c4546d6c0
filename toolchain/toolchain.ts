// The real binaries of the e2e tier: etcd, kube-apiserver, kubectl of the same minor, the
// Pulumi CLI with its Node.js language host, the Kubernetes provider plugin, and Tekton's
// Pipelines controller, Triggers EventListener sink and core interceptors.
//
// Binaries the user already has are used first (envtest's KUBEBUILDER_ASSETS; a `pulumi` on
// PATH of the pinned version; the provider in the Pulumi plugin cache). The rest are built from
// Go modules through the module proxy, from the wrapper modules beside this file (their go.sum
// pins every hash), into a cache folder outside the repository, one folder per component and
// version, so a warm machine builds nothing. Nothing is downloaded from a release site.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const TOOLCHAIN_DIR = __dirname;

export interface ToolchainVersions {
  /** kube-apiserver and kubectl, from k8s.io/kubernetes. */
  readonly kubernetes: string;
  readonly etcd: string;
  /** The Pulumi CLI, from github.com/pulumi/pulumi/pkg/v3; equals @pulumi/pulumi's version. */
  readonly pulumi: string;
  /** The Node.js language host, from github.com/pulumi/pulumi/sdk/v3 (see its go.mod). */
  readonly pulumiLanguageNodejs: string;
  /** The Kubernetes provider: its release (= @pulumi/kubernetes) and that tag's module version. */
  readonly pulumiKubernetes: { readonly release: string; readonly module: string };
  /** Tekton Pipelines and Triggers, as released (the same as the platform installs). */
  readonly tekton: { readonly pipeline: string; readonly triggers: string };
}

/** The one place versions are pinned; the wrapper go.mod files must agree (a test checks). */
export function readVersions(): ToolchainVersions {
  return JSON.parse(
    fs.readFileSync(path.join(TOOLCHAIN_DIR, "versions.json"), "utf8"),
  ) as ToolchainVersions;
}

/**
 * Where built binaries live: $CANARY_TOOLCHAIN_CACHE, else
 * ${XDG_CACHE_HOME:-~/.cache}/canary-release/toolchain.
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CANARY_TOOLCHAIN_CACHE) return path.resolve(env.CANARY_TOOLCHAIN_CACHE);
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), ".cache");
  return path.join(base, "canary-release", "toolchain");
}

/**
 * What is found or built together. The CLI and its language host are one: the CLI warns about a
 * language host it finds on PATH, and takes the one beside its own binary silently.
 */
export type Component = "kubernetes" | "etcd" | "pulumi" | "kubernetesProvider" | "tekton";
export const COMPONENTS: readonly Component[] = [
  "etcd",
  "kubernetes",
  "pulumi",
  "kubernetesProvider",
  "tekton",
];
/** What every real-tier suite needs; Tekton only the suite that runs it (and `npm run toolchain`). */
export const CORE_COMPONENTS: readonly Component[] = COMPONENTS.filter((c) => c !== "tekton");

/** The oldest Go that builds each component (its modules' `go` lines). */
const MIN_GO: Readonly<Record<Component, readonly [number, number, number]>> = {
  etcd: [1, 25, 0],
  kubernetes: [1, 25, 0],
  pulumi: [1, 25, 0],
  kubernetesProvider: [1, 25, 0],
  tekton: [1, 26, 4],
};

/** Rough disk a cold build of each component takes (module cache, build cache, binary). */
const BUILD_GIGABYTES: Readonly<Record<Component, number>> = {
  etcd: 1,
  kubernetes: 4,
  pulumi: 5,
  kubernetesProvider: 4,
  tekton: 3,
};

export interface Toolchain {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubectl: string;
  readonly pulumi: string;
  readonly languageHost: string;
  readonly kubernetesProvider: string;
  /** Present when the Tekton component was asked for. */
  readonly tekton?: {
    readonly controller: string;
    readonly eventListenerSink: string;
    readonly interceptors: string;
  };
  /** Where each component came from, for the log. */
  readonly sources: Readonly<Partial<Record<Component, string>>>;
  readonly versions: ToolchainVersions;
}

interface Located {
  readonly files: Record<string, string>;
  readonly source: string;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir !== "" && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

function output(file: string, args: string[]): string | undefined {
  const result = spawnSync(file, args, { encoding: "utf8", timeout: 30_000 });
  return result.status === 0 ? `${result.stdout}${result.stderr}`.trim() : undefined;
}

/** The cache folder of a component at its pinned version. */
export function componentDir(
  component: Component,
  versions: ToolchainVersions,
  root: string,
): string {
  const name: Record<Component, string> = {
    etcd: `etcd-v${versions.etcd}`,
    kubernetes: `kubernetes-v${versions.kubernetes}`,
    pulumi: `pulumi-v${versions.pulumi}-nodejs-v${versions.pulumiLanguageNodejs}`,
    kubernetesProvider: `pulumi-resource-kubernetes-v${versions.pulumiKubernetes.release}`,
    tekton: `tekton-pipeline-v${versions.tekton.pipeline}-triggers-v${versions.tekton.triggers}`,
  };
  return path.join(root, name[component]);
}

const FILES: Readonly<Record<Component, readonly string[]>> = {
  etcd: ["etcd"],
  kubernetes: ["kube-apiserver", "kubectl"],
  pulumi: ["pulumi", "pulumi-language-nodejs"],
  kubernetesProvider: ["pulumi-resource-kubernetes"],
  tekton: ["tekton-controller", "tekton-eventlistenersink", "tekton-interceptors"],
};

function inDir(component: Component, dir: string): Record<string, string> | undefined {
  const files: Record<string, string> = {};
  for (const file of FILES[component]) {
    const full = path.join(dir, file);
    if (!isExecutable(full)) return undefined;
    files[file] = full;
  }
  return files;
}

/** A component the user already has, or undefined. */
function fromUser(
  component: Component,
  versions: ToolchainVersions,
  env: NodeJS.ProcessEnv,
): Located | undefined {
  const assets = env.KUBEBUILDER_ASSETS;
  if ((component === "etcd" || component === "kubernetes") && assets) {
    const files = inDir(component, assets);
    if (files !== undefined) return { files, source: `KUBEBUILDER_ASSETS (${assets})` };
  }
  if (component === "pulumi") {
    // The official CLI ships its language host beside it.
    const pulumi = onPath("pulumi", env);
    if (pulumi !== undefined && output(pulumi, ["version"]) === `v${versions.pulumi}`) {
      const files = inDir(component, path.dirname(pulumi));
      if (files !== undefined) return { files, source: `PATH (${pulumi})` };
    }
  }
  if (component === "kubernetesProvider") {
    const home = env.PULUMI_HOME || path.join(os.homedir(), ".pulumi");
    const dir = path.join(
      home,
      "plugins",
      `resource-kubernetes-v${versions.pulumiKubernetes.release}`,
    );
    const files = inDir(component, dir);
    if (files !== undefined) return { files, source: `Pulumi plugin cache (${dir})` };
  }
  return undefined;
}

/** Components found without building, and the ones that would have to be built. */
export function locate(
  env: NodeJS.ProcessEnv = process.env,
  components: readonly Component[] = CORE_COMPONENTS,
): {
  readonly found: Partial<Record<Component, Located>>;
  readonly missing: Component[];
} {
  const versions = readVersions();
  const root = cacheRoot(env);
  const found: Partial<Record<Component, Located>> = {};
  const missing: Component[] = [];
  for (const component of components) {
    const user = fromUser(component, versions, env);
    const cached = inDir(component, componentDir(component, versions, root));
    if (user !== undefined) found[component] = user;
    else if (cached !== undefined) found[component] = { files: cached, source: "cache" };
    else missing.push(component);
  }
  return { found, missing };
}

/** The Go command, or undefined when there is none. */
export function goVersion(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const go = onPath("go", env);
  return go === undefined ? undefined : output(go, ["version"]);
}

/** `[major, minor, patch]` of a `go version` line, or undefined. */
export function parseGoVersion(line: string): [number, number, number] | undefined {
  const match = /\bgo(\d+)\.(\d+)(?:\.(\d+))?/.exec(line);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}

function atLeast(have: readonly number[], need: readonly number[]): boolean {
  for (let i = 0; i < need.length; i++) {
    if (have[i] !== need[i]) return have[i] > need[i];
  }
  return true;
}

/**
 * Why `components` cannot be had on this machine, or undefined when they can (all found, or a
 * Go new enough to build what is missing).
 */
export function toolchainProblem(
  env: NodeJS.ProcessEnv = process.env,
  components: readonly Component[] = CORE_COMPONENTS,
): string | undefined {
  const { missing } = locate(env, components);
  if (missing.length === 0) return undefined;
  const need = missing.map((c) => MIN_GO[c]).reduce((a, b) => (atLeast(a, b) ? a : b));
  const needText = need[2] === 0 ? `${need[0]}.${need[1]}` : need.join(".");
  const go = goVersion(env);
  const have = go === undefined ? undefined : parseGoVersion(go);
  if (have !== undefined && atLeast(have, need)) return undefined;
  const alternative = missing.includes("tekton")
    ? ""
    : ", or point KUBEBUILDER_ASSETS at envtest's binaries and put the Pulumi " +
      `CLI v${readVersions().pulumi} on PATH`;
  return (
    `the real tier needs ${missing.join(", ")}, which are not in ${cacheRoot(env)} and cannot ` +
    `be built ${go === undefined ? "without Go" : `with ${go}`}. Install Go ${needText} or ` +
    "newer (with access to a Go module proxy) and run `npm run toolchain`" +
    alternative
  );
}

/** Free bytes on the filesystem holding `dir` (or its nearest existing parent). */
export function freeBytes(dir: string): number {
  let at = dir;
  while (!fs.existsSync(at)) at = path.dirname(at);
  const stats = fs.statfsSync(at);
  return stats.bavail * stats.bsize;
}

function goEnv(name: string): string {
  return execFileSync("go", ["env", name], { encoding: "utf8" }).trim();
}

function run(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): void {
  const result = spawnSync(cmd, args, {
    cwd: options.cwd,
    env: { ...process.env, GOFLAGS: "-buildvcs=false", GOTOOLCHAIN: "local", ...options.env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} (in ${options.cwd}) failed with ${result.status}`);
  }
}

function goBuild(module: string, pkg: string, ldflags: string[], out: string): void {
  run(
    "go",
    ["build", "-trimpath", "-ldflags", ["-s", "-w", ...ldflags].join(" "), "-o", out, pkg],
    { cwd: path.join(TOOLCHAIN_DIR, "go", module) },
  );
}

/** Builds `component` into its cache folder; the folder appears only once every file is built. */
function build(component: Component, versions: ToolchainVersions, root: string): void {
  const target = componentDir(component, versions, root);
  const staging = `${target}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const out = (file: string): string => path.join(staging, file);
  const pulumiVersion = (v: string): string =>
    `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}`;
  switch (component) {
    case "etcd":
      // etcd's version is a constant of its api module: nothing to stamp.
      goBuild("etcd", "go.etcd.io/etcd/server/v3", [], out("etcd"));
      break;
    case "kubernetes": {
      // Clients read the server's version from these; kubectl prints its own from client-go's.
      const [major, minor] = versions.kubernetes.split(".");
      const stamp = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap(
        (pkg) => [
          `-X ${pkg}.gitVersion=v${versions.kubernetes}`,
          `-X ${pkg}.gitMajor=${major}`,
          `-X ${pkg}.gitMinor=${minor}`,
          `-X ${pkg}.gitTreeState=clean`,
        ],
      );
      goBuild("kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver", stamp, out("kube-apiserver"));
      goBuild("kubernetes", "k8s.io/kubernetes/cmd/kubectl", stamp, out("kubectl"));
      break;
    }
    case "pulumi":
      goBuild(
        "pulumi",
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        [pulumiVersion(versions.pulumi)],
        out("pulumi"),
      );
      goBuild(
        "pulumi-language-nodejs",
        "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs",
        [pulumiVersion(versions.pulumiLanguageNodejs)],
        out("pulumi-language-nodejs"),
      );
      break;
    case "kubernetesProvider":
      buildKubernetesProvider(versions, out("pulumi-resource-kubernetes"));
      break;
    case "tekton":
      // One module for the three, so they share one dependency graph (and one cel-go).
      goBuild(
        "tekton",
        "github.com/tektoncd/pipeline/cmd/controller",
        [],
        out("tekton-controller"),
      );
      goBuild(
        "tekton",
        "github.com/tektoncd/triggers/cmd/eventlistenersink",
        [],
        out("tekton-eventlistenersink"),
      );
      goBuild(
        "tekton",
        "github.com/tektoncd/triggers/cmd/interceptors",
        [],
        out("tekton-interceptors"),
      );
      break;
  }
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(staging, target);
}

/**
 * The provider's main package embeds schema-embed.json and terraform-mapping-embed.json, which
 * its release process generates and the module zip lacks, and its go.mod replaces sdk/v4 with
 * a sibling folder that is not in the zip either. So: download the module through the wrapper
 * (go.sum checks its hash), copy it, drop that replace (sdk/v4 then comes from the proxy at the
 * version the provider requires), generate the two files as `go generate` would, and build.
 */
function buildKubernetesProvider(versions: ToolchainVersions, out: string): void {
  const module = "github.com/pulumi/pulumi-kubernetes/provider/v4";
  const wrapper = path.join(TOOLCHAIN_DIR, "go", "pulumi-kubernetes");
  const downloaded = JSON.parse(
    execFileSync(
      "go",
      ["mod", "download", "-json", `${module}@${versions.pulumiKubernetes.module}`],
      {
        cwd: wrapper,
        encoding: "utf8",
        env: { ...process.env, GOFLAGS: "-mod=readonly", GOTOOLCHAIN: "local" },
      },
    ),
  ) as { Dir: string };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-resource-kubernetes-"));
  try {
    fs.cpSync(downloaded.Dir, work, { recursive: true });
    execFileSync("chmod", ["-R", "u+w", work]);
    const goMod = path.join(work, "go.mod");
    const replace = /^replace github\.com\/pulumi\/pulumi-kubernetes\/sdk\/v4 => \.\.\/sdk\n/m;
    const text = fs.readFileSync(goMod, "utf8");
    if (!replace.test(text)) throw new Error(`${module}: go.mod no longer has the sdk/v4 replace`);
    fs.writeFileSync(goMod, text.replace(replace, ""));
    const cmd = path.join(work, "cmd", "pulumi-resource-kubernetes");
    const env = {
      VERSION: `v${versions.pulumiKubernetes.release}`,
      GOFLAGS: "-mod=mod -buildvcs=false",
    };
    run("go", ["run", "./generate.go"], { cwd: cmd, env });
    run(
      "go",
      [
        "build",
        "-trimpath",
        "-ldflags",
        `-s -w -X ${module}/pkg/version.Version=v${versions.pulumiKubernetes.release}`,
        "-o",
        out,
        "./cmd/pulumi-resource-kubernetes",
      ],
      { cwd: work, env },
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Finds or builds every component; `log` hears what is used and what is built. */
export function ensureToolchain(
  log: (line: string) => void = () => undefined,
  env: NodeJS.ProcessEnv = process.env,
  components: readonly Component[] = CORE_COMPONENTS,
): Toolchain {
  const versions = readVersions();
  const root = cacheRoot(env);
  const { missing } = locate(env, components);
  if (missing.length > 0) {
    const problem = toolchainProblem(env, components);
    if (problem !== undefined) throw new Error(problem);
    const go = goVersion(env) ?? "go";
    const needed = missing.reduce((sum, c) => sum + BUILD_GIGABYTES[c], 0) * 1e9;
    const places = [root, goEnv("GOMODCACHE"), goEnv("GOCACHE")];
    const free = Math.min(...places.map(freeBytes));
    if (free < needed) {
      throw new Error(
        `building ${missing.join(", ")} needs about ${(needed / 1e9).toFixed(0)} GB free ` +
          `(${places.join(", ")}); only ${(free / 1e9).toFixed(1)} GB are. Free some space, or ` +
          "set CANARY_TOOLCHAIN_CACHE, GOMODCACHE and GOCACHE to a larger disk",
      );
    }
    log(`${go}; ${(free / 1e9).toFixed(1)} GB free; building ${missing.join(", ")} into ${root}`);
    for (const component of missing) {
      const started = Date.now();
      build(component, versions, root);
      log(`built ${component} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  }
  const { found, missing: still } = locate(env, components);
  if (still.length > 0) throw new Error(`still missing after the build: ${still.join(", ")}`);
  const file = (component: Component, name: string): string => {
    const located = found[component];
    if (located === undefined) throw new Error(`${component} not found`);
    return located.files[name];
  };
  const sources = Object.fromEntries(
    components.map((c) => [c, found[c]?.source ?? "?"]),
  ) as Partial<Record<Component, string>>;
  for (const component of components) log(`${component}: ${sources[component]}`);
  return {
    etcd: file("etcd", "etcd"),
    kubeApiserver: file("kubernetes", "kube-apiserver"),
    kubectl: file("kubernetes", "kubectl"),
    pulumi: file("pulumi", "pulumi"),
    languageHost: file("pulumi", "pulumi-language-nodejs"),
    kubernetesProvider: file("kubernetesProvider", "pulumi-resource-kubernetes"),
    ...(components.includes("tekton")
      ? {
          tekton: {
            controller: file("tekton", "tekton-controller"),
            eventListenerSink: file("tekton", "tekton-eventlistenersink"),
            interceptors: file("tekton", "tekton-interceptors"),
          },
        }
      : {}),
    sources,
    versions,
  };
}
