// The Tekton build pipeline: its manifests against the upstream CRDs and Tekton's admission
// rules, and its step programs run for real: fetch-source.sh against a local git repository,
// build-image.sh with a stand-in buildah, deploy-revision.js against a fake Kubernetes API and
// commit-status.js against a fake GitHub API, both on 127.0.0.1.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import {
  BUILDAH_SECURITY_CONTEXT,
  BuildPipelineSpec,
  DEFAULT_STEP_IMAGES,
  Manifest,
  PIPELINE_CODE,
  pipelineCodeManifest,
  pipelineCodeName,
  PIPELINE_PROGRAMS,
  PIPELINE_SCRIPTS,
  PIPELINE_SCRIPTS_DIR,
  PIPELINE_TASK_NAMES,
  pipelineManifest,
  STATUS_CONTEXT,
  taskManifests,
} from "./buildPipelineManifests";
import {
  GITHUB_TOKEN_SECRET_KEY,
  PIPELINE_PARAMS,
  PIPELINE_RESULTS,
  PIPELINE_WORKSPACES,
  pipelineResourceNames,
  REVISION_ANNOTATIONS,
} from "../../common/pipelineContract";
import {
  TektonRuleViolation,
  validatePipelineManifests,
  validateTaskManifest,
  variableReferences,
} from "../../conformance/tektonRules";
import { FUNCTIONS_DIR } from "../shared/inClusterCode";
import { KeyToPath, writeConfigMapVolume } from "../../test/support/configMapVolume";
import { sharedCatalog } from "../../test/support/sharedCrds";
import { isRecord } from "../../common/json";
import { configurationManifest, ConfigurationOptions } from "../../test/support/deployRevision";
import { runProcess } from "../../test/support/processes";

type Json = Record<string, unknown>;

const SPEC: BuildPipelineSpec = {
  app: "hello",
  namespace: "apps",
  imageRepository: "registry.example.com/team/hello",
  contextDir: ".",
  dockerfile: "Dockerfile",
  images: DEFAULT_STEP_IMAGES,
  appServiceAccountName: "hello",
};
const SPEC_WITH_STATUS: BuildPipelineSpec = { ...SPEC, statusTokenSecretName: "hello-github" };

const TASK_NAMES = pipelineResourceNames("hello").tasks;
/** The deploy order of the PipelineRun the deploy-revision tests run as (FakeKubernetes.RUN). */
const RUN_ORDER = "2024-05-01T10:00:00.000Z hello-build-deploy-x7k2p";

const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const DIGEST = `sha256:${"ab".repeat(32)}`;
const SAMPLE_CONFIGURATION: ConfigurationOptions = {
  app: "hello",
  namespace: "apps",
  revisionName: `hello-${SHA.slice(0, 7)}`,
  image: `registry.example.com/team/hello@${DIGEST}`,
  commit: SHA,
  repositoryUrl: "https://github.com/octo/hello.git",
  commitTimestamp: "2024-05-01T10:00:00+02:00",
  serviceAccountName: "hello",
};

// ---- small helpers ---------------------------------------------------------------------------

/** Field access for assertions on manifests: fails the test on a missing field. */
function at(value: unknown, ...keys: Array<string | number>): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof key === "number") {
      assert.ok(Array.isArray(current), `expected an array before [${key}]`);
      current = current[key];
    } else {
      assert.ok(isRecord(current), `expected an object before .${key}`);
      current = current[key];
    }
  }
  return current;
}

/** The array itself (mutations stick), each item checked to be an object. */
function records(value: unknown): Json[] {
  assert.ok(Array.isArray(value), "expected an array");
  assert.ok(value.every(isRecord), "expected an array of objects");
  return value as Json[];
}

const byName = (items: unknown, name: string): Json => {
  const found = records(items).find((item) => item.name === name);
  assert.ok(found, `no item named ${name}`);
  return found;
};

function taskNamed(tasks: Manifest[], name: string): Manifest {
  const found = tasks.find((task) => at(task, "metadata", "name") === name);
  assert.ok(found, `no Task ${name}`);
  return found;
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Exactly one violation, at `pathSuffix`, whose message contains `fragment`. */
function assertOnly(violations: TektonRuleViolation[], pathSuffix: string, fragment: string): void {
  assert.equal(violations.length, 1, `expected one violation, got ${JSON.stringify(violations)}`);
  assert.ok(
    violations[0].path.endsWith(pathSuffix),
    `path ${violations[0].path} should end with ${pathSuffix}`,
  );
  assert.ok(
    violations[0].message.includes(fragment),
    `message ${JSON.stringify(violations[0].message)} should contain ${JSON.stringify(fragment)}`,
  );
}

const run = runProcess;

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Recorded, res: http.ServerResponse) => void;

