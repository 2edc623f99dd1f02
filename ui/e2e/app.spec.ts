import { test, expect, rows } from './fixtures';
import type { Page } from '@playwright/test';

/** Controls without an accessible name, described for the failure message. */
async function unnamedControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('button, input, select, textarea, [role=button], [role=grid]')) {
      if (el.closest('[hidden]') || el.getAttribute('aria-hidden') === 'true' || !el.getClientRects().length) continue;
      const id = el.id;
      const name =
        el.getAttribute('aria-label') ||
        (el.getAttribute('aria-labelledby') ?? '').split(' ').map((i) => document.getElementById(i)?.textContent ?? '').join('').trim() ||
        (id && document.querySelector(`label[for="${id}"]`)?.textContent?.trim()) ||
        el.closest('label')?.textContent?.trim() ||
        (el.tagName === 'BUTTON' ? el.textContent?.trim() : '') ||
        el.getAttribute('title');
      if (!name) out.push(el.outerHTML.slice(0, 120));
    }
    return out;
  });
}

test.describe('App', () => {
  test('the outbox lists each unsent change with its record and what changed', async ({ page, ferry }) => {
    await ferry.open({ pending: true });
    await expect(page.getByTestId('nav-outbox')).toContainText('4');
    await page.getByTestId('nav-outbox').click();
    const entries = page.getByTestId('outbox-entry');
    await expect(entries).toHaveCount(4);
    await expect(page.getByTestId('outbox-count')).toHaveText('4 changes waiting');
    await expect(entries.nth(0)).toContainText('Changed · Contacts');
    await expect(entries.nth(0)).toContainText('new.address@example.com');
    // The record's title, not the placeholder while it loads.
    await expect(entries.nth(0).locator('.title')).not.toHaveText('…');
    await expect(entries.nth(1)).toContainText(/Status\s*(todo|doing|done)\s*→\s*(doing|done)/);
    await expect(entries.nth(2)).toContainText('Marta Lindqvist');
    await expect(entries.nth(2)).toContainText('Created');
    await expect(entries.nth(3)).toContainText('Deleted');
    await ferry.shot('outbox');
    await page.getByTestId('sync-now').click();
    await expect(page.getByText('Everything is sent')).toBeVisible();
    await ferry.shot('outbox-empty');
  });

  test('asks before quitting with unsent changes', async ({ page, ferry }) => {
    await ferry.open({ pending: true });
    await ferry.emit('quit-requested', { outbox: 4 });
    const d = page.getByTestId('quit-dialog');
    await expect(d).toContainText('4 changes are not sent yet. They stay saved on this computer and are sent next time Ferry is online.');
    await ferry.shot('quit-dialog');
    await d.getByRole('button', { name: 'Cancel' }).click();
    await expect(d).toHaveCount(0);
    expect(await ferry.calls('quit')).toEqual([]);
    await ferry.emit('quit-requested', { outbox: 1 });
    await expect(d).toContainText('1 change is not sent yet.');
    await page.getByTestId('confirm-quit').click();
    await expect.poll(() => page.evaluate(() => window.ferry.backend.quitCalled)).toBe(true);
  });

  test('offers to rebuild a damaged profile from the server', async ({ page, ferry }) => {
    const message =
      'The local database /home/alice/.local/share/ferry/ferry.db is damaged. Ferry can set it aside and rebuild it from the server; unsent changes are saved first.';
    await ferry.open({ damaged: message });
    await expect(page.getByTestId('damaged')).toContainText(message);
    await ferry.shot('damaged');
    await page.getByTestId('rebuild').click();
    await expect(rows(page).first()).toBeVisible();
    expect(await ferry.calls('recover_profile')).toHaveLength(1);
  });

  test('follows the dark system setting', async ({ page, ferry }) => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await ferry.open({ pending: true, conflicts: true, rejected: true });
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    expect(bg).toBe('rgb(27, 27, 30)');
    await rows(page).nth(1).click();
    await expect(page.getByTestId('editor')).toBeVisible();
    await ferry.shot('dark-list-editor');
    await page.getByTestId('nav-conflicts').click();
    await page.getByTestId('conflict-item').first().click();
    await expect(page.getByTestId('conflict-dialog')).toBeVisible();
    await ferry.shot('dark-conflict');
    await page.keyboard.press('Escape');
    await page.getByTestId('nav-outbox').click();
    await ferry.shot('dark-outbox');
  });

  test('dark connect and damaged screens', async ({ page, ferry }) => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await ferry.open({ signedIn: false });
    await page.locator('#server').fill('https://unreachable.example.com');
    await page.locator('#username').fill('alice');
    await page.locator('#password').fill('x');
    await page.getByTestId('connect').click();
    await expect(page.getByTestId('connect-error')).toBeVisible();
    await ferry.shot('dark-connect-error');
  });

  for (const size of [
    { width: 1280, height: 800 },
    { width: 1920, height: 1080 },
  ]) {
    test(`fits ${size.width}x${size.height} with every control named`, async ({ page, ferry }) => {
      await page.setViewportSize(size);
      await ferry.open({ pending: true, conflicts: true });
      await expect(rows(page).first()).toBeVisible();
      await rows(page).nth(3).click();
      await expect(page.getByTestId('editor')).toBeVisible();
      await expect(page.getByTestId('history-entry').first()).toBeVisible();
      // Nothing spills out of the window.
      const overflow = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
      expect(overflow).toEqual([size.width, size.height]);
      for (const id of ['new-record', 'search', 'save', 'delete', 'sync-now', 'work-offline', 'nav-conflicts']) {
        await expect(page.getByTestId(id)).toBeInViewport();
      }
      expect(await unnamedControls(page)).toEqual([]);
      await ferry.shot(`window-${size.width}x${size.height}`);

      await page.getByTestId('nav-conflicts').click();
      await page.getByTestId('conflict-item').first().click();
      await expect(page.getByTestId('conflict-dialog')).toBeVisible();
      expect(await unnamedControls(page)).toEqual([]);
      await ferry.shot(`window-${size.width}x${size.height}-conflict`);
    });
  }

  test('signs out keeping local data, and back in with the last account filled in', async ({ page, ferry }) => {
    await ferry.open({ pending: true });
    await page.getByTestId('sign-out').click();
    await expect(page.getByTestId('signout-dialog')).toContainText('Your records and 4 unsent changes stay on this computer.');
    await ferry.shot('sign-out-dialog');
    await page.getByTestId('confirm-sign-out').click();
    await expect(page.locator('#server')).toHaveValue('https://ferry.example.com');
    await expect(page.locator('#username')).toHaveValue('alice');
    expect(await ferry.calls('logout')).toHaveLength(1);
  });

  test('offers to sign in again when the server refuses the session', async ({ page, ferry }) => {
    await ferry.open({ connection: { state: 'error', message: 'The server no longer accepts this sign-in. Sign in again; your unsent changes are kept.' } });
    await page.getByTestId('sign-in-again').click();
    await expect(page.locator('#username')).toHaveValue('alice');
  });

  test('names every control on the connect screen', async ({ page, ferry }) => {
    await ferry.open({ signedIn: false });
    expect(await unnamedControls(page)).toEqual([]);
  });
});
