// What a real cluster would make of the rendered stacks: each test joins two halves that are
// tested on their own elsewhere, the way the upstream controller joins them. The stack as the
// program registers it (under mocks) -> a GitHub push through the emulated Triggers
// EventListener -> the PipelineRun resolved into TaskRuns by Tekton's rules -> the step
// programs run with exactly that environment; the Route and its tag Services through Knative's
// visibility rule; the platform's CRDs through the ConfigFile's transforms; the webhook's
// dependencies as the engine orders them; the Ingress through ingress-nginx's body limit.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  everyRevisionPassed,
  loadStackConfig,
  mockUid,
  ProgramRun,
  RecordedResource,
  runProgram,
  STAND_IN_SECRETS,
  stackFiles,
  withStandInSecrets,
} from "../conformance/programRunner";
import { PIPELINE_TASK_NAMES } from "../components/build/buildPipelineManifests";
import { PIPELINE_RESULTS } from "../common/pipelineContract";
import {
  GITHUB_MAX_PAYLOAD_BYTES,
  NGINX_BODY_SIZE_ANNOTATION,
} from "../components/trigger/webhookEntry";
import { named, ofType, only, withChanges } from "./support/resources";
import { PROD_CANARY_IN_PROGRESS, prodStack } from "./support/prodStack";
import {
  claimsDeletedOnCompletion,
  resolvePipelineRun,
  ResolvedTaskRun,
} from "./support/tektonResolver";
import { githubDelivery, processDelivery } from "./support/triggersEmulator";
import { routeVisibility, ServiceObject } from "./support/knativeVisibility";
import type { Manifest } from "../common/json";

const TRIGGER_TEMPLATE = "kubernetes:triggers.tekton.dev/v1beta1:TriggerTemplate";
const TRIGGER_BINDING = "kubernetes:triggers.tekton.dev/v1beta1:TriggerBinding";
const EVENT_LISTENER = "kubernetes:triggers.tekton.dev/v1beta1:EventListener";
const PIPELINE = "kubernetes:tekton.dev/v1:Pipeline";
const TASK = "kubernetes:tekton.dev/v1:Task";
const SECRET = "kubernetes:core/v1:Secret";
const SERVICE = "kubernetes:core/v1:Service";
const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
const ROUTE = "kubernetes:serving.knative.dev/v1:Route";
const WEBHOOK = "github:index/repositoryWebhook:RepositoryWebhook";

const SHA = "5d6e7f8a9b0c1d2e3f405162738495a6b7c8d9e0";
const DIGEST = `sha256:${"c".repeat(64)}`;

type Config = Record<string, string>;
interface Stack {
  readonly config: Config;
  readonly secretKeys: string[];
}

/** The committed dev stack with what a developer sets: the GitHub secrets, no registry login. */
function devStack(): Stack {
  const loaded = loadStackConfig(stackFiles().dev);
  const set = ["github:token", "canary-release:webhookSecret"];
  return {
    config: { ...loaded.config, ...Object.fromEntries(set.map((k) => [k, STAND_IN_SECRETS[k]])) },
    secretKeys: [...loaded.secretKeys, ...set],
  };
}
const STACKS: Readonly<Record<string, () => Stack>> = {
  dev: devStack,
  // Mid-canary, so that the Route has every tag: stable, candidate and latest.
  prod: () => prodStack(PROD_CANARY_IN_PROGRESS),
  // dev plus everything optional: registry credentials and the commit-status token.
  full: () => withStandInSecrets(loadStackConfig(stackFiles().dev)),
};

async function run(stack: Stack, changes: Record<string, string | undefined> = {}) {
  const config = withChanges(stack.config, changes);
  const result = await runProgram({
    config,
    secretKeys: stack.secretKeys.filter((key) => key in config),
    cluster: everyRevisionPassed,
    preview: false,
  });
  assert.equal(result.error, undefined, result.error?.message);
  return result;
}

const manifest = (resource: RecordedResource): Manifest => resource.inputs as unknown as Manifest;

