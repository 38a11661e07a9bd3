package httpx

import "net/http"

// recorder remembers the status and the size of a response. It unwraps for
// http.ResponseController, so flushing and deadlines still reach the
// connection.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func wrap(w http.ResponseWriter) *recorder { return &recorder{ResponseWriter: w} }

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 { // 1xx are informational, a final status follows
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// Flush makes the recorder an http.Flusher for code that type-asserts one.
func (rec *recorder) Flush() {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	_ = http.NewResponseController(rec.ResponseWriter).Flush()
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// wrote reports whether the status line has gone out.
func (rec *recorder) wrote() bool { return rec.status != 0 }

// Status returns the status sent; a handler that wrote nothing sent 200.
func (rec *recorder) Status() int {
	if rec.status == 0 {
		return http.StatusOK
	}
	return rec.status
}
