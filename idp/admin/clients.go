package admin

import (
	"errors"
	"net/http"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

var (
	noSuchClient = &problem{http.StatusNotFound, codeNotFound, "no client with this client_id"}
	publicClient = &problem{http.StatusBadRequest, codeInvalidRequest, "the client is public (token_endpoint_auth_method none) and has no secret"}
)

// createClient registers a client (RFC 7591 section 3.1). A confidential
// client gets a secret that is answered once and stored hashed.
func (a *API) createClient(w http.ResponseWriter, r *http.Request) {
	var m adminclient.ClientMetadata
	if p := decodeJSON(w, r, &m); p != nil {
		writeProblem(w, p)
		return
	}
	c, p := clientFromMetadata(m, a.KnownScopes)
	if p != nil {
		writeProblem(w, p)
		return
	}
	applyDefaults(c)
	if err := ensureSalt(c); err != nil {
		a.internalError(w, r, "generate pairwise salt", err)
		return
	}
	var secret string
	if !c.Public() {
		var err error
		if secret, c.SecretHash, err = a.newSecret(); err != nil {
			a.internalError(w, r, "generate client secret", err)
			return
		}
	}
	c.ID = a.NewID()
	c.CreatedAt = a.now()
	c.UpdatedAt = c.CreatedAt
	if err := a.Clients.CreateClient(r.Context(), c); err != nil {
		a.internalError(w, r, "create client", err)
		return
	}
	a.log().InfoContext(r.Context(), "admin: client created", "client_id", c.ID, "public", c.Public())
	info := clientInfo(c)
	info.ClientSecret = secret
	writeJSON(w, http.StatusCreated, info)
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request) {
	cs, err := a.Clients.ListClients(r.Context())
	if err != nil {
		a.internalError(w, r, "list clients", err)
		return
	}
	out := adminclient.ClientList{Clients: make([]adminclient.ClientInfo, 0, len(cs))}
	for _, c := range cs {
		out.Clients = append(out.Clients, clientInfo(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request) {
	id, p := pathID(r, "client_id")
	if p != nil {
		writeProblem(w, p)
		return
	}
	c, err := a.Clients.GetClient(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, noSuchClient)
		return
	}
	if err != nil {
		a.internalError(w, r, "get client", err)
		return
	}
	writeJSON(w, http.StatusOK, clientInfo(c))
}

// updateRequest is the body of PUT: the metadata, and optionally the
// client_id, which must then match the URL (RFC 7592 section 2.2).
type updateRequest struct {
	ClientID string `json:"client_id"`
	adminclient.ClientMetadata
}

// updateClient replaces the client's metadata and keeps its secret. A client
// that becomes public loses its secret; one that becomes confidential gets
// a new one, answered once.
func (a *API) updateClient(w http.ResponseWriter, r *http.Request) {
	id, p := pathID(r, "client_id")
	if p != nil {
		writeProblem(w, p)
		return
	}
	var req updateRequest
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, p)
		return
	}
	if req.ClientID != "" && req.ClientID != id {
		writeProblem(w, badRequest("client_id does not match the client_id in the URL"))
		return
	}
	want, p := clientFromMetadata(req.ClientMetadata, a.KnownScopes)
	if p != nil {
		writeProblem(w, p)
		return
	}
	now := a.now()
	var secret string
	c, err := a.Clients.UpdateClient(r.Context(), id, func(c *store.Client) error {
		secret = ""
		if want.SubjectType != "" && want.SubjectType != subjectType(c) {
			return errSubjectType
		}
		setMetadata(c, want, req.RequirePKCE != nil)
		if c.PKCEOptional && c.Public() {
			return errPKCEPublic
		}
		if err := ensureSalt(c); err != nil {
			return err
		}
		c.UpdatedAt = now
		switch {
		case c.Public():
			c.SecretHash = nil
		case len(c.SecretHash) == 0:
			var err error
			secret, c.SecretHash, err = a.newSecret()
			return err
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, noSuchClient)
		return
	}
	if errors.Is(err, errSubjectType) {
		writeProblem(w, badMetadata("subject_type cannot change: every sub the client has stored would change; register a new client instead"))
		return
	}
	if errors.Is(err, errPKCEPublic) {
		writeProblem(w, badMetadata("require_pkce: a public client always needs PKCE; send require_pkce true to make this client public"))
		return
	}
	if err != nil {
		a.internalError(w, r, "update client", err)
		return
	}
	a.log().InfoContext(r.Context(), "admin: client updated", "client_id", c.ID, "public", c.Public(), "secret_issued", secret != "")
	info := clientInfo(c)
	info.ClientSecret = secret
	writeJSON(w, http.StatusOK, info)
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request) {
	id, p := pathID(r, "client_id")
	if p != nil {
		writeProblem(w, p)
		return
	}
	err := a.Clients.DeleteClient(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, noSuchClient)
		return
	}
	if err != nil {
		a.internalError(w, r, "delete client", err)
		return
	}
	a.log().InfoContext(r.Context(), "admin: client deleted", "client_id", id)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// errSubjectType stops an update that would change the client's subject
// type: a sub is fixed in the tokens already issued, and a relying party
// keys its users by it.
var errSubjectType = errors.New("admin: subject type change")

// errPKCEPublic stops an update that would leave a public client without
// PKCE (it kept require_pkce false from when it was confidential).
var errPKCEPublic = errors.New("admin: public client without PKCE")

// errPublic stops a secret rotation of a public client inside the update.
var errPublic = errors.New("admin: public client")

// rotateClientSecret replaces a confidential client's secret; the old one
// stops working at once. The new secret is answered once.
func (a *API) rotateClientSecret(w http.ResponseWriter, r *http.Request) {
	id, p := pathID(r, "client_id")
	if p != nil {
		writeProblem(w, p)
		return
	}
	now := a.now()
	var secret string
	c, err := a.Clients.UpdateClient(r.Context(), id, func(c *store.Client) error {
		if c.Public() {
			return errPublic
		}
		var err error
		secret, c.SecretHash, err = a.newSecret()
		c.UpdatedAt = now
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, noSuchClient)
		return
	case errors.Is(err, errPublic):
		writeProblem(w, publicClient)
		return
	case err != nil:
		a.internalError(w, r, "rotate client secret", err)
		return
	}
	a.log().InfoContext(r.Context(), "admin: client secret rotated", "client_id", c.ID)
	info := clientInfo(c)
	info.ClientSecret = secret
	writeJSON(w, http.StatusOK, info)
}

// newSecret returns a new client secret and the hash to store.
func (a *API) newSecret() (secret string, hash []byte, err error) {
	secret, err = a.Secrets.GenerateSecret()
	if err != nil {
		return "", nil, err
	}
	return secret, a.Secrets.HashSecret(secret), nil
}
