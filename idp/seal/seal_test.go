package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"sync"
	"testing"
)

func master(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newSealer(t *testing.T, m []byte) *Sealer {
	t.Helper()
	s, err := New(m)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestNewRejectsShortMaster(t *testing.T) {
	for _, n := range []int{0, 1, 16, 31} {
		if _, err := New(make([]byte, n)); !errors.Is(err, ErrShortMaster) {
			t.Errorf("New(%d bytes) error = %v, want ErrShortMaster", n, err)
		}
	}
	if _, err := New(make([]byte, 64)); err != nil {
		t.Errorf("New(64 bytes): %v", err)
	}
}

func TestNewCopiesMaster(t *testing.T) {
	m := master(7)
	s := newSealer(t, m)
	sealed, err := s.Seal("totp", []byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = 0 // the caller wipes its copy
	}
	if _, err := s.Open("totp", sealed, nil); err != nil {
		t.Fatalf("Open after the caller changed its master slice: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	s := newSealer(t, master(1))
	for _, tc := range []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"empty", []byte{}, nil},
		{"text", []byte("JBSWY3DPEHPK3PXP"), []byte("account-42")},
		{"binary", bytes.Repeat([]byte{0, 255, 13}, 1000), []byte{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := s.Seal("totp", tc.plaintext, tc.ad)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(sealed), 1+12+len(tc.plaintext)+16; got != want {
				t.Errorf("len(sealed) = %d, want %d (version+nonce+ciphertext+tag)", got, want)
			}
			if sealed[0] != version {
				t.Errorf("version byte = %d, want %d", sealed[0], version)
			}
			if len(tc.plaintext) > 4 && bytes.Contains(sealed, tc.plaintext) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := s.Open("totp", sealed, tc.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open = %x, want %x", got, tc.plaintext)
			}
		})
	}
}

func TestNonceIsRandom(t *testing.T) {
	s := newSealer(t, master(1))
	a, _ := s.Seal("p", []byte("same"), nil)
	b, _ := s.Seal("p", []byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal")
	}
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Fatal("two seals share a nonce")
	}
}

func TestTamperDetection(t *testing.T) {
	s := newSealer(t, master(1))
	sealed, err := s.Seal("signing-key", []byte("private key bytes"), []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			c := bytes.Clone(sealed)
			c[i] ^= bit
			if _, err := s.Open("signing-key", c, []byte("kid-1")); !errors.Is(err, ErrOpen) {
				t.Fatalf("flip bit %#x of byte %d: error = %v, want ErrOpen", bit, i, err)
			}
		}
	}
	for _, c := range [][]byte{nil, {}, {version}, sealed[:len(sealed)-1], sealed[:20], append(bytes.Clone(sealed), 0)} {
		if _, err := s.Open("signing-key", c, []byte("kid-1")); !errors.Is(err, ErrOpen) {
			t.Errorf("Open(%d bytes) error = %v, want ErrOpen", len(c), err)
		}
	}
}

func TestWrongAssociatedData(t *testing.T) {
	s := newSealer(t, master(1))
	sealed, _ := s.Seal("totp", []byte("x"), []byte("account-1"))
	for _, ad := range [][]byte{nil, []byte("account-2"), []byte("account-1 ")} {
		if _, err := s.Open("totp", sealed, ad); !errors.Is(err, ErrOpen) {
			t.Errorf("Open with AD %q: error = %v, want ErrOpen", ad, err)
		}
	}
}

func TestPurposeSeparation(t *testing.T) {
	s := newSealer(t, master(1))
	sealed, _ := s.Seal("totp", []byte("x"), nil)
	for _, p := range []string{"signing-key", "TOTP", "totp ", "client-secret"} {
		if _, err := s.Open(p, sealed, nil); !errors.Is(err, ErrOpen) {
			t.Errorf("Open with purpose %q: error = %v, want ErrOpen", p, err)
		}
	}
	if _, err := s.Seal("", []byte("x"), nil); !errors.Is(err, ErrPurpose) {
		t.Errorf("Seal with empty purpose: error = %v, want ErrPurpose", err)
	}
	if _, err := s.Open("", sealed, nil); !errors.Is(err, ErrPurpose) {
		t.Errorf("Open with empty purpose: error = %v, want ErrPurpose", err)
	}
}

