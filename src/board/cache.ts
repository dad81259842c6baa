// The board's first page of JSON, kept between requests: made again after each change the
// watcher reports, after each action of the board's own, and every few seconds (the ages and a
// running agent's lines move on without a file changing). Made before `tend board` prints its
// URL, so the first page a browser loads does not wait for it.
import { boardData, type BoardData } from './data.js';
import type { Events } from './events.js';

const MAX_AGE_MS = 2000;

export class BoardCache {
  private made?: { at: number; data: Promise<BoardData> };

  constructor(
    private readonly cwd: string,
    events: Events,
  ) {
    events.listen(() => this.forget());
  }

  /** Make the board now, so the first page loaded finds it made; a failure is the page's to show. */
  async warm(): Promise<void> {
    await this.get().catch(() => undefined);
  }

  forget(): void {
    this.made = undefined;
  }

  get(): Promise<BoardData> {
    if (this.made && Date.now() - this.made.at < MAX_AGE_MS) return this.made.data;
    const made = { at: Date.now(), data: boardData(this.cwd) };
    this.made = made;
    made.data.catch(() => {
      if (this.made === made) this.made = undefined;
    });
    return made.data;
  }
}
