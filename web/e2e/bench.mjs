// Figure 7 of BENCHMARKS.md: the console in Chromium, measured, not
// asserted. Not a *.test.mjs, so the browser tests do not run it;
// pkg/local/bench's BenchmarkConsole starts a local stack with 10,000
// tokens in its table and runs it with STACK_URL set. By hand, against a
// stack that has such a table:
//
//   STACK_URL=http://127.0.0.1:8080 node e2e/bench.mjs
//
// Prints Go benchmark lines (what benchstat and pkg/local/bench's parser
// read) on stdout and progress on stderr:
//
//   BenchmarkConsole/op=first-load-js-2   1  0 ns/op  273837 gzip-bytes  1008734 bytes  2 files
//   BenchmarkConsole/op=load-10000-2      5  ... ns/op (mean)  p50-ns  min-ns  max-ns
//   BenchmarkConsole/op=filter-2 / op=sort-2   likewise
//
// Times are taken inside the page (performance.now() and event
// timestamps), so the round trips between node and Chromium are not in
// them.
import { gzipSync } from "node:zlib";
import { availableParallelism } from "node:os";
import { chromium } from "playwright-core";

const STACK = process.env.STACK_URL ?? "http://127.0.0.1:8080";
const PROCS = process.env.BENCH_PROCS ?? String(availableParallelism());
const TOKENS = Number(process.env.BENCH_TOKENS ?? 10000);
const LOADS = Number(process.env.BENCH_LOADS ?? 5);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 9);
// Seeded usernames are <prefix>-00000 ... (pkg/local/bench's users()).
const USER_PREFIX = process.env.BENCH_USER_PREFIX ?? "bench-seed-";

const log = (msg) => process.stderr.write(`# bench: console: ${msg}\n`);

// One result line; the -PROCS suffix keeps a name ending in a number
// ("load-10000") from reading as the suffix itself.
function line(op, iterations, metrics) {
  const fields = Object.entries(metrics).map(([unit, v]) => `${Number.isInteger(v) ? v : v.toFixed(0)} ${unit}`);
  console.log(`BenchmarkConsole/op=${op}-${PROCS}\t${iterations}\t${fields.join("\t")}`);
}

const median = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ns = (v) => Math.round(v * 1e6);

// Samples in milliseconds as ns/op (mean), p50, min and max, and extra
// metrics as they are.
function timing(op, ms, extra = {}) {
  const s = [...ms].sort((a, b) => a - b);
  const mid = median(s);
  line(op, s.length, {
    "ns/op": ns(s.reduce((a, b) => a + b, 0) / s.length),
    "p50-ns": ns(mid), "min-ns": ns(s[0]), "max-ns": ns(s[s.length - 1]), ...extra,
  });
  log(`${op}: median ${mid.toFixed(1)} ms, range ${s[0].toFixed(1)}-${s[s.length - 1].toFixed(1)} ms, ${s.length} samples`);
}

// What index.html loads at start: its module script and modulepreload
// links (JavaScript), its stylesheets (CSS); pages loaded on first use are
// not counted. Fetched from the stack as the browser gets them, gzipped at
// level 6 (gzip's and most servers' default).
async function firstLoad() {
  const html = await (await fetch(STACK + "/")).text();
  const attr = (tag, name) => (tag.match(new RegExp(`\\b${name}="([^"]+)"`)) ?? [])[1];
  const js = [], css = [];
  for (const [tag] of html.matchAll(/<(script|link)\b[^>]*>/g)) {
    if (tag.startsWith("<script") && attr(tag, "type") === "module" && attr(tag, "src")) js.push(attr(tag, "src"));
    else if (attr(tag, "rel") === "modulepreload") js.push(attr(tag, "href"));
    else if (attr(tag, "rel") === "stylesheet") css.push(attr(tag, "href"));
  }
  if (js.length === 0) throw new Error(`no module script in ${STACK}/: is the console built (make web)?`);
  for (const [op, urls] of [["first-load-js", js], ["first-load-css", css]]) {
    let raw = 0, gz = 0;
    for (const u of urls) {
      const res = await fetch(new URL(u, STACK + "/"));
      if (!res.ok) throw new Error(`${u}: ${res.status}`);
      const body = Buffer.from(await res.arrayBuffer());
      raw += body.length;
      gz += gzipSync(body, { level: 6 }).length;
    }
    line(op, 1, { "ns/op": 0, "gzip-bytes": gz, bytes: raw, files: urls.length });
    log(`${op}: ${urls.length} files, ${raw} bytes, ${gz} gzipped`);
  }
}

// Installed in every document of the page: records in window.__ready the
// time since navigation start at which the token table first shows rows
// of seeded tokens with no "Loading tokens…" left, layout included.
function watchLoad(prefix) {
  const ready = () => {
    if (document.body?.textContent.includes("Loading tokens")) return false;
    for (const tr of document.querySelectorAll("tbody tr")) if (tr.textContent.includes(prefix)) return true;
    return false;
  };
  const obs = new MutationObserver(() => {
    if (window.__ready === undefined && ready()) {
      void document.body.offsetHeight; // the layout of the rows is part of showing them
      window.__ready = performance.now();
      // When the list calls ran: the first one's start to the last one's end.
      const calls = performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.startsWith("/api-tokens"));
      window.__api = calls.length ? { start: Math.min(...calls.map((e) => e.startTime)), end: Math.max(...calls.map((e) => e.responseEnd)), n: calls.length } : null;
      obs.disconnect();
    }
  });
  obs.observe(document, { childList: true, subtree: true, characterData: true });
}

