/**
 * The record of one prune run: what was selected and removed, what was kept and why, what went
 * wrong. It is stored in the history table, returned by the API and summarised to people.
 */
import * as z from "zod";

const isoTime = z.iso.datetime({ offset: true });

/** Why an image is kept. `referenced` and `pinned` are hard guarantees; the rest are policy. */
export const keepReasonCodes = [
  "referenced",
  "pinned",
  "in-flight",
  "not-settled",
  "unregistered-service",
  "newest",
  "young",
  "unknown-age",
  "deferred",
] as const;
export const keepReasonCodeSchema = z.enum(keepReasonCodes);
export type KeepReasonCode = z.infer<typeof keepReasonCodeSchema>;

export const keepReasonSchema = z.object({ code: keepReasonCodeSchema, detail: z.string() });
export type KeepReason = z.infer<typeof keepReasonSchema>;

export const keptImageSchema = z.object({
  imageId: z.string(),
  /** The image's `kiln:service` tag; empty when it has none. */
  service: z.string(),
  reasons: z.array(keepReasonSchema).min(1),
});
export type KeptImage = z.infer<typeof keptImageSchema>;

export const removalStatuses = ["planned", "removed", "failed"] as const;

export const imageRemovalSchema = z.object({
  imageId: z.string(),
  service: z.string(),
  name: z.string(),
  createdAt: z.string().optional(),
  /** Why the retention rules let it go. */
  why: z.string(),
  snapshotIds: z.array(z.string()),
  /** `planned` in a dry run; `removed` or `failed` otherwise. */
  status: z.enum(removalStatuses),
  deletedSnapshotIds: z.array(z.string()).default([]),
  /** A failure, or a snapshot left in place because another image still uses it. */
  detail: z.string().optional(),
});
export type ImageRemovalRecord = z.infer<typeof imageRemovalSchema>;

export const pruneTriggerSchema = z.object({
  kind: z.enum(["schedule", "api", "invoke"]),
  by: z.string().max(256).optional(),
});
export type PruneTrigger = z.infer<typeof pruneTriggerSchema>;

export const pruneOutcomes = ["COMPLETED", "COMPLETED_WITH_ERRORS", "ABORTED"] as const;
export const pruneOutcomeSchema = z.enum(pruneOutcomes);
export type PruneOutcome = z.infer<typeof pruneOutcomeSchema>;

export const pruneCountsSchema = z.object({
  /** Kiln-managed images considered (in the run's scope). */
  images: z.number().int().nonnegative(),
  selected: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
  snapshotsDeleted: z.number().int().nonnegative(),
  kept: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
});
export type PruneCounts = z.infer<typeof pruneCountsSchema>;

export const pruneRunSummarySchema = z.object({
  runId: z.string().regex(/^pr-[0-9a-z-]{8,64}$/),
  startedAt: isoTime,
  endedAt: isoTime,
  trigger: pruneTriggerSchema,
  dryRun: z.boolean(),
  /** The one service the run was limited to; absent for every service. */
  service: z.string().optional(),
  outcome: pruneOutcomeSchema,
  /** Why an ABORTED run deleted nothing. */
  abortReasons: z.array(z.string()).default([]),
  counts: pruneCountsSchema,
  /** Failures: a look-up (in an aborted run) or a deletion. */
  errors: z.array(z.object({ imageId: z.string().optional(), message: z.string() })).default([]),
});
export type PruneRunSummary = z.infer<typeof pruneRunSummarySchema>;

export const pruneRunSchema = pruneRunSummarySchema.extend({
  removals: z.array(imageRemovalSchema).default([]),
  kept: z.array(keptImageSchema).default([]),
});
export type PruneRun = z.infer<typeof pruneRunSchema>;
