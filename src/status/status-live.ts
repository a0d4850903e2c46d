import { createHash } from 'node:crypto';
import { canonicalJson } from '../crypto/canonical-json.js';
import type { StatusPageService, StatusSnapshot } from './status-page.service.js';

/**
 * Changes made by another process (the CLI, a scheduler elsewhere) are seen within this. The
 * brief promises page updates within a second; the poll runs only while someone listens.
 */
export const LIVE_POLL_MS = 500;
/** A public endpoint holds a socket per listener: past this many, new listeners are refused (503). */
export const MAX_LIVE_LISTENERS = 1_000;

export type LiveListener = (snapshot: StatusSnapshot) => void;

/**
 * Live status for Server-Sent Events: listeners get the snapshot whenever it changes. A change
 * in this process (`poke`) is sent at once; changes elsewhere are found by the poll.
 */
export class StatusLive {
  private readonly listeners = new Set<LiveListener>();
  private timer: NodeJS.Timeout | undefined;
  private lastDigest = '';
  private checking: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly page: Pick<StatusPageService, 'snapshot'>,
    private readonly onError: (err: unknown) => void,
  ) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Adds a listener; returns the function that removes it, or undefined when there are too many. */
  listen(listener: LiveListener): (() => void) | undefined {
    if (this.listeners.size >= MAX_LIVE_LISTENERS) return undefined;
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => this.poke(), LIVE_POLL_MS);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.lastDigest = '';
      }
    };
  }

  /** Something may have changed: check now (one check at a time; a poke during one runs another after it). */
  poke(): void {
    if (this.listeners.size === 0) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = this.check()
      .catch(this.onError)
      .finally(() => {
        this.checking = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** Resolves when a check in progress (if any) is done; for shutdown and tests. */
  async settled(): Promise<void> {
    while (this.checking) await this.checking;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private async check(): Promise<void> {
    const snapshot = await this.page.snapshot();
    const digest = createHash('sha256').update(canonicalJson(snapshot)).digest('hex');
    if (digest === this.lastDigest) return;
    this.lastDigest = digest;
    for (const listener of [...this.listeners]) listener(snapshot);
  }
}
