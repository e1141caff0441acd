#!/usr/bin/env node
'use strict';
// Writes deploy/grafana/dashboards/*.json. Edit the panels here and run `node deploy/grafana/generate-dashboards.js`;
// test/deploy/deploy.test.js checks that the committed files are what this script writes, and that every
// expression uses only the metric names of the services' metrics contract. Queries over RNN_ONLY_METRICS have
// data for experiments of space rnn only.
const fs = require('node:fs');
const path = require('node:path');

const DS = { type: 'prometheus', uid: 'nasrl-prometheus' };
const EXP = 'experiment=~"$experiment"';
const RI = '$__rate_interval';

function target(expr, legendFormat, extra = {}) {
  return { datasource: DS, expr, legendFormat, range: true, ...extra };
}

function timeseries(title, targets, { unit = 'short', w = 12, h = 8, description = '', min, max, stack = false } = {}) {
  return {
    type: 'timeseries',
    title,
    description,
    datasource: DS,
    gridPos: { w, h },
    targets,
    fieldConfig: {
      defaults: {
        unit,
        ...(min === undefined ? {} : { min }),
        ...(max === undefined ? {} : { max }),
        custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: stack ? 30 : 10, showPoints: 'never', stacking: { mode: stack ? 'normal' : 'none' } },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
  };
}

function stat(title, targets, { unit = 'short', w = 6, h = 4, description = '' } = {}) {
  return {
    type: 'stat',
    title,
    description,
    datasource: DS,
    gridPos: { w, h },
    targets,
    fieldConfig: { defaults: { unit }, overrides: [] },
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto' },
  };
}

function heatmap(title, targets, { w = 24, h = 9, description = '' } = {}) {
  return {
    type: 'heatmap',
    title,
    description,
    datasource: DS,
    gridPos: { w, h },
    targets,
    options: {
      calculate: false,
      yAxis: { unit: 's' },
      cellGap: 1,
      color: { mode: 'scheme', scheme: 'Spectral', steps: 64 },
      tooltip: { show: true, yHistogram: true },
      legend: { show: true },
    },
    fieldConfig: { defaults: {}, overrides: [] },
  };
}

function table(title, targets, { w = 24, h = 6, description = '' } = {}) {
  return { type: 'table', title, description, datasource: DS, gridPos: { w, h }, targets, fieldConfig: { defaults: {}, overrides: [] }, options: { showHeader: true } };
}

function row(title) {
  return { type: 'row', title, collapsed: false, gridPos: { w: 24, h: 1 }, panels: [] };
}

/** Lays panels out left to right, top to bottom, and numbers them. */
function layout(panels) {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return panels.map((p, i) => {
    const { w, h } = p.gridPos;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const placed = { id: i + 1, ...p, gridPos: { x, y, w, h } };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return placed;
  });
}

const experimentVariable = {
  name: 'experiment',
  label: 'experiment',
  type: 'query',
  datasource: DS,
  definition: 'label_values(nasrl_architectures_sampled_total, experiment)',
  query: { query: 'label_values(nasrl_architectures_sampled_total, experiment)', refId: 'PrometheusVariableQueryEditor-VariableQuery' },
  refresh: 2,
  includeAll: true,
  multi: true,
  allValue: '.*',
  current: { selected: true, text: ['All'], value: ['$__all'] },
  sort: 1,
};

function dashboard(uid, title, description, panels) {
  return {
    uid,
    title,
    description,
    tags: ['nasrl'],
    editable: false,
    graphTooltip: 1,
    refresh: '10s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    templating: { list: [experimentVariable] },
    annotations: { list: [] },
    links: [{ type: 'dashboards', tags: ['nasrl'], asDropdown: true, title: 'nasrl', includeVars: true, keepTime: true }],
    panels: layout(panels),
  };
}

// What the panels of the rnn space's metrics say of the other spaces.
const RNN_ONLY = 'Recorded for experiments of space rnn only (their accuracy is 1 / perplexity): empty for the other spaces.';

/** Metrics that only rnn experiments record: a dashboard query over them has no data for the other spaces. */
const RNN_ONLY_METRICS = ['nasrl_child_perplexity', 'nasrl_best_perplexity'];

const meanReward = `sum by (experiment) (rate(nasrl_child_reward_sum{${EXP}}[${RI}])) / sum by (experiment) (rate(nasrl_child_reward_count{${EXP}}[${RI}]))`;

const dashboards = {
  'nasrl-reward.json': dashboard('nasrl-reward', 'nasrl / reward', 'Child rewards, the EMA baseline and the best accuracy of each experiment (and, for rnn experiments, the perplexity).', [
    timeseries('Reward curve', [
      target(meanReward, '{{experiment}} mean child reward', { refId: 'A' }),
      target(`max by (experiment) (nasrl_reward_moving_average{${EXP}})`, '{{experiment}} reward moving average', { refId: 'B' }),
      target(`max by (experiment) (nasrl_baseline{${EXP}})`, '{{experiment}} baseline', { refId: 'C' }),
      target(`max by (experiment) (nasrl_best_accuracy{${EXP}})`, '{{experiment}} best accuracy', { refId: 'D' }),
    ], { w: 24, h: 10, description: 'Mean reward of the children evaluated in each interval (histogram sum / count), the moving average of the rewards, the REINFORCE baseline and the best validation accuracy so far.' }),
    stat('Best accuracy', [target(`max by (experiment) (nasrl_best_accuracy{${EXP}})`, '{{experiment}}', { refId: 'A' })], {
      unit: 'percentunit', w: 6, description: 'Best child validation accuracy so far (for an rnn experiment, 1 / perplexity: see Best perplexity).',
    }),
    stat('Best perplexity (rnn)', [target(`min by (experiment) (nasrl_best_perplexity{${EXP}})`, '{{experiment}}', { refId: 'A' })], {
      w: 6, description: `Lowest child validation perplexity so far. ${RNN_ONLY}`,
    }),
    stat('Reward moving average', [target(`max by (experiment) (nasrl_reward_moving_average{${EXP}})`, '{{experiment}}', { refId: 'A' })], { w: 6 }),
    stat('Baseline', [target(`max by (experiment) (nasrl_baseline{${EXP}})`, '{{experiment}}', { refId: 'A' })], { w: 6 }),
    timeseries('Child validation perplexity (rnn)', [
      target(`min by (experiment) (nasrl_best_perplexity{${EXP}})`, '{{experiment}} best', { refId: 'A' }),
      target(`histogram_quantile(0.1, sum by (le, experiment) (rate(nasrl_child_perplexity_bucket{${EXP}}[${RI}])))`, '{{experiment}} p10', { refId: 'B' }),
      target(`histogram_quantile(0.5, sum by (le, experiment) (rate(nasrl_child_perplexity_bucket{${EXP}}[${RI}])))`, '{{experiment}} p50', { refId: 'C' }),
      target(`sum by (experiment) (rate(nasrl_child_perplexity_sum{${EXP}}[${RI}])) / sum by (experiment) (rate(nasrl_child_perplexity_count{${EXP}}[${RI}]))`, '{{experiment}} mean', { refId: 'D' }),
    ], {
      w: 24, h: 9, min: 1,
      description: 'Validation perplexity of the language-model children evaluated in each interval (quantiles of the nasrl_child_perplexity buckets, and the mean), ' +
        `and the best so far; lower is better, and the reward is c / perplexity². ${RNN_ONLY}`,
    }),
    timeseries('Child reward quantiles', [
      target(`histogram_quantile(0.5, sum by (le, experiment) (rate(nasrl_child_reward_bucket{${EXP}}[${RI}])))`, '{{experiment}} p50', { refId: 'A' }),
      target(`histogram_quantile(0.9, sum by (le, experiment) (rate(nasrl_child_reward_bucket{${EXP}}[${RI}])))`, '{{experiment}} p90', { refId: 'B' }),
      target(`histogram_quantile(0.99, sum by (le, experiment) (rate(nasrl_child_reward_bucket{${EXP}}[${RI}])))`, '{{experiment}} p99', { refId: 'C' }),
    ], { w: 12 }),
    timeseries('Advantage (mean reward − baseline)', [
      target(`${meanReward} - on (experiment) max by (experiment) (nasrl_baseline{${EXP}})`, '{{experiment}}', { refId: 'A' }),
    ], { w: 12 }),
  ]),

  'nasrl-search.json': dashboard('nasrl-search', 'nasrl / search progress', 'Architectures sampled and evaluated, controller steps and the policy entropy.', [
    stat('Architectures sampled', [target(`sum by (experiment) (nasrl_architectures_sampled_total{${EXP}})`, '{{experiment}}', { refId: 'A' })]),
    stat('Architectures evaluated', [target(`sum by (experiment) (nasrl_architectures_evaluated_total{${EXP}})`, '{{experiment}}', { refId: 'A' })]),
    stat('Controller steps', [target(`sum by (experiment) (nasrl_controller_steps_total{${EXP}})`, '{{experiment}}', { refId: 'A' })]),
    stat('Child failures', [target(`sum by (experiment) (nasrl_child_failures_total{${EXP}})`, '{{experiment}}', { refId: 'A' })]),
    timeseries('Sampled and evaluated per minute', [
      target(`60 * sum by (experiment) (rate(nasrl_architectures_sampled_total{${EXP}}[${RI}]))`, '{{experiment}} sampled', { refId: 'A' }),
      target(`60 * sum by (experiment) (rate(nasrl_architectures_evaluated_total{${EXP}}[${RI}]))`, '{{experiment}} evaluated', { refId: 'B' }),
    ], { unit: 'short' }),
    timeseries('Architectures (totals)', [
      target(`sum by (experiment) (nasrl_architectures_sampled_total{${EXP}})`, '{{experiment}} sampled', { refId: 'A' }),
      target(`sum by (experiment) (nasrl_architectures_evaluated_total{${EXP}})`, '{{experiment}} evaluated', { refId: 'B' }),
    ]),
    timeseries('Controller steps per minute', [
      target(`60 * sum by (experiment) (rate(nasrl_controller_steps_total{${EXP}}[${RI}]))`, '{{experiment}}', { refId: 'A' }),
    ]),
    timeseries('Policy entropy', [
      target(`max by (experiment) (nasrl_policy_entropy{${EXP}})`, '{{experiment}}', { refId: 'A' }),
    ], { description: 'Entropy of the controller policy over the sampled tokens; falls as the search converges.' }),
    timeseries('Gradient staleness (parameter versions)', [
      target(`histogram_quantile(0.5, sum by (le, experiment) (rate(nasrl_gradient_staleness_bucket{${EXP}}[${RI}])))`, '{{experiment}} p50', { refId: 'A' }),
      target(`histogram_quantile(0.95, sum by (le, experiment) (rate(nasrl_gradient_staleness_bucket{${EXP}}[${RI}])))`, '{{experiment}} p95', { refId: 'B' }),
      target(`sum by (experiment) (rate(nasrl_gradient_staleness_sum{${EXP}}[${RI}])) / sum by (experiment) (rate(nasrl_gradient_staleness_count{${EXP}}[${RI}]))`, '{{experiment}} mean', { refId: 'C' }),
    ]),
    timeseries('Child failures per minute (controller)', [
      target(`60 * sum by (experiment) (rate(nasrl_child_failures_total{job="controller", ${EXP}}[${RI}]))`, '{{experiment}}', { refId: 'A' }),
    ]),
  ]),

  'nasrl-queue-workers.json': dashboard('nasrl-queue-workers', 'nasrl / queue & workers', 'BullMQ queues, worker utilisation, child training time, failures and retries.', [
    timeseries('Jobs by state: nasrl-children', [
      target('max by (state) (nasrl_queue_jobs{queue="nasrl-children"})', '{{state}}', { refId: 'A' }),
    ], { stack: false }),
    timeseries('Jobs by state: nasrl-steps', [
      target('max by (state) (nasrl_queue_jobs{queue="nasrl-steps"})', '{{state}}', { refId: 'A' }),
    ]),
    timeseries('Reservations not yet enqueued', [
      target('max by (experiment) (nasrl_reservations_outstanding)', '{{experiment}}', { refId: 'A' }),
    ], { description: 'Steps whose architectures are reserved from the budget but not enqueued yet. Normal for a moment; a count that stays up is a replica that died holding one: it takes it back when it restarts, or another replica takes it over after NASRL_CONTROLLER_RESERVATION_STALE_MS.' }),
    timeseries('Worker utilisation', [
      target('avg(nasrl_worker_busy)', 'busy now (avg over workers)', { refId: 'A' }),
      target(`sum(rate(nasrl_worker_busy_seconds_total[${RI}])) / count(nasrl_worker_busy)`, 'busy time fraction', { refId: 'B' }),
    ], { unit: 'percentunit', min: 0, max: 1 }),
    timeseries('Workers busy', [
      target('sum(nasrl_worker_busy)', 'busy', { refId: 'A' }),
      target('count(nasrl_worker_busy)', 'workers', { refId: 'B' }),
    ]),
    heatmap('Child training time', [
      target(`sum by (le) (increase(nasrl_child_training_seconds_bucket[${RI}]))`, '{{le}}', { refId: 'A', format: 'heatmap' }),
    ], { description: 'Distribution of the children\'s training time (nasrl_child_training_seconds buckets).' }),
    timeseries('Child training time quantiles', [
      target(`histogram_quantile(0.5, sum by (le) (rate(nasrl_child_training_seconds_bucket[${RI}])))`, 'p50', { refId: 'A' }),
      target(`histogram_quantile(0.95, sum by (le) (rate(nasrl_child_training_seconds_bucket[${RI}])))`, 'p95', { refId: 'B' }),
      target(`sum(rate(nasrl_child_training_seconds_sum[${RI}])) / sum(rate(nasrl_child_training_seconds_count[${RI}]))`, 'mean', { refId: 'C' }),
    ], { unit: 's' }),
    timeseries('Training throughput (images/s)', [
      target('nasrl_worker_images_per_second', '{{instance}}', { refId: 'A' }),
      target('sum(nasrl_worker_images_per_second)', 'all workers', { refId: 'B' }),
    ]),
    timeseries('Children completed per minute', [
      target(`60 * sum by (cached) (rate(nasrl_children_completed_total[${RI}]))`, 'cached={{cached}}', { refId: 'A' }),
    ]),
    timeseries('Failures and retries per minute (workers)', [
      target(`60 * sum by (reason) (rate(nasrl_child_failures_total{job="worker"}[${RI}]))`, 'failed: {{reason}}', { refId: 'A' }),
      target(`60 * sum(rate(nasrl_child_retries_total[${RI}]))`, 'retries', { refId: 'B' }),
    ], { w: 24 }),
  ]),

  'nasrl-param-servers.json': dashboard('nasrl-param-servers', 'nasrl / parameter servers', 'Pushes by outcome, gradient staleness, parameter versions and checkpoints of the shards.', [
    timeseries('Pushes per second by outcome', [
      target(`sum by (outcome) (rate(nasrl_ps_pushes_total{${EXP}}[${RI}]))`, '{{outcome}}', { refId: 'A' }),
    ], { unit: 'ops', stack: true }),
    timeseries('Rejected pushes per second by shard', [
      target(`sum by (instance, outcome) (rate(nasrl_ps_pushes_total{outcome=~"rejected_stale|rejected_invalid", ${EXP}}[${RI}]))`, '{{instance}} {{outcome}}', { refId: 'A' }),
    ], { unit: 'ops' }),
    timeseries('Push staleness quantiles', [
      target(`histogram_quantile(0.5, sum by (le, experiment) (rate(nasrl_ps_push_staleness_bucket{${EXP}}[${RI}])))`, '{{experiment}} p50', { refId: 'A' }),
      target(`histogram_quantile(0.9, sum by (le, experiment) (rate(nasrl_ps_push_staleness_bucket{${EXP}}[${RI}])))`, '{{experiment}} p90', { refId: 'B' }),
      target(`histogram_quantile(0.99, sum by (le, experiment) (rate(nasrl_ps_push_staleness_bucket{${EXP}}[${RI}])))`, '{{experiment}} p99', { refId: 'C' }),
    ]),
    timeseries('Parameter version by shard', [
      target(`max by (instance, experiment) (nasrl_ps_parameter_version{${EXP}})`, '{{instance}} {{experiment}}', { refId: 'A' }),
    ]),
    timeseries('Checkpoint age', [
      target('max by (instance) (nasrl_ps_checkpoint_age_seconds)', '{{instance}}', { refId: 'A' }),
    ], { unit: 's' }),
    timeseries('Pulls per second', [
      target(`sum by (instance) (rate(nasrl_ps_pulls_total{${EXP}}[${RI}]))`, '{{instance}}', { refId: 'A' }),
    ], { unit: 'ops' }),
    timeseries('Steps dropped on a shard (applied on the others only)', [
      // A zero line per experiment while nothing was dropped: the counter has no series until a first drop.
      target(`sum by (experiment, shard, reason) (increase(nasrl_step_pushes_dropped_total{${EXP}}[${RI}])) or sum by (experiment) (increase(nasrl_controller_steps_total{${EXP}}[${RI}])) * 0`, '{{experiment}} shard {{shard}} {{reason}}', { refId: 'A' }),
    ], {
      description: 'Steps whose push a shard refused as stale, so that the step was applied on the other shards only (reported by the controllers\' step processors). ' +
        'shard-behind: the shard restored an older checkpoint; over-bound: NASRL_PS_STALENESS_BOUND; below-floor: older than the step ids the shard remembers. Anything above zero is worth a look.',
    }),
  ]),

  'nasrl-process.json': dashboard('nasrl-process', 'nasrl / process health', 'Event-loop lag, CPU and memory of every nasrl process.', [
    timeseries('Event-loop lag', [
      target('max by (job, instance) (nodejs_eventloop_lag_seconds)', '{{job}} {{instance}}', { refId: 'A' }),
    ], { unit: 's' }),
    timeseries('CPU (cores)', [
      target(`sum by (job, instance) (rate(process_cpu_seconds_total[${RI}]))`, '{{job}} {{instance}}', { refId: 'A' }),
    ], { unit: 'short' }),
    timeseries('Resident memory', [
      target('max by (job, instance) (process_resident_memory_bytes)', '{{job}} {{instance}}', { refId: 'A' }),
    ], { unit: 'bytes', w: 24 }),
    table('Builds', [
      target('max by (service, job, instance) (nasrl_build_info)', '', { refId: 'A', format: 'table', instant: true, range: false }),
    ]),
  ]),
};

/** The dashboards as file name → JSON text (what the committed files must contain). */
function render() {
  const out = {};
  for (const [name, d] of Object.entries(dashboards)) out[name] = `${JSON.stringify(d, null, 2)}\n`;
  return out;
}

module.exports = { render, RNN_ONLY_METRICS };

if (require.main === module) {
  const dir = path.join(__dirname, 'dashboards');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(render())) {
    fs.writeFileSync(path.join(dir, name), text);
    console.log(`wrote ${path.join(dir, name)}`);
  }
}
