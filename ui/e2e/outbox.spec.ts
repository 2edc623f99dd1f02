// The Outbox: each waiting change can be opened, or discarded (asked first, with undo).
import { test, expect } from './fixtures';

test('a waiting change opens its record, and is discarded after asking, with undo', async ({ page, ferry }) => {
  await ferry.open({ pending: true });
  await page.getByTestId('nav-outbox').click();
  const entries = page.getByTestId('outbox-entry');
  await expect(entries).toHaveCount(4);
  const marta = entries.filter({ hasText: 'Marta Lindqvist' });

  await marta.getByTestId('outbox-discard').click();
  const dialog = page.getByTestId('discard-change-dialog');
  await expect(dialog).toContainText('Discard your change to “Marta Lindqvist”?');
  await expect(dialog).toContainText('The new record is removed.');
  await ferry.shot('outbox-discard');
  await page.getByTestId('confirm-discard-change').click();
  await expect(entries).toHaveCount(3);
  await expect(page.getByText('Your change to “Marta Lindqvist” was discarded')).toBeVisible();
  const discards = await ferry.calls('discard_change');
  expect(discards).toHaveLength(1);

  await page.getByTestId('undo-discard').click();
  await expect(entries).toHaveCount(4);
  await expect(marta).toHaveCount(1);
  expect(await ferry.calls('reapply_change')).toHaveLength(1);

  // Open shows the record in its collection's editor.
  await marta.getByTestId('outbox-open').click();
  await expect(page.getByTestId('editor')).toBeVisible();
  await expect(page.locator('[data-testid=editor] [data-field="name"]')).toHaveValue('Marta Lindqvist');
});

test('cancelling keeps the change, and a change being sent cannot be discarded, saying why', async ({ page, ferry }) => {
  await ferry.open({ pending: true });
  await page.getByTestId('nav-outbox').click();
  const entries = page.getByTestId('outbox-entry');
  await entries.first().getByTestId('outbox-discard').click();
  await page.getByTestId('discard-change-dialog').getByRole('button', { name: 'Cancel' }).click();
  await expect(entries).toHaveCount(4);
  expect(await ferry.calls('discard_change')).toHaveLength(0);

  await page.evaluate(() => {
    window.ferry.backend.outboxEntries[0]!.in_flight = true;
  });
  // Leave and come back: the Outbox reloads its entries.
  await page.getByTestId('collection-tasks').click();
  await page.getByTestId('nav-outbox').click();
  const first = entries.first();
  await expect(first.getByTestId('outbox-sending')).toHaveText('Being sent; it cannot be discarded now');
  await expect(first.getByTestId('outbox-discard')).toHaveCount(0);
});
