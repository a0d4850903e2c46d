import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by Sealpost under /console/ (src/http/console.routes.ts) with a CSP that allows no
// inline script or style: every asset is a hashed file of its own, nothing is inlined.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Inlined assets become data: URLs; keep every script and style a file the CSP names as 'self'.
    assetsInlineLimit: 0,
    sourcemap: false,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { index: resolve(import.meta.dirname, 'index.html') },
    },
  },
});
