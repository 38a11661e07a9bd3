package keys

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"
)

// benchGenerate measures FositeSigner.Generate with typical access-token
// claims: the token endpoint's hot path.
func benchGenerate(b *testing.B, alg string) {
	f := newFixture(b)
	if err := f.m.Ensure(context.Background(), alg); err != nil {
		b.Fatal(err)
	}
	signer := f.m.FositeSigner(alg)
	claims := TypicalClaims(time.Now())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// fosite builds a fresh header per token.
		if _, _, err := signer.Generate(ctx, claims, &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRaw measures go-jose signing the same payload with a ready signer:
// the bound Generate is compared against.
func benchRaw(b *testing.B, alg string) {
	priv, err := generateKey(alg)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(alg),
		Key:       jose.JSONWebKey{Key: priv, KeyID: "bench", Algorithm: alg},
	}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		b.Fatal(err)
	}
	payload, err := json.Marshal(map[string]any(TypicalClaims(time.Now())))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		obj, err := signer.Sign(payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := obj.CompactSerialize(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRS256(b *testing.B) { benchGenerate(b, RS256) }
func BenchmarkSignES256(b *testing.B) { benchGenerate(b, ES256) }
func BenchmarkRawRS256(b *testing.B)  { benchRaw(b, RS256) }
func BenchmarkRawES256(b *testing.B)  { benchRaw(b, ES256) }
