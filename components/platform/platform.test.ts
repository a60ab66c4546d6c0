import { strict as assert } from "assert";
import { tagHeaderRoutingEnabled } from "../../common/knativeFeatures";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import {
  everyRevisionPassed,
  loadStackConfig,
  PROJECT_ROOT,
  ProgramRun,
  RecordedResource,
  runProgram,
  stackFiles,
  withStandInSecrets,
} from "../../conformance/programRunner";
import { DEFAULT_CRDS_DIR } from "../../conformance/stackConformance";
import { skipOrFailInCi } from "../../test/support/skip";
import * as pulumi from "@pulumi/pulumi";
import {
  contourConfigChecksum,
  CUSTOM_RESOURCE_DEFINITION_TYPE,
  contourConfigFile,
  InstallStep,
  knativeObservabilityData,
  PLATFORM_CONSUMER_NEEDS,
  PLATFORM_DEFAULT_NODE_PORTS,
  PLATFORM_DEFAULT_VERSIONS,
  platformArgumentProblems,
  platformInstallPlan,
  PlatformRelease,
  PlatformVersions,
} from "./platformManifests";
import { PLATFORM_VERSION_FIELDS, platformVersionProblem } from "../../common/platformVersions";

const FIXTURE = path.join(__dirname, "..", "..", "test", "fixtures", "platformProgram.ts");
const CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile";
const CONFIG_MAP_PATCH = "kubernetes:core/v1:ConfigMapPatch";
const SERVICE_PATCH = "kubernetes:core/v1:ServicePatch";
const DEPLOYMENT_PATCH = "kubernetes:apps/v1:DeploymentPatch";

/**
 * The shared CRDs' README, whose table holds the release tags the project targets. Skipped with
 * a message when ../shared/crds is missing, failed instead in CI (as test/support/sharedCrds.ts
 * does for the CRDs themselves; the README is read from the default location, since
 * CANARY_CRDS_DIR may point at a cluster's CRDs, which come without it).
 */
function sharedCrdsReadme(context: Mocha.Context): string {
  const file = path.join(DEFAULT_CRDS_DIR, "README.md");
  if (!fs.existsSync(file)) {
    skipOrFailInCi(
      context,
      `${file} is missing: the release tags of ../shared/crds cannot be compared`,
    );
  }
  return fs.readFileSync(file, "utf8");
}

/** `directory -> tag` from the README's markdown table. */
function readmeTags(readme: string): Map<string, string> {
  const tags = new Map<string, string>();
  const rows = readme.split("\n").filter((line) => line.startsWith("|"));
  const header = rows[0]?.split("|").map((cell) => cell.trim());
  const dirColumn = header?.indexOf("directory") ?? -1;
  const tagColumn = header?.indexOf("tag") ?? -1;
  assert.ok(dirColumn > 0 && tagColumn > 0, "the README table has directory and tag columns");
  for (const row of rows.slice(2)) {
    const cells = row.split("|").map((cell) => cell.trim());
    tags.set(cells[dirColumn], cells[tagColumn]);
  }
  return tags;
}

const SHARED_CRDS_DIRECTORY: Partial<Record<keyof PlatformVersions, string>> = {
  knativeServing: "knative-serving",
  knativeEventing: "knative-eventing",
  tektonPipeline: "tekton-pipeline",
  tektonTriggers: "tekton-triggers",
};

const DEFAULT_URLS: Record<PlatformRelease, string> = {
  servingCore:
    "https://github.com/knative/serving/releases/download/knative-v1.23.0/serving-core.yaml",
  kourier:
    "https://github.com/knative-extensions/net-kourier/releases/download/knative-v1.23.0/kourier.yaml",
  eventingCore:
    "https://github.com/knative/eventing/releases/download/knative-v1.22.2/eventing-core.yaml",
  tektonPipeline: "https://infra.tekton.dev/tekton-releases/pipeline/previous/v1.15.0/release.yaml",
  tektonTriggers: "https://infra.tekton.dev/tekton-releases/triggers/previous/v0.37.0/release.yaml",
  tektonInterceptors:
    "https://infra.tekton.dev/tekton-releases/triggers/previous/v0.37.0/interceptors.yaml",
  ingressController:
    "https://raw.githubusercontent.com/projectcontour/contour/v1.33.7/examples/render/contour.yaml",
};

