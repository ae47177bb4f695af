// The example app in Chromium, against the real stack: the Polar simulator, `tollgate serve`
// on a fresh PostgreSQL database, and the app under `next start` (built beforehand by
// `npm run build`). Each scenario asserts what the user sees; every page visited is
// screenshotted into target/screenshots/ and must log no console error.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  eventually,
  launchChromium,
  screenshotDir,
  startApp,
  startExampleStack,
  SUPPORT_PASSCODE,
} from "./support.mjs";

let stack;
let app;
let browser;
const consoleErrors = [];
// The Free user of the first scenario, who upgrades in the second.
let fayPage;

before(async () => {
  const started = await startExampleStack();
  stack = started.stack;
  // A Premium customer whose renewal failed: past due, inside Premium's 7-day grace.
  await stack.sim.step({ action: "subscribe", customer: "user_pat", product: "premium" });
  await stack.sim.step({ action: "fail_payment", subscription: "user_pat" });
  app = await startApp({ syncUrl: stack.sync.url, appToken: started.appToken, supportToken: started.supportToken });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  app?.stop();
  await stack?.stop();
});

/** A browser context of its own (its own cookies), recording console errors of every page. */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}

async function signIn(page, customer, email, next = "/app") {
  await page.goto(`${app.url}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Customer id").fill(customer);
  await page.getByLabel("E-mail").fill(email);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(`${app.url}${next}`);
}

const planBadge = (page) => page.locator("#tg-plan-heading .tg-plan-badge");

/** A text that shows within `timeoutMs`, reloading if the page does not update itself. */
async function waitForText(page, locator, text, timeoutMs = 30_000) {
  await eventually(
    `"${text}" on ${page.url()}`,
    async () => {
      if ((await locator.textContent({ timeout: 2_000 }).catch(() => null))?.trim() === text) return true;
      await page.reload();
      return false;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

test("a Free user who opens analytics lands on billing with the upgrade, usage and no invoices", async () => {
  const page = await newPage();
  await page.goto(`${app.url}/login`);
  await shot(page, "login");
  await signIn(page, "user_fay", "fay@example.com");

  await page.goto(`${app.url}/app/analytics`);
  const landed = new URL(page.url());
  assert.equal(landed.pathname, "/billing");
  assert.equal(landed.searchParams.get("upgrade"), "premium");
  assert.equal(landed.searchParams.get("feature"), "advanced_analytics");
  assert.equal((await planBadge(page).textContent()).trim(), "Free");
  await page.getByText("Advanced analytics needs the Premium plan.").waitFor();
  const apiCalls = page.getByRole("progressbar", { name: "API calls" });
  assert.equal(await apiCalls.getAttribute("aria-valuemax"), "1000");
  assert.equal(await apiCalls.getAttribute("aria-valuenow"), "0");
  await page.getByRole("cell", { name: "No invoices yet." }).waitFor();
  const current = page.getByRole("columnheader", { name: /Free/ });
  assert.equal(await current.getAttribute("aria-current"), "true");
  await shot(page, "billing-free");

  fayPage = page;
});

test("upgrading through the checkout brings Premium to billing and opens analytics", async () => {
  const page = fayPage ?? assert.fail("the Free user's page is missing");
  // From the keyboard: the upgrade is a real form button.
  await page.getByRole("button", { name: "Upgrade to Premium", exact: true }).focus();
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`^${stack.sim.url}/checkout/`));
  await page.getByRole("heading", { name: "Premium" }).waitFor();
  await shot(page, "checkout");
  await page.getByRole("button", { name: /^Pay / }).click();

  await page.waitForURL(`${app.url}/billing?checkout=success`);
  await waitForText(page, planBadge(page), "Premium");
  await page.getByText("Renews on").waitFor();
  await page.getByRole("cell", { name: /Premium · New subscription/ }).waitFor();
  await shot(page, "billing-premium");

  // The middleware's cache holds a snapshot for a few seconds; the page opens once it renews.
  await eventually(
    "analytics to open",
    async () => {
      await page.goto(`${app.url}/app/analytics`);
      return new URL(page.url()).pathname === "/app/analytics";
    },
    { timeoutMs: 30_000, intervalMs: 1_000 },
  );
  await page.getByRole("heading", { name: "Advanced analytics" }).waitFor();
  await shot(page, "analytics");
  await page.context().close();
});

test("a new project past the Free limit is refused with the upgrade hint", async () => {
  const page = await newPage();
  await signIn(page, "user_gus", "gus@example.com");
  await page.getByLabel("Name").fill("First");
  await page.getByRole("button", { name: "New project" }).click();
  await page.getByText("Created “First”: you now have 1.").waitFor();
  await page.getByText("Projects: 1 of 1").waitFor();

  await page.getByLabel("Name").fill("Second");
  await page.getByRole("button", { name: "New project" }).click();
  const refusal = page.getByRole("alert");
  await refusal.getByText("You have reached your plan's limit of projects. (1 of 1 on Free)").waitFor();
  await refusal.getByText("(limit_reached)").waitFor();
  const hint = refusal.getByRole("link", { name: "Upgrade to Premium for more projects" });
  assert.equal(await hint.getAttribute("href"), "/billing?upgrade=premium&feature=projects");
  await shot(page, "projects-refused");
  assert.equal((await stack.sync.get("/v1/entitlements/user_gus")).body.features.projects.used, 1);
  await page.context().close();
});

test("a past-due user sees the past-due banner with the grace end", async () => {
  const snapshot = (await stack.sync.get("/v1/entitlements/user_pat")).body;
  const sub = snapshot.subscriptions.find((s) => s.status === "past_due");
  assert.ok(sub?.grace_ends_at, `no past_due subscription in ${JSON.stringify(snapshot.subscriptions)}`);
  const graceEnd = new Date(sub.grace_ends_at).toLocaleDateString("en-US", {
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  });

  const page = await newPage();
  await signIn(page, "user_pat", "pat@example.com", "/billing");
  const banner = page.getByRole("alert").filter({ hasText: "Your last payment failed." });
  await banner.getByText(`You keep Premium until ${graceEnd}`).waitFor();
  await banner.getByRole("button", { name: "Update payment method" }).waitFor();
  await page.getByText(`Payment past due · access until ${graceEnd}`).waitFor();
  assert.equal((await planBadge(page).textContent()).trim(), "Premium");
  await shot(page, "billing-past-due");
  await page.context().close();
});

test("support finds a customer by e-mail, grants projects with a reason, and the customer's limit grows", async () => {
  // The customer, signed in first so that tollgate knows them.
  const customer = await newPage();
  await signIn(customer, "user_hal", "hal.support@example.com", "/billing");
  assert.equal(await customer.getByRole("progressbar", { name: "Projects" }).getAttribute("aria-valuemax"), "1");

  const page = await newPage();
  await page.goto(`${app.url}/support`);
  assert.equal(new URL(page.url()).pathname, "/login", "support needs a support sign-in");
  await page.getByLabel("Your name").fill("Sam");
  await page.getByLabel("Passcode").fill(SUPPORT_PASSCODE);
  await page.getByRole("button", { name: "Sign in to support" }).click();
  await page.waitForURL(`${app.url}/support`);
  await page.getByText("No revenue data yet.").or(page.locator("figure.chart")).first().waitFor();
  await page.getByRole("link", { name: "pat@example.com" }).waitFor(); // failed payments
  await page.getByLabel("Customer id, Polar id or e-mail").fill("hal.support@");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("cell", { name: "hal.support@example.com" }).waitFor();
  await shot(page, "support");
  await page.getByRole("link", { name: "user_hal" }).click();
  await page.waitForURL(`${app.url}/support/customers/user_hal`);

  await page.getByLabel("Feature", { exact: true }).selectOption("projects");
  await page.getByLabel(/^Amount/).fill("5");
  await page.getByLabel("Reason").first().fill("Migrating from the old workspace");
  await page.getByRole("button", { name: "Add grant" }).click();
  await page.getByRole("status").filter({ hasText: "Granted 5 projects." }).waitFor();
  await page.getByRole("cell", { name: "Migrating from the old workspace" }).waitFor();
  await shot(page, "support-customer");

  await customer.reload();
  const projects = customer.getByRole("progressbar", { name: "Projects" });
  assert.equal(await projects.getAttribute("aria-valuemax"), "6");
  await shot(customer, "billing-granted");
  await page.context().close();
  await customer.context().close();
});

test("no page logged a console error", () => {
  assert.deepEqual(consoleErrors, []);
});
