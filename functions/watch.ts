/**
 * Deploy task (callback): the workflow pauses on a task token until the slow AWS operation it
 * waits for is over; this registers the wait and checks once at once (core/deploy/watch.ts).
 */
import { watch, watchInputSchema } from "../core/deploy/watch.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = wire.watchDeps();

export const handler = kilnHandler("watch", watchInputSchema, (input) => watch(deps, input));
