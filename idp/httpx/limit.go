package httpx

import "net/http"

// LimitBody caps request bodies at n bytes: a body declared larger is
// refused with 413, and reading past n fails, instead of filling memory.
func LimitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				// Declared too large: refuse before reading (handlers that
				// use FormValue would otherwise go on with an empty form).
				WriteJSONError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}
