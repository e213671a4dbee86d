"""The limiter every worker process shares (``redis://`` mode): one Lua script per operation.

The rules are ``workers.pacing``'s, on Redis' own clock (``TIME``, in ms), so processes on
several machines share one timeline and each script is atomic over all keys of one send. Under
``<prefix>:rl:<key>``: the TAT (string), ``:pause`` (until, string), ``:win`` (sorted set:
entry -> end of its window), ``:dep`` (a bot key's last departure), ``:aimd`` (hash of the
learned rate: ``factor``, ``cut_at``, ``last_at``, ``refusals``, ``recent``). The learned rate
outlives a restart of every process (a day without 429s forgets it; it is back at the
configured rate long before).
"""

from __future__ import annotations

import secrets

import redis

from workers.pacing import (
    DEPARTURE_GAP,
    RECENT_KEPT,
    Admission,
    Aimd,
    BotRate,
    Grant,
    Limit,
    Penalty,
)

LEARNED_TTL_MS = 86_400_000

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
"""

# The learned factor of base key k (see ``Aimd.factor``); step and every (ms) from the caller.
_FACTOR = """
local function factor(k, now, step, every)
  local v = redis.call('HMGET', k .. ':aimd', 'factor', 'cut_at')
  if not v[2] then return 1.0 end
  local steps = math.floor((now - tonumber(v[2])) / every)
  if steps < 0 then steps = 0 end
  local f = tonumber(v[1]) + steps * step
  if f > 1 then f = 1 end
  return f
end
"""

# KEYS: base keys. ARGV[1]: max wait (ms), ARGV[2], ARGV[3]: raise step and period (ms);
# from ARGV[4] per key: interval (ms), burst (ms), adaptive (0/1).
# Returns {granted (0/1), wait in ms as a string} (Lua numbers would be truncated to integers).
_ACQUIRE = (
    _NOW
    + _FACTOR
    + """
local start = now
local tats = {}
for i = 1, #KEYS do
  tats[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  local allowed = tats[i] - tonumber(ARGV[3 * i + 2])
  if allowed > start then start = allowed end
  local paused = tonumber(redis.call('GET', KEYS[i] .. ':pause') or '0')
  if paused > start then start = paused end
end
local wait = start - now
if wait > tonumber(ARGV[1]) then return {0, tostring(wait)} end
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3 * i + 1])
  if ARGV[3 * i + 3] == '1' then
    interval = interval / factor(KEYS[i], now, tonumber(ARGV[2]), tonumber(ARGV[3]))
  end
  local tat = tats[i]
  if start > tat then tat = start end
  tat = tat + interval
  redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 60000)
end
return {1, tostring(wait)}
"""
)

# KEYS: base keys. ARGV[1], ARGV[2]: raise step and period (ms), ARGV[3]: in-flight timeout
# (ms), ARGV[4]: the entry, ARGV[5]: the departure gap (of an interval); from ARGV[6] per key:
# window_n (0: none), window (ms), adaptive (0/1), interval (ms).
# Returns {admitted (0/1), wait in ms as a string}.
_ADMIT = (
    _NOW
    + _FACTOR
    + """
local wait = 0
for i = 1, #KEYS do
  local paused = tonumber(redis.call('GET', KEYS[i] .. ':pause') or '0')
  if paused - now > wait then wait = paused - now end
  local n = tonumber(ARGV[4 * i + 2])
  local adaptive = ARGV[4 * i + 4] == '1'
  local f = 1
  if adaptive then
    f = factor(KEYS[i], now, tonumber(ARGV[1]), tonumber(ARGV[2]))
    local departed = tonumber(redis.call('GET', KEYS[i] .. ':dep') or '0')
    local gap = departed + tonumber(ARGV[4 * i + 5]) / f * tonumber(ARGV[5]) - now
    if gap > wait then wait = gap end
  end
  if n > 0 then
    local win = KEYS[i] .. ':win'
    local window = tonumber(ARGV[4 * i + 3])
    redis.call('ZREMRANGEBYSCORE', win, '-inf', now)
    if adaptive then
      n = math.floor(n * f + 1e-9)
      if n < 1 then n = 1 end
    end
    local count = redis.call('ZCARD', win)
    if count >= n then
      local r = redis.call('ZRANGE', win, count - n, count - n, 'WITHSCORES')
      local soonest = tonumber(r[2])
      if soonest > now + window then soonest = now + window end
      if soonest - now > wait then wait = soonest - now end
    end
  end
