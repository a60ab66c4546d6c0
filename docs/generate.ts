// `npm run docs`: writes the generated part of docs/configuration.md, the table of config keys,
// from configKeys.ts, the one place every key is declared. Only the part between the markers is
// the generator's; the rest of the file (the explanations below the table) is written by hand and
// kept as it is. test/configKeys.test.ts fails, saying "run npm run docs", when the table in the
// file is not what this produces from the current configKeys.ts.
//
// A key whose explanation needs more than a table cell gets a heading in the hand-written part
// that names it as code (### `tester`); the key's cell then links there. Cells stay short: the
// description cell is the key's description in configKeys.ts, word for word.
import * as fs from "fs";
import * as path from "path";
import * as prettier from "prettier";
import { configKey, KNOWN_KEYS, type ConfigKeyName, type ConfigKeySpec } from "../configKeys";

export const CONFIGURATION_DOC = path.join(__dirname, "configuration.md");
export const TABLE_START = "<!-- generated:config-table -->";
export const TABLE_END = "<!-- /generated -->";

/** The file split at the markers: the hand-written text before and after, and the table. */
export interface GeneratedParts {
  readonly before: string;
  readonly generated: string;
  readonly after: string;
}

export function splitGenerated(text: string, file = CONFIGURATION_DOC): GeneratedParts {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start || text.indexOf(TABLE_START, start + 1) >= 0) {
    throw new Error(
      `${path.basename(file)} must hold the config table once, between the lines ` +
        `${TABLE_START} and ${TABLE_END}`,
    );
  }
  return {
    before: text.slice(0, start),
    generated: text.slice(start + TABLE_START.length, end),
    after: text.slice(end + TABLE_END.length),
  };
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/**
 * The anchor of the first hand-written heading that names each key as code, e.g.
 * "### `maxStepPercent` and `allowLargeStep`" for both keys.
 */
export function keySections(handWritten: string): Map<string, string> {
  const sections = new Map<string, string>();
  let fenced = false;
  for (const line of handWritten.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^#{2,6} (.+)$/.exec(line);
    if (heading === null) continue;
    for (const code of heading[1].matchAll(/`([^`]+)`/g)) {
      if (!sections.has(code[1])) sections.set(code[1], headingAnchor(heading[1]));
    }
  }
  return sections;
}

function typeCell(spec: ConfigKeySpec): string {
  if (spec.range !== undefined) return `${spec.type} ${spec.range.min}..${spec.range.max}`;
  if (spec.fields !== undefined) {
    return `${spec.type}: ${spec.fields.map((field) => `\`${field}\``).join(", ")}`;
  }
  return spec.type;
}

/** As the tables have always shown it: `shownDefault`, else the scalar default as code. */
export function defaultCell(spec: ConfigKeySpec): string {
  return spec.shownDefault ?? `\`${String(spec.default)}\``;
}

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();

/**
 * A description as markdown: outside its code spans, a word holding `<placeholders>` (a URL
 * pattern) becomes code, so that markdown does not take the placeholders for HTML tags.
 */
export function descriptionCell(description: string): string {
  return description
    .split(/(`[^`]*`)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part.replace(/[^\s`]*<[^\s>]+>[^\s`]*?(?=[.,;:)]*(\s|$))/g, (word) => `\`${word}\``),
    )
    .join("");
}

/** The table's markdown (not yet laid out by prettier). */
export function configTable(sections: ReadonlyMap<string, string>): string {
  const rows = KNOWN_KEYS.map((name: ConfigKeyName) => {
    const spec = configKey(name);
    const anchor = sections.get(name);
    const key = anchor === undefined ? `\`${name}\`` : `[\`${name}\`](#${anchor})`;
    return [key, typeCell(spec), defaultCell(spec), descriptionCell(spec.description)];
  });
  const lines = [
    ["key", "type", "default", "description"],
    ["---", "---", "---", "---"],
    ...rows,
  ].map((row) => `| ${row.map(cell).join(" | ")} |`);
  return lines.join("\n");
}

/** The whole file as it should be: its hand-written parts, the table of today's configKeys.ts. */
export async function generateConfigurationDoc(
  current: string,
  file = CONFIGURATION_DOC,
): Promise<string> {
  const { before, after } = splitGenerated(current, file);
  const table = configTable(keySections(before + after));
  const text = `${before}${TABLE_START}\n\n${table}\n\n${TABLE_END}${after}`;
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...options, filepath: file });
}

async function main(): Promise<void> {
  const current = fs.readFileSync(CONFIGURATION_DOC, "utf8");
  const next = await generateConfigurationDoc(current);
  const relative = path.relative(process.cwd(), CONFIGURATION_DOC);
  if (next === current) {
    process.stdout.write(`${relative}: up to date\n`);
    return;
  }
  fs.writeFileSync(CONFIGURATION_DOC, next);
  process.stdout.write(`${relative}: config table written from configKeys.ts\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
