// Rough edges from the demo: the conflict dialog's Result column and steadiness,
// delete confirmations with long titles, and validation messages that move fields.
import { test, expect, rows } from './fixtures';
import type { Locator, Page } from '@playwright/test';

const EDIT_EDIT = '0193a1b2-0000-7000-8000-000000000000';
const dialog = (page: Page) => page.getByTestId('conflict-dialog');
const editorField = (page: Page, name: string) => page.locator(`[data-testid=editor] [data-field="${name}"]`);
const SIZES = [
  { width: 1280, height: 800 },
  { width: 1024, height: 700 },
] as const;

/** Waits until the dialog's opening animation is over, so its box is where it stays. */
async function settled(d: Locator) {
  await d.evaluate((el) => Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished)));
}

async function openEditEdit(page: Page) {
  await page.getByTestId('nav-conflicts').click();
  await page.locator(`[data-testid=conflict-item][data-id="${EDIT_EDIT}"]`).click();
  const d = dialog(page);
  await expect(d).toBeVisible();
  await settled(d);
  return d;
}

/** A title with a long unbroken word, as pasted file names and codes are. */
const LONG_TITLE =
  'Quarterly_supplier_reconciliation_for_the_northern_distribution_centre_including_outstanding_invoices ' +
  'and the follow-up calls with every regional manager before the end of the month';

for (const size of SIZES) {
  test(`the conflict dialog does not move when a field switches to Edit and back (${size.width}x${size.height})`, async ({ page, ferry }) => {
    await page.setViewportSize(size);
    await ferry.open({ conflicts: true });
    const d = await openEditEdit(page);
    const before = (await d.boundingBox())!;
    for (const name of ['notes', 'email', 'vip']) {
      await page.getByTestId(`choose-edit-${name}`).click();
      await expect(d.locator(`[data-field="${name}"]`)).toBeVisible();
      expect((await d.boundingBox())!.y, `top after Edit on ${name}`).toBe(before.y);
      expect((await d.boundingBox())!.x, `left after Edit on ${name}`).toBe(before.x);
      await page.getByTestId(`choose-mine-${name}`).click();
      await expect(d.locator(`[data-field="${name}"]`)).toHaveCount(0);
      expect((await d.boundingBox())!.y, `top after Mine on ${name}`).toBe(before.y);
    }
    // The whole dialog, footer included, stays on screen.
    const box = (await d.boundingBox())!;
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height).toBeLessThanOrEqual(size.height);
    await expect(page.getByTestId('resolve')).toBeInViewport();
  });
}

test('every conflicting field has a Result cell that shows what will be saved, live', async ({ page, ferry }) => {
  await ferry.open({ conflicts: true });
  const d = await openEditEdit(page);
  const c = await page.evaluate((id) => window.ferry.backend.conflictList.find((k) => k.record_id === id)!, EDIT_EDIT);
  await expect(d.getByRole('columnheader', { name: 'Result' })).toBeVisible();
  for (const name of c.fields) {
    const cell = d.locator(`[role=row][data-field-row=${name}] [role=cell][data-testid=result-${name}]`);
    await expect(cell, `result of ${name}`).toHaveText('Not chosen yet');
  }
  const email = page.getByTestId('result-email');
  await page.getByTestId('choose-mine-email').click();
  await expect(email).toHaveText(String(c.mine.email));
  await page.getByTestId('choose-theirs-email').click();
  await expect(email).toHaveText(String(c.theirs.fields.email));
  // Back to mine: the result follows every change of mind.
  await page.getByTestId('choose-mine-email').click();
  await expect(email).toHaveText(String(c.mine.email));

  const vip = page.getByTestId('result-vip');
  await page.getByTestId('choose-theirs-vip').click();
  await expect(vip).toHaveText(c.theirs.fields.vip ? 'Yes' : 'No');
  await page.getByTestId('choose-mine-vip').click();
  await expect(vip).toHaveText(c.mine.vip ? 'Yes' : 'No');

  // Edit types the result in its own cell, starting from the current choice.
  const notes = page.getByTestId('result-notes');
  await page.getByTestId('choose-theirs-notes').click();
  await expect(notes).toHaveText(String(c.theirs.fields.notes));
  await page.getByTestId('choose-edit-notes').click();
  const input = notes.locator('[data-field="notes"]');
  await expect(input).toHaveValue(String(c.theirs.fields.notes));
  // Straight into typing, for keyboard users too.
  await expect(input).toBeFocused();
  await expect(input).toHaveAccessibleName('Result for Notes');
  await input.fill('Call after the autumn fair.');
  await ferry.shot('conflict-result-column');
  await page.getByTestId('resolve').click();
  await expect(d).toHaveCount(0);
  expect((await ferry.calls('resolve_conflict')).at(-1)!.args.resolution.choices).toEqual([
    { field: 'email', choice: { take: 'mine' } },
    { field: 'notes', choice: { take: 'value', value: 'Call after the autumn fair.' } },
    { field: 'vip', choice: { take: 'mine' } },
  ]);
});

