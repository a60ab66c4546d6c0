// Reads and validates the whole stack configuration once, into one typed, frozen object.
// Components never read config themselves: they take typed args built from this object, so a
// run under mocks and a real `pulumi up` see exactly the same values and defaults.
import * as pulumi from "@pulumi/pulumi";
import { isDns1035Label, trafficFor } from "./components/traffic";

export const PROJECT = "canary-release";

/** Longest Kubernetes/DNS label: names, revision names and each host label must fit in it. */
export const MAX_LABEL_LENGTH = 63;
/** `<app>-<7 hex chars>-smoke` (the per-build revision's test route) must fit in one label. */
export const PER_BUILD_SUFFIX_LENGTH = "-0123456-smoke".length;
export const MAX_APP_LENGTH = MAX_LABEL_LENGTH - PER_BUILD_SUFFIX_LENGTH;

/**
 * Defaults for the optional keys. Pulumi.yaml declares the same defaults for the Pulumi CLI; a
 * test keeps the two in step, so runs under mocks, the Automation API and the CLI agree.
 */
export const DEFAULTS = Object.freeze({
  namespace: "default",
  createNamespace: false,
  // Knative Serving's own default when config-domain names no domain.
  domain: "svc.cluster.local",
  canaryPercent: 0,
  verifyCandidate: true,
  protect: false,
});

export interface RenderConfig {
  /** Directory the Kubernetes provider writes manifests to instead of applying them. */
  readonly directory: string;
}

export interface KubernetesConfig {
  /** `kubernetes:context`: the kubeconfig context of this stack's cluster. */
  readonly context?: string;
  /** `kubernetes:kubeconfig`: a path or the kubeconfig itself; kept a secret if set as one. */
  readonly kubeconfig?: pulumi.Output<string>;
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
}

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

/** The project keys this program reads; any other `canary-release:` key is most likely a typo. */
export const KNOWN_KEYS = Object.freeze([
  "app",
  "namespace",
  "createNamespace",
  "domain",
  "stableRevision",
  "candidateRevision",
  "canaryPercent",
  "verifyCandidate",
  "protect",
  "render",
] as const);

/**
 * Raw config as the Pulumi runtime holds it: full keys (`canary-release:app`,
 * `kubernetes:context`) to string values (objects arrive as JSON text).
 */
export type RawConfig = Readonly<Record<string, string>>;

const key = (name: string): string => `${PROJECT}:${name}`;

const DNS_1035_LABEL_TEXT =
  "must be a DNS-1035 label: at most 63 lowercase letters, digits and '-', " +
  "starting with a letter and ending with a letter or digit";

/**
 * Parses and validates raw config. Pure: no Pulumi runtime access, so every rule is tested
 * directly. `kubeconfig` is passed separately because it must stay a secret Output.
 */
