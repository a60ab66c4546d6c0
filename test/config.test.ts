import { strict as assert } from "assert";
import { PROVIDER_CONFIG_KEYS } from "../common/providerConfigKeys";
import { PLATFORM_DEFAULT_VERSIONS } from "../components/platform/platformManifests";
import {
  closestKnownKey,
  ConfigError,
  DEFAULTS,
  MAX_APP_LENGTH,
  parseConfig,
  tagHostProblems,
  TESTER_DEFAULTS,
} from "../config";
import { everyRevisionPassed, runProgram } from "../conformance/programRunner";
import { PROD_CANARY_IN_PROGRESS, prodStack } from "./support/prodStack";
import { withChanges } from "./support/resources";

const BASE: Record<string, string> = {
  "canary-release:app": "hello",
  "canary-release:namespace": "hello",
  "canary-release:stableRevision": "hello-1111111",
  "canary-release:candidateRevision": "hello-2222222",
  "canary-release:canaryPercent": "20",
};

/** BASE with changes; `undefined` removes a key. */
function configWith(changes: Record<string, string | undefined>): Record<string, string> {
  return withChanges(BASE, changes);
}

function problemsOf(
  raw: Record<string, string>,
  secretKeys: readonly string[] = [],
): ConfigError["problems"] {
  try {
    parseConfig(raw, secretKeys);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail("expected the config to be refused");
}

describe("config: defaults and parsing", () => {
  it("applies the documented defaults to a config with only app", () => {
    const config = parseConfig({ "canary-release:app": "hello" });
    assert.deepEqual(
      {
        ...config,
        kubernetes: { ...config.kubernetes },
        tester: { ...config.tester },
        platform: { ...config.platform, versions: { ...config.platform.versions } },
      },
      {
        app: "hello",
        namespace: DEFAULTS.namespace,
        createNamespace: DEFAULTS.createNamespace,
        domain: DEFAULTS.domain,
        canaryPercent: DEFAULTS.canaryPercent,
        verifyCandidate: DEFAULTS.verifyCandidate,
        allowUntestedCandidate: DEFAULTS.allowUntestedCandidate,
        maxStepPercent: DEFAULTS.maxStepPercent,
        allowLargeStep: DEFAULTS.allowLargeStep,
        publicTagUrls: DEFAULTS.publicTagUrls,
        protect: DEFAULTS.protect,
        tester: { ...TESTER_DEFAULTS },
        platform: {
          install: false,
          tagHeaderRouting: false,
          versions: { ...PLATFORM_DEFAULT_VERSIONS },
        },
        kubernetes: {},
        source: { contextDir: ".", dockerfile: "Dockerfile" },
        stepImages: {},
      },
    );
  });

  it("returns a frozen object", () => {
    const config = parseConfig(BASE);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.kubernetes));
  });

  it("reads booleans, the percent, the revisions, render and kubernetes:context", () => {
    const config = parseConfig(
      configWith({
        "canary-release:createNamespace": "true",
        "canary-release:verifyCandidate": "false",
        "canary-release:protect": "true",
        "canary-release:domain": "apps.example.com",
        "canary-release:render": '{"directory":"out"}',
        "canary-release:maxStepPercent": "50",
        "canary-release:allowLargeStep": "true",
        "kubernetes:context": "prod",
      }),
    );
    assert.equal(config.maxStepPercent, 50);
    assert.equal(config.allowLargeStep, true);
    assert.equal(config.createNamespace, true);
    assert.equal(config.verifyCandidate, false);
    assert.equal(config.protect, true);
    assert.equal(config.canaryPercent, 20);
    assert.equal(config.stableRevision, "hello-1111111");
    assert.equal(config.candidateRevision, "hello-2222222");
    assert.deepEqual(config.render, { directory: "out" });
    assert.equal(config.kubernetes.context, "prod");
  });

  it("accepts the boundaries: percent 0 and 100, app of exactly the maximum length", () => {
    assert.equal(parseConfig(configWith({ "canary-release:canaryPercent": "0" })).canaryPercent, 0);
    assert.equal(
      parseConfig(configWith({ "canary-release:canaryPercent": "100" })).canaryPercent,
      100,
    );
    const app = "a".repeat(MAX_APP_LENGTH);
    assert.equal(MAX_APP_LENGTH, 49);
    assert.equal(
      parseConfig({
        "canary-release:app": app,
        "canary-release:stableRevision": `${app}-1111111`,
        "canary-release:candidateRevision": `${app}-2222222`,
      }).app,
      app,
    );
  });

  it("lists every problem at once, each with key, value and what is valid", () => {
    const problems = problemsOf({
      "canary-release:app": "Hello",
      "canary-release:canaryPercent": "20.5",
      "canary-release:protect": "yes",
    });
    assert.deepEqual(
      problems.map((p) => [p.key, p.value]),
      [
        ["canary-release:app", "Hello"],
        ["canary-release:protect", "yes"],
        ["canary-release:canaryPercent", "20.5"],
      ],
    );
    const message = new ConfigError(problems).message;
    assert.match(message, /3 problems/);
    assert.match(
      message,
      /canary-release:canaryPercent = "20.5": must be a whole number from 0 to 100/,
    );
    assert.match(message, /canary-release:protect = "yes": must be true or false/);
  });

  it("checks each tag's host label and whole host name", () => {
    assert.deepEqual(tagHostProblems("hello", "prod", "example.com", ["stable", "candidate"]), []);
    const longApp = "a".repeat(54); // candidate- + 54 = 64 characters
    const [label] = tagHostProblems(longApp, "prod", "example.com", ["stable", "candidate"]);
    assert.equal(label.key, "canary-release:app");
    assert.match(label.message, /`candidate-a{54}` of tag `candidate` is 64 characters/);
    const longDomain = `${"d".repeat(60)}.`.repeat(3) + "example.com";
    const problems = tagHostProblems("hello", "n".repeat(63), longDomain, ["candidate"]);
    assert.deepEqual(
      problems.map((p) => p.key),
      ["canary-release:domain"],
    );
    assert.match(problems[0].message, /more than 253/);
  });

  it("the app limit keeps every tag's host label within 63 characters", () => {
    const app = "a".repeat(MAX_APP_LENGTH);
    assert.deepEqual(
      tagHostProblems(app, "ns", "example.com", ["stable", "candidate", "latest"]),
      [],
    );
  });

  it("refuses a domain that makes a tag's host longer than 253 characters", () => {
    const domain = `${"d".repeat(60)}.`.repeat(3) + "example.com";
    const problems = problemsOf({
      ...BASE,
      "canary-release:namespace": "n".repeat(63),
      "canary-release:domain": domain,
    });
    assert.deepEqual(
      problems.map((p) => p.key),
      ["canary-release:domain", "canary-release:domain", "canary-release:domain"],
    );
  });

  it("reads platform settings: install, and versions over the pinned defaults", () => {
    const config = parseConfig(
      configWith({
        "canary-release:platform": JSON.stringify({
          install: true,
          versions: { tektonPipeline: "v1.16.0" },
        }),
      }),
    );
    assert.equal(config.platform.install, true);
    assert.deepEqual(config.platform.versions, {
      ...PLATFORM_DEFAULT_VERSIONS,
      tektonPipeline: "v1.16.0",
    });
  });

  it("reads tester settings, with the documented defaults for the rest", () => {
    const config = parseConfig(
      configWith({
        "canary-release:tester": JSON.stringify({
          path: "/healthz",
          expectBody: "^Hello",
          timeoutSeconds: "5",
        }),
      }),
    );
    assert.deepEqual(
      { ...config.tester },
      { ...TESTER_DEFAULTS, path: "/healthz", expectBody: "^Hello", timeoutSeconds: 5 },
    );
  });

  it("suggests the key a typo meant", () => {
    assert.equal(closestKnownKey("canaryPercnt"), "canaryPercent");
    assert.equal(closestKnownKey("stablerevision"), "stableRevision");
    assert.equal(closestKnownKey("somethingElseEntirely"), undefined);
  });
});

