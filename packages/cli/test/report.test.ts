import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { NAS_CELL, RnnSpace } from '@nasrl/spaces';
import { REPORT_COLOURS, renderReport, RunOutput, writeReport, type ResultLine } from '../src/report';

const CONV_CONFIG = { id: 'report-conv', space: 'conv', budgetArchs: 60 };

/** Six layers; 2 reads 0 (skip), 3 reads the image (skip), 5 reads 1 and 3 (two skips); 2 and 4 go to the classifier. */
const BEST_LAYERS = [
  { type: 'conv', filterHeight: 3, filterWidth: 3, filters: 24, strideHeight: 1, strideWidth: 1, inputs: [] },
  { type: 'conv', filterHeight: 5, filterWidth: 3, filters: 36, strideHeight: 1, strideWidth: 1, inputs: [0] },
  { type: 'conv', filterHeight: 3, filterWidth: 5, filters: 48, strideHeight: 1, strideWidth: 1, inputs: [0, 1] },
  { type: 'conv', filterHeight: 1, filterWidth: 1, filters: 24, strideHeight: 1, strideWidth: 1, inputs: [] },
  { type: 'maxpool', filterHeight: 3, filterWidth: 3, filters: 24, strideHeight: 2, strideWidth: 2, inputs: [3] },
  { type: 'conv', filterHeight: 7, filterWidth: 7, filters: 64, strideHeight: 1, strideWidth: 1, inputs: [1, 3, 4] },
];
const BEST_SKIPS = 4; // 0→2, image→3, 1→5, 3→5
const BEST_TO_CLASSIFIER = 1; // 2 (5 is the last layer: a straight edge)

/** ~60 evaluations whose reward rises with noise; evaluation 55 is the best and has BEST_LAYERS. */
function syntheticConvResults(count = 60): ResultLine[] {
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: count }, (_, i) => {
    const best = i === 54;
    const accuracy = best ? 0.93 : Math.min(0.92, 0.55 + (0.35 * i) / count + (rand() - 0.5) * 0.12);
    const layers = best ? BEST_LAYERS : BEST_LAYERS.slice(0, 4).map((l, k) => ({ ...l, inputs: k === 0 ? [] : [k - 1] }));
    return {
      id: `child-${i}`, index: i, tokens: [1, 2, 3], architecture: { layers }, reward: accuracy, accuracy, curve: [accuracy],
      parameters: 10_000 + i * 100, seconds: 12 + (i % 7), cached: false, worker: `worker-${i % 2}`, replica: i % 2, step: `s${Math.floor(i / 4)}`, parameterVersions: null,
    };
  });
}

function count(html: string, pattern: RegExp): number {
  return (html.match(pattern) ?? []).length;
}

test('the report is self-contained: no external src/href, no scripts', () => {
  const html = renderReport({ config: CONV_CONFIG, results: syntheticConvResults() });
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<link\b/i);
  assert.doesNotMatch(html, /@import|url\(\s*["']?https?:/i);
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<title>nasrl report: report-conv<\/title>/);
  assert.match(html, /space conv · budget 60 architectures · 60 evaluated/);
});

test('the reward curve has one point per evaluation, a moving average and a best-so-far line', () => {
  const results = syntheticConvResults();
  const html = renderReport({ config: CONV_CONFIG, results });
  assert.equal(count(html, /<svg class="chart chart-reward"/g), 1);
  assert.equal(count(html, /<circle class="eval-point"/g), results.length);
  assert.equal(count(html, /<polyline class="moving-average"/g), 1);
  assert.equal(count(html, /<polyline class="best-so-far"/g), 1);
  assert.equal(count(html, /<polyline class="best-accuracy"/g), 1);
  assert.ok(html.includes(`stroke="${REPORT_COLOURS.curve}"`));
});

test('the best conv architecture is drawn with one box per layer and one curved arrow per skip connection', () => {
  const html = renderReport({ config: CONV_CONFIG, results: syntheticConvResults() });
  assert.equal(count(html, /<rect class="layer[ "]/g), BEST_LAYERS.length);
  assert.equal(count(html, /<rect class="layer pool"/g), 1);
  assert.equal(count(html, /<rect class="io"/g), 2);
  assert.equal(count(html, /<path class="skip"/g), BEST_SKIPS);
  assert.equal(count(html, /<path class="to-classifier"/g), BEST_TO_CLASSIFIER);
  assert.match(html, /5: conv 7×7, 64 filters, stride 1×1/);
  assert.match(html, /4: maxpool 3×3, stride 2×2/);
  // The top table: ten rows, best first.
  const table = html.slice(html.indexOf('<table class="top"'));
  assert.equal(count(table, /<tr><td>/g), 10);
  assert.match(table, /<tr><td>1<\/td><td>0\.9300<\/td>/);
});

