import { readFileSync } from 'node:fs';
import { SERVICE_VERSION } from './version';

it('matches the version in package.json', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  expect(SERVICE_VERSION).toBe(pkg.version);
});
