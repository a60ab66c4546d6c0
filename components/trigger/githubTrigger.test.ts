// The GitHub trigger against real GitHub webhook payloads: every example of every event in
// @octokit/webhooks-examples is signed, delivered to the emulated EventListener built by the pure
// builders, and must fire exactly when it is a push of a commit to the configured branch of the
// configured repository. Plus the PipelineRun against the upstream CRD, and the Triggers
// admission rules that no schema carries.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import examples from "@octokit/webhooks-examples";
import {
  celFilter,
  celOverlays,
  celStringLiteral,
  GitHubTriggerSpec,
  githubTriggerManifests,
  pipelineRunTemplate,
  SHORT_SHA_EXTENSION,
} from "./githubTriggerManifests";
import {
  bindingValueTerminated,
  TriggerManifestSet,
  TriggerRuleViolation,
  validateTriggerManifests,
} from "../../conformance/triggersRules";
import { PIPELINE_PARAMS, PIPELINE_WORKSPACES } from "../../common/pipelineContract";
import {
  DeliveryOutcome,
  githubDelivery,
  goJsonMarshal,
  processDelivery,
  signatureFor,
  TriggerSetup,
  WebhookDelivery,
} from "../../test/support/triggersEmulator";
import { sharedCatalog } from "../../test/support/sharedCrds";
import type { Manifest } from "../../common/json";

const SECRET = "It's a Secret to Everybody";
const WEBHOOK_SECRET_NAME = "hello-github-webhook";
const WEBHOOK_SECRET_KEY = "secret";

/** The fields of a push payload the trigger reads. */
interface PushPayload {
  ref: string;
  after: string;
  deleted: boolean;
  head_commit: { timestamp: string } | null;
  repository: { full_name: string; clone_url: string };
}

function isPushPayload(value: unknown): value is PushPayload {
  const p = value as PushPayload;
  return typeof p?.ref === "string" && typeof p.repository?.full_name === "string";
}

interface Example {
  readonly event: string;
  readonly index: number;
  readonly payload: unknown;
}

const ALL_EXAMPLES: readonly Example[] = examples.flatMap((definition) =>
  definition.examples.map((payload, index) => ({ event: definition.name, index, payload })),
);
const EXAMPLE_COUNT = examples.reduce((n, definition) => n + definition.examples.length, 0);

const realBranchPush = ALL_EXAMPLES.find(
  (e) =>
    e.event === "push" &&
    isPushPayload(e.payload) &&
    e.payload.ref.startsWith("refs/heads/") &&
    !e.payload.deleted &&
    e.payload.head_commit !== null,
);

/**
 * A real push of a commit to a branch, to configure the trigger with. Should a future version
 * of the examples have none, a copy of a real push is turned into one (the real ones are
 * replayed all the same).
 */
const SAMPLE_PUSH: PushPayload = (() => {
  if (realBranchPush) return structuredClone(realBranchPush.payload) as PushPayload;
  const anyPush = ALL_EXAMPLES.find((e) => e.event === "push");
  assert.ok(anyPush, "@octokit/webhooks-examples has no push example at all");
  const copy = structuredClone(anyPush.payload) as PushPayload;
  copy.ref = "refs/heads/main";
  copy.deleted = false;
  copy.after = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
  copy.head_commit = { timestamp: "2019-05-15T15:19:25Z" };
  return copy;
})();

const [OWNER, REPOSITORY] = SAMPLE_PUSH.repository.full_name.split("/");
const BRANCH = SAMPLE_PUSH.ref.slice("refs/heads/".length);

function spec(overrides: Partial<GitHubTriggerSpec> = {}): GitHubTriggerSpec {
  return {
    name: "hello",
    namespace: "apps",
    owner: OWNER,
    repository: REPOSITORY,
    branch: BRANCH,
    webhookSecretName: WEBHOOK_SECRET_NAME,
    webhookSecretKey: WEBHOOK_SECRET_KEY,
    serviceAccountName: "hello-triggers",
    pipelineRunServiceAccountName: "hello-pipeline",
    pipelineName: "hello-build-deploy",
    dockerConfigSecretName: "hello-registry",
    ...overrides,
  };
}

function manifestSet(s: GitHubTriggerSpec = spec()): TriggerManifestSet {
  const m = githubTriggerManifests(s);
  return { eventListener: m.eventListener, bindings: [m.binding], template: m.template };
}

function setupFor(s: GitHubTriggerSpec = spec()): TriggerSetup {
  return {
    ...manifestSet(s),
    secrets: { [WEBHOOK_SECRET_NAME]: { [WEBHOOK_SECRET_KEY]: SECRET } },
  };
}

/** The specification the trigger must meet, written independently of its CEL. */
function shouldFire(event: string, payload: unknown, s: GitHubTriggerSpec = spec()): boolean {
  return (
    event === "push" &&
    isPushPayload(payload) &&
    payload.ref === `refs/heads/${s.branch}` &&
    payload.repository.full_name.toLowerCase() === `${s.owner}/${s.repository}`.toLowerCase() &&
    payload.deleted === false &&
    payload.head_commit !== null
  );
}

