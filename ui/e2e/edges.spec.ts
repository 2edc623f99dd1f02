// Rough edges a new user meets in everyday use.
import { test, expect, rows } from './fixtures';
import type { Page } from '@playwright/test';

const EDIT_EDIT = '0193a1b2-0000-7000-8000-000000000000';
const EDIT_DELETE = '0193a1b2-0000-7000-8000-000000000001';
const dialog = (page: Page) => page.getByTestId('conflict-dialog');
const field = (page: Page, name: string) => page.locator(`[data-testid=editor] [data-field="${name}"]`);

test('a waiting conflict is not "all sent": the status bar and Outbox say it needs a decision and lead to it', async ({ page, ferry }) => {
  await ferry.open({ conflicts: true });
  const count = await page.evaluate(() => window.ferry.backend.conflictList.length);
  const words = `${count} changes need your decision`;
  const bar = page.locator('footer.statusbar');
  await expect(bar).not.toContainText('All changes sent');
  const link = page.getByTestId('decisions');
  await expect(link).toHaveText(words);
  await page.locator('footer.statusbar').screenshot({ path: '/tmp/edges-status-decisions.png' });
  await link.click();
  await expect(page.getByRole('heading', { name: 'Conflicts' })).toBeVisible();
  await expect(page.getByTestId('conflict-item')).toHaveCount(count);
  await expect(dialog(page)).toHaveCount(0);

  await page.getByTestId('nav-outbox').click();
  const main = page.locator('main');
  await expect(main).not.toContainText('Everything is sent');
  await expect(main).not.toContainText('All changes sent');
  await expect(main).toContainText(words);
  await page.screenshot({ path: '/tmp/edges-outbox-decisions.png' });
  await main.getByTestId('outbox-decisions').click();
  await expect(page.getByTestId('conflict-item')).toHaveCount(count);

  // One left: the singular.
  for (let left = count; left > 1; left--) {
    await page.getByTestId('conflict-item').first().click();
    await dialog(page).getByRole('button', { name: /^(All mine|Restore with my changes|Keep their version)$/ }).click();
    await expect(dialog(page)).toHaveCount(0);
  }
  await expect(link).toHaveText('1 change needs your decision');
});

test('resolving a conflict confirms it with a toast', async ({ page, ferry }) => {
  await ferry.open({ conflicts: true });
  await page.getByTestId('nav-conflicts').click();
  await page.locator(`[data-testid=conflict-item][data-id="${EDIT_EDIT}"]`).click();
  const title = await page.evaluate((id) => {
    const c = window.ferry.backend.conflictList.find((k) => k.record_id === id)!;
    return c.mine.name as string;
  }, EDIT_EDIT);
  await page.getByTestId('all-mine').click();
  await expect(dialog(page)).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: 'Resolved the conflict on' })).toHaveText(`Resolved the conflict on “${title}”`);
});

test('a record someone else deleted while I edited it says who deleted it', async ({ page, ferry }) => {
  await ferry.open({ conflicts: true, contacts: 5 });
  const who = await page.evaluate((id) => window.ferry.backend.conflictList.find((k) => k.record_id === id)!.theirs.updated_by, EDIT_DELETE);
  await page.locator(`[data-testid=row][data-id="${EDIT_DELETE}"]`).click();
  const editor = page.getByTestId('editor');
  await expect(editor).toContainText(`${who} deleted this contact`);
  await expect(editor).not.toContainText('Someone else changed this record too');
  await expect(page.getByTestId('editor')).toContainText(`Deleted by ${who}`);
  await page.screenshot({ path: '/tmp/edges-deleted-banner.png' });
});

