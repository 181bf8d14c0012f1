import { JsonLogger, type LogFormat } from './json-logger';
import { registerSecrets } from './redact';
import { StartupError } from './startup-error';

const SECRET = 'logger-spec-secret-0123456789abcdef';
const BEARER = 'Bearer abcdefghijklmnopqrstuvwxyz012345';
const SIGNATURE = 't=1700000000,v1=0123456789abcdef0123456789abcdef';

function linesOf(format: LogFormat, emit: (logger: JsonLogger) => void): string[] {
  const lines: string[] = [];
  emit(new JsonLogger({ debug: true, format, write: (line) => lines.push(line) }));
  return lines;
}

describe('JsonLogger', () => {
  beforeAll(() => registerSecrets([SECRET]));

  it.each<LogFormat>(['json', 'pretty'])(
    'masks secrets, bearer tokens and signatures in %s lines',
    (format) => {
      const output = linesOf(format, (logger) => {
        logger.log(`calling OPAL with ${SECRET} and ${BEARER}`, 'Opal');
        logger.warn({ msg: 'rejected', signature: SIGNATURE, header: SIGNATURE, key: SECRET }, 'Webhooks');
        logger.error(new Error(`failed with ${SECRET}`), 'Sync');
        logger.debug('url postgres://postgres:hunter2-password@127.0.0.1:5432/db', { token: 'x'.repeat(20) });
      }).join('\n');
      expect(output).not.toContain(SECRET);
      expect(output).not.toContain('abcdefghijklmnopqrstuvwxyz012345');
      expect(output).not.toContain('0123456789abcdef0123456789abcdef');
      expect(output).not.toContain('hunter2-password');
      expect(output).not.toContain('x'.repeat(20));
      expect(output).toContain('[REDACTED]');
    },
  );

  it('writes one JSON object per line with level, time, context and message', () => {
    const [line] = linesOf('json', (logger) => logger.warn('disk almost full', 'Database'));
    expect(JSON.parse(line)).toEqual({
      level: 'warn',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      context: 'Database',
      msg: 'disk almost full',
    });
  });

  it('writes a readable line in pretty mode: time, level, context, message, then the other fields', () => {
    const [line] = linesOf('pretty', (logger) =>
      logger.log({ msg: 'request', method: 'GET', status: 200, route: '/api/health' }, 'HTTP'),
    );
    expect(line).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[HTTP\] request method=GET status=200 route=\/api\/health$/,
    );
    expect(() => JSON.parse(line) as unknown).toThrow();
  });

  it('puts a stack on the lines below the message in pretty mode', () => {
    const lines = linesOf('pretty', (logger) => logger.error(new Error('boom'), 'Sync'));
    expect(lines).toHaveLength(1);
    const [first, ...stack] = lines[0].split('\n');
    expect(first).toMatch(/ERROR \[Sync\] boom$/);
    expect(stack[0]).toMatch(/^ {4}Error: boom/);
  });

  it.each<LogFormat>(['json', 'pretty'])(
    'writes a StartupError as one line with its cause and fix and no stack (%s)',
    (format) => {
      const lines = linesOf(format, (logger) =>
        logger.error(new StartupError('The cluster is locked', 'stop the other server'), 'ExceptionHandler'),
      );
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toContain('\n');
      expect(lines[0]).toContain('The cluster is locked. Fix: stop the other server');
      expect(lines[0]).not.toMatch(/\bat .+:\d+:\d+/);
    },
  );

  describe('on stdout', () => {
    let written: string[];
    const realWrite = process.stdout.write;

    beforeEach(() => {
      written = [];
      process.stdout.write = (chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      };
    });
    afterEach(() => {
      process.stdout.write = realWrite;
    });

    it('writes the lines of one event-loop turn in one write, at the end of the turn', async () => {
      const logger = new JsonLogger({ debug: false });
      logger.log('first', 'A');
      logger.warn('second', 'B');
      logger.error('third', 'C');
      expect(written).toEqual([]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(written).toHaveLength(1);
      const lines = written[0].split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['first', 'second', 'third']);
    });

    it('writes at once when the lines waiting grow past 64 KiB', () => {
      const logger = new JsonLogger({ debug: false });
      const big = 'x'.repeat(40 * 1024);
      logger.log(big);
      expect(written).toEqual([]);
      logger.log(big);
      expect(written).toHaveLength(1);
      expect(written[0].split('\n').filter(Boolean)).toHaveLength(2);
    });
  });
});
