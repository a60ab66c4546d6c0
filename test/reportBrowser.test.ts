// The rollout page in a real browser: Debian's chromium (installed by .ci/run), driven by
// puppeteer-core, opens the page from a file with every network request watched. The test reads
// the geometry the browser laid out (each plot's box non-empty, one point per analysed step and
// series, every point inside its plot's axes) and saves a screenshot under test/.output/ (not
// in git), which it checks is not blank by counting the colours of its pixels (pngjs).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PNG } from "pngjs";
import puppeteer, { type Browser } from "puppeteer-core";
import { stepPoints, writeRolloutReport } from "../automation/rolloutReport";
import { findExecutable } from "./support/prometheus";
import { sampleRecord } from "./support/rolloutRecords";
import { skipOrFailInCi } from "./support/skip";

const OUTPUT = path.join(__dirname, ".output");

interface Box {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

interface PlotGeometry {
  readonly metric: string;
  readonly area: Box;
  readonly points: Array<{ series: string; step: string; x: number; y: number }>;
}

function chromium(context: Mocha.Context): string {
  const found = findExecutable("chromium") ?? findExecutable("chromium-browser");
  if (found !== undefined) return found;
  return skipOrFailInCi(
    context,
    "chromium not found on PATH: install Debian's package (`apt-get install chromium`), as .ci/run does",
  );
}

describe("the rollout page in a real browser (chromium, puppeteer-core)", function () {
  this.timeout(90_000);
  let browser: Browser | undefined;
  let userDataDir: string | undefined;

  before(async function () {
    const executablePath = chromium(this);
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-chromium-"));
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      userDataDir,
      args: [
        // As root (CI, containers) chromium refuses to start with its sandbox.
        ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
        "--disable-gpu",
        "--no-first-run",
        // The machine's network is closed: no background connections to be refused.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    await browser?.close();
    if (userDataDir !== undefined) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  for (const kind of ["completed", "rolled-back"] as const) {
    it(`lays out the ${kind} rollout's plots: one point per analysed step, inside the axes`, async () => {
      assert.ok(browser);
      const record = await sampleRecord(kind);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "canary-report-page-"));
      const { html } = writeRolloutReport(dir, record);
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on("request", (request) => requests.push(request.url()));
      await page.setViewport({ width: 1000, height: 900, deviceScaleFactor: 1 });
      await page.goto(`file://${html}`, { waitUntil: "load" });

      assert.equal(
        await page.title(),
        `Rollout of hello-5d6e7f8 on stack prod: ${kind.replace("-", " ")}`,
      );
      assert.deepEqual(
        requests.filter((url) => !url.startsWith("file://")),
        [],
        "the page asks for nothing but itself",
      );

      // The boxes as laid out, through element handles (no page script to keep in step).
      const plots: PlotGeometry[] = [];
      for (const section of await page.$$("section.plot")) {
        const metric = await section.evaluate((e) => e.getAttribute("data-metric") ?? "");
        const areaBox = await (await section.$("rect.plot-area"))?.boundingBox();
        const area =
          areaBox === null || areaBox === undefined
            ? { left: 0, top: 0, right: 0, bottom: 0 }
            : {
                left: areaBox.x,
                top: areaBox.y,
                right: areaBox.x + areaBox.width,
                bottom: areaBox.y + areaBox.height,
              };
        const points: PlotGeometry["points"] = [];
        for (const circle of await section.$$("circle.point")) {
          const box = await circle.boundingBox();
          assert.ok(box !== null, `${metric}: a point with no box`);
          points.push({
            series: await circle.evaluate((e) => e.getAttribute("data-series") ?? ""),
            step: await circle.evaluate((e) => e.getAttribute("data-step") ?? ""),
            x: box.x + box.width / 2,
            y: box.y + box.height / 2,
          });
        }
        plots.push({ metric, area, points });
      }
      const analysed = stepPoints(record).map((p) => String(p.step));
      assert.deepEqual(
        plots.map((p) => p.metric),
        ["success-rate", "p99-latency"],
      );
      for (const plot of plots) {
        const { area } = plot;
        assert.ok(
          area.right - area.left > 100 && area.bottom - area.top > 50,
          `${plot.metric}: box ${JSON.stringify(area)}`,
        );
        for (const series of ["candidate", "stable"]) {
          const steps = plot.points.filter((p) => p.series === series).map((p) => p.step);
          assert.deepEqual(
            steps,
            analysed,
            `${plot.metric} ${series}: one point per analysed step`,
          );
        }
        for (const point of plot.points) {
          assert.ok(
            point.x > area.left &&
              point.x < area.right &&
              point.y > area.top &&
              point.y < area.bottom,
            `${plot.metric} ${point.series} step ${point.step} at (${point.x}, ${point.y}) outside ${JSON.stringify(area)}`,
          );
        }
        // Different values, different heights: the plot shows the numbers, not a flat line.
        const heights = new Set(plot.points.map((p) => Math.round(p.y)));
        assert.ok(heights.size > 1, `${plot.metric}: every point at one height`);
      }

      fs.mkdirSync(OUTPUT, { recursive: true });
      const screenshot = path.join(OUTPUT, `report-${kind}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok(fs.statSync(screenshot).size > 10_000, "a screenshot of some size");
      // A blank page has one colour; this one has text, lines and points in several.
      const image = PNG.sync.read(fs.readFileSync(screenshot));
      const seen = new Set<number>();
      for (let i = 0; i < image.data.length; i += 4) {
        seen.add((image.data[i] << 16) | (image.data[i + 1] << 8) | image.data[i + 2]);
      }
      const colours = seen.size;
      assert.ok(colours > 20, `the screenshot has ${colours} colours: blank?`);
      await page.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }
});
