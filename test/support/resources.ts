// Small helpers the stack tests share: config variants, and finding what a run registered.
import { strict as assert } from "assert";
import type { ProgramRun, RecordedResource } from "../../conformance/programRunner";

/** `base` with `changes` applied; an `undefined` value removes the key. */
export function withChanges(
  base: Readonly<Record<string, string>>,
  changes: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const config = { ...base };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete config[key];
    else config[key] = value;
  }
  return config;
}

/** Every resource of `type` the run created (reads excluded). */
export function ofType(run: ProgramRun, type: string): RecordedResource[] {
  return run.resources.filter((r) => r.type === type && r.readId === undefined);
}

/** The one resource of `type`; fails, saying so, if the program failed or there is not one. */
export function only(run: ProgramRun, type: string): RecordedResource {
  assert.equal(run.error, undefined, `the program failed: ${run.error?.message}`);
  const found = ofType(run, type);
  assert.equal(found.length, 1, `expected one ${type}, got ${found.length}`);
  return found[0];
}

/** The one resource of `type` with metadata.name `name`. */
export function named(run: ProgramRun, type: string, name: string): RecordedResource {
  const found = ofType(run, type).filter(
    (r) => (r.inputs.metadata as { name?: string } | undefined)?.name === name,
  );
  assert.equal(found.length, 1, `expected one ${type} named ${name}, got ${found.length}`);
  return found[0];
}
