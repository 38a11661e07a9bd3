package seal

// DeriveKey returns n bytes derived from the current master secret for the
// purpose (HKDF-SHA-256), for keys that are not used by Seal: the CSRF key,
// the HMAC key of authorization codes and refresh tokens.
func (s *Sealer) DeriveKey(purpose string, n int) ([]byte, error) {
	return s.cur.derive("key", purpose, n)
}

// DerivePrevious returns the keys DeriveKey returned under each previous
// master, in the order New was given them (none when there is none). A user
// of a derived key verifies with these besides the current one while the
// master is rotated: a CSRF token or a refresh token made before the
// rotation stays valid.
func (s *Sealer) DerivePrevious(purpose string, n int) ([][]byte, error) {
	var out [][]byte
	for _, m := range s.all[1:] {
		k, err := m.derive("key", purpose, n)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}
