/**
 * The dashboard's live feed: server-sent events. Each page has one feed, shared by every browser
 * showing it; while anyone listens, the feed reads the backend every `pollMs`, compares the page's
 * fragments and cells with what it sent last, and sends only what changed (`patch`). A browser
 * that connects, or connects again after losing the connection, first gets the whole state
 * (`snapshot`), so it never depends on events it missed. When accounts or stages come or go the
 * page's shape changed and the feed says `reload`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveState } from './render';

/** What changed between two states of one page; undefined when nothing did. */
export function diffLive(before: LiveState, after: LiveState): Pick<LiveState, 'fragments' | 'cells'> | undefined {
  const fragments: Record<string, string> = {};
  const cells: Record<string, LiveState['cells'][string]> = {};
  let any = false;
  for (const [id, html] of Object.entries(after.fragments)) {
    if (before.fragments[id] !== html) {
      fragments[id] = html;
      any = true;
    }
  }
  for (const [id, cell] of Object.entries(after.cells)) {
    const old = before.cells[id];
    if (!old || old[0] !== cell[0] || old[2] !== cell[2]) {
      cells[id] = cell;
      any = true;
    }
  }
  return any ? { fragments, cells } : undefined;
}

/** One server-sent event, its data on one line (JSON has no raw newlines). */
export function sseEvent(event: string, data: unknown, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Options of {@link LiveFeeds}. */
export interface LiveFeedsOptions {
  /** Milliseconds between reads of the backend while someone listens. */
  readonly pollMs: number;
  /** Milliseconds of silence after which a comment keeps proxies and browsers from closing the stream. @default 15000 */
  readonly keepAliveMs?: number;
}

class Feed {
  private readonly clients = new Set<ServerResponse>();
  private last: LiveState | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private nextId = 1;
  private lastSent = Date.now();

  constructor(
    private readonly compute: () => Promise<LiveState>,
    private readonly opts: LiveFeedsOptions,
    private readonly onIdle: () => void,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  async add(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    // Browsers reconnect on their own after this many milliseconds.
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    req.on('close', () => this.remove(res));
    // Bring the state up to date (patching the others), then send it whole to the newcomer.
    await this.tick();
    if (this.last && !res.writableEnded) res.write(sseEvent('snapshot', this.last, this.nextId++));
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
      this.timer.unref();
    }
  }

  private remove(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stop();
  }

  private send(text: string): void {
    this.lastSent = Date.now();
    for (const c of this.clients) if (!c.writableEnded) c.write(text);
  }

  /** Reads the backend once (one read at a time) and sends what changed. */
  tick(): Promise<void> {
    this.running = this.running.then(async () => {
      if (this.clients.size === 0) return;
      let next: LiveState;
      try {
        next = await this.compute();
      } catch (err) {
        this.send(sseEvent('problem', { message: `could not read the backend: ${(err as Error).message}` }));
        return;
      }
      const before = this.last;
      this.last = next;
      if (before && before.structure !== next.structure) this.send(sseEvent('reload', {}, this.nextId++));
      else if (before) {
        const patch = diffLive(before, next);
        if (patch) this.send(sseEvent('patch', patch, this.nextId++));
      }
      if (Date.now() - this.lastSent > (this.opts.keepAliveMs ?? 15_000)) this.send(': keep-alive\n\n');
    });
    return this.running;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.last = undefined;
    this.onIdle();
  }

  close(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.stop();
  }
}

/** The feeds of every page being watched, by page. */
export class LiveFeeds {
  private readonly feeds = new Map<string, Feed>();

  constructor(private readonly opts: LiveFeedsOptions) {}

  /** Streams the page `key` to this request until the browser goes away. */
  subscribe(key: string, compute: () => Promise<LiveState>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let feed = this.feeds.get(key);
    if (!feed) {
      const made: Feed = new Feed(compute, this.opts, () => {
        if (this.feeds.get(key) === made && made.size === 0) this.feeds.delete(key);
      });
      this.feeds.set(key, made);
      feed = made;
    }
    return feed.add(req, res);
  }

  /** How many pages are being watched. */
  get watched(): number {
    return this.feeds.size;
  }

  /** Ends every stream. */
  close(): void {
    for (const f of [...this.feeds.values()]) f.close();
    this.feeds.clear();
  }
}
