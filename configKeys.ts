// Every `canary-release:` config key, declared once. config.ts reads and judges the keys; this
// table says which keys exist and what each one is. From it come the known-key list (a key not
// here is refused as a likely typo), the scalar defaults, the whole-number ranges, the secret
// keys, each object's fields, and the keys the automation library writes. The copies that cannot
// import it are checked against it by test/configKeys.test.ts, which names the copy that drifted:
// the `config:` block of Pulumi.yaml (type, default, description), the config table of
// docs/configuration.md (generated from this table by `npm run docs`) and the CanaryConfig type
// (checked by the compiler, below in config.ts).
//
// Pure: no Pulumi, so the automation library and the tests read it without a program.

export type ConfigKeyType = "string" | "integer" | "boolean" | "object" | "secret";

export interface ConfigKeySpec {
  readonly type: ConfigKeyType;
  /** The default of a scalar key, as Pulumi.yaml declares it; unset: no default. */
  readonly default?: string | number | boolean;
  /** The docs' default column, when not the scalar default: `required`, `unset`, … */
  readonly shownDefault?: string;
  /** Whole numbers: the range config.ts accepts. */
  readonly range?: { readonly min: number; readonly max: number };
  /** Objects: the fields config.ts reads (any other is refused), and a `--path` example. */
  readonly fields?: readonly string[];
  readonly example?: string;
  /** Scalars: Pulumi.yaml's description, word for word. Objects and secrets: a summary. */
  readonly description: string;
}

/** The table. The order is docs/configuration.md's and Pulumi.yaml's. */
export const CONFIG_KEY_TABLE = {
  app: {
    type: "string",
    shownDefault: "required",
    description:
      "Name of the Knative Configuration (created by the pipeline) and of the Route. A DNS-1035 label of at most 49 characters.",
  },
  namespace: {
    type: "string",
    default: "default",
    description: "Namespace of the Route and everything app-specific.",
  },
  createNamespace: {
    type: "boolean",
    default: false,
    description: "Create the namespace (true) or use an existing one (false).",
  },
  domain: {
    type: "string",
    // Knative Serving's own default when config-domain names no domain.
    default: "svc.cluster.local",
    description:
      "The cluster's Knative domain (config-domain), used to compute the URLs http://<tag>-<app>.<namespace>.<domain>.",
  },
  stableRevision: {
    type: "string",
    shownDefault: "unset",
    description: "Revision with the rest of the traffic, `<app>-…`. Unset: bootstrap.",
  },
  candidateRevision: {
    type: "string",
    shownDefault: "unset",
    description: "Revision under test, `<app>-…`; needs `stableRevision`, must differ from it.",
  },
  canaryPercent: {
    type: "integer",
    default: 0,
    range: { min: 0, max: 100 },
    description: "The candidate's share of traffic, 0..100; must be 0 without candidateRevision.",
  },
  verifyCandidate: {
    type: "boolean",
    default: true,
    description:
      "Read the candidate and the stable Revision from the cluster at preview; refuse traffic to one that is missing or not Ready.",
  },
  allowUntestedCandidate: {
    type: "boolean",
    default: false,
    description:
      "Let a candidate that has not passed its smoke test get traffic (it must still be Ready); the preview warns.",
  },
  maxStepPercent: {
    type: "integer",
    // 100: no limit, since no share can grow by more; production stacks set their own.
    default: 100,
    range: { min: 1, max: 100 },
    description:
      "The most percentage points one update may add to any revision's share of traffic, 1..100 (100, the default, is no limit). Checked at preview against the traffic this stack last deployed.",
  },
  allowLargeStep: {
    type: "boolean",
    default: false,
    description:
      "Let one update add more than maxStepPercent to a revision's share (the preview warns); set it for that update only.",
  },
  publicTagUrls: {
    type: "boolean",
    default: false,
    description:
      "Publish the candidate and latest tag URLs like the production URL. By default they are cluster-local, since they serve revisions that may not have passed their smoke test.",
  },
  tester: {
    type: "object",
    shownDefault: "enabled",
    fields: ["enabled", "path", "expectStatus", "expectBody", "timeoutSeconds", "image"],
    example: "pulumi config set --path tester.path /healthz",
    description: "The smoke test of every new revision.",
  },
  protect: {
    type: "boolean",
    default: false,
    description: "Protect the Route and the created Namespace from `pulumi destroy` (prod true).",
  },
  platform: {
    type: "object",
    shownDefault: "`{install: false, tagHeaderRouting: false}`",
    fields: ["install", "versions", "tagHeaderRouting"],
    example: "pulumi config set --path platform.install true",
    description:
      "Install Knative, Tekton and Contour from pinned release manifests (kind); " +
      "`tagHeaderRouting` turns on Knative's routing by the `Knative-Serving-Tag` header.",
  },
  render: {
    type: "object",
    shownDefault: "unset",
    fields: ["directory"],
    example: "pulumi config set --path render.directory rendered",
    description: "Render manifests to a directory instead of applying them.",
  },
  github: {
    type: "object",
    shownDefault: "unset",
    fields: ["owner", "repository", "branch", "registerWebhook"],
    example: "pulumi config set --path github.owner acme",
    description: "The application repository whose pushes are built.",
  },
  githubDeployments: {
    type: "object",
    shownDefault: "on with a token",
    fields: ["environment", "apiUrl", "useGithubToken"],
    example: "pulumi config set --path githubDeployments.environment production",
    description:
      "A GitHub Deployment per canary, with a status at every step; on when " +
      "`githubDeploymentsToken` is set (or `useGithubToken`). `environment` defaults to the stack's name.",
  },
  webhook: {
    type: "object",
    shownDefault: "unset",
    fields: [
      "host",
      "ingressClassName",
      "tlsSecretName",
      "clusterIssuer",
      "externalTls",
      "allowPlainHttp",
    ],
    example: "pulumi config set --path webhook.host hooks.example.com",
    description: "The public entry GitHub delivers pushes to.",
  },
  image: {
    type: "object",
    shownDefault: "unset",
    fields: ["repository", "insecureRegistry"],
    example: "pulumi config set --path image.repository registry.example.com/team/hello",
    description: "Where builds are pushed.",
  },
  source: {
    type: "object",
    shownDefault: "`{contextDir: ., dockerfile: Dockerfile}`",
    fields: ["contextDir", "dockerfile"],
    example: "pulumi config set --path source.contextDir app",
    description: "The build context in the repository, and its Dockerfile.",
  },
  stepImages: {
    type: "object",
    shownDefault: "pinned",
    fields: ["git", "buildah", "node"],
    example: "pulumi config set --path stepImages.node node:24-alpine",
    description: "Overrides of the pipeline's step images.",
  },
  webhookSecret: {
    type: "secret",
    shownDefault: "required with `github`",
    description: "What GitHub signs deliveries with; required with `github`.",
  },
  registryCredentials: {
    type: "secret",
    shownDefault: "unset",
    description: "Docker config JSON for pushing and pulling images.",
  },
  testerGithubToken: {
    type: "secret",
    shownDefault: "unset",
    description: "A token that may only post commit statuses.",
  },
  githubDeploymentsToken: {
    type: "secret",
    shownDefault: "unset",
    description:
      "A token that may only write deployments: the canary command records each canary with it.",
  },
} as const satisfies Record<string, ConfigKeySpec>;

