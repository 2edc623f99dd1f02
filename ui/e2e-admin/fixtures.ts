// The console's test fixtures: one real ferry-server per worker, the page's
// base URL on it, a guard against CSP violations and uncaught errors, and
// helpers to sign in and to run axe.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { test as base, expect, type Page } from '@playwright/test';
import { ADMIN, startServer, type FerryServer } from './server';

const require = createRequire(import.meta.url);
// Evaluated rather than added as a <script>: the console's CSP forbids inline scripts.
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts/admin');

export const test = base.extend<{ guard: void }, { ferry: FerryServer }>({
  ferry: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const server = await startServer();
      try {
        await use(server);
      } finally {
        await server.stop();
      }
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  baseURL: async ({ ferry }, use) => use(ferry.url),
  guard: [
    async ({ page, ferry }, use, testInfo) => {
      const problems: string[] = [];
      page.on('console', (msg) => {
        // A blocked inline script or style is a bug of the build, whatever else happens.
        if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
      await use();
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('ferry-server.log', { body: ferry.log(), contentType: 'text/plain' });
      }
      expect(problems, 'CSP violations or uncaught errors in the page').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

export async function signIn(page: Page, username = ADMIN.username, password = ADMIN.password) {
  await page.goto('/admin/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('signed-in-as')).toHaveText(username);
}

/** Opens a console page through the sidebar and waits until it has loaded. */
export async function open(page: Page, id: string, title: string) {
  await page.getByTestId(`nav-${id}`).click();
  await expect(page.getByRole('heading', { level: 1, name: title })).toBeVisible();
  await expect(page.locator('.loading')).toHaveCount(0);
}

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Runs axe on the page and fails listing each serious or critical violation. */
export async function expectAccessible(page: Page, view: string) {
  // Let entry animations settle: axe measures colours as painted.
  await page.waitForTimeout(250);
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const violations: Violation[] = await page.evaluate(async () => {
    const axe = (window as any).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n: any) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help}\n` +
      v.nodes.map((n) => `    ${n.target.join(' ')}${n.failureSummary ? `\n      ${n.failureSummary.replace(/\n/g, '\n      ')}` : ''}`).join('\n'),
  );
  expect(report, `axe: serious or critical violations on ${view}`).toEqual([]);
}

/** A full-page screenshot in test-artifacts/admin/. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
