import { test, expect, rows } from './fixtures';

test('smoke', async ({ page, ferry }) => {
  await ferry.open();
  await expect(rows(page).first()).toBeVisible();
  await ferry.shot('smoke');
});
