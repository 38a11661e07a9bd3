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

// messages is the message catalog. It is read-only after package
// initialization. Keys are grouped by page; "scope.<name>" describes a scope
// on the consent page.
var messages = map[string]message{
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

	// Forms (Renderer.FormPage).
	"form.retry_at": {"Повторите попытку после %s по московскому времени", "Try again after %s Moscow time"},

	// Registration.
	"register.title":               {"Регистрация", "Registration"},
	"register.lead":                {"Создайте учётную запись: понадобятся имя и мобильный телефон или почта", "Create an account: you need your name and a mobile phone or an e-mail address"},
	"register.for_client":          {"Учётная запись для входа в «%s» и другие сервисы", "An account to sign in to “%s” and other services"},
	"register.last_name":           {"Фамилия", "Last name"},
	"register.first_name":          {"Имя", "First name"},
	"register.middle_name":         {"Отчество", "Middle name"},
	"register.middle_name_hint":    {"Если есть", "If you have one"},
	"register.contact":             {"Телефон или электронная почта", "Phone or e-mail"},
	"register.contact_hint":        {"Укажите что-то одно: на него придёт код подтверждения", "Fill in one of them: a confirmation code will be sent there"},
	"register.phone":               {"Мобильный телефон", "Mobile phone"},
	"register.phone_hint":          {"Например, +7 900 123-45-67", "For example +7 900 123-45-67"},
	"register.email":               {"Электронная почта", "E-mail"},
	"register.email_hint":          {"Если нет мобильного телефона", "If you have no mobile phone"},
	"register.accept_terms":        {"Я принимаю условия использования и даю согласие на обработку персональных данных", "I accept the terms of use and consent to the processing of my personal data"},
	"register.submit":              {"Зарегистрироваться", "Register"},
	"register.have_account":        {"Уже есть учётная запись?", "Already have an account?"},
	"register.login":               {"Войти", "Sign in"},
	"register.last_name_required":  {"Введите фамилию", "Enter your last name"},
	"register.first_name_required": {"Введите имя", "Enter your first name"},
	"register.name_invalid":        {"Используйте русские буквы, дефис, пробел или апостроф", "Use Cyrillic letters, a hyphen, a space or an apostrophe"},
	"register.contact_required":    {"Укажите мобильный телефон или электронную почту", "Enter a mobile phone number or an e-mail address"},
	"register.one_contact":         {"Укажите что-то одно: телефон или почту", "Fill in only one: the phone or the e-mail"},
	"register.terms_required":      {"Чтобы продолжить, примите условия использования", "Accept the terms of use to continue"},
	"register.send_limited":        {"Слишком много запросов кода", "Too many code requests"},
	"register.code_subject":        {"Код подтверждения регистрации", "Registration confirmation code"},
	"register.code_text":           {"Код подтверждения регистрации: %s. Никому не сообщайте его.", "Your registration confirmation code: %s. Do not tell it to anyone."},
	"register.code_title":          {"Подтверждение", "Confirmation"},
	"register.code_sent_sms":       {"Мы отправили SMS с кодом на номер %s", "We have sent a text message with a code to %s"},
	"register.code_sent_email":     {"Мы отправили письмо с кодом на адрес %s", "We have sent an e-mail with a code to %s"},
	"register.code":                {"Код подтверждения", "Confirmation code"},
	"register.code_hint":           {"6 цифр, действует 5 минут", "6 digits, valid for 5 minutes"},
	"register.confirm":             {"Подтвердить", "Confirm"},
	"register.code_required":       {"Введите код из сообщения", "Enter the code from the message"},
	"register.code_wrong":          {"Неверный код. Осталось попыток: %d", "Wrong code. Tries left: %d"},
	"register.code_expired":        {"Код больше не действует. Запросите новый код", "The code is no longer valid. Ask for a new code"},
	"register.code_resent":         {"Мы отправили новый код", "We have sent a new code"},
	"register.resend":              {"Получить новый код", "Send a new code"},
	"register.resend_in":           {"Новый код можно получить через %s с", "You can ask for a new code in %s s"},
	"register.change_phone":        {"Изменить номер телефона", "Change the phone number"},
	"register.change_email":        {"Изменить адрес почты", "Change the e-mail address"},
	"register.password_title":      {"Пароль", "Password"},
	"register.password_rules":      {"Не менее 8 символов: заглавные и строчные буквы, цифры и знаки препинания. Не используйте имя, телефон и простые сочетания", "At least 8 characters: upper- and lower-case letters, digits and punctuation. Do not use your name, phone or simple sequences"},
	"register.password":            {"Придумайте пароль", "Choose a password"},
	"register.password_confirm":    {"Повторите пароль", "Repeat the password"},
	"register.password_required":   {"Введите пароль", "Enter a password"},
	"register.password_weak":       {"Пароль слишком простой", "The password is too weak"},
	"register.password_mismatch":   {"Пароли не совпадают", "The passwords do not match"},
	"register.generate":            {"Сгенерировать надёжный пароль", "Generate a strong password"},
	"register.generated":           {"Сохраните этот пароль в надёжном месте — больше мы его не покажем:", "Keep this password somewhere safe — we will not show it again:"},
	"register.finish":              {"Завершить регистрацию", "Finish registration"},
	"register.exists_title":        {"Учётная запись уже есть", "You already have an account"},
	"register.exists_text":         {"%s уже указан в учётной записи. Войдите с ним и своим паролем", "%s already belongs to an account. Sign in with it and your password"},
	"register.expired":             {"Регистрация не завершена вовремя. Начните её заново", "The registration was not finished in time. Please start again"},

	// Account.
	"account.title":                  {"Учётная запись", "Account"},
	"account.registered":             {"Регистрация завершена. Вы вошли в учётную запись", "Registration complete. You are signed in"},
	"account.level":                  {"Уровень учётной записи", "Account level"},
	"account.level_simplified_about": {"Упрощённая учётная запись. Чтобы получить доступ к большему числу услуг, заполните личные данные: СНИЛС и паспорт будут проверены в государственных реестрах", "A simplified account. To use more services, fill in your personal data: your SNILS and passport will be checked against the state registries"},
	"account.level_standard_about":   {"Стандартная учётная запись: личные данные проверены. Подтвердите личность, чтобы получить доступ ко всем услугам", "A standard account: your personal data are checked. Confirm your identity to use every service"},
	"account.level_confirmed_about":  {"Подтверждённая учётная запись: доступны все услуги", "A confirmed account: every service is open to you"},
	"account.contacts":               {"Контакты", "Contacts"},
	"account.phone":                  {"Мобильный телефон", "Mobile phone"},
	"account.email":                  {"Электронная почта", "E-mail"},
	"account.snils":                  {"СНИЛС", "SNILS"},
	"account.phone_verified":         {"подтверждён", "confirmed"},
	"account.email_verified":         {"подтверждена", "confirmed"},
	"account.logout":                 {"Выйти", "Sign out"},
	"level.simplified":               {"упрощённая", "simplified"},
	"level.standard":                 {"стандартная", "standard"},
	"level.confirmed":                {"подтверждённая", "confirmed"},

	// Level-up (the login step for a level above the account's).
	"levelup.title":         {"Нужен другой уровень учётной записи", "A higher account level is needed"},
	"levelup.intro":         {"Для входа в «%s» нужна %s учётная запись, а у вас — %s.", "“%s” needs a %s account; yours is %s."},
	"levelup.how":           {"Как повысить уровень", "How to raise the level"},
	"levelup.personal":      {"Заполните личные данные: СНИЛС и паспорт будут проверены в государственных реестрах, обычно за несколько минут.", "Fill in your personal data: your SNILS and passport will be checked against the state registries, usually within minutes."},
	"levelup.personal_link": {"Заполнить личные данные", "Fill in personal data"},
	"levelup.letter":        {"Получите код подтверждения письмом по почте и введите его в учётной записи.", "Get a confirmation code in a letter by post and enter it in your account."},
	"levelup.letter_link":   {"Получить код письмом", "Get a code by post"},
	"levelup.centre":        {"Или подтвердите личность в центре обслуживания: возьмите с собой паспорт и СНИЛС.", "Or confirm your identity at a service centre: bring your passport and SNILS."},
	"levelup.continue":      {"Уровень повышен — продолжить вход", "My level is raised — continue"},
	"levelup.cancel":        {"Отказаться и вернуться", "Give up and go back"},

	// Operator console.
	"operator.title":                             {"Консоль оператора", "Operator console"},
	"operator.login_lead":                        {"Вход для сотрудников центров обслуживания", "Sign-in for service-centre staff"},
	"operator.login":                             {"Логин", "Login"},
	"operator.login_required":                    {"Введите логин", "Enter your login"},
	"operator.invalid_credentials":               {"Неверный логин или пароль", "Wrong login or password"},
	"operator.locked":                            {"Слишком много неудачных попыток входа", "Too many failed sign-in attempts"},
	"operator.login_needed":                      {"Войдите в консоль оператора", "Sign in to the operator console"},
	"operator.nav":                               {"Консоль", "Console"},
	"operator.search":                            {"Поиск", "Search"},
	"operator.logout":                            {"Выйти", "Sign out"},
	"operator.search_title":                      {"Поиск гражданина", "Find a citizen"},
	"operator.query":                             {"СНИЛС, паспорт, телефон или почта", "SNILS, passport, phone or e-mail"},
	"operator.query_hint":                        {"Паспорт — серия и номер, 10 цифр", "A passport: series and number, 10 digits"},
	"operator.query_invalid":                     {"Введите СНИЛС, серию и номер паспорта, телефон или почту", "Enter a SNILS, a passport's series and number, a phone or an e-mail"},
	"operator.find":                              {"Найти", "Find"},
	"operator.results":                           {"Найдено", "Found"},
	"operator.nothing_found":                     {"Никого не нашлось", "Nobody found"},
	"operator.audit":                             {"Журнал действий", "Audit trail"},
	"operator.account_title":                     {"Учётная запись гражданина", "Citizen's account"},
	"operator.no_account":                        {"Учётная запись не найдена", "No such account"},
	"operator.birthdate":                         {"Дата рождения", "Date of birth"},
	"operator.birthplace":                        {"Место рождения", "Place of birth"},
	"operator.citizenship":                       {"Гражданство", "Citizenship"},
	"operator.inn":                               {"ИНН", "INN"},
	"operator.passport":                          {"Паспорт", "Passport"},
	"operator.foreign_document":                  {"Документ иностранного гражданина", "Foreign citizen's document"},
	"operator.verification":                      {"Проверка в реестрах", "Registry check"},
	"operator.verification_pending":              {"идёт", "running"},
	"operator.verification_approved":             {"пройдена", "passed"},
	"operator.verification_rejected":             {"не пройдена", "failed"},
	"operator.method_operator":                   {"в центре обслуживания", "at a service centre"},
	"operator.method_letter":                     {"кодом из письма", "by a letter code"},
	"operator.method_bank":                       {"через банк", "through a bank"},
	"operator.method_signature":                  {"электронной подписью", "by an electronic signature"},
	"operator.method_registry":                   {"проверкой в реестрах", "by the registry check"},
	"operator.confirm_title":                     {"Подтверждение личности", "Identity confirmation"},
	"operator.document_checked":                  {"Я проверил паспорт гражданина лично, данные совпадают", "I checked the citizen's passport in person, and the data match"},
	"operator.document_unchecked":                {"Подтвердить можно только после проверки паспорта", "Confirm only after checking the passport"},
	"operator.confirm":                           {"Подтвердить личность", "Confirm identity"},
	"operator.reject_title":                      {"Отказ в подтверждении", "Refuse confirmation"},
	"operator.reason":                            {"Причина", "Reason"},
	"operator.reason_required":                   {"Выберите причину", "Choose a reason"},
	"operator.reason_document_mismatch":          {"Данные паспорта не совпадают", "The passport's data do not match"},
	"operator.reason_document_invalid":           {"Паспорт недействителен", "The passport is not valid"},
	"operator.reason_not_present":                {"Гражданин не пришёл лично", "The citizen did not come in person"},
	"operator.reject":                            {"Отказать", "Refuse"},
	"operator.unlock_title":                      {"Блокировка входа", "Sign-in lock"},
	"operator.unlock":                            {"Снять блокировку входа", "Lift the sign-in lock"},
	"operator.not_confirmable":                   {"Подтвердить можно только стандартную учётную запись: личные данные должны пройти проверку", "Only a standard account can be confirmed: the personal data must have passed the check"},
	"operator.cannot_confirm_simplified":         {"Гражданин должен сначала заполнить личные данные и пройти проверку в реестрах", "The citizen must first fill in personal data and pass the registry check"},
	"operator.cannot_confirm_confirmed":          {"Учётная запись уже подтверждена", "The account is already confirmed"},
	"operator.unknown_action":                    {"Неизвестное действие", "Unknown action"},
	"operator.done_confirm":                      {"Личность подтверждена", "Identity confirmed"},
	"operator.done_unlock":                       {"Блокировка снята", "Lock lifted"},
	"operator.done_reject":                       {"В подтверждении отказано", "Confirmation refused"},
	"operator.supervisors_only":                  {"Журнал доступен только руководителям", "Only supervisors can read the audit trail"},
	"operator.notify_subject":                    {"Учётная запись", "Your account"},
	"operator.notify_confirmed":                  {"Ваша учётная запись подтверждена в центре обслуживания.", "Your account has been confirmed at a service centre."},
	"operator.notify_rejected_document_mismatch": {"В подтверждении учётной записи отказано: данные паспорта не совпадают с указанными.", "Your account was not confirmed: the passport's data do not match those you entered."},
	"operator.notify_rejected_document_invalid":  {"В подтверждении учётной записи отказано: паспорт недействителен.", "Your account was not confirmed: the passport is not valid."},
	"operator.notify_rejected_not_present":       {"В подтверждении учётной записи отказано: подтвердить личность можно только лично.", "Your account was not confirmed: identity is confirmed in person only."},
	"operator.audit_account":                     {"Учётная запись", "Account"},
	"operator.audit_actor":                       {"Кто", "Actor"},
	"operator.audit_actor_hint":                  {"Например, operator:идентификатор", "For example operator:id"},
	"operator.audit_at":                          {"Когда (UTC)", "When (UTC)"},
	"operator.audit_action":                      {"Действие", "Action"},
	"operator.audit_caption":                     {"События, новые сначала", "Events, newest first"},
	"operator.audit_empty":                       {"Событий нет", "No events"},
	"operator.audit_more":                        {"Ранее", "Older"},
	"operator.filter":                            {"Показать", "Show"},

	// Contacts (/account/contacts).
	"contacts.title":           {"Телефон и почта", "Phone and e-mail"},
	"contacts.lead":            {"Новый телефон или адрес почты нужно подтвердить кодом. О смене мы сообщим на прежний", "A new phone or e-mail address is confirmed with a code. We will tell the old one about the change"},
	"contacts.new":             {"Новый телефон или почта", "New phone or e-mail"},
	"contacts.new_phone":       {"Новый мобильный телефон", "New mobile phone"},
	"contacts.new_email":       {"Новая электронная почта", "New e-mail"},
	"contacts.new_required":    {"Укажите новый телефон или новую почту", "Enter a new phone or a new e-mail"},
	"contacts.same":            {"Этот контакт уже указан в учётной записи", "This contact is already in your account"},
	"contacts.password":        {"Пароль", "Password"},
	"contacts.password_hint":   {"Для защиты учётной записи введите пароль ещё раз", "To protect your account, enter your password again"},
	"contacts.wrong_password":  {"Неверный пароль", "Wrong password"},
	"contacts.submit":          {"Получить код", "Get a code"},
	"contacts.code_subject":    {"Код подтверждения почты", "E-mail confirmation code"},
	"contacts.code_text":       {"Код для смены контакта в учётной записи: %s. Никому не сообщайте его.", "The code to change the contact of your account: %s. Do not tell it to anyone."},
	"contacts.code_sent":       {"Мы отправили код на %s", "We have sent a code to %s"},
	"contacts.code_expired":    {"Код больше не действует. Начните смену заново", "The code is no longer valid. Please start again"},
	"contacts.start_again":     {"Начать заново", "Start again"},
	"contacts.expired":         {"Смена контакта не завершена вовремя. Начните заново", "The change was not finished in time. Please start again"},
	"contacts.taken":           {"Этот контакт указан в другой учётной записи", "This contact belongs to another account"},
	"contacts.changed_subject": {"Почта изменена", "E-mail changed"},
	"contacts.changed_phone":   {"В вашей учётной записи указан новый номер телефона. Если это были не вы, восстановите доступ и обратитесь в поддержку.", "A new phone number was set in your account. If it was not you, recover your access and contact support."},
	"contacts.changed_email":   {"В вашей учётной записи указан новый адрес почты. Если это были не вы, восстановите доступ и обратитесь в поддержку.", "A new e-mail address was set in your account. If it was not you, recover your access and contact support."},
	"account.change_contacts":  {"Изменить телефон или почту", "Change the phone or e-mail"},
	"account.changed_phone":    {"Номер телефона изменён", "The phone number is changed"},
	"account.changed_email":    {"Адрес почты изменён", "The e-mail address is changed"},
	"account.back":             {"Вернуться в учётную запись", "Back to the account"},
	"login.locked_short":       {"Слишком много неверных попыток ввода пароля", "Too many wrong passwords"},

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

// hasMessage reports whether key is in the catalog.
// HasMessage reports whether the catalog holds the key.
func HasMessage(key string) bool { return hasMessage(key) }

func hasMessage(key string) bool {
	_, ok := messages[key]
	return ok
}
