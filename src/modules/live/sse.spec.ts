import { parseChangeNotification, parseLastEventId, sseFrame, SSE_KEEP_ALIVE } from './sse';

describe('server-sent event format', () => {
  it('writes event, id and one data line, ended by a blank line', () => {
    expect(sseFrame('snapshot', { a: 'x\ny', b: 1 }, 7)).toBe(
      'event: snapshot\nid: 7\ndata: {"a":"x\\ny","b":1}\n\n',
    );
    expect(sseFrame('workflow', { status: 'running' })).toBe(
      'event: workflow\ndata: {"status":"running"}\n\n',
    );
  });

  it('keeps the stream alive with a comment', () => {
    expect(SSE_KEEP_ALIVE).toBe(': keep-alive\n\n');
  });

  it('reads Last-Event-ID as a version, ignoring anything else', () => {
    expect(parseLastEventId('12')).toBe(12);
    expect(parseLastEventId(' 3 ')).toBe(3);
    expect(parseLastEventId(['4', '5'])).toBe(4);
    for (const bad of [undefined, '', 'abc', '-1', '1.5', '9'.repeat(20)])
      expect(parseLastEventId(bad)).toBeNull();
  });

  it('reads the write path notification payload', () => {
    expect(parseChangeNotification('0B0E7C1A-2F4C-4A57-9D1B-6F1F3B1F6A11:42')).toEqual({
      syncId: '0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11',
      version: 42,
    });
    for (const bad of [
      undefined,
      '',
      'x:1',
      '0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11',
      '0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11:v',
    ]) {
      expect(parseChangeNotification(bad)).toBeNull();
    }
  });
});