/** An HTTP server on 127.0.0.1 at a free port that records every request. */
class FakeServer {
  readonly requests: Recorded[] = [];
  private readonly server: http.Server;
  constructor(private handler: Handler) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const recorded: Recorded = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        this.requests.push(recorded);
        this.handler(recorded, res);
      });
    });
  }
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(text);
}

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `canary-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A Node step as its Pod runs it: the Task's script in a file, and the code ConfigMap written
 * where the Task mounts it (under `dir`), which CODE_DIR names, as a kubelet would mount it.
 */
function podStep(taskName: string, dir: string): { script: string; env: Record<string, string> } {
  const task = taskNamed(taskManifests(SPEC_WITH_STATUS), taskName);
  const step = records(at(task, "spec", "steps"))[0];
  const volume = records(at(task, "spec", "volumes"))[0];
  const codeDir = path.join(dir, "pod", String(records(step.volumeMounts)[0].mountPath));
  writeConfigMapVolume(
    pipelineCodeManifest(SPEC_WITH_STATUS).data,
    at(volume, "configMap", "items") as KeyToPath[],
    codeDir,
  );
  const script = path.join(dir, "pod", "script");
  fs.writeFileSync(script, String(step.script), { mode: 0o755 });
  const codeVariable = records(step.env).find((e) => e.name === "CODE_DIR");
  assert.equal(path.join(dir, "pod", String(codeVariable?.value)), codeDir);
  return { script, env: { CODE_DIR: codeDir } };
}

// ---- manifests -------------------------------------------------------------------------------

describe("build pipeline manifests", () => {
  it("are accepted by the upstream Tekton and Knative CRDs", function () {
    const catalog = sharedCatalog(this);
    const manifests = [
      ...taskManifests(SPEC_WITH_STATUS),
      pipelineManifest(SPEC_WITH_STATUS),
      pipelineManifest(SPEC),
      configurationManifest(SAMPLE_CONFIGURATION),
    ];
    for (const manifest of manifests) {
      assert.deepEqual(
        catalog.validate(manifest),
        [],
        `${manifest.kind} ${String(at(manifest, "metadata", "name"))}`,
      );
    }
  });

  it("pass Tekton's admission rules, with and without commit statuses", () => {
    for (const spec of [SPEC, SPEC_WITH_STATUS]) {
      assert.deepEqual(validatePipelineManifests(pipelineManifest(spec), taskManifests(spec)), []);
    }
  });

  it("are the four Tasks and the Pipeline of the contract", () => {
    const tasks = taskManifests(SPEC);
    assert.deepEqual(
      tasks.map((task) => [task.apiVersion, task.kind, at(task, "metadata", "name")]),
      Object.values(TASK_NAMES).map((name) => ["tekton.dev/v1", "Task", name]),
    );
    const pipeline = pipelineManifest(SPEC);
    assert.equal(pipeline.kind, "Pipeline");
    assert.equal(at(pipeline, "metadata", "name"), "hello-build-deploy");
    assert.equal(at(pipeline, "metadata", "namespace"), "apps");
  });

  it("embed the shell programs verbatim, run the Node ones from the code ConfigMap, params only through env", () => {
    const tasks = taskManifests(SPEC_WITH_STATUS);
    const shell: Record<string, string> = {
      [TASK_NAMES.fetchSource]: "fetch-source.sh",
      [TASK_NAMES.buildImage]: "build-image.sh",
    };
    const node: Record<string, string> = {
      [TASK_NAMES.deployRevision]: PIPELINE_PROGRAMS.deployRevision,
      [TASK_NAMES.commitStatus]: PIPELINE_PROGRAMS.commitStatus,
    };
    for (const [taskName, file] of Object.entries({ ...shell, ...node })) {
      const task = taskNamed(tasks, taskName);
      const step = records(at(task, "spec", "steps"))[0];
      const script = String(step.script);
      if (taskName in shell) {
        assert.equal(script, fs.readFileSync(path.join(PIPELINE_SCRIPTS_DIR, file), "utf8"));
      } else {
        // node on the program as mounted, its shared modules beside it.
        assert.match(script, new RegExp(`^#!/bin/sh\n(#.*\n)*exec node "\\$CODE_DIR/${file}"\n$`));
        assert.deepEqual(records(step.env).slice(-1), [{ name: "CODE_DIR", value: "/code" }]);
        assert.deepEqual(step.volumeMounts, [{ name: "code", mountPath: "/code", readOnly: true }]);
        assert.deepEqual(at(task, "spec", "volumes"), [
          {
            name: "code",
            configMap: { name: pipelineCodeName("hello"), items: PIPELINE_CODE.items },
          },
        ]);
      }
      // Tekton substitutes variables inside scripts: none may appear there.
      assert.deepEqual(variableReferences(script), [], `${file} mentions a Tekton variable`);
      for (const e of records(step.env)) {
        for (const ref of variableReferences(String(e.value ?? ""))) {
          assert.ok(
            ["params", "workspaces", "results", "context"].includes(ref.root),
            `${taskName} env ${String(e.name)}: ${ref.expression}`,
          );
        }
      }
    }
    assert.ok(PIPELINE_SCRIPTS.fetchSource.startsWith("#!/bin/sh\n"));
  });

  it("ship the Node programs and functions/shared/ in one ConfigMap named after their content", () => {
    const code = pipelineCodeManifest(SPEC);
    assert.equal(
      at(code, "metadata", "name"),
      `hello-pipeline-${PIPELINE_CODE.sha256.slice(0, 10)}`,
    );
    assert.equal(at(code, "metadata", "namespace"), "apps");
    assert.equal(code.immutable, true);
    assert.deepEqual(
      PIPELINE_CODE.items.map((item) => item.path),
      [
        "pipeline/commit-status.js",
        "pipeline/deploy-revision.js",
        ...fs
          .readdirSync(path.join(FUNCTIONS_DIR, "shared"))
          .filter((file) => file.endsWith(".js"))
          .map((file) => `shared/${file}`)
          .sort(),
      ],
    );
    for (const item of PIPELINE_CODE.items) {
      assert.equal(
        code.data[item.key],
        fs.readFileSync(path.join(FUNCTIONS_DIR, item.path), "utf8"),
      );
    }
  });

  it("declare the contract's params, workspaces and results, and order fetch, build, deploy", () => {
    const pipeline = pipelineManifest(SPEC_WITH_STATUS);
    const spec = at(pipeline, "spec");
    const params = records(at(spec, "params"));
    assert.deepEqual(
      params.map((p) => p.name),
      Object.values(PIPELINE_PARAMS),
    );
    for (const p of params) {
      assert.equal(p.type, "string");
      assert.ok(typeof p.description === "string" && p.description.length > 10, String(p.name));
    }
    assert.deepEqual(
      records(at(spec, "workspaces")).map((w) => [w.name, w.optional === true]),
      [
        [PIPELINE_WORKSPACES.source, false],
        [PIPELINE_WORKSPACES.dockerConfig, true],
      ],
    );
    assert.deepEqual(
      records(at(spec, "results")).map((r) => [r.name, r.value]),
      [
        [PIPELINE_RESULTS.imageDigest, "$(tasks.build-image.results.image-digest)"],
        [PIPELINE_RESULTS.revisionName, "$(tasks.deploy-revision.results.revision-name)"],
      ],
    );
    const tasks = records(at(spec, "tasks"));
    assert.deepEqual(
      tasks.map((t) => [t.name, t.runAfter ?? []]),
      [
        [PIPELINE_TASK_NAMES.reportPending, []],
        [PIPELINE_TASK_NAMES.fetchSource, []],
        [PIPELINE_TASK_NAMES.buildImage, [PIPELINE_TASK_NAMES.fetchSource]],
        [PIPELINE_TASK_NAMES.deployRevision, [PIPELINE_TASK_NAMES.buildImage]],
      ],
    );
    const pending = byName(tasks, PIPELINE_TASK_NAMES.reportPending);
    assert.equal(at(byName(pending.params, "state"), "value"), "pending");
    const deploy = byName(tasks, PIPELINE_TASK_NAMES.deployRevision);
    assert.equal(
      at(byName(deploy.params, "image-digest"), "value"),
      "$(tasks.build-image.results.image-digest)",
    );
    assert.equal(at(byName(deploy.params, "service-account-name"), "value"), "hello");
    assert.equal(at(byName(deploy.params, "app"), "value"), "hello");
    const build = byName(tasks, PIPELINE_TASK_NAMES.buildImage);
    assert.equal(
      at(byName(build.params, "image-repository"), "value"),
      "registry.example.com/team/hello",
    );
    const final = records(at(spec, "finally"));
    assert.deepEqual(
      final.map((t) => t.name),
      [PIPELINE_TASK_NAMES.reportResult],
    );
    assert.equal(at(byName(final[0].params, "state"), "value"), "$(tasks.status)");
  });

  it("have no status tasks without a status token Secret", () => {
    const spec = at(pipelineManifest(SPEC), "spec");
    assert.ok(isRecord(spec));
    assert.equal(spec.finally, undefined);
    assert.deepEqual(
      records(spec.tasks).map((t) => t.name),
      [
        PIPELINE_TASK_NAMES.fetchSource,
        PIPELINE_TASK_NAMES.buildImage,
        PIPELINE_TASK_NAMES.deployRevision,
      ],
    );
    const step = records(
      at(taskNamed(taskManifests(SPEC), TASK_NAMES.commitStatus), "spec", "steps"),
    )[0];
    assert.equal(
      records(step.env).find((e) => e.name === "GITHUB_TOKEN"),
      undefined,
    );
  });

  it("give the status step the token from an optional secretKeyRef, never a literal", () => {
    const tasks = taskManifests({
      ...SPEC_WITH_STATUS,
      githubApiUrl: "https://ghe.example.com/api/v3",
    });
    const step = records(at(taskNamed(tasks, TASK_NAMES.commitStatus), "spec", "steps"))[0];
    assert.deepEqual(byName(step.env, "GITHUB_TOKEN"), {
      name: "GITHUB_TOKEN",
      valueFrom: {
        secretKeyRef: { name: "hello-github", key: GITHUB_TOKEN_SECRET_KEY, optional: true },
      },
    });
    assert.equal(byName(step.env, "GITHUB_API_URL").value, "https://ghe.example.com/api/v3");
    assert.equal(byName(step.env, "STATUS_CONTEXT").value, STATUS_CONTEXT);
  });

  it("run buildah unprivileged: vfs, chroot isolation, SETFCAP only, no privilege escalation", () => {
    const build = taskNamed(taskManifests(SPEC), TASK_NAMES.buildImage);
    const step = records(at(build, "spec", "steps"))[0];
    assert.deepEqual(step.securityContext, {
      runAsUser: 0,
      allowPrivilegeEscalation: false,
      capabilities: { add: ["SETFCAP"] },
      seccompProfile: { type: "Unconfined" },
      appArmorProfile: { type: "Unconfined" },
    });
    assert.deepEqual(step.securityContext, BUILDAH_SECURITY_CONTEXT);
    assert.equal(byName(step.env, "STORAGE_DRIVER").value, "vfs");
    assert.equal(byName(step.env, "BUILDAH_ISOLATION").value, "chroot");
    assert.deepEqual(step.volumeMounts, [
      { name: "container-storage", mountPath: "/var/lib/containers" },
    ]);
    // The other steps are restricted-level or close to it.
    for (const name of [TASK_NAMES.deployRevision, TASK_NAMES.commitStatus]) {
      const other = records(at(taskNamed(taskManifests(SPEC), name), "spec", "steps"))[0];
      assert.deepEqual(at(other, "securityContext", "capabilities"), { drop: ["ALL"] });
      assert.equal(at(other, "securityContext", "runAsNonRoot"), true);
    }
  });

  it("pin every default step image to a version, never latest", () => {
    for (const image of Object.values(DEFAULT_STEP_IMAGES)) {
      assert.match(image, /:[\w][\w.-]*$|@sha256:[0-9a-f]{64}$/, image);
      assert.doesNotMatch(image, /:latest\b/, image);
    }
  });
});