/** Secrets of the run: name -> key -> value, as the pods would read them. */
function secrets(run: ProgramRun): Record<string, Record<string, string>> {
  return Object.fromEntries(
    ofType(run, SECRET).map((s) => {
      const meta = s.inputs.metadata as { name: string };
      return [meta.name, s.inputs.stringData as Record<string, string>];
    }),
  );
}

/** A push of SHA to the stack's branch, signed with its webhook secret: the PipelineRun it makes. */
function pipelineRunFor(run: ProgramRun, config: Config): Manifest {
  const github = JSON.parse(config["canary-release:github"]) as {
    owner: string;
    repository: string;
    branch?: string;
  };
  const eventListener = manifest(only(run, EVENT_LISTENER));
  const all = secrets(run);
  // The github interceptor's secretRef: which Secret the signature is checked against.
  const spec = eventListener.spec as {
    triggers: { interceptors: { params: { name: string; value: unknown }[] }[] }[];
  };
  const ref = spec.triggers
    .flatMap((t) => t.interceptors.flatMap((i) => i.params))
    .find((p) => p.name === "secretRef")?.value as
    { secretName: string; secretKey: string } | undefined;
  assert.ok(ref, "the EventListener checks signatures with a Secret");
  const webhookSecret = all[ref.secretName][ref.secretKey];
  const fullName = `${github.owner}/${github.repository}`;
  const payload = {
    ref: `refs/heads/${github.branch ?? "main"}`,
    before: "0".repeat(40),
    after: SHA,
    deleted: false,
    repository: { full_name: fullName, clone_url: `https://github.com/${fullName}.git` },
    head_commit: { id: SHA, timestamp: "2026-11-30T10:00:00+01:00" },
  };
  const outcome = processDelivery(
    {
      eventListener,
      bindings: ofType(run, TRIGGER_BINDING).map(manifest),
      template: manifest(only(run, TRIGGER_TEMPLATE)),
      secrets: all,
    },
    githubDelivery("push", payload, webhookSecret),
  );
  assert.ok(outcome.fired, outcome.fired ? "" : outcome.reason);
  assert.equal(outcome.resources.length, 1);
  return outcome.resources[0];
}

function taskRuns(run: ProgramRun, pipelineRun: Manifest, namespace: string) {
  return resolvePipelineRun(
    pipelineRun,
    manifest(only(run, PIPELINE)),
    ofType(run, TASK).map(manifest),
    {
      namespace,
      pipelineRunName: "hello-build-deploy-x7k2p",
      taskResults: { [PIPELINE_TASK_NAMES.buildImage]: { [PIPELINE_RESULTS.imageDigest]: DIGEST } },
    },
  );
}

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the build-image step as the TaskRun's pod would: its workspaces mounted where Tekton
 * mounts them (under a temporary root), a Secret-backed workspace holding the Secret's items,
 * and a stand-in buildah on PATH that records its arguments and REGISTRY_AUTH_FILE.
 */
function runBuildStep(
  taskRun: ResolvedTaskRun,
  allSecrets: Record<string, Record<string, string>>,
) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "canary-taskrun-"));
  tempDirs.push(root);
  const local = (p: string): string =>
    p.startsWith("/workspace/") || p.startsWith("/tekton/") ? path.join(root, p) : p;
  for (const [name, workspace] of Object.entries(taskRun.workspaces)) {
    if (!workspace.bound) continue;
    const dir = local(workspace.path);
    fs.mkdirSync(dir, { recursive: true });
    const volume = workspace.volume;
    if (volume?.kind === "secret") {
      const data = allSecrets[volume.secretName];
      assert.ok(data, `workspace ${name}: Secret ${volume.secretName} exists`);
      for (const item of volume.items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
        fs.writeFileSync(path.join(dir, item.path), data[item.key]);
      }
    }
  }
  const step = taskRun.steps[0];
  const source = local(taskRun.workspaces.source.path);
  const context = path.join(source, step.env.CONTEXT_DIR);
  fs.mkdirSync(context, { recursive: true });
  fs.writeFileSync(path.join(context, step.env.DOCKERFILE), "FROM scratch\n");
  fs.mkdirSync(path.join(root, "tekton", "results"), { recursive: true });
  const bin = path.join(root, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, "buildah"),
    [
      "#!/bin/sh",
      'for arg in "$@"; do echo "$arg"; done >>"$BUILDAH_LOG"',
      'echo "auth=${REGISTRY_AUTH_FILE:-}" >>"$BUILDAH_LOG"',
      'for arg in "$@"; do',
      `  case "$arg" in --digestfile=*) printf "%s\\n" "${DIGEST}" >"\${arg#--digestfile=}";; esac`,
      "done",
    ].join("\n"),
    { mode: 0o755 },
  );
  const env = Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, local(v)]));
  const log = path.join(root, "buildah.log");
  const result = spawnSync("sh", ["-c", step.script], {
    env: { ...env, PATH: `${bin}:${process.env.PATH ?? ""}`, BUILDAH_LOG: log },
    encoding: "utf8",
    timeout: 10_000,
  });
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    buildah: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "",
    root,
  };
}

