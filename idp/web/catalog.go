package web

import "fmt"

// Supported page languages. Russian comes first and is the default.
const (
	LangRU = "ru"
	LangEN = "en"
)

// message is one catalog entry in both languages. A message that takes
// arguments uses fmt verbs; both languages take the same verbs in the same
// order.
type message struct{ ru, en string }

// messages is the message catalog, the one place that holds user-facing
// text. It is read-only after package initialization. Keys are grouped by
// page; "scope.<name>" describes a scope on the consent page. The citizen's
// account pages (catalog_account.go), the login's second factor
// (catalog_factor.go), the recovery (catalog_recover.go) and the operator
// console (catalog_operator.go) keep their messages in files of their own.
var messages = mergeMessages(coreMessages, accountMessages, factorMessages, recoverMessages, operatorMessages, signatureMessages, bankMessages)

// mergeMessages joins parts of the catalog; a key in two parts is a
// programming error, caught at start.
func mergeMessages(parts ...map[string]message) map[string]message {
	out := map[string]message{}
	for _, part := range parts {
		for k, m := range part {
			if _, dup := out[k]; dup {
				panic("web: message " + k + " defined twice")
			}
			out[k] = m
		}
	}
	return out
}

// coreMessages: the layout, login, consent, logout, errors and the fields
// shared by several pages.
var coreMessages = map[string]message{
	// Layout.
	"app.name":      {"Единый вход", "Single sign-on"},
	"layout.skip":   {"Перейти к содержимому", "Skip to content"},
	"layout.lang":   {"Язык", "Language"},
	"layout.footer": {"Никому не сообщайте пароль и коды подтверждения — даже сотрудникам поддержки.", "Never tell anyone your password or confirmation codes, not even support staff."},

	// Login.
	"login.title":                   {"Вход", "Sign in"},
	"login.for_client":              {"Вход для «%s»", "Sign in to “%s”"},
	"login.identifier":              {"Телефон, почта или СНИЛС", "Phone, e-mail or SNILS"},
	"login.identifier_hint":         {"Например, +7 900 123-45-67, ivanova@example.ru или 123-456-789 01", "For example +7 900 123-45-67, ivanova@example.ru or 123-456-789 01"},
	"login.password":                {"Пароль", "Password"},
	"login.submit":                  {"Войти", "Sign in"},
	"login.invalid_credentials":     {"Неверный логин или пароль", "Wrong login or password"},
	"login.identifier_required":     {"Укажите телефон, почту или СНИЛС", "Enter your phone, e-mail or SNILS"},
	"login.identifier_unrecognized": {"Введите телефон, почту или СНИЛС", "Enter a phone number, an e-mail address or a SNILS"},
	"login.password_required":       {"Введите пароль", "Enter your password"},
	"login.no_account":              {"Нет учётной записи?", "No account yet?"},
	"login.register":                {"Зарегистрироваться", "Register"},

	// Identifier fields (identifier.Error codes).
	"identifier.empty":          {"Введите телефон, адрес электронной почты или СНИЛС", "Enter a phone number, an e-mail address or a SNILS"},
	"identifier.unrecognized":   {"Введите телефон, адрес электронной почты или СНИЛС", "Enter a phone number, an e-mail address or a SNILS"},
	"identifier.invalid_phone":  {"Введите номер мобильного телефона в формате +7 (9XX) XXX-XX-XX", "Enter a mobile phone number in the format +7 (9XX) XXX-XX-XX"},
	"identifier.invalid_email":  {"Введите адрес электронной почты в формате name@example.ru", "Enter an e-mail address in the format name@example.com"},
	"identifier.invalid_snils":  {"СНИЛС состоит из 11 цифр: XXX-XXX-XXX XX", "A SNILS has 11 digits: XXX-XXX-XXX XX"},
	"identifier.snils_checksum": {"СНИЛС введён с ошибкой: не сходится контрольное число", "The SNILS is mistyped: its control number does not match"},
	"identifier.inn_checksum":   {"ИНН введён с ошибкой: не сходятся контрольные цифры", "The INN is mistyped: its control digits do not match"},

	// Password fields (password.Reason codes).
	"password.too_short":    {"Пароль должен содержать не менее 8 символов", "The password must be at least 8 characters long"},
	"password.too_long":     {"Пароль слишком длинный (не более 256 байт)", "The password is too long (at most 256 bytes)"},
	"password.invalid_utf8": {"Пароль содержит недопустимые символы", "The password contains invalid characters"},
	"password.control_char": {"Пароль содержит управляющие символы", "The password contains control characters"},
	"password.blank":        {"Пароль не может состоять только из пробелов", "The password cannot consist of spaces only"},
	"password.no_lower":     {"Добавьте в пароль строчную букву", "Add a lower-case letter to the password"},
	"password.no_upper":     {"Добавьте в пароль заглавную букву", "Add an upper-case letter to the password"},
	"password.no_digit":     {"Добавьте в пароль цифру", "Add a digit to the password"},
	"password.no_punct":     {"Добавьте в пароль знак препинания или спецсимвол, например ! ? % #", "Add a punctuation mark or symbol to the password, such as ! ? % #"},
	"password.common":       {"Этот пароль слишком распространён, придумайте другой", "This password is too common, choose another one"},
	"password.sequence":     {"Пароль не должен содержать повторы и последовательности вроде aaaa, 1234, abcd или qwert", "The password must not contain repeats or runs such as aaaa, 1234, abcd or qwert"},
	"password.personal":     {"Пароль не должен содержать ваше имя, фамилию, телефон или адрес почты", "The password must not contain your name, phone number or e-mail address"},
	"login.locked":          {"Слишком много неудачных попыток. Вход будет доступен после %s по московскому времени", "Too many failed attempts. You can sign in again after %s Moscow time"},
	"login.retry_at":        {"Повторите попытку после %s по московскому времени", "Try again after %s Moscow time"},
	"login.ip_limited":      {"Слишком много попыток входа с вашего устройства. Попробуйте позже", "Too many sign-in attempts from your device. Try again later"},
	"login.busy":            {"Сервис перегружен, попробуйте через минуту", "The service is overloaded, try again in a minute"},

	// Personal data fields (account.Error codes).
	"personal.required":            {"Заполните это поле", "Fill in this field"},
	"personal.too_long":            {"Слишком длинное значение", "The value is too long"},
	"personal.name_chars":          {"Допустимы только буквы, пробел, дефис и апостроф", "Only letters, spaces, hyphens and apostrophes are allowed"},
	"personal.name_latin":          {"Латинские буквы допустимы только для иностранного документа. Введите имя русскими буквами", "Latin letters are allowed with a foreign document only. Type the name in Russian letters"},
	"personal.name_mixed":          {"В имени смешаны русские и латинские буквы", "The name mixes Russian and Latin letters"},
	"personal.name_edges":          {"Имя должно начинаться и заканчиваться буквой", "A name must start and end with a letter"},
	"personal.name_separators":     {"Два дефиса или апострофа подряд", "Two hyphens or apostrophes in a row"},
	"personal.date_format":         {"Введите дату в формате ДД.ММ.ГГГГ, например 17.05.1990", "Enter the date as DD.MM.YYYY, for example 17.05.1990"},
	"personal.date_invalid":        {"Такой даты нет, проверьте день и месяц", "There is no such date, check the day and the month"},
	"personal.birth_future":        {"Дата рождения не может быть в будущем", "The date of birth cannot be in the future"},
	"personal.birth_too_old":       {"Проверьте год рождения", "Check the year of birth"},
	"personal.issue_future":        {"Дата выдачи не может быть в будущем", "The issue date cannot be in the future"},
	"personal.issue_before_birth":  {"Дата выдачи не может быть раньше даты рождения", "The issue date cannot be before the date of birth"},
	"personal.issue_before_14":     {"Паспорт выдаётся с 14 лет: проверьте дату выдачи и дату рождения", "A passport is issued from the age of 14: check the issue date and the date of birth"},
	"personal.issue_before_16":     {"Водительское удостоверение выдаётся с 16 лет: проверьте дату выдачи и дату рождения", "A driving licence is issued from the age of 16: check the issue date and the date of birth"},
	"personal.expiry_before_issue": {"Срок действия должен заканчиваться позже даты выдачи", "The expiry date must be after the issue date"},
	"personal.snils_format":        {"СНИЛС состоит из 11 цифр: XXX-XXX-XXX XX", "A SNILS has 11 digits: XXX-XXX-XXX XX"},
	"personal.snils_checksum":      {"СНИЛС введён с ошибкой: не сходится контрольное число", "The SNILS is mistyped: its control number does not match"},
	"personal.inn_format":          {"ИНН состоит из 12 цифр (или 10)", "An INN has 12 digits (or 10)"},
	"personal.inn_checksum":        {"ИНН введён с ошибкой: не сходятся контрольные цифры", "The INN is mistyped: its control digits do not match"},
	"personal.oms_format":          {"Номер полиса ОМС состоит из 16 цифр", "A medical insurance policy number has 16 digits"},
	"personal.passport_series":     {"Серия паспорта состоит из 4 цифр", "A passport series has 4 digits"},
	"personal.passport_number":     {"Номер паспорта состоит из 6 цифр", "A passport number has 6 digits"},
	"personal.department_code":     {"Код подразделения записывается как XXX-XXX", "A department code is written as XXX-XXX"},
	"personal.text_chars":          {"Поле содержит недопустимые символы", "The field contains characters that are not allowed"},
	"personal.doc_series":          {"Серия документа — латинские буквы и цифры", "A document series is Latin letters and digits"},
	"personal.doc_number":          {"Номер документа — латинские буквы и цифры", "A document number is Latin letters and digits"},
	"personal.licence_format":      {"Номер водительского удостоверения: 2 цифры, 2 цифры или буквы, 6 цифр, например 77 АВ 123456", "A driving licence number is 2 digits, 2 digits or letters, 6 digits, for example 77 12 345678"},
	"personal.citizenship":         {"Выберите гражданство из списка", "Choose a citizenship from the list"},
	"personal.gender":              {"Укажите пол", "Choose your gender"},
	"personal.doc_type":            {"Выберите вид документа: паспорт РФ или иностранный документ", "Choose the kind of document: a Russian passport or a foreign document"},

	// Consent.
	"consent.title": {"Доступ к данным", "Access to your data"},
	"consent.intro": {"Приложение «%s» запрашивает доступ к вашим данным:", "The application “%s” asks for access to your data:"},
	"consent.allow": {"Разрешить", "Allow"},
	"consent.deny":  {"Отклонить", "Deny"},

	// Scopes, as shown on the consent page.
	"scope.openid":               {"Идентификатор учётной записи и уровень её подтверждения", "Your account identifier and its assurance level"},
	"scope.profile":              {"Фамилия, имя и отчество", "Your full name"},
	"scope.fullname":             {"Фамилия, имя и отчество", "Your full name"},
	"scope.birthdate":            {"Дата рождения", "Date of birth"},
	"scope.gender":               {"Пол", "Gender"},
	"scope.email":                {"Адрес электронной почты", "E-mail address"},
	"scope.mobile":               {"Номер мобильного телефона", "Mobile phone number"},
	"scope.phone":                {"Номер мобильного телефона", "Mobile phone number"},
	"scope.address":              {"Адрес", "Address"},
	"scope.offline_access":       {"Доступ к этим данным, когда вы не на сайте, пока вы его не отзовёте", "Access to this data while you are away, until you revoke it"},
	"scope.snils":                {"СНИЛС", "SNILS (individual insurance account number)"},
	"scope.inn":                  {"ИНН", "INN (taxpayer number)"},
	"scope.id_doc":               {"Паспорт: серия, номер, дата выдачи, кем выдан, код подразделения, гражданство", "Passport: series, number, issue date, issuer, department code, citizenship"},
	"scope.birthplace":           {"Место рождения", "Place of birth"},
	"scope.citizenship":          {"Гражданство", "Citizenship"},
	"scope.contacts":             {"Все контактные данные: телефоны и электронная почта", "All your contacts: phones and e-mail addresses"},
	"scope.addresses":            {"Адреса регистрации и проживания", "Registration and residence addresses"},
	"scope.drivers_licence_doc":  {"Водительское удостоверение", "Driving licence"},
	"scope.medical_doc":          {"Полис ОМС", "Compulsory medical insurance policy"},
	"scope.foreign_passport_doc": {"Заграничный паспорт", "International passport"},
	"scope.vehicles":             {"Транспортные средства", "Vehicles"},
	"scope.usr_org":              {"Ваши организации и роли в них", "Your organisations and your roles in them"},

	// Logout.
	"logout.title":       {"Выход", "Sign out"},
	"logout.question":    {"Выйти из всех сервисов?", "Sign out of all services?"},
	"logout.from_client": {"Выход запрошен приложением «%s».", "The application “%s” asks to sign you out."},
	"logout.submit":      {"Выйти", "Sign out"},
	"logout.done":        {"Вы вышли из всех сервисов", "You have signed out of all services"},
	"logout.back":        {"Вернуться на сайт", "Back to the service"},
	"logout.back_to":     {"Вернуться в «%s»", "Back to “%s”"},

	// Errors. The page shows error.title as the heading and one of the
	// messages below; it never shows internal details.
	"error.title":                 {"Не удалось выполнить запрос", "The request could not be completed"},
	"error.invalid_request":       {"Некорректный запрос. Вернитесь в приложение и попробуйте ещё раз", "The request is not valid. Go back to the application and try again"},
	"error.unknown_client":        {"Неизвестное приложение", "Unknown application"},
	"error.bad_redirect_uri":      {"Адрес возврата приложения не зарегистрирован", "The application's return address is not registered"},
	"error.flow_expired":          {"Время ожидания истекло, начните вход заново", "The time ran out, please start signing in again"},
	"error.other_browser":         {"Вход был начат в другом браузере или окне. Вернитесь в приложение и начните вход заново", "The sign-in was started in another browser or window. Go back to the application and start again"},
	"error.csrf":                  {"Форма устарела, отправьте её ещё раз", "The form has expired, please submit it again"},
	"error.bad_logout_redirect":   {"Адрес возврата после выхода не зарегистрирован для приложения", "The application's address to return to after sign-out is not registered"},
	"error.invalid_id_token_hint": {"Не удалось проверить запрос приложения на выход", "The application's sign-out request could not be verified"},
	"error.not_found":             {"Страница не найдена", "Page not found"},
	"error.method_not_allowed":    {"Этот адрес не принимает такой запрос", "This address does not accept this kind of request"},
	"error.internal":              {"Что-то пошло не так. Попробуйте позже", "Something went wrong. Please try again later"},
	"error.busy":                  {"Сервис перегружен, попробуйте через минуту", "The service is overloaded, try again in a minute"},
	"error.unavailable":           {"Сервис временно недоступен, попробуйте через минуту", "The service is temporarily unavailable, try again in a minute"},
	"error.back":                  {"Вернуться в сервис", "Back to the service"},
	"error.level_standard": {"Этот сервис доступен только со стандартной или подтверждённой учётной записью. Укажите СНИЛС и паспорт в профиле и дождитесь проверки, затем войдите снова",
		"This service needs a standard or confirmed account. Add your SNILS and passport to your profile and wait for the check, then sign in again"},
	"error.level_confirmed": {"Этот сервис доступен только с подтверждённой учётной записью. Подтвердите личность в центре обслуживания, через банк, кодом из письма или квалифицированной электронной подписью, затем войдите снова",
		"This service needs a confirmed account. Confirm your identity at a service center, through your bank, with the code from a letter or with a qualified electronic signature, then sign in again"},
	"error.request_id": {"Код запроса для службы поддержки: %s", "Request code for support: %s"},
}

// T returns the message for key in lang ("ru" or "en"; anything else means
// Russian), formatted with args when there are any. An unknown key returns
// the key itself, so a missing translation shows up instead of vanishing.
func (r *Renderer) T(lang, key string, args ...any) string {
	return translate(lang, key, args...)
}

func translate(lang, key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	s := m.ru
	if lang == LangEN {
		s = m.en
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// HasMessage reports whether the catalog holds the key.
func HasMessage(key string) bool { return hasMessage(key) }

func hasMessage(key string) bool {
	_, ok := messages[key]
	return ok
}