describe("configurationManifest", () => {
  const script = require(path.join(PIPELINE_SCRIPTS_DIR, "deploy-revision.js")) as {
    REVISION_ANNOTATIONS: Record<string, string>;
    buildConfiguration: (input: ConfigurationOptions) => Manifest;
  };

  it("is the deploy script's own builder, with the contract's annotations", () => {
    assert.deepEqual(
      configurationManifest(SAMPLE_CONFIGURATION),
      script.buildConfiguration(SAMPLE_CONFIGURATION),
    );
    assert.deepEqual(script.REVISION_ANNOTATIONS, { ...REVISION_ANNOTATIONS });
  });

  it("names the revision, pins the image by digest and records the commit", () => {
    assert.deepEqual(configurationManifest(SAMPLE_CONFIGURATION), {
      apiVersion: "serving.knative.dev/v1",
      kind: "Configuration",
      metadata: {
        name: "hello",
        namespace: "apps",
        labels: {
          "app.kubernetes.io/name": "hello",
          "app.kubernetes.io/part-of": "canary-release",
        },
      },
      spec: {
        template: {
          metadata: {
            name: "hello-0a1b2c3",
            labels: {
              "app.kubernetes.io/name": "hello",
              "app.kubernetes.io/part-of": "canary-release",
            },
            annotations: {
              [REVISION_ANNOTATIONS.commit]: SHA,
              [REVISION_ANNOTATIONS.repository]: "https://github.com/octo/hello.git",
              // normalized to UTC, so that timestamps compare as instants
              [REVISION_ANNOTATIONS.commitTimestamp]: "2024-05-01T08:00:00.000Z",
            },
          },
          spec: {
            serviceAccountName: "hello",
            containers: [{ image: `registry.example.com/team/hello@${DIGEST}` }],
          },
        },
      },
    });
  });

  it("refuses a tag instead of a digest, a foreign revision name, a timestamp without offset", () => {
    const cases: Array<[Partial<ConfigurationOptions>, string]> = [
      [{ image: "registry.example.com/team/hello:1.0" }, "image"],
      [{ revisionName: "other-0a1b2c3" }, "revisionName"],
      [{ commitTimestamp: "2024-05-01 10:00" }, "commitTimestamp"],
      [{ commit: "0a1b2c3" }, "commit"],
      [{ app: "9hello" }, "app"],
    ];
    for (const [change, field] of cases) {
      assert.throws(
        () => configurationManifest({ ...SAMPLE_CONFIGURATION, ...change }),
        (error: Error) => error.message.startsWith(`${field} must`),
        field,
      );
    }
  });
});

// ---- Tekton rules ----------------------------------------------------------------------------

