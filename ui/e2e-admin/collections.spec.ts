// The Collections editor and Activity's record changes against a real
// ferry-server (see server.ts), with the real command-line client as a
// device: a field added in the console reaches it, a rename rewrites the
// records it pulls, and what cannot be done says why before anything is sent.
import type { Page } from '@playwright/test';
import { test, expect, signIn, open, expectAccessible, screenshot } from './fixtures';
import { cliDevice, type CliDevice, type CliRecord } from './cli';
import type { FieldUsage, MigrationsResponse } from '../admin/types';

const CSRF = { 'X-Ferry-CSRF': '1' };

/** The server's count of the live tasks holding a value for `field` (the console's session). */
async function usage(page: Page, collection: string, field: string): Promise<FieldUsage> {
  const res = await page.request.get(`/v1/admin/collections/${collection}/fields/${field}/usage`, { headers: CSRF });
  expect(res.status()).toBe(200);
  return (await res.json()) as FieldUsage;
}

const section = (page: Page, name: string) => page.locator(`section[data-collection="${name}"]`);
const row = (page: Page, collection: string, field: string) => section(page, collection).locator(`tr[data-field="${field}"]`);
/** "2,314" as the page writes it (en-GB). */
const n = (x: number) => x.toLocaleString('en-GB');

test.describe('collections, step by step', () => {
  test.describe.configure({ mode: 'serial' });

  // alice's device (the real CLI), made by the first test that needs it.
  let alice: CliDevice | null = null;
  const device = async (url: string) => (alice ??= await cliDevice(url, 'alice', 'demo'));
  test.afterAll(async () => {
    await alice?.remove();
  });

  test('(a) a field added in the console reaches a device: the CLI then takes a value for it', async ({ page, ferry }) => {
    const alice = await device(ferry.url);
    await alice.ok(['sync']);
    // Before: the device does not know the field.
    const before = await alice.run(['create', 'tasks', 'title=Fix the gate', 'place=Here']);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toContain('has no field "place"');

    await signIn(page);
    await open(page, 'collections', 'Collections');
    const tasks = section(page, 'tasks');
    const save = tasks.getByTestId('save-collection');
    // Nothing changed: nothing to send.
    await expect(save).toBeDisabled();

    const form = tasks.getByTestId('new-field-form');
    // Checked inline before anything is sent.
    await form.getByLabel('Name').fill('Place!');
    await form.getByTestId('add-field').click();
    await expect(form.getByText('A field name starts with a lowercase letter (a–z).')).toBeVisible();
    await expect(form.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
    await form.getByLabel('Name').fill('status');
    await expect(form.getByText('There is already a field “status”.')).toBeVisible();

    await form.getByLabel('Name').fill('place');
    await expect(form.getByLabel('Label')).toHaveValue('Place');
    await form.getByLabel('Type').selectOption('text');
    await form.getByTestId('add-field').click();
    // Focus goes back to the name, ready for another field.
    await expect(form.getByLabel('Name')).toBeFocused();
    await expect(row(page, 'tasks', 'place')).toContainText('New');
    await expect(tasks.getByTestId('edit-summary')).toContainText('New field Place (place, text)');

    let puts = 0;
    page.on('request', (r) => {
      if (r.method() === 'PUT' && r.url().endsWith('/v1/admin/collections/tasks')) puts++;
    });
    await save.click();
    await expect(page.getByText('Saved the changes to Tasks')).toBeVisible();
    await expect(row(page, 'tasks', 'place')).not.toContainText('New');
    await expect(save).toBeDisabled();
    expect(puts).toBe(1);
    // It holds on the server.
    await page.reload();
    await expect(row(page, 'tasks', 'place')).toBeVisible();

    // The device takes it up at its next sync, and a value for it goes to the server.
    await alice.ok(['sync']);
    const { id } = await alice.json<{ id: string }>(['create', 'tasks', 'title=Fix the gate', 'place=Here']);
    const shown = await alice.json<CliRecord>(['show', 'tasks', id]);
    expect(shown.fields.place).toBe('Here');
    await alice.ok(['sync']);
    const res = await page.request.get(`/v1/admin/records/tasks/${id}/history`, { headers: CSRF });
    expect(res.status()).toBe(200);
    const history = (await res.json()) as { versions: { fields: Record<string, unknown>; updated_by: string }[] };
    expect(history.versions[0]).toMatchObject({ fields: { place: 'Here', title: 'Fix the gate' }, updated_by: 'alice' });
  });

  test('a field moves by keyboard and a label changes; saved once, kept after a reload', async ({ page }) => {
    await signIn(page);
    await open(page, 'collections', 'Collections');
    const tasks = section(page, 'tasks');
    const names = () => tasks.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-field')));
    await expect(row(page, 'tasks', 'priority')).toBeVisible();
    const order = await names();
    const at = order.indexOf('priority');

    await row(page, 'tasks', 'priority').getByRole('button', { name: 'Move Priority up' }).focus();
    await page.keyboard.press('Enter');
    // Focus stays on the moved field's button, so Enter again moves it again.
    await expect(row(page, 'tasks', 'priority').getByRole('button', { name: 'Move Priority up' })).toBeFocused();
    await page.keyboard.press('Enter');
    const moved = [...order];
    moved.splice(at, 1);
    moved.splice(at - 2, 0, 'priority');
    await expect.poll(names).toEqual(moved);
    await expect(tasks.getByRole('status').filter({ hasText: 'Priority moved to position' })).toHaveText(`Priority moved to position ${at - 1} of ${order.length}.`);

    await row(page, 'tasks', 'due').getByLabel('Label of due').fill('');
    await expect(tasks.getByTestId('save-collection')).toBeDisabled();
    await expect(row(page, 'tasks', 'due')).toContainText('Enter a label.');
    await row(page, 'tasks', 'due').getByLabel('Label of due').fill('Due by');
    await expect(tasks.getByTestId('edit-summary')).toContainText('Order of the fields');
    await expect(tasks.getByTestId('edit-summary')).toContainText('Due: label “Due by”');
    await tasks.getByTestId('save-collection').click();
    await expect(tasks.getByTestId('save-collection')).toBeDisabled();
    await page.reload();
    await expect(row(page, 'tasks', 'due')).toBeVisible();
    await expect.poll(names).toEqual(moved);
    await expect(row(page, 'tasks', 'due').getByLabel('Label of due')).toHaveValue('Due by');
  });

  test('how much history tasks keep: checked inline, said in words, saved and kept', async ({ page }) => {
    await signIn(page);
    await open(page, 'collections', 'Collections');
    const tasks = section(page, 'tasks');
    const words = tasks.getByTestId('history-words');
    await expect(words).toContainText('Keeps every version; deleted records are kept');
    const forget = tasks.getByLabel('Forget deleted records after (days)');
    await forget.fill('ninety');
    await expect(forget).toHaveAttribute('aria-invalid', 'true');
    await expect(tasks.getByText('Enter a whole number, or leave it empty.')).toBeVisible();
    await expect(tasks.getByTestId('save-collection')).toBeDisabled();
    await forget.fill('90');
    await tasks.getByLabel('Latest versions of each record').fill('20');
    await expect(words).toContainText('Keeps the latest 20 versions of each record; deleted records are forgotten 90 days after deletion');
    await expect(tasks.getByTestId('edit-summary')).toContainText('History: keeps the latest 20 versions');
    await expectAccessible(page, 'collections history');
    await tasks.getByTestId('history-words').scrollIntoViewIfNeeded();
    await screenshot(page, 'collections-history');
    await tasks.getByTestId('save-collection').click();
    await expect(tasks.getByTestId('save-collection')).toBeDisabled();
    const res = await page.request.get('/v1/admin/collections', { headers: CSRF });
    const spec = ((await res.json()) as { collections: { name: string; history?: unknown }[] }).collections.find((c) => c.name === 'tasks');
    expect(spec?.history).toEqual({ versions: 20, tombstone_days: 90 });
    await page.reload();
    await expect(section(page, 'tasks').getByLabel('Forget deleted records after (days)')).toHaveValue('90');
    // Back to everything: the limits emptied.
    await section(page, 'tasks').getByLabel('Forget deleted records after (days)').fill('');
    await section(page, 'tasks').getByLabel('Latest versions of each record').fill('');
    await expect(section(page, 'tasks').getByTestId('history-words')).toContainText('Keeps every version');
    await section(page, 'tasks').getByTestId('save-collection').click();
    await expect(section(page, 'tasks').getByTestId('save-collection')).toBeDisabled();
    const after = await page.request.get('/v1/admin/collections', { headers: CSRF });
    const kept = ((await after.json()) as { collections: { name: string; history?: unknown }[] }).collections.find((c) => c.name === 'tasks');
    expect(kept?.history ?? {}).toEqual({});
  });

  test('(b) making Due required is blocked, with the records in the way counted, before anything is sent', async ({ page }) => {
    await signIn(page);
    const due = await usage(page, 'tasks', 'due');
    const missing = due.live - due.with_value;
    expect(missing, 'the demo holds tasks without a due date').toBeGreaterThan(0);
    await open(page, 'collections', 'Collections');
    const tasks = section(page, 'tasks');
    await row(page, 'tasks', 'due').getByTestId('field-required').check();
    await expect(row(page, 'tasks', 'due').getByTestId('required-note')).toHaveText(
      `${n(missing)} of ${n(due.live)} records have no value — they must get one first.`,
    );
    await expect(tasks.getByTestId('save-collection')).toBeDisabled();
    await expect(tasks.getByTestId('save-blocked')).toContainText(`${n(missing)} of ${n(due.live)} records have no value`);
    // The checkbox says why, for screen readers too.
    const described = await row(page, 'tasks', 'due').getByTestId('field-required').getAttribute('aria-describedby');
    expect(described).toBeTruthy();
    // A choice option records hold cannot be dropped either.
    const status = await usage(page, 'tasks', 'status');
    const done = status.options.find((o) => o.value === 'done')!;
    await row(page, 'tasks', 'status').getByRole('button', { name: 'Drop option “done” of Status' }).click();
    await expect(row(page, 'tasks', 'status').getByTestId('option-note')).toHaveText(
      `${n(done.records)} records hold “done” — change them first, or keep the option.`,
    );
    await tasks.getByTestId('discard-changes').click();
    await expect(row(page, 'tasks', 'due').getByTestId('field-required')).not.toBeChecked();
    await expect(tasks.getByTestId('save-collection')).toBeDisabled();
  });

  test('(c) renaming Assignee to owner: the dry run counts, the progress bar reaches done, and the device sees owner', async ({ page, ferry }) => {
    const alice = await device(ferry.url);
    await alice.ok(['sync']);
    await signIn(page);
    const assignee = await usage(page, 'tasks', 'assignee');
    expect(assignee.with_value).toBeGreaterThan(0);
    await open(page, 'collections', 'Collections');
    const tasks = section(page, 'tasks');

    await row(page, 'tasks', 'assignee').getByTestId('rename-field').click();
    const dialog = page.getByTestId('migration-dialog');
    await expect(dialog).toContainText('the old version stays in its history');
    await expect(dialog.getByLabel('New name')).toBeFocused();
    await dialog.getByLabel('New name').fill('title');
    await expect(dialog).toContainText('There is already a field “title”.');
    await expect(dialog.getByTestId('confirm-migration')).toBeDisabled();
    await dialog.getByLabel('New name').fill('owner');
    await expect(dialog.getByTestId('migration-rewrites')).toHaveText(`Rewrites ${n(assignee.with_value)} records.`);

    // The server's progress is held at half way for a moment: the console shows it, and no second migration can start.
    let hold = true;
    await page.route('**/v1/admin/migrations', async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as MigrationsResponse;
      if (hold) body.migrations = body.migrations.map((m) => ({ ...m, state: 'running', done: Math.floor(m.total / 2), finished_at: undefined }));
      await route.fulfill({ status: res.status(), contentType: 'application/json', body: JSON.stringify(body) });
    });
    await dialog.getByTestId('confirm-migration').click();
    await expect(dialog).toHaveCount(0);
    const progress = tasks.getByTestId('migration-progress');
    await expect(progress).toBeVisible();
    await expect(tasks.getByTestId('migration')).toBeFocused();
    const total = Number(await progress.getAttribute('aria-valuemax'));
    expect(total).toBe(assignee.live);
    await expect(progress).toHaveAttribute('aria-valuenow', String(Math.floor(total / 2)));
    await expect(tasks.getByTestId('rename-field').first()).toBeDisabled();
    await expect(tasks.getByTestId('remove-field').first()).toBeDisabled();
    await expect(tasks.getByTestId('save-collection')).toBeDisabled();
    await screenshot(page, 'collections-migration');
    hold = false;
    await expect(tasks.getByTestId('migration')).toHaveAttribute('data-state', 'done');
    await expect(progress).toHaveAttribute('aria-valuenow', String(total));
    await expect(progress).toHaveAttribute('aria-valuemax', String(total));
    await expect(tasks.getByTestId('migration-state')).toHaveText('Done. The definition below is the new one.');
    await page.unroute('**/v1/admin/migrations');
    // The collection is read again: the field is listed under its new name, its label kept.
    await expect(row(page, 'tasks', 'owner')).toBeVisible();
    await expect(row(page, 'tasks', 'owner').getByLabel('Label of owner')).toHaveValue('Assignee');
    await expect(row(page, 'tasks', 'assignee')).toHaveCount(0);
    await expect(tasks.getByTestId('rename-field').first()).toBeEnabled();

    // The device pulls the new versions: owner holds the values, assignee is gone.
    await alice.ok(['sync']);
    const { records } = await alice.json<{ records: CliRecord[] }>(['ls', 'tasks', '--limit', '1000']);
    expect(records.filter((r) => 'assignee' in r.fields)).toEqual([]);
    expect(records.filter((r) => typeof r.fields.owner === 'string').length).toBe(assignee.with_value);
  });

  test('(d) Title to a number: the records that would not convert are listed, and it cannot be confirmed', async ({ page }) => {
    await signIn(page);
    const title = await usage(page, 'tasks', 'title');
    await open(page, 'collections', 'Collections');
    await row(page, 'tasks', 'title').getByTestId('change-type').click();
    const dialog = page.getByTestId('migration-dialog');
    await expect(dialog.getByLabel(/New type/)).toBeFocused();
    // Only what converts is offered: from text, long text, a number, a date or tags.
    const offered = await dialog.getByLabel(/New type/).locator('option:not([disabled])').allTextContents();
    expect(offered).toEqual(['Long text', 'Number', 'Date', 'Tags']);
    await dialog.getByLabel(/New type/).selectOption('number');
    await expect(dialog.getByTestId('migration-unconvertible')).toContainText(`${n(title.with_value)} records would not convert`);
    const table = dialog.getByTestId('unconvertible-table');
    await expect(table.locator('tbody tr')).toHaveCount(Math.min(50, title.with_value));
    // Each row: the record's title, and the value that would not convert (here the title itself).
    const first = table.locator('tbody tr').first();
    const [recordTitle, value] = await Promise.all([first.locator('th').textContent(), first.locator('td').textContent()]);
    expect(recordTitle).toBeTruthy();
    expect(value).toBe(recordTitle);
    await expect(dialog.getByTestId('confirm-migration')).toBeDisabled();
    // Tags do: each title becomes one tag, so every record is rewritten.
    await dialog.getByLabel(/New type/).selectOption('tags');
    await expect(dialog.getByTestId('migration-rewrites')).toHaveText(`Rewrites ${n(title.with_value)} records.`);
    await expect(dialog.getByTestId('migration-unconvertible')).toHaveCount(0);
    await expect(dialog.getByTestId('confirm-migration')).toBeEnabled();
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);
    await expect(row(page, 'tasks', 'title')).toContainText('Text');
  });

  test('removing a field says how many records hold a value and that history keeps it', async ({ page }) => {
    await signIn(page);
    const notes = await usage(page, 'tasks', 'notes');
    await open(page, 'collections', 'Collections');
    await row(page, 'tasks', 'notes').getByTestId('remove-field').click();
    const dialog = page.getByTestId('migration-dialog');
    await expect(dialog).toContainText(`${n(notes.with_value)} records of ${n(notes.live)} hold a value; it stays in each record's history.`);
    await expect(dialog.getByTestId('migration-rewrites')).toHaveText(`Rewrites ${n(notes.with_value)} records.`);
    // The safe choice has the focus.
    await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(row(page, 'tasks', 'notes')).toBeVisible();
  });

  test('a new collection: checked inline, then created with its fields', async ({ page }) => {
    await signIn(page);
    await open(page, 'collections', 'Collections');
    await page.getByTestId('new-collection').click();
    const dialog = page.getByTestId('new-collection-dialog');
    await dialog.getByTestId('new-collection-name').fill('tasks');
    await dialog.getByTestId('create-collection').click();
    await expect(dialog).toContainText('There is already a collection “tasks”.');
    await expect(dialog).toContainText('Add at least one field.');
    await dialog.getByTestId('new-collection-name').fill('site_visits');
    await expect(dialog.getByTestId('new-collection-label')).toHaveValue('Site visits');
    const form = dialog.getByTestId('new-collection-field-form');
    await form.getByLabel('Name').fill('place');
    await form.getByLabel('Required').check();
    await form.getByTestId('add-field').click();
    await form.getByLabel('Name').fill('kind');
    await form.getByLabel('Type').selectOption('choice');
    await form.getByTestId('add-field').click();
    await expect(form).toContainText('Enter the options, separated by commas.');
    await form.getByLabel('Options').fill('call, visit, visit');
    await form.getByTestId('add-field').click();
    await expect(dialog.getByTestId('new-collection-fields').locator('tbody tr')).toHaveCount(2);
    await expect(dialog.getByTestId('new-collection-title')).toHaveValue('place');
    await dialog.getByTestId('create-collection').click();
    await expect(dialog).toHaveCount(0);
    const visits = section(page, 'site_visits');
    await expect(visits.getByRole('heading', { name: 'Site visits' })).toBeFocused();
    await expect(visits.locator('tbody tr')).toHaveCount(2);
    await expect(row(page, 'site_visits', 'kind').locator('[data-option]')).toHaveText(['call', 'visit']);
    await expect(row(page, 'site_visits', 'place').getByTestId('field-required')).toBeChecked();
  });

  test('(e) Activity lists the rename’s versions by ann, and a record’s history shows what changed', async ({ page }) => {
    await signIn(page);
    await open(page, 'activity', 'Activity');
    await page.getByTestId('activity-tab-audit').focus();
    await page.keyboard.press('ArrowRight');
    await expect(page.getByTestId('activity-tab-changes')).toBeFocused();
    await expect(page.getByTestId('activity-tab-changes')).toHaveAttribute('aria-selected', 'true');
    const table = page.getByTestId('changes-table');
    await expect(table).toBeVisible();

    const rows = table.locator('tbody tr');
    const writers = () => rows.evaluateAll((rs) => [...new Set(rs.map((r) => `${r.getAttribute('data-user')} ${r.getAttribute('data-collection')}`))]);
    // The newest writes are the rename's; the filters ask the server for others.
    await expect(rows.first()).toHaveAttribute('data-user', 'ann');
    await page.getByLabel('Collection').selectOption('tasks');
    await page.getByLabel('Written by').fill('alice');
    await page.getByTestId('changes-search').click();
    await expect.poll(writers).toEqual(['alice tasks']);

    await page.getByLabel('Written by').fill('ann');
    await page.getByTestId('changes-search').click();
    await expect(rows.first()).toHaveAttribute('data-user', 'ann');
    await expect(rows).toHaveCount(50);
    expect(new Set(await rows.evaluateAll((rs) => rs.map((r) => `${r.getAttribute('data-user')} ${r.getAttribute('data-collection')}`)))).toEqual(
      new Set(['ann tasks']),
    );
    // Every task with an assignee got a version; more than a page of them.
    await page.getByTestId('changes-older').click();
    await expect(page.getByTestId('changes-newer')).toBeEnabled();
    await expect(rows.first()).toHaveAttribute('data-user', 'ann');
    await page.getByTestId('changes-newer').click();

    const first = rows.first();
    const version = Number(await first.getAttribute('data-version'));
    expect(version).toBeGreaterThanOrEqual(2);
    await first.getByTestId('open-history').click();
    const dialog = page.getByTestId('history-dialog');
    await expect(dialog.getByRole('button', { name: 'Close' })).toBeFocused();
    const newest = dialog.getByTestId('history-version').first();
    await expect(newest).toHaveAttribute('data-by', 'ann');
    await expect(newest).toContainText(`v${version}`);
    await expect(newest).toContainText('Changed by ann');
    // The rename: the value left "assignee" and is now under owner (labelled Assignee).
    const changes = newest.locator('li');
    await expect(changes).toHaveCount(2);
    const gone = changes.filter({ has: page.locator('.label', { hasText: /^assignee$/ }) });
    const now = changes.filter({ has: page.locator('.label', { hasText: /^Assignee$/ }) });
    const oldValue = (await gone.locator('.before').textContent())!;
    expect(oldValue).toMatch(/^(alice|bob|carol)$/);
    await expect(gone.locator('.after')).toHaveText('(empty)');
    await expect(now.locator('.after')).toHaveText(oldValue);
    await expect(dialog.getByTestId('history-version').last()).toContainText('Created by');
    await screenshot(page, 'activity-changes');
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);
    await expect(first.getByTestId('open-history')).toBeFocused();
  });
});

