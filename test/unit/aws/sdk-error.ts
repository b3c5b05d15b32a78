/** Errors shaped as the AWS SDK v3 throws them: `name` is the AWS error code. */
import { EC2ServiceException } from "@aws-sdk/client-ec2";

/** A service error with the given code, HTTP status and, for throttling, SDK retry hints. */
export function sdkError(
  name: string,
  options: { status?: number; message?: string; retryable?: boolean } = {},
): Error {
  const status = options.status ?? 400;
  const error = new EC2ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status, requestId: "req-1", attempts: 1, totalRetryDelay: 0 },
    message: options.message ?? `${name} happened`,
  });
  if (options.retryable) Object.assign(error, { $retryable: { throttling: true } });
  return error;
}

/** SDK clients for tests: a region and fixed credentials, so nothing looks anything up. */
export const clientConfig = {
  region: "eu-west-1",
  credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
};