test('a number field that is not a number says so on blur and on Save', async ({ page, ferry }) => {
  await ferry.open({ tasks: 5 });
  await page.getByTestId('collection-tasks').click();
  await rows(page).first().click();
  await expect(field(page, 'title')).not.toHaveValue('');
  const error = page.locator('#field-priority-error');
  const other = (Number(await field(page, 'priority').inputValue()) % 5) + 1;
  await field(page, 'priority').fill('abc');
  await expect(error).toHaveCount(0);
  await field(page, 'priority').blur();
  await expect(error).toHaveText('Enter a number');
  await expect(field(page, 'priority')).toHaveAttribute('aria-invalid', 'true');
  // Save stays clickable and says why it saved nothing.
  await expect(page.getByTestId('save')).toBeEnabled();
  await page.screenshot({ path: '/tmp/edges-number-blur.png' });
  await field(page, 'priority').fill('abcd');
  await page.getByTestId('save').click();
  await expect(error).toHaveText('Enter a number');
  await expect(field(page, 'priority')).toBeFocused();
  expect(await ferry.calls('update_record')).toEqual([]);
  await field(page, 'priority').fill(String(other));
  await page.getByTestId('save').click();
  await expect(error).toHaveCount(0);
  // The error clears as soon as the value is a number, before Save's command goes out: wait for it.
  await expect.poll(async () => (await ferry.calls('update_record')).at(-1)?.args.changes).toEqual({ priority: other });
});

test('Conflicts in the sidebar shows the list; picking one opens it', async ({ page, ferry }) => {
  await ferry.open({ conflicts: true });
  await page.getByTestId('nav-conflicts').click();
  await expect(page.getByTestId('conflict-item').first()).toBeVisible();
  await expect(dialog(page)).toHaveCount(0);
  await page.getByTestId('conflict-item').first().click();
  await expect(dialog(page)).toBeVisible();
});

test('"Keep both" says it saves mine as a new record of the collection', async ({ page, ferry }) => {
  await ferry.open({ conflicts: true });
  await page.getByTestId('nav-conflicts').click();
  await page.locator(`[data-testid=conflict-item][data-id="${EDIT_EDIT}"]`).click();
  await expect(page.getByTestId('keep-both')).toHaveText('Save mine as a new contact');
  await dialog(page).screenshot({ path: '/tmp/edges-keep-both.png' });
});

test('online, idle and sent reads "Up to date", with the last sync in the tooltip', async ({ page, ferry }) => {
  await ferry.open();
  const meta = page.getByTestId('last-sync');
  await expect(meta).toHaveText('Up to date');
  await expect(meta).toHaveAttribute('title', /Last synced 2 min ago/);
  await page.locator('footer.statusbar').screenshot({ path: '/tmp/edges-up-to-date.png' });
  // Offline it is not up to date.
  await page.getByTestId('work-offline').click();
  await expect(meta).toHaveText(/^Last synced /);
});

test('the account corner shows the whole server address on hover', async ({ page, ferry }) => {
  await ferry.open();
  const server = await page.evaluate(() => window.ferry.backend.status.account!.server);
  await expect(page.getByTestId('open-settings')).toHaveAttribute('title', new RegExp(`^alice on ${server.replace(/[.]/g, '\\.')} `));
});

test('the chosen sort is kept per collection after visiting another view', async ({ page, ferry }) => {
  await ferry.open({ contacts: 50 });
  await expect(rows(page).first()).toBeVisible();
  const header = page.getByRole('columnheader', { name: 'Sort by Company' });
  await page.getByTestId('sort-company').click();
  await page.getByTestId('sort-company').click();
  await expect(header).toHaveAttribute('aria-sort', 'descending');
  await page.getByTestId('collection-tasks').click();
  await expect(rows(page).first()).toBeVisible();
  // Another collection keeps its own (default) sort.
  await expect(page.getByRole('columnheader', { name: 'Sort by Title' })).toHaveAttribute('aria-sort', 'ascending');
  await page.getByTestId('nav-outbox').click();
  await page.getByTestId('collection-contacts').click();
  await expect(header).toHaveAttribute('aria-sort', 'descending');
  // The header can show the order before the list's query reaches the backend.
  await expect
    .poll(async () => (await ferry.calls('list_records')).at(-1)!.args.query)
    .toMatchObject({ collection: 'contacts', sort: 'company', descending: true });
});

