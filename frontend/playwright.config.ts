import { defineConfig } from '@playwright/test';

// Debian's Chromium, never a downloaded browser; the flags keep it off the (closed) network.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export default defineConfig({
  testDir: 'e2e',
  workers: 1, // one platform process on 2 cores: the specs run one after the other
  timeout: 300_000,
  expect: { timeout: 20_000 },
  outputDir: 'test-results',
  reporter: [['list']],
  use: {
    baseURL: process.env.EXEML_E2E_URL ?? 'http://127.0.0.1:8000',
    viewport: { width: 1400, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'off',
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.EXEML_CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
});
