// Settings: the account in full, sync switches, and where the records are kept.
import { test, expect } from './fixtures';

test('the account corner opens Settings, which shows the whole server address', async ({ page, ferry }) => {
  const server = 'https://records.north-region.operations.example-organisation.org:8443';
  await ferry.open({ server });
  await page.getByTestId('nav-outbox').click();
  await page.getByTestId('open-settings').click();
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  await expect(page.getByTestId('open-settings')).toHaveAttribute('aria-current', 'page');
  // In full, never cut off.
  const shown = page.getByTestId('settings-server');
  await expect(shown).toHaveText(server);
  expect(await shown.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
  await expect(page.getByTestId('settings-user')).toHaveText('alice');
  await expect(page.getByTestId('settings-profile')).toHaveText('/home/alice/.local/share/ferry');
  await expect(page.getByTestId('settings-version')).toHaveText('Ferry 0.1.0');
  await expect.poll(async () => (await ferry.calls('set_window_title')).at(-1)?.args.title).toBe('Ferry — alice — Settings');
  await ferry.shot('settings');
});

test('work offline and notifications switch from Settings, in step with the status bar', async ({ page, ferry }) => {
  await ferry.open();
  await expect(page.getByTestId('record-list')).toBeVisible();
  await page.keyboard.press('ControlOrMeta+,');
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  const offline = page.getByTestId('settings-work-offline');
  await expect(offline).not.toBeChecked();
  await offline.check();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'offline');
  await expect(page.getByTestId('work-offline')).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(async () => (await ferry.calls('set_work_offline')).at(-1)?.args).toEqual({ offline: true });
  await page.getByTestId('work-offline').click();
  await expect(offline).not.toBeChecked();

  const notifications = page.getByTestId('settings-notifications');
  await expect(notifications).toBeChecked();
  await notifications.uncheck();
  await expect.poll(async () => (await ferry.calls('set_notifications')).at(-1)?.args).toEqual({ enabled: false });
  await expect(page.getByTestId('notifications')).toHaveAttribute('aria-pressed', 'false');
});

test('signing out from Settings asks first', async ({ page, ferry }) => {
  await ferry.open({ pending: true });
  await page.getByTestId('open-settings').click();
  await page.getByTestId('settings-sign-out').click();
  await expect(page.getByTestId('signout-dialog')).toContainText('Sign out of ferry.example.com?');
  await expect(page.getByTestId('signout-dialog')).toContainText('unsent change');
  await page.getByTestId('confirm-sign-out').click();
  await expect(page.locator('#server')).toBeVisible();
});

test('Settings lists my devices and signs another out; offline it says why', async ({ page, ferry }) => {
  await ferry.open();
  await page.keyboard.press('ControlOrMeta+,');
  const devices = page.getByTestId('settings-devices');
  const here = devices.locator('[data-device="alice-laptop"]');
  const office = devices.locator('[data-device="alice-office"]');
  await expect(here).toContainText('this device');
  await expect(here).toContainText('linux, ferry-desktop 0.1.0');
  await expect(here.getByRole('button')).toHaveCount(0);
  await expect(office).toContainText('last seen 3 days ago from 198.51.100.4');
  await ferry.shot('settings-devices');
  await office.getByRole('button', { name: 'Sign out alice-office' }).click();
  await expect(office).toHaveCount(0);
  await expect.poll(async () => (await ferry.calls('sign_out_device')).at(-1)?.args).toEqual({ id: '0193a1b2-0000-7000-8000-000000000002' });
  await expect(devices.locator('li')).toHaveCount(1);

  // Offline, the list cannot be had: it says so and offers to try again.
  await page.getByTestId('settings-work-offline').check();
  await page.getByTestId('nav-outbox').click();
  await page.keyboard.press('ControlOrMeta+,');
  await expect(devices.getByRole('alert')).toContainText('working offline');
  await expect(devices.getByRole('button', { name: 'Try again' })).toBeVisible();
});

test('Settings → Security says the records are encrypted, where the key is, and when the sign-in ends', async ({ page, ferry }) => {
  await ferry.open();
  await page.keyboard.press('ControlOrMeta+,');
  const security = page.getByTestId('settings-security');
  await expect(page.getByTestId('security-encryption')).toHaveText(/Encrypted \(AES-256, SQLCipher 4\.5\.7/);
  await expect(page.getByTestId('security-key')).toContainText('system keyring');
  await expect(page.getByTestId('security-session')).toContainText('Ends');
  await expect(security).toContainText('Attached files and what you export');
  // The key is in the keyring: there is no passphrase to unlock with, so no lock.
  await expect(page.getByTestId('settings-lock')).toHaveCount(0);
});

test('with a passphrase, Ferry locks itself when idle and opens again with the passphrase only', async ({ page, ferry }) => {
  await page.clock.install();
  await ferry.open({ protection: 'passphrase' });
  await page.keyboard.press('ControlOrMeta+,');
  await expect(page.getByTestId('security-key')).toContainText('from your passphrase');
  await page.getByTestId('settings-lock').selectOption('5');
  await expect.poll(async () => (await ferry.calls('set_app_lock')).at(-1)?.args).toEqual({ minutes: 5 });
  // Four idle minutes: still open; past five: locked.
  await page.clock.runFor(4 * 60_000);
  await expect(page.getByTestId('passphrase-screen')).toHaveCount(0);
  await page.clock.runFor(2 * 60_000);
  const screen = page.getByTestId('passphrase-screen');
  await expect(screen).toContainText('Ferry is locked');
  await page.locator('#passphrase').fill('not the passphrase');
  await page.getByTestId('unlock').click();
  await expect(page.getByTestId('passphrase-error')).toHaveText('That passphrase does not open your records. Nothing was changed; try again.');
  await page.locator('#passphrase').fill('correct horse battery staple');
  await page.getByTestId('unlock').click();
  await expect(screen).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
});

test('without a keyring, a new profile asks for a passphrase, twice, before anything else', async ({ page, ferry }) => {
  await ferry.open({ locked: 'choose_passphrase', signedIn: false });
  const screen = page.getByTestId('passphrase-screen');
  await expect(screen).toContainText('Choose a passphrase for your records');
  await page.locator('#passphrase').fill('short');
  await page.getByTestId('unlock').click();
  await expect(page.getByTestId('passphrase-error')).toHaveText('Use at least 8 characters.');
  await page.locator('#passphrase').fill('a long enough passphrase');
  await page.locator('#passphrase-again').fill('a long enough passphrasE');
  await page.getByTestId('unlock').click();
  await expect(page.getByTestId('passphrase-error')).toContainText('differ');
  await expect.poll(async () => (await ferry.calls('unlock_profile')).length).toBe(0);
  await page.locator('#passphrase-again').fill('a long enough passphrase');
  await ferry.shot('choose-passphrase');
  await page.getByTestId('unlock').click();
  await expect(screen).toHaveCount(0);
  await expect(page.locator('#server')).toBeVisible();
});

test('after a wipe, the sign-in screen says what happened', async ({ page, ferry }) => {
  await ferry.open({
    signedIn: false,
    notice: "An administrator removed Ferry's records from this computer. 2 changes that were not sent yet were discarded. Sign in to start again.",
  });
  await expect(page.getByTestId('connect-notice')).toContainText('2 changes that were not sent yet were discarded');
});
