import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError, ENV_VARIABLES, loadSettings, looksLikePlaceholder } from './settings';

const tmp = () => mkdtempSync(join(tmpdir(), 'opal-settings-'));

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadSettings(env, tmp());
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadSettings', () => {
  it('starts in development with no environment at all: simulator, embedded database, generated secrets', () => {
    const dir = tmp();
    const settings = loadSettings({}, dir);
    expect(settings.nodeEnv).toBe('development');
    expect(settings.databaseUrl).toBeNull();
    expect(settings.opal.webhookUrl).toBeNull();
    expect(settings.opal.authKeyGenerated).toBe(true);
    expect(settings.webhook.secretGenerated).toBe(true);
    expect(settings.opal.authKey.length).toBeGreaterThanOrEqual(32);
    expect(settings.baseUrl).toBe('http://localhost:3000');
    expect(settings.dataDir).toBe(join(dir, '.data'));
    // A second start reuses the generated values.
    const again = loadSettings({}, dir);
    expect(again.opal.authKey).toBe(settings.opal.authKey);
    expect(again.webhook.secrets).toEqual(settings.webhook.secrets);
  });

  it('logs readable lines to a terminal and JSON otherwise, unless LOG_FORMAT says which', () => {
    expect(loadSettings({}, tmp()).logFormat).toBe('json');
    expect(loadSettings({}, tmp(), true).logFormat).toBe('pretty');
    expect(loadSettings({ LOG_FORMAT: 'json' }, tmp(), true).logFormat).toBe('json');
    expect(loadSettings({ LOG_FORMAT: 'Pretty' }, tmp(), false).logFormat).toBe('pretty');
    expect(problemsOf({ LOG_FORMAT: 'xml' })).toEqual(['LOG_FORMAT must be json or pretty']);
  });

  it('applies the contract defaults', () => {
    const s = loadSettings({}, tmp());
    expect(s.port).toBe(3000);
    expect(s.opal).toMatchObject({
      timeoutMs: 10000,
      retryBaseDelayMs: 2000,
      retryMaxDelayMs: 60000,
      maxAttempts: 6,
      forceSyncResponseBudgetMs: 1500,
    });
    expect(s.webhook.toleranceSeconds).toBe(300);
    expect(s.workflowTimeoutMinutes).toBe(10);
    expect(s.eventRetentionDays).toBe(30);
    expect(s.rateLimits).toEqual({ webhookPerMin: 1200, syncPerMin: 30, adminPerMin: 30, readPerMin: 120 });
    expect(s.simulator).toMatchObject({ agentDelayMs: 300, failAgents: [], triggerFailures: 0, port: 4010 });
    expect(s.trustProxy).toBe(false);
    expect(s.metricsPort).toBeNull();
  });

  it('serves metrics on their own port only when METRICS_PORT names a valid port other than PORT', () => {
    expect(loadSettings({ METRICS_PORT: '9464' }, tmp()).metricsPort).toBe(9464);
    expect(loadSettings({ METRICS_PORT: ' ' }, tmp()).metricsPort).toBeNull();
    expect(problemsOf({ METRICS_PORT: '3000' })).toContain('METRICS_PORT must differ from PORT');
    expect(problemsOf({ PORT: '8080', METRICS_PORT: '8080' })).toContain(
      'METRICS_PORT must differ from PORT',
    );
    expect(problemsOf({ METRICS_PORT: '0' })).toContain('METRICS_PORT must be between 1 and 65535');
    expect(problemsOf({ METRICS_PORT: 'metrics' })).toContain('METRICS_PORT must be an integer');
  });

  it('reads OSA_WEBHOOK_SECRET as an alias and accepts two secrets during a rotation', () => {
    expect(loadSettings({ OSA_WEBHOOK_SECRET: 'a'.repeat(40) }, tmp()).webhook.secrets).toEqual([
      'a'.repeat(40),
    ]);
    const both = loadSettings({ OSA_WEBHOOK_SHARED_SECRET: `${'a'.repeat(40)}, ${'b'.repeat(40)}` }, tmp());
    expect(both.webhook.secrets).toEqual(['a'.repeat(40), 'b'.repeat(40)]);
    expect(problemsOf({ OSA_WEBHOOK_SHARED_SECRET: 'a,b,c' })).toContain(
      'OSA_WEBHOOK_SHARED_SECRET holds at most two secrets',
    );
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      OPAL_TIMEOUT_MS: '-1',
      OPAL_DEBUG_MODE: 'maybe',
      OPAL_SIMULATOR_FAIL_AGENTS: 'geo_audit,nobody',
      DATABASE_URL: 'mysql://x',
      NODE_ENV: 'staging',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'PORT must be an integer',
        'OPAL_TIMEOUT_MS must be between 100 and 300000',
        'OPAL_DEBUG_MODE must be true or false',
        'OPAL_SIMULATOR_FAIL_AGENTS: unknown agent "nobody"',
        'DATABASE_URL must use postgres or postgresql',
        'NODE_ENV must be development, test or production',
      ]),
    );
  });

  it('refuses production with placeholders, short secrets, http URLs and missing settings, naming no value', () => {
    const secretValues = [
      'your-32-character-production-auth-key',
      'dev-webhook-secret-32-characters-min',
      'short',
    ];
    const problems = problemsOf({
      NODE_ENV: 'production',
      OPAL_STRATEGY_WORKFLOW_AUTH_KEY: secretValues[0],
      OSA_WEBHOOK_SHARED_SECRET: secretValues[1],
      OPERATOR_API_KEYS: secretValues[2],
      BASE_URL: 'http://app.internal',
      OPAL_WEBHOOK_URL: 'http://opal.internal/hook',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'BASE_URL must use https',
        'OPAL_WEBHOOK_URL must use https',
        'DATABASE_URL is required in production',
        'OPAL_STRATEGY_WORKFLOW_AUTH_KEY looks like a placeholder',
        'OSA_WEBHOOK_SHARED_SECRET looks like a placeholder',
        'OPERATOR_API_KEYS must be at least 32 characters',
      ]),
    );
    for (const value of secretValues) expect(problems.join('\n')).not.toContain(value);
  });

  it('requires every production setting', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual(
      expect.arrayContaining([
        'BASE_URL is required in production',
        'DATABASE_URL is required in production',
        'OPAL_WEBHOOK_URL is required in production',
        'OPAL_STRATEGY_WORKFLOW_AUTH_KEY is required in production',
        'OSA_WEBHOOK_SHARED_SECRET is required in production',
        'OPERATOR_API_KEYS is required in production',
      ]),
    );
  });

  it('accepts a complete production configuration', () => {
    const settings = loadSettings(
      {
        NODE_ENV: 'production',
        BASE_URL: 'https://sync.acme.io',
        DATABASE_URL: 'postgres://u:p@db:5432/opal',
        OPAL_WEBHOOK_URL: 'https://opal.acme.io/hooks/abc',
        OPAL_STRATEGY_WORKFLOW_AUTH_KEY: 'Zq8'.repeat(12),
        OSA_WEBHOOK_SHARED_SECRET: 'Hm4'.repeat(12),
        OPERATOR_API_KEYS: `${'Op1'.repeat(12)},${'Op2'.repeat(12)}`,
      },
      tmp(),
    );
    expect(settings.isProduction).toBe(true);
    expect(settings.operatorApiKeys).toHaveLength(2);
  });

  it('rejects short operator keys outside production too', () => {
    expect(problemsOf({ OPERATOR_API_KEYS: 'short-key' })).toContain(
      'OPERATOR_API_KEYS: each key must be at least 32 characters',
    );
  });

  it.each([
    ['your-secret-here', true],
    ['CHANGEME-please-0000000000000000', true],
    ['test-key-123456789012345678901234', true],
    ['Zq8Zq8Zq8Zq8Zq8Zq8Zq8Zq8Zq8Zq8Zq8Zq8', false],
  ])('looksLikePlaceholder(%s) = %s', (value, expected) => {
    expect(looksLikePlaceholder(value)).toBe(expected);
  });
});

describe('.env.example', () => {
  const names = (text: string) => [...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).sort();

  it('lists exactly the variables the config module documents', () => {
    expect(names(readFileSync('.env.example', 'utf8'))).toEqual(Object.keys(ENV_VARIABLES).sort());
  });

  it('documents exactly the variables the config module reads', () => {
    const source = readFileSync('src/config/settings.ts', 'utf8');
    const read = [...source.matchAll(/r\.(?:raw|int|bool|list|url)\('([A-Z0-9_]+)'/g)].map((m) => m[1]);
    expect([...new Set(read)].sort()).toEqual(Object.keys(ENV_VARIABLES).sort());
  });
});
