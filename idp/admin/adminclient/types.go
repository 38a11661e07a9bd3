package adminclient

import "time"

// ClientMetadata is the registrable metadata of a client, with the field
// names of RFC 7591 section 2 (and OpenID Connect RP-initiated and
// back-channel logout). It is the body of POST and PUT /admin/clients.
type ClientMetadata struct {
	ClientName             string   `json:"client_name"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// GrantTypes: authorization_code, refresh_token, client_credentials.
	// Empty means [authorization_code].
	GrantTypes []string `json:"grant_types,omitempty"`
	// ResponseTypes: code. Empty means [code] when the authorization_code
	// grant is allowed.
	ResponseTypes []string `json:"response_types,omitempty"`
	// Scope is a space-separated list of scopes the client may request.
	// Empty means "openid".
	Scope string `json:"scope,omitempty"`
	// TokenEndpointAuthMethod: client_secret_basic (the default),
	// client_secret_post, or none for public clients.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	BackchannelLogoutURI    string `json:"backchannel_logout_uri,omitempty"`
	// MinLevel is the lowest account level the client accepts: simplified,
	// standard, confirmed, or empty for no requirement.
	MinLevel string `json:"min_level,omitempty"`
	// RequireMFA: every login for the client needs a second factor (a
	// session that proved only a password is stepped up).
	RequireMFA bool `json:"require_mfa,omitempty"`
	// IDTokenSignedResponseAlg: RS256, ES256, or empty for the default (RS256).
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
	// SubjectType (OpenID Connect Core §8): pairwise (the default for a new
	// client) gives the client a sub of its own for each citizen, which no
	// other client can link; public gives every such client the same sub,
	// the account id. On PUT, empty keeps the client's current type.
	SubjectType string `json:"subject_type,omitempty"`
	// RequirePKCE: whether the code flow needs PKCE (S256). Always true for
	// public clients; a confidential legacy relying party may be registered
	// with false. Absent means true on POST and "unchanged" on PUT.
	RequirePKCE *bool `json:"require_pkce,omitempty"`
}

// ClientInfo is a registered client as the admin API answers it (RFC 7591
// section 3.2.1). ClientSecret is set only in the answer that issues a
// secret (creation, rotation, or a change from public to confidential); the
// server keeps only a hash of it and never shows it again.
type ClientInfo struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// ClientIDIssuedAt is when the client was registered, in seconds since
	// the Unix epoch.
	ClientIDIssuedAt int64 `json:"client_id_issued_at"`
	// ClientSecretExpiresAt is 0: secrets do not expire.
	ClientSecretExpiresAt int64 `json:"client_secret_expires_at"`
	ClientMetadata
}

// ClientList is the answer of GET /admin/clients.
type ClientList struct {
	Clients []ClientInfo `json:"clients"`
}

// NewAccount is the body of POST /admin/accounts. At least one of Phone,
// Email and SNILS is required; identifiers given here count as confirmed.
type NewAccount struct {
	Phone      string `json:"phone,omitempty"`
	Email      string `json:"email,omitempty"`
	SNILS      string `json:"snils,omitempty"`
	Password   string `json:"password"`
	LastName   string `json:"last_name"`
	FirstName  string `json:"first_name"`
	MiddleName string `json:"middle_name,omitempty"`
	// Level: simplified (the default), standard or confirmed.
	Level string `json:"level,omitempty"`
	// Birthdate is YYYY-MM-DD, or empty.
	Birthdate string `json:"birthdate,omitempty"`
	// Gender is M, F, or empty.
	Gender string `json:"gender,omitempty"`
}

// AccountInfo is an account as the admin API answers it. It never holds the
// password or its hash.
type AccountInfo struct {
	ID            string `json:"id"`
	Level         string `json:"level"`
	LastName      string `json:"last_name"`
	FirstName     string `json:"first_name"`
	MiddleName    string `json:"middle_name,omitempty"`
	Birthdate     string `json:"birthdate,omitempty"`
	Gender        string `json:"gender,omitempty"`
	Phone         string `json:"phone,omitempty"`
	Email         string `json:"email,omitempty"`
	SNILS         string `json:"snils,omitempty"`
	PhoneVerified bool   `json:"phone_verified"`
	EmailVerified bool   `json:"email_verified"`
	HasPassword   bool   `json:"has_password"`
	// ConfirmationMethod is how the account was confirmed (registry,
	// operator, letter, bank, signature); empty when it was not.
	ConfirmationMethod string `json:"confirmation_method"`
	// Verification is the latest registry check; null when there was none.
	Verification *VerificationInfo `json:"verification"`
	// Evidence lists how the account's identity was checked, oldest
	// first: kind (registry, operator, letter, bank, signature) and time.
	Evidence  []EvidenceInfo `json:"evidence,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// EvidenceInfo is one check of an account's identity.
type EvidenceInfo struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
}

// VerificationInfo is the state of an account's registry check.
type VerificationInfo struct {
	Status      string     `json:"status"` // pending, approved or rejected
	Reason      string     `json:"reason,omitempty"`
	RequestedAt time.Time  `json:"requested_at"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"` // absent while pending
}

// NewOperator is the body of POST /admin/operators: a service-centre
// employee who uses the operator console.
type NewOperator struct {
	// Login is 1 to 64 of a-z, 0-9, '.', '_', '-', '@', starting with a
	// letter or digit; unique.
	Login    string `json:"login"`
	Password string `json:"password"`
	Name     string `json:"name"`
	// Roles: one or more of operator and supervisor.
	Roles []string `json:"roles"`
}

// OperatorInfo is an operator as the admin API answers it, without the
// password hash.
type OperatorInfo struct {
	ID        string    `json:"id"`
	Login     string    `json:"login"`
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

// Key states, derived from a key's times.
const (
	// KeyNext: published in the JWKS, not signing yet.
	KeyNext = "next"
	// KeyActive: signing.
	KeyActive = "active"
	// KeyRetired: no longer signing, still published for verification.
	KeyRetired = "retired"
	// KeyExpired: neither signing nor published.
	KeyExpired = "expired"
)

// KeyInfo describes a signing key (never its private part).
type KeyInfo struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	ActiveAt  time.Time `json:"active_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// KeyList is the answer of GET /admin/keys.
type KeyList struct {
	Keys []KeyInfo `json:"keys"`
}

// RotateKeyRequest is the body of POST /admin/keys/rotate.
type RotateKeyRequest struct {
	// Alg is RS256 or ES256.
	Alg string `json:"alg"`
}

// ErrorResponse is the body of every error answer, in the shape of RFC 7591
// section 3.2.2.
type ErrorResponse struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Error codes of the admin API.
const (
	CodeInvalidRedirectURI    = "invalid_redirect_uri"    // RFC 7591
	CodeInvalidClientMetadata = "invalid_client_metadata" // RFC 7591
	CodeInvalidRequest        = "invalid_request"
	CodeUnauthorized          = "unauthorized"
	CodeNotFound              = "not_found"
	CodeConflict              = "conflict"
	CodeServerError           = "server_error"
)
