import { describe, expect, it, vi } from "vitest";
import { loadAllPages, PartialLoadError, type Page } from "./paginate";

function pages(n: number, size: number): Page<number>[] {
  return Array.from({ length: n }, (_, p) => ({
    items: Array.from({ length: size }, (_, i) => p * size + i),
    nextToken: p < n - 1 ? `tok${p + 1}` : undefined,
  }));
}

describe("loadAllPages", () => {
  it("follows nextToken until it is absent and reports progress", async () => {
    const ps = pages(3, 2);
    const calls: (string | undefined)[] = [];
    const progress: number[] = [];
    const all = await loadAllPages(
      async (next) => {
        calls.push(next);
        return ps[next ? Number(next.slice(3)) : 0];
      },
      { onProgress: (l) => progress.push(l.length) },
    );
    expect(all).toEqual([0, 1, 2, 3, 4, 5]);
    expect(calls).toEqual([undefined, "tok1", "tok2"]);
    expect(progress).toEqual([2, 4, 6]);
  });

  it("stops at the first error and keeps what was loaded", async () => {
    const fetchPage = vi
      .fn<(next?: string) => Promise<Page<number>>>()
      .mockResolvedValueOnce({ items: [1, 2], nextToken: "a" })
      .mockRejectedValueOnce(new Error("boom"));
    const err = await loadAllPages(fetchPage).catch((e) => e);
    expect(err).toBeInstanceOf(PartialLoadError);
    expect(err.message).toBe("boom");
    expect(err.partial).toEqual([1, 2]);
    expect(fetchPage).toHaveBeenCalledTimes(2);
  });

  it("treats an empty nextToken as the last page", async () => {
    const all = await loadAllPages(async () => ({ items: [7], nextToken: "" }));
    expect(all).toEqual([7]);
  });

  it("refuses a listing that repeats its nextToken", async () => {
    const err = await loadAllPages(async () => ({ items: [1], nextToken: "same" })).catch((e) => e);
    expect(err.message).toMatch(/same nextToken/);
  });

  it("stops when aborted", async () => {
    const ac = new AbortController();
    const err = await loadAllPages(
      async () => {
        ac.abort();
        return { items: [1], nextToken: "x" };
      },
      { signal: ac.signal },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(PartialLoadError);
    expect(err.partial).toEqual([1]);
  });
});
