import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { OPAL_AGENTS } from '../../../src/domain/opal';
import { waitFor } from '../../support/wait';
import { operatorHeaders } from './harness';
import { json } from './http';
import type { OutgoingEvent, RetryingSender } from './sender';

/** Workflow rows as force sync leaves them once OPAL accepted them, with their nine pending agents. */
export async function insertWorkflows(pool: Pool, n: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                              triggered_by, outbound_payload, trigger_attempts, created_at, triggered_at)
       VALUES ($1, $2, $3, 'force_sync', 'triggered', 'priority_platforms', $4, 'reliability', '{}'::jsonb, 1,
               now(), now())`,
      [id, `force-sync-${Date.now()}-${id.slice(0, 8)}`, `opal-wf-${id.slice(0, 8)}`, `${label}-${i}`],
    );
    await pool.query(
      `INSERT INTO agent_runs (workflow_id, agent_id, status) SELECT $1, unnest($2::text[]), 'pending'`,
      [id, [...OPAL_AGENTS]],
    );
    ids.push(id);
  }
  return ids;
}

export interface StoredFigures {
  stored: number;
  /** Stored rows beyond the first for one event id: must be 0. */
  duplicates: number;
  ids: Set<string>;
}

export async function storedEvents(pool: Pool, prefix: string): Promise<StoredFigures> {
  const rows: { source_event_id: string; n: number }[] = (
    await pool.query(
      `SELECT source_event_id, count(*)::int AS n FROM webhook_events
        WHERE source_event_id LIKE $1 GROUP BY source_event_id`,
      [`${prefix}-%`],
    )
  ).rows;
  return {
    stored: rows.reduce((sum, row) => sum + row.n, 0),
    duplicates: rows.reduce((sum, row) => sum + (row.n - 1), 0),
    ids: new Set(rows.map((row) => row.source_event_id)),
  };
}

/** Waits until none of the events is pending; resolves with the processing statuses. */
export async function waitProcessed(
  pool: Pool,
  prefix: string,
  timeoutMs = 120_000,
): Promise<Record<string, number>> {
  const counts = async (): Promise<Record<string, number>> => {
    const rows: { processing_status: string; n: number }[] = (
      await pool.query(
        `SELECT processing_status, count(*)::int AS n FROM webhook_events
          WHERE source_event_id LIKE $1 GROUP BY processing_status`,
        [`${prefix}-%`],
      )
    ).rows;
    return Object.fromEntries(rows.map((row) => [row.processing_status, row.n]));
  };
  await waitFor(async () => ((await counts()).pending ?? 0) === 0, `events ${prefix}-* processed`, {
    timeoutMs,
    intervalMs: 250,
  });
  return counts();
}

/**
 * Every event sent accounted for: acknowledged ones are stored (else "lost"), each stored once; cut-off events
 * (never acknowledged) may or may not be stored.
 */
export function accountFor(
  events: OutgoingEvent[],
  sender: RetryingSender,
  stored: StoredFigures,
): Record<string, number> {
  let lost = 0;
  let storedUnacknowledged = 0;
  for (const event of events) {
    const outcome = sender.outcomes.get(event.id);
    if (outcome === 'accepted' || outcome === 'already_stored') {
      if (!stored.ids.has(event.id)) lost += 1;
    } else if (stored.ids.has(event.id)) storedUnacknowledged += 1;
  }
  const unaccounted = events.length - sender.outcomes.size;
  return {
    sent: events.length,
    acknowledged_202: sender.figures.accepted,
    acknowledged_409_answer_lost_earlier: sender.figures.alreadyStored,
    cut_off: sender.figures.cutOff,
    stored: stored.stored,
    duplicates: stored.duplicates,
    lost,
    stored_but_cut_off: storedUnacknowledged,
    unaccounted,
  };
}

export interface StateComparison {
  workflows: number;
  mismatches: { id: string; live: unknown; replay: unknown }[];
}

/** Each workflow's live state against a dry-run replay of all its stored events from scratch. */
export async function compareWithReplay(baseUrl: string, workflowIds: string[]): Promise<StateComparison> {
  const mismatches: StateComparison['mismatches'] = [];
  for (const id of workflowIds) {
    const replay = await json<{ resulting_state: { status: string; agents: Record<string, string> } }>(
      `${baseUrl}/api/orchestrations/replay`,
      {
        headers: operatorHeaders(),
        body: { workflow_id: id, dry_run: true, replay_options: { force_reprocess: true } },
      },
    );
    const live = await json<{ status: string; agents: { agent_id: string; status: string }[] }>(
      `${baseUrl}/api/opal/sync/${id}`,
      { headers: operatorHeaders() },
    );
    if (replay.status !== 200 || live.status !== 200) {
      mismatches.push({ id, live: live.status, replay: replay.status });
      continue;
    }
    const liveState = {
      status: live.body.status,
      agents: Object.fromEntries(live.body.agents.map((a) => [a.agent_id, a.status])),
    };
    const expected = replay.body.resulting_state;
    const same =
      liveState.status === expected.status &&
      OPAL_AGENTS.every((agent) => liveState.agents[agent] === expected.agents[agent]);
    if (!same) mismatches.push({ id, live: liveState, replay: expected });
  }
  return { workflows: workflowIds.length, mismatches };
}

/** Scrapes the Prometheus text and returns the value of each named series without labels. */
export async function scrape(baseUrl: string, names: string[]): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`, {
    headers: operatorHeaders(),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  const values: Record<string, number> = {};
  for (const name of names) {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    if (match) values[name] = Number(match[1]);
  }
  return values;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
}
