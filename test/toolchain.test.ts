// The real tier's toolchain, without building anything: the pins agree everywhere, and binaries
// are found where the user already has them before anything would be built.
import { strict as assert } from "assert";
import { PLATFORM_DEFAULT_VERSIONS } from "../components/platform/platformManifests";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { upstreamObjects } from "../toolchain/controlPlane";
import {
  cacheRoot,
  componentDir,
  COMPONENTS,
  CORE_COMPONENTS,
  parseGoVersion,
  locate,
  readVersions,
  TOOLCHAIN_DIR,
  toolchainProblem,
} from "../toolchain/toolchain";
import { DEFAULT_CRDS_DIR } from "../conformance/stackConformance";
import { skipOrFailInCi } from "./support/skip";

const ROOT = path.resolve(__dirname, "..");
const versions = readVersions();

/** `module version` pairs of a go.mod's require and replace lines. */
function goModVersions(module: string): Map<string, string> {
  const text = fs.readFileSync(path.join(TOOLCHAIN_DIR, "go", module, "go.mod"), "utf8");
  const found = new Map<string, string>();
  for (const match of text.matchAll(/^\s*(?:require\s+)?(\S+) (v[\w.+-]+)(?: \/\/ indirect)?$/gm)) {
    found.set(match[1], match[2]);
  }
  for (const match of text.matchAll(/^\s*(\S+) => (\S+) (v[\w.+-]+)$/gm)) {
    found.set(`${match[1]} =>`, match[3]);
  }
  return found;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "canary-toolchain-"));
}

function executable(dir: string, name: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), "#!/bin/sh\n", { mode: 0o755 });
}

describe("toolchain pins", () => {
  it("package.json's SDKs are the releases the binaries are built from", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    assert.equal(pkg.dependencies["@pulumi/pulumi"], versions.pulumi);
    assert.equal(pkg.dependencies["@pulumi/kubernetes"], versions.pulumiKubernetes.release);
    // npm's `pulumi` wrapper would download a CLI of its own version: none equals a buildable one.
    assert.equal(pkg.devDependencies.pulumi, undefined);
    assert.equal(pkg.dependencies["@pulumi/random"], undefined);
  });

  it("every wrapper module requires exactly the pinned versions", () => {
    const k8s = goModVersions("kubernetes");
    assert.equal(k8s.get("k8s.io/kubernetes"), `v${versions.kubernetes}`);
    const staging = [...k8s.entries()].filter(([key]) => key.endsWith(" =>"));
    assert.ok(staging.length >= 30, `${staging.length} staging modules replaced`);
    for (const [module, version] of staging) {
      assert.equal(version, `v0.${versions.kubernetes.split(".").slice(1).join(".")}`, module);
    }
    const etcd = goModVersions("etcd");
    for (const module of ["server/v3", "api/v3", "client/pkg/v3", "client/v3", "pkg/v3"]) {
      assert.equal(etcd.get(`go.etcd.io/etcd/${module}`), `v${versions.etcd}`, module);
    }
    const pulumi = goModVersions("pulumi");
    assert.equal(pulumi.get("github.com/pulumi/pulumi/pkg/v3"), `v${versions.pulumi}`);
    assert.equal(pulumi.get("github.com/pulumi/pulumi/sdk/v3"), `v${versions.pulumi}`);
    const host = goModVersions("pulumi-language-nodejs");
    assert.equal(host.get("github.com/pulumi/pulumi/sdk/v3"), `v${versions.pulumiLanguageNodejs}`);
    const provider = goModVersions("pulumi-kubernetes");
    assert.equal(
      provider.get("github.com/pulumi/pulumi-kubernetes/provider/v4"),
      versions.pulumiKubernetes.module,
    );
    const tekton = goModVersions("tekton");
    assert.equal(tekton.get("github.com/tektoncd/pipeline"), `v${versions.tekton.pipeline}`);
    assert.equal(tekton.get("github.com/tektoncd/triggers"), `v${versions.tekton.triggers}`);
    // The real tier runs the Tekton the platform installs.
    assert.equal(`v${versions.tekton.pipeline}`, PLATFORM_DEFAULT_VERSIONS.tektonPipeline);
    assert.equal(`v${versions.tekton.triggers}`, PLATFORM_DEFAULT_VERSIONS.tektonTriggers);
    for (const module of [
      "kubernetes",
      "etcd",
      "pulumi",
      "pulumi-language-nodejs",
      "pulumi-kubernetes",
      "tekton",
    ]) {
      assert.ok(
        fs.existsSync(path.join(TOOLCHAIN_DIR, "go", module, "go.sum")),
        `${module}/go.sum`,
      );
    }
  });
});

