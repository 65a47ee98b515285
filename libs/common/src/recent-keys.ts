/**
 * The keys added most recently, at most `capacity` of them: a process's memory of what it did or
 * found lately (a commit read ahead, a pack found too large), which a stream of new keys cannot
 * grow without bound. The oldest added is forgotten first.
 */
export class RecentKeys {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity: number) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Remembers `key`, forgetting the oldest beyond the capacity; false if it was remembered. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    for (const oldest of this.keys) {
      if (this.keys.size <= this.capacity) break;
      this.keys.delete(oldest);
    }
    return true;
  }
}
