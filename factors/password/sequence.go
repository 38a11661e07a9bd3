package password

import "strings"

// Runs the policy refuses (rule 4 of CheckNew). Alphabet and digit runs
// and repeats count from four characters; keyboard runs from five, since
// four neighbouring keys are inside common words ("liberty", "property")
// while five are not.
const (
	minRepeat   = 4 // aaaa, 1111, !!!!
	minOrderRun = 4 // abcd, dcba, 1234, 4321, 7890, абвг
	minKeyRun   = 5 // qwert, trewq, asdfg, йцуке, !@#$%
)

// orders are the alphabets whose runs count, and keyboards the rows of the
// QWERTY and ЙЦУКЕН layouts, unshifted and shifted, all lower case.
var (
	orders = []string{
		"abcdefghijklmnopqrstuvwxyz",
		"абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
		"абвгдежзийклмнопрстуфхцчшщъыьэюя", // ё is often skipped
		"01234567890",
	}
	keyboards = []string{
		"`1234567890-=", "~!@#$%^&*()_+", "ё1234567890-=", "ё!\"№;%:?*()_+",
		"qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
		"йцукенгшщзхъ\\", "фывапролджэ", "ячсмитьбю.",
	}
)

// runs are the forbidden substrings: every window of minOrderRun
// characters of orders and of minKeyRun characters of keyboards, in both
// directions.
var runs = func() []string {
	var out []string
	add := func(line string, n int) {
		l := []rune(line)
		for _, seq := range [][]rune{l, reversed(l)} {
			for i := 0; i+n <= len(seq); i++ {
				out = append(out, string(seq[i:i+n]))
			}
		}
	}
	for _, o := range orders {
		add(o, minOrderRun)
	}
	for _, k := range keyboards {
		add(k, minKeyRun)
	}
	return out
}()

func reversed(l []rune) []rune {
	r := make([]rune, len(l))
	for i, c := range l {
		r[len(l)-1-i] = c
	}
	return r
}

// hasRun reports whether pw, folded to lower case, holds a run of rule 4.
func hasRun(pw string) bool {
	s := strings.ToLower(pw)
	var prev rune
	same := 0
	for _, r := range s {
		if r == prev {
			same++
		} else {
			prev, same = r, 1
		}
		if same >= minRepeat {
			return true
		}
	}
	for _, run := range runs {
		if strings.Contains(s, run) {
			return true
		}
	}
	return false
}
