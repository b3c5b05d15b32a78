/**
 * MaxRecords / NextToken paging as Auto Scaling does it: the token is opaque to clients and
 * one the emulator did not hand out is an `InvalidNextToken` error.
 */
import { AutoScalingError } from "./errors.ts";

export interface Page<T> {
  items: T[];
  nextToken: string | undefined;
}

/** Returns the page that `nextToken` points at, at most `maxRecords` long. */
export function paginate<T>(items: T[], maxRecords: number, nextToken: string | undefined): Page<T> {
  let offset = 0;
  if (nextToken !== undefined && nextToken !== "") {
    const decoded = /^offset:(\d+)$/.exec(Buffer.from(nextToken, "base64url").toString("utf8"));
    if (decoded?.[1] === undefined) {
      throw new AutoScalingError("InvalidNextToken", `The token '${nextToken}' is invalid.`);
    }
    offset = Number(decoded[1]);
  }
  const end = offset + maxRecords;
  return {
    items: items.slice(offset, end),
    nextToken: end < items.length ? Buffer.from(`offset:${end}`).toString("base64url") : undefined,
  };
}
