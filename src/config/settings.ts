/**
 * The service's settings: parsed from the environment, validated with every problem reported at once.
 * Nothing outside `src/config` reads `process.env`; everything else receives a typed `Settings`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { OPAL_AGENTS } from '../domain/opal';
import { WEBHOOK_PATH } from '../domain/routes';

export type NodeEnv = 'development' | 'test' | 'production';

export interface AlertThresholds {
  forceSyncSuccessRateMin: number;
  forceSyncWindowMinutes: number;
  noWebhookMinutes: number;
  authFailuresMax: number;
  authFailuresWindowMinutes: number;
  forceSyncResponseMs: number;
  backlogMax: number;
  signatureFailureRatePercent: number;
  /** Service levels (contract section 15), evaluated over the last hour. */
  workflowSuccessRateMin: number;
  agentSuccessRateMin: number;
  workflowP95DurationSeconds: number;
  eventProcessingSuccessRateMin: number;
}

export interface Settings {
  nodeEnv: NodeEnv;
  isProduction: boolean;
  port: number;
  /**
   * null: GET /metrics is served on `port` with the API. A port: a second HTTP server serves only GET /metrics
   * there, so it need not be reachable from where the API is, and the API's port answers 404 for /metrics.
   */
  metricsPort: number | null;
  /**
   * The address to listen on; undefined = every interface. Outside production with operator routes open (no
   * OPERATOR_API_KEYS) the default is 127.0.0.1, so that nothing on the network can reach the open routes.
   */
  host: string | undefined;
  /** Most simultaneous connections the HTTP server accepts; beyond, new connections are closed at once. */
  maxConnections: number;
  /** Public URL of this service; the callback URL given to OPAL is derived from it. */
  baseUrl: string;
  dataDir: string;
  databaseUrl: string | null;
  dbPoolSize: number;
  debug: boolean;
  /** `pretty` (readable lines) when stdout is a terminal, `json` otherwise; LOG_FORMAT overrides. */
  logFormat: 'json' | 'pretty';
  opal: {
    /** null → the built-in simulator is used (never in production). */
    webhookUrl: string | null;
    authKey: string;
    /** true when the auth key was generated for development (so it can only talk to the simulator). */
    authKeyGenerated: boolean;
    workspaceId: string | null;
    timeoutMs: number;
    retryBaseDelayMs: number;
    retryMaxDelayMs: number;
    maxAttempts: number;
    forceSyncResponseBudgetMs: number;
  };
  simulator: {
    agentDelayMs: number;
    failAgents: string[];
    triggerFailures: number;
    /** Standalone simulator (`npm run opal:sim`) only: its port and where it sends callbacks. */
    port: number;
    callbackUrl: string;
  };
  webhook: {
    /** One secret, or two during a rotation; either verifies. The first signs (simulator). */
    secrets: string[];
    secretGenerated: boolean;
    toleranceSeconds: number;
  };
  workflowTimeoutMinutes: number;
  eventRetentionDays: number;
  operatorApiKeys: string[];
  rateLimits: { webhookPerMin: number; syncPerMin: number; adminPerMin: number; readPerMin: number };
  redisUrl: string | null;
  /** Express `trust proxy` value; false = the socket address is the client address. */
  trustProxy: boolean | number | string;
  corsOrigins: string[];
  shutdownGraceMs: number;
  /** Live progress streams (server-sent events), per instance. */
  live: { maxStreams: number; heartbeatSeconds: number };
  alerts: AlertThresholds;
}

export type Env = Record<string, string | undefined>;

/**
 * Every variable the service reads, with its description. `.env.example` is checked against this list by a test.
 */