test('a text merged part by part has its result in the Result column', async ({ page, ferry }) => {
  await ferry.open({ textConflict: true });
  await page.getByTestId('nav-conflicts').click();
  await page.getByTestId('conflict-item').first().click();
  const d = dialog(page);
  await expect(d.getByRole('columnheader', { name: 'Result' })).toBeVisible();
  const cell = d.locator('[role=row][data-field-row=notes] [role=cell][data-testid=result-notes]');
  await expect(cell.getByTestId('merged-notes')).toBeVisible();
  // Beside the parts, not under them.
  const parts = (await page.getByTestId('parts-notes').boundingBox())!;
  const result = (await cell.boundingBox())!;
  expect(result.x).toBeGreaterThan(parts.x + parts.width - 1);
  expect(result.y).toBeLessThan(parts.y + 20);
  await page.getByTestId('part-notes-1-theirs').click();
  await ferry.shot('conflict-text-result-column');
});

for (const scheme of ['light', 'dark'] as const) {
  test(`the conflict dialog fits and reads well in ${scheme} mode at laptop sizes`, async ({ page, ferry }) => {
    await page.emulateMedia({ colorScheme: scheme });
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await ferry.open({ conflicts: true, textConflict: true });
      const d = await openEditEdit(page);
      await page.getByTestId('choose-mine-email').click();
      await page.getByTestId('choose-edit-notes').click();
      const body = d.locator('.body');
      // Nothing sticks out sideways; the body scrolls down if it must.
      expect(await body.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
      await expect(page.getByTestId('keep-both')).toBeInViewport({ ratio: 1 });
      await expect(page.getByTestId('resolve')).toBeInViewport({ ratio: 1 });
      await ferry.shot(`conflict-${scheme}-${size.width}`);
      await page.keyboard.press('Escape');
    }
  });
}

/** The element shows all of its text: nothing cut off sideways or below, and inside `within`. */
async function fullyShown(text: Locator, within: Locator) {
  const m = await text.evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth, sh: el.scrollHeight, ch: el.clientHeight }));
  expect(m.sw, 'text wider than its box').toBeLessThanOrEqual(m.cw);
  expect(m.sh, 'text taller than its box').toBeLessThanOrEqual(m.ch);
  const [t, w] = [(await text.boundingBox())!, (await within.boundingBox())!];
  expect(t.x).toBeGreaterThanOrEqual(w.x);
  expect(t.x + t.width).toBeLessThanOrEqual(w.x + w.width + 0.5);
  expect(t.y + t.height).toBeLessThanOrEqual(w.y + w.height + 0.5);
}

for (const size of [...SIZES, { width: 860, height: 640 }]) {
  test(`deleting a record with a long title asks with the whole title, wrapped (${size.width}x${size.height})`, async ({ page, ferry }) => {
    await page.setViewportSize(size);
    await ferry.open({ workOffline: true });
    await rows(page).first().click();
    await editorField(page, 'name').fill(LONG_TITLE);
    await page.getByTestId('save').click();
    await expect.poll(async () => (await ferry.calls('update_record')).length).toBe(1);
    await page.getByTestId('delete').click();
    const question = page.getByRole('alertdialog');
    await expect(question).toContainText(`Delete “${LONG_TITLE}”?`);
    await expect(question.getByRole('button', { name: 'Cancel' })).toBeFocused();
    const text = question.locator('#confirm-text');
    await fullyShown(text, page.getByTestId('editor'));
    await expect(question.getByTestId('confirm-delete')).toBeInViewport({ ratio: 1 });
    await ferry.shot(`editor-confirm-delete-long-${size.width}`);

    // The Outbox's confirmation (ConfirmDialog) wraps the same title too.
    await question.getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('nav-outbox').click();
    await page.getByTestId('outbox-entry').filter({ hasText: LONG_TITLE.slice(0, 40) }).getByTestId('outbox-discard').click();
    const confirm = page.getByTestId('discard-change-dialog');
    await expect(confirm).toContainText(LONG_TITLE);
    await fullyShown(confirm.locator('h2'), confirm);
    await fullyShown(confirm.locator('p'), confirm);
    await expect(page.getByTestId('confirm-discard-change')).toBeInViewport({ ratio: 1 });
    await ferry.shot(`confirm-dialog-long-${size.width}`);
  });
}

test('fields below do not move when a validation message appears or goes', async ({ page, ferry }) => {
  await ferry.open({ tasks: 5 });
  await page.getByTestId('collection-tasks').click();
  await rows(page).first().click();
  const priority = editorField(page, 'priority');
  await expect(priority).toBeVisible();
  const next = editorField(page, 'assignee');
  const y = async () => (await next.boundingBox())!.y;
  const before = await y();
  await priority.fill('abc');
  await priority.blur();
  await expect(page.locator('#field-priority-error')).toHaveText('Enter a number');
  expect(await y(), 'while the message shows').toBe(before);
  await priority.fill('3');
  await expect(page.locator('#field-priority-error')).toHaveCount(0);
  expect(await y(), 'after the message went').toBe(before);
  // Also for a required field emptied and filled again.
  const title = editorField(page, 'title');
  const status = editorField(page, 'status');
  const statusY = (await status.boundingBox())!.y;
  await title.fill('');
  await title.blur();
  await expect(page.locator('#field-title-error')).toHaveText('Required');
  expect((await status.boundingBox())!.y).toBe(statusY);
  await title.fill('Back again');
  await expect(page.locator('#field-title-error')).toHaveCount(0);
  expect((await status.boundingBox())!.y).toBe(statusY);
});
