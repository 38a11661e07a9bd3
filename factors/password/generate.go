package password

import (
	"crypto/rand"
	"math/big"
)

// Generated passwords: genPairs pairs of letters or digits with a mark
// between each two: 17 characters, about 86 bits.
const genPairs = 6

const (
	genAlnum = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789" // no 0 O 1 l I
	genMarks = "!#%+-=?@_*"
)

// Generate returns a random password (crypto/rand) that passes CheckNew
// for any Personal: it never holds three letters or digits in a row, so no
// personal token (see personal.go) fits in it, and it is drawn again until
// it has every class of character and breaks no other rule. It panics only
// if the system's random source fails, as crypto/rand does.
func Generate() string {
	for {
		b := make([]byte, 0, 3*genPairs)
		for range genPairs {
			b = append(b, pick(genAlnum), pick(genAlnum), pick(genMarks))
		}
		pw := string(b[:len(b)-1])
		if CheckNew(pw, Personal{}) == nil {
			return pw
		}
	}
}

func pick(set string) byte {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		panic("password: crypto/rand failed: " + err.Error())
	}
	return set[n.Int64()]
}
