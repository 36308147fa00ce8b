// Vite build for the Tauri webview and the Vitest setup for DOM tests.
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Tauri's dev server URL in src-tauri/tauri.conf.json points here.
  server: { port: 5173, strictPort: true },
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKit on macOS 12+ (Safari 15) and current WebKitGTK.
    target: "safari15",
    // Two pages: the setup window and the dashboard.
    rollupOptions: {
      input: { setup: "index.html", dashboard: "dashboard.html" },
    },
  },
  test: {
    environment: "happy-dom",
    include: ["test/**/*.test.ts"],
  },
});
