import "../core/polyfills.ts";
