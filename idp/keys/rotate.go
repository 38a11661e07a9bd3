package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/esia-oidc/idp/store"
)

// PruneAfter is how long an expired key stays in the store before Rotate
// deletes it.
const PruneAfter = 24 * time.Hour

// Key states reported by List.
const (
	StateNext    = "next"    // published, signs from ActiveAt
	StateCurrent = "current" // signs now
	StateRetired = "retired" // published for verification, no longer signs
	StateExpired = "expired" // no longer published
)

// KeyInfo describes a stored key for the CLI and the admin API. It holds no
// key material.
type KeyInfo struct {
	ID        string    `json:"kid"`
	Alg       string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
	ActiveAt  time.Time `json:"active_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	State     string    `json:"state"`
}

// errUnchanged tells UpdateKey's caller that the updater found nothing to do.
var errUnchanged = errors.New("keys: unchanged")

// Rotate creates a new key of alg that is published at once and signs from
// now+publishDelay (publishDelay should exceed the refresh interval, so that
// every replica and relying party knows the key before it is used). Every
// key of alg that would still sign at that moment is retired then, and stops
// being published retireAfter later (retireAfter: the longest lifetime of a
// token it signed). Keys expired for more than PruneAfter are deleted.
//
// If the keys cannot be reloaded afterwards the rotation has still happened:
// the new key is returned together with the error.
func (m *Manager) Rotate(ctx context.Context, alg string, publishDelay, retireAfter time.Duration) (*store.SigningKey, error) {
	if !supported(alg) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	if publishDelay < 0 || retireAfter < 0 {
		return nil, errors.New("keys: rotate: publish delay and retire-after must not be negative")
	}
	stored, err := m.st.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list signing keys: %w", err)
	}
	now := m.now()
	activeAt := now.Add(publishDelay)
	created, err := m.create(ctx, alg, now, activeAt)
	if err != nil {
		return nil, err
	}
	m.log.Info("rotated signing key", "kid", created.ID, "alg", alg, "active_at", activeAt)

	// Signs at some moment at or after activeAt: not retired by then.
	stillSigns := func(k *store.SigningKey) bool {
		return k.Alg == alg && k.ID != created.ID && (k.RetiredAt.IsZero() || k.RetiredAt.After(activeAt))
	}
	for _, sk := range stored {
		if !stillSigns(sk) {
			continue
		}
		_, err := m.st.UpdateKey(ctx, sk.ID, func(k *store.SigningKey) error {
			if !stillSigns(k) {
				return errUnchanged
			}
			k.RetiredAt = activeAt
			k.ExpiresAt = activeAt.Add(retireAfter)
			return nil
		})
		switch {
		case err == nil:
			m.log.Info("retiring signing key", "kid", sk.ID, "alg", alg, "retired_at", activeAt, "expires_at", activeAt.Add(retireAfter))
		case errors.Is(err, errUnchanged), errors.Is(err, store.ErrNotFound):
		default:
			return created, fmt.Errorf("keys: retire key %s: %w", sk.ID, err)
		}
	}

	if err := m.prune(ctx, stored, now); err != nil {
		return created, err
	}
	if err := m.Refresh(ctx); err != nil {
		return created, err
	}
	return created, nil
}

// prune deletes the keys expired for more than PruneAfter.
func (m *Manager) prune(ctx context.Context, stored []*store.SigningKey, now time.Time) error {
	for _, sk := range stored {
		if sk.ExpiresAt.IsZero() || !sk.ExpiresAt.Before(now.Add(-PruneAfter)) {
			continue
		}
		err := m.st.DeleteKey(ctx, sk.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("keys: prune key %s: %w", sk.ID, err)
		}
		m.log.Info("pruned expired signing key", "kid", sk.ID, "alg", sk.Alg)
	}
	return nil
}

// List describes every stored key, in store order (CreatedAt, then kid). Of
// several keys of one algorithm that could sign now, only the one that does
// (newest ActiveAt, ties by kid) is "current"; the others are "retired".
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	stored, err := m.st.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list signing keys: %w", err)
	}
	now := m.now()
	signer := map[string]*store.SigningKey{} // alg -> the key that signs now
	for _, sk := range stored {
		if !signsAt(sk, now) {
			continue
		}
		cur := signer[sk.Alg]
		if cur == nil || sk.ActiveAt.After(cur.ActiveAt) ||
			(sk.ActiveAt.Equal(cur.ActiveAt) && strings.Compare(sk.ID, cur.ID) > 0) {
			signer[sk.Alg] = sk
		}
	}
	out := make([]KeyInfo, 0, len(stored))
	for _, sk := range stored {
		info := KeyInfo{
			ID:        sk.ID,
			Alg:       sk.Alg,
			CreatedAt: sk.CreatedAt,
			ActiveAt:  sk.ActiveAt,
			RetiredAt: sk.RetiredAt,
			ExpiresAt: sk.ExpiresAt,
		}
		switch {
		case !sk.ExpiresAt.IsZero() && !sk.ExpiresAt.After(now):
			info.State = StateExpired
		case signer[sk.Alg] == sk:
			info.State = StateCurrent
		case sk.ActiveAt.After(now) && (sk.RetiredAt.IsZero() || sk.RetiredAt.After(sk.ActiveAt)):
			info.State = StateNext
		default:
			info.State = StateRetired
		}
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b KeyInfo) int {
		if d := a.CreatedAt.Compare(b.CreatedAt); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
