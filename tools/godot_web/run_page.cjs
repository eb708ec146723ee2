// Open a Godot web build in headless chromium, stream the engine's print output, exit with the
// game's exit code. Usage: node run_page.cjs URL TIMEOUT_MS
// Output lines: "[out] ..." (print), "[err] ..." (printerr / engine errors), "[page] ..." (JS).
"use strict";

const path = require("path");
const cache = process.env.AGENT_ARENA_GODOT_WEB || path.join(process.env.HOME, ".cache/agent-arena/godot_web");
const { chromium } = require(path.join(cache, "node/node_modules/playwright-core"));

const url = process.argv[2];
const timeoutMs = Number(process.argv[3] || 60000);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--use-angle=swiftshader",
      "--enable-unsafe-swiftshader",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-default-apps",
      "--disable-sync",
      "--no-first-run",
      "--metrics-recording-only",
    ],
  });
  let code = 124;
  try {
    const page = await browser.newPage();
    page.on("console", (msg) => {
      const text = msg.text();
      if (text.startsWith("[out] ") || text.startsWith("[err] ")) {
        process.stdout.write(text + "\n");
      } else if (msg.type() === "error") {
        process.stdout.write("[page] " + text + "\n");
      }
    });
    page.on("pageerror", (err) => process.stdout.write("[page] uncaught: " + err.message + "\n"));
    await page.goto(url);
    const handle = await page.waitForFunction(() => (window.__godotExit === undefined ? null : { code: window.__godotExit }), null, {
      timeout: timeoutMs,
      polling: 100,
    });
    code = (await handle.jsonValue()).code;
  } catch (err) {
    process.stdout.write("[page] runner: " + err.message.split("\n")[0] + "\n");
  } finally {
    await browser.close();
  }
  process.exit(code);
})();