describe("tektonRules", () => {
  const tasks = (): Manifest[] => clone(taskManifests(SPEC_WITH_STATUS));
  const pipeline = (): Manifest => clone(pipelineManifest(SPEC_WITH_STATUS));
  const specOf = (manifest: Manifest): Json => {
    assert.ok(isRecord(manifest.spec));
    return manifest.spec;
  };
  const stepOf = (task: Manifest): Json => records(specOf(task).steps)[0];
  const pipelineTask = (p: Manifest, name: string): Json => byName(specOf(p).tasks, name);

  it("finds Tekton variables and skips shell command substitutions", () => {
    const refs = variableReferences(
      `a $(params.x) $(git rev-parse HEAD) $(params["a.b"]) $(params.arr[*]) $(tasks.t.results.r)`,
    );
    assert.deepEqual(
      refs.map((r) => [r.root, ...r.parts]),
      [
        ["params", "x"],
        ["params", "a.b"],
        ["params", "arr"],
        ["tasks", "t", "results", "r"],
      ],
    );
  });

  describe("Task", () => {
    const check = (mutate: (task: Manifest) => void, pathSuffix: string, fragment: string) => {
      const task = tasks()[2]; // deploy-revision: params, results, context
      mutate(task);
      assertOnly(validateTaskManifest(task), pathSuffix, fragment);
    };

    it("every $(params.X) is declared", () =>
      check(
        (t) => records(stepOf(t).env).push({ name: "X", value: "$(params.nope)" }),
        "spec.steps[0].env[13].value",
        'param "nope"',
      ));
    it("every $(results.X.path) is declared", () =>
      check(
        (t) => (stepOf(t).script = "echo > $(results.other.path)"),
        "spec.steps[0].script",
        'result "other"',
      ));
    it("every $(workspaces.X...) is declared", () =>
      check(
        (t) => records(stepOf(t).env).push({ name: "X", value: "$(workspaces.cache.path)" }),
        "env[13].value",
        'workspace "cache"',
      ));
    it("context variables exist", () =>
      check(
        (t) => records(stepOf(t).env).push({ name: "X", value: "$(context.taskRun.node)" }),
        "env[13].value",
        "not a Task context variable",
      ));
    it("param names are unique", () =>
      check(
        (t) => records(specOf(t).params).push({ name: "app", type: "string" }),
        "spec.params[10].name",
        'param "app" appears twice',
      ));
    it("a param default has the param's type", () =>
      check(
        (t) => (records(specOf(t).params)[8].default = ["600"]),
        "spec.params[8].default",
        "does not match default value's type",
      ));
    it("step names are unique", () =>
      check(
        (t) => records(specOf(t).steps).push({ ...stepOf(t), env: [], script: "true" }),
        "spec.steps[1].name",
        'step name "deploy" appears twice',
      ));
    it("a step has an image", () =>
      check((t) => delete stepOf(t).image, "spec.steps[0].image", "needs an image"));
    it("no volumeMount under /tekton/", () =>
      check(
        (t) => (stepOf(t).volumeMounts = [{ name: "x", mountPath: "/tekton/results" }]),
        "volumeMounts[0].mountPath",
        "cannot be mounted under /tekton/",
      ));
    it("a Task has steps", () =>
      check((t) => (specOf(t).steps = []), "spec.steps", "at least one step"));
  });

  describe("Pipeline", () => {
    const check = (
      mutate: (pipeline: Manifest, tasks: Manifest[]) => void,
      pathSuffix: string,
      fragment: string,
    ) => {
      const p = pipeline();
      const t = tasks();
      mutate(p, t);
      assertOnly(validatePipelineManifests(p, t), pathSuffix, fragment);
    };

    it("every $(params.X) in a pipeline task is declared by the Pipeline", () =>
      check(
        (p) => (records(pipelineTask(p, "fetch-source").params)[0].value = "$(params.url)"),
        "spec.tasks[1].params[0].value",
        'param "url", which the Pipeline does not declare',
      ));
    it("param names are unique", () =>
      check(
        (p) => records(specOf(p).params).push({ name: "revision", type: "string" }),
        "spec.params[5].name",
        'param "revision" appears twice',
      ));
    it("every workspace a pipeline task binds is declared by the Pipeline", () =>
      check(
        (p) => (records(pipelineTask(p, "fetch-source").workspaces)[0].workspace = "scratch"),
        "spec.tasks[1].workspaces[0]",
        'expects workspace with name "scratch" but none exists',
      ));
    it("a pipeline task passes every param its Task requires", () =>
      check(
        (p) => {
          const build = pipelineTask(p, "build-image");
          build.params = records(build.params).filter((x) => x.name !== "image-repository");
        },
        "spec.tasks[2].params",
        'missing param "image-repository"',
      ));
    it("a pipeline task passes no param its Task does not declare", () =>
      check(
        (p) => records(pipelineTask(p, "fetch-source").params).push({ name: "depth", value: "1" }),
        "spec.tasks[1].params[2].name",
        'declares no param "depth"',
      ));
    it("a pipeline task binds every non-optional workspace of its Task", () =>
      check(
        (p) => (pipelineTask(p, "fetch-source").workspaces = []),
        "spec.tasks[1].workspaces",
        'workspace "source" of Task "hello-fetch-source" is not optional',
      ));
    it("$(tasks.T.results.R) names an existing task", () =>
      check(
        (p) =>
          (byName(pipelineTask(p, "deploy-revision").params, "image-digest").value =
            "$(tasks.build.results.image-digest)"),
        "spec.tasks[3].params[6].value",
        'refers to task "build"',
      ));
    it("$(tasks.T.results.R) names a result the Task declares", () =>
      check(
        (p) =>
          (byName(pipelineTask(p, "deploy-revision").params, "image-digest").value =
            "$(tasks.build-image.results.digest)"),
        "spec.tasks[3].params[6].value",
        'result "digest"',
      ));
    it("pipeline task names are unique across tasks and finally", () =>
      check(
        (p) => (records(specOf(p).finally)[0].name = "fetch-source"),
        "spec.finally[0].name",
        'pipeline task "fetch-source" appears twice',
      ));
    it("finally tasks do not use results of finally tasks", () =>
      check(
        (p) => {
          const final = records(specOf(p).finally);
          final.push({ ...clone(final[0]), name: "second" });
          records(final[1].params)[3].value = "$(tasks.report-result.results.x)";
        },
        "spec.finally[1].params[3].value",
        "final task has task result reference from a final task report-result",
      ));
    it("$(tasks.status) only in finally", () =>
      check(
        (p) => (records(pipelineTask(p, "report-pending").params)[2].value = "$(tasks.status)"),
        "spec.tasks[0].params[2].value",
        "can not refer to execution status",
      ));
    it("runAfter names a task", () =>
      check(
        (p) => (pipelineTask(p, "build-image").runAfter = ["fetch"]),
        "spec.tasks[2].runAfter[0]",
        '"fetch", which is not a task',
      ));
    it("no runAfter in finally", () =>
      check(
        (p) => (records(specOf(p).finally)[0].runAfter = ["fetch-source"]),
        "spec.finally[0].runAfter",
        "no runAfter allowed under spec.finally",
      ));
    it("no dependency cycle", () =>
      check(
        (p) => (pipelineTask(p, "fetch-source").runAfter = ["deploy-revision"]),
        "spec.tasks",
        "cycle",
      ));
    it("pipeline results reference existing tasks", () =>
      check(
        (p) => (records(specOf(p).results)[1].value = "$(tasks.deploy.results.revision-name)"),
        "spec.results[1].value",
        "referencing a nonexistent task",
      ));
    it("taskRef names one of the Tasks", () =>
      check(
        (p) => ((pipelineTask(p, "fetch-source").taskRef as Json).name = "git-clone"),
        "spec.tasks[1].taskRef.name",
        'Task "git-clone" is not among the Tasks given',
      ));
    it("also runs the Task rules on every Task", () =>
      check(
        (_p, t) => records(stepOf(t[0]).env).push({ name: "X", value: "$(params.nope)" }),
        "Task/hello-fetch-source.spec.steps[0].env[4].value",
        'param "nope"',
      ));
  });
});

// ---- fetch-source.sh -------------------------------------------------------------------------

