/**
 * EC2's XML response shapes: lowerCamelCase elements, lists as `<item>` entries, errors as
 * `<Response><Errors>`. Values are plain objects so each action describes its response as data.
 */
export type XmlValue = string | number | boolean | Date | undefined | null | XmlValue[] | XmlObject;
export interface XmlObject {
  [element: string]: XmlValue;
}

const EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/";

function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function renderContent(value: XmlValue): string {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((entry) => renderElement("item", entry)).join("");
  if (typeof value === "object" && value !== null) {
    return Object.entries(value)
      .map(([name, child]) => renderElement(name, child))
      .join("");
  }
  return escapeXml(String(value));
}

/** Renders one element; absent values render nothing, as AWS omits unset fields. */
export function renderElement(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return "";
  const content = renderContent(value);
  return content === "" ? `<${name}/>` : `<${name}>${content}</${name}>`;
}

/** Renders a successful `<ActionResponse>` document. */
export function renderResponse(action: string, requestId: string, body: XmlObject): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}">` +
    `<requestId>${escapeXml(requestId)}</requestId>${renderContent(body)}</${action}Response>`
  );
}

/** Renders EC2's error document (note `RequestID`, not `requestId`, as AWS spells it there). */
export function renderError(code: string, message: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${escapeXml(requestId)}</RequestID></Response>`
  );
}
