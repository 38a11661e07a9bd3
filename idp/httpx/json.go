package httpx

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// internalErrorBody is sent when a response cannot be encoded.
const internalErrorBody = `{"error":"server_error","error_description":"The server encountered an internal error."}` + "\n"

// WriteJSON writes v as JSON with status. If v cannot be encoded it writes
// a generic 500 instead (never the encoding error) and returns the error for
// the caller to log.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(internalErrorBody))
		return fmt.Errorf("httpx: encode JSON response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("httpx: write JSON response: %w", err)
	}
	return nil
}

// jsonError is the error body of RFC 6749 section 5.2.
type jsonError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteJSONError writes {"error": code, "error_description": description}
// (RFC 6749 section 5.2 shape) with status and Cache-Control: no-store. The
// description is shown to clients: never put an internal error's text in it.
func WriteJSONError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	_ = WriteJSON(w, status, jsonError{Error: code, Description: description})
}
