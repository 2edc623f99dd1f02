import { test, expect, rows } from './fixtures';
import type { Page } from '@playwright/test';

const dialog = (page: Page) => page.getByTestId('lost-access-dialog');

async function openLost(page: Page) {
  await expect(page.getByTestId('conflicts-badge')).toHaveText('1');
  await page.getByTestId('nav-conflicts').click();
  await expect(page.getByTestId('conflict-item')).toContainText('You can no longer see it; your changes are kept');
  await page.getByTestId('conflict-item').click();
  await expect(dialog(page)).toBeVisible();
}

const resolutions = (page: Page) =>
  page.evaluate(() => window.ferry.backend.calls.filter((c) => c.cmd === 'resolve_conflict').map((c) => (c.args as { resolution: unknown }).resolution));

test.describe('A record that left my view with my changes in it', () => {
  test('shows the kept changes and saves them to a file', async ({ page, ferry }) => {
    await ferry.open({ lostAccess: true, contacts: 50, saveChoice: '/home/alice/marie-edits.json' });
    await openLost(page);
    const d = dialog(page);
    await expect(d.getByRole('heading', { level: 2 })).toHaveText('You can no longer see this contact: Marie Curie');
    await expect(d).toContainText('Its region was changed, or your access changed');
    await expect(d.locator('[data-field-row]')).toHaveCount(3);
    await expect(d.locator('[data-field-row=region]')).toContainText('north');
    await expect(d.locator('[data-field-row=region]')).toContainText('south');
    // Nothing to pick for a mine/theirs merge: this is not an ordinary conflict.
    await expect(page.getByTestId('all-mine')).toHaveCount(0);
    await ferry.shot('lost-access');
    await page.getByTestId('lost-export').click();
    await expect(d).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: 'Saved your changes to “Marie Curie” in /home/alice/marie-edits.json' })).toBeVisible();
    const asked = await ferry.calls('choose_export_file');
    expect(asked.at(-1)?.args.name).toBe('contacts-Marie-Curie-edits.json');
    expect(await resolutions(page)).toEqual([{ kind: 'export', path: '/home/alice/marie-edits.json' }]);
    const file = await page.evaluate(() => window.ferry.backend.written.get('/home/alice/marie-edits.json'));
    expect(JSON.parse(file ?? '{}').changes.phone).toBe('+33 1 40 51 00 00');
    await expect(page.getByTestId('conflicts-badge')).toHaveCount(0);
  });

  test('a cancelled Save dialog changes nothing, and a failed write is told in the dialog', async ({ page, ferry }) => {
    await ferry.open({ lostAccess: true, contacts: 50, saveChoice: null });
    await openLost(page);
    await page.getByTestId('lost-export').click();
    await expect.poll(() => ferry.calls('choose_export_file').then((c) => c.length)).toBe(1);
    await expect(dialog(page)).toBeVisible();
    expect(await resolutions(page)).toEqual([]);

    await ferry.open({ lostAccess: true, contacts: 50, saveChoice: '/readonly/edits.json' });
    await openLost(page);
    await page.getByTestId('lost-export').click();
    await expect(dialog(page).getByRole('alert')).toHaveText('Cannot write /readonly/edits.json: Permission denied (os error 13)');
    await expect(dialog(page)).toBeVisible();
    await expect(page.getByTestId('conflicts-badge')).toHaveText('1');
  });

  test('a copy goes only where I may write: I choose the region', async ({ page, ferry }) => {
    await ferry.open({ lostAccess: true, contacts: 50 });
    await openLost(page);
    await page.getByTestId('lost-copy').click();
    const step = page.getByTestId('copy-step');
    await expect(step).toContainText('You may add contacts only where region is north.');
    await expect(page.getByTestId('copy-place')).toBeFocused();
    await expect(page.getByTestId('copy-place').locator('option')).toHaveText(['north']);
    await ferry.shot('lost-access-copy');
    await page.getByTestId('copy-confirm').click();
    await expect(dialog(page)).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: 'Saved your changes as a new contact' })).toBeVisible();
    expect(await resolutions(page)).toEqual([{ kind: 'copy_as_new', set: { region: 'north' } }]);
  });

  test('discarding asks first, and Back keeps everything', async ({ page, ferry }) => {
    await ferry.open({ lostAccess: true, contacts: 50 });
    await openLost(page);
    await page.getByTestId('lost-discard').click();
    await expect(page.getByTestId('discard-step')).toContainText('This cannot be undone.');
    await page.getByRole('button', { name: 'Back' }).click();
    await expect(page.getByTestId('discard-step')).toHaveCount(0);
    expect(await resolutions(page)).toEqual([]);
    await page.getByTestId('lost-discard').click();
    await page.getByTestId('discard-confirm').click();
    await expect(dialog(page)).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: 'Discarded your changes to “Marie Curie”' })).toBeVisible();
    expect(await resolutions(page)).toEqual([{ kind: 'discard' }]);
  });

  test('works from the keyboard and Escape closes it', async ({ page, ferry }) => {
    await ferry.open({ lostAccess: true, contacts: 50 });
    await openLost(page);
    await expect(page.getByTestId('lost-copy')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('copy-place')).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(dialog(page)).toBeHidden();
    expect(await resolutions(page)).toEqual([]);
  });

  test('handing a contact to a region I may write but not read: the editor says it will leave my list', async ({ page, ferry }) => {
    await ferry.open({ lostAccess: true, handOver: true, contacts: 50 });
    await page.getByTestId('conflicts-badge').waitFor();
    await rows(page).first().click();
    const region = page.locator('[data-testid=editor] [data-field="region"]');
    await region.selectOption('west');
    const note = page.getByTestId('hand-over');
    await expect(note).toHaveText('You may place contacts in region west but not see them there: once saved and sent, this contact leaves your list.');
    await expect(note).toHaveAttribute('role', 'note');
    await ferry.shot('hand-over');
    await region.selectOption('north');
    await expect(note).toHaveCount(0);
    await region.selectOption('west');
    await page.getByTestId('save').click();
    await expect(page.getByTestId('record-state')).toHaveText('Not sent yet');
    const update = (await ferry.calls('update_record')).at(-1)!.args;
    expect((update as { changes: { region: string } }).changes.region).toBe('west');
  });
});
