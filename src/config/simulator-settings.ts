import { isAgentId } from '../modules/opal/agents';
import type { AgentId } from '../modules/opal/agents';
import { readProcessEnv } from './environment';
import type { Env } from './settings';

/** Settings of the standalone OPAL simulator (`npm run opal:sim`). */
export interface SimulatorSettings {
  /** The Bearer token the simulator expects (OPAL_STRATEGY_WORKFLOW_AUTH_KEY). */
  authKey: string;
  /** The secret that signs callbacks: the first of OSA_WEBHOOK_SHARED_SECRET during a rotation. */
  webhookSecret: string;
  port: number;
  callbackUrl: string;
  agentDelayMs: number;
  failAgents: AgentId[];
  triggerFailures: number;
}

export type SimulatorSettingsResult =
  { ok: true; settings: SimulatorSettings } | { ok: false; errors: string[] };

const DEFAULT_PORT = 4010;
const DEFAULT_CALLBACK_URL = 'http://localhost:3000/api/webhooks/opal-workflow';
const DEFAULT_AGENT_DELAY_MS = 300;

/**
 * Reads and validates the simulator's environment, listing every problem at once. Problems name variables but
 * never quote a secret's value.
 */
export function loadSimulatorSettings(env: Env = readProcessEnv()): SimulatorSettingsResult {
  const errors: string[] = [];
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = raw(name);
    if (value === undefined) {
      return fallback;
    }
    if (!/^\d+$/.test(value)) {
      errors.push(`${name} must be an integer`);
      return fallback;
    }
    const n = Number(value);
    if (n < min || n > max) {
      errors.push(`${name} must be between ${min} and ${max}`);
      return fallback;
    }
    return n;
  };
  const list = (value: string | undefined): string[] =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);

  const authKey = raw('OPAL_STRATEGY_WORKFLOW_AUTH_KEY');
  if (authKey === undefined) {
    errors.push('OPAL_STRATEGY_WORKFLOW_AUTH_KEY is required');
  }

  const secretVariable =
    raw('OSA_WEBHOOK_SHARED_SECRET') !== undefined ? 'OSA_WEBHOOK_SHARED_SECRET' : 'OSA_WEBHOOK_SECRET';
  const secrets = list(raw(secretVariable));
  if (secrets.length === 0) {
    errors.push('OSA_WEBHOOK_SHARED_SECRET (or its alias OSA_WEBHOOK_SECRET) is required');
  } else if (secrets.length > 2) {
    errors.push(`${secretVariable} holds at most two comma-separated secrets`);
  }

  const port = int('OPAL_SIMULATOR_PORT', DEFAULT_PORT, 1, 65535);

  const callbackUrl = raw('OPAL_SIMULATOR_CALLBACK_URL') ?? DEFAULT_CALLBACK_URL;
  let callbackUrlValid = false;
  try {
    const { protocol } = new URL(callbackUrl);
    callbackUrlValid = protocol === 'http:' || protocol === 'https:';
  } catch {
    callbackUrlValid = false;
  }
  if (!callbackUrlValid) {
    errors.push('OPAL_SIMULATOR_CALLBACK_URL must be an http(s) URL');
  }

  const agentDelayMs = int('OPAL_SIMULATOR_AGENT_DELAY_MS', DEFAULT_AGENT_DELAY_MS, 0, 600_000);

  const failAgents: AgentId[] = [];
  for (const agent of list(raw('OPAL_SIMULATOR_FAIL_AGENTS'))) {
    if (!isAgentId(agent)) {
      errors.push(`OPAL_SIMULATOR_FAIL_AGENTS: unknown agent "${agent.slice(0, 60)}"`);
    } else if (!failAgents.includes(agent)) {
      failAgents.push(agent);
    }
  }

  const triggerFailures = int('OPAL_SIMULATOR_TRIGGER_FAILURES', 0, 0, 1_000_000);

  if (errors.length > 0 || authKey === undefined) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    settings: {
      authKey,
      webhookSecret: secrets[0],
      port,
      callbackUrl,
      agentDelayMs,
      failAgents,
      triggerFailures,
    },
  };
}
