import { test, expect } from './fixtures';

test.describe('Connect screen', () => {
  test('asks for the server, username and password, and offers the demo', async ({ page, ferry }) => {
    await ferry.open({ signedIn: false });
    await expect(page.locator('#server')).toBeVisible();
    await expect(page.getByLabel('Server address')).toBeVisible();
    await expect(page.getByLabel('Username')).toBeVisible();
    await expect(page.getByLabel('Password')).toBeVisible();
    await expect(page.getByTestId('try-demo')).toBeVisible();
    await ferry.shot('connect-empty');

    await page.getByTestId('connect').click();
    await expect(page.locator('.field-error')).toHaveText(['Enter the server address', 'Enter your username', 'Enter your password']);
    expect(await ferry.calls('login')).toEqual([]);
    await ferry.shot('connect-missing');
  });

  const failures = [
    { name: 'unreachable', server: 'https://unreachable.example.com', password: 'demo', at: 'server', title: 'Can’t reach the server' },
    { name: 'tls', server: 'https://selfsigned.example.com', password: 'demo', at: 'server', title: 'Secure connection failed' },
    { name: 'incompatible', server: 'https://example.org', password: 'demo', at: 'server', title: 'Not a Ferry server' },
    { name: 'invalid', server: 'http://bad host', password: 'demo', at: 'server', title: 'Check the server address' },
    { name: 'bad-credentials', server: 'https://ferry.example.com', password: 'wrong', at: 'password', title: 'Wrong username or password' },
  ];

  for (const f of failures) {
    test(`explains a failed sign-in: ${f.name}`, async ({ page, ferry }) => {
      await ferry.open({ signedIn: false });
      await page.locator('#server').fill(f.server);
      await page.locator('#username').fill('alice');
      await page.locator('#password').fill(f.password);
      await page.getByTestId('connect').click();
      const error = page.getByTestId('connect-error');
      await expect(error).toContainText(f.title);
      // The message sits under the input it concerns, which is marked invalid.
      const input = page.locator(`#${f.at}`);
      await expect(input).toHaveAttribute('aria-invalid', 'true');
      expect(await error.evaluate((e) => e.previousElementSibling?.id)).toBe(f.at);
      expect(await ferry.calls('login')).toEqual([
        { cmd: 'login', args: { form: { server: f.server.trim(), username: 'alice', password: f.password } } },
      ]);
      await ferry.shot(`connect-error-${f.name}`);
    });
  }

  test('warns before a password goes to a plain http:// server on the network', async ({ page, ferry }) => {
    await ferry.open({ signedIn: false });
    const warning = page.getByTestId('insecure-server');
    await page.locator('#server').fill('https://ferry.example.com');
    await expect(warning).toHaveCount(0);
    await page.locator('#server').fill('http://127.0.0.1:8787');
    await expect(warning).toHaveCount(0);
    await page.locator('#server').fill('http://ferry.example.com');
    await expect(warning).toContainText('not encrypted');
    await ferry.shot('connect-plain-http');
  });

  test('"Try the demo" signs in as alice', async ({ page, ferry }) => {
    await ferry.open({ signedIn: false });
    await page.getByTestId('try-demo').click();
    await expect(page.getByTestId('collection-contacts')).toBeVisible();
    await expect(page.getByTestId('row').first()).toBeVisible();
    expect((await ferry.calls('login'))[0]!.args).toEqual({
      form: { server: 'http://127.0.0.1:8787', username: 'alice', password: 'demo' },
    });
  });

  test('hides "Try the demo" when no demo server runs', async ({ page, ferry }) => {
    await ferry.open({ signedIn: false, demo: null });
    await expect(page.locator('#server')).toBeVisible();
    await expect(page.getByTestId('try-demo')).toHaveCount(0);
  });
});