describe("fetch-source.sh (run with a real git)", () => {
  const script = path.join(PIPELINE_SCRIPTS_DIR, "fetch-source.sh");
  const gitEnv = (home: string): Record<string, string> => ({
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "test",
    GIT_AUTHOR_EMAIL: "test@example.com",
    GIT_COMMITTER_NAME: "test",
    GIT_COMMITTER_EMAIL: "test@example.com",
  });
  let home: string;
  let repo: string;
  let first: string;
  let second: string;

  before(() => {
    home = tempDir("git-home");
    repo = path.join(tempDir("git-repo"), "app");
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", repo, ...args], { env: { ...process.env, ...gitEnv(home) } })
        .toString()
        .trim();
    fs.mkdirSync(repo);
    git("init", "-q", "-b", "main");
    // Fetching a commit by SHA needs the server to allow wants of unadvertised objects. GitHub
    // allows it; a plain git server only with this setting (protocol v2 is lenient, v0 is not).
    git("config", "uploadpack.allowReachableSHA1InWant", "true");
    fs.writeFileSync(path.join(repo, "a.txt"), "first\n");
    git("add", ".");
    git("commit", "-q", "-m", "first");
    first = git("rev-parse", "HEAD");
    fs.writeFileSync(path.join(repo, "a.txt"), "second\n");
    fs.writeFileSync(path.join(repo, "b.txt"), "only in the second commit\n");
    git("add", ".");
    git("commit", "-q", "-m", "second");
    second = git("rev-parse", "HEAD");
  });

  for (const shell of ["bash", "sh"]) {
    it(`checks out exactly the requested commit, not the branch head (${shell})`, async () => {
      const workspace = tempDir("workspace");
      // A reused volume: whatever an earlier run left must go.
      fs.writeFileSync(path.join(workspace, "stale.txt"), "old");
      fs.writeFileSync(path.join(workspace, ".hidden"), "old");
      const result = await run(shell, [script], {
        ...gitEnv(home),
        REPO_URL: `file://${repo}`,
        REVISION: first,
        SOURCE_DIR: workspace,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(fs.readFileSync(path.join(workspace, "a.txt"), "utf8"), "first\n");
      assert.equal(fs.existsSync(path.join(workspace, "b.txt")), false);
      assert.equal(fs.existsSync(path.join(workspace, "stale.txt")), false);
      assert.equal(fs.existsSync(path.join(workspace, ".hidden")), false);
      const head = execFileSync("git", ["-C", workspace, "rev-parse", "HEAD"]).toString().trim();
      assert.equal(head, first);
      assert.notEqual(head, second);
      assert.match(result.stdout, new RegExp(`at ${first}`));
    });
  }

  it("fails clearly for a commit the repository does not have, without printing credentials", async () => {
    const missing = "f".repeat(40);
    const result = await run("bash", [script], {
      ...gitEnv(home),
      REPO_URL: `file://user:s3cret@${repo}`,
      REVISION: missing,
      SOURCE_DIR: tempDir("workspace"),
    });
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      new RegExp(`cannot fetch commit ${missing} from file://\\*\\*\\*@`),
    );
    assert.doesNotMatch(result.stdout + result.stderr, /s3cret/);
  });

  it("fetches nothing but https where the Task says GIT_ALLOW_PROTOCOL=https", async () => {
    const task = taskNamed(taskManifests(SPEC), TASK_NAMES.fetchSource);
    const step = records(at(task, "spec", "steps"))[0];
    assert.equal(byName(step.env, "GIT_ALLOW_PROTOCOL").value, "https");
    const result = await run("sh", [script], {
      ...gitEnv(home),
      GIT_ALLOW_PROTOCOL: "https",
      REPO_URL: `file://${repo}`,
      REVISION: first,
      SOURCE_DIR: tempDir("workspace"),
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /transport 'file' not allowed/);
  });

  it("refuses a revision that is not a full SHA, and a URL that looks like an option", async () => {
    const short = await run("bash", [script], {
      REPO_URL: `file://${repo}`,
      REVISION: first.slice(0, 7),
      SOURCE_DIR: tempDir("workspace"),
    });
    assert.notEqual(short.code, 0);
    assert.match(short.stderr, /REVISION must be a full 40-character lowercase hex commit SHA/);
    const option = await run("bash", [script], {
      REPO_URL: "--upload-pack=touch /tmp/pwned",
      REVISION: first,
      SOURCE_DIR: tempDir("workspace"),
    });
    assert.notEqual(option.code, 0);
    assert.match(option.stderr, /REPO_URL must be a URL/);
  });
});

// ---- build-image.sh --------------------------------------------------------------------------

describe("build-image.sh (with a stand-in buildah)", () => {
  const script = path.join(PIPELINE_SCRIPTS_DIR, "build-image.sh");
  const fakeDigest = `sha256:${"c".repeat(64)}`;
  let bin: string;

  before(() => {
    // Records each call (arguments one per line, then REGISTRY_AUTH_FILE) and, for push,
    // writes the digest where --digestfile says, as buildah does.
    bin = tempDir("bin");
    fs.writeFileSync(
      path.join(bin, "buildah"),
      [
        "#!/bin/sh",
        'for arg in "$@"; do echo "$arg"; done >>"$BUILDAH_LOG"',
        'echo "auth=${REGISTRY_AUTH_FILE:-}" >>"$BUILDAH_LOG"',
        'echo "--" >>"$BUILDAH_LOG"',
        'for arg in "$@"; do',
        '  case "$arg" in --digestfile=*) printf "%s\\n" "$FAKE_DIGEST" >"${arg#--digestfile=}";; esac',
        "done",
      ].join("\n"),
      { mode: 0o755 },
    );
  });

  function setup(dockerfile = "app/Containerfile"): {
    source: string;
    env: Record<string, string>;
  } {
    const source = tempDir("source");
    fs.mkdirSync(path.join(source, path.dirname(dockerfile)), { recursive: true });
    fs.writeFileSync(path.join(source, dockerfile), "FROM scratch\n");
    const work = tempDir("build");
    return {
      source,
      env: {
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        BUILDAH_LOG: path.join(work, "buildah.log"),
        FAKE_DIGEST: fakeDigest,
        IMAGE_REPOSITORY: "registry.example.com/team/hello",
        REVISION: SHA,
        SOURCE_DIR: source,
        CONTEXT_DIR: "app",
        DOCKERFILE: "Containerfile",
        DIGEST_FILE: path.join(work, "image-digest"),
        STORAGE_DRIVER: "vfs",
      },
    };
  }

  it("builds the context, pushes <repository>:<sha> and writes the bare digest as result", async () => {
    const { source, env } = setup();
    const dockerconfig = tempDir("dockerconfig");
    fs.writeFileSync(path.join(dockerconfig, "config.json"), '{"auths":{}}');
    const result = await run("sh", [script], {
      ...env,
      DOCKERCONFIG_BOUND: "true",
      DOCKERCONFIG_PATH: dockerconfig,
    });
    assert.equal(result.code, 0, result.stderr);
    const image = `registry.example.com/team/hello:${SHA}`;
    const calls = fs.readFileSync(env.BUILDAH_LOG, "utf8").split("--\n").filter(Boolean);
    const auth = `auth=${dockerconfig}/config.json`;
    assert.deepEqual(calls[0].trim().split("\n"), [
      "--storage-driver=vfs",
      "build",
      "--format=oci",
      `--file=${source}/app/Containerfile`,
      `--tag=${image}`,
      `${source}/app`,
      auth,
    ]);
    const push = calls[1].trim().split("\n");
    assert.deepEqual(push.slice(0, 3), ["--storage-driver=vfs", "push", "--tls-verify=true"]);
    assert.match(push[3], /^--digestfile=/);
    assert.deepEqual(push.slice(4), [image, `docker://${image}`, auth]);
    assert.equal(fs.readFileSync(env.DIGEST_FILE, "utf8"), fakeDigest);
    assert.match(
      result.stdout,
      new RegExp(`pushed ${image} as registry.example.com/team/hello@${fakeDigest}`),
    );
  });

  it("pushes without TLS verification only when TLS_VERIFY is false (insecureRegistry)", async () => {
    const { env } = setup();
    const insecure = await run("sh", [script], { ...env, TLS_VERIFY: "false" });
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.match(fs.readFileSync(env.BUILDAH_LOG, "utf8"), /^--tls-verify=false$/m);
    assert.match(insecure.stdout, /pushing without TLS verification/);
    const bad = await run("sh", [script], { ...env, TLS_VERIFY: "no" });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /TLS_VERIFY must be true or false, got 'no'/);
  });

  it("pushes anonymously when the dockerconfig workspace is not bound", async () => {
    const { env } = setup();
    const result = await run("sh", [script], { ...env, DOCKERCONFIG_BOUND: "false" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(fs.readFileSync(env.BUILDAH_LOG, "utf8"), /^auth=$/m);
  });

  it("fails before building when the Dockerfile, the context or the credentials are missing", async () => {
    const { env } = setup();
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ DOCKERFILE: "Dockerfile" }, /Dockerfile 'Dockerfile' not found in build context 'app'/],
      [{ CONTEXT_DIR: "../outside" }, /CONTEXT_DIR must not leave the repository/],
      [{ DOCKERFILE: "/etc/passwd" }, /DOCKERFILE must be a relative path/],
      [
        { DOCKERCONFIG_BOUND: "true", DOCKERCONFIG_PATH: tempDir("empty") },
        /holds neither config.json nor .dockerconfigjson/,
      ],
      [{ REVISION: "main" }, /REVISION must be a full 40-character/],
    ];
    for (const [change, message] of cases) {
      const result = await run("sh", [script], { ...env, ...change });
      assert.notEqual(result.code, 0, JSON.stringify(change));
      assert.match(result.stderr, message);
    }
    assert.equal(fs.existsSync(env.BUILDAH_LOG), false, "buildah must not have run");
  });
});

