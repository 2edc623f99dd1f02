import { test, expect, rows } from './fixtures';
import type { Page } from '@playwright/test';

// The app follows the OS locale: here German, whatever the other specs use.
test.use({ locale: 'de-DE', timezoneId: 'Europe/Berlin' });

const field = (page: Page, name: string) => page.locator(`[data-testid=editor] [data-field="${name}"]`);

/** 2026-12-31 → 31.12.2026 */
const german = (iso: string) => iso.split('-').reverse().join('.');

async function newTask(page: Page) {
  await page.getByTestId('collection-tasks').click();
  await expect(rows(page).first()).toBeVisible();
  await page.getByTestId('new-record').click();
  await expect(page.getByRole('heading', { name: 'New task' })).toBeVisible();
}

test.describe('German locale', () => {
  test('counts have German thousands separators', async ({ page, ferry }) => {
    await ferry.open({ contacts: 12_345 });
    await expect(page.getByTestId('collection-contacts')).toContainText('12.345');
    await expect(page.getByTestId('list-count')).toHaveText('12.345 records');
    await expect(page.getByTestId('record-list')).toHaveAttribute('aria-label', 'Contacts: 12.345 records');
  });

  test('the list and the editor show dates the German way', async ({ page, ferry }) => {
    await ferry.open();
    await page.getByTestId('collection-tasks').click();
    const first = rows(page).first();
    await expect(first).toBeVisible();
    const id = (await first.getAttribute('data-id'))!;
    const fields = await page.evaluate((id) => window.ferry.backend.get('tasks', id)!.fields, id);
    const due = fields.due as string;
    await expect(first).toContainText(german(due));
    await expect(first).not.toContainText(/\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b/);

    await first.click();
    await expect(field(page, 'due')).toHaveValue(german(due));
    await ferry.shot('locale-de-editor-filled');
  });

  test('an empty date field looks empty and names its format; a German date is saved as ISO', async ({ page, ferry }) => {
    await ferry.open();
    await newTask(page);
    const due = field(page, 'due');
    await expect(due).toHaveValue('');
    await expect(due).toHaveAttribute('placeholder', 'dd.mm.yyyy');
    await expect(due).toHaveAccessibleDescription('Format: dd.mm.yyyy');
    await expect(field(page, 'remind_at')).toHaveValue('');
    await expect(field(page, 'remind_at')).toHaveAttribute('placeholder', 'dd.mm.yyyy hh:mm');
    await ferry.shot('locale-de-editor-empty');
    await page.emulateMedia({ colorScheme: 'dark' });
    await ferry.shot('locale-de-editor-empty-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    await field(page, 'title').fill('Renew the harbour permit');
    await due.fill('31.12.2026');
    await field(page, 'remind_at').fill('20.12.2026 09:30');
    await field(page, 'priority').fill('1,5');
    await page.getByTestId('save').click();
    await expect(page.getByTestId('record-version')).toHaveText('New, not sent yet');
    const created = (await ferry.calls('create_record')).at(-1)!.args;
    expect(created.fields).toMatchObject({
      due: '2026-12-31',
      // 09:30 in Berlin is 08:30 UTC.
      remind_at: '2026-12-20T08:30:00.000Z',
      priority: 1.5,
    });
    await expect(due).toHaveValue('31.12.2026');
    await expect(field(page, 'remind_at')).toHaveValue('20.12.2026 09:30');
    await ferry.shot('locale-de-editor-saved');
  });

  test('an ISO date is understood and shown the German way; an impossible one says how to write it', async ({ page, ferry }) => {
    await ferry.open();
    await newTask(page);
    await field(page, 'title').fill('Call the plumber');
    const due = field(page, 'due');
    await due.fill('2026-12-24');
    await due.press('Tab');
    await expect(due).toHaveValue('24.12.2026');

    await due.fill('31.02.2026');
    await due.press('Tab');
    await expect(due).toHaveAttribute('aria-invalid', 'true');
    await expect(page.locator('#field-due-error')).toHaveText('Enter a date like 31.12.2026');
    await expect(due).toHaveAccessibleDescription('Format: dd.mm.yyyy Enter a date like 31.12.2026');
    await page.getByTestId('save').click();
    await expect(due).toBeFocused();
    expect(await ferry.calls('create_record')).toEqual([]);
    await ferry.shot('locale-de-editor-bad-date');

    await due.fill('28.02.2026');
    await expect(page.locator('.field-error')).toHaveCount(0);
  });
});
