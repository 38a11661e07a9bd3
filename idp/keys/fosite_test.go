package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"
)

func ensured(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	if err := f.m.Ensure(context.Background(), RS256, ES256); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestJWKSShape(t *testing.T) {
	t.Parallel()
	f := ensured(t)
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(f.m.JWKS(), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2: %s", len(raw.Keys), f.m.JWKS())
	}
	want := map[string][]string{
		RS256: {"kty", "kid", "alg", "use", "n", "e"},
		ES256: {"kty", "kid", "alg", "use", "crv", "x", "y"},
	}
	for _, k := range raw.Keys {
		alg, _ := k["alg"].(string)
		fields, ok := want[alg]
		if !ok {
			t.Errorf("key with alg %v", k["alg"])
			continue
		}
		for _, name := range fields {
			if _, ok := k[name]; !ok {
				t.Errorf("%s key lacks %q: %v", alg, name, k)
			}
		}
		if k["use"] != "sig" {
			t.Errorf("%s key use %v, want sig", alg, k["use"])
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("%s key publishes private member %q", alg, private)
			}
		}
	}
	// The same set is available as a value, and it is a copy.
	set := f.m.PublicKeys()
	if len(set.Keys) != 2 {
		t.Fatalf("PublicKeys has %d keys", len(set.Keys))
	}
	set.Keys[0].KeyID = "changed"
	if strings.Contains(string(f.m.JWKS()), "changed") || f.m.PublicKeys().Keys[0].KeyID == "changed" {
		t.Error("PublicKeys returned the manager's own slice")
	}
}

func TestFositeSignerTokensVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := ensured(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.m.JWKS())
	}))
	defer srv.Close()
	const issuer, clientID = "https://idp.example.gov.ru", "demo-catalog"
	remote := oidc.NewRemoteKeySet(ctx, srv.URL)
	verifier := oidc.NewVerifier(issuer, remote, &oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{RS256, ES256}})

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(f.m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}

	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			signer := f.m.FositeSigner(alg)
			now := time.Now().UTC()

			// An RFC 9068 access token: typ at+jwt is kept.
			at := (&jwt.JWTClaims{
				Subject: "acc-1", Issuer: issuer, Audience: []string{clientID},
				IssuedAt: now, ExpiresAt: now.Add(10 * time.Minute), Scope: []string{"openid", "snils"},
				Extra: map[string]any{"client_id": clientID},
			}).ToMapClaims()
			token, sig, err := signer.Generate(ctx, at, &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(token, "."+sig) || strings.Count(token, ".") != 2 {
				t.Errorf("signature %q is not the last part of %q", sig, token)
			}
			if got, err := signer.GetSignature(ctx, token); err != nil || got != sig {
				t.Errorf("GetSignature = %q, %v; want %q", got, err, sig)
			}

			// go-jose v4 against the published JWKS.
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			if h.Algorithm != alg || h.KeyID != currentKID(t, f.m, alg) || h.ExtraHeaders["typ"] != "at+jwt" {
				t.Errorf("header alg %q kid %q typ %v", h.Algorithm, h.KeyID, h.ExtraHeaders["typ"])
			}
			pub := set.Key(h.KeyID)
			if len(pub) != 1 || pub[0].Use != "sig" || pub[0].Algorithm != alg {
				t.Fatalf("JWKS key for %s: %+v", h.KeyID, pub)
			}
			payload, err := jws.Verify(pub[0])
			if err != nil {
				t.Fatalf("go-jose does not verify the token with the JWKS key: %v", err)
			}
			var claims map[string]any
			if err := json.Unmarshal(payload, &claims); err != nil || claims["sub"] != "acc-1" || claims["client_id"] != clientID {
				t.Errorf("payload %s (%v)", payload, err)
			}

			// go-oidc's remote key set, fetching the JWKS over HTTP.
			if _, err := remote.VerifySignature(ctx, token); err != nil {
				t.Errorf("go-oidc remote key set: %v", err)
			}

			// An ID token with fosite's default header (typ JWT) passes go-oidc's verifier.
			idt := (&jwt.IDTokenClaims{
				Subject: "acc-1", Issuer: issuer, Audience: []string{clientID},
				IssuedAt: now, ExpiresAt: now.Add(time.Hour), AuthTime: now, Nonce: "n-1",
			}).ToMapClaims()
			idToken, _, err := signer.Generate(ctx, idt, &jwt.Headers{})
			if err != nil {
				t.Fatal(err)
			}
			verified, err := verifier.Verify(ctx, idToken)
			if err != nil {
				t.Fatalf("go-oidc verifier: %v", err)
			}
			if verified.Subject != "acc-1" || verified.Nonce != "n-1" {
				t.Errorf("verified ID token %+v", verified)
			}
			idJWS, err := jose.ParseSignedCompact(idToken, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if typ := idJWS.Signatures[0].Protected.ExtraHeaders["typ"]; typ != "JWT" {
				t.Errorf("ID token typ %v, want JWT", typ)
			}

			// Our own Decode, Validate and Verify.
			decoded, err := signer.Decode(ctx, token)
			if err != nil || !decoded.Valid() {
				t.Fatalf("Decode: %v", err)
			}
			if decoded.Claims["sub"] != "acc-1" || decoded.Header["kid"] != h.KeyID || decoded.Header["typ"] != "at+jwt" || string(decoded.Method) != alg {
				t.Errorf("decoded header %v claims %v", decoded.Header, decoded.Claims)
			}
			if got, err := signer.Validate(ctx, token); err != nil || got != sig {
				t.Errorf("Validate = %q, %v", got, err)
			}
			if p, hdr, err := f.m.Verify(idToken); err != nil || hdr.KeyID != h.KeyID || !strings.Contains(string(p), `"nonce":"n-1"`) {
				t.Errorf("Verify(id token) = %s, %+v, %v", p, hdr, err)
			}
		})
	}
}