// ---- deploy-revision.js ----------------------------------------------------------------------

/** The slice of the Kubernetes API the deploy step uses, holding Knative objects in memory. */
class FakeKubernetes {
  configuration: Json | undefined;
  readonly revisions = new Map<string, Json>();
  /** Decides a Revision's Ready condition on each GET that finds it (count starts at 1). */
  readyAfter: (name: string, gets: number) => Json | undefined = () => undefined;
  conflictsToSend = 0;
  /** Stored by another run just before this run's create, which then gets 409 AlreadyExists. */
  createdConcurrently: Json | undefined;
  token = "token-1";
  private resourceVersion = 10;
  private readonly gets = new Map<string, number>();
  readonly server = new FakeServer((req, res) => this.handle(req, res));

  private static readonly BASE = "/apis/serving.knative.dev/v1/namespaces/apps";
  /** The PipelineRun every run of these tests is: deploy-revision reads its creation time. */
  static readonly RUN = "/apis/tekton.dev/v1/namespaces/apps/pipelineruns/hello-build-deploy-x7k2p";

  private handle(req: Recorded, res: http.ServerResponse): void {
    const base = FakeKubernetes.BASE;
    const notFound = (what: string) =>
      sendJson(res, 404, { kind: "Status", reason: "NotFound", message: `${what} not found` });
    if (req.method === "GET" && req.url === FakeKubernetes.RUN) {
      return sendJson(res, 200, {
        metadata: { name: "hello-build-deploy-x7k2p", creationTimestamp: "2024-05-01T10:00:00Z" },
      });
    }
    const revision = new RegExp(`^${base}/revisions/([a-z0-9-]+)$`).exec(req.url);
    if (req.method === "GET" && revision) {
      const name = revision[1];
      const stored = this.revisions.get(name);
      if (stored === undefined) return notFound(`revisions.serving.knative.dev "${name}"`);
      const count = (this.gets.get(name) ?? 0) + 1;
      this.gets.set(name, count);
      const ready = this.readyAfter(name, count);
      if (ready !== undefined) stored.status = { conditions: [{ type: "Ready", ...ready }] };
      return sendJson(res, 200, stored);
    }
    if (req.method === "GET" && req.url === `${base}/configurations/hello`) {
      return this.configuration === undefined
        ? notFound('configurations.serving.knative.dev "hello"')
        : sendJson(res, 200, this.configuration);
    }
    if (
      req.method === "POST" &&
      req.url === `${base}/configurations?fieldManager=canary-release-pipeline`
    ) {
      if (this.createdConcurrently !== undefined) {
        this.store(this.createdConcurrently);
        this.createdConcurrently = undefined;
        return sendJson(res, 409, {
          kind: "Status",
          reason: "AlreadyExists",
          message: 'configurations.serving.knative.dev "hello" already exists',
        });
      }
      const created = JSON.parse(req.body) as Json;
      this.store(created);
      return sendJson(res, 201, this.configuration);
    }
    if (
      req.method === "PATCH" &&
      req.url === `${base}/configurations/hello?fieldManager=canary-release-pipeline`
    ) {
      const patch = JSON.parse(req.body) as Json;
      const current = this.configuration;
      assert.ok(current !== undefined);
      if (
        this.conflictsToSend > 0 ||
        at(patch, "metadata", "resourceVersion") !== at(current, "metadata", "resourceVersion")
      ) {
        this.conflictsToSend = Math.max(0, this.conflictsToSend - 1);
        this.resourceVersion++;
        (current.metadata as Json).resourceVersion = String(this.resourceVersion);
        return sendJson(res, 409, {
          kind: "Status",
          reason: "Conflict",
          message: "the object has been modified",
        });
      }
      this.store({ ...current, spec: { template: at(patch, "spec", "template") } });
      return sendJson(res, 200, this.configuration);
    }
    sendJson(res, 400, {
      kind: "Status",
      reason: "BadRequest",
      message: `unexpected ${req.method} ${req.url}`,
    });
  }

  /** Stores the Configuration and, as Knative's controller would, creates its Revision. */
  store(configuration: Json): void {
    this.resourceVersion++;
    const metadata = {
      ...(configuration.metadata as Json),
      resourceVersion: String(this.resourceVersion),
    };
    this.configuration = { ...configuration, metadata };
    const template = at(configuration, "spec", "template");
    const name = String(at(template, "metadata", "name"));
    if (!this.revisions.has(name)) {
      this.revisions.set(name, {
        metadata: { name, annotations: at(template, "metadata", "annotations") },
        spec: at(template, "spec"),
        status: { conditions: [{ type: "Ready", status: "Unknown", reason: "Deploying" }] },
      });
    }
  }

