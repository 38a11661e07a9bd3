// Package faultstore wraps the provider's stores so that a test can make
// chosen operations fail as a backend outage would (with
// store.ErrUnavailable), and see that the handlers answer 503 and leave
// nothing half-written.
package faultstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Faults is the set of failing operations, shared by the wrapped stores.
// An operation is named by its store ("durable" or "ephemeral") and method,
// such as "durable.CreateGrant"; "durable.*" fails every method of it.
type Faults struct {
	mu   sync.Mutex
	fail map[string]bool
	hits map[string]int
}

// New returns an empty set: nothing fails.
func New() *Faults { return &Faults{fail: map[string]bool{}, hits: map[string]int{}} }

// Fail makes the named operations fail until Heal.
func (f *Faults) Fail(ops ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, op := range ops {
		f.fail[op] = true
	}
}

// Heal makes every operation work again.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.fail)
}

// Hits reports how often the named operation failed.
func (f *Faults) Hits(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[op]
}

func (f *Faults) check(kind, method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := kind + "." + method
	if f.fail[op] || f.fail[kind+".*"] {
		f.hits[op]++
		return fmt.Errorf("faultstore: %s: %w: connection refused", op, store.ErrUnavailable)
	}
	return nil
}

// Wrap returns the stores with the faults injected. The wrapped durable
// store keeps the transactions of the original, and the wrapped ephemeral
// store its change feed, when they have them.
func (f *Faults) Wrap(d store.Durable, e store.Ephemeral) (store.Durable, store.Ephemeral) {
	var wd store.Durable = &durable{Durable: d, f: f}
	if tx, ok := d.(store.Transactional); ok {
		wd = &txDurable{durable: wd.(*durable), tx: tx}
	}
	var we store.Ephemeral = &ephemeral{Ephemeral: e, f: f}
	if w, ok := e.(store.GrantWatcher); ok {
		we = &watchedEphemeral{ephemeral: we.(*ephemeral), w: w}
	}
	return wd, we
}

type durable struct {
	store.Durable
	f *Faults
}

func (d *durable) CreateAccount(ctx context.Context, a *store.Account) error {
	if err := d.f.check("durable", "CreateAccount"); err != nil {
		return err
	}
	return d.Durable.CreateAccount(ctx, a)
}

func (d *durable) GetAccount(ctx context.Context, id string) (*store.Account, error) {
	if err := d.f.check("durable", "GetAccount"); err != nil {
		return nil, err
	}
	return d.Durable.GetAccount(ctx, id)
}

func (d *durable) FindAccount(ctx context.Context, kind store.IdentifierKind, value string) (*store.Account, error) {
	if err := d.f.check("durable", "FindAccount"); err != nil {
		return nil, err
	}
	return d.Durable.FindAccount(ctx, kind, value)
}

func (d *durable) FindAccountByBank(ctx context.Context, connector, subject string) (*store.Account, error) {
	if err := d.f.check("durable", "FindAccountByBank"); err != nil {
		return nil, err
	}
	return d.Durable.FindAccountByBank(ctx, connector, subject)
}

func (d *durable) UpdateAccount(ctx context.Context, id string, update func(*store.Account) error) (*store.Account, error) {
	if err := d.f.check("durable", "UpdateAccount"); err != nil {
		return nil, err
	}
	return d.Durable.UpdateAccount(ctx, id, update)
}

func (d *durable) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if err := d.f.check("durable", "GetClient"); err != nil {
		return nil, err
	}
	return d.Durable.GetClient(ctx, id)
}

func (d *durable) GetConsent(ctx context.Context, accountID, clientID string) (*store.Consent, error) {
	if err := d.f.check("durable", "GetConsent"); err != nil {
		return nil, err
	}
	return d.Durable.GetConsent(ctx, accountID, clientID)
}

func (d *durable) PutConsent(ctx context.Context, c *store.Consent) error {
	if err := d.f.check("durable", "PutConsent"); err != nil {
		return err
	}
	return d.Durable.PutConsent(ctx, c)
}

func (d *durable) ListConsents(ctx context.Context, accountID string) ([]*store.Consent, error) {
	if err := d.f.check("durable", "ListConsents"); err != nil {
		return nil, err
	}
	return d.Durable.ListConsents(ctx, accountID)
}

func (d *durable) CreateGrant(ctx context.Context, g *store.Grant) error {
	if err := d.f.check("durable", "CreateGrant"); err != nil {
		return err
	}
	return d.Durable.CreateGrant(ctx, g)
}

func (d *durable) GetGrant(ctx context.Context, kind store.GrantKind, signature string) (*store.Grant, error) {
	if err := d.f.check("durable", "GetGrant"); err != nil {
		return nil, err
	}
	return d.Durable.GetGrant(ctx, kind, signature)
}

func (d *durable) DeactivateGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	if err := d.f.check("durable", "DeactivateGrant"); err != nil {
		return err
	}
	return d.Durable.DeactivateGrant(ctx, kind, signature)
}

