// Browser tests of the console against a real local stack: playwright-core
// drives Debian's Chromium. pkg/local/localstack's TestConsoleInTheBrowser
// starts the stack and runs these with STACK_URL, CHROMIUM and
// SCREENSHOT_DIR set; by hand: STACK_URL=http://127.0.0.1:8080 node --test e2e/
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const STACK = process.env.STACK_URL ?? "http://127.0.0.1:8080";
const SHOTS = process.env.SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), "console-shots-"));
const AXE = require.resolve("axe-core/axe.min.js");

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run",
    ],
  });
});

after(async () => {
  await browser?.close();
});

// A fresh browser profile, signed in through the development issuer's
// page with one of its presets ("Admin", "API user", "User without API access").
async function signIn(preset) {
  const context = await browser.newContext({ acceptDownloads: true, baseURL: STACK });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: STACK });
  const page = await context.newPage();
  await page.goto("/");
  await page.getByRole("button", { name: "Sign in" }).first().click();
  await page.waitForURL(/\/dev-oidc\/authorize/);
  await page.getByRole("button", { name: preset, exact: true }).click();
  await page.waitForURL((u) => u.origin === new URL(STACK).origin && !u.pathname.startsWith("/dev-oidc"));
  await page.getByRole("button", { name: /Sign out|dev-/ }).first().waitFor();
  return { context, page };
}

// A column header as a person clicks it: Cloudscape draws the sticky copy
// of the header row over the table's own (hidden) one.
function header(page, name) {
  return page.locator('[class*="header-sticky-enabled"]').getByText(name, { exact: typeof name === "string" }).first();
}

// How many column headers (in either copy) carry this name.
function headerCount(page, name) {
  return page.getByRole("columnheader", { name }).count();
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// No serious or critical accessibility violation on the page as it is.
async function checkAccessibility(page, where) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  assert.equal(result.testEngine.name, "axe-core");
  assert.ok(result.passes.length > 0, `axe checked nothing on ${where}`);
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`), [], `accessibility on ${where}`);
}

async function api(path, init = {}) {
  const res = await fetch(STACK + path, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// A JWT from the development issuer, for checks through the API.
async function jwt(username, groups) {
  const r = await api("/dev-oidc/token", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, groups, expiresIn: 600 }),
  });
  assert.equal(r.status, 200);
  return r.body.id_token;
}

// The token display after a create: Close only once the box is ticked;
// Copy and Download give the token. Returns the token.
async function takeToken(page, shotName) {
  const dialog = page.getByRole("dialog").filter({ hasText: "will not be shown again" });
  await dialog.waitFor();
  const token = await dialog.getByRole("textbox").first().inputValue();
  assert.match(token, /^[0-9a-f]{128}$/);
  const close = dialog.getByRole("button", { name: "Close", exact: true });
  assert.equal(await close.isDisabled(), true, "Close must be disabled until the box is ticked");
  await dialog.getByRole("button", { name: "Copy" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  const [download] = await Promise.all([page.waitForEvent("download"), dialog.getByRole("button", { name: "Download" }).click()]);
  assert.equal((await readFile(await download.path(), "utf8")).trim(), token);
  if (shotName) await shot(page, shotName);
  await dialog.getByText("I have securely saved this token").click();
  assert.equal(await close.isDisabled(), false);
  await close.click();
  await dialog.waitFor({ state: "hidden" });
  return token;
}

test("an admin creates, finds, sorts, configures and deletes a token", async () => {
  const { context, page } = await signIn("Admin");
  try {
    await page.getByRole("link", { name: "API Token Management" }).first().click();
    await page.getByRole("button", { name: "Create token" }).first().waitFor();
    await shot(page, "admin-tokens");
    await checkAccessibility(page, "API Token Management");

    // The wizard: basic information, permissions, review.
    await page.getByRole("button", { name: "Create token" }).first().click();
    await page.getByRole("textbox", { name: "Username" }).fill("e2e-alice");
    await page.getByRole("textbox", { name: "Token name" }).fill("browser token");
    await shot(page, "create-wizard");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("textbox", { name: "Groups" }).fill("lisa-users, lisa-api-users");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByText("Review").first().waitFor();
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await checkAccessibility(page, "the token display");
    const token = await takeToken(page, "token-display");

    // The token made in the browser works on the serve path.
    const models = await api("/v2/serve/models", { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(models.status, 200);

    // Filter finds it; sorting really sorts.
    const filter = page.getByPlaceholder(/Find tokens|Filter/i).first();
    await filter.fill("browser token");
    await page.getByRole("row").filter({ hasText: "e2e-alice" }).first().waitFor();
    const rows = page.locator("tbody tr");
    assert.equal(await rows.count(), 1);
    await filter.fill("");
    for (const u of ["e2e-bob", "e2e-carol"]) {
      const r = await api(`/api-tokens/${u}`, {
        method: "POST", headers: { Authorization: `Bearer ${await jwt("admin", ["lisa-admins", "lisa-users"])}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: `sort ${u}` }),
      });
      assert.equal(r.status, 201);
    }
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("row").filter({ hasText: "e2e-carol" }).first().waitFor();
    await shot(page, "admin-tokens-list");
    const usernames = async () => (await page.locator("tbody tr").allInnerTexts()).map((t) => (t.match(/e2e-\w+/) ?? [""])[0]).filter(Boolean);
    await header(page, /Username/).click();
    const asc = await usernames();
    assert.deepEqual(asc, [...asc].sort(), "ascending by username");
    await header(page, /Username/).click();
    const desc = await usernames();
    assert.deepEqual(desc, [...desc].sort().reverse(), "descending by username");

    // Hide a column; it stays hidden after a reload.
    await page.getByRole("button", { name: "Preferences" }).click();
    const prefs = page.getByRole("dialog").filter({ hasText: "Preferences" });
    await prefs.getByRole("checkbox", { name: "Groups" }).uncheck({ force: true }).catch(async () => {
      await prefs.getByText("Groups", { exact: true }).click();
    });
    await prefs.getByRole("button", { name: "Confirm" }).click();
    assert.equal(await headerCount(page, "Groups"), 0);
    await page.reload();
    await header(page, /Username/).waitFor();
    assert.equal(await headerCount(page, "Groups"), 0, "hidden column kept after reload");

    // Delete asks, names the token, and revokes it at once on the token API.
    await filter.fill("browser token");
    await page.locator("tbody tr").first().locator("input[type=radio]").check({ force: true });
    await page.getByRole("button", { name: "Delete" }).first().click();
    const confirm = page.getByRole("dialog").filter({ hasText: "browser token" });
    await confirm.waitFor();
    await shot(page, "delete-confirm");
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await confirm.waitFor({ state: "hidden" });
    const after = await api("/api-tokens/", { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(after.status, 401);
  } finally {
    await context.close();
  }
});