  /** A Configuration already templating commit `commit` at `timestamp`, its Revision Ready. */
  deployed(commit: string, timestamp: string, deployOrder?: string): void {
    this.store(
      configurationManifest({
        ...SAMPLE_CONFIGURATION,
        revisionName: `hello-${commit.slice(0, 7)}`,
        commit,
        commitTimestamp: timestamp,
        ...(deployOrder !== undefined ? { deployOrder } : {}),
      }),
    );
    this.revisions.set(`hello-${commit.slice(0, 7)}`, {
      ...this.revisions.get(`hello-${commit.slice(0, 7)}`),
      status: { conditions: [{ type: "Ready", status: "True" }] },
    });
  }

  /** The requests, without the read of the PipelineRun (the first). */
  apiRequests(): Recorded[] {
    return this.server.requests.filter((r) => r.url !== FakeKubernetes.RUN);
  }

  /** The requests, as "METHOD path", without the read of the PipelineRun (the first). */
  calls(): string[] {
    return this.server.requests
      .filter((r) => r.url !== FakeKubernetes.RUN)
      .map((r) => `${r.method} ${r.url.replace(FakeKubernetes.BASE, "")}`);
  }
}

describe("deploy-revision.js (against a fake Kubernetes API)", () => {
  const script = path.join(PIPELINE_SCRIPTS_DIR, "deploy-revision.js");
  const OLD = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const NEW = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  let kube: FakeKubernetes;
  let apiUrl: string;
  let dir: string;

  beforeEach(async () => {
    kube = new FakeKubernetes();
    apiUrl = await kube.server.start();
    dir = tempDir("deploy");
    fs.writeFileSync(path.join(dir, "token"), `${kube.token}\n`);
  });
  afterEach(() => kube.server.stop());

  function deployEnv(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      APP: "hello",
      NAMESPACE: "apps",
      REVISION: SHA,
      SHORT_SHA: SHA.slice(0, 7),
      REPO_URL: SAMPLE_CONFIGURATION.repositoryUrl,
      COMMIT_TIMESTAMP: SAMPLE_CONFIGURATION.commitTimestamp,
      PIPELINE_RUN: "hello-build-deploy-x7k2p",
      IMAGE_REPOSITORY: "registry.example.com/team/hello",
      IMAGE_DIGEST: DIGEST,
      SERVICE_ACCOUNT_NAME: "hello",
      RESULT_PATH: path.join(dir, "revision-name"),
      TIMEOUT_SECONDS: "5",
      POLL_INTERVAL_MS: "20",
      KUBERNETES_API_URL: apiUrl,
      KUBERNETES_TOKEN_FILE: path.join(dir, "token"),
      ...overrides,
    };
  }
  const deploy = (overrides?: Record<string, string>) =>
    run(process.execPath, [script], deployEnv(overrides));
  const readyOnGet = (n: number) => (_name: string, gets: number) =>
    gets >= n ? { status: "True" } : undefined;

  it("creates the Configuration for a first commit and waits until its Revision is Ready", async () => {
    kube.readyAfter = (name, gets) => {
      // The token rotates while the step waits: the next requests must carry the new one.
      if (gets === 1) fs.writeFileSync(path.join(dir, "token"), "token-2\n");
      return readyOnGet(3)(name, gets);
    };
    const result = await deploy();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(kube.calls(), [
      "GET /revisions/hello-0a1b2c3",
      "GET /configurations/hello",
      "POST /configurations?fieldManager=canary-release-pipeline",
      "GET /revisions/hello-0a1b2c3",
      "GET /revisions/hello-0a1b2c3",
      "GET /revisions/hello-0a1b2c3",
    ]);
    const post = kube.apiRequests()[2];
    assert.equal(post.headers["content-type"], "application/json");
    assert.deepEqual(
      JSON.parse(post.body),
      configurationManifest({ ...SAMPLE_CONFIGURATION, deployOrder: RUN_ORDER }),
    );
    assert.deepEqual(
      kube.server.requests.map((r) => r.headers.authorization),
      [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
        "Bearer token-2",
      ],
    );
    assert.equal(fs.readFileSync(path.join(dir, "revision-name"), "utf8"), "hello-0a1b2c3");
    assert.match(result.stdout, /Revision hello-0a1b2c3 is Ready/);
  });

  it("re-points an existing Configuration with a merge patch conditioned on its resourceVersion", async () => {
    kube.deployed(OLD, "2024-04-30T10:00:00Z");
    kube.readyAfter = readyOnGet(1);
    const resourceVersion = at(kube.configuration, "metadata", "resourceVersion");
    const result = await deploy();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(kube.calls(), [
      "GET /revisions/hello-0a1b2c3",
      "GET /configurations/hello",
      "PATCH /configurations/hello?fieldManager=canary-release-pipeline",
      "GET /revisions/hello-0a1b2c3",
    ]);
    const patch = kube.apiRequests()[2];
    assert.equal(patch.headers["content-type"], "application/merge-patch+json");
    const expected = configurationManifest({ ...SAMPLE_CONFIGURATION, deployOrder: RUN_ORDER });
    assert.deepEqual(JSON.parse(patch.body), {
      metadata: {
        resourceVersion,
        labels: at(expected, "metadata", "labels"),
        annotations: { "canary-release.dev/deploy-order": RUN_ORDER },
      },
      spec: { template: at(expected, "spec", "template") },
    });
    assert.match(result.stdout, /now templates revision hello-0a1b2c3 \(was hello-1111111\)/);
  });

  it("reads again and decides again after a 409 Conflict", async () => {
    kube.deployed(OLD, "2024-04-30T10:00:00Z");
    kube.readyAfter = readyOnGet(1);
    kube.conflictsToSend = 1;
    const result = await deploy();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(kube.calls(), [
      "GET /revisions/hello-0a1b2c3",
      "GET /configurations/hello",
      "PATCH /configurations/hello?fieldManager=canary-release-pipeline",
      "GET /configurations/hello",
      "PATCH /configurations/hello?fieldManager=canary-release-pipeline",
      "GET /revisions/hello-0a1b2c3",
    ]);
  });

  it("decides again when another run created the Configuration first", async () => {
    kube.createdConcurrently = configurationManifest({
      ...SAMPLE_CONFIGURATION,
      revisionName: "hello-1111111",
      commit: OLD,
      commitTimestamp: "2024-04-30T10:00:00Z",
    });
    kube.readyAfter = (name) => (name === "hello-0a1b2c3" ? { status: "True" } : undefined);
    const result = await deploy();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(kube.calls(), [
      "GET /revisions/hello-0a1b2c3",
      "GET /configurations/hello",
      "POST /configurations?fieldManager=canary-release-pipeline",
      "GET /configurations/hello",
      "PATCH /configurations/hello?fieldManager=canary-release-pipeline",
      "GET /revisions/hello-0a1b2c3",
    ]);
    assert.equal(at(kube.configuration, "spec", "template", "metadata", "name"), "hello-0a1b2c3");
  });

  it("fails with the Revision's own reason and message when it is Ready=False", async () => {
    kube.readyAfter = (_name, gets) =>
      gets >= 2
        ? {
            status: "False",
            reason: "ContainerMissing",
            message: "Unable to fetch image: 403 Forbidden",
          }
        : undefined;
    const result = await deploy();
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /Revision hello-0a1b2c3 failed: ContainerMissing: Unable to fetch image: 403 Forbidden/,
    );
    assert.equal(fs.existsSync(path.join(dir, "revision-name")), false);
  });

  it("does not re-apply for a redelivered commit whose Revision exists, and reports on it", async () => {
    kube.deployed(SHA, SAMPLE_CONFIGURATION.commitTimestamp);
    const result = await deploy({ IMAGE_DIGEST: `sha256:${"9".repeat(64)}` }); // a rebuild
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(kube.calls(), [
      "GET /revisions/hello-0a1b2c3",
      "GET /configurations/hello",
      "GET /revisions/hello-0a1b2c3",
    ]);
    assert.match(result.stdout, /already exists for commit /);
    assert.match(result.stdout, /already templates revision hello-0a1b2c3: not re-applying it/);
    assert.equal(fs.readFileSync(path.join(dir, "revision-name"), "utf8"), "hello-0a1b2c3");
  });

  it("never re-points the Configuration to a push made before the one it carries", async () => {
    // A newer PipelineRun deployed NEW, although its commit is dated earlier than ours.
    kube.deployed(NEW, "2024-04-01T09:00:00Z", "2024-05-01T10:00:01.000Z hello-build-deploy-a0000");
    const before = clone(kube.configuration);
    const result = await deploy();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(kube.calls(), ["GET /revisions/hello-0a1b2c3", "GET /configurations/hello"]);
    assert.deepEqual(kube.configuration, before);
    assert.match(result.stdout, /a newer push is deployed, not re-pointing/);
    assert.equal(fs.readFileSync(path.join(dir, "revision-name"), "utf8"), "hello-2222222");
  });

  it("gives up after TIMEOUT_SECONDS when the Revision never becomes Ready", async () => {
    const started = Date.now();
    const result = await deploy({ TIMEOUT_SECONDS: "0.3", POLL_INTERVAL_MS: "50" });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /Revision hello-0a1b2c3 is not Ready after 0.3 s \(last seen: Ready=Unknown: Deploying\)/,
    );
    assert.ok(Date.now() - started < 3000);
    const polls = kube.calls().filter((c) => c === "GET /revisions/hello-0a1b2c3").length;
    assert.ok(polls >= 3 && polls <= 10, `polled ${polls} times`);
  });

  it("runs as its Task's step: the script, node, the code ConfigMap mounted", async () => {
    kube.readyAfter = readyOnGet(1);
    const step = podStep(TASK_NAMES.deployRevision, dir);
    const result = await run(step.script, [], { ...deployEnv(), ...step.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /created Configuration hello with revision hello-0a1b2c3/);
    assert.equal(fs.readFileSync(path.join(dir, "revision-name"), "utf8"), "hello-0a1b2c3");
  });

  it("refuses inconsistent inputs before any request", async () => {
    const result = await deploy({ SHORT_SHA: "abcdef0" });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /SHORT_SHA must be the first 7 characters of REVISION \(0a1b2c3\)/);
    assert.deepEqual(kube.calls(), []);
  });
});