export const ENV_VARIABLES: Record<string, string> = {
  NODE_ENV: 'development | test | production (default development)',
  PORT: 'HTTP port (default 3000)',
  METRICS_PORT: 'serve GET /metrics on this port only (PORT then answers 404 for it); unset = on PORT',
  HOST: 'address to listen on (default: every interface; 127.0.0.1 outside production while OPERATOR_API_KEYS is unset)',
  MAX_CONNECTIONS: 'most simultaneous HTTP connections; beyond, new ones are closed at once (default 1024)',
  BASE_URL: 'public URL of this service; must be https in production (default http://localhost:<PORT>)',
  DATA_DIR: 'folder for the embedded PostgreSQL and generated development secrets (default .data)',
  DATABASE_URL: 'PostgreSQL URL; unset outside production = embedded PostgreSQL in DATA_DIR',
  DB_POOL_SIZE: 'connections in the pool (default 10)',
  OPAL_DEBUG_MODE: 'true adds debug log lines (still masked)',
  LOG_FORMAT:
    'json | pretty (default: pretty when stdout is a terminal, json otherwise); secrets masked in both',
  OPAL_WEBHOOK_URL: "OPAL's strategy_workflow webhook URL; unset outside production = built-in simulator",
  OPAL_STRATEGY_WORKFLOW_AUTH_KEY: 'Bearer key for the call to OPAL (>= 32 chars in production)',
  OPAL_WORKSPACE_ID: 'OPAL workspace id sent in the trigger metadata',
  OPAL_TIMEOUT_MS: 'timeout of one call to OPAL (default 10000)',
  OPAL_RETRY_BASE_DELAY_MS: 'retry backoff base (default 2000)',
  OPAL_RETRY_MAX_DELAY_MS: 'retry backoff cap (default 60000)',
  OPAL_MAX_ATTEMPTS: 'attempts per trigger (default 6)',
  FORCE_SYNC_RESPONSE_BUDGET_MS: 'how long a force sync waits for OPAL before answering 202 (default 1500)',
  OPAL_SIMULATOR_AGENT_DELAY_MS: 'simulator: delay per agent (default 300)',
  OPAL_SIMULATOR_FAIL_AGENTS: 'simulator: comma-separated agent ids that fail',
  OPAL_SIMULATOR_TRIGGER_FAILURES: 'simulator: first N trigger calls answer 503 (default 0)',
  OPAL_SIMULATOR_PORT: 'standalone simulator (npm run opal:sim): port (default 4010)',
  OPAL_SIMULATOR_CALLBACK_URL: 'standalone simulator: receiver URL for callbacks',
  OSA_WEBHOOK_SHARED_SECRET: 'HMAC secret(s) for X-OSA-Signature; two comma-separated during rotation',
  OSA_WEBHOOK_SECRET: 'alias of OSA_WEBHOOK_SHARED_SECRET',
  WEBHOOK_TOLERANCE_SECONDS: 'max age of a signature timestamp (default 300)',
  WORKFLOW_TIMEOUT_MINUTES: 'a workflow without a terminal event is timed_out after this (default 10)',
  EVENT_RETENTION_DAYS: 'daily cleanup deletes events older than this (default 30)',
  OPERATOR_API_KEYS: 'comma-separated operator bearer keys (each >= 32 chars); required in production',
  RATE_LIMIT_WEBHOOK_PER_MIN: 'webhook receiver limit per client (default 1200; 0 = off)',
  RATE_LIMIT_SYNC_PER_MIN: 'force sync and trigger limit per client (default 30; 0 = off)',
  RATE_LIMIT_ADMIN_PER_MIN: 'replay and diagnostics POST limit per client (default 30; 0 = off)',
  RATE_LIMIT_READ_PER_MIN: 'reads limit per client (default 120; 0 = off)',
  REDIS_URL: 'Redis URL; when set, rate limits are shared by all instances',
  TRUST_PROXY:
    'proxies to believe for X-Forwarded-For (true, a hop count, or addresses/subnets); unset = none',
  CORS_ORIGINS: 'comma-separated origins allowed by CORS; unset = no cross-origin access',
  SHUTDOWN_GRACE_MS: 'how long SIGTERM waits for in-flight requests (default 10000)',
  SSE_MAX_STREAMS:
    'most live progress streams open on one instance; beyond, 503 TOO_MANY_STREAMS (default 1000)',
  SSE_HEARTBEAT_SECONDS: 'a keep-alive comment on every live progress stream this often (default 15)',
  ALERT_FORCE_SYNC_SUCCESS_RATE_MIN:
    'critical alert below this force sync success rate, percent (default 90)',
  ALERT_FORCE_SYNC_WINDOW_MINUTES: 'window of the force sync success rate (default 15)',
  ALERT_NO_WEBHOOK_MINUTES:
    'critical alert when no event for this long while a workflow is active (default 60)',
  ALERT_AUTH_FAILURES_MAX: 'critical alert above this many authentication failures (default 5)',
  ALERT_AUTH_FAILURES_WINDOW_MINUTES: 'window of the authentication failure count (default 10)',
  ALERT_FORCE_SYNC_RESPONSE_MS: 'warning when a force sync answer took longer (default 5000)',
  ALERT_BACKLOG_MAX: 'warning above this many unprocessed events (default 100)',
  ALERT_SIGNATURE_FAILURE_RATE: 'warning above this signature failure rate, percent (default 10)',
  ALERT_WORKFLOW_SUCCESS_RATE_MIN:
    'critical alert below this workflow success rate over the last hour, percent (default 90)',
  ALERT_AGENT_SUCCESS_RATE_MIN:
    'warning below this agent success rate over the last hour, percent (default 95)',
  ALERT_WORKFLOW_P95_DURATION_SECONDS:
    'warning above this p95 workflow duration over the last hour, seconds (default 480)',
  ALERT_EVENT_PROCESSING_SUCCESS_RATE_MIN:
    'warning below this event processing success rate over the last hour, percent (default 99)',
};