end
if wait > 0 then return {0, tostring(wait)} end
for i = 1, #KEYS do
  if ARGV[4 * i + 4] == '1' then
    redis.call('SET', KEYS[i] .. ':dep', string.format('%.3f', now), 'PX', 60000)
  end
  if tonumber(ARGV[4 * i + 2]) > 0 then
    local life = tonumber(ARGV[4 * i + 3]) + tonumber(ARGV[3])
    redis.call('ZADD', KEYS[i] .. ':win', now + life, ARGV[4])
    redis.call('PEXPIRE', KEYS[i] .. ':win', math.ceil(life) + 60000)
  end
end
return {1, '0'}
"""
)

# KEYS: base keys with a window. ARGV[1]: the entry, ARGV[2]: margin (ms), ARGV[2 + i]: window
# of KEYS[i] (ms). An entry that aged out meanwhile stays out (XX).
_DONE = (
    _NOW
    + """
for i = 1, #KEYS do
  local ends = now + tonumber(ARGV[2 + i]) + tonumber(ARGV[2])
  redis.call('ZADD', KEYS[i] .. ':win', 'XX', ends, ARGV[1])
end
"""
)

_PAUSE_FN = """
local function pause(k, now, ms, burst)
  local key = k .. ':pause'
  local before = tonumber(redis.call('GET', key) or '0')
  local untl = now + ms
  if before > untl then untl = before end
  redis.call('SET', key, string.format('%.3f', untl), 'PX', math.ceil(untl - now) + 60000)
  local tat = tonumber(redis.call('GET', k) or '0')
  if untl + burst > tat then tat = untl + burst end
  redis.call('SET', k, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 60000)
  return {before, untl}
end
"""

# KEYS[1]: the key. ARGV[1]: pause (ms), ARGV[2]: burst (ms).
_PAUSE = _NOW + _PAUSE_FN + "pause(KEYS[1], now, tonumber(ARGV[1]), tonumber(ARGV[2]))"

# KEYS[1]: a bot key. ARGV[1]: pause (ms), ARGV[2]: burst (ms), ARGV[3..6]: cut, floor, raise
# step, raise period (ms); ARGV[7]: the retry-after as given (s), ARGV[8]: cuts remembered.
# Returns {cut (0/1), factor, recent retry-afters separated by spaces}.
_THROTTLE = (
    _NOW
    + _FACTOR
    + _PAUSE_FN
    + """
