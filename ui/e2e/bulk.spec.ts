// Many records at once: picking rows in the list and editing all of them.
import { test, expect, rows } from './fixtures';
import type { Page } from '@playwright/test';

const row = (page: Page, i: number) => page.locator(`[data-testid=row][data-index="${i}"]`);
const idOf = (page: Page, i: number) => row(page, i).getAttribute('data-id');
/** Whether each record has the tag, as the backend holds it (the list shows two tags at most). */
const tagsOf = (page: Page, ids: (string | null)[]) =>
  page.evaluate((ids) => ids.map((id) => (window.ferry.backend.get('contacts', id!).fields.tags as string[] | null ?? []).includes('expo-2027')), ids);
const selectedIndexes = (page: Page) =>
  page.locator('[data-testid=row][aria-selected=true]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-index'))));

test.describe('Many records at once', () => {
  test('click, Ctrl-click and Shift-click pick rows; a plain click opens one', async ({ page, ferry }) => {
    await ferry.open({ contacts: 50 });
    await expect(page.getByTestId('record-list')).toHaveAttribute('aria-multiselectable', 'true');
    await row(page, 2).click();
    await expect(page.getByTestId('editor')).toBeVisible();
    expect(await selectedIndexes(page)).toEqual([2]);
    await expect(page.getByTestId('bulk-bar')).toHaveCount(0);

    await row(page, 4).click({ modifiers: ['ControlOrMeta'] });
    expect(await selectedIndexes(page)).toEqual([2, 4]);
    await expect(page.getByTestId('selected-count')).toHaveText('2 selected');
    // Shift picks the range from the row last clicked, in place of the rest.
    await row(page, 7).click({ modifiers: ['Shift'] });
    await expect.poll(() => selectedIndexes(page)).toEqual([4, 5, 6, 7]);
    // Ctrl+Shift adds a range.
    await row(page, 0).click({ modifiers: ['ControlOrMeta'] });
    await row(page, 1).click({ modifiers: ['ControlOrMeta', 'Shift'] });
    await expect.poll(() => selectedIndexes(page)).toEqual([0, 1, 4, 5, 6, 7]);
    // Ctrl-click takes a row out again.
    await row(page, 5).click({ modifiers: ['ControlOrMeta'] });
    await expect(page.getByTestId('selected-count')).toHaveText('5 selected');
    await ferry.shot('bulk-selection');

    // A plain click goes back to one record, open in the editor.
    await row(page, 9).click();
    expect(await selectedIndexes(page)).toEqual([9]);
    await expect(page.getByTestId('bulk-bar')).toHaveCount(0);
  });

  test('Ctrl+A picks every match of the search, loaded or not; Esc and a new search let go', async ({ page, ferry }) => {
    await ferry.open();
    await expect(rows(page).first()).toBeVisible();
    await page.getByTestId('search').fill('a');
    await expect(page.getByTestId('list-count')).toHaveText(/^\s*[\d,]+ of 100,000\s*$/);
    const matches = Number((await page.getByTestId('list-count').innerText()).split(' of ')[0]!.replace(/,/g, ''));
    expect(matches).toBeGreaterThan(1000);
    await page.getByTestId('search').press('ArrowDown');
    await page.keyboard.press('ControlOrMeta+a');
    await expect(page.getByTestId('selected-count')).toHaveText(`${matches.toLocaleString('en-US')} selected`);
    const query = (await ferry.calls('record_ids')).at(-1)!.args.query;
    expect(query).toMatchObject({ collection: 'contacts', search: 'a' });
    await expect(rows(page).first()).toHaveAttribute('aria-selected', 'true');

    await page.keyboard.press('Escape');
    await expect(page.getByTestId('bulk-bar')).toHaveCount(0);
    await page.getByTestId('record-list').press('ControlOrMeta+a');
    await page.getByTestId('clear-selection').click();
    await expect(page.getByTestId('bulk-bar')).toHaveCount(0);
    await page.getByTestId('record-list').press('ControlOrMeta+a');
    await expect(page.getByTestId('bulk-bar')).toBeVisible();
    await page.getByTestId('search').fill('ab');
    await expect(page.getByTestId('bulk-bar')).toHaveCount(0);
  });

  test('sets a field on every picked record, and refuses a value the field does not take', async ({ page, ferry }) => {
    await ferry.open({ contacts: 50 });
    await row(page, 0).click();
    await row(page, 2).click({ modifiers: ['Shift'] });
    const ids = [await idOf(page, 0), await idOf(page, 1), await idOf(page, 2)];
    await page.getByTestId('bulk-set').click();
    const dialog = page.getByTestId('bulk-dialog');
    await expect(dialog).toContainText('Set a field on 3 contacts');

    // Name is required: clearing it on all is refused before anything is sent.
    await page.getByTestId('bulk-field').selectOption('name');
    await expect(page.getByTestId('bulk-apply')).toHaveText('Clear on 3 contacts');
    await page.getByTestId('bulk-apply').click();
    await expect(dialog).toContainText('Required');
    expect(await ferry.calls('update_records')).toHaveLength(0);

    await page.getByTestId('bulk-field').selectOption('company');
    await dialog.locator('[data-field=company]').fill('Quokka Holdings');
    await ferry.shot('bulk-set-field');
    await page.getByTestId('bulk-apply').click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByRole('status').filter({ hasText: 'Set Company on 3 contacts' })).toBeVisible();
    const call = (await ferry.calls('update_records')).at(-1)!.args;
    expect(call).toEqual({ collection: 'contacts', ids, changes: { company: 'Quokka Holdings' } });
    for (const i of [0, 1, 2]) {
      await expect(row(page, i)).toContainText('Quokka Holdings');
      await expect(row(page, i)).toHaveAttribute('data-state', 'pending');
    }
    await expect(row(page, 3)).not.toContainText('Quokka Holdings');
    // One outbox entry per record.
    await expect(page.getByTestId('nav-outbox')).toHaveAccessibleName('Outbox, 3 changes waiting');
  });

  test('adds and removes a tag on every picked record', async ({ page, ferry }) => {
    await ferry.open({ contacts: 50 });
    await row(page, 3).click();
    await row(page, 4).click({ modifiers: ['ControlOrMeta'] });
    const ids = [await idOf(page, 3), await idOf(page, 4)];
    await page.getByTestId('bulk-add-tag').click();
    const dialog = page.getByTestId('bulk-dialog');
    await dialog.getByRole('textbox').fill('expo-2027');
    await dialog.getByRole('textbox').press('Enter');
    await page.getByTestId('bulk-apply').click();
    await expect(page.getByRole('status').filter({ hasText: 'Added “expo-2027” to 2 contacts' })).toBeVisible();
    expect((await ferry.calls('tag_records')).at(-1)!.args).toEqual({
      collection: 'contacts', ids, field: 'tags', add: ['expo-2027'], remove: [],
    });
    await expect.poll(() => tagsOf(page, ids)).toEqual([true, true]);

    await page.getByTestId('bulk-remove-tag').click();
    // A tag typed but not yet turned into a chip counts too.
    await dialog.getByRole('textbox').fill('expo-2027');
    await page.getByTestId('bulk-apply').click();
    await expect(page.getByRole('status').filter({ hasText: 'Removed “expo-2027” from 2 contacts' })).toBeVisible();
    await expect.poll(() => tagsOf(page, ids)).toEqual([false, false]);
  });

  test('deletes every picked record after a confirmation, and Undo brings them back', async ({ page, ferry }) => {
    await ferry.open({ contacts: 50 });
    await expect(page.getByTestId('list-count')).toContainText('50 records');
    await row(page, 5).click();
    await row(page, 7).click({ modifiers: ['Shift'] });
    const ids = [await idOf(page, 5), await idOf(page, 6), await idOf(page, 7)];
    await page.getByTestId('bulk-delete').click();
    const confirm = page.getByTestId('bulk-delete-dialog');
    await expect(confirm).toContainText('Delete 3 contacts?');
    await page.getByTestId('bulk-delete-confirm').click();
    await expect(page.getByRole('status').filter({ hasText: 'Deleted 3 contacts' })).toBeVisible();
    expect((await ferry.calls('delete_records')).at(-1)!.args).toEqual({ collection: 'contacts', ids });
    await expect(page.getByTestId('list-count')).toContainText('47 records');
    for (const id of ids) await expect(page.locator(`[data-testid=row][data-id="${id}"]`)).toHaveCount(0);
    // The record open in the editor was one of them: the editor closes.
    await expect(page.getByTestId('editor')).toHaveCount(0);

    await page.getByTestId('undo').click();
    await expect(page.getByRole('status').filter({ hasText: 'Restored 3 contacts' })).toBeVisible();
    expect((await ferry.calls('restore_records')).at(-1)!.args).toEqual({ collection: 'contacts', ids });
    await expect(page.getByTestId('list-count')).toContainText('50 records');
    for (const id of ids) await expect(page.locator(`[data-testid=row][data-id="${id}"]`)).toHaveCount(1);
  });

  test('says which records were left alone and why, and Undo leaves them alone', async ({ page, ferry }) => {
    // Three contacts are in conflict; one of them is deleted here, so the list shows 29.
    await ferry.open({ contacts: 30, conflicts: true });
    await expect(rows(page).first()).toBeVisible();
    await page.getByTestId('record-list').focus();
    await page.keyboard.press('ControlOrMeta+a');
    await expect(page.getByTestId('selected-count')).toHaveText('29 selected');
    await page.getByTestId('bulk-delete').click();
    await page.getByTestId('bulk-delete-confirm').click();
    await expect(
      page.getByRole('status').filter({ hasText: 'Deleted 27 contacts; 2 contacts skipped: waiting for your decision on a conflict' }),
    ).toBeVisible();
    const deleted = (await ferry.calls('delete_records')).at(-1)!.args.ids as string[];
    expect(deleted).toHaveLength(29);
    await page.getByTestId('undo').click();
    await expect.poll(async () => (await ferry.calls('restore_records')).length).toBe(1);
    const restored = (await ferry.calls('restore_records')).at(-1)!.args.ids as string[];
    expect(restored).toHaveLength(27);
    // The contacts in conflict (the mock's first two shown) are not touched by the undo.
    expect(deleted.filter((id) => !restored.includes(id)).sort()).toEqual([
      '0193a1b2-0000-7000-8000-000000000000',
      '0193a1b2-0000-7000-8000-000000000001',
    ]);
  });

  test('works by keyboard alone: Shift+arrows, Space, then an action from the toolbar', async ({ page, ferry }) => {
    await ferry.open({ contacts: 50 });
    await expect(rows(page).first()).toBeVisible();
    await page.getByTestId('search').press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    await expect.poll(() => selectedIndexes(page)).toEqual([0, 1, 2]);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Space');
    await expect.poll(() => selectedIndexes(page)).toEqual([0, 1, 2, 4]);
    await page.keyboard.press('Space');
    await expect.poll(() => selectedIndexes(page)).toEqual([0, 1, 2]);

    // The toolbar sits just before the list: Shift+Tab reaches it.
    await page.keyboard.press('Shift+Tab');
    await expect(page.getByTestId('bulk-delete')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('bulk-delete-dialog')).toBeVisible();
    await page.keyboard.press('Tab');
    await expect(page.getByTestId('bulk-delete-confirm')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('status').filter({ hasText: 'Deleted 3 contacts' })).toBeVisible();
    expect((await ferry.calls('delete_records')).at(-1)!.args.ids).toHaveLength(3);
  });

  test('a read-only collection can be picked from but offers no edits', async ({ page, ferry }) => {
    await ferry.open({ readOnlyTasks: true });
    await page.getByTestId('collection-tasks').click();
    await row(page, 0).click();
    await row(page, 1).click({ modifiers: ['Shift'] });
    await expect(page.getByTestId('bulk-bar')).toContainText('2 selected');
    await expect(page.getByTestId('bulk-bar')).toContainText('read-only');
    await expect(page.getByTestId('bulk-set')).toHaveCount(0);
    await expect(page.getByTestId('bulk-delete')).toHaveCount(0);
  });
});
