// Package services holds the catalog of state services that the catalog
// portal offers, read from an embedded YAML data file: categories, and per
// service the account level it requires, the scopes it asks the provider
// for and the fields of its application form.
package services
