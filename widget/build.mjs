// Builds dist/: loader.js (the snippet's script), frame.js and frame.css (the chat frame).
// Minified, no source maps, deterministic: CI rebuilds and fails on any difference from the
// committed files. Budgets (gzipped): loader ≤ 5 KB, frame ≤ 30 KB, checked by the Go tests.
import { build } from "esbuild";
import { writeFileSync, mkdirSync } from "node:fs";

// Keeps `go ./...` out of node_modules.
mkdirSync("node_modules", { recursive: true });
writeFileSync("node_modules/go.mod", "module ignore // keeps go ./... out of node_modules\n");

const common = { bundle: true, minify: true, target: "es2020", legalComments: "none", charset: "utf8", logLevel: "warning" };
await build({ ...common, entryPoints: ["src/loader.ts"], outfile: "dist/loader.js", format: "iife" });
await build({ ...common, entryPoints: ["src/frame/main.ts"], outfile: "dist/frame.js", format: "iife" });
await build({ ...common, entryPoints: ["src/frame/frame.css"], outfile: "dist/frame.css" });
