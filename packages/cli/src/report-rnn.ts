import { parseRnnCell, rnnCellTree, type RnnCell, type RnnOp } from '@nasrl/spaces';
import { esc, REPORT_COLOURS } from './report';

/**
 * The recurrent cell of report.html: the tree drawn with the root (h_t) on top and the leaves (each reading
 * x_t and h_{t-1}) at the bottom; a box per node shows its number, combination and activation, filled by
 * combination (add: REPORT_COLOURS.layer, mul: REPORT_COLOURS.pool). Where c_{t-1} enters, an inject box
 * sits on the node's way up; where c_t leaves, an arrow points out of the node; both in REPORT_COLOURS.skip.
 */

const WIDTH = 1100;
const MARGIN = 90;
const ROW = 92;
const BOX_H = 40;
const TOP = 84;
const BOTTOM = 62;

/** The drawing of an rnn-space cell in its JSON form, or null when `arch` is not one. */
export function rnnCellDrawing(arch: unknown): string | null {
  const cell = cellOf(arch);
  if (cell === null) return null;
  const tree = rnnCellTree(cell.base);
  const top = Math.log2(cell.base);
  const slot = (level: number): number => (WIDTH - 2 * MARGIN) / (cell.base / 2 ** level);
  const boxW = Math.min(150, slot(0) - 14);
  const x = (level: number, position: number): number => MARGIN + slot(level) * (position + 0.5);
  const y = (level: number): number => TOP + (top - level) * ROW;
  const height = TOP + top * ROW + BOX_H + BOTTOM;
  const memory = REPORT_COLOURS.skip;
  const parts: string[] = [`<defs>
<marker id="cell-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>
<marker id="memory-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="${memory}"/></marker>
</defs>`];
  const line = (x1: number, y1: number, x2: number, y2: number, cls: string, colour = '#555', marker = 'cell-arrow'): void => {
    parts.push(`<line class="${cls}" x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" stroke="${colour}" stroke-width="${colour === '#555' ? 1.5 : 2.5}" marker-end="url(#${marker})"/>`);
  };
  // Edges first, so that the boxes cover their ends.
  for (const node of tree) {
    const nx = x(node.level, node.position);
    const fromY = y(node.level);
    if (node.parent === null) {
      line(nx, fromY, nx, TOP - 50, 'cell-edge');
    } else {
      const parent = tree[node.parent] as (typeof tree)[number];
      line(nx, fromY, x(parent.level, parent.position), y(parent.level) + BOX_H + 2, 'cell-edge');
    }
    if (node.children === null) line(nx, y(0) + BOX_H + 34, nx, y(0) + BOX_H + 2, 'cell-input');
  }
  parts.push(`<text x="${r(x(top, 0))}" y="${TOP - 58}" text-anchor="middle" style="font-weight:600">h${sub('t')} (the cell's output)</text>`);
  for (const node of tree) {
    const op = cell.nodes[node.index] as RnnOp;
    const nx = x(node.level, node.position);
    const ny = y(node.level);
    const fill = op.combination === 'add' ? REPORT_COLOURS.layer : REPORT_COLOURS.pool;
    parts.push(`<rect class="cell-node cell-${op.combination}" x="${r(nx - boxW / 2)}" y="${r(ny)}" width="${r(boxW)}" height="${BOX_H}" rx="5" fill="${fill}"/>`);
    parts.push(`<text x="${r(nx)}" y="${r(ny + 16)}" text-anchor="middle" style="fill:#fff;font-weight:600">${node.index}: ${esc(op.combination)}</text>`);
    parts.push(`<text x="${r(nx)}" y="${r(ny + 32)}" text-anchor="middle" style="fill:#fff">${esc(op.activation)}</text>`);
    if (node.children === null) parts.push(`<text x="${r(nx)}" y="${r(y(0) + BOX_H + 50)}" text-anchor="middle">x${sub('t')}, h${sub('t−1')}</text>`);
    if (node.index === cell.memoryOut) {
      // c_t is the node's pre-activation: an arrow out of its right side, up into the gap above the row.
      const x1 = nx + boxW / 2;
      const x2 = x1 + Math.min(34, slot(node.level) - boxW);
      line(x1 - 4, ny + 10, x2 + 6, ny - 12, 'cell-memory-out', memory, 'memory-arrow');
      parts.push(`<text x="${r(x2 + 8)}" y="${r(ny - 14)}" style="fill:${memory};font-weight:600">c${sub('t')}</text>`);
    }
    if (node.index === cell.memoryIn) {
      // The node's value becomes inject(value, c_{t-1}) on its way up: a box between it and its parent.
      const iy = ny - (ROW - BOX_H) / 2 - 11;
      const iw = Math.max(boxW, 132);
      parts.push(`<rect class="cell-inject" x="${r(nx - iw / 2)}" y="${r(iy)}" width="${r(iw)}" height="22" rx="11" fill="${memory}"/>`);
      parts.push(`<text x="${r(nx)}" y="${r(iy + 15)}" text-anchor="middle" style="fill:#fff;font-weight:600">${esc(cell.inject.combination)} c${sub('t−1')}, ${esc(cell.inject.activation)}</text>`);
    }
  }
  const legend = `<p class="legend">The cell computes h<sub>t</sub> from x<sub>t</sub> and h<sub>t−1</sub>: each leaf combines W<sub>i</sub>·x<sub>t</sub> and U<sub>i</sub>·h<sub>t−1</sub>, each inner node its two children; ` +
    `<span style="color:${REPORT_COLOURS.layer}">add</span> or <span style="color:${REPORT_COLOURS.pool}">mul</span>, then the activation. ` +
    `<span style="color:${memory}">c<sub>t−1</sub> enters node ${cell.memoryIn} (${esc(cell.inject.combination)}, then ${esc(cell.inject.activation)}); c<sub>t</sub> leaves node ${cell.memoryOut} before its activation.</span></p>`;
  return `${legend}<svg class="architecture rnn" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="best recurrent cell: base ${cell.base}, ${tree.length} nodes">${parts.join('')}</svg>`;
}

/** One line of the top-architectures table: each node's op, leaves first, and where the memory goes. */
export function rnnCellSummary(arch: unknown): string | null {
  const cell = cellOf(arch);
  if (cell === null) return null;
  const ops = cell.nodes.map((o) => `${o.combination}:${o.activation}`).join(' ');
  return `${ops} | c_t←${cell.memoryOut}, c_t−1→${cell.memoryIn} ${cell.inject.combination}:${cell.inject.activation}`;
}

/** The cell of a results line's architecture, or null when it is not a valid cell (the report shows it as JSON). */
function cellOf(arch: unknown): RnnCell | null {
  try {
    return parseRnnCell(arch);
  } catch {
    return null;
  }
}

function sub(text: string): string {
  return `<tspan dy="4" style="font-size:10px">${esc(text)}</tspan><tspan dy="-4"></tspan>`;
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}