/**
 * Each bad config: the changes to BASE, and the key the message must name. Every one is run as
 * the whole program under mocks: it must fail before any resource is registered.
 */
const BAD_CONFIGS: [string, Record<string, string | undefined>, string][] = [
  ["app missing", { "canary-release:app": undefined }, "canary-release:app"],
  ["app empty", { "canary-release:app": "" }, "canary-release:app"],
  ["app upper case", { "canary-release:app": "Hello" }, "canary-release:app"],
  ["app starts with a digit", { "canary-release:app": "1hello" }, "canary-release:app"],
  ["app with underscore", { "canary-release:app": "hel_lo" }, "canary-release:app"],
  ["app ends with a dash", { "canary-release:app": "hello-" }, "canary-release:app"],
  [
    "app too long for <app>-<sha7>-smoke",
    { "canary-release:app": "a".repeat(50) },
    "canary-release:app",
  ],
  [
    "namespace with a dot",
    { "canary-release:namespace": "hello.prod" },
    "canary-release:namespace",
  ],
  ["namespace upper case", { "canary-release:namespace": "Prod" }, "canary-release:namespace"],
  [
    "namespace too long",
    { "canary-release:namespace": "n".repeat(64) },
    "canary-release:namespace",
  ],
  [
    "domain with a scheme",
    { "canary-release:domain": "https://example.com" },
    "canary-release:domain",
  ],
  ["domain upper case", { "canary-release:domain": "Example.com" }, "canary-release:domain"],
  [
    "canaryPercent fractional",
    { "canary-release:canaryPercent": "20.5" },
    "canary-release:canaryPercent",
  ],
  ["canaryPercent text", { "canary-release:canaryPercent": "abc" }, "canary-release:canaryPercent"],
  [
    "canaryPercent negative",
    { "canary-release:canaryPercent": "-1" },
    "canary-release:canaryPercent",
  ],
  [
    "canaryPercent over 100",
    { "canary-release:canaryPercent": "101" },
    "canary-release:canaryPercent",
  ],
  [
    "canaryPercent with a percent sign",
    { "canary-release:canaryPercent": "20%" },
    "canary-release:canaryPercent",
  ],
  [
    "canaryPercent without a candidate",
    { "canary-release:candidateRevision": undefined },
    "canary-release:canaryPercent",
  ],
  [
    "candidate without a stable revision",
    { "canary-release:stableRevision": undefined, "canary-release:canaryPercent": "0" },
    "canary-release:candidateRevision",
  ],
  [
    "candidate equal to stable",
    { "canary-release:candidateRevision": "hello-1111111" },
    "canary-release:candidateRevision",
  ],
  [
    "stable revision of another app",
    { "canary-release:stableRevision": "world-1111111" },
    "canary-release:stableRevision",
  ],
  [
    "candidate revision of another app",
    { "canary-release:candidateRevision": "world-2222222" },
    "canary-release:candidateRevision",
  ],
  [
    "stable revision is only the prefix",
    { "canary-release:stableRevision": "hello-" },
    "canary-release:stableRevision",
  ],
  [
    "candidate revision not a DNS label",
    { "canary-release:candidateRevision": "hello-ABC" },
    "canary-release:candidateRevision",
  ],
  [
    "revision name longer than 63",
    { "canary-release:candidateRevision": `hello-${"x".repeat(58)}` },
    "canary-release:candidateRevision",
  ],
  [
    "verifyCandidate not a boolean",
    { "canary-release:verifyCandidate": "yes" },
    "canary-release:verifyCandidate",
  ],
  ["protect not a boolean", { "canary-release:protect": "1" }, "canary-release:protect"],
  [
    "createNamespace not a boolean",
    { "canary-release:createNamespace": "True" },
    "canary-release:createNamespace",
  ],
  ["render not an object", { "canary-release:render": "out" }, "canary-release:render"],
  [
    "render without directory",
    { "canary-release:render": "{}" },
    "canary-release:render.directory",
  ],
  [
    "render with an unknown field",
    { "canary-release:render": '{"directory":"out","dir":"x"}' },
    "canary-release:render.dir",
  ],
  ["unknown key (typo)", { "canary-release:canaryPercnt": "20" }, "canary-release:canaryPercnt"],
  [
    "tester path without /",
    { "canary-release:tester": '{"path":"healthz"}' },
    "canary-release:tester.path",
  ],
  [
    "tester expectStatus out of range",
    { "canary-release:tester": '{"expectStatus":700}' },
    "canary-release:tester.expectStatus",
  ],
  [
    "tester expectBody not a regular expression",
    { "canary-release:tester": '{"expectBody":"(unclosed"}' },
    "canary-release:tester.expectBody",
  ],
  [
    "tester timeout of 0",
    { "canary-release:tester": '{"timeoutSeconds":0}' },
    "canary-release:tester.timeoutSeconds",
  ],
  [
    "tester enabled not a boolean",
    { "canary-release:tester": '{"enabled":"maybe"}' },
    "canary-release:tester.enabled",
  ],
  [
    "tester image floating on latest",
    { "canary-release:tester": '{"image":"node:latest"}' },
    "canary-release:tester.image",
  ],
  [
    "tester with an unknown field",
    { "canary-release:tester": '{"expectedStatus":200}' },
    "canary-release:tester.expectedStatus",
  ],
  [
    "allowUntestedCandidate not a boolean",
    { "canary-release:allowUntestedCandidate": "yes" },
    "canary-release:allowUntestedCandidate",
  ],
  [
    "maxStepPercent zero",
    { "canary-release:maxStepPercent": "0" },
    "canary-release:maxStepPercent",
  ],
  [
    "maxStepPercent over 100",
    { "canary-release:maxStepPercent": "150" },
    "canary-release:maxStepPercent",
  ],
  [
    "maxStepPercent with a percent sign",
    { "canary-release:maxStepPercent": "50%" },
    "canary-release:maxStepPercent",
  ],
  ["platform not an object", { "canary-release:platform": "true" }, "canary-release:platform"],
  [
    "platform.install not a boolean",
    { "canary-release:platform": '{"install":"yes"}' },
    "canary-release:platform.install",
  ],
  [
    "platform with an unknown field",
    { "canary-release:platform": '{"instal":true}' },
    "canary-release:platform.instal",
  ],
  [
    "platform.versions not an object",
    { "canary-release:platform": '{"versions":"latest"}' },
    "canary-release:platform.versions",
  ],
  [
    "platform version not pinned",
    { "canary-release:platform": '{"versions":{"knativeServing":"latest"}}' },
    "canary-release:platform.versions.knativeServing",
  ],
  [
    "platform version of an unknown component",
    { "canary-release:platform": '{"versions":{"istio":"v1.0.0"}}' },
    "canary-release:platform.versions.istio",
  ],
  [
    "platform.tagHeaderRouting not a boolean",
    { "canary-release:platform": '{"install":true,"tagHeaderRouting":"on"}' },
    "canary-release:platform.tagHeaderRouting",
  ],
  [
    "platform.tagHeaderRouting on a Knative the stack does not install",
    { "canary-release:platform": '{"tagHeaderRouting":true}' },
    "canary-release:platform",
  ],
  [
    "platform installed in render mode",
    {
      "canary-release:platform": '{"install":true}',
      "canary-release:render": '{"directory":"out"}',
    },
    "canary-release:platform",
  ],
  [
    "allowLargeStep not a boolean",
    { "canary-release:allowLargeStep": "once" },
    "canary-release:allowLargeStep",
  ],
];

