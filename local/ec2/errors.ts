/**
 * EC2 API errors as AWS names them. The protocol layer renders an Ec2Error as EC2's
 * `<Response><Errors><Error>` document, so the SDK raises an exception whose `name` is `code`.
 */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "Ec2Error";
  }
}

/** The error AWS returns for a required parameter that is absent. */
export function missingParameter(name: string): Ec2Error {
  return new Ec2Error("MissingParameter", `The request must contain the parameter ${name}`);
}

/** The error AWS returns for a parameter whose value it does not accept. */
export function invalidParameterValue(message: string): Ec2Error {
  return new Ec2Error("InvalidParameterValue", message);
}

/** The error AWS returns when an instance is not in a state the action accepts. */
export function incorrectInstanceState(instanceId: string, state: string, action: string): Ec2Error {
  return new Ec2Error(
    "IncorrectInstanceState",
    `The instance '${instanceId}' is not in a state from which it can be ${action} (it is '${state}').`,
  );
}

/** The HTTP status AWS uses for an error code raised by an injected fault. */
export function statusForCode(code: string): number {
  if (code === "RequestLimitExceeded" || code === "Unavailable" || code === "ServiceUnavailable") return 503;
  if (code === "InternalError" || code === "InternalFailure" || code === "InsufficientInstanceCapacity")
    return 500;
  return 400;
}
