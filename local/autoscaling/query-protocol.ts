/**
 * The awsQuery wire format Auto Scaling speaks: form-encoded requests whose lists are
 * `Name.member.N`, and XML responses in PascalCase whose lists are `<member>` entries.
 */
import { randomUUID } from "node:crypto";
import * as z from "zod";
import { AutoScalingError } from "./errors.ts";

export const xmlNamespace = "http://autoscaling.amazonaws.com/doc/2011-01-01/";
export const apiVersion = "2011-01-01";

/** A parameter tree: `Tags.member.1.Key=a` becomes `{ Tags: [{ Key: "a" }] }`. */
export type QueryTree = string | QueryTree[] | { [key: string]: QueryTree };

type Branch = Map<string, Branch | string>;

/** Turns a form-encoded awsQuery body into a tree with `member` maps folded into arrays. */
export function parseQueryBody(body: string): Record<string, QueryTree> {
  const root: Branch = new Map();
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split(".");
    const leaf = parts.pop() ?? "";
    let node = root;
    for (const part of parts) {
      const child = node.get(part);
      if (child instanceof Map) {
        node = child;
      } else {
        const created: Branch = new Map();
        node.set(part, created);
        node = created;
      }
    }
    // A key that is both a leaf and a parent (never sent by the SDK) keeps its children.
    if (!(node.get(leaf) instanceof Map)) node.set(leaf, value);
  }
  return Object.fromEntries([...root].map(([key, child]) => [key, fold(child)]));
}

function fold(node: Branch | string): QueryTree {
  if (typeof node === "string") return node;
  const members = node.get("member");
  if (node.size === 1 && members instanceof Map) {
    return [...members]
      .filter(([index]) => /^\d+$/.test(index))
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, item]) => fold(item));
  }
  return Object.fromEntries([...node].map(([key, child]) => [key, fold(child)]));
}

/** A list parameter; the SDK sends an empty list as `Name=` with no members. */
export function queryList<T extends z.ZodType>(item: T) {
  return z.preprocess((value) => (value === "" ? [] : value), z.array(item));
}

export const queryInt = z.coerce.number().int();
export const queryBool = z.enum(["true", "false"]).transform((value) => value === "true");

/** Parses an action's parameters, answering a ValidationError the way AWS words one. */
export function parseParams<T extends z.ZodType>(schema: T, params: Record<string, QueryTree>): z.infer<T> {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const described = issues
    .slice(0, 5)
    .map(
      (issue) =>
        `Value at '${issue.path.join(".") || "(request)"}' failed to satisfy constraint: ${issue.message}`,
    )
    .join("; ");
  throw new AutoScalingError(
    "ValidationError",
    `${issues.length} validation error${issues.length === 1 ? "" : "s"} detected: ${described}`,
  );
}

/** A value rendered into XML: arrays become `<member>` lists, undefined is left out. */
export type XmlValue =
  | string
  | number
  | boolean
  | Date
  | undefined
  | XmlValue[]
  | { [key: string]: XmlValue };

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function renderXml(name: string, value: XmlValue): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) {
    return `<${name}>${value.map((item) => renderXml("member", item)).join("")}</${name}>`;
  }
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === "object") {
    const children = Object.entries(value)
      .map(([key, child]) => renderXml(key, child))
      .join("");
    return `<${name}>${children}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** The body of a successful response; `result` undefined renders an action with no result. */
export function renderResponse(action: string, result: Record<string, XmlValue> | undefined): string {
  const resultXml = result === undefined ? "" : renderXml(`${action}Result`, result);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${xmlNamespace}">${resultXml}` +
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
  );
}

/** The body of an error response, as the SDK reads it into a named exception. */
export function renderError(type: "Sender" | "Receiver", code: string, message: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${xmlNamespace}"><Error><Type>${type}</Type>` +
    `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
    `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`
  );
}