describe("platform versions and install plan", () => {
  it("defaults to the release tags of ../shared/crds, the CRDs the stack is validated against", function () {
    const tags = readmeTags(sharedCrdsReadme(this));
    for (const [field, directory] of Object.entries(SHARED_CRDS_DIRECTORY)) {
      const tag = tags.get(directory);
      assert.ok(tag !== undefined, `../shared/crds/README.md lists ${directory}`);
      assert.equal(PLATFORM_DEFAULT_VERSIONS[field as keyof PlatformVersions], tag, field);
    }
  });

  it("takes Kourier from Serving's release train", () => {
    assert.equal(PLATFORM_DEFAULT_VERSIONS.kourier, PLATFORM_DEFAULT_VERSIONS.knativeServing);
  });

  it("installs from these pinned release assets by default", () => {
    const plan = platformInstallPlan(PLATFORM_DEFAULT_VERSIONS);
    assert.deepEqual(
      Object.fromEntries(plan.map((step) => [step.release, step.url])),
      DEFAULT_URLS,
    );
  });

  it("pins every URL: https, the release tag in the path, no moving name", () => {
    const versions: PlatformVersions = {
      knativeServing: "knative-v9.8.7",
      knativeEventing: "knative-v9.8.6",
      kourier: "knative-v9.8.5",
      tektonPipeline: "v9.8.4",
      tektonTriggers: "v9.8.3",
      ingressController: "v9.8.2",
    };
    for (const step of platformInstallPlan(versions)) {
      const url = new URL(step.url);
      assert.equal(url.protocol, "https:", step.url);
      assert.ok(
        url.pathname.split("/").includes(versions[step.versionField]),
        `${step.url} names ${versions[step.versionField]}`,
      );
      for (const moving of ["latest", "main", "master", "nightly", "head", "HEAD"]) {
        assert.ok(!url.pathname.split("/").includes(moving), `${step.url} has ${moving}`);
      }
    }
  });

  it("plans every release after the releases it needs", () => {
    const plan = platformInstallPlan(PLATFORM_DEFAULT_VERSIONS);
    const needs = (release: PlatformRelease): readonly PlatformRelease[] =>
      plan.find((step) => step.release === release)?.after ?? [];
    assert.deepEqual(needs("servingCore"), []);
    assert.deepEqual(needs("kourier"), ["servingCore"]);
    assert.deepEqual(needs("eventingCore"), []);
    assert.deepEqual(needs("tektonTriggers"), ["tektonPipeline"]);
    assert.deepEqual(needs("tektonInterceptors"), ["tektonTriggers"]);
    const seen = new Set<PlatformRelease>();
    for (const step of plan) {
      for (const earlier of step.after)
        assert.ok(seen.has(earlier), `${earlier} before ${step.release}`);
      seen.add(step.release);
    }
  });

  it("skips Pulumi's readiness wait only for the releases with a LoadBalancer Service", () => {
    const skipped = platformInstallPlan(PLATFORM_DEFAULT_VERSIONS)
      .filter((step: InstallStep) => step.skipAwait)
      .map((step) => step.release);
    assert.deepEqual(skipped, ["kourier", "ingressController"]);
  });

  it("accepts the default versions", () => {
    for (const field of PLATFORM_VERSION_FIELDS) {
      assert.equal(platformVersionProblem(field, PLATFORM_DEFAULT_VERSIONS[field]), undefined);
    }
  });

  it("refuses moving names and partial versions, naming the project and the expected form", () => {
    const refused: [keyof PlatformVersions, string, RegExp][] = [
      ["knativeServing", "latest", /Knative Serving.*knative-vX\.Y\.Z/],
      ["knativeServing", "main", /Knative Serving.*knative-vX\.Y\.Z/],
      ["knativeServing", "1.23", /knative-vX\.Y\.Z \(e\.g\. knative-v1\.23\.0\)/],
      ["knativeServing", "v1.23.0", /knative-vX\.Y\.Z/],
      ["knativeEventing", "knative-v1.22", /Knative Eventing/],
      ["kourier", "", /Kourier.*knative-vX\.Y\.Z/],
      ["tektonPipeline", "latest", /Tekton Pipelines.*vX\.Y\.Z \(e\.g\. v1\.15\.0\)/],
      ["tektonPipeline", "1.15.0", /Tekton Pipelines/],
      ["tektonTriggers", "release-v0.37.x", /Tekton Triggers/],
      ["ingressController", "release-1.33", /Contour.*vX\.Y\.Z/],
      ["ingressController", "v1.33.7 ", /Contour/],
    ];
    for (const [field, value, message] of refused) {
      assert.match(
        platformVersionProblem(field, value) ?? "accepted",
        message,
        `${field}=${value}`,
      );
    }
  });

  it("checks its own arguments: the node ports and the Ingress status address", () => {
    const good = {
      versions: PLATFORM_DEFAULT_VERSIONS,
      domain: "127.0.0.1.sslip.io",
      kourierNodePort: 31080,
      ingressNodePort: 31081,
      ingressStatusAddress: "127.0.0.1",
    };
    assert.deepEqual(platformArgumentProblems(good), []);
    assert.deepEqual(platformArgumentProblems({ ...good, ingressStatusAddress: "localhost" }), []);
    const bad: [Partial<typeof good>, RegExp][] = [
      [
        { kourierNodePort: 80 },
        /^kourierNodePort = 80: must be a whole number from 30000 to 32767/,
      ],
      [{ ingressNodePort: 32768 }, /^ingressNodePort = 32768/],
      [{ ingressNodePort: 31080.5 }, /^ingressNodePort = 31080.5/],
      [{ ingressNodePort: 31080 }, /both 31080: they must differ/],
      [{ ingressStatusAddress: "300.0.0.1" }, /^ingressStatusAddress = "300.0.0.1"/],
    ];
    for (const [change, message] of bad) {
      const problems = platformArgumentProblems({ ...good, ...change });
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(problems[0], message);
    }
  });

  it("restarts Contour when, and only when, its configuration changes", () => {
    const config = contourConfigFile("127.0.0.1");
    assert.match(config, /^ingress-status-address: 127\.0\.0\.1$/m);
    assert.equal(
      contourConfigChecksum(config),
      contourConfigChecksum(contourConfigFile("127.0.0.1")),
    );
    assert.notEqual(contourConfigChecksum(config), contourConfigChecksum(contourConfigFile("a.b")));
  });

  it("makes each component wait for what it creates objects of", () => {
    assert.deepEqual(PLATFORM_CONSUMER_NEEDS, {
      canaryRoute: ["serving"],
      buildPipeline: ["tekton", "serving"],
      githubTrigger: ["triggers", "ingress"],
      revisionTester: ["serving", "eventing"],
    });
  });
});

