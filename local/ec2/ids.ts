/** Resource ids shaped like AWS's: a prefix, then 17 hex digits starting with 0. */
import { randomBytes } from "node:crypto";

export type IdPrefix = "i" | "ami" | "snap" | "lt" | "r" | "vol";

/** A new id such as `i-0a1b2c3d4e5f60718`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}-0${randomBytes(8).toString("hex")}`;
}

/** Whether a string is shaped like an id of this kind (AWS accepts the old 8-digit form too). */
export function isWellFormedId(prefix: IdPrefix, id: string): boolean {
  return new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(id);
}