func TestGenerateKeepsExtraHeaders(t *testing.T) {
	t.Parallel()
	f := ensured(t)
	token, _, err := f.m.FositeSigner(ES256).Generate(context.Background(), TypicalClaims(time.Now()),
		&jwt.Headers{Extra: map[string]any{"typ": "logout+jwt", "cty": "JWT", "kid": "forged", "alg": "none"}})
	if err != nil {
		t.Fatal(err)
	}
	_, h, err := f.m.Verify(token, ES256)
	if err != nil {
		t.Fatal(err)
	}
	if h.KeyID != currentKID(t, f.m, ES256) || h.Algorithm != ES256 || h.ExtraHeaders["typ"] != "logout+jwt" || h.ExtraHeaders["cty"] != "JWT" {
		t.Errorf("header %+v", h)
	}
}

func TestGenerateNilArguments(t *testing.T) {
	t.Parallel()
	f := ensured(t)
	s := f.m.FositeSigner(RS256)
	if _, _, err := s.Generate(context.Background(), nil, &jwt.Headers{}); err == nil {
		t.Error("Generate accepted nil claims")
	}
	if _, _, err := s.Generate(context.Background(), jwt.MapClaims{}, nil); err == nil {
		t.Error("Generate accepted a nil header")
	}
	if _, _, err := f.m.FositeSigner("HS256").Generate(context.Background(), jwt.MapClaims{}, &jwt.Headers{}); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("HS256 signer: err = %v, want ErrNoSigningKey", err)
	}
}

func TestDecodeExpiredKeepsClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := ensured(t)
	s := f.m.FositeSigner(RS256)
	past := time.Now().Add(-2 * time.Hour)
	token, _, err := s.Generate(ctx, jwt.MapClaims{"sub": "acc-2", "iat": past.Unix(), "exp": past.Add(time.Hour).Unix()}, &jwt.Headers{})
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := s.Decode(ctx, token)
	var ve *jwt.ValidationError
	if !errors.As(err, &ve) || !ve.Has(jwt.ValidationErrorExpired) {
		t.Fatalf("Decode of an expired token: err = %v, want an expiry ValidationError", err)
	}
	if decoded == nil || decoded.Claims["sub"] != "acc-2" || decoded.Valid() {
		t.Errorf("expired token decoded as %+v; fosite needs its claims, not marked valid", decoded)
	}
	if _, err := s.Validate(ctx, token); err == nil {
		t.Error("Validate accepted an expired token")
	}
	// Verify looks at the signature only: an expired id_token_hint is fine.
	if _, _, err := f.m.Verify(token); err != nil {
		t.Errorf("Verify of an expired but authentic token: %v", err)
	}
}