test('a NAS-Bench-201 cell is drawn as 4 nodes and 6 labelled edges', () => {
  const arch = '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|';
  const html = renderReport({
    config: { id: 'nb', space: 'nb201', budgetArchs: 400 },
    results: [{ id: 'a', index: 0, architecture: { arch }, reward: 0.9, accuracy: 90, seconds: 1, parameters: 1, worker: 'w' }],
  });
  assert.equal(count(html, /<circle class="nb201-node"/g), 4);
  assert.equal(count(html, /<path class="nb201-edge"/g), 6);
  for (const op of ['nor_conv_3x3', 'none', 'skip_connect', 'avg_pool_3x3', 'nor_conv_1x1']) assert.ok(html.includes(`>${op}</text>`), op);
});

test('table-space tokens are listed and every label is escaped', () => {
  const evil = '<img src=x onerror="alert(1)">&<script>alert(2)</script>';
  const html = renderReport({
    config: { id: 'tbl', space: 'table', budgetArchs: 10 },
    results: [{ id: 'x"><b>', index: 0, architecture: { tokens: [evil, 'ok'] }, tokens: [0, 1], reward: 0.5, accuracy: 0.5, worker: '<i>w</i>' }],
  });
  assert.equal(count(html, /<li class="token">/g), 2);
  assert.ok(!html.includes('<img'), 'raw <img> in the page');
  assert.ok(!html.includes('<script'), 'raw <script> in the page');
  assert.ok(!html.includes('<i>w</i>'), 'raw worker name in the page');
  assert.ok(html.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&lt;script&gt;alert(2)&lt;/script&gt;'));
});

test('empty results give a page that says so', () => {
  const html = renderReport({ config: { id: 'nothing', space: 'conv', budgetArchs: 5 }, results: [] });
  assert.match(html, /No results yet/);
  assert.match(html, /0 evaluated/);
  assert.doesNotMatch(html, /<svg/);
  const junk = renderReport({ config: null, results: [null as unknown as ResultLine, { reward: 'x' }] });
  assert.match(junk, /unnamed experiment/);
});

test('a live report reloads itself and says so; the final one does not', () => {
  const live = renderReport({ config: CONV_CONFIG, results: syntheticConvResults(), refreshSeconds: 10, note: 'Running: 60 of 60 evaluated.' });
  assert.match(live, /<meta http-equiv="refresh" content="10">/);
  assert.match(live, /<p class="note">Running: 60 of 60 evaluated\.<\/p>/);
  const final = renderReport({ config: CONV_CONFIG, results: syntheticConvResults() });
  assert.doesNotMatch(final, /http-equiv="refresh"/);
  assert.doesNotMatch(final, /class="note"/);
});

test('RunOutput appends whole lines as results arrive and replaces best.json only when the best change', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-output-'));
  try {
    const results = syntheticConvResults(20);
    const output = RunOutput.open(dir, CONV_CONFIG);
    assert.equal(output.append(results.slice(0, 5)), 5);
    assert.equal(output.append(results.slice(3, 8)), 3, 'ids already written are not written again');
    const text = readFileSync(path.join(dir, 'results.jsonl'), 'utf8');
    assert.equal(text.split('\n').length, 9, 'eight lines, each ending in a newline');
    assert.deepEqual(text.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id), results.slice(0, 8).map((r) => r.id));

    assert.equal(output.writeBest(), true);
    assert.equal(output.writeBest(), false, 'nothing changed');
    output.append([{ ...results[8], id: 'worse', reward: 0.01 }]);
    assert.equal(output.writeBest(), true, 'the top ten gained a member');
    output.append([{ ...results[9], id: 'champion', reward: 0.99, accuracy: 0.99 }]);
    assert.equal(output.writeBest(), true);
    const best = JSON.parse(readFileSync(path.join(dir, 'best.json'), 'utf8')) as { experiment: string; evaluations: number; best: { id: string }; top: unknown[] };
    assert.deepEqual([best.experiment, best.evaluations, best.best.id, best.top.length], ['report-conv', 10, 'champion', 10]);
    assert.equal(output.bestAccuracy(), 0.99);
    output.writeReport({ refreshSeconds: 10 });
    assert.deepEqual(readdirSync(dir).sort(), ['best.json', 'report.html', 'results.jsonl'], 'no temporary files left');

    // Opened again (a resumed run), the file is read back and only missing results are appended.
    const again = RunOutput.open(dir, CONV_CONFIG);
    assert.equal(again.results.length, 10);
    const sizeBefore = statSync(path.join(dir, 'results.jsonl')).size;
    const stored = [...again.results, ...results.slice(10, 14)];
    assert.deepEqual(again.reconcile(stored), { appended: 4, dropped: 0 });
    assert.ok(readFileSync(path.join(dir, 'results.jsonl'), 'utf8').startsWith(text), 'appended, not rewritten');
    assert.ok(statSync(path.join(dir, 'results.jsonl')).size > sizeBefore);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RunOutput.reconcile repairs a cut line, repeated ids and lines the store does not hold', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-output-'));
  try {
    const results = syntheticConvResults(6);
    const file = path.join(dir, 'results.jsonl');
    const line = (r: ResultLine): string => `${JSON.stringify(r)}\n`;
    writeFileSync(file, line(results[0] as ResultLine) + line(results[1] as ResultLine) + line(results[1] as ResultLine) + line({ ...results[2], id: 'lost' }));
    appendFileSync(file, JSON.stringify(results[3]).slice(0, 30));
    const output = RunOutput.open(dir, CONV_CONFIG);
    assert.deepEqual(output.reconcile(results), { appended: 4, dropped: 3 });
    const ids = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    assert.deepEqual(ids, results.map((r) => r.id));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- screenshot

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const WIDTH = 1200;
const HEIGHT = 1600;
/** Where the last screenshot is kept for a person to look at (dist/ is not committed). */
const KEEP_DIR = path.join(__dirname, 'report-screenshot');

interface Image {
  readonly width: number;
  readonly height: number;
  /** RGBA, row-major. */
  readonly pixels: Buffer;
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes). */
function decodePng(png: Buffer): Image {
  assert.ok(png.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10])), 'not a PNG file');
  let pos = 8;
  let width = 0;
  let height = 0;
  let colourType = -1;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const length = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth');
      colourType = data[9] as number;
      assert.ok(colourType === 2 || colourType === 6, `colour type ${colourType}`);
      assert.equal(data[12], 0, 'interlaced PNG');
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + length;
  }
  const channels = colourType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  assert.equal(raw.length, height * (stride + 1), 'inflated size');
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (line[i - channels] as number) : 0;
      const b = prev[i] as number;
      const c = i >= channels ? (prev[i - channels] as number) : 0;
      let add: number;
      switch (filter) {
        case 0: add = 0; break;
        case 1: add = a; break;
        case 2: add = b; break;
        case 3: add = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new Error(`PNG filter ${filter} on row ${y}`);
      }
      line[i] = ((line[i] as number) + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      out[(y * width + x) * 4] = line[x * channels] as number;
      out[(y * width + x) * 4 + 1] = line[x * channels + 1] as number;
      out[(y * width + x) * 4 + 2] = line[x * channels + 2] as number;
      out[(y * width + x) * 4 + 3] = channels === 4 ? (line[x * channels + 3] as number) : 255;
    }
    prev = line;
  }
  return { width, height, pixels: out };
}

