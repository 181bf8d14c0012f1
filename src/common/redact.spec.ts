import { redactString, registerSecrets } from './redact';

describe('redactString', () => {
  it('masks URL credentials, bearer tokens, signatures and registered secrets', () => {
    registerSecrets(['registered-secret-value-0123456789']);
    expect(redactString('postgres://app:hunter2@db:5432/opal')).toBe(
      'postgres://app:[REDACTED]@db:5432/opal',
    );
    expect(redactString('Authorization: Bearer abc.def-ghi')).toBe('Authorization: Bearer [REDACTED]');
    expect(redactString(`t=1,v1=${'a'.repeat(64)}`)).toBe('t=1,v1=[REDACTED]');
    expect(redactString('x registered-secret-value-0123456789 y')).toBe('x [REDACTED] y');
  });

  it('still masks credentials in a URL whose parts reach the bounds of the pattern', () => {
    const user = 'u'.repeat(256);
    const password = 'p'.repeat(256);
    expect(redactString(`https://${user}:${password}@host/`)).toBe(`https://${user}:[REDACTED]@host/`);
  });

  it('leaves a long run of scheme-like characters as it is (the pattern has no unbounded part)', () => {
    const path = `/${'a.'.repeat(7000)}a`;
    expect(redactString(path)).toBe(path);
    const schemes = `${'a://b:'.repeat(3000)}c`;
    expect(redactString(schemes)).toBe(schemes);
  });
});