func TestDecodeAndVerifyReject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := ensured(t)
	s := f.m.FositeSigner(RS256)
	good, _ := sign(t, f.m, RS256)
	claims := TypicalClaims(time.Now())
	payload, err := json.Marshal(map[string]any(claims))
	if err != nil {
		t.Fatal(err)
	}

	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ours := f.m.snap.Load().byKID[currentKID(t, f.m, ES256)].priv
	signWith := func(key any, kid string, alg jose.SignatureAlgorithm) string {
		t.Helper()
		var k any = key
		if kid != "" {
			k = jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(alg)}
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, nil)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + b64(append(payload[:len(payload)-1:len(payload)-1], []byte(`,"x":1}`)...)) + "." + parts[2]
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(payload) + "."
	esKID := currentKID(t, f.m, ES256)

	for name, tok := range map[string]string{
		"tampered payload":        tampered,
		"unknown key":             signWith(foreign, "unknown", jose.ES256),
		"foreign key, our kid":    signWith(foreign, esKID, jose.ES256),
		"foreign key, no kid":     signWith(foreign, "", jose.ES256),
		"alg none":                none,
		"not a JWS":               "abc",
		"our kid with wrong alg":  signWith(ours, currentKID(t, f.m, RS256), jose.ES256),
		"truncated":               parts[0] + "." + parts[1],
		"signature of other part": parts[0] + "." + parts[1] + "." + strings.Split(signWith(ours, esKID, jose.ES256), ".")[2],
	} {
		if _, err := s.Decode(ctx, tok); err == nil {
			t.Errorf("%s: Decode accepted it", name)
		}
		if _, err := s.Validate(ctx, tok); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
		if _, _, err := f.m.Verify(tok); err == nil {
			t.Errorf("%s: Verify accepted it", name)
		}
	}

	// Without a kid, the published key of the alg is found.
	noKID := signWith(ours, "", jose.ES256)
	if decoded, err := s.Decode(ctx, noKID); err != nil || !decoded.Valid() {
		t.Errorf("Decode of a kid-less token of our key: %v", err)
	}
	if _, _, err := f.m.Verify(noKID); err != nil {
		t.Errorf("Verify of a kid-less token of our key: %v", err)
	}
	// Verify honours the allowed algorithms.
	if _, _, err := f.m.Verify(noKID, RS256); err == nil {
		t.Error("Verify accepted ES256 when only RS256 is allowed")
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestHash(t *testing.T) {
	t.Parallel()
	f := ensured(t)
	s := f.m.FositeSigner(ES256)
	in := []byte("access-token")
	got, err := s.Hash(context.Background(), in)
	want := sha256.Sum256(in)
	if err != nil || string(got) != string(want[:]) {
		t.Errorf("Hash = %x, %v; want %x", got, err, want)
	}
	if n := s.GetSigningMethodLength(context.Background()); n != sha256.Size {
		t.Errorf("GetSigningMethodLength = %d, want %d", n, sha256.Size)
	}
}

func TestConcurrentSignAndRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := ensured(t)
	other := f.manager()
	if err := other.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				tok, _, err := f.m.FositeSigner(ES256).Generate(ctx, TypicalClaims(time.Now()), &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}})
				if err != nil {
					errs <- err
					return
				}
				if _, err := f.m.FositeSigner(RS256).Decode(ctx, tok); err != nil {
					errs <- err
					return
				}
				_ = other.JWKS()
			}
		}()
	}
	for range 5 {
		if _, err := f.m.Rotate(ctx, ES256, 0, time.Hour); err != nil {
			t.Error(err)
		}
		if err := other.Refresh(ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent sign/verify: %v", err)
		}
	}
	if got := len(jwksOf(t, other).Keys); got != 7 {
		t.Errorf("JWKS has %d keys after 5 rotations, want 7 (1 RS256 + 6 ES256)", got)
	}
}

func TestRawSignRate(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{RS256, ES256} {
		rate, err := RawSignRate(alg, 50*time.Millisecond, 1)
		if err != nil || rate <= 0 {
			t.Errorf("RawSignRate(%s) = %v, %v", alg, rate, err)
		}
	}
	if _, err := RawSignRate("HS256", time.Millisecond, 1); !errors.Is(err, ErrUnsupportedAlg) {
		t.Errorf("RawSignRate(HS256): err = %v", err)
	}
	if _, err := RawSignRate(RS256, 0, 1); err == nil {
		t.Error("RawSignRate accepted a zero duration")
	}
}
