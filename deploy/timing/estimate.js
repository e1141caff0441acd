#!/usr/bin/env node
'use strict';
// How long a convolutional search takes on GPUs, as an ESTIMATE: no child has been timed on a GPU with this
// code, so the time per epoch comes from the children's floating-point work and an assumed throughput.
//
//   hours = Σ over the depth schedule (architectures at that depth × epochs × seconds per epoch) ÷ GPUs ÷ 3600
//   seconds per epoch at depth L = (3 × F(L) × trained images + F(L) × validation images) ÷ throughput
//
// F(L) is the forward FLOPs of one image (2 per multiply-add; convolutions and the classifier) averaged over
// architectures of L layers drawn uniformly from the space, which is what the controller samples before it
// has learnt anything: every token uniform, every skip connection taken with probability 1/2. The shapes come
// from the child planner (@nasrl/child planChild) applied to architectures decoded by the space itself
// (@nasrl/spaces ConvSpace), so strides, pooling, reductions and the merge/classifier options are covered.
// A training step costs about 3 × F (forward, then gradients with respect to activations and to weights);
// validation runs forward only, after every epoch.
//
// Throughput: ASSUMED_TFLOPS (effective, Node + @tensorflow/tfjs-node-gpu, fp32, eager, batch 64, per-batch
// host synchronisation) is an assumption, not a measurement. Replace it with a measured one:
//
//   nasrl train-arch ARCH.json --dataset cifar10 --data-dir DIR --epochs 2 --batch-size 64     (on one GPU)
//   node deploy/timing/estimate.js EXPERIMENT.json --gpus 8 --measured ARCH.json=SECONDS_PER_EPOCH
//
// which divides the architecture's FLOPs per epoch by the measured seconds per epoch and uses that throughput.
//
// Usage: node deploy/timing/estimate.js EXPERIMENT.json [--gpus N] [--tflops T | --measured ARCH.json=SECONDS] [--json]
// Needs the packages built (npx tsc -b). test/deploy/deploy.test.js uses estimateSearch on the deploy files.
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

/** Effective training throughput of one GPU, in TFLOP/s (assumed; see above and deploy/README.md). */
const ASSUMED_TFLOPS = 4;
/** The documented bound: the default experiment's estimated wall time on the GPUs its files describe. */
const DEFAULT_BOUND_HOURS = 24;
/** Architectures drawn per depth for the average (seeded, so the estimate is the same on every run). */
const SAMPLES_PER_DEPTH = 2000;

/** Image shape and split sizes of the datasets a GPU search trains on (SPEC.md §4; @nasrl/datasets). */
const DATASETS = {
  cifar10: {
    shape: { height: 32, width: 32, channels: 3, classes: 10 },
    train: 45_000,
    validation: 5_000,
    // loadCifar10: a subset of N training images validates on min(5,000, ⌈N/5⌉).
    validationFor: (subset) => (subset === 45_000 ? 5_000 : Math.min(5_000, Math.ceil(subset / 5))),
  },
};