interface Replayed extends Example {
  readonly outcome: DeliveryOutcome;
  readonly expected: boolean;
}

function replayAll(setup: TriggerSetup): Replayed[] {
  return ALL_EXAMPLES.map((example) => ({
    ...example,
    outcome: processDelivery(setup, githubDelivery(example.event, example.payload, SECRET)),
    expected: shouldFire(example.event, example.payload),
  }));
}

function describeOutcome(r: Replayed): string {
  const what = r.outcome.fired ? "fired" : `did not fire (${r.outcome.reason})`;
  return `${r.event} example #${r.index} ${what}, expected ${r.expected ? "to fire" : "not to"}`;
}

function pipelineRunOf(outcome: DeliveryOutcome): Manifest {
  assert.ok(outcome.fired, `expected the delivery to fire: ${JSON.stringify(outcome)}`);
  assert.equal(outcome.resources.length, 1);
  const [run] = outcome.resources;
  assert.equal(run.apiVersion, "tekton.dev/v1");
  assert.equal(run.kind, "PipelineRun");
  return run;
}

function paramsOf(run: Manifest): Record<string, unknown> {
  const params = (run.spec as { params: { name: string; value: unknown }[] }).params;
  return Object.fromEntries(params.map((p) => [p.name, p.value]));
}

function expectedParams(payload: PushPayload): Record<string, string> {
  return {
    [PIPELINE_PARAMS.repoUrl]: payload.repository.clone_url,
    [PIPELINE_PARAMS.repoFullName]: payload.repository.full_name,
    [PIPELINE_PARAMS.revision]: payload.after,
    [PIPELINE_PARAMS.shortSha]: payload.after.slice(0, 7),
    [PIPELINE_PARAMS.commitTimestamp]: (payload.head_commit as { timestamp: string }).timestamp,
  };
}

function assertNotFired(outcome: DeliveryOutcome, reasonPart: string): void {
  assert.ok(!outcome.fired, `expected no PipelineRun, got ${JSON.stringify(outcome)}`);
  assert.ok(
    outcome.reason.includes(reasonPart),
    `expected the reason to contain ${JSON.stringify(reasonPart)}, got: ${outcome.reason}`,
  );
}

/** A push like the sample, changed by `edit`, signed with the right secret. */
function pushDelivery(edit: (p: PushPayload) => void = () => {}): WebhookDelivery {
  const payload = structuredClone(SAMPLE_PUSH);
  edit(payload);
  return githubDelivery("push", payload, SECRET);
}

function withoutHeader(
  headers: Readonly<Record<string, string>>,
  name: string,
): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => key !== name));
}

/** The EventListener with its CEL filter replaced. */
function withFilter(setup: TriggerSetup, filter: string): TriggerSetup {
  const eventListener = structuredClone(setup.eventListener);
  const interceptors = (
    eventListener.spec as {
      triggers: {
        interceptors: { ref: { name: string }; params: { name: string; value: unknown }[] }[];
      }[];
    }
  ).triggers[0].interceptors;
  const cel = interceptors.find((i) => i.ref.name === "cel");
  assert.ok(cel, "the trigger has no cel interceptor");
  const param = cel.params.find((p) => p.name === "filter");
  assert.ok(param, "the cel interceptor has no filter");
  param.value = filter;
  return { ...setup, eventListener };
}

