// Reads and validates the whole stack configuration once, into one typed, frozen object.
// Components never read config themselves: they take typed args built from this object, so a
// run under mocks and a real `pulumi up` see exactly the same values and defaults.
import { enableTagHeaderRoutingCommand } from "./common/knativeFeatures";
import * as pulumi from "@pulumi/pulumi";
import { isDns1035Label, isDnsHostName, MAX_LABEL_LENGTH } from "./common/dnsNames";
import { isHeaderSafeToken } from "./common/httpHeaders";
import { imageRepositoryProblem, pinnedImageProblem } from "./common/images";
import { repositoryPathProblem } from "./common/repositoryPaths";
import { PROVIDER_CONFIG_KEYS } from "./common/providerConfigKeys";
import { closestName } from "./common/suggest";
import {
  PLATFORM_DEFAULT_VERSIONS,
  PLATFORM_VERSION_FIELDS,
  platformVersionProblem,
  PlatformVersions,
} from "./common/platformVersions";
import { trafficFor } from "./common/traffic";
import {
  ConfigKeyName,
  DEFAULTS,
  KNOWN_KEYS,
  objectKeyFields,
  SECRET_KEY_NAMES,
  WHOLE_NUMBER_KEYS,
} from "./configKeys";

export { DEFAULTS, KNOWN_KEYS, WHOLE_NUMBER_KEYS };

export const PROJECT = "canary-release";

/** `text` as a whole number from `min` to `max` (digits only, spaces around allowed), or undefined. */
export function parseWholeNumber(text: string, min: number, max: number): number | undefined {
  const trimmed = text.trim();
  const parsed = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  return Number.isInteger(parsed) && parsed >= min && parsed <= max ? parsed : undefined;
}

/** What a whole-number key must be, as every message says it. */
export function wholeNumberRule(min: number, max: number): string {
  return `must be a whole number from ${min} to ${max}`;
}

/** `<app>-<7 hex chars>-smoke` (the per-build revision's test route) must fit in one label. */
export const PER_BUILD_SUFFIX_LENGTH = "-0123456-smoke".length;
export const MAX_APP_LENGTH = MAX_LABEL_LENGTH - PER_BUILD_SUFFIX_LENGTH;

export interface RenderConfig {
  /** Directory the Kubernetes provider writes manifests to instead of applying them. */
  readonly directory: string;
}

export interface KubernetesConfig {
  /** `kubernetes:context`: the kubeconfig context of this stack's cluster. */
  readonly context?: string;
  /** `kubernetes:kubeconfig`: a path or the kubeconfig itself; always handled as a secret. */
  readonly kubeconfig?: pulumi.Output<string>;
}

/** `github`: the repository whose pushes are built. */
export interface GitHubConfig {
  readonly owner: string;
  /** The repository's name only, without the owner. */
  readonly repository: string;
  /** Only pushes to exactly this branch are built. Default `main`. */
  readonly branch: string;
  /** `github:token` (secret): manages the repository's webhook. Not needed to render. */
  readonly token?: pulumi.Output<string>;
  /**
   * Register the webhook on the repository (default true). False: the stack builds everything
   * else and the webhook is added by hand (or by another tool), so no github:token is needed.
   */
  readonly registerWebhook: boolean;
}

/** The GitHub REST API's root when `githubDeployments.apiUrl` is unset. */
export const GITHUB_API_URL = "https://api.github.com";

/**
 * `githubDeployments`: the canary command records each canary as a GitHub Deployment of the
 * candidate's commit in `github.owner`/`github.repository`. On when it has a token.
 */
export interface GithubDeploymentsConfig {
  /** The GitHub environment; unset: the stack's name (known to the command, not to config.ts). */
  readonly environment?: string;
  /** The REST API's root: GITHUB_API_URL, or GitHub Enterprise Server's `https://<host>/api/v3`. */
  readonly apiUrl: string;
  /**
   * The key whose (decrypted) value is the token: `githubDeploymentsToken`, or `github:token`
   * only when the user said so (`githubDeployments.useGithubToken`), since that token manages
   * webhooks and is broader than deployments need.
   */
  readonly tokenKey: typeof DEPLOYMENTS_TOKEN_KEY | "github:token";
}

export const DEPLOYMENTS_TOKEN_KEY = `${PROJECT}:githubDeploymentsToken` as const;

/** `webhook`: the public entry through which GitHub reaches the EventListener. */
export interface WebhookConfig {
  readonly host: string;
  readonly ingressClassName?: string;
  /** Secret with the TLS certificate; with clusterIssuer, where cert-manager writes it. */
  readonly tlsSecretName?: string;
  /** cert-manager ClusterIssuer that issues the certificate. */
  readonly clusterIssuer?: string;
  /**
   * TLS ends in front of the Ingress (a tunnel, a load balancer): GitHub is given `https://`,
   * the Ingress itself serves plain http.
   */
  readonly externalTls: boolean;
  /** Accept a webhook without any TLS: GitHub is given `http://`. */
  readonly allowPlainHttp: boolean;
}

/** `image`: where the pipeline pushes what it builds. */
export interface ImageConfig {
  /** Image repository without tag or digest, e.g. `registry.example.com/team/hello`. */
  readonly repository: string;
  /** Push without TLS verification: a plain-HTTP registry such as kind's local one. */
  readonly insecureRegistry: boolean;
}

