// Kiln's functions log through Powertools, whose logger reads its level when its module loads:
// imported first, this keeps their lines out of the benchmark's output.
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

export {};
