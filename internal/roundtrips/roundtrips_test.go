package roundtrips

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// An echo server that answers each line; a client that sends one line at a
// time makes one round trip per line, one that writes three lines before
// reading makes one.
func TestCount(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write([]byte(sc.Text() + "\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	p, err := Listen(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	read := func(n int) {
		t.Helper()
		for range n {
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, line := range []string{"a", "b"} {
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		read(1)
	}
	if got := p.Count(); got != 2 {
		t.Errorf("two lines one at a time: %d round trips, want 2", got)
	}
	if _, err := c.Write([]byte(strings.Repeat("x\n", 3))); err != nil {
		t.Fatal(err)
	}
	read(3)
	if got := p.Count(); got != 3 {
		t.Errorf("then three lines at once: %d round trips in all, want 3", got)
	}
}
