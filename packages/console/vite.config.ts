import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by Sealpost under /console/ (src/http/console.routes.ts) with a CSP that allows no
// inline script or style: every asset is a hashed file of its own, nothing is inlined.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  resolve: {
    // The verifier's canonical JSON (RFC 8785) and duplicate-name check, from @sealpost/verify's
    // own source: browser-safe modules (no node:crypto), so receipts are checked in the browser
    // with the same code customers and the server use.
    alias: {
      '@sealpost/verify/canonical-json': resolve(import.meta.dirname, '../verify/src/canonical-json.ts'),
      '@sealpost/verify/json-text': resolve(import.meta.dirname, '../verify/src/json-text.ts'),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Inlined assets become data: URLs; keep every script and style a file the CSP names as 'self'.
    assetsInlineLimit: 0,
    sourcemap: false,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { index: resolve(import.meta.dirname, 'index.html'), verify: resolve(import.meta.dirname, 'verify.html') },
    },
  },
});
