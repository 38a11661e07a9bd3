package oidc

import (
	"net/url"
	"slices"
	"strings"
)

func parseQuery(q string) (url.Values, error) { return url.ParseQuery(q) }

func splitScope(s string) []string { return strings.Fields(s) }

func contains(list []string, s string) bool { return slices.Contains(list, s) }