describe("config: bad configs fail before any resource is registered", () => {
  it(`has at least 25 cases (${BAD_CONFIGS.length})`, () => {
    assert.ok(BAD_CONFIGS.length >= 25);
  });

  for (const [title, changes, expectedKey] of BAD_CONFIGS) {
    it(`${title}: names ${expectedKey}`, async () => {
      const run = await runProgram({ config: configWith(changes), cluster: everyRevisionPassed });
      assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
      assert.ok(
        run.error.problems.some((p) => p.key === expectedKey),
        `no problem names ${expectedKey}: ${run.error.message}`,
      );
      assert.ok(run.error.message.includes(expectedKey));
      assert.deepEqual(run.resources, [], "no resource may be registered");
    });
  }

  it("the typo's message suggests the key it meant", () => {
    const [problem] = problemsOf(configWith({ "canary-release:canaryPercnt": "20" }));
    assert.match(problem.message, /did you mean canary-release:canaryPercent\?/);
  });

  it("refuses typos in the kubernetes: and github: namespaces, from the providers' own keys", () => {
    const [context] = problemsOf(configWith({ "kubernetes:contxt": "prod" }));
    assert.equal(context.key, "kubernetes:contxt");
    assert.match(
      context.message,
      /unknown key of the kubernetes provider \(did you mean kubernetes:context\?\)/,
    );
    const [token] = problemsOf(configWith({ "github:tokn": "x" }), ["github:tokn"]);
    assert.match(token.message, /did you mean github:token\?/);
    assert.equal(token.value, undefined, "a secret is never quoted back");
    // Valid keys, however rarely used, pass; other namespaces are not ours to judge.
    for (const valid of [
      "kubernetes:enableServerSideApply",
      "kubernetes:strictMode",
      "github:owner",
      "aws:region",
    ]) {
      assert.doesNotThrow(() => parseConfig(configWith({ [valid]: "true" }), []), valid);
    }
  });

  it("knows github's keys as @pulumi/github's generated config module declares them", () => {
    const declared = Object.keys(require("@pulumi/github/config") as object).sort();
    assert.deepEqual(
      [...PROVIDER_CONFIG_KEYS.github].sort(),
      declared,
      `common/providerConfigKeys.ts github: ${JSON.stringify(declared)}`,
    );
  });

  it("an app too long for the tag host label is caught even where the per-build route fits", () => {
    // Both limits come from the same 63: the per-build route is the tighter, so it is the one
    // that names the length; the message says what fits.
    const [problem] = problemsOf({ "canary-release:app": "a".repeat(55) });
    assert.match(problem.message, /at most 49 characters \(is 55\)/);
  });
});

