// configKeys.ts declares every config key once. The copies that cannot import it, Pulumi.yaml
// (its `config:` block and the comment listing the keys it cannot declare) and the README's
// config tables, are held to it here; each failure names the copy that drifted.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { CONFIG_KEYS } from "../automation/stackDriver";
import { SECRET_KEYS } from "../config";
import { configKey, ConfigKeyName, KNOWN_KEYS } from "../configKeys";

const ROOT = path.join(__dirname, "..");
const PULUMI_YAML = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

interface Declaration {
  readonly type: string;
  readonly default?: unknown;
  readonly description?: string;
}

/**
 * What Pulumi.yaml can declare: scalar keys that have a default, or are required. An optional key
 * without a default cannot be declared (the CLI would then demand it), nor can an object or a
 * secret (Pulumi.yaml types scalars only).
 */
function declarable(name: ConfigKeyName): boolean {
  const spec = configKey(name);
  const scalar = spec.type === "string" || spec.type === "integer" || spec.type === "boolean";
  return scalar && (spec.default !== undefined || spec.shownDefault === "required");
}

describe("the config key table (configKeys.ts) and its copies", () => {
  it("Pulumi.yaml's config block: every declarable key, with the table's type, default and description", () => {
    const declared = (parseYaml(PULUMI_YAML) as { config: Record<string, Declaration> }).config;
    const expected = Object.fromEntries(
      KNOWN_KEYS.filter(declarable).map((name) => {
        const spec = configKey(name);
        return [
          name,
          {
            type: spec.type,
            ...(spec.default !== undefined ? { default: spec.default } : {}),
            description: spec.description,
          },
        ];
      }),
    );
    assert.deepEqual(declared, expected, "Pulumi.yaml's config block drifted from configKeys.ts");
  });

  it("Pulumi.yaml's comment lists exactly the keys its block cannot declare", () => {
    const comment = PULUMI_YAML.slice(0, PULUMI_YAML.indexOf("\nconfig:"));
    const listed = [...comment.matchAll(/^# {3}(\w+) +(string|object|secret)\b/gm)].map(
      (match) => `${match[1]} ${match[2]}`,
    );
    const expected = KNOWN_KEYS.filter((name) => !declarable(name)).map(
      (name) => `${name} ${configKey(name).type}`,
    );
    assert.deepEqual(
      [...listed].sort(),
      [...expected].sort(),
      "the comment above Pulumi.yaml's config block drifted from configKeys.ts",
    );
  });

  it("the README's config tables: a row per key, with the table's default, and no other", () => {
    // The tables of the two sections that document config: Configuration, Build on push.
    const section = (title: string): string => {
      const start = README.indexOf(`\n## ${title}\n`);
      assert.ok(start >= 0, `README.md has a section "${title}"`);
      const end = README.indexOf("\n## ", start + 1);
      return README.slice(start, end === -1 ? undefined : end);
    };
    const rows = new Map<string, string>();
    for (const text of [section("Configuration"), section("Build on push")]) {
      for (const match of text.matchAll(/^\| `([\w:]+)` +\| ([^|]+?) +\|/gm)) {
        if (!rows.has(match[1])) rows.set(match[1], match[2]);
      }
    }
    const drifted: string[] = [];
    for (const name of rows.keys()) {
      // Provider keys (kubernetes:context, github:token) are documented beside the project's.
      if (!name.includes(":") && !(KNOWN_KEYS as readonly string[]).includes(name)) {
        drifted.push(`${name}: a row, but no such key`);
      }
    }
    for (const name of KNOWN_KEYS) {
      const spec = configKey(name);
      const shown = spec.shownDefault ?? `\`${String(spec.default)}\``;
      const row = rows.get(name);
      if (row === undefined) drifted.push(`${name}: no row`);
      else if (row !== shown) drifted.push(`${name}: default ${row}, the table says ${shown}`);
    }
    assert.deepEqual(drifted, [], "README.md's config tables drifted from configKeys.ts");
  });

  it("the secrets and the canary command's keys are keys of the table", () => {
    for (const key of [...SECRET_KEYS, ...Object.values(CONFIG_KEYS)]) {
      if (key === "github:token") continue; // the GitHub provider's own key
      const name = key.replace(/^canary-release:/, "");
      assert.ok((KNOWN_KEYS as readonly string[]).includes(name), `${key} is in configKeys.ts`);
    }
    assert.deepEqual(
      SECRET_KEYS.filter((key) => key.startsWith("canary-release:")).sort(),
      KNOWN_KEYS.filter((name) => configKey(name).type === "secret")
        .map((name) => `canary-release:${name}`)
        .sort(),
    );
  });
});
