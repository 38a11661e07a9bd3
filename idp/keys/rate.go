package keys

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"
)

// TypicalClaims returns the claims of a typical RFC 9068 access token of the
// provider, issued at iat.
func TypicalClaims(iat time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":       "https://idp.example.gov.ru",
		"sub":       "6f1d3c0e-4b7a-4b8e-9a51-2f0c7d9e8a13",
		"aud":       []string{"https://catalog.example.gov.ru"},
		"client_id": "demo-catalog",
		"jti":       "0b8a3d7e-93c1-4e55-b0d4-5b2f8e1c6a47",
		"iat":       iat.Unix(),
		"nbf":       iat.Unix(),
		"exp":       iat.Add(10 * time.Minute).Unix(),
		"scp":       []string{"openid", "fullname", "snils", "mobile"},
		"level":     "standard",
		"acr":       "urn:esia:level:standard",
		"amr":       []string{"pwd", "otp"},
	}
}

// NewRawSigner returns a go-jose signer of access tokens (typ at+jwt) with
// a fresh key of alg, outside any key store, and the key: what the raw
// rate and the bench's ceiling server sign with.
func NewRawSigner(alg string) (jose.Signer, crypto.Signer, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return nil, nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(alg),
		Key:       jose.JSONWebKey{Key: priv, KeyID: "rate", Algorithm: alg},
	}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return nil, nil, fmt.Errorf("keys: raw signer: %w", err)
	}
	return signer, priv, nil
}

// RawSignRate measures how many typical access tokens per second go-jose
// signs on this machine with a fresh key of alg, from parallel goroutines
// (GOMAXPROCS when zero or negative) for about d. It is the upper bound of
// the token endpoint's rate.
func RawSignRate(alg string, d time.Duration, parallel int) (perSecond float64, err error) {
	if d <= 0 {
		return 0, errors.New("keys: measuring duration must be positive")
	}
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	signer, _, err := NewRawSigner(alg)
	if err != nil {
		return 0, err
	}
	payload, err := json.Marshal(map[string]any(TypicalClaims(time.Now())))
	if err != nil {
		return 0, fmt.Errorf("keys: marshal claims: %w", err)
	}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
		first error
	)
	start := time.Now()
	deadline := start.Add(d)
	for range parallel {
		wg.Go(func() {
			var n int64
			var err error
			for time.Now().Before(deadline) {
				var obj *jose.JSONWebSignature
				if obj, err = signer.Sign(payload); err != nil {
					break
				}
				if _, err = obj.CompactSerialize(); err != nil {
					break
				}
				n++
			}
			mu.Lock()
			total += n
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if first != nil {
		return 0, fmt.Errorf("keys: raw signing: %w", first)
	}
	return float64(total) / time.Since(start).Seconds(), nil
}