func TestWrongMasterFails(t *testing.T) {
	a := newSealer(t, master(1))
	b := newSealer(t, master(2))
	sealed, _ := a.Seal("totp", []byte("x"), nil)
	if _, err := b.Open("totp", sealed, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("Open under another master: error = %v, want ErrOpen", err)
	}
	// The same master in another Sealer (another replica, after a restart) opens it.
	c := newSealer(t, master(1))
	if got, err := c.Open("totp", sealed, nil); err != nil || string(got) != "x" {
		t.Fatalf("Open under the same master = %q, %v", got, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newSealer(t, master(3))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			purpose := []string{"a", "b", "c", "d"}[i%4]
			sealed, err := s.Seal(purpose, []byte(purpose), nil)
			if err != nil {
				errs <- err
				return
			}
			got, err := s.Open(purpose, sealed, nil)
			if err != nil {
				errs <- err
				return
			}
			if string(got) != purpose {
				errs <- errors.New("wrong plaintext " + string(got))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHashSecret(t *testing.T) {
	s := newSealer(t, master(1))
	h1 := s.HashSecret("s3cr3t")
	// Outside a rotation: the bare 32-byte HMAC, which every release reads.
	if len(h1) != 32 {
		t.Fatalf("hash %x: want the 32-byte HMAC", h1)
	}
	// While a previous master is held: version 1, the key id, the HMAC.
	rot, err := New(master(1), master(9))
	if err != nil {
		t.Fatal(err)
	}
	if h := rot.HashSecret("s3cr3t"); len(h) != 1+KeyIDLen+32 || h[0] != 1 || !bytes.Equal(h[1:1+KeyIDLen], rot.cur.id[:]) || !bytes.Equal(h[1+KeyIDLen:], h1) {
		t.Fatalf("hash during a rotation %x: want 1 || key id %x || the same HMAC", h, rot.cur.id)
	}
	// Deterministic: the same secret under the same master, in any Sealer.
	if h2 := newSealer(t, master(1)).HashSecret("s3cr3t"); !bytes.Equal(h1, h2) {
		t.Error("HashSecret is not deterministic across Sealers with one master")
	}
	if bytes.Equal(h1, s.HashSecret("s3cr3T")) {
		t.Error("different secrets hash alike")
	}
	if bytes.Equal(h1, newSealer(t, master(2)).HashSecret("s3cr3t")) {
		t.Error("the hash does not depend on the master")
	}
	if !s.VerifySecret("s3cr3t", h1) {
		t.Error("VerifySecret rejects the right secret")
	}
	tagged := rot.HashSecret("s3cr3t")
	if !rot.VerifySecret("s3cr3t", tagged) || !rot.VerifySecret("s3cr3t", h1) || !s.VerifySecret("s3cr3t", tagged) {
		t.Error("a tagged or untagged hash under the master does not verify")
	}
	bad := bytes.Clone(h1)
	bad[31] ^= 1
	otherTag := bytes.Clone(tagged)
	otherTag[1] ^= 1
	otherVersion := bytes.Clone(tagged)
	otherVersion[0] = 2
	for _, h := range [][]byte{nil, {}, bad, h1[:31], tagged[:32], tagged[1:], append(bytes.Clone(tagged), 0), otherTag, otherVersion} {
		if s.VerifySecret("s3cr3t", h) {
			t.Errorf("VerifySecret accepts hash %x", h)
		}
	}
	if s.VerifySecret("other", h1) {
		t.Error("VerifySecret accepts a wrong secret")
	}
}

// TestVerifySecretConstantTime checks in the source that VerifySecret
// compares with hmac.Equal (constant time) and never with bytes.Equal, ==,
// or string conversion.
func TestVerifySecretConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "secret.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Name.Name == "VerifySecret" {
			fn = d
		}
	}
	if fn == nil {
		t.Fatal("VerifySecret not found in secret.go")
	}
	var calls []string
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok {
				calls = append(calls, x.Name+"."+n.Sel.Name)
			}
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				t.Errorf("VerifySecret compares with %s at %v", n.Op, fset.Position(n.Pos()))
			}
		}
		return true
	})
	joined := strings.Join(calls, " ")
	if !strings.Contains(joined, "hmac.Equal") {
		t.Errorf("VerifySecret does not call hmac.Equal (calls: %s)", joined)
	}
	for _, bad := range []string{"bytes.Equal", "bytes.Compare", "strings.EqualFold", "reflect.DeepEqual"} {
		if strings.Contains(joined, bad) {
			t.Errorf("VerifySecret calls %s", bad)
		}
	}
}

func TestGenerateSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := GenerateSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 43 || strings.ContainsAny(s, "=+/") {
			t.Fatalf("secret %q is not 43 characters of unpadded base64url", s)
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("secret %q decodes to %d bytes, %v", s, len(b), err)
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
	}
}
