package totp

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/skip2/go-qrcode"
)

// QRSize is the width and height of the QR code image, in pixels.
const QRSize = 256

// QRPNG returns a PNG of a QR code (medium error correction, QRSize pixels
// square) that carries uri, for the enrolment page. It is made on the
// server: the secret never reaches a third party.
func (t *TOTP) QRPNG(uri string) ([]byte, error) {
	if uri == "" {
		return nil, errors.New("totp: empty URI")
	}
	png, err := qrcode.Encode(uri, qrcode.Medium, QRSize)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	return png, nil
}

// QRDataURI returns QRPNG's image as a data: URI ("data:image/png;base64,…")
// for an <img src>, so that the secret is not served from a URL of its own.
// The pages' Content-Security-Policy allows data: images (idp/httpx.CSP).
func (t *TOTP) QRDataURI(uri string) (string, error) {
	png, err := t.QRPNG(uri)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}
