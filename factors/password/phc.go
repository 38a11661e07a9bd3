package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// phc is a parsed argon2id PHC string.
type phc struct {
	params Params // KeyLen and SaltLen are the lengths of hash and salt
	salt   []byte
	hash   []byte
}

// String encodes the hash in the PHC string format of the argon2 reference
// implementation: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>,
// salt and hash in unpadded standard base64.
func (p *phc) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.params.Memory, p.params.Time, p.params.Threads,
		b64.EncodeToString(p.salt), b64.EncodeToString(p.hash))
}

// parsePHC parses and bounds-checks an argon2id PHC string. Errors wrap
// ErrMalformed and never include the string itself.
func parsePHC(s string) (*phc, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformed, why) }

	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, bad("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return nil, bad("not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, bad("unsupported version")
	}

	var p phc
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return nil, bad("want parameters m, t, p")
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return nil, bad("want parameters m, t, p")
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		// Decimal digits only: ParseUint would accept "+1" or "0x1" forms.
		if v == "" || strings.Trim(v, "0123456789") != "" || (len(v) > 1 && v[0] == '0') {
			return nil, bad("parameter " + name + " is not a decimal number")
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return nil, bad("parameter " + name + " out of range")
		}
		switch name {
		case "m":
			p.params.Memory = uint32(n)
		case "t":
			p.params.Time = uint32(n)
		case "p":
			p.params.Threads = uint8(n)
		}
	}

	// The decoder skips CR and LF even when strict: refuse them, so that a
	// hash has one spelling.
	if strings.ContainsAny(parts[4]+parts[5], "\r\n") {
		return nil, bad("line break in salt or hash")
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return nil, bad("salt is not unpadded base64")
	}
	if p.hash, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return nil, bad("hash is not unpadded base64")
	}
	p.params.SaltLen = uint32(len(p.salt))
	p.params.KeyLen = uint32(len(p.hash))
	if err := p.params.validate(); err != nil {
		return nil, bad(err.Error())
	}
	return &p, nil
}
