// Reads kube-apiserver's audit log (JSON lines, policy e2e/audit-policy.yaml) to count the
// requests an action made. The `/metrics` counters would count preview dry runs and the
// server's own writes too; the audit log says who sent each request and whether it was a dry run.
import * as fs from "fs";

export interface AuditEvent {
  readonly auditID?: string;
  readonly verb: string;
  readonly requestURI: string;
  readonly user: { readonly username: string };
  readonly objectRef?: {
    readonly resource?: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly apiGroup?: string;
    readonly subresource?: string;
  };
  readonly responseStatus?: { readonly code?: number };
  readonly stage: string;
}

const MUTATING = new Set(["create", "update", "patch", "delete", "deletecollection"]);

export function isMutating(event: AuditEvent): boolean {
  return MUTATING.has(event.verb);
}

/** Whether the request was a server-side dry run (`dryRun=All`), as a preview sends. */
export function isDryRun(event: AuditEvent): boolean {
  return /[?&]dryRun=All(&|$)/.test(event.requestURI);
}

/** A cursor over the audit log: `since()` returns the events written after the last call. */
export class AuditLog {
  private offset = 0;

  constructor(private readonly file: string) {
    this.offset = fs.existsSync(file) ? fs.statSync(file).size : 0;
  }

  /**
   * Watches of `user` started since the cursor that have not ended yet: a watch is logged as
   * complete only when it ends, a moment after its client goes.
   */
  openWatches(user: string): number {
    if (!fs.existsSync(this.file)) return 0;
    const text = fs.readFileSync(this.file).subarray(this.offset).toString("utf8");
    const open = new Set<string>();
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      let event: AuditEvent;
      try {
        event = JSON.parse(line) as AuditEvent;
      } catch {
        continue; // the line being written
      }
      if (event.verb !== "watch" || event.user.username !== user || !event.auditID) continue;
      if (event.stage === "ResponseStarted") open.add(event.auditID);
      if (event.stage === "ResponseComplete") open.delete(event.auditID);
    }
    return open.size;
  }

  /** Waits (at most `timeoutMs`) until every watch `user` started since the cursor has ended. */
  async watchesEnded(user: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.openWatches(user) > 0) {
      if (Date.now() > deadline) {
        throw new Error(
          `${user}: ${this.openWatches(user)} watches still open after ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The completed requests logged since the last call (or since the cursor was made). */
  since(): AuditEvent[] {
    if (!fs.existsSync(this.file)) return [];
    const text = fs.readFileSync(this.file).subarray(this.offset).toString("utf8");
    // Only whole lines: the server may be writing the next one.
    const end = text.lastIndexOf("\n") + 1;
    this.offset += Buffer.byteLength(text.slice(0, end));
    return text
      .slice(0, end)
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as AuditEvent)
      .filter((event) => event.stage === "ResponseComplete");
  }
}

/**
 * pulumi-kubernetes (4.25, pkg/await/await.go fixCSAFieldManagers) sends a JSON patch of the
 * object's managedFields before every update, to take over fields of client-side-apply
 * managers; when there are none its body is `null` and the server changes nothing. It is the
 * one write of an update without a `fieldManager` parameter.
 */
export function isFieldManagerFixUp(event: AuditEvent): boolean {
  return event.verb === "patch" && !isDryRun(event) && !/[?&]fieldManager=/.test(event.requestURI);
}

export interface RequestCounts {
  /** Mutating requests that were not dry runs (the field-manager fix-up included). */
  readonly writes: number;
  /** Of those, the provider's field-manager fix-ups. */
  readonly fixUps: number;
  /** Mutating requests sent as dry runs (a preview's). */
  readonly dryRuns: number;
  /** get, list and watch. */
  readonly reads: number;
}

/** Counts `events` of `user`, optionally only those on `resource` (e.g. "routes"). */
export function countRequests(
  events: readonly AuditEvent[],
  user: string,
  resource?: string,
): RequestCounts {
  const mine = events.filter(
    (e) =>
      e.user.username === user && (resource === undefined || e.objectRef?.resource === resource),
  );
  return {
    writes: mine.filter((e) => isMutating(e) && !isDryRun(e)).length,
    fixUps: mine.filter(isFieldManagerFixUp).length,
    dryRuns: mine.filter((e) => isMutating(e) && isDryRun(e)).length,
    reads: mine.filter((e) => !isMutating(e)).length,
  };
}
