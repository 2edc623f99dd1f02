// Playwright fixtures: a server per worker, a page that fails the test on any
// console error (CSP violations included), and helpers to open the app in a
// scenario and save screenshots.
import { test as base, expect, type Page } from '@playwright/test';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Scenario } from './mock/backend';
import { startServer } from './server';

export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts/ui');

interface Ferry {
  /** Opens the app with the fake backend in `scenario` and waits for its first screen. */
  open: (scenario?: Scenario) => Promise<void>;
  /** Saves a screenshot as test-artifacts/ui/NAME.png. */
  shot: (name: string) => Promise<void>;
  /** Commands the UI sent, oldest first. */
  calls: (cmd?: string) => Promise<{ cmd: string; args: any }[]>;
  /** Emits an event as the shell would. */
  emit: (name: string, payload: unknown) => Promise<void>;
}

export const test = base.extend<{ ferry: Ferry; consoleErrors: string[] }, { appURL: string }>({
  appURL: [
    async ({}, use) => {
      const server = await startServer();
      await use(server.url);
      await server.close();
    },
    { scope: 'worker' },
  ],
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await use(errors);
    expect(errors, 'console errors').toEqual([]);
  },
  ferry: async ({ page, appURL, consoleErrors }, use) => {
    void consoleErrors;
    await mkdir(ARTIFACTS, { recursive: true });
    await use({
      open: async (scenario = {}) => {
        await page.addInitScript((s) => {
          (window as any).__FERRY_SCENARIO__ = s;
        }, scenario);
        await page.goto(appURL);
        await expect(page.locator('[data-testid=status], #server, [data-testid=damaged], [data-testid=passphrase-screen]').first()).toBeVisible();
      },
      shot: async (name) => {
        await page.evaluate(() => document.fonts.ready);
        await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), animations: 'disabled', caret: 'hide' });
      },
      calls: (cmd) =>
        page.evaluate((c) => window.ferry.backend.calls.filter((x) => !c || x.cmd === c), cmd ?? null),
      emit: (name, payload) => page.evaluate(([n, p]) => window.ferry.emit(n as string, p), [name, payload] as const),
    });
  },
});

export { expect };

/** Rows of the record list currently in the DOM. */
export const rows = (page: Page) => page.locator('[data-testid=row]');
