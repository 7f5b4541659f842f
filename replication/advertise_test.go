package replication

import (
	"net"
	"os"
	"testing"
)

func TestAdvertiseAddr(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name")
	}
	for bound, want := range map[string]string{
		"127.0.0.1:9092": "127.0.0.1:9092",
		"[::1]:9092":     "[::1]:9092",
		"0.0.0.0:9092":   net.JoinHostPort(host, "9092"),
		"[::]:9092":      net.JoinHostPort(host, "9092"),
	} {
		addr, err := net.ResolveTCPAddr("tcp", bound)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := AdvertiseAddr(addr); err != nil || got != want {
			t.Errorf("AdvertiseAddr(%s) = %q, %v; want %q", bound, got, err, want)
		}
	}
}

func TestCheckAdvertised(t *testing.T) {
	for adv, ok := range map[string]bool{
		"broker1.example:9092": true,
		"10.0.0.1:9092":        true,
		"[fe80::1]:9092":       true,
		"0.0.0.0:9092":         false,
		"[::]:9092":            false,
		":9092":                false,
		"broker1":              false,
		"broker1:0":            false,
		"broker1:70000":        false,
	} {
		if err := CheckAdvertised(adv); (err == nil) != ok {
			t.Errorf("CheckAdvertised(%q) = %v, want ok=%v", adv, err, ok)
		}
	}
}