describe("Platform under Pulumi mocks", () => {
  let run: ProgramRun;

  before(async () => {
    run = await runProgram({ config: {}, program: FIXTURE });
  });

  const resource = (type: string, name: string): RecordedResource => {
    assert.equal(run.error, undefined, `the program failed: ${run.error?.message}`);
    const found = run.resources.filter((r) => r.type === type && r.name === name);
    assert.equal(found.length, 1, `expected one ${type} ${name}, got ${found.length}`);
    return found[0];
  };
  const release = (name: string): RecordedResource => resource(CONFIG_FILE, `platform-${name}`);
  /** Names of the resources `r` waits for, from the URNs the engine receives. */
  const waitsFor = (r: RecordedResource): string[] =>
    r.dependencies.map((urn) => urn.slice(urn.lastIndexOf("::") + 2)).sort();

  it("applies each release manifest by its pinned URL, as a child of the Platform", () => {
    const files = run.resources.filter((r) => r.type === CONFIG_FILE);
    assert.deepEqual(files.map((r) => r.inputs.file).sort(), Object.values(DEFAULT_URLS).sort());
    for (const file of files) {
      assert.match(file.urn, /::canary:platform:Platform\$kubernetes:yaml\/v2:ConfigFile::/);
    }
    assert.equal(release("kourier").inputs.skipAwait, true);
    assert.equal(release("ingress-controller").inputs.skipAwait, true);
    assert.equal(release("serving-core").inputs.skipAwait, undefined);
  });

  it("gives every CRD one owner and keeps it when its release or the Platform is deleted", async () => {
    // Knative's *-crds.yaml files repeat the CRDs of its *-core.yaml files (upstream fact,
    // knative/serving config/core/300-resources and config/post-install): applying both made
    // two owners, and removing either one deleted the CRDs with every Route and Revision.
    const files = run.resources.filter((r) => r.type === CONFIG_FILE);
    assert.deepEqual(
      files.filter((r) => /-crds\.yaml$/.test(String(r.inputs.file))).map((r) => r.inputs.file),
      [],
    );
    // What the engine would run on each object the provider registers for the file.
    const child = (type: string, name: string): pulumi.ResourceTransformArgs => ({
      type,
      name,
      custom: true,
      props: { metadata: { name } },
      opts: { parent: undefined },
    });
    for (const file of files) {
      assert.ok(file.transforms.length > 0, `${file.name} has the CRD transform`);
      const apply = async (args: pulumi.ResourceTransformArgs) => {
        let result: pulumi.ResourceTransformResult | undefined;
        for (const transform of file.transforms) result = (await transform(args)) ?? result;
        return result;
      };
      const crd = await apply(child(CUSTOM_RESOURCE_DEFINITION_TYPE, "routes.serving.knative.dev"));
      assert.equal(crd?.opts.retainOnDelete, true, `${file.name} keeps its CRDs`);
      assert.deepEqual(crd?.props, { metadata: { name: "routes.serving.knative.dev" } });
      const deployment = await apply(child("kubernetes:apps/v1:Deployment", "controller"));
      assert.equal(deployment, undefined, `${file.name} leaves other objects as they are`);
    }
  });

  it("orders the releases: Serving before Kourier; Pipelines, Triggers, interceptors", () => {
    assert.deepEqual(waitsFor(release("serving-core")), []);
    assert.deepEqual(waitsFor(release("kourier")), ["platform-serving-core"]);
    assert.deepEqual(waitsFor(release("eventing-core")), []);
    assert.deepEqual(waitsFor(release("tekton-triggers")), ["platform-tekton-pipeline"]);
    assert.deepEqual(waitsFor(release("tekton-interceptors")), ["platform-tekton-triggers"]);
  });

  it("points Knative at Kourier and the domain once Serving's config webhook and Kourier exist", () => {
    const network = resource(CONFIG_MAP_PATCH, "platform-config-network");
    assert.deepEqual(network.inputs.data, {
      "ingress-class": "kourier.ingress.networking.knative.dev",
    });
    assert.deepEqual(network.inputs.metadata, {
      name: "config-network",
      namespace: "knative-serving",
      annotations: { "canary-release.dev/amends-release": "knative-v1.23.0" },
    });
    assert.deepEqual(waitsFor(network), ["platform-kourier", "platform-serving-core"]);

    const domain = resource(CONFIG_MAP_PATCH, "platform-config-domain");
    assert.deepEqual(domain.inputs.data, { "127.0.0.1.sslip.io": "" });
    assert.equal((domain.inputs.metadata as { name: string }).name, "config-domain");
    assert.deepEqual(waitsFor(domain), ["platform-kourier", "platform-serving-core"]);
  });

  it("turns on the queue-proxy's request metrics for Prometheus once Serving's config webhook exists", () => {
    const observability = resource(CONFIG_MAP_PATCH, "platform-config-observability");
    assert.deepEqual(observability.inputs.data, { "request-metrics-protocol": "prometheus" });
    assert.deepEqual(observability.inputs.data, knativeObservabilityData());
    assert.deepEqual(observability.inputs.metadata, {
      name: "config-observability",
      namespace: "knative-serving",
      annotations: { "canary-release.dev/amends-release": "knative-v1.23.0" },
    });
    assert.deepEqual(waitsFor(observability), ["platform-serving-core"]);
  });

  it("turns Kourier's and Envoy's LoadBalancer Services into NodePort Services on fixed ports", () => {
    const kourier = resource(SERVICE_PATCH, "platform-kourier-nodeport");
    assert.deepEqual(kourier.inputs.spec, {
      type: "NodePort",
      ports: [{ port: 80, protocol: "TCP", nodePort: 31080 }],
    });
    assert.deepEqual(kourier.inputs.metadata, {
      namespace: "kourier-system",
      name: "kourier",
      annotations: {
        "pulumi.com/patchForce": "true",
        "canary-release.dev/amends-release": "knative-v1.23.0",
      },
    });
    assert.deepEqual(waitsFor(kourier), ["platform-kourier"]);

    const envoy = resource(SERVICE_PATCH, "platform-envoy-nodeport");
    assert.deepEqual(envoy.inputs.spec, {
      type: "NodePort",
      ports: [{ port: 80, protocol: "TCP", nodePort: 31081 }],
    });
    assert.deepEqual(
      { ...(envoy.inputs.metadata as object), annotations: undefined },
      { namespace: "projectcontour", name: "envoy", annotations: undefined },
    );
    assert.deepEqual(waitsFor(envoy), ["platform-ingress-controller"]);
  });

  it("makes Contour report an Ingress status address, and restarts it to read it", () => {
    const config = resource(CONFIG_MAP_PATCH, "platform-contour-config");
    const file = contourConfigFile("127.0.0.1");
    assert.deepEqual(config.inputs.data, { "contour.yaml": file });
    assert.deepEqual(waitsFor(config), ["platform-ingress-controller"]);
    const restart = resource(DEPLOYMENT_PATCH, "platform-contour-restart");
    assert.deepEqual(restart.inputs.spec, {
      template: {
        metadata: {
          annotations: {
            "canary-release.dev/contour-config-checksum": contourConfigChecksum(file),
          },
        },
      },
    });
    assert.deepEqual(waitsFor(restart), ["platform-contour-config"]);
  });

  it("makes each consumer wait for the CRDs, webhooks and controllers it needs, and no more", () => {
    // config-observability among them: no revision may start before its queue-proxy would
    // export request metrics.
    const serving = [
      "platform-config-domain",
      "platform-config-network",
      "platform-config-observability",
      "platform-kourier",
      "platform-kourier-nodeport",
      "platform-serving-core",
    ];
    const expected: Record<string, string[]> = {
      "consumer-canaryRoute": serving,
      "consumer-buildPipeline": [...serving, "platform-tekton-pipeline"],
      "consumer-githubTrigger": [
        "platform-contour-config",
        "platform-contour-restart",
        "platform-envoy-nodeport",
        "platform-ingress-controller",
        "platform-tekton-interceptors",
        "platform-tekton-triggers",
      ],
      "consumer-revisionTester": [...serving, "platform-eventing-core"],
    };
    for (const [name, names] of Object.entries(expected)) {
      const consumer = run.resources.find((r) => r.name === name);
      assert.ok(consumer !== undefined, name);
      assert.deepEqual(waitsFor(consumer), [...names].sort(), name);
    }
  });

  it("expands dependsOn the whole Platform to every release and patch", () => {
    const consumer = run.resources.find((r) => r.name === "consumer-whole-platform");
    assert.ok(consumer !== undefined);
    const children = run.resources
      .filter((r) => r.urn.includes("::canary:platform:Platform$"))
      .map((r) => r.name)
      .sort();
    assert.equal(children.length, 14);
    assert.deepEqual(waitsFor(consumer), children);
  });

  it("exports the Ingress class and the node ports the kind cluster maps", () => {
    assert.deepEqual(run.outputs, {
      ingressClassName: "contour",
      kourierPort: 31080,
      ingressPort: 31081,
    });
  });

  it("uses the node ports it is given", async () => {
    const custom = await runProgram({
      config: { "fixture:kourierNodePort": "30080", "fixture:ingressNodePort": "30081" },
      program: FIXTURE,
    });
    assert.equal(custom.error, undefined, custom.error?.message);
    const spec = (name: string): unknown =>
      custom.resources.find((r) => r.type === SERVICE_PATCH && r.name === name)?.inputs.spec;
    assert.deepEqual(spec("platform-kourier-nodeport"), {
      type: "NodePort",
      ports: [{ port: 80, protocol: "TCP", nodePort: 30080 }],
    });
    assert.deepEqual(spec("platform-envoy-nodeport"), {
      type: "NodePort",
      ports: [{ port: 80, protocol: "TCP", nodePort: 30081 }],
    });
  });

  it("turns on routing by the Knative-Serving-Tag header only when asked (platform.tagHeaderRouting)", async () => {
    assert.equal(
      run.resources.find((r) => r.name === "platform-config-features"),
      undefined,
      "Knative's default stays: no routing by header",
    );
    const asked = await runProgram({
      config: { "fixture:tagHeaderRouting": "true" },
      program: FIXTURE,
    });
    assert.equal(asked.error, undefined, asked.error?.message);
    const features = asked.resources.find(
      (r) => r.type === CONFIG_MAP_PATCH && r.name === "platform-config-features",
    );
    assert.ok(features !== undefined);
    assert.deepEqual(features.inputs.data, { "tag-header-based-routing": "Enabled" });
    assert.deepEqual(features.inputs.metadata, {
      name: "config-features",
      namespace: "knative-serving",
      annotations: { "canary-release.dev/amends-release": "knative-v1.23.0" },
    });
    assert.deepEqual(waitsFor(features), ["platform-serving-core"]);
    // What the canary command reads back is what the Platform writes.
    assert.equal(tagHeaderRoutingEnabled(features.inputs.data as Record<string, string>), true);
  });

  // Bad versions and domains never reach the Platform: config.ts judges them before anything
  // is registered (test/config.test.ts, the bad-config corpus).
});