const PLACEHOLDER_MARKERS = [
  'your-',
  'your_',
  'placeholder',
  'example',
  'changeme',
  'change-me',
  'dev-',
  'test-',
  'xxx',
  '<',
];

export function looksLikePlaceholder(value: string): boolean {
  const lower = value.toLowerCase();
  return PLACEHOLDER_MARKERS.some((marker) => lower.includes(marker));
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

interface DevSecrets {
  opalAuthKey: string;
  webhookSecret: string;
}

/** Generated development secrets live in DATA_DIR so that restarts and the simulator agree on them. */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (parsed.opalAuthKey && parsed.webhookSecret) return parsed as DevSecrets;
  }
  const secrets: DevSecrets = {
    opalAuthKey: randomBytes(24).toString('hex'),
    webhookSecret: randomBytes(24).toString('hex'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value)) {
      this.problems.push(`${name} must be an integer`);
      return fallback;
    }
    const n = Number(value);
    if (n < min || n > max) {
      this.problems.push(`${name} must be between ${min} and ${max}`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(value)) return true;
    if (['false', '0', 'no', 'off'].includes(value)) return false;
    this.problems.push(`${name} must be true or false`);
    return fallback;
  }

  list(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }

  url(name: string, protocols: string[]): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name} must use ${protocols.map((p) => p.replace(':', '')).join(' or ')}`);
      }
    } catch {
      this.problems.push(`${name} must be a valid URL`);
    }
    return value;
  }
}

function logFormatOf(reader: Reader, terminal: boolean): 'json' | 'pretty' {
  const value = reader.raw('LOG_FORMAT')?.toLowerCase();
  if (value === undefined) return terminal ? 'pretty' : 'json';
  if (value === 'json' || value === 'pretty') return value;
  reader.problems.push('LOG_FORMAT must be json or pretty');
  return 'json';
}

function parseTrustProxy(reader: Reader): boolean | number | string {
  const value = reader.raw('TRUST_PROXY');
  if (value === undefined || value.toLowerCase() === 'false') return false;
  if (value.toLowerCase() === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/**
 * Reads and validates the environment. In production it enforces the guardrails of the contract; outside
 * production it fills in development values (embedded database, simulator, generated secrets).
 * Problems never contain a secret's value.
 */
export function loadSettings(env: Env, cwd: string = process.cwd(), terminal = false): Settings {
  const r = new Reader(env);
  const nodeEnvRaw = r.raw('NODE_ENV') ?? 'development';
  let nodeEnv: NodeEnv = 'development';
  if (nodeEnvRaw === 'development' || nodeEnvRaw === 'test' || nodeEnvRaw === 'production')
    nodeEnv = nodeEnvRaw;
  else r.problems.push('NODE_ENV must be development, test or production');
  const isProduction = nodeEnv === 'production';

  const port = r.int('PORT', 3000, 0, 65535);
  const metricsPort = r.raw('METRICS_PORT') === undefined ? null : r.int('METRICS_PORT', 0, 1, 65535);
  if (metricsPort !== null && metricsPort === port) r.problems.push('METRICS_PORT must differ from PORT');
  const dataDirRaw = r.raw('DATA_DIR') ?? '.data';
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw);

  const baseUrlRaw = r.url('BASE_URL', isProduction ? ['https:'] : ['http:', 'https:']);
  if (isProduction && baseUrlRaw === null) r.problems.push('BASE_URL is required in production');
  const baseUrl = (baseUrlRaw ?? `http://localhost:${port}`).replace(/\/+$/, '');

  const databaseUrl = r.url('DATABASE_URL', ['postgres:', 'postgresql:']);
  if (isProduction && databaseUrl === null) r.problems.push('DATABASE_URL is required in production');

  const opalWebhookUrl = r.url('OPAL_WEBHOOK_URL', isProduction ? ['https:'] : ['http:', 'https:']);
  if (isProduction && opalWebhookUrl === null) r.problems.push('OPAL_WEBHOOK_URL is required in production');

  const webhookSecretsRaw = r.list('OSA_WEBHOOK_SHARED_SECRET');
  const webhookSecretsAlias = r.list('OSA_WEBHOOK_SECRET');
  let webhookSecrets = webhookSecretsRaw.length > 0 ? webhookSecretsRaw : webhookSecretsAlias;
  if (webhookSecrets.length > 2) r.problems.push('OSA_WEBHOOK_SHARED_SECRET holds at most two secrets');
  let opalAuthKey = r.raw('OPAL_STRATEGY_WORKFLOW_AUTH_KEY') ?? null;
  const operatorApiKeys = r.list('OPERATOR_API_KEYS');

  if (isProduction) {
    if (opalAuthKey === null) r.problems.push('OPAL_STRATEGY_WORKFLOW_AUTH_KEY is required in production');
    if (webhookSecrets.length === 0) r.problems.push('OSA_WEBHOOK_SHARED_SECRET is required in production');
    if (operatorApiKeys.length === 0) r.problems.push('OPERATOR_API_KEYS is required in production');
    const checkSecret = (name: string, value: string | null) => {
      if (value === null) return;
      if (value.length < 32) r.problems.push(`${name} must be at least 32 characters`);
      if (looksLikePlaceholder(value)) r.problems.push(`${name} looks like a placeholder`);
    };
    checkSecret('OPAL_STRATEGY_WORKFLOW_AUTH_KEY', opalAuthKey);
    webhookSecrets.forEach((s) => checkSecret('OSA_WEBHOOK_SHARED_SECRET', s));
    operatorApiKeys.forEach((k) => checkSecret('OPERATOR_API_KEYS', k));
  } else {
    operatorApiKeys.forEach((k) => {
      if (k.length < 32) r.problems.push('OPERATOR_API_KEYS: each key must be at least 32 characters');
    });
  }

  let authKeyGenerated = false;
  let secretGenerated = false;
  if (!isProduction && (opalAuthKey === null || webhookSecrets.length === 0) && r.problems.length === 0) {
    const dev = loadOrCreateDevSecrets(dataDir);
    if (opalAuthKey === null) {
      opalAuthKey = dev.opalAuthKey;
      authKeyGenerated = true;
    }
    if (webhookSecrets.length === 0) {
      webhookSecrets = [dev.webhookSecret];
      secretGenerated = true;
    }
  }

  const failAgents = r.list('OPAL_SIMULATOR_FAIL_AGENTS');
  for (const agent of failAgents) {
    if (!(OPAL_AGENTS as readonly string[]).includes(agent)) {
      r.problems.push(`OPAL_SIMULATOR_FAIL_AGENTS: unknown agent "${agent.slice(0, 60)}"`);
    }
  }

  // Open operator routes are for a developer's own machine: reachable from it only, unless HOST says otherwise.
  const operatorRoutesOpen = !isProduction && operatorApiKeys.length === 0;
  const host = r.raw('HOST') ?? (operatorRoutesOpen ? '127.0.0.1' : undefined);

  const settings: Settings = {
    nodeEnv,
    isProduction,
    port,
    metricsPort,
    host,
    maxConnections: r.int('MAX_CONNECTIONS', 1024, 1, 1000000),
    baseUrl,
    dataDir,
    databaseUrl,
    dbPoolSize: r.int('DB_POOL_SIZE', 10, 1, 200),
    debug: r.bool('OPAL_DEBUG_MODE', false),
    logFormat: logFormatOf(r, terminal),
    opal: {
      webhookUrl: opalWebhookUrl,
      authKey: opalAuthKey ?? '',
      authKeyGenerated,
      workspaceId: r.raw('OPAL_WORKSPACE_ID') ?? null,
      timeoutMs: r.int('OPAL_TIMEOUT_MS', 10000, 100, 300000),
      retryBaseDelayMs: r.int('OPAL_RETRY_BASE_DELAY_MS', 2000, 1, 3600000),
      retryMaxDelayMs: r.int('OPAL_RETRY_MAX_DELAY_MS', 60000, 1, 86400000),
      maxAttempts: r.int('OPAL_MAX_ATTEMPTS', 6, 1, 100),
      forceSyncResponseBudgetMs: r.int('FORCE_SYNC_RESPONSE_BUDGET_MS', 1500, 50, 60000),
    },
    simulator: {
      agentDelayMs: r.int('OPAL_SIMULATOR_AGENT_DELAY_MS', 300, 0, 600000),
      failAgents,
      triggerFailures: r.int('OPAL_SIMULATOR_TRIGGER_FAILURES', 0, 0, 1000000),
      port: r.int('OPAL_SIMULATOR_PORT', 4010, 1, 65535),
      callbackUrl: r.url('OPAL_SIMULATOR_CALLBACK_URL', ['http:', 'https:']) ?? `${baseUrl}${WEBHOOK_PATH}`,
    },
    webhook: {
      secrets: webhookSecrets,
      secretGenerated,
      toleranceSeconds: r.int('WEBHOOK_TOLERANCE_SECONDS', 300, 1, 86400),
    },
    workflowTimeoutMinutes: r.int('WORKFLOW_TIMEOUT_MINUTES', 10, 1, 10080),
    eventRetentionDays: r.int('EVENT_RETENTION_DAYS', 30, 1, 3650),
    operatorApiKeys,
    rateLimits: {
      webhookPerMin: r.int('RATE_LIMIT_WEBHOOK_PER_MIN', 1200, 0, 10000000),
      syncPerMin: r.int('RATE_LIMIT_SYNC_PER_MIN', 30, 0, 10000000),
      adminPerMin: r.int('RATE_LIMIT_ADMIN_PER_MIN', 30, 0, 10000000),
      readPerMin: r.int('RATE_LIMIT_READ_PER_MIN', 120, 0, 10000000),
    },
    redisUrl: r.url('REDIS_URL', ['redis:', 'rediss:']),
    trustProxy: parseTrustProxy(r),
    corsOrigins: r.list('CORS_ORIGINS'),
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 10000, 0, 600000),
    live: {
      maxStreams: r.int('SSE_MAX_STREAMS', 1000, 1, 1000000),
      heartbeatSeconds: r.int('SSE_HEARTBEAT_SECONDS', 15, 1, 3600),
    },
    alerts: {
      forceSyncSuccessRateMin: r.int('ALERT_FORCE_SYNC_SUCCESS_RATE_MIN', 90, 0, 100),
      forceSyncWindowMinutes: r.int('ALERT_FORCE_SYNC_WINDOW_MINUTES', 15, 1, 1440),
      noWebhookMinutes: r.int('ALERT_NO_WEBHOOK_MINUTES', 60, 1, 10080),
      authFailuresMax: r.int('ALERT_AUTH_FAILURES_MAX', 5, 0, 1000000),
      authFailuresWindowMinutes: r.int('ALERT_AUTH_FAILURES_WINDOW_MINUTES', 10, 1, 1440),
      forceSyncResponseMs: r.int('ALERT_FORCE_SYNC_RESPONSE_MS', 5000, 1, 600000),
      backlogMax: r.int('ALERT_BACKLOG_MAX', 100, 0, 100000000),
      signatureFailureRatePercent: r.int('ALERT_SIGNATURE_FAILURE_RATE', 10, 0, 100),
      workflowSuccessRateMin: r.int('ALERT_WORKFLOW_SUCCESS_RATE_MIN', 90, 0, 100),
      agentSuccessRateMin: r.int('ALERT_AGENT_SUCCESS_RATE_MIN', 95, 0, 100),
      workflowP95DurationSeconds: r.int('ALERT_WORKFLOW_P95_DURATION_SECONDS', 480, 1, 86400),
      eventProcessingSuccessRateMin: r.int('ALERT_EVENT_PROCESSING_SUCCESS_RATE_MIN', 99, 0, 100),
    },
  };

  if (r.problems.length > 0) throw new ConfigValidationError(r.problems);
  return settings;
}

/** Values that must never be written to a log line; the logger scrubs them wherever they appear. */
export function secretValuesOf(settings: Settings): string[] {
  return [settings.opal.authKey, ...settings.webhook.secrets, ...settings.operatorApiKeys].filter(
    (s) => s.length >= 8,
  );
}
