import { test, expect, rows } from './fixtures';

test.describe('Record list', () => {
  test('scrolls deep into 100,000 records holding only a window of rows', async ({ page, ferry }) => {
    await ferry.open();
    const list = page.getByTestId('record-list');
    await expect(list).toHaveAttribute('data-total', '100000');
    await expect(page.getByTestId('collection-contacts')).toContainText('100,000');
    await expect(rows(page).first()).toBeVisible();
    await ferry.shot('list');

    const rowHeight = 36;
    for (const target of [25_000, 80_000, 99_990]) {
      await list.evaluate((el, top) => (el.scrollTop = top), target * rowHeight);
      await expect(page.locator(`[data-testid=row][data-index="${target}"]`)).toBeVisible();
      const count = await rows(page).count();
      expect(count).toBeGreaterThan(10);
      expect(count).toBeLessThan(80);
    }
    // Rows far from the viewport are not in the DOM.
    await expect(page.locator('[data-testid=row][data-index="0"]')).toHaveCount(0);
    await expect(page.locator('[data-testid=row][data-index="99999"]')).toBeVisible();
    await ferry.shot('list-deep');

    // Windows of 100 rows are fetched by offset, never the whole collection.
    const queries = (await ferry.calls('list_records')).map((c) => c.args.query);
    expect(queries.every((q) => q.limit === 100)).toBe(true);
    expect(queries.some((q) => q.offset === 80_000)).toBe(true);
    expect(queries.length).toBeLessThan(20);
    // Scrolling fetches rows only: the matches were counted once.
    expect(await ferry.calls('count_records')).toHaveLength(1);
  });

  test('reaches every one of a million rows, though the browser lays out fewer pixels', async ({ page, ferry }) => {
    // The mock makes and sorts a million records first.
    test.slow();
    await ferry.open({ contacts: 1_000_000 });
    const list = page.getByTestId('record-list');
    await expect(list).toHaveAttribute('data-total', '1000000');
    await expect(rows(page).first()).toBeVisible();
    // 36 px a row would be 36 million pixels: past what WebKit and Blink lay out.
    const height = await list.evaluate((el) => el.scrollHeight);
    expect(height).toBeLessThan(16_000_000);

    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    const last = page.locator('[data-testid=row][data-index="999999"]');
    await expect(last).toBeVisible();
    const [box, view] = await Promise.all([last.boundingBox(), list.boundingBox()]);
    expect(box!.y + box!.height).toBeLessThanOrEqual(view!.y + view!.height + 1);

    await list.evaluate((el) => (el.scrollTop = (el.scrollHeight - el.clientHeight) / 2));
    // Until the rows of the middle replace those of the end.
    const firstShown = async () => Number(await rows(page).first().getAttribute('data-index'));
    await expect.poll(async () => Math.abs((await firstShown()) - 500_000)).toBeLessThan(100);
    const first = await firstShown();
    // Rows follow each other, 36 px apart, as at the top of the list.
    const a = await page.locator(`[data-testid=row][data-index="${first + 20}"]`).boundingBox();
    const b = await page.locator(`[data-testid=row][data-index="${first + 21}"]`).boundingBox();
    expect(Math.round(b!.y - a!.y)).toBe(36);

    // The keyboard reaches the end too.
    await page.locator(`[data-testid=row][data-index="${first + 20}"]`).click();
    await page.keyboard.press('End');
    await expect(list).toHaveAttribute('aria-activedescendant', (await last.getAttribute('id'))!);
    await expect(last).toBeInViewport();
    await ferry.shot('list-million');
  });

  test('sorts by a column header, and flips on a second click', async ({ page, ferry }) => {
    await ferry.open();
    await expect(rows(page).first()).toBeVisible();
    const header = page.getByRole('columnheader', { name: 'Sort by Company' });
    await page.getByTestId('sort-company').click();
    await expect(header).toHaveAttribute('aria-sort', 'ascending');
    await expect(rows(page).first().getByRole('gridcell').nth(4)).toHaveText('Atlas Engineering');
    await page.getByTestId('sort-company').click();
    await expect(header).toHaveAttribute('aria-sort', 'descending');
    await expect(rows(page).first().getByRole('gridcell').nth(4)).toHaveText('Orchard Schools');
    const last = (await ferry.calls('list_records')).at(-1)!.args.query;
    expect(last).toMatchObject({ sort: 'company', descending: true, offset: 0 });
    // A new order matches the same records: they are not counted again.
    expect(await ferry.calls('count_records')).toHaveLength(1);
    await expect(page.getByTestId('list-count')).toHaveText(/100,000/);
    await page.getByTestId('search').fill('lovelace');
    await expect.poll(async () => (await ferry.calls('count_records')).length).toBe(2);
  });

  test('searches as you type', async ({ page, ferry }) => {
    await ferry.open();
    await expect(rows(page).first()).toBeVisible();
    await page.getByTestId('search').pressSequentially('lovelace ad', { delay: 20 });
    await expect.poll(async () => (await ferry.calls('list_records')).at(-1)!.args.query.search).toBe('lovelace ad');
    await expect(page.getByTestId('list-count')).toHaveText(/^\s*\d+ of 100,000\s*$/);
    await expect(rows(page).first().locator('.title')).toHaveText(/^Ad\w* .*Lovelace$/);
    const names = await rows(page).locator('.title').allTextContents();
    expect(names.length).toBeGreaterThan(3);
    for (const n of names) expect(n).toMatch(/^Ad\w* .*Lovelace$/);
    await ferry.shot('list-search');

    await page.getByTestId('search').fill('zzzzqq');
    await expect(page.getByText('No matches')).toBeVisible();
    await expect(rows(page)).toHaveCount(0);
    await ferry.shot('list-no-matches');
    await page.getByRole('button', { name: 'Clear search and filters' }).click();
    await expect(page.getByTestId('record-list')).toHaveAttribute('data-total', '100000');
  });

  test("shows a search's rows before its matches are counted", async ({ page, ferry }) => {
    await ferry.open({ countDelayMs: 1500 });
    const count = page.getByTestId('list-count');
    await expect(page.getByTestId('record-list')).toHaveAttribute('data-total', '100000');
    await page.getByTestId('search').fill('lovelace');
    await expect(rows(page).first().locator('.title')).toHaveText(/Lovelace$/);
    await expect(count).toHaveAttribute('aria-busy', 'true');
    await expect(count).toHaveClass(/counting/);
    await expect(count).toHaveAttribute('aria-busy', 'false');
    await expect(count).toHaveText(/^\s*[\d,]+ of 100,000\s*$/);
    const matches = Number((await count.textContent())!.trim().split(' ')[0]!.replace(/,/g, ''));
    expect(matches).toBeGreaterThan(100);
    await expect(page.getByTestId('record-list')).toHaveAttribute('data-total', String(matches));
    // A count still on its way for an older search is dropped.
    await page.getByTestId('search').fill('lovelace a');
    await page.getByTestId('search').fill('zzzzqq');
    await expect(page.getByText('No matches')).toBeVisible();
    await page.waitForTimeout(1800);
    await expect(page.getByText('No matches')).toBeVisible();
    await expect(page.getByTestId('record-list')).toHaveAttribute('data-total', '0');
  });

  test('keeps the count while a newer count replaces one on its way', async ({ page, ferry }) => {
    await ferry.open({ countDelayMs: 1000 });
    const list = page.getByTestId('record-list');
    await page.getByTestId('search').fill('lovelace');
    const count = page.getByTestId('list-count');
    await expect(count).toHaveAttribute('aria-busy', 'false');
    const total = await list.getAttribute('data-total');
    expect(Number(total)).toBeGreaterThan(100);
    const before = (await ferry.calls('count_records')).length;
    // Every figure the list takes from here on.
    await list.evaluate((el) => {
      const seen: string[] = [];
      (window as unknown as { seenTotals: string[] }).seenTotals = seen;
      new MutationObserver(() => seen.push(el.getAttribute('data-total') ?? '')).observe(el, {
        attributes: true,
        attributeFilter: ['data-total'],
      });
    });
    // Two syncs in a row: the first recount (answered after 1 s) is
    // replaced by the second, which alone reaches the backend.
    await ferry.emit('records-changed', { records: [], truncated: true });
    await page.waitForTimeout(300);
    await ferry.emit('records-changed', { records: [], truncated: true });
    await expect.poll(async () => (await ferry.calls('count_records')).length).toBe(before + 1);
    await page.waitForTimeout(300);
    expect(await ferry.calls('count_records')).toHaveLength(before + 1);
    await expect(list).toHaveAttribute('data-total', total!);
    const seen = await page.evaluate(() => (window as unknown as { seenTotals: string[] }).seenTotals);
    expect(seen.filter((t) => t !== total)).toEqual([]);
  });

  test('filters by boolean, tag and choice fields', async ({ page, ferry }) => {
    await ferry.open();
    await expect(rows(page).first()).toBeVisible();
    await page.getByTestId('filter-vip').selectOption('true');
    await expect(rows(page).first()).toBeVisible();
    await expect.poll(async () => (await ferry.calls('list_records')).at(-1)!.args.query.filters).toEqual({ vip: true });
    expect(await rows(page).locator('[aria-label=Yes]').count()).toBe(await rows(page).count());

    await page.getByTestId('filter-tags').fill('press');
    await page.getByTestId('filter-tags').press('Enter');
    await expect.poll(async () => (await ferry.calls('list_records')).at(-1)!.args.query.filters).toEqual({ vip: true, tags: 'press' });
    for (const cell of await rows(page).locator('.chip').allTextContents()) expect(['customer', 'supplier', 'press', 'partner', 'lead', 'board']).toContain(cell);
    await ferry.shot('list-filtered');

    await page.getByTestId('collection-tasks').click();
    await expect(page.getByRole('heading', { name: 'Tasks' })).toBeVisible();
    await page.getByTestId('filter-status').selectOption('done');
    await expect.poll(async () => (await ferry.calls('list_records')).at(-1)!.args.query).toMatchObject({ collection: 'tasks', filters: { status: 'done' } });
    await expect(rows(page).first()).toBeVisible();
    expect(new Set(await rows(page).locator('.pill').allTextContents())).toEqual(new Set(['done']));
    await ferry.shot('list-tasks-filtered');
  });

  test('moves with the keyboard and opens with Enter', async ({ page, ferry }) => {
    await ferry.open();
    await expect(rows(page).first()).toBeVisible();
    const list = page.getByTestId('record-list');
    await list.focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    const second = rows(page).nth(1);
    await expect(second).toHaveClass(/cursor/);
    await page.keyboard.press('Enter');
    const id = await second.getAttribute('data-id');
    await expect(page.getByTestId('editor')).toBeVisible();
    await expect(second).toHaveAttribute('aria-selected', 'true');
    await expect.poll(async () => (await ferry.calls('get_record')).at(-1)?.args.id).toBe(id);

    await list.focus();
    await page.keyboard.press('End');
    await expect(page.locator('[data-testid=row][data-index="99999"]')).toHaveClass(/cursor/);
    await page.keyboard.press('PageUp');
    const cursor = page.locator('[data-testid=row].cursor');
    const index = Number(await cursor.getAttribute('data-index'));
    expect(index).toBeLessThan(99_999);
    expect(index).toBeGreaterThan(99_970);
    await page.keyboard.press('Home');
    await expect(page.locator('[data-testid=row][data-index="0"]')).toHaveClass(/cursor/);
    await page.keyboard.press('PageDown');
    expect(Number(await cursor.getAttribute('data-index'))).toBeGreaterThan(5);

    // Ctrl+F finds; ↓ from the search goes back to the list; Ctrl+N starts a new record.
    await page.keyboard.press('Control+f');
    await expect(page.getByTestId('search')).toBeFocused();
    await page.keyboard.press('ArrowDown');
    await expect(list).toBeFocused();
    await page.keyboard.press('Control+n');
    await expect(page.getByRole('heading', { name: 'New contact' })).toBeVisible();
  });

  test('marks pending, conflicted and refused rows; the conflict marker opens the dialog', async ({ page, ferry }) => {
    await ferry.open({ pending: true, conflicts: true, rejected: true });
    await expect(rows(page).first()).toBeVisible();
    await page.getByTestId('search').fill('new.address');
    await expect(page.locator('[data-testid=row][data-state=pending]')).toHaveCount(1);
    await page.getByTestId('search').fill('harborpine');
    const conflicted = page.locator('[data-testid=row][data-state=conflict]');
    await expect(conflicted).toHaveCount(1);
    await ferry.shot('list-markers');
    await conflicted.getByTestId('row-conflict').click();
    await expect(page.getByTestId('conflict-dialog')).toBeVisible();
    await expect(page.getByTestId('conflict-dialog')).toContainText('Ada Lovelace');

    await page.keyboard.press('Escape');
    await expect(page.getByTestId('conflict-dialog')).toHaveCount(0);
    await page.getByTestId('collection-tasks').click();
    await page.getByTestId('sort-priority').click();
    await page.getByTestId('sort-priority').click();
    const refused = page.locator('[data-testid=row][data-state=rejected]');
    await expect(refused).toHaveCount(1);
    await expect(refused.getByRole('img', { name: 'Refused by the server' })).toBeVisible();
  });

  test('refreshes changed rows in place without losing the scroll position', async ({ page, ferry }) => {
    await ferry.open();
    const list = page.getByTestId('record-list');
    await list.evaluate((el) => (el.scrollTop = 500 * 36));
    const row = page.locator('[data-testid=row][data-index="505"]');
    await expect(row).toBeVisible();
    const id = (await row.getAttribute('data-id'))!;
    await page.evaluate((recordId) => {
      const b = window.ferry.backend;
      const r = b.get('contacts', recordId);
      // As if a pull brought a new phone number.
      const next = { ...r, fields: { ...r.fields, phone: '+44 20 0000 1111' } };
      b.tables.get('contacts')!.overrides.set(recordId, next);
      window.ferry.emit('records-changed', { records: [{ collection: 'contacts', id: recordId }], truncated: false });
    }, id);
    await expect(page.locator(`[data-testid=row][data-id="${id}"]`)).toContainText('+44 20 0000 1111');
    // The counts reload after a change; the list stays where it was.
    const loads = (await ferry.calls('collections')).length;
    await expect.poll(async () => (await ferry.calls('collections')).length).toBeGreaterThan(loads - 1);
    await page.waitForTimeout(400);
    expect(await list.evaluate((el) => el.scrollTop)).toBe(500 * 36);
    await expect(row).toBeVisible();
  });
});