test('History lets the user expand a long value it cuts off', async ({ page, ferry }) => {
  await ferry.open({ contacts: 8 });
  const cutOff = page.locator('[data-testid=history] .changes li').filter({
    has: page.locator('.after, .before'),
  });
  // The first record whose history cuts a value off.
  let line = null;
  for (let i = 0; i < 8 && !line; i++) {
    await rows(page).nth(i).click();
    await expect(page.getByTestId('history-entry').first()).toBeVisible();
    const n = await cutOff.count();
    for (let k = 0; k < n; k++) {
      const over = await cutOff.nth(k).evaluate((li) => [...li.querySelectorAll('.before, .after')].some((el) => el.scrollWidth > el.clientWidth + 1));
      if (over) {
        line = cutOff.nth(k);
        break;
      }
    }
  }
  expect(line, 'a history value cut off').not.toBeNull();
  const more = line!.getByTestId('expand-value');
  await expect(more).toHaveAttribute('aria-expanded', 'false');
  await more.click();
  await expect(more).toHaveAttribute('aria-expanded', 'true');
  const stillCut = await line!.evaluate((li) => [...li.querySelectorAll('.before, .after')].some((el) => el.scrollWidth > el.clientWidth + 1));
  expect(stillCut).toBe(false);
  await page.getByTestId('history').screenshot({ path: '/tmp/edges-history-expanded.png' });
  await more.click();
  await expect(more).toHaveAttribute('aria-expanded', 'false');
});

test('choice badges of different values have different colours, readable in light and dark', async ({ page, ferry }) => {
  await ferry.open({ tasks: 30 });
  await page.getByTestId('collection-tasks').click();
  await expect(rows(page).first()).toBeVisible();
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const badges = await page.locator('[data-testid=row] .pill').evaluateAll((els) => {
      const rgb = (s: string) => (s.match(/[\d.]+/g) ?? []).map(Number);
      const page = rgb(getComputedStyle(document.documentElement).backgroundColor);
      return els.map((el) => {
        const cs = getComputedStyle(el);
        const [r, g, b, a = 1] = rgb(cs.backgroundColor);
        // A see-through background reads over the page.
        const bg = [r!, g!, b!].map((c, i) => c * a + page[i]! * (1 - a));
        return { value: el.textContent!.trim(), fg: rgb(cs.color).slice(0, 3), bg };
      });
    });
    const lum = (c: number[]) => {
      const [r, g, b] = c.map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const contrast = (x: number[], y: number[]) => {
      const [hi, lo] = [lum(x), lum(y)].sort((p, q) => q - p);
      return (hi! + 0.05) / (lo! + 0.05);
    };
    const colourOf = new Map<string, string>();
    for (const b of badges) {
      const colour = JSON.stringify(b.bg.map(Math.round));
      // The same value always has the same colour.
      expect(colourOf.get(b.value) ?? colour, `${b.value} in ${scheme}`).toBe(colour);
      colourOf.set(b.value, colour);
      expect(contrast(b.fg, b.bg), `${b.value} contrast in ${scheme}`).toBeGreaterThanOrEqual(4.5);
    }
    expect(colourOf.size, 'values shown').toBeGreaterThan(1);
    expect(new Set(colourOf.values()).size, `distinct colours in ${scheme}`).toBe(colourOf.size);
    await page.locator('[data-testid=record-list]').screenshot({ path: `/tmp/edges-choice-${scheme}.png` });
  }
});

test('the window is titled with the account and what is on screen, so two windows are told apart', async ({ page, ferry }) => {
  await ferry.open();
  const title = () => page.evaluate(() => window.ferry.backend.windowTitle);
  await expect.poll(title).toBe('Ferry — alice — Contacts');
  await page.getByTestId('collection-tasks').click();
  await expect.poll(title).toBe('Ferry — alice — Tasks');
  await page.getByTestId('nav-outbox').click();
  await expect.poll(title).toBe('Ferry — alice — Outbox');
  await expect(page).toHaveTitle('Ferry — alice — Outbox');
});
