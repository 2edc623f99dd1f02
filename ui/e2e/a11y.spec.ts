// Accessibility: axe-core on every view, in the light and the dark scheme,
// with no serious or critical violation allowed (colour contrast included).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test, expect, rows } from './fixtures';
import type { Page } from '@playwright/test';

const require = createRequire(import.meta.url);
// Evaluated rather than added as a <script>: the app's CSP forbids inline scripts.
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const EDIT_DELETE = '0193a1b2-0000-7000-8000-000000000001';
const DELETE_EDIT = '0193a1b2-0000-7000-8000-000000000002';

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Runs axe on the page (or `scope`) and fails listing each serious or critical violation. */
async function expectAccessible(page: Page, view: string, scope?: string) {
  // Let entry animations settle: axe measures colours as painted.
  await page.waitForTimeout(250);
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const violations: Violation[] = await page.evaluate(async (include) => {
    const axe = (window as any).axe;
    const result = await axe.run(include ? { include: [include] } : document, { resultTypes: ['violations'] });
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n: any) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  }, scope ?? null);
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help}\n` +
      v.nodes.map((n) => `    ${n.target.join(' ')}${n.failureSummary ? `\n      ${n.failureSummary.replace(/\n/g, '\n      ')}` : ''}`).join('\n'),
  );
  expect(report, `axe: serious or critical violations on ${view}`).toEqual([]);
}

for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`axe, ${colorScheme}`, () => {
    test.use({ colorScheme });
    // axe walks the whole page several times per test; on a busy machine that takes a while.
    test.describe.configure({ timeout: 90_000 });

    test('connect screen', async ({ page, ferry }) => {
      await ferry.open({ signedIn: false });
      await expect(page.locator('#server')).toBeVisible();
      // The scheme really is followed.
      expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(colorScheme === 'dark');
      await expectAccessible(page, 'connect screen');
      await page.locator('#server').fill('http://ferry.example.com');
      await expect(page.getByTestId('insecure-server')).toBeVisible();
      await expectAccessible(page, 'connect screen warning of plain http');
      await page.locator('#server').fill('');
      await page.getByTestId('connect').click();
      await expect(page.locator('.field-error').first()).toBeVisible();
      await expectAccessible(page, 'connect screen with errors');
      await page.locator('#server').fill('https://ferry.example.com');
      await page.locator('#username').fill('alice');
      await page.locator('#password').fill('wrong');
      await page.getByTestId('connect').click();
      await expect(page.getByTestId('connect-error')).toBeVisible();
      await expectAccessible(page, 'connect screen with a failed sign-in');
    });

    test('damaged profile screen', async ({ page, ferry }) => {
      await ferry.open({ damaged: 'The local database could not be opened: file is not a database' });
      await expect(page.getByTestId('damaged')).toBeVisible();
      await expectAccessible(page, 'damaged screen');
    });

    test('passphrase screens: choose one, and a wrong one', async ({ page, ferry }) => {
      await ferry.open({ locked: 'choose_passphrase', signedIn: false });
      await expect(page.getByTestId('passphrase-screen')).toBeVisible();
      await expectAccessible(page, 'choose a passphrase');
      await ferry.open({ locked: 'passphrase' });
      await page.locator('#passphrase').fill('not the passphrase');
      await page.getByTestId('unlock').click();
      await expect(page.getByTestId('passphrase-error')).toBeVisible();
      await expectAccessible(page, 'a wrong passphrase');
    });

    test('collection list, editor and history', async ({ page, ferry }) => {
      await ferry.open({ pending: true, conflicts: true, rejected: true });
      await expect(rows(page).first()).toBeVisible();
      await expectAccessible(page, 'collection list');
      await rows(page).nth(3).click();
      await expect(page.getByTestId('editor')).toBeVisible();
      await expect(page.getByTestId('history-entry').first()).toBeVisible();
      await expectAccessible(page, 'record editor with history');
      await page.getByTestId('editor').locator('[data-field="email"]').fill('not an email');
      await page.getByTestId('save').click();
      await expectAccessible(page, 'record editor with an invalid field');
    });

    test('delete confirmation, undo toast, and a new task', async ({ page, ferry }) => {
      await ferry.open({ pending: true });
      await expect(rows(page).first()).toBeVisible();
      await rows(page).first().click();
      await expect(page.getByTestId('editor')).toBeVisible();
      await page.getByTestId('delete').click();
      await expect(page.getByRole('alertdialog')).toBeVisible();
      await expectAccessible(page, 'delete confirmation');
      await page.getByTestId('confirm-delete').click();
      await expect(page.getByTestId('undo')).toBeVisible();
      await expectAccessible(page, 'undo toast');
      // A new record, and the tasks collection with its other field types.
      await page.getByTestId('collection-tasks').click();
      await expect(rows(page).first()).toBeVisible();
      await expectAccessible(page, 'tasks list');
      await page.getByTestId('new-record').click();
      await expectAccessible(page, 'new task');
    });

    test('unsaved changes and quit dialogs', async ({ page, ferry }) => {
      await ferry.open({ pending: true });
      await expect(rows(page).first()).toBeVisible();
      await rows(page).first().click();
      await page.getByTestId('editor').locator('[data-field="company"]').fill('Changed');
      await rows(page).nth(1).click();
      await expect(page.getByRole('alertdialog')).toBeVisible();
      await expectAccessible(page, 'discard dialog');
      await page.keyboard.press('Escape');
      await page.getByTestId('sign-out').click();
      await expect(page.getByTestId('signout-dialog')).toBeVisible();
      await expectAccessible(page, 'sign-out dialog');
      await page.keyboard.press('Escape');
      await ferry.emit('quit-requested', { outbox: 4 });
      await expect(page.getByTestId('quit-dialog')).toBeVisible();
      await expectAccessible(page, 'quit dialog');
    });

    test('outbox, conflicts view and status', async ({ page, ferry }) => {
      await ferry.open({ pending: true, conflicts: true, connection: { state: 'offline', reason: 'No network', by_choice: false } });
      await page.getByTestId('nav-outbox').click();
      await expect(page.getByTestId('outbox-entry').first()).toBeVisible();
      await expectAccessible(page, 'outbox');
      // The sidebar entry shows the conflicts list (it no longer opens the first conflict).
      await page.getByTestId('nav-conflicts').click();
      await expect(page.getByTestId('conflict-item').first()).toBeVisible();
      await expectAccessible(page, 'conflicts view');
    });

    test('conflict dialogs: edit/edit, edit/delete, delete/edit', async ({ page, ferry }) => {
      await ferry.open({ conflicts: true });
      await page.getByTestId('nav-conflicts').click();
      await page.getByTestId('conflict-item').first().click();
      const d = page.getByTestId('conflict-dialog');
      await expect(d).toBeVisible();
      await expectAccessible(page, 'edit/edit conflict');
      await page.getByTestId('resolve').click();
      await expect(d.getByRole('alert').first()).toBeVisible();
      await page.getByTestId('choose-mine-email').click();
      await page.getByTestId('choose-edit-notes').click();
      await expectAccessible(page, 'edit/edit conflict with choices and errors');
      await page.keyboard.press('Escape');
      await page.locator(`[data-testid=conflict-item][data-id="${EDIT_DELETE}"]`).click();
      await expect(d).toContainText('bob deleted it');
      await expectAccessible(page, 'edit/delete conflict');
      await page.keyboard.press('Escape');
      await page.locator(`[data-testid=conflict-item][data-id="${DELETE_EDIT}"]`).click();
      await expect(d).toContainText('bob changed it');
      await expectAccessible(page, 'delete/edit conflict');
    });

    test('settings', async ({ page, ferry }) => {
      await ferry.open();
      await page.getByTestId('open-settings').click();
      await expect(page.getByTestId('settings-version')).toBeVisible();
      await expectAccessible(page, 'settings');
      await ferry.shot(`settings-${colorScheme}`);
    });

    test('many records selected: the toolbar and its dialogs', async ({ page, ferry }) => {
      await ferry.open({ contacts: 50 });
      await page.locator('[data-testid=row][data-index="1"]').click();
      await page.locator('[data-testid=row][data-index="4"]').click({ modifiers: ['Shift'] });
      await expect(page.getByTestId('bulk-bar')).toBeVisible();
      await expectAccessible(page, 'list with four records selected');
      await ferry.shot(`bulk-bar-${colorScheme}`);
      await page.getByTestId('bulk-set').click();
      await page.getByTestId('bulk-field').selectOption('name');
      await page.getByTestId('bulk-apply').click();
      await expect(page.getByTestId('bulk-dialog')).toContainText('Required');
      await expectAccessible(page, 'set a field on many, with a message');
      await page.keyboard.press('Escape');
      await page.getByTestId('bulk-add-tag').click();
      await expectAccessible(page, 'add a tag to many');
      await page.keyboard.press('Escape');
      await page.getByTestId('bulk-delete').click();
      await expectAccessible(page, 'delete many: confirmation');
    });

    test('import and export dialogs', async ({ page, ferry }) => {
      const csv = ['Name,Email,Organisation,VIP', 'Zelda Quokka,z@example.com,Acme,yes', ',n@example.com,Nowhere,yes', 'Xavier Numbat,x@example.com,Bletchley,maybe'];
      for (let i = 0; i < 30; i++) csv.push(`Bulk ${i},b${i}@example.com,Acme,no`);
      await ferry.open({ contacts: 50, files: { '/tmp/a.csv': csv.join('\n') }, importBatch: 10, importDelayMs: 1500 });
      await expect(rows(page).first()).toBeVisible();
      await ferry.emit('menu', 'import');
      await expect(page.getByTestId('import-dialog')).toBeVisible();
      await page.getByTestId('import-path').fill('/tmp/missing.csv');
      await page.getByTestId('import-open').click();
      await expect(page.getByTestId('import-error')).toBeVisible();
      await expectAccessible(page, 'import dialog, file step with an error');
      await page.getByTestId('import-path').fill('/tmp/a.csv');
      await page.getByTestId('import-open').click();
      await expect(page.getByTestId('import-problems')).toBeVisible();
      await page.getByTestId('import-mode-update').check();
      await expect(page.getByTestId('import-key')).toBeEnabled();
      await expectAccessible(page, 'import preview, update mode, problem rows');
      await ferry.shot(`import-preview-update-${colorScheme}`);
      await page.getByTestId('map-Name').selectOption('');
      await expect(page.getByTestId('import-blocker')).toBeVisible();
      await expectAccessible(page, 'import preview with the button off and its reason');
      await page.getByTestId('map-Name').selectOption('name');
      await page.getByTestId('import-mode-create').check();
      await expect(page.getByTestId('import-blocker')).toHaveCount(0);
      await page.getByTestId('import-start').click();
      await expect(page.getByRole('progressbar')).toBeVisible();
      await expectAccessible(page, 'import running');
      await page.getByTestId('cancel-import').click();
      await expect(page.getByTestId('import-result')).toBeVisible();
      await page.getByTestId('import-show-problems').click();
      await expectAccessible(page, 'import cancelled, rows left out shown');
      await page.getByTestId('import-close').click();

      await page.getByTestId('search').fill('a');
      await page.getByTestId('open-export').click();
      await expect(page.getByTestId('export-scope-view')).toBeChecked();
      await page.getByTestId('export-path').fill('/readonly/x.csv');
      await page.getByTestId('export-start').click();
      await expect(page.getByTestId('export-error')).toBeVisible();
      await expectAccessible(page, 'export dialog with an error');
      await page.keyboard.press('Escape');
      await page.getByTestId('nav-outbox').click();
      await ferry.emit('menu', 'export');
      await expect(page.getByTestId('export-collection')).toBeVisible();
      // Scoped: the empty Outbox behind it is checked by its own test.
      await expectAccessible(page, 'export dialog asking which collection', '[data-testid=export-dialog]');
    });

    test('conflict dialog: a text merged part by part', async ({ page, ferry }) => {
      await ferry.open({ textConflict: true });
      await page.getByTestId('nav-conflicts').click();
      await page.getByTestId('conflict-item').first().click();
      const d = page.getByTestId('conflict-dialog');
      await expect(d.getByRole('group', { name: 'Clashing part 1 of 2' })).toBeVisible();
      await expectAccessible(page, 'text conflict');
      await page.getByTestId('resolve').click();
      await expectAccessible(page, 'text conflict with errors');
      await page.getByTestId('part-notes-1-theirs').click();
      await expectAccessible(page, 'text conflict, one part chosen');
    });

    test('a record that left my view: its dialog and steps', async ({ page, ferry }) => {
      await ferry.open({ lostAccess: true, contacts: 50, saveChoice: '/readonly/edits.json' });
      await page.getByTestId('nav-conflicts').click();
      await expectAccessible(page, 'conflicts view with a lost record');
      await page.getByTestId('conflict-item').first().click();
      await expect(page.getByTestId('lost-access-dialog')).toBeVisible();
      await expectAccessible(page, 'lost access dialog');
      await page.getByTestId('lost-export').click();
      await expect(page.getByTestId('lost-access-dialog').getByRole('alert')).toBeVisible();
      await expectAccessible(page, 'lost access dialog with an error');
      await page.getByTestId('lost-copy').click();
      await expect(page.getByTestId('copy-step')).toBeVisible();
      await expectAccessible(page, 'lost access: copy step');
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByTestId('lost-discard').click();
      await expectAccessible(page, 'lost access: discard step');
    });
  });
}