/** `source`: where the Dockerfile sits inside the application repository. */
export interface SourceConfig {
  /** Build context, relative to the repository root. Default `.`. */
  readonly contextDir: string;
  /** Dockerfile, relative to the build context. Default `Dockerfile`. */
  readonly dockerfile: string;
}

/** `stepImages`: images of the pipeline's steps; unset ones use the pinned defaults. */
export interface StepImagesConfig {
  readonly git?: string;
  readonly buildah?: string;
  readonly node?: string;
}

/** `tester`: the revision tester's smoke test of every new revision. */
export interface TesterConfig {
  readonly enabled: boolean;
  /** Path requested on the revision, e.g. `/` or `/healthz`. */
  readonly path: string;
  readonly expectStatus: number;
  /** A regular expression the response body must match; unset: any body. */
  readonly expectBody?: string;
  readonly timeoutSeconds: number;
  /** Node.js LTS image the tester runs on. */
  readonly image: string;
}

export const TESTER_DEFAULTS = Object.freeze({
  enabled: true,
  path: "/",
  expectStatus: 200,
  timeoutSeconds: 10,
  image: "docker.io/library/node:22.18.0-alpine3.22",
});

/** `platform`: install Tekton and Knative from pinned release manifests (a kind cluster). */
export interface PlatformConfig {
  readonly install: boolean;
  /** Turn on Knative's tag-header routing (config-features) where the stack installs Knative. */
  readonly tagHeaderRouting: boolean;
  /** Release tags; unset fields use PLATFORM_DEFAULT_VERSIONS. */
  readonly versions: PlatformVersions;
}

export interface CanaryConfig {
  readonly app: string;
  readonly namespace: string;
  readonly createNamespace: boolean;
  readonly domain: string;
  readonly stableRevision?: string;
  readonly candidateRevision?: string;
  readonly canaryPercent: number;
  readonly verifyCandidate: boolean;
  readonly protect: boolean;
  readonly render?: RenderConfig;
  readonly kubernetes: KubernetesConfig;
  readonly github?: GitHubConfig;
  readonly webhook?: WebhookConfig;
  readonly image?: ImageConfig;
  readonly source: SourceConfig;
  readonly stepImages: StepImagesConfig;
  /** `registryCredentials` (secret): docker config JSON for pushing and pulling images. */
  readonly registryCredentials?: pulumi.Output<string>;
  /** `testerGithubToken` (secret): a token that may only post commit statuses. */
  readonly testerGithubToken?: pulumi.Output<string>;
  /** `webhookSecret` (secret): what GitHub signs deliveries with; required with `github`. */
  readonly webhookSecret?: pulumi.Output<string>;
  /** Where the canary command records deployments; unset: it records none. */
  readonly githubDeployments?: GithubDeploymentsConfig;
  /** `githubDeploymentsToken` (secret): a token that may only write deployments. */
  readonly githubDeploymentsToken?: pulumi.Output<string>;
  readonly tester: TesterConfig;
  readonly platform: PlatformConfig;
  /** Let a candidate that has not passed its smoke test get traffic (Ready is still required). */
  readonly allowUntestedCandidate: boolean;
  /** The most percentage points one update may add to any revision's share, 1..100. */
  readonly maxStepPercent: number;
  /** Let one update add more than maxStepPercent (the preview warns). */
  readonly allowLargeStep: boolean;
  /**
   * Publish the `candidate` and `latest` tag URLs like the production URL. Default false: they
   * serve revisions that may not have passed their smoke test, so they stay cluster-local.
   */
  readonly publicTagUrls: boolean;
}

/**
 * The key table and the typed config name the same keys: the compiler names a key that is in
 * configKeys.ts but not in CanaryConfig (tableOnly), or in CanaryConfig but not in the table
 * (typeOnly; `kubernetes` is the provider's namespace, not a project key).
 */
export const KEY_TABLE_AND_TYPE_AGREE: {
  readonly tableOnly: Record<Exclude<ConfigKeyName, keyof CanaryConfig>, never>;
  readonly typeOnly: Record<Exclude<keyof CanaryConfig, ConfigKeyName | "kubernetes">, never>;
} = { tableOnly: {}, typeOnly: {} };

/** One thing wrong with the config: which key, the value found, and what would be valid. */
export interface ConfigProblem {
  readonly key: string;
  readonly value?: string;
  readonly message: string;
}

/**
 * Every problem of the stack config at once, so a user fixes them in one round. A RunError makes
 * Pulumi print the message without a stack trace: the trace would only point at this file.
 */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(formatProblems(problems));
    this.name = "ConfigError";
  }
}

function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) => {
    const value = p.value === undefined ? "" : ` = ${JSON.stringify(p.value)}`;
    return `  - ${p.key}${value}: ${p.message}`;
  });
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return `Invalid stack configuration (${count}):\n${lines.join("\n")}\nFix with \`pulumi config set KEY VALUE\` (or \`pulumi config rm KEY\`) and run again.`;
}

/** Keys whose values are credentials: they must be set with `pulumi config set --secret`. */
export const SECRET_KEYS = Object.freeze([
  ...SECRET_KEY_NAMES.map((name) => `${PROJECT}:${name}`),
  "github:token",
]);

export const SOURCE_DEFAULTS = Object.freeze({ contextDir: ".", dockerfile: "Dockerfile" });
export const DEFAULT_BRANCH = "main";

