// Open a Godot web build in headless chromium, stream the engine's print output, exit with the
// game's exit code. Usage: node run_page.cjs URL TIMEOUT_MS [SCREENSHOT_PNG]
// Output lines: "[out] ..." (print), "[err] ..." (printerr / engine errors), "[page] ..." (JS).
// With SCREENSHOT_PNG: the first printed line starting with "DEMO SHOT" makes the runner wait
// two rendered frames, save the page as that PNG, print "[page] screenshot saved" and exit 0
// (the game itself keeps running until then; it is a live demo).
"use strict";

const path = require("path");
const cache = process.env.AGENT_ARENA_GODOT_WEB || path.join(process.env.HOME, ".cache/agent-arena/godot_web");
const { chromium } = require(path.join(cache, "node/node_modules/playwright-core"));

const url = process.argv[2];
const timeoutMs = Number(process.argv[3] || 60000);
const screenshot = process.argv[4] || "";
const SHOT_MARKER = "[out] DEMO SHOT";

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
    const page = await browser.newPage({ viewport: { width: 960, height: 540 } });
    let shot = null;
    const shotTaken = new Promise((resolve) => {
      shot = resolve;
    });
    let shooting = false;
    page.on("console", (msg) => {
      const text = msg.text();
      if (text.startsWith("[out] ") || text.startsWith("[err] ")) {
        process.stdout.write(text + "\n");
        if (screenshot && !shooting && text.startsWith(SHOT_MARKER)) {
          shooting = true;
          (async () => {
            await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
            await page.screenshot({ path: screenshot });
            process.stdout.write("[page] screenshot saved " + screenshot + "\n");
            shot({ code: 0 });
          })().catch((err) => {
            process.stdout.write("[page] screenshot failed: " + err.message + "\n");
            shot({ code: 125 });
          });
        }
      } else if (msg.type() === "error") {
        process.stdout.write("[page] " + text + "\n");
      }
    });
    page.on("pageerror", (err) => process.stdout.write("[page] uncaught: " + err.message + "\n"));
    await page.goto(url);
    const exited = page
      .waitForFunction(() => (window.__godotExit === undefined ? null : { code: window.__godotExit }), null, {
        timeout: timeoutMs,
        polling: 100,
      })
      .then((handle) => handle.jsonValue());
    code = (await Promise.race([exited, shotTaken])).code;
  } catch (err) {
    process.stdout.write("[page] runner: " + err.message.split("\n")[0] + "\n");
  } finally {
    await browser.close();
  }
  process.exit(code);
})();
