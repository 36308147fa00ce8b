// Vitest setup for the UI in real Chromium (browser/*.browser.ts); see browser/harness.ts.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "node",
    include: ["browser/**/*.browser.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // One Chromium at a time on a 2-core machine.
    fileParallelism: false,
  },
});