/**
 * Raw config as the Pulumi runtime holds it: full keys (`canary-release:app`,
 * `kubernetes:context`) to string values (objects arrive as JSON text).
 */
export type RawConfig = Readonly<Record<string, string>>;

const key = (name: string): string => (name.includes(":") ? name : `${PROJECT}:${name}`);

const DNS_1035_LABEL_TEXT =
  "must be a DNS-1035 label: at most 63 lowercase letters, digits and '-', " +
  "starting with a letter and ending with a letter or digit";
const DNS_SUBDOMAIN_TEXT =
  "must be a lowercase DNS name (letters, digits, '-' and '.'), e.g. `hooks.example.com`";

/** Reads raw config values and collects every problem instead of stopping at the first. */
class ConfigReader {
  readonly problems: ConfigProblem[] = [];

  constructor(
    private readonly raw: RawConfig,
    private readonly secretKeys: ReadonlySet<string>,
  ) {}

  problem(name: string, value: string | undefined, message: string): void {
    // A value set with --secret is never quoted back, whichever rule it broke (fields
    // included: `webhook.host` of a secret `webhook`).
    const topLevel = key(name.split(".")[0]);
    const shown =
      this.secretKeys.has(topLevel) || this.secretKeys.has(key(name)) ? undefined : value;
    this.problems.push({
      key: key(name),
      ...(shown !== undefined ? { value: shown } : {}),
      message,
    });
  }

  text(name: string): string | undefined {
    return this.raw[key(name)];
  }

  /** A string value; unset or blank is undefined. */
  optionalText(name: string): string | undefined {
    const value = this.text(name);
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.text(name);
    if (value === undefined) return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    this.problem(name, value, "must be true or false");
    return fallback;
  }

  /** A whole number within [min, max] (the CLI stores every scalar as text). */
  wholeNumber(name: string, fallback: number, min: number, max: number, meaning?: string): number {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const parsed = parseWholeNumber(value, min, max);
    if (parsed !== undefined) return parsed;
    const why = meaning === undefined ? "" : ` (${meaning})`;
    this.problem(name, value, `${wholeNumberRule(min, max)}${why}`);
    return fallback;
  }

  /**
   * An object key (`pulumi config set --path github.owner acme`): its fields as given, or
   * undefined when unset or not an object. Its fields and example come from the key table
   * (configKeys.ts); unknown fields are reported: a misspelt optional field would otherwise be
   * ignored without a word.
   */
  object(name: ConfigKeyName): ConfigObject | undefined {
    const { fields, example } = objectKeyFields(name);
    const value = this.text(name);
    if (value === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    return objectFields(this, name, parsed, value, fields, example);
  }

  /**
   * A credential: refused unless set with --secret (a plaintext value would be committed in
   * Pulumi.<stack>.yaml), and returned as a secret Output. `check` sees the plaintext to
   * validate its shape; problems never quote the value.
   */
  secret(
    name: string,
    check?: (plain: string) => string | undefined,
  ): pulumi.Output<string> | undefined {
    const value = this.text(name);
    if (value === undefined || value === "") return undefined;
    if (!this.secretKeys.has(key(name))) {
      this.problem(
        name,
        undefined,
        `is a credential and must be a secret: \`pulumi config set --secret ${key(name)} …\` ` +
          "(a plain value would be committed in Pulumi.<stack>.yaml)",
      );
    }
    const problem = check?.(value);
    if (problem !== undefined) this.problem(name, undefined, problem);
    return pulumi.secret(value);
  }
}

/** The fields of one object-valued key, read with problems reported under `key.field`. */
class ConfigObject {
  constructor(
    private readonly reader: ConfigReader,
    private readonly name: string,
    private readonly fields: Readonly<Record<string, unknown>>,
  ) {}

  /** A string field; `check` returns what is wrong with a value, or undefined. */
  text(
    field: string,
    options: { required?: boolean; check?: (value: string) => string | undefined } = {},
  ): string | undefined {
    const value = this.fields[field];
    const at = `${this.name}.${field}`;
    if (value === undefined || value === null || value === "") {
      if (options.required) this.reader.problem(at, undefined, "required");
      return undefined;
    }
    if (typeof value !== "string") {
      this.reader.problem(at, JSON.stringify(value), "must be a string");
      return undefined;
    }
    const problem = options.check?.(value);
    if (problem !== undefined) {
      this.reader.problem(at, value, problem);
      return undefined;
    }
    return value;
  }

  /** A whole-number field within [min, max]; the CLI stores `--path x.n 5` as a JSON number. */
  integer(field: string, fallback: number, min: number, max: number): number {
    const value = this.fields[field];
    if (value === undefined) return fallback;
    // The CLI stores `--path x.n 5` as a JSON number; a hand-written file may quote it.
    const parsed =
      typeof value === "number" ? parseWholeNumber(String(value), min, max) : undefined;
    const result =
      parsed ?? (typeof value === "string" ? parseWholeNumber(value, min, max) : undefined);
    if (result !== undefined) return result;
    this.reader.problem(`${this.name}.${field}`, JSON.stringify(value), wholeNumberRule(min, max));
    return fallback;
  }