func (d *durable) DeactivateRequest(ctx context.Context, kind store.GrantKind, requestID string) error {
	if err := d.f.check("durable", "DeactivateRequest"); err != nil {
		return err
	}
	return d.Durable.DeactivateRequest(ctx, kind, requestID)
}

func (d *durable) DeactivateSession(ctx context.Context, sessionID string) error {
	if err := d.f.check("durable", "DeactivateSession"); err != nil {
		return err
	}
	return d.Durable.DeactivateSession(ctx, sessionID)
}

func (d *durable) DeactivateSubject(ctx context.Context, subject, clientID string) error {
	if err := d.f.check("durable", "DeactivateSubject"); err != nil {
		return err
	}
	return d.Durable.DeactivateSubject(ctx, subject, clientID)
}

// txDurable is a durable store that keeps the original's transactions.
type txDurable struct {
	*durable
	tx store.Transactional
}

func (d *txDurable) BeginTX(ctx context.Context) (context.Context, error) {
	return d.tx.BeginTX(ctx)
}
func (d *txDurable) Commit(ctx context.Context) error {
	if err := d.f.check("durable", "Commit"); err != nil {
		return err // the caller rolls back
	}
	return d.tx.Commit(ctx)
}
func (d *txDurable) Rollback(ctx context.Context) error { return d.tx.Rollback(ctx) }

type ephemeral struct {
	store.Ephemeral
	f *Faults
}

func (e *ephemeral) CreateGrant(ctx context.Context, g *store.Grant) error {
	if err := e.f.check("ephemeral", "CreateGrant"); err != nil {
		return err
	}
	return e.Ephemeral.CreateGrant(ctx, g)
}

func (e *ephemeral) GetGrant(ctx context.Context, kind store.GrantKind, signature string) (*store.Grant, error) {
	if err := e.f.check("ephemeral", "GetGrant"); err != nil {
		return nil, err
	}
	return e.Ephemeral.GetGrant(ctx, kind, signature)
}

func (e *ephemeral) DeactivateGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	if err := e.f.check("ephemeral", "DeactivateGrant"); err != nil {
		return err
	}
	return e.Ephemeral.DeactivateGrant(ctx, kind, signature)
}

func (e *ephemeral) DeactivateSession(ctx context.Context, sessionID string) error {
	if err := e.f.check("ephemeral", "DeactivateSession"); err != nil {
		return err
	}
	return e.Ephemeral.DeactivateSession(ctx, sessionID)
}

func (e *ephemeral) DeactivateSubject(ctx context.Context, subject, clientID string) error {
	if err := e.f.check("ephemeral", "DeactivateSubject"); err != nil {
		return err
	}
	return e.Ephemeral.DeactivateSubject(ctx, subject, clientID)
}

func (e *ephemeral) PutEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := e.f.check("ephemeral", "PutEntry"); err != nil {
		return err
	}
	return e.Ephemeral.PutEntry(ctx, key, value, ttl)
}

func (e *ephemeral) CreateEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := e.f.check("ephemeral", "CreateEntry"); err != nil {
		return err
	}
	return e.Ephemeral.CreateEntry(ctx, key, value, ttl)
}

func (e *ephemeral) CompareAndSwapEntry(ctx context.Context, key string, old, value []byte, ttl time.Duration) error {
	if err := e.f.check("ephemeral", "CompareAndSwapEntry"); err != nil {
		return err
	}
	return e.Ephemeral.CompareAndSwapEntry(ctx, key, old, value, ttl)
}

func (e *ephemeral) CompareAndDeleteEntry(ctx context.Context, key string, old []byte) error {
	if err := e.f.check("ephemeral", "CompareAndDeleteEntry"); err != nil {
		return err
	}
	return e.Ephemeral.CompareAndDeleteEntry(ctx, key, old)
}

func (e *ephemeral) GetEntry(ctx context.Context, key string) ([]byte, error) {
	if err := e.f.check("ephemeral", "GetEntry"); err != nil {
		return nil, err
	}
	return e.Ephemeral.GetEntry(ctx, key)
}

func (e *ephemeral) Incr(ctx context.Context, key string, ttl time.Duration) (store.Counter, error) {
	if err := e.f.check("ephemeral", "Incr"); err != nil {
		return store.Counter{}, err
	}
	return e.Ephemeral.Incr(ctx, key, ttl)
}

func (e *ephemeral) GetCounter(ctx context.Context, key string) (store.Counter, error) {
	if err := e.f.check("ephemeral", "GetCounter"); err != nil {
		return store.Counter{}, err
	}
	return e.Ephemeral.GetCounter(ctx, key)
}

// watchedEphemeral is an ephemeral store that keeps the original's feed.
type watchedEphemeral struct {
	*ephemeral
	w store.GrantWatcher
}

func (e *watchedEphemeral) WatchGrants(ctx context.Context, w store.GrantWatch) error {
	return e.w.WatchGrants(ctx, w)
}
