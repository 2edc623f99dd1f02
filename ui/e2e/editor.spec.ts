import { test, expect, rows } from './fixtures';
import type { Page } from '@playwright/test';

const field = (page: Page, name: string) => page.locator(`[data-testid=editor] [data-field="${name}"]`);

async function openFirstContact(page: Page) {
  await expect(rows(page).first()).toBeVisible();
  await rows(page).first().click();
  await expect(page.getByTestId('editor')).toBeVisible();
  await expect(field(page, 'name')).not.toHaveValue('');
  return (await rows(page).first().getAttribute('data-id'))!;
}

test.describe('Record editor', () => {
  test('edits a contact and shows version, author, time and history', async ({ page, ferry }) => {
    await ferry.open();
    const id = await openFirstContact(page);
    await expect(page.getByTestId('record-version')).toHaveText(/^Version \d+$/);
    await expect(page.getByTestId('editor')).toContainText(/Changed by (alice|bob|carol) (\d+ (min|h) ago|yesterday|\d+ days ago|\w+ \d+)/);
    await expect(page.getByTestId('history-entry').first()).toBeVisible();
    await expect(page.getByTestId('save')).toBeDisabled();
    await ferry.shot('editor');

    await field(page, 'email').fill('ada@example.net');
    await field(page, 'vip').check();
    await field(page, 'tags').fill('vendor');
    await field(page, 'tags').press('Enter');
    await expect(page.getByTestId('save')).toBeEnabled();
    await page.getByTestId('save').click();
    await expect(page.getByTestId('record-state')).toHaveText('Not sent yet');
    const update = (await ferry.calls('update_record')).at(-1)!.args;
    expect(update.collection).toBe('contacts');
    expect(update.id).toBe(id);
    expect(update.changes.email).toBe('ada@example.net');
    expect(update.changes.vip).toBe(true);
    expect(update.changes.tags).toContain('vendor');
    expect(Object.keys(update.changes).sort()).toEqual(['email', 'tags', 'vip']);
    await expect(page.locator(`[data-testid=row][data-id="${id}"]`)).toHaveAttribute('data-state', 'pending');
    // Typing goes on while counts and rows refresh after the save.
    await field(page, 'company').fill('Still typing');
    const loads = (await ferry.calls('collections')).length;
    await expect.poll(async () => (await ferry.calls('collections')).length, { timeout: 2000 }).toBeGreaterThanOrEqual(loads);
    await page.waitForTimeout(400);
    await expect(field(page, 'company')).toHaveValue('Still typing');
    await ferry.shot('editor-saved-pending');
  });

  test('creates a task with every field type', async ({ page, ferry }) => {
    await ferry.open();
    await page.getByTestId('collection-tasks').click();
    await expect(rows(page).first()).toBeVisible();
    await page.getByTestId('new-record').click();
    await expect(page.getByRole('heading', { name: 'New task' })).toBeVisible();
    await field(page, 'title').fill('Renew the harbour permit');
    await field(page, 'status').selectOption('doing');
    await field(page, 'due').fill('2026-12-24');
    await field(page, 'remind_at').fill('2026-12-20T09:30');
    await field(page, 'priority').fill('2');
    await field(page, 'assignee').fill('bob');
    await field(page, 'labels').fill('ops, permits');
    await field(page, 'labels').press('Enter');
    await field(page, 'notes').fill('Bring the old permit.\nAsk for the 2027 rates.');
    await expect(page.getByTestId('editor').locator('.tag')).toHaveText(['ops', 'permits']);
    await ferry.shot('editor-new-task');
    await page.getByTestId('save').click();
    await expect(page.getByTestId('record-version')).toHaveText('New, not sent yet');
    const created = (await ferry.calls('create_record')).at(-1)!.args;
    expect(created).toEqual({
      collection: 'tasks',
      fields: {
        title: 'Renew the harbour permit',
        status: 'doing',
        due: '2026-12-24',
        remind_at: '2026-12-20T09:30:00.000Z',
        priority: 2,
        assignee: 'bob',
        labels: ['ops', 'permits'],
        notes: 'Bring the old permit.\nAsk for the 2027 rates.',
      },
    });
    await expect(page.getByTestId('history')).toContainText('not reached the server');
  });

  test('checks required fields and types inline', async ({ page, ferry }) => {
    await ferry.open();
    await page.getByTestId('collection-tasks').click();
    await page.getByTestId('new-record').click();
    await field(page, 'priority').fill('high');
    await page.getByTestId('save').click();
    const title = field(page, 'title');
    await expect(title).toHaveAttribute('aria-invalid', 'true');
    await expect(title).toBeFocused();
    await expect(page.locator('#field-title-error')).toHaveText('Required');
    await expect(page.locator('#field-priority-error')).toHaveText('Enter a number');
    expect(await ferry.calls('create_record')).toEqual([]);
    await ferry.shot('editor-validation');
    // Errors clear as the values become valid.
    await title.fill('Call the plumber');
    await field(page, 'priority').fill('3');
    await expect(page.locator('.field-error')).toHaveCount(0);
  });

  test('deletes after confirmation, and Undo restores', async ({ page, ferry }) => {
    await ferry.open();
    const id = await openFirstContact(page);
    const name = await field(page, 'name').inputValue();
    await page.getByTestId('delete').click();
    await expect(page.getByRole('alertdialog')).toContainText(`Delete “${name}”?`);
    await ferry.shot('editor-confirm-delete');
    await page.getByTestId('confirm-delete').click();
    await expect(page.getByTestId('editor')).toHaveCount(0);
    await expect(page.locator(`[data-testid=row][data-id="${id}"]`)).toHaveCount(0);
    await expect(page.getByTestId('undo')).toBeVisible();
    await ferry.shot('editor-deleted-undo');
    await expect.poll(async () => (await ferry.calls('delete_record')).at(-1)?.args).toEqual({ collection: 'contacts', id });
    await page.getByTestId('undo').click();
    await expect.poll(async () => (await ferry.calls('restore_record')).at(-1)?.args).toEqual({ collection: 'contacts', id });
    await expect(page.locator(`[data-testid=row][data-id="${id}"]`)).toBeVisible();
    await expect(page.getByTestId('editor')).toBeVisible();
  });

  test('says that history needs a connection when offline', async ({ page, ferry }) => {
    await ferry.open({ workOffline: true });
    await openFirstContact(page);
    await expect(page.getByTestId('history-offline')).toHaveText(/History needs a connection/);
    expect(await ferry.calls('record_history')).toEqual([]);
    await ferry.shot('editor-history-offline');
  });

  test('shows why the server refused a change', async ({ page, ferry }) => {
    await ferry.open({ rejected: true });
    await page.getByTestId('collection-tasks').click();
    await page.getByTestId('sort-priority').click();
    await page.getByTestId('sort-priority').click();
    await page.locator('[data-testid=row][data-state=rejected]').click();
    await expect(page.getByTestId('record-error')).toContainText('Field "priority" must be between 1 and 5.');
    await expect(page.getByTestId('record-state')).toHaveText('Refused');
    await ferry.shot('editor-rejected');
    await field(page, 'priority').fill('5');
    await page.getByTestId('save').click();
    await expect(page.getByTestId('record-error')).toHaveCount(0);
  });

  test('asks before discarding unsaved changes', async ({ page, ferry }) => {
    await ferry.open();
    await openFirstContact(page);
    await field(page, 'company').fill('Changed Ltd');
    await rows(page).nth(2).click();
    await expect(page.getByTestId('discard-dialog')).toBeVisible();
    await page.getByRole('button', { name: 'Keep editing' }).click();
    await expect(field(page, 'company')).toHaveValue('Changed Ltd');
    await rows(page).nth(2).click();
    await page.getByTestId('discard').click();
    await expect(field(page, 'company')).not.toHaveValue('Changed Ltd');

    // Leaving the collection asks too.
    await field(page, 'company').fill('Changed again');
    await page.getByTestId('collection-tasks').click();
    await expect(page.getByTestId('discard-dialog')).toBeVisible();
    await ferry.shot('editor-discard-dialog');
    await page.keyboard.press('Escape');
    await expect(field(page, 'company')).toHaveValue('Changed again');
    await page.getByTestId('collection-tasks').click();
    await page.getByTestId('discard').click();
    await expect(page.getByRole('heading', { name: 'Tasks' })).toBeVisible();
  });

  test('keeps a read-only collection read-only', async ({ page, ferry }) => {
    await ferry.open({ readOnlyTasks: true });
    await page.getByTestId('collection-tasks').click();
    await expect(rows(page).first()).toBeVisible();
    await expect(page.getByTestId('new-record')).toHaveCount(0);
    await rows(page).first().click();
    await expect(field(page, 'title')).toBeDisabled();
    await expect(page.getByTestId('save')).toHaveCount(0);
    await expect(page.getByTestId('editor')).toContainText('You can read tasks but not change them.');
  });
});