export function parseConfig(
  raw: RawConfig,
  kubeconfig?: pulumi.Output<string>,
): Readonly<CanaryConfig> {
  const problems: ConfigProblem[] = [];
  const problem = (name: string, value: string | undefined, message: string): void => {
    problems.push({ key: name.includes(":") ? name : key(name), value, message });
  };

  for (const fullKey of Object.keys(raw).sort()) {
    if (!fullKey.startsWith(`${PROJECT}:`)) continue;
    const name = fullKey.slice(PROJECT.length + 1);
    if (!(KNOWN_KEYS as readonly string[]).includes(name)) {
      const hint = closestKnownKey(name);
      problem(
        name,
        undefined,
        `unknown key${hint ? ` (did you mean ${key(hint)}?)` : ""}; known keys: ${KNOWN_KEYS.join(", ")}`,
      );
    }
  }

  const text = (name: string): string | undefined => raw[key(name)];

  const app = text("app");
  let validApp: string | undefined;
  if (app === undefined || app === "") {
    problem("app", app, "required: the name of the Knative Configuration and Route, e.g. `hello`");
  } else if (!isDns1035Label(app)) {
    problem("app", app, DNS_1035_LABEL_TEXT);
  } else if (app.length > MAX_APP_LENGTH) {
    problem(
      "app",
      app,
      `at most ${MAX_APP_LENGTH} characters (is ${app.length}), so that the per-build test route ` +
        `\`<app>-<sha7>-smoke\` fits in a ${MAX_LABEL_LENGTH}-character DNS label`,
    );
  } else {
    validApp = app;
  }

  const namespace = text("namespace") ?? DEFAULTS.namespace;
  if (!isDns1035Label(namespace)) problem("namespace", namespace, DNS_1035_LABEL_TEXT);

  const domain = text("domain") ?? DEFAULTS.domain;
  if (!isDnsSubdomain(domain)) {
    problem(
      "domain",
      domain,
      "must be a lowercase DNS name such as `example.com` or `127.0.0.1.sslip.io` " +
        "(the domain Knative Serving's config-domain gives routes)",
    );
  }

  const createNamespace = parseBoolean("createNamespace", DEFAULTS.createNamespace);
  const verifyCandidate = parseBoolean("verifyCandidate", DEFAULTS.verifyCandidate);
  const protect = parseBoolean("protect", DEFAULTS.protect);

  const canaryPercentText = text("canaryPercent");
  let canaryPercent: number = DEFAULTS.canaryPercent;
  if (canaryPercentText !== undefined) {
    const trimmed = canaryPercentText.trim();
    const parsed = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
    if (Number.isInteger(parsed) && parsed >= 0 && parsed <= 100) {
      canaryPercent = parsed;
    } else {
      problem("canaryPercent", canaryPercentText, "must be a whole number from 0 to 100");
    }
  }

  const stableRevision = optionalText("stableRevision");
  const candidateRevision = optionalText("candidateRevision");
  for (const [name, revision] of [
    ["stableRevision", stableRevision],
    ["candidateRevision", candidateRevision],
  ] as const) {
    // Against an invalid app every revision name would be wrong too: report the app alone.
    if (revision === undefined || validApp === undefined) continue;
    if (!revision.startsWith(`${validApp}-`) || revision.length === validApp.length + 1) {
      problem(
        name,
        revision,
        `must name a revision of the Configuration \`${validApp}\`: \`${validApp}-<suffix>\`, ` +
          `as the pipeline names them (\`${validApp}-<first 7 chars of the commit>\`)`,
      );
    } else if (!isDns1035Label(revision)) {
      problem(name, revision, DNS_1035_LABEL_TEXT);
    }
  }

  if (candidateRevision !== undefined && stableRevision === undefined) {
    problem(
      "candidateRevision",
      candidateRevision,
      `a candidate needs a stable revision to share traffic with: set ${key("stableRevision")} too`,
    );
  }
  if (candidateRevision !== undefined && candidateRevision === stableRevision) {
    problem(
      "candidateRevision",
      candidateRevision,
      `must differ from ${key("stableRevision")}; to promote, set stableRevision to it and ` +
        `remove candidateRevision`,
    );
  }
  if (canaryPercent > 0 && candidateRevision === undefined) {
    problem(
      "canaryPercent",
      String(canaryPercent),
      `must be 0 without a candidate: set ${key("candidateRevision")} first`,
    );
  }

  if (validApp !== undefined && problems.length === 0) {
    const plan = { app: validApp, stableRevision, candidateRevision, canaryPercent };
    const tags = trafficFor(plan).flatMap((target) => (target.tag ? [target.tag] : []));
    problems.push(...tagHostProblems(validApp, namespace, domain, tags));
  }

  const render = parseRender();
  const context = raw["kubernetes:context"];

  // validApp is always set when there is no problem; the second test is for the compiler.
  if (problems.length > 0 || validApp === undefined) throw new ConfigError(problems);

  return Object.freeze({
    app: validApp,
    namespace,
    createNamespace,
    domain,
    ...(stableRevision !== undefined ? { stableRevision } : {}),
    ...(candidateRevision !== undefined ? { candidateRevision } : {}),
    canaryPercent,
    verifyCandidate,
    protect,
    ...(render !== undefined ? { render } : {}),
    kubernetes: Object.freeze({
      ...(context !== undefined && context !== "" ? { context } : {}),
      ...(kubeconfig !== undefined ? { kubeconfig } : {}),
    }),
  });

  function optionalText(name: string): string | undefined {
    const value = text(name);
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  function parseBoolean(name: string, fallback: boolean): boolean {
    const value = text(name);
    if (value === undefined) return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    problem(name, value, "must be true or false");
    return fallback;
  }

  function parseRender(): RenderConfig | undefined {
    const value = text("render");
    if (value === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    const expected =
      "must be an object `{directory: <path>}`, e.g. " +
      "`pulumi config set --path render.directory rendered`";
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      problem("render", value, expected);
      return undefined;
    }
    const fields = parsed as Record<string, unknown>;
    const unknown = Object.keys(fields).filter((f) => f !== "directory");
    if (unknown.length > 0) {
      problem("render", value, `unknown field ${unknown.join(", ")}; ${expected}`);
    }
    const directory = fields.directory;
    if (typeof directory !== "string" || directory.trim() === "") {
      problem("render.directory", value, expected);
      return undefined;
    }
    return Object.freeze({ directory });
  }
}

/**
 * Reads the stack config from the Pulumi runtime. Bad config throws here, before index.ts
 * registers any resource.
 */
export function loadConfig(): Readonly<CanaryConfig> {
  const kubernetesConfig = new pulumi.Config("kubernetes");
  const raw = pulumi.runtime.allConfig();
  // Read through getSecret so a kubeconfig set with --secret stays a secret in state and logs.
  const kubeconfig =
    raw["kubernetes:kubeconfig"] !== undefined && raw["kubernetes:kubeconfig"] !== ""
      ? kubernetesConfig.requireSecret("kubeconfig")
      : undefined;
  return parseConfig(raw, kubeconfig);
}

function isDnsSubdomain(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  return value
    .split(".")
    .every((label) => label.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(label));
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
  let best: { key: string; distance: number } | undefined;
  for (const candidate of KNOWN_KEYS) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { key: candidate, distance };
  }
  return best !== undefined && best.distance <= Math.max(2, Math.floor(name.length / 4))
    ? best.key
    : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}