// Arms one measurement in the page: from the next event of type (its own
// timestamp: when the browser took the input) until the table's rows, as
// usernames, satisfy done(usernames, before); the result lands in
// window.__took (ms).
async function arm(page, type, doneSource) {
  await page.evaluate(({ type, doneSource, prefix }) => {
    const names = () => [...document.querySelectorAll("tbody tr")]
      .map((tr) => (tr.textContent.match(new RegExp(`${prefix}\\d+`)) ?? [""])[0]);
    const done = new Function("names", "before", `return (${doneSource})(names, before);`);
    const before = names();
    window.__took = undefined;
    let t0;
    document.addEventListener(type, (e) => { t0 = e.timeStamp; }, { capture: true, once: true });
    const obs = new MutationObserver(() => {
      if (t0 === undefined || !done(names(), before)) return;
      void document.body.offsetHeight;
      window.__took = performance.now() - t0;
      obs.disconnect();
    });
    obs.observe(document.body, { childList: true, subtree: true, characterData: true });
  }, { type, doneSource, prefix: USER_PREFIX });
}

async function took(page) {
  await page.waitForFunction(() => window.__took !== undefined, null, { timeout: 60000 });
  return page.evaluate(() => window.__took);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
});
try {
  await firstLoad();

  // Sign in once as the admin, outside every measurement; the session
  // lives in the tab's sessionStorage and survives the navigations below.
  const context = await browser.newContext({ baseURL: STACK });
  const page = await context.newPage();
  await page.goto("/");
  await page.getByRole("button", { name: "Sign in" }).first().click();
  await page.waitForURL(/\/dev-oidc\/authorize/);
  await page.getByRole("button", { name: "Admin", exact: true }).click();
  await page.waitForURL((u) => u.origin === new URL(STACK).origin && !u.pathname.startsWith("/dev-oidc"));
  await page.getByRole("button", { name: /Sign out|dev-/ }).first().waitFor();
  await page.addInitScript(watchLoad, USER_PREFIX);
  const cdp = await context.newCDPSession(page);

  // Load: from navigation start (performance.timeOrigin of the new
  // document) to the first page of rows with every token loaded, with an
  // empty HTTP cache each time, as on a first visit. The first load is a
  // warm-up and not counted: DynamoDB Local's JIT is still compiling the
  // scans then.
  const loads = [], apiStart = [], apiSpan = [], rows = [], calls = [];
  for (let i = 0; i <= LOADS; i++) {
    await page.goto("about:blank");
    await cdp.send("Network.clearBrowserCache");
    await page.goto("/#/tokens");
    await page.waitForFunction(() => window.__ready !== undefined, null, { timeout: 120000 });
    const ms = await page.evaluate(() => window.__ready);
    const counter = await page.getByRole("heading", { name: /API Token Management/ }).first().textContent();
    if (!counter.includes(`(${TOKENS})`)) throw new Error(`the table's header says ${JSON.stringify(counter)}, want (${TOKENS}) tokens`);
    const api = await page.evaluate(() => window.__api);
    if (!api) throw new Error("no list call in the page's resource timing");
    if (i > 0) {
      loads.push(ms);
      apiStart.push(api.start);
      apiSpan.push(api.end - api.start);
      rows.push(ms - api.end);
      calls.push(api.n);
    }
    log(`load ${i === 0 ? "warm-up" : `${i}/${LOADS}`}: ${ms.toFixed(0)} ms; ${api.n} list calls from ${api.start.toFixed(0)} to ${api.end.toFixed(0)} ms`);
  }
  // Where the time goes, medians: until the first list call starts (the
  // app's code, config and session), the list calls, and the rest
  // (building and showing the rows).
  timing(`load-${TOKENS}`, loads, {
    "api-start-p50-ns": ns(median(apiStart)), "api-p50-ns": ns(median(apiSpan)), "rows-p50-ns": ns(median(rows)),
    "list-calls": median(calls),
  });

  // Filter: each sample types (fills, as a paste does) a prefix matching
  // 10 usernames into "Find tokens", from an empty filter.
  const filter = page.getByRole("searchbox", { name: "Find tokens" })
    .or(page.getByPlaceholder(/Find tokens/)).first();
  const pageRows = await page.locator("tbody tr").count();
  const filters = [];
  for (let i = 0; i < SAMPLES; i++) {
    const text = USER_PREFIX + "0" + String((i * 131 + 17) % 1000).padStart(3, "0");
    await arm(page, "input", `(names) => names.length > 0 && names.every((n) => n.startsWith(${JSON.stringify(text)}))`);
    await filter.fill(text);
    filters.push(await took(page));
    if (await page.locator("tbody tr").count() !== 10) throw new Error(`filter ${text}: want 10 rows`);
    await filter.fill("");
    await page.waitForFunction((n) => document.querySelectorAll("tbody tr").length === n, pageRows);
  }
  timing("filter", filters);

  // Sort: each sample clicks the Username header (the sticky copy that
  // Cloudscape draws over the table's own), ascending and descending in
  // turn, over all tokens, until the first page's order has changed.
  const username = page.locator('[class*="header-sticky-enabled"]').getByText(/Username/).first();
  const sorts = [];
  for (let i = 0; i < SAMPLES; i++) {
    await arm(page, "click", `(names, before) => names.length > 0 && names.join() !== before.join()`);
    await username.click();
    sorts.push(await took(page));
    const names = await page.locator("tbody tr").allTextContents();
    const got = names.map((t) => (t.match(new RegExp(`${USER_PREFIX}\\d+`)) ?? [""])[0]);
    const want = [...got].sort();
    if (i % 2) want.reverse();
    if (got.join() !== want.join()) throw new Error(`sort ${i + 1}: the rows are not in ${i % 2 ? "descending" : "ascending"} order: ${got}`);
  }
  timing("sort", sorts);
  await context.close();
} finally {
  await browser.close();
}
