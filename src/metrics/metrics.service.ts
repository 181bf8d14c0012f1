import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OPAL_AGENTS } from '../domain/opal';
import { FINISHED_AGENT_STATUSES, TERMINAL_WORKFLOW_STATUSES } from '../domain/workflow';

/** Buckets of workflow_duration_seconds (deploy/prometheus/alerts.test.yml uses the same). */
export const WORKFLOW_DURATION_BUCKETS = [5, 15, 30, 60, 120, 180, 240, 300, 480, 600, 900];

/** The results of webhook_events_processed_total. */
export const WEBHOOK_PROCESSING_RESULTS = ['processed', 'failed', 'unmatched'] as const;
export type WebhookProcessingResult = (typeof WEBHOOK_PROCESSING_RESULTS)[number];

/** The service's Prometheus series. One registry per app instance (tests boot several apps in one process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route template and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly forceSyncOutcomes = new Counter({
    name: 'force_sync_requests_total',
    help: 'Force sync and orchestration trigger answers by outcome',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly opalAttempts = new Counter({
    name: 'opal_trigger_attempts_total',
    help: 'Calls to OPAL by outcome (accepted, retryable, rejected) and status code (none = network error)',
    labelNames: ['outcome', 'status_code'] as const,
    registers: [this.registry],
  });
  readonly opalDuration = new Histogram({
    name: 'opal_trigger_duration_seconds',
    help: 'Latency of calls to OPAL',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly webhookEvents = new Counter({
    name: 'webhook_events_total',
    help: 'Webhook deliveries by result (accepted, duplicate, rejected) and rejection reason',
    labelNames: ['result', 'reason'] as const,
    registers: [this.registry],
  });
  readonly processingLag = new Histogram({
    name: 'webhook_processing_lag_seconds',
    help: 'Time from receipt of an event until it was applied to the workflow state',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly processingBacklog = new Gauge({
    name: 'webhook_processing_backlog',
    help: 'Stored events not yet processed (sampled at scrape)',
    registers: [this.registry],
    collect: () => this.sample(),
  });
  readonly activeWorkflows = new Gauge({
    name: 'workflows_active',
    help: 'Workflows triggered or running, waiting for OPAL callbacks (sampled at scrape)',
    registers: [this.registry],
    collect: () => this.sample(),
  });
  readonly databaseUp = new Gauge({
    name: 'database_up',
    help: '1 when the scrape-time database sample succeeded, 0 when the database was unreachable',
    registers: [this.registry],
    collect: () => this.sample(),
  });
  readonly authFailures = new Counter({
    name: 'auth_failures_total',
    help: 'Failed operator authentications by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'rate_limited_total',
    help: 'Requests refused with 429 by rate limit group (webhook, sync, admin, read)',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });
  readonly rateLimiterErrors = new Counter({
    name: 'rate_limiter_storage_errors_total',
    help: 'Rate limit checks that could not reach the shared (Redis) storage and fell back to per-instance limits',
    registers: [this.registry],
  });
  readonly liveStreams = new Gauge({
    name: 'live_streams_open',
    help: 'Live progress streams (server-sent events) open on this instance, by kind (sync, list)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly liveFrames = new Counter({
    name: 'live_frames_sent_total',
    help: 'Live progress frames written, by event (snapshot, progress, end, workflow)',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly liveNotifyLag = new Histogram({
    name: 'live_notify_lag_seconds',
    help: "Time from this instance's commit of a workflow change until its cross-instance notification arrived",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly liveFeedGaps = new Counter({
    name: 'live_feed_gaps_total',
    help: 'Times the cross-instance change feed (LISTEN connection) was lost and restored',
    registers: [this.registry],
  });

  // Service levels (contract section 15): outcomes counted by the instance whose write path stored them, after
  // commit. Prometheus sums the instances, so each transition is counted exactly once across the deployment.
  readonly workflowsFinished = new Counter({
    name: 'workflows_finished_total',
    help: 'Workflows that reached a terminal status, by that status (counted once, when they first finish)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly workflowDuration = new Histogram({
    name: 'workflow_duration_seconds',
    help: 'Time from the creation of a workflow to its terminal status',
    // 480 s (the 8-minute service level) is a boundary, so the p95 alert compares exactly; the last finite
    // bucket reaches the 15-minute default workflow timeout.
    buckets: WORKFLOW_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly workflowFirstCallback = new Histogram({
    name: 'workflow_first_callback_seconds',
    help: "Time from the creation of a workflow to the receipt of OPAL's first callback for it",
    buckets: [1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300],
    registers: [this.registry],
  });
  readonly agentRunsFinished = new Counter({
    name: 'agent_runs_finished_total',
    help: 'Agent runs that reached a terminal status (completed, failed, timed_out), by agent and status',
    labelNames: ['agent', 'status'] as const,
    registers: [this.registry],
  });
  readonly webhookEventsProcessed = new Counter({
    name: 'webhook_events_processed_total',
    help: 'Stored webhook events handled by the processing loop, by result (processed, failed, unmatched)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private sampler: (() => Promise<void>) | null = null;
  private sampling: Promise<void> | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Series that alert rules compare against zero must exist before their first event.
    for (const result of ['accepted', 'duplicate'] as const) this.webhookEvents.inc({ result }, 0);
    this.webhookEvents.inc({ result: 'rejected', reason: 'signature_invalid' }, 0);
    for (const outcome of ['accepted', 'retry_scheduled', 'rejected', 'configuration_error'] as const) {
      this.forceSyncOutcomes.inc({ endpoint: 'force_sync', outcome }, 0);
    }
    // The service-level series exist at zero from the start, so rates and the dashboard see them before the
    // first outcome (a status added to the vocabulary gets its series here too).
    for (const status of TERMINAL_WORKFLOW_STATUSES) this.workflowsFinished.inc({ status }, 0);
    for (const agent of OPAL_AGENTS) {
      for (const status of FINISHED_AGENT_STATUSES) this.agentRunsFinished.inc({ agent, status }, 0);
    }
    for (const result of WEBHOOK_PROCESSING_RESULTS) this.webhookEventsProcessed.inc({ result }, 0);
  }

  /** Installs the scrape-time database sample (backlog, active workflows, database_up). */
  setSampler(sampler: () => Promise<void>): void {
    this.sampler = sampler;
  }

  /** One sample per scrape, shared by the gauges that read it. */
  private async sample(): Promise<void> {
    if (!this.sampler) return;
    if (!this.sampling) {
      this.sampling = this.sampler().finally(() => {
        this.sampling = null;
      });
    }
    await this.sampling;
  }
}
