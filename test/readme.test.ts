// The README and docs/ are instructions people paste: every project command, config key, file,
// link and URL they name must exist and agree with the stack files. Each check runs on README.md
// and on every docs/*.md alike; the README stays short enough to read, and no table cell grows
// into a paragraph.
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
import { USAGE as VALIDATE_USAGE } from "../conformance/cli";
import { headingAnchor } from "../docs/generate";

/** Provider keys the program reads itself (config.ts); any other is ignored. */
const PROVIDER_KEYS = ["github:token", "kubernetes:context", "kubernetes:kubeconfig"];

const README_MAX_LINES = 300;
const TABLE_CELL_MAX = 200;

interface Doc {
  /** Relative to the project root, e.g. `docs/commands.md`. */
  readonly name: string;
  readonly text: string;
}

function readDoc(name: string): Doc {
  return { name, text: fs.readFileSync(path.join(PROJECT_ROOT, name), "utf8") };
}

const README = readDoc("README.md");
const DOCS: readonly Doc[] = [
  README,
  ...fs
    .readdirSync(path.join(PROJECT_ROOT, "docs"))
    .filter((file) => file.endsWith(".md"))
    .sort()
    .map((file) => readDoc(`docs/${file}`)),
];
const WALKTHROUGH = DOCS.find((doc) => doc.name === "docs/walkthrough.md");

/** The lines of the fenced `sh` blocks of a text, comments and continuations joined. */
function shellLines(text: string): string[] {
  const lines: string[] = [];
  for (const block of text.matchAll(/^ *```sh\n([\s\S]*?)^ *```/gm)) {
    const joined = block[1].replace(/\\\n\s*/g, " ");
    for (const line of joined.split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim();
      if (command !== "" && !command.startsWith("#")) lines.push(command);
    }
  }
  return lines;
}

