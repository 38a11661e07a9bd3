// Package seal protects secrets at rest. Every key is derived from one master
// secret (the bytes of IDP_SECRET_KEY) with HKDF-SHA-256 and a purpose label,
// so a value sealed for one purpose (a TOTP secret, a signing key) cannot be
// opened as another. Sealing is AES-256-GCM with a random 96-bit nonce; client
// secrets are stored as an HMAC-SHA-256 under a derived key, tagged with the
// master's key id.
//
// A Sealer may also hold previous masters (IDP_SECRET_KEY_PREVIOUS), so that
// the master can be rotated: it seals, hashes and derives under the current
// master only, and opens, verifies and derives (DerivePrevious) under any of
// them. Reseal moves a sealed value to the current master.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/hkdf"
)

// MinMasterLen is the shortest master secret New accepts, in bytes.
const MinMasterLen = 32

// version is the first byte of every sealed value. A new format gets a new
// version so that old values can still be told apart (and re-sealed).
const version byte = 1

// hkdfSalt is the fixed HKDF salt of this application (RFC 5869 section 3.1:
// a non-secret salt still strengthens the extraction).
const hkdfSalt = "github.com/esia-oidc/idp/seal v1"

// Errors returned by the Sealer. Open wraps ErrOpen for every failure to
// open, whatever the cause, so that callers need one check.
var (
	// ErrShortMaster: the master secret is shorter than MinMasterLen.
	ErrShortMaster = errors.New("seal: master secret shorter than 32 bytes")
	// ErrPurpose: the purpose label is empty.
	ErrPurpose = errors.New("seal: empty purpose")
	// ErrOpen: the sealed value is malformed, was tampered with, or was
	// sealed under another master, purpose or associated data.
	ErrOpen = errors.New("seal: cannot open sealed value")
	// ErrSameMaster: a previous master repeats the current one or another
	// previous one.
	ErrSameMaster = errors.New("seal: a previous master secret repeats another")
)

// Sealer seals and opens values under keys derived from a master secret,
// and opens values sealed under its previous masters. It is safe for
// concurrent use.
type Sealer struct {
	cur *masterKey
	all []*masterKey // cur, then the previous masters in the order given
}

// masterKey is the key material derived from one master secret.
type masterKey struct {
	prk   []byte         // HKDF pseudorandom key extracted from the master
	id    [KeyIDLen]byte // public key id: tags client-secret hashes
	aeads sync.Map       // purpose -> cipher.AEAD

	secretKey []byte // HMAC key of client secrets
}

// KeyIDLen is the length of a master's key id.
const KeyIDLen = 8

// New returns a Sealer for the master secret, and for the previous masters
// it must still open (each at least 32 bytes of high-entropy material, like
// the master; ErrShortMaster otherwise, ErrSameMaster when one repeats
// another). Only the HKDF pseudorandom keys extracted from them are kept, so
// the caller may wipe them afterwards.
func New(current []byte, previous ...[]byte) (*Sealer, error) {
	cur, err := newMaster(current)
	if err != nil {
		return nil, err
	}
	s := &Sealer{cur: cur, all: []*masterKey{cur}}
	for _, p := range previous {
		m, err := newMaster(p)
		if err != nil {
			return nil, fmt.Errorf("previous master: %w", err)
		}
		for _, other := range s.all {
			if m.id == other.id {
				return nil, ErrSameMaster
			}
		}
		s.all = append(s.all, m)
	}
	return s, nil
}

func newMaster(secret []byte) (*masterKey, error) {
	if len(secret) < MinMasterLen {
		return nil, ErrShortMaster
	}
	m := &masterKey{prk: hkdf.Extract(sha256.New, secret, []byte(hkdfSalt))}
	id, err := m.derive("id", "key-id", KeyIDLen)
	if err != nil {
		return nil, err
	}
	copy(m.id[:], id)
	if m.secretKey, err = m.derive("hmac-sha-256", "client-secret", sha256.Size); err != nil {
		return nil, err
	}
	return m, nil
}

