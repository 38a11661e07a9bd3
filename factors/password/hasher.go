// Package password hashes and verifies citizens' passwords with argon2id
// (RFC 9106) and holds the password policy.
//
// Hashes are PHC strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash) that
// carry their own parameters, so the parameters can be raised over time and
// old hashes still verify (NeedsRehash tells when to re-hash after a login).
// Argon2id is memory-hard on purpose; a Hasher bounds how many hashes run at
// once and turns callers away with ErrBusy instead of exhausting memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/argon2"

	"github.com/esia-oidc/idp/internal/tracing"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
	KeyLen  uint32 // bytes of hash
	SaltLen uint32 // bytes of random salt
}

// DefaultParams returns the OWASP recommendation for argon2id: 19 MiB,
// 2 passes, 1 lane, a 32-byte hash and a 16-byte salt.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}
}

// Bounds on parameters, for new hashes and for PHC strings being verified (a
// corrupt or hostile stored hash must not make the server allocate without
// limit).
const (
	minKeyLen  = 16
	maxKeyLen  = 1024
	minSaltLen = 8
	maxSaltLen = 1024
	maxMemory  = 4 << 20 // KiB: 4 GiB
	maxTime    = 1000
)

// validate reports whether p can be used to hash or verify.
func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d out of range %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	}
	return nil
}

var (
	// ErrBusy: no hashing slot became free within the queue wait (or before
	// the context was done). The HTTP layer answers 503 or 429 with
	// Retry-After. When the context ended, the error also wraps ctx.Err().
	ErrBusy = errors.New("password: too many concurrent password hashes")
	// ErrMalformed: the stored hash is not a PHC argon2id string this
	// package can verify.
	ErrMalformed = errors.New("password: malformed password hash")
)

// Hasher hashes and verifies passwords with bounded concurrency. It is safe
// for concurrent use.
type Hasher struct {
	params    Params
	sem       chan struct{}
	queueWait time.Duration
	// waiting counts callers queued for a slot; at most queuePerSlot ×
	// cap(sem) may wait, the rest are refused at once, so that a flood is
	// shed instead of piling up behind the hashes.
	waiting atomic.Int64
	dummy   *phc // hash of a random secret under params, for VerifyDummy
}

// DefaultQueueWait is how long the server lets a login wait for a hashing
// slot before answering that it is busy.
const DefaultQueueWait = 2 * time.Second

// queuePerSlot is how many callers may wait per hashing slot. Waiting costs
// no memory (a hash allocates only once it runs), so the queue may be
// deeper than the slots: a burst of logins is served in turn rather than
// shed, while a flood still is.
const queuePerSlot = 4

// New returns a Hasher that makes new hashes with p and runs at most
// maxConcurrent hashes at once. A caller waits at most queueWait for a slot
// (zero or less: not at all) before getting ErrBusy, and at most
// queuePerSlot × maxConcurrent callers wait at once: any more get ErrBusy
// immediately. It computes one hash at construction (the dummy of
// VerifyDummy).
func New(p Params, maxConcurrent int, queueWait time.Duration) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("password: invalid params: %w", err)
	}
	if maxConcurrent < 1 {
		return nil, fmt.Errorf("password: maxConcurrent %d must be at least 1", maxConcurrent)
	}
	h := &Hasher{
		params:    p,
		sem:       make(chan struct{}, maxConcurrent),
		queueWait: queueWait,
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("password: dummy secret: %w", err)
	}
	dummy, err := h.newPHC(secret)
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Params returns the parameters of new hashes.
func (h *Hasher) Params() Params { return h.params }

// acquire takes a hashing slot, waiting at most queueWait or until ctx is done.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrBusy, err) // nobody waits for the answer
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	if h.queueWait <= 0 {
		return ErrBusy
	}
	if h.waiting.Add(1) > int64(queuePerSlot*cap(h.sem)) {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.queueWait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// key runs argon2id under a slot of the semaphore, in a span named op
// (spanHash, spanVerify) that covers the wait for the slot too.
func (h *Hasher) key(ctx context.Context, op string, password, salt []byte, p Params) ([]byte, error) {
	_, span := tracing.Start(ctx, op, trace.SpanKindInternal)
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(
			attribute.Int("argon2.memory_kib", int(p.Memory)),
			attribute.Int("argon2.time", int(p.Time)),
			attribute.Int("argon2.threads", int(p.Threads)),
		)
	}
	if err := h.acquire(ctx); err != nil {
		span.SetStatus(codes.Error, "busy")
		return nil, err
	}
	defer h.release()
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// The names of the spans of hashing and verifying.
const (
	spanHash   = "password.hash"
	spanVerify = "password.verify"
)

// newPHC hashes secret with a fresh salt and the current params, without
// the semaphore (used at construction only).
func (h *Hasher) newPHC(secret []byte) (*phc, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("password: salt: %w", err)
	}
	p := h.params
	return &phc{params: p, salt: salt, hash: argon2.IDKey(secret, salt, p.Time, p.Memory, p.Threads, p.KeyLen)}, nil
}

// Hash returns the PHC string of password under the current params, with a
// fresh random salt. ErrBusy when no slot is free in time.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key, err := h.key(ctx, spanHash, []byte(password), salt, h.params)
	if err != nil {
		return "", err
	}
	return (&phc{params: h.params, salt: salt, hash: key}).String(), nil
}

// Verify reports whether password matches the PHC string, hashing with the
// string's own params and comparing in constant time. A malformed string
// gives false and an error wrapping ErrMalformed; a saturated Hasher gives
// false and ErrBusy.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	return h.verify(ctx, password, p)
}

func (h *Hasher) verify(ctx context.Context, password string, p *phc) (bool, error) {
	key, err := h.key(ctx, spanVerify, []byte(password), p.salt, p.params)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, p.hash) == 1, nil
}

// VerifyDummy costs what Verify costs under the current params and always
// reports false. Call it when the identifier is unknown (or the account has
// no password), so that the answer takes as long as for a wrong password and
// does not tell whether the account exists. It may return ErrBusy like Verify.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) (bool, error) {
	if _, err := h.verify(ctx, password, h.dummy); err != nil {
		return false, err
	}
	return false, nil
}

// NeedsRehash reports whether the PHC string was made with other params than
// the current ones (or cannot be parsed), so that the caller re-hashes the
// password after a successful login.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return p.params != h.params
}
