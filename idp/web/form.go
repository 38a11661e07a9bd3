package web

import (
	"net/http"
	"slices"
	"time"
)

// Msg is a catalog message with its arguments.
type Msg struct {
	Key  string
	Args []any
}

// M is a Msg with arguments, for brevity at call sites.
func M(key string, args ...any) Msg { return Msg{Key: key, Args: args} }

// Hidden is a hidden input posted back unchanged (the flow or registration
// id of the automation contract).
type Hidden struct{ Name, Value string }

// Form is what a form page shows: the values typed (never lost on an
// error), a message next to each field that is wrong, and messages about
// the whole form. A page template lays out its fields with the view's
// Field, Check and Select helpers, which read them from here.
type Form struct {
	// Action is where the form posts; empty posts back to the page's URL.
	Action string
	CSRF   string
	Hidden []Hidden
	// Values are the fields' values as typed.
	Values map[string]string
	// Errors maps a field name to its message.
	Errors map[string]Msg
	// Order lists the page's fields in the order they appear, so that the
	// first one with an error takes the focus. Fields not listed follow.
	Order []string
	// FormError is an error about the whole form (role="alert"); Notice an
	// information (role="status"), such as "a new code was sent".
	FormError Msg
	Notice    Msg
	// RetryAfter, when set, is shown as HH:MM Moscow time in the message
	// "form.retry_at" below the form error.
	RetryAfter time.Time
	// Page is what the page shows besides the form.
	Page any
}

// formView adds the localized messages to Form.
type formView struct {
	Form
	lang       string
	FormErrors []string
	NoticeText string
	autofocus  string
}

// fieldView is one input as the "field" template renders it.
type fieldView struct {
	Name, Type, Label, Hint, Value, Error, Autocomplete, InputMode string
	Checked, Autofocus, Required                                   bool
	Options                                                        []option
}

type option struct {
	Value, Label string
	Selected     bool
}

// FormPage renders a form page (a template named page) with the given status.
func (r *Renderer) FormPage(w http.ResponseWriter, req *http.Request, status int, page string, d Form) {
	lang := r.Lang(req)
	v := &formView{Form: d, lang: lang}
	if d.FormError.Key != "" {
		v.FormErrors = append(v.FormErrors, translate(lang, d.FormError.Key, d.FormError.Args...))
	}
	if !d.RetryAfter.IsZero() {
		v.FormErrors = append(v.FormErrors, translate(lang, "form.retry_at", d.RetryAfter.In(r.msk).Format("15:04")))
	}
	if d.Notice.Key != "" {
		v.NoticeText = translate(lang, d.Notice.Key, d.Notice.Args...)
	}
	for _, name := range d.Order {
		if _, ok := d.Errors[name]; ok {
			v.autofocus = name
			break
		}
	}
	if v.autofocus == "" && len(d.Errors) > 0 {
		names := make([]string, 0, len(d.Errors))
		for n := range d.Errors {
			names = append(names, n)
		}
		slices.Sort(names)
		v.autofocus = names[0]
	}
	r.render(w, req, status, page, lang, v)
}

// field makes the view of one input.
func (v *formView) field(name, typ, label, hint, autocomplete string) fieldView {
	f := fieldView{Name: name, Type: typ, Value: v.Values[name], Autocomplete: autocomplete, Autofocus: v.autofocus == name}
	if label != "" {
		f.Label = translate(v.lang, label)
	}
	if hint != "" {
		f.Hint = translate(v.lang, hint)
	}
	if m, ok := v.Errors[name]; ok {
		f.Error = translate(v.lang, m.Key, m.Args...)
	}
	switch typ {
	case "tel":
		f.InputMode = "tel"
	case "email":
		f.InputMode = "email"
	case "numeric":
		f.Type, f.InputMode = "text", "numeric"
	}
	return f
}

// Field is a text-like input (text, tel, email, password, numeric): its
// label and hint are message keys, autocomplete its HTML token.
func (v *view) Field(name, typ, label, hint, autocomplete string) fieldView {
	fv, ok := v.Data.(*formView)
	if !ok {
		return fieldView{Name: name, Type: typ}
	}
	return fv.field(name, typ, label, hint, autocomplete)
}

// Required is Field for a field that must be filled.
func (v *view) Required(name, typ, label, hint, autocomplete string) fieldView {
	f := v.Field(name, typ, label, hint, autocomplete)
	f.Required = true
	return f
}

// Check is a checkbox posting "on" when ticked.
func (v *view) Check(name, label string) fieldView {
	f := v.Field(name, "checkbox", label, "", "")
	f.Checked = f.Value == "on"
	return f
}

// Select is a drop-down of the values with their labels (message keys when
// keyed is true, else shown as given).
func (v *view) Select(name, label, hint string, values, labels []string, keyed bool) fieldView {
	f := v.Field(name, "select", label, hint, "")
	for i, val := range values {
		l := labels[i]
		if keyed {
			l = translate(v.Lang, l)
		}
		f.Options = append(f.Options, option{Value: val, Label: l, Selected: val == f.Value})
	}
	return f
}
