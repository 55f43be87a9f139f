import { defineConfig } from "vite";

// Built into dist/, which parleyd serves with --web-dir (or as the `web`
// folder next to its binary). `npm run dev` proxies the API to a parleyd on
// :8080, so the app can be worked on with live reload.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    rollupOptions: {
      // The SDK falls back to the `ws` package where there is no global
      // WebSocket (old Node); every browser has one.
      external: ["ws"],
    },
  },
  server: {
    proxy: { "/v1": { target: "http://127.0.0.1:8080", ws: true } },
  },
});
