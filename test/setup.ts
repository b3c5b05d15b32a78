import "../local/polyfills.ts";

// Functions run in the test process: their info lines would bury the test output.
process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