for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`axe, collections and record changes, ${colorScheme}`, () => {
    test.use({ colorScheme });
    test.describe.configure({ timeout: 120_000 });
    const shot = (name: string) => (colorScheme === 'light' ? name : `${name}-dark`);

    test('the editor with changes pending, its dialogs, and record changes with a history open', async ({ page }) => {
      await signIn(page);
      await open(page, 'collections', 'Collections');
      const tasks = section(page, 'tasks');
      // Pending changes, a blocked one among them, and a new field.
      await tasks.getByLabel('Label', { exact: true }).first().fill('Tasks and chores');
      await row(page, 'tasks', 'due').getByTestId('field-required').check();
      await expect(row(page, 'tasks', 'due').getByTestId('required-note')).toBeVisible();
      const form = tasks.getByTestId('new-field-form');
      await form.getByLabel('Name').fill('room');
      await form.getByTestId('add-field').click();
      await expect(row(page, 'tasks', 'room')).toBeVisible();
      await row(page, 'tasks', 'status').getByLabel('New option of Status').fill('waiting');
      await row(page, 'tasks', 'status').getByRole('button', { name: 'Add option to Status' }).click();
      await tasks.scrollIntoViewIfNeeded();
      await expectAccessible(page, 'collections editor with pending changes');
      await screenshot(page, shot('collections-editor'));
      await tasks.getByTestId('discard-changes').click();

      await row(page, 'tasks', 'title').getByTestId('change-type').click();
      await page.getByTestId('migration-dialog').getByLabel(/New type/).selectOption('number');
      await expect(page.getByTestId('unconvertible-table')).toBeVisible();
      await expectAccessible(page, 'collections, change type dialog');
      await screenshot(page, shot('collections-dialog'));
      await page.keyboard.press('Escape');

      await page.getByTestId('new-collection').click();
      await page.getByTestId('create-collection').click();
      await expect(page.getByTestId('new-collection-dialog')).toContainText('Enter a collection name.');
      await expectAccessible(page, 'collections, new collection dialog');
      await page.keyboard.press('Escape');

      await open(page, 'activity', 'Activity');
      await page.getByTestId('activity-tab-changes').click();
      await expect(page.getByTestId('changes-table')).toBeVisible();
      await expectAccessible(page, 'activity, record changes');
      await screenshot(page, shot('activity-record-changes'));
      await page.getByTestId('changes-table').getByTestId('open-history').first().click();
      await expect(page.getByTestId('history-version').first()).toBeVisible();
      await expectAccessible(page, 'activity, a record history');
    });
  });
}