describe("kind cluster for the dev stack", () => {
  const kindDir = path.join(PROJECT_ROOT, "examples", "kind");

  interface PortMapping {
    containerPort: number;
    hostPort: number;
    listenAddress?: string;
  }
  interface KindCluster {
    kind: string;
    apiVersion: string;
    name: string;
    containerdConfigPatches?: string[];
    nodes: { role: string; extraPortMappings?: PortMapping[] }[];
  }
  const cluster = parseYaml(
    fs.readFileSync(path.join(kindDir, "cluster.yaml"), "utf8"),
  ) as KindCluster;
  const devStack = parseYaml(
    fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.dev.yaml"), "utf8"),
  ) as {
    config: Record<string, unknown>;
  };

  it("is a kind Cluster whose context is the dev stack's", () => {
    assert.equal(cluster.kind, "Cluster");
    assert.equal(cluster.apiVersion, "kind.x-k8s.io/v1alpha4");
    assert.equal(`kind-${cluster.name}`, "kind-canary");
    assert.equal(devStack.config["kubernetes:context"], `kind-${cluster.name}`);
  });

  it("maps the host's port 80 to Kourier's and 8080 to Contour's default node port", () => {
    const mappings = cluster.nodes.flatMap((node) => node.extraPortMappings ?? []);
    const byHostPort = new Map(mappings.map((m) => [m.hostPort, m.containerPort]));
    assert.equal(byHostPort.get(80), PLATFORM_DEFAULT_NODE_PORTS.kourierHttp);
    assert.equal(byHostPort.get(8080), PLATFORM_DEFAULT_NODE_PORTS.ingressHttp);
    assert.equal(mappings.length, 2);
    // Knative URLs carry no port: the domain must resolve to where port 80 is mapped.
    assert.equal(devStack.config["canary-release:domain"], "127.0.0.1.sslip.io");
    for (const mapping of mappings) assert.equal(mapping.listenAddress, "127.0.0.1");
  });

  it("lets containerd read the registry hosts.toml files the script writes", () => {
    assert.match(
      (cluster.containerdConfigPatches ?? []).join("\n"),
      /config_path = "\/etc\/containerd\/certs\.d"/,
    );
  });

  it("creates the registry the dev stack pushes to, with a script that parses", () => {
    const script = path.join(kindDir, "create-cluster.sh");
    execFileSync("bash", ["-n", script]);
    const text = fs.readFileSync(script, "utf8");
    assert.match(text, /^set -euo pipefail$/m);
    assert.ok((fs.statSync(script).mode & 0o111) !== 0, "create-cluster.sh is executable");
    const image = devStack.config["canary-release:image"] as { repository: string };
    assert.match(image.repository, /^kind-registry:5000\//);
    assert.match(text, /registry_name="kind-registry"/);
    assert.match(text, /registry_port="5000"/);
  });
});

describe("platform in the stack files", () => {
  const COMPONENTS = {
    canaryRoute: "canary:knative:CanaryRoute",
    buildPipeline: "canary:tekton:BuildPipeline",
    githubTrigger: "canary:tekton:GitHubTrigger",
    revisionTester: "canary:knative:RevisionTester",
  } as const;

  async function runStack(stack: "dev" | "prod"): Promise<ProgramRun> {
    const loaded = withStandInSecrets(loadStackConfig(stackFiles()[stack]));
    const run = await runProgram({ ...loaded, stack, cluster: everyRevisionPassed });
    assert.equal(run.error, undefined, `the ${stack} stack failed: ${run.error?.message}`);
    return run;
  }

  it("dev installs the platform at the pinned default versions", async () => {
    const run = await runStack("dev");
    const files = run.resources
      .filter((r) => r.type === CONFIG_FILE)
      .map((r) => r.inputs.file)
      .sort();
    assert.deepEqual(
      files,
      platformInstallPlan(PLATFORM_DEFAULT_VERSIONS)
        .map((step) => step.url)
        .sort(),
    );
  });

  it("dev orders every component after the platform releases it needs", async () => {
    const run = await runStack("dev");
    const urnOf = (type: string, name: string): string => {
      const found = run.resources.find((r) => r.type === type && r.name === name);
      assert.ok(found, `${type} ${name} is registered`);
      return found.urn;
    };
    for (const [consumer, type] of Object.entries(COMPONENTS)) {
      const component = run.resources.find((r) => r.type === type);
      assert.ok(component, `${type} is registered in the dev stack`);
      const needs = PLATFORM_CONSUMER_NEEDS[consumer as keyof typeof COMPONENTS];
      // Every consumer waits for a release of each capability it needs.
      const releasesFor: Record<string, string[]> = {
        serving: ["platform-serving-core", "platform-kourier"],
        eventing: ["platform-eventing-core"],
        tekton: ["platform-tekton-pipeline"],
        triggers: ["platform-tekton-interceptors"],
        ingress: ["platform-ingress-controller"],
      };
      for (const capability of needs) {
        for (const release of releasesFor[capability]) {
          const urn = urnOf(CONFIG_FILE, release);
          assert.ok(
            component.dependencies.includes(urn),
            `${type} waits for ${release} (${capability})`,
          );
        }
      }
      if (needs.includes("serving")) {
        // Whatever makes or routes to revisions starts after their queue-proxies export metrics.
        assert.ok(
          component.dependencies.includes(urnOf(CONFIG_MAP_PATCH, "platform-config-observability")),
          `${type} waits for platform-config-observability`,
        );
      }
    }
  });

  it("prod installs nothing: platform.install is false", async () => {
    const run = await runStack("prod");
    assert.deepEqual(
      run.resources.filter((r) => r.type.startsWith("canary:platform") || r.type === CONFIG_FILE),
      [],
    );
    const route = run.resources.find((r) => r.type === COMPONENTS.canaryRoute);
    assert.deepEqual(route?.dependencies, []);
  });
});
