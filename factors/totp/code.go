package totp

// ParseCode normalises a code as typed: ASCII spaces, tabs and hyphens are
// dropped ("123 456", "123-456"), and what remains must be exactly six ASCII
// digits, which it returns. Anything else is ErrMalformed (which never
// repeats the input).
func ParseCode(s string) (string, error) {
	// Longer input is not a code however it is spaced; refusing it early
	// bounds the work.
	if len(s) > 64 {
		return "", ErrMalformed
	}
	var out [Digits]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '-':
		case c >= '0' && c <= '9':
			if n == Digits {
				return "", ErrMalformed
			}
			out[n] = c
			n++
		default:
			return "", ErrMalformed
		}
	}
	if n != Digits {
		return "", ErrMalformed
	}
	return string(out[:]), nil
}
