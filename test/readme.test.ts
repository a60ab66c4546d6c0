// The README's walk-throughs are instructions people paste: every project command, config key,
// file and URL they name must exist and agree with the stack files.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Command } from "commander";
import { parseAllDocuments } from "yaml";
import { buildProgram, defaultCliDeps } from "../automation/cli";
import { parseConfig } from "../config";
import {
  KOURIER_SERVICE,
  PLATFORM_DEFAULT_NODE_PORTS,
} from "../components/platform/platformManifests";
import {
  loadStackConfig,
  PROJECT_ROOT,
  stackFiles,
  withStandInSecrets,
} from "../conformance/programRunner";

/** Provider keys the program reads itself (config.ts); any other is ignored. */
const PROVIDER_KEYS = ["github:token", "kubernetes:context", "kubernetes:kubeconfig"];

const README = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");

/** The text of the `## title` section, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has a section "${title}"`);
  const end = README.indexOf("\n## ", start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

/** The lines of the fenced `sh` blocks of a text, comments and continuations joined. */
function shellLines(text: string): string[] {
  const lines: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block[1].replace(/\\\n\s*/g, " ");
    for (const line of joined.split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim();
      if (command !== "" && !command.startsWith("#")) lines.push(command);
    }
  }
  return lines;
}

const WALKTHROUGH = section("From zero to a canary on kind");
const ALL_COMMANDS = shellLines(README);

function cliProgram(): Command {
  return buildProgram(defaultCliDeps(), () => undefined);
}

describe("README: the commands it gives exist", () => {
  it("has the kind walk-through, with its steps in order", () => {
    const steps = [...WALKTHROUGH.matchAll(/^### (\d+)\. /gm)].map((m) => Number(m[1]));
    assert.deepEqual(
      steps,
      steps.map((_, i) => i + 1),
    );
    assert.ok(steps.length >= 7, `${steps.length} steps`);
    const placeholder = /PROMETHEUS_SNIPPET|TO DO|TBD/.exec(WALKTHROUGH);
    assert.equal(placeholder, null, `a placeholder is left: ${placeholder?.[0]}`);
  });

  it("every `npm run` script and `npx canary` command and flag exists", () => {
    const scripts = (
      JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    const program = cliProgram();
    let canaryCommands = 0;
    for (const line of ALL_COMMANDS) {
      for (const match of line.matchAll(/npm run (\S+)/g)) {
        assert.ok(match[1] in scripts, `"${line}": no npm script ${match[1]}`);
      }
      for (const match of line.matchAll(/npx canary (\S+)([^&|;]*)/g)) {
        canaryCommands++;
        const command = program.commands.find((c) => c.name() === match[1]);
        assert.ok(command, `"${line}": canary has no command ${match[1]}`);
        const flags = new Set(
          [...command.options, ...program.options].flatMap((o) => [o.long, o.short]),
        );
        for (const flag of match[2].match(/(?<=\s|^)--?[a-z][\w-]*/g) ?? []) {
          assert.ok(flags.has(flag), `"${line}": canary ${match[1]} has no option ${flag}`);
        }
      }
    }
    assert.ok(canaryCommands >= 5, `${canaryCommands} canary commands checked`);
  });

  it("every `pulumi config set` names a key, or an object field, the stack reads", () => {
    let checked = 0;
    for (const line of ALL_COMMANDS) {
      for (const match of line.matchAll(
        /pulumi config set (--path |--secret )?([\w:.-]+)(?: (\S+))?/g,
      )) {
        checked++;
        const [, flag, name] = match;
        const [root, ...fields] = name.split(".");
        const fullKey = root.includes(":") ? root : `canary-release:${root}`;
        if (!fullKey.startsWith("canary-release:")) {
          assert.ok(PROVIDER_KEYS.includes(fullKey), `"${line}": the stack reads no ${fullKey}`);
        }
        let raw: Record<string, string> = { [fullKey]: "x" };
        if (flag === "--path " && fields.length > 0) {
          // The field as the CLI would store it, nested; only "unknown field" matters here.
          const value = fields.reduceRight<unknown>((inner, field) => ({ [field]: inner }), "x");
          raw = { [fullKey]: JSON.stringify(value) };
        }
        const problems = problemsOf({ "canary-release:app": "hello", ...raw });
        const unknown = problems.filter((p) => /unknown (key|field)/.test(p));
        assert.deepEqual(unknown, [], `"${line}"`);
      }
    }
    assert.ok(checked >= 15, `${checked} config commands checked`);
  });

  it("every project file and directory it points at exists", () => {
    const paths = new Set<string>();
    for (const match of README.matchAll(
      /(?<![\w/.~-])((?:examples|components|automation|conformance|functions|bench|test|\.github|\.ci)\/[\w./-]*[\w/])/g,
    )) {
      if (!match[1].includes("…")) paths.add(match[1].replace(/\/$/, ""));
    }
    assert.ok(paths.size >= 10, `${paths.size} paths checked`);
    for (const relative of paths) {
      assert.ok(fs.existsSync(path.join(PROJECT_ROOT, relative)), `${relative} does not exist`);
    }
  });

  it("the walk-through's namespace, hosts and ports are the dev stack's and the Platform's", () => {
    const loaded = withStandInSecrets(loadStackConfig(stackFiles().dev));
    const dev = parseConfig(loaded.config, loaded.secretKeys);
    // The app's namespace, one that a manifest of examples/kind creates, or Kourier's (its
    // internal gateway serves the cluster-local tag URLs).
    const namespaces = new Set([dev.namespace, ...exampleNamespaces(), KOURIER_SERVICE.namespace]);
    for (const match of WALKTHROUGH.matchAll(/ (?:-n|--namespace) (\S+)/g)) {
      assert.ok(namespaces.has(match[1]), `kubectl -n ${match[1]}: not one of ${[...namespaces]}`);
    }
    for (const match of WALKTHROUGH.matchAll(/http:\/\/([a-z-]+)\.([a-z0-9-]+)\.([\w.]+?)\//g)) {
      const [, host, namespace, domain] = match;
      assert.ok(
        host === dev.app || host.endsWith(`-${dev.app}`),
        `${match[0]}: a host of the app ${dev.app}`,
      );
      assert.equal(namespace, dev.namespace, match[0]);
      assert.equal(domain, dev.domain, match[0]);
    }
    assert.match(WALKTHROUGH, new RegExp(`\\| ${PLATFORM_DEFAULT_NODE_PORTS.kourierHttp} `));
    assert.match(WALKTHROUGH, new RegExp(`\\| ${PLATFORM_DEFAULT_NODE_PORTS.ingressHttp} `));
    assert.match(WALKTHROUGH, new RegExp(`kubectl config use-context ${dev.kubernetes.context}`));
  });
});

/** Namespaces the manifests under examples/kind create. */
function exampleNamespaces(): string[] {
  const dir = path.join(PROJECT_ROOT, "examples", "kind");
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith(".yaml"))
    .flatMap((file) => parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8")))
    .map((document) => document.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .filter((object) => object?.kind === "Namespace")
    .map((object) => object?.metadata?.name ?? "");
}

function problemsOf(raw: Record<string, string>): string[] {
  try {
    parseConfig(raw, Object.keys(raw));
    return [];
  } catch (error) {
    const problems = (error as { problems?: { key: string; message: string }[] }).problems;
    assert.ok(problems, `not a ConfigError: ${String(error)}`);
    return problems.map((p) => `${p.key}: ${p.message}`);
  }
}
