// A stand-in for GitHub's Deployments REST API on loopback: the four calls the canary command
// makes, answered as GitHub documents them (201 with the created object, lists newest first,
// 401 without the token, 422 for a state it does not know or a description over 140
// characters, `inactive` added to the environment's earlier successful deployments on a
// success with auto_inactive), every request recorded in order with its body, and faults on
// demand: a status code, or no answer at all.
import * as http from "http";
import type { AddressInfo } from "net";
import type { Socket } from "net";

export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  readonly body?: Record<string, unknown>;
  readonly authorization?: string;
}

export interface StandInDeployment {
  readonly id: number;
  readonly sha: string;
  readonly ref: string;
  readonly task: string;
  readonly environment: string;
  readonly payload: unknown;
  readonly description: string | null;
  readonly transient_environment: boolean;
  readonly production_environment: boolean;
  /** Oldest first, as they were created (the API lists them newest first). */
  readonly statuses: Record<string, unknown>[];
}

export interface StandInGithub {
  /** The API root to give as githubDeployments.apiUrl. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly deployments: StandInDeployment[];
  /** Answer every request with this status until cleared; `"hang"`: never answer. */
  fault: number | "hang" | undefined;
  close(): Promise<void>;
}

const STATES = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];

export async function startStandInGithub(options: {
  readonly owner: string;
  readonly repository: string;
  readonly token: string;
}): Promise<StandInGithub> {
  const state = {
    requests: [] as RecordedRequest[],
    deployments: [] as StandInDeployment[],
    fault: undefined as number | "hang" | undefined,
  };
  let nextId = 1000;
  const repo = `/repos/${options.owner}/${options.repository}`;
  const sockets = new Set<Socket>();

  const server = http.createServer((request, response) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => {
      let body: Record<string, unknown> | undefined;
      try {
        body = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
      } catch {
        body = undefined;
      }
      const authorization = request.headers.authorization;
      state.requests.push({
        method: request.method ?? "",
        path: request.url ?? "",
        ...(body !== undefined ? { body } : {}),
        ...(authorization !== undefined ? { authorization } : {}),
      });
      const send = (code: number, value: unknown): void => {
        response.writeHead(code, { "content-type": "application/json; charset=utf-8" });
        response.end(JSON.stringify(value));
      };
      if (state.fault === "hang") return;
      if (state.fault !== undefined) {
        send(state.fault, { message: `stand-in fault ${state.fault}` });
        return;
      }
      if (authorization !== `Bearer ${options.token}`) {
        send(401, {
          message: "Bad credentials",
          documentation_url: "https://docs.github.com/rest",
        });
        return;
      }
      const url = new URL(request.url ?? "/", "http://stand-in");
      const at = url.pathname;
      if (at === `${repo}/deployments` && request.method === "GET") {
        const query = url.searchParams;
        const listed = [...state.deployments]
          .reverse()
          .filter(
            (d) =>
              (!query.has("sha") || d.sha === query.get("sha")) &&
              (!query.has("environment") || d.environment === query.get("environment")) &&
              (!query.has("task") || d.task === query.get("task")),
          )
          .slice(0, Number(query.get("per_page") ?? "30"))
          .map(({ statuses: _statuses, ...deployment }) => deployment);
        send(200, listed);
        return;
      }
      if (at === `${repo}/deployments` && request.method === "POST") {
        if (typeof body?.ref !== "string" || body.ref === "") {
          send(422, { message: "Invalid request.", errors: [{ message: "ref is missing" }] });
          return;
        }
        const environment = typeof body.environment === "string" ? body.environment : "production";
        const deployment: StandInDeployment = {
          id: nextId++,
          sha: body.ref,
          ref: body.ref,
          task: typeof body.task === "string" ? body.task : "deploy",
          environment,
          payload: body.payload ?? {},
          description: typeof body.description === "string" ? body.description : null,
          transient_environment: body.transient_environment === true,
          production_environment:
            typeof body.production_environment === "boolean"
              ? body.production_environment
              : environment === "production",
          statuses: [],
        };
        state.deployments.push(deployment);
        const { statuses: _statuses, ...shown } = deployment;
        send(201, shown);
        return;
      }
      const statuses = new RegExp(`^${repo}/deployments/(\\d+)/statuses$`).exec(at);
      const deployment = state.deployments.find((d) => d.id === Number(statuses?.[1]));
      if (statuses !== null && deployment === undefined) {
        send(404, { message: "Not Found" });
        return;
      }
      if (deployment !== undefined && request.method === "GET") {
        const limit = Number(url.searchParams.get("per_page") ?? "30");
        send(200, [...deployment.statuses].reverse().slice(0, limit));
        return;
      }
      if (deployment !== undefined && request.method === "POST") {
        const stateName = body?.state;
        if (typeof stateName !== "string" || !STATES.includes(stateName)) {
          send(422, {
            message: "Validation Failed",
            errors: [{ message: `state must be one of ${STATES.join(", ")}` }],
          });
          return;
        }
        const description = typeof body?.description === "string" ? body.description : "";
        if (description.length > 140) {
          send(422, {
            message: "Validation Failed",
            errors: [{ message: "description is too long (maximum is 140 characters)" }],
          });
          return;
        }
        const status = { id: nextId++, state: stateName, ...body };
        deployment.statuses.push(status);
        // GitHub's auto_inactive (default true): a success makes the environment's earlier
        // successful deployments inactive, for non-transient, non-production environments.
        if (
          stateName === "success" &&
          body?.auto_inactive !== false &&
          !deployment.transient_environment &&
          !deployment.production_environment
        ) {
          for (const earlier of state.deployments) {
            const last = earlier.statuses[earlier.statuses.length - 1];
            if (
              earlier.id < deployment.id &&
              earlier.environment === deployment.environment &&
              last?.state === "success"
            ) {
              earlier.statuses.push({ id: nextId++, state: "inactive", automatic: true });
            }
          }
        }
        send(201, status);
        return;
      }
      send(404, { message: "Not Found" });
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        // A hanging request's socket would keep the server (and mocha) open.
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  }) as StandInGithub;
}