// KeyID returns the current master's key id: 8 bytes derived from it
// (HKDF), which tell which master a client-secret hash was made under
// without revealing anything of the master.
func (s *Sealer) KeyID() [KeyIDLen]byte { return s.cur.id }

// derive returns n bytes of key material for the algorithm and purpose. The
// algorithm is part of the HKDF info so that one purpose label never yields
// the same key for two algorithms.
func (m *masterKey) derive(alg, purpose string, n int) ([]byte, error) {
	if purpose == "" {
		return nil, ErrPurpose
	}
	info := []byte(alg + "\x00" + purpose)
	key := make([]byte, n)
	if _, err := io.ReadFull(hkdf.Expand(sha256.New, m.prk, info), key); err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	return key, nil
}

// aead returns the cached AES-256-GCM AEAD of the purpose, creating it once.
func (m *masterKey) aead(purpose string) (cipher.AEAD, error) {
	if a, ok := m.aeads.Load(purpose); ok {
		return a.(cipher.AEAD), nil
	}
	key, err := m.derive("aes-256-gcm", purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	// A random 96-bit nonce, prepended to the ciphertext by Seal.
	a, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	// Two goroutines may build the same AEAD; both are equal, keep the first.
	actual, _ := m.aeads.LoadOrStore(purpose, a)
	return actual.(cipher.AEAD), nil
}

// Seal encrypts and authenticates plaintext under the current master's key
// of purpose, binding associatedData (which is not stored: Open must be
// given the same bytes, e.g. the account ID or key ID the value belongs to).
// The result is version byte || 96-bit nonce || ciphertext and tag.
func (s *Sealer) Seal(purpose string, plaintext, associatedData []byte) ([]byte, error) {
	a, err := s.cur.aead(purpose)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1, 1+a.Overhead()+len(plaintext))
	out[0] = version
	return a.Seal(out, nil, plaintext, associatedData), nil
}

// Open authenticates and decrypts a value made by Seal with the same purpose
// and associated data, under the current master or a previous one. Every
// failure wraps ErrOpen.
func (s *Sealer) Open(purpose string, sealed, associatedData []byte) ([]byte, error) {
	plaintext, _, err := s.open(purpose, sealed, associatedData)
	return plaintext, err
}

// open is Open that also tells whether the value was sealed under the
// current master.
func (s *Sealer) open(purpose string, sealed, associatedData []byte) (plaintext []byte, current bool, err error) {
	if purpose == "" {
		return nil, false, ErrPurpose
	}
	if len(sealed) < 1 || sealed[0] != version {
		if len(sealed) < 1 {
			return nil, false, fmt.Errorf("%w: too short", ErrOpen)
		}
		return nil, false, fmt.Errorf("%w: unknown version %d", ErrOpen, sealed[0])
	}
	for i, m := range s.all {
		a, err := m.aead(purpose)
		if err != nil {
			return nil, false, err
		}
		if len(sealed) < 1+a.Overhead() {
			return nil, false, fmt.Errorf("%w: too short", ErrOpen)
		}
		if plaintext, err := a.Open(nil, nil, sealed[1:], associatedData); err == nil {
			return plaintext, i == 0, nil
		}
	}
	return nil, false, fmt.Errorf("%w: authentication failed", ErrOpen)
}

// Reseal returns the value sealed under the current master: sealed itself
// (changed false) when it already is, else a new seal of its plaintext
// (changed true). It fails, wrapping ErrOpen, when no master opens it.
func (s *Sealer) Reseal(purpose string, sealed, associatedData []byte) (out []byte, changed bool, err error) {
	plaintext, current, err := s.open(purpose, sealed, associatedData)
	if err != nil {
		return nil, false, err
	}
	defer clear(plaintext)
	if current {
		return sealed, false, nil
	}
	out, err = s.Seal(purpose, plaintext, associatedData)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}
