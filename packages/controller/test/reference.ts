import type { Decision, SearchSpace } from '@nasrl/spaces';
import type { NamedTensor } from '../src';

/**
 * A float64 re-implementation of the controller's log P(tokens) and entropy, written with plain loops and no
 * TensorFlow.js, so that finite differences of it are precise enough to check the tape's gradient.
 */
export function referenceLogProb(
  space: SearchSpace,
  params: readonly NamedTensor[],
  tokens: readonly number[],
  layers: number | undefined,
  hidden: number,
  lstmLayers: number,
): { logProb: number; entropy: number } {
  const P = new Map(params.map((p) => [p.name, { shape: p.shape, data: Float64Array.from(p.data) }]));
  const get = (n: string): { shape: readonly number[]; data: Float64Array } => {
    const t = P.get(n);
    if (!t) throw new Error(`missing ${n}`);
    return t;
  };
  const matvec = (x: number[], w: { shape: readonly number[]; data: Float64Array }): number[] => {
    const [rows, cols] = w.shape as [number, number];
    const out = new Array<number>(cols).fill(0);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] = (out[j] as number) + (x[i] as number) * (w.data[i * cols + j] as number);
    return out;
  };
  const sig = (z: number): number => 1 / (1 + Math.exp(-z));
  const H = hidden;
  let h: number[][] = Array.from({ length: lstmLayers }, () => new Array<number>(H).fill(0));
  let c: number[][] = Array.from({ length: lstmLayers }, () => new Array<number>(H).fill(0));
  const go = Array.from(get('go').data);
  let x = go;
  let logProb = 0;
  let entropy = 0;
  let p = 0;
  const anchorH: number[][] = [];
  const anchorProj: number[][] = [];
  for (const d of space.decisions(layers) as readonly Decision[]) {
    let input = x;
    const nh: number[][] = [];
    const nc: number[][] = [];
    for (let l = 0; l < lstmLayers; l++) {
      const z = matvec([...input, ...(h[l] as number[])], get(`lstm/${l}/kernel`)).map((v, j) => v + (get(`lstm/${l}/bias`).data[j] as number));
      const cNew = new Array<number>(H);
      const hNew = new Array<number>(H);
      for (let j = 0; j < H; j++) {
        const i = sig(z[j] as number);
        const f = sig(z[H + j] as number);
        const g = Math.tanh(z[2 * H + j] as number);
        const o = sig(z[3 * H + j] as number);
        cNew[j] = f * ((c[l] as number[])[j] as number) + i * g;
        hNew[j] = o * Math.tanh(cNew[j] as number);
      }
      nh.push(hNew);
      nc.push(cNew);
      input = hNew;
    }
    h = nh;
    c = nc;
    const out = input;
    if (d.kind === 'categorical') {
      const logits = matvec(out, get(`head/${d.type}/kernel`)).map((v, j) => v + (get(`head/${d.type}/bias`).data[j] as number));
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((a, v) => a + Math.exp(v - max), 0));
      const logp = logits.map((v) => v - lse);
      const t = tokens[p++] as number;
      logProb += logp[t] as number;
      entropy -= logp.reduce((a, v) => a + Math.exp(v) * v, 0);
      const emb = get(`embedding/${d.type}`);
      x = Array.from(emb.data.slice(t * H, (t + 1) * H));
    } else {
      if (d.layer > 0) {
        const query = matvec(out, get('anchor/w_curr'));
        const v = get('anchor/v').data;
        const sum = [...go];
        let chosen = 0;
        for (let j = 0; j < d.layer; j++) {
          const pre = (anchorProj[j] as number[]).map((a, k) => Math.tanh(a + (query[k] as number)));
          const s = pre.reduce((a, val, k) => a + val * (v[k] as number), 0);
          const q = sig(s);
          const bit = tokens[p++] as number;
          logProb += bit === 1 ? Math.log(q) : Math.log(1 - q);
          entropy -= q * Math.log(q) + (1 - q) * Math.log(1 - q);
          if (bit === 1) {
            chosen++;
            (anchorH[j] as number[]).forEach((val, k) => (sum[k] = (sum[k] as number) + val));
          }
        }
        x = sum.map((val) => val / (1 + chosen));
      } else {
        x = go;
      }
      anchorH.push(out);
      anchorProj.push(matvec(out, get('anchor/w_prev')));
    }
  }
  return { logProb, entropy };
}
