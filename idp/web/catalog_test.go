package web

import (
	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/identifier"

	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// requiredKeys are the message keys that handlers outside this package use.
var requiredKeys = []string{
	"login.title", "login.identifier", "login.password", "login.submit", "login.for_client",
	"login.invalid_credentials", "login.identifier_required", "login.identifier_unrecognized",
	"login.password_required", "login.locked", "login.ip_limited", "login.busy",
	"consent.title", "consent.allow", "consent.deny", "consent.intro",
	"scope.openid", "scope.profile", "scope.fullname", "scope.birthdate", "scope.gender",
	"scope.email", "scope.mobile", "scope.phone", "scope.offline_access", "scope.snils",
	"scope.inn", "scope.id_doc", "scope.contacts", "scope.addresses",
	"logout.title", "logout.question", "logout.submit", "logout.done", "logout.back",
	"error.title", "error.invalid_request", "error.unknown_client", "error.bad_redirect_uri",
	"error.flow_expired", "error.csrf", "error.bad_logout_redirect", "error.invalid_id_token_hint",
	"error.not_found", "error.method_not_allowed", "error.internal", "error.busy", "error.back",
}

var verb = regexp.MustCompile(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z%]`)

func TestCatalogComplete(t *testing.T) {
	for _, k := range requiredKeys {
		if !hasMessage(k) {
			t.Errorf("catalog lacks %q", k)
		}
	}
	cyrillic := regexp.MustCompile(`[А-Яа-яЁё]`)
	for k, m := range messages {
		if strings.TrimSpace(m.ru) == "" || strings.TrimSpace(m.en) == "" {
			t.Errorf("%s: missing a language: ru=%q en=%q", k, m.ru, m.en)
			continue
		}
		if !cyrillic.MatchString(m.ru) {
			t.Errorf("%s: Russian text %q has no Cyrillic letters", k, m.ru)
		}
		if cyrillic.MatchString(m.en) {
			t.Errorf("%s: English text %q has Cyrillic letters", k, m.en)
		}
		if ru, en := verb.FindAllString(m.ru, -1), verb.FindAllString(m.en, -1); strings.Join(ru, "") != strings.Join(en, "") {
			t.Errorf("%s: format verbs differ: ru %v, en %v", k, ru, en)
		}
	}
}

func TestCatalogExactTexts(t *testing.T) {
	want := map[string]string{
		"app.name":                      "Единый вход",
		"login.identifier":              "Телефон, почта или СНИЛС",
		"login.invalid_credentials":     "Неверный логин или пароль",
		"login.identifier_unrecognized": "Введите телефон, почту или СНИЛС",
		"login.busy":                    "Сервис перегружен, попробуйте через минуту",
		"error.unknown_client":          "Неизвестное приложение",
		"error.bad_redirect_uri":        "Адрес возврата приложения не зарегистрирован",
		"error.flow_expired":            "Время ожидания истекло, начните вход заново",
		"error.csrf":                    "Форма устарела, отправьте её ещё раз",
		"error.internal":                "Что-то пошло не так. Попробуйте позже",
		"logout.question":               "Выйти из всех сервисов?",
	}
	for k, v := range want {
		if got := translate(LangRU, k); got != v {
			t.Errorf("ru %s = %q, want %q", k, got, v)
		}
	}
	if got := translate(LangEN, "app.name"); got != "Single sign-on" {
		t.Errorf("en app.name = %q", got)
	}
	if got := translate(LangEN, "login.identifier"); got != "Phone, e-mail or SNILS" {
		t.Errorf("en login.identifier = %q", got)
	}
}

func TestT(t *testing.T) {
	r := &Renderer{}
	cases := []struct {
		lang, key string
		args      []any
		want      string
	}{
		{"ru", "login.for_client", []any{"Каталог услуг"}, "Вход для «Каталог услуг»"},
		{"en", "login.for_client", []any{"Catalog"}, "Sign in to “Catalog”"},
		{"en", "login.submit", nil, "Sign in"},
		{"de", "login.submit", nil, "Войти"},
		{"", "login.submit", nil, "Войти"},
		{"en", "no.such.key", nil, "no.such.key"},
		{"ru", "no.such.key", []any{1}, "no.such.key"},
	}
	for _, c := range cases {
		if got := r.T(c.lang, c.key, c.args...); got != c.want {
			t.Errorf("T(%q, %q, %v) = %q, want %q", c.lang, c.key, c.args, got, c.want)
		}
	}
}

// TestTemplateKeysExist checks every message a template asks for.
func TestTemplateKeysExist(t *testing.T) {
	call := regexp.MustCompile(`\.T "([^"]+)"`)
	found := 0
	err := fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		for _, m := range call.FindAllStringSubmatch(string(b), -1) {
			found++
			if !hasMessage(m[1]) {
				t.Errorf("%s uses unknown message %q", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 20 {
		t.Fatalf("found only %d message calls in templates", found)
	}
}

// TestValidatorMessages: every code the validators give has its message,
// in both languages, in this catalog: the one place that holds what the
// citizen reads.
func TestValidatorMessages(t *testing.T) {
	var keys []string
	for _, e := range identifier.Errors {
		keys = append(keys, "identifier."+e.Code())
	}
	for _, r := range password.Reasons {
		keys = append(keys, "password."+string(r))
	}
	for _, k := range keys {
		m, ok := messages[k]
		if !ok || m.ru == "" || m.en == "" {
			t.Errorf("catalog lacks %q in ru or en: %+v", k, m)
		}
	}
}
