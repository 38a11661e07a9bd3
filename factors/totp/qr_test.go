package totp_test

import (
	"bytes"
	"encoding/base64"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/skip2/go-qrcode"

	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/store/memory"
)

func TestQR(t *testing.T) {
	clock := newClock()
	tp := totp.New(memory.New(clock.Now), newSealer(t), issuer, clock.Now)
	e := enrol(t, tp, "acc")

	b, err := tp.QRPNG(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() != totp.QRSize || r.Dy() != totp.QRSize {
		t.Fatalf("image %v, want %dx%d", r, totp.QRSize, totp.QRSize)
	}
	// Black modules on white, with a white quiet zone around.
	var black int
	for y := 0; y < totp.QRSize; y++ {
		for x := 0; x < totp.QRSize; x++ {
			g := color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
			switch {
			case g == 0:
				black++
			case g != 255:
				t.Fatalf("pixel (%d,%d) grey %d: want black or white", x, y, g)
			}
		}
	}
	if black == 0 || img.At(0, 0) != img.At(totp.QRSize-1, totp.QRSize-1) {
		t.Fatal("no modules drawn, or no quiet zone")
	}

	// It is the QR code of the URI at medium error correction: the
	// library's rendering of exactly that content, and another URI's
	// differs.
	want, err := qrcode.Encode(e.URI, qrcode.Medium, totp.QRSize)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatal("the PNG is not the medium-level QR code of the URI")
	}
	other, err := tp.QRPNG(enrol(t, tp, "acc").URI)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, b) {
		t.Fatal("two URIs, one image")
	}

	// The data URI carries the same PNG.
	uri, err := tp.QRDataURI(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	data, ok := strings.CutPrefix(uri, "data:image/png;base64,")
	if !ok {
		t.Fatalf("data URI %.40q…: want data:image/png;base64,", uri)
	}
	dec, err := base64.StdEncoding.DecodeString(data)
	if err != nil || !bytes.Equal(dec, b) {
		t.Fatalf("data URI does not decode to the PNG (%v)", err)
	}

	if _, err := tp.QRPNG(""); err == nil {
		t.Fatal("QRPNG of nothing: want an error")
	}
	if _, err := tp.QRDataURI(""); err == nil {
		t.Fatal("QRDataURI of nothing: want an error")
	}
}
