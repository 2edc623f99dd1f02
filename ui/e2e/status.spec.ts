import { test, expect } from './fixtures';

test.describe('Status bar', () => {
  const states = [
    { name: 'online', connection: { state: 'online' }, label: 'Online' },
    { name: 'syncing', connection: { state: 'syncing' }, label: 'Syncing…' },
    { name: 'connecting', connection: { state: 'connecting' }, label: 'Connecting…' },
    { name: 'offline', connection: { state: 'offline', reason: 'The server cannot be reached; retrying in 30 s.', by_choice: false }, label: 'Offline' },
    { name: 'error', connection: { state: 'error', message: 'The server no longer accepts this sign-in.' }, label: 'Sync problem' },
  ] as const;

  for (const s of states) {
    test(`shows ${s.name} with an icon and words`, async ({ page, ferry }) => {
      await ferry.open({ connection: s.connection, pending: true });
      const status = page.getByTestId('status');
      await expect(status).toHaveAttribute('data-state', s.name);
      await expect(status).toContainText(s.label);
      await expect(status.locator('svg')).toBeVisible();
      if (s.connection.state === 'error') await expect(status).toContainText(s.connection.message);
      if (s.connection.state === 'offline') await expect(status).toContainText(s.connection.reason);
      await expect(page.getByTestId('pending-count')).toHaveText('4 changes waiting');
      await page.locator('footer.statusbar').screenshot({ path: `${(await import('./fixtures')).ARTIFACTS}/status-${s.name}.png` });
    });
  }

  test('follows status events from the sync task', async ({ page, ferry }) => {
    await ferry.open();
    const status = page.getByTestId('status');
    await expect(status).toHaveAttribute('data-state', 'online');
    await page.evaluate(() => window.ferry.backend.setConnection({ state: 'error', message: 'Login refused' }));
    await expect(status).toHaveAttribute('data-state', 'error');
    await page.evaluate(() => window.ferry.backend.setConnection({ state: 'syncing' }));
    await expect(status).toHaveAttribute('data-state', 'syncing');
  });

  test('"Sync now" sends the outbox and updates the counts', async ({ page, ferry }) => {
    await ferry.open({ pending: true, lastSync: null });
    await expect(page.getByTestId('pending-count')).toHaveText('4 changes waiting');
    await expect(page.locator('footer.statusbar')).toContainText('Not synced yet');
    await page.getByTestId('sync-now').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'syncing');
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'online');
    await expect(page.getByTestId('pending-count')).toHaveText('All changes sent');
    await expect(page.getByTestId('last-sync')).toHaveText('Up to date');
    await expect(page.getByTestId('last-sync')).toHaveAttribute('title', /^Last synced just now/);
    expect(await ferry.calls('sync_now')).toHaveLength(1);
  });

  test('"Work offline" is a toggle', async ({ page, ferry }) => {
    await ferry.open();
    const toggle = page.getByTestId('work-offline');
    await expect(toggle).toHaveAttribute('aria-pressed', 'false');
    await toggle.click();
    await expect(toggle).toHaveAttribute('aria-pressed', 'true');
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'offline');
    await expect(page.getByTestId('status')).toContainText('Working offline');
    await expect(page.getByTestId('sync-now')).toBeDisabled();
    await page.locator('footer.statusbar').screenshot({ path: `${(await import('./fixtures')).ARTIFACTS}/status-working-offline.png` });
    await toggle.click();
    await expect(toggle).toHaveAttribute('aria-pressed', 'false');
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'online');
    expect((await ferry.calls('set_work_offline')).map((c) => c.args)).toEqual([{ offline: true }, { offline: false }]);
  });
});

test('desktop notifications can be turned off and on', async ({ page, ferry }) => {
  await ferry.open();
  const bell = page.getByTestId('notifications');
  await expect(bell).toHaveAttribute('aria-pressed', 'true');
  await bell.click();
  await expect(bell).toHaveAttribute('aria-pressed', 'false');
  const calls = await ferry.calls('set_notifications');
  expect(calls.at(-1)?.args).toMatchObject({ enabled: false });
  await bell.click();
  await expect(bell).toHaveAttribute('aria-pressed', 'true');
});