  /** An object field (`--path platform.versions.tektonPipeline v1.15.0`), read like a key. */
  object(field: string, fields: readonly string[], example: string): ConfigObject | undefined {
    const value = this.fields[field];
    if (value === undefined || value === null) return undefined;
    const at = `${this.name}.${field}`;
    return objectFields(this.reader, at, value, JSON.stringify(value), fields, example);
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.fields[field];
    if (value === undefined) return fallback;
    // The CLI stores `--path x.flag true` as a JSON boolean, a hand-written file may quote it.
    if (value === true || value === "true") return true;
    if (value === false || value === "false") return false;
    this.reader.problem(`${this.name}.${field}`, JSON.stringify(value), "must be true or false");
    return fallback;
  }
}

/**
 * `value` as the fields of an object-valued key or field `at`, or undefined (then reported,
 * quoting `shown`). Unknown fields are reported too: a misspelt optional field would otherwise
 * be ignored without a word.
 */
function objectFields(
  reader: ConfigReader,
  at: string,
  value: unknown,
  shown: string,
  fields: readonly string[],
  example: string,
): ConfigObject | undefined {
  const expected = `must be an object {${fields.join(", ")}}, e.g. \`${example}\``;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    reader.problem(at, shown, expected);
    return undefined;
  }
  const record = value as Record<string, unknown>;
  for (const field of Object.keys(record)) {
    if (!fields.includes(field)) {
      reader.problem(`${at}.${field}`, undefined, `unknown field; ${expected}`);
    }
  }
  return new ConfigObject(reader, at, record);
}

/**
 * Parses and validates raw config. Pure apart from wrapping credentials in secret Outputs: no
 * Pulumi runtime access, so every rule is tested directly. `secretKeys` lists the keys that were
 * set with --secret.
 */
export function parseConfig(
  raw: RawConfig,
  secretKeys: readonly string[] = [],
): Readonly<CanaryConfig> {
  const read = new ConfigReader(raw, new Set(secretKeys));
  reportUnknownKeys(read, raw);

  const validApp = readApp(read);
  const namespace = read.text("namespace") ?? DEFAULTS.namespace;
  if (!isDns1035Label(namespace)) read.problem("namespace", namespace, DNS_1035_LABEL_TEXT);

  const domain = read.text("domain") ?? DEFAULTS.domain;
  if (!isDnsHostName(domain)) {
    read.problem(
      "domain",
      domain,
      "must be a lowercase DNS name such as `example.com` or `127.0.0.1.sslip.io` " +
        "(the domain Knative Serving's config-domain gives routes)",
    );
  }

  const createNamespace = read.boolean("createNamespace", DEFAULTS.createNamespace);
  const verifyCandidate = read.boolean("verifyCandidate", DEFAULTS.verifyCandidate);
  const allowUntestedCandidate = read.boolean(
    "allowUntestedCandidate",
    DEFAULTS.allowUntestedCandidate,
  );
  const protect = read.boolean("protect", DEFAULTS.protect);
  const maxStepPercent = read.wholeNumber(
    "maxStepPercent",
    DEFAULTS.maxStepPercent,
    WHOLE_NUMBER_KEYS.maxStepPercent.min,
    WHOLE_NUMBER_KEYS.maxStepPercent.max,
    "the most percentage points one update may add to a revision's share",
  );
  const allowLargeStep = read.boolean("allowLargeStep", DEFAULTS.allowLargeStep);
  const publicTagUrls = read.boolean("publicTagUrls", DEFAULTS.publicTagUrls);
  const { stableRevision, candidateRevision, canaryPercent } = readTrafficKeys(read, validApp);

  if (validApp !== undefined && read.problems.length === 0) {
    const plan = { app: validApp, stableRevision, candidateRevision, canaryPercent };
    const tags = trafficFor(plan).flatMap((target) => (target.tag ? [target.tag] : []));
    read.problems.push(...tagHostProblems(validApp, namespace, domain, tags));
  }

  const render = readRender(read);
  const tester = readTester(read);
  const platform = readPlatform(read, render !== undefined);
  const build = readBuildConfig(read, render !== undefined);
  const context = read.optionalText("kubernetes:context");
  // Not trimmed: it may be the kubeconfig itself, passed on byte for byte.
  const kubeconfigText = read.text("kubernetes:kubeconfig");
  const kubeconfig = kubeconfigText?.trim() ? kubeconfigText : undefined;

  // validApp is always set when there is no problem; the second test is for the compiler.
  if (read.problems.length > 0 || validApp === undefined) throw new ConfigError(read.problems);

  return Object.freeze({
    app: validApp,
    namespace,
    createNamespace,
    domain,
    ...(stableRevision !== undefined ? { stableRevision } : {}),
    ...(candidateRevision !== undefined ? { candidateRevision } : {}),
    canaryPercent,
    verifyCandidate,
    allowUntestedCandidate,
    maxStepPercent,
    allowLargeStep,
    publicTagUrls,
    protect,
    tester,
    platform,
    ...(render !== undefined ? { render } : {}),
    kubernetes: Object.freeze({
      ...(context !== undefined ? { context } : {}),
      // A kubeconfig's contents are credentials; a path is harmless as a secret too.
      ...(kubeconfig !== undefined ? { kubeconfig: pulumi.secret(kubeconfig) } : {}),
    }),
    ...build,
  });
}

/**
 * Any other `canary-release:` key is most likely a typo: refuse it, naming the likely key. So is
 * a key a provider the program uses does not declare (common/providerConfigKeys.ts).
 */
