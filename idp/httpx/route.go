package httpx

import (
	"context"
	"net/http"
)

// OtherRoute names requests that no route pattern matched (404, 405).
const OtherRoute = "other"

type routeKey struct{}

// route carries the pattern of the matched route from the ServeMux, which
// sets it on the request it receives, back out to the middlewares that
// wrapped the mux, whatever request copies lie between.
type route struct{ pattern string }

// withRoute returns r with a route holder in its context, reusing one that
// an outer middleware placed there.
func withRoute(r *http.Request) (*http.Request, *route) {
	if rt, ok := r.Context().Value(routeKey{}).(*route); ok {
		return r, rt
	}
	rt := &route{}
	return r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)), rt
}

// serve calls next and then records the pattern that a ServeMux set on r.
// Middlewares that pass a copy of the request to next serve through it, so
// that the innermost one records what the mux matched.
func serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	next.ServeHTTP(w, r)
	if r.Pattern == "" {
		return
	}
	if rt, ok := r.Context().Value(routeKey{}).(*route); ok && rt.pattern == "" {
		rt.pattern = r.Pattern
	}
}

// name returns the matched pattern, or OtherRoute.
func (rt *route) name() string {
	if rt.pattern == "" {
		return OtherRoute
	}
	return rt.pattern
}
