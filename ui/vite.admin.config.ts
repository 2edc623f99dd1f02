// Builds the administrator's console (admin/), which ferry-server embeds and
// serves at /admin/. It shares app.css and components with the desktop UI.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  // The root is admin/: the Svelte settings are the desktop UI's, one level up.
  plugins: [svelte({ configFile: fileURLToPath(new URL('./svelte.config.js', import.meta.url)) })],
  root: fileURLToPath(new URL('./admin', import.meta.url)),
  base: '/admin/',
  clearScreen: false,
  build: {
    target: 'es2020',
    outDir: '../dist-admin',
    emptyOutDir: true,
    sourcemap: false,
    // The page's CSP allows data: images; nothing else is inlined.
    assetsInlineLimit: 0,
  },
  server: {
    host: '127.0.0.1',
    port: 5174,
    strictPort: true,
    // Served from admin/, it imports ../src (app.css, shared components).
    fs: { allow: [fileURLToPath(new URL('.', import.meta.url))] },
    // `npm run dev:admin` talks to a ferry-server on its default address.
    proxy: { '/v1': 'http://127.0.0.1:8787' },
  },
});