function reportUnknownKeys(read: ConfigReader, raw: RawConfig): void {
  for (const fullKey of Object.keys(raw).sort()) {
    const [namespace, ...rest] = fullKey.split(":");
    const providerKeys = PROVIDER_CONFIG_KEYS[namespace];
    const providerKey = rest.join(":");
    if (providerKeys !== undefined && !providerKeys.includes(providerKey)) {
      const hint = closestName(providerKey, providerKeys);
      read.problem(
        fullKey,
        undefined,
        `unknown key of the ${namespace} provider` +
          (hint !== undefined ? ` (did you mean ${namespace}:${hint}?)` : "") +
          `; its keys: ${providerKeys.join(", ")}`,
      );
      continue;
    }
    if (!fullKey.startsWith(`${PROJECT}:`)) continue;
    const name = fullKey.slice(PROJECT.length + 1);
    if (!(KNOWN_KEYS as readonly string[]).includes(name)) {
      const hint = closestKnownKey(name);
      read.problem(
        name,
        undefined,
        `unknown key${hint ? ` (did you mean ${key(hint)}?)` : ""}; known keys: ${KNOWN_KEYS.join(", ")}`,
      );
    }
  }
}

/** `app`, or undefined when it is missing or invalid (then reported). */
function readApp(read: ConfigReader): string | undefined {
  const app = read.text("app");
  if (app === undefined || app === "") {
    read.problem(
      "app",
      app,
      "required: the name of the Knative Configuration and Route, e.g. `hello`",
    );
  } else if (!isDns1035Label(app)) {
    read.problem("app", app, DNS_1035_LABEL_TEXT);
  } else if (app.length > MAX_APP_LENGTH) {
    read.problem(
      "app",
      app,
      `at most ${MAX_APP_LENGTH} characters (is ${app.length}), so that the per-build test route ` +
        `\`<app>-<sha7>-smoke\` fits in a ${MAX_LABEL_LENGTH}-character DNS label`,
    );
  } else {
    return app;
  }
  return undefined;
}

/** canaryPercent and the two revisions, each valid on its own and together. */
function readTrafficKeys(
  read: ConfigReader,
  validApp: string | undefined,
): { stableRevision?: string; candidateRevision?: string; canaryPercent: number } {
  const canaryPercent = read.wholeNumber(
    "canaryPercent",
    DEFAULTS.canaryPercent,
    WHOLE_NUMBER_KEYS.canaryPercent.min,
    WHOLE_NUMBER_KEYS.canaryPercent.max,
  );

  const stableRevision = read.optionalText("stableRevision");
  const candidateRevision = read.optionalText("candidateRevision");
  for (const [name, revision] of [
    ["stableRevision", stableRevision],
    ["candidateRevision", candidateRevision],
  ] as const) {
    // Against an invalid app every revision name would be wrong too: report the app alone.
    if (revision === undefined || validApp === undefined) continue;
    if (!revision.startsWith(`${validApp}-`) || revision.length === validApp.length + 1) {
      read.problem(
        name,
        revision,
        `must name a revision of the Configuration \`${validApp}\`: \`${validApp}-<suffix>\`, ` +
          `as the pipeline names them (\`${validApp}-<first 7 chars of the commit>\`)`,
      );
    } else if (!isDns1035Label(revision)) {
      read.problem(name, revision, DNS_1035_LABEL_TEXT);
    }
  }

  if (candidateRevision !== undefined && stableRevision === undefined) {
    read.problem(
      "candidateRevision",
      candidateRevision,
      `a candidate needs a stable revision to share traffic with: set ${key("stableRevision")} too`,
    );
  }
  if (candidateRevision !== undefined && candidateRevision === stableRevision) {
    read.problem(
      "candidateRevision",
      candidateRevision,
      `must differ from ${key("stableRevision")}; to promote, set stableRevision to it and ` +
        `remove candidateRevision`,
    );
  }
  if (canaryPercent > 0 && candidateRevision === undefined) {
    read.problem(
      "canaryPercent",
      String(canaryPercent),
      `must be 0 without a candidate: set ${key("candidateRevision")} first`,
    );
  }
  return {
    ...(stableRevision !== undefined ? { stableRevision } : {}),
    ...(candidateRevision !== undefined ? { candidateRevision } : {}),
    canaryPercent,
  };
}

function readRender(read: ConfigReader): RenderConfig | undefined {
  const render = read.object("render");
  if (render === undefined) return undefined;
  const directory = render.text("directory", { required: true });
  return directory === undefined ? undefined : Object.freeze({ directory });
}

function readTester(read: ConfigReader): TesterConfig {
  const tester = read.object("tester");
  const expectBody = tester?.text("expectBody", {
    check: (value) => {
      try {
        new RegExp(value);
        return undefined;
      } catch (error) {
        return `must be a regular expression (${error instanceof Error ? error.message : error})`;
      }
    },
  });
  return Object.freeze({
    enabled: tester?.boolean("enabled", TESTER_DEFAULTS.enabled) ?? TESTER_DEFAULTS.enabled,
    path:
      tester?.text("path", {
        check: (value) =>
          /^\/\S*$/.test(value) ? undefined : "must be a URL path starting with /, e.g. /healthz",
      }) ?? TESTER_DEFAULTS.path,
    expectStatus:
      tester?.integer("expectStatus", TESTER_DEFAULTS.expectStatus, 100, 599) ??
      TESTER_DEFAULTS.expectStatus,
    ...(expectBody !== undefined ? { expectBody } : {}),
    timeoutSeconds:
      tester?.integer("timeoutSeconds", TESTER_DEFAULTS.timeoutSeconds, 1, 300) ??
      TESTER_DEFAULTS.timeoutSeconds,
    image: tester?.text("image", { check: pinnedImageProblem }) ?? TESTER_DEFAULTS.image,
  });
}

