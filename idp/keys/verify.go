package keys

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Verify checks a compact JWS (such as an id_token_hint) against the
// published keys: the key its kid names, or without a kid each published key
// of its alg. algs limits the accepted algorithms (RS256 and ES256 when none
// is given). It returns the verified payload and the protected header; it
// does not look at the claims (an expired ID token is still a valid hint).
func (m *Manager) Verify(raw string, algs ...string) (payload []byte, header jose.Header, err error) {
	if len(algs) == 0 {
		algs = []string{RS256, ES256}
	}
	allowed := make([]jose.SignatureAlgorithm, 0, len(algs))
	for _, a := range algs {
		allowed = append(allowed, jose.SignatureAlgorithm(a))
	}
	jws, err := jose.ParseSignedCompact(raw, allowed)
	if err != nil {
		return nil, jose.Header{}, fmt.Errorf("keys: parse token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, jose.Header{}, errors.New("keys: token must carry exactly one signature")
	}
	header = jws.Signatures[0].Protected
	now := m.now()
	snap := m.snapshotAt(now)
	if header.KeyID != "" {
		k := snap.byKID[header.KeyID]
		if k == nil || k.alg != header.Algorithm {
			return nil, header, fmt.Errorf("%w (kid %q, alg %q)", ErrUnknownKey, header.KeyID, header.Algorithm)
		}
		payload, err := jws.Verify(k.pub.Key)
		if err != nil {
			return nil, header, fmt.Errorf("keys: verify token with key %s: %w", k.id, err)
		}
		return payload, header, nil
	}
	for _, k := range candidates(snap, header.Algorithm, now) {
		if payload, err := jws.Verify(k.pub.Key); err == nil {
			return payload, header, nil
		}
	}
	return nil, header, fmt.Errorf("%w (no kid, alg %q)", ErrUnknownKey, header.Algorithm)
}

// candidates returns the published keys of alg, the one that signs now first.
func candidates(snap *snapshot, alg string, now time.Time) []*key {
	cur := snap.current(alg, now)
	out := make([]*key, 0, len(snap.keys))
	if cur != nil {
		out = append(out, cur)
	}
	for _, k := range snap.keys {
		if k.alg == alg && k != cur {
			out = append(out, k)
		}
	}
	return out
}
