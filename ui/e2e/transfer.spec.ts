// Import (File › Import…) and export (File › Export…) of records.
import { test, expect, rows } from './fixtures';
import type { Page } from '@playwright/test';

const CSV = [
  'Name,Email,Organisation,VIP',
  'Zelda Quokka,zelda@example.com,Harbor & Pine,yes',
  'Yannick Wombat,yannick@example.com,"Atlas, Engineering",no',
  ',nobody@example.com,Nowhere,yes',
  'Xavier Numbat,xavier@example.com,Bletchley,maybe',
].join('\n');

const importDialog = (page: Page) => page.getByTestId('import-dialog');
const exportDialog = (page: Page) => page.getByTestId('export-dialog');

/** Opens File › Import… on the contacts and previews `path`. */
async function preview(page: Page, emit: (n: string, p: unknown) => Promise<void>, path: string) {
  await expect(rows(page).first()).toBeVisible();
  await emit('menu', 'import');
  await expect(importDialog(page)).toBeVisible();
  await expect(importDialog(page).getByRole('heading', { level: 2 })).toHaveText('Import into Contacts');
  await page.getByTestId('import-path').fill(path);
  await page.getByTestId('import-open').click();
  await expect(page.getByTestId('import-sample')).toBeVisible();
}

test.describe('Import', () => {
  test('the menu opens it; the mapping is guessed and editable; problem rows are listed with reasons; the summary says what was done', async ({ page, ferry }) => {
    await ferry.open({ contacts: 20, files: { '/home/alice/people.csv': CSV } });
    await preview(page, ferry.emit, '/home/alice/people.csv');

    // Guessed from headers and labels; a column matching nothing is left out.
    await expect(page.getByTestId('map-Name')).toHaveValue('name');
    await expect(page.getByTestId('map-Email')).toHaveValue('email');
    await expect(page.getByTestId('map-VIP')).toHaveValue('vip');
    await expect(page.getByTestId('map-Organisation')).toHaveValue('');
    await expect(page.getByTestId('import-sample').locator('tbody tr')).toHaveCount(4);
    await expect(page.getByTestId('import-sample')).toContainText('Atlas, Engineering');

    const summary = page.getByTestId('import-summary');
    await expect(summary).toContainText('4 rows in the file');
    await expect(summary).toContainText('2 will be imported');
    const problems = page.getByTestId('import-problems').locator('li');
    await expect(problems).toHaveCount(2);
    await expect(problems.nth(0)).toHaveText('Row 3 Name is required');
    await expect(problems.nth(1)).toHaveText('Row 4 VIP: “maybe” is not yes or no');
    await expect(page.getByTestId('import-start')).toHaveText('Import 2 rows');

    // Changing a column's field asks for the preview again with the new mapping.
    const before = (await ferry.calls('import_preview')).length;
    await page.getByTestId('map-Organisation').selectOption('company');
    await expect.poll(async () => (await ferry.calls('import_preview')).length).toBe(before + 1);
    const last = (await ferry.calls('import_preview')).at(-1)!.args;
    expect(last.options.mapping).toEqual([
      { column: 'Name', field: 'name' },
      { column: 'Email', field: 'email' },
      { column: 'Organisation', field: 'company' },
      { column: 'VIP', field: 'vip' },
    ]);
    expect(last.options.key).toBeNull();
    await ferry.shot('import-preview');

    await page.getByTestId('import-start').click();
    const result = page.getByTestId('import-result');
    await expect(result).toHaveText('Imported 2 rows: 2 new, 0 updated; 2 rows left out.');
    await expect(page.getByTestId('import-sync')).toContainText('sent to the server at the next sync');
    const imported = (await ferry.calls('import_records')).at(-1)!.args;
    expect(imported.options.mapping[2]).toEqual({ column: 'Organisation', field: 'company' });
    // The rows left out can be looked at.
    const left = page.getByTestId('import-report-problems');
    await expect(left).toBeHidden();
    await page.getByTestId('import-show-problems').click();
    await expect(left.locator('li')).toHaveCount(2);
    await expect(left).toContainText('Row 4');
    await ferry.shot('import-done');
    await page.getByTestId('import-close').click();
    await expect(importDialog(page)).toHaveCount(0);

    // The new records are in the list and its counts, waiting in the outbox.
    await expect(page.getByTestId('list-count')).toHaveText('22 records');
    await expect(page.getByTestId('collection-contacts')).toContainText('22');
    await page.getByTestId('search').fill('Quokka');
    await expect(rows(page)).toHaveCount(1);
    await expect(rows(page).first()).toContainText('Harbor & Pine');
    const created = await page.evaluate(() => window.ferry.backend.outboxEntries.filter((e) => e.mutation.fields.name === 'Zelda Quokka').length);
    expect(created).toBe(1);
  });

  test('update where a key field matches: matches are counted and updated, the others created', async ({ page, ferry }) => {
    await ferry.open({ contacts: 5 });
    const existing = await page.evaluate(() => {
      const r = window.ferry.backend.list({ collection: 'contacts', search: null, sort: null, descending: false, filters: {}, offset: 0, limit: 1 }).records[0]!;
      return { id: r.id, name: r.fields.name as string };
    });
    await page.evaluate((name) => {
      window.ferry.backend.files['/tmp/update.jsonl'] = [
        JSON.stringify({ name, phone: '+44 20 0000 0001' }),
        JSON.stringify({ name: 'Wilma Bilby', phone: '+44 20 0000 0002' }),
      ].join('\n');
    }, existing.name);
    await preview(page, ferry.emit, '/tmp/update.jsonl');
    await expect(page.getByTestId('import-key')).toBeDisabled();
    await page.getByTestId('import-mode-update').check();
    // The title field is the key offered first; the user may pick another.
    await expect(page.getByTestId('import-key')).toHaveValue('name');
    await expect(page.getByTestId('import-summary')).toContainText('1 matches a record and will update it');
    expect((await ferry.calls('import_preview')).at(-1)!.args.options.key).toBe('name');
    await page.getByTestId('import-key').selectOption('phone');
    await expect(page.getByTestId('import-summary')).toContainText('No row matches a record');
    await page.getByTestId('import-key').selectOption('name');
    await expect(page.getByTestId('import-summary')).toContainText('1 matches a record');

    // A key no column fills cannot match anything: the button says why it is off.
    await page.getByTestId('map-name').selectOption('');
    await expect(page.getByTestId('import-blocker')).toContainText('No column goes to Name');
    await expect(page.getByTestId('import-start')).toBeDisabled();
    await page.getByTestId('map-name').selectOption('name');
    await expect(page.getByTestId('import-start')).toBeEnabled();

    await page.getByTestId('import-start').click();
    await expect(page.getByTestId('import-result')).toHaveText('Imported 2 rows: 1 new, 1 updated.');
    const phone = await page.evaluate((id) => window.ferry.backend.get('contacts', id).fields.phone, existing.id);
    expect(phone).toBe('+44 20 0000 0001');
    expect((await ferry.calls('import_records')).at(-1)!.args.options.key).toBe('name');
  });

  test('more problem rows than listed say how many more; a failed import says why and can be tried again; offline, the records wait for the connection', async ({ page, ferry }) => {
    const lines = ['Name,VIP'];
    for (let i = 0; i < 150; i++) lines.push(`Bad ${i},perhaps`);
    lines.push('Good One,yes');
    await ferry.open({ contacts: 5, workOffline: true, files: { '/tmp/m.csv': lines.join('\n') } });
    await preview(page, ferry.emit, '/tmp/m.csv');
    await expect(page.getByTestId('import-problems').locator('li')).toHaveCount(100);
    await expect(page.getByTestId('import-more-problems')).toHaveText('and 50 more');
    await expect(page.getByTestId('import-summary')).toContainText('150 left out');

    await page.evaluate(() => {
      window.ferry.backend.importError = { kind: 'disk_full', message: 'The disk is full: nothing was imported. Free some space and try again.' };
    });
    await page.getByTestId('import-start').click();
    await expect(page.getByTestId('import-error')).toHaveText('The disk is full: nothing was imported. Free some space and try again.');
    await expect(page.getByTestId('import-start')).toBeEnabled();
    await page.getByTestId('import-start').click();
    await expect(page.getByTestId('import-result')).toHaveText('Imported 1 row: 1 new, 0 updated; 150 rows left out.');
    await expect(page.getByTestId('import-sync')).toHaveText('The new and changed records are sent to the server when you are back online.');
  });

  test('no column mapped: Import is off and says why', async ({ page, ferry }) => {
    await ferry.open({ contacts: 5, files: { '/tmp/p.csv': CSV } });
    await preview(page, ferry.emit, '/tmp/p.csv');
    for (const column of ['Name', 'Email', 'VIP']) await page.getByTestId(`map-${column}`).selectOption('');
    await expect(page.getByTestId('import-blocker')).toHaveText('Choose a field for at least one column.');
    await expect(page.getByTestId('import-start')).toBeDisabled();
  });

  test('a running import shows progress and can be cancelled: the message says how many rows are kept, and importing again continues after them', async ({ page, ferry }) => {
    const lines = ['name,company'];
    for (let i = 0; i < 10_000; i++) lines.push(`Bulk Person ${i},Bulk Co`);
    await ferry.open({ contacts: 5, files: { '/tmp/big.csv': lines.join('\n') }, importBatch: 2000, importDelayMs: 1500 });
    await preview(page, ferry.emit, '/tmp/big.csv');
    await expect(page.getByTestId('import-start')).toHaveText('Import 10,000 rows');
    await page.getByTestId('import-start').click();

    const bar = page.getByRole('progressbar');
    await expect(bar).toHaveAttribute('aria-valuemax', '10000');
    await expect(bar).toHaveAttribute('aria-valuenow', '2000');
    await expect(bar).toHaveAttribute('aria-valuetext', '2,000 of 10,000 rows');
    await expect(page.getByTestId('cancel-import')).toBeFocused();
    // Escape does not drop a running import out of sight, and there is no Close: Cancel import is the way out.
    await expect(importDialog(page).getByRole('button', { name: 'Close' })).toHaveCount(0);
    await page.keyboard.press('Escape');
    await expect(importDialog(page)).toBeVisible();
    await ferry.shot('import-running');
    await page.getByTestId('cancel-import').click();
    await expect(page.getByTestId('cancel-import')).toHaveText('Cancelling…');

    const result = page.getByTestId('import-result');
    await expect(result).toContainText('Import cancelled after');
    const kept = await page.evaluate(() => window.ferry.backend.outboxEntries.filter((e) => String(e.mutation.fields.name ?? '').startsWith('Bulk Person')).length);
    expect(kept % 2000).toBe(0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(10_000);
    await expect(result).toHaveText(
      `Import cancelled after ${kept.toLocaleString('en-GB')} of 10,000 rows. Those rows are saved; importing the same file again continues after them.`,
    );
    await ferry.shot('import-cancelled');
    await page.getByTestId('import-close').click();

    // The same file with the same settings resumes after the kept rows.
    await ferry.emit('menu', 'import');
    await page.getByTestId('import-path').fill('/tmp/big.csv');
    await page.getByTestId('import-open').click();
    await expect(page.getByTestId('import-resume')).toHaveText(
      `An earlier import of this file stopped after ${kept.toLocaleString('en-GB')} rows; importing continues after them.`,
    );
    await expect(page.getByTestId('import-start')).toHaveText(`Import ${(10_000 - kept).toLocaleString('en-GB')} rows`);
  });

  test('a file already imported with these settings offers only Close', async ({ page, ferry }) => {
    await ferry.open({ contacts: 5, files: { '/tmp/p.csv': CSV } });
    await preview(page, ferry.emit, '/tmp/p.csv');
    await page.getByTestId('import-start').click();
    await expect(page.getByTestId('import-result')).toContainText('Imported 2 rows');
    await page.getByTestId('import-close').click();
    await page.getByTestId('open-import').click();
    await page.getByTestId('import-path').fill('/tmp/p.csv');
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('import-already')).toContainText('This file was already imported with these settings; there is nothing left to import.');
    await expect(page.getByTestId('import-start')).toHaveCount(0);
    // Changing the mapping makes it a new import.
    await page.getByTestId('map-Organisation').selectOption('company');
    await expect(page.getByTestId('import-start')).toHaveText('Import 2 rows');
    await expect(page.getByTestId('import-already')).toHaveCount(0);
  });

  test('Choose file… uses the system dialog; cancelling it does nothing; unreadable and malformed files say why', async ({ page, ferry }) => {
    await ferry.open({ contacts: 5, files: { '/tmp/bad.csv': 'name,email\n"Ada,ada@example.com' } });
    await page.getByTestId('open-import').click();
    await page.getByTestId('choose-import-file').click();
    await expect.poll(async () => (await ferry.calls('choose_import_file')).length).toBe(1);
    expect(await ferry.calls('import_preview')).toHaveLength(0);
    await expect(page.getByTestId('import-path')).toHaveValue('');

    await page.getByTestId('import-path').fill('/tmp/missing.csv');
    await page.getByTestId('import-open').click();
    await expect(page.getByTestId('import-error')).toHaveText('Cannot read /tmp/missing.csv: there is no such file.');
    await expect(page.getByTestId('import-path')).toHaveAttribute('aria-invalid', 'true');
    await ferry.shot('import-file-error');

    await page.getByTestId('import-path').fill('/tmp/bad.csv');
    await page.getByTestId('import-open').click();
    await expect(page.getByTestId('import-error')).toContainText('row 1: a quoted cell is not closed');

    await page.evaluate(() => {
      window.ferry.backend.files['/home/alice/chosen.csv'] = 'Name\nVera Dunnart';
      window.ferry.backend.openChoice = '/home/alice/chosen.csv';
    });
    await page.getByTestId('choose-import-file').click();
    await expect(page.getByTestId('map-Name')).toHaveValue('name');
    await expect(page.getByTestId('import-start')).toHaveText('Import 1 row');
  });

  test('from a view that is not a collection, the menu asks which collection first', async ({ page, ferry }) => {
    await ferry.open({ contacts: 5, readOnlyTasks: true, files: { '/tmp/p.csv': CSV } });
    await page.getByTestId('nav-outbox').click();
    await ferry.emit('menu', 'import');
    const pick = page.getByTestId('import-collection');
    await expect(pick).toBeFocused();
    // Only collections one may write to.
    await expect(pick.locator('option:not([disabled])')).toHaveText(['Contacts']);
    await expect(page.getByTestId('import-pick')).toBeDisabled();
    await pick.selectOption('contacts');
    await page.getByTestId('import-pick').click();
    await expect(importDialog(page).getByRole('heading', { level: 2 })).toHaveText('Import into Contacts');
    await expect(page.getByTestId('import-path')).toBeFocused();
  });

  test('from a collection one may only read, the menu says so and asks for another', async ({ page, ferry }) => {
    await ferry.open({ contacts: 5, tasks: 5, readOnlyTasks: true });
    await page.getByTestId('collection-tasks').click();
    await expect(page.getByRole('heading', { name: 'Tasks' })).toBeVisible();
    await expect(page.getByTestId('open-import')).toHaveCount(0);
    await ferry.emit('menu', 'import');
    await expect(page.getByTestId('import-read-only')).toHaveText(
      'You may only read Tasks, so nothing can be imported into it. Choose a collection you can write to.',
    );
    await expect(page.getByTestId('import-collection')).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('import-dialog')).toHaveCount(0);
    // Export works on what one may read.
    await ferry.emit('menu', 'export');
    await expect(page.getByTestId('export-dialog').getByRole('heading', { level: 2 })).toHaveText('Export Tasks');
  });

  test('the menu does nothing while another dialog is open', async ({ page, ferry }) => {
    await ferry.open({ conflicts: true });
    await page.getByTestId('nav-conflicts').click();
    await page.getByTestId('conflict-item').first().click();
    await expect(page.getByTestId('conflict-dialog')).toBeVisible();
    await ferry.emit('menu', 'import');
    await ferry.emit('menu', 'export');
    await page.waitForTimeout(200);
    await expect(page.getByTestId('import-dialog')).toHaveCount(0);
    await expect(page.getByTestId('export-dialog')).toHaveCount(0);
  });
});

