package web

import "fmt"

// message is one entry of the catalog portal's messages, in both languages.
type message struct{ ru, en string }

// messages is the portal's own message catalog (the provider's pages keep
// theirs in idp/web). Read-only after initialization.
var messages = map[string]message{
	"app.name":      {"Каталог госуслуг (демо)", "State services catalog (demo)"},
	"layout.skip":   {"Перейти к содержимому", "Skip to content"},
	"layout.lang":   {"Язык", "Language"},
	"layout.nav":    {"Разделы", "Sections"},
	"nav.services":  {"Услуги", "Services"},
	"nav.mine":      {"Мои заявления", "My applications"},
	"nav.login":     {"Войти", "Sign in"},
	"nav.logout":    {"Выйти", "Sign out"},
	"layout.footer": {"Демонстрационный портал: он входит через поставщика удостоверений и получает данные только с вашего согласия.", "A demonstration portal: it signs you in through the identity provider and receives your data only with your consent."},

	"home.title":        {"Каталог услуг", "Service catalog"},
	"home.search":       {"Поиск услуги", "Search for a service"},
	"home.search_hint":  {"Например, штраф, паспорт или врач", "For example fine, passport or doctor"},
	"home.search_go":    {"Найти", "Search"},
	"home.results":      {"Найдено: %d", "Found: %d"},
	"home.nothing":      {"Ничего не найдено. Попробуйте другие слова.", "Nothing found. Try other words."},
	"home.welcome":      {"Здравствуйте, %s!", "Hello, %s!"},
	"home.your_level":   {"Уровень вашей учётной записи: %s", "Your account level: %s"},
	"home.logged_out":   {"Вы вышли из каталога.", "You have signed out of the catalog."},
	"service.level":     {"Нужна учётная запись: %s", "Account needed: %s"},
	"service.anonymous": {"Войдите, чтобы подать заявление.", "Sign in to apply."},
	"service.start":     {"Подать заявление", "Apply"},
	"service.login":     {"Войти и подать заявление", "Sign in and apply"},
	"service.raise":     {"Повысить уровень учётной записи", "Raise your account level"},
	"service.below":     {"Ваша учётная запись — %s, а для этой услуги нужна %s.", "Your account is %s; this service needs %s."},
	"service.data":      {"Для заявления портал запросит:", "For the application the portal asks for:"},

	"level.simplified":     {"упрощённая", "simplified"},
	"level.standard":       {"стандартная", "standard"},
	"level.confirmed":      {"подтверждённая", "confirmed"},
	"level.none":           {"неизвестна", "unknown"},
	"level.how.simplified": {"Достаточно зарегистрироваться с телефоном или почтой.", "Registering with a phone or an e-mail is enough."},
	"level.how.standard":   {"Укажите в профиле СНИЛС и паспорт и дождитесь проверки по государственным реестрам.", "Add your SNILS and passport to your profile and wait for the check against the state registries."},
	"level.how.confirmed":  {"Подтвердите личность: в центре обслуживания, через банк, кодом из письма или квалифицированной электронной подписью.", "Confirm your identity: at a service center, through your bank, with the code from a letter or with a qualified electronic signature."},

	"apply.title":          {"Заявление: %s", "Application: %s"},
	"apply.intro":          {"Данные заполнены из вашей учётной записи. Проверенные поля изменить нельзя.", "The form is filled from your account. Checked fields cannot be changed."},
	"apply.verified":       {"Проверено", "Checked"},
	"apply.required":       {"обязательное поле", "required"},
	"apply.submit":         {"Отправить заявление", "Submit the application"},
	"apply.errors":         {"Исправьте ошибки в форме", "Correct the errors in the form"},
	"field.required":       {"Заполните это поле", "Fill in this field"},
	"field.too_long":       {"Не более 200 символов", "At most 200 characters"},
	"application.title":    {"Заявление № %s", "Application No. %s"},
	"application.sent":     {"Заявление отправлено в ведомство.", "The application was sent to the department."},
	"application.data":     {"Данные заявления", "Application data"},
	"application.hist":     {"История", "History"},
	"application.svc":      {"Услуга", "Service"},
	"applications.title":   {"Мои заявления", "My applications"},
	"applications.none":    {"Заявлений нет.", "No applications."},
	"applications.status":  {"Статус", "Status"},
	"applications.service": {"Услуга", "Service"},
	"applications.any":     {"Все", "All"},
	"applications.filter":  {"Показать", "Show"},
	"applications.number":  {"Номер", "Number"},
	"applications.date":    {"Дата", "Date"},

	"status.submitted": {"Отправлено", "Submitted"},
	"status.in_review": {"На рассмотрении", "In review"},
	"status.approved":  {"Одобрено", "Approved"},
	"status.rejected":  {"Отказано", "Rejected"},

	"explain.title":     {"Услуга пока недоступна", "The service is not available yet"},
	"explain.unmet":     {"Для услуги «%s» нужна учётная запись уровня «%s». Вход отменён, и портал не получил ваших данных.", "The service “%s” needs an account of level “%s”. The sign-in was cancelled, and the portal received none of your data."},
	"explain.unmet_any": {"Уровень вашей учётной записи ниже того, что нужен этой услуге. Вход отменён.", "Your account level is below what this service needs. The sign-in was cancelled."},
	"explain.denied":    {"Вы отказались передать данные порталу, поэтому вход не выполнен. Вы можете попробовать снова в любой момент.", "You declined to share your data with the portal, so you were not signed in. You can try again at any time."},
	"explain.how":       {"Как повысить уровень:", "How to raise your level:"},
	"explain.back":      {"Вернуться к услуге", "Back to the service"},
	"explain.home":      {"К каталогу услуг", "To the service catalog"},
	"explain.retry":     {"Попробовать снова", "Try again"},

	"error.title":      {"Не удалось выполнить запрос", "The request could not be completed"},
	"error.internal":   {"Что-то пошло не так. Попробуйте позже", "Something went wrong. Please try again later"},
	"error.not_found":  {"Страница не найдена", "Page not found"},
	"error.csrf":       {"Форма устарела, отправьте её ещё раз", "The form has expired, please submit it again"},
	"error.login":      {"Вход не удался. Начните вход заново", "The sign-in failed. Please start again"},
	"error.provider":   {"Сервис входа недоступен, попробуйте через минуту", "The sign-in service is unavailable, try again in a minute"},
	"error.back":       {"К каталогу услуг", "To the service catalog"},
	"error.request_id": {"Код запроса для службы поддержки: %s", "Request code for support: %s"},
}

// translate returns the message for key in lang, formatted with args; an
// unknown key returns the key itself.
func translate(lang, key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	s := m.ru
	if lang == "en" {
		s = m.en
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}
