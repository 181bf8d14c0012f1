import { JobRunner } from '../src/jobs/job-runner';
import { JOBS, PeriodicJobs } from '../src/jobs/periodic-jobs';
import { createTestApp, resetDatabase, type TestApp } from './support/app';
import { waitFor } from './support/wait';
import { insertWorkflow, workflowStatus } from './support/webhooks';

interface LeaseRow {
  holder: string | null;
  lease_expires_at: Date | null;
  last_run_at: Date | null;
  last_result: Record<string, unknown> | null;
}

describe('the scheduler: jobs under leases with an expiry (e2e)', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await createTestApp();
    b = await createTestApp();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });
  beforeEach(async () => {
    await resetDatabase(a.dataSource);
  });

  const lease = async (name: string): Promise<LeaseRow> =>
    (await a.dataSource.query(`SELECT * FROM job_leases WHERE name = $1`, [name]))[0] as LeaseRow;

  it('runs a due job on one instance of two, once per interval', async () => {
    // A job of this test's own, so that no scheduler tick of either app runs it meanwhile.
    const job = { name: 'test_once_per_interval', everyMs: 30_000, leaseMs: 60_000 };
    let runs = 0;
    const work = () => Promise.resolve({ run: ++runs });
    const results = await Promise.all([
      a.app.get(JobRunner).runLeased(job, work),
      b.app.get(JobRunner).runLeased(job, work),
      a.app.get(JobRunner).runLeased(job, work),
      b.app.get(JobRunner).runLeased(job, work),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(runs).toBe(1);
    expect(await lease(job.name)).toMatchObject({
      holder: null,
      lease_expires_at: null,
      last_result: { run: 1 },
    });
    // Within its interval neither instance runs it again; once it is due, the next to ask does.
    expect(await b.app.get(JobRunner).runLeased(job, work)).toBe(false);
    await a.dataSource.query(
      `UPDATE job_leases SET last_run_at = now() - interval '31 seconds' WHERE name = $1`,
      [job.name],
    );
    expect(await b.app.get(JobRunner).runLeased(job, work)).toBe(true);
    expect(runs).toBe(2);
  });

  it("takes over a crashed holder's job once its lease expires, not a whole interval later", async () => {
    const stale = await insertWorkflow(a.dataSource, { createdMinutesAgo: 11, status: 'running' });
    // What an instance that died mid-run leaves behind: its lease (about to expire) and no completed run since
    // long ago. (A live holder would renew the lease every third of its length.)
    await a.dataSource.query(
      `INSERT INTO job_leases (name, holder, lease_expires_at, last_run_at)
       VALUES ($1, 'crashed-instance', now() + interval '1500 milliseconds', now() - interval '1 hour')`,
      [JOBS.timeoutSweep.name],
    );
    const sweep = () => b.app.get(PeriodicJobs).sweepTimeouts();
    expect(await sweep()).toBe(false);
    expect((await workflowStatus(a.dataSource, stale.id)).status).toBe('running');

    await waitFor(sweep, 'the sweep taken over by the other instance', {
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    const row = await lease(JOBS.timeoutSweep.name);
    expect(row.holder).toBeNull();
    expect(row.last_result).toEqual({ timed_out: 1 });
    expect((await workflowStatus(a.dataSource, stale.id)).status).toBe('timed_out');
  });

  it('renews the lease while a run goes on; nobody else runs the job meanwhile', async () => {
    const runner = a.app.get(JobRunner);
    const job = { name: 'test_long_job', everyMs: 60_000, leaseMs: 600 };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const run = runner.runLeased(job, async () => {
      await gate;
      return { done: true };
    });
    await waitFor(async () => (await lease(job.name))?.holder === runner.holder, 'lease taken');
    const first = (await lease(job.name)).lease_expires_at!.getTime();
    await waitFor(
      async () => ((await lease(job.name)).lease_expires_at?.getTime() ?? 0) > first,
      'lease renewed while the run goes on',
    );
    // Meanwhile nobody else may run it.
    expect(await b.app.get(JobRunner).runLeased(job, () => Promise.resolve({ done: 'twice' }))).toBe(false);
    release();
    expect(await run).toBe(true);
    expect(await lease(job.name)).toMatchObject({ holder: null, last_result: { done: true } });
  });
});
