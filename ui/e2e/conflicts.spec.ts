import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import { MERGED_NOTES } from './mock/data';

const dialog = (page: Page) => page.getByTestId('conflict-dialog');
const EDIT_EDIT = '0193a1b2-0000-7000-8000-000000000000';
const EDIT_DELETE = '0193a1b2-0000-7000-8000-000000000001';
const DELETE_EDIT = '0193a1b2-0000-7000-8000-000000000002';
const TEXT_MERGE = '0193a1b2-0000-7000-8000-000000000003';

// The mocked notes merge: clean, clash, clean, clash, clean.
function notesParts() {
  const [c0, p1, c1, p2, c2] = MERGED_NOTES.parts;
  if (!c0 || !('clean' in c0) || !c1 || !('clean' in c1) || !c2 || !('clean' in c2)) throw new Error('clean parts moved');
  if (!p1 || !('clash' in p1) || !p2 || !('clash' in p2)) throw new Error('clashing parts moved');
  return { c0: c0.clean, p1: p1.clash, c1: c1.clean, p2: p2.clash, c2: c2.clean };
}
const OPEN_PARTS = 'Choose mine, theirs or both for each clashing part, or edit the text';

async function resolution(ferry: { calls: (cmd?: string) => Promise<{ args: any }[]> }) {
  const calls = await ferry.calls('resolve_conflict');
  return calls.at(-1)?.args;
}

