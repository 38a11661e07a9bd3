package admin

import (
	"net/http"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.Keys.List(r.Context())
	if err != nil {
		a.internalError(w, r, "list keys", err)
		return
	}
	now := a.now()
	out := adminclient.KeyList{Keys: make([]adminclient.KeyInfo, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, keyInfo(k, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// rotateKey creates a new signing key; the key manager publishes it before
// it signs and retires the old ones.
func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) {
	var req adminclient.RotateKeyRequest
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, p)
		return
	}
	if req.Alg != "RS256" && req.Alg != "ES256" {
		writeProblem(w, badRequest("alg must be RS256 or ES256"))
		return
	}
	k, err := a.Keys.Rotate(r.Context(), req.Alg)
	if err != nil {
		a.internalError(w, r, "rotate key", err)
		return
	}
	a.log().InfoContext(r.Context(), "admin: signing key created", "kid", k.ID, "alg", k.Alg)
	writeJSON(w, http.StatusCreated, keyInfo(k, a.now()))
}

// keyInfo describes the key, its state taken from its times at now.
func keyInfo(k *store.SigningKey, now time.Time) adminclient.KeyInfo {
	state := adminclient.KeyExpired
	switch {
	case now.Before(k.ActiveAt):
		state = adminclient.KeyNext
	case k.RetiredAt.IsZero() || now.Before(k.RetiredAt):
		state = adminclient.KeyActive
	case k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt):
		state = adminclient.KeyRetired
	}
	return adminclient.KeyInfo{
		KID:       k.ID,
		Alg:       k.Alg,
		State:     state,
		CreatedAt: k.CreatedAt,
		ActiveAt:  k.ActiveAt,
		RetiredAt: k.RetiredAt,
		ExpiresAt: k.ExpiresAt,
	}
}