// ---- commit-status.js ------------------------------------------------------------------------

describe("commit-status.js (against a fake GitHub API)", () => {
  const script = path.join(PIPELINE_SCRIPTS_DIR, "commit-status.js");
  const TOKEN = "ghs_secretTokenValue123";
  let github: FakeServer;
  let apiUrl: string;
  let answer = 201;

  beforeEach(async () => {
    answer = 201;
    github = new FakeServer((_req, res) => sendJson(res, answer, { id: 1, token_echo: TOKEN }));
    apiUrl = await github.start();
  });
  afterEach(() => github.stop());

  const post = (env: Record<string, string>) =>
    run(process.execPath, [script], {
      GITHUB_API_URL: apiUrl,
      GITHUB_TOKEN: TOKEN,
      REPO_FULL_NAME: "octo/hello",
      REVISION: SHA,
      STATUS_CONTEXT: "canary-release/build",
      ...env,
    });

  it("posts the status with the token as a bearer header", async () => {
    const result = await post({ STATE: "pending", DESCRIPTION: "" });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(github.requests.length, 1);
    const [request] = github.requests;
    assert.equal(request.method, "POST");
    assert.equal(request.url, `/repos/octo/hello/statuses/${SHA}`);
    assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(request.headers.accept, "application/vnd.github+json");
    assert.equal(request.headers["user-agent"], "canary-release-pipeline");
    assert.deepEqual(JSON.parse(request.body), {
      state: "pending",
      context: "canary-release/build",
      description: "Building the image and deploying the revision",
    });
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(TOKEN));
  });

  it("runs as its Task's step: the script, node, the code ConfigMap mounted", async () => {
    const step = podStep(TASK_NAMES.commitStatus, tempDir("status-step"));
    const result = await run(step.script, [], {
      GITHUB_API_URL: apiUrl,
      GITHUB_TOKEN: TOKEN,
      REPO_FULL_NAME: "octo/hello",
      REVISION: SHA,
      STATE: "Succeeded",
      ...step.env,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /canary-release\/build is success on octo\/hello@0a1b2c3/);
    assert.equal(github.requests.length, 1);
  });

  it("maps Tekton's $(tasks.status) to GitHub's states", async () => {
    for (const [state, expected] of [
      ["Succeeded", "success"],
      ["Completed", "success"],
      ["Failed", "failure"],
      ["None", "error"],
    ]) {
      const result = await post({ STATE: state, DESCRIPTION: "done" });
      assert.equal(result.code, 0, result.stderr);
      const body = JSON.parse(github.requests[github.requests.length - 1].body) as Json;
      assert.deepEqual(body, {
        state: expected,
        context: "canary-release/build",
        description: "done",
      });
    }
  });

  it("posts under a GitHub Enterprise API path", async () => {
    const result = await post({ GITHUB_API_URL: `${apiUrl}/api/v3/`, STATE: "success" });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(github.requests[0].url, `/api/v3/repos/octo/hello/statuses/${SHA}`);
  });

  it("skips without a token: no request, exit 0, a log line", async () => {
    const result = await post({ GITHUB_TOKEN: "", STATE: "pending" });
    assert.equal(result.code, 0);
    assert.equal(github.requests.length, 0);
    assert.match(result.stdout, /no GitHub token configured: not posting a commit status/);
  });

  it("logs a refused post and still exits 0, never printing the token", async () => {
    answer = 500;
    const result = await post({ STATE: "Failed" });
    assert.equal(result.code, 0);
    assert.equal(github.requests.length, 1);
    assert.match(
      result.stdout,
      /GitHub answered HTTP 500 to the failure status on octo\/hello@0a1b2c3/,
    );
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(TOKEN));
  });

  it("logs an unreachable API and still exits 0", async () => {
    await github.stop();
    const result = await post({ STATE: "success", REQUEST_TIMEOUT_MS: "2000" });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /could not post the success status on octo\/hello@0a1b2c3/);
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(TOKEN));
    github = new FakeServer(() => undefined); // afterEach stops something
    await github.start();
  });
});
