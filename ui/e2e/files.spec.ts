// File fields in the editor, against the mocked shell: attach by picking,
// states from waiting to sent, remove, a refused file at the field, and
// lists that show a name or a count (never a thumbnail per row).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test, expect, rows } from './fixtures';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

test.describe('Files', () => {
  test('attaches picked files, sends them with the next sync, removes one', async ({ page, ferry }) => {
    await ferry.open({ withFiles: true, attachPaths: ['/home/alice/site.jpg', '/home/alice/plan.pdf'] });
    await page.getByTestId('collection-tasks').click();
    await rows(page).first().click();
    const field = page.locator('[data-file-field="attachments"]');
    await expect(field).toContainText('No files');
    await field.getByRole('button', { name: 'Attach files…' }).click();
    const files = field.locator('li');
    await expect(files).toHaveCount(2);
    await expect(files.first()).toContainText('site.jpg');
    await expect(files.first()).toContainText('Waiting to send');
    await expect(page.getByTestId('record-state')).toHaveText('Not sent yet');
    const attach = (await ferry.calls('attach_files')).at(-1)!.args as { field: string; paths: string[] };
    expect(attach).toMatchObject({ field: 'attachments', paths: ['/home/alice/site.jpg', '/home/alice/plan.pdf'] });
    await ferry.shot('files-editor');
    // The outbox says what waits, with sizes.
    await page.getByTestId('nav-outbox').click();
    await expect(page.getByTestId('outbox-files')).toContainText('2 files waiting to send (17.0 kB)');
    await page.getByTestId('collection-tasks').click();
    await rows(page).first().click();

    await page.getByTestId('sync-now').click();
    await expect(files.first()).toContainText('Sent');

    await files.nth(1).getByRole('button', { name: 'Remove plan.pdf' }).click();
    await expect(files).toHaveCount(1);
    await files.first().getByRole('button', { name: 'Open site.jpg' }).click();
    await expect.poll(async () => (await ferry.calls('open_file')).at(-1)?.args).toMatchObject({ name: 'site.jpg' });

    // Accessible: axe finds nothing serious in the editor with files.
    await page.evaluate(AXE);
    const bad = await page.evaluate(async () => {
      const r = await (window as any).axe.run({ include: ['[data-testid=editor]'] }, { resultTypes: ['violations'] });
      return r.violations.filter((v: any) => v.impact === 'serious' || v.impact === 'critical').map((v: any) => v.id);
    });
    expect(bad).toEqual([]);
  });

  test('a file the server refuses says why, holds its change back, and goes when tried again', async ({ page, ferry }) => {
    await ferry.open({
      withFiles: true,
      attachPaths: ['/home/alice/site.jpg', '/home/alice/survey-scan.pdf'],
      serverFileLimit: 10_000,
    });
    await page.getByTestId('collection-tasks').click();
    await rows(page).first().click();
    const field = page.locator('[data-file-field="attachments"]');
    await field.getByRole('button', { name: 'Attach files…' }).click();
    const files = field.locator('li');
    await page.getByTestId('sync-now').click();
    await expect(files.first()).toContainText('Sent');
    await expect(files.nth(1)).toContainText('Failed: a file may be at most 10000 bytes. Ferry tries again after');
    await expect(page.getByTestId('record-state')).toHaveText('Not sent yet');
    await page.getByTestId('nav-outbox').click();
    await expect(page.getByTestId('outbox-file-failed')).toContainText('could not be sent: a file may be at most 10000 bytes');
    await expect(page.getByTestId('outbox-entry')).toHaveCount(1);
    await ferry.shot('files-refused');
    // The administrator raises the limit; the user need not wait the hour.
    await page.evaluate(() => ((window as any).ferry.backend.serverFileLimit = null));
    await page.getByTestId('outbox-retry-files').click();
    await expect.poll(async () => (await ferry.calls('retry_files')).length).toBe(1);
    await expect(page.getByText('Everything is sent')).toBeVisible();
    await expect(page.getByTestId('outbox-file-failed')).toHaveCount(0);
  });

  test('a file the field does not take is refused at the field', async ({ page, ferry }) => {
    await ferry.open({ withFiles: true, attachPaths: ['/home/alice/huge-scan.pdf'] });
    await page.getByTestId('collection-tasks').click();
    await rows(page).first().click();
    const field = page.locator('[data-file-field="attachments"]');
    await field.getByRole('button', { name: 'Attach files…' }).click();
    await expect(field.locator('.field-error')).toContainText('"huge-scan.pdf" is larger than field "attachments" takes');
    await expect(field.locator('li')).toHaveCount(0);
    // A keyboard user reaches the button.
    await field.getByRole('button', { name: 'Attach files…' }).focus();
    await expect(field.getByRole('button', { name: 'Attach files…' })).toBeFocused();
  });

  test('files dropped on the field are attached; dropped elsewhere, nothing happens', async ({ page, ferry }) => {
    await ferry.open({ withFiles: true });
    await page.getByTestId('collection-tasks').click();
    await rows(page).first().click();
    const field = page.locator('[data-file-field="attachments"]');
    await expect(field).toContainText('or drop files here');
    await field.scrollIntoViewIfNeeded();
    const box = (await field.boundingBox())!;
    const scale = await page.evaluate(() => window.devicePixelRatio || 1);
    // The shell reports where in physical pixels.
    const at = (x: number, y: number) => ({ x: x * scale, y: y * scale });
    const inside = at(box.x + box.width / 2, box.y + box.height / 2);
    const drag = ferry.emit;

    await drag('tauri://drag-over', { position: inside });
    await expect(field).toContainText('Drop to attach');
    await ferry.shot('files-drop-over');
    await drag('tauri://drag-leave', null);
    await expect(field).toContainText('or drop files here');

    // Dropped outside the field (on the list): not attached.
    await drag('tauri://drag-drop', { paths: ['/home/alice/stray.txt'], position: at(5, 5) });
    await expect(field).toContainText('No files');
    expect(await ferry.calls('attach_files')).toEqual([]);

    await drag('tauri://drag-drop', { paths: ['/home/alice/site.jpg'], position: inside });
    await expect(field.locator('li')).toHaveCount(1);
    await expect(field.locator('li').first()).toContainText('site.jpg');
    const attach = (await ferry.calls('attach_files')).at(-1)!.args as { field: string; paths: string[] };
    expect(attach).toMatchObject({ field: 'attachments', paths: ['/home/alice/site.jpg'] });
  });
});
