import { testHmac } from '../../support/hmac';
import { OPAL_AGENTS } from '../../../src/domain/opal';
import { WEBHOOK_SECRET } from './harness';
import { http } from './http';

export { WEBHOOK_PATH } from '../../../src/domain/routes';
import { WEBHOOK_PATH } from '../../../src/domain/routes';

export interface OutgoingEvent {
  /** The event's `event_id`: the receiver's idempotency key. */
  id: string;
  body: string;
}

export type Outcome = 'accepted' | 'already_stored' | 'cut_off';

export interface SenderFigures {
  sent: number;
  attempts: number;
  /** 202: stored by this attempt. */
  accepted: number;
  /** 409 without an earlier 202: stored by an attempt whose answer was lost (crash, reset). */
  alreadyStored: number;
  cutOff: number;
  answers: Record<string, number>;
  maxMsToDone: number;
}

/** A small deterministic generator, so a failing run can be repeated with the same events. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` unique events spread over `workflowIds`: agent starts and completions (some failed), a few workflow starts
 * and, rarely, a workflow end, so processing really changes state and the order of application matters.
 */
export function makeEvents(prefix: string, workflowIds: string[], n: number, seed = 1): OutgoingEvent[] {
  const random = rng(seed);
  const events: OutgoingEvent[] = [];
  for (let i = 0; i < n; i++) {
    const workflowId = workflowIds[i % workflowIds.length];
    const agent = OPAL_AGENTS[Math.floor(random() * OPAL_AGENTS.length)];
    const roll = random();
    const id = `${prefix}-${i}`;
    let fields: Record<string, unknown>;
    if (roll < 0.02) fields = { event_type: 'workflow_started' };
    else if (roll < 0.021) fields = { event_type: 'workflow_completed' };
    else if (roll < 0.45)
      fields = { event_type: 'agent_started', agent_id: agent, execution_status: 'pending' };
    else if (roll < 0.8)
      fields = {
        event_type: 'agent_completed',
        agent_id: agent,
        execution_status: 'success',
        agent_data: { n: i },
      };
    else
      fields = {
        event_type: 'agent_completed',
        agent_id: agent,
        execution_status: 'failure',
        error: { code: 'AGENT_FAILED', message: `failure ${i}` },
      };
    const body = {
      event_id: id,
      workflow_id: workflowId,
      workflow_name: 'strategy_workflow',
      ...fields,
      timestamp: new Date().toISOString(),
    };
    events.push({ id, body: JSON.stringify(body) });
  }
  return events;
}

export function signedHeaders(body: string, secret = WEBHOOK_SECRET): Record<string, string> {
  return { 'Content-Type': 'application/json', 'X-OSA-Signature': testHmac(secret).sign(body) };
}

/**
 * Posts signed events the way OPAL does: every answer other than 2xx or 409 (already stored), and every connection
 * error, is retried with a capped backoff until the deadline; what is still not done then is "cut off".
 * With several targets, attempts alternate between them.
 */
export class RetryingSender {
  readonly figures: SenderFigures = {
    sent: 0,
    attempts: 0,
    accepted: 0,
    alreadyStored: 0,
    cutOff: 0,
    answers: {},
    maxMsToDone: 0,
  };
  readonly outcomes = new Map<string, Outcome>();
  /** Answers seen, with the time, for checks such as "503 while the database was down". */
  readonly timeline: { at: number; answer: string }[] = [];
  private stopped = false;

  constructor(
    private readonly targets: string[],
    private readonly options: { concurrency: number; deadlineMs: number; keepTimeline?: boolean },
  ) {}

  get done(): number {
    return this.figures.accepted + this.figures.alreadyStored;
  }

  stop(): void {
    this.stopped = true;
  }

  async run(events: OutgoingEvent[]): Promise<SenderFigures> {
    const deadline = Date.now() + this.options.deadlineMs;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < events.length) {
        const index = next++;
        await this.deliver(events[index], index, deadline);
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, () => worker()));
    return this.figures;
  }

  private count(answer: string): void {
    this.figures.answers[answer] = (this.figures.answers[answer] ?? 0) + 1;
    if (this.options.keepTimeline) this.timeline.push({ at: Date.now(), answer });
  }

  private async deliver(event: OutgoingEvent, index: number, deadline: number): Promise<void> {
    this.figures.sent += 1;
    const began = Date.now();
    let backoffMs = 25;
    for (let attempt = 0; ; attempt++) {
      if (this.stopped || Date.now() > deadline) {
        this.outcomes.set(event.id, 'cut_off');
        this.figures.cutOff += 1;
        return;
      }
      const target = this.targets[(index + attempt) % this.targets.length];
      this.figures.attempts += 1;
      try {
        const answer = await http(`${target}${WEBHOOK_PATH}`, {
          method: 'POST',
          headers: signedHeaders(event.body),
          body: event.body,
          timeoutMs: 10_000,
          maxSockets: this.options.concurrency,
        });
        this.count(String(answer.status));
        if (answer.status >= 200 && answer.status < 300) {
          this.finish(event.id, 'accepted', began);
          return;
        }
        if (answer.status === 409) {
          this.finish(event.id, 'already_stored', began);
          return;
        }
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).message;
        this.count(`conn:${code}`);
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs * (0.5 + Math.random() / 2)));
      backoffMs = Math.min(backoffMs * 2, 1000);
    }
  }

  private finish(id: string, outcome: Outcome, began: number): void {
    this.outcomes.set(id, outcome);
    if (outcome === 'accepted') this.figures.accepted += 1;
    else this.figures.alreadyStored += 1;
    this.figures.maxMsToDone = Math.max(this.figures.maxMsToDone, Date.now() - began);
  }
}
