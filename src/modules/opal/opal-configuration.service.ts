import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { WEBHOOK_PATH } from '../../domain/routes';
import { looksLikePlaceholder } from '../../config/settings';
import { maskSecret } from '../../common/redact';

export interface ConfigurationCheck {
  name: string;
  ok: boolean;
  message: string;
}

export interface ConfigurationReport {
  valid: boolean;
  mode: 'opal' | 'simulator';
  environment: string;
  checks: ConfigurationCheck[];
}

/** A URL with its path masked: OPAL's webhook path identifies the account and must not be shown whole. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/***`;
  } catch {
    return '***';
  }
}

/**
 * Whether the OPAL settings allow a trigger. Production refuses to start with bad settings; outside production
 * the service starts anyway and this report (GET /api/opal/sync, health) says what is wrong.
 */
@Injectable()
export class OpalConfigurationService {
  constructor(private readonly config: AppConfig) {}

  get mode(): 'opal' | 'simulator' {
    return this.config.opal.webhookUrl ? 'opal' : 'simulator';
  }

  report(): ConfigurationReport {
    const { opal, webhook } = this.config;
    const realOpal = this.mode === 'opal';
    const checks: ConfigurationCheck[] = [];

    checks.push(
      realOpal
        ? { name: 'OPAL_WEBHOOK_URL', ok: true, message: `set (${maskUrl(opal.webhookUrl!)})` }
        : { name: 'OPAL_WEBHOOK_URL', ok: true, message: 'not set: the built-in OPAL simulator is used' },
    );

    const key = opal.authKey;
    let keyCheck: ConfigurationCheck = {
      name: 'OPAL_STRATEGY_WORKFLOW_AUTH_KEY',
      ok: true,
      message: `set (${key.length} chars)`,
    };
    if (opal.authKeyGenerated) {
      keyCheck = realOpal
        ? { name: keyCheck.name, ok: false, message: 'not set: required when OPAL_WEBHOOK_URL is set' }
        : { name: keyCheck.name, ok: true, message: 'generated for development (used by the simulator)' };
    } else if (realOpal && key.length < 32) {
      keyCheck = { name: keyCheck.name, ok: false, message: `too short (${key.length} chars, at least 32)` };
    } else if (realOpal && looksLikePlaceholder(key)) {
      keyCheck = { name: keyCheck.name, ok: false, message: `looks like a placeholder (${maskSecret(key)})` };
    }
    checks.push(keyCheck);

    checks.push({
      name: 'OPAL_WORKSPACE_ID',
      ok: true,
      message: opal.workspaceId ? `set (${maskSecret(opal.workspaceId)})` : 'not set (optional)',
    });

    let secretCheck: ConfigurationCheck = {
      name: 'OSA_WEBHOOK_SHARED_SECRET',
      ok: true,
      message:
        webhook.secrets.map((s) => `set (${s.length} chars)`).join(', ') +
        (webhook.secrets.length > 1 ? ' (rotation)' : ''),
    };
    if (webhook.secretGenerated) {
      secretCheck = realOpal
        ? {
            name: secretCheck.name,
            ok: false,
            message: 'not set: OPAL must sign callbacks with a shared secret',
          }
        : { name: secretCheck.name, ok: true, message: 'generated for development (used by the simulator)' };
    } else if (realOpal && webhook.secrets.some((s) => s.length < 32)) {
      secretCheck = { name: secretCheck.name, ok: false, message: 'too short (at least 32 chars)' };
    }
    checks.push(secretCheck);

    checks.push({ name: 'BASE_URL', ok: true, message: `callbacks go to ${this.callbackUrl()}` });
    checks.push({
      name: 'WORKFLOW',
      ok: true,
      message: 'only strategy_workflow may be triggered',
    });

    return {
      valid: checks.every((c) => c.ok),
      mode: this.mode,
      environment: this.config.nodeEnv,
      checks,
    };
  }

  callbackUrl(): string {
    return `${this.config.baseUrl}${WEBHOOK_PATH}`;
  }
}
