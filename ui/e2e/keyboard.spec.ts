// The whole everyday path by keyboard alone: no click, no mouse.
import { test, expect, rows } from './fixtures';
import type { Locator, Page } from '@playwright/test';

/** Presses Tab (or Shift+Tab) until `target` has focus; fails after `max` presses. Each stop must show a focus ring. */
async function tabTo(page: Page, target: Locator, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) {
      await expectFocusRing(page);
      return;
    }
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  const at = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 160));
  throw new Error(`Tab never reached ${target}; focus is on ${at}`);
}

/** The focused element shows where it is: an outline, or a ring drawn with box-shadow. */
async function expectFocusRing(page: Page) {
  const ring = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { el: 'body', visible: false };
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const shadow = s.boxShadow !== 'none' && el.matches(':focus-visible');
    return { el: el.outerHTML.slice(0, 120), visible: outline || shadow };
  });
  expect(ring, 'the focused element shows a focus ring').toEqual({ el: ring.el, visible: true });
}

test('sign in, open a collection, move in the list, edit and save, and resolve a conflict by keyboard alone', async ({ page, ferry }) => {
  await ferry.open({ signedIn: false, conflicts: true });

  // Connect screen.
  await tabTo(page, page.locator('#server'));
  await page.keyboard.type('https://ferry.example.com');
  await tabTo(page, page.locator('#username'));
  await page.keyboard.type('alice');
  await tabTo(page, page.locator('#password'));
  await page.keyboard.type('demo');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('status')).toBeVisible();

  // Open the contacts collection from the sidebar.
  await tabTo(page, page.getByTestId('collection-contacts'));
  await page.keyboard.press('Enter');
  await expect(rows(page).first()).toBeVisible();

  // Move in the list (a grid) and open a record with Enter.
  const list = page.getByRole('grid');
  await tabTo(page, list);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowUp');
  const second = page.locator('[data-testid=row][data-index="1"]');
  await expect(second).toHaveClass(/cursor/);
  await expect(list).toHaveAttribute('aria-activedescendant', (await second.getAttribute('id'))!);
  const id = (await second.getAttribute('data-id'))!;
  await page.keyboard.press('Enter');
  const editor = page.getByTestId('editor');
  await expect(editor).toBeVisible();

  // Edit and save.
  const email = editor.locator('[data-field="email"]');
  await tabTo(page, email);
  await page.keyboard.press('Control+a');
  await page.keyboard.type('keyboard@example.com');
  await tabTo(page, page.getByTestId('save'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('record-state')).toHaveText('Not sent yet');
  const update = (await ferry.calls('update_record')).at(-1)!.args;
  expect(update).toMatchObject({ collection: 'contacts', id, changes: { email: 'keyboard@example.com' } });

  // Open the conflicts list from the sidebar, pick the first conflict and resolve it, field by field.
  const nav = page.getByTestId('nav-conflicts');
  await tabTo(page, nav, { back: true, max: 80 });
  await page.keyboard.press('Enter');
  const first = page.getByTestId('conflict-item').first();
  await expect(first).toBeVisible();
  await tabTo(page, first);
  await page.keyboard.press('Enter');
  const d = page.getByTestId('conflict-dialog');
  await expect(d).toBeVisible();
  // Focus is inside the dialog, on its first choice.
  await expect(page.getByTestId('choose-mine-email')).toBeFocused();
  await expectFocusRing(page);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('choose-mine-email')).toHaveAttribute('aria-pressed', 'true');
  await tabTo(page, page.getByTestId('choose-theirs-notes'));
  await page.keyboard.press('Space');
  await tabTo(page, page.getByTestId('choose-mine-vip'));
  await page.keyboard.press('Enter');
  await tabTo(page, page.getByTestId('resolve'));
  await page.keyboard.press('Enter');
  await expect(d).toHaveCount(0);
  expect((await ferry.calls('resolve_conflict')).at(-1)!.args.resolution).toEqual({
    kind: 'fields',
    choices: [
      { field: 'email', choice: { take: 'mine' } },
      { field: 'notes', choice: { take: 'theirs' } },
      { field: 'vip', choice: { take: 'mine' } },
    ],
  });
  // Focus comes back to the list, not to the page's start: the resolved conflict is gone,
  // so to the one that took its place.
  const item = page.getByTestId('conflict-item').first();
  await expect(item).toBeFocused();
  await expect(page.getByTestId('conflict-item')).toHaveCount(2);

  // A delete conflict from the conflicts list, opened with Enter and settled with the keyboard.
  await tabTo(page, item);
  await page.keyboard.press('Enter');
  await expect(d).toBeVisible();
  await tabTo(page, page.getByTestId('restore'));
  await page.keyboard.press('Enter');
  await expect(d).toHaveCount(0);
  expect((await ferry.calls('resolve_conflict')).at(-1)!.args.resolution).toEqual({ kind: 'restore' });
  await expect(page.getByTestId('conflicts-badge')).toHaveText('1');
});

test('the delete question takes focus, Esc cancels and gives focus back to Delete', async ({ page, ferry }) => {
  await ferry.open();
  const list = page.getByRole('grid');
  await expect(rows(page).first()).toBeVisible();
  await tabTo(page, list);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('editor')).toBeVisible();
  const del = page.getByTestId('delete');
  await tabTo(page, del);
  await page.keyboard.press('Enter');
  const question = page.getByRole('alertdialog');
  await expect(question.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(question).toHaveCount(0);
  await expect(del).toBeFocused();
  await expect(page.getByTestId('editor')).toBeVisible();
  expect(await ferry.calls('delete_record')).toEqual([]);
  // Asked again, Tab reaches Delete and Enter deletes.
  await page.keyboard.press('Enter');
  await tabTo(page, page.getByTestId('confirm-delete'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('editor')).toHaveCount(0);
  expect(await ferry.calls('delete_record')).toHaveLength(1);
});

test('import a file and export the view by keyboard alone', async ({ page, ferry }) => {
  await ferry.open({ contacts: 20, files: { '/tmp/k.csv': 'Name,Email,Org\nKeyboard Kim,kim@example.com,Acme\nKeyboard Kit,kit@example.com,Acme' } });
  await expect(rows(page).first()).toBeVisible();

  await tabTo(page, page.getByTestId('open-import'));
  await page.keyboard.press('Enter');
  const path = page.getByTestId('import-path');
  await expect(path).toBeFocused();
  await page.keyboard.type('/tmp/k.csv');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('import-sample')).toBeVisible();
  // The unmapped column gets a field; choosing it with the keyboard asks for a new preview.
  await tabTo(page, page.getByTestId('map-Org'));
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await expect(page.getByTestId('map-Org')).toHaveValue('company');
  await tabTo(page, page.getByTestId('import-start'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('import-result')).toHaveText('Imported 2 rows: 2 new, 0 updated.');
  await expect(page.getByTestId('import-close')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('import-dialog')).toHaveCount(0);
  await expect(page.getByTestId('open-import')).toBeFocused();

  await tabTo(page, page.getByTestId('open-export'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('export-start')).toBeFocused();
  await tabTo(page, page.getByTestId('export-path'), { back: true });
  await page.keyboard.type('/tmp/out.csv');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('export-dialog')).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: 'Exported' })).toHaveText('Exported 22 records to /tmp/out.csv');
  await expect(page.getByTestId('open-export')).toBeFocused();
});
