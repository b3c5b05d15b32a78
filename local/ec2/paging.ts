/**
 * `MaxResults`/`NextToken` paging. Items are ordered by id and the token names the last id
 * returned, so a page sequence yields every item exactly once even while items come and go.
 */
import { Ec2Error } from "./errors.ts";

export interface PageRequest {
  maxResults?: number | undefined;
  nextToken?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

function decodeToken(token: string): string {
  const decoded = Buffer.from(token, "base64url").toString("utf8");
  if (!decoded.startsWith("after:"))
    throw new Ec2Error("InvalidPaginationToken", `Invalid pagination token: ${token}`);
  return decoded.slice("after:".length);
}

/** Returns one page of `items`, validating MaxResults against the action's limits. */
export function paginate<T>(
  items: T[],
  idOf: (item: T) => string,
  request: PageRequest,
  limits: { min: number; max: number },
): Page<T> {
  const { maxResults, nextToken } = request;
  if (maxResults !== undefined && (maxResults < limits.min || maxResults > limits.max)) {
    throw new Ec2Error(
      "InvalidParameterValue",
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between ${limits.min} and ${limits.max}.`,
    );
  }
  const sorted = [...items].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  const after = nextToken === undefined || nextToken === "" ? undefined : decodeToken(nextToken);
  const remaining = after === undefined ? sorted : sorted.filter((item) => idOf(item) > after);
  if (maxResults === undefined || remaining.length <= maxResults) return { items: remaining };
  const pageItems = remaining.slice(0, maxResults);
  const last = pageItems[pageItems.length - 1];
  if (last === undefined) return { items: pageItems };
  return { items: pageItems, nextToken: Buffer.from(`after:${idOf(last)}`).toString("base64url") };
}
