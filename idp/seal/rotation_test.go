package seal

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestRotationSealOpen: a Sealer with a previous master opens what the
// previous master sealed and seals under the new one, which the previous
// master alone cannot open.
func TestRotationSealOpen(t *testing.T) {
	old := newSealer(t, master(1))
	rotated, err := New(master(2), master(1))
	if err != nil {
		t.Fatal(err)
	}
	sealedOld, err := old.Seal("signing-key", []byte("private"), []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open("signing-key", sealedOld, []byte("kid-1")); err != nil || string(got) != "private" {
		t.Fatalf("the rotated Sealer opens the old seal: %q, %v", got, err)
	}
	// Purpose and associated data still bind under the previous master.
	if _, err := rotated.Open("signing-key", sealedOld, []byte("kid-2")); !errors.Is(err, ErrOpen) {
		t.Errorf("old seal with another kid: %v, want ErrOpen", err)
	}
	if _, err := rotated.Open("totp", sealedOld, []byte("kid-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("old seal for another purpose: %v, want ErrOpen", err)
	}
	sealedNew, err := rotated.Seal("signing-key", []byte("private"), []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Open("signing-key", sealedNew, []byte("kid-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("the previous master alone opens a new seal: %v, want ErrOpen", err)
	}
	if got, err := newSealer(t, master(2)).Open("signing-key", sealedNew, []byte("kid-1")); err != nil || string(got) != "private" {
		t.Errorf("the new master alone does not open a new seal: %q, %v", got, err)
	}
	// Neither master opens what a third one sealed.
	third, _ := newSealer(t, master(3)).Seal("signing-key", []byte("private"), []byte("kid-1"))
	if _, err := rotated.Open("signing-key", third, []byte("kid-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("a seal under a third master: %v, want ErrOpen", err)
	}
}

// TestReseal: Reseal moves a value to the current master once; a value
// already under it is returned as it is; one no master opens fails.
func TestReseal(t *testing.T) {
	old := newSealer(t, master(1))
	rotated, err := New(master(2), master(3), master(1))
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := old.Seal("signing-key", []byte("private"), []byte("kid-1"))
	out, changed, err := rotated.Reseal("signing-key", sealed, []byte("kid-1"))
	if err != nil || !changed || bytes.Equal(out, sealed) {
		t.Fatalf("Reseal of an old seal = changed %v, %v", changed, err)
	}
	if got, err := newSealer(t, master(2)).Open("signing-key", out, []byte("kid-1")); err != nil || string(got) != "private" {
		t.Fatalf("the resealed value does not open under the new master alone: %q, %v", got, err)
	}
	again, changed, err := rotated.Reseal("signing-key", out, []byte("kid-1"))
	if err != nil || changed || !bytes.Equal(again, out) {
		t.Errorf("Reseal of a current seal = changed %v, same %v, %v; want it unchanged", changed, bytes.Equal(again, out), err)
	}
	if _, _, err := rotated.Reseal("signing-key", sealed, []byte("kid-2")); !errors.Is(err, ErrOpen) {
		t.Errorf("Reseal with the wrong associated data: %v, want ErrOpen", err)
	}
	foreign, _ := newSealer(t, master(4)).Seal("signing-key", []byte("private"), []byte("kid-1"))
	if _, _, err := rotated.Reseal("signing-key", foreign, []byte("kid-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("Reseal of a value no master opens: %v, want ErrOpen", err)
	}
}

// TestDerivePrevious: the current master derives DeriveKey; DerivePrevious
// gives what each previous master's DeriveKey gave, in order.
func TestDerivePrevious(t *testing.T) {
	rotated, err := New(master(2), master(1), master(3))
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := rotated.DeriveKey("csrf", 32)
	want2, _ := newSealer(t, master(2)).DeriveKey("csrf", 32)
	if !bytes.Equal(cur, want2) {
		t.Error("DeriveKey is not the current master's key")
	}
	prev, err := rotated.DerivePrevious("csrf", 32)
	if err != nil || len(prev) != 2 {
		t.Fatalf("DerivePrevious = %d keys, %v; want 2", len(prev), err)
	}
	for i, m := range []byte{1, 3} {
		want, _ := newSealer(t, master(m)).DeriveKey("csrf", 32)
		if !bytes.Equal(prev[i], want) {
			t.Errorf("DerivePrevious[%d] is not master %d's key", i, m)
		}
	}
	if prev, err := newSealer(t, master(1)).DerivePrevious("csrf", 32); err != nil || len(prev) != 0 {
		t.Errorf("DerivePrevious without previous masters = %d keys, %v", len(prev), err)
	}
	if _, err := rotated.DerivePrevious("", 32); !errors.Is(err, ErrPurpose) {
		t.Errorf("DerivePrevious with an empty purpose: %v", err)
	}
}

// TestSecretHashesAcrossRotation: a hash made under the previous master,
// tagged or made before tags existed, verifies after the rotation and says
// that it needs an upgrade; a new hash is under the current master; once
// the previous master is dropped the old hashes stop verifying.
func TestSecretHashesAcrossRotation(t *testing.T) {
	old := newSealer(t, master(1))
	rotated, err := New(master(2), master(1))
	if err != nil {
		t.Fatal(err)
	}
	only := newSealer(t, master(2))
	// A hash tagged with the old master, as made during an earlier rotation.
	earlier, err := New(master(1), master(3))
	if err != nil {
		t.Fatal(err)
	}
	tagged := earlier.HashSecret("s3cr3t")
	// An untagged hash, as made outside rotations (and before tags existed).
	untagged := old.HashSecret("s3cr3t")
	m := hmac.New(sha256.New, old.cur.secretKey)
	m.Write([]byte("s3cr3t"))
	if !bytes.Equal(untagged, m.Sum(nil)) {
		t.Fatal("outside a rotation HashSecret is not the bare HMAC")
	}
	fresh := rotated.HashSecret("s3cr3t")

	for _, tc := range []struct {
		name  string
		s     *Sealer
		hash  []byte
		ok    bool
		state HashState
	}{
		{"old hash, old master", old, tagged, true, HashCurrent},
		{"untagged hash, old master", old, untagged, true, HashCurrent},
		{"old hash, rotated", rotated, tagged, true, HashPrevious},
		{"untagged hash, rotated", rotated, untagged, true, HashUntagged},
		{"new hash, rotated", rotated, fresh, true, HashCurrent},
		{"new hash, new master only", only, fresh, true, HashCurrent},
		{"old hash, previous dropped", only, tagged, false, HashUnknown},
		// Without the secret an untagged hash cannot be told apart: with
		// one master held it is taken as that master's (and here, made
		// under the dropped one, it verifies nothing).
		{"untagged hash, previous dropped", only, untagged, false, HashCurrent},
		{"new hash, old master", old, fresh, false, HashUnknown},
		{"not a hash", rotated, []byte("short"), false, HashUnknown},
	} {
		if got := tc.s.VerifySecret("s3cr3t", tc.hash); got != tc.ok {
			t.Errorf("%s: VerifySecret = %v, want %v", tc.name, got, tc.ok)
		}
		if tc.ok && tc.s.VerifySecret("wrong", tc.hash) {
			t.Errorf("%s: a wrong secret verifies", tc.name)
		}
		if got := tc.s.SecretHashState(tc.hash); got != tc.state {
			t.Errorf("%s: SecretHashState = %d, want %d", tc.name, got, tc.state)
		}
	}
	if rotated.KeyID() == old.KeyID() || rotated.KeyID() != only.KeyID() {
		t.Error("KeyID is not the current master's")
	}
}

func TestNewRejectsBadPrevious(t *testing.T) {
	if _, err := New(master(1), make([]byte, 31)); !errors.Is(err, ErrShortMaster) {
		t.Errorf("short previous master: %v, want ErrShortMaster", err)
	}
	if _, err := New(master(1), master(1)); !errors.Is(err, ErrSameMaster) {
		t.Errorf("previous = current: %v, want ErrSameMaster", err)
	}
	if _, err := New(master(1), master(2), master(2)); !errors.Is(err, ErrSameMaster) {
		t.Errorf("a previous master twice: %v, want ErrSameMaster", err)
	}
}
