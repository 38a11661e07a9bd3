package postgres

import "testing"

func TestSpanOperation(t *testing.T) {
	t.Parallel()
	for sql, want := range map[string]string{
		"SELECT id FROM accounts WHERE id = $1":          "SELECT",
		"\n\t insert into clients (id) VALUES ($1)":      "INSERT",
		"-- name: JobGetAvailable :many\nWITH locked AS": "WITH",
		"(SELECT 1) UNION (SELECT 2)":                    "SELECT",
		"begin":                                          "BEGIN",
		"COMMIT;":                                        "COMMIT",
		"":                                               "SQL",
		"-- only a comment":                              "SQL",
		"averyveryverylongwordthatisnokeyword x":         "SQL",
	} {
		if got := operation(sql); got != want {
			t.Errorf("operation(%q) = %q, want %q", sql, got, want)
		}
	}
}
