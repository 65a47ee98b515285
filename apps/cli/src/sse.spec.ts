import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { followEventStream, SseParser, type SseEvent } from './sse';

describe(SseParser.name, () => {
  it('dispatches on a blank line, with the event type, the data and the last id', () => {
    const parser = new SseParser();
    expect(parser.push('id: 12\nevent: log\ndata: {"text":"a"}\n\n')).toEqual([
      { event: 'log', data: '{"text":"a"}', lastEventId: '12' },
    ]);
    expect(parser.lastEventId).toBe('12');
  });

  it('joins data lines with newlines and names an unnamed event "message"', () => {
    expect(new SseParser().push('data: one\ndata:two\ndata\n\n')).toEqual([
      { event: 'message', data: 'one\ntwo\n', lastEventId: '' },
    ]);
  });

  it('ignores comments, unknown fields and events without data', () => {
    const parser = new SseParser();
    expect(parser.push(': connected\n\n: heartbeat\n\nfoo: bar\nevent: step\n\n')).toEqual([]);
    expect(parser.comments).toBe(2);
    // The event type of an undispatched event does not leak into the next one.
    expect(parser.push('data: x\n\n')).toEqual([{ event: 'message', data: 'x', lastEventId: '' }]);
  });

  it('keeps the last id across events and takes retry only when it is a number', () => {
    const parser = new SseParser();
    const events = parser.push('id: 5\ndata: a\n\ndata: b\n\nretry: soon\nretry: 1500\n\n');
    expect(events.map((e) => e.lastEventId)).toEqual(['5', '5']);
    expect(parser.retryMs).toBe(1500);
    parser.push('id: with\0nul\ndata: c\n\n');
    expect(parser.lastEventId).toBe('5');
  });

  it('parses the same events whatever the chunking and line ends (LF, CRLF, CR)', () => {
    const text =
      '\uFEFF: hi\r\nid: 1\r\nevent: log\r\ndata: {"text":"x\\n"}\r\n\r\n' +
      'id: 2\revent: end\rdata: {}\r\r' +
      'event: step\ndata: {"idx":0}\n\n';
    const whole = new SseParser().push(text);
    expect(whole.map((e) => e.event)).toEqual(['log', 'end', 'step']);
    for (let size = 1; size <= 7; size += 1) {
      const parser = new SseParser();
      const events: SseEvent[] = [];
      for (let i = 0; i < text.length; i += size)
        events.push(...parser.push(text.slice(i, i + size)));
      expect(events, `chunks of ${size}`).toEqual(whole);
    }
  });

  it('never dispatches an event the stream cut off', () => {
    expect(new SseParser().push('event: log\ndata: partial\n')).toEqual([]);
  });
});

describe(followEventStream.name, () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('reconnects with Last-Event-ID after a dropped connection, and stops when told', async () => {
    const seen: IncomingHttpHeaders[] = [];
    server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (seen.length === 1) {
        res.write(': connected\n\nid: 3\nevent: log\ndata: {"text":"a"}\n\n');
        // Dropped mid-event: what it carried must not be dispatched.
        res.end('id: 9\nevent: log\ndata: {"text":"lost"}\n');
      } else {
        res.write('id: 6\nevent: log\ndata: {"text":"b"}\n\nevent: end\ndata: {}\n\n');
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const reconnects: number[] = [];
    const events: SseEvent[] = [];
    for await (const event of followEventStream({
      open: async (lastEventId, signal) => {
        const res = await fetch(url, {
          headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
          signal,
        });
        return res.body!;
      },
      retryable: () => true,
      retryMs: 10,
      onReconnect: (attempt) => reconnects.push(attempt),
    })) {
      events.push(event);
      if (event.event === 'end') break;
    }
    expect(events.map((e) => e.data)).toEqual(['{"text":"a"}', '{"text":"b"}', '{}']);
    expect(seen.map((h) => h['last-event-id'])).toEqual([undefined, '3']);
    // The first connection delivered an event, so it does not count as a failure.
    expect(reconnects).toEqual([0]);
  });

  it('gives up after the configured failures in a row, with the last error', async () => {
    let opened = 0;
    const follow = followEventStream({
      open: () => {
        opened += 1;
        return Promise.reject(new Error('connection refused'));
      },
      retryable: () => true,
      retryMs: 1,
      maxFailures: 3,
    });
    await expect(follow.next()).rejects.toThrow('connection refused');
    expect(opened).toBe(3);
  });

  it('fails at once on an error a reconnection cannot cure', async () => {
    const follow = followEventStream({
      open: () => Promise.reject(new Error('404')),
      retryable: () => false,
    });
    await expect(follow.next()).rejects.toThrow('404');
  });
});
