import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { createTestApp, resetDatabase, TEST_OPERATOR_KEY, type TestApp } from './support/app';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(process.cwd(), 'test-output', 'admin-console.png');
const available = existsSync(CHROMIUM);
if (!available) {
  process.stdout.write(
    `admin console browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium)\n`,
  );
}

(available ? describe : describe.skip)('operator console in Chromium (e2e)', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    // A short agent delay so that the page shows the agents finishing one after another.
    t = await createTestApp({ OPAL_SIMULATOR_AGENT_DELAY_MS: '100' });
    await resetDatabase(t.dataSource);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('takes the key once, runs a force sync and shows the nine agents reach 100 %', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));

    await page.goto(`${t.url}/admin`);
    await page.fill('#key-input', TEST_OPERATOR_KEY);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#force-sync', { state: 'visible' });
    expect(await page.evaluate('window.localStorage.length')).toBe(0);
    expect(await page.evaluate('Object.keys(window.sessionStorage)')).toContain(
      'opal-force-sync.operator-key',
    );

    await page.selectOption('#scope', 'odp_only');
    await page.click('#force-sync');
    await page.waitForSelector('#current-status[data-status="completed"]', { timeout: 30_000 });

    expect(await page.textContent('#progress-percent')).toBe('100 %');
    const agents = await page.$$eval('#agents li', (items) =>
      items.map((item) => item.getAttribute('data-status')),
    );
    expect(agents).toEqual(Array(9).fill('completed'));
    await page.waitForSelector('#workflows tr.selectable');
    expect(await page.textContent('#workflows')).toContain('odp_only');
    expect(await page.textContent('#health')).toContain('up');
    expect(await page.textContent('#alerts')).toBeTruthy();
    expect(await page.textContent('#failed-events')).toContain('No failed events');

    mkdirSync(join(process.cwd(), 'test-output'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // The key survives a reload of the tab (sessionStorage) and the page still loads under the CSP.
    await page.reload();
    await page.waitForSelector('#current-status[data-status="completed"]');
    expect(problems).toEqual([]);
  });
});
