import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { rnnCellDrawing, rnnCellSummary } from './report-rnn';

/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, no external files) that shows how a
 * search went: the reward of every evaluation with its moving average and best-so-far, the best-so-far
 * accuracy (the rnn space: perplexity), the top architectures, and a drawing of the best one.
 *
 *   writeReport(out, config, results.map(resultLine)); // → <out>/report.html
 */

/** One results.jsonl line as `resultLine()` in commands/local.ts writes it; fields are read defensively. */
export type ResultLine = Readonly<Record<string, unknown>>;

/** What `renderReport` draws. */
export interface ReportInput {
  /** The experiment configuration (experiment.json); id, space and budgetArchs are shown. */
  readonly config: unknown;
  /** The evaluations in order of arrival. */
  readonly results: readonly ResultLine[];
  /** While the search runs: the page reloads itself this often, in seconds. Default: a finished page, no reload. */
  readonly refreshSeconds?: number;
  /** A line under the title: how the run stands ("running", "stopped: continue it with ..."). */
  readonly note?: string;
}

/** Options of writeReport. */
export interface WriteReportOptions {
  /** See ReportInput.refreshSeconds. */
  readonly refreshSeconds?: number;
  /** See ReportInput.note. */
  readonly note?: string;
}

/** Colours the page uses; the screenshot test looks for CURVE and LAYER pixels. */
export const REPORT_COLOURS = {
  /** Moving average of the reward. */
  curve: '#d62728',
  /** Best-so-far reward and accuracy. */
  best: '#2ca02c',
  /** Each evaluation's reward. */
  point: '#8c8c8c',
  /** Convolution boxes of the architecture drawing; add nodes of a recurrent cell. */
  layer: '#1f77b4',
  /** Pooling boxes; mul nodes of a recurrent cell. */
  pool: '#9467bd',
  /** Image and classifier boxes. */
  io: '#555555',
  /** Skip connections; where c_{t-1} enters a recurrent cell and c_t leaves it. */
  skip: '#ff7f0e',
} as const;

/** Rows of the top-architectures table. */
const TOP_ROWS = 10;

interface Evaluation {
  readonly position: number;
  readonly id: string;
  readonly index: number | null;
  readonly reward: number | null;
  readonly accuracy: number | null;
  /** Language-model children (rnn space): the validation perplexity. */
  readonly perplexity: number | null;
  readonly parameters: number | null;
  readonly seconds: number | null;
  readonly worker: string;
  readonly cached: boolean;
  readonly architecture: unknown;
  readonly tokens: unknown;
}

/** Writes `<out>/report.html` atomically (a browser never reads half a page) and returns its path. */
export function writeReport(out: string, config: unknown, results: readonly ResultLine[], options: WriteReportOptions = {}): string {
  const file = path.join(out, 'report.html');
  writeFileAtomic(file, renderReport({ config, results, ...options }));
  return file;
}