local k = KEYS[1]
local paused = pause(k, now, tonumber(ARGV[1]), tonumber(ARGV[2]))
local before = paused[1]
local learned = k .. ':aimd'
redis.call('HINCRBY', learned, 'refusals', 1)
redis.call('HSET', learned, 'last_at', string.format('%.3f', now))
redis.call('PEXPIRE', learned, LEARNED_TTL_MS)
local f = factor(k, now, tonumber(ARGV[5]), tonumber(ARGV[6]))
local recent = redis.call('HGET', learned, 'recent') or ''
if before > now then return {0, tostring(f), recent} end
f = f * tonumber(ARGV[3])
if f < tonumber(ARGV[4]) then f = tonumber(ARGV[4]) end
local kept = {}
for v in string.gmatch(recent, '%S+') do kept[#kept + 1] = v end
kept[#kept + 1] = ARGV[7]
while #kept > tonumber(ARGV[8]) do table.remove(kept, 1) end
recent = table.concat(kept, ' ')
-- The clean stretch that raises the rate again starts when the pause ends.
redis.call('HSET', learned, 'factor', tostring(f), 'cut_at', string.format('%.3f', paused[2]),
  'recent', recent)
return {1, tostring(f), recent}
""".replace("LEARNED_TTL_MS", str(LEARNED_TTL_MS))
)

_NEXT = (
    _NOW
    + """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local paused = tonumber(redis.call('GET', KEYS[1] .. ':pause') or '0')
if paused > tat then tat = paused end
return tostring(tat - now)
"""
)

# KEYS[1]: a bot key; ARGV: raise step and period (ms).
# Returns {factor, pause left (ms), ms since the last 429 or '', refusals, recent}.
_RATE = (
    _NOW
    + _FACTOR
    + """
local k = KEYS[1]
local paused = tonumber(redis.call('GET', k .. ':pause') or '0') - now
local v = redis.call('HMGET', k .. ':aimd', 'last_at', 'refusals', 'recent')
local ago = ''
if v[1] then ago = tostring(now - tonumber(v[1])) end
return {tostring(factor(k, now, tonumber(ARGV[1]), tonumber(ARGV[2]))), tostring(paused), ago,
  v[2] or '0', v[3] or ''}
"""
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _recent(value: bytes | str) -> tuple[float, ...]:
    return tuple(float(v) for v in _text(value).split())


class RedisLimiter:
    """Keys under ``prefix``; ``margin_s`` (default 0.005 s) is added to every answered window
    entry; ``inflight_timeout_s`` (8 s) is how long an unanswered send occupies its windows."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        aimd: Aimd | None = None,
        *,
        margin_s: float = 0.005,
        inflight_timeout_s: float = 8.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.aimd = aimd or Aimd()
        self.margin_s = margin_s
        self.inflight_timeout_s = inflight_timeout_s
        self._acquire = client.register_script(_ACQUIRE)
        self._admit = client.register_script(_ADMIT)
        self._done = client.register_script(_DONE)
        self._pause = client.register_script(_PAUSE)
        self._throttle = client.register_script(_THROTTLE)
        self._next = client.register_script(_NEXT)
        self._rate = client.register_script(_RATE)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:rl:{key}"

    def _raise(self) -> list[float]:
        return [self.aimd.raise_step, self.aimd.raise_every_s * 1000]

    def acquire(self, limits: list[Limit], max_wait_s: float) -> Grant:
        args: list[float] = [max_wait_s * 1000, *self._raise()]
        for limit in limits:
            args += [limit.interval_s * 1000, limit.burst_s * 1000, int(limit.adaptive)]
        granted, wait_ms = self._acquire(keys=[self._key(lim.key) for lim in limits], args=args)
        return Grant(bool(int(granted)), max(0.0, float(wait_ms) / 1000))

    def admit(self, limits: list[Limit]) -> Admission:
        entry = secrets.token_hex(8)
        args: list[float | str] = [*self._raise(), self.inflight_timeout_s * 1000, entry]
        args.append(DEPARTURE_GAP)
        for limit in limits:
            args += [limit.window_n, limit.window_s * 1000, int(limit.adaptive)]
            args.append(limit.interval_s * 1000)
        admitted, wait_ms = self._admit(keys=[self._key(lim.key) for lim in limits], args=args)
        if int(admitted):
            return Admission(entry, 0.0)
        return Admission(None, max(0.0, float(wait_ms) / 1000))

    def done(self, limits: list[Limit], entry: str) -> None:
        windowed = [limit for limit in limits if limit.window_n]
        if windowed:
            self._done(
                keys=[self._key(limit.key) for limit in windowed],
                args=[entry, self.margin_s * 1000, *(lim.window_s * 1000 for lim in windowed)],
            )

    def pause(self, key: str, seconds: float, burst_s: float = 0.0) -> None:
        self._pause(keys=[self._key(key)], args=[seconds * 1000, burst_s * 1000])

    def throttle(self, limit: Limit, seconds: float) -> Penalty:
        aimd = self.aimd
        cut, factor, recent = self._throttle(
            keys=[self._key(limit.key)],
            args=[
                *(seconds * 1000, limit.burst_s * 1000, aimd.cut, aimd.floor),
                *self._raise(),
                repr(float(seconds)),
                RECENT_KEPT,
            ],
        )
        return Penalty(bool(int(cut)), float(factor), _recent(recent))

    def next_free_s(self, key: str) -> float:
        return max(0.0, float(self._next(keys=[self._key(key)])) / 1000)

    def bot_rate(self, key: str) -> BotRate:
        factor, paused_ms, ago_ms, refusals, recent = self._rate(
            keys=[self._key(key)], args=self._raise()
        )
        ago = _text(ago_ms)
        return BotRate(
            float(factor),
            max(0.0, float(paused_ms) / 1000),
            float(ago) / 1000 if ago else None,
            int(refusals),
            _recent(recent),
        )
