// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flushSync, mount, tick, unmount } from 'svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import DiffValue from '../src/components/DiffValue.svelte';
import FieldInput from '../src/components/FieldInput.svelte';
import ConnectScreen from '../src/components/ConnectScreen.svelte';
import { app } from '../src/lib/app.svelte';
import type { Field } from '../src/lib/types';

let target: HTMLElement;
let mounted: Record<string, unknown> | null = null;

beforeEach(() => {
  target = document.createElement('div');
  document.body.append(target);
});

afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  target.remove();
  clearMocks();
});

const until = async (check: () => boolean) => {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('DiffValue', () => {
  it('highlights added and removed words of a text', () => {
    const field: Field = { name: 'notes', label: 'Notes', type: 'longtext', required: false };
    mounted = mount(DiffValue, { target, props: { field, base: 'Met at the spring fair', value: 'Met at the autumn fair' } });
    expect(target.querySelector('del')?.textContent).toBe('spring');
    expect(target.querySelector('ins')?.textContent).toBe('autumn');
    expect(target.textContent).toContain('Met at the');
  });

  it('marks a whole non-text value that changed, and nothing when equal', () => {
    const field: Field = { name: 'vip', label: 'VIP', type: 'boolean', required: false };
    mounted = mount(DiffValue, { target, props: { field, base: false, value: true } });
    expect(target.querySelector('[data-changed=true]')?.textContent).toBe('Yes');
    unmount(mounted);
    mounted = mount(DiffValue, { target, props: { field, base: true, value: true } });
    expect(target.querySelector('[data-changed]')).toBeNull();
  });
});

describe('FieldInput', () => {
  const cases: [Field, string, string | null][] = [
    [{ name: 't', label: 'T', type: 'text', required: true }, 'INPUT', 'text'],
    [{ name: 'l', label: 'L', type: 'longtext', required: false }, 'TEXTAREA', null],
    [{ name: 'n', label: 'N', type: 'number', required: false }, 'INPUT', 'text'],
    [{ name: 'b', label: 'B', type: 'boolean', required: false }, 'INPUT', 'checkbox'],
    // Dates are typed in the locale's form: the native inputs show the US form on WebKitGTK.
    [{ name: 'd', label: 'D', type: 'date', required: false }, 'INPUT', 'text'],
    [{ name: 'dt', label: 'DT', type: 'datetime', required: false }, 'INPUT', 'text'],
    [{ name: 'c', label: 'C', type: 'choice', required: false, options: ['a', 'b'] }, 'SELECT', null],
    [{ name: 'g', label: 'G', type: 'tags', required: false }, 'INPUT', 'text'],
  ];

  for (const [field, tag, type] of cases) {
    it(`renders a labelled ${field.type} input carrying data-field`, () => {
      const draft = field.type === 'boolean' ? false : field.type === 'tags' ? ['x'] : '';
      mounted = mount(FieldInput, { target, props: { field, draft, error: 'Required' } });
      const input = target.querySelector<HTMLElement>(`[data-field="${field.name}"]`)!;
      expect(input.tagName).toBe(tag);
      if (type) expect(input.getAttribute('type')).toBe(type);
      // Every input has an accessible name.
      const labelled = input.getAttribute('aria-label') || target.querySelector(`label[for="${input.id}"]`) || input.closest('label');
      expect(labelled).toBeTruthy();
      expect(target.querySelector('.field-error')?.textContent).toBe('Required');
    });
  }

  it('offers the options of a choice field', async () => {
    const field: Field = { name: 'status', label: 'Status', type: 'choice', required: false, options: ['todo', 'done'] };
    mounted = mount(FieldInput, { target, props: { field, draft: 'done' } });
    await tick();
    const select = target.querySelector('select')!;
    expect([...select.options].map((o) => o.value)).toEqual(['', 'todo', 'done']);
    expect(select.value).toBe('done');
  });
});

describe('ConnectScreen', () => {
  it('shows a wrong password under the password, and an unreachable server under the address', async () => {
    const sent: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd !== 'login') return null;
      sent.push(args);
      const server = (args as { form: { server: string } }).form.server;
      throw server.includes('down')
        ? { kind: 'unreachable', message: 'Cannot reach the server at http://down.' }
        : { kind: 'bad_credentials', message: 'Wrong username or password.' };
    });
    mounted = mount(ConnectScreen, { target });
    const fill = (id: string, v: string) => {
      const el = target.querySelector<HTMLInputElement>(`#${id}`)!;
      el.value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    };
    fill('server', 'https://ferry.example.com');
    fill('username', 'alice');
    fill('password', 'nope');
    flushSync();
    target.querySelector<HTMLButtonElement>('[data-testid=connect]')!.click();
    await until(() => !!target.querySelector('[data-testid=connect-error]'));
    const error = target.querySelector('[data-testid=connect-error]')!;
    expect(error.textContent).toContain('Wrong username or password');
    expect(error.previousElementSibling?.id).toBe('password');
    expect(target.querySelector('#password')?.getAttribute('aria-invalid')).toBe('true');
    expect(sent).toEqual([{ form: { server: 'https://ferry.example.com', username: 'alice', password: 'nope' } }]);

    fill('server', 'http://down');
    flushSync();
    target.querySelector<HTMLButtonElement>('[data-testid=connect]')!.click();
    await until(() => target.querySelector('[data-testid=connect-error]')?.previousElementSibling?.id === 'server');
    expect(target.querySelector('[data-testid=connect-error]')!.textContent).toContain('Can’t reach the server');
  });

  it('checks the form before sending it', async () => {
    let calls = 0;
    mockIPC(() => {
      calls++;
      return null;
    });
    mounted = mount(ConnectScreen, { target });
    target.querySelector<HTMLButtonElement>('[data-testid=connect]')!.click();
    await tick();
    expect([...target.querySelectorAll('.field-error')].map((e) => e.textContent)).toEqual([
      'Enter the server address',
      'Enter your username',
      'Enter your password',
    ]);
    expect(calls).toBe(0);
  });

  it('offers the demo only when a demo server answers', async () => {
    mockIPC(() => null);
    app.demoUrl = null;
    mounted = mount(ConnectScreen, { target });
    expect(target.querySelector('[data-testid=try-demo]')).toBeNull();
    app.demoUrl = 'http://127.0.0.1:8787';
    flushSync();
    expect(target.querySelector('[data-testid=try-demo]')).not.toBeNull();
  });
});