/** The pixels within `tolerance` of `hex` on every channel. */
function pixelsOf(image: Image, hex: string, tolerance = 3): { x: number; y: number }[] {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  const found: { x: number; y: number }[] = [];
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const p = (y * image.width + x) * 4;
      if (Math.abs((image.pixels[p] as number) - r) <= tolerance && Math.abs((image.pixels[p + 1] as number) - g) <= tolerance && Math.abs((image.pixels[p + 2] as number) - b) <= tolerance) {
        found.push({ x, y });
      }
    }
  }
  return found;
}

function chromium(): string {
  const found = CHROMIUM_CANDIDATES.find((c) => existsSync(c));
  assert.ok(found, `headless Chromium is needed for the report screenshot test and is not at ${CHROMIUM_CANDIDATES.join(' or ')}: apt-get install chromium`);
  return found;
}

/** Runs Chromium in its own process group, killed as a whole after `timeoutMs`. */
function screenshot(binary: string, page: string, png: string, profile: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--force-color-profile=srgb', '--force-device-scale-factor=1',
      `--user-data-dir=${profile}`, `--window-size=${WIDTH},${HEIGHT}`, `--screenshot=${png}`, `file://${page}`,
    ];
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += String(d)));
    child.stderr.on('data', (d) => (output += String(d)));
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`chromium took over ${timeoutMs} ms; killed. Its output:\n${output.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${binary} (${err.message}): apt-get install chromium`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      kill(); // helpers Chromium left behind in its group
      if (code === 0) resolve(output);
      else reject(new Error(`chromium exited with ${code}:\n${output.slice(-2000)}`));
    });
  });
}