describe("GitHub trigger: real webhook payloads", () => {
  const setup = setupFor();

  it("fires for exactly the pushes of a commit to the configured branch and repository", () => {
    const replayed = replayAll(setup);
    const fired = replayed.filter((r) => r.outcome.fired);
    console.log(
      `    replayed ${replayed.length} payloads of ${examples.length} events ` +
        `(${OWNER}/${REPOSITORY} branch ${BRANCH}): ${fired.length} fired`,
    );
    assert.equal(replayed.length, EXAMPLE_COUNT);
    assert.ok(EXAMPLE_COUNT > 100, `only ${EXAMPLE_COUNT} examples: is the package broken?`);
    const wrong = replayed.filter((r) => r.outcome.fired !== r.expected);
    assert.deepEqual(wrong.map(describeOutcome), []);
    if (realBranchPush) assert.ok(fired.length > 0, "no real push example fired");

    for (const r of replayed) {
      if (r.outcome.fired) {
        assert.deepEqual(
          paramsOf(pipelineRunOf(r.outcome)),
          expectedParams(r.payload as PushPayload),
        );
      } else if (r.event !== "push") {
        // Stopped by the github interceptor's event type, not by some accident further on.
        assert.ok(
          r.outcome.reason.includes(`event type ${r.event} is not allowed`),
          r.outcome.reason,
        );
      } else {
        assert.ok(r.outcome.reason.includes("interceptor cel stopped"), r.outcome.reason);
      }
    }
  });

  it("does not fire for the real tag pushes, branch deletions and pings", () => {
    const replayed = replayAll(setup);
    const tagPushes = replayed.filter(
      (r) => r.event === "push" && (r.payload as PushPayload).ref.startsWith("refs/tags/"),
    );
    const deletions = replayed.filter(
      (r) => r.event === "push" && (r.payload as PushPayload).deleted,
    );
    const pings = replayed.filter((r) => r.event === "ping");
    for (const group of [tagPushes, deletions, pings]) {
      assert.ok(group.length > 0);
      for (const r of group) assert.ok(!r.outcome.fired, describeOutcome(r));
    }
  });

  it("the replay fails if the CEL filter is loosened to true (mutation guard)", () => {
    const loosened = replayAll(withFilter(setup, "true"));
    const wrong = loosened.filter((r) => r.outcome.fired !== r.expected);
    assert.ok(wrong.length > 0, "a filter of `true` passed the replay: it checks nothing");
    // A real tag push with a head commit is what slips through.
    assert.ok(
      wrong.some(
        (r) => r.event === "push" && (r.payload as PushPayload).ref.startsWith("refs/tags/"),
      ),
      wrong.map(describeOutcome).join("\n"),
    );
  });

  it("the fired PipelineRun is valid against the upstream PipelineRun CRD", function () {
    const catalog = sharedCatalog(this);
    for (const s of [spec(), spec({ dockerConfigSecretName: undefined })]) {
      const run = pipelineRunOf(processDelivery(setupFor(s), pushDelivery()));
      assert.deepEqual(catalog.validate(run), [], JSON.stringify(run, null, 2));
    }
  });

  it("passes the commit's values to the PipelineRun, labels and workspaces", () => {
    const run = pipelineRunOf(
      processDelivery(setup, pushDelivery(), { eventId: "event-1", uid: "uid-1" }),
    );
    assert.deepEqual(paramsOf(run), expectedParams(SAMPLE_PUSH));
    assert.deepEqual(run.metadata, {
      generateName: "hello-build-",
      namespace: "apps",
      labels: {
        "canary-release.dev/commit": SAMPLE_PUSH.after,
        "triggers.tekton.dev/eventlistener": "hello",
        "triggers.tekton.dev/trigger": "github-push",
        "triggers.tekton.dev/triggers-eventid": "event-1",
      },
      annotations: {
        "canary-release.dev/repository": SAMPLE_PUSH.repository.full_name,
        "tekton.dev/auto-cleanup-pvc": "true",
      },
    });
    const runSpec = run.spec as Record<string, unknown>;
    assert.deepEqual(runSpec.pipelineRef, { name: "hello-build-deploy" });
    assert.deepEqual(runSpec.taskRunTemplate, { serviceAccountName: "hello-pipeline" });
    assert.deepEqual(runSpec.workspaces, [
      {
        name: PIPELINE_WORKSPACES.source,
        volumeClaimTemplate: {
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      },
      {
        name: PIPELINE_WORKSPACES.dockerConfig,
        secret: {
          secretName: "hello-registry",
          // buildPipeline's Secret is a kubernetes.io/dockerconfigjson; kaniko & co read config.json.
          items: [{ key: ".dockerconfigjson", path: "config.json" }],
        },
      },
    ]);
  });
});

describe("GitHub trigger: which pushes fire", () => {
  const setup = setupFor();

  it("a push to another branch, or a branch that only looks similar, does not fire", () => {
    for (const ref of [
      "refs/heads/feature",
      `refs/heads/${BRANCH}-old`,
      `refs/heads/old-${BRANCH}`,
      `refs/heads/${BRANCH}/sub`,
      `refs/heads/${BRANCH.toUpperCase()}`,
      `refs/tags/${BRANCH}`,
      BRANCH,
    ]) {
      const outcome = processDelivery(
        setup,
        pushDelivery((p) => (p.ref = ref)),
      );
      assertNotFired(outcome, "interceptor cel stopped");
    }
  });

  it("a push to the same branch of another repository (a fork) does not fire", () => {
    for (const fullName of [
      `someone-else/${REPOSITORY}`,
      `${OWNER}/${REPOSITORY}-fork`,
      `${OWNER}x/${REPOSITORY}`,
      `${OWNER}/${REPOSITORY}/x`,
    ]) {
      const outcome = processDelivery(
        setup,
        pushDelivery((p) => {
          p.repository.full_name = fullName;
          p.repository.clone_url = `https://github.com/${fullName}.git`;
        }),
      );
      assertNotFired(outcome, "interceptor cel stopped");
    }
  });

  it("owner and repository match whatever their case (GitHub names are case-insensitive)", () => {
    const lowerCased = pushDelivery(
      (p) => (p.repository.full_name = p.repository.full_name.toLowerCase()),
    );
    assert.ok(processDelivery(setup, lowerCased).fired);
    const upperConfig = setupFor(
      spec({ owner: OWNER.toUpperCase(), repository: REPOSITORY.toUpperCase() }),
    );
    const run = pipelineRunOf(processDelivery(upperConfig, pushDelivery()));
    // The PipelineRun gets GitHub's spelling, not the config's.
    assert.equal(paramsOf(run)[PIPELINE_PARAMS.repoFullName], SAMPLE_PUSH.repository.full_name);
  });

  it("deleting the configured branch, or a push without a head commit, does not fire", () => {
    const deletion = pushDelivery((p) => {
      p.deleted = true;
      p.after = "0000000000000000000000000000000000000000";
      p.head_commit = null;
    });
    assertNotFired(processDelivery(setup, deletion), "interceptor cel stopped");
    const noHead = pushDelivery((p) => (p.head_commit = null));
    assertNotFired(processDelivery(setup, noHead), "interceptor cel stopped");
    // GitHub never sends both, but the filter must not rely on it.
    const deletedWithHead = pushDelivery((p) => (p.deleted = true));
    assertNotFired(processDelivery(setup, deletedWithHead), "interceptor cel stopped");
  });

  it("matches a branch name with quotes, backslashes and non-ASCII exactly", () => {
    const branch = `we"ird\\br'anch-é-😀`;
    const tricky = setupFor(spec({ branch }));
    assert.ok(
      processDelivery(
        tricky,
        pushDelivery((p) => (p.ref = `refs/heads/${branch}`)),
      ).fired,
    );
    for (const near of [`we"ird\\\\br'anch-é-😀`, `weird\\br'anch-é-😀`, `we"ird\\br'anch-e-😀`]) {
      const outcome = processDelivery(
        tricky,
        pushDelivery((p) => (p.ref = `refs/heads/${near}`)),
      );
      assertNotFired(outcome, "interceptor cel stopped");
    }
  });
});

describe("GitHub trigger: webhook signature and event type", () => {
  const setup = setupFor();

  it("a correctly signed push fires", () => {
    assert.ok(processDelivery(setup, pushDelivery()).fired);
  });

  it("a bad, missing or wrongly keyed signature does not fire", () => {
    const good = pushDelivery();
    const signature = good.headers["X-Hub-Signature-256"];
    const flipped = signature.slice(0, -1) + (signature.endsWith("0") ? "1" : "0");
    const cases: [string, Record<string, string>, string][] = [
      ["one hex digit changed", { "X-Hub-Signature-256": flipped }, "signature check failed"],
      [
        "signed with another secret",
        { "X-Hub-Signature-256": signatureFor(good.body, "other") },
        "signature check failed",
      ],
      [
        "truncated",
        { "X-Hub-Signature-256": signature.slice(0, 7 + 20) },
        "signature check failed",
      ],
      ["not hex", { "X-Hub-Signature-256": "sha256=zz" }, "error decoding signature"],
      [
        "unknown algorithm",
        { "X-Hub-Signature-256": signature.replace("sha256", "md5") },
        "unknown hash type",
      ],
      ["missing", {}, "Must set X-Hub-Signature-256 or X-Hub-Signature header"],
    ];
    for (const [what, signatureHeaders, reason] of cases) {
      const headers = withoutHeader(good.headers, "X-Hub-Signature-256");
      const outcome = processDelivery(setup, {
        body: good.body,
        headers: { ...headers, ...signatureHeaders },
      });
      assert.ok(!outcome.fired, what);
      assertNotFired(outcome, reason);
    }
  });

  it("a body changed after signing does not fire", () => {
    const good = pushDelivery();
    const tampered = good.body.replace(SAMPLE_PUSH.after, "f".repeat(40));
    assert.notEqual(tampered, good.body);
    assertNotFired(processDelivery(setup, { ...good, body: tampered }), "signature check failed");
  });

  it("like Tekton, accepts the legacy SHA-1 X-Hub-Signature, but prefers X-Hub-Signature-256", () => {
    const good = pushDelivery();
    const sha1 = `sha1=${crypto.createHmac("sha1", SECRET).update(good.body).digest("hex")}`;
    const { "X-Hub-Signature-256": _unused, ...rest } = good.headers;
    assert.ok(
      processDelivery(setup, { ...good, headers: { ...rest, "X-Hub-Signature": sha1 } }).fired,
    );
    const badPreferred = {
      ...good.headers,
      "X-Hub-Signature-256": signatureFor(good.body, "x"),
      "X-Hub-Signature": sha1,
    };
    assertNotFired(
      processDelivery(setup, { ...good, headers: badPreferred }),
      "signature check failed",
    );
  });

  it("header names are case-insensitive, as over HTTP", () => {
    const good = pushDelivery();
    const lower = Object.fromEntries(
      Object.entries(good.headers).map(([k, v]) => [k.toLowerCase(), v]),
    );
    assert.ok(processDelivery(setup, { ...good, headers: lower }).fired);
  });

  it("a missing or other event type, a form-encoded body or a missing Secret does not fire", () => {
    const good = pushDelivery();
    const noEvent = withoutHeader(good.headers, "X-GitHub-Event");
    assertNotFired(
      processDelivery(setup, { ...good, headers: noEvent }),
      "event type  is not allowed",
    );
    const asPing = { ...good.headers, "X-GitHub-Event": "ping" };
    assertNotFired(
      processDelivery(setup, { ...good, headers: asPing }),
      "event type ping is not allowed",
    );
    const form = { ...good.headers, "Content-Type": "application/x-www-form-urlencoded" };
    assertNotFired(processDelivery(setup, { ...good, headers: form }), "form parameter encoding");
    assertNotFired(processDelivery({ ...setup, secrets: {} }, good), "not found");
    const wrongKey = { ...setup, secrets: { [WEBHOOK_SECRET_NAME]: { token: SECRET } } };
    assertNotFired(processDelivery(wrongKey, good), `cannot find ${WEBHOOK_SECRET_KEY} key`);
  });
});

describe("GitHub trigger manifests", () => {
  it("produce the CEL filter and overlays for owner acme, repository hello, branch main", () => {
    assert.equal(
      celFilter("acme", "hello", "main"),
      'body.ref == "refs/heads/main" && body.repository.full_name.lowerAscii() == "acme/hello" ' +
        "&& !body.deleted && body.head_commit != null",
    );
    assert.deepEqual(celOverlays(), [
      { key: "short_sha", expression: "body.after.substring(0, 7)" },
    ]);
    assert.equal(celStringLiteral('a"b\\c\n😀'), '"a\\"b\\\\c\\u000a\\U0001f600"');
  });

  it("wire the EventListener to the binding and template by ref, github before cel", () => {
    const m = githubTriggerManifests(spec());
    assert.deepEqual(
      m.eventListener.spec.triggers.map((t) => t.name),
      ["github-push"],
    );
    const [trigger] = m.eventListener.spec.triggers;
    assert.deepEqual(trigger.bindings, [{ ref: "hello-push", kind: "TriggerBinding" }]);
    assert.deepEqual(trigger.template, { ref: "hello-build" });
    assert.deepEqual(
      trigger.interceptors.map((i) => i.ref),
      [
        { name: "github", kind: "ClusterInterceptor" },
        { name: "cel", kind: "ClusterInterceptor" },
      ],
    );
    assert.deepEqual(trigger.interceptors[0].params, [
      {
        name: "secretRef",
        value: { secretName: WEBHOOK_SECRET_NAME, secretKey: WEBHOOK_SECRET_KEY },
      },
      { name: "eventTypes", value: ["push"] },
    ]);
    assert.equal(m.eventListener.spec.serviceAccountName, "hello-triggers");
    assert.equal(m.binding.metadata.name, "hello-push");
    assert.equal(m.template.metadata.name, "hello-build");
  });

  it("bind and declare exactly the Pipeline's params", () => {
    const m = githubTriggerManifests(spec());
    const pipelineParams = Object.values(PIPELINE_PARAMS);
    assert.deepEqual(
      m.binding.spec.params.map((p) => p.name),
      pipelineParams,
    );
    assert.deepEqual(
      m.template.spec.params.map((p) => p.name),
      pipelineParams,
    );
    assert.ok(m.template.spec.params.every((p) => p.description.length > 0));
    const shortSha = m.binding.spec.params.find((p) => p.name === PIPELINE_PARAMS.shortSha);
    assert.equal(shortSha?.value, `$(extensions.${SHORT_SHA_EXTENSION})`);
    const run = m.template.spec.resourcetemplates[0];
    assert.deepEqual(
      run.spec.params,
      pipelineParams.map((name) => ({ name, value: `$(tt.params.${name})` })),
    );
    assert.deepEqual(
      run.spec.workspaces.map((w) => w.name),
      Object.values(PIPELINE_WORKSPACES),
    );
    assert.equal(run.metadata.annotations["tekton.dev/auto-cleanup-pvc"], "true");
  });

  it("contain no undefined values (they are sent as manifests)", () => {
    for (const s of [spec(), spec({ dockerConfigSecretName: undefined })]) {
      const m = githubTriggerManifests(s);
      for (const manifest of [m.eventListener, m.binding, m.template]) {
        assert.deepEqual(JSON.parse(JSON.stringify(manifest)), manifest);
      }
    }
  });

  it("leave the optional docker config unbound without registry credentials", () => {
    const run = pipelineRunTemplate(spec({ dockerConfigSecretName: undefined }));
    assert.deepEqual(
      run.spec.workspaces.map((w) => w.name),
      [PIPELINE_WORKSPACES.source],
    );
  });

  it("take storage size and timeout, and reject bad values naming the field", () => {
    const run = pipelineRunTemplate(
      spec({ workspaceStorage: "500Mi", pipelineRunTimeout: "1h30m" }),
    );
    assert.deepEqual(run.spec.workspaces[0], {
      name: PIPELINE_WORKSPACES.source,
      volumeClaimTemplate: {
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "500Mi" } } },
      },
    });
    assert.deepEqual(run.spec.timeouts, { pipeline: "1h30m" });
    const bad: [Partial<GitHubTriggerSpec>, RegExp][] = [
      [{ workspaceStorage: "1 GB" }, /workspaceStorage "1 GB" is not a Kubernetes quantity/],
      [{ pipelineRunTimeout: "30 minutes" }, /pipelineRunTimeout "30 minutes" is not a duration/],
    ];
    // The owner, repository and branch are config: config.ts judges them before anything is
    // registered (the bad-config corpus in test/config.test.ts), and the builder trusts them.
    for (const [override, message] of bad) {
      assert.throws(() => githubTriggerManifests(spec(override)), message);
    }
  });
});

