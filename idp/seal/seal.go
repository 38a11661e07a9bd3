// Package seal protects secrets at rest. Every key is derived from one master
// secret (the bytes of IDP_SECRET_KEY) with HKDF-SHA-256 and a purpose label,
// so a value sealed for one purpose (a TOTP secret, a signing key) cannot be
// opened as another. Sealing is AES-256-GCM with a random 96-bit nonce; client
// secrets are stored as an HMAC-SHA-256 under a derived key.
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
)

// Sealer seals and opens values under keys derived from a master secret.
// It is safe for concurrent use.
type Sealer struct {
	prk []byte // HKDF pseudorandom key extracted from the master

	aeads sync.Map // purpose -> cipher.AEAD

	secretKey []byte // HMAC key of client secrets
}

// New returns a Sealer for the master secret, which must be at least 32 bytes
// of high-entropy material. Only the HKDF pseudorandom key extracted from it
// is kept, so the caller may wipe master afterwards.
func New(master []byte) (*Sealer, error) {
	if len(master) < MinMasterLen {
		return nil, ErrShortMaster
	}
	s := &Sealer{prk: hkdf.Extract(sha256.New, master, []byte(hkdfSalt))}
	k, err := s.derive("hmac-sha-256", "client-secret", sha256.Size)
	if err != nil {
		return nil, err
	}
	s.secretKey = k
	return s, nil
}

// derive returns n bytes of key material for the algorithm and purpose. The
// algorithm is part of the HKDF info so that one purpose label never yields
// the same key for two algorithms.
func (s *Sealer) derive(alg, purpose string, n int) ([]byte, error) {
	if purpose == "" {
		return nil, ErrPurpose
	}
	info := []byte(alg + "\x00" + purpose)
	key := make([]byte, n)
	if _, err := io.ReadFull(hkdf.Expand(sha256.New, s.prk, info), key); err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	return key, nil
}

// aead returns the cached AES-256-GCM AEAD of the purpose, creating it once.
func (s *Sealer) aead(purpose string) (cipher.AEAD, error) {
	if a, ok := s.aeads.Load(purpose); ok {
		return a.(cipher.AEAD), nil
	}
	key, err := s.derive("aes-256-gcm", purpose, 32)
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
	actual, _ := s.aeads.LoadOrStore(purpose, a)
	return actual.(cipher.AEAD), nil
}

// Seal encrypts and authenticates plaintext under the key of purpose, binding
// associatedData (which is not stored: Open must be given the same bytes, e.g.
// the account ID or key ID the value belongs to). The result is
// version byte || 96-bit nonce || ciphertext and tag.
func (s *Sealer) Seal(purpose string, plaintext, associatedData []byte) ([]byte, error) {
	a, err := s.aead(purpose)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1, 1+a.Overhead()+len(plaintext))
	out[0] = version
	return a.Seal(out, nil, plaintext, associatedData), nil
}

// Open authenticates and decrypts a value made by Seal with the same purpose
// and associated data. Every failure wraps ErrOpen.
func (s *Sealer) Open(purpose string, sealed, associatedData []byte) ([]byte, error) {
	a, err := s.aead(purpose)
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+a.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrOpen)
	}
	if sealed[0] != version {
		return nil, fmt.Errorf("%w: unknown version %d", ErrOpen, sealed[0])
	}
	plaintext, err := a.Open(nil, nil, sealed[1:], associatedData)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrOpen)
	}
	return plaintext, nil
}
