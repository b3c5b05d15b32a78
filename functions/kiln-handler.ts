/**
 * The shape of every Kiln function: middy with Powertools' logger context, the event parsed with
 * a schema (a bad event fails with InvalidInputError naming each field), errors logged with their
 * name and rethrown — Step Functions retries and catches by that name.
 */

import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type * as z from "zod";
import { describeIssues, InvalidInputError } from "../core/errors.ts";
import { correlationOf, logger } from "./observability.ts";

/** Wraps `run` as a Lambda handler whose input is parsed with `schema` first. */
export function kilnHandler<S extends z.ZodType, R>(
  name: string,
  schema: S,
  run: (input: z.output<S>, context: Context) => Promise<R>,
) {
  return middy<unknown, R, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use({
      onError: async (request) => {
        const error = request.error;
        logger.error(`${name} failed`, { errorName: error?.name, error: error?.message });
      },
    })
    .handler(async (event, context) => {
      logger.appendKeys(correlationOf(event));
      const parsed = schema.safeParse(event);
      if (!parsed.success) throw new InvalidInputError(`${name} input`, describeIssues(parsed.error.issues));
      return run(parsed.data, context);
    });
}