function readPlatform(read: ConfigReader, renderOnly: boolean): PlatformConfig {
  const platform = read.object("platform");
  const install = platform?.boolean("install", false) ?? false;
  const tagHeaderRouting = platform?.boolean("tagHeaderRouting", false) ?? false;
  if (tagHeaderRouting && !install) {
    // The stack changes Knative's config only where it installs Knative.
    read.problem(
      "platform",
      undefined,
      `tagHeaderRouting needs ${key("platform")}.install true; on a cluster whose Knative you ` +
        `installed yourself, turn it on there: ${enableTagHeaderRoutingCommand()}`,
    );
  }
  const versionsObject = platform?.object(
    "versions",
    PLATFORM_VERSION_FIELDS,
    `pulumi config set --path platform.versions.tektonPipeline ${PLATFORM_DEFAULT_VERSIONS.tektonPipeline}`,
  );
  const versions: Partial<Record<keyof PlatformVersions, string>> = {};
  for (const field of PLATFORM_VERSION_FIELDS) {
    const value = versionsObject?.text(field, {
      check: (v) => platformVersionProblem(field, v),
    });
    versions[field] = value ?? PLATFORM_DEFAULT_VERSIONS[field];
  }
  if (install && renderOnly) {
    // The install is upstream release manifests plus patches of objects they create: only a
    // live cluster can take those, and a rendered patch would read as a whole object.
    read.problem(
      "platform",
      undefined,
      `install cannot be rendered: set ${key("platform")}.install false to render, or remove ` +
        `${key("render")} to install on a cluster`,
    );
  }
  return Object.freeze({
    install,
    tagHeaderRouting,
    versions: Object.freeze({ ...PLATFORM_DEFAULT_VERSIONS, ...versions }),
  });
}

type BuildConfig = Pick<
  CanaryConfig,
  | "github"
  | "webhook"
  | "image"
  | "source"
  | "stepImages"
  | "registryCredentials"
  | "testerGithubToken"
  | "webhookSecret"
  | "githubDeployments"
  | "githubDeploymentsToken"
>;

