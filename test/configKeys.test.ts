// configKeys.ts declares every config key once. The copies that cannot import it, Pulumi.yaml
// (its `config:` block and the comment listing the keys it cannot declare) and the config table
// of docs/configuration.md (written by `npm run docs`), are held to it here; each failure names
// the copy that drifted.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { CONFIG_KEYS } from "../automation/stackDriver";
import { SECRET_KEYS } from "../config";
import { configKey, ConfigKeyName, KNOWN_KEYS } from "../configKeys";
import {
  CONFIGURATION_DOC,
  defaultCell,
  generateConfigurationDoc,
  splitGenerated,
} from "../docs/generate";

const ROOT = path.join(__dirname, "..");
const PULUMI_YAML = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");

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

  it("docs/configuration.md's config table: what `npm run docs` writes from the table today", async () => {
    const current = fs.readFileSync(CONFIGURATION_DOC, "utf8");
    const expected = await generateConfigurationDoc(current);
    assert.equal(
      splitGenerated(current).generated,
      splitGenerated(expected).generated,
      "docs/configuration.md's config table drifted from configKeys.ts: run npm run docs",
    );
  });

  it("docs/configuration.md's config table: a row per key, with the table's default, and no other", () => {
    const rows = new Map<string, string>();
    const table = splitGenerated(fs.readFileSync(CONFIGURATION_DOC, "utf8")).generated;
    for (const match of table.matchAll(
      /^\| (?:\[)?`([\w:]+)`(?:\]\([^)]*\))? +\| [^|]+ \| ([^|]+?) +\|/gm,
    )) {
      rows.set(match[1], match[2]);
    }
    const expected = new Map(
      KNOWN_KEYS.map((name) => [name as string, defaultCell(configKey(name))]),
    );
    assert.deepEqual(rows, expected, "run npm run docs");
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
