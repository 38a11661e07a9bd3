package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
)

// maxBody bounds request bodies.
const maxBody = 64 << 10

const (
	codeInvalidRedirectURI    = adminclient.CodeInvalidRedirectURI
	codeInvalidClientMetadata = adminclient.CodeInvalidClientMetadata
	codeInvalidRequest        = adminclient.CodeInvalidRequest
	codeUnauthorized          = adminclient.CodeUnauthorized
	codeNotFound              = adminclient.CodeNotFound
	codeConflict              = adminclient.CodeConflict
	codeServerError           = adminclient.CodeServerError
)

// problem is an error answer. Its description is written for the operator
// and names the field at fault; it never holds an internal error.
type problem struct {
	status      int
	code        string
	description string
}

func (p *problem) Error() string { return p.code + ": " + p.description }

func badRequest(format string, args ...any) *problem {
	return &problem{http.StatusBadRequest, codeInvalidRequest, fmt.Sprintf(format, args...)}
}

func badMetadata(format string, args ...any) *problem {
	return &problem{http.StatusBadRequest, codeInvalidClientMetadata, fmt.Sprintf(format, args...)}
}

func badRedirect(format string, args ...any) *problem {
	return &problem{http.StatusBadRequest, codeInvalidRedirectURI, fmt.Sprintf(format, args...)}
}

func writeProblem(w http.ResponseWriter, p *problem) {
	writeJSON(w, p.status, adminclient.ErrorResponse{Code: p.code, Description: p.description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails
}

// decodeJSON reads one JSON object of at most maxBody bytes into v,
// rejecting other content types and unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) *problem {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &problem{http.StatusUnsupportedMediaType, codeInvalidRequest, "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeProblem(err)
		}
		return badRequest("request body must hold exactly one JSON object")
	}
	return nil
}

// decodeProblem turns a decoding error into an answer that names the field
// at fault without quoting the decoder.
func decodeProblem(err error) *problem {
	var (
		tooLarge *http.MaxBytesError
		typeErr  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return &problem{http.StatusRequestEntityTooLarge, codeInvalidRequest, fmt.Sprintf("request body is larger than %d KiB", maxBody>>10)}
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("request body must be a JSON object")
		}
		return badRequest("%s has the wrong type (want %s)", typeErr.Field, jsonKind(typeErr.Type.String()))
	}
	// encoding/json has no typed error for unknown fields.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if len(name) > 80 {
			name = name[:80] + "…"
		}
		return badRequest("unknown field %s", name)
	}
	return badRequest("request body is not valid JSON")
}

func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "bool":
		return "true or false"
	}
	return "an object"
}

// maxPathID bounds an id taken from a path. The ids this API issues are 26
// characters; the bound leaves room for ids an operator imported.
const maxPathID = 255

// pathID returns the path value name (a client_id or an account id), or a
// 400 invalid_request when it cannot be an id: empty, longer than maxPathID
// bytes, not valid UTF-8, or holding a control character (a NUL from
// %00, say). The answer never quotes the value.
func pathID(r *http.Request, name string) (string, *problem) {
	v := r.PathValue(name)
	if v == "" || len(v) > maxPathID || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
		return "", badRequest("%s in the path is malformed: it must be 1 to %d bytes of UTF-8 without control characters", name, maxPathID)
	}
	return v, nil
}
