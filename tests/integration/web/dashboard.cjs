// dashboard.cjs: the node's web dashboard (GET /) in a real browser:
// playwright-core (pinned in scripts/data.sh) driving Debian's Chromium,
// headless, --no-sandbox, with a fresh profile. Run by test_web_clients:
//   NODE_PATH=data/node_modules node dashboard.cjs http://127.0.0.1:PORT SHOT_DIR [CHROMIUM]
// Checks: the dashboard loads with no console error and shows the node; the
// playground streams a reply from the demo model; feature panels (one over
// HTTP, the live one over the WebSocket) and the privacy check answer; the layout fits a phone screen. Screenshots go to
// SHOT_DIR (the test's artefacts). Exit 0, 1 on a failure, 77 to skip.
"use strict";

const fs = require("fs");
const path = require("path");

const { need, check, run } = require("./common.cjs");
const { chromium } = need("playwright-core");

const [base, shots, exe0] = process.argv.slice(2);
if (!base || !shots) {
  console.log("usage: dashboard.cjs URL SHOT_DIR [CHROMIUM]");
  process.exit(2);
}
// the binary itself: /usr/bin/chromium is a wrapper script that prints a
// shell warning
const exe = exe0 || ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((p) => fs.existsSync(p));
if (!exe) {
  console.log("SKIP: no Chromium (apt-get install chromium; scripts/setup.sh installs it)");
  process.exit(77);
}
fs.mkdirSync(shots, { recursive: true });

async function shot(page, name) {
  const p = path.join(shots, name);
  await page.screenshot({ path: p, fullPage: true });
  console.log("screenshot " + p);
}

async function main() {
  const profile = fs.mkdtempSync("/tmp/zt-chromium-");
  // launchPersistentContext: a fresh, empty profile directory of our own
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: exe, headless: true, args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
    viewport: { width: 1280, height: 860 },
  });
  const errors = [];
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
    page.on("pageerror", (e) => errors.push("page error: " + e.message));
    page.on("requestfailed", (r) => {
      // a stream the page itself stops is not an error
      if (!r.failure() || !/ERR_ABORTED/.test(r.failure().errorText)) errors.push("request failed: " + r.url());
    });

    // the overview
    const resp = await page.goto(base + "/", { waitUntil: "load" });
    check(resp.status() === 200, "GET / answers the dashboard", resp.status());
    await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
    const ident = await page.textContent("#ident");
    check(/^zt1/.test(ident), "the header shows the node id", ident);
    const models = await page.textContent("#models");
    check(models.includes("demo"), "the models card lists the demo model", models.trim());
    const roles = await page.textContent("#roles");
    check(roles.includes("gateway"), "the node card shows the roles", roles.trim());
    const csp = resp.headers()["content-security-policy"] || "";
    check(csp.includes("default-src 'self'"), "the page is served with a same-origin CSP", csp);
    await page.waitForTimeout(2500); // one poll more: the charts get a point
    // the orchestrator's workers and jobs, where the node has those routes
    const routes = (await (await page.request.get(base + "/ui/routes.json")).json()).routes.map((r) => r.path);
    for (const [route, card] of [["/v1/orchestrator/nodes", "#card-nodes"], ["/v1/orchestrator/jobs", "#card-netjobs"]]) {
      if (!routes.includes(route)) continue;
      const shown = await page.$eval(card, (e) => !e.hidden);
      check(shown, "the " + card.slice(6) + " panel shows " + route);
    }
    await shot(page, "overview.png");

    // the playground streams a reply from the demo model
    await page.click("#tabs button[data-tab='playground']");
    await page.selectOption("#play-model", "demo");
    await page.fill("#play-max", "48");
    await page.fill("#play-seed", "5");
    await page.check("#play-raw");
    await page.fill("#play-input", "Once upon a time");
    await page.click("#play-send");
    await page.waitForSelector("#play-stats[data-done='1']", { timeout: 60000 });
    const reply = await page.$eval(".msg.assistant", (e) => ({ text: e.textContent, chunks: Number(e.dataset.chunks || 0) }));
    check(reply.text.trim().length > 0 && reply.chunks >= 2, "the playground streams a reply", reply.chunks + " chunks: " + JSON.stringify(reply.text));
    const errs = await page.$$(".msg.error");
    check(errs.length === 0, "the playground shows no error");
    // and a chat turn through /v1/chat/completions
    await page.uncheck("#play-raw");
    await page.fill("#play-input", "Tell me about a cat.");
    await page.evaluate(() => { document.getElementById("play-stats").dataset.done = ""; });
    await page.click("#play-send");
    await page.waitForSelector("#play-stats[data-done='1']", { timeout: 60000 });
    const n = await page.$$eval(".msg.assistant", (a) => a.length);
    const stats = await page.textContent("#play-stats");
    check(n === 2 && /tokens\/s/.test(stats), "a chat turn streams too", stats);
    await shot(page, "playground.png");

    // a feature panel returns a result (entities: no data asset needed)
    await page.click("#tabs button[data-tab='features']");
    const panels = await page.$$eval("#features article", (a) => a.map((x) => x.id));
    check(panels.length >= 10, "a panel for each messaging feature", panels.join(","));
    await page.click("#feature-entities button");
    await page.waitForSelector("#feature-entities .out .summary, #feature-entities .out .error", { timeout: 20000 });
    const ent = await page.textContent("#feature-entities .out");
    check(/datetime|money|email/.test(ent) && !(await page.$("#feature-entities .out .error")), "the entities panel answers",
      ent.slice(0, 80));
    // the live conversation panel: annotations over the WebSocket
    await page.click("#feature-live button");
    await page.waitForSelector("#feature-live .out .summary, #feature-live .out .error", { timeout: 20000 });
    const live = await page.textContent("#feature-live .out");
    check(/"annotations"/.test(live) && /bytes/.test(live), "the WebSocket panel gets annotations", live.slice(0, 80));
    await shot(page, "features.png");

    // the privacy view: the personal data check
    await page.click("#tabs button[data-tab='privacy']");
    await page.click("#pii-run");
    await page.waitForSelector("#pii-out .summary, #pii-out .error", { timeout: 20000 });
    const pii = await page.textContent("#pii-out");
    check(/EMAIL/.test(pii), "the privacy panel finds the e-mail address", pii.slice(0, 80));
    await shot(page, "privacy.png");

    // a phone screen: nothing wider than the viewport
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click("#tabs button[data-tab='overview']");
    await page.waitForTimeout(300);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(over <= 0, "the overview fits a 390 px wide phone screen", "overflow " + over + " px");
    await shot(page, "phone-overview.png");
    await page.click("#tabs button[data-tab='playground']");
    const overPlay = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overPlay <= 0, "the playground fits a phone screen", "overflow " + overPlay + " px");
    await shot(page, "phone-playground.png");
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  check(errors.length === 0, "no console error, page error or failed request", errors.join(" | ") || "none");
}

run(main);
