// Drives the dashboard in headless Chromium: node dashboard.mjs BASE_URL ADMIN_TOKEN OUT_DIR
// Logs in, checks the accounts table, opens mallory's page (risk chart, exchanges),
// disables mallory from the table, takes screenshots. Exits non-zero on any failure.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [base, token, out] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(out, "chromium-profile-"));
// A fresh profile (--user-data-dir), passed the way playwright wants it.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1360, height: 900 },
  timeout: 30000,
});
const step = (m) => console.log(`browser: ${m}`);
let failed = false;
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("dialog", (d) => d.accept());

  await page.goto(`${base}/dashboard`);
  await page.waitForSelector("#login-view:not([hidden])");
  // A wrong token is refused and we stay on the login form.
  await page.fill("#token", "not-the-token");
  await page.click("#login");
  await page.waitForFunction(() => document.querySelector("#login-error").textContent.includes("refused"));
  step("wrong token refused");
  errors.length = 0;  // the browser logs that expected 401

  await page.fill("#token", token);
  await page.click("#login");
  await page.waitForSelector('tr[data-account="mallory"]');
  const stored = await page.evaluate(() => sessionStorage.getItem("dg_admin_token"));
  if (stored !== token) throw new Error("token not kept in sessionStorage");
  const rows = await page.$$eval("tbody tr[data-account]", (trs) => trs.map((tr) => tr.dataset.account));
  for (const want of ["alice", "mallory", "idle"]) if (!rows.includes(want)) throw new Error(`no row for ${want}: ${rows}`);
  const aliceReq = await page.textContent('tr[data-account="alice"] td:nth-child(4)');
  if (aliceReq.trim() !== "5") throw new Error(`alice requests cell: ${aliceReq}`);
  await page.waitForSelector("#chain.badge.ok");
  step(`logged in; accounts table: ${rows.join(", ")}; audit chain badge: ${await page.textContent("#chain")}`);

  // Decisions feed shows the 429s.
  await page.click('#nav a[data-view="decisions"]');
  await page.waitForFunction(() => document.querySelector("#view").textContent.includes("rate_limit_exceeded"));
  step("decisions feed lists rate_limit_exceeded");
  await page.screenshot({ path: path.join(out, "decisions.png"), fullPage: true });
  await page.click('#nav a[data-view="clusters"]');
  await page.waitForFunction(() => document.querySelector("#view").textContent.includes("Clusters"));
  await page.screenshot({ path: path.join(out, "clusters.png"), fullPage: true });
  step("clusters view");

  // Account page: risk chart and recent exchanges.
  await page.goto(`${base}/dashboard#/account/mallory`);
  await page.waitForSelector(".chart svg polyline");
  await page.waitForFunction(() => document.querySelector("#view").textContent.includes("Explain step by step"));
  await page.screenshot({ path: path.join(out, "account.png"), fullPage: true });
  step("account page: risk chart and recent exchanges");

  // Disable mallory from the accounts table.
  await page.click('#nav a[data-view="accounts"]');
  await page.waitForSelector('tr[data-account="mallory"] button.toggle');
  const label = await page.textContent('tr[data-account="mallory"] button.toggle');
  if (label.trim() !== "Disable") throw new Error(`button says ${label}`);
  await page.click('tr[data-account="mallory"] button.toggle');
  await page.waitForFunction(() => {
    const tr = document.querySelector('tr[data-account="mallory"]');
    return tr && tr.textContent.includes("disabled") && tr.querySelector("button.toggle").textContent === "Enable";
  });
  step("mallory disabled from the table");
  await page.screenshot({ path: path.join(out, "dashboard.png"), fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join(" | ")}`);
} catch (e) {
  failed = true;
  console.error("browser failure:", e);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
