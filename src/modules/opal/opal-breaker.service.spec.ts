import type { AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { OpalBreakerService } from './opal-breaker.service';

function breakerWith(
  failures: number,
  cooldownMs = 1000,
): { breaker: OpalBreakerService; metrics: MetricsService } {
  const metrics = new MetricsService();
  const config = {
    opal: { breakerFailures: failures, breakerCooldownMs: cooldownMs },
  } as unknown as AppConfig;
  return { breaker: new OpalBreakerService(config, metrics), metrics };
}

const T0 = 1_000_000;

describe('OpalBreakerService', () => {
  it('opens after the configured consecutive failures, and a success in between starts the count again', () => {
    const { breaker } = breakerWith(3);
    breaker.record('call', 'retryable', T0);
    breaker.record('call', 'retryable', T0);
    breaker.record('call', 'accepted', T0);
    breaker.record('call', 'retryable', T0);
    breaker.record('call', 'retryable', T0);
    expect(breaker.state(T0)).toBe('closed');
    breaker.record('call', 'retryable', T0);
    expect(breaker.state(T0)).toBe('open');
    expect(breaker.report(T0)).toMatchObject({
      consecutive_failures: 3,
      opened_at: new Date(T0).toISOString(),
    });
  });

  it('counts a refusal (OPAL answered, e.g. 401) as OPAL being up', () => {
    const { breaker } = breakerWith(1);
    breaker.record('call', 'rejected', T0);
    expect(breaker.state(T0)).toBe('closed');
  });

  it('refuses every call while open, counted as short circuits, and /metrics shows it', async () => {
    // The scrape reads the state at the real time.
    const now = Date.now();
    const { breaker, metrics } = breakerWith(1, 60_000);
    breaker.record('call', 'retryable', now);
    expect(breaker.acquire(now + 10)).toBeNull();
    expect(breaker.admit(10, now + 59_999)).toEqual({ calls: 0, permit: 'call' });
    expect(breaker.waitMs(now + 400)).toBe(59_600);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/opal_circuit_breaker_short_circuits_total 1/);
    expect(text).toMatch(/opal_circuit_breaker_state\{state="open"\} 1/);
    expect(text).toMatch(/opal_circuit_breaker_state\{state="closed"\} 0/);
    expect(text).toMatch(/opal_circuit_breaker_consecutive_failures 1/);
  });

  it('lets exactly one probe through after the cooldown; its success closes the breaker', () => {
    const { breaker } = breakerWith(1, 1000);
    breaker.record('call', 'retryable', T0);
    expect(breaker.state(T0 + 1000)).toBe('half_open');
    expect(breaker.admit(10, T0 + 1000)).toEqual({ calls: 1, permit: 'probe' });
    expect(breaker.acquire(T0 + 1001)).toBeNull();
    breaker.record('probe', 'accepted', T0 + 1100);
    expect(breaker.state(T0 + 1100)).toBe('closed');
    expect(breaker.admit(10, T0 + 1100)).toEqual({ calls: 10, permit: 'call' });
  });

  it('opens again for a whole cooldown when the probe fails, and a probe given back unused frees the slot', () => {
    const { breaker } = breakerWith(2, 1000);
    breaker.record('call', 'retryable', T0);
    breaker.record('call', 'retryable', T0);
    expect(breaker.acquire(T0 + 1000)).toBe('probe');
    breaker.record('probe', 'retryable', T0 + 1200);
    expect(breaker.state(T0 + 2199)).toBe('open');
    expect(breaker.state(T0 + 2200)).toBe('half_open');
    const probe = breaker.acquire(T0 + 2200);
    expect(probe).toBe('probe');
    breaker.release(probe!);
    expect(breaker.acquire(T0 + 2201)).toBe('probe');
  });

  it('is off with OPAL_BREAKER_FAILURES=0: every call goes out whatever fails', () => {
    const { breaker } = breakerWith(0);
    for (let i = 0; i < 50; i++) breaker.record('call', 'retryable', T0);
    expect(breaker.state(T0)).toBe('closed');
    expect(breaker.acquire(T0)).toBe('call');
    expect(breaker.report(T0).enabled).toBe(false);
  });
});
