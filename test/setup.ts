import "../local/polyfills.ts";
