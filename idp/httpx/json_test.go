package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	rr := httptest.NewRecorder()
	if err := WriteJSON(rr, http.StatusCreated, map[string]any{"client_id": "c1", "html": "<b>"}); err != nil {
		t.Fatal(err)
	}
	if rr.Code != http.StatusCreated || rr.Header().Get("Content-Type") != "application/json" {
		t.Errorf("status %d, content type %q", rr.Code, rr.Header().Get("Content-Type"))
	}
	var got map[string]string
	if err := json.Unmarshal(rr.Body.Bytes(), &got); err != nil || got["client_id"] != "c1" || got["html"] != "<b>" {
		t.Errorf("body %q (%v)", rr.Body, err)
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	t.Parallel()
	rr := httptest.NewRecorder()
	err := WriteJSON(rr, http.StatusOK, map[string]any{"ch": make(chan int)})
	if err == nil {
		t.Fatal("no error for an unencodable value")
	}
	if rr.Code != http.StatusInternalServerError || rr.Body.String() != internalErrorBody {
		t.Errorf("status %d body %q, want the generic 500", rr.Code, rr.Body)
	}
}

func TestWriteJSONError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code, description string
		want              string
	}{
		{"invalid_request", "redirect_uri is required", `{"error":"invalid_request","error_description":"redirect_uri is required"}` + "\n"},
		{"access_denied", "", `{"error":"access_denied"}` + "\n"},
	}
	for _, tt := range tests {
		rr := httptest.NewRecorder()
		WriteJSONError(rr, http.StatusBadRequest, tt.code, tt.description)
		if rr.Code != http.StatusBadRequest || rr.Body.String() != tt.want {
			t.Errorf("got %d %q, want 400 %q", rr.Code, rr.Body, tt.want)
		}
		if rr.Header().Get("Cache-Control") != "no-store" || rr.Header().Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", rr.Header())
		}
	}
}