describe("what a real cluster would make of the stacks", () => {
  describe("a push builds on every stack (Triggers -> Tekton -> build-image.sh)", () => {
    for (const name of Object.keys(STACKS)) {
      it(`${name}: the build step finds the credentials it was given, or pushes anonymously`, async () => {
        const stack = STACKS[name]();
        const result = await run(stack);
        const namespace = stack.config["canary-release:namespace"];
        const taskRunsOfPush = taskRuns(result, pipelineRunFor(result, stack.config), namespace);
        const build = taskRunsOfPush.find((t) => t.pipelineTask === PIPELINE_TASK_NAMES.buildImage);
        assert.ok(build, "the PipelineRun runs build-image");
        const outcome = runBuildStep(build, secrets(result));
        assert.equal(outcome.code, 0, outcome.stderr);
        const credentials = stack.config["canary-release:registryCredentials"];
        if (credentials === undefined) {
          assert.equal(build.workspaces.dockerconfig.bound, false);
          assert.match(outcome.stdout, /pushing anonymously/);
          assert.match(outcome.buildah, /^auth=$/m);
        } else {
          const authFile = path.join(outcome.root, "workspace", "dockerconfig", "config.json");
          assert.match(outcome.buildah, new RegExp(`^auth=${authFile}$`, "m"));
          assert.equal(fs.readFileSync(authFile, "utf8"), credentials);
        }
        // Every other TaskRun resolves too: no param or workspace Tekton would refuse.
        assert.deepEqual(
          taskRunsOfPush.map((t) => t.pipelineTask).sort(),
          (stack.config["canary-release:testerGithubToken"] !== undefined
            ? Object.values(PIPELINE_TASK_NAMES)
            : [
                PIPELINE_TASK_NAMES.fetchSource,
                PIPELINE_TASK_NAMES.buildImage,
                PIPELINE_TASK_NAMES.deployRevision,
              ]
          ).sort(),
        );
      });
    }
  });

  it("no volume outlives its PipelineRun under Tekton's default coschedule", async () => {
    for (const name of Object.keys(STACKS)) {
      const stack = STACKS[name]();
      const pipelineRun = pipelineRunFor(await run(stack), stack.config);
      assert.equal(claimsDeletedOnCompletion(pipelineRun, "workspaces"), true, name);
    }
  });

  it("two apps in one namespace render no object with the same name", async () => {
    const prod = STACKS.prod();
    const hello = await run(prod);
    const world = await run(prod, {
      "canary-release:app": "world",
      "canary-release:stableRevision": "world-1a2b3c4",
      "canary-release:candidateRevision": "world-5d6e7f8",
      "canary-release:github": JSON.stringify({
        owner: "acme",
        repository: "world",
        branch: "main",
      }),
      "canary-release:webhook": JSON.stringify({
        host: "world-hooks.example.com",
        ingressClassName: "nginx",
        clusterIssuer: "letsencrypt-prod",
      }),
      "canary-release:image": JSON.stringify({ repository: "registry.example.com/acme/world" }),
    });
    const objects = (r: ProgramRun): Map<string, string> =>
      new Map(
        r.resources
          .filter((x) => x.custom && x.readId === undefined && x.type.startsWith("kubernetes:"))
          .filter((x) => !x.type.startsWith("pulumi:providers:"))
          .map((x) => {
            const meta = x.inputs.metadata as { name?: string; namespace?: string } | undefined;
            return [`${x.type} ${meta?.namespace ?? "(cluster)"}/${meta?.name}`, x.name];
          }),
      );
    const ours = objects(hello);
    const theirs = objects(world);
    assert.ok(ours.size > 20, `hello registers its objects (${ours.size})`);
    assert.deepEqual(
      [...ours.keys()].filter((key) => theirs.has(key)),
      [],
      "objects both apps would write",
    );
  });

  it("registers the GitHub webhook only after everything a delivery passes through", async () => {
    const result = await run(STACKS.prod());
    const webhook = only(result, WEBHOOK);
    for (const { urn } of [
      named(result, INGRESS, "hello-github-webhook"),
      named(result, SECRET, "hello-github-webhook"),
      named(result, EVENT_LISTENER, "hello"),
    ]) {
      assert.ok(webhook.dependencies.includes(urn), `the webhook waits for ${urn}`);
    }
  });

  describe("tag URLs through Knative's visibility rule", () => {
    const visibilityOf = (result: ProgramRun) => {
      const route = only(result, ROUTE);
      const meta = route.inputs.metadata as { name: string; labels?: Record<string, string> };
      return routeVisibility(
        {
          metadata: { ...meta, uid: mockUid(ROUTE, route.name) },
          spec: route.inputs.spec as { traffic: { tag?: string }[] },
        },
        ofType(result, SERVICE).map((s) => s.inputs as unknown as ServiceObject),
      );
    };

    it("keeps candidate and latest inside the cluster; production and stable are public", async () => {
      const result = await run(STACKS.prod());
      assert.deepEqual(visibilityOf(result), {
        "": "ExternalIP",
        stable: "ExternalIP",
        candidate: "ClusterLocal",
        latest: "ClusterLocal",
      });
      assert.deepEqual(result.outputs.urls, {
        stable: "http://stable-hello.hello.apps.example.com",
        candidate: "http://candidate-hello.hello.svc.cluster.local",
        latest: "http://latest-hello.hello.svc.cluster.local",
      });
      for (const service of ofType(result, SERVICE)) {
        assert.ok(service.dependencies.includes(only(result, ROUTE).urn), "after the Route");
      }
    });

    it("dev: the latest tag stays inside; the production URL serves every push", async () => {
      assert.deepEqual(visibilityOf(await run(STACKS.dev())), {
        "": "ExternalIP",
        latest: "ClusterLocal",
      });
    });

    it("publicTagUrls publishes every tag and creates no Service", async () => {
      const result = await run(STACKS.prod(), { "canary-release:publicTagUrls": "true" });
      assert.deepEqual(ofType(result, SERVICE), []);
      assert.deepEqual(visibilityOf(result), {
        "": "ExternalIP",
        stable: "ExternalIP",
        candidate: "ExternalIP",
        latest: "ExternalIP",
      });
    });
  });

  it("the webhook Ingress takes GitHub's largest payloads through ingress-nginx", async () => {
    // ingress-nginx writes proxy-body-size into client_max_body_size, whose default is 1m;
    // nginx sizes are bytes, or k/m/g (KiB, MiB, GiB), case-insensitive.
    const nginxBytes = (size: string): number => {
      const match = /^(\d+)([kKmMgG]?)$/.exec(size);
      assert.ok(match, `${size} is an nginx size`);
      const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase()] ?? 0;
      return Number(match[1]) * unit;
    };
    for (const name of ["dev", "prod"]) {
      const ingress = only(await run(STACKS[name]()), INGRESS);
      const annotations = (ingress.inputs.metadata as { annotations?: Record<string, string> })
        .annotations;
      const size = annotations?.[NGINX_BODY_SIZE_ANNOTATION] ?? "1m";
      assert.ok(
        nginxBytes(size) >= GITHUB_MAX_PAYLOAD_BYTES,
        `${name}: ${size} lets a ${GITHUB_MAX_PAYLOAD_BYTES}-byte payload through`,
      );
    }
  });
});