describe("finding the binaries", () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
  const fresh = (): string => {
    const dir = tempDir();
    dirs.push(dir);
    return dir;
  };

  it("keeps its cache outside the repository, one folder per binary and version", () => {
    assert.equal(cacheRoot({ HOME: "/home/me" }), "/home/me/.cache/canary-release/toolchain");
    assert.ok(!cacheRoot().startsWith(ROOT), cacheRoot());
    assert.equal(cacheRoot({ XDG_CACHE_HOME: "/x" }), "/x/canary-release/toolchain");
    assert.equal(cacheRoot({ CANARY_TOOLCHAIN_CACHE: "/y" }), "/y");
    assert.equal(
      componentDir("pulumi", versions, "/c"),
      `/c/pulumi-v${versions.pulumi}-nodejs-v${versions.pulumiLanguageNodejs}`,
    );
  });

  it("uses what the cache holds and builds only what is missing", () => {
    const cache = fresh();
    executable(componentDir("etcd", versions, cache), "etcd");
    const found = locate({ PATH: "", CANARY_TOOLCHAIN_CACHE: cache, PULUMI_HOME: fresh() });
    assert.equal(found.found.etcd?.source, "cache");
    assert.deepEqual(
      found.missing,
      CORE_COMPONENTS.filter((c) => c !== "etcd"),
    );
  });

  it("uses envtest's KUBEBUILDER_ASSETS and the provider in the Pulumi plugin cache", () => {
    const assets = fresh();
    for (const name of ["etcd", "kube-apiserver", "kubectl"]) executable(assets, name);
    const home = fresh();
    executable(
      path.join(home, "plugins", `resource-kubernetes-v${versions.pulumiKubernetes.release}`),
      "pulumi-resource-kubernetes",
    );
    const found = locate({
      PATH: "",
      KUBEBUILDER_ASSETS: assets,
      PULUMI_HOME: home,
      CANARY_TOOLCHAIN_CACHE: fresh(),
    });
    assert.match(found.found.etcd?.source ?? "", /KUBEBUILDER_ASSETS/);
    assert.match(found.found.kubernetes?.source ?? "", /KUBEBUILDER_ASSETS/);
    assert.match(found.found.kubernetesProvider?.source ?? "", /plugin cache/);
    assert.deepEqual(found.missing, ["pulumi"]);
  });

  it("uses a pulumi on PATH only at the pinned version", () => {
    const bin = fresh();
    const pulumi = (version: string) =>
      fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho v${version}\n`, { mode: 0o755 });
    executable(bin, "pulumi-language-nodejs");
    const env = { PATH: bin, CANARY_TOOLCHAIN_CACHE: fresh(), PULUMI_HOME: fresh() };
    pulumi(versions.pulumi);
    assert.match(locate(env).found.pulumi?.source ?? "", /^PATH/);
    fs.rmSync(path.join(bin, "pulumi-language-nodejs"));
    assert.ok(locate(env).missing.includes("pulumi"), "a CLI without its language host");
    executable(bin, "pulumi-language-nodejs");
    pulumi("3.100.0");
    assert.ok(locate(env).missing.includes("pulumi"));
  });

  it("without Go or the binaries, says what is missing and how to get it", () => {
    const problem = toolchainProblem({
      PATH: "",
      CANARY_TOOLCHAIN_CACHE: fresh(),
      PULUMI_HOME: fresh(),
    });
    assert.match(problem ?? "", /needs etcd, kubernetes, pulumi, kubernetesProvider,/);
    assert.match(problem ?? "", /without Go\. Install Go 1\.25 or newer/);
    assert.match(problem ?? "", /npm run toolchain/);
    assert.match(problem ?? "", /KUBEBUILDER_ASSETS/);
  });

  it("asks for the Go that Tekton's modules need, and no envtest alternative for Tekton", () => {
    const bin = fresh();
    const go = (version: string) =>
      fs.writeFileSync(
        path.join(bin, "go"),
        `#!/bin/sh\necho go version ${version} linux/amd64\n`,
        {
          mode: 0o755,
        },
      );
    const env = { PATH: bin, CANARY_TOOLCHAIN_CACHE: fresh(), PULUMI_HOME: fresh() };
    go("go1.26.3");
    assert.equal(toolchainProblem(env), undefined, "Go 1.26.3 builds the core");
    const problem = toolchainProblem(env, COMPONENTS) ?? "";
    assert.match(problem, /with go version go1\.26\.3 linux\/amd64\. Install Go 1\.26\.4 or newer/);
    assert.doesNotMatch(problem, /KUBEBUILDER_ASSETS/);
    go("go1.27rc1");
    assert.equal(toolchainProblem(env, COMPONENTS), undefined);
    assert.deepEqual(parseGoVersion("go version go1.26.8 linux/amd64"), [1, 26, 8]);
    assert.deepEqual(parseGoVersion("go version go1.27 linux/amd64"), [1, 27, 0]);
  });
});

describe("the control plane's CRDs", () => {
  it("installs every CRD of the CRD directory and the ClusterRoles the stack binds, nothing else", function () {
    if (!fs.existsSync(DEFAULT_CRDS_DIR)) {
      skipOrFailInCi(this, `no CRD directory at ${DEFAULT_CRDS_DIR} (../shared/crds)`);
    }
    const objects = upstreamObjects(DEFAULT_CRDS_DIR);
    const kinds = new Set(objects.map((o) => o.kind));
    assert.deepEqual([...kinds].sort(), ["ClusterRole", "CustomResourceDefinition"]);
    const names = objects.map((o) => (o.metadata as { name: string }).name);
    for (const crd of [
      "routes.serving.knative.dev",
      "revisions.serving.knative.dev",
      "apiserversources.sources.knative.dev",
      "pipelines.tekton.dev",
      "eventlisteners.triggers.tekton.dev",
    ]) {
      assert.ok(names.includes(crd), crd);
    }
    assert.throws(() => upstreamObjects("/nonexistent"), /CRD directory \/nonexistent not found/);
  });
});
