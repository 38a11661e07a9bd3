package seal

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpen: Open never panics, and whatever it is given that Seal did not
// make for that purpose and associated data, it refuses with ErrOpen and
// no plaintext. The only values Seal made here seal "private key" for
// "kid-1" (each fuzzing process seals its own, with its own nonce, and any
// of them opens); nothing else may open.
func FuzzOpen(f *testing.F) {
	s, err := New(master(1))
	if err != nil {
		f.Fatal(err)
	}
	genuine, err := s.Seal("signing-key", []byte("private key"), []byte("kid-1"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine, []byte("kid-2"))
	f.Add(genuine[:len(genuine)-1], []byte("kid-1"))
	f.Add(append([]byte{2}, genuine[1:]...), []byte("kid-1"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{version}, []byte(nil))
	f.Add(bytes.Repeat([]byte{version}, 29), []byte("kid-1"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := s.Open("signing-key", sealed, ad)
		if err == nil && string(pt) == "private key" && string(ad) == "kid-1" && sealed[0] == version {
			return // one that Seal made
		}
		if !errors.Is(err, ErrOpen) || pt != nil {
			t.Fatalf("Open(%x, %q) = %q, %v; want nothing and ErrOpen", sealed, ad, pt, err)
		}
	})
}

// FuzzSealRoundTrip: what Seal makes opens to the plaintext with the same
// purpose and associated data, and to nothing (ErrOpen) once any bit of it
// is flipped, or with other associated data or another purpose.
func FuzzSealRoundTrip(f *testing.F) {
	s, err := New(master(1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("private key"), []byte("kid-1"), uint(0))
	f.Add([]byte{}, []byte{}, uint(7))
	f.Add(bytes.Repeat([]byte{0}, 4096), []byte("account-1"), uint(12345))
	f.Fuzz(func(t *testing.T, plaintext, ad []byte, bit uint) {
		sealed, err := s.Seal("totp", plaintext, ad)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := s.Open("totp", sealed, ad)
		if err != nil || !bytes.Equal(pt, plaintext) {
			t.Fatalf("Open(Seal(%x)) = %x, %v", plaintext, pt, err)
		}
		flipped := bytes.Clone(sealed)
		i := bit % uint(8*len(flipped))
		flipped[i/8] ^= 1 << (i % 8)
		if pt, err := s.Open("totp", flipped, ad); !errors.Is(err, ErrOpen) || pt != nil {
			t.Fatalf("Open with bit %d flipped = %x, %v; want ErrOpen", i, pt, err)
		}
		if pt, err := s.Open("totp", sealed, append(bytes.Clone(ad), 0)); !errors.Is(err, ErrOpen) || pt != nil {
			t.Fatalf("Open with other associated data = %x, %v; want ErrOpen", pt, err)
		}
		if pt, err := s.Open("signing-key", sealed, ad); !errors.Is(err, ErrOpen) || pt != nil {
			t.Fatalf("Open for another purpose = %x, %v; want ErrOpen", pt, err)
		}
	})
}