/** The build-on-push keys: github, webhook, image, source, stepImages and their credentials. */
function readBuildConfig(read: ConfigReader, renderOnly: boolean): BuildConfig {
  const githubObject = read.object("github");
  const owner = githubObject?.text("owner", { required: true, check: githubOwnerProblem });
  const repository = githubObject?.text("repository", {
    required: true,
    check: githubRepositoryProblem,
  });
  const branch = githubObject?.text("branch", { check: branchProblem }) ?? DEFAULT_BRANCH;
  const registerWebhook = githubObject?.boolean("registerWebhook", true) ?? true;

  const webhookObject = read.object("webhook");
  const dnsName = (value: string): string | undefined =>
    isDnsHostName(value) ? undefined : DNS_SUBDOMAIN_TEXT;
  const host = webhookObject?.text("host", { required: true, check: dnsName });
  const ingressClassName = webhookObject?.text("ingressClassName", { check: dnsName });
  const tlsSecretName = webhookObject?.text("tlsSecretName", { check: dnsName });
  const clusterIssuer = webhookObject?.text("clusterIssuer", { check: dnsName });
  const externalTls = webhookObject?.boolean("externalTls", false) ?? false;
  const allowPlainHttp = webhookObject?.boolean("allowPlainHttp", false) ?? false;
  const ingressTls = tlsSecretName !== undefined || clusterIssuer !== undefined;
  if (webhookObject !== undefined && !ingressTls && !externalTls && !allowPlainHttp) {
    read.problem(
      "webhook",
      undefined,
      "needs TLS: set webhook.tlsSecretName (a Secret with the certificate) or " +
        "webhook.clusterIssuer (cert-manager issues it); GitHub does not deliver to an " +
        "ingress' default certificate. Behind a tunnel or load balancer that terminates TLS " +
        "itself, set webhook.externalTls true; for plain http end to end, webhook.allowPlainHttp " +
        "true",
    );
  }
  if (externalTls && ingressTls) {
    read.problem(
      "webhook.externalTls",
      "true",
      "TLS ends either in front of the Ingress (externalTls) or at the Ingress " +
        "(tlsSecretName, clusterIssuer), not both: remove one",
    );
  }

  const imageObject = read.object("image");
  const insecureRegistry = imageObject?.boolean("insecureRegistry", false) ?? false;
  const imageRepository = imageObject?.text("repository", {
    required: true,
    check: imageRepositoryProblem,
  });

  const sourceObject = read.object("source");
  const contextDir =
    sourceObject?.text("contextDir", { check: repositoryPathProblem }) ??
    SOURCE_DEFAULTS.contextDir;
  const dockerfile =
    sourceObject?.text("dockerfile", { check: repositoryPathProblem }) ??
    SOURCE_DEFAULTS.dockerfile;

  const stepImagesObject = read.object("stepImages");
  const stepImage = (field: "git" | "buildah" | "node"): Partial<Record<typeof field, string>> => {
    const value = stepImagesObject?.text(field, { check: pinnedImageProblem });
    return value === undefined ? {} : { [field]: value };
  };

  const registryCredentials = read.secret("registryCredentials", dockerConfigProblem);
  const testerGithubToken = read.secret("testerGithubToken");
  const githubToken = read.secret("github:token");
  const webhookSecret = read.secret("webhookSecret", webhookSecretProblem);

  // What builds on what: a trigger without a pipeline or an entry point would start nothing.
  if (githubObject !== undefined) {
    if (imageObject === undefined) {
      read.problem("github", undefined, `builds need somewhere to push: set ${key("image")} too`);
    }
    if (webhookObject === undefined) {
      read.problem("github", undefined, `GitHub needs a public entry: set ${key("webhook")} too`);
    }
    if (webhookSecret === undefined) {
      read.problem(
        "webhookSecret",
        undefined,
        "required with github: the secret GitHub signs deliveries with and the EventListener " +
          "checks them against. Generate one: `pulumi config set --secret webhookSecret " +
          '"$(openssl rand -hex 32)"`',
      );
    }
    // Rendering registers no webhook (it is not a manifest), so it needs no token.
    if (githubToken === undefined && registerWebhook && !renderOnly) {
      read.problem(
        "github:token",
        undefined,
        "required with github, to register the webhook: `pulumi config set --secret github:token " +
          "<token>` (fine-grained: the repository's Webhooks read/write; classic: admin:repo_hook), " +
          "or set github.registerWebhook false and add the webhook yourself",
      );
    }
  } else if (webhookObject !== undefined) {
    read.problem(
      "webhook",
      undefined,
      `the webhook serves GitHub pushes: set ${key("github")} too`,
    );
  }
  const deployments = readGithubDeployments(read, {
    github: githubObject !== undefined,
    githubToken: githubToken !== undefined,
  });

  return {
    ...(owner !== undefined && repository !== undefined
      ? {
          github: Object.freeze({
            owner,
            repository,
            branch,
            registerWebhook,
            ...(githubToken !== undefined ? { token: githubToken } : {}),
          }),
        }
      : {}),
    ...(host !== undefined
      ? {
          webhook: Object.freeze({
            host,
            ...(ingressClassName !== undefined ? { ingressClassName } : {}),
            ...(tlsSecretName !== undefined ? { tlsSecretName } : {}),
            ...(clusterIssuer !== undefined ? { clusterIssuer } : {}),
            externalTls,
            allowPlainHttp,
          }),
        }
      : {}),
    ...(imageRepository !== undefined
      ? { image: Object.freeze({ repository: imageRepository, insecureRegistry }) }
      : {}),
    source: Object.freeze({ contextDir, dockerfile }),
    stepImages: Object.freeze({
      ...stepImage("git"),
      ...stepImage("buildah"),
      ...stepImage("node"),
    }),
    ...(registryCredentials !== undefined ? { registryCredentials } : {}),
    ...(testerGithubToken !== undefined ? { testerGithubToken } : {}),
    ...(webhookSecret !== undefined ? { webhookSecret } : {}),
    ...deployments,
  };
}

/**
 * `githubDeployments` and its token. On when there is a token: `githubDeploymentsToken`, or
 * `github:token` if `useGithubToken` says so. Settings without a token, or a token without the
 * repository to record in, are refused: either would record nothing without a word.
 */
function readGithubDeployments(
  read: ConfigReader,
  has: { readonly github: boolean; readonly githubToken: boolean },
): Pick<CanaryConfig, "githubDeployments" | "githubDeploymentsToken"> {
  const settings = read.object("githubDeployments");
  const environment = settings?.text("environment", { check: githubEnvironmentProblem });
  const apiUrl = settings?.text("apiUrl", { check: githubApiUrlProblem }) ?? GITHUB_API_URL;
  const useGithubToken = settings?.boolean("useGithubToken", false) ?? false;
  const token = read.secret("githubDeploymentsToken", githubTokenProblem);
  if (useGithubToken && token !== undefined) {
    read.problem(
      "githubDeployments.useGithubToken",
      "true",
      `one token records the deployments: remove ${DEPLOYMENTS_TOKEN_KEY}, or set ` +
        `githubDeployments.useGithubToken false to use it rather than github:token`,
    );
    return {};
  }
  if (useGithubToken && !has.githubToken) {
    read.problem(
      "githubDeployments.useGithubToken",
      "true",
      "there is no github:token to use: set it (`pulumi config set --secret github:token …`), " +
        `or give the deployments their own token in ${DEPLOYMENTS_TOKEN_KEY}`,
    );
    return {};
  }
  const on = token !== undefined || useGithubToken;
  if (!on) {
    if (settings !== undefined) {
      read.problem(
        "githubDeployments",
        undefined,
        "records nothing without a token: `pulumi config set --secret githubDeploymentsToken " +
          "<token>` (fine-grained: the repository's Deployments read and write), or " +
          "githubDeployments.useGithubToken true to use github:token",
      );
    }
    return {};
  }
  if (!has.github) {
    read.problem(
      token !== undefined ? "githubDeploymentsToken" : "githubDeployments",
      undefined,
      `deployments are recorded in the application repository: set ${key("github")} ` +
        "(owner and repository) too",
    );
    return {};
  }
  return {
    githubDeployments: Object.freeze({
      ...(environment !== undefined ? { environment } : {}),
      apiUrl: apiUrl.replace(/\/+$/, ""),
      tokenKey: useGithubToken ? "github:token" : DEPLOYMENTS_TOKEN_KEY,
    }),
    ...(token !== undefined ? { githubDeploymentsToken: token } : {}),
  };
}