/** Replaces `file` with `text` atomically: written beside it, then renamed over it. */
export function writeFileAtomic(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/** The whole report.html page. */
export function renderReport(input: ReportInput): string {
  const config = isRecord(input.config) ? input.config : {};
  const id = typeof config.id === 'string' ? config.id : '(unnamed experiment)';
  const space = typeof config.space === 'string' ? config.space : 'unknown space';
  const budget = finiteOrNull(config.budgetArchs);
  const evaluations = normalise(input.results);
  const title = `nasrl report: ${id}`;
  const subtitle = `space ${space} · budget ${budget === null ? '?' : fmtInt(budget)} architectures · ${fmtInt(evaluations.length)} evaluated`;
  const body = evaluations.length === 0 ? emptyBody() : fullBody(evaluations, space);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
${input.refreshSeconds === undefined ? '' : `<meta http-equiv="refresh" content="${Math.max(1, Math.round(input.refreshSeconds))}">\n`}<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(title)}</h1><p class="subtitle">${esc(subtitle)}</p>${input.note === undefined ? '' : `<p class="note">${esc(input.note)}</p>`}</header>
${body}
<footer>Written by nasrl local. Self-contained: open it offline.</footer>
</body>
</html>
`;
}

const CSS = `
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; background: #fff; margin: 16px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 20px 0 6px; }
.subtitle { color: #555; margin: 0 0 8px; }
.note { margin: 0 0 8px; padding: 4px 8px; background: #fff8e1; border-left: 3px solid #f0b400; }
.summary { margin: 4px 0 0; }
.legend { color: #555; margin: 0 0 4px; }
.empty { padding: 24px; border: 1px dashed #aaa; color: #555; font-size: 16px; }
svg { display: block; }
svg text { font: 12px system-ui, sans-serif; fill: #333; }
svg .axis { stroke: #999; stroke-width: 1; }
svg .grid { stroke: #eee; stroke-width: 1; }
table { border-collapse: collapse; margin-top: 4px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; text-align: right; }
th { background: #f4f4f4; }
th.arch { text-align: left; }
td.arch { text-align: left; font-family: ui-monospace, monospace; font-size: 12px; max-width: 420px; overflow-wrap: anywhere; }
ol.tokens { font-family: ui-monospace, monospace; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; }
footer { margin-top: 24px; color: #888; font-size: 12px; }
`;

function emptyBody(): string {
  return `<p class="empty">No results yet: this experiment has no evaluated architectures, so there is no curve, table or best architecture to show.</p>`;
}

function fullBody(evaluations: readonly Evaluation[], space: string): string {
  const scored = evaluations.filter((e) => e.reward !== null);
  const top = [...scored].sort((a, b) => (b.reward as number) - (a.reward as number)).slice(0, TOP_ROWS);
  const best = top[0];
  const failed = evaluations.length - scored.length;
  const lm = space === 'rnn';
  const measure = (e: Evaluation): string => (lm ? `perplexity ${fmtPerplexity(e.perplexity)}` : `accuracy ${fmt(e.accuracy)}`);
  const summary = best
    ? `Best reward ${fmt(best.reward)} (${measure(best)}) at evaluation ${best.position} of ${evaluations.length}` +
      (failed > 0 ? `; ${failed} evaluation(s) without a reward are not drawn.` : '.')
    : 'No evaluation has a reward yet.';
  return `<p class="summary">${esc(summary)}</p>
<section><h2>Reward over evaluations</h2>${rewardChart(evaluations)}</section>
${lm ? `<section><h2>Best-so-far validation perplexity</h2>${perplexityChart(evaluations)}</section>` : `<section><h2>Best-so-far accuracy</h2>${accuracyChart(evaluations)}</section>`}
<section><h2>Best ${lm ? 'cell' : 'architecture'}</h2>${best ? architectureDrawing(best, space) : '<p>None.</p>'}</section>
<section><h2>Top architectures</h2>${topTable(top, lm)}</section>`;
}

function normalise(results: readonly ResultLine[]): Evaluation[] {
  const rows = results.filter(isRecord);
  // Order of arrival: results.jsonl is written in that order; the index says it when present.
  const byIndex = rows.every((r) => typeof r.index === 'number') ? [...rows].sort((a, b) => (a.index as number) - (b.index as number)) : rows;
  return byIndex.map((r, i) => ({
    position: i + 1,
    id: r.id === undefined || r.id === null ? '' : String(r.id),
    index: finiteOrNull(r.index),
    reward: finiteOrNull(r.reward),
    accuracy: finiteOrNull(r.accuracy),
    perplexity: finiteOrNull(r.perplexity),
    parameters: finiteOrNull(r.parameters),
    seconds: finiteOrNull(r.seconds),
    worker: r.worker === undefined || r.worker === null ? '' : String(r.worker),
    cached: r.cached === true,
    architecture: r.architecture,
    tokens: r.tokens,
  }));
}

// ---------------------------------------------------------------- charts

interface Series {
  readonly name: string;
  readonly cls: string;
  readonly colour: string;
  readonly kind: 'points' | 'line' | 'step';
  readonly values: readonly (readonly [number, number])[];
}

const CHART = { width: 1100, left: 64, right: 20, top: 30, bottom: 38 } as const;

function rewardChart(evaluations: readonly Evaluation[]): string {
  const points = evaluations.filter((e) => e.reward !== null).map((e) => [e.position, e.reward as number] as const);
  const window = Math.max(1, Math.min(50, Math.round(points.length / 10)));
  return lineChart('reward', 300, [
    { name: 'reward of each evaluation', cls: 'eval-point', colour: REPORT_COLOURS.point, kind: 'points', values: points },
    { name: `moving average (last ${window})`, cls: 'moving-average', colour: REPORT_COLOURS.curve, kind: 'line', values: movingAverage(points, window) },
    { name: 'best so far', cls: 'best-so-far', colour: REPORT_COLOURS.best, kind: 'step', values: bestSoFar(points) },
  ], evaluations.length);
}

function accuracyChart(evaluations: readonly Evaluation[]): string {
  const points = evaluations.filter((e) => e.accuracy !== null).map((e) => [e.position, e.accuracy as number] as const);
  if (points.length === 0) return '<p>No evaluation reported an accuracy.</p>';
  return lineChart('accuracy', 200, [
    { name: 'best-so-far accuracy', cls: 'best-accuracy', colour: REPORT_COLOURS.best, kind: 'step', values: bestSoFar(points) },
  ], evaluations.length);
}

/** Language-model children: the lowest validation perplexity so far (lower is better). */
function perplexityChart(evaluations: readonly Evaluation[]): string {
  const points = evaluations.filter((e) => e.perplexity !== null).map((e) => [e.position, e.perplexity as number] as const);
  if (points.length === 0) return '<p>No evaluation reported a finite perplexity.</p>';
  return lineChart('perplexity', 200, [
    { name: 'best-so-far validation perplexity', cls: 'best-perplexity', colour: REPORT_COLOURS.best, kind: 'step', values: bestSoFar(points, 'lowest') },
  ], evaluations.length);
}

function movingAverage(points: readonly (readonly [number, number])[], window: number): [number, number][] {
  const out: [number, number][] = [];
  let sum = 0;
  points.forEach(([x, y], i) => {
    sum += y;
    if (i >= window) sum -= (points[i - window] as readonly [number, number])[1];
    out.push([x, sum / Math.min(i + 1, window)]);
  });
  return out;
}

function bestSoFar(points: readonly (readonly [number, number])[], best: 'highest' | 'lowest' = 'highest'): [number, number][] {
  let so = best === 'highest' ? -Infinity : Infinity;
  return points.map(([x, y]) => {
    so = best === 'highest' ? Math.max(so, y) : Math.min(so, y);
    return [x, so];
  });
}

function lineChart(yLabel: string, height: number, series: readonly Series[], count: number): string {
  const { width, left, right, top, bottom } = CHART;
  const ys = series.flatMap((s) => s.values.map((v) => v[1]));
  let yMin = Math.min(...ys);
  let yMax = Math.max(...ys);
  if (yMin === yMax) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  const pad = (yMax - yMin) * 0.05;
  const yTicks = niceTicks(yMin - pad, yMax + pad, 5);
  const lo = Math.min(yMin - pad, yTicks[0] ?? yMin);
  const hi = Math.max(yMax + pad, yTicks[yTicks.length - 1] ?? yMax);
  const xMax = Math.max(2, count);
  const px = (x: number): number => left + ((x - 1) / (xMax - 1)) * (width - left - right);
  const py = (y: number): number => top + (1 - (y - lo) / (hi - lo)) * (height - top - bottom);
  const parts: string[] = [];
  for (const t of yTicks) {
    if (t < lo || t > hi) continue;
    parts.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${r(py(t))}" y2="${r(py(t))}"/>`);
    parts.push(`<text x="${left - 6}" y="${r(py(t) + 4)}" text-anchor="end">${esc(fmtTick(t))}</text>`);
  }
  for (const t of niceTicks(1, xMax, 10).filter((t) => Number.isInteger(t) && t >= 1 && t <= xMax)) {
    parts.push(`<text x="${r(px(t))}" y="${height - bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}"/>`);
  parts.push(`<line class="axis" x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}"/>`);
  parts.push(`<text x="${r((left + width - right) / 2)}" y="${height - 4}" text-anchor="middle">evaluation (order of arrival)</text>`);
  parts.push(`<text x="14" y="${r((top + height - bottom) / 2)}" text-anchor="middle" transform="rotate(-90 14 ${r((top + height - bottom) / 2)})">${esc(yLabel)}</text>`);
  for (const s of series) {
    if (s.kind === 'points') {
      parts.push(`<g class="${s.cls}-series">${s.values.map(([x, y]) => `<circle class="${s.cls}" cx="${r(px(x))}" cy="${r(py(y))}" r="2.5" fill="${s.colour}"/>`).join('')}</g>`);
    } else if (s.values.length > 0) {
      const coords: string[] = [];
      s.values.forEach(([x, y], i) => {
        if (s.kind === 'step' && i > 0) coords.push(`${r(px(x))},${r(py((s.values[i - 1] as readonly [number, number])[1]))}`);
        coords.push(`${r(px(x))},${r(py(y))}`);
      });
      parts.push(`<polyline class="${s.cls}" points="${coords.join(' ')}" fill="none" stroke="${s.colour}" stroke-width="3" stroke-linejoin="round"/>`);
    }
  }
  // Legend, top left inside the plot.
  let lx = left + 10;
  for (const s of series) {
    const swatch = s.kind === 'points'
      ? `<circle cx="${lx + 8}" cy="${top - 14}" r="3" fill="${s.colour}"/>`
      : `<line x1="${lx}" x2="${lx + 16}" y1="${top - 14}" y2="${top - 14}" stroke="${s.colour}" stroke-width="3"/>`;
    parts.push(`${swatch}<text x="${lx + 22}" y="${top - 10}">${esc(s.name)}</text>`);
    lx += 40 + s.name.length * 6.5;
  }
  return `<svg class="chart chart-${esc(yLabel)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(yLabel)} over evaluations">${parts.join('')}</svg>`;
}

/** About `count` round tick values covering [lo, hi]. */
function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

// ---------------------------------------------------------------- architecture drawings

function architectureDrawing(best: Evaluation, space: string): string {
  const arch = best.architecture;
  if (isRecord(arch) && Array.isArray(arch.layers)) return convDrawing(arch.layers, arch);
  if (isRecord(arch) && (arch.space === 'rnn' || space === 'rnn')) return rnnCellDrawing(arch) ?? rawArchitecture(arch);
  if (isRecord(arch) && typeof arch.arch === 'string') return nb201Drawing(arch.arch) ?? rawArchitecture(arch);
  if (typeof arch === 'string' && space === 'nb201') return nb201Drawing(arch) ?? rawArchitecture(arch);
  if (isRecord(arch) && Array.isArray(arch.tokens)) return tokenList(arch.tokens);
  if (Array.isArray(best.tokens)) return tokenList(best.tokens);
  return rawArchitecture(arch);
}

function rawArchitecture(arch: unknown): string {
  return `<pre class="architecture">${esc(JSON.stringify(arch, null, 2) ?? String(arch))}</pre>`;
}

function tokenList(tokens: readonly unknown[]): string {
  return `<ol class="tokens">${tokens.map((t) => `<li class="token">${esc(typeof t === 'string' ? t : JSON.stringify(t))}</li>`).join('')}</ol>`;
}

interface DrawnLayer {
  readonly label: string;
  readonly pool: boolean;
  /** Rows of the drawing this layer reads: 0 is the image, layer k is row k + 1. */
  readonly sources: readonly number[];
}

const ARROWS = `<defs>
<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>
<marker id="arrow-skip" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${REPORT_COLOURS.skip}"/></marker>
</defs>`;

/** Layers top to bottom from the image to the classifier; skips curve on alternating sides. */
function convDrawing(rawLayers: readonly unknown[], network: { merge?: unknown; classifier?: unknown } = {}): string {
  const layers: DrawnLayer[] = rawLayers.map((raw, i) => {
    const l = isRecord(raw) ? raw : {};
    const type = typeof l.type === 'string' ? l.type : 'conv';
    const pool = type !== 'conv';
    const inputs = Array.isArray(l.inputs) ? l.inputs.filter((j): j is number => Number.isInteger(j) && (j as number) >= 0 && (j as number) < i) : [];
    const size = `${num(l.filterHeight)}×${num(l.filterWidth)}`;
    const stride = `stride ${num(l.strideHeight ?? 1)}×${num(l.strideWidth ?? 1)}`;
    const label = pool ? `${i}: ${type} ${size}, ${stride}` : `${i}: ${type} ${size}, ${num(l.filters)} filters, ${stride}`;
    return { label, pool, sources: inputs.length ? inputs.map((j) => j + 1) : [0] };
  });
  const n = layers.length;
  const consumed = new Set(layers.flatMap((l) => l.sources));
  const toClassifier = Array.from({ length: n }, (_, k) => k + 1).filter((row) => !consumed.has(row));
  if (n === 0) toClassifier.push(0);
  const rows = n + 2;
  const pitch = 62;
  const boxH = 38;
  const boxW = 300;
  const width = 1100;
  const cx = width / 2;
  const height = rows * pitch + 10;
  const yTop = (row: number): number => 10 + row * pitch;
  const parts: string[] = [ARROWS];
  const box = (row: number, cls: string, fill: string, label: string): void => {
    parts.push(`<rect class="${cls}" x="${cx - boxW / 2}" y="${yTop(row)}" width="${boxW}" height="${boxH}" rx="5" fill="${fill}"/>`);
    parts.push(`<text x="${cx}" y="${yTop(row) + boxH / 2 + 4}" text-anchor="middle" style="fill:#fff;font-weight:600">${esc(label)}</text>`);
  };
  let side = 0;
  const onSide = { left: 0, right: 0 };
  const edge = (from: number, to: number, cls: string): void => {
    if (to === from + 1) {
      parts.push(`<line class="${cls}" x1="${cx}" y1="${yTop(from) + boxH}" x2="${cx}" y2="${yTop(to) - 2}" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>`);
      return;
    }
    // Alternate sides and bulge with the span, so that several skips stay apart.
    const dir = side++ % 2 === 0 ? 1 : -1;
    const x = cx + (dir * boxW) / 2;
    const count = dir > 0 ? onSide.right++ : onSide.left++;
    const bulge = dir * (26 + 20 * (to - from) + 14 * count);
    const y1 = yTop(from) + boxH / 2;
    const y2 = yTop(to) + boxH / 2;
    parts.push(`<path class="${cls}" d="M${x},${y1} C${x + bulge},${y1} ${x + bulge},${y2} ${x + dir * 2},${y2}" fill="none" stroke="${REPORT_COLOURS.skip}" stroke-width="2" marker-end="url(#arrow-skip)"/>`);
  };
  layers.forEach((l, i) => {
    for (const s of l.sources) edge(s, i + 1, s === i ? 'edge' : 'skip');
  });
  for (const row of toClassifier) edge(row, n + 1, row === n ? 'edge' : 'to-classifier');
  box(0, 'io', REPORT_COLOURS.io, 'image');
  layers.forEach((l, i) => box(i + 1, l.pool ? 'layer pool' : 'layer', l.pool ? REPORT_COLOURS.pool : REPORT_COLOURS.layer, l.label));
  box(n + 1, 'io', REPORT_COLOURS.io, network.classifier === 'flatten' ? 'classifier (flattened features, softmax)' : 'classifier (global pool, softmax)');
  const join = network.merge === 'pool' ? 'Inputs of different sizes are average-pooled to the smallest.' : 'Inputs of different sizes are zero-padded to the largest.';
  const legend = `<p class="legend">Straight arrows: input from the previous layer. <span style="color:${REPORT_COLOURS.skip}">Curved arrows: skip connections, and outputs no later layer reads (to the classifier).</span> ${join}</p>`;
  return `${legend}<svg class="architecture conv" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="best architecture: ${n} layers">${parts.join('')}</svg>`;
}

const NB201_PATTERN = /^\|([^~|]+)~0\|\+\|([^~|]+)~0\|([^~|]+)~1\|\+\|([^~|]+)~0\|([^~|]+)~1\|([^~|]+)~2\|$/;
const NB201_EDGES: readonly (readonly [number, number])[] = [[0, 1], [0, 2], [1, 2], [0, 3], [1, 3], [2, 3]];

/** The cell's 4 nodes in a row; edges between neighbours straight, the others arcs above (0→2, 0→3) or below (1→3). */
function nb201Drawing(text: string): string | null {
  const match = NB201_PATTERN.exec(text);
  if (!match) return null;
  const ops = match.slice(1);
  const width = 1100;
  const height = 290;
  const midY = 165;
  const radius = 22;
  const nodeX = (k: number): number => 130 + k * 280;
  const parts: string[] = [ARROWS];
  NB201_EDGES.forEach(([from, to], e) => {
    const op = ops[e] as string;
    const none = op === 'none';
    const stroke = none ? '#bbb' : REPORT_COLOURS.layer;
    const dash = none ? ' stroke-dasharray="6 4"' : '';
    let d: string;
    let lx: number;
    let ly: number;
    if (to === from + 1) {
      const x1 = nodeX(from) + radius;
      const x2 = nodeX(to) - radius - 2;
      d = `M${x1},${midY} L${x2},${midY}`;
      lx = (x1 + x2) / 2;
      ly = midY - 8;
    } else {
      // Apex of the arc at midY + rise; a cubic whose control points share a y reaches 3/4 of their offset.
      const rise = from === 1 && to === 3 ? 80 : to - from === 2 ? -80 : -140;
      const sign = Math.sign(rise);
      const x1 = nodeX(from) + 10;
      const x2 = nodeX(to) - 10;
      const y0 = midY + sign * (radius - 2);
      const yc = y0 + ((rise - sign * (radius - 2)) * 4) / 3;
      d = `M${x1},${y0} C${r(x1 + (x2 - x1) * 0.12)},${r(yc)} ${r(x2 - (x2 - x1) * 0.12)},${r(yc)} ${x2},${y0 + sign * 2}`;
      lx = (x1 + x2) / 2;
      ly = midY + rise + (sign < 0 ? -6 : 16);
    }
    parts.push(`<path class="nb201-edge" d="${d}" fill="none" stroke="${stroke}" stroke-width="2.5"${dash} marker-end="url(#arrow)"/>`);
    parts.push(`<text x="${r(lx)}" y="${r(ly)}" text-anchor="middle" style="fill:#fff;stroke:#fff;stroke-width:4px">${esc(op)}</text><text x="${r(lx)}" y="${r(ly)}" text-anchor="middle">${esc(op)}</text>`);
  });
  for (let k = 0; k < 4; k++) {
    parts.push(`<circle class="nb201-node" cx="${nodeX(k)}" cy="${midY}" r="${radius}" fill="${REPORT_COLOURS.io}"/>`);
    parts.push(`<text x="${nodeX(k)}" y="${midY + 5}" text-anchor="middle" style="fill:#fff;font-weight:600">${k}</text>`);
  }
  parts.push(`<text x="${nodeX(0) - 34}" y="${midY + 5}" text-anchor="end">input</text><text x="${nodeX(3) + 34}" y="${midY + 5}">output</text>`);
  return `<svg class="architecture nb201" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="best NAS-Bench-201 cell">${parts.join('')}</svg>
<p><code>${esc(text)}</code></p>`;
}

// ---------------------------------------------------------------- table

function topTable(top: readonly Evaluation[], lm: boolean): string {
  const rows = top.map((e, i) => `<tr><td>${i + 1}</td><td>${esc(fmt(e.reward))}</td><td>${esc(lm ? fmtPerplexity(e.perplexity) : fmt(e.accuracy))}</td><td>${esc(e.parameters === null ? '–' : fmtInt(e.parameters))}</td><td>${esc(e.seconds === null ? '–' : e.seconds.toFixed(1))}</td><td>${esc(e.worker || '–')}${e.cached ? ' (cached)' : ''}</td><td>${e.position}</td><td class="arch">${esc(archSummary(e))}</td></tr>`);
  return `<table class="top"><thead><tr><th>#</th><th>reward</th><th>${lm ? 'perplexity' : 'accuracy'}</th><th>parameters</th><th>seconds</th><th>worker</th><th>evaluation</th><th class="arch">architecture</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function archSummary(e: Evaluation): string {
  const a = e.architecture;
  if (isRecord(a) && Array.isArray(a.layers)) {
    return a.layers.map((raw) => {
      const l = isRecord(raw) ? raw : {};
      const inputs = Array.isArray(l.inputs) && l.inputs.length ? `←${l.inputs.join(',')}` : '←img';
      return `${String(l.type ?? 'conv')}${num(l.filterHeight)}x${num(l.filterWidth)}:${num(l.filters)}${inputs}`;
    }).join(' ');
  }
  if (isRecord(a) && typeof a.arch === 'string') return a.arch;
  if (isRecord(a) && a.space === 'rnn') return rnnCellSummary(a) ?? JSON.stringify(a);
  if (isRecord(a) && Array.isArray(a.tokens)) return a.tokens.map((t) => String(t)).join(' | ');
  return JSON.stringify(a) ?? '';
}

// ---------------------------------------------------------------- helpers

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function finiteOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function num(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : '?';
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function fmt(v: number | null): string {
  return v === null ? '–' : v.toFixed(4);
}

function fmtPerplexity(v: number | null): string {
  return v === null ? '–' : v.toFixed(2);
}

function fmtTick(v: number): string {
  return Math.abs(v) >= 1000 ? fmtInt(v) : String(Number(v.toPrecision(6)));
}

function fmtInt(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

// ---------------------------------------------------------------- the output folder of a run

/** What RunOutput.reconcile changed in results.jsonl. */
export interface Reconciliation {
  /** Lines added for results the file lacked. */
  readonly appended: number;
  /** Lines removed: results the store does not hold, repeated ids, or a line cut short. */
  readonly dropped: number;
}

/** Most architectures in best.json's `top`. */
const BEST_TOP = 10;

/**
 * The files of a run's output folder that follow the search while it goes: results.jsonl gets one line per
 * result as results arrive (appended whole, never rewritten while the file agrees with the store), best.json
 * is replaced atomically when the best architectures change, and report.html atomically whenever asked.
 *
 *   const output = RunOutput.open(out, config);
 *   output.reconcile(storeLines);   // after a restart: append what the file lacks
 *   output.append(newLines);        // as results arrive
 *   output.writeBest(); output.writeReport({ refreshSeconds: 10 });
 */
export class RunOutput {
  private readonly lines: ResultLine[] = [];
  private readonly ids = new Set<string>();
  private bestKey = '';
  /** Lines of the file on disk that are not in `lines`: cut short, unreadable or repeated. */
  private skipped = 0;

  private constructor(readonly out: string, private readonly config: unknown) {}

  /** Opens `out` (which must exist), reading the results.jsonl already there. */
  static open(out: string, config: unknown): RunOutput {
    const output = new RunOutput(out, config);
    const file = output.resultsFile;
    if (!existsSync(file)) return output;
    const text = readFileSync(file, 'utf8');
    const whole = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
    if (whole.length !== text.length) output.skipped++;
    for (const line of whole.split('\n')) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        output.skipped++;
        continue;
      }
      const id = isRecord(parsed) ? parsed.id : undefined;
      if (typeof id !== 'string' || output.ids.has(id)) {
        output.skipped++;
        continue;
      }
      output.ids.add(id);
      output.lines.push(parsed as ResultLine);
    }
    return output;
  }

  get resultsFile(): string {
    return path.join(this.out, 'results.jsonl');
  }

  /** The results written, in the file's order. */
  get results(): readonly ResultLine[] {
    return this.lines;
  }

  /** Whether a result of this id is in results.jsonl. */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Appends the results whose id is not written yet, all in one write; returns how many. */
  append(results: readonly ResultLine[]): number {
    const fresh = results.filter((r) => typeof r.id === 'string' && !this.ids.has(r.id));
    if (fresh.length === 0) return 0;
    const fd = openSync(this.resultsFile, 'a');
    try {
      // One write of whole lines: a process killed now leaves all of them or none.
      writeSync(fd, fresh.map((r) => `${JSON.stringify(r)}\n`).join(''));
    } finally {
      closeSync(fd);
    }
    for (const r of fresh) {
      this.ids.add(r.id as string);
      this.lines.push(r);
    }
    return fresh.length;
  }

  /**
   * Makes results.jsonl hold every result of `all` (the store's, in order of arrival) once: appends what it
   * lacks; if it holds lines the store does not (or a repeated or cut line), it is rewritten atomically.
   */
  reconcile(all: readonly ResultLine[]): Reconciliation {
    const known = new Set(all.map((r) => r.id));
    const foreign = this.lines.filter((r) => !known.has(r.id)).length;
    if (this.skipped === 0 && foreign === 0) return { appended: this.append(all), dropped: 0 };
    const dropped = this.skipped + foreign;
    const kept = this.lines.filter((r) => known.has(r.id));
    const keptIds = new Set(kept.map((r) => r.id));
    const missing = all.filter((r) => !keptIds.has(r.id));
    const lines = [...kept, ...missing];
    writeFileAtomic(this.resultsFile, lines.map((r) => `${JSON.stringify(r)}\n`).join(''));
    this.lines.splice(0, this.lines.length, ...lines);
    this.ids.clear();
    for (const r of lines) this.ids.add(r.id as string);
    this.skipped = 0;
    return { appended: missing.length, dropped };
  }

  /** The best result by reward so far, or null. */
  best(): ResultLine | null {
    return this.top(1)[0] ?? null;
  }

  /** The highest validation accuracy so far, or null. */
  bestAccuracy(): number | null {
    let best: number | null = null;
    for (const r of this.lines) if (typeof r.accuracy === 'number' && Number.isFinite(r.accuracy) && (best === null || r.accuracy > best)) best = r.accuracy;
    return best;
  }

  /** Rewrites best.json atomically when the top architectures changed since the last write (or with `force`); returns whether it wrote. */
  writeBest(force = false): boolean {
    const top = this.top(BEST_TOP);
    const key = top.map((r) => r.id).join(',');
    if (!force && key === this.bestKey) return false;
    this.bestKey = key;
    const id = isRecord(this.config) ? this.config.id : undefined;
    writeFileAtomic(path.join(this.out, 'best.json'), JSON.stringify({ experiment: id ?? null, evaluations: this.lines.length, best: top[0] ?? null, top }, null, 2) + '\n');
    return true;
  }

  /** Rewrites report.html atomically; returns its path. */
  writeReport(options: WriteReportOptions = {}): string {
    return writeReport(this.out, this.config, this.lines, options);
  }

  private top(k: number): ResultLine[] {
    const scored = this.lines.filter((r) => typeof r.reward === 'number' && Number.isFinite(r.reward));
    return scored.sort((a, b) => (b.reward as number) - (a.reward as number)).slice(0, k);
  }
}
