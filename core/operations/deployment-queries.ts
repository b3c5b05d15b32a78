/**
 * Reading deployments for operators: one by id, or pages newest first, across services or for
 * one, optionally only some statuses.
 */
import * as z from "zod";
import type { Deployment, DeploymentStatus } from "../deployment.ts";
import { DeploymentNotFoundError, InvalidInputError } from "../errors.ts";
import type { DeploymentHistory, Page } from "../ports.ts";

export interface DeploymentQuery {
  service?: string | undefined;
  /** Only deployments in one of these statuses; all when empty or absent. */
  statuses?: DeploymentStatus[] | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface QueryDeps {
  history: Pick<DeploymentHistory, "get" | "listByService" | "listRecent">;
}

/** History reads a filtered query may spend on one page before handing back a cursor. */
const maxReadsPerPage = 25;

// A cursor names the listing it belongs to: one service's index position means nothing in another.
const cursorSchema = z.object({ scope: z.string(), position: z.string().min(1) });

function sealCursor(scope: string, position: string): string {
  return Buffer.from(JSON.stringify({ scope, position })).toString("base64url");
}

function openCursor(cursor: string | undefined, scope: string): string | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  let parsed: z.infer<typeof cursorSchema>;
  try {
    parsed = cursorSchema.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new InvalidInputError("cursor", ["cursor: not one this API returned"]);
  }
  if (parsed.scope !== scope)
    throw new InvalidInputError("cursor", ["cursor: it belongs to a listing of another service"]);
  return parsed.position;
}

/** A page of deployments, newest first. Filtering by status may return a short page with a cursor. */
export async function listDeployments(deps: QueryDeps, query: DeploymentQuery): Promise<Page<Deployment>> {
  const scope = query.service ?? "";
  const wanted = query.statuses && query.statuses.length > 0 ? new Set(query.statuses) : undefined;
  let position = openCursor(query.cursor, scope);
  const items: Deployment[] = [];
  // Each read asks for exactly what is still missing, so a page never ends part-way through a
  // history page: the history's own cursor stays exact.
  for (let read = 0; read < (wanted ? maxReadsPerPage : 1); read += 1) {
    const options = { limit: query.limit - items.length, cursor: position };
    const page = query.service
      ? await deps.history.listByService(query.service, options)
      : await deps.history.listRecent(options);
    items.push(...(wanted ? page.items.filter((deployment) => wanted.has(deployment.status)) : page.items));
    position = page.cursor;
    if (position === undefined || items.length >= query.limit) break;
  }
  return { items, cursor: position === undefined ? undefined : sealCursor(scope, position) };
}

/** One deployment; DeploymentNotFoundError when there is none by that id. */
export async function getDeployment(deps: QueryDeps, id: string): Promise<Deployment> {
  const deployment = await deps.history.get(id);
  if (!deployment) throw new DeploymentNotFoundError(`deployment ${id} does not exist`);
  return deployment;
}