/** A token goes in an HTTP header: one line of visible characters. */
function githubTokenProblem(plain: string): string | undefined {
  return isHeaderSafeToken(plain)
    ? undefined
    : "must be a GitHub token: one line of visible characters, no spaces or line breaks " +
        "(its value is not shown)";
}

/** GitHub takes an environment name of up to 255 characters. */
function githubEnvironmentProblem(value: string): string | undefined {
  if (value.trim() !== value || value.length > 255 || /[\x00-\x1f\x7f]/.test(value)) {
    return "must be a GitHub environment name: up to 255 characters, no control characters or surrounding spaces";
  }
  return undefined;
}

function githubApiUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    url = new URL("invalid:");
  }
  // The token travels with every request: plain http only to this machine (a stand-in, a proxy).
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  const ok =
    (url.protocol === "https:" || (url.protocol === "http:" && loopback)) &&
    url.search === "" &&
    url.hash === "" &&
    url.username === "" &&
    url.password === "";
  return ok
    ? undefined
    : `must be the GitHub REST API's root URL, ${GITHUB_API_URL} (the default) or ` +
        "https://<host>/api/v3 for GitHub Enterprise Server, without query or credentials " +
        "(plain http only to a loopback address)";
}

/** GitHub signs with HMAC-SHA256; a short secret could be guessed from signed deliveries. */
function webhookSecretProblem(plain: string): string | undefined {
  return plain.length >= 20
    ? undefined
    : `must be at least 20 characters (is ${plain.length}); generate one with \`openssl rand -hex 32\``;
}

/** A GitHub user or organisation login. */
function githubOwnerProblem(value: string): string | undefined {
  return /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/.test(value)
    ? undefined
    : "must be a GitHub user or organisation name (letters, digits and single '-', at most 39)";
}

function githubRepositoryProblem(value: string): string | undefined {
  if (value.includes("/")) return "the repository name only, without the owner (set github.owner)";
  return /^[A-Za-z0-9._-]{1,100}$/.test(value) && value !== "." && value !== ".."
    ? undefined
    : "must be a GitHub repository name (letters, digits, '.', '-' and '_')";
}

/** The rules of `git check-ref-format` that a branch name can break. */
function branchProblem(value: string): string | undefined {
  const invalid =
    /[\s~^:?*[\\\x00-\x1f\x7f]/.test(value) ||
    value.includes("..") ||
    value.includes("@{") ||
    value.includes("//") ||
    /^[-/.]/.test(value) ||
    /[/.]$/.test(value) ||
    value.endsWith(".lock") ||
    value.startsWith("refs/");
  return invalid
    ? "must be a branch name as git allows it, without `refs/heads/` (e.g. `main` or `release/v2`)"
    : undefined;
}

function dockerConfigProblem(plain: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(plain);
  } catch {
    parsed = undefined;
  }
  const auths = (parsed as { auths?: unknown } | undefined)?.auths;
  return typeof auths === "object" && auths !== null && !Array.isArray(auths)
    ? undefined
    : 'must be docker config JSON, {"auths": {"<registry>": {"auth": "<base64 user:password>"}}} ' +
        "(e.g. ~/.docker/config.json after docker login); its value is not shown here";
}

interface RuntimeWithSecrets {
  isConfigSecret?: (key: string) => boolean;
}

/**
 * Reads the stack config from the Pulumi runtime. Bad config throws here, before index.ts
 * registers any resource.
 */
export function loadConfig(): Readonly<CanaryConfig> {
  const raw = pulumi.runtime.allConfig();
  // The SDK knows which keys were set with --secret but does not type that function publicly.
  const isSecret = (pulumi.runtime as RuntimeWithSecrets).isConfigSecret ?? (() => true);
  return parseConfig(
    raw,
    Object.keys(raw).filter((name) => isSecret(name)),
  );
}

/**
 * Each tag gets its own host `<tag>-<app>.<namespace>.<domain>`: its first label must fit in 63
 * characters and the whole name in 253. With today's tags the app limit (MAX_APP_LENGTH) already
 * keeps every label short enough; this check keeps that true if tags or limits change.
 */
export function tagHostProblems(
  app: string,
  namespace: string,
  domain: string,
  tags: readonly string[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const tag of tags) {
    const label = `${tag}-${app}`;
    if (label.length > MAX_LABEL_LENGTH) {
      problems.push({
        key: key("app"),
        value: app,
        message:
          `the host label \`${label}\` of tag \`${tag}\` is ${label.length} characters; ` +
          `at most ${MAX_LABEL_LENGTH} are allowed: use a shorter app name`,
      });
    }
    const host = `${label}.${namespace}.${domain}`;
    if (host.length > 253) {
      problems.push({
        key: key("domain"),
        value: domain,
        message: `the host \`${host}\` is ${host.length} characters, more than 253: use a shorter domain`,
      });
    }
  }
  return problems;
}

/** The known key a typo most likely meant: smallest edit distance, and close enough to matter. */
export function closestKnownKey(name: string): string | undefined {
  return closestName(name, KNOWN_KEYS);
}
