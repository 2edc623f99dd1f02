// Loaded before the built app in end-to-end tests: replaces the desktop shell
// with the fake backend, as `mockIPC` intercepts every `invoke`.
import { emit as tauriEmit } from '@tauri-apps/api/event';
import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { FakeBackend, type Scenario } from '../mock/backend';

declare global {
  interface Window {
    __FERRY_SCENARIO__?: Scenario;
    ferry: {
      backend: FakeBackend;
      emit: (name: string, payload: unknown) => void;
    };
  }
}

const emit = (name: string, payload: unknown) => {
  void tauriEmit(name, payload);
};

const scenario = window.__FERRY_SCENARIO__ ?? {};
const backend = new FakeBackend(scenario, emit);

mockWindows('main');
let counts = 0;
mockIPC(
  async (cmd, args) => {
    const count = cmd === 'count_records' ? ++counts : 0;
    // Answers arrive asynchronously, as they do from the real shell.
    await new Promise((r) => setTimeout(r, count ? (scenario.countDelayMs ?? 0) : 0));
    // As in the shell, a newer count takes the place of one still running.
    if (count && count !== counts) return null;
    return backend.handle(cmd, (args ?? {}) as Record<string, unknown>);
  },
  { shouldMockEvents: true },
);

window.ferry = { backend, emit };

// The app runs with Tauri's freezePrototype; so does the test.
Object.freeze(Object.prototype);
