/**
 * An Auto Scaling API error: `code` is the awsQuery error code the SDK maps to its named
 * exception (`AlreadyExists` → `AlreadyExistsFault`, `ValidationError` stays a plain
 * service exception named `ValidationError`).
 */
export class AutoScalingError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "AutoScalingError";
  }

  get type(): "Sender" | "Receiver" {
    return this.status >= 500 ? "Receiver" : "Sender";
  }
}

/** The ValidationError AWS answers for a group that does not exist. */
export function groupNotFound(name: string): AutoScalingError {
  return new AutoScalingError(
    "ValidationError",
    `AutoScalingGroup name not found - AutoScalingGroup '${name}' not found`,
  );
}