// --- Admission rules ---------------------------------------------------------------------------

function assertViolation(violations: TriggerRuleViolation[], path: string, message: RegExp): void {
  assert.ok(
    violations.some((v) => v.path === path && message.test(v.message)),
    `expected a violation at ${path} matching ${message}, got ${JSON.stringify(violations, null, 2)}`,
  );
}

// These tests write deliberately malformed shapes into the manifests: no type describes them.
type Editable = Record<string, any>;

/** The valid manifests, one of them changed by `edit`. */
function violationsAfter(edit: (m: { el: Editable; tb: Editable; tt: Editable }) => void) {
  const set = manifestSet();
  const el = structuredClone(set.eventListener) as Editable;
  const tb = structuredClone(set.bindings[0]) as Editable;
  const tt = structuredClone(set.template) as Editable;
  edit({ el, tb, tt });
  return validateTriggerManifests({
    eventListener: el as Manifest,
    bindings: [tb as Manifest],
    template: tt as Manifest,
  });
}

describe("Tekton Triggers admission rules", () => {
  it("accept the manifests of the builders", () => {
    assert.deepEqual(validateTriggerManifests(manifestSet()), []);
    // The longest base name: "<name>-build-" plus 5 random characters is a 63-character name.
    assert.deepEqual(validateTriggerManifests(manifestSet(spec({ name: "a".repeat(51) }))), []);
  });

  it("a base name whose PipelineRun names would exceed 63 characters is rejected", () => {
    const long = validateTriggerManifests(manifestSet(spec({ name: "a".repeat(52) })));
    assertViolation(
      long,
      "spec.resourcetemplates[0].metadata.generateName",
      /^TriggerTemplate a{52}-build: .* is 59 characters long; at most 58, since Kubernetes appends 5/,
    );
  });

  it("EventListener: name of at most 60 characters, a valid name", () => {
    const long = violationsAfter(({ el }) => (el.metadata.name = "a".repeat(61)));
    assertViolation(
      long,
      "metadata.name",
      /^EventListener a{61}: metadata.name .* 61 characters long; at most 60/,
    );
    assert.deepEqual(
      violationsAfter(({ el }) => (el.metadata.name = "a".repeat(60))),
      [],
    );
    const upper = violationsAfter(({ el }) => (el.metadata.name = "Hello"));
    assertViolation(upper, "metadata.name", /"Hello" is not a valid name/);
    const unnamed = violationsAfter(({ el }) => delete el.metadata.name);
    assertViolation(unnamed, "metadata.name", /is missing/);
  });

  it("EventListener: needs triggers; each trigger a template, valid bindings and interceptors", () => {
    const at = "spec.triggers[0]";
    const cases: [(m: { el: Editable }) => void, string, RegExp][] = [
      [({ el }) => (el.spec.triggers = []), "spec", /has no triggers/],
      [({ el }) => delete el.spec.triggers[0].template, at, /has no template/],
      [({ el }) => (el.spec.triggers[0].triggerRef = "other"), at, /sets triggerRef "other" and/],
      [
        ({ el }) => (el.spec.triggers[0].bindings[0].name = "x"),
        `${at}.bindings[0]`,
        /both ref "hello-push" and name "x"/,
      ],
      [
        ({ el }) => (el.spec.triggers[0].bindings[0].kind = "Binding"),
        `${at}.bindings[0].kind`,
        /"Binding" is invalid/,
      ],
      [
        ({ el }) => (el.spec.triggers[0].bindings = [{ name: "x" }]),
        `${at}.bindings[0].value`,
        /needs a value/,
      ],
      [
        ({ el }) => (el.spec.triggers[0].bindings = [{}]),
        `${at}.bindings[0]`,
        /neither ref nor name/,
      ],
      [
        ({ el }) => (el.spec.triggers[0].template.apiversion = "v1"),
        `${at}.template.apiversion`,
        /"v1" is invalid/,
      ],
      [({ el }) => (el.spec.triggers[0].template.spec = {}), `${at}.template`, /both spec and ref/],
      [({ el }) => (el.spec.triggers[0].template = {}), `${at}.template`, /neither spec nor ref/],
      [({ el }) => (el.spec.triggers[0].template.ref = ""), `${at}.template.ref`, /is empty/],
      [
        ({ el }) => (el.spec.triggers[0].interceptors[1].ref = {}),
        `${at}.interceptors[1].ref.name`,
        /is missing/,
      ],
      [
        ({ el }) => (el.spec.triggers[0].interceptors[0] = null),
        `${at}.interceptors[0]`,
        /is not an interceptor/,
      ],
      [
        ({ el }) => (el.spec.triggers[0].name = "github push!"),
        `${at}.name`,
        /not a valid label value/,
      ],
      [
        ({ el }) => (el.spec.resources = { kubernetesResource: {}, customResource: {} }),
        "spec.resources",
        /both kubernetesResource and customResource/,
      ],
    ];
    for (const [edit, path, message] of cases)
      assertViolation(violationsAfter(edit), path, message);
  });

  it("TriggerBinding: valid name, a spec, unique param names, terminated expressions", () => {
    const cases: [(m: { tb: Editable }) => void, string, RegExp][] = [
      [
        ({ tb }) => (tb.metadata.name = "x".repeat(64)),
        "metadata.name",
        /64 characters long; at most 63/,
      ],
      [({ tb }) => (tb.metadata.name = "Hello_Push"), "metadata.name", /not a valid name/],
      [({ tb }) => delete tb.spec, "spec", /is missing/],
      [
        ({ tb }) => tb.spec.params.push({ name: "revision", value: "x" }),
        "spec.params[5].name",
        /"revision" is declared twice/,
      ],
      [
        ({ tb }) => (tb.spec.params[0].value = 42),
        "spec.params[0].value",
        /must be a string, got 42/,
      ],
      [({ tb }) => (tb.spec.params[0].name = 7), "spec.params[0].name", /must be a string, got 7/],
      [
        ({ tb }) => (tb.spec.params[0].value = "$(body.a $(body.b)"),
        "spec.params[0].value",
        /unterminated \$\( expression/,
      ],
    ];
    for (const [edit, path, message] of cases) {
      assertViolation(violationsAfter(edit), path, message);
    }
    // Tekton's own quirk, kept: only an expression followed by another is checked.
    assert.equal(bindingValueTerminated("$(body.a"), true);
    assert.equal(bindingValueTerminated("$(body.a)-$(body.b)"), true);
    assert.equal(bindingValueTerminated("$(body.a-$(body.b)"), false);
  });

  it("TriggerTemplate: every $(tt.params.X) declared, resources of an allowed type", () => {
    const typo = violationsAfter(({ tt }) => {
      tt.spec.resourcetemplates[0].spec.params[2].value = "$(tt.params.revison)";
    });
    const undeclared = typo.find((v) => v.path === "spec.resourcetemplates[0]");
    assert.ok(undeclared, JSON.stringify(typo));
    assert.match(
      undeclared.message,
      /^TriggerTemplate hello-build: spec.resourcetemplates\[0\] uses \$\(tt.params.revison\) which is not declared in spec.params \(declared: repo-url, /,
    );
    const cases: [(m: { tt: Editable }) => void, string, RegExp][] = [
      [({ tt }) => (tt.metadata.name = "hello.build_"), "metadata.name", /not a valid name/],
      [({ tt }) => (tt.spec = {}), "spec", /is missing/],
      [({ tt }) => (tt.spec.resourcetemplates = []), "spec.resourcetemplates", /is empty/],
      [
        ({ tt }) => delete tt.spec.resourcetemplates[0].apiVersion,
        "spec.resourcetemplates[0].apiVersion",
        /is missing/,
      ],
      [
        ({ tt }) => delete tt.spec.resourcetemplates[0].kind,
        "spec.resourcetemplates[0].kind",
        /is missing/,
      ],
      [
        ({ tt }) => (tt.spec.resourcetemplates[0] = { apiVersion: "v1", kind: "ConfigMap" }),
        "spec.resourcetemplates[0]",
        /v1 ConfigMap, which Tekton Triggers cannot create/,
      ],
      [
        ({ tt }) => tt.spec.params.push({ name: "revision" }),
        "spec.params[5].name",
        /"revision" is declared twice/,
      ],
      [
        ({ tt }) => (tt.spec.params[0].default = 1),
        "spec.params[0].default",
        /must be a string, got 1/,
      ],
      [
        ({ tt }) => (tt.spec.params[0].name = ""),
        "spec.params[0].name",
        /must be a non-empty string/,
      ],
      [
        ({ tt }) => (tt.spec.resourcetemplates[0].metadata = { name: "r".repeat(64) }),
        "spec.resourcetemplates[0].metadata.name",
        /64 characters long; Tekton allows at most 63/,
      ],
    ];
    for (const [edit, path, message] of cases)
      assertViolation(violationsAfter(edit), path, message);
  });

  it("wiring: refs resolve, each param bound once, every param supplied and used", () => {
    const at = "spec.triggers[0]";
    const cases: [(m: { el: Editable; tb: Editable; tt: Editable }) => void, string, RegExp][] = [
      [
        ({ el }) => (el.spec.triggers[0].template.ref = "hello-bild"),
        `${at}.template.ref`,
        /"hello-bild" names no given TriggerTemplate/,
      ],
      [
        ({ el }) => (el.spec.triggers[0].bindings[0].ref = "hello-pish"),
        `${at}.bindings[0].ref`,
        /"hello-pish" names no given TriggerBinding/,
      ],
      [
        ({ el }) => el.spec.triggers[0].bindings.push({ name: "revision", value: "$(body.after)" }),
        `${at}.bindings`,
        /param "revision" is bound twice/,
      ],
      [
        ({ tb }) =>
          (tb.spec.params = tb.spec.params.filter((p: Editable) => p.name !== "short-sha")),
        `${at}.bindings`,
        /no value for param "short-sha" of TriggerTemplate hello-build, which has no default/,
      ],
      [
        ({ tb }) => (tb.spec.params[1].name = "repo-fullname"),
        `${at}.bindings`,
        /param "repo-fullname" \(from TriggerBinding hello-push\) is not a param of TriggerTemplate/,
      ],
      [
        ({ tb }) => (tb.metadata.namespace = "other"),
        "metadata.namespace",
        /TriggerBinding hello-push is in "other"/,
      ],
    ];
    for (const [edit, path, message] of cases)
      assertViolation(violationsAfter(edit), path, message);
    // A default makes the binding optional.
    const defaulted = violationsAfter(({ tb, tt }) => {
      tb.spec.params = tb.spec.params.filter((p: Editable) => p.name !== "short-sha");
      tt.spec.params.find((p: Editable) => p.name === "short-sha").default = "0000000";
    });
    assert.deepEqual(defaulted, []);
  });
});

// --- The emulator's own semantics (Tekton's, as looked up) -------------------------------------

describe("Triggers emulator", () => {
  /** A setup whose binding has `params` and whose template echoes them into a PipelineRun. */
  function echoSetup(
    params: { name: string; value: string }[],
    defaults: Record<string, string> = {},
    oldEscape = false,
  ): TriggerSetup {
    const base = setupFor();
    const names = params.map((p) => p.name);
    const binding = structuredClone(base.bindings[0]) as Editable;
    binding.spec.params = params;
    const template = structuredClone(base.template) as Editable;
    template.spec.params = names.map((name) =>
      name in defaults ? { name, default: defaults[name] } : { name },
    );
    template.spec.resourcetemplates[0].spec.params = names.map((name) => ({
      name,
      value: `$(tt.params.${name})`,
    }));
    template.spec.resourcetemplates[0].metadata.labels = { uid: "$(uid)" };
    if (oldEscape) template.metadata.annotations = { "triggers.tekton.dev/old-escape-quotes": "" };
    return {
      ...base,
      bindings: [binding as Manifest],
      template: template as Manifest,
    };
  }

  it("resolves headers, JSON values and context like Tekton's JSONPath", () => {
    const params = [
      { name: "event", value: "$(header.x-github-event)" },
      { name: "id", value: "repo-$(body.repository.id)" },
      { name: "added", value: "$(body.commits[0].added)" },
      { name: "pusher", value: "$(body.pusher)" },
      { name: "event-id", value: "$(context.eventID)" },
      { name: "short", value: "$(extensions.short_sha)" },
    ];
    const payload = structuredClone(SAMPLE_PUSH) as PushPayload & Record<string, unknown>;
    payload.repository = { ...payload.repository, id: 1296269 } as PushPayload["repository"];
    payload.pusher = { name: "a<b>&c", email: null };
    payload.commits = [{ added: ["README.md", "src/a b.ts"] }];
    const delivery = githubDelivery("push", payload, SECRET);
    // A JSON value spliced into a JSON string breaks the resource: Tekton's documented trap,
    // which the template annotation triggers.tekton.dev/old-escape-quotes works around.
    assertNotFired(
      processDelivery(echoSetup(params), delivery),
      "couldn't unmarshal json from the TriggerTemplate",
    );
    const run = pipelineRunOf(
      processDelivery(echoSetup(params, {}, true), delivery, { eventId: "ev-1", uid: "uid-1" }),
    );
    const values = paramsOf(run);
    assert.equal(values.event, "push");
    assert.equal(values.id, "repo-1296269");
    assert.equal(values.added, '["README.md","src/a b.ts"]');
    // Go's json.Marshal: sorted keys, <, > and & escaped, which JSON decodes back.
    assert.equal(values.pusher, '{"email":null,"name":"a<b>&c"}');
    assert.equal(
      goJsonMarshal({ name: "a<b>&c", email: null }),
      '{"email":null,"name":"a\\u003cb\\u003e\\u0026c"}',
    );
    assert.equal(values["event-id"], "ev-1");
    assert.equal(values.short, SAMPLE_PUSH.after.slice(0, 7));
    assert.deepEqual((run.metadata as Editable).labels.uid, "uid-1");
  });

  it("stops on a missing value unless the template param has a default", () => {
    const missing = [{ name: "nope", value: "$(body.no.such.field)" }];
    const outcome = processDelivery(echoSetup(missing), pushDelivery());
    assertNotFired(
      outcome,
      "failed to replace JSONPath value for param nope: $(body.no.such.field): no is not found",
    );
    const run = pipelineRunOf(
      processDelivery(echoSetup(missing, { nope: "fallback" }), pushDelivery()),
    );
    assert.equal(paramsOf(run).nope, "fallback");
  });

  it("stops when a CEL expression fails or does not return true", () => {
    const setup = setupFor();
    assertNotFired(
      processDelivery(withFilter(setup, "body.no_such_field == 1"), pushDelivery()),
      "error evaluating cel expression",
    );
    assertNotFired(
      processDelivery(withFilter(setup, "'true'"), pushDelivery()),
      "did not return true",
    );
    assertNotFired(
      processDelivery(withFilter(setup, "body.ref =="), pushDelivery()),
      "error evaluating cel expression",
    );
  });

  it("rejects a body that is not a JSON object, as the sink's payload validation does", () => {
    const setup = setupFor();
    for (const body of ["not json", "[1]", ""]) {
      const delivery = {
        headers: { "X-GitHub-Event": "push", "X-Hub-Signature-256": signatureFor(body, SECRET) },
        body,
      };
      assertNotFired(processDelivery(setup, delivery), "Invalid event body format");
    }
  });
});
