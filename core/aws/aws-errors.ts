/**
 * Translation of SDK errors into Kiln's: the state machine retries only TransientAwsError, so
 * every adapter call goes through `callAws`.
 */
import { ResourceNotFoundError, TransientAwsError } from "../errors.ts";

const transientNames = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "InternalError",
  "InternalFailure",
  "InternalServerError",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "Unavailable",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function shapeOf(error: unknown): SdkErrorShape {
  return typeof error === "object" && error !== null ? (error as SdkErrorShape) : {};
}

/** The AWS error code (`err.name` for SDK v3 service errors). */
export function awsErrorName(error: unknown): string {
  const shape = shapeOf(error);
  return shape.name ?? shape.code ?? "";
}

export function isAwsError(error: unknown, ...names: string[]): boolean {
  return names.includes(awsErrorName(error));
}

/** True for errors worth retrying later: throttling, server faults, dropped connections. */
export function isTransient(error: unknown): boolean {
  const shape = shapeOf(error);
  const status = shape.$metadata?.httpStatusCode ?? 0;
  return (
    transientNames.has(awsErrorName(error)) ||
    transientNames.has(shape.code ?? "") ||
    status >= 500 ||
    shape.$retryable !== undefined
  );
}

/** Runs one AWS call, naming it in any error and turning transient failures into TransientAwsError. */
export async function callAws<T>(what: string, call: () => Promise<T>, notFound?: string[]): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const name = awsErrorName(error);
    const message = error instanceof Error ? error.message : String(error);
    if (isTransient(error)) throw new TransientAwsError(`${what}: ${name} ${message}`, { cause: error });
    if (notFound?.includes(name)) throw new ResourceNotFoundError(`${what}: ${message}`, { cause: error });
    throw error;
  }
}
