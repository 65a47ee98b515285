import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (scripts/services.sh installs it), or another one named by KILN_CHROMIUM. */
export const CHROMIUM = process.env.KILN_CHROMIUM ?? '/usr/bin/chromium';

// MACHINE.md: headless, as root, with nothing reaching out to the network.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

export const SCREENSHOTS = resolve(__dirname, '../../../docs/screenshots');

/** On CI a missing browser is a failure; on a developer machine without Chromium, a skip. */
export const browserTestsRunnable = existsSync(CHROMIUM) || process.env.CI === 'true';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/** Starts Chromium, or fails naming what to install. */
export async function launchChromium(): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (npm run services)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Signs in through the web UI's form, as a person would, and waits for the first page. */
export async function signIn(
  page: Page,
  serverUrl: string,
  username: string,
  password: string,
): Promise<void> {
  await page.goto(`${serverUrl}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Repositories' }).waitFor();
}
