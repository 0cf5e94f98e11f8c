import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The build goes to dist/, which the Go package web embeds (web/embed.go): hashed files under
// assets/ (served as immutable) and index.html (served for every client route, never cached).
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // Chromium versions of the last two years; no legacy polyfills.
    target: "es2022",
    reportCompressedSize: true,
  },
  server: {
    // npm run dev: the app on Vite, the API on a local `tandem demo --addr 127.0.0.1:8080`.
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
