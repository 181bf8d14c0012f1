import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import { OPAL_AGENTS } from '../src/domain/opal';
import { createTestApp, resetDatabase, TEST_OPERATOR_KEY, type TestApp } from './support/app';
import { seedEvent, seedEventStream, seedRejected, seedWorkflow } from './support/seed';
import { waitFor } from './support/wait';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = join(process.cwd(), 'test-output');
const VIEWS = ['workflow', 'workflows', 'health', 'diagnostics', 'dead-letters', 'maintenance'] as const;
const available = existsSync(CHROMIUM);
if (!available) {
  process.stdout.write(
    `admin console browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium)\n`,
  );
}

/** The default rate limits: the console must live within them. */
const DEFAULT_LIMITS = {
  RATE_LIMIT_WEBHOOK_PER_MIN: undefined,
  RATE_LIMIT_SYNC_PER_MIN: undefined,
  RATE_LIMIT_ADMIN_PER_MIN: undefined,
  RATE_LIMIT_READ_PER_MIN: undefined,
};

interface Watched {
  page: Page;
  problems: string[];
  rateLimited: string[];
  reads: { at: number; url: string }[];
  navigations: number;
}

let browser: Browser;

async function openConsole(t: TestApp, viewport = { width: 1400, height: 900 }): Promise<Watched> {
  const page = await browser.newPage({ viewport });
  const watched: Watched = { page, problems: [], rateLimited: [], reads: [], navigations: 0 };
  page.on('console', (message) => {
    // A refused key is the browser's own console line for a 401 answer: expected where a test types a wrong key.
    if (message.type() === 'error' && !/status of 401/.test(message.text()))
      watched.problems.push(message.text());
  });
  page.on('pageerror', (error) => watched.problems.push(error.message));
  page.on('request', (req) => {
    if (req.method() === 'GET' && new URL(req.url()).pathname.startsWith('/api/'))
      watched.reads.push({ at: Date.now(), url: req.url() });
  });
  page.on('response', (res) => {
    if (res.status() === 429) watched.rateLimited.push(res.url());
  });
  // Page loads only: switching views changes the URL's fragment, which is no reload.
  page.on('load', () => {
    watched.navigations += 1;
  });
  await page.goto(`${t.url}/admin`);
  return watched;
}

async function confirmDialog(page: Page, expectText?: string): Promise<void> {
  await page.waitForSelector('#confirm[open]');
  if (expectText) expect(await page.textContent('#confirm')).toContain(expectText);
  await page.click('#confirm-yes');
  await waitCount(page, '#confirm[open]', 0);
}

/** Waits until `selector` matches exactly `count` elements (polled from the test: the page's CSP forbids eval). */
async function waitCount(page: Page, selector: string, count: number): Promise<void> {
  let last = -1;
  await waitFor(
    async () => {
      last = (await page.$$(selector)).length;
      return last === count;
    },
    `${count} × ${selector}`,
    { timeoutMs: 30_000, intervalMs: 100 },
  ).catch(() => expect([selector, last]).toEqual([selector, count]));
}

/** Waits until the text of `selector` matches `pattern`; on timeout the assertion shows the text it had. */
async function waitText(page: Page, selector: string, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  let last = '';
  await waitFor(
    async () => {
      last = (await page.textContent(selector)) ?? '';
      return pattern.test(last);
    },
    `${selector} to match ${pattern}`,
    { timeoutMs, intervalMs: 100 },
  ).catch(() => expect(last).toMatch(pattern));
  return last;
}

/** A new page of its own (fresh sessionStorage) with the operator key typed in. */
async function openWithKey(t: TestApp, viewport?: { width: number; height: number }): Promise<Watched> {
  const w = await openConsole(t, viewport);
  await w.page.waitForSelector('#key-input', { state: 'visible' });
  await w.page.fill('#key-input', TEST_OPERATOR_KEY);
  await w.page.click('#key-form button[type=submit]');
  await w.page.waitForSelector('#force-sync', { state: 'visible' });
  return w;
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
}

