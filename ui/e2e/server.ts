// Serves the built UI (dist/) as the desktop shell would, with the app's
// content security policy, and injects the test harness before the app.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';

const UI = resolve(import.meta.dirname, '..');
const DIST = join(UI, 'dist');
const HARNESS = join(UI, 'e2e/.harness/harness.js');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** The CSP from tauri.conf.json, as the header Tauri sends. */
export async function contentSecurityPolicy(): Promise<string> {
  const conf = JSON.parse(await readFile(join(UI, '../tauri.conf.json'), 'utf8'));
  const csp: Record<string, string> = conf.app.security.csp;
  return Object.entries(csp)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');
}

export async function startServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const csp = await contentSecurityPolicy();
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    try {
      if (path === '/favicon.ico') {
        // Browsers ask for it on their own; the webview does not.
        res.writeHead(204);
        res.end();
        return;
      }
      if (path === '/__harness.js') {
        res.writeHead(200, { 'content-type': TYPES['.js']! });
        res.end(await readFile(HARNESS));
        return;
      }
      if (path === '/' || path === '/index.html') {
        const html = (await readFile(join(DIST, 'index.html'), 'utf8')).replace(
          '<head>',
          '<head>\n    <script src="/__harness.js"></script>',
        );
        res.writeHead(200, { 'content-type': TYPES['.html']!, 'content-security-policy': csp });
        res.end(html);
        return;
      }
      const file = normalize(join(DIST, path));
      if (!file.startsWith(DIST)) throw new Error('outside dist');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