test.describe('Export', () => {
  test('this view: its search, filter and sort are sent with the chosen format, to the path the Save dialog gave', async ({ page, ferry }) => {
    await ferry.open({ contacts: 500, saveChoice: '/home/alice/vips.jsonl' });
    await page.getByTestId('search').fill('ada');
    await page.getByTestId('filter-vip').selectOption('true');
    await page.getByTestId('sort-company').click();
    await page.getByTestId('sort-company').click();
    const matches = await page.evaluate(() =>
      window.ferry.backend.count({ collection: 'contacts', search: 'ada', sort: null, descending: false, filters: { vip: true }, offset: 0, limit: 0 }),
    );
    await expect(page.getByTestId('list-count')).toContainText(`${matches} of`);

    await ferry.emit('menu', 'export');
    await expect(exportDialog(page)).toBeVisible();
    // A narrowed view is what is offered first.
    await expect(page.getByTestId('export-scope-view')).toBeChecked();
    await expect(exportDialog(page)).toContainText(`This view (its search, filters and sort: ${matches} ${matches === 1 ? 'record' : 'records'})`);
    await expect(exportDialog(page)).toContainText('The whole collection (500 records)');
    await page.getByTestId('export-format-jsonl').check();
    await ferry.shot('export-dialog');
    await expect(page.getByTestId('export-start')).toHaveText('Export…');
    await page.getByTestId('export-start').click();
    await expect(exportDialog(page)).toHaveCount(0);

    expect((await ferry.calls('choose_export_file')).map((c) => c.args.name)).toEqual(['contacts.jsonl']);
    const sent = await ferry.calls('export_records');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.args).toEqual({
      query: { collection: 'contacts', search: 'ada', sort: 'company', descending: true, filters: { vip: true }, offset: 0, limit: 0 },
      format: 'jsonl',
      path: '/home/alice/vips.jsonl',
    });
    await expect(page.getByRole('status').filter({ hasText: 'Exported' })).toHaveText(`Exported ${matches} ${matches === 1 ? 'record' : 'records'} to /home/alice/vips.jsonl`);
  });

  test('the whole collection, to a typed path, as CSV', async ({ page, ferry }) => {
    await ferry.open({ contacts: 1234 });
    await page.getByTestId('search').fill('ada');
    await expect(page.getByTestId('list-count')).toContainText('of 1,234');
    await page.getByTestId('open-export').click();
    // The view on screen is offered first.
    await expect(page.getByTestId('export-scope-view')).toBeChecked();
    await page.getByTestId('export-scope-all').check();
    // A change arriving meanwhile (a sync, say) recounts the view but keeps the choice.
    await page.evaluate(() => window.ferry.backend.create('contacts', { name: 'Ada Newcomer' }));
    await expect(exportDialog(page)).toContainText('The whole collection (1,235 records)');
    await expect(page.getByTestId('export-scope-all')).toBeChecked();
    await expect(page.getByTestId('export-format-csv')).toBeChecked();
    await page.getByTestId('export-path').fill('/home/alice/all.jsonl');
    // The typed extension follows the format.
    await page.getByTestId('export-format-csv').check();
    await page.getByTestId('export-format-jsonl').check();
    await expect(page.getByTestId('export-path')).toHaveValue('/home/alice/all.jsonl');
    await page.getByTestId('export-format-csv').check();
    await expect(page.getByTestId('export-path')).toHaveValue('/home/alice/all.csv');
    await expect(page.getByTestId('export-start')).toHaveText('Export');
    await page.getByTestId('export-start').click();
    await expect(page.getByRole('status').filter({ hasText: 'Exported' })).toHaveText('Exported 1,235 records to /home/alice/all.csv');
    expect(await ferry.calls('choose_export_file')).toHaveLength(0);
    expect((await ferry.calls('export_records'))[0]!.args).toEqual({
      query: { collection: 'contacts', search: null, sort: null, descending: false, filters: {}, offset: 0, limit: 0 },
      format: 'csv',
      path: '/home/alice/all.csv',
    });
  });

  test('a cancelled Save dialog exports nothing and leaves the dialog open', async ({ page, ferry }) => {
    await ferry.open({ contacts: 20, saveChoice: null });
    await page.getByTestId('open-export').click();
    await page.getByTestId('export-start').click();
    await expect.poll(async () => (await ferry.calls('choose_export_file')).length).toBe(1);
    await expect(exportDialog(page)).toBeVisible();
    await expect(page.getByTestId('export-start')).toBeEnabled();
    expect(await ferry.calls('export_records')).toHaveLength(0);
    await expect(page.getByRole('status').filter({ hasText: 'Exported' })).toHaveCount(0);
    await page.keyboard.press('Escape');
    await expect(exportDialog(page)).toHaveCount(0);
    await expect(page.getByTestId('open-export')).toBeFocused();
  });

  test('a file that cannot be written: the message shows in the dialog', async ({ page, ferry }) => {
    await ferry.open({ contacts: 20 });
    await page.getByTestId('open-export').click();
    await page.getByTestId('export-path').fill('/readonly/contacts.csv');
    await page.getByTestId('export-start').click();
    await expect(page.getByTestId('export-error')).toHaveText('Cannot write /readonly/contacts.csv: permission denied. Choose a folder you can write to.');
    await expect(exportDialog(page)).toBeVisible();
  });

  test('from the conflicts view, the menu asks which collection', async ({ page, ferry }) => {
    await ferry.open({ contacts: 20, tasks: 7, saveChoice: '/tmp/tasks.csv' });
    await page.getByTestId('nav-conflicts').click();
    await ferry.emit('menu', 'export');
    await page.getByTestId('export-collection').selectOption('tasks');
    await page.getByTestId('export-pick').click();
    await expect(page.getByTestId('export-scope-view')).toHaveCount(0);
    await expect(exportDialog(page)).toContainText('The whole collection (7 records)');
    await page.getByTestId('export-start').click();
    await expect(page.getByRole('status').filter({ hasText: 'Exported' })).toHaveText('Exported 7 records to /tmp/tasks.csv');
    expect((await ferry.calls('choose_export_file'))[0]!.args.name).toBe('tasks.csv');
  });
});
