/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The console is built into the repository's build/web, which the local
// stack (and the hosting stack) serve at "/" next to /config.json.
const outDir = fileURLToPath(new URL("../build/web", import.meta.url));

export default defineConfig({
  plugins: [react()],
  base: "/",
  // No public/ folder: /config.json is written by whoever serves the build,
  // so nothing here can leak a development config into the output.
  publicDir: false,
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
    css: false,
    testTimeout: 20000,
  },
});
