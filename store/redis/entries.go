package redis

import (
	"context"
	"encoding/binary"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
)

// An entry is a string at entryKey(key): its expiry in Unix microseconds as
// 8 big-endian bytes, then the value.

// entryScript is the start of the entry scripts: v is the stored entry at
// KEYS[1] (false when none), and live(v, now) tells whether it is there and
// not yet expired at now (Unix microseconds).
const entryScript = `
local v = redis.call('GET', KEYS[1])
local function live(v, now)
  if not v then return false end
  local a, b, c, d, e, f, g, h = string.byte(v, 1, 8)
  return ((((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f) * 256 + g) * 256 + h > tonumber(now)
end
`

// createEntryScript stores an entry unless one is there and not yet expired.
// KEYS[1] entry; ARGV encoded entry, now, native TTL in ms. Returns 1 when
// stored, 0 on conflict.
var createEntryScript = goredis.NewScript(entryScript + `
if live(v, ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`)

// replaceEntryScript stores an entry only if one is there and not yet
// expired. KEYS[1] entry; ARGV as createEntryScript's. Returns 1 when
// stored, 0 when absent.
var replaceEntryScript = goredis.NewScript(entryScript + `
if not live(v, ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`)

// compareEntryScript swaps or deletes an entry only if it is there, not
// yet expired, and holds exactly the value given. KEYS[1] entry; ARGV old
// value, now, then for a swap the encoded entry and native TTL in ms (none
// for a delete). Returns 1 when done, 0 when absent or expired, -1 when it
// holds another value.
var compareEntryScript = goredis.NewScript(entryScript + `
if not live(v, ARGV[2]) then return 0 end
if string.sub(v, 9) ~= ARGV[1] then return -1 end
if ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
`)

const entryHeader = 8

func (s *Store) entryKey(key string) string { return s.prefix + "entry:" + key }

// encodeEntry returns the stored form of value and the native TTL in ms of
// an entry that lives for ttl from now.
func (s *Store) encodeEntry(value []byte, ttl time.Duration) (enc []byte, now, pttl int64) {
	t := s.now()
	now = micros(t)
	exp := micros(t.Add(ttl))
	enc = make([]byte, entryHeader+len(value))
	binary.BigEndian.PutUint64(enc, uint64(exp))
	copy(enc[entryHeader:], value)
	return enc, now, gcTTL(exp, now)
}

// decodeEntry returns the value of a stored entry, or ErrNotFound when it has
// expired.
func (s *Store) decodeEntry(enc []byte) ([]byte, error) {
	if len(enc) < entryHeader {
		return nil, store.ErrNotFound
	}
	if micros(s.now()) >= int64(binary.BigEndian.Uint64(enc)) {
		return nil, store.ErrNotFound
	}
	return enc[entryHeader:], nil
}

// PutEntry creates or replaces the value, expiring after ttl.
func (s *Store) PutEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	enc, _, pttl := s.encodeEntry(value, ttl)
	if err := s.c.Set(ctx, s.entryKey(key), enc, time.Duration(pttl)*time.Millisecond).Err(); err != nil {
		return wrapErr("put entry", err)
	}
	return nil
}

// CreateEntry stores the value only if the key is absent or expired;
// otherwise ErrConflict. Of many concurrent callers exactly one succeeds.
func (s *Store) CreateEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	enc, now, pttl := s.encodeEntry(value, ttl)
	n, err := createEntryScript.Run(ctx, s.c, []string{s.entryKey(key)}, enc, now, pttl).Int()
	if err != nil {
		return wrapErr("create entry", err)
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// ReplaceEntry replaces the value and its expiry only if a live entry is
// there; otherwise ErrNotFound.
func (s *Store) ReplaceEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	enc, now, pttl := s.encodeEntry(value, ttl)
	n, err := replaceEntryScript.Run(ctx, s.c, []string{s.entryKey(key)}, enc, now, pttl).Int()
	if err != nil {
		return wrapErr("replace entry", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// GetEntry returns the value, or ErrNotFound when absent or expired.
func (s *Store) GetEntry(ctx context.Context, key string) ([]byte, error) {
	enc, err := s.c.Get(ctx, s.entryKey(key)).Bytes()
	if err != nil {
		return nil, wrapErr("get entry", err)
	}
	return s.decodeEntry(enc)
}

// TakeEntry returns the value and deletes it with one GETDEL: of many
// concurrent callers exactly one gets it, the others get ErrNotFound.
func (s *Store) TakeEntry(ctx context.Context, key string) ([]byte, error) {
	enc, err := s.c.GetDel(ctx, s.entryKey(key)).Bytes()
	if err != nil {
		return nil, wrapErr("take entry", err)
	}
	return s.decodeEntry(enc)
}

// DeleteEntry removes the value; no error when absent.
func (s *Store) DeleteEntry(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.entryKey(key)).Err(); err != nil {
		return wrapErr("delete entry", err)
	}
	return nil
}

// CompareAndSwapEntry replaces the value and its expiry only if the live
// entry holds exactly old.
func (s *Store) CompareAndSwapEntry(ctx context.Context, key string, old, value []byte, ttl time.Duration) error {
	enc, now, pttl := s.encodeEntry(value, ttl)
	return s.compareEntry(ctx, "swap entry", key, old, now, enc, pttl)
}

// CompareAndDeleteEntry removes the value only if the live entry holds
// exactly old.
func (s *Store) CompareAndDeleteEntry(ctx context.Context, key string, old []byte) error {
	return s.compareEntry(ctx, "delete entry", key, old, micros(s.now()))
}

// compareEntry runs compareEntryScript: a swap when more is given (the
// encoded entry and its native TTL), a delete otherwise.
func (s *Store) compareEntry(ctx context.Context, op, key string, old []byte, now int64, more ...any) error {
	n, err := compareEntryScript.Run(ctx, s.c, []string{s.entryKey(key)}, append([]any{old, now}, more...)...).Int()
	if err != nil {
		return wrapErr(op, err)
	}
	switch n {
	case 0:
		return store.ErrNotFound
	case -1:
		return store.ErrConflict
	}
	return nil
}
