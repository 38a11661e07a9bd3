package seal

// DeriveKey returns n bytes derived from the master secret for the purpose
// (HKDF-SHA-256), for keys that are not used by Seal: the CSRF key, the
// HMAC key of authorization codes and refresh tokens.
func (s *Sealer) DeriveKey(purpose string, n int) ([]byte, error) {
	return s.derive("key", purpose, n)
}
