// Package adminclient is the Go client of the identity provider's admin API
// (package idp/admin), and holds the JSON types that the server and the
// client share. The idp CLI and the end-to-end tests use it.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponse bounds how much of an answer the client reads.
const maxResponse = 16 << 20

// APIError is an error answer of the admin API.
type APIError struct {
	Status      int    // HTTP status code
	Code        string // the "error" member, e.g. invalid_redirect_uri; empty if the body was not JSON
	Description string // the "error_description" member
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "admin API: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	return b.String()
}

// Client calls the admin API.
type Client struct {
	baseURL string
	token   string
	hc      *http.Client
}

// New returns a client of the admin API at baseURL (the issuer URL, e.g.
// http://127.0.0.1:8080) that authenticates with the bearer token. A nil hc
// means http.DefaultClient.
func New(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// CreateClient registers a client. The answer holds the client secret of a
// confidential client; it is not shown again.
func (c *Client) CreateClient(ctx context.Context, m ClientMetadata) (*ClientInfo, error) {
	var out ClientInfo
	if err := c.do(ctx, http.MethodPost, "/admin/clients", m, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetClient returns the registered client (without its secret).
func (c *Client) GetClient(ctx context.Context, id string) (*ClientInfo, error) {
	var out ClientInfo
	if err := c.do(ctx, http.MethodGet, clientPath(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListClients returns every registered client (without secrets).
func (c *Client) ListClients(ctx context.Context) ([]ClientInfo, error) {
	var out ClientList
	if err := c.do(ctx, http.MethodGet, "/admin/clients", nil, &out); err != nil {
		return nil, err
	}
	return out.Clients, nil
}

// UpdateClient replaces the client's metadata; the secret stays. If the
// change makes a public client confidential, the answer holds its new secret.
func (c *Client) UpdateClient(ctx context.Context, id string, m ClientMetadata) (*ClientInfo, error) {
	var out ClientInfo
	if err := c.do(ctx, http.MethodPut, clientPath(id), m, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteClient removes the client.
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, clientPath(id), nil, nil)
}

// RotateClientSecret replaces the secret of a confidential client; the
// answer holds the new secret, which is not shown again. The old secret
// stops working at once.
func (c *Client) RotateClientSecret(ctx context.Context, id string) (*ClientInfo, error) {
	var out ClientInfo
	if err := c.do(ctx, http.MethodPost, clientPath(id)+"/secret", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAccount creates a citizen's account.
func (c *Client) CreateAccount(ctx context.Context, a NewAccount) (*AccountInfo, error) {
	var out AccountInfo
	if err := c.do(ctx, http.MethodPost, "/admin/accounts", a, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAccount returns the account with the id.
func (c *Client) GetAccount(ctx context.Context, id string) (*AccountInfo, error) {
	var out AccountInfo
	if err := c.do(ctx, http.MethodGet, "/admin/accounts/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateOperator creates an operator and returns it.
func (c *Client) CreateOperator(ctx context.Context, o NewOperator) (*OperatorInfo, error) {
	var out OperatorInfo
	if err := c.do(ctx, http.MethodPost, "/admin/operators", o, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UnlockAccount ends the account's login lockout.
func (c *Client) UnlockAccount(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/admin/accounts/"+url.PathEscape(id)+"/unlock", nil, nil)
}

// ListKeys returns the signing keys.
func (c *Client) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	var out KeyList
	if err := c.do(ctx, http.MethodGet, "/admin/keys", nil, &out); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// RotateKey creates a new signing key of the algorithm (RS256 or ES256) and
// returns it.
func (c *Client) RotateKey(ctx context.Context, alg string) (*KeyInfo, error) {
	var out KeyInfo
	if err := c.do(ctx, http.MethodPost, "/admin/keys/rotate", RotateKeyRequest{Alg: alg}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func clientPath(id string) string { return "/admin/clients/" + url.PathEscape(id) }

// do sends in (if not nil) as JSON and decodes the answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("admin API: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("admin API: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(resp.StatusCode, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func apiError(status int, data []byte) *APIError {
	e := &APIError{Status: status}
	var body ErrorResponse
	if err := json.Unmarshal(data, &body); err == nil && body.Code != "" {
		e.Code, e.Description = body.Code, body.Description
		return e
	}
	e.Description = http.StatusText(status)
	return e
}

// IsCode reports whether err is an *APIError with the code.
func IsCode(err error, code string) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == code
}