/** BASE plus everything build-on-push needs; credentials are stand-ins, set as secrets. */
const BUILD: Record<string, string> = {
  ...BASE,
  "canary-release:github": JSON.stringify({ owner: "acme", repository: "hello", branch: "main" }),
  "canary-release:webhook": JSON.stringify({
    host: "hooks.example.com",
    tlsSecretName: "hooks-tls",
  }),
  "canary-release:image": JSON.stringify({ repository: "registry.example.com/acme/hello" }),
  "canary-release:registryCredentials": JSON.stringify({
    auths: { "registry.example.com": { auth: "dTpw" } },
  }),
  "canary-release:testerGithubToken": "status-token-stand-in",
  "canary-release:webhookSecret": "webhook-secret-stand-in-0123456789",
  "github:token": "hooks-token-stand-in",
};
const BUILD_SECRETS = [
  "canary-release:registryCredentials",
  "canary-release:testerGithubToken",
  "canary-release:webhookSecret",
  "github:token",
];

function buildWith(changes: Record<string, string | undefined>): Record<string, string> {
  return withChanges(BUILD, changes);
}

describe("config: build on push", () => {
  it("reads github, webhook, image, source, stepImages and the credentials as secrets", async () => {
    const config = parseConfig(
      buildWith({
        "canary-release:source": '{"contextDir":"app","dockerfile":"build/Dockerfile"}',
        "canary-release:stepImages": '{"node":"node:24-alpine"}',
      }),
      BUILD_SECRETS,
    );
    assert.deepEqual(
      { ...config.github, token: undefined },
      {
        owner: "acme",
        repository: "hello",
        branch: "main",
        registerWebhook: true,
        token: undefined,
      },
    );
    assert.deepEqual(config.webhook, {
      host: "hooks.example.com",
      tlsSecretName: "hooks-tls",
      externalTls: false,
      allowPlainHttp: false,
    });
    assert.deepEqual(config.image, {
      repository: "registry.example.com/acme/hello",
      insecureRegistry: false,
    });
    assert.deepEqual(config.source, { contextDir: "app", dockerfile: "build/Dockerfile" });
    assert.deepEqual(config.stepImages, { node: "node:24-alpine" });
    const { promiseOf } = await import("../conformance/programRunner");
    const pulumi = await import("@pulumi/pulumi");
    for (const secret of [
      config.github?.token,
      config.registryCredentials,
      config.testerGithubToken,
    ]) {
      assert.ok(
        secret !== undefined && (await pulumi.isSecret(secret)),
        "a credential is a secret Output",
      );
    }
    assert.equal(await promiseOf(config.github?.token ?? ""), "hooks-token-stand-in");
  });

  it("defaults: branch main, source . and Dockerfile, no plain http", () => {
    const config = parseConfig(
      buildWith({ "canary-release:github": '{"owner":"acme","repository":"hello"}' }),
      BUILD_SECRETS,
    );
    assert.equal(config.github?.branch, "main");
    assert.deepEqual(config.source, { contextDir: ".", dockerfile: "Dockerfile" });
    assert.equal(config.webhook?.allowPlainHttp, false);
  });

  it("accepts a ClusterIssuer instead of a TLS Secret, and plain http when allowed", () => {
    const issuer = parseConfig(
      buildWith({
        "canary-release:webhook": '{"host":"hooks.example.com","clusterIssuer":"letsencrypt"}',
      }),
      BUILD_SECRETS,
    );
    assert.equal(issuer.webhook?.clusterIssuer, "letsencrypt");
    const plain = parseConfig(
      buildWith({ "canary-release:webhook": '{"host":"hooks.example.com","allowPlainHttp":true}' }),
      BUILD_SECRETS,
    );
    assert.equal(plain.webhook?.allowPlainHttp, true);
    const tunnel = parseConfig(
      buildWith({ "canary-release:webhook": '{"host":"hooks.example.com","externalTls":true}' }),
      BUILD_SECRETS,
    );
    assert.equal(tunnel.webhook?.externalTls, true);
  });

  it("never quotes a credential in an error", () => {
    const problems = problemsOf(
      buildWith({ "canary-release:registryCredentials": "hunter2-not-json" }),
    );
    const message = new ConfigError(problems).message;
    assert.doesNotMatch(message, /hunter2/);
    assert.match(message, /canary-release:registryCredentials: .*must be a secret/);
    assert.match(message, /must be docker config JSON/);
  });

  const cases: [string, Record<string, string | undefined>, string][] = [
    [
      "github without owner",
      { "canary-release:github": '{"repository":"hello"}' },
      "canary-release:github.owner",
    ],
    [
      "github owner with a slash",
      { "canary-release:github": '{"owner":"acme/x","repository":"hello"}' },
      "canary-release:github.owner",
    ],
    [
      "github repository with the owner",
      { "canary-release:github": '{"owner":"acme","repository":"acme/hello"}' },
      "canary-release:github.repository",
    ],
    [
      "github branch given as a ref",
      {
        "canary-release:github": '{"owner":"acme","repository":"hello","branch":"refs/heads/main"}',
      },
      "canary-release:github.branch",
    ],
    [
      "github branch with a space",
      { "canary-release:github": '{"owner":"acme","repository":"hello","branch":"my branch"}' },
      "canary-release:github.branch",
    ],
    [
      "github with an unknown field",
      { "canary-release:github": '{"owner":"acme","repository":"hello","repo":"x"}' },
      "canary-release:github.repo",
    ],
    ["github not an object", { "canary-release:github": "acme/hello" }, "canary-release:github"],
    ["github without image", { "canary-release:image": undefined }, "canary-release:github"],
    ["github without webhook", { "canary-release:webhook": undefined }, "canary-release:github"],
    ["github without github:token", { "github:token": undefined }, "github:token"],
    [
      "github without webhookSecret",
      { "canary-release:webhookSecret": undefined },
      "canary-release:webhookSecret",
    ],
    [
      "a webhookSecret too short to resist guessing",
      { "canary-release:webhookSecret": "short" },
      "canary-release:webhookSecret",
    ],
    [
      "github.registerWebhook not a boolean",
      { "canary-release:github": '{"owner":"acme","repository":"hello","registerWebhook":"no"}' },
      "canary-release:github.registerWebhook",
    ],
    ["webhook without github", { "canary-release:github": undefined }, "canary-release:webhook"],
    [
      "webhook without TLS",
      { "canary-release:webhook": '{"host":"hooks.example.com"}' },
      "canary-release:webhook",
    ],
    [
      "webhook host with a scheme",
      { "canary-release:webhook": '{"host":"https://hooks.example.com","tlsSecretName":"t"}' },
      "canary-release:webhook.host",
    ],
    [
      "webhook externalTls with a certificate at the Ingress too",
      {
        "canary-release:webhook":
          '{"host":"h.example.com","tlsSecretName":"hooks-tls","externalTls":true}',
      },
      "canary-release:webhook.externalTls",
    ],
    [
      "webhook allowPlainHttp not a boolean",
      { "canary-release:webhook": '{"host":"h.example.com","allowPlainHttp":"yes"}' },
      "canary-release:webhook.allowPlainHttp",
    ],
    [
      "image with a tag",
      { "canary-release:image": '{"repository":"registry.example.com/hello:latest"}' },
      "canary-release:image.repository",
    ],
    [
      "image with upper case",
      { "canary-release:image": '{"repository":"registry.example.com/Hello"}' },
      "canary-release:image.repository",
    ],
    [
      "image without repository",
      { "canary-release:image": "{}" },
      "canary-release:image.repository",
    ],
    [
      "source outside the repository",
      { "canary-release:source": '{"contextDir":"../other"}' },
      "canary-release:source.contextDir",
    ],
    [
      "absolute dockerfile",
      { "canary-release:source": '{"dockerfile":"/Dockerfile"}' },
      "canary-release:source.dockerfile",
    ],
    [
      "step image with a space",
      { "canary-release:stepImages": '{"node":"node 24"}' },
      "canary-release:stepImages.node",
    ],
    [
      "step image floating on latest",
      { "canary-release:stepImages": '{"node":"node:latest"}' },
      "canary-release:stepImages.node",
    ],
    [
      "step image without a tag or digest",
      { "canary-release:stepImages": '{"git":"alpine/git"}' },
      "canary-release:stepImages.git",
    ],
    [
      "image registry host starting with a dash",
      { "canary-release:image": '{"repository":"-registry.io/team/hello"}' },
      "canary-release:image.repository",
    ],
    [
      "source context with a newline",
      { "canary-release:source": '{"contextDir":"app\\nrm -rf /"}' },
      "canary-release:source.contextDir",
    ],
    [
      "source context with a Tekton variable",
      { "canary-release:source": '{"contextDir":"$(params.revision)"}' },
      "canary-release:source.contextDir",
    ],
    [
      "dockerfile with a trailing space",
      { "canary-release:source": '{"dockerfile":"Dockerfile "}' },
      "canary-release:source.dockerfile",
    ],
    [
      "image registry host with an empty label",
      { "canary-release:image": '{"repository":"registry..example.com/hello"}' },
      "canary-release:image.repository",
    ],
    [
      "image whose first part is upper case but no registry host (issue 15, fault 13)",
      { "canary-release:image": '{"repository":"UPPER/x"}' },
      "canary-release:image.repository",
    ],
    [
      "step image whose first part is upper case but no registry host",
      { "canary-release:stepImages": '{"node":"Library/node:24.11.1"}' },
      "canary-release:stepImages.node",
    ],
    [
      "dockerfile with an escape character",
      { "canary-release:source": '{"dockerfile":"Docker\\u001bfile"}' },
      "canary-release:source.dockerfile",
    ],
    [
      "step image for an unknown step",
      { "canary-release:stepImages": '{"kaniko":"x"}' },
      "canary-release:stepImages.kaniko",
    ],
    [
      "registryCredentials not docker config JSON",
      { "canary-release:registryCredentials": '{"user":"u"}' },
      "canary-release:registryCredentials",
    ],
  ];
  for (const [title, changes, expectedKey] of cases) {
    it(`${title}: names ${expectedKey}, registers nothing`, async () => {
      const config = buildWith(changes);
      const run = await runProgram({
        config,
        secretKeys: BUILD_SECRETS.filter((name) => name in config),
        cluster: everyRevisionPassed,
      });
      assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
      assert.ok(
        run.error.problems.some((p) => p.key === expectedKey),
        `no problem names ${expectedKey}: ${run.error.message}`,
      );
      assert.deepEqual(run.resources, []);
    });
  }

  it("never quotes a value set with --secret, whichever rule it breaks", () => {
    const config = buildWith({
      "canary-release:domain": "NOT A DOMAIN",
      "canary-release:webhook": '{"host":"https://hooks.example.com","tlsSecretName":"t"}',
    });
    const problems = problemsOf(config, [
      ...BUILD_SECRETS.filter((name) => name in config),
      "canary-release:domain",
      "canary-release:webhook",
    ]);
    const keys = problems.map((p) => p.key);
    assert.ok(
      keys.includes("canary-release:domain") && keys.includes("canary-release:webhook.host"),
    );
    for (const problem of problems) assert.equal(problem.value, undefined, problem.key);
    assert.ok(
      problems.every((p) => !p.message.includes("NOT A DOMAIN") && !p.message.includes("https://")),
    );
  });

  it("the prod stack file with a floating step image and a step to 50 % registers nothing", async () => {
    // Reported: 13 custom resources, the production Route at 50/50 among them, were registered
    // before the build pipeline refused the image: a half-applied update of production traffic.
    const prod = prodStack(PROD_CANARY_IN_PROGRESS);
    const run = await runProgram({
      config: {
        ...prod.config,
        "canary-release:stepImages": '{"node":"node:latest"}',
        "canary-release:canaryPercent": "50",
      },
      secretKeys: prod.secretKeys,
      cluster: everyRevisionPassed,
    });
    assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
    assert.match(
      run.error.message,
      /canary-release:stepImages\.node = "node:latest": must not float on `latest`/,
    );
    assert.deepEqual(run.resources, [], "not even the provider");
  });

  for (const credential of BUILD_SECRETS) {
    it(`${credential} set in plain text is refused`, () => {
      const problems = problemsOf(BUILD);
      assert.ok(problems.some((p) => p.key === credential && /must be a secret/.test(p.message)));
    });
  }
});
