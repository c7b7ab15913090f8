// Loads every page of a nextToken-paginated listing.

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

export interface LoadAllOptions<T> {
  /** Called after each page with everything loaded so far. */
  onProgress?: (loaded: T[]) => void;
  signal?: AbortSignal;
  /** A safety stop against a listing that never ends. */
  maxPages?: number;
}

/** Thrown when loading stops part way; partial holds the pages loaded before it. */
export class PartialLoadError<T> extends Error {
  readonly partial: T[];
  constructor(cause: unknown, partial: T[]) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "PartialLoadError";
    this.partial = partial;
  }
}

/**
 * Fetches page after page, passing each answer's nextToken to the next call,
 * until a page has no nextToken. Stops at the first error (or abort) and
 * rejects with a PartialLoadError that keeps what was loaded.
 */
export async function loadAllPages<T>(
  fetchPage: (nextToken: string | undefined, signal?: AbortSignal) => Promise<Page<T>>,
  options: LoadAllOptions<T> = {},
): Promise<T[]> {
  const { onProgress, signal, maxPages = 100_000 } = options;
  const all: T[] = [];
  let next: string | undefined;
  const seen = new Set<string>();
  for (let page = 0; page < maxPages; page++) {
    if (signal?.aborted) throw new PartialLoadError(signal.reason ?? new Error("aborted"), all);
    let res: Page<T>;
    try {
      res = await fetchPage(next, signal);
    } catch (err) {
      throw new PartialLoadError(err, all);
    }
    for (const item of res.items) all.push(item);
    onProgress?.(all);
    if (!res.nextToken) return all;
    if (seen.has(res.nextToken)) {
      throw new PartialLoadError(new Error("the listing returned the same nextToken twice"), all);
    }
    seen.add(res.nextToken);
    next = res.nextToken;
  }
  throw new PartialLoadError(new Error(`the listing did not end after ${maxPages} pages`), all);
}