/** Writes the report of `results`, screenshots it with headless Chromium and keeps both in KEEP_DIR as `name`.png/.html. */
async function screenshotReport(config: unknown, results: readonly ResultLine[], name: string, t: { diagnostic(message: string): void }): Promise<Image> {
  const binary = chromium();
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-report-'));
  const profile = mkdtempSync(path.join(tmpdir(), 'nasrl-chromium-profile-'));
  try {
    const page = writeReport(dir, config, results);
    const png = path.join(dir, 'report.png');
    await screenshot(binary, page, png, profile, 25_000);
    assert.ok(existsSync(png), 'chromium wrote no screenshot');
    mkdirSync(KEEP_DIR, { recursive: true });
    copyFileSync(png, path.join(KEEP_DIR, `${name}.png`));
    copyFileSync(page, path.join(KEEP_DIR, `${name}.html`));
    t.diagnostic(`screenshot: ${path.join(KEEP_DIR, `${name}.png`)}`);
    return decodePng(readFileSync(png));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

test('headless Chromium renders the curve and the architecture drawing', { timeout: 30_000 }, async (t) => {
  const image = await screenshotReport(CONV_CONFIG, syntheticConvResults(), 'report', t);
  assert.equal(image.width, WIDTH);
  assert.equal(image.height, HEIGHT);

  // The moving average: a long red line across the reward chart that rises to the right (smaller y).
  const curve = pixelsOf(image, REPORT_COLOURS.curve);
  assert.ok(curve.length >= 1500, `curve pixels: ${curve.length}`);
  const cx = curve.map((p) => p.x);
  assert.ok(Math.max(...cx) - Math.min(...cx) > 900, `curve spans x ${Math.min(...cx)}..${Math.max(...cx)}`);
  // Median, so that the legend's swatch does not count.
  const meanY = (ps: { y: number }[]): number => [...ps.map((p) => p.y)].sort((a, b) => a - b)[Math.floor(ps.length / 2)] ?? NaN;
  const leftPart = curve.filter((p) => p.x < Math.min(...cx) + 200);
  const rightPart = curve.filter((p) => p.x > Math.max(...cx) - 200);
  assert.ok(meanY(rightPart) < meanY(leftPart) - 40, `curve should rise: left y ${meanY(leftPart)}, right y ${meanY(rightPart)}`);

  // The architecture: 5 conv boxes (the 6th layer is a pool) stacked below the charts.
  const boxes = pixelsOf(image, REPORT_COLOURS.layer);
  const curveBottom = Math.max(...curve.map((p) => p.y));
  const below = boxes.filter((p) => p.y > curveBottom);
  assert.ok(below.length >= 5 * 5000, `layer box pixels below the curve: ${below.length}`);
  const rowsWide = new Map<number, number>();
  for (const p of below) rowsWide.set(p.y, (rowsWide.get(p.y) ?? 0) + 1);
  // Count separate vertical runs of rows that are mostly box colour: one per conv box.
  let runs = 0;
  let inRun = false;
  for (let y = curveBottom; y < image.height; y++) {
    const wide = (rowsWide.get(y) ?? 0) >= 40; // the box's margins beside its white label
    if (wide && !inRun) runs++;
    inRun = wide;
  }
  assert.equal(runs, BEST_LAYERS.filter((l) => l.type === 'conv').length, 'conv boxes seen in the screenshot');
  assert.ok(pixelsOf(image, REPORT_COLOURS.pool).filter((p) => p.y > curveBottom).length >= 5000, 'the pool box');
  assert.ok(pixelsOf(image, REPORT_COLOURS.skip).filter((p) => p.y > curveBottom).length >= 200, 'skip arrows');
});

// ---------------------------------------------------------------- the rnn space

const RNN_CONFIG = { id: 'report-rnn', space: 'rnn', budgetArchs: 40 };
const RNN_SPACE = new RnnSpace({ base: 8 });
// NAS_CELL: add nodes (blue) and mul nodes (purple).
const NAS_ADDS = NAS_CELL.nodes.filter((n) => n.combination === 'add').length;
const NAS_MULS = NAS_CELL.nodes.length - NAS_ADDS;

/** 40 language-model children whose perplexity falls with noise; evaluation 31 is the NAS cell and the best. */
function syntheticRnnResults(count = 40): ResultLine[] {
  let seed = 777;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const sizes = RNN_SPACE.tokenSizes();
  return Array.from({ length: count }, (_, i) => {
    const best = i === 30;
    const tokens = best ? RNN_SPACE.encode(NAS_CELL) : sizes.map((n) => Math.floor(rand() * n));
    const perplexity = best ? 6.5 : 7 + (12 * (count - i)) / count + rand() * 3;
    return {
      id: `lm-${i}`, index: i, tokens, architecture: RNN_SPACE.toJSON(RNN_SPACE.decode(tokens)), reward: 80 / perplexity ** 2, accuracy: 1 / perplexity,
      curve: [1 / perplexity], perplexity, parameters: 20_000, seconds: 9, cached: false, worker: `worker-${i % 2}`, replica: 0, step: `s${i}`, parameterVersions: null,
    };
  });
}

test('an rnn report plots the best-so-far perplexity and draws the best cell as a tree with its memory', () => {
  const results = syntheticRnnResults();
  const html = renderReport({ config: RNN_CONFIG, results });
  assert.equal(count(html, /<polyline class="best-perplexity"/g), 1);
  assert.equal(count(html, /<polyline class="best-accuracy"/g), 0, 'perplexity replaces accuracy');
  assert.match(html, /Best reward 1\.8935 \(perplexity 6\.50\) at evaluation 31 of 40/);
  // The best-so-far perplexity never rises: its y (downwards in SVG) never goes up... towards larger values.
  const line = /<polyline class="best-perplexity" points="([^"]+)"/.exec(html)?.[1] ?? '';
  const ys = line.split(' ').map((p) => Number(p.split(',')[1]));
  assert.ok(ys.length >= results.length, `${ys.length} points`);
  assert.ok(ys.every((y, i) => i === 0 || y >= (ys[i - 1] as number)), 'best-so-far perplexity falls or stays');

  assert.equal(count(html, /<rect class="cell-node /g), 15);
  assert.equal(count(html, /<rect class="cell-node cell-add"/g), NAS_ADDS);
  assert.equal(count(html, /<rect class="cell-node cell-mul"/g), NAS_MULS);
  assert.equal(count(html, /<line class="cell-edge"/g), 15, 'an edge from every node to its parent, and from the root to h_t');
  assert.equal(count(html, /<line class="cell-input"/g), 8, 'x_t and h_t−1 into every leaf');
  assert.equal(count(html, /<rect class="cell-inject"/g), 1);
  assert.equal(count(html, /<line class="cell-memory-out"/g), 1);
  assert.match(html, />12: mul<\/text><text [^>]*>identity<\/text>/);
  assert.match(html, />3: mul<\/text><text [^>]*>relu<\/text>/);
  assert.match(html, /c<sub>t−1<\/sub> enters node 8 \(add, then tanh\); c<sub>t<\/sub> leaves node 12 before its activation/);
  // The inject box sits right above node 8 (level 2, position 0), under its parent.
  const node8 = /<rect class="cell-node cell-mul" x="([\d.]+)" y="([\d.]+)"/.exec(html.slice(html.indexOf('>7: add<')));
  const inject = /<rect class="cell-inject" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/.exec(html);
  assert.ok(node8 && inject);
  assert.ok(Number(inject[2]) < Number(node8[2]) && Number(inject[2]) > Number(node8[2]) - 60, `inject at y ${inject[2]}, node 8 at ${node8[2]}`);

  const table = html.slice(html.indexOf('<table class="top"'));
  assert.match(table, /<th>perplexity<\/th>/);
  assert.match(table, /<tr><td>1<\/td><td>1\.8935<\/td><td>6\.50<\/td>/);
  assert.match(table, /add:sigmoid add:relu add:sigmoid mul:relu .* \| c_t←12, c_t−1→8 add:tanh/);
});

test('a base-2 cell whose root takes in c_{t-1} and gives c_t is drawn too; a broken cell is shown as JSON', () => {
  const space = new RnnSpace({ base: 2 });
  const tokens = [0, 1, 1, 2, 1, 3, 0, 1, 2, 2];
  const arch = space.toJSON(space.decode(tokens));
  const html = renderReport({ config: { ...RNN_CONFIG, id: 'b2' }, results: [{ id: 'a', index: 0, tokens, architecture: arch, reward: 1, accuracy: 0.2, perplexity: 5 }] });
  assert.equal(count(html, /<rect class="cell-node /g), 3);
  assert.equal(count(html, /<rect class="cell-inject"/g), 1);
  assert.match(html, /c<sub>t−1<\/sub> enters node 2 \(add, then tanh\); c<sub>t<\/sub> leaves node 2/);
  const broken = renderReport({ config: RNN_CONFIG, results: [{ id: 'a', index: 0, architecture: { space: 'rnn', base: 3 }, reward: 1, accuracy: 0.2, perplexity: 5 }] });
  assert.equal(count(broken, /<rect class="cell-node /g), 0);
  assert.match(broken, /<pre class="architecture">/);
});

/** Connected regions of `hex` (4-neighbour) of at least `minimum` pixels below `fromY`: their sizes and centres. */
function regionsOf(image: Image, hex: string, fromY: number, minimum: number): { size: number; x: number; y: number }[] {
  const mask = new Uint8Array(image.width * image.height);
  for (const p of pixelsOf(image, hex)) if (p.y > fromY) mask[p.y * image.width + p.x] = 1;
  const regions: { size: number; x: number; y: number }[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] !== 1) continue;
    const stack = [start];
    mask[start] = 2;
    let size = 0;
    let sx = 0;
    let sy = 0;
    while (stack.length > 0) {
      const at = stack.pop() as number;
      const x = at % image.width;
      const y = Math.floor(at / image.width);
      size++;
      sx += x;
      sy += y;
      for (const next of [x > 0 ? at - 1 : -1, x < image.width - 1 ? at + 1 : -1, at - image.width, at + image.width]) {
        if (next >= 0 && next < mask.length && mask[next] === 1) {
          mask[next] = 2;
          stack.push(next);
        }
      }
    }
    if (size >= minimum) regions.push({ size, x: sx / size, y: sy / size });
  }
  return regions;
}

test('headless Chromium renders the rnn report: the perplexity line and the NAS cell\'s 15 nodes with its memory', { timeout: 30_000 }, async (t) => {
  const image = await screenshotReport(RNN_CONFIG, syntheticRnnResults(), 'report-rnn', t);
  // The best-so-far lines (reward and perplexity): the perplexity one lies below the reward chart.
  const green = pixelsOf(image, REPORT_COLOURS.best);
  const curve = pixelsOf(image, REPORT_COLOURS.curve);
  const rewardBottom = Math.max(...curve.map((p) => p.y));
  const perplexityLine = green.filter((p) => p.y > rewardBottom + 20);
  assert.ok(perplexityLine.length >= 1000, `perplexity line pixels: ${perplexityLine.length}`);
  const chartBottom = Math.max(...perplexityLine.map((p) => p.y));
  // One filled box per node, by combination; none cut off at the bottom of the page.
  const adds = regionsOf(image, REPORT_COLOURS.layer, chartBottom, 1000);
  const muls = regionsOf(image, REPORT_COLOURS.pool, chartBottom, 1000);
  assert.equal(adds.length, NAS_ADDS, `add boxes ${JSON.stringify(adds)}`);
  assert.equal(muls.length, NAS_MULS, `mul boxes ${JSON.stringify(muls)}`);
  // Four rows of boxes: 8 leaves at the bottom, the root alone on top.
  const rows = [...adds, ...muls].map((b) => Math.round(b.y / 20)).reduce((m, y) => m.set(y, (m.get(y) ?? 0) + 1), new Map<number, number>());
  assert.deepEqual([...rows.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n), [1, 2, 4, 8]);
  // The inject pill (orange) sits between the level-2 row and the level-3 row, over node 8 (the leftmost of level 2).
  const inject = regionsOf(image, REPORT_COLOURS.skip, chartBottom, 600);
  assert.equal(inject.length, 1, `orange regions: ${JSON.stringify(inject)}`);
  const level2 = [...adds, ...muls].filter((b) => Math.abs(b.y - ([...adds, ...muls].sort((a, c) => a.y - c.y)[3] as { y: number }).y) < 10);
  const node8 = level2.sort((a, b) => a.x - b.x)[0] as { x: number; y: number };
  assert.ok(Math.abs((inject[0] as { x: number }).x - node8.x) < 15, `inject x ${inject[0]?.x}, node 8 x ${node8.x}`);
  assert.ok((inject[0] as { y: number }).y < node8.y && (inject[0] as { y: number }).y > node8.y - 70, `inject y ${inject[0]?.y}, node 8 y ${node8.y}`);
});
