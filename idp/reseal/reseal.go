// Package reseal moves what is sealed at rest under the current secret key
// (IDP_SECRET_KEY) after a rotation, and reports what still depends on a
// previous key (IDP_SECRET_KEY_PREVIOUS): the job behind `idp secret
// reseal`, run against the database like `idp migrate`.
//
// Signing keys are sealed values: each is opened under whichever key opens
// it and sealed again under the current one, in one transaction per key,
// so a run is idempotent and safe beside running replicas. Client-secret
// hashes cannot be re-made without the secrets: they are counted by the key
// they were made under, and move to the current key at each secret's next
// successful use. Codes, refresh tokens and CSRF tokens store nothing under
// the key (only HMAC signatures, which need the token to check).
package reseal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/esia-oidc/idp/idp/keys"
	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/store"
)

// Store is what a run reads and writes.
type Store interface {
	store.Keys
	ListClients(ctx context.Context) ([]*store.Client, error)
}

// Sealer re-seals values and tells client-secret hashes apart (idp/seal).
type Sealer interface {
	Reseal(purpose string, sealed, associatedData []byte) (out []byte, changed bool, err error)
	SecretHashState(hash []byte) seal.HashState
}

// Key names a signing key.
type Key struct {
	ID  string
	Alg string
}

// Report is what a run did and found.
type Report struct {
	// Keys is the number of signing keys in the store.
	Keys int
	// Resealed are the keys this run sealed again under the current key.
	Resealed []Key
	// Unreadable are the keys no configured key opens (sealed under a key
	// neither current nor previous, or a corrupt row): left as they are.
	Unreadable []Key

	// Confidential is the number of clients with a secret.
	Confidential int
	// SecretsCurrent counts client-secret hashes under the current key.
	SecretsCurrent int
	// SecretsOld are the clients whose hash is under a previous key, or
	// from before hashes named their key: it moves at the next use.
	SecretsOld []string
	// SecretsUnknown are the clients whose hash is under a key that is
	// neither current nor previous: their secret no longer verifies.
	SecretsUnknown []string
}

// errUnchanged tells UpdateKey's caller that the key needs nothing.
var errUnchanged = errors.New("reseal: unchanged")

// Run seals every signing key under the current key and counts the
// client-secret hashes by key. It fails only when the store does; a key
// that cannot be opened is reported, not fatal.
func Run(ctx context.Context, st Store, s Sealer) (*Report, error) {
	r := &Report{}
	stored, err := st.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("reseal: list signing keys: %w", err)
	}
	r.Keys = len(stored)
	for _, sk := range stored {
		var openErr error
		_, err := st.UpdateKey(ctx, sk.ID, func(k *store.SigningKey) error {
			out, changed, err := s.Reseal(keys.SealPurpose, k.Sealed, []byte(k.ID))
			if err != nil {
				openErr = err
				return err
			}
			if !changed {
				return errUnchanged
			}
			k.Sealed = out
			return nil
		})
		switch {
		case err == nil:
			r.Resealed = append(r.Resealed, Key{sk.ID, sk.Alg})
		case openErr != nil:
			r.Unreadable = append(r.Unreadable, Key{sk.ID, sk.Alg})
		case errors.Is(err, errUnchanged), errors.Is(err, store.ErrNotFound): // current, or pruned meanwhile
		default:
			return nil, fmt.Errorf("reseal: signing key %s: %w", sk.ID, err)
		}
	}

	clients, err := st.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("reseal: list clients: %w", err)
	}
	for _, c := range clients {
		if len(c.SecretHash) == 0 {
			continue
		}
		r.Confidential++
		switch s.SecretHashState(c.SecretHash) {
		case seal.HashCurrent:
			r.SecretsCurrent++
		case seal.HashPrevious, seal.HashUntagged:
			r.SecretsOld = append(r.SecretsOld, c.ID)
		default:
			r.SecretsUnknown = append(r.SecretsUnknown, c.ID)
		}
	}
	return r, nil
}

// Done reports whether nothing needs a previous key any more: every key is
// sealed under the current one and every client-secret hash is under it.
// Codes and refresh tokens made under a previous key are not counted (they
// cannot be told apart); see the operator guide.
func (r *Report) Done() bool {
	return len(r.Unreadable) == 0 && len(r.SecretsOld) == 0 && len(r.SecretsUnknown) == 0
}

// Write prints the report for an operator. It names keys and clients,
// never secrets.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "signing keys: %d in the store, %d re-sealed under the current secret key, %d already under it",
		r.Keys, len(r.Resealed), r.Keys-len(r.Resealed)-len(r.Unreadable))
	if len(r.Unreadable) > 0 {
		fmt.Fprintf(&b, ", %d cannot be opened", len(r.Unreadable))
	}
	b.WriteString("\n")
	for _, k := range r.Resealed {
		fmt.Fprintf(&b, "  re-sealed     %s (%s)\n", k.ID, k.Alg)
	}
	for _, k := range r.Unreadable {
		fmt.Fprintf(&b, "  CANNOT OPEN   %s (%s): sealed under a key that is neither IDP_SECRET_KEY nor in IDP_SECRET_KEY_PREVIOUS, or a corrupt row\n", k.ID, k.Alg)
	}
	fmt.Fprintf(&b, "client secrets: %d confidential clients, %d under the current secret key, %d under a previous key or from before hashes named their key",
		r.Confidential, r.SecretsCurrent, len(r.SecretsOld))
	if len(r.SecretsUnknown) > 0 {
		fmt.Fprintf(&b, ", %d under an unknown key", len(r.SecretsUnknown))
	}
	b.WriteString("\n")
	for _, id := range r.SecretsOld {
		fmt.Fprintf(&b, "  previous key  %s: moves to the current key at its next successful use; keep IDP_SECRET_KEY_PREVIOUS until then, or issue a new secret (idp clients rotate-secret %s)\n", id, id)
	}
	for _, id := range r.SecretsUnknown {
		fmt.Fprintf(&b, "  UNKNOWN KEY   %s: its secret no longer verifies; issue a new one (idp clients rotate-secret %s)\n", id, id)
	}
	b.WriteString("codes and refresh tokens: nothing stored to re-seal; those made under a previous key work while it is in IDP_SECRET_KEY_PREVIOUS, a refresh token moves to the current key at its next use, the others expire within IDP_REFRESH_TOKEN_LIFETIME\n")
	if r.Done() {
		b.WriteString("done: nothing stored needs a previous key; drop IDP_SECRET_KEY_PREVIOUS once refresh tokens made before the rotation may stop working (after IDP_REFRESH_TOKEN_LIFETIME, or now if re-logins are acceptable)\n")
	} else {
		b.WriteString("not done: keep IDP_SECRET_KEY_PREVIOUS, and run this again later\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