/** The text outside fenced blocks, line by line, with the line numbers. */
function proseLines(text: string): { line: string; number: number }[] {
  const lines: { line: string; number: number }[] = [];
  let fenced = false;
  text.split("\n").forEach((line, i) => {
    if (/^ *```/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push({ line, number: i + 1 });
  });
  return lines;
}

/** The anchors GitHub gives the headings of a markdown text (duplicates numbered). */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(text)) {
    const heading = /^#{1,6} (.+)$/.exec(line);
    if (heading === null) continue;
    const anchor = headingAnchor(heading[1]);
    const count = seen.get(anchor) ?? 0;
    seen.set(anchor, count + 1);
    anchors.add(count === 0 ? anchor : `${anchor}-${count}`);
  }
  return anchors;
}

function cliProgram(): Command {
  return buildProgram(defaultCliDeps(), () => undefined);
}

/** How many things the checks found, over all the files: a regex that stops matching shows. */
const counted = {
  canaryCommands: 0,
  validateCommands: 0,
  configCommands: 0,
  paths: 0,
  links: 0,
};

for (const doc of DOCS) {
  describe(`${doc.name}: the commands, files and links it gives exist`, () => {
    const commands = shellLines(doc.text);

    it("every `npm run` script and `npx canary` command and flag exists", () => {
      const scripts = (
        JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as {
          scripts: Record<string, string>;
        }
      ).scripts;
      // Scripts are named in prose and tables too (`npm run docs`); commands in sh blocks.
      for (const match of doc.text.matchAll(/npm run ([\w:-]*[\w])/g)) {
        assert.ok(match[1] in scripts, `${doc.name}: no npm script ${match[1]}`);
      }
      // `npm run validate -- FLAGS`, in sh blocks and in prose: each flag is one USAGE lists.
      for (const match of doc.text.matchAll(/npm run validate -- ([^`\n&|;#]*)/g)) {
        counted.validateCommands++;
        for (const flag of match[1].match(/(?<=\s|^)--?[a-z][\w-]*/g) ?? []) {
          assert.ok(
            new RegExp(`(^|\\s)${flag}\\b`, "m").test(VALIDATE_USAGE),
            `${doc.name}: "npm run validate -- ${match[1].trim()}": validate has no option ${flag}`,
          );
        }
      }
      const program = cliProgram();
      for (const line of commands) {
        for (const match of line.matchAll(/npx canary (\S+)([^&|;]*)/g)) {
          counted.canaryCommands++;
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
    });

    it("every `pulumi config set` names a key, or an object field, the stack reads", () => {
      for (const line of commands) {
        for (const match of line.matchAll(
          /pulumi config set (--path |--secret )?([\w:.-]+)(?: (\S+))?/g,
        )) {
          counted.configCommands++;
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
    });

    it("every project file and directory it names exists", () => {
      const paths = new Set<string>();
      for (const match of doc.text.matchAll(
        /(?<![\w/.~-])((?:examples|components|automation|conformance|functions|bench|test|docs|e2e|toolchain|\.github|\.ci)\/[\w./-]*[\w/])/g,
      )) {
        if (!match[1].includes("…")) paths.add(match[1].replace(/\/$/, ""));
      }
      for (const relative of paths) {
        counted.paths++;
        assert.ok(fs.existsSync(path.join(PROJECT_ROOT, relative)), `${relative} does not exist`);
      }
    });

    it("every relative link leads to a file, and to a heading of it", () => {
      const dir = path.dirname(path.join(PROJECT_ROOT, doc.name));
      for (const { line, number } of proseLines(doc.text)) {
        for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = match[1];
          if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
          const [file, anchor] = target.split("#", 2);
          const resolved = file === "" ? path.join(PROJECT_ROOT, doc.name) : path.join(dir, file);
          // ../shared (the design, the CRDs) sits beside the project, not in it.
          if (path.relative(PROJECT_ROOT, resolved).startsWith("..")) continue;
          counted.links++;
          const where = `${doc.name}:${number}: (${target})`;
          assert.ok(fs.existsSync(resolved), `${where}: ${file} does not exist`);
          if (anchor !== undefined) {
            assert.ok(
              resolved.endsWith(".md"),
              `${where}: an anchor into a file that is not markdown`,
            );
            const anchors = anchorsOf(fs.readFileSync(resolved, "utf8"));
            assert.ok(
              anchors.has(anchor),
              `${where}: no heading #${anchor} in ${file || doc.name}`,
            );
          }
        }
      }
    });

    it(`has no table cell longer than ${TABLE_CELL_MAX} characters`, () => {
      for (const { line, number } of proseLines(doc.text)) {
        if (!line.startsWith("|")) continue;
        const cells = line
          .replace(/^\||\|$/g, "")
          .split(/(?<!\\)\|/)
          .map((cell) => cell.trim());
        for (const cell of cells) {
          if (/^:?-+:?$/.test(cell)) continue; // the row under the header
          assert.ok(
            cell.length <= TABLE_CELL_MAX,
            `${doc.name}:${number}: a cell of ${cell.length} characters (put the explanation ` +
              `below the table): ${cell.slice(0, 80)}…`,
          );
        }
      }
    });
  });
}

describe("README.md: short, and pointing at the docs", () => {
  it(`has at most ${README_MAX_LINES} lines`, () => {
    const lines = README.text.split("\n").length - (README.text.endsWith("\n") ? 1 : 0);
    assert.ok(lines <= README_MAX_LINES, `${lines} lines: move the details to docs/`);
  });

  it("links to every docs/*.md file", () => {
    for (const doc of DOCS.filter((d) => d !== README)) {
      assert.ok(README.text.includes(`](${doc.name})`), `README.md has no link to ${doc.name}`);
    }
  });
});

describe("docs/walkthrough.md: the kind walk-through", () => {
  const text = WALKTHROUGH?.text ?? "";

  it("has its steps in order", () => {
    assert.ok(WALKTHROUGH, "docs/walkthrough.md exists");
    const steps = [...text.matchAll(/^## (\d+)\. /gm)].map((m) => Number(m[1]));
    assert.deepEqual(
      steps,
      steps.map((_, i) => i + 1),
    );
    assert.ok(steps.length >= 7, `${steps.length} steps`);
    const placeholder = /PROMETHEUS_SNIPPET|TO DO|TBD/.exec(text);
    assert.equal(placeholder, null, `a placeholder is left: ${placeholder?.[0]}`);
  });

  it("its namespace, hosts and ports are the dev stack's and the Platform's", () => {
    const loaded = withStandInSecrets(loadStackConfig(stackFiles().dev));
    const dev = parseConfig(loaded.config, loaded.secretKeys);
    // The app's namespace, one that a manifest of examples/kind creates, or Kourier's (its
    // internal gateway serves the cluster-local tag URLs).
    const namespaces = new Set([dev.namespace, ...exampleNamespaces(), KOURIER_SERVICE.namespace]);
    for (const match of text.matchAll(/ (?:-n|--namespace) (\S+)/g)) {
      assert.ok(namespaces.has(match[1]), `kubectl -n ${match[1]}: not one of ${[...namespaces]}`);
    }
    for (const match of text.matchAll(/http:\/\/([a-z-]+)\.([a-z0-9-]+)\.([\w.]+?)\//g)) {
      const [, host, namespace, domain] = match;
      assert.ok(
        host === dev.app || host.endsWith(`-${dev.app}`),
        `${match[0]}: a host of the app ${dev.app}`,
      );
      assert.equal(namespace, dev.namespace, match[0]);
      assert.equal(domain, dev.domain, match[0]);
    }
    assert.match(text, new RegExp(`\\| ${PLATFORM_DEFAULT_NODE_PORTS.kourierHttp} `));
    assert.match(text, new RegExp(`\\| ${PLATFORM_DEFAULT_NODE_PORTS.ingressHttp} `));
    assert.match(text, new RegExp(`kubectl config use-context ${dev.kubernetes.context}`));
  });
});

describe("README.md and docs/: the checks found what they check", () => {
  // Runs after the per-file checks above (mocha runs describe blocks in order).
  it("saw the canary commands, config commands, paths and links of the docs", () => {
    assert.ok(counted.canaryCommands >= 5, `${counted.canaryCommands} canary commands checked`);
    assert.ok(
      counted.validateCommands >= 5,
      `${counted.validateCommands} validate commands checked`,
    );
    assert.ok(counted.configCommands >= 15, `${counted.configCommands} config commands checked`);
    assert.ok(counted.paths >= 10, `${counted.paths} paths checked`);
    assert.ok(counted.links >= 10, `${counted.links} links checked`);
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
