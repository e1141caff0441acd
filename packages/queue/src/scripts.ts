import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';

/** A Lua script run with EVALSHA, loaded on first use (and again after a SCRIPT FLUSH or a failover). */
export class LuaScript {
  private readonly sha: string;
  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script; `keys` are its KEYS, `args` its ARGV. */
  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/**
 * KEYS: config, sampled, the replica's step counter, reservations. ARGV: wanted, replica, step-id prefix.
 * Grants up to `wanted` architectures of the budget, numbers the step and records the reservation under its
 * step id, all at once. Returns {granted, sampledBefore, stepNo}; granted −1 when the experiment is missing,
 * 0 (and no step) when the budget is spent.
 */
export const RESERVE = new LuaScript(`
local cfg = redis.call('GET', KEYS[1])
if not cfg then return {-1, 0, 0} end
local budget = tonumber(cjson.decode(cfg).budgetArchs)
local sampled = tonumber(redis.call('GET', KEYS[2]) or '0')
local granted = math.min(tonumber(ARGV[1]), budget - sampled)
if granted <= 0 then return {0, sampled, 0} end
redis.call('INCRBY', KEYS[2], granted)
local step = redis.call('INCR', KEYS[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local replica = tonumber(ARGV[2])
redis.call('HSET', KEYS[4], ARGV[3] .. step, cjson.encode({replica = replica, stepNo = step, granted = granted, sampledBefore = sampled, owner = replica, at = now}))
return {granted, sampled, step}
`);

/**
 * KEYS: reservations. ARGV: replica, stale-after ms, step ids to leave alone... Takes over one outstanding
 * reservation: one this replica owns (left by an earlier run of it) or one untouched for at least stale-after
 * ms (its owner died), except the listed ones (those the replica is driving now). Makes the caller its owner
 * and restarts its clock. Returns {step id, reservation JSON}, or nil when there is none.
 */
export const CLAIM_RESERVATION = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me = tonumber(ARGV[1])
local skip = {}
for i = 3, #ARGV do skip[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  if not skip[all[i]] and (r.owner == me or now - r.at >= tonumber(ARGV[2])) then
    r.owner = me
    r.at = now
    local text = cjson.encode(r)
    redis.call('HSET', KEYS[1], all[i], text)
    return {all[i], text}
  end
end
return nil
`);

/**
 * KEYS: config, baseline, baseline-steps. ARGV: decay, step id ('' for none), rewards... Applies
 * b ← decay·b + (1 − decay)·R per reward (b = R for the first), exactly as @nasrl/controller's updateBaseline
 * does in JavaScript (same operations on doubles). Returns {status, valueBefore, countBefore, valueAfter,
 * countAfter} as strings (%.17g round-trips a double); status 'missing', 'ok', or 'duplicate' when the step
 * was already counted: then the states of that first update are returned and nothing changes.
 */
export const UPDATE_BASELINE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if ARGV[2] ~= '' then
  local seen = redis.call('HGET', KEYS[3], ARGV[2])
  if seen then
    local out = {'duplicate'}
    for part in string.gmatch(seen, '%S+') do out[#out + 1] = part end
    return out
  end
end
local value = tonumber(redis.call('HGET', KEYS[2], 'value') or '0')
local count = tonumber(redis.call('HGET', KEYS[2], 'count') or '0')
local vb, cb = string.format('%.17g', value), string.format('%d', count)
local decay = tonumber(ARGV[1])
for i = 3, #ARGV do
  local r = tonumber(ARGV[i])
  if count == 0 then value = r else value = decay * value + (1 - decay) * r end
  count = count + 1
end
local va, ca = string.format('%.17g', value), string.format('%d', count)
redis.call('HSET', KEYS[2], 'value', va, 'count', ca)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], vb .. ' ' .. cb .. ' ' .. va .. ' ' .. ca) end
return {'ok', vb, cb, va, ca}
`);

/**
 * KEYS: config, worst-reward (a hash: 'value' and one field per step id). ARGV: step id, rewards... Folds the
 * rewards into the experiment's worst reward seen, once per step id: a repeated step gets back what its first
 * call returned and changes nothing. Returns {status, worst}: status 'missing', 'ok' or 'duplicate'; worst is
 * the worst reward after the fold (%.17g), or '' while none has been seen.
 */
export const FOLD_WORST_REWARD = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
local seen = redis.call('HGET', KEYS[2], 'step:' .. ARGV[1])
if seen then return {'duplicate', seen} end
local worst = redis.call('HGET', KEYS[2], 'value')
local w = worst and tonumber(worst) or nil
for i = 2, #ARGV do
  local r = tonumber(ARGV[i])
  if w == nil or r < w then w = r end
end
local text = w == nil and '' or string.format('%.17g', w)
if text ~= '' then redis.call('HSET', KEYS[2], 'value', text) end
redis.call('HSET', KEYS[2], 'step:' .. ARGV[1], text)
return {'ok', text}
`);

/** KEYS: config, result-index, results. ARGV: child id, record JSON. Returns the arrival index, −1 if already recorded, −2 if no experiment. */
export const RECORD_RESULT = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -1 end
local n = redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], n - 1)
return n - 1
`);