function requireBuilt(pkg) {
  const file = path.join(ROOT, 'packages', pkg, 'dist/src/index.js');
  if (!fs.existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: build first (npx tsc -b)`);
  return require(file);
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Forward FLOPs of one image through a planned child (2 per multiply-add; pooling counted per window element). */
function planForwardFlops(plan) {
  let flops = 0;
  for (const l of plan.layers) {
    const window = l.filterHeight * l.filterWidth;
    if (l.type === 'conv') flops += 2 * l.outHeight * l.outWidth * l.outChannels * window * l.inChannels;
    else flops += l.outHeight * l.outWidth * l.outChannels * window;
  }
  const features = plan.classifier === 'flatten' ? plan.featureHeight * plan.featureWidth * plan.featureChannels : plan.featureChannels;
  flops += 2 * features * plan.classes;
  return flops;
}

function datasetOf(training) {
  const d = DATASETS[training.dataset];
  if (!d) throw new Error(`the estimate covers the GPU datasets (${Object.keys(DATASETS).join(', ')}), not ${training.dataset}`);
  const train = training.subset ?? d.train;
  const validation = training.subset === null || training.subset === undefined ? d.validation : d.validationFor(train);
  const batch = Math.min(training.batchSize, train);
  // The trainer drops the last partial batch of an epoch.
  return { shape: d.shape, trainedImages: Math.floor(train / batch) * batch, validationImages: validation };
}

/** FLOPs of one epoch (training and the validation pass) of a child whose forward pass costs `forward` per image. */
function epochFlops(forward, data) {
  return 3 * forward * data.trainedImages + forward * data.validationImages;
}

/** Mean forward FLOPs per image of `samples` architectures of `layers` layers drawn uniformly from `space`. */
function expectedForwardFlops(space, layers, shape, { samples = SAMPLES_PER_DEPTH, seed = layers } = {}) {
  const { planChild } = requireBuilt('child');
  const random = seeded(0x5eed + seed);
  const sizes = space.tokenSizes(layers);
  let sum = 0;
  for (let s = 0; s < samples; s++) {
    const tokens = sizes.map((n) => Math.floor(random() * n));
    // No limits: the estimate is about work, not about what the workers would refuse.
    sum += planForwardFlops(planChild(space.decode(tokens, layers), shape, { maxLayers: 1e9, maxFilters: 1e9, maxParameters: Infinity, maxActivationBytes: Infinity }));
  }
  return sum / samples;
}

/** Architectures of each depth over the whole budget, in order (the space's depth schedule). */
function depthSchedule(space, budget) {
  const out = [];
  for (let sampled = 0; sampled < budget;) {
    const layers = space.depthAfter(sampled);
    // Sampled architectures until the next increase (or the end of the budget).
    const o = space.options;
    const next = layers >= o.maxLayers || o.layersPerIncrease === 0 ? budget : (Math.floor(sampled / o.architecturesPerIncrease) + 1) * o.architecturesPerIncrease;
    const count = Math.min(budget, next) - sampled;
    const last = out[out.length - 1];
    if (last && last.layers === layers) last.architectures += count;
    else out.push({ layers, architectures: count });
    sampled += count;
  }
  return out;
}

/**
 * The estimate for an experiment (JSON text or object, as parseExperimentConfig reads it) on `gpus` GPUs at
 * `tflops` effective TFLOP/s each: per depth the architectures, GFLOPs per training image, seconds per epoch
 * and minutes per child; in total GPU-hours and hours of wall time (every architecture trained, GPUs always
 * busy; repeats the controller proposes again cost nothing, so a real run is at most this long).
 */
function estimateSearch(experimentJson, { gpus, tflops = ASSUMED_TFLOPS } = {}) {
  if (!Number.isInteger(gpus) || gpus < 1) throw new Error(`gpus: expected a positive integer, got ${gpus}`);
  const { parseExperimentConfig } = requireBuilt('queue');
  const { ConvSpace } = requireBuilt('spaces');
  const experiment = parseExperimentConfig(experimentJson);
  if (experiment.space !== 'conv' || experiment.evaluator !== 'train') throw new Error(`the estimate covers trained conv searches, not space ${experiment.space} / evaluator ${experiment.evaluator}`);
  const space = new ConvSpace(experiment.spaceOptions);
  const data = datasetOf(experiment.training);
  const { epochs } = experiment.training;
  const depths = depthSchedule(space, experiment.budgetArchs).map(({ layers, architectures }) => {
    const forward = expectedForwardFlops(space, layers, data.shape);
    const secondsPerEpoch = epochFlops(forward, data) / (tflops * 1e12);
    return { layers, architectures, trainGflopsPerImage: (3 * forward) / 1e9, secondsPerEpoch, minutesPerChild: (secondsPerEpoch * epochs) / 60 };
  });
  const gpuSeconds = depths.reduce((s, d) => s + d.architectures * epochs * d.secondsPerEpoch, 0);
  return {
    id: experiment.id, budgetArchs: experiment.budgetArchs, childrenPerStep: experiment.childrenPerStep, epochs,
    trainedImages: data.trainedImages, validationImages: data.validationImages, gpus, tflops, depths,
    meanSecondsPerEpoch: gpuSeconds / (experiment.budgetArchs * epochs),
    gpuHours: gpuSeconds / 3600, hours: gpuSeconds / 3600 / gpus,
  };
}

/** Effective TFLOP/s of a measurement: `secondsPerEpoch` for the architecture in `archJson` under `training`. */
function measuredTflops(archJson, training, secondsPerEpoch) {
  const { parseConvArchitecture } = requireBuilt('spaces');
  const { planChild } = requireBuilt('child');
  const data = datasetOf({ subset: null, batchSize: 64, ...training });
  const forward = planForwardFlops(planChild(parseConvArchitecture(archJson), data.shape));
  return epochFlops(forward, data) / secondsPerEpoch / 1e12;
}

function format(e) {
  const lines = [
    `${e.id}: ${e.budgetArchs} architectures × ${e.epochs} epochs (${e.trainedImages} trained + ${e.validationImages} validation images an epoch), m = ${e.childrenPerStep}`,
    `throughput ${e.tflops} TFLOP/s per GPU (${e.tflops === ASSUMED_TFLOPS ? 'assumed, not measured' : 'given'})`,
    '',
    '  layers  architectures  GFLOP/train image  s/epoch  min/child',
    ...e.depths.map((d) => `  ${String(d.layers).padStart(6)}  ${String(d.architectures).padStart(13)}  ${d.trainGflopsPerImage.toFixed(2).padStart(17)}  ${d.secondsPerEpoch.toFixed(1).padStart(7)}  ${d.minutesPerChild.toFixed(1).padStart(9)}`),
    '',
    `mean ${e.meanSecondsPerEpoch.toFixed(1)} s per epoch; ${e.gpuHours.toFixed(0)} GPU-hours; ${e.hours.toFixed(1)} h (${(e.hours / 24).toFixed(1)} days) on ${e.gpus} GPU${e.gpus === 1 ? '' : 's'}`,
  ];
  return lines.join('\n');
}

function main(argv) {
  const usage = 'usage: node deploy/timing/estimate.js EXPERIMENT.json [--gpus N] [--tflops T | --measured ARCH.json=SECONDS_PER_EPOCH] [--json]';
  let file;
  let gpus = 8;
  let tflops = ASSUMED_TFLOPS;
  let measured;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--gpus') gpus = Number(argv[++i]);
    else if (a === '--tflops') tflops = Number(argv[++i]);
    else if (a === '--measured') measured = argv[++i];
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') return void console.log(usage);
    else if (!a.startsWith('--') && file === undefined) file = a;
    else throw new Error(`unexpected argument ${a}\n${usage}`);
  }
  if (file === undefined) throw new Error(usage);
  if (!(tflops > 0)) throw new Error('--tflops: expected a positive number');
  const text = fs.readFileSync(file, 'utf8');
  if (measured !== undefined) {
    const m = /^(.+)=([0-9.]+)$/.exec(measured);
    if (!m || !(Number(m[2]) > 0)) throw new Error('--measured: expected ARCH.json=SECONDS_PER_EPOCH');
    const { parseExperimentConfig } = requireBuilt('queue');
    tflops = measuredTflops(JSON.parse(fs.readFileSync(m[1], 'utf8')), parseExperimentConfig(text).training, Number(m[2]));
    if (!json) console.log(`${m[1]}: ${Number(m[2])} s per epoch measured → ${tflops.toFixed(2)} TFLOP/s effective`);
  }
  const e = estimateSearch(text, { gpus, tflops });
  console.log(json ? JSON.stringify(e) : format(e));
}

module.exports = { ASSUMED_TFLOPS, DEFAULT_BOUND_HOURS, estimateSearch, expectedForwardFlops, measuredTflops, planForwardFlops, depthSchedule };

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`estimate: ${err.message}`);
    process.exit(2);
  }
}
