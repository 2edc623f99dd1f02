// Builds the end-to-end test harness (the fake backend) as one classic script
// that the test server loads before the built app.
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    target: 'es2022',
    outDir: 'e2e/.harness',
    emptyOutDir: true,
    minify: false,
    lib: {
      entry: 'e2e/harness/harness.ts',
      formats: ['iife'],
      name: 'FerryHarness',
      fileName: () => 'harness.js',
    },
  },
});
