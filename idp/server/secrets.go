package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/store"
)

// clientSecrets gives the protocol the client-secret hashes of idp/seal,
// and moves a stored hash made under a previous IDP_SECRET_KEY (or before
// hashes named their key) to the current key at the secret's first
// successful use after a rotation. A hash cannot be re-made without the
// secret, so this is how the previous key can be dropped without issuing
// every confidential client a new secret; `idp secret reseal` reports the
// hashes still waiting for a use.
type clientSecrets struct {
	sealer  *seal.Sealer
	clients store.Clients
	now     store.Clock
	logger  *slog.Logger

	mu sync.Mutex
	// seen holds the old hashes this process moved, or is moving, and
	// when: for seenFor, further uses of one do not look for it again
	// (other replicas' client caches hold the old hash for a moment).
	seen map[string]time.Time
}

// maxSeen bounds clientSecrets.seen; past it the set starts over (at worst a
// hash is looked for once more).
const maxSeen = 10000

// seenFor is how long a moved hash is not looked for again: well past the
// client cache's TTL, short enough that a hash moved back by a replica
// still on the old key (during a rolling restart) moves forward again.
const seenFor = time.Minute

// upgradeTimeout bounds the store calls of one upgrade, which runs inside a
// client's token request.
const upgradeTimeout = 5 * time.Second

func newClientSecrets(sealer *seal.Sealer, clients store.Clients, now store.Clock, logger *slog.Logger) *clientSecrets {
	return &clientSecrets{sealer: sealer, clients: clients, now: now, logger: logger, seen: map[string]time.Time{}}
}

// HashSecret returns the hash to store, under the current key.
func (c *clientSecrets) HashSecret(secret string) []byte { return c.sealer.HashSecret(secret) }

// VerifySecret reports whether secret matches hash (under the current or a
// previous key, in constant time), and on a match under an old key stores
// the hash under the current key.
func (c *clientSecrets) VerifySecret(secret string, hash []byte) bool {
	if !c.sealer.VerifySecret(secret, hash) {
		return false
	}
	if c.sealer.SecretHashState(hash) != seal.HashCurrent {
		c.upgrade(secret, hash)
	}
	return true
}

// errMoved stops an upgrade whose client's hash changed meanwhile (another
// replica moved it, or the secret was rotated).
var errMoved = errors.New("server: client secret hash changed meanwhile")

// upgrade replaces the stored hash old of the client whose secret is secret
// with one under the current key. The client is found by its hash (the
// caller knows only the hash); the replacement is a compare-and-set, so
// concurrent uses and replicas write it once. Failures are logged and
// retried at a later use: the secret verified, the request goes on.
func (c *clientSecrets) upgrade(secret string, old []byte) {
	key, now := string(old), c.now()
	c.mu.Lock()
	if at, ok := c.seen[key]; ok && now.Sub(at) < seenFor {
		c.mu.Unlock()
		return
	}
	if len(c.seen) >= maxSeen {
		c.seen = map[string]time.Time{}
	}
	c.seen[key] = now
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), upgradeTimeout)
	defer cancel()
	err := c.move(ctx, secret, old)
	if err != nil && !errors.Is(err, errMoved) {
		c.mu.Lock()
		delete(c.seen, key)
		c.mu.Unlock()
		c.logger.WarnContext(ctx, "cannot move a client secret's hash to the current secret key; retried at its next use", "err", err)
	}
}

func (c *clientSecrets) move(ctx context.Context, secret string, old []byte) error {
	all, err := c.clients.ListClients(ctx)
	if err != nil {
		return err
	}
	for _, cl := range all {
		if !bytes.Equal(cl.SecretHash, old) {
			continue
		}
		_, err := c.clients.UpdateClient(ctx, cl.ID, func(u *store.Client) error {
			if !bytes.Equal(u.SecretHash, old) {
				return errMoved
			}
			u.SecretHash = c.sealer.HashSecret(secret)
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return errMoved
		}
		if err == nil {
			c.logger.InfoContext(ctx, "client secret's hash moved to the current secret key", "client_id", cl.ID)
		}
		return err
	}
	return errMoved // moved already: no client holds the old hash
}