test("a user in the API group manages their own token and sees no admin page", async () => {
  const { context, page } = await signIn("API user");
  try {
    assert.equal(await page.getByRole("link", { name: "API Token Management" }).count(), 0);
    await page.goto("/#/tokens");
    assert.equal(await page.locator("tbody tr").count(), 0, "the admin table must not show for a user");
    await page.getByRole("link", { name: "My API Token" }).first().click();
    await page.getByRole("button", { name: "Create token" }).first().click();
    await page.getByRole("textbox", { name: "Token name" }).fill("my laptop");
    await shot(page, "my-token-create");
    await checkAccessibility(page, "My API Token, create form");
    // Keyboard only: Tab from the name field reaches the create button,
    // and Enter presses it.
    await page.getByRole("textbox", { name: "Token name" }).focus();
    let reached = false;
    for (let i = 0; i < 15 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.textContent?.trim() === "Create token");
    }
    assert.ok(reached, "the Create token button is not reachable with Tab");
    await page.keyboard.press("Enter");
    await takeToken(page);
    await page.getByText("my laptop").first().waitFor();
    await shot(page, "my-token");
    await checkAccessibility(page, "My API Token");
    await page.getByRole("button", { name: "Delete" }).first().click();
    const confirm = page.getByRole("dialog").filter({ hasText: "my laptop" });
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("button", { name: "Create token" }).first().waitFor();
  } finally {
    await context.close();
  }
});

test("a user outside the API group sees no self-service", async () => {
  const { context, page } = await signIn("User without API access");
  try {
    // The page has settled on what such a user sees, so the absent links
    // below are absent, not yet to come.
    await page.getByText("No API access").first().waitFor();
    assert.equal(await page.getByRole("link", { name: "My API Token" }).count(), 0);
    assert.equal(await page.getByRole("link", { name: "API Token Management" }).count(), 0);
    await shot(page, "user-without-api");
  } finally {
    await context.close();
  }
});

test("an admin turns user managed tokens off and the API refuses self-service", async () => {
  const { context, page } = await signIn("Admin");
  const user = await jwt("e2e-dave", ["lisa-users", "lisa-api-users"]);
  const create = () => api("/api-tokens/", {
    method: "POST", headers: { Authorization: `Bearer ${user}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "self" }),
  });
  try {
    await page.getByRole("link", { name: "Settings" }).first().click();
    const toggle = page.getByRole("switch", { name: "Allow user managed API tokens" })
      .or(page.getByRole("checkbox", { name: "Allow user managed API tokens" }));
    await toggle.first().waitFor();
    await shot(page, "settings");
    assert.equal(await toggle.first().isChecked(), true);
    await toggle.first().click({ force: true });
    await page.getByText(/saved|updated|off/i).first().waitFor();
    await new Promise((r) => setTimeout(r, 1500)); // past TOKEN_CACHE_SECONDS=1
    const refused = await create();
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    await toggle.first().click({ force: true });
    await new Promise((r) => setTimeout(r, 1500));
    const allowed = await create();
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
  } finally {
    await context.close();
  }
});