test.describe('Conflict dialog', () => {
  test('the badge opens an edit/edit conflict with each field side by side', async ({ page, ferry }) => {
    await ferry.open({ conflicts: true });
    await expect(page.getByTestId('conflicts-badge')).toHaveText('3');
    await page.getByTestId('nav-conflicts').click();
    await page.getByTestId('conflict-item').first().click();
    const d = dialog(page);
    await expect(d).toBeVisible();
    await expect(d).toContainText('Resolve conflict: Ada Lovelace');
    await expect(d).toContainText('You and bob both changed 3 fields');
    for (const f of ['email', 'notes', 'vip']) {
      await expect(page.getByTestId(`choose-mine-${f}`)).toBeVisible();
      await expect(page.getByTestId(`choose-theirs-${f}`)).toBeVisible();
      await expect(page.getByTestId(`choose-edit-${f}`)).toBeVisible();
    }
    // Word-level differences against the original.
    const [mine, theirs] = [d.locator('[data-field-row=notes] .side').nth(0), d.locator('[data-field-row=notes] .side').nth(1)];
    await expect(mine.locator('del')).toHaveText(['email over']);
    await expect(mine.locator('ins')).toHaveText(['a', ' call in the morning']);
    await expect(theirs.locator('del')).toHaveText(['spring']);
    await expect(theirs.locator('ins')).toHaveText(['autumn']);
    // A changed flag shows as changed; an unchanged original has no marks.
    await expect(d.locator('[data-field-row=vip] .original [data-changed]')).toHaveCount(0);
    await expect(d).toContainText('Your other changes (Phone) have no conflict and are kept.');
    await ferry.shot('conflict-edit-edit');

    // Resolve needs a choice for every field.
    await page.getByTestId('resolve').click();
    await expect(d.getByRole('alert')).toHaveCount(3);
    await page.getByTestId('choose-mine-email').click();
    await page.getByTestId('choose-theirs-notes').click();
    await page.getByTestId('choose-edit-vip').click();
    await d.locator('[data-field="vip"]').check();
    await expect(page.getByTestId('choose-mine-email')).toHaveAttribute('aria-pressed', 'true');
    await ferry.shot('conflict-edit-edit-choices');
    await page.getByTestId('resolve').click();
    await expect(d).toHaveCount(0);
    expect(await resolution(ferry)).toEqual({
      collection: 'contacts',
      id: EDIT_EDIT,
      resolution: {
        kind: 'fields',
        choices: [
          { field: 'email', choice: { take: 'mine' } },
          { field: 'notes', choice: { take: 'theirs' } },
          { field: 'vip', choice: { take: 'value', value: true } },
        ],
      },
    });
    await expect(page.getByTestId('conflicts-badge')).toHaveText('2');
    // The two delete conflicts have no per-field choices; settle them from the list.
    for (let left = 2; left > 0; left--) {
      await page.getByTestId('nav-conflicts').click();
      await page.getByTestId('conflict-item').first().click();
      await page.getByTestId('restore').click();
      await expect(dialog(page)).toHaveCount(0);
    }
    await expect(page.getByTestId('conflicts-badge')).toHaveCount(0);
    await expect(page.getByText('No conflicts')).toBeVisible();
    await ferry.shot('conflicts-empty');
  });

  test('a merged text value is typed in place', async ({ page, ferry }) => {
    await ferry.open({ conflicts: true });
    await page.getByTestId('nav-conflicts').click();
    await page.getByTestId('conflict-item').first().click();
    await page.getByTestId('choose-edit-notes').click();
    const input = dialog(page).locator('[data-field="notes"]');
    await expect(input).toHaveValue('Met at the spring trade fair. Prefers a phone call in the morning.');
    await input.fill('Met at the autumn trade fair. Prefers a phone call in the morning.');
    await page.getByTestId('choose-theirs-email').click();
    await page.getByTestId('choose-theirs-vip').click();
    await ferry.shot('conflict-edit-merged');
    await page.getByTestId('resolve').click();
    await expect(dialog(page)).toHaveCount(0);
    expect((await resolution(ferry)).resolution.choices[1]).toEqual({
      field: 'notes',
      choice: { take: 'value', value: 'Met at the autumn trade fair. Prefers a phone call in the morning.' },
    });
  });

  test('a text merged by lines and words is settled part by part', async ({ page, ferry }) => {
    const { c0, p1, c1, p2, c2 } = notesParts();
    await ferry.open({ textConflict: true });
    await page.getByTestId('nav-conflicts').click();
    await page.getByTestId('conflict-item').first().click();
    const d = dialog(page);
    await expect(d).toContainText('Resolve conflict: Katherine Johnson');
    // The merged text replaces the side-by-side cells: clean text, and each clash marked.
    const row = d.locator('[data-field-row=notes]');
    await expect(row.locator('.side')).toHaveCount(0);
    await expect(page.getByTestId('choose-edit-notes')).toHaveCount(0);
    await expect(row).toContainText(c0.trim());
    await expect(row).toContainText(c2.trim());
    const part1 = d.getByRole('group', { name: 'Clashing part 1 of 2' });
    const part2 = d.getByRole('group', { name: 'Clashing part 2 of 2' });
    await expect(part1).toContainText(p1.mine);
    await expect(part1).toContainText(p1.theirs);
    await expect(part2).toContainText(p2.mine);
    await expect(part2).toContainText(p2.theirs);
    // Open parts read as the original; they block Resolve.
    const result = page.getByTestId('merged-notes');
    await expect(result).toHaveValue(c0 + p1.base + c1 + p2.base + c2);
    await page.getByTestId('resolve').click();
    await expect(d.getByRole('alert')).toHaveText(OPEN_PARTS);
    await ferry.shot('conflict-text-open');
    // The second part alone, chosen first: still one open, and not "Keep mine".
    await page.getByTestId('part-notes-2-mine').click();
    await expect(result).toHaveValue(c0 + p1.base + c1 + p2.mine + c2);
    await expect(page.getByTestId('choose-mine-notes')).toHaveAttribute('aria-pressed', 'false');
    await page.getByTestId('resolve').click();
    await expect(d.getByRole('alert')).toHaveText(OPEN_PARTS);
    expect(await ferry.calls('resolve_conflict')).toEqual([]);

    // "Keep theirs" settles every part for their side.
    await page.getByTestId('choose-theirs-notes').click();
    await expect(d.getByRole('alert')).toHaveCount(0);
    await expect(page.getByTestId('part-notes-1-theirs')).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByTestId('part-notes-2-theirs')).toHaveAttribute('aria-pressed', 'true');
    await expect(result).toHaveValue(c0 + p1.theirs + c1 + p2.theirs + c2);

    await page.getByTestId('part-notes-1-mine').click();
    await expect(page.getByTestId('choose-theirs-notes')).toHaveAttribute('aria-pressed', 'false');
    await expect(result).toHaveValue(c0 + p1.mine + c1 + p2.theirs + c2);
    // Both: mine, then theirs; the clash fills a line, so each keeps a line of its own.
    await page.getByTestId('part-notes-2-both').click();
    const expected = `${c0}${p1.mine}${c1}${p2.mine}\n${p2.theirs}${c2}`;
    await expect(result).toHaveValue(expected);
    await expect(page.getByTestId('part-notes-2-both')).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByTestId('part-notes-2-mine')).toHaveAttribute('aria-pressed', 'false');
    await ferry.shot('conflict-text-chosen');
    await page.getByTestId('resolve').click();
    await expect(d).toHaveCount(0);
    expect(await resolution(ferry)).toEqual({
      collection: 'contacts',
      id: TEXT_MERGE,
      resolution: { kind: 'fields', choices: [{ field: 'notes', choice: { take: 'value', value: expected } }] },
    });
  });

  test('a merged text edited by hand is sent as typed', async ({ page, ferry }) => {
    const { c0, p1, c1, p2, c2 } = notesParts();
    await ferry.open({ textConflict: true });
    await page.getByTestId('nav-conflicts').click();
    await page.getByTestId('conflict-item').first().click();
    const d = dialog(page);
    const result = page.getByTestId('merged-notes');
    // One part of two chosen is not enough.
    await page.getByTestId('part-notes-1-theirs').click();
    await page.getByTestId('resolve').click();
    await expect(d.getByRole('alert')).toHaveText(OPEN_PARTS);
    await expect(result).toHaveAttribute('aria-invalid', 'true');
    expect(await ferry.calls('resolve_conflict')).toEqual([]);

    // Typing takes over: the part buttons wait for Start over.
    const typed = `${c0}${p1.theirs}${c1}${p2.mine}, pending legal${c2}`;
    await result.fill(typed);
    await expect(d.getByRole('alert')).toHaveCount(0);
    await expect(page.getByTestId('part-notes-2-mine')).toBeDisabled();
    await page.getByTestId('start-over-notes').click();
    await expect(result).toHaveValue(c0 + p1.base + c1 + p2.base + c2);
    await expect(page.getByTestId('part-notes-1-theirs')).toHaveAttribute('aria-pressed', 'false');
    await expect(page.getByTestId('part-notes-2-mine')).toBeEnabled();

    await result.fill(typed);
    await page.getByTestId('resolve').click();
    await expect(d).toHaveCount(0);
    expect(await resolution(ferry)).toEqual({
      collection: 'contacts',
      id: TEXT_MERGE,
      resolution: { kind: 'fields', choices: [{ field: 'notes', choice: { take: 'value', value: typed } }] },
    });
  });

  for (const [testid, kind] of [['all-mine', 'mine'], ['all-theirs', 'theirs'], ['keep-both', 'keep_both']] as const) {
    test(`"${testid}" resolves the whole record`, async ({ page, ferry }) => {
      await ferry.open({ conflicts: true });
      await page.getByTestId('nav-conflicts').click();
      await page.getByTestId('conflict-item').first().click();
      await page.getByTestId(testid).click();
      await expect(dialog(page)).toHaveCount(0);
      expect(await resolution(ferry)).toEqual({ collection: 'contacts', id: EDIT_EDIT, resolution: { kind } });
    });
  }

  for (const [testid, kind] of [['restore', 'restore'], ['accept-delete', 'accept_delete']] as const) {
    test(`edit/delete: "${testid}" sends ${kind}`, async ({ page, ferry }) => {
      await ferry.open({ conflicts: true });
      await page.getByTestId('nav-conflicts').click();
      if (testid === 'restore') await ferry.shot('conflicts-list');
      await page.locator(`[data-testid=conflict-item][data-id="${EDIT_DELETE}"]`).click();
      const d = dialog(page);
      await expect(d).toContainText('You changed this contact, but bob deleted it');
      await expect(page.getByTestId('restore')).toHaveText('Restore with my changes');
      await expect(page.getByTestId('accept-delete')).toHaveText('Accept deletion');
      await expect(d.locator('[data-field-row=company]')).toContainText('Atlas Engineering');
      if (testid === 'restore') await ferry.shot('conflict-edit-delete');
      await page.getByTestId(testid).click();
      await expect(d).toHaveCount(0);
      expect(await resolution(ferry)).toEqual({ collection: 'contacts', id: EDIT_DELETE, resolution: { kind } });
    });
  }

  for (const [testid, kind] of [['restore', 'restore'], ['accept-delete', 'mine']] as const) {
    test(`delete/edit: "${testid}" sends ${kind}`, async ({ page, ferry }) => {
      await ferry.open({ conflicts: true });
      // As from a notification.
      await ferry.emit('open-conflict', { collection: 'contacts', id: DELETE_EDIT });
      const d = dialog(page);
      await expect(d).toContainText('You deleted this contact, but bob changed it');
      await expect(page.getByTestId('restore')).toHaveText('Keep their version');
      await expect(page.getByTestId('accept-delete')).toHaveText('Delete anyway');
      await expect(d.locator('[data-field-row=phone]')).toContainText('+44 20 7946 0999');
      if (testid === 'restore') await ferry.shot('conflict-delete-edit');
      await page.getByTestId(testid).click();
      await expect(d).toHaveCount(0);
      expect(await resolution(ferry)).toEqual({ collection: 'contacts', id: DELETE_EDIT, resolution: { kind } });
    });
  }

  test('is keyboard-operable: focus stays inside, Esc closes', async ({ page, ferry }) => {
    await ferry.open({ conflicts: true });
    await page.getByTestId('nav-conflicts').focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('conflict-item')).toHaveCount(3);
    await expect(dialog(page)).toHaveCount(0);
    const item = page.getByTestId('conflict-item').first();
    await item.focus();
    await page.keyboard.press('Enter');
    const d = dialog(page);
    await expect(d).toBeVisible();
    expect(await d.evaluate((el) => el.contains(document.activeElement))).toBe(true);
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      expect(await d.evaluate((el) => el.contains(document.activeElement))).toBe(true);
    }
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Shift+Tab');
      expect(await d.evaluate((el) => el.contains(document.activeElement))).toBe(true);
    }
    // Choose and resolve with the keyboard only.
    await page.getByTestId('choose-theirs-email').focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await expect(page.getByTestId('choose-theirs-notes')).toHaveAttribute('aria-pressed', 'true');
    // The focused control shows a visible ring.
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.press('Escape');
    await expect(d).toHaveCount(0);
    await expect(item).toBeFocused();
    expect(await ferry.calls('resolve_conflict')).toEqual([]);
  });
});
