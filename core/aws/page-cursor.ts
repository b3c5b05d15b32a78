/** Opaque paging cursors: DynamoDB's LastEvaluatedKey, base64url-encoded JSON. */
import * as z from "zod";
import { InvalidInputError } from "../errors.ts";

const keySchema = z.record(z.string(), z.union([z.string(), z.number()]));

export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString("base64url") : undefined;
}

/** The key a cursor stands for; a tampered or foreign cursor is a clear input error. */
export function decodeCursor(cursor: string | undefined): Record<string, string | number> | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  try {
    return keySchema.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new InvalidInputError("cursor", ["cursor is not one this API returned"]);
  }
}
