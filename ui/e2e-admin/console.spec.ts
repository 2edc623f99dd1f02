// The admin console against a real ferry-server (see server.ts): signing in,
// users, access, devices, the audit log and health, then axe on every page
// in both colour schemes.
import { test, expect, signIn, open, expectAccessible, screenshot } from './fixtures';
import { ADMIN } from './server';

const numbers = (s: string) => [...s.matchAll(/\d[\d,]*/g)].map((m) => Number(m[0].replace(/,/g, '')));

// These tests go through one server's state in order: dana is added, given access, disabled.
test.describe('step by step', () => {
  test.describe.configure({ mode: 'serial' });

  test('the page is served with its CSP, and signing in refuses a wrong password and a member', async ({ page }) => {
    const res = await page.goto('/admin/');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expect(page).toHaveTitle(/Ferry admin console/);

    await page.getByTestId('sign-in').click();
    await expect(page.locator('#username-error')).toHaveText('Enter your username.');

    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill('not the password');
    await page.getByTestId('sign-in').click();
    await expect(page.getByTestId('sign-in-error')).toContainText(/wrong username or password/i);
    await expect(page.getByTestId('signed-in-as')).toHaveCount(0);

    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('demo');
    await page.getByTestId('sign-in').click();
    await expect(page.getByTestId('sign-in-error')).toContainText('This account is not an administrator.');
    await expect(page.getByTestId('signed-in-as')).toHaveCount(0);

    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByTestId('sign-in').click();
    await expect(page.getByTestId('signed-in-as')).toHaveText(ADMIN.username);
    // The session is a cookie: a reload keeps it.
    await page.reload();
    await expect(page.getByTestId('signed-in-as')).toHaveText(ADMIN.username);
    await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
  });

  test('adding a user: inline checks, then dana is listed; a second dana is refused', async ({ page }) => {
    await signIn(page);
    await expect(page.getByTestId('users-table').locator('tr[data-user="alice"]')).toBeVisible();
    const form = page.getByTestId('add-user-form');

    await form.getByLabel('Username').fill('Dana');
    await form.getByLabel('Password').fill('short');
    await page.getByTestId('add-user').click();
    await expect(form.locator('#new-username-error')).toHaveText('A username starts with a lowercase letter.');
    await expect(form.locator('#new-password-error')).toHaveText('A password has at least 8 characters.');
    await expect(form.getByLabel('Username')).toHaveAttribute('aria-invalid', 'true');

    await form.getByLabel('Username').fill('dana');
    await form.getByLabel('Password').fill('dana-pass-1');
    await page.getByTestId('add-user').click();
    const row = page.getByTestId('users-table').locator('tr[data-user="dana"]');
    await expect(row).toBeVisible();
    await expect(row.getByTestId('user-state')).toHaveText('Active');
    await expect(row.getByLabel('Role of dana')).toHaveValue('member');
    await expect(form.getByLabel('Username')).toHaveValue('');

    await form.getByLabel('Username').fill('dana');
    await form.getByLabel('Password').fill('dana-pass-2');
    await page.getByTestId('add-user').click();
    await expect(page.getByTestId('add-user-error')).toBeVisible();

    // The search asks the server for names holding the text.
    await page.getByLabel('Search by username').fill('dan');
    await expect(page.getByTestId('users-table').locator('tbody tr')).toHaveCount(1);
    await expect(page.getByTestId('users-table').locator('tr[data-user="dana"]')).toBeVisible();
    await page.getByLabel('Search by username').fill('nobody-by-this-name');
    await expect(page.getByText('No user matches')).toBeVisible();
  });

  test('granting dana read on tasks shows who sees how many records', async ({ page }) => {
    await signIn(page);
    await open(page, 'access', 'Teams & access');
    const form = page.getByTestId('grant-form');
    await form.getByLabel('To').selectOption('user');
    await form.getByLabel('User').selectOption('dana');
    await form.getByLabel('Collection').selectOption('tasks');
    const preview = page.getByTestId('grant-preview');
    await expect(preview).toContainText('dana will see 0 of');
    const total = numbers((await preview.textContent()) ?? '')[1]!;
    expect(total).toBeGreaterThan(0);

    await form.getByLabel('Access').selectOption('read');
    await page.getByTestId('grant').click();
    const grant = page.getByTestId('grants-table').locator('tr[data-subject="dana"][data-collection="tasks"]');
    await expect(grant).toBeVisible();
    await expect(grant).toContainText('Read');
    await expect(preview).toHaveText(new RegExp(`dana will see ${total.toLocaleString('en-GB')} of ${total.toLocaleString('en-GB')} records`));

    // A team: made, given a member, who is taken out again.
    await page.getByLabel('New team').fill('north');
    await page.getByTestId('create-team').click();
    const team = page.locator('li[data-team="north"]');
    await expect(team).toBeVisible();
    await team.getByLabel('Add a member to north').selectOption('dana');
    await team.getByRole('button', { name: 'Add to north' }).click();
    await expect(team.getByRole('list', { name: 'Members of north' })).toContainText('dana');
    await team.getByRole('button', { name: 'Take dana out of north' }).click();
    await expect(team.getByRole('list', { name: 'Members of north' })).toHaveCount(0);
  });

  test('disabling dana asks first, saying their devices are signed out', async ({ page }) => {
    await signIn(page);
    const row = page.getByTestId('users-table').locator('tr[data-user="dana"]');
    await row.getByTestId('toggle-user').click();
    const dialog = page.getByTestId('toggle-user-dialog');
    await expect(dialog).toContainText('Disable dana?');
    await expect(dialog).toContainText('devices');
    await expect(dialog).toContainText('signed out');
    // Cancelling changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(row.getByTestId('user-state')).toHaveText('Active');

    await row.getByTestId('toggle-user').click();
    await page.getByTestId('confirm-toggle-user').click();
    await expect(row.getByTestId('user-state')).toHaveText('Disabled');
    await expect(row.getByTestId('toggle-user')).toContainText('Enable');
    // It holds on the server.
    await page.reload();
    await expect(page.getByTestId('users-table').locator('tr[data-user="dana"]').getByTestId('user-state')).toHaveText('Disabled');
  });

  test('revoking a device of alice signs it out', async ({ page, ferry }) => {
    const login = await fetch(`${ferry.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'demo', device_name: 'alice-laptop-e2e', platform: 'linux', app_version: 'ferry-desktop e2e' }),
    });
    expect(login.status).toBe(200);
    const { token, device_id } = (await login.json()) as { token: string; device_id: string };
    const schema = () => fetch(`${ferry.url}/v1/schema`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await schema()).toBe(200);

    await signIn(page);
    // From the user's row to their devices.
    await page.getByTestId('users-table').locator('tr[data-user="alice"]').getByTestId('user-devices').click();
    await expect(page.getByRole('heading', { level: 1, name: 'Devices' })).toBeVisible();
    await expect(page.getByLabel('User')).toHaveValue('alice');
    const row = page.locator(`tr[data-device="${device_id}"]`);
    await expect(row).toContainText('alice-laptop-e2e');
    await expect(row).toContainText('linux');
    await expect(row.getByTestId('device-state')).toHaveText('Signed in');

    // The wipe's dialog says what is lost; cancelled here.
    await row.getByTestId('revoke-wipe').click();
    await expect(page.getByTestId('revoke-dialog')).toContainText('Edits not yet sent from it are lost');
    await page.getByTestId('revoke-dialog').getByRole('button', { name: 'Cancel' }).click();

    await row.getByTestId('revoke').click();
    await expect(page.getByTestId('revoke-dialog')).toContainText('Revoke alice-laptop-e2e?');
    await page.getByTestId('confirm-revoke').click();
    await expect(row.getByTestId('device-state')).toHaveText('Revoked');
    await expect(row.getByTestId('revoke')).toHaveCount(0);
    expect(await schema()).toBe(401);
  });

  test('Activity lists these actions, filtered and paged', async ({ page }) => {
    await signIn(page);
    await open(page, 'activity', 'Activity');
    const table = page.getByTestId('audit-table');
    for (const [action, target] of [
      ['user.add', 'dana'],
      ['grant.give', 'tasks'],
      ['user.disable', 'dana'],
      ['team.add', 'north'],
      ['device.revoke', ''],
    ]) {
      const line = table.locator(`tr[data-action="${action}"]${target ? `[data-target="${target}"]` : ''}`);
      await expect(line.first(), `an audit line ${action} ${target}`).toBeVisible();
      await expect(line.first()).toContainText(ADMIN.username);
    }
    // Newest first: the disable came after the add.
    const actions = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    expect(actions.indexOf('user.disable')).toBeLessThan(actions.indexOf('user.add'));

    await page.getByLabel('Action').fill('user.disable');
    await page.getByTestId('audit-search').click();
    await expect(table.locator('tbody tr')).toHaveCount(1);
    await expect(table).toContainText('dana');
  });

  test('Activity pages with Older and Newer', async ({ page }) => {
    await signIn(page);
    // More than a page of lines: 30 times in and out of a team (the page's cookie, and the CSRF header).
    const csrf = { 'X-Ferry-CSRF': '1' };
    // Without the header, the cookie alone is refused.
    expect((await page.request.put('/v1/admin/teams/north/members/carol')).status()).toBe(403);
    for (let i = 0; i < 30; i++) {
      expect((await page.request.put('/v1/admin/teams/north/members/carol', { headers: csrf })).status()).toBe(200);
      expect((await page.request.delete('/v1/admin/teams/north/members/carol', { headers: csrf })).status()).toBe(200);
    }
    await open(page, 'activity', 'Activity');
    const table = page.getByTestId('audit-table');
    await expect(table.locator('tbody tr')).toHaveCount(50);
    const first = await table.locator('tbody tr').first().textContent();
    await page.getByTestId('audit-older').click();
    await expect(page.getByTestId('audit-newer')).toBeEnabled();
    await expect(table.locator('tr[data-action="user.add"][data-target="dana"]')).toBeVisible();
    await page.getByTestId('audit-newer').click();
    await expect(table.locator('tbody tr').first()).toHaveText(first!);
  });

  test('Health shows the server and its collections', async ({ page }) => {
    await signIn(page);
    await open(page, 'health', 'Health');
    await expect(page.getByTestId('health-version')).not.toBeEmpty();
    await expect(page.getByTestId('health-database')).toHaveText('SQLite');
    const collections = page.getByTestId('health-collections');
    for (const name of ['contacts', 'tasks']) {
      const row = collections.locator(`tr[data-collection="${name}"]`);
      await expect(row).toBeVisible();
      expect(numbers((await row.locator('td').first().textContent()) ?? '')[0]).toBeGreaterThan(0);
    }
  });

  test('a session that ends sends the console back to sign in, saying so', async ({ page, context }) => {
    await signIn(page);
    await context.clearCookies();
    await page.getByTestId('nav-devices').click();
    await expect(page.getByTestId('sign-in-notice')).toHaveText('Your session ended; sign in again.');
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByTestId('sign-in').click();
    await expect(page.getByRole('heading', { level: 1, name: 'Devices' })).toBeVisible();

    // Signing out ends the session on the server too.
    await page.getByTestId('sign-out').click();
    await page.getByTestId('confirm-sign-out').click();
    await expect(page.getByTestId('sign-in-form')).toBeVisible();
    await page.reload();
    await expect(page.getByTestId('sign-in-form')).toBeVisible();
  });
});

// Each test below stands on its own (a failure above restarts the worker, and the server with it).
test('Collections are listed read-only; a partitioned one offers its values in the grant form', async ({ page }) => {
  await signIn(page);
  await open(page, 'collections', 'Collections');
  const contacts = page.locator('section[data-collection="contacts"]');
  await expect(contacts.locator('tbody tr')).toHaveCount(9);
  // The demo partitions contacts by region (carol reads the north's); tasks are whole.
  await expect(contacts.getByTestId('partition')).toHaveText('Region');
  await expect(page.locator('section[data-collection="tasks"]').getByTestId('partition')).toContainText('Not partitioned');

  // So the grant form offers the regions for contacts.
  await open(page, 'access', 'Teams & access');
  await page.getByTestId('grant-form').getByLabel('Collection').selectOption('contacts');
  await expect(page.getByRole('group', { name: 'Only records whose Region is' }).getByRole('checkbox')).toHaveCount(4);
});

for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`axe and screenshots, ${colorScheme}`, () => {
    test.use({ colorScheme });
    test.describe.configure({ timeout: 120_000 });
    const shot = (name: string) => (colorScheme === 'light' ? name : `${name}-dark`);

    test('every page', async ({ page }) => {
      await page.goto('/admin/');
      expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(colorScheme === 'dark');
      await page.getByLabel('Username').fill(ADMIN.username);
      await page.getByLabel('Password').fill('not the password');
      await page.getByTestId('sign-in').click();
      await expect(page.getByTestId('sign-in-error')).toBeVisible();
      await expectAccessible(page, 'sign-in with an error');
      await screenshot(page, shot('sign-in'));

      await signIn(page);
      await expect(page.getByTestId('users-table')).toBeVisible();
      await page.getByTestId('add-user').click();
      await expect(page.locator('#new-username-error')).toBeVisible();
      await expectAccessible(page, 'users with form errors');
      await screenshot(page, shot('users'));
      await page.getByTestId('users-table').locator('tr[data-user="bob"]').getByTestId('toggle-user').click();
      await expect(page.getByTestId('toggle-user-dialog')).toBeVisible();
      await expectAccessible(page, 'users, disable dialog');
      await screenshot(page, shot('users-dialog'));
      await page.keyboard.press('Escape');
      await page.getByTestId('users-table').locator('tr[data-user="alice"]').getByTestId('check-access').click();
      await expect(page.getByTestId('user-access')).toContainText('alice will see');
      await expectAccessible(page, 'users, what alice sees');
      await page.keyboard.press('Escape');

      await open(page, 'access', 'Teams & access');
      await page.getByTestId('grant-form').getByLabel('User').selectOption('carol');
      await expect(page.getByTestId('grant-preview')).toBeVisible();
      await expectAccessible(page, 'teams and access');
      await screenshot(page, shot('access'));

      for (const [id, title] of [
        ['collections', 'Collections'],
        ['devices', 'Devices'],
        ['activity', 'Activity'],
        ['health', 'Health'],
      ] as const) {
        await open(page, id, title);
        await expectAccessible(page, title);
        await screenshot(page, shot(id));
      }

      await open(page, 'devices', 'Devices');
      await page.getByTestId('revoke-wipe').first().click();
      await expect(page.getByTestId('revoke-dialog')).toBeVisible();
      await expectAccessible(page, 'devices, wipe dialog');
      await screenshot(page, shot('devices-dialog'));
    });
  });
}