async function view(page: Page, name: (typeof VIEWS)[number]): Promise<void> {
  await page.click(`.tabs a[data-view="${name}"]`);
  await page.waitForSelector(`#view-${name}:not([hidden])`);
}

async function startForceSync(
  page: Page,
  options: { scope: string; clientName?: string; allowConcurrent?: boolean },
): Promise<string> {
  await view(page, 'workflow');
  await page.selectOption('#scope', options.scope);
  if (options.clientName !== undefined) await page.fill('#client-name', options.clientName);
  if (options.allowConcurrent) await page.check('#allow-concurrent');
  await page.click('#force-sync');
  await confirmDialog(page, options.scope);
  await page.waitForSelector('#sync-answer:not([hidden])');
  const text = (await page.textContent('#sync-answer')) ?? '';
  const id = /Workflow ([0-9a-f-]{36})/.exec(text)?.[1];
  if (!id) throw new Error(`no workflow id in the force sync answer: ${text}`);
  return id;
}

const launchArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

(available ? describe : describe.skip)('operator console in Chromium (e2e)', () => {
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: launchArgs });
  });

  afterAll(async () => {
    await browser?.close();
  });

  describe('development: operator routes open, default rate limits', () => {
    let t: TestApp;

    beforeAll(async () => {
      // Agents take a while, so that the page follows a workflow for several seconds.
      t = await createTestApp({
        ...DEFAULT_LIMITS,
        OPERATOR_API_KEYS: undefined,
        OPAL_SIMULATOR_AGENT_DELAY_MS: '400',
      });
      await resetDatabase(t.dataSource);
    });

    afterAll(async () => {
      await t?.close();
    });

    it('says operator routes are open, and the page shows the dashboard without asking for a key', async () => {
      const session = await request(t.url).get('/api/admin/session').expect(200);
      expect(session.body).toEqual({ operator_routes: 'open', environment: 'test' });

      const w = await openConsole(t);
      await w.page.waitForSelector('#force-sync', { state: 'visible' });
      expect(await w.page.isVisible('#key-panel')).toBe(false);
      expect(await w.page.textContent('#dev-banner')).toBe('development: operator routes are open');
      expect(await w.page.isVisible('#dev-banner')).toBe(true);
      expect(await w.page.evaluate('Object.keys(window.sessionStorage)')).not.toContain(
        'opal-force-sync.operator-key',
      );
      expect(w.problems).toEqual([]);
      await w.page.close();
    });

    it('runs a force sync with its options and follows it live to completed, without reloading or any 429', async () => {
      const w = await openConsole(t);
      const { page } = w;
      await page.waitForSelector('#force-sync', { state: 'visible' });
      // Markup typed as a client name comes back as text.
      const clientName = '<img src=x id=injected> Acme & "Co"';
      const syncId = await startForceSync(page, { scope: 'odp_only', clientName, allowConcurrent: true });

      await page.waitForSelector(`#current-id:text("${syncId}")`);
      // The page shows intermediate states before the end: it is following, not loading once.
      await page.waitForSelector('#current-status[data-status="running"]', { timeout: 30_000 });
      await screenshot(page, 'console-workflow-running');
      await page.waitForSelector('#current-status[data-status="completed"]', { timeout: 60_000 });
      expect(await page.textContent('#progress-percent')).toBe('100 %');
      const agents = await page.$$eval('#agents li', (items) =>
        items.map((item) => [item.getAttribute('data-agent'), item.getAttribute('data-status')]),
      );
      expect(agents).toEqual(OPAL_AGENTS.map((agent) => [agent, 'completed']));
      expect(await page.textContent('#current-facts')).toContain(clientName);
      expect(await page.$('#injected')).toBeNull();
      expect(await page.textContent('#attempts')).toContain('accepted');

      // The event timeline of the workflow: oldest first, ending with workflow_completed.
      await waitCount(page, '#timeline tr', 20);
      expect(await page.getAttribute('#timeline tr:last-child', 'data-event-type')).toBe(
        'workflow_completed',
      );
      const firstRow = await page.$$eval('#timeline tr:first-child td', (cells) =>
        cells.map((c) => c.textContent),
      );
      expect(firstRow[1]).toBe('workflow_started');
      expect(firstRow[3]).toBe('success');
      expect(firstRow[4]).toBe('processed');

      // The list saw it too, through its own stream.
      await view(page, 'workflows');
      await page.waitForSelector(`#workflows tr[data-sync-id="${syncId}"][data-status="completed"]`);
      expect(await page.textContent(`#workflows tr[data-sync-id="${syncId}"]`)).toContain(clientName);

      expect(w.navigations).toBe(1);
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('stays far below the read limit while a workflow is active: live through streams, not polling', async () => {
      const w = await openConsole(t);
      const { page } = w;
      await page.waitForSelector('#force-sync', { state: 'visible' });
      await page.waitForSelector('#live-state[data-state="live"]');
      const before = w.reads.length;
      const started = Date.now();
      const syncId = await startForceSync(page, { scope: 'content_platforms', allowConcurrent: true });
      await page.waitForSelector(`#current-id:text("${syncId}")`);
      await page.waitForSelector('#current-status[data-status="completed"]', { timeout: 60_000 });
      const elapsedSeconds = (Date.now() - started) / 1000;
      const reads = w.reads.length - before;
      // A fixed cost to open the workflow (read it, open its stream, its timeline and health), then at most one
      // read every two seconds however long it runs: a quarter of the default read limit (120 per minute).
      expect(reads).toBeLessThanOrEqual(10 + elapsedSeconds / 2);
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('lists workflows with a status filter and pages through them', async () => {
      for (let i = 0; i < 22; i++)
        await seedWorkflow(t.dataSource, { status: 'completed', createdMinutesAgo: 30 + i });
      await seedWorkflow(t.dataSource, {
        status: 'failed',
        createdMinutesAgo: 90,
        clientName: 'Failing client',
      });

      const w = await openConsole(t);
      const { page } = w;
      await view(page, 'workflows');
      await waitCount(page, '#workflows tr[data-sync-id]', 20);
      expect(await page.isEnabled('#workflows-older')).toBe(true);
      await page.click('#workflows-older');
      await waitCount(page, '#workflows tr[data-sync-id]', 5);
      expect(await page.textContent('#workflows-page')).toBe('Page 2');
      expect(await page.isEnabled('#workflows-older')).toBe(false);
      await page.click('#workflows-newest');
      await waitCount(page, '#workflows tr[data-sync-id]', 20);

      await page.selectOption('#workflows-status', 'failed');
      await page.click('#workflows-filter button[type=submit]');
      await waitCount(page, '#workflows tr[data-sync-id]', 1);
      expect(await page.getAttribute('#workflows tr[data-sync-id]', 'data-status')).toBe('failed');
      expect(await page.textContent('#workflows')).toContain('Failing client');

      // Open one: it becomes the current workflow.
      await page.click('#workflows tr[data-sync-id] button');
      await page.waitForSelector('#view-workflow:not([hidden])');
      await page.waitForSelector('#current-status[data-status="failed"]');
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('filters diagnostics by status, event type, workflow, agent and date window, and pages', async () => {
      const wf = await seedWorkflow(t.dataSource, { status: 'partially_completed', createdMinutesAgo: 120 });
      await seedEventStream(t.dataSource, wf, { failAgents: ['geo_audit'], receivedMinutesAgo: 120 });

      const w = await openConsole(t);
      const { page } = w;
      await view(page, 'diagnostics');
      await page.waitForSelector('#diag-events tr[data-event-id]');
      await page.selectOption('#diag-status', 'failed');
      await page.selectOption('#diag-event-type', 'agent_completed');
      await page.fill('#diag-workflow', wf.id);
      await page.selectOption('#diag-agent', 'geo_audit');
      const iso = (minutesAgo: number) => {
        const d = new Date(Date.now() - minutesAgo * 60_000 - new Date().getTimezoneOffset() * 60_000);
        return d.toISOString().slice(0, 16);
      };
      await page.fill('#diag-from', iso(180));
      await page.fill('#diag-to', iso(60));
      await page.click('#diag-search');
      await waitCount(page, '#diag-events tr[data-event-id]', 1);
      const row = await page.$$eval('#diag-events tr[data-event-id] td', (cells) =>
        cells.map((c) => c.textContent),
      );
      expect(row.slice(1, 6)).toEqual(['agent_completed', 'geo audit', wf.id, 'failed', 'processed']);
      expect(row[6]).toBe('geo_audit failed: upstream timeout');
      expect(await page.textContent('#diag-summary')).toContain('1 shown of 1 matching');

      // A window that ends before the events: nothing.
      await page.fill('#diag-to', iso(170));
      await page.click('#diag-search');
      await page.waitForSelector('#diag-events td.empty');

      // Paging: the workflow's 20 events, 25 per page, then a second page with the rest of the table.
      await page.selectOption('#diag-status', 'all');
      await page.selectOption('#diag-event-type', '');
      await page.fill('#diag-workflow', '');
      await page.selectOption('#diag-agent', '');
      await page.fill('#diag-from', '');
      await page.fill('#diag-to', '');
      await page.click('#diag-search');
      await waitCount(page, '#diag-events tr[data-event-id]', 25);
      await page.click('#diag-next');
      await waitText(page, '#diag-summary', /page 2/);
      expect(await page.$$eval('#diag-events tr[data-event-id]', (rows) => rows.length)).toBeGreaterThan(0);

      // An invalid window is refused with the service's message, shown as text.
      await page.fill('#diag-from', iso(10));
      await page.fill('#diag-to', iso(60));
      await page.click('#diag-search');
      await page.waitForSelector('#diag-answer[data-kind="error"]');
      expect(await page.textContent('#diag-answer')).toContain('400');
      expect(w.rateLimited).toEqual([]);
      expect(w.problems.filter((p) => !/status of 400/.test(p))).toEqual([]);
      await page.close();
    });

    it('shows system health without alerts, tests the configuration and cleans up with a dry-run count first', async () => {
      const w = await openConsole(t);
      const { page } = w;
      await view(page, 'health');
      await page.waitForSelector('#health dd');
      expect(await page.textContent('#health')).toContain('Database');
      expect(await page.textContent('#alerts-critical')).toBe('No critical alerts');

      await page.click('#test-config');
      await confirmDialog(page, 'Test the configuration?');
      await page.waitForSelector('#config-checks li');
      const checks = await page.$$eval('#config-checks li', (items) =>
        items.map((i) => [i.getAttribute('data-check'), i.getAttribute('data-ok')]),
      );
      expect(checks.map(([name]) => name)).toEqual(['configuration', 'database', 'migrations', 'opal_host']);
      expect(checks.find(([name]) => name === 'database')?.[1]).toBe('true');
      expect(await page.textContent('#config-answer')).toContain('mode simulator');

      // Events received 40 days ago: counted first, deleted only after confirmation.
      const old = await seedWorkflow(t.dataSource, { status: 'completed', createdMinutesAgo: 40 * 24 * 60 });
      await seedEventStream(t.dataSource, old, { receivedMinutesAgo: 40 * 24 * 60 });
      expect(await page.isEnabled('#cleanup-apply')).toBe(false);
      await page.fill('#cleanup-days', '30');
      await page.click('#cleanup-count');
      await waitText(page, '#cleanup-answer', /Dry run: 20 event\(s\)/);
      const [{ count: stillThere }] = await t.dataSource.query<{ count: string }[]>(
        `SELECT count(*) FROM webhook_events WHERE received_at < now() - interval '30 days'`,
      );
      expect(Number(stillThere)).toBe(20);
      await page.click('#cleanup-apply');
      await confirmDialog(page, 'About 20 event(s) older than 30 day(s)');
      await waitText(page, '#cleanup-answer', /Deleted 20 event\(s\)/);
      const [{ count: left }] = await t.dataSource.query<{ count: string }[]>(
        `SELECT count(*) FROM webhook_events WHERE received_at < now() - interval '30 days'`,
      );
      expect(Number(left)).toBe(0);
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });
  });

  describe('lifecycle, recovery and maintenance, default rate limits', () => {
    let t: TestApp;

    beforeAll(async () => {
      // Slow agents: a workflow stays active long enough to be cancelled from the page.
      t = await createTestApp({
        ...DEFAULT_LIMITS,
        OPERATOR_API_KEYS: undefined,
        OPAL_SIMULATOR_AGENT_DELAY_MS: '3000',
      });
      await resetDatabase(t.dataSource);
    });

    afterAll(async () => {
      await t?.close();
    });

    it('cancels an active workflow with a reason, then reruns it', async () => {
      const w = await openConsole(t);
      const { page } = w;
      await page.waitForSelector('#force-sync', { state: 'visible' });
      const first = await startForceSync(page, { scope: 'all_platforms' });
      await page.waitForSelector('#current-status[data-status="running"]', { timeout: 30_000 });
      expect(await page.isEnabled('#rerun-workflow')).toBe(false);
      await page.fill('#cancel-reason', 'wrong scope');
      await page.click('#cancel-workflow');
      await confirmDialog(page, 'Reason: wrong scope');
      await page.waitForSelector('#current-status[data-status="cancelled"]');
      expect(await page.textContent('#current-facts')).toContain('wrong scope');
      expect(await page.isEnabled('#cancel-workflow')).toBe(false);

      await page.click('#rerun-workflow');
      await confirmDialog(page, first);
      const text = await waitText(page, '#workflow-answer', /New workflow [0-9a-f-]{36}/);
      const second = /New workflow ([0-9a-f-]{36})/.exec(text)![1];
      expect(second).not.toBe(first);
      await page.waitForSelector(`#current-id:text("${second}")`);
      await waitText(page, '#current-facts', new RegExp(`Rerun of${first}`));
      // The rerun is active: it can be cancelled in turn.
      await page.waitForSelector('#cancel-workflow:not([disabled])');
      await page.click('#cancel-workflow');
      await confirmDialog(page, second);
      await page.waitForSelector('#current-status[data-status="cancelled"]');
      await screenshot(page, 'console-workflow-cancelled');
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('lists dead letters, requeues them after a dry run, and shows rejected deliveries', async () => {
      const unmatched = await seedEvent(t.dataSource, {
        eventType: 'agent_completed',
        workflowRef: 'opal-wf-nobody-knows',
        agentId: 'geo_audit',
        executionStatus: 'success',
        processingStatus: 'unmatched',
      });
      await seedRejected(t.dataSource, 'signature_invalid', 3);

      const w = await openConsole(t);
      const { page } = w;
      await view(page, 'dead-letters');
      await page.waitForSelector(`#dead-letters tr[data-event-id="${unmatched.id}"]`);
      expect(await page.textContent('#dead-letters')).toContain('opal-wf-nobody-knows');

      await page.click('#requeue-preview');
      await waitText(page, '#dead-answer', /Dry run: 1 unmatched event\(s\)/);
      const [row] = await t.dataSource.query<{ processing_status: string }[]>(
        `SELECT processing_status FROM webhook_events WHERE id = $1`,
        [unmatched.id],
      );
      expect(row.processing_status).toBe('unmatched');
      await page.click('#requeue-apply');
      await confirmDialog(page, '1 unmatched event(s)');
      await waitText(page, '#dead-answer', /Requeued 1 of 1/);

      await page.selectOption('#dead-kind', 'rejected');
      await page.click('#dead-form button[type=submit]');
      await waitText(page, '#dead-letters', /signature_invalid/);
      expect(await page.isEnabled('#requeue-preview')).toBe(false);
      await screenshot(page, 'console-dead-letters');
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('looks up one event and exports the diagnostics selection', async () => {
      const wf = await seedWorkflow(t.dataSource, { status: 'partially_completed', createdMinutesAgo: 5 });
      await seedEventStream(t.dataSource, wf, { failAgents: ['cmp_organizer'], receivedMinutesAgo: 5 });

      const w = await openConsole(t);
      const { page } = w;
      await view(page, 'diagnostics');
      await page.fill('#diag-workflow', wf.id);
      await page.click('#diag-search');
      await waitCount(page, '#diag-events tr[data-event-id]', 20);
      await page.click('#diag-events tr[data-event-id] button');
      await page.waitForSelector('#event-detail:not([hidden])');
      expect(await page.textContent('#event-detail-payload')).toContain(wf.opalWorkflowId ?? wf.id);

      await page.selectOption('#export-format', 'csv');
      const download = page.waitForEvent('download');
      await page.click('#diag-export');
      await confirmDialog(page, `workflow=${wf.id}`);
      await waitText(page, '#diag-answer', /Exported 20 event\(s\)/);
      expect((await download).suggestedFilename()).toBe('events.csv');
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('previews a bulk replay, then runs it and shows its progress to the end', async () => {
      // Failed workflows whose stored events say every agent completed: a replay turns them completed.
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const wf = await seedWorkflow(t.dataSource, { status: 'failed', createdMinutesAgo: 20 + i });
        await seedEventStream(t.dataSource, wf, { receivedMinutesAgo: 20 + i });
        ids.push(wf.id);
      }
      const w = await openConsole(t);
      const { page } = w;
      await view(page, 'dead-letters');
      await page.click('#bulk-preview');
      await waitText(page, '#bulk-answer', /Dry run: \d+ workflow\(s\) matched/);
      for (const id of ids) await page.waitForSelector(`#bulk-changes tr:has-text("${id}")`);
      expect(await page.textContent('#bulk-changes')).toContain('completed');
      const [{ count: stillFailed }] = await t.dataSource.query<{ count: string }[]>(
        `SELECT count(*) FROM workflows WHERE id = ANY($1) AND status = 'failed'`,
        [ids],
      );
      expect(Number(stillFailed)).toBe(3);

      await page.click('#bulk-apply');
      await confirmDialog(page, 'rebuilt from their stored events');
      await page.waitForSelector('#bulk-progress-line[data-status="completed"]', { timeout: 60_000 });
      expect(await page.textContent('#bulk-progress-text')).toMatch(/(\d+) \/ \1 · completed/);
      const [{ count: nowFailed }] = await t.dataSource.query<{ count: string }[]>(
        `SELECT count(*) FROM workflows WHERE id = ANY($1) AND status = 'failed'`,
        [ids],
      );
      expect(Number(nowFailed)).toBe(0);
      await screenshot(page, 'console-bulk-replay');
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('pauses write operations with a reason (banner, force sync refused), then resumes', async () => {
      const w = await openConsole(t);
      const { page } = w;
      await view(page, 'maintenance');
      await page.waitForSelector('#maintenance[data-mode="normal"]');
      await page.fill('#maintenance-reason', 'database restore');
      await page.click('#maintenance-toggle');
      await confirmDialog(page, 'Reason: database restore');
      await page.waitForSelector('#maintenance[data-mode="paused"]');
      expect(await page.textContent('#maintenance-banner')).toBe(
        'Maintenance: write operations paused (database restore)',
      );
      expect(await page.textContent('#maintenance')).toContain('database restore');
      await screenshot(page, 'console-maintenance-paused');

      await view(page, 'workflow');
      await page.selectOption('#scope', 'odp_only');
      await page.click('#force-sync');
      await confirmDialog(page, 'odp_only');
      await waitText(page, '#sync-answer', /503 MAINTENANCE_MODE/);
      expect(await page.getAttribute('#sync-answer', 'data-kind')).toBe('error');
      expect(await page.isVisible('#maintenance-banner')).toBe(true);

      await view(page, 'maintenance');
      await page.click('#maintenance-toggle');
      await confirmDialog(page, 'Resume write operations?');
      await page.waitForSelector('#maintenance[data-mode="normal"]');
      expect(await page.isVisible('#maintenance-banner')).toBe(false);
      expect(w.rateLimited).toEqual([]);
      expect(w.problems.filter((p) => !/status of 503/.test(p))).toEqual([]);
      await page.close();
    });
  });

  describe('operator keys configured, an agent failing, default rate limits', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await createTestApp({
        ...DEFAULT_LIMITS,
        OPAL_SIMULATOR_AGENT_DELAY_MS: '50',
        OPAL_SIMULATOR_FAIL_AGENTS: 'geo_audit',
        // One refused key is enough for the critical alert; any force sync answer raises the warning.
        ALERT_AUTH_FAILURES_MAX: '0',
        ALERT_FORCE_SYNC_RESPONSE_MS: '1',
      });
      await resetDatabase(t.dataSource);
    });

    afterAll(async () => {
      await t?.close();
    });

    it('asks for the key, asks again after a wrong one, and keeps the right one in this tab only', async () => {
      const session = await request(t.url).get('/api/admin/session').expect(200);
      expect(session.body).toEqual({ operator_routes: 'key_required', environment: 'test' });

      const w = await openConsole(t);
      const { page } = w;
      await page.waitForSelector('#key-panel', { state: 'visible' });
      expect(await page.isVisible('#dashboard')).toBe(false);
      expect(await page.isVisible('#dev-banner')).toBe(false);

      await page.fill('#key-input', `wrong-${'x'.repeat(40)}`);
      await page.click('#key-form button[type=submit]');
      await waitText(page, '#notice', /The operator key was refused/);
      await page.waitForSelector('#key-panel', { state: 'visible' });
      expect(await page.evaluate('Object.keys(window.sessionStorage)')).not.toContain(
        'opal-force-sync.operator-key',
      );

      await page.fill('#key-input', TEST_OPERATOR_KEY);
      await page.click('#key-form button[type=submit]');
      await page.waitForSelector('#force-sync', { state: 'visible' });
      await page.waitForSelector('#live-state[data-state="live"]');
      expect(await page.isVisible('#key-panel')).toBe(false);
      expect(await page.evaluate('window.localStorage.length')).toBe(0);
      expect(await page.evaluate('Object.keys(window.sessionStorage)')).toContain(
        'opal-force-sync.operator-key',
      );

      // The key survives a reload of the tab and the page still loads under the CSP.
      await page.reload();
      await page.waitForSelector('#force-sync', { state: 'visible' });
      expect(await page.isVisible('#key-panel')).toBe(false);
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('shows a failed agent as failed with its error, and the failed callback in the timeline', async () => {
      const w = await openWithKey(t);
      const { page } = w;
      await page.waitForSelector('#force-sync', { state: 'visible' });
      await startForceSync(page, { scope: 'priority_platforms' });
      await page.waitForSelector('#current-status[data-status="partially_completed"]', { timeout: 60_000 });
      const failed = await page.$('#agents li[data-agent="geo_audit"]');
      expect(await failed?.getAttribute('data-status')).toBe('failed');
      expect(await failed?.$eval('.agent-error', (node) => node.textContent)).toMatch(/\S/);
      expect(await page.$$eval('#agents li[data-status="completed"]', (items) => items.length)).toBe(8);
      await page.waitForSelector('#timeline tr[data-event-type="workflow_completed"]');
      expect(await page.textContent('#timeline')).toContain('failed');
      await screenshot(page, 'console-workflow-failed-agent');
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('previews a replay of the workflow (nothing written), then applies it after confirmation', async () => {
      const w = await openWithKey(t);
      const { page } = w;
      await page.waitForSelector('#current-status[data-status="partially_completed"]');
      await page.check('#replay-force');
      await page.click('#replay-preview');
      await page.waitForSelector('#replay-plan:not([hidden])');
      expect(await page.textContent('#replay-summary')).toMatch(/20 of 20 events would be applied/);
      const rows = await page.$$eval('#replay-changes tr', (items) => items.length);
      expect(rows).toBe(10);
      expect(await page.textContent('#replay-changes')).toContain('geo audit');
      await page.click('#replay-apply');
      await confirmDialog(page, 'Rebuilds');
      await waitText(page, '#workflow-answer', /event\(s\) replayed/);
      expect(await page.textContent('#workflow-answer')).toContain('Workflow now partially completed');
      const [{ count }] = await t.dataSource.query<{ count: string }[]>(
        `SELECT count(*) FROM audit_log WHERE action LIKE '%replay%'`,
      );
      expect(Number(count)).toBeGreaterThan(0);
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('shows the critical and warning alerts on the health view', async () => {
      const w = await openWithKey(t);
      const { page } = w;
      await view(page, 'health');
      await page.waitForSelector('#alerts-critical li[data-rule="auth_failures"]');
      await page.waitForSelector('#alerts-warning li[data-rule="force_sync_response_time"]');
      expect(await page.isVisible('#alert-count')).toBe(true);
      expect(await page.getAttribute('#alert-count', 'class')).toContain('critical');
      await screenshot(page, 'console-health-alerts');
      expect(w.rateLimited).toEqual([]);
      expect(w.problems).toEqual([]);
      await page.close();
    });

    it('is keyboard reachable with labelled controls and a visible focus, at 1400×900 and at 390 px', async () => {
      for (const viewport of [
        { width: 1400, height: 900 },
        { width: 390, height: 844 },
      ]) {
        const w = await openWithKey(t, viewport);
        const { page } = w;
        await page.waitForSelector('#force-sync', { state: 'visible' });

        // Every control has a name a screen reader can say.
        const unlabelled = await page.$$eval('input, select, button, a[href]', (nodes) =>
          nodes
            .filter((n) => (n as unknown as { offsetParent: unknown }).offsetParent !== null)
            .filter((n) => {
              const labels = (n as unknown as { labels?: { length: number } }).labels;
              const named =
                (labels && labels.length > 0) ||
                n.getAttribute('aria-label') ||
                ((n.tagName === 'BUTTON' || n.tagName === 'A') && n.textContent?.trim());
              return !named;
            })
            .map((n) => n.outerHTML.slice(0, 80)),
        );
        expect(unlabelled).toEqual([]);

        // Tab reaches the view links, then the force sync form; the focused element has a visible outline.
        const reached: string[] = [];
        for (let i = 0; i < 20; i++) {
          await page.keyboard.press('Tab');
          const info = await page.evaluate<{ id: string; outline: string }>(`(() => {
            const a = document.activeElement;
            return { id: a.id || a.getAttribute('data-view') || a.tagName, outline: getComputedStyle(a).outlineStyle };
          })()`);
          reached.push(info.id);
          expect([info.id, info.outline]).not.toEqual([info.id, 'none']);
          if (info.id === 'force-sync') break;
        }
        expect(reached).toEqual(expect.arrayContaining(['workflows', 'health', 'scope', 'force-sync']));

        // Keyboard only: open the health view from its link.
        await page.focus('.tabs a[data-view="health"]');
        await page.keyboard.press('Enter');
        await page.waitForSelector('#view-health:not([hidden])');

        // Nothing wider than the window (tables scroll inside their own box).
        for (const name of VIEWS) {
          await view(page, name);
          // Each view shows what it read before it is measured and photographed.
          if (name === 'diagnostics') await waitText(page, '#diag-summary', /matching/);
          if (name === 'dead-letters') await page.waitForSelector('#dead-letters tr');
          if (name === 'maintenance') await page.waitForSelector('#maintenance dd');
          if (name === 'health') await page.waitForSelector('#health dd');
          const overflow = await page.evaluate<number>(
            'document.documentElement.scrollWidth - document.documentElement.clientWidth',
          );
          expect([name, overflow]).toEqual([name, 0]);
          await screenshot(page, `console-${name}-${viewport.width}`);
        }
        expect(w.rateLimited).toEqual([]);
        expect(w.problems.filter((p) => !/status of 404/.test(p))).toEqual([]);
        await page.close();
      }
    });
  });
});