export type ConfigKeyName = keyof typeof CONFIG_KEY_TABLE;

/** The project keys this program reads; any other `canary-release:` key is most likely a typo. */
export const KNOWN_KEYS = Object.freeze(Object.keys(CONFIG_KEY_TABLE) as ConfigKeyName[]);

/** The spec of `name`, typed as the general shape (the table's literal types are narrower). */
export function configKey(name: ConfigKeyName): ConfigKeySpec {
  return CONFIG_KEY_TABLE[name];
}

type KeysWhere<Condition> = {
  [K in ConfigKeyName]: (typeof CONFIG_KEY_TABLE)[K] extends Condition ? K : never;
}[ConfigKeyName];

/** The scalar keys with a default, and the default. */
export type ScalarDefaults = {
  readonly [K in KeysWhere<{ default: unknown }>]: (typeof CONFIG_KEY_TABLE)[K] extends {
    default: infer D;
  }
    ? D extends boolean
      ? boolean
      : D extends number
        ? number
        : string
    : never;
};

function scalarDefaults(): ScalarDefaults {
  const defaults: Record<string, unknown> = {};
  for (const name of KNOWN_KEYS) {
    const spec = configKey(name);
    if (spec.default !== undefined) defaults[name] = spec.default;
  }
  return Object.freeze(defaults) as ScalarDefaults;
}

/**
 * Defaults for the optional scalar keys. Pulumi.yaml declares the same defaults for the Pulumi
 * CLI (test/configKeys.test.ts), so runs under mocks, the Automation API and the CLI agree.
 */
export const DEFAULTS: ScalarDefaults = scalarDefaults();

/**
 * The whole-number keys and their ranges: one rule for the program, the canary command's
 * reading of a stack file and its command-line arguments.
 */
export const WHOLE_NUMBER_KEYS = Object.freeze({
  canaryPercent: CONFIG_KEY_TABLE.canaryPercent.range,
  maxStepPercent: CONFIG_KEY_TABLE.maxStepPercent.range,
});

/** The object keys' fields, as config.ts reads them. */
export function objectKeyFields(name: ConfigKeyName): {
  fields: readonly string[];
  example: string;
} {
  const spec = configKey(name);
  if (spec.fields === undefined || spec.example === undefined) {
    throw new Error(`${name} is declared as a ${spec.type}, not an object with fields`);
  }
  return { fields: spec.fields, example: spec.example };
}

/** The keys whose values are credentials, without the project prefix. */
export const SECRET_KEY_NAMES = Object.freeze(
  KNOWN_KEYS.filter((name) => configKey(name).type === "secret"),
);
